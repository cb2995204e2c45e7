//! DNS rebinding: a web page the reader opens can point its own name at
//! 127.0.0.1 and then read, as the same origin, whatever a loopback
//! listener without a token serves. The browser still names the page's host
//! in `Host`, so a listener without a token answers only requests whose
//! `Host` is a loopback name or address: `localhost` and `*.localhost`
//! (browsers resolve them to loopback themselves, RFC 6761), `127.0.0.0/8`,
//! `[::1]`. Everything else gets `421 Misdirected Request` saying why.
//!
//! A request without `Host` (HTTP/1.0, a hand-made one) is served: a browser
//! always sends it, so its absence is never a rebinding page. A listener
//! with a token is not checked: a rebound page has neither the token nor the
//! cookie, which belongs to the listener's real name.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;

/// The host of a `Host` value (or a URI's authority), without its port.
fn name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// A name or address that can only mean this machine's loopback.
fn loopback(authority: &str) -> bool {
    let host = name(authority).trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The `Host` of a request (or the authority of an absolute-form URI), if
/// it is not a loopback one.
fn foreign(req: &Request) -> Option<String> {
    let host = req.headers().get(header::HOST).map(|h| h.to_str().map(str::to_string).unwrap_or_default());
    let authority = req.uri().authority().map(|a| a.as_str().to_string());
    host.into_iter().chain(authority).find(|h| !loopback(h))
}

fn refused(host: &str, local: SocketAddr) -> Response {
    let body = format!(
        "runbook serve: refused: the request names host `{host}`, not this machine's loopback \
         (a page elsewhere may have pointed its name at 127.0.0.1)\n\
         open http://{local}/ (the address runbook serve printed), \
         or serve with a token (--token or RUNBOOK_SERVE_TOKEN) to be reached under another name\n"
    );
    (StatusCode::MISDIRECTED_REQUEST, body).into_response()
}

/// Without a token, only loopback names reach the view.
pub async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if app.token.is_some() {
        return next.run(req).await;
    }
    match foreign(&req) {
        Some(host) => refused(&host, app.local),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_and_addresses_are_loopback() {
        for ok in [
            "127.0.0.1:8089",
            "127.0.0.1",
            "127.1.2.3:80",
            "localhost:8089",
            "LOCALHOST",
            "localhost.",
            "run.localhost:8089",
            "[::1]:8089",
            "[::1]",
        ] {
            assert!(loopback(ok), "{ok}");
        }
        for bad in [
            "attacker.example:8089",
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.nip.io:8089",
            "10.0.0.1:8089",
            "0.0.0.0:8089",
            "[::ffff:127.0.0.1]:8089",
            "[fe80::1]",
            "",
        ] {
            assert!(!loopback(bad), "{bad}");
        }
    }
}

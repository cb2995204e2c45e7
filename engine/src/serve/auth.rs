//! Who may read, and what the browser may do with what it reads.
//!
//! With a token (`--token`, `RUNBOOK_SERVE_TOKEN`) every request needs it:
//! `Authorization: Bearer T` (scripts, curl), or the cookie a browser gets
//! once from `?token=T` (it is then redirected to the same URL without it,
//! so the token does not stay in the address bar or the history). The
//! cookie is named after the listener's port, so two instances on one host
//! keep theirs apart, and `SameSite=Lax`, so a link from chat or a pager
//! opens the view (the view is read-only `GET`s: a cross-site link can make
//! it show, never change, anything). Every
//! response carries a Content-Security-Policy that allows only the page's
//! own embedded scripts and styles: text a step printed can never run.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;

/// The cookie's name for the listener on `port`: browsers send a host's
/// cookies to all its ports, so each instance has its own.
fn cookie_name(port: u16) -> String {
    format!("runbook_serve_{port}")
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Compare without leaking, through timing, how much of a guess was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of `Authorization: Bearer T` (the scheme is case-insensitive,
/// RFC 7235).
fn bearer(h: &HeaderMap) -> Option<&str> {
    let (scheme, token) = h.get(header::AUTHORIZATION)?.to_str().ok()?.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Every value of the cookie `name`: a browser may send several (a stale
/// one beside the current one), and any of them may be the token.
fn cookies<'a>(h: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The `token` of a query string, and the query without it.
fn split_token(query: &str) -> (Option<String>, String) {
    let mut token = None;
    let mut rest = Vec::new();
    for (k, v) in url_pairs(query) {
        if k == "token" {
            token = Some(v);
        } else {
            rest.push(format!("{}={}", enc(&k), enc(&v)));
        }
    }
    (token, rest.join("&"))
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|e| e[1..].to_string()).unwrap_or_default()
}

/// The token check (a no-op without a token).
pub async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(want) = app.token.as_deref() else { return next.run(req).await };
    let h = req.headers();
    let name = cookie_name(app.local.port());
    if bearer(h).is_some_and(|t| same(t, want)) || cookies(h, &name).any(|t| same(t, want)) {
        return next.run(req).await;
    }
    if let Some(q) = req.uri().query() {
        let (token, rest) = split_token(q);
        if token.as_deref().is_some_and(|t| same(t, want)) {
            let path = req.uri().path();
            let to = if rest.is_empty() { path.to_string() } else { format!("{path}?{rest}") };
            let set = format!("{name}={want}; Path=/; HttpOnly; SameSite=Lax");
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let (Ok(loc), Ok(c)) = (HeaderValue::from_str(&to), HeaderValue::from_str(&set)) {
                r.headers_mut().insert(header::LOCATION, loc);
                r.headers_mut().insert(header::SET_COOKIE, c);
            }
            return r;
        }
    }
    let mut r = (
        StatusCode::UNAUTHORIZED,
        "runbook serve: a token is needed: open the URL once with ?token=T, or send Authorization: Bearer T\n",
    )
        .into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// The security headers of every response.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_leaves_the_query_and_the_rest_stays() {
        assert_eq!(split_token("token=abc"), (Some("abc".into()), String::new()));
        assert_eq!(split_token("env=prod&token=a%20b"), (Some("a b".into()), "env=prod".into()));
        assert_eq!(split_token("env=prod"), (None, "env=prod".into()));
    }

    #[test]
    fn cookies_and_bearer_are_read() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; runbook_serve_8089=old; runbook_serve_80890=x"));
        h.append(header::COOKIE, HeaderValue::from_static("runbook_serve_8089=tok; b=2"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(cookies(&h, &cookie_name(8089)).collect::<Vec<_>>(), ["old", "tok"]);
        assert_eq!(bearer(&h), Some("xyz"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for (value, token) in [
            ("Bearer xyz", Some("xyz")),
            ("bearer xyz", Some("xyz")),
            ("BEARER  xyz ", Some("xyz")),
            ("Basic xyz", None),
            ("Bearerxyz", None),
            ("xyz", None),
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&h), token, "{value}");
        }
    }
}

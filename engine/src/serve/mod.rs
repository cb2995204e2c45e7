//! `runbook serve`: the live incident view, a read-only web page of the runs
//! as they happen, for whoever is not at the keyboard (the incident
//! commander, the engineer taking over, the status page writer).
//!
//! It reads only through the [`Store`] trait, the fold ([`crate::run::RunState`])
//! and the report ([`crate::report`]), so it shows the local store and the
//! shared one alike. Nothing can be started, answered or changed from it: it
//! has no route but `GET` (and `HEAD`).
//!
//! The pieces: [`api`] (JSON), [`sse`] (server-sent event streams, fed by
//! the shared pollers of [`hub`]), [`pages`] (HTML from minijinja templates,
//! escaped), [`assets`] (CSS and JS, embedded: no CDN on an isolated ops
//! network), [`auth`] (the token, the security headers), [`host`] (the
//! `Host` check against DNS rebinding), [`crate::prose`] (a runbook's raw
//! HTML cleaned). Store calls are blocking (a file read, a database round trip),
//! so they run on tokio's blocking pool, never on the thread serving the
//! connections.

mod api;
mod assets;
mod auth;
mod dag;
mod feed;
mod host;
mod hub;
mod ids;
mod list;
mod pages;
mod sse;
mod view;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;

use crate::config::Config;
use crate::error::{Diagnostic, Error, Exit, Result};
use crate::store::Store;

/// The token's environment variable (the same as `--token`).
pub const TOKEN_ENV: &str = "RUNBOOK_SERVE_TOKEN";
/// How often a followed run's store is read, in milliseconds.
pub const POLL_ENV: &str = "RUNBOOK_SERVE_POLL_MS";
/// A followed run is read this often by default: a step event reaches a
/// client within this (plus a read), and what a play did meanwhile is one
/// write per client (fifty clients are fifty writes per read: less often
/// is less of the machine taken from the play).
const POLL_DEFAULT: Duration = Duration::from_millis(50);

/// What `runbook serve` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: String,
    pub token: Option<String>,
    /// The token was typed on the command line (`--token`), where `ps`
    /// shows it to every user of the machine, not taken from [`TOKEN_ENV`].
    pub token_in_argv: bool,
}

/// What every handler shares.
pub struct App {
    store: Arc<dyn Store>,
    config: Config,
    token: Option<String>,
    /// The address listened on, as printed at start.
    local: SocketAddr,
    /// How often a followed run is read; the runs list, four times slower.
    poll: Duration,
    hub: hub::Hub,
}

impl App {
    /// Run `f` on the store off the connections' thread.
    async fn store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&dyn Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || f(app.store.as_ref()))
            .await
            .map_err(|e| Error::Other(anyhow::anyhow!("a store read failed: {e}")))?
    }
}

/// Where to listen: `host:port`, loopback unless a token guards it.
fn address(listen: &str, token: Option<&str>) -> Result<SocketAddr> {
    let bad = |why: String| {
        Error::invalid(
            Diagnostic::error("serve-listen", format!("--listen {listen}: {why}"))
                .hint("give host:port, e.g. --listen 127.0.0.1:8089"),
        )
    };
    let addr = match listen.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => listen
            .to_socket_addrs()
            .map_err(|e| bad(e.to_string()))?
            .next()
            .ok_or_else(|| bad("the name has no address".into()))?,
    };
    if let Some(t) = token.filter(|t| t.chars().any(|c| c.is_whitespace() || c.is_control())) {
        let what = if t.trim().is_empty() { "is only blanks" } else { "has blanks or control characters" };
        return Err(Error::invalid(
            Diagnostic::error("serve-token", format!("the token {what}: a Bearer token or a URL cannot carry them"))
                .hint("generate one: `openssl rand -hex 16` (a token read from a file: strip its newline)"),
        ));
    }
    if !addr.ip().is_loopback() && token.is_none_or(str::is_empty) {
        return Err(Error::invalid(
            Diagnostic::error(
                "serve-token",
                format!("--listen {listen} is not a loopback address, and no token guards it"),
            )
            .hint(format!("give --token T (or {TOKEN_ENV}); readers then open the URL once with ?token=T")),
        ));
    }
    // Off loopback the token is all that guards the runs: one that can be
    // guessed guards nothing.
    if let Some(t) = token.filter(|t| !addr.ip().is_loopback() && t.chars().count() < MIN_TOKEN) {
        return Err(Error::invalid(
            Diagnostic::error(
                "serve-token",
                format!(
                    "--listen {listen} is not a loopback address, and its token is {} characters: at least {MIN_TOKEN} guard it",
                    t.chars().count()
                ),
            )
            .hint("generate one: `openssl rand -hex 16` (or `head -c 24 /dev/urandom | base64`)"),
        ));
    }
    Ok(addr)
}

/// The shortest token that guards a listener off loopback.
const MIN_TOKEN: usize = 16;

fn poll_interval() -> Duration {
    std::env::var(POLL_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(POLL_DEFAULT, Duration::from_millis)
}

/// The routes: `GET` only.
fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::runs))
        .route("/runs/{id}", get(pages::run))
        .route("/runs/{id}/report.md", get(pages::report_md))
        .route("/parts/runs", get(pages::runs_part))
        .route("/parts/runs/{id}", get(pages::run_part))
        .route("/runbooks", get(pages::runbooks))
        .route("/runbooks/{id}", get(pages::runbook))
        .route("/assets/{name}", get(assets::asset))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{id}", get(api::run))
        .route("/api/runs/{id}/events", get(sse::run_events))
        .route("/api/runs/{id}/log/{step}", get(api::log))
        .route("/api/events", get(sse::runs_events))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth::guard))
        .layer(axum::middleware::from_fn_with_state(app.clone(), host::guard))
        .layer(axum::middleware::from_fn(auth::headers))
        .with_state(app)
}

/// Serve the project's store until interrupted.
pub fn serve(config: &Config, opts: &Options) -> Result<Exit> {
    let token = opts.token.clone().filter(|t| !t.is_empty());
    let addr = address(&opts.listen, token.as_deref())?;
    // Said before the address line, which scripts wait for.
    for w in warnings(addr, opts) {
        crate::errln!("warning: {w}");
    }
    let store: Arc<dyn Store> = Arc::from(crate::store::open_read(config)?);
    let interrupt = store.interrupter();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build()
        .map_err(anyhow::Error::from)?;
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Error::invalid(
                Diagnostic::error("serve-listen", format!("cannot listen on {addr}: {e}"))
                    .hint("another process holds the port? pick another with --listen"),
            )
        })?;
        let local = listener.local_addr().map_err(anyhow::Error::from)?;
        // Listened for before the address is printed: a signal sent as soon
        // as it is read stops serve (exit 0), never kills it.
        let stop = stop()?;
        let app = Arc::new(App {
            store,
            config: config.clone(),
            token,
            local,
            poll: poll_interval(),
            hub: hub::Hub::default(),
        });
        // The first line says where: scripts and tests read it (`--listen 127.0.0.1:0`).
        crate::cli::out(&format!("runbook serve: http://{local}/\n"));
        crate::errln!("serving {} (read-only); Ctrl-C stops", app.store.name());
        let server = axum::serve(listener, router(app));
        tokio::select! {
            r = server => r.map_err(anyhow::Error::from)?,
            _ = stop => {
                if let Some(interrupt) = &interrupt {
                    interrupt();
                }
            }
        }
        Ok(Exit::Success)
    });
    // A store read still in flight (a database that stopped answering, a
    // file on a hung mount) does not hold the exit: dropping the runtime
    // would wait for it. Serve only reads, so nothing is left half written.
    rt.shutdown_timeout(STOP_WAIT);
    served
}

/// How long a stopping serve lets the store reads in flight end (a read of
/// the shared store ends within `RUNBOOK_PG_SLACK` once interrupted).
const STOP_WAIT: Duration = Duration::from_secs(1);

/// What the operator should know about how the runs are exposed.
fn warnings(local: SocketAddr, opts: &Options) -> Vec<String> {
    let mut out = Vec::new();
    if opts.token_in_argv && opts.token.as_deref().is_some_and(|t| !t.is_empty()) {
        out.push(format!(
            "--token is in this process's arguments, which `ps` shows to every user of this machine: give it in {TOKEN_ENV} instead"
        ));
    }
    if !local.ip().is_loopback() {
        out.push(
            "plain HTTP: the token and the runs cross the network unencrypted; put a TLS proxy in front, or reach it through `ssh -L`"
                .into(),
        );
    }
    out
}

/// Ctrl-C or SIGTERM, listened for from now on: open event streams are
/// simply dropped.
fn stop() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| Error::Other(anyhow::anyhow!("cannot listen for {name}: {e}")))
    };
    let (mut int, mut term) = (listen(SignalKind::interrupt(), "SIGINT")?, listen(SignalKind::terminate(), "SIGTERM")?);
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_token_and_any_other_address_does() {
        assert!(address("127.0.0.1:8089", None).is_ok());
        assert!(address("[::1]:0", None).is_ok());
        assert!(address("localhost:0", None).is_ok());
        let e = address("0.0.0.0:8089", None).unwrap_err();
        assert_eq!(e.exit(), Exit::Invalid);
        assert!(address("0.0.0.0:8089", Some("")).is_err());
        // Off loopback, a token that can be guessed guards nothing.
        assert!(address("0.0.0.0:8089", Some("t")).is_err());
        assert!(address("0.0.0.0:8089", Some("0123456789abcde")).is_err());
        assert!(address("0.0.0.0:8089", Some("0123456789abcdef")).is_ok());
        let blanks = address("0.0.0.0:8089", Some("                ")).unwrap_err().to_string();
        assert!(blanks.contains("only blanks"), "{blanks}");
        let newline = address("127.0.0.1:0", Some("0123456789abcdef\n")).unwrap_err().to_string();
        assert!(newline.contains("blanks or control characters"), "{newline}");
        assert!(address("127.0.0.1:8089", Some("t")).is_ok());
        assert!(address("nonsense", None).is_err());
    }
}

//! The signals a play handles. SIGINT is Ctrl-C (a question on a terminal,
//! otherwise a stop); SIGTERM, SIGHUP (the SSH session of the operator went
//! away) and SIGQUIT (Ctrl-\) stop the play at once: the running steps'
//! process groups are terminated and the run is recorded as interrupted,
//! resumable. SIGPIPE stays ignored, as Rust sets it: a closed terminal or
//! pipe makes writes fail, which the play shrugs off (steps get the default
//! disposition back).

use tokio::signal::unix::{Signal, SignalKind, signal};

pub struct Signals {
    handlers: Vec<(Signal, &'static str)>,
}

impl Signals {
    pub fn install() -> Signals {
        let kinds = [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::quit(), "SIGQUIT"),
        ];
        Signals { handlers: kinds.into_iter().filter_map(|(k, n)| signal(k).ok().map(|s| (s, n))).collect() }
    }

    /// The next signal, by name (never, without handlers).
    pub async fn recv(&mut self) -> &'static str {
        if self.handlers.is_empty() {
            return std::future::pending().await;
        }
        let futs = self.handlers.iter_mut().map(|(s, n)| {
            let n: &'static str = n;
            Box::pin(async move {
                s.recv().await;
                n
            })
        });
        futures_select(futs.collect()).await
    }
}

/// The first of several futures to finish.
async fn futures_select<F: std::future::Future<Output = &'static str> + Unpin>(mut fs: Vec<F>) -> &'static str {
    std::future::poll_fn(move |cx| {
        for f in fs.iter_mut() {
            if let std::task::Poll::Ready(v) = std::pin::Pin::new(f).poll(cx) {
                return std::task::Poll::Ready(v);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

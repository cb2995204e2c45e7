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
        let sig = futures_select(futs.collect()).await;
        RECEIVED.store(true, std::sync::atomic::Ordering::SeqCst);
        sig
    }
}

/// A stopping signal reached this process (any listener: a play's loop, or
/// a watcher between plays).
static RECEIVED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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

/// While a play ends (its last events written, its lock let go, all after
/// its loop and its signal handling are gone), a signal must still end it
/// promptly: this watches for one on a thread of its own and calls `on`
/// (the store stops waiting). Dropped when the play has ended.
pub struct Ending {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    fired: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ending {
    pub fn watch(on: impl Fn() + Send + 'static) -> Ending {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = fired.clone();
        let thread = std::thread::Builder::new()
            .name("play-ending".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                rt.block_on(async move {
                    let mut signals = Signals::install();
                    tokio::select! {
                        _ = &mut stopped => {}
                        _ = signals.recv() => {
                            f.store(true, std::sync::atomic::Ordering::SeqCst);
                            on();
                        }
                    }
                });
            })
            .ok();
        Ending { stop: Some(stop), fired, thread }
    }

    /// A signal came while the play ended.
    pub fn fired(&self) -> bool {
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// For commands that play many scenarios (`check`, `play --dry-run`): a
/// signal between two plays, when no play listens, would be swallowed (the
/// handlers stay installed), and one during a play ends only that play. This
/// watches for the whole command: once a signal came (to it, or to a play,
/// which says so before it ends), no scenario starts, and the command exits
/// 130 (SPEC §4) rather than 1 for the scenarios it cut short.
pub struct Stopping {
    /// Listens while the command runs; stops listening when dropped.
    _watcher: Ending,
}

impl Stopping {
    pub fn watch() -> Stopping {
        Stopping { _watcher: Ending::watch(|| {}) }
    }

    /// SIGINT, SIGTERM, SIGHUP or SIGQUIT came.
    pub fn stopped(&self) -> bool {
        RECEIVED.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

//! How long the shared store waits for its database. Every wait is bounded:
//! a server that stops answering (stopped, overloaded, a network that drops
//! packets) must never hang a play, nor its end, nor a Ctrl-C.
//!
//! A wait takes at most its own limit (`RUNBOOK_PG_WAIT` for most). Once a
//! wait ran out, the database counts as away: what follows (the run's last
//! events, the last step logs, letting the lock go) shares one more
//! `RUNBOOK_PG_SLACK` seconds (default 1), not a limit each, so a play that
//! could not record a step's start ends within `RUNBOOK_PG_WAIT` and that
//! slack. An answer makes the database present again. An interrupt (Ctrl-C)
//! ends every wait within the slack, for good: what was not written by then
//! stays in the spool.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Clone)]
pub struct Patience(Arc<Inner>);

struct Inner {
    /// Past it, nobody waits for the database.
    until: watch::Sender<Option<Instant>>,
    interrupted: AtomicBool,
    slack: Duration,
}

impl Default for Patience {
    fn default() -> Self {
        Patience::new(slack())
    }
}

/// How long a step waits for its start to be committed, and most other
/// waits for the database (`RUNBOOK_PG_WAIT`, seconds).
pub fn wait() -> Duration {
    super::env_duration("RUNBOOK_PG_WAIT", Duration::from_secs(30))
}

/// What is left to wait once the database counts as away (`RUNBOOK_PG_SLACK`).
pub fn slack() -> Duration {
    super::env_duration("RUNBOOK_PG_SLACK", Duration::from_secs(1))
}

impl Patience {
    pub fn new(slack: Duration) -> Patience {
        Patience(Arc::new(Inner { until: watch::channel(None).0, interrupted: AtomicBool::new(false), slack }))
    }

    /// A wait ran out: from now on, waits end within the slack.
    pub fn gave_up(&self) {
        let by = Instant::now() + self.0.slack;
        self.0.until.send_if_modified(|u| match u {
            Some(t) if *t <= by => false,
            _ => {
                *u = Some(by);
                true
            }
        });
    }

    /// The database answered: waits get their whole limit again.
    pub fn answered(&self) {
        if !self.interrupted() {
            self.0.until.send_if_modified(|u| u.take().is_some());
        }
    }

    /// Ctrl-C: every wait ends within the slack (a database that answers
    /// takes the last events meanwhile), and an answer no longer restores
    /// them.
    pub fn interrupt(&self) {
        self.0.interrupted.store(true, Ordering::SeqCst);
        self.gave_up();
    }

    pub fn interrupted(&self) -> bool {
        self.0.interrupted.load(Ordering::SeqCst)
    }

    /// Does the database count as away (a wait ran out, or an interrupt)?
    pub fn away(&self) -> bool {
        self.0.until.borrow().is_some()
    }

    /// `f`, if it ends within `limit` and before waits are cut short.
    pub async fn bound<F: Future>(&self, limit: Duration, f: F) -> Option<F::Output> {
        let mut rx = self.0.until.subscribe();
        let cut = async move {
            loop {
                let until = *rx.borrow_and_update();
                match until {
                    Some(t) => tokio::select! {
                        _ = tokio::time::sleep_until(t) => return,
                        r = rx.changed() => if r.is_err() { std::future::pending::<()>().await },
                    },
                    None => {
                        if rx.changed().await.is_err() {
                            std::future::pending::<()>().await
                        }
                    }
                }
            }
        };
        tokio::select! {
            biased;
            r = f => Some(r),
            _ = tokio::time::sleep(limit) => None,
            _ = cut => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(3600);

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
    }

    #[test]
    fn a_wait_ends_at_its_limit_then_later_waits_end_within_the_slack_and_an_answer_restores_them() {
        rt().block_on(async {
            let p = Patience::new(Duration::from_millis(20));
            let never = std::future::pending::<()>;
            assert_eq!(p.bound(Duration::from_millis(20), never()).await, None, "the limit");
            assert!(!p.away(), "one wait running out is not giving up");
            p.gave_up();
            assert!(p.away());
            assert_eq!(p.bound(LONG, never()).await, None, "cut at the slack, not the hour");
            assert_eq!(p.bound(LONG, never()).await, None, "and so is every later wait");
            assert_eq!(p.bound(LONG, async { 7 }).await, Some(7), "an answer in time is taken");
            p.answered();
            assert!(!p.away());
        });
    }

    #[test]
    fn an_interrupt_ends_a_wait_in_progress_and_every_later_one() {
        rt().block_on(async {
            let p = Patience::new(Duration::from_millis(20));
            let q = p.clone();
            let waiting = tokio::spawn(async move { q.bound(LONG, std::future::pending::<()>()).await });
            tokio::task::yield_now().await;
            p.interrupt();
            assert_eq!(waiting.await.unwrap(), None);
            p.answered();
            assert!(p.interrupted() && p.away(), "an answer does not undo an interrupt");
            assert_eq!(p.bound(LONG, std::future::pending::<()>()).await, None);
            assert_eq!(p.bound(LONG, async { 7 }).await, Some(7), "what answers at once is still taken");
        });
    }
}

//! The rehearsed clock: a rehearsal does not sleep through the waits a
//! play would (`retry` delays, a soak's interval), but it must decide as
//! the play would, so every wait it skips is counted here and the play's
//! `timeout` and each step's `budget` are judged on real time plus the
//! time skipped.
//!
//! Skipped time is kept per step, as the path that leads to it: a step
//! starts with the most its dependencies skipped (waits on two parallel
//! branches overlap in a real play, waits one after the other add up),
//! and adds its own. The play's rehearsed time is the real time plus the
//! most any step skipped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

pub struct Rehearsed {
    /// Skipped time on the path to and through each started step.
    offsets: Mutex<HashMap<usize, Duration>>,
    /// The most any step skipped: changes wake the play's timeout.
    most: watch::Sender<Duration>,
    /// Real start of the play and its `timeout`, if it has one.
    started: Instant,
    timeout: Option<Duration>,
}

impl Rehearsed {
    pub fn new(timeout: Option<Duration>) -> Rehearsed {
        Rehearsed {
            offsets: Mutex::new(HashMap::new()),
            most: watch::channel(Duration::ZERO).0,
            started: Instant::now(),
            timeout,
        }
    }

    fn offsets(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Duration>> {
        self.offsets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Step `i` starts after `deps`: it carries the most they skipped.
    pub fn start(&self, i: usize, deps: impl Iterator<Item = usize>) -> Duration {
        let mut o = self.offsets();
        let base = deps.filter_map(|d| o.get(&d).copied()).max().unwrap_or_default();
        o.insert(i, base);
        base
    }

    /// Step `i` skipped `wait`. True when the play's timeout has passed in
    /// rehearsed time (the step then waits for the play to stop it, as a
    /// real step would be stopped during its wait).
    pub fn skip(&self, i: usize, wait: Duration) -> bool {
        let now = {
            let mut o = self.offsets();
            let e = o.entry(i).or_default();
            *e = e.saturating_add(wait);
            *e
        };
        self.most.send_if_modified(|m| {
            let more = now > *m;
            if more {
                *m = now;
            }
            more
        });
        self.timeout.is_some_and(|t| self.started.elapsed().saturating_add(self.most()) >= t)
    }

    /// What step `i` skipped so far, its dependencies' included.
    pub fn offset(&self, i: usize) -> Duration {
        self.offsets().get(&i).copied().unwrap_or_default()
    }

    pub fn most(&self) -> Duration {
        *self.most.borrow()
    }

    /// Follows [`Rehearsed::most`].
    pub fn watch(&self) -> watch::Receiver<Duration> {
        self.most.subscribe()
    }
}

/// Resolves at `deadline` (a real instant) brought forward by what `most`
/// says was skipped; never without a deadline.
pub async fn until(deadline: Option<tokio::time::Instant>, most: Option<&mut watch::Receiver<Duration>>) {
    let Some(deadline) = deadline else { return std::future::pending().await };
    let Some(rx) = most else { return tokio::time::sleep_until(deadline).await };
    loop {
        let skipped = *rx.borrow_and_update();
        let at = deadline.checked_sub(skipped).unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            _ = tokio::time::sleep_until(at) => return,
            r = rx.changed() => {
                if r.is_err() {
                    return tokio::time::sleep_until(at).await;
                }
            }
        }
    }
}

/// A step's view of the clock: its index and what it carried at its start.
#[derive(Clone)]
pub struct StepClock {
    pub clock: std::sync::Arc<Rehearsed>,
    pub step: usize,
    pub base: Duration,
}

impl StepClock {
    /// What this step itself skipped.
    pub fn own(&self) -> Duration {
        self.clock.offset(self.step).saturating_sub(self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_branches_overlap_and_a_chain_adds_up() {
        let c = Rehearsed::new(Some(Duration::from_secs(30)));
        c.start(0, [].into_iter());
        c.start(1, [].into_iter());
        assert!(!c.skip(0, Duration::from_secs(20)));
        assert!(!c.skip(1, Duration::from_secs(20)));
        assert_eq!(c.most(), Duration::from_secs(20));
        assert_eq!(c.start(2, [0, 1].into_iter()), Duration::from_secs(20));
        assert!(c.skip(2, Duration::from_secs(10)), "20s + 10s on one path reach the 30s timeout");
    }
}

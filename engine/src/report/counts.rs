//! What a run counts: one function for `runs`' PASSED `n/m` (and `runs
//! --json`'s `passed`/`failed`/`steps`, the runs page), the report's summary
//! line and its JSON `counts`, so that they never disagree.
//!
//! Over the steps of the runbook the latest session played, undo blocks not
//! counted. A step skipped (`when` false) or left out by the mode (`--only`,
//! `--from`, `--read-only`) is not one the run is to play; every other step
//! is, reached or not: `m` is what passed, failed, was interrupted, is not
//! run, running or pending.

use serde::Serialize;

use super::{Shown, StepRow};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    /// Skipped by a `when` that was false.
    pub skipped: usize,
    /// Left out by the mode (`excluded`).
    pub left_out: usize,
    pub interrupted: usize,
    pub not_run: usize,
    pub running: usize,
    pub pending: usize,
    /// The steps the run is to play: `runs`' `m`.
    pub to_play: usize,
}

impl Counts {
    /// The counts of a run's step rows (each step once).
    pub fn of(steps: &[StepRow]) -> Counts {
        let mut c = Counts::default();
        for s in steps.iter().filter(|s| !s.undo && s.dropped.is_none()) {
            let n = match s.status {
                _ if s.excluded.is_some() => &mut c.left_out,
                Shown::Passed => &mut c.passed,
                Shown::Failed => &mut c.failed,
                Shown::Skipped => &mut c.skipped,
                Shown::NotRun => &mut c.not_run,
                Shown::Interrupted => &mut c.interrupted,
                Shown::Running => &mut c.running,
                Shown::Pending => &mut c.pending,
            };
            *n += 1;
        }
        c.to_play = c.passed + c.failed + c.interrupted + c.not_run + c.running + c.pending;
        c
    }
}

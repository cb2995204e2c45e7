//! What a view says of a step: how it ended, or, while the run's engine
//! lives, that it is running or still to come. The journal only says a step
//! started and has no end; whether that means "running" or "the engine
//! stopped under it" depends on the engine being alive, which no event can
//! say. The report, the live view and the API all ask here, so they never
//! disagree about a step.

use serde::Serialize;

use crate::run::event::name;
use crate::run::{RunState, StepStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shown {
    Passed,
    Failed,
    Skipped,
    NotRun,
    /// Stopped by a signal, or in flight when the engine stopped (no end
    /// recorded).
    Interrupted,
    /// Started, not ended, and the run's engine lives.
    Running,
    /// Not started, and the run's engine lives and may still start it.
    Pending,
}

impl Shown {
    pub fn name(self) -> &'static str {
        name(&self)
    }
}

impl From<StepStatus> for Shown {
    fn from(s: StepStatus) -> Shown {
        match s {
            StepStatus::Passed => Shown::Passed,
            StepStatus::Failed => Shown::Failed,
            StepStatus::Skipped => Shown::Skipped,
            StepStatus::NotRun => Shown::NotRun,
            StepStatus::Interrupted => Shown::Interrupted,
        }
    }
}

/// Step `id` of the run, `live` while the run's engine runs (the status
/// `running` of [`super::status_in`]). A step the run has not reached is
/// pending while the play may still start it: not once it stops starting
/// steps (a failure, a refusal, a signal).
pub fn step(st: &RunState, id: &str, live: bool) -> Shown {
    let reachable = live && st.stop.is_none();
    match st.step(id) {
        Some(s) if s.lost => Shown::Interrupted,
        Some(s) if s.in_flight() => {
            if live {
                Shown::Running
            } else {
                Shown::Interrupted
            }
        }
        Some(s) => match s.status {
            Some(x) => x.into(),
            None if reachable => Shown::Pending,
            None => Shown::NotRun,
        },
        None if reachable => Shown::Pending,
        None => Shown::NotRun,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Entry;
    use crate::run::event::{Event, RunStart, StepStart, Stop, StopKind};

    fn run(stop: bool) -> RunState {
        let mut events = vec![
            Event::RunStart(RunStart::example("r", "a")),
            Event::StepStart(StepStart {
                step: "fix".into(),
                line: 1,
                attempt: 1,
                command: "wait".into(),
                command_hash: "c".into(),
                undo: false,
                lang: None,
                interactive: false,
                log_from: None,
            }),
        ];
        if stop {
            events.push(Event::Stop(Stop { kind: StopKind::Failed, why: "x".into(), roll_back: false, cancel: false }));
        }
        let entries: Vec<Entry> = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Entry { seq: i as u64 + 1, at: String::new(), event })
            .collect();
        RunState::from_entries(&entries)
    }

    #[test]
    fn a_step_without_an_end_is_running_only_while_the_engine_lives() {
        let st = run(false);
        assert_eq!(step(&st, "fix", true), Shown::Running);
        assert_eq!(step(&st, "fix", false), Shown::Interrupted);
        assert_eq!(step(&st, "verify", true), Shown::Pending);
        assert_eq!(step(&st, "verify", false), Shown::NotRun);
    }

    #[test]
    fn a_play_that_stops_starting_steps_reaches_no_more() {
        let st = run(true);
        assert_eq!(step(&st, "fix", true), Shown::Running);
        assert_eq!(step(&st, "verify", true), Shown::NotRun);
    }
}

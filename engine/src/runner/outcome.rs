//! What a play came to, read from the run's state at its end: a status per
//! step (for the closing screen, the rehearsal's expectations, the exit
//! code) and what the operator types next.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::model::Runbook;
use crate::run::{RunState, RunStatus, StepStatus};

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub status: StepStatus,
    pub exit: Option<i32>,
    pub reason: Option<String>,
    #[serde(with = "crate::model::opt_duration")]
    pub duration: Option<Duration>,
    /// The last lines of output (stdout and stderr), redacted.
    pub tail: String,
    /// Runs of the step in this session (retries count; 0: not run now).
    pub attempts: u32,
    /// Left out by the mode (`--only`, `--from`, `--read-only`): not a
    /// step the run is to play, counted apart as the report counts it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub left_out: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub run_id: String,
    pub status: RunStatus,
    /// Every step of the runbook (undo blocks included), in document order.
    pub steps: IndexMap<String, StepResult>,
    /// Why the play stopped.
    pub message: Option<String>,
    /// Undo blocks of the rollback that passed, in the rollback's order.
    pub rolled_back: Vec<String>,
    /// Undo blocks of the rollback that did not pass (failed, skipped,
    /// interrupted, not reached): the rollback is incomplete.
    pub rollback_incomplete: Vec<String>,
    /// The run's directory on this machine, if the store has one.
    pub run_dir: Option<PathBuf>,
    /// What to type next: (command, what it does).
    pub next: Vec<(String, String)>,
    /// `escalate` of the steps that failed: (step, text).
    pub escalate: Vec<(String, String)>,
    /// The run is kept ([`crate::runner::PlayEnv::recorded`]).
    pub recorded: bool,
    /// Another engine took the run over: the line that says so (and all
    /// this engine says at its end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken_over: Option<String>,
    /// Output the store could not keep after the run's end was recorded:
    /// the PostgreSQL store's last held chunks, written to this machine as
    /// the play closes, when that write fails too. Said here, since the
    /// journal cannot say it any more (a loss before the end stops the play).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_lost: Option<String>,
}

impl Outcome {
    /// Another engine has the run now: refused (exit 3), nothing to resume
    /// from here.
    pub fn taken_over(mut self, line: String) -> Outcome {
        self.status = RunStatus::Refused;
        self.message = Some(line.clone());
        self.next.clear();
        self.escalate.clear();
        self.taken_over = Some(line);
        self
    }

    /// A signal ended the play while it waited for its store (exit 130).
    pub fn interrupted(mut self) -> Outcome {
        self.status = RunStatus::Interrupted;
        self
    }
}

/// `recorded`: the run is kept (a rehearsal's is not: nothing to resume or report).
pub fn build(rb: &Runbook, st: &RunState, env: Option<&str>, run_dir: Option<PathBuf>, recorded: bool) -> Outcome {
    let session = st.session();
    let end = st.end.clone();
    let status = end.as_ref().map_or(RunStatus::Interrupted, |e| e.status);
    let why = end.as_ref().and_then(|e| e.message.clone());
    let mut steps = IndexMap::new();
    for s in &rb.steps {
        let r = match st.step(&s.id) {
            None => {
                let reason = why.as_ref().filter(|_| !s.attrs.undo).map(|w| format!("the play stopped: {w}"));
                StepResult {
                    status: StepStatus::NotRun,
                    exit: None,
                    reason,
                    duration: None,
                    tail: String::new(),
                    attempts: 0,
                    left_out: false,
                }
            }
            Some(p) => {
                let earlier = p.session < session && p.passed();
                StepResult {
                    status: if p.lost { StepStatus::Interrupted } else { p.status.unwrap_or(StepStatus::Interrupted) },
                    exit: p.exit,
                    reason: if earlier { Some("passed in an earlier session".into()) } else { p.reason.clone() },
                    duration: p.duration_ms.map(Duration::from_millis),
                    tail: p.tail.clone(),
                    attempts: if earlier { 0 } else { p.attempts },
                    left_out: p.excluded.is_some(),
                }
            }
        };
        steps.insert(s.id.clone(), r);
    }
    let rolled_back: Vec<String> =
        st.rollback.iter().flatten().filter(|u| st.step(u).is_some_and(|x| x.passed())).cloned().collect();
    let rollback_incomplete: Vec<String> = st.rollback_incomplete().into_iter().map(String::from).collect();
    // A failed undo block is a failure too: its `escalate` says whom to call.
    let failed: Vec<&str> =
        steps.iter().filter(|(_, r)| r.status == StepStatus::Failed).map(|(id, _)| id.as_str()).collect();
    let escalate = failed
        .iter()
        .filter_map(|id| rb.step(id).and_then(|s| s.attrs.escalate.clone()).map(|e| (id.to_string(), e)))
        .collect();
    let mut next = Vec::new();
    let resumable = st.resumable();
    if recorded && status != RunStatus::Passed && resumable {
        // The continuation offers every failed step again, a failure the
        // play went on past (`on-fail=continue`) too.
        let forward: Vec<String> =
            failed.iter().filter(|f| !rollback_incomplete.iter().any(|u| u == *f)).map(|f| format!("`{f}`")).collect();
        let what = match (status, forward.len()) {
            _ if st.rollback_to_finish() => {
                format!("finish the rollback: {} offered again", rollback_incomplete.join(", "))
            }
            (RunStatus::Failed, 1) => format!("continue this run: {} is offered again", forward[0]),
            (RunStatus::Failed, 2..) => format!("continue this run: {} are offered again", forward.join(", ")),
            _ => "continue this run where it stopped".to_string(),
        };
        next.push((super::session::resume_hint(rb, env, &st.mode), what));
    }
    if recorded && status != RunStatus::Passed {
        next.push((format!("runbook report {}", st.run), "the incident timeline, as markdown".into()));
    }
    Outcome {
        run_id: st.run.clone(),
        status,
        steps,
        message: why,
        rolled_back,
        rollback_incomplete,
        run_dir,
        next,
        escalate,
        recorded,
        taken_over: None,
        output_lost: None,
    }
}

//! `runbook play`: running a runbook's DAG for real (SPEC §2.2, §4, §6).
//!
//! # API (also used by the rehearsal, `play --dry-run` and `check`)
//!
//! [`play`] takes the parsed runbook, its [`Dag`], the config and
//! [`PlayOptions`], runs the steps, emits [`Event`]s to the given
//! [`Reporter`]s and returns an [`Outcome`] with a status per step. A
//! rehearsal passes a [`Sandbox`] (stub `bin_dir` first on `PATH`, a temporary
//! `workdir` standing in for the repository root, its own `state_dir`, no
//! wall-clock times when `clock` is false) and [`Answers::Scripted`].
//!
//! # Decisions
//!
//! - **Run id**: `<UTC yyyymmddThhmmssZ>-<runbook>-<env>` (sortable by time;
//!   `-2`, `-3` … appended if two runs start in the same second).
//! - **Env without a profile** is called `local` (run id, lock name, report).
//! - **Journal** (`runs/<run-id>/journal.jsonl`): one JSON object per line,
//!   written before and after every step (survives `kill -9`), flushed to
//!   disk by a background syncer, and durable when the play ends (the
//!   power-loss window and the schema are in [`journal`]). A resume appends
//!   to the same journal, so one incident is one timeline.
//! - **Resumable** = the latest run of this runbook@env ended without a
//!   `run-end` (crash), or as `interrupted` or `refused` and was not rolled
//!   back. A failed run is finished (its rollback may have run); re-run it
//!   from a step with `--from`. `--resume` over a finished run refuses
//!   (exit 3) and names `--from STEP` and `--fresh`, rather than run every
//!   step again; with no earlier run at all it starts one.
//! - **Answers**: a declined `confirm` is a refusal: the play stops (running
//!   steps finish), exit 3, the run stays resumable. `Skip` skips the step.
//!   A manual step answered "no" (not done) fails. `--step` "quit" is a
//!   refusal too. A non-interactive play that needs an answer stops with
//!   exit 3 naming `--yes`.
//! - **Exclusive steps**: a step that needs a question answered, and an
//!   `interactive` step, start only when nothing else runs, and nothing else
//!   starts until they are done: a question is never interleaved with
//!   output, and an interactive step owns the terminal (it stays in the
//!   foreground process group so it can read it).
//! - **Bodies** travel through an inherited descriptor (`bash -euo pipefail
//!   /dev/fd/N`: a memfd on Linux, a pipe elsewhere), never argv and never a
//!   file: nothing of a rendered body (secrets included) is left on disk even
//!   after `kill -9`. The interpreter of the step expected next is started
//!   ahead, on an empty pipe, and fed its body when its turn comes
//!   (`warm.rs`).
//! - **A step's processes end with the step**: when its main process exits,
//!   whatever still runs in its process group a moment later (`SETTLE`: time
//!   for process substitutions to finish; zombies do not count) is terminated
//!   (SIGTERM, grace, SIGKILL) and reported. Detach daemons with `setsid`.
//! - **Resume after `kill -9`**: step processes carry `RUNBOOK_RUN`,
//!   `RUNBOOK_RUN_DIR` (the run directory's absolute path: unique on the
//!   machine, unlike the run id) and `RUNBOOK_STEP`; leftovers of the step
//!   that was in flight are killed before it runs again, and when a new run
//!   starts over the unfinished one (`--fresh`, or "no" to the question).
//! - **Secret captures** (a `capture=` name that is secret, or a captured
//!   value that needed redaction) cannot be restored from a journal that never
//!   holds secrets: on resume their step runs again, and says so.
//! - **Filters** (`--from`, `--only`, `--read-only`) skip steps without
//!   blocking their `needs` dependents: the operator chose what to run.
//! - **`requires`** missing tools refuse the play (exit 3), all named at once.

mod decide;
pub mod events;
pub mod journal;
mod launch;
pub mod lock;
mod logs;
mod output;
mod process;
mod prompt;
mod query;
pub mod reporter;
mod rollback;
mod scheduler;
mod script;
mod setup;
mod spawn;
mod step;
pub mod time;
mod warm;

pub use prompt::terminal as on_terminal;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

pub use events::{Event, Reporter, StepStatus, Stream};

use crate::config::{Config, EnvProfile};
use crate::error::Result;
use crate::model::{Runbook, Step};
use crate::plan::Dag;

/// Default `--jobs`.
pub const DEFAULT_JOBS: usize = 4;

/// Everything `play` needs besides the runbook itself.
#[derive(Clone)]
pub struct PlayOptions {
    pub env: Option<EnvProfile>,
    pub vars: crate::vars::Resolved,
    pub answers: Answers,
    /// `--step`: ask before every step.
    pub step_mode: bool,
    pub read_only: bool,
    pub from: Option<String>,
    pub only: Option<String>,
    pub resume: ResumeMode,
    pub no_rollback: bool,
    pub jobs: usize,
    /// `Some` in a rehearsal.
    pub sandbox: Option<Sandbox>,
}

impl PlayOptions {
    /// Defaults: no env, no vars, answers refused, 4 jobs.
    pub fn new(vars: crate::vars::Resolved) -> Self {
        PlayOptions {
            env: None,
            vars,
            answers: Answers::Refuse,
            step_mode: false,
            read_only: false,
            from: None,
            only: None,
            resume: ResumeMode::Ask,
            no_rollback: false,
            jobs: DEFAULT_JOBS,
            sandbox: None,
        }
    }
}

/// A question asked during a play: the step and what is asked.
pub type ScriptedAnswers = Arc<dyn Fn(&Step, Question) -> Answer + Send + Sync>;

/// How questions (confirm, manual, `--step`, guard) are answered.
#[derive(Clone)]
pub enum Answers {
    /// Ask on the terminal; off a terminal behave like `Refuse`.
    Interactive,
    /// `--yes`: every question is answered yes.
    Yes,
    /// Non-interactive without `--yes`: a question stops the play with exit 3
    /// naming the flag.
    Refuse,
    /// A rehearsal's answers.
    Scripted(ScriptedAnswers),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// `confirm`, or the env's confirm policy: run this step?
    Confirm,
    /// A `manual` step: is the checklist done?
    Manual,
    /// `--step`: continue (Yes), skip (Skip) or quit (No)?
    Step,
    /// Asked only of `Scripted` answers, with the first write step, before the
    /// env guard runs: Yes runs the guard, Skip bypasses it, No refuses.
    Guard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeMode {
    /// Ask on a terminal; otherwise an unfinished run refuses (exit 3) naming
    /// `--resume` / `--fresh`.
    Ask,
    /// Resume the unfinished run if there is one (else start a new run).
    Resume,
    /// Start a new run, leaving any unfinished one as it is.
    Fresh,
}

/// The rehearsal's hooks (SPEC §5).
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// Prepended to `PATH` for every step and for the guard command.
    pub bin_dir: PathBuf,
    /// Stands in for the repository root: base of every step's `cwd`.
    pub workdir: PathBuf,
    /// Extra environment variables for step processes.
    pub env: Vec<(String, String)>,
    /// Journal, logs and locks go here instead of `config.state`.
    pub state_dir: PathBuf,
    /// `false`: no wall-clock times or durations in events.
    pub clock: bool,
    /// The scenario's `[[scenario.query]]` answers for promql/logql/http steps.
    pub queries: Arc<Vec<crate::observe::fixture::Query>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Passed,
    Failed,
    Interrupted,
    Refused,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub status: StepStatus,
    pub exit: Option<i32>,
    pub reason: Option<String>,
    #[serde(with = "crate::model::opt_duration")]
    pub duration: Option<Duration>,
    /// The last lines of output (stdout and stderr), redacted.
    pub tail: String,
    /// Runs of the step in this play (retries count; 0 = not run now).
    pub attempts: u32,
}

impl StepResult {
    pub fn new(status: StepStatus, reason: Option<String>) -> Self {
        StepResult { status, exit: None, reason, duration: None, tail: String::new(), attempts: 0 }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub run_id: String,
    pub status: RunStatus,
    /// Every step of the runbook (undo blocks included), in document order.
    pub steps: IndexMap<String, StepResult>,
    /// Why the play stopped, for the operator (which flag to use, …).
    pub message: Option<String>,
    /// Undo blocks that ran, in the order they ran.
    pub rolled_back: Vec<String>,
    pub run_dir: PathBuf,
}

/// Play a runbook. Errors before the first step (lock held, journal unreadable,
/// missing tools, unresumable state) are returned as `Err`; everything that
/// happens once steps run is in the [`Outcome`].
pub fn play(
    rb: &Runbook,
    dag: &Dag,
    config: &Config,
    mut opts: PlayOptions,
    reporters: Vec<Box<dyn Reporter>>,
) -> Result<Outcome> {
    // Settles the variables too (restored on resume, asked for when missing).
    let prepared = setup::prepare(rb, dag, config, &mut opts)?;
    // Group commit of the journal: its records are flushed when the loop goes idle.
    let kicker = prepared.journal.kicker();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(move || {
            if let Some(k) = &kicker {
                k.kick();
            }
        })
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the runtime: {e}"))?;
    let sink = events::Sink::new(reporters);
    rt.block_on(scheduler::run(rb, dag, config, opts, prepared, sink))
}

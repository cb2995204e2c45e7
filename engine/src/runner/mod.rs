//! `runbook play`: running a runbook's DAG (SPEC §2.2, §4, §6).
//!
//! # Shape
//!
//! The journal is the run: every fact that decides anything is an event
//! ([`crate::run`]), and the run's state is their fold. A play is
//! - a **dispatcher** (`dispatch/`) that only decides: the state in, the
//!   next action out (record, ask, run the guard, start a step, wait,
//!   finish); it runs nothing and is unit-tested without processes;
//! - an **executor** (`execute`, `step`, `process`, `spawn`, `warm`,
//!   `query`, `output`) that runs steps' processes and queries;
//! - a **recorder** (`record`) through which every event passes once: to the
//!   store (the journal), into the fold, to the reporters (`reporter/`, the
//!   rehearsal's transcript, the live view);
//! - the **loop** (`play`) that performs the dispatcher's actions and turns
//!   what happens (a step's end, a signal, an answer) into events.
//!
//! A resume folds the journal into the same state and hands it to a new
//! dispatcher, so it decides as the interrupted session would have. Where a
//! play happens (the live world, a rehearsal's sandbox) is a [`PlayEnv`].
//!
//! # Decisions
//!
//! - **Run id**: `<UTC yyyymmddThhmmssZ>-<runbook>-<env>` (`-2`, `-3` … for
//!   runs of the same second). An env without a profile is `local`.
//! - **Answers**: every question (confirm, manual, `--step`, retry, undo,
//!   Ctrl-C) and its answer is an event: who, how (`prompt`, `--yes`, a
//!   scenario, a timeout), when. A declined `confirm` stops the play (exit 3,
//!   resumable); skip skips the step; a manual step answered "no" fails. A
//!   play that cannot ask stops at the first question, naming `--yes`.
//! - **Exclusive steps**: a step that asks first, and an `interactive` step,
//!   start only when nothing else runs, and nothing starts while they do.
//! - **An `interactive` step needs a terminal** (stdin, stdout and stderr):
//!   without one the play stops at it, refused and resumable, and runs
//!   nothing of it (it would read the engine's piped input and write
//!   unmasked output into a log).
//! - **Bodies** reach the interpreter through an inherited descriptor (a
//!   sealed memfd, or a pipe), never argv or a file. The interpreter of the
//!   step expected next is started ahead, on an empty pipe (`warm.rs`).
//! - **A step's processes end with the step**: what is left in its process
//!   group after a moment is terminated and reported. Step processes carry
//!   `RUNBOOK_RUN`, `RUNBOOK_RUN_DIR` and `RUNBOOK_STEP`, and each attempt's
//!   process group is journaled: a resume kills leftovers of what was in
//!   flight before it runs again.
//! - **Filters** (`--from`, `--only`, `--read-only`) leave steps out without
//!   blocking their `needs` dependents, in one `excluded` event.
//! - **A panic** in a step's task or in the loop fails the run (recorded,
//!   resumable, exit 1), never passes it.

mod ask;
mod dispatch;
mod elsewhere;
pub mod env;
pub mod events;
mod execute;
pub(crate) mod fault;
mod guard;
mod launch;
mod origin;
mod outcome;
mod output;
mod play;
mod process;
pub mod prompt;
mod query;
mod record;
mod rehearsed;
pub mod reporter;
pub mod scope;
mod script;
mod session;
pub mod signals;
mod spawn;
mod step;
pub mod timing;
mod warm;

pub use crate::time;
pub use dispatch::left_out;
pub use prompt::terminal as on_terminal;
pub use session::check_selectors;

use std::sync::{Arc, RwLock};

pub use crate::run::event::Question;
pub use crate::run::{RunStatus, StepStatus};
pub use env::PlayEnv;
pub use events::{PlayEvent, Reporter, Stream};
pub use outcome::{Outcome, StepResult};
pub use play::command_not_found;
pub use session::LOCAL_ENV;

use crate::config::{Config, EnvProfile};
use crate::error::Result;
use crate::model::{Runbook, Step};
use crate::plan::Dag;
use crate::redact::Redactor;
use crate::run::event::Mode;

/// Default `--jobs`.
pub const DEFAULT_JOBS: usize = 4;

/// Everything `play` needs besides the runbook and where it plays.
#[derive(Clone)]
pub struct PlayOptions {
    pub env: Option<EnvProfile>,
    pub vars: crate::vars::Resolved,
    pub answers: Answers,
    /// `--step`: ask before every step.
    pub step_mode: bool,
    /// `--read-only`, `--only`, `--from`, `--jobs` (0: the run's, or the
    /// default), `--no-rollback`.
    pub mode: Mode,
    pub resume: ResumeMode,
    /// `--take-over`: continue the run another engine holds (asked first).
    pub take_over: bool,
}

impl PlayOptions {
    /// Defaults: no env, no vars, answers refused, the default jobs.
    pub fn new(vars: crate::vars::Resolved) -> Self {
        PlayOptions {
            env: None,
            vars,
            answers: Answers::Refuse,
            step_mode: false,
            mode: Mode::default(),
            resume: ResumeMode::Ask,
            take_over: false,
        }
    }
}

/// A question asked during a play: the step and what is asked.
pub type ScriptedAnswers = Arc<dyn Fn(&Step, Question) -> Answer + Send + Sync>;

/// How questions (confirm, manual, `--step`, retry, guard) are answered.
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

/// A scripted answer.
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
    /// Go on with the latest run if it can (else start a new run).
    Resume,
    /// Start a new run, leaving any earlier one as it is.
    Fresh,
}

/// A secret value, and each of its lines (a multi-line secret is printed line by line).
pub(crate) fn add_secret(secrets: &mut Vec<String>, v: &str) {
    if v.is_empty() {
        return;
    }
    secrets.push(v.to_string());
    if v.contains('\n') {
        secrets.extend(v.lines().map(str::trim).filter(|l| l.len() >= 4).map(str::to_string));
    }
}

/// Play a runbook. Errors before the first step (lock held, journal
/// unreadable, missing tools, unresumable state) are returned as `Err`;
/// everything that happens once the run is recorded is in the [`Outcome`].
pub fn play(
    rb: &Runbook,
    dag: &Dag,
    config: &Config,
    env: &PlayEnv,
    mut opts: PlayOptions,
    reporters: Vec<Box<dyn Reporter>>,
) -> Result<Outcome> {
    let _ = config;
    let tty = matches!(opts.answers, Answers::Interactive) && prompt::terminal();
    let p = session::prepare(rb, dag, env, &mut opts, tty)?;
    if env.engine_log
        && let Some(dir) = env.store.local_dir(&p.run_id)
    {
        session::init_tracing(&dir);
    }
    tracing::info!(run = %p.run_id, runbook = %rb.id, env = %p.env_name, "play started");
    let writer = env.store.writer(&p.run_id, p.lease.as_ref(), env.durable)?;
    let sink = Arc::new(events::Sink::new(reporters));
    let recorder = record::Recorder::new(p.state, writer, sink.clone(), env.clock);
    // Group commit of the journal: its events are flushed when the loop goes idle.
    let idle = recorder.idle_hook();
    // The store's runtime if it lends one (store::lent), else one of our own.
    let runtime = match env.store.lend() {
        Some(lent) => {
            lent.on_idle(idle);
            Runtime::Lent(lent)
        }
        None => Runtime::Own(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_park(move || {
                    if let Some(k) = &idle {
                        k();
                    }
                })
                .build()
                .map_err(|e| anyhow::anyhow!("cannot start the runtime: {e}"))?,
        ),
    };
    let run = || {
        let play = session_loop(rb, dag, env, opts, p.first, p.kind, p.operator, p.env_name, p.notes, &recorder, tty);
        match &runtime {
            Runtime::Lent(l) => l.block_on(play),
            Runtime::Own(rt) => rt.block_on(play),
        }
    };
    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
    // From here on the loop no longer hears signals: a Ctrl-C makes the
    // store stop waiting (the play then ends with what it has).
    let ending = env.store.interrupter().map(signals::Ending::watch);
    let interrupted = || ending.as_ref().is_some_and(|e| e.fired());
    // Given back before anything below waits for the store.
    drop(runtime);
    let mut outcome = match ended {
        Ok(mut o) => {
            recorder.close();
            // Lost before the run's end, it stopped the play and is in the journal.
            o.output_lost = recorder.output_lost().filter(|l| o.message.as_deref().is_none_or(|m| !m.contains(l)));
            let o = if interrupted() { o.interrupted() } else { o };
            recorder.sink.emit(PlayEvent::Finished(Box::new(o.clone())));
            o
        }
        Err(panic) => crashed(rb, env, &recorder, &panic),
    };
    drop(p.lease);
    if interrupted() {
        outcome = outcome.interrupted();
    }
    Ok(outcome)
}

/// What a play's loop runs on.
enum Runtime {
    Lent(crate::store::lent::Lent),
    Own(tokio::runtime::Runtime),
}

#[allow(clippy::too_many_arguments)]
async fn session_loop(
    rb: &Runbook,
    dag: &Dag,
    env: &PlayEnv,
    opts: PlayOptions,
    first: session::First,
    kind: Option<crate::run::event::SessionKind>,
    operator: String,
    env_name: String,
    notes: Vec<String>,
    recorder: &Arc<record::Recorder>,
    tty: bool,
) -> Outcome {
    let mut secrets: Vec<String> = Vec::new();
    for v in crate::template::secret_values(rb, &opts.vars.vars) {
        add_secret(&mut secrets, &v);
    }
    for s in env.store.secrets() {
        add_secret(&mut secrets, &s);
    }
    let redactor = Arc::new(RwLock::new(Redactor::new(secrets.clone())));
    match first {
        session::First::Written(e, answers) => {
            recorder.written(e);
            // Said by the play's prompt already.
            for a in answers {
                recorder.record_as(a, record::Show::Never);
            }
        }
        session::First::Record(e, answers) => {
            recorder.record(e);
            // Said by the play's prompt already, or by the flag typed.
            for a in answers {
                recorder.record_as(a, record::Show::Never);
            }
        }
    }
    let (ctx, d) = {
        let st = recorder.state();
        let ctx = crate::template::Context {
            vars: opts.vars.vars.clone(),
            env: opts.env.as_ref().map(|e| e.name.clone()),
            ..Default::default()
        };
        let ctx = play::Loop::context(rb, &st, ctx);
        let mode = st.mode.clone();
        let resume = session::resume_hint(rb, opts.env.as_ref().map(|e| e.name.as_str()), &mode);
        let policy = dispatch::Policy {
            confirm: opts.env.as_ref().map(|e| e.confirm).unwrap_or_default(),
            guard: opts.env.as_ref().is_some_and(|e| e.guard.is_some()),
            answering: session::answering(&opts, tty),
            step_mode: opts.step_mode,
            jobs: match (env.one_at_a_time, mode.jobs) {
                (true, _) => 1,
                (false, 0) => DEFAULT_JOBS,
                (false, j) => j,
            },
            mode,
            root: env.root.clone(),
            kind,
            terminal: prompt::step_terminal(),
            resume,
        };
        (ctx, dispatch::Dispatcher::new(rb, dag, policy, &st))
    };
    let run_id = recorder.state().run.clone();
    let x = execute::Executor {
        env,
        rb,
        vars: opts.vars.clone(),
        run_key: env.store.run_key(&run_id),
        run_id,
        env_name: env_name.clone(),
        env_guard: opts.env.as_ref().and_then(|e| e.guard.clone()),
        logs: recorder.logs(),
        sink: recorder.sink.clone(),
        recorder: recorder.clone(),
        redactor,
        cancel: tokio::sync::watch::channel(false).0,
        quiet: step::QuietClock::start(),
        rehearsed: (!env.waits).then(|| std::sync::Arc::new(rehearsed::Rehearsed::new(rb.timeout))),
    };
    let mut l = play::Loop::new(d, x, rb, ctx, opts.answers.clone(), operator, tty, secrets);
    for n in notes {
        l.note(None, n);
    }
    session_note(&mut l);
    let end = l.run().await;
    let env_name = opts.env.as_ref().map(|e| e.name.as_str());
    if let Some(line) = l.taken.take() {
        // Another engine has the run: nothing more is ours to record.
        tracing::info!("play ended: {line}");
        drop(l);
        let st = recorder.state();
        return outcome::build(rb, &st, env_name, env.store.local_dir(&st.run), env.recorded).taken_over(line);
    }
    // The steps' last output is written while the run's end is committed.
    recorder.logs().hurry();
    let message = end.message.as_deref().map(|m| l.x.redact(m));
    tracing::info!(status = end.status.name(), "play ended");
    l.record(crate::run::Event::RunEnd(crate::run::event::RunEnd { message, ..end }));
    // A signal ends this wait too (the store stops waiting: what it did not
    // take stays where it keeps it).
    let synced = tokio::select! {
        biased;
        r = recorder.synced() => r.map_err(|e| (e.to_string(), false)),
        sig = l.signals.recv() => {
            recorder.interrupt();
            Err((format!("interrupted by {sig} while the run's end was written"), true))
        }
    };
    let mut interrupted = false;
    if let Err((e, by_signal)) = synced {
        tracing::error!("{e}");
        interrupted = by_signal;
        // A store that did not answer was said once already, as why the play stopped.
        if !l.store_away && !by_signal {
            l.note(None, format!("the journal may not be complete: {e}"));
        }
    }
    let st = recorder.state();
    let mut o = outcome::build(rb, &st, env_name, env.store.local_dir(&st.run), env.recorded);
    render_escalate(&mut o, rb, &st, &l);
    drop(l);
    if interrupted { o.interrupted() } else { o }
}

/// The template context of a run as its events leave it: `base` (its
/// values), each step's status, exit and stdout, and the passed steps'
/// captures (what the live view renders an `escalate` text with).
pub fn run_context(
    rb: &Runbook,
    st: &crate::run::RunState,
    base: crate::template::Context,
) -> crate::template::Context {
    play::Loop::context(rb, st, base)
}

/// The closing screen's `escalate` texts, rendered as `confirm` is (the
/// run's variables and captures), secrets masked; one that does not render
/// (a capture its step never made) is shown as written.
fn render_escalate(o: &mut outcome::Outcome, rb: &Runbook, st: &crate::run::RunState, l: &play::Loop<'_>) {
    let t = crate::template::Templater::new(rb);
    let ctx = play::Loop::context(rb, st, l.ctx.clone());
    for (id, text) in &mut o.escalate {
        if let Some(s) = rb.step(id)
            && let Ok(Some(r)) = t.escalate(s, &ctx)
        {
            *text = l.x.redact(&r);
        }
    }
}

/// What a resumed session starts from, in one note.
fn session_note(l: &mut play::Loop<'_>) {
    let text = {
        let st = l.x.recorder.state();
        if st.session() < 2 {
            return;
        }
        let lost: Vec<&str> = st.steps.iter().filter(|(_, s)| s.lost).map(|(k, _)| k.as_str()).collect();
        let mut t = format!("session {} of run {}", st.session(), st.run);
        let red = l.x.redactor.read().unwrap_or_else(|p| p.into_inner());
        t.push_str(&passed_before(&l.d.passed_before(&st, &l.ctx, &red)));
        let gone: Vec<&str> = st.passed_order.iter().filter(|id| !st.in_runbook(id)).map(String::as_str).collect();
        if !gone.is_empty() {
            t.push_str(&format!("; passed before, no longer in the runbook: {}", gone.join(", ")));
        }
        if !lost.is_empty() {
            t.push_str(&format!("; in flight when it stopped, run again: {}", lost.join(", ")));
        }
        let again: Vec<&str> = st.steps.iter().filter(|(_, s)| s.again).map(|(k, _)| k.as_str()).collect();
        if !again.is_empty() {
            t.push_str(&format!("; finishing the rollback, offered again: {}", again.join(", ")));
        }
        t
    };
    l.note(None, text);
}

/// The session note's part on the steps that passed before: kept, or run
/// again and why, as the dispatcher will decide when their turn comes
/// (`; passed before, not run again: b; run again (command changed): a`).
fn passed_before(passed: &[(String, Option<dispatch::Again>)]) -> String {
    let mut parts: Vec<(String, Vec<&str>)> = Vec::new();
    for (id, again) in passed {
        let part = match again {
            None => "not run again".to_string(),
            Some(why) => format!("run again ({})", why.short()),
        };
        match parts.iter_mut().find(|(p, _)| *p == part) {
            Some((_, ids)) => ids.push(id),
            None => parts.push((part, vec![id])),
        }
    }
    // Those kept first, then each reason to run again in order of appearance.
    parts.sort_by_key(|(p, _)| p != "not run again");
    if parts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = parts.iter().map(|(p, ids)| format!("{p}: {}", ids.join(", "))).collect();
    format!("; passed before, {}", parts.join("; "))
}

/// The loop panicked: a bug. What was running is killed, the run is recorded
/// as failed (resumable), and the play ends with exit 1.
fn crashed(
    rb: &Runbook,
    env: &PlayEnv,
    recorder: &Arc<record::Recorder>,
    panic: &Box<dyn std::any::Any + Send>,
) -> Outcome {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    let groups: Vec<(i32, Option<u64>)> = {
        let st = recorder.state();
        st.steps.values().filter(|s| s.in_flight()).filter_map(|s| s.pgid.map(|g| (g, s.born_ms))).collect()
    };
    for (g, born) in groups {
        process::reap_group(g, born);
    }
    let why = format!("internal error of the engine: {what} (please report it)");
    use crate::run::event::{RunEnd, Stop, StopKind};
    recorder.record(crate::run::Event::Stop(Stop {
        kind: StopKind::Failed,
        why: why.clone(),
        roll_back: false,
        cancel: true,
    }));
    recorder.record(crate::run::Event::RunEnd(RunEnd {
        status: RunStatus::Failed,
        rolled_back: false,
        message: Some(why),
    }));
    let _ = recorder.sync();
    let outcome = {
        let st = recorder.state();
        outcome::build(rb, &st, None, env.store.local_dir(&st.run), env.recorded)
    };
    recorder.close();
    recorder.sink.emit(PlayEvent::Finished(Box::new(outcome.clone())));
    outcome
}

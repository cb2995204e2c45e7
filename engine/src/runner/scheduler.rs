//! The scheduler: runs the DAG on a tokio runtime.
//!
//! Ready steps start in the DAG's stable order, up to `--jobs` at a time. A
//! step is ready when all its dependencies are done; a `needs` dependency
//! that did not pass skips it, the document-order edge only orders. A step
//! that needs an answer, or is `interactive`, waits until nothing else runs
//! and holds back later steps meanwhile (see the module doc of `runner`).
//! `on-fail=stop` halts new work while running steps finish; signals cancel
//! them (process groups terminated) and the run is recorded as interrupted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use indexmap::IndexMap;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::events::{Event, Sink};
use super::journal::{Journal, Record, RunLog};
use super::logs::Logs;
use super::setup::Prepared;
use super::step::{self, JobResult};
use super::{Outcome, PlayOptions, RunStatus, StepResult, StepStatus, prompt, time};
use crate::config::Config;
use crate::error::Result;
use crate::model::{OnFail, Runbook};
use crate::plan::Dag;
use crate::redact::Redactor;
use crate::template::{Capture, Context, StepState, Templater};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum St {
    Pending,
    Running,
    Done,
}

#[derive(Debug, Clone)]
pub(super) enum Stop {
    Failed(String),
    Refused(String),
    Interrupted(String),
}

pub(super) struct Sched<'a> {
    pub rb: &'a Runbook,
    pub dag: &'a Dag,
    pub config: &'a Config,
    pub opts: PlayOptions,
    pub t: Templater<'a>,
    pub ctx: Context,
    pub sink: Arc<Sink>,
    pub journal: Journal,
    /// Writes the step logs in the background; joined when the play ends.
    pub logs: Logs,
    pub run_id: String,
    pub run_dir: PathBuf,
    /// `RUNBOOK_RUN_DIR` of the steps (see `setup::run_key`).
    pub run_key: String,
    pub env_name: String,
    pub previous: Option<RunLog>,
    pub secrets: Vec<String>,
    pub redactor: Arc<RwLock<Redactor>>,
    pub state: Vec<St>,
    pub ready: Ready,
    pub results: Vec<StepResult>,
    /// Left out by `--from`/`--only`/`--read-only`: does not block `needs`.
    pub excluded: Vec<bool>,
    pub stop: Option<Stop>,
    pub rollback_requested: bool,
    pub play_timed_out: bool,
    pub running: JoinSet<(usize, JobResult)>,
    pub exclusive_running: bool,
    pub cancel: watch::Sender<bool>,
    /// Ends the steps' quiet starts (see `step::QUIET`).
    pub quiet: step::QuietClock,
    /// Steps in the order they passed (restored ones first).
    pub passed_order: Vec<usize>,
    /// Steps that failed with `on-fail=continue`: the play goes on, but its
    /// outcome is still `failed` (the failure is recorded, not forgiven).
    pub continued_failures: Vec<String>,
    pub guard_done: bool,
    /// Passed in a previous session of this run, not run again.
    pub resumed: Vec<bool>,
    /// The redacted command hash each started step ran with.
    pub hashes: std::collections::HashMap<usize, String>,
    pub rolled_back: Vec<String>,
    /// SIGINT/SIGTERM during the rollback: why it stopped.
    pub rollback_interrupted: Option<String>,
    pub tty: bool,
    /// Set by a Ctrl-C while a question is on the terminal.
    pub prompt_cancel: Arc<AtomicBool>,
    pub sigint: Option<Signal>,
    pub sigterm: Option<Signal>,
    /// The interpreter started for the step expected next (`runner::warm`).
    pub warm: Option<super::warm::Warm>,
    /// Positions of `dag.order` before this one are no longer pending.
    pub warm_pos: usize,
}

/// The pending steps whose dependencies are all done, by position in
/// `dag.order`: what [`Sched::schedule`] goes through, rather than every
/// pending step on every turn (quadratic in a long runbook).
pub(super) struct Ready {
    /// Dependencies of each step not done yet.
    waiting: Vec<usize>,
    /// The steps that depend on each step.
    dependents: Vec<Vec<usize>>,
    /// Each step's position in `dag.order` (`None`: an undo block).
    pos: Vec<Option<usize>>,
    set: std::collections::BTreeSet<usize>,
}

impl Ready {
    fn new(dag: &Dag) -> Ready {
        let n = dag.len();
        let mut pos = vec![None; n];
        for (p, &i) in dag.order.iter().enumerate() {
            pos[i] = Some(p);
        }
        let mut dependents = vec![Vec::new(); n];
        for (i, deps) in (0..dag.len()).map(|i| (i, dag.deps(i))) {
            for e in deps {
                dependents[e.from].push(i);
            }
        }
        let waiting: Vec<usize> = (0..dag.len()).map(|i| dag.deps(i).len()).collect();
        let set = (0..n).filter(|&i| waiting[i] == 0).filter_map(|i| pos[i]).collect();
        Ready { waiting, dependents, pos, set }
    }

    /// Step `i` is done (once): its dependents may become ready.
    fn done(&mut self, i: usize) {
        for &j in &self.dependents[i] {
            self.waiting[j] -= 1;
            if self.waiting[j] == 0
                && let Some(p) = self.pos[j]
            {
                self.set.insert(p);
            }
        }
    }

    /// The first ready position at or after `from`.
    pub(super) fn next(&self, from: usize) -> Option<usize> {
        self.set.range(from..).next().copied()
    }

    /// The step at `pos` is no longer pending.
    pub(super) fn taken(&mut self, pos: usize) {
        self.set.remove(&pos);
    }
}

impl Sched<'_> {
    /// Marks step `i` done (its dependents may become ready).
    pub(super) fn set_done(&mut self, i: usize) {
        if self.state[i] != St::Done {
            self.state[i] = St::Done;
            self.ready.done(i);
        }
    }
}

pub(super) async fn run(
    rb: &Runbook,
    dag: &Dag,
    config: &Config,
    opts: PlayOptions,
    p: Prepared,
    sink: Sink,
) -> Result<Outcome> {
    let Prepared { run_id, run_dir, run_key, env_name, journal, previous, notes, _lock, .. } = p;
    let mut secrets: Vec<String> = Vec::new();
    for (k, v) in &opts.vars.vars {
        if rb.is_secret(k) {
            add_secret(&mut secrets, &crate::vars::as_text(v));
        }
    }
    let mut ctx =
        Context { vars: opts.vars.vars.clone(), env: opts.env.as_ref().map(|e| e.name.clone()), ..Default::default() };
    for s in &rb.steps {
        ctx.steps.insert(s.id.clone(), StepState::new("pending", None, String::new()));
    }
    let tty = matches!(opts.answers, super::Answers::Interactive) && prompt::terminal();
    let logs = Logs::start().map_err(|e| anyhow::anyhow!("cannot start the step log writer: {e}"))?;
    let n = rb.steps.len();
    let mut s = Sched {
        rb,
        dag,
        config,
        t: Templater::new(rb),
        ctx,
        sink: Arc::new(sink),
        journal,
        logs,
        run_id,
        run_dir,
        run_key,
        env_name,
        previous,
        redactor: Arc::new(RwLock::new(Redactor::new(secrets.clone()))),
        secrets,
        state: vec![St::Pending; n],
        ready: Ready::new(dag),
        results: (0..n).map(|_| StepResult::new(StepStatus::NotRun, None)).collect(),
        excluded: vec![false; n],
        stop: None,
        rollback_requested: false,
        play_timed_out: false,
        running: JoinSet::new(),
        exclusive_running: false,
        cancel: watch::channel(false).0,
        quiet: step::QuietClock::start(),
        passed_order: Vec::new(),
        continued_failures: Vec::new(),
        guard_done: false,
        resumed: vec![false; n],
        hashes: Default::default(),
        rolled_back: Vec::new(),
        rollback_interrupted: None,
        tty,
        prompt_cancel: Arc::new(AtomicBool::new(false)),
        sigint: signal(SignalKind::interrupt()).ok(),
        sigterm: signal(SignalKind::terminate()).ok(),
        warm: None,
        warm_pos: 0,
        opts,
    };
    s.begin(&notes);
    s.main_loop().await;
    s.warm = None;
    if s.should_roll_back() {
        s.roll_back().await;
    }
    let outcome = s.finish();
    drop(_lock);
    Ok(outcome)
}

/// A secret value, and each of its lines (a multi-line secret is printed line by line).
pub(super) fn add_secret(secrets: &mut Vec<String>, v: &str) {
    if v.is_empty() {
        return;
    }
    secrets.push(v.to_string());
    if v.contains('\n') {
        secrets.extend(v.lines().map(str::trim).filter(|l| l.len() >= 4).map(str::to_string));
    }
}

pub(super) async fn recv(s: &mut Option<Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

impl<'a> Sched<'a> {
    pub fn clock(&self) -> bool {
        self.opts.sandbox.as_ref().is_none_or(|s| s.clock)
    }

    pub fn redact(&self, text: &str) -> String {
        self.redactor.read().unwrap_or_else(|p| p.into_inner()).redact(text).into_owned()
    }

    /// Append to the journal (written at once, flushed to disk in the
    /// background: see [`super::journal`]); a failing journal stops the play
    /// (never run what cannot be recorded).
    pub fn record(&mut self, r: Record) {
        if let Err(e) = self.journal.append(&r) {
            self.journal_failed(e);
        }
    }

    fn journal_failed(&mut self, e: crate::error::Error) {
        tracing::error!("{e}");
        if self.stop.is_none() {
            self.sink.note(None, format!("cannot write the journal: {e}; stopping"));
            self.stop = Some(Stop::Failed(format!("cannot write the journal: {e}")));
            let _ = self.cancel.send(true);
        }
    }

    pub fn note(&mut self, step: Option<&str>, text: String) {
        let text = self.redact(&text);
        tracing::info!(step = step.unwrap_or(""), "{text}");
        self.sink.note(step, text.clone());
        let at = time::now_rfc3339();
        if let Err(e) = self.journal.append(&Record::Note { step: step.map(str::to_string), text, at }) {
            tracing::error!("{e}");
        }
    }

    fn begin(&mut self, notes: &[String]) {
        let vars = self
            .opts
            .vars
            .vars
            .iter()
            .map(|(k, v)| {
                let text = crate::vars::as_text(v);
                let shown = if self.rb.is_secret(k) { crate::redact::MASK.to_string() } else { self.redact(&text) };
                (k.clone(), shown)
            })
            .collect();
        self.sink.emit(&Event::RunStart {
            run_id: self.run_id.clone(),
            runbook: self.rb.id.clone(),
            env: self.env_name.clone(),
            vars,
            resumed: self.previous.is_some(),
            started: self.clock().then(time::now_rfc3339),
        });
        for n in notes {
            self.note(None, n.clone());
        }
        if let Some(prev) = self.previous.clone() {
            let flight = prev.in_flight();
            let mut text = format!("resuming run {}", prev.run_id);
            if !flight.is_empty() {
                text.push_str(&format!(" (in flight when it stopped: {}; it runs again)", flight.join(", ")));
            }
            self.note(None, text);
        }
    }

    async fn main_loop(&mut self) {
        enum Ev {
            Done(Option<(usize, JobResult)>),
            Int,
            Term,
            Timeout,
            Choice(Option<char>),
        }
        let deadline = self.rb.timeout.map(|d| tokio::time::Instant::now() + d);
        let mut ctrlc: Option<tokio::task::JoinHandle<Option<char>>> = None;
        loop {
            if self.stop.is_some() {
                self.warm = None;
            }
            if self.stop.is_none() && ctrlc.is_none() {
                self.schedule().await;
            }
            if self.running.is_empty() && ctrlc.is_none() {
                break;
            }
            let mut sigint = self.sigint.take();
            let mut sigterm = self.sigterm.take();
            let has_ctrlc = ctrlc.is_some();
            let ev = {
                let timeout = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                let choice = async {
                    match ctrlc.as_mut() {
                        Some(h) => h.await.ok().flatten(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    r = self.running.join_next(), if !self.running.is_empty() => Ev::Done(r.and_then(|r| r.ok())),
                    _ = recv(&mut sigint) => Ev::Int,
                    _ = recv(&mut sigterm) => Ev::Term,
                    _ = timeout, if !self.play_timed_out => Ev::Timeout,
                    c = choice, if has_ctrlc => Ev::Choice(c),
                }
            };
            self.sigint = sigint;
            self.sigterm = sigterm;
            match ev {
                Ev::Done(Some((i, r))) => self.finished(i, r),
                Ev::Done(None) => {}
                Ev::Int if self.exclusive_running => {} // the interactive step got it from the terminal
                Ev::Int if ctrlc.is_some() => {
                    self.prompt_cancel.store(true, Ordering::SeqCst);
                    ctrlc = None;
                    self.interrupt("interrupted (second Ctrl-C)");
                }
                Ev::Int if self.tty && self.stop.is_none() => {
                    self.prompt_cancel.store(false, Ordering::SeqCst);
                    let sink = self.sink.clone();
                    let cancel = self.prompt_cancel.clone();
                    ctrlc = Some(tokio::task::spawn_blocking(move || {
                        sink.prompt(|| {
                            let q = "\nCtrl-C: [q]uit (default in 10 s; the run stays resumable) / [r]oll back / [c]ontinue: ";
                            match prompt::ask(q, Some(Duration::from_secs(10)), &cancel) {
                                prompt::Reply::Line(l) => l.chars().next().map(|c| c.to_ascii_lowercase()).or(Some('q')),
                                prompt::Reply::Timeout => Some('q'),
                                _ => None,
                            }
                        })
                    }));
                }
                Ev::Int => self.interrupt("interrupted by SIGINT"),
                Ev::Term => {
                    if ctrlc.take().is_some() {
                        self.prompt_cancel.store(true, Ordering::SeqCst);
                    }
                    self.interrupt("interrupted by SIGTERM")
                }
                Ev::Timeout => {
                    self.play_timed_out = true;
                    let t = humantime::format_duration(self.rb.timeout.unwrap_or_default()).to_string();
                    self.note(None, format!("the play timed out after {t} (front matter `timeout`): stopping"));
                    self.stop = Some(Stop::Failed(format!("the play timed out after {t}")));
                    let _ = self.cancel.send(true);
                }
                Ev::Choice(c) => {
                    ctrlc = None;
                    match c {
                        Some('c') => self.note(None, "Ctrl-C: continuing".into()),
                        Some('r') => {
                            self.rollback_requested = true;
                            self.interrupt("interrupted by the operator: rolling back");
                        }
                        _ => self.interrupt("interrupted by the operator"),
                    }
                }
            }
        }
    }

    pub fn interrupt(&mut self, why: &str) {
        if !matches!(self.stop, Some(Stop::Interrupted(_))) {
            self.note(None, format!("{why}: stopping the running steps"));
            self.stop = Some(Stop::Interrupted(why.to_string()));
        }
        let _ = self.cancel.send(true);
    }

    /// A step's job ended: record it, update the template context.
    fn finished(&mut self, i: usize, mut r: JobResult) {
        let step = &self.rb.steps[i];
        if step.attrs.interactive {
            self.exclusive_running = false;
        }
        if self.play_timed_out && r.status == StepStatus::Interrupted {
            r.status = StepStatus::Failed;
            r.reason = Some("killed: the play timed out".into());
        }
        let mut captures = IndexMap::new();
        let mut unrestorable = Vec::new();
        if r.status == StepStatus::Passed
            && let Some(name) = &step.attrs.capture
        {
            let value = r.stdout.trim().to_string();
            if self.rb.is_secret(name) {
                add_secret(&mut self.secrets, &value);
                *self.redactor.write().unwrap_or_else(|p| p.into_inner()) = Redactor::new(self.secrets.clone());
                unrestorable.push(name.clone());
            } else if self.redact(&value) != value {
                unrestorable.push(name.clone());
            }
            self.ctx.captures.insert(name.clone(), Capture::Value(value.clone()));
            captures.insert(name.clone(), value);
        }
        self.done(i, r, captures, unrestorable, false);
    }

    /// Record the end of a step (run now, or decided without running).
    pub fn done(
        &mut self,
        i: usize,
        r: JobResult,
        captures: IndexMap<String, String>,
        unrestorable: Vec<String>,
        undo: bool,
    ) {
        let step = &self.rb.steps[i];
        let id = step.id.clone();
        self.set_done(i);
        let reason = r.reason.as_deref().map(|x| self.redact(x));
        let tail = self.redact(&r.tail);
        let captures_j = captures.iter().map(|(k, v)| (k.clone(), self.redact(v))).collect();
        self.ctx.steps.insert(id.clone(), StepState::new(r.status.name(), r.exit, r.stdout.clone()));
        let ran = r.attempts > 0;
        let duration = (ran && self.clock()).then_some(r.duration);
        self.results[i] = StepResult {
            status: r.status,
            exit: r.exit,
            reason: reason.clone(),
            duration: ran.then_some(r.duration),
            tail: tail.clone(),
            attempts: r.attempts,
        };
        let hash = self.ctx_hash(i);
        self.record(Record::StepEnd {
            step: id.clone(),
            status: r.status,
            exit: r.exit,
            duration_ms: ran.then_some(r.duration.as_millis() as u64),
            command_hash: hash,
            reason: reason.clone(),
            captures: captures_j,
            unrestorable,
            tail,
            undo,
            attempts: r.attempts,
            at: time::now_rfc3339(),
        });
        tracing::debug!(step = %id, status = r.status.name(), exit = ?r.exit, "step ended");
        self.sink.emit(&Event::StepEnd {
            id: id.clone(),
            status: r.status,
            exit: r.exit,
            duration,
            reason: reason.clone(),
        });
        if undo {
            return;
        }
        match r.status {
            StepStatus::Passed => self.passed_order.push(i),
            StepStatus::Failed => {
                let why = format!("step `{id}` failed{}", reason.map(|r| format!(": {r}")).unwrap_or_default());
                if step.attrs.on_fail == OnFail::Continue {
                    self.note(Some(&id), "failed; on-fail=continue: going on".into());
                    self.continued_failures.push(id.clone());
                } else if self.stop.is_none() {
                    if !self.running.is_empty() {
                        self.note(None, format!("{why}: no new steps start; waiting for the running ones"));
                    }
                    self.stop = Some(Stop::Failed(why));
                }
            }
            _ => {}
        }
    }

    /// The command hash a step started with (kept for the step-end record).
    fn ctx_hash(&self, i: usize) -> Option<String> {
        self.hashes.get(&i).cloned()
    }

    fn should_roll_back(&self) -> bool {
        !self.opts.no_rollback
            && (self.rollback_requested || matches!(self.stop, Some(Stop::Failed(_))))
            && self.passed_order.iter().any(|&i| self.dag.rollback[i].is_some())
    }

    fn finish(mut self) -> Outcome {
        let why = match &self.stop {
            Some(Stop::Failed(m)) | Some(Stop::Refused(m)) | Some(Stop::Interrupted(m)) => m.clone(),
            None => String::new(),
        };
        for pos in 0..self.dag.order.len() {
            let i = self.dag.order[pos];
            if self.state[i] == St::Pending {
                let reason = if why.is_empty() { None } else { Some(format!("the play stopped: {why}")) };
                let r = JobResult::decided(StepStatus::NotRun, reason, 0);
                self.done(i, r, IndexMap::new(), Vec::new(), false);
            }
        }
        if self.stop.is_none() && !self.continued_failures.is_empty() {
            let n = self.continued_failures.len();
            let ids = self.continued_failures.join(", ");
            self.stop = Some(Stop::Failed(format!(
                "{n} step{} failed and the play went on (on-fail=continue): {ids}",
                if n == 1 { "" } else { "s" }
            )));
        }
        let status = match &self.stop {
            None => RunStatus::Passed,
            Some(Stop::Failed(_)) => RunStatus::Failed,
            Some(Stop::Refused(_)) => RunStatus::Refused,
            Some(Stop::Interrupted(_)) => RunStatus::Interrupted,
        };
        let status = if self.rollback_interrupted.is_some() { RunStatus::Interrupted } else { status };
        let env_flag = self.opts.env.as_ref().map(|e| format!(" --env {}", e.name)).unwrap_or_default();
        let message = match (&self.stop, status) {
            (None, _) => None,
            (Some(_), RunStatus::Interrupted) if !self.rollback_requested && self.rollback_interrupted.is_none() => {
                Some(format!("{why}; the run is resumable: runbook play {}{env_flag} --resume", self.rb.id))
            }
            (Some(_), RunStatus::Refused) => {
                Some(format!("{why}\n  the run is resumable: runbook play {}{env_flag} --resume", self.rb.id))
            }
            _ => Some(why.clone()),
        };
        let message = match &self.rollback_interrupted {
            Some(r) => Some(message.map_or_else(|| r.clone(), |m| format!("{m}; {r}"))),
            None => message,
        };
        let message = message.map(|m| self.redact(&m));
        let rolled_back = !self.rolled_back.is_empty();
        self.record(Record::RunEnd {
            status: status.name().into(),
            rolled_back: rolled_back || self.rollback_requested,
            message: message.clone(),
            at: time::now_rfc3339(),
        });
        // A finished run is durable: wait for the syncer's flush of `run-end`.
        if let Err(e) = self.journal.sync() {
            tracing::error!("{e}");
            self.sink.note(None, format!("the journal may not be complete on disk: {e}"));
        }
        tracing::info!(status = status.name(), "play ended");
        let mut steps = IndexMap::new();
        for (i, s) in self.rb.steps.iter().enumerate() {
            steps.insert(s.id.clone(), self.results[i].clone());
        }
        let outcome = Outcome {
            run_id: self.run_id.clone(),
            status,
            steps,
            message,
            rolled_back: self.rolled_back.clone(),
            run_dir: self.run_dir.clone(),
        };
        self.sink.emit(&Event::RunEnd { outcome: outcome.clone() });
        outcome
    }
}

//! The play's loop: ask the dispatcher what to do, do it (record, ask,
//! run the guard, start a step), and when it says wait, wait for a step to
//! end, a signal, the play's timeout or the answer to Ctrl-C's question.
//! Everything that happens is recorded as an event, which the dispatcher
//! then sees as state.
//!
//! An engine whose run was taken over (another engine took its lock) stops
//! at once: its steps in flight are stopped (the new session runs them
//! again), nothing more is recorded (the store would refuse it), and the
//! play ends saying who has the run now; a question on the terminal is
//! taken off at once, unanswered.

use std::collections::HashMap;
use std::time::Instant;

use futures_util::FutureExt;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::dispatch::{Action, Dispatcher, Start};
use super::execute::Executor;
use super::record::Show;
use super::signals::Signals;
use super::step::{self, JobResult};
use super::warm::Warm;
use super::{Answers, prompt};
use crate::model::{OnFail, Runbook};
use crate::redact::Redactor;
use crate::run::event::{Answer, How, Question, Reply, RunEnd, StepEnd, StepStart, Stop, StopKind};
use crate::run::{Event, StepStatus};
use crate::template::{Capture, Context, StepState};

pub struct Loop<'a> {
    pub d: Dispatcher<'a>,
    pub x: Executor<'a>,
    pub rb: &'a Runbook,
    pub ctx: Context,
    pub answers: Answers,
    pub operator: String,
    pub tty: bool,
    pub secrets: Vec<String>,
    pub timeout: Option<std::time::Duration>,
    pub signals: Signals,
    running: JoinSet<(usize, JobResult)>,
    tasks: HashMap<tokio::task::Id, usize>,
    /// When each running step started (the duration of a manual step).
    started: HashMap<usize, Instant>,
    /// The command hash each running step started with.
    hashes: HashMap<usize, String>,
    warm: Option<Warm>,
    play_timed_out: bool,
    /// The store refused an event: already stopped for it.
    store_failed: bool,
    /// The steps' output was all written before the run's end ([`Loop::settle_output`]).
    settled: bool,
    /// A step's start could not be recorded: the play stopped for it, and
    /// said why.
    pub store_away: bool,
    /// Resolves once another engine took the run's lock.
    lost: Option<crate::store::Lost>,
    /// The run was taken over: the line that says so. Nothing is recorded
    /// after it.
    pub taken: Option<String>,
    /// Ends the Ctrl-C question (a second Ctrl-C, a signal).
    prompt_cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Stopped already for the terminal's hang-up, seen at a question as
    /// the end of its input: its SIGHUP is the same event.
    hung_up: bool,
    /// When the pending Ctrl-C question was asked: the press, not the answer.
    ctrlc_asked: String,
}

/// An answer to Ctrl-C's question, or none (a second Ctrl-C, the end of input).
type CtrlC = tokio::task::JoinHandle<Option<(char, How)>>;

/// A step's task ended: its step and result, or how it failed.
type Joined = Option<Result<(tokio::task::Id, (usize, JobResult)), tokio::task::JoinError>>;

impl<'a> Loop<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        d: Dispatcher<'a>,
        x: Executor<'a>,
        rb: &'a Runbook,
        ctx: Context,
        answers: Answers,
        operator: String,
        tty: bool,
        secrets: Vec<String>,
    ) -> Self {
        let lost = Some(x.recorder.lost());
        Loop {
            d,
            x,
            rb,
            ctx,
            answers,
            operator,
            tty,
            secrets,
            timeout: rb.timeout,
            signals: Signals::install(),
            running: JoinSet::new(),
            tasks: HashMap::new(),
            started: HashMap::new(),
            hashes: HashMap::new(),
            warm: None,
            play_timed_out: false,
            store_failed: false,
            settled: false,
            store_away: false,
            lost,
            taken: None,
            prompt_cancel: Default::default(),
            hung_up: false,
            ctrlc_asked: String::new(),
        }
    }

    fn now(&self) -> String {
        if self.x.env.clock { crate::time::now_rfc3339() } else { String::new() }
    }

    /// Record an event: the store, the fold, the reporters, the dispatcher's
    /// indexes. A stop that cancels fires the running steps' cancel.
    /// Nothing, once the run was taken over.
    pub fn record(&mut self, ev: Event) {
        self.record_as(ev, Show::Now);
    }

    /// [`Loop::record`], shown now, once released, or never.
    fn record_as(&mut self, mut ev: Event, show: Show) {
        if self.taken.is_none()
            && let Some(why) = self.lost.as_mut().and_then(|l| l.as_mut().now_or_never())
        {
            self.taken_over(why);
        }
        if self.taken.is_some() {
            return;
        }
        if let Event::StepEnd(e) = &mut ev
            && let Some(i) = self.d.index(&e.step)
        {
            if e.duration_ms.is_none()
                && e.attempts > 0
                && self.x.env.clock
                && let Some(t) = self.started.get(&i)
            {
                e.duration_ms = Some(t.elapsed().as_millis() as u64);
            }
            self.started.remove(&i);
        }
        if let Event::StepStart(s) = &ev
            && let Some(i) = self.d.index(&s.step)
        {
            self.started.insert(i, Instant::now());
        }
        let cancel = matches!(&ev, Event::Stop(s) if s.cancel);
        let rollback = matches!(&ev, Event::Rollback(_));
        let end = matches!(&ev, Event::RunEnd(_));
        self.d.observe(&ev);
        self.x.recorder.record_as(ev, show);
        if cancel {
            let _ = self.x.cancel.send(true);
            self.warm = None;
        }
        if rollback {
            // Undo blocks run after an interrupt too: a cancel of their own.
            self.x.cancel = watch::channel(false).0;
        }
        // Nothing is recorded after the run's end: what fails then is said
        // by the closing screen.
        if !end {
            self.check_store();
        }
    }

    /// The store refused an event or could not keep a step's output: the
    /// play stops (once), as failed and resumable.
    fn check_store(&mut self) {
        if !self.store_failed
            && let Some(e) = self.x.recorder.failed()
        {
            self.store_failed = true;
            let why = format!("cannot record the run: {e}");
            self.record(Event::Stop(Stop { kind: StopKind::Failed, why, roll_back: false, cancel: true }));
        }
    }

    /// Before the run's end: the steps' output is all written, so the end
    /// says whether the store kept it. `false`: it did not (a stop is
    /// recorded: the dispatcher decides again). Signals wait for the run's
    /// end (its own wait hears them): a SIGINT that an interactive step got
    /// from the terminal may reach the engine only now, and is no Ctrl-C of
    /// the play. The store bounds this wait (`RUNBOOK_PG_WAIT`).
    async fn settle_output(&mut self) -> bool {
        self.x.recorder.logs().settled().await;
        self.check_store();
        !self.store_failed
    }

    pub fn note(&mut self, step: Option<&str>, text: String) {
        let text = self.x.redact(&text);
        self.x.recorder.note(step, text);
    }

    fn stop(&mut self, kind: StopKind, why: String, roll_back: bool) {
        self.record(Event::Stop(Stop { kind, why, roll_back, cancel: true }));
    }

    /// Another engine has the run now: stop the steps in flight, record
    /// nothing more.
    fn taken_over(&mut self, why: String) {
        tracing::warn!("{why}");
        self.lost = None;
        self.taken = Some(why);
        let _ = self.x.cancel.send(true);
        self.warm = None;
    }

    /// Resolves once the run is taken over (never after that).
    async fn lost(lost: &mut Option<crate::store::Lost>) -> String {
        match lost {
            Some(l) => l.await,
            None => std::future::pending().await,
        }
    }

    /// The play, to its end.
    pub async fn run(&mut self) -> RunEnd {
        let deadline = self.timeout.and_then(|d| tokio::time::Instant::now().checked_add(d));
        // A rehearsal's deadline comes closer by every wait it skips.
        let mut skipped = self.x.rehearsed.as_ref().map(|c| c.watch());
        let mut ctrlc: Option<CtrlC> = None;
        loop {
            if let Some(why) = self.taken.clone() {
                if self.running.is_empty() {
                    self.end_question(ctrlc.take()).await;
                    return RunEnd { status: crate::run::RunStatus::Refused, rolled_back: false, message: Some(why) };
                }
            } else if ctrlc.is_none() {
                if let Some(end) = self.turn().await {
                    return end;
                }
                if self.taken.is_some() {
                    continue;
                }
            }
            if self.x.recorder.state().stop.is_some() {
                // Started for a step that will not start now.
                self.warm = None;
            }
            self.warm_next();
            let has_ctrlc = ctrlc.is_some();
            let timeout = super::rehearsed::until(deadline, skipped.as_mut());
            let choice = async {
                match ctrlc.as_mut() {
                    Some(h) => h.await.ok().flatten(),
                    None => std::future::pending().await,
                }
            };
            enum Ev {
                Done(Joined),
                Signal(&'static str),
                Timeout,
                Choice(Option<(char, How)>),
                Lost(String),
            }
            let taken = self.taken.is_some();
            let ev = tokio::select! {
                r = self.running.join_next_with_id(), if !self.running.is_empty() => Ev::Done(r),
                s = self.signals.recv() => Ev::Signal(s),
                _ = timeout, if !self.play_timed_out && !taken => Ev::Timeout,
                c = choice, if has_ctrlc => Ev::Choice(c),
                why = Self::lost(&mut self.lost) => Ev::Lost(why),
            };
            match ev {
                Ev::Lost(why) => self.taken_over(why),
                // Taken over: only the steps in flight are waited for (stopped already).
                Ev::Done(Some(Ok((id, _)))) if taken => {
                    self.tasks.remove(&id);
                }
                Ev::Signal(_) | Ev::Choice(_) if taken => {}
                Ev::Signal("SIGHUP") if self.hung_up => {}
                Ev::Done(Some(Ok((id, (i, r))))) => {
                    self.tasks.remove(&id);
                    self.finished(i, r);
                }
                Ev::Done(Some(Err(e))) => {
                    let i = self.tasks.remove(&e.id());
                    self.panicked(i, e);
                }
                Ev::Done(None) => {}
                Ev::Signal("SIGINT") if self.interactive_running() => {} // the step got it from the terminal
                Ev::Signal("SIGINT") if ctrlc.is_some() => {
                    self.end_question(ctrlc.take()).await;
                    // The second press answers the question: quit.
                    self.record_ctrl_c(Reply::Quit, How::Prompt);
                    self.x.recorder.interrupt();
                    self.stop(StopKind::Interrupted, "interrupted (second Ctrl-C)".into(), false);
                }
                Ev::Signal("SIGINT") if self.tty && self.x.recorder.state().stop.is_none() => {
                    ctrlc = Some(self.ctrl_c_question());
                }
                Ev::Signal(sig) => {
                    self.end_question(ctrlc.take()).await;
                    // Stopped by a signal: the store gets its slack, no more.
                    self.x.recorder.interrupt();
                    let why = if self.x.recorder.state().rolling_back() {
                        format!("the rollback was interrupted by {sig}")
                    } else {
                        format!("interrupted by {sig}")
                    };
                    self.stop(StopKind::Interrupted, why, false);
                }
                Ev::Timeout => {
                    self.play_timed_out = true;
                    let mut t = humantime::format_duration(self.timeout.unwrap_or_default()).to_string();
                    if self.x.rehearsed.as_ref().is_some_and(|c| !c.most().is_zero()) {
                        t.push_str(" of rehearsed time");
                    }
                    self.note(None, format!("the play timed out after {t} (front matter `timeout`): stopping"));
                    self.stop(StopKind::Failed, format!("the play timed out after {t}"), false);
                }
                Ev::Choice(c) => {
                    ctrlc = None;
                    self.ctrl_c_answer(c);
                }
            }
        }
    }

    fn interactive_running(&self) -> bool {
        let st = self.x.recorder.state();
        st.steps.values().any(|s| s.in_flight() && s.interactive && s.session == st.session())
    }

    /// Act on the dispatcher's decisions until it says wait (`None`) or
    /// that the run is over.
    async fn turn(&mut self) -> Option<RunEnd> {
        loop {
            if self.taken.is_some() {
                return None;
            }
            let action = {
                let st = self.x.recorder.state();
                let red = self.x.redactor.read().unwrap_or_else(|p| p.into_inner());
                self.d.next(&st, &self.ctx, &red)
            };
            match action {
                Action::Record(ev) => {
                    let note = self.failure_note(&ev);
                    // A step ended without running (skipped, not run): its
                    // status is what templates read from now on, as a
                    // resume's context reads it from the journal.
                    if let Event::StepEnd(e) = &ev {
                        let state = StepState::new(e.status.name(), e.exit, e.stdout.clone().unwrap_or_default());
                        self.ctx.steps.insert(e.step.clone(), state);
                    }
                    self.record(ev);
                    if let Some(n) = note {
                        self.note(None, n);
                    }
                }
                Action::Ask(a) => self.ask(a).await,
                Action::Guard => self.guard().await,
                Action::Start(s) => self.start(s).await,
                Action::Wait => return None,
                Action::Finish(end) => {
                    if !self.settled {
                        self.settled = true;
                        if !self.settle_output().await {
                            continue;
                        }
                    }
                    return Some(end);
                }
            }
        }
    }

    /// A failure that stops the play while others still run: say that they
    /// are waited for.
    fn failure_note(&self, ev: &Event) -> Option<String> {
        let Event::StepEnd(e) = ev else { return None };
        if !e.stop || self.running.is_empty() || self.x.recorder.state().stop.is_some() {
            return None;
        }
        Some(format!("step `{}` failed: no new steps start; waiting for the running ones", e.step))
    }

    async fn ask(&mut self, a: super::dispatch::Ask) {
        let step = &self.rb.steps[a.step];
        let asked = self.now();
        let sink = self.x.sink.clone();
        let lost = Self::lost(&mut self.lost);
        let got = super::ask::ask(&a, step, &self.answers, &sink, &self.operator, asked, &mut self.signals, lost).await;
        match got {
            // Taken off the terminal unanswered: the run is another engine's now.
            super::ask::Asked::Lost(why) => self.taken_over(why),
            super::ask::Asked::Answer(ans) => self.record(Event::Answer(ans)),
            super::ask::Asked::Signal(sig) => {
                let why = match sig {
                    "SIGINT" => "interrupted at a question (Ctrl-C)".to_string(),
                    sig => format!("interrupted by {sig} at a question"),
                };
                self.stop(StopKind::Interrupted, why, false);
            }
            super::ask::Asked::Closed { hung_up } => {
                self.hung_up = hung_up;
                let why = if hung_up {
                    "interrupted by SIGHUP at a question (the terminal was closed)"
                } else {
                    "interrupted at a question (end of input: Ctrl-D)"
                };
                self.stop(StopKind::Interrupted, why.to_string(), false);
            }
        }
    }

    async fn guard(&mut self) {
        let Some(g) = self.x.env_guard.clone() else { return };
        if let Answers::Scripted(f) = &self.answers {
            let first = self.rb.steps.iter().find(|s| !s.attrs.read).unwrap_or(&self.rb.steps[0]);
            match f(first, Question::Guard) {
                super::Answer::Skip => {
                    let why = Some("bypassed by the scenario".to_string());
                    self.record(super::guard::result(&g, true, String::new(), why));
                    return;
                }
                super::Answer::No => {
                    let why = "the env guard was declined".to_string();
                    self.record(super::guard::result(&g, false, String::new(), Some(why.clone())));
                    self.record(Event::Stop(Stop { kind: StopKind::Refused, why, roll_back: false, cancel: false }));
                    return;
                }
                super::Answer::Yes => {}
            }
        }
        let env = self.x.env_name.clone();
        for ev in super::guard::run(&self.x, &g, &env, &mut self.signals).await {
            self.record(ev);
        }
    }

    /// Journal first (durable), then the process: the start is recorded,
    /// the step's process started, waiting for its body, and its group
    /// recorded (`spawned`), so that both are committed together; the body
    /// is given once that is durable (`step::ready`).
    async fn start(&mut self, s: Start) {
        let step = &self.rb.steps[s.step];
        let id = step.id.clone();
        for n in s.notes {
            self.note(Some(&id), n);
        }
        self.hashes.insert(s.step, s.prep.hash.clone());
        // Shown once durable: a start the store did not take is no start.
        let start = Event::StepStart(StepStart {
            step: id.clone(),
            line: step.line,
            attempt: 1,
            command: s.prep.display.clone(),
            command_hash: s.prep.hash.clone(),
            undo: s.undo,
            lang: (step.kind != crate::model::StepKind::Bash).then(|| step.kind.name().to_string()),
            interactive: step.attrs.interactive,
            log_from: Some(self.x.logs.offset(&id)),
        });
        self.record_as(start, Show::Held);
        if self.taken.is_some() {
            return;
        }
        let mut job = self.x.job(s.step, &s.prep, self.d.dag.deps(s.step).iter().map(|e| e.from));
        // Started before anything else: this step is what the play waits for.
        let warm = self.warm.take().and_then(|w| w.fire(s.step, &s.prep.cwd, &s.prep.body));
        let ready = step::ready(&job, warm);
        // Waited for with the signals: Ctrl-C ends a wait for a database
        // that does not answer, and with it every later wait for it.
        let durable = self.x.recorder.durable();
        let waited = tokio::select! {
            biased;
            d = durable => d.map_err(|e| (e.to_string(), None)),
            sig = self.signals.recv() => {
                self.x.recorder.interrupt();
                Err((format!("interrupted by {sig} while the state database was not answering"), Some(sig)))
            }
            why = Self::lost(&mut self.lost) => Err((why, None)),
        };
        if let Some(why) = self.lost.as_mut().and_then(|l| l.as_mut().now_or_never()) {
            self.taken_over(why);
        }
        // The store refused an event since (the start, the `spawned`).
        let refused = self.store_failed || self.x.recorder.failed().is_some();
        let runs = waited.is_ok() && !refused && self.taken.is_none();
        self.x.recorder.release(runs);
        let ready = match ready {
            Some(p) if !runs => {
                super::process::discard(p).await;
                None
            }
            r => r,
        };
        if self.taken.is_some() {
            return;
        }
        if let Err((why, sig)) = &waited {
            // Said once: the closing screen gives the reason the play stopped.
            self.store_away = true;
            let (kind, cancel) = match sig {
                Some(_) => (StopKind::Interrupted, true),
                // The steps in flight finish; their ends wait with the rest.
                None => (StopKind::Failed, false),
            };
            let why = if sig.is_some() { why.clone() } else { format!("step `{id}` does not start: {why}") };
            self.record(Event::Stop(Stop { kind, why, roll_back: false, cancel }));
        }
        if !runs {
            let end = super::dispatch::step_end(&id, StepStatus::NotRun, "not started: the run cannot be recorded");
            self.record_as(end, Show::Never);
            return;
        }
        if let Some(st) = self.ctx.steps.get_mut(&id) {
            st.status = "running".into();
        }
        assert!(!super::fault::at("loop-panic", &id), "injected fault: loop-panic at {id}");
        job.ready = ready;
        let i = s.step;
        let panic = super::fault::at("step-panic", &id);
        let h = self.running.spawn(async move {
            assert!(!panic, "injected fault: step-panic");
            let _terminal = job.interactive.then(prompt::keep_terminal_settings);
            (i, step::run(job).await)
        });
        self.tasks.insert(h.id(), i);
    }

    /// After a start: the interpreter of the step expected next starts now
    /// (see `runner::warm`).
    fn warm_next(&mut self) {
        if self.warm.is_some() || self.running.is_empty() {
            return;
        }
        let next = {
            let st = self.x.recorder.state();
            self.d.likely_next(&st)
        };
        let Some(j) = next else { return };
        // A `cwd` that renders only later (from a capture) is checked again
        // when the step starts.
        let Ok(cwd) = self.d.cwd(j, &self.ctx) else { return };
        let s = &self.rb.steps[j];
        let env = self.x.step_env(&s.id);
        let spec = super::process::Spec {
            kind: s.kind,
            body: "",
            cwd: &cwd,
            env: &env,
            inherit_env: self.x.env.inherit_env,
            path_prefix: self.x.env.path_prefix.as_deref(),
            enter: &self.x.env.enter,
            interactive: false,
        };
        self.warm = Warm::start(j, &spec);
    }

    /// A step's job ended: its end event, the template context.
    fn finished(&mut self, i: usize, mut r: JobResult) {
        let s = &self.rb.steps[i];
        let undo = self.x.recorder.state().step(&s.id).is_some_and(|p| p.undo);
        if self.play_timed_out && r.status == StepStatus::Interrupted {
            r.status = StepStatus::Failed;
            r.reason = Some("killed: the play timed out".into());
        }
        let mut captures = std::collections::BTreeMap::new();
        let mut unrestorable = Vec::new();
        if r.status == StepStatus::Passed
            && let Some(name) = &s.attrs.capture
        {
            let value = r.stdout.trim().to_string();
            let secret = self.rb.is_secret(name);
            if !secret && self.x.redact(&value) != value {
                unrestorable.push(name.clone());
            }
            self.ctx.captures.insert(name.clone(), Capture::Value(value.clone()));
            if secret {
                super::add_secret(&mut self.secrets, &value);
                // What the templates render from it is secret too.
                for v in crate::template::Templater::new(self.rb).derived_secrets(&self.ctx) {
                    super::add_secret(&mut self.secrets, &v);
                }
                *self.x.redactor.write().unwrap_or_else(|p| p.into_inner()) = Redactor::new(self.secrets.clone());
                unrestorable.push(name.clone());
            }
            captures.insert(name.clone(), self.x.redact(&value));
        }
        self.ctx.steps.insert(s.id.clone(), StepState::new(r.status.name(), r.exit, r.stdout.clone()));
        let stdout = self.d.reads_stdout[i].then(|| self.x.redact(&r.stdout));
        let stdout_redacted = stdout.as_deref().is_some_and(|o| o != r.stdout);
        if r.exit == Some(127)
            && let Some((cmd, line)) = command_not_found(&r.tail)
        {
            // Where in the runbook, when bash said it of the step's script.
            let at = r.origin.as_ref().and_then(|o| o.locate(line)).map(|(at, _)| format!(" at {at}"));
            r.reason = Some(format!("exit 127: command not found: {cmd}{}", at.unwrap_or_default()));
        }
        let ran = r.attempts > 0;
        let failed = r.status == StepStatus::Failed;
        let stops = failed && !undo && s.attrs.on_fail == OnFail::Stop;
        if failed && !undo && s.attrs.on_fail == OnFail::Continue {
            self.note(Some(&s.id.clone()), "failed; on-fail=continue: going on".into());
        }
        if failed && undo {
            self.note(Some(&s.id.clone()), "the undo failed; the rollback goes on with the others".into());
        }
        let end = StepEnd {
            step: s.id.clone(),
            status: r.status,
            exit: r.exit,
            duration_ms: (ran && self.x.env.clock).then_some(r.duration.as_millis() as u64),
            command_hash: self.hashes.remove(&i),
            reason: r.reason.as_deref().map(|x| self.x.redact(x)),
            captures,
            unrestorable,
            stdout,
            stdout_redacted,
            stdout_cut: r.stdout_cut,
            tail: self.x.redact(&r.tail),
            undo,
            attempts: r.attempts,
            // Each attempt's exit, where `exit` alone does not say them all
            // (retried, or interrupted before the next attempt).
            exits: if r.exits.len() > 1 || r.exits.first().is_some_and(|x| *x != r.exit) {
                r.exits.clone()
            } else {
                Vec::new()
            },
            stop: stops,
        };
        let ev = Event::StepEnd(end);
        let note = self.failure_note(&ev);
        self.record(ev);
        if let Some(n) = note {
            self.note(None, n);
        }
    }

    /// A step's task panicked: a bug of the engine, never a pass. The step
    /// fails and the play stops (resumable).
    fn panicked(&mut self, i: Option<usize>, e: tokio::task::JoinError) {
        let what = panic_text(e);
        tracing::error!("a step's task failed: {what}");
        if let Some(i) = i {
            let id = self.rb.steps[i].id.clone();
            let mut ev = super::dispatch::step_end(&id, StepStatus::Failed, "");
            if let Event::StepEnd(end) = &mut ev {
                end.reason = Some(format!("internal error of the engine while running it: {what}"));
                end.attempts = 1;
                end.command_hash = self.hashes.remove(&i);
            }
            self.record(ev);
        }
        self.stop(StopKind::Failed, format!("internal error of the engine: {what} (please report it)"), false);
    }

    /// Take Ctrl-C's question off the terminal.
    async fn end_question(&mut self, q: Option<CtrlC>) {
        if let Some(h) = q {
            self.prompt_cancel.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = h.await;
        }
    }

    fn ctrl_c_question(&mut self) -> CtrlC {
        let can_roll_back = {
            let st = self.x.recorder.state();
            self.d.can_roll_back(&st)
        };
        let sink = self.x.sink.clone();
        let wait = super::timing::ctrl_c_wait();
        self.prompt_cancel.store(false, std::sync::atomic::Ordering::SeqCst);
        let cancel = self.prompt_cancel.clone();
        self.ctrlc_asked = self.now();
        tokio::task::spawn_blocking(move || {
            sink.prompt(|| {
                let secs = match wait.subsec_millis() {
                    0 => format!("{} s", wait.as_secs()),
                    _ => humantime::format_duration(wait).to_string(),
                };
                let q = if can_roll_back {
                    format!(
                        "\nCtrl-C: [q]uit (default in {secs}; the run stays resumable) / [r]oll back / [c]ontinue: "
                    )
                } else {
                    format!("\nCtrl-C: [q]uit (default in {secs}; the run stays resumable) / [c]ontinue: ")
                };
                let keys: &[char] = if can_roll_back { &['q', 'r', 'c'] } else { &['q', 'c'] };
                prompt::ask_key(&q, keys, 'q', wait, &cancel)
            })
        })
    }

    fn ctrl_c_answer(&mut self, c: Option<(char, How)>) {
        let Some((key, how)) = c else {
            // The input ended: nobody answered, so nothing is recorded as
            // an answer (docs/decisions.md, "End of input at a question").
            self.hung_up = !prompt::terminal();
            let why = if self.hung_up {
                "interrupted by SIGHUP at Ctrl-C's question (the terminal was closed)"
            } else {
                "interrupted at Ctrl-C's question (end of input: Ctrl-D)"
            };
            self.stop(StopKind::Interrupted, why.to_string(), false);
            return;
        };
        let reply = match key {
            'c' => Reply::Continue,
            'r' => Reply::RollBack,
            _ => Reply::Quit,
        };
        self.record_ctrl_c(reply, how);
        match reply {
            Reply::Continue => self.note(None, "Ctrl-C: continuing".into()),
            Reply::RollBack => {
                self.stop(StopKind::Interrupted, "interrupted by the operator: rolling back".into(), true)
            }
            _ => self.stop(StopKind::Interrupted, "interrupted by the operator".into(), false),
        }
    }

    fn record_ctrl_c(&mut self, reply: Reply, how: How) {
        let asked = std::mem::take(&mut self.ctrlc_asked);
        self.record(Event::Answer(Answer {
            step: None,
            question: Question::CtrlC,
            reply,
            how,
            by: self.operator.clone(),
            asked,
            confirm: None,
            run: None,
            var: None,
        }));
    }

    /// The running steps' template context entries: `pending` until they end.
    pub fn context(rb: &Runbook, st: &crate::run::RunState, mut ctx: Context) -> Context {
        for s in &rb.steps {
            let state = match st.step(&s.id) {
                Some(p) if !p.lost && p.status.is_some() => StepState::new(
                    p.status.map_or("pending", |x| x.name()),
                    p.exit,
                    p.stdout.clone().unwrap_or_default(),
                ),
                _ => StepState::new("pending", None, String::new()),
            };
            ctx.steps.insert(s.id.clone(), state);
            if let Some(p) = st.step(&s.id).filter(|p| p.passed() && !p.undo) {
                for (k, v) in &p.captures {
                    ctx.captures.insert(k.clone(), Capture::Value(v.clone()));
                }
            }
        }
        ctx
    }
}

/// The program bash could not find (`bash: line 3: kubctl: command not
/// found`), from the step's last lines, and the line that said so.
pub fn command_not_found(tail: &str) -> Option<(String, &str)> {
    tail.lines().rev().find_map(|l| {
        let head = l.trim().strip_suffix(": command not found")?;
        let cmd = head.rsplit(": ").next().unwrap_or(head).trim().to_string();
        (!cmd.is_empty()).then_some((cmd, l.trim()))
    })
}

/// What a panic said.
fn panic_text(e: tokio::task::JoinError) -> String {
    if e.is_cancelled() {
        return "the task was cancelled".into();
    }
    let Ok(p) = e.try_into_panic() else { return "a panic".into() };
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

//! What to do with a ready step: skip it (filters, `needs`, `when`), take it
//! as passed (resume), ask (guard, `--step`, confirm, manual), or start it.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indexmap::IndexMap;
use regex::Regex;
use sha2::{Digest, Sha256};

use super::events::Event;
use super::journal::Record;
use super::scheduler::{Sched, St, Stop};
use super::step::{self, Job, JobResult};
use super::{Answer, Answers, Question, StepStatus, prompt, time};
use crate::config::ConfirmPolicy;
use crate::model::{Step, StepKind};
use crate::plan::EdgeKind;
use crate::template::Capture;

pub(super) enum Decision {
    /// Ends without running (skipped, failed to render, excluded).
    End {
        status: StepStatus,
        reason: String,
        excluded: bool,
    },
    /// Passed in the previous session of this run; captures restored.
    Resumed,
    Run(Prep),
}

pub(super) struct Prep {
    pub body: String,
    pub display: String,
    pub hash: String,
    pub cwd: PathBuf,
    pub expect: Option<(Regex, String)>,
    pub confirm: bool,
    pub guard: bool,
    pub notes: Vec<String>,
}

enum Flow {
    Go,
    End(StepStatus, String),
    Stop(Stop),
}

pub(super) fn hash(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn verb(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Passed => "passed",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "was skipped",
        StepStatus::NotRun => "did not run",
        StepStatus::Interrupted => "was interrupted",
    }
}

impl<'a> Sched<'a> {
    /// Does this step ask before running (env policy, `confirm`)?
    pub(super) fn needs_confirm(&self, s: &Step) -> bool {
        if s.kind == StepKind::Manual {
            return false;
        }
        let policy = self.opts.env.as_ref().map(|e| e.confirm).unwrap_or_default();
        s.attrs.confirm.is_some() || policy == ConfirmPolicy::All || (policy == ConfirmPolicy::Write && !s.attrs.read)
    }

    /// Start whatever can start now.
    pub(super) async fn schedule(&mut self) {
        loop {
            let mut progressed = false;
            let mut from = 0;
            while let Some(pos) = self.ready.next(from) {
                from = pos + 1;
                if self.stop.is_some() || self.exclusive_running {
                    return;
                }
                let i = self.dag.order[pos];
                if self.state[i] != St::Pending {
                    self.ready.taken(pos);
                    continue;
                }
                if self.running.len() >= self.opts.jobs.max(1) {
                    return;
                }
                match self.decide(i) {
                    Decision::End { status, reason, excluded } => {
                        self.excluded[i] = excluded;
                        self.end_without_run(i, status, reason);
                        progressed = true;
                    }
                    Decision::Resumed => {
                        self.resume_passed(i);
                        progressed = true;
                    }
                    Decision::Run(prep) => {
                        let s = &self.rb.steps[i];
                        let answers_yes = matches!(self.opts.answers, Answers::Yes);
                        let asks = !answers_yes && (self.opts.step_mode || prep.confirm || s.kind == StepKind::Manual);
                        let exclusive = asks || prep.guard || s.attrs.interactive;
                        if exclusive && !self.running.is_empty() {
                            return;
                        }
                        for n in &prep.notes {
                            self.note(Some(&s.id.clone()), n.clone());
                        }
                        match self.questions(i, &prep).await {
                            Flow::Go => {}
                            Flow::End(status, reason) => {
                                if status == StepStatus::Passed {
                                    self.manual_done(i, &prep, reason);
                                } else {
                                    self.end_without_run(i, status, reason);
                                }
                                progressed = true;
                                continue;
                            }
                            Flow::Stop(stop) => {
                                // A Ctrl-C at the question has already stopped the play as interrupted.
                                self.stop.get_or_insert(stop);
                                return;
                            }
                        }
                        self.start(i, prep);
                        progressed = true;
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn decide(&self, i: usize) -> Decision {
        let s = &self.rb.steps[i];
        let excl = |reason: String| Decision::End { status: StepStatus::Skipped, reason, excluded: true };
        if let Some(only) = &self.opts.only
            && &s.id != only
        {
            return excl(format!("not selected (--only {only})"));
        }
        if let Some(from) = &self.opts.from {
            let at = |id: &str| self.dag.order.iter().position(|&j| self.rb.steps[j].id == id);
            if at(&s.id) < at(from) {
                return excl(format!("before --from {from}"));
            }
        }
        if self.opts.read_only && !s.attrs.read {
            return excl("not a `read` step (--read-only)".into());
        }
        for e in self.dag.deps(i) {
            if e.kind == EdgeKind::Needs && !self.excluded[e.from] {
                let st = self.results[e.from].status;
                if st != StepStatus::Passed {
                    let dep = &self.rb.steps[e.from].id;
                    return Decision::End {
                        status: StepStatus::Skipped,
                        reason: format!("needs `{dep}`, which {}", verb(st)),
                        excluded: false,
                    };
                }
            }
        }
        let fail = |reason: String| Decision::End { status: StepStatus::Failed, reason, excluded: false };
        let body = match self.t.body(s, &self.ctx) {
            Ok(b) => b,
            Err(d) => return fail(format!("cannot render the step: {d}")),
        };
        let display = self.redact(&body);
        let hash = hash(&display);
        let mut notes = Vec::new();
        if let Some(prev) = &self.previous
            && let Some(ps) = prev.steps.get(&s.id)
            && ps.status == Some(StepStatus::Passed)
            && !ps.undo
        {
            if ps.command_hash.as_deref() != Some(hash.as_str()) {
                notes.push("passed in the previous session, but its command changed since: running it again".into());
            } else if !ps.unrestorable.is_empty() {
                notes.push(format!(
                    "passed in the previous session, but its capture `{}` holds a secret the journal does not keep: running it again",
                    ps.unrestorable.join("`, `")
                ));
            } else {
                return Decision::Resumed;
            }
        }
        match self.t.when(s, &self.ctx) {
            Ok(Some(true)) => {}
            Ok(Some(false)) => {
                return Decision::End {
                    status: StepStatus::Skipped,
                    reason: format!("`when` is false: {}", s.attrs.when.as_deref().unwrap_or_default()),
                    excluded: false,
                };
            }
            Ok(None) => {
                return Decision::End {
                    status: StepStatus::Skipped,
                    reason: "`when` cannot be decided".into(),
                    excluded: false,
                };
            }
            // A broken condition is a broken runbook: the step fails (and
            // `on-fail` decides), rather than being skipped unseen — it may
            // be the remediation (found in review).
            Err(d) => {
                return Decision::End {
                    status: StepStatus::Failed,
                    reason: format!("`when` cannot be evaluated: {}", d.message),
                    excluded: false,
                };
            }
        }
        let cwd = match self.step_cwd(s) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let expect = match &s.attrs.expect {
            None => None,
            Some(x) => match self.t.attr(s, "expect", x, &self.ctx) {
                // Query steps: the observe grammar (parsed again by runner::query); the regex is unused.
                Ok(src) if s.kind.query().is_some() => match super::query::check_expect(s, &src) {
                    Ok(_) => Some((Regex::new("").expect("the empty regex"), src)),
                    Err(e) => return fail(e),
                },
                // Line by line, as grep: `^ok$` matches `echo ok`, whose
                // stdout ends with a newline (found in review).
                Ok(src) => match regex::RegexBuilder::new(&src).multi_line(true).build() {
                    Ok(re) => Some((re, src)),
                    Err(e) => return fail(format!("`expect` is not a regex: {e}")),
                },
                Err(d) => return fail(format!("cannot render `expect`: {d}")),
            },
        };
        let guard = !s.attrs.read && !self.guard_done && self.opts.env.as_ref().is_some_and(|e| e.guard.is_some());
        Decision::Run(Prep { body, display, hash, cwd, expect, confirm: self.needs_confirm(s), guard, notes })
    }

    pub(super) fn end_without_run(&mut self, i: usize, status: StepStatus, reason: String) {
        self.done(i, JobResult::decided(status, Some(reason), 0), IndexMap::new(), Vec::new(), false);
    }

    fn resume_passed(&mut self, i: usize) {
        let s = &self.rb.steps[i];
        let id = s.id.clone();
        let ps = self.previous.as_ref().and_then(|p| p.steps.get(&id)).cloned().unwrap_or_default();
        for (k, v) in &ps.captures {
            self.ctx.captures.insert(k.clone(), Capture::Value(v.clone()));
        }
        let stdout = ps.captures.values().next().cloned().unwrap_or_default();
        self.ctx.steps.insert(id.clone(), crate::template::StepState::new("passed", ps.exit, stdout));
        self.set_done(i);
        self.resumed[i] = true;
        self.results[i] = super::StepResult {
            status: StepStatus::Passed,
            exit: ps.exit,
            reason: Some("passed before the resume".into()),
            duration: ps.duration_ms.map(Duration::from_millis),
            tail: ps.tail.clone(),
            attempts: 0,
        };
        self.sink.emit(&Event::StepEnd {
            id,
            status: StepStatus::Passed,
            exit: ps.exit,
            duration: None,
            reason: Some("passed before the resume; not run again".into()),
        });
    }

    /// The `step-start` checkpoint (and the command hash kept for its end).
    fn record_start(&mut self, i: usize, id: &str, prep: &Prep) {
        self.hashes.insert(i, prep.hash.clone());
        self.record(Record::StepStart {
            step: id.to_string(),
            attempt: 1,
            command: prep.display.clone(),
            command_hash: prep.hash.clone(),
            undo: false,
            lang: (self.rb.steps[i].kind != crate::model::StepKind::Bash)
                .then(|| self.rb.steps[i].kind.name().to_string()),
            at: time::now_rfc3339(),
        });
    }

    /// A manual step the operator confirmed done.
    fn manual_done(&mut self, i: usize, prep: &Prep, reason: String) {
        let id = self.rb.steps[i].id.clone();
        self.record_start(i, &id, prep);
        let r = JobResult::decided(StepStatus::Passed, Some(reason), 1);
        self.done(i, r, IndexMap::new(), Vec::new(), false);
    }

    /// Guard, `--step`, confirm and manual questions, in that order.
    async fn questions(&mut self, i: usize, prep: &Prep) -> Flow {
        let s = &self.rb.steps[i];
        if prep.guard {
            let ans = match &self.opts.answers {
                Answers::Scripted(f) => f(s, Question::Guard),
                _ => Answer::Yes,
            };
            match ans {
                Answer::Skip => self.note(None, "env guard bypassed (scripted answer)".into()),
                Answer::No => return Flow::Stop(Stop::Refused("the env guard was declined".into())),
                Answer::Yes => {
                    if let Err(m) = self.run_guard().await {
                        return Flow::Stop(Stop::Refused(m));
                    }
                }
            }
            self.guard_done = true;
        }
        if self.opts.step_mode {
            let q = format!(
                "\nnext: {} ({}:{})\n{}\n[c]ontinue / [s]kip / [q]uit: ",
                s.id,
                self.rb.path.display(),
                s.line,
                indent(&prep.display)
            );
            match self.answer(s, Question::Step, q, &['c', 's', 'q']).await {
                Ok(Answer::Yes) => {}
                Ok(Answer::Skip) => return Flow::End(StepStatus::Skipped, "skipped by the operator (--step)".into()),
                Ok(Answer::No) => {
                    return Flow::Stop(Stop::Refused(format!(
                        "stopped by the operator before step `{}` (--step)",
                        s.id
                    )));
                }
                Err(m) => return Flow::Stop(Stop::Refused(m)),
            }
        }
        if prep.confirm {
            let why = match s.attrs.confirm.as_deref() {
                Some(t) if !t.is_empty() => t.to_string(),
                Some(_) => format!("step `{}` asks for confirmation", s.id),
                None => {
                    format!("step `{}` changes the system (env `{}` confirms every write step)", s.id, self.env_name)
                }
            };
            let q =
                format!("\nconfirm: {why}\n{}\nrun it? [y]es / [n]o (stop the play) / [s]kip: ", indent(&prep.display));
            match self.answer(s, Question::Confirm, q, &['y', 's', 'n']).await {
                Ok(Answer::Yes) => {}
                Ok(Answer::Skip) => return Flow::End(StepStatus::Skipped, "skipped by the operator".into()),
                Ok(Answer::No) => {
                    return Flow::Stop(Stop::Refused(format!("the operator declined step `{}`", s.id)));
                }
                Err(m) => return Flow::Stop(Stop::Refused(m)),
            }
        }
        if s.kind == StepKind::Manual {
            self.sink.emit(&Event::StepStart {
                id: s.id.clone(),
                line: s.line,
                command: prep.display.clone(),
                attempt: 1,
                undo: false,
                interactive: false,
            });
            let q = format!(
                "\nmanual step `{}`:\n{}\ndone? [y]es / [n]o (the step fails) / [s]kip: ",
                s.id,
                indent(&prep.display)
            );
            return match self.answer(s, Question::Manual, q, &['y', 's', 'n']).await {
                Ok(Answer::Yes) => Flow::End(StepStatus::Passed, "the operator confirmed it is done".into()),
                Ok(Answer::Skip) => Flow::End(StepStatus::Skipped, "skipped by the operator".into()),
                Ok(Answer::No) => Flow::End(StepStatus::Failed, "the operator answered: not done".into()),
                Err(m) => Flow::Stop(Stop::Refused(m)),
            };
        }
        Flow::Go
    }

    /// An answer, or the refusal message when none can be given.
    pub(super) async fn answer(
        &mut self,
        s: &Step,
        q: Question,
        text: String,
        choices: &'static [char],
    ) -> Result<Answer, String> {
        let need = |what: &str| {
            format!(
                "step `{}` needs an answer ({what}) and this play cannot ask: pass --yes to answer yes to every question{}",
                s.id,
                if q == Question::Step {
                    " (or drop --step), or play on a terminal"
                } else {
                    ", or play on a terminal"
                }
            )
        };
        let what = match q {
            Question::Confirm => "confirm",
            Question::Manual => "a manual checklist: done?",
            Question::Step => "--step",
            Question::Guard => "guard",
        };
        match &self.opts.answers {
            Answers::Yes => Ok(Answer::Yes),
            Answers::Scripted(f) => Ok(f(s, q)),
            Answers::Refuse => Err(need(what)),
            Answers::Interactive if !self.tty => Err(need(what)),
            Answers::Interactive => {
                self.prompt_cancel.store(false, Ordering::SeqCst);
                let sink = self.sink.clone();
                let cancel = self.prompt_cancel.clone();
                let mut h =
                    tokio::task::spawn_blocking(move || sink.prompt(|| prompt::choose(&text, choices, None, &cancel)));
                let mut sigint = self.sigint.take();
                let mut sigterm = self.sigterm.take();
                let c = tokio::select! {
                    r = &mut h => r.ok().flatten(),
                    _ = recv_opt(&mut sigint) => Some('!'),
                    _ = recv_opt(&mut sigterm) => Some('T'),
                };
                self.sigint = sigint;
                self.sigterm = sigterm;
                // A signal at a question: stop asking, stop the play (exit 130, resumable).
                if let Some(why) = match c {
                    Some('!') => Some("interrupted at a question (Ctrl-C)"),
                    Some('T') => Some("interrupted by SIGTERM at a question"),
                    _ => None,
                } {
                    self.prompt_cancel.store(true, Ordering::SeqCst);
                    let _ = h.await;
                    self.interrupt(why);
                    return Err(format!("interrupted at the question of step `{}`", s.id));
                }
                Ok(match c {
                    Some('y') | Some('c') => Answer::Yes,
                    Some('s') => Answer::Skip,
                    _ => Answer::No,
                })
            }
        }
    }

    /// The env guard: its command's stdout must match its regex.
    pub(super) async fn run_guard(&mut self) -> Result<(), String> {
        let Some(g) = self.opts.env.as_ref().and_then(|e| e.guard.clone()) else { return Ok(()) };
        let re = Regex::new(&g.expect).map_err(|e| format!("the env guard's expect is not a regex: {e}"))?;
        let base = self.opts.sandbox.as_ref().map(|b| b.workdir.clone()).unwrap_or_else(|| self.config.root.clone());
        let job = Job {
            id: "guard".into(),
            kind: StepKind::Bash,
            body: g.run.clone(),
            cwd: base,
            env: self.step_env("guard"),
            path_prefix: self.opts.sandbox.as_ref().map(|s| s.bin_dir.clone()),
            interactive: false,
            timeout: Some(Duration::from_secs(60)),
            retry: 0,
            delay: Duration::ZERO,
            expect: None,
            budget: None,
            escalate: None,
            secret_capture: None,
            log_path: self.run_dir.join("guard.log"),
            logs: self.logs.sender(),
            sink: std::sync::Arc::new(super::events::Sink::new(Vec::new())),
            redactor: self.redactor.clone(),
            cancel: self.cancel.subscribe(),
            quiet: self.quiet.tick(),
            query: None,
            warm: None,
            journal: None,
        };
        let r = step::run(job).await;
        let out = r.stdout.trim().to_string();
        let env = self.env_name.clone();
        if r.status != StepStatus::Passed {
            return Err(format!(
                "the guard of env `{env}` (`{}`) failed ({}): refusing to run write steps",
                g.run,
                r.reason.unwrap_or_default()
            ));
        }
        if !re.is_match(&out) {
            return Err(format!(
                "the guard of env `{env}`: `{}` printed `{out}`, which does not match `{}`: is this the right target? Nothing was changed",
                g.run, g.expect
            ));
        }
        self.note(None, format!("guard of env `{env}`: `{}` → `{out}` matches `{}`", g.run, g.expect));
        Ok(())
    }

    /// The working directory of a step: its `cwd`, rendered now, under the
    /// repository root (or the rehearsal's stand-in for it).
    pub(super) fn step_cwd(&self, s: &Step) -> Result<PathBuf, String> {
        let base = self.opts.sandbox.as_ref().map(|b| b.workdir.clone()).unwrap_or_else(|| self.config.root.clone());
        match &s.attrs.cwd {
            None => Ok(base),
            Some(c) => match self.t.attr(s, "cwd", c, &self.ctx) {
                Ok(c) => Ok(base.join(c.trim())),
                Err(d) => Err(format!("cannot render `cwd`: {d}")),
            },
        }
    }

    pub(super) fn step_env(&self, id: &str) -> Vec<(String, String)> {
        let mut env = vec![
            ("RUNBOOK_RUN".to_string(), self.run_id.clone()),
            ("RUNBOOK_RUN_DIR".to_string(), self.run_key.clone()),
            ("RUNBOOK_STEP".to_string(), id.to_string()),
            ("RUNBOOK_ENV".to_string(), self.env_name.clone()),
        ];
        if let Some(sb) = &self.opts.sandbox {
            env.extend(sb.env.iter().cloned());
        }
        env
    }

    pub(super) fn job(&self, i: usize, prep: &Prep) -> Job {
        let s = &self.rb.steps[i];
        Job {
            id: s.id.clone(),
            kind: s.kind,
            body: prep.body.clone(),
            cwd: prep.cwd.clone(),
            env: self.step_env(&s.id),
            path_prefix: self.opts.sandbox.as_ref().map(|b| b.bin_dir.clone()),
            interactive: s.attrs.interactive,
            timeout: s.attrs.timeout,
            retry: s.attrs.retry,
            delay: s.attrs.delay.unwrap_or(step::DEFAULT_DELAY),
            expect: prep.expect.clone(),
            budget: s.attrs.budget,
            escalate: s.attrs.escalate.clone(),
            secret_capture: s.attrs.capture.clone().filter(|c| self.rb.is_secret(c)),
            log_path: self.run_dir.join(format!("{}.log", s.id)),
            logs: self.logs.sender(),
            sink: self.sink.clone(),
            redactor: self.redactor.clone(),
            cancel: self.cancel.subscribe(),
            quiet: self.quiet.tick(),
            query: super::query::job(self, s, prep.expect.as_ref().map(|(_, src)| src.as_str())),
            warm: None,
            journal: Some(self.journal.appender()),
        }
    }

    /// Journal first (durable), then the process.
    fn start(&mut self, i: usize, prep: Prep) {
        let s = &self.rb.steps[i];
        let id = s.id.clone();
        self.record_start(i, &id, &prep);
        if self.stop.is_some() {
            return;
        }
        tracing::debug!(step = %id, "step started");
        self.sink.emit(&Event::StepStart {
            id,
            line: s.line,
            command: prep.display.clone(),
            attempt: 1,
            undo: false,
            interactive: s.attrs.interactive,
        });
        if let Some(st) = self.ctx.steps.get_mut(&s.id) {
            st.status = "running".into();
        }
        self.state[i] = St::Running;
        if s.attrs.interactive {
            self.exclusive_running = true;
        }
        let mut job = self.job(i, &prep);
        // Fed before anything else is spawned: this step is what the play waits for.
        job.warm = self.warm.take().and_then(|w| w.fire(i, &prep.cwd, &prep.body));
        self.running.spawn(async move { (i, step::run(job).await) });
        self.warm_next();
    }
}

/// The next delivery of a signal (never, without a handler).
async fn recv_opt(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

fn indent(text: &str) -> String {
    text.trim_end().lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

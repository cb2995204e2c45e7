//! The executor's side of a play: what a started step's process gets
//! (environment, `PATH`, working directory, log, limits) and the task that
//! runs it ([`super::step::run`]). Processes, queries and warm interpreters
//! live below this; decisions live above it, in the dispatcher.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use super::dispatch::Prep;
use super::env::PlayEnv;
use super::events::Sink;
use super::origin::ScriptOrigin;
use super::record::Recorder;
use super::step::{self, Job, QuietClock};
use crate::model::{Runbook, StepKind};
use crate::redact::Redactor;
use crate::store::logs::LogSender;
use crate::vars::Resolved;

pub struct Executor<'a> {
    pub env: &'a PlayEnv,
    pub rb: &'a Runbook,
    pub vars: Resolved,
    pub run_id: String,
    /// `RUNBOOK_RUN_DIR` of the steps (see [`crate::store::Store::run_key`]).
    pub run_key: String,
    pub env_name: String,
    /// The env's guard, if it has one.
    pub env_guard: Option<crate::config::Guard>,
    pub logs: LogSender,
    pub sink: Arc<Sink>,
    pub recorder: Arc<Recorder>,
    pub redactor: Arc<RwLock<Redactor>>,
    /// Fires to stop the running steps (a signal, the play's timeout).
    pub cancel: watch::Sender<bool>,
    pub quiet: QuietClock,
    /// A rehearsal's count of the waits it skips (`PlayEnv::waits`).
    pub rehearsed: Option<Arc<super::rehearsed::Rehearsed>>,
}

impl Executor<'_> {
    pub fn step_env(&self, id: &str) -> Vec<(String, String)> {
        let mut env = vec![
            ("RUNBOOK_RUN".to_string(), self.run_id.clone()),
            ("RUNBOOK_RUN_DIR".to_string(), self.run_key.clone()),
            ("RUNBOOK_STEP".to_string(), id.to_string()),
            ("RUNBOOK_ENV".to_string(), self.env_name.clone()),
        ];
        env.extend(self.env.step_env.iter().cloned());
        env
    }

    /// The job of step (or undo block) `i`, started after `deps`.
    pub fn job(&self, i: usize, prep: &Prep, deps: impl Iterator<Item = usize>) -> Job {
        let s = &self.rb.steps[i];
        let location = format!("{}:{}", self.rb.path.display(), s.body_line);
        Job {
            id: s.id.clone(),
            kind: s.kind,
            body: prep.body.clone(),
            cwd: prep.cwd.clone(),
            env: self.step_env(&s.id),
            inherit_env: self.env.inherit_env,
            path_prefix: self.env.path_prefix.clone(),
            enter: self.env.enter.clone(),
            interactive: s.attrs.interactive,
            timeout: s.attrs.timeout,
            retry: s.attrs.retry,
            delay: s.attrs.delay.unwrap_or(step::DEFAULT_DELAY),
            expect: prep.expect.clone(),
            budget: s.attrs.budget,
            escalate: prep.escalate.clone(),
            secret_capture: s.attrs.capture.clone().filter(|c| self.rb.is_secret(c)),
            log: s.id.clone(),
            logs: self.logs.clone(),
            sink: self.sink.clone(),
            redactor: self.redactor.clone(),
            cancel: self.cancel.subscribe(),
            quiet: self.quiet.tick(),
            query: super::query::job(
                self.env,
                &self.vars,
                location,
                s,
                prep.expect.as_ref().map(|(_, src)| src.as_str()),
            ),
            ready: None,
            recorder: Some(self.recorder.clone()),
            clock: self.rehearsed.as_ref().map(|c| super::rehearsed::StepClock {
                clock: c.clone(),
                step: i,
                base: c.start(i, deps),
            }),
            origin: s.kind.query().is_none().then(|| Arc::new(ScriptOrigin::new(self.rb, s, &prep.body))),
        }
    }

    /// The env guard's command, as a job of its own (not a step: it has no
    /// events but the `guard` one the play records).
    pub fn guard_job(&self, run: &str) -> Job {
        Job {
            id: "guard".into(),
            kind: StepKind::Bash,
            body: run.to_string(),
            cwd: self.env.root.clone(),
            env: self.step_env("guard"),
            inherit_env: self.env.inherit_env,
            path_prefix: self.env.path_prefix.clone(),
            enter: self.env.enter.clone(),
            interactive: false,
            timeout: Some(super::timing::guard_timeout()),
            retry: 0,
            delay: Duration::ZERO,
            expect: None,
            budget: None,
            escalate: None,
            secret_capture: None,
            log: "guard".into(),
            logs: self.logs.clone(),
            sink: Arc::new(Sink::new(Vec::new())),
            redactor: self.redactor.clone(),
            cancel: self.cancel.subscribe(),
            quiet: self.quiet.tick(),
            query: None,
            ready: None,
            recorder: None,
            clock: None,
            origin: None,
        }
    }

    pub fn redact(&self, text: &str) -> String {
        self.redactor.read().unwrap_or_else(|p| p.into_inner()).redact(text).into_owned()
    }
}

//! Rollback (SPEC §2.2): when the play stops on a failure (or the operator
//! chooses it after Ctrl-C), the `undo` blocks of the steps that passed run
//! in reverse order of completion, best effort: a failing or declined undo is
//! recorded and the rest still run. Undo blocks obey the env's confirm policy
//! and guard like any write step. One at a time, each with its own timeout.

use indexmap::IndexMap;
use tokio::sync::watch;

use super::decide::{Prep, hash};
use super::events::Event;
use super::journal::Record;
use super::scheduler::{Sched, recv};
use super::step::{self, JobResult};
use super::{Answer, Question, StepStatus, time};
use crate::model::StepKind;

impl<'a> Sched<'a> {
    pub(super) async fn roll_back(&mut self) {
        // Completion order: steps restored from the previous session first.
        let mut order: Vec<usize> = Vec::new();
        if let Some(prev) = &self.previous {
            for id in &prev.passed_order {
                if let Some(i) = self.rb.step_index(id)
                    && self.resumed[i]
                {
                    order.push(i);
                }
            }
        }
        order.extend(self.passed_order.iter().copied());
        let undos: Vec<(usize, usize)> =
            order.iter().rev().filter_map(|&i| self.dag.rollback[i].map(|u| (i, u))).collect();
        if undos.is_empty() {
            return;
        }
        let names: Vec<&str> = undos.iter().map(|&(_, u)| self.rb.steps[u].id.as_str()).collect();
        self.note(None, format!("rolling back: {}", names.join(", ")));
        // The play's cancel signal has fired if it was interrupted: undo gets its own.
        let (tx, _) = watch::channel(false);
        self.cancel = tx;
        for (of, u) in undos {
            if self.rollback_interrupted.is_some() {
                let r = JobResult::decided(StepStatus::NotRun, Some("the rollback was interrupted".into()), 0);
                self.done(u, r, IndexMap::new(), Vec::new(), true);
                continue;
            }
            self.undo_one(of, u).await;
        }
    }

    /// Run an undo block; SIGINT or SIGTERM meanwhile stops it (its process
    /// group is terminated as on a timeout) and the rest of the rollback:
    /// an operator who interrupts a rollback wants control back, not the
    /// next undo. An interactive undo gets SIGINT from the terminal itself.
    async fn run_undo(&mut self, job: step::Job, interactive: bool) -> JobResult {
        let mut sigint = self.sigint.take();
        let mut sigterm = self.sigterm.take();
        let run = step::run(job);
        tokio::pin!(run);
        let why = tokio::select! {
            r = &mut run => {
                self.sigint = sigint;
                self.sigterm = sigterm;
                return r;
            }
            _ = recv(&mut sigint), if !interactive => "SIGINT",
            _ = recv(&mut sigterm) => "SIGTERM",
        };
        self.sigint = sigint;
        self.sigterm = sigterm;
        let why = format!("the rollback was interrupted by {why}");
        self.note(None, format!("{why}: stopping the running undo block; the others do not run"));
        self.rollback_interrupted = Some(why);
        let _ = self.cancel.send(true);
        run.await
    }

    async fn undo_one(&mut self, of: usize, u: usize) {
        let s = &self.rb.steps[u];
        let id = s.id.clone();
        let skip = |this: &mut Self, reason: String| {
            let r = JobResult::decided(StepStatus::Skipped, Some(reason), 0);
            this.done(u, r, IndexMap::new(), Vec::new(), true);
        };
        let body = match self.t.body(s, &self.ctx) {
            Ok(b) => b,
            Err(d) => {
                let r = JobResult::decided(StepStatus::Failed, Some(format!("cannot render the undo block: {d}")), 0);
                self.done(u, r, IndexMap::new(), Vec::new(), true);
                return;
            }
        };
        let base = self.opts.sandbox.as_ref().map(|b| b.workdir.clone()).unwrap_or_else(|| self.config.root.clone());
        let cwd = match &s.attrs.cwd {
            Some(c) => match self.t.attr(s, "cwd", c, &self.ctx) {
                Ok(c) => base.join(c.trim()),
                Err(_) => base,
            },
            None => base,
        };
        let display = self.redact(&body);
        let prep = Prep {
            hash: hash(&display),
            body,
            display,
            cwd,
            expect: None,
            confirm: self.needs_confirm(s),
            guard: false,
            notes: Vec::new(),
        };
        if !s.attrs.read && !self.guard_done && self.opts.env.as_ref().is_some_and(|e| e.guard.is_some()) {
            let gate = match &self.opts.answers {
                super::Answers::Scripted(f) => f(s, Question::Guard),
                _ => Answer::Yes,
            };
            if gate == Answer::Yes
                && let Err(m) = self.run_guard().await
            {
                skip(self, format!("not run: {m}"));
                return;
            }
            self.guard_done = true;
        }
        if prep.confirm || s.kind == StepKind::Manual {
            let of_id = self.rb.steps[of].id.clone();
            let q = format!(
                "\nrollback: undo `{id}` of step `{of_id}`\n{}\nrun it? [y]es / [n]o / [s]kip: ",
                prep.display.trim_end().lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
            );
            let qk = if s.kind == StepKind::Manual { Question::Manual } else { Question::Confirm };
            match self.answer(s, qk, q, &['y', 's', 'n']).await {
                Ok(Answer::Yes) => {}
                Ok(_) => return skip(self, "declined by the operator".into()),
                Err(m) => return skip(self, format!("not run: {m}")),
            }
        }
        if s.kind == StepKind::Manual {
            let r = JobResult::decided(StepStatus::Passed, Some("the operator confirmed it is done".into()), 1);
            self.done(u, r, IndexMap::new(), Vec::new(), true);
            self.rolled_back.push(id);
            return;
        }
        self.hashes.insert(u, prep.hash.clone());
        self.record(Record::StepStart {
            step: id.clone(),
            attempt: 1,
            command: prep.display.clone(),
            command_hash: prep.hash.clone(),
            undo: true,
            lang: (s.kind != crate::model::StepKind::Bash).then(|| s.kind.name().to_string()),
            at: time::now_rfc3339(),
        });
        self.sink.emit(&Event::StepStart {
            id: id.clone(),
            line: s.line,
            command: prep.display.clone(),
            attempt: 1,
            undo: true,
            interactive: s.attrs.interactive,
        });
        let job = self.job(u, &prep);
        let r = self.run_undo(job, s.attrs.interactive).await;
        if r.status != StepStatus::Passed && self.rollback_interrupted.is_none() {
            self.note(Some(&id), "the undo failed; the rollback goes on with the others".into());
        }
        self.done(u, r, IndexMap::new(), Vec::new(), true);
        self.rolled_back.push(id);
    }
}

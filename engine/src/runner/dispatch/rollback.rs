//! The rollback (SPEC §2.2): when the play stops on a failure (or the
//! operator asks for it at Ctrl-C), the undo blocks of the steps that passed,
//! in every session of the run, run in reverse order of completion, best
//! effort (a failing or declined undo is recorded and the rest still run),
//! one at a time. Undo blocks obey the env's confirm policy and guard like
//! any write step. A signal during the rollback stops it: the operator wants
//! control back, not the next undo.
//!
//! A rollback that ran to its end and left undo blocks that did not pass
//! (failed, declined, not run for want of an answer or a guard) is
//! incomplete: the run stays resumable, and the next session finishes the
//! rollback, offering those undo blocks again (nothing runs forward).

use super::step::{cannot_ask, indent, needs_terminal, quoted};
use super::{Action, Ask, Dispatcher, Prep, Start};
use crate::model::StepKind;
use crate::redact::Redactor;
use crate::run::event::{Answering, How, Question, Reply, Rollback, StepEnd, StopKind};
use crate::run::{Event, RunState, StepStatus};
use crate::template::Context;

const YES_SKIP_NO: &[(char, Reply)] = &[('y', Reply::Yes), ('s', Reply::Skip), ('n', Reply::No)];

fn undo_end(id: &str, status: StepStatus, reason: String, hash: Option<String>) -> Action {
    Action::Record(Event::StepEnd(StepEnd {
        step: id.to_string(),
        status,
        exit: None,
        duration_ms: None,
        command_hash: hash,
        reason: Some(reason),
        captures: Default::default(),
        unrestorable: Vec::new(),
        stdout: None,
        stdout_redacted: false,
        stdout_cut: false,
        tail: String::new(),
        undo: true,
        attempts: u32::from(status == StepStatus::Passed),
        exits: Vec::new(),
        stop: false,
    }))
}

impl Dispatcher<'_> {
    /// (step, its undo block) for the steps that passed, latest first.
    pub(super) fn undo_list(&self, st: &RunState) -> Vec<(usize, usize)> {
        st.passed_order
            .iter()
            .rev()
            .filter_map(|id| self.index(id))
            .filter_map(|i| self.dag.rollback[i].map(|u| (i, u)))
            .collect()
    }

    /// The next move of the rollback; `None` when there is none to make.
    pub(super) fn roll_back(&mut self, st: &RunState, ctx: &Context, red: &Redactor) -> Option<Action> {
        let stop = st.stop.as_ref()?;
        if self.policy.mode.no_rollback || !(stop.kind == StopKind::Failed || stop.roll_back) {
            return None;
        }
        if st.rollback_cut.is_some() {
            return None;
        }
        let Some(list) = &st.rollback else {
            let list = self.undo_list(st);
            if list.is_empty() {
                return None;
            }
            let undo = list.iter().map(|&(_, u)| self.rb.steps[u].id.clone()).collect();
            return Some(Action::Record(Event::Rollback(Rollback { undo })));
        };
        for uid in list {
            let Some(u) = self.index(uid) else { continue };
            let state = st.step(uid);
            let pending = match state {
                None => true,
                Some(s) => s.status.is_none() && s.started.is_none() || s.lost || s.again,
            };
            if !pending {
                continue;
            }
            let of = (0..self.dag.len()).find(|&i| self.dag.rollback[i] == Some(u)).unwrap_or(u);
            return Some(self.undo(u, of, st, ctx, red));
        }
        None
    }

    fn undo(&mut self, u: usize, of: usize, st: &RunState, ctx: &Context, red: &Redactor) -> Action {
        let s = &self.rb.steps[u];
        let id = s.id.clone();
        if let Some(note) = self.cut_note(u, st) {
            return note;
        }
        let body = match self.t.body(s, ctx) {
            Ok(b) => b,
            Err(d) => return undo_end(&id, StepStatus::Failed, format!("cannot render the undo block: {d}"), None),
        };
        let said = match self.t.confirm(s, ctx) {
            Ok(c) => c.map(|c| super::step::confirm_line(&red.redact(&c))).filter(|c| !c.is_empty()),
            Err(d) => return undo_end(&id, StepStatus::Failed, format!("cannot render `confirm`: {d}"), None),
        };
        let cwd = self.cwd(u, ctx).unwrap_or_else(|_| self.policy.root.clone());
        let display = red.redact(&body).into_owned();
        let escalate = match self.t.escalate(s, ctx) {
            Ok(e) => e.map(|e| red.redact(&e).into_owned()),
            Err(d) => return undo_end(&id, StepStatus::Failed, format!("cannot render `escalate`: {d}"), None),
        };
        let hash = super::hash::journaled(&self.t, s, ctx, red, &display);
        let prep = Prep { hash, body, display, cwd, expect: None, escalate };
        if !s.attrs.read && self.policy.guard {
            match st.guard {
                None => return Action::Guard,
                Some(false) => {
                    return undo_end(&id, StepStatus::Skipped, "not run: the env guard failed".into(), None);
                }
                Some(true) => {}
            }
        }
        if s.attrs.interactive && !self.policy.terminal {
            let at = format!("{}:{}", self.rb.path.display(), s.line);
            let why = needs_terminal(&id, &at, &self.policy.resume);
            return undo_end(&id, StepStatus::Skipped, why, None);
        }
        if self.needs_confirm(u) || s.kind == StepKind::Manual {
            if self.policy.answering == Answering::Refuse {
                return undo_end(
                    &id,
                    StepStatus::Skipped,
                    format!("not run: {}", cannot_ask(&id, Question::Undo, said.as_deref())),
                    None,
                );
            }
            match self.answered(st, u, Question::Undo) {
                None => {
                    let of_id = &self.rb.steps[of].id;
                    let why = said.as_deref().map(|c| format!("\nconfirm: {c}")).unwrap_or_default();
                    let text = format!(
                        "\nrollback: undo `{id}` of step `{of_id}`{why}\n{}\nrun it? [y]es / [n]o / [s]kip: ",
                        indent(&prep.display)
                    );
                    let (question, choices, confirm) = (Question::Undo, YES_SKIP_NO, said);
                    return Action::Ask(Ask { step: u, question, text, choices, confirm });
                }
                Some(Reply::Yes) => {}
                Some(_) => {
                    let what = said.as_deref().map(|c| format!(": {}", quoted(c)));
                    let why = format!("declined by the operator{}", what.unwrap_or_default());
                    return undo_end(&id, StepStatus::Skipped, why, None);
                }
            }
        }
        if s.kind == StepKind::Manual {
            let how = self.answer(st, u, Question::Undo).map_or(How::Yes, |a| a.how);
            let reason = super::step::manual_done(how).to_string();
            return undo_end(&id, StepStatus::Passed, reason, Some(prep.hash));
        }
        Action::Start(Start { step: u, prep, undo: true, notes: Vec::new() })
    }
}

//! The dispatcher: what a play does next, decided from the run's state
//! alone — the fold of its events ([`RunState`]) and the template context
//! built from it. It runs nothing and reads no clock: the play's loop
//! performs each [`Action`] and records what came of it as events, which
//! come back here as state. A resumed session therefore decides as the
//! interrupted one would have: it starts from the same state.
//!
//! What a new session keeps of the run (SPEC §6):
//! - a step that passed is not run again, unless its rendered command
//!   changed, or what a template reads of it (a capture, its stdout) was
//!   kept redacted: it runs again, and says why;
//! - a step in flight when the engine stopped runs again;
//! - a step that failed and stopped the play is offered again (asked on a
//!   terminal; `--yes` runs it; `--from` goes on after it);
//! - after a crash, skips and `on-fail=continue` failures stand, as in the
//!   uninterrupted play; the continuation of a finished failed run decides
//!   them again (the incident goes on after a fix by hand);
//! - a failure the crashed session was stopping on goes on to its rollback
//!   and end, as it would have without the crash.

mod cut;
mod hash;
#[cfg(test)]
mod prop;
mod ready;
mod rollback;
pub mod spare;
mod step;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use regex::Regex;

use crate::config::ConfirmPolicy;
use crate::model::{OnFail, Runbook, StepKind};
use crate::plan::Dag;
use crate::redact::Redactor;
use crate::run::event::{Answering, Excluded, Mode, Question, Reply, RunEnd, SessionKind, StopKind};
use crate::run::{Event, RunState, RunStatus, StepStatus};
use crate::template::{Context, Templater};
use ready::Ready;
pub use step::Again;

/// How this session plays.
#[derive(Debug, Clone)]
pub struct Policy {
    pub confirm: ConfirmPolicy,
    /// The env has a guard to run before the first write step.
    pub guard: bool,
    pub answering: Answering,
    pub step_mode: bool,
    pub jobs: usize,
    pub mode: Mode,
    /// Base of every step's `cwd` (the repository, or a rehearsal's stand-in).
    pub root: PathBuf,
    /// What this session is to the run (`None`: the first).
    pub kind: Option<SessionKind>,
    /// The engine can lend the terminal to an `interactive` step
    /// (`prompt::step_terminal`); without it such a step refuses the play.
    pub terminal: bool,
    /// The command that resumes this run (`session::resume_hint`), for
    /// messages that say how to go on.
    pub resume: String,
}

pub enum Action {
    /// Record a decision (steps left out, a step ended without running, a
    /// stop, the rollback's start, a note).
    Record(Event),
    /// Ask, record the answer, then ask the dispatcher again.
    Ask(Ask),
    /// Run the env guard and record what came of it.
    Guard,
    /// Record the step's start, then run it (or the undo block).
    Start(Start),
    /// Nothing to do until a running step ends (or a signal).
    Wait,
    /// The run is over.
    Finish(RunEnd),
}

pub struct Ask {
    pub step: usize,
    pub question: Question,
    /// The question as the terminal shows it.
    pub text: String,
    /// Keys and what they mean, the default first where there is one.
    pub choices: &'static [(char, Reply)],
    /// The step's `confirm` text, rendered and masked, when that is what
    /// is asked (journaled with the answer).
    pub confirm: Option<String>,
}

pub struct Start {
    pub step: usize,
    pub prep: Prep,
    pub undo: bool,
    /// Said before it starts (why a passed step runs again, …).
    pub notes: Vec<String>,
}

/// A step rendered and ready to run.
#[derive(Clone)]
pub struct Prep {
    /// The rendered body (not redacted: it runs).
    pub body: String,
    /// The body redacted, as shown and journaled.
    pub display: String,
    pub hash: String,
    pub cwd: PathBuf,
    pub expect: Option<(Regex, String)>,
    /// The `escalate` text, rendered and masked (the budget note says it).
    pub escalate: Option<String>,
}

pub struct Dispatcher<'a> {
    pub rb: &'a Runbook,
    pub dag: &'a Dag,
    pub t: Templater<'a>,
    pub policy: Policy,
    index: HashMap<&'a str, usize>,
    ready: Ready,
    running: HashSet<usize>,
    interactive_running: bool,
    /// Failed steps this session offers to run again.
    retry: Vec<bool>,
    /// Steps whose stdout a template reads: it is journaled, and a resume
    /// restores it.
    pub reads_stdout: Vec<bool>,
    /// For each step, the steps whose stdout its templates read (a cut one
    /// gets it a note: [`cut`]).
    stdout_reads: Vec<Vec<usize>>,
    /// This session's filters, recorded at the first turn.
    excluded: Vec<Excluded>,
    /// A manual step asked and not answered yet.
    manual: Option<usize>,
    /// Positions of `dag.order` before this one are no longer pending (warm
    /// interpreters look for the next one from here).
    cursor: usize,
}

impl<'a> Dispatcher<'a> {
    /// A session's dispatcher over the run as `st` has it.
    pub fn new(rb: &'a Runbook, dag: &'a Dag, policy: Policy, st: &RunState) -> Dispatcher<'a> {
        let n = rb.steps.len();
        let index = rb.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
        let mut d = Dispatcher {
            rb,
            dag,
            t: Templater::new(rb),
            index,
            ready: Ready::new(dag),
            running: HashSet::new(),
            interactive_running: false,
            retry: vec![false; n],
            reads_stdout: reads_stdout(rb),
            stdout_reads: cut::stdout_reads(rb),
            excluded: Vec::new(),
            manual: None,
            cursor: 0,
            policy,
        };
        d.take_over(st);
        d
    }

    /// What the run already holds: steps that stand are done, the failed
    /// ones are offered again, the filters leave steps out.
    fn take_over(&mut self, st: &RunState) {
        let cont = self.policy.kind == Some(SessionKind::Continue);
        let mut left_out: Vec<(String, Vec<String>)> = Vec::new();
        for &i in &self.dag.order {
            let s = &self.rb.steps[i];
            let prev = st.step(&s.id);
            let status = prev.and_then(|p| p.status);
            let was_excluded = prev.is_some_and(|p| p.excluded.is_some());
            let stands = match status {
                Some(StepStatus::Skipped) => !was_excluded && !cont,
                Some(StepStatus::Failed) => {
                    let final_ = s.attrs.on_fail == OnFail::Continue && !cont;
                    self.retry[i] = !final_;
                    final_
                }
                _ => false,
            };
            if stands {
                self.ready.done(i);
                continue;
            }
            if status == Some(StepStatus::Passed) {
                // Decided when its turn comes: kept, or run again.
                continue;
            }
            if let Some(why) = self.left_out(i) {
                self.retry[i] = false;
                match left_out.iter_mut().find(|(w, _)| *w == why) {
                    Some((_, v)) => v.push(s.id.clone()),
                    None => left_out.push((why, vec![s.id.clone()])),
                }
                self.ready.pass_through(i);
            }
        }
        // Recorded first to last (popped from the end).
        self.excluded = left_out.into_iter().rev().map(|(reason, steps)| Excluded { steps, reason }).collect();
    }

    /// Why this session's filters leave step `i` out, if they do.
    fn left_out(&self, i: usize) -> Option<String> {
        left_out(self.rb, self.dag, &self.policy.mode, i)
    }

    pub fn index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Keep the derived indexes in step with a recorded event.
    pub fn observe(&mut self, e: &Event) {
        match e {
            Event::StepStart(s) => {
                if let Some(i) = self.index(&s.step) {
                    self.running.insert(i);
                    self.interactive_running |= s.interactive;
                    if let Some(p) = self.dag.order.iter().position(|&j| j == i) {
                        self.ready.taken(p);
                    }
                }
            }
            Event::StepEnd(s) => {
                if let Some(i) = self.index(&s.step) {
                    if self.running.remove(&i) && self.rb.steps[i].attrs.interactive {
                        self.interactive_running = false;
                    }
                    if self.manual == Some(i) {
                        self.manual = None;
                    }
                    if !s.undo {
                        self.ready.done(i);
                    }
                }
            }
            Event::Excluded(x) => {
                for id in &x.steps {
                    if let Some(i) = self.index(id) {
                        self.ready.pass_through(i);
                    }
                }
            }
            _ => {}
        }
    }

    /// A step kept from an earlier session (it passed, nothing changed).
    fn keep(&mut self, i: usize) {
        self.ready.done(i);
    }

    /// The note step `i` gets before its templates decide anything, when
    /// one of them reads a cut `steps.<id>.stdout` ([`cut`]).
    fn cut_note(&self, i: usize, st: &RunState) -> Option<Action> {
        cut::note(self.rb, st, i, &self.stdout_reads[i]).map(Action::Record)
    }

    /// The next thing to do.
    pub fn next(&mut self, st: &RunState, ctx: &Context, red: &Redactor) -> Action {
        if let Some(x) = self.excluded.pop() {
            return Action::Record(Event::Excluded(x));
        }
        if let Some(i) = self.manual {
            return match st.stop {
                None => self.manual_answer(i, st),
                // Stopped at its question (Ctrl-C, a signal, the terminal
                // gone): unanswered, the step ends interrupted and a resume
                // puts the question again.
                Some(_) => self.manual_unanswered(i, st),
            };
        }
        match &st.stop {
            None => {
                if let Some(a) = self.schedule(st, ctx, red) {
                    return a;
                }
                if !self.running.is_empty() || !self.ready.all_done(self.dag) {
                    return Action::Wait;
                }
                Action::Finish(self.end(st))
            }
            Some(stop) => {
                // Steps that were running when a crashed session stopped on a
                // failure were left to finish: they run again, and finish.
                if stop.kind == StopKind::Failed
                    && !stop.cancel
                    && let Some(a) = self.schedule_lost(st, ctx, red)
                {
                    return a;
                }
                if !self.running.is_empty() {
                    return Action::Wait;
                }
                if let Some(a) = self.roll_back(st, ctx, red) {
                    return a;
                }
                Action::Finish(self.end(st))
            }
        }
    }

    /// Start (or decide) what can be started now; `None` when nothing can.
    /// Steps lost in flight by a crashed session start again first (they
    /// held their slots of `--jobs`); then the first ready step in plan
    /// order is the one decided: a step that must wait (a question while
    /// others run) holds back the later ones.
    fn schedule(&mut self, st: &RunState, ctx: &Context, red: &Redactor) -> Option<Action> {
        if let Some(a) = self.schedule_lost(st, ctx, red) {
            return Some(a);
        }
        while let Some(pos) = self.ready.next(0) {
            if self.interactive_running {
                return None;
            }
            if self.running.len() >= self.policy.jobs.max(1) {
                return None;
            }
            let i = self.dag.order[pos];
            match self.decide(i, st, ctx, red) {
                step::Decision::Kept => self.keep(i),
                step::Decision::Hold => return None,
                step::Decision::Act(a) => return Some(*a),
            }
        }
        None
    }

    /// In a failure's stop: only steps lost in flight by a crashed session
    /// (they were running, and would have finished); steps that passed
    /// before are kept as usual on the way to them.
    fn schedule_lost(&mut self, st: &RunState, ctx: &Context, red: &Redactor) -> Option<Action> {
        let mut from = 0;
        while let Some(pos) = self.ready.next(from) {
            from = pos + 1;
            let i = self.dag.order[pos];
            let prev = st.step(&self.rb.steps[i].id);
            let lost = prev.is_some_and(|s| s.lost);
            let passed = prev.is_some_and(|s| s.passed());
            if !lost && !passed {
                continue;
            }
            if lost && self.running.len() >= self.policy.jobs.max(1) {
                return None;
            }
            match self.decide(i, st, ctx, red) {
                step::Decision::Kept => {
                    self.keep(i);
                    from = 0;
                }
                step::Decision::Act(a) if lost => return Some(*a),
                _ => {}
            }
        }
        None
    }

    /// How the run ends, from its state.
    fn end(&self, st: &RunState) -> RunEnd {
        let rolled_back = st.rollback.is_some() || st.stop.as_ref().is_some_and(|s| s.roll_back);
        let (status, message) = match &st.stop {
            None => {
                let continued: Vec<&str> = self
                    .dag
                    .order
                    .iter()
                    .map(|&i| self.rb.steps[i].id.as_str())
                    .filter(|id| st.step(id).is_some_and(|s| s.status == Some(StepStatus::Failed)))
                    .collect();
                if continued.is_empty() {
                    (RunStatus::Passed, None)
                } else {
                    let n = continued.len();
                    let m = format!(
                        "{n} step{} failed and the play went on (on-fail=continue): {}",
                        if n == 1 { "" } else { "s" },
                        continued.join(", ")
                    );
                    (RunStatus::Failed, Some(m))
                }
            }
            Some(s) => {
                let status = match s.kind {
                    StopKind::Failed => RunStatus::Failed,
                    StopKind::Refused => RunStatus::Refused,
                    StopKind::Interrupted => RunStatus::Interrupted,
                };
                let mut m = s.why.clone();
                if let Some(cut) = &st.rollback_cut {
                    m.push_str(&format!("; {cut}"));
                }
                let status = if st.rollback_cut.is_some() { RunStatus::Interrupted } else { status };
                (status, Some(m))
            }
        };
        RunEnd { status, rolled_back, message }
    }

    /// Does this step ask before running (env policy, `confirm`)?
    pub fn needs_confirm(&self, i: usize) -> bool {
        let s = &self.rb.steps[i];
        if s.kind == StepKind::Manual {
            return false;
        }
        let policy = self.policy.confirm;
        s.attrs.confirm.is_some() || policy == ConfirmPolicy::All || (policy == ConfirmPolicy::Write && !s.attrs.read)
    }

    /// Could a rollback run now (what Ctrl-C offers)?
    pub fn can_roll_back(&self, st: &RunState) -> bool {
        !self.policy.mode.no_rollback && !self.undo_list(st).is_empty()
    }

    /// The step expected to start next, for a warm interpreter: the first
    /// pending bash/sh step in plan order, if it is likely to start without
    /// a pause (no filter, no question, not passed before).
    pub fn likely_next(&mut self, st: &RunState) -> Option<usize> {
        if st.stop.is_some() {
            return None;
        }
        while self.cursor < self.dag.order.len() {
            let i = self.dag.order[self.cursor];
            if self.ready.settled(i) || self.running.contains(&i) {
                self.cursor += 1;
            } else {
                break;
            }
        }
        let &j = self.dag.order.get(self.cursor)?;
        let s = &self.rb.steps[j];
        let asks = !matches!(self.policy.answering, Answering::Yes | Answering::Scenario)
            && (self.policy.step_mode || self.needs_confirm(j));
        let passed_before = st.step(&s.id).is_some_and(|p| p.passed());
        let ok = matches!(s.kind, StepKind::Bash | StepKind::Sh)
            && !s.attrs.interactive
            && !asks
            && !self.retry[j]
            && !passed_before
            && !(!s.attrs.read && self.policy.guard && st.guard.is_none());
        ok.then_some(j)
    }
}

/// A step's end decided without running it.
pub fn step_end(id: &str, status: StepStatus, reason: &str) -> Event {
    step::decided(id, status, reason.to_string(), false)
}

/// Which steps' stdout some template of the runbook reads: `steps.<id>`
/// or `steps["<id>"]` in a body, `when`, `expect`, `cwd` or `confirm`. A template that
/// indexes `steps` with something else could read any: all are kept then.
/// Why `mode`'s filters (`--only`, `--from`, `--read-only`) leave step `i`
/// out of a session, if they do.
pub fn left_out(rb: &Runbook, dag: &Dag, mode: &crate::run::event::Mode, i: usize) -> Option<String> {
    let s = &rb.steps[i];
    if let Some(only) = &mode.only
        && &s.id != only
    {
        return Some(format!("not selected (--only {only})"));
    }
    if let Some(from) = &mode.from {
        let at = |id: &str| dag.order.iter().position(|&j| rb.steps[j].id == id);
        if at(&s.id) < at(from) {
            return Some(format!("before --from {from}"));
        }
    }
    if mode.read_only && !s.attrs.read {
        return Some("not a `read` step (--read-only)".into());
    }
    None
}

fn reads_stdout(rb: &Runbook) -> Vec<bool> {
    let mut texts: Vec<&str> = Vec::new();
    for s in &rb.steps {
        texts.push(&s.body);
        texts.extend(
            [&s.attrs.when, &s.attrs.expect, &s.attrs.cwd, &s.attrs.confirm].into_iter().flatten().map(String::as_str),
        );
    }
    let using: Vec<&str> = texts.into_iter().filter(|t| t.contains("steps")).collect();
    if using.is_empty() {
        return vec![false; rb.steps.len()];
    }
    let dynamic = using
        .iter()
        .any(|t| t.match_indices("steps[").any(|(p, _)| !matches!(t.as_bytes().get(p + 6), Some(b'"') | Some(b'\''))));
    rb.steps
        .iter()
        .map(|s| {
            dynamic
                || using.iter().any(|t| {
                    t.contains(&format!("steps.{}", s.id))
                        || t.contains(&format!("steps[\"{}\"]", s.id))
                        || t.contains(&format!("steps['{}']", s.id))
                })
        })
        .collect()
}

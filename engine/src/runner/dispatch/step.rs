//! One ready step: left standing (it passed before), skipped (`needs`,
//! `when`), failed (it cannot render), refused (`interactive` without a
//! terminal), asked about (retry, guard, `--step`, confirm, manual), or
//! started.

use super::{Action, Ask, Dispatcher, Prep, Start, hash};
use crate::model::{OnFail, StepKind};
use crate::plan::EdgeKind;
use crate::redact::Redactor;
use crate::run::event::{Answer, Answering, How, Question, Reply, StepEnd, StepStart, Stop, StopKind};
use crate::run::{Event, RunState, StepState, StepStatus};
use crate::template::Context;

pub(super) enum Decision {
    /// Passed in an earlier session; stands.
    Kept,
    /// Must wait until nothing else runs (a question, an interactive step).
    Hold,
    Act(Box<Action>),
}

impl Decision {
    fn act(a: Action) -> Decision {
        Decision::Act(Box::new(a))
    }
}

fn verb(s: Option<StepStatus>) -> &'static str {
    match s {
        Some(StepStatus::Passed) => "passed",
        Some(StepStatus::Failed) => "failed",
        Some(StepStatus::Skipped) => "was skipped",
        Some(StepStatus::Interrupted) => "was interrupted",
        Some(StepStatus::NotRun) | None => "did not run",
    }
}

/// A query step's rendered `expect` must parse in the observe grammar; the
/// step fails with this message when it does not.
fn check_expect(s: &crate::model::Step, src: &str) -> Result<(), String> {
    let kind = s.kind.query().expect("a query step");
    crate::observe::expect::parse(src, kind.target())
        .map(|_| ())
        .map_err(|e| format!("`expect` does not parse: {e} in `{src}` (docs/observability.md)"))
}

/// A step's end decided without running it.
pub fn decided(id: &str, status: StepStatus, reason: String, stop: bool) -> Event {
    Event::StepEnd(StepEnd {
        step: id.to_string(),
        status,
        exit: None,
        duration_ms: None,
        command_hash: None,
        reason: Some(reason),
        captures: Default::default(),
        unrestorable: Vec::new(),
        stdout: None,
        stdout_redacted: false,
        stdout_cut: false,
        tail: String::new(),
        undo: false,
        attempts: 0,
        exits: Vec::new(),
        stop,
    })
}

const YES_SKIP_NO: &[(char, Reply)] = &[('y', Reply::Yes), ('s', Reply::Skip), ('n', Reply::No)];
const STEP: &[(char, Reply)] = &[('c', Reply::Continue), ('s', Reply::Skip), ('q', Reply::Quit)];

/// Why a play that cannot ask stops at a question. `confirm`: the step's
/// `confirm` text, rendered and masked, quoted as the question refused.
pub(super) fn cannot_ask(id: &str, q: Question, confirm: Option<&str>) -> String {
    let what = match q {
        Question::Confirm => "confirm",
        Question::Manual => "a manual checklist: done?",
        Question::Step => "--step",
        Question::Retry => "it failed before: run it again?",
        Question::Undo => "an undo block asks first",
        Question::Guard | Question::CtrlC | Question::Resume | Question::TakeOver | Question::Variable => "a question",
    };
    let what = match (q, confirm) {
        (Question::Confirm, Some(c)) => quoted(c),
        (Question::Undo, Some(c)) => format!("{what}: {}", quoted(c)),
        _ => what.to_string(),
    };
    let how = match q {
        Question::Step => " (or drop --step), or play on a terminal",
        Question::Retry => ", --from STEP to go on after it, or play on a terminal",
        _ => ", or play on a terminal",
    };
    format!(
        "step `{id}` needs an answer ({what}) and this play cannot ask: pass --yes to answer yes to every question{how}"
    )
}

/// Why a play without a terminal does not run an `interactive` step: it
/// would read the engine's own piped input, and its output, not captured,
/// would go unmasked into whatever the engine writes to.
pub(super) fn needs_terminal(id: &str, at: &str, resume: &str) -> String {
    format!(
        "step `{id}` ({at}) is `interactive` and needs a terminal (stdin, stdout and stderr), which this play does not have: it did not run; run `{resume}` from a terminal to run it"
    )
}

/// A rendered `confirm` text as every question, answer line and refusal
/// shows it: on one line, a value's newline or `\r` shown as an escape
/// ([`crate::visible::line`]), so that it cannot forge a line under the
/// question.
pub(super) fn confirm_line(text: &str) -> String {
    crate::visible::line(text).into_owned()
}

/// A `confirm` text as the answer lines and `plan` show it: `confirm "…"`.
pub(super) fn quoted(confirm: &str) -> String {
    format!("confirm \"{confirm}\"")
}

pub(super) fn indent(text: &str) -> String {
    text.trim_end().lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// Why a step that passed in an earlier session runs again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Again {
    /// Its rendered command is not the one that passed.
    CommandChanged,
    /// These captures of it hold a secret the journal does not keep.
    SecretCapture(Vec<String>),
    /// A template reads its output, which held a secret the journal does not keep.
    SecretOutput,
    /// A template reads its output, which the earlier session did not keep.
    OutputNotKept,
    /// It cannot render now: it runs again only to fail.
    CannotRender,
}

impl Again {
    /// How the session note groups it: `run again (command changed): a`.
    pub fn short(&self) -> &'static str {
        match self {
            Again::CommandChanged => "command changed",
            Again::SecretCapture(_) => "its capture holds a secret the journal does not keep",
            Again::SecretOutput => "its output held a secret the journal does not keep",
            Again::OutputNotKept => "its output was not kept",
            Again::CannotRender => "it cannot render",
        }
    }

    /// The step's own note as it starts again.
    fn note(&self) -> String {
        match self {
            Again::CommandChanged => {
                "passed in an earlier session, but its command changed since: running it again".into()
            }
            Again::SecretCapture(names) => format!(
                "passed in an earlier session, but its capture `{}` holds a secret the journal does not keep: running it again",
                names.join("`, `")
            ),
            Again::SecretOutput => "passed in an earlier session, but its output, which a template reads, held a secret the journal does not keep: running it again".into(),
            Again::OutputNotKept => "passed in an earlier session, which did not keep its output (a template reads it now): running it again".into(),
            Again::CannotRender => "passed in an earlier session, but cannot render now".into(),
        }
    }
}

/// Whether a step that passed in an earlier session as `p` runs again, and
/// why; `None`: it is kept. `same`: its command is unchanged
/// ([`super::hash`]); `reads`: a template reads its output. The one rule,
/// asked by [`Dispatcher::decide`] as the step's turn comes, up front by the
/// session note ([`Dispatcher::passed_before`]) and, before the session,
/// by what it asks for ([`super::spare`]).
pub(super) fn again(p: &StepState, same: bool, reads: bool) -> Option<Again> {
    if !same {
        Some(Again::CommandChanged)
    } else if !p.unrestorable.is_empty() {
        Some(Again::SecretCapture(p.unrestorable.clone()))
    } else if reads && p.stdout_redacted {
        Some(Again::SecretOutput)
    } else if reads && p.stdout.is_none() {
        Some(Again::OutputNotKept)
    } else {
        None
    }
}

impl Dispatcher<'_> {
    /// Step `i`'s rendered body, and as the journal shows it (secrets masked).
    fn command(&self, i: usize, ctx: &Context, red: &Redactor) -> Result<(String, String), crate::error::Diagnostic> {
        let body = self.t.body(&self.rb.steps[i], ctx)?;
        let display = red.redact(&body).into_owned();
        Ok((body, display))
    }

    /// Whether step `i`'s command is the one it passed with as `p`: from
    /// its hash without the secrets' values, else (the hash of an earlier
    /// engine, which hashed the command as journaled) from its command
    /// rendered with them.
    fn unchanged(
        &self,
        i: usize,
        p: &StepState,
        ctx: &Context,
        red: &Redactor,
    ) -> Result<bool, crate::error::Diagnostic> {
        let s = &self.rb.steps[i];
        if hash::unchanged(&self.t, self.rb, s, p, ctx, red) {
            return Ok(true);
        }
        let (_, display) = self.command(i, ctx, red)?;
        Ok(p.command_hash.as_deref() == Some(hash::hash(&display).as_str()))
    }

    /// Whether step `i`, which passed in an earlier session as `p`, runs
    /// again ([`again`]); `Err`: it cannot render now.
    fn again(
        &self,
        i: usize,
        p: &StepState,
        ctx: &Context,
        red: &Redactor,
    ) -> Result<Option<Again>, crate::error::Diagnostic> {
        let same = self.unchanged(i, p, ctx, red)?;
        Ok(again(p, same, self.reads_stdout[i]))
    }

    /// Every step that passed in an earlier session (in the order they
    /// passed), and why it will run again (`None`: it is kept), decided as
    /// [`Dispatcher::decide`] decides it, from the state and context the
    /// session starts with. A step whose command reads a capture of a step
    /// that runs again may still change when its turn comes: its own note
    /// says so then. Undo blocks are kept; steps no longer in the runbook
    /// are not listed (the session note names them apart).
    pub fn passed_before(&self, st: &RunState, ctx: &Context, red: &Redactor) -> Vec<(String, Option<Again>)> {
        st.passed_order
            .iter()
            .filter(|id| self.index(id).is_some())
            .map(|id| {
                let again = self.index(id).and_then(|i| {
                    let p = st.step(id).filter(|p| p.passed() && !p.undo)?;
                    self.again(i, p, ctx, red).unwrap_or(Some(Again::CannotRender))
                });
                (id.clone(), again)
            })
            .collect()
    }

    /// This session's answer to `q` about step `i`, if given.
    pub(super) fn answered(&self, st: &RunState, i: usize, q: Question) -> Option<Reply> {
        self.answer(st, i, q).map(|a| a.reply)
    }

    /// This session's answer to question `q` about step `i`, if any.
    pub(super) fn answer<'s>(&self, st: &'s RunState, i: usize, q: Question) -> Option<&'s Answer> {
        let id = &self.rb.steps[i].id;
        let session = st.session();
        st.answers
            .iter()
            .rev()
            .take_while(|a| a.session == session)
            .find(|a| a.answer.question == q && a.answer.step.as_deref() == Some(id))
            .map(|a| &a.answer)
    }

    fn fails_stop(&self, i: usize) -> bool {
        self.rb.steps[i].attrs.on_fail == OnFail::Stop
    }

    pub(super) fn decide(&mut self, i: usize, st: &RunState, ctx: &Context, red: &Redactor) -> Decision {
        let s = &self.rb.steps[i];
        let id = s.id.as_str();
        let end = |status, reason: String| {
            let stop = status == StepStatus::Failed && s.attrs.on_fail == OnFail::Stop;
            Decision::act(Action::Record(decided(id, status, reason, stop)))
        };
        for e in self.dag.deps(i) {
            if e.kind != EdgeKind::Needs {
                continue;
            }
            let dep = st.step(&self.rb.steps[e.from].id);
            if dep.is_some_and(|d| d.excluded.is_some()) {
                continue;
            }
            let status = dep.and_then(|d| d.status);
            if status != Some(StepStatus::Passed) {
                return end(
                    StepStatus::Skipped,
                    format!("needs `{}`, which {}", self.rb.steps[e.from].id, verb(status)),
                );
            }
        }
        let cannot_render = |d| end(StepStatus::Failed, format!("cannot render the step: {d}"));
        let mut notes = Vec::new();
        if let Some(p) = st.step(id).filter(|p| p.passed() && !p.undo) {
            match self.again(i, p, ctx, red) {
                Ok(None) => return Decision::Kept,
                Ok(Some(why)) => notes.push(why.note()),
                Err(d) => return cannot_render(d),
            }
        }
        if let Some(note) = self.cut_note(i, st) {
            return Decision::act(note);
        }
        // Decided as its `when` would be, before its templates read the name.
        if self.t.unmet_guard(s, ctx).is_some() {
            let when = s.attrs.when.as_deref().unwrap_or_default();
            return end(StepStatus::Skipped, format!("`when` is false: {when}"));
        }
        let (body, display) = match self.command(i, ctx, red) {
            Ok(c) => c,
            Err(d) => return cannot_render(d),
        };
        let hash = hash::journaled(&self.t, s, ctx, red, &display);
        match self.t.when(s, ctx) {
            Ok(Some(true)) => {}
            Ok(Some(false)) => {
                return end(
                    StepStatus::Skipped,
                    format!("`when` is false: {}", s.attrs.when.as_deref().unwrap_or_default()),
                );
            }
            Ok(None) => return end(StepStatus::Skipped, "`when` cannot be decided".into()),
            // A broken condition is a broken runbook: the step fails (and
            // `on-fail` decides), rather than being skipped unseen: it may
            // be the remediation.
            Err(d) => return end(StepStatus::Failed, format!("`when` cannot be evaluated: {}", d.message)),
        }
        let cwd = match self.cwd(i, ctx) {
            Ok(c) => c,
            Err(e) => return end(StepStatus::Failed, e),
        };
        let expect = match &s.attrs.expect {
            None => None,
            Some(x) => match self.t.attr(s, "expect", x, ctx) {
                // Query steps: the observe grammar, judged by the executor.
                Ok(src) if s.kind.query().is_some() => match check_expect(s, &src) {
                    Ok(_) => Some((regex::Regex::new("").expect("the empty regex"), src)),
                    Err(e) => return end(StepStatus::Failed, e),
                },
                // Line by line, as grep: `^ok$` matches `echo ok`.
                Ok(src) => match crate::expect::compile(&src) {
                    Ok(re) => Some((re, src)),
                    Err(e) => return end(StepStatus::Failed, e.message(&src)),
                },
                Err(d) => return end(StepStatus::Failed, format!("cannot render `expect`: {d}")),
            },
        };
        let said = match self.t.confirm(s, ctx) {
            Ok(c) => c.map(|c| confirm_line(&red.redact(&c))),
            Err(d) => return end(StepStatus::Failed, format!("cannot render `confirm`: {d}")),
        };
        let escalate = match self.t.escalate(s, ctx) {
            Ok(e) => e.map(|e| red.redact(&e).into_owned()),
            Err(d) => return end(StepStatus::Failed, format!("cannot render `escalate`: {d}")),
        };
        let prep = Prep { body, display, hash, cwd, expect, escalate };
        self.questions(i, st, prep, notes, said)
    }

    /// The working directory of a step: its `cwd`, rendered now, under the root.
    pub fn cwd(&self, i: usize, ctx: &Context) -> Result<std::path::PathBuf, String> {
        let s = &self.rb.steps[i];
        let base = self.policy.root.clone();
        match &s.attrs.cwd {
            None => Ok(base),
            Some(c) => match self.t.attr(s, "cwd", c, ctx) {
                Ok(c) => Ok(base.join(c.trim())),
                Err(d) => Err(format!("cannot render `cwd`: {d}")),
            },
        }
    }

    /// Retry, guard, `--step`, confirm and manual, in that order; then
    /// start. `said`: the step's `confirm` text, rendered and masked.
    fn questions(&mut self, i: usize, st: &RunState, prep: Prep, notes: Vec<String>, said: Option<String>) -> Decision {
        let s = &self.rb.steps[i];
        let id = s.id.clone();
        let instant = matches!(self.policy.answering, Answering::Yes | Answering::Scenario);
        let confirm = self.needs_confirm(i);
        let guard = !s.attrs.read && self.policy.guard && st.guard.is_none();
        let asks = !instant && (self.retry[i] || self.policy.step_mode || confirm || s.kind == StepKind::Manual);
        if (asks || guard || s.attrs.interactive) && !self.running.is_empty() {
            return Decision::Hold;
        }
        let stop = |why: String| {
            Decision::act(Action::Record(Event::Stop(Stop {
                kind: StopKind::Refused,
                why,
                roll_back: false,
                cancel: false,
            })))
        };
        let refuse = self.policy.answering == Answering::Refuse;
        // The text of a `confirm="…"`, quoted where it is asked or refused.
        let text_of = |question| said.clone().filter(|t| question == Question::Confirm && !t.is_empty());
        let ask = |question, text: String, choices| {
            if refuse {
                stop(cannot_ask(&id, question, text_of(question).as_deref()))
            } else {
                let confirm = text_of(question);
                Decision::act(Action::Ask(Ask { step: i, question, text, choices, confirm }))
            }
        };
        let skipped = |why: &str| Decision::act(Action::Record(decided(&id, StepStatus::Skipped, why.into(), false)));
        if s.attrs.interactive && !self.policy.terminal {
            let at = format!("{}:{}", self.rb.path.display(), s.line);
            return stop(needs_terminal(&id, &at, &self.policy.resume));
        }
        if self.retry[i] {
            match self.answered(st, i, Question::Retry) {
                None => {
                    let why = st.step(&id).and_then(|p| p.reason.clone()).unwrap_or_else(|| "failed".into());
                    let q = format!(
                        "\nstep `{id}` failed in an earlier session ({why})\n{}\nrun it again? [y]es / [s]kip it / [n]o (stop): ",
                        indent(&prep.display)
                    );
                    return ask(Question::Retry, q, YES_SKIP_NO);
                }
                Some(Reply::Yes) => {}
                Some(Reply::Skip) => return skipped("not run again (skipped by the operator)"),
                Some(_) => return stop(format!("the operator did not run failed step `{id}` again")),
            }
        }
        if guard {
            return Decision::act(Action::Guard);
        }
        if self.policy.step_mode {
            match self.answered(st, i, Question::Step) {
                None => {
                    let q = format!(
                        "\nnext: {id} ({}:{})\n{}\n[c]ontinue / [s]kip / [q]uit: ",
                        self.rb.path.display(),
                        s.line,
                        indent(&prep.display)
                    );
                    return ask(Question::Step, q, STEP);
                }
                Some(Reply::Continue) | Some(Reply::Yes) => {}
                Some(Reply::Skip) => return skipped("skipped by the operator (--step)"),
                Some(_) => return stop(format!("stopped by the operator before step `{id}` (--step)")),
            }
        }
        if confirm {
            match self.answered(st, i, Question::Confirm) {
                None => {
                    let why = match said.as_deref() {
                        Some(t) if !t.is_empty() => t.to_string(),
                        Some(_) => format!("step `{id}` asks for confirmation"),
                        None => format!("step `{id}` changes the system (this env confirms every write step)"),
                    };
                    let q = format!(
                        "\nconfirm: {why}\n{}\nrun it? [y]es / [n]o (stop the play) / [s]kip: ",
                        indent(&prep.display)
                    );
                    return ask(Question::Confirm, q, YES_SKIP_NO);
                }
                Some(Reply::Yes) => {}
                Some(Reply::Skip) => return skipped("skipped by the operator"),
                Some(_) => {
                    let what = text_of(Question::Confirm).map(|t| format!(": {}", quoted(&t))).unwrap_or_default();
                    return stop(format!("the operator declined step `{id}`{what}"));
                }
            }
        }
        if s.kind == StepKind::Manual {
            if refuse {
                return stop(cannot_ask(&id, Question::Manual, None));
            }
            // Its start is when the question is put: the operator's time is its duration.
            self.manual = Some(i);
            return Decision::act(Action::Record(Event::StepStart(StepStart {
                step: id,
                line: s.line,
                attempt: 1,
                command: prep.display.clone(),
                command_hash: prep.hash.clone(),
                undo: false,
                lang: Some("manual".into()),
                interactive: false,
                log_from: None,
            })));
        }
        Decision::act(Action::Start(Start { step: i, prep, undo: false, notes }))
    }

    /// A manual step on the screen: ask until it is answered, then end it.
    pub(super) fn manual_answer(&mut self, i: usize, st: &RunState) -> Action {
        let s = &self.rb.steps[i];
        match self.answer(st, i, Question::Manual).map(|a| (a.reply, a.how)) {
            None => {
                let display = st.step(&s.id).map(|p| p.command.clone()).unwrap_or_default();
                let q = format!(
                    "\nmanual step `{}`:\n{}\ndone? [y]es / [n]o (the step fails) / [s]kip: ",
                    s.id,
                    indent(&display)
                );
                Action::Ask(Ask { step: i, question: Question::Manual, text: q, choices: YES_SKIP_NO, confirm: None })
            }
            Some((r, how)) => {
                let (status, reason) = match r {
                    Reply::Yes => (StepStatus::Passed, manual_done(how)),
                    Reply::Skip => (StepStatus::Skipped, "skipped by the operator"),
                    _ => (StepStatus::Failed, "the operator answered: not done"),
                };
                let stop = status == StepStatus::Failed && self.fails_stop(i);
                self.manual_end(i, st, status, reason, stop)
            }
        }
    }

    /// A manual step whose question the play stopped at: no answer.
    pub(super) fn manual_unanswered(&self, i: usize, st: &RunState) -> Action {
        self.manual_end(i, st, StepStatus::Interrupted, "not answered: the play stopped at its question", false)
    }

    fn manual_end(&self, i: usize, st: &RunState, status: StepStatus, reason: &str, stop: bool) -> Action {
        let id = &self.rb.steps[i].id;
        let mut e = decided(id, status, reason.into(), stop);
        if let Event::StepEnd(end) = &mut e {
            end.attempts = 1;
            end.command_hash = st.step(id).and_then(|p| p.command_hash.clone());
        }
        Action::Record(e)
    }
}

/// Why a manual step passed: only an answer at the prompt is an operator's
/// word that the checklist was done; `--yes` and a scenario answer for
/// nobody, and the screen, the journal and the report say so.
pub(super) fn manual_done(how: How) -> &'static str {
    match how {
        How::Prompt => "the operator confirmed it is done",
        How::Yes => "answered by --yes: nobody confirmed it is done",
        How::Scenario => "answered by the rehearsal scenario",
        How::Timeout => "answered by default when nobody answered in time: nobody confirmed it is done",
    }
}

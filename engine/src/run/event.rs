//! The events of a run: one vocabulary, appended in order, holding every
//! fact that decides anything (SPEC §6). A run's journal is these events, one
//! JSON object per line; the shared store holds the same objects.
//!
//! Each event is an [`Entry`]: a sequence number (1, 2, … across every
//! session of the run; the live view's `Last-Event-ID`), the time, and the
//! [`Event`] itself, tagged by `"event"`. Nothing secret is ever in an event:
//! values are redacted before they get here.
//!
//! Journals of the first format (`v: 1`, no `seq`, a `resume` event) read
//! as these: missing fields take their defaults and lines are numbered in
//! order. A journal of a newer vocabulary is refused ([`crate::run::decode`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The event vocabulary written by this engine (`v` of `run-start` and
/// `session`; [`crate::run::decode`]).
pub const FORMAT: u32 = 4;

/// The status of a step (journal, report, `steps.<id>.status` in templates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Passed,
    Failed,
    Skipped,
    NotRun,
    Interrupted,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Passed,
    Failed,
    Interrupted,
    Refused,
}

/// The name serde gives a unit variant (`not-run`): one spelling for the
/// journal, the terminal and the templates.
pub fn name<T: Serialize>(v: &T) -> &'static str {
    serde_variant::to_variant_name(v).unwrap_or("?")
}

impl StepStatus {
    pub fn name(self) -> &'static str {
        name(&self)
    }
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        name(&self)
    }
}

/// One line of a journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// 1-based, gapless across the sessions of a run.
    #[serde(default)]
    pub seq: u64,
    /// RFC 3339 UTC; empty where a rehearsal asks for no clock.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub at: String,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    RunStart(RunStart),
    /// A later session of the run: `--resume` after a crash or a stop, the
    /// continuation of a failed run, a take-over.
    #[serde(alias = "resume")]
    Session(Session),
    /// Steps left out by this session's filters (`--only`, `--from`,
    /// `--read-only`), decided at once: they do not block their dependents.
    Excluded(Excluded),
    StepStart(StepStart),
    /// A step's process started (see [`Spawned`]).
    Spawned(Spawned),
    /// A question and its answer: who, what, how.
    Answer(Answer),
    /// The env guard ran before the first write step.
    Guard(Guard),
    StepEnd(StepEnd),
    /// The play stops starting steps (a failure, a refusal, a signal).
    Stop(Stop),
    /// The rollback starts: the undo blocks it will run, in order.
    Rollback(Rollback),
    Note(Note),
    RunEnd(RunEnd),
}

/// A variable as the run was given it (secrets as `***`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VarRecord {
    /// Typed (a number stays a number); a string in `v: 1` journals.
    pub value: serde_json::Value,
    /// `front-matter`, `env`, `alert`, `set`, `prompt`, …
    pub origin: String,
    pub secret: bool,
}

impl VarRecord {
    /// The value as text, as `--set` would give it.
    pub fn text(&self) -> String {
        match &self.value {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        }
    }
}

/// What a run was started to do: kept by every session (a resume never
/// widens it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mode {
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `--jobs`; 0 in journals that did not record it.
    #[serde(skip_serializing_if = "is_zero")]
    pub jobs: usize,
    #[serde(skip_serializing_if = "is_false")]
    pub no_rollback: bool,
}

impl Mode {
    /// The flags that give this mode (`--read-only --from x`).
    pub fn words(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.read_only {
            v.push("--read-only".to_string());
        }
        if let Some(o) = &self.only {
            v.push(format!("--only {o}"));
        }
        if let Some(f) = &self.from {
            v.push(format!("--from {f}"));
        }
        if self.no_rollback {
            v.push("--no-rollback".into());
        }
        v
    }
}

/// How a session answers questions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answering {
    /// On a terminal, by the operator.
    #[default]
    Ask,
    /// `--yes`.
    Yes,
    /// Off a terminal without `--yes`: a question stops the play.
    Refuse,
    /// A rehearsal scenario's `answers`.
    Scenario,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunStart {
    #[serde(default = "first_format")]
    pub v: u32,
    pub run: String,
    pub runbook: String,
    pub path: String,
    /// sha256 of the runbook file.
    pub hash: String,
    pub env: String,
    #[serde(default)]
    pub vars: BTreeMap<String, VarRecord>,
    /// `user@host`.
    pub operator: String,
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub answering: Answering,
    /// `--step`: every step asked first.
    #[serde(default, skip_serializing_if = "is_false")]
    pub step_mode: bool,
    /// The runbook's steps in plan order: the run says what it was to run
    /// (the report's "not run", the live view's DAG) even if the file changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<Planned>,
}

#[cfg(test)]
impl RunStart {
    /// The start of run `run` of runbook `runbook` (`<runbook>.md`), env
    /// `local`, no vars, no plan: what unit tests of the fold and the stores need.
    pub fn example(run: &str, runbook: &str) -> RunStart {
        RunStart {
            v: FORMAT,
            run: run.into(),
            runbook: runbook.into(),
            path: format!("{runbook}.md"),
            hash: "h".into(),
            env: "local".into(),
            vars: BTreeMap::new(),
            operator: "u@h".into(),
            pid: 1,
            mode: Mode::default(),
            answering: Answering::Yes,
            step_mode: false,
            plan: Vec::new(),
        }
    }
}

/// A step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub id: String,
    /// Its hard dependencies (`needs`); it follows the previous step otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// Runs only as a rollback.
    #[serde(default, skip_serializing_if = "is_false")]
    pub undo: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read: bool,
}

/// Why a later session started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKind {
    /// The run had not finished (a crash, Ctrl-C, a declined question).
    #[default]
    Resume,
    /// The run had failed: the incident goes on in the same run.
    Continue,
    /// Another engine held the run and gave it up.
    TakeOver,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The event vocabulary of the engine that played this session (0:
    /// written before sessions said, v2 or older).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub v: u32,
    /// 2 for the first resume; 0 in `v: 1` journals (numbered by the fold).
    #[serde(default)]
    pub n: u32,
    /// The run, its runbook and env, as `run-start` has them (so that a
    /// session's first event says what it resumes).
    #[serde(default)]
    pub run: String,
    #[serde(default)]
    pub runbook: String,
    #[serde(default)]
    pub env: String,
    #[serde(default)]
    pub kind: SessionKind,
    pub operator: String,
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub hash: String,
    /// The values given in this session (`--set`, prompts, restored).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, VarRecord>,
    /// The mode from now on: the run's, or narrower (`--from` of a continuation).
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub answering: Answering,
    #[serde(default, skip_serializing_if = "is_false")]
    pub step_mode: bool,
    /// The plan, when the runbook changed since the last session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<Planned>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Excluded {
    pub steps: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepStart {
    pub step: String,
    /// Line of the step's block in the runbook.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub line: usize,
    pub attempt: u32,
    /// The rendered command, redacted.
    pub command: String,
    /// sha256 of `command`: a resume re-runs a passed step whose command changed.
    pub command_hash: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub undo: bool,
    /// The step's language when it is not bash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The step owns the terminal.
    #[serde(default, skip_serializing_if = "is_false")]
    pub interactive: bool,
    /// Where this start's output begins in the step's log, in bytes: a
    /// re-run (a resume, a continuation, an undo block) appends to the log
    /// of the same step, and this is where one run of it ends and the next
    /// begins ([`crate::run::attempts`]). `None` in journals written before
    /// it was recorded (their logs read as one), and for manual steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_from: Option<u64>,
}

/// A step's process started: its process group, and when its leader started
/// (ms since boot), so a resume can kill what is left of it even where its
/// environment was reset (`env -i`, `sudo`), and never a later group that
/// reuses the number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spawned {
    pub step: String,
    pub pgid: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born_ms: Option<u64>,
}

/// What was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Question {
    /// Run this step? (`confirm`, or the env's confirm policy)
    Confirm,
    /// A manual checklist: done?
    Manual,
    /// `--step`: continue, skip or quit?
    Step,
    /// Run the env guard? (rehearsal scenarios only)
    Guard,
    /// The step failed in an earlier session: run it again?
    Retry,
    /// Ctrl-C: quit, roll back or continue?
    CtrlC,
    /// Roll back: run this undo block?
    Undo,
    /// An unfinished run of the runbook and env: resume it (`yes`), or
    /// start a fresh run (`no`)? Recorded in the run it goes on with: the
    /// resumed run, or the new one (naming the declined run in `run`).
    Resume,
    /// `--take-over`: take the run over from the engine playing it?
    TakeOver,
    /// A variable without a value: what is it? (`var` names it; the value
    /// is the session's, in its `vars`, a secret as `***`.)
    Variable,
}

/// The answer given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    Yes,
    No,
    Skip,
    Quit,
    RollBack,
    Continue,
    /// A value was typed (the `variable` question).
    Given,
}

/// How the answer was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// Typed at the prompt.
    Prompt,
    /// `--yes`.
    Yes,
    /// Nobody answered in time: the default.
    Timeout,
    /// A rehearsal scenario.
    Scenario,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub question: Question,
    pub reply: Reply,
    pub how: How,
    /// `user@host`.
    pub by: String,
    /// When the question was asked (the entry's `at` is when it was answered).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub asked: String,
    /// The step's `confirm` text as asked: rendered, secrets masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    /// The run the question was about, when it is not the run the answer
    /// is recorded in: the unfinished run a `no` to the resume question
    /// left for a new run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The variable the `variable` question asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub var: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Guard {
    pub passed: bool,
    pub command: String,
    /// The regex its output must match.
    #[serde(default)]
    pub expect: String,
    #[serde(default)]
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepEnd {
    pub step: String,
    pub status: StepStatus,
    pub exit: Option<i32>,
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub command_hash: Option<String>,
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub captures: BTreeMap<String, String>,
    /// Captures that hold a secret, which the journal never does: a resume
    /// runs the step again rather than restore `***`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unrestorable: Vec<String>,
    /// What `steps.<id>.stdout` holds (redacted), kept when a template of
    /// the runbook reads it; `None` when nothing does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// `stdout` needed redaction: a resume runs the step again rather than
    /// decide on `***`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stdout_redacted: bool,
    /// The step printed more stdout than the engine keeps (its first MiB):
    /// `steps.<id>.stdout`, its capture and its `expect` saw only that.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stdout_cut: bool,
    /// The last lines of output (stdout and stderr), redacted.
    #[serde(default)]
    pub tail: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub undo: bool,
    /// Runs of the step in this end (retries count; 0: decided without running).
    #[serde(default = "one")]
    pub attempts: u32,
    /// Each attempt's exit, in order, when there was more than one (`null`:
    /// ended by a signal); `exit` is the last one's, or none when the step
    /// was interrupted between attempts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exits: Vec<Option<i32>>,
    /// This failure stops the play (`on-fail=stop`): in the same event, so
    /// that no crash can come between the failure and the stop.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stop: bool,
}

/// Why a play stops starting steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopKind {
    Failed,
    Refused,
    Interrupted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stop {
    pub kind: StopKind,
    pub why: String,
    /// The operator asked for the rollback (Ctrl-C, `r`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub roll_back: bool,
    /// Running steps are killed (a signal, the play's timeout), rather than
    /// left to finish (a failure, a refusal).
    #[serde(default, skip_serializing_if = "is_false")]
    pub cancel: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rollback {
    /// The undo blocks to run, in order.
    pub undo: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    #[serde(default)]
    pub step: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunEnd {
    pub status: RunStatus,
    #[serde(default)]
    pub rolled_back: bool,
    pub message: Option<String>,
}

fn first_format() -> u32 {
    1
}

fn one() -> u32 {
    1
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_serde() {
        assert_eq!(StepStatus::NotRun.name(), "not-run");
        assert_eq!(RunStatus::Refused.name(), "refused");
        assert_eq!(name(&Question::CtrlC), "ctrl-c");
        assert_eq!(name(&Reply::RollBack), "roll-back");
    }

    #[test]
    fn an_entry_is_one_flat_object() {
        let e = Entry {
            seq: 3,
            at: "2026-12-02T00:00:00.000Z".into(),
            event: Event::Note(Note { step: Some("a".into()), text: "hi".into() }),
        };
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(line, r#"{"seq":3,"at":"2026-12-02T00:00:00.000Z","event":"note","step":"a","text":"hi"}"#);
        let back: Entry = serde_json::from_str(&line).unwrap();
        assert_eq!(back.seq, 3);
        assert!(matches!(back.event, Event::Note(n) if n.text == "hi"));
    }

    #[test]
    fn first_format_lines_still_read() {
        let lines = [
            r#"{"event":"run-start","v":1,"run":"r","runbook":"a","path":"runbooks/a.md","hash":"h","env":"local","vars":{"x":{"value":"1","origin":"set","secret":false}},"operator":"u@h","pid":7,"at":"2026-11-30T00:00:00.000Z"}"#,
            r#"{"event":"resume","operator":"u@h","pid":8,"hash":"h","at":"2026-11-30T00:01:00.000Z"}"#,
            r#"{"event":"step-start","step":"a","attempt":1,"command":"echo","command_hash":"c","undo":false,"at":"2026-11-30T00:00:00.000Z"}"#,
            r#"{"event":"spawned","step":"a","pgid":12,"born_ms":99}"#,
            r#"{"event":"step-end","step":"a","status":"passed","exit":0,"duration_ms":3,"command_hash":"c","reason":null,"captures":{},"unrestorable":[],"tail":"","undo":false,"at":"2026-11-30T00:00:00.000Z"}"#,
            r#"{"event":"run-end","status":"passed","rolled_back":false,"message":null,"at":"2026-11-30T00:00:00.000Z"}"#,
        ];
        for l in lines {
            let e: Entry = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(e.seq, 0);
        }
        let e: Entry = serde_json::from_str(lines[0]).unwrap();
        let Event::RunStart(r) = e.event else { panic!() };
        assert_eq!((r.v, r.vars["x"].text()), (1, "1".to_string()));
        let e: Entry = serde_json::from_str(lines[4]).unwrap();
        let Event::StepEnd(s) = e.event else { panic!() };
        assert_eq!((s.attempts, s.stdout), (1, None));
    }
}

//! Recorded runs (`runbook runs`) and the incident report of one run
//! (`runbook report RUN_ID`), both folds of the runs' events (SPEC §6), from
//! whichever store holds them.
//!
//! The report covers every session of a run: who played it, every answer
//! given (who, what, how, when: the audit of approvals), each step once with
//! its attempts and sessions, and the timeline of every step's end. The
//! events never hold a secret, so neither does the report.

mod markdown;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Diagnostic, Error, Result};
use crate::run::event::{Answering, VarRecord, name};
use crate::run::{Event, RunState, StepStatus};
use crate::store::Store;
pub use markdown::{markdown, utc};

/// A run as listed by `runbook runs`.
#[derive(Debug, Serialize)]
pub struct RunRow {
    pub run: String,
    pub runbook: String,
    pub env: String,
    /// passed, failed, interrupted, refused, running, `unfinished` (crashed:
    /// resumable), or `corrupt`.
    pub status: String,
    pub operator: String,
    pub started: String,
    pub ended: Option<String>,
    pub passed: usize,
    pub failed: usize,
    pub steps: usize,
    pub resumable: bool,
    /// Sessions of the run (1 + resumes and continuations).
    pub sessions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `running` while the engine of the latest session lives (on this host),
/// else the end's status, or `unfinished`.
pub fn status_of(st: &RunState) -> String {
    let pid = st.sessions.last().map_or(0, |s| s.pid);
    match &st.end {
        Some(e) => e.status.name().to_string(),
        None if pid != 0 && crate::store::local::lock::alive(pid) && pid != std::process::id() => "running".into(),
        None => "unfinished".into(),
    }
}

/// [`status_of`], told by a shared store which runs are played on any machine.
pub fn status_in(store: &dyn Store, id: &str, st: &RunState) -> Result<String> {
    let status = status_of(st);
    if st.end.is_some() {
        return Ok(status);
    }
    Ok(match store.playing()? {
        Some(p) => if p.iter().any(|r| r == id) { "running" } else { "unfinished" }.into(),
        None => status,
    })
}

/// The row of a run whose events cannot be read: listed, never resumable
/// (`--resume` refuses it, naming the damaged line).
pub fn corrupt_row(id: &str, error: String) -> RunRow {
    RunRow { status: "corrupt".into(), error: Some(error), resumable: false, ..row(id, &RunState::default()) }
}

/// The row of a run from its state.
pub fn row(id: &str, st: &RunState) -> RunRow {
    let (passed, failed, steps) = st.counts();
    RunRow {
        run: id.to_string(),
        runbook: st.runbook.clone(),
        env: st.env.clone(),
        status: status_of(st),
        operator: st.sessions.first().map(|s| s.operator.clone()).unwrap_or_default(),
        started: st.started.clone(),
        ended: st.ended.clone(),
        passed,
        failed,
        steps,
        resumable: st.resumable(),
        sessions: st.sessions.len(),
        error: None,
    }
}

/// Every recorded run, oldest first. An unreadable run is listed with its error.
pub fn list(store: &dyn Store) -> Result<Vec<RunRow>> {
    let playing = store.playing()?;
    Ok(store
        .runs()?
        .into_iter()
        .map(|id| match store.events(&id) {
            Ok(events) => {
                let mut r = row(&id, &RunState::from_entries(&events));
                // A shared store knows what is played on every machine.
                if let Some(p) = &playing
                    && r.ended.is_none()
                    && matches!(r.status.as_str(), "running" | "unfinished")
                {
                    r.status = if p.contains(&id) { "running" } else { "unfinished" }.into();
                }
                r
            }
            Err(e) => corrupt_row(&id, e.to_string()),
        })
        .collect())
}

/// A run id by id, unique prefix, or `latest`.
pub fn find(store: &dyn Store, arg: &str) -> Result<String> {
    let ids = store.runs()?;
    if arg == "latest" {
        // Newest by start time (ids sort by time) that can be read: a damaged
        // run is listed by `runs`, and named by its id.
        if ids.is_empty() {
            return Err(no_runs(store));
        }
        return ids.iter().rev().find(|id| store.events(id).is_ok()).cloned().ok_or_else(|| no_runs(store));
    }
    if ids.iter().any(|d| d == arg) {
        return Ok(arg.to_string());
    }
    let m: Vec<&String> = ids.iter().filter(|d| d.starts_with(arg)).collect();
    match m.as_slice() {
        [one] => Ok((*one).clone()),
        [] if ids.is_empty() => Err(no_runs(store)),
        [] => Err(Error::invalid(
            Diagnostic::error("unknown-run", format!("no run `{arg}` in {}", store.name()))
                .hint("`runbook runs` lists the runs; `runbook report latest` shows the newest"),
        )),
        many => Err(Error::invalid(
            Diagnostic::error(
                "ambiguous-run",
                format!(
                    "`{arg}` matches {} runs: {}",
                    many.len(),
                    many.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
            .hint("type more of the run id"),
        )),
    }
}

fn no_runs(store: &dyn Store) -> Error {
    Error::invalid(
        Diagnostic::error("no-runs", format!("no recorded runs in {}", store.name()))
            .hint("runs are recorded by `runbook play`"),
    )
}

/// One end of a step, in the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub step: String,
    pub undo: bool,
    /// The session it ran (or was decided) in.
    pub session: u32,
    pub started: Option<String>,
    pub ended: String,
    pub status: StepStatus,
    pub exit: Option<i32>,
    pub duration_ms: Option<u64>,
    pub command: String,
    pub reason: Option<String>,
    /// Values the step captured (`capture=`), as the journal has them (secrets redacted).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub captures: BTreeMap<String, String>,
    pub tail: String,
    /// The step's language when it is not bash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Attempts made, when `retry` took more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// promql/logql steps: the dashboard view of the query and its window, `(label, url)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<(String, String)>,
}

/// A step as the run left it: once, whatever the sessions and retries.
#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub step: String,
    pub undo: bool,
    pub status: StepStatus,
    /// Runs of the step across the run (each session's attempts).
    pub runs: u32,
    pub sessions: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Note {
    pub at: String,
    pub step: Option<String>,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct Session {
    pub n: u32,
    /// `start`, `resume`, `continue`, `take-over`.
    pub kind: String,
    pub operator: String,
    pub at: String,
    /// How questions were answered: `ask`, `yes`, `refuse`, `scenario`.
    pub answering: String,
}

#[derive(Debug, Serialize)]
pub struct Approval {
    pub at: String,
    pub asked: String,
    pub session: u32,
    pub step: Option<String>,
    pub question: String,
    pub reply: String,
    /// `prompt`, `yes` (`--yes`), `timeout`, `scenario`.
    pub how: String,
    pub by: String,
}

/// The report of one run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub run: String,
    pub runbook: String,
    pub path: String,
    pub hash: String,
    pub env: String,
    pub vars: BTreeMap<String, VarRecord>,
    /// The mode the run was played in (`--read-only`, `--only`, …).
    pub mode: Vec<String>,
    pub operator: String,
    pub started: String,
    pub ended: Option<String>,
    pub status: String,
    pub rolled_back: bool,
    pub message: Option<String>,
    pub sessions: Vec<Session>,
    pub approvals: Vec<Approval>,
    /// Each step once, in document order of first appearance.
    pub steps: Vec<StepRow>,
    /// Every step end, in the order it happened.
    pub timeline: Vec<Entry>,
    pub notes: Vec<Note>,
}

pub fn load(store: &dyn Store, run: &str, root: Option<&Path>) -> Result<Report> {
    let events = store.events(run)?;
    Ok(build(&events, root))
}

/// The report of a run's events.
pub fn build(events: &[crate::run::Entry], root: Option<&Path>) -> Report {
    let st = RunState::from_entries(events);
    let mut timeline = Vec::new();
    let mut starts: std::collections::HashMap<String, (String, String, Option<String>)> = Default::default();
    let mut session = 0;
    for e in events {
        match &e.event {
            Event::RunStart(_) => session = 1,
            Event::Session(s) => session = if s.n > 0 { s.n } else { session + 1 },
            Event::StepStart(s) => {
                starts.insert(s.step.clone(), (e.at.clone(), s.command.clone(), s.lang.clone()));
            }
            Event::StepEnd(s) => {
                let (started, command, lang) = match starts.remove(&s.step) {
                    Some((a, c, l)) => (Some(a), c, l),
                    None => (None, String::new(), None),
                };
                timeline.push(Entry {
                    step: s.step.clone(),
                    undo: s.undo,
                    session,
                    started,
                    ended: e.at.clone(),
                    status: s.status,
                    exit: s.exit,
                    duration_ms: s.duration_ms,
                    command,
                    reason: s.reason.clone(),
                    captures: s.captures.clone(),
                    tail: s.tail.clone(),
                    attempts: (s.attempts > 1).then_some(s.attempts),
                    lang,
                    link: None,
                });
            }
            _ => {}
        }
    }
    // Steps that started and never ended (the engine was killed).
    for (step, (at, command, lang)) in starts {
        let s = st.step(&step);
        timeline.push(Entry {
            step,
            undo: s.is_some_and(|s| s.undo),
            session: s.map_or(session, |s| s.session),
            started: Some(at.clone()),
            ended: at,
            status: StepStatus::Interrupted,
            exit: None,
            duration_ms: None,
            command,
            reason: Some("in flight when the engine stopped (no end recorded)".into()),
            captures: BTreeMap::new(),
            tail: String::new(),
            attempts: None,
            lang,
            link: None,
        });
    }
    let links = crate::observe::report::Links::new(Path::new(&st.path), root, &st.vars);
    for e in &mut timeline {
        e.link = links.link(&e.step, &e.command, e.started.as_deref(), &e.ended);
    }
    let mut steps: Vec<StepRow> = st
        .steps
        .iter()
        .filter_map(|(id, s)| {
            let status = if s.lost { StepStatus::Interrupted } else { s.status? };
            let runs = timeline.iter().filter(|e| &e.step == id).map(|e| e.attempts.unwrap_or(1)).sum::<u32>();
            let runs = runs - timeline.iter().filter(|e| &e.step == id && e.started.is_none()).count() as u32;
            Some(StepRow {
                step: id.clone(),
                undo: s.undo,
                status,
                runs,
                sessions: s.sessions.clone(),
                excluded: s.excluded.clone(),
            })
        })
        .collect();
    // What the plan had and the run never reached.
    for p in st.plan.iter().filter(|p| !p.undo && st.step(&p.id).is_none()) {
        steps.push(StepRow {
            step: p.id.clone(),
            undo: false,
            status: StepStatus::NotRun,
            runs: 0,
            sessions: Vec::new(),
            excluded: None,
        });
    }
    let sessions = st
        .sessions
        .iter()
        .map(|s| Session {
            n: s.n,
            kind: s.kind.map_or("start", |k| name(&k)).to_string(),
            operator: s.operator.clone(),
            at: s.at.clone(),
            answering: name::<Answering>(&s.answering).to_string(),
        })
        .collect();
    let approvals = st
        .answers
        .iter()
        .map(|a| Approval {
            at: a.at.clone(),
            asked: a.answer.asked.clone(),
            session: a.session,
            step: a.answer.step.clone(),
            question: name(&a.answer.question).to_string(),
            reply: name(&a.answer.reply).to_string(),
            how: name(&a.answer.how).to_string(),
            by: a.answer.by.clone(),
        })
        .collect();
    let notes =
        st.notes.iter().map(|n| Note { at: n.at.clone(), step: n.step.clone(), text: n.text.clone() }).collect();
    Report {
        status: status_of(&st),
        run: st.run.clone(),
        runbook: st.runbook.clone(),
        path: st.path.clone(),
        hash: st.hash.clone(),
        env: st.env.clone(),
        vars: st.vars.clone(),
        mode: st.mode.words(),
        operator: st.sessions.first().map(|s| s.operator.clone()).unwrap_or_default(),
        started: st.started.clone(),
        ended: st.ended.clone(),
        rolled_back: st.end.as_ref().is_some_and(|e| e.rolled_back),
        message: st.end.as_ref().and_then(|e| e.message.clone()),
        sessions,
        approvals,
        steps,
        timeline,
        notes,
    }
}

//! Recorded runs (`runbook runs`) and the incident report of one run
//! (`runbook report RUN_ID`), both folds of the runs' events (SPEC §6), from
//! whichever store holds them.
//!
//! The report covers every session of a run: who played it and how each
//! session ended, every answer given (who, what, how, when: the audit of
//! approvals), each step once with its attempts and sessions, and the
//! timeline of every step's end. The events never hold a secret, so neither
//! does the report. Whether the run's engine still plays is not in its
//! events: the report is built with the run's status ([`status_in`]), so a
//! step in flight reads as running, not lost, while it runs.

pub mod counts;
mod markdown;
pub mod shown;
pub mod timeline;
pub mod times;
pub mod vars;
pub mod versions;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Diagnostic, Error, Result};
use crate::run::RunState;
use crate::run::event::{Answering, VarRecord, name};
use crate::store::Store;
pub use counts::Counts;
pub use markdown::{duration_and_note, markdown};
pub use shown::Shown;
pub use timeline::{Entry, Row};
pub use times::{clock, utc};

/// A run as listed by `runbook runs`.
#[derive(Debug, Serialize)]
pub struct RunRow {
    pub run: String,
    pub runbook: String,
    pub env: String,
    /// passed, failed, interrupted, refused, running, `unfinished` (crashed:
    /// resumable), or `corrupt`.
    pub status: String,
    /// Who started it.
    pub operator: String,
    /// Who played it, session by session, one name per hand-over: the last
    /// one plays it now (or did last). `runs` shows `alice@a → bob@b`.
    pub operators: Vec<String>,
    pub started: String,
    pub ended: Option<String>,
    /// [`Counts`]: `passed` of the `steps` the run is to play (`runs`'
    /// PASSED `passed/steps`), as the report counts them.
    pub passed: usize,
    pub failed: usize,
    pub steps: usize,
    /// `--resume` would go on with it: not finished, and the latest run of
    /// its runbook@env ([`list`]).
    pub resumable: bool,
    /// Sessions of the run (1 + resumes and continuations).
    pub sessions: usize,
    /// The mode in force, as the report's `mode` (`--read-only`, `--only
    /// x`, …): none for a write run of every step.
    pub mode: Vec<String>,
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
    let status = status_of(st);
    let c = Counts::of(&step_rows(st, status == "running", &|_| 0));
    let (passed, failed, steps) = (c.passed, c.failed, c.to_play);
    RunRow {
        run: id.to_string(),
        runbook: st.runbook.clone(),
        env: st.env.clone(),
        status,
        operator: st.sessions.first().map(|s| s.operator.clone()).unwrap_or_default(),
        operators: hands(st),
        started: st.started.clone(),
        ended: st.ended.clone(),
        passed,
        failed,
        steps,
        resumable: st.resumable(),
        sessions: st.sessions.len(),
        mode: st.mode.words(),
        error: None,
    }
}

/// The operators of a run's sessions in order, a name repeated by the next
/// session once.
pub fn hands(st: &RunState) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &st.sessions {
        if out.last() != Some(&s.operator) {
            out.push(s.operator.clone());
        }
    }
    out
}

impl RunRow {
    /// Its mode as `runs` shows it: `read-only` triage or a `write` run,
    /// and how the mode narrows it (`write --only b`).
    pub fn mode_said(&self) -> String {
        let kind = if self.mode.iter().any(|m| m == "--read-only") { "read-only" } else { "write" };
        let rest = self.mode.iter().filter(|m| *m != "--read-only");
        std::iter::once(kind.to_string()).chain(rest.cloned()).collect::<Vec<_>>().join(" ")
    }

    /// Its operators as `runs` and the runs page show them: `alice@a → bob@b`.
    pub fn hands(&self) -> String {
        self.operators.join(" → ")
    }
}

/// Every recorded run, oldest first. An unreadable run is listed with its error.
pub fn list(store: &dyn Store) -> Result<Vec<RunRow>> {
    let playing = store.playing()?;
    let mut rows: Vec<RunRow> = store
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
        .collect();
    supersede(&mut rows);
    Ok(rows)
}

/// `--resume` continues the latest run of a runbook@env (the greatest id, as
/// `Store::latest` has it): an earlier row is not resumable.
pub fn supersede(rows: &mut [RunRow]) {
    let mut latest: std::collections::HashMap<(&str, &str), &str> = std::collections::HashMap::new();
    for r in rows.iter().filter(|r| !r.runbook.is_empty()) {
        let l = latest.entry((&r.runbook, &r.env)).or_insert(&r.run);
        if natord::compare(&r.run, l).is_gt() {
            *l = &r.run;
        }
    }
    let superseded: Vec<bool> =
        rows.iter().map(|r| latest.get(&(r.runbook.as_str(), r.env.as_str())).is_some_and(|l| *l != r.run)).collect();
    for (r, s) in rows.iter_mut().zip(superseded) {
        r.resumable &= !s;
    }
}

/// Is `run` (of `runbook`@`env`) the run `--resume` would continue, the
/// latest of its runbook@env? A later run supersedes it.
pub fn is_latest(store: &dyn Store, run: &str, runbook: &str, env: &str) -> Result<bool> {
    Ok(store.latest(runbook, env)?.is_none_or(|l| l.id == run))
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

/// A step as the run left it: once, whatever the sessions and retries.
#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub step: String,
    pub undo: bool,
    pub status: Shown,
    /// Runs of the step across the run (each session's attempts).
    pub runs: u32,
    pub sessions: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
    /// Not in the runbook the latest session played (renamed or removed):
    /// the last session whose runbook had it. Not counted with the run's
    /// steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct Note {
    pub at: String,
    pub step: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub n: u32,
    /// The sha256 of the runbook it played ([`versions`]).
    pub hash: String,
    /// `start`, `resume`, `continue`, `take-over`.
    pub kind: String,
    pub operator: String,
    pub at: String,
    /// How questions were answered: `ask`, `yes`, `refuse`, `scenario`.
    pub answering: String,
    /// When its end was recorded (`None`: it plays, or its engine stopped
    /// without recording one).
    pub ended: Option<String>,
    /// How it ended: `passed`, `failed`, `interrupted`, `refused`; `running`
    /// while it plays; `taken-over` when another engine took the run over
    /// from it; `unfinished` when its engine stopped without an end.
    pub status: String,
    /// Why it ended so (the run end's message): the signal, the refusal,
    /// the failure.
    pub why: Option<String>,
    /// The time of its latest event (where an engine that recorded no end
    /// was last heard of).
    pub last_event: String,
    /// Who took the run over from this session's engine, and when (the
    /// next session's start, a `take-over`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken_over: Option<TakenOver>,
    /// Where every timeline places its end: when it was recorded, the
    /// take-over's start, or its engine's last event (`None` while it plays).
    pub end_at: Option<String>,
    /// What every timeline says of its end: why it ended so, who took it
    /// over, or that no end was recorded.
    pub end_note: Option<String>,
    /// Its guard, once it ran (output masked, as the journal has it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<crate::run::event::Guard>,
    /// The mode it played in, as flags (`--from c`; empty: every step).
    pub mode: Vec<String>,
}

/// The last session whose runbook had step `id`, when the latest one's has
/// it no longer: where it last ran, or where an earlier plan had it.
fn dropped(st: &RunState, id: &str) -> Option<u32> {
    if st.in_runbook(id) || st.step(id).is_some_and(|s| s.undo) {
        return None;
    }
    st.dropped.get(id).copied().max(st.step(id).and_then(|s| s.sessions.last().copied()))
}

/// How an answer was given, in the words of every view.
pub fn how_said(how: &str) -> &str {
    match how {
        "yes" => "--yes",
        "prompt" => "at the prompt",
        "timeout" => "no answer in time (default)",
        "scenario" => "rehearsal scenario",
        other => other,
    }
}

/// Session `i` of a run as every view shows it (`live` while the run's
/// engine plays): the one place a session's end is told.
fn session(st: &RunState, i: usize, live: bool, hash: String) -> Session {
    let s = &st.sessions[i];
    let taken_over = st
        .sessions
        .get(i + 1)
        .filter(|next| s.end.is_none() && next.kind == Some(crate::run::event::SessionKind::TakeOver))
        .map(|next| TakenOver { by: next.operator.clone(), at: next.at.clone() });
    let why = s.end.as_ref().and_then(|e| e.message.clone());
    let last = clock(&s.last);
    let (status, end_at, end_note) = match (&s.end, &taken_over) {
        (Some(e), _) => (
            e.status.name().to_string(),
            s.ended.clone(),
            why.as_deref().map(|w| w.lines().next().unwrap_or("").to_string()),
        ),
        (None, Some(t)) => (
            "taken-over".to_string(),
            Some(t.at.clone()),
            Some(format!("taken over by {}; its engine's last event at {last}", t.by)),
        ),
        (None, None) if live && i + 1 == st.sessions.len() => ("running".to_string(), None, None),
        (None, None) => (
            "unfinished".to_string(),
            Some(s.last.clone()),
            Some(format!("no end recorded: last event at {last}, then no word from the engine")),
        ),
    };
    Session {
        n: s.n,
        hash,
        kind: s.kind.map_or("start", |k| name(&k)).to_string(),
        operator: s.operator.clone(),
        at: s.at.clone(),
        answering: name::<Answering>(&s.answering).to_string(),
        ended: s.ended.clone(),
        status,
        why,
        last_event: s.last.clone(),
        taken_over,
        end_at,
        end_note,
        guard: s.guard.clone(),
        mode: s.mode.words(),
    }
}

/// Each step of a run once, as it left it (`live` while its engine plays),
/// in document order of first appearance: what the run reached, then what
/// its plan has and it has not reached, then what an earlier session's plan
/// had and it never reached. `runs`: how many times each step ran.
fn step_rows(st: &RunState, live: bool, runs: &dyn Fn(&str) -> u32) -> Vec<StepRow> {
    let mut steps: Vec<StepRow> = st
        .steps
        .iter()
        .filter(|(_, s)| s.status.is_some() || s.in_flight())
        .map(|(id, s)| StepRow {
            step: id.clone(),
            undo: s.undo,
            status: shown::step(st, id, live),
            runs: runs(id),
            sessions: s.sessions.clone(),
            excluded: s.excluded.clone(),
            dropped: dropped(st, id),
        })
        .collect();
    // What the plan had and the run has not reached (or never did), then
    // what an earlier session's plan had and the run never reached.
    for p in st.plan.iter().filter(|p| !p.undo && st.step(&p.id).is_none()) {
        steps.push(StepRow {
            step: p.id.clone(),
            undo: false,
            status: shown::step(st, &p.id, live),
            runs: 0,
            sessions: Vec::new(),
            excluded: None,
            dropped: None,
        });
    }
    for (id, n) in st.dropped.iter().filter(|(id, _)| st.step(id).is_none()) {
        steps.push(StepRow {
            step: id.clone(),
            undo: false,
            status: Shown::NotRun,
            runs: 0,
            sessions: Vec::new(),
            excluded: None,
            dropped: Some(*n),
        });
    }
    steps
}

/// A take-over of a session's run: by whom, when.
#[derive(Debug, Clone, Serialize)]
pub struct TakenOver {
    pub by: String,
    pub at: String,
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
    /// `how` as every view words it: `--yes`, `at the prompt`, …
    pub how_said: String,
    pub by: String,
    /// The `confirm` text asked (rendered, secrets masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    /// The other run the question was about: the unfinished run a `no` to
    /// the resume question did not resume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The variable the `variable` question asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub var: Option<String>,
}

/// The report of one run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub run: String,
    pub runbook: String,
    pub path: String,
    /// The sha256 of the runbook the latest session played.
    pub hash: String,
    /// Each version of the runbook the run's sessions played, and the steps
    /// that ran under it: one unless the runbook was edited between sessions.
    pub versions: Vec<versions::Version>,
    pub env: String,
    /// The values in force at the end (a later session's overlay the
    /// earlier ones').
    pub vars: BTreeMap<String, VarRecord>,
    /// The variables whose value changed between sessions: each value with
    /// the session that gave it ([`vars::changes`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub var_changes: BTreeMap<String, Vec<vars::SessionValue>>,
    /// The mode the run was played in (`--read-only`, `--only`, …).
    pub mode: Vec<String>,
    pub operator: String,
    pub started: String,
    pub ended: Option<String>,
    pub status: String,
    /// The rollback ran and every undo block of it passed.
    pub rolled_back: bool,
    /// The undo blocks of an ended run's rollback that did not pass, in
    /// the rollback's order.
    pub rollback_incomplete: Vec<String>,
    /// `--resume` can go on with the run: it is not running, and it is the
    /// latest of its runbook@env ([`load`]).
    pub resumable: bool,
    pub message: Option<String>,
    pub sessions: Vec<Session>,
    pub approvals: Vec<Approval>,
    /// Each step once, in document order of first appearance.
    pub steps: Vec<StepRow>,
    /// What the run counts ([`Counts`]), as `runs` does.
    pub counts: Counts,
    /// Every run of a step, in the order it started (a step decided
    /// without running: when it was decided).
    pub timeline: Vec<Entry>,
    pub notes: Vec<Note>,
}

pub fn load(store: &dyn Store, run: &str, root: Option<&Path>) -> Result<Report> {
    let events = store.events(run)?;
    let st = RunState::from_entries(&events);
    let status = status_in(store, run, &st)?;
    let mut r = build(&events, status, root);
    r.resumable = r.resumable && is_latest(store, run, &st.runbook, &st.env)?;
    lost_output(store, run, &events, &mut r.timeline);
    Ok(r)
}

/// Lines of a lost run's output the report shows, as of a step's end
/// (`runner::output`'s tail).
const LOST_LINES: usize = 20;

/// The output of each run of a step that no end recorded (its engine was
/// killed), from its part of the step's log: the journal has no tail for it.
/// A log that cannot be read leaves it without (the events are the record).
pub fn lost_output(store: &dyn Store, run: &str, events: &[crate::run::Entry], timeline: &mut [Entry]) {
    for e in timeline.iter_mut().filter(|e| e.ended.is_none() && e.status == Shown::Interrupted) {
        // A step that ran once is not numbered: it is run 1.
        let n = e.attempt.unwrap_or(1);
        let Ok(Some(log)) = store.log(run, &e.step) else { continue };
        let runs = crate::run::attempts::of(events, &e.step, log.len() as u64, false);
        let (from, to) = match runs.iter().find(|a| a.undo == e.undo && a.n == n) {
            Some(a) => (a.from as usize, a.to as usize),
            // A journal that does not say where each run begins: the log
            // is the one run's.
            None if runs.is_empty() && e.attempt.is_none() => (0, log.len()),
            None => continue,
        };
        let part = String::from_utf8_lossy(&log[from..to]);
        let lines: Vec<&str> = part.lines().collect();
        e.tail = lines[lines.len().saturating_sub(LOST_LINES)..].join("\n");
    }
}

/// The report of a run's events; `status` as [`status_in`] tells it (the
/// journal cannot say whether its engine still runs).
pub fn build(events: &[crate::run::Entry], status: String, root: Option<&Path>) -> Report {
    let st = RunState::from_entries(events);
    let live = status == "running";
    let mut timeline = timeline::entries(events, live);
    let links = crate::observe::report::Links::new(Path::new(&st.path), root, &st.vars);
    for e in &mut timeline {
        let Some(at) = e.ended.as_deref().or(e.started.as_deref()) else { continue };
        e.link = links.link(&e.step, &e.command, e.started.as_deref(), at);
    }
    let runs = |id: &str| {
        let ran = timeline.iter().filter(|e| e.step == id && e.started.is_some());
        ran.map(|e| e.attempts.unwrap_or(1)).sum::<u32>()
    };
    let steps = step_rows(&st, live, &runs);
    let mut hashes = versions::of_sessions(events).into_iter();
    let sessions: Vec<Session> =
        (0..st.sessions.len()).map(|i| session(&st, i, live, hashes.next().unwrap_or_default())).collect();
    let played: Vec<(u32, String)> = sessions.iter().map(|s| (s.n, s.hash.clone())).collect();
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
            how_said: how_said(name(&a.answer.how)).to_string(),
            by: a.answer.by.clone(),
            confirm: a.answer.confirm.clone(),
            run: a.answer.run.clone(),
            var: a.answer.var.clone(),
        })
        .collect();
    let notes =
        st.notes.iter().map(|n| Note { at: n.at.clone(), step: n.step.clone(), text: n.text.clone() }).collect();
    let rollback_incomplete: Vec<String> = match &st.end {
        Some(_) => st.rollback_incomplete().into_iter().map(String::from).collect(),
        None => Vec::new(),
    };
    Report {
        resumable: st.resumable() && !live,
        status,
        run: st.run.clone(),
        runbook: st.runbook.clone(),
        path: st.path.clone(),
        hash: st.hash.clone(),
        versions: versions::versions(&played, &timeline),
        env: st.env.clone(),
        vars: st.vars.clone(),
        var_changes: vars::changes(events),
        mode: st.mode.words(),
        operator: st.sessions.first().map(|s| s.operator.clone()).unwrap_or_default(),
        started: st.started.clone(),
        ended: st.ended.clone(),
        rolled_back: st.end.as_ref().is_some_and(|e| e.rolled_back) && rollback_incomplete.is_empty(),
        rollback_incomplete,
        message: st.end.as_ref().and_then(|e| e.message.clone()),
        sessions,
        approvals,
        counts: Counts::of(&steps),
        steps,
        timeline,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run killed during `fix`, resumed without `--yes` (refused), then
    /// resumed again and playing `fix`.
    const JOURNAL: &str = r#"{"seq":1,"at":"2026-12-02T09:19:00.000Z","event":"run-start","v":2,"run":"r","runbook":"inc","path":"runbooks/inc.md","hash":"h","env":"devnet","operator":"u@h","pid":1,"plan":[{"id":"check"},{"id":"fix"},{"id":"verify"}]}
{"seq":2,"at":"2026-12-02T09:19:01.000Z","event":"step-start","step":"check","attempt":1,"command":"echo ok","command_hash":"c"}
{"seq":3,"at":"2026-12-02T09:19:02.000Z","event":"step-end","step":"check","status":"passed","exit":0,"duration_ms":1000,"reason":null,"tail":"ok"}
{"seq":4,"at":"2026-12-02T09:19:03.000Z","event":"step-start","step":"fix","attempt":1,"command":"fix it","command_hash":"f"}
{"seq":5,"at":"2026-12-02T09:25:00.000Z","event":"session","n":2,"kind":"resume","operator":"u@h","pid":2,"answering":"refuse"}
{"seq":6,"at":"2026-12-02T09:25:01.000Z","event":"run-end","status":"refused","rolled_back":false,"message":"step `fix` needs an answer"}
{"seq":7,"at":"2026-12-02T09:30:00.000Z","event":"session","n":3,"kind":"resume","operator":"u@h","pid":3,"answering":"yes"}
{"seq":8,"at":"2026-12-02T09:30:01.000Z","event":"step-start","step":"fix","attempt":1,"command":"fix it","command_hash":"f"}
"#;

    fn events() -> Vec<crate::run::Entry> {
        JOURNAL.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn timeline(md: &str) -> &str {
        let from = md.find("## Timeline").unwrap();
        let to = md[from..].find("\n## ").map_or(md.len(), |i| from + i);
        &md[from..to]
    }

    #[test]
    fn a_value_with_backticks_or_a_pipe_stays_one_code_span_in_the_variables_row() {
        let start = JOURNAL.lines().next().unwrap().replace(
            r#""plan":"#,
            r#""vars":{"msg":{"value":"a|b`c","origin":"set","secret":false},"n":{"value":3,"origin":"set","secret":false}},"plan":"#,
        );
        let r = build(&[serde_json::from_str(&start).unwrap()], "passed".into(), None);
        let md = markdown(&r);
        assert!(md.contains("| Variables | ``msg=a\\|b`c``, `n=3` |\n"), "{md}");
    }

    /// Resumed twice: `--set replicas=3` kept by session 2, then
    /// `--set replicas=5` in session 3; a secret stays masked.
    #[test]
    fn a_variable_that_changed_between_sessions_shows_each_value_with_its_session() {
        let vars = |replicas: u32| {
            format!(
                r#""vars":{{"replicas":{{"value":{replicas},"origin":"set","secret":false}},"ns":{{"value":"x","origin":"front-matter","secret":false}},"token":{{"value":"***","origin":"env","secret":true}}}},"#
            )
        };
        let lines: Vec<String> = JOURNAL
            .lines()
            .map(|l| match l {
                l if l.contains(r#""seq":1,"#) => l.replace(r#""plan":"#, &format!("{}\"plan\":", vars(3))),
                l if l.contains(r#""seq":5,"#) => l.replace(r#""answering":"#, &format!("{}\"answering\":", vars(3))),
                l if l.contains(r#""seq":7,"#) => l.replace(r#""answering":"#, &format!("{}\"answering\":", vars(5))),
                l => l.to_string(),
            })
            .collect();
        let events: Vec<crate::run::Entry> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let md = markdown(&build(&events, "unfinished".into(), None));
        let row = md.lines().find(|l| l.starts_with("| Variables |")).unwrap_or_else(|| panic!("{md}"));
        assert_eq!(
            row,
            "| Variables | `ns=x`, `replicas=3` (session 1, --set) then `5` (session 3, --set), `token=***` |"
        );
        let one = markdown(&build(&events[..6], "unfinished".into(), None));
        assert!(one.contains("| Variables | `ns=x`, `replicas=3`, `token=***` |\n"), "{one}");
    }

    #[test]
    fn each_session_ends_in_the_timeline_and_the_step_in_flight_runs_while_the_engine_lives() {
        let r = build(&events(), "running".into(), None);
        assert_eq!(
            timeline(&markdown(&r)),
            "## Timeline\n\n\
             | Time (UTC) | Step | Status | Exit | Duration | Note |\n|---|---|---|---|---|---|\n\
             | 09:19:01 | `check` | passed | 0 | 1.0s |  |\n\
             | 09:19:03 | `fix` | interrupted |  | – | in flight when the engine stopped (no end recorded) |\n\
             | 09:19:03 | *session 1 ended* | unfinished |  | – | no end recorded: last event at 09:19:03, then no word from the engine |\n\
             | 09:25:01 | *session 2 ended* | refused |  | 1.0s | step `fix` needs an answer |\n\
             | 09:30:01 | `fix` | running |  | – |  |\n"
        );
        let shown: Vec<(&str, Shown)> = r.steps.iter().map(|s| (s.step.as_str(), s.status)).collect();
        assert_eq!(shown, [("check", Shown::Passed), ("fix", Shown::Running), ("verify", Shown::Pending)]);
        let sessions: Vec<(&str, Option<&str>)> =
            r.sessions.iter().map(|s| (s.status.as_str(), s.why.as_deref())).collect();
        assert_eq!(
            sessions,
            [("unfinished", None), ("refused", Some("step `fix` needs an answer")), ("running", None)]
        );
    }

    #[test]
    fn a_session_taken_over_ends_when_and_by_whom_it_was_taken_over_and_its_step_in_flight_says_so() {
        let journal = JOURNAL.lines().take(4).collect::<Vec<_>>().join("\n")
            + "\n"
            + r#"{"seq":5,"at":"2026-12-02T09:40:00.000Z","event":"session","n":2,"kind":"take-over","operator":"bob@vm-b","pid":9,"answering":"yes"}"#;
        let events: Vec<crate::run::Entry> = journal.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let r = build(&events, "running".into(), None);
        assert_eq!(
            timeline(&markdown(&r)),
            "## Timeline\n\n\
             | Time (UTC) | Step | Status | Exit | Duration | Note |\n|---|---|---|---|---|---|\n\
             | 09:19:01 | `check` | passed | 0 | 1.0s |  |\n\
             | 09:19:03 | `fix` | interrupted |  | – | in flight when the run was taken over by bob@vm-b (no end recorded) |\n\
             | 09:40:00 | *session 1 ended* | taken over |  | – | taken over by bob@vm-b; its engine's last event at 09:19:03 |\n"
        );
        let st = RunState::from_entries(&events);
        let fix = st.step("fix").and_then(|s| s.reason.clone());
        assert_eq!(fix.as_deref(), Some("in flight when the run was taken over by bob@vm-b (no end recorded)"));
    }

    #[test]
    fn once_the_engine_is_gone_the_step_in_flight_is_interrupted_and_the_rest_not_run() {
        let r = build(&events(), "unfinished".into(), None);
        let shown: Vec<(&str, Shown)> = r.steps.iter().map(|s| (s.step.as_str(), s.status)).collect();
        assert_eq!(shown, [("check", Shown::Passed), ("fix", Shown::Interrupted), ("verify", Shown::NotRun)]);
        let md = markdown(&r);
        assert!(md.contains("| 09:30:01 | `fix` | interrupted |  | – | in flight when the engine stopped (no end recorded) |\n| 09:30:01 | *session 3 ended* | unfinished |"), "{md}");
        assert!(md.contains("- 1 passed, 0 failed, 0 skipped, 1 not run, 1 interrupted\n"), "{md}");
    }
}

//! The timeline of a run: every run of a step in the order it started
//! (its start event's place in the journal), and where each session ended,
//! read from the run's events.
//!
//! A step started and never ended is shown where its session ended: as
//! `running` while the run's engine lives, else as interrupted with no end
//! recorded (a later session starting proves its engine had stopped). The
//! rows (step ends and session ends together) are what the markdown and the
//! live view print, in one order.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Serialize;

use super::Session;
use super::shown::Shown;
use crate::run::Event;
use crate::run::event::SessionKind;

/// One end of a step, in the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub step: String,
    pub undo: bool,
    /// The session it ran (or was decided) in.
    pub session: u32,
    /// When it began to run ([`began`]).
    pub started: Option<String>,
    /// When its start was recorded, where it began a second or more after
    /// that (it waited for the shared store to commit its start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
    /// `None` when no end was recorded: running, or lost with its engine.
    pub ended: Option<String>,
    pub status: Shown,
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
    /// Each attempt's exit, in order, when there was more than one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exits: Vec<Option<i32>>,
    /// Which run of the step this is (1, 2, …; its undo blocks counted
    /// apart), when the step ran more than once: a resume re-runs the step
    /// its killed engine was running ([`crate::run::attempts`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Who played it (`user@host` of its session's engine), where it is
    /// numbered (`attempt`) or the run has several sessions.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub operator: String,
    /// promql/logql steps: the dashboard view of the query and its window, `(label, url)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<(String, String)>,
}

/// The reason of a step whose end the journal never got.
pub const LOST: &str = "in flight when the engine stopped (no end recorded)";

/// The reason of a step in flight when its run was taken over by `by`.
pub fn taken(by: &str) -> String {
    format!("in flight when the run was taken over by {by} (no end recorded)")
}

/// A step started and not ended (yet).
struct Open {
    at: String,
    /// When its first attempt's process started (`spawned`), if recorded.
    spawned: Option<String>,
    command: String,
    lang: Option<String>,
    undo: bool,
    session: u32,
    operator: String,
    /// Which run of the step (undo blocks counted apart).
    n: u32,
    /// Its start's place in the journal.
    seq: usize,
}

impl Open {
    fn entry(self, step: String, running: bool, lost: &str) -> Entry {
        let (started, recorded) = began(&self.at, self.spawned.as_deref(), None);
        Entry {
            step,
            undo: self.undo,
            session: self.session,
            started: Some(started),
            recorded,
            ended: None,
            status: if running { Shown::Running } else { Shown::Interrupted },
            exit: None,
            duration_ms: None,
            command: self.command,
            reason: (!running).then(|| lost.to_string()),
            captures: BTreeMap::new(),
            tail: String::new(),
            lang: self.lang,
            attempts: None,
            exits: Vec::new(),
            attempt: Some(self.n),
            operator: self.operator,
            link: None,
        }
    }
}

/// The runs of steps of a run's events, in the order they started (a step
/// decided without running: where it was decided); `live` while its engine
/// runs.
pub fn entries(events: &[crate::run::Entry], live: bool) -> Vec<Entry> {
    let mut out: Vec<(usize, Entry)> = Vec::new();
    let mut open: IndexMap<String, Open> = IndexMap::new();
    let mut session = 0;
    let mut operator = String::new();
    // Runs of each step so far, by (step, undo).
    let mut runs: BTreeMap<(String, bool), u32> = BTreeMap::new();
    for (seq, e) in events.iter().enumerate() {
        match &e.event {
            Event::RunStart(r) => (session, operator) = (1, r.operator.clone()),
            Event::Session(s) => {
                // The engine of the session before stopped under these.
                let lost = if s.kind == SessionKind::TakeOver { taken(&s.operator) } else { LOST.to_string() };
                out.extend(open.drain(..).map(|(step, o)| (o.seq, o.entry(step, false, &lost))));
                session = if s.n > 0 { s.n } else { session + 1 };
                operator = s.operator.clone();
            }
            Event::StepStart(s) => {
                let n = runs.entry((s.step.clone(), s.undo)).or_insert(0);
                *n += 1;
                let o = Open {
                    at: e.at.clone(),
                    spawned: None,
                    command: s.command.clone(),
                    lang: s.lang.clone(),
                    undo: s.undo,
                    session,
                    operator: operator.clone(),
                    n: *n,
                    seq,
                };
                open.insert(s.step.clone(), o);
            }
            Event::Spawned(s) => {
                // Its first attempt's process: a retry's starts later.
                if let Some(o) = open.get_mut(&s.step) {
                    o.spawned.get_or_insert_with(|| e.at.clone());
                }
            }
            Event::StepEnd(s) => {
                let o = open.shift_remove(&s.step);
                let at = o.as_ref().map_or(seq, |o| o.seq);
                let end = s.duration_ms.map(|d| (e.at.as_str(), d));
                let (started, recorded) = match &o {
                    Some(o) => {
                        let (b, r) = began(&o.at, o.spawned.as_deref(), end);
                        (Some(b), r)
                    }
                    None => (None, None),
                };
                out.push((
                    at,
                    Entry {
                        step: s.step.clone(),
                        undo: s.undo,
                        session,
                        started,
                        recorded,
                        ended: Some(e.at.clone()),
                        status: s.status.into(),
                        exit: s.exit,
                        duration_ms: s.duration_ms,
                        command: o.as_ref().map(|o| o.command.clone()).unwrap_or_default(),
                        reason: s.reason.clone(),
                        captures: s.captures.clone(),
                        tail: s.tail.clone(),
                        attempts: (s.attempts > 1).then_some(s.attempts),
                        exits: s.exits.clone(),
                        attempt: o.as_ref().map(|o| o.n),
                        operator: o.as_ref().map_or_else(|| operator.clone(), |o| o.operator.clone()),
                        lang: o.and_then(|o| o.lang),
                        link: None,
                    },
                ));
            }
            _ => {}
        }
    }
    out.extend(open.drain(..).map(|(step, o)| (o.seq, o.entry(step, live, LOST))));
    out.sort_by_key(|(seq, _)| *seq);
    let mut out: Vec<Entry> = out.into_iter().map(|(_, e)| e).collect();
    // Numbered only where the step ran more than once; its operator named
    // there, and on every run of a run of several sessions.
    let several = session > 1;
    for e in &mut out {
        if runs.get(&(e.step.clone(), e.undo)).is_none_or(|n| *n < 2) {
            e.attempt = None;
            if !several {
                e.operator.clear();
            }
        }
    }
    out
}

/// When a run of a step began, and when its start was recorded if that is
/// a second or more earlier: a step runs once its start is durable, which on
/// the shared store, while the database is away, is up to `RUNBOOK_PG_WAIT`
/// after the start was recorded (and stamped). The latest of what the
/// journal says: the start's time, its process's (`spawned`, recorded as
/// the process starts: after the wait for a step held at the gate, before
/// it for one that waits for its body), and its end's time less its
/// duration (measured from when it began to run). Not `spawned`'s
/// `born_ms`: that is on the machine's boot clock, not a time of day.
pub fn began(recorded: &str, spawned: Option<&str>, end: Option<(&str, u64)>) -> (String, Option<String>) {
    let parse = crate::time::parse;
    let Some(start) = parse(recorded) else { return (recorded.to_string(), None) };
    let mut t = start;
    if let Some(s) = spawned.and_then(parse) {
        t = t.max(s);
    }
    if let Some((at, ms)) = end
        && let Some(b) = parse(at).and_then(|e| e.checked_sub(std::time::Duration::from_millis(ms)))
    {
        t = t.max(b);
    }
    if t.duration_since(start).unwrap_or_default() < std::time::Duration::from_secs(1) {
        return (recorded.to_string(), None);
    }
    (humantime::format_rfc3339_millis(t).to_string(), Some(recorded.to_string()))
}

/// A row of the timeline as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "row", rename_all = "kebab-case")]
pub enum Row {
    Step(Entry),
    /// Where a session ended (not while it plays).
    Session(Session),
}

/// The runs of steps in the order they started and the session ends: each
/// session's end after the runs of its steps.
pub fn rows(timeline: &[Entry], sessions: &[Session]) -> Vec<Row> {
    let mut ends = sessions.iter().filter(|s| s.status != "running").peekable();
    let mut out = Vec::new();
    for e in timeline {
        while let Some(s) = ends.next_if(|s| s.n < e.session) {
            out.push(Row::Session(s.clone()));
        }
        out.push(Row::Step(e.clone()));
    }
    out.extend(ends.cloned().map(Row::Session));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step retried on the shared store: each attempt's process is
    /// recorded (`spawned`) as it starts; the step began with its first.
    #[test]
    fn a_retry_s_process_does_not_move_the_start_of_its_step() {
        let events: Vec<crate::run::Entry> = [
            r#"{"seq":1,"at":"2026-12-02T10:00:00.000Z","event":"run-start","run":"r","runbook":"a","path":"a.md","hash":"h","env":"local","operator":"u@h"}"#,
            r#"{"seq":2,"at":"2026-12-02T10:00:01.000Z","event":"step-start","step":"a","attempt":1,"command":"x","command_hash":"c"}"#,
            r#"{"seq":3,"at":"2026-12-02T10:00:01.005Z","event":"spawned","step":"a","pgid":5,"born_ms":1}"#,
            r#"{"seq":4,"at":"2026-12-02T10:00:20.000Z","event":"spawned","step":"a","pgid":6,"born_ms":2}"#,
        ]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
        let e = entries(&events, false);
        assert_eq!((e[0].started.as_deref(), e[0].recorded.as_deref()), (Some("2026-12-02T10:00:01.000Z"), None));
    }
}

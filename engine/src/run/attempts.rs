//! The runs of one step, each with its own part of the step's log: a step
//! is run again by a later session (at-least-once: a resume re-runs the step
//! its killed engine was running; a continuation re-runs a failure) and by
//! its undo block, and every run appends to the same log. Each `step-start`
//! says where its output begins (`log_from`), so a view of the log is a
//! fold of the events: every run labelled with its number, its session and
//! operator, and how it ended. A journal written before `log_from` existed
//! reads as one log, as it was written.

use super::event::{Event, SessionKind};
use super::{Entry, StepStatus};

/// One run of a step (a `step-start`) and where its output is in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1, 2, … among the step's runs (its undo blocks are counted apart).
    pub n: u32,
    pub undo: bool,
    pub session: u32,
    /// `user@host` of the session's engine.
    pub operator: String,
    /// How it ended: `passed`, `failed: exit 1`, `killed: the engine stopped
    /// (no end recorded)`, `running`…
    pub ended: String,
    /// Its part of the log, in bytes: `[from, to)`.
    pub from: u64,
    pub to: u64,
}

impl Attempt {
    /// The line that opens its part of a log.
    pub fn label(&self) -> String {
        let what = if self.undo { "undo" } else { "attempt" };
        format!("=== {what} {} (session {}, {}): {} ===", self.n, self.session, self.operator, self.ended)
    }
}

/// What the log of a run in flight at a take-over lacks: what reached the
/// store after the take-over is kept by the engine that ran it, on its
/// machine (`store/postgres/logs.rs`), never put in a later run's part.
pub const TAKEN_OVER: &str = "(no end recorded; its output after that stays with its engine)";

/// What an attempt without a recorded end came to when its engine stopped.
pub const KILLED: &str = "killed: the engine stopped (no end recorded)";

/// The runs of `step` in order, over a `len`-byte log; `live`: the run's
/// engine still plays (a run without an end is running, not lost). Empty
/// when no start of the step says where its output begins (an old
/// journal): its log is one.
pub fn of(events: &[Entry], step: &str, len: u64, live: bool) -> Vec<Attempt> {
    let mut out: Vec<(Attempt, Option<u64>)> = Vec::new();
    let (mut session, mut operator) = (0, String::new());
    let mut open: Option<usize> = None;
    let (mut runs, mut undos) = (0, 0);
    for e in events {
        match &e.event {
            Event::RunStart(r) => (session, operator) = (1, r.operator.clone()),
            Event::Session(s) => {
                session = if s.n > 0 { s.n } else { session + 1 };
                operator = s.operator.clone();
                if let Some(i) = open.take() {
                    out[i].0.ended = match s.kind {
                        SessionKind::TakeOver => {
                            format!("in flight when the run was taken over by {} {TAKEN_OVER}", s.operator)
                        }
                        _ => KILLED.into(),
                    };
                }
            }
            Event::StepStart(s) if s.step == step => {
                if let Some(i) = open.take() {
                    out[i].0.ended = KILLED.into();
                }
                let n = if s.undo { &mut undos } else { &mut runs };
                *n += 1;
                let a = Attempt {
                    n: *n,
                    undo: s.undo,
                    session,
                    operator: operator.clone(),
                    ended: String::new(),
                    from: 0,
                    to: 0,
                };
                open = Some(out.len());
                out.push((a, s.log_from));
            }
            Event::StepEnd(s) if s.step == step => {
                if let Some(i) = open.take() {
                    out[i].0.ended = ended(s.status, s.reason.as_deref());
                }
            }
            _ => {}
        }
    }
    if let Some(i) = open {
        out[i].0.ended = if live { "running".into() } else { KILLED.into() };
    }
    if out.iter().all(|(_, from)| from.is_none()) {
        return Vec::new();
    }
    // Each part begins where it says, never before the one before it (a
    // start that does not say begins where the one before it did).
    let mut at = 0;
    for (a, from) in &mut out {
        at = from.unwrap_or(at).clamp(at, len);
        a.from = at;
    }
    let ends: Vec<u64> = out.iter().skip(1).map(|(a, _)| a.from).chain([len]).collect();
    out.into_iter().zip(ends).map(|((a, _), to)| Attempt { to, ..a }).collect()
}

fn ended(status: StepStatus, reason: Option<&str>) -> String {
    match reason {
        Some(r) if status != StepStatus::Passed => format!("{}: {r}", status.name()),
        _ => status.name().to_string(),
    }
}

/// A step's log with each run's part opened by its [`Attempt::label`], when
/// the step ran more than once and the events say where each run's output
/// begins; else the log as it is.
pub fn labelled(events: &[Entry], step: &str, log: &[u8], live: bool) -> Vec<u8> {
    window(events, step, log, 0, live)
}

/// [`labelled`] for the end of a log: `tail` is the log from byte `from` on
/// (a page shows the tail of a big log). The run the tail begins in is
/// labelled at its top.
pub fn window(events: &[Entry], step: &str, tail: &[u8], from: u64, live: bool) -> Vec<u8> {
    let len = from + tail.len() as u64;
    let attempts = of(events, step, len, live);
    if attempts.len() < 2 {
        return tail.to_vec();
    }
    let mut out = Vec::with_capacity(tail.len() + attempts.len() * 80);
    for a in attempts.iter().filter(|a| a.to > from || a.from >= from) {
        out.extend_from_slice(a.label().as_bytes());
        out.push(b'\n');
        let part = &tail[(a.from.max(from) - from) as usize..(a.to - from) as usize];
        out.extend_from_slice(part);
        if !part.is_empty() && !part.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::event::{RunStart, Session, StepEnd, StepStart};

    fn start(step: &str, undo: bool, log_from: Option<u64>) -> Event {
        Event::StepStart(StepStart {
            step: step.into(),
            line: 1,
            attempt: 1,
            command: "c".into(),
            command_hash: "h".into(),
            undo,
            lang: None,
            interactive: false,
            log_from,
        })
    }

    fn end(step: &str, status: StepStatus, reason: Option<&str>) -> Event {
        let mut e: StepEnd = serde_json::from_value(serde_json::json!({
            "step": step, "status": status, "exit": null, "duration_ms": null, "reason": reason,
        }))
        .unwrap();
        e.undo = false;
        Event::StepEnd(e)
    }

    fn session(n: u32, kind: SessionKind, operator: &str) -> Event {
        let mut s: Session = serde_json::from_value(serde_json::json!({"operator": operator})).unwrap();
        (s.n, s.kind) = (n, kind);
        Event::Session(s)
    }

    fn entries(events: Vec<Event>) -> Vec<Entry> {
        events.into_iter().enumerate().map(|(i, event)| Entry { seq: i as u64 + 1, at: String::new(), event }).collect()
    }

    #[test]
    fn a_killed_run_and_its_rerun_each_get_their_part_of_the_log_labelled() {
        let ev = entries(vec![
            Event::RunStart(RunStart::example("r", "a")),
            start("a", false, Some(0)),
            start("fix", false, Some(0)),
            session(2, SessionKind::Resume, "bob@b"),
            start("fix", false, Some(6)),
            end("fix", StepStatus::Failed, Some("exit 1")),
            start("fix", true, Some(12)),
            end("fix", StepStatus::Passed, None),
        ]);
        let log = b"first\nagain\nundone\n";
        let got = String::from_utf8(labelled(&ev, "fix", log, false)).unwrap();
        assert_eq!(
            got,
            "=== attempt 1 (session 1, u@h): killed: the engine stopped (no end recorded) ===\nfirst\n\
             === attempt 2 (session 2, bob@b): failed: exit 1 ===\nagain\n\
             === undo 1 (session 2, bob@b): passed ===\nundone\n"
        );
        // A step run once: its log as it is.
        assert_eq!(labelled(&ev, "a", b"x", false), b"x");
        // The tail of the log: the run it begins in is labelled at its top.
        let got = String::from_utf8(window(&ev, "fix", &log[8..], 8, false)).unwrap();
        assert_eq!(
            got,
            "=== attempt 2 (session 2, bob@b): failed: exit 1 ===\nain\n\
             === undo 1 (session 2, bob@b): passed ===\nundone\n"
        );
    }

    #[test]
    fn an_old_journal_reads_as_one_log_and_a_start_that_does_not_say_begins_with_the_one_before() {
        let old = entries(vec![
            Event::RunStart(RunStart::example("r", "a")),
            start("fix", false, None),
            session(2, SessionKind::Resume, "u@h"),
            start("fix", false, None),
        ]);
        assert_eq!(labelled(&old, "fix", b"one\ntwo\n", true), b"one\ntwo\n");
        // An old session resumed by this engine: the old part is the first.
        let mixed = entries(vec![
            Event::RunStart(RunStart::example("r", "a")),
            start("fix", false, None),
            session(2, SessionKind::TakeOver, "bob@b"),
            start("fix", false, Some(4)),
        ]);
        let a = of(&mixed, "fix", 8, true);
        assert_eq!(
            a.iter().map(|a| (a.from, a.to, a.ended.as_str())).collect::<Vec<_>>(),
            [
                (
                    0,
                    4,
                    "in flight when the run was taken over by bob@b (no end recorded; its output after that stays with its engine)"
                ),
                (4, 8, "running")
            ]
        );
        // Past the end of the log (output the store did not keep): empty.
        assert_eq!(of(&mixed, "fix", 2, true).iter().map(|a| (a.from, a.to)).collect::<Vec<_>>(), [(0, 2), (2, 2)]);
    }
}

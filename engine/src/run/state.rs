//! The state of a run as a fold of its events ([`RunState::apply`]).
//!
//! The play keeps its run in one of these and applies every event it
//! records; a resume folds the journal into the same state and so starts
//! from exactly what the interrupted session knew. `runs`, `report`, the
//! shared store and the live view read runs the same way.
//!
//! Session rules: a new session (`session` event) turns the steps that were
//! in flight into `interrupted` (their ends were never recorded) and forgets
//! the previous session's filters, answers and guard. A failure the previous
//! session was stopping on, or a rollback it was asked for, carries over a
//! plain resume (the run was on its way to a rollback, and goes on with it);
//! a continuation of a finished run starts clean, except over a rollback
//! that ran to its end and left undo blocks that did not pass: that session
//! finishes the rollback (those undo blocks are offered again, nothing runs
//! forward).

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Serialize;

use super::event::*;

/// One step of a run, as its events left it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepState {
    /// `None` while in flight, or before it was decided at all.
    pub status: Option<StepStatus>,
    pub started: Option<String>,
    pub ended: Option<String>,
    pub exit: Option<i32>,
    pub duration_ms: Option<u64>,
    pub attempts: u32,
    pub line: usize,
    pub command: String,
    pub command_hash: Option<String>,
    pub lang: Option<String>,
    pub interactive: bool,
    pub reason: Option<String>,
    pub captures: BTreeMap<String, String>,
    pub unrestorable: Vec<String>,
    pub stdout: Option<String>,
    pub stdout_redacted: bool,
    /// Only the first part of its stdout was kept ([`StepEnd::stdout_cut`]).
    pub stdout_cut: bool,
    pub tail: String,
    pub undo: bool,
    /// The process group of the latest attempt (see [`Spawned`]).
    pub pgid: Option<i32>,
    pub born_ms: Option<u64>,
    /// Left out by a session's filters, and why (a later session decides
    /// it again).
    pub excluded: Option<String>,
    /// In flight when the engine stopped: its end was never recorded.
    pub lost: bool,
    /// An undo block that did not pass in a rollback that ran to its end:
    /// the session that finishes the rollback runs it again.
    pub again: bool,
    /// Sessions the step ran in (started or was decided), in order.
    pub sessions: Vec<u32>,
    /// The session of the latest start or end.
    pub session: u32,
}

impl StepState {
    /// Started and not ended.
    pub fn in_flight(&self) -> bool {
        self.started.is_some() && self.status.is_none()
    }

    pub fn passed(&self) -> bool {
        self.status == Some(StepStatus::Passed)
    }
}

/// A session of the run: the first one (`run-start`) and each later one.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub n: u32,
    pub kind: Option<SessionKind>,
    pub operator: String,
    pub pid: u32,
    pub at: String,
    pub answering: Answering,
    pub step_mode: bool,
    /// The mode it played in (the run's, or as it narrowed it).
    pub mode: Mode,
    /// When its `run-end` was recorded: `None` while it plays, or when its
    /// engine stopped without one.
    pub ended: Option<String>,
    /// How it ended, as its `run-end` says.
    pub end: Option<RunEnd>,
    /// The time of its latest event.
    pub last: String,
    /// Its guard, once it ran: what it ran, printed (masked as the journal
    /// has it), was to print, and whether it let the session play.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<Guard>,
}

impl SessionInfo {
    fn new(n: u32, kind: Option<SessionKind>, operator: &str, pid: u32, at: &str) -> SessionInfo {
        SessionInfo {
            n,
            kind,
            operator: operator.to_string(),
            pid,
            at: at.to_string(),
            answering: Answering::default(),
            step_mode: false,
            mode: Mode::default(),
            ended: None,
            end: None,
            last: at.to_string(),
            guard: None,
        }
    }
}

/// An answer, with the session it was given in.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerLog {
    pub seq: u64,
    pub at: String,
    pub session: u32,
    #[serde(flatten)]
    pub answer: Answer,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoteLog {
    pub at: String,
    pub step: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunState {
    pub run: String,
    pub runbook: String,
    pub path: String,
    /// Of the runbook when the latest session started.
    pub hash: String,
    pub env: String,
    /// The values given to the run; later sessions overlay theirs.
    pub vars: BTreeMap<String, VarRecord>,
    pub started: String,
    /// The journal format of the run's first session.
    pub format: u32,
    /// The mode in force (the run's, or as a session narrowed it).
    pub mode: Mode,
    /// The runbook's steps in plan order, as the latest session had them.
    pub plan: Vec<Planned>,
    /// Steps (not undo blocks) an earlier session's plan had and the
    /// latest one has not (renamed or removed from the runbook), with the
    /// last session whose plan had them.
    pub dropped: IndexMap<String, u32>,
    pub sessions: Vec<SessionInfo>,
    pub steps: IndexMap<String, StepState>,
    /// Steps (not undo blocks) in the order they passed, across sessions.
    pub passed_order: Vec<String>,
    pub answers: Vec<AnswerLog>,
    pub notes: Vec<NoteLog>,
    /// The guard of this session: `Some(passed)` once it ran.
    pub guard: Option<bool>,
    /// Why the play stops starting steps, if it does.
    pub stop: Option<Stop>,
    /// The rollback under way (or done): its undo blocks in order.
    pub rollback: Option<Vec<String>>,
    /// A signal stopped the rollback: the undo blocks left do not run.
    pub rollback_cut: Option<String>,
    pub end: Option<RunEnd>,
    pub ended: Option<String>,
    pub last_seq: u64,
}

impl RunState {
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> RunState {
        let mut s = RunState::default();
        for e in entries {
            s.apply(e);
        }
        s
    }

    /// The number of the current session (1 for the first).
    pub fn session(&self) -> u32 {
        self.sessions.last().map_or(0, |s| s.n)
    }

    pub fn step(&self, id: &str) -> Option<&StepState> {
        self.steps.get(id)
    }

    fn entry(&mut self, id: &str) -> &mut StepState {
        self.steps.entry(id.to_string()).or_default()
    }

    /// Fold one event in. Entries of `v: 1` journals (no `seq`) are numbered
    /// in order.
    pub fn apply(&mut self, e: &Entry) {
        self.last_seq = if e.seq == 0 { self.last_seq + 1 } else { e.seq };
        let at = &e.at;
        let session = self.session();
        if !matches!(e.event, Event::RunStart(_) | Event::Session(_))
            && let Some(s) = self.sessions.last_mut()
        {
            s.last = at.clone();
        }
        match &e.event {
            Event::RunStart(r) => {
                self.run = r.run.clone();
                self.runbook = r.runbook.clone();
                self.path = r.path.clone();
                self.hash = r.hash.clone();
                self.env = r.env.clone();
                self.vars = r.vars.clone();
                self.started = at.clone();
                self.format = r.v;
                self.mode = r.mode.clone();
                self.plan = r.plan.clone();
                self.sessions = vec![SessionInfo {
                    answering: r.answering,
                    step_mode: r.step_mode,
                    mode: r.mode.clone(),
                    ..SessionInfo::new(1, None, &r.operator, r.pid, at)
                }];
            }
            Event::Session(s) => self.new_session(s, at),
            Event::Excluded(x) => {
                for id in &x.steps {
                    let st = self.entry(id);
                    st.excluded = Some(x.reason.clone());
                    st.status = Some(StepStatus::Skipped);
                    st.reason = Some(x.reason.clone());
                    st.ended = Some(at.clone());
                    st.attempts = 0;
                    st.session = session;
                }
            }
            Event::StepStart(s) => {
                let st = self.entry(&s.step);
                st.status = None;
                st.started = Some(at.clone());
                st.ended = None;
                st.exit = None;
                st.reason = None;
                st.line = s.line;
                st.command = s.command.clone();
                st.command_hash = Some(s.command_hash.clone());
                st.lang = s.lang.clone();
                st.interactive = s.interactive;
                st.undo = s.undo;
                st.attempts = s.attempt;
                st.pgid = None;
                st.born_ms = None;
                st.excluded = None;
                st.lost = false;
                st.again = false;
                st.session = session;
                if st.sessions.last() != Some(&session) {
                    st.sessions.push(session);
                }
                self.passed_order.retain(|p| p != &s.step);
            }
            Event::Spawned(s) => {
                let st = self.entry(&s.step);
                st.pgid = Some(s.pgid);
                st.born_ms = s.born_ms;
            }
            Event::Answer(a) => {
                self.answers.push(AnswerLog { seq: self.last_seq, at: at.clone(), session, answer: a.clone() });
            }
            Event::Guard(g) => {
                self.guard = Some(g.passed);
                if let Some(s) = self.sessions.last_mut() {
                    s.guard = Some(g.clone());
                }
            }
            Event::StepEnd(s) => {
                let first_format = self.format < 2;
                let st = self.entry(&s.step);
                // `v: 1` journals left `attempts` out for 0 and 1: a step
                // decided without running had no start, no exit, no time.
                let decided = s.duration_ms.is_none() && s.exit.is_none() && st.started.is_none();
                st.attempts = if first_format && decided { 0 } else { s.attempts };
                st.status = Some(s.status);
                st.ended = Some(at.clone());
                if st.attempts == 0 {
                    st.started = None;
                    // Its process (started, never given its body) was killed.
                    st.pgid = None;
                    st.born_ms = None;
                } else if st.started.is_none() {
                    st.started = Some(at.clone());
                }
                st.exit = s.exit;
                st.duration_ms = s.duration_ms;
                if s.command_hash.is_some() {
                    st.command_hash = s.command_hash.clone();
                }
                st.reason = s.reason.clone();
                st.captures = s.captures.clone();
                st.unrestorable = s.unrestorable.clone();
                st.stdout = s.stdout.clone();
                st.stdout_redacted = s.stdout_redacted;
                st.stdout_cut = s.stdout_cut;
                st.tail = s.tail.clone();
                st.undo = s.undo;
                st.excluded = None;
                st.lost = false;
                st.again = false;
                st.session = session;
                if st.sessions.last() != Some(&session) {
                    st.sessions.push(session);
                }
                self.passed_order.retain(|p| p != &s.step);
                if s.status == StepStatus::Passed && !s.undo {
                    self.passed_order.push(s.step.clone());
                }
                if s.stop && s.status == StepStatus::Failed && self.stop.is_none() {
                    let why = match &s.reason {
                        Some(r) => format!("step `{}` failed: {r}", s.step),
                        None => format!("step `{}` failed", s.step),
                    };
                    self.stop = Some(Stop { kind: StopKind::Failed, why, roll_back: false, cancel: false });
                }
            }
            Event::Stop(s) => {
                // A signal during the rollback stops the rollback; why the
                // play stopped in the first place stands.
                if s.cancel && self.rollback.is_some() && self.end.is_none() {
                    self.rollback_cut.get_or_insert_with(|| s.why.clone());
                    if let Some(cur) = &mut self.stop {
                        cur.cancel = true;
                    }
                    return;
                }
                // The first reason stands; a later signal may still cancel
                // running steps or ask for the rollback.
                match &mut self.stop {
                    None => self.stop = Some(s.clone()),
                    Some(cur) => {
                        cur.cancel |= s.cancel;
                        cur.roll_back |= s.roll_back;
                        if s.kind == StopKind::Interrupted && cur.kind != StopKind::Interrupted {
                            cur.kind = StopKind::Interrupted;
                            cur.why = s.why.clone();
                        }
                    }
                }
            }
            Event::Rollback(r) => self.rollback = Some(r.undo.clone()),
            Event::Note(n) => self.notes.push(NoteLog { at: at.clone(), step: n.step.clone(), text: n.text.clone() }),
            Event::RunEnd(r) => {
                self.end = Some(r.clone());
                self.ended = Some(at.clone());
                if let Some(s) = self.sessions.last_mut() {
                    s.end = Some(r.clone());
                    s.ended = Some(at.clone());
                }
            }
        }
    }

    fn new_session(&mut self, s: &Session, at: &str) {
        let n = if s.n > 0 { s.n } else { self.session() + 1 };
        let finished = self.end.is_some();
        let finish_rollback = self.rollback_to_finish();
        if finish_rollback {
            let left: Vec<String> = self.rollback_incomplete().into_iter().map(String::from).collect();
            for id in left {
                self.entry(&id).again = true;
            }
        }
        // A step lost by an earlier session stays lost until it starts again.
        for (id, st) in self.steps.iter_mut() {
            if st.in_flight() {
                st.status = Some(StepStatus::Interrupted);
                st.reason = Some(match s.kind {
                    SessionKind::TakeOver => {
                        format!("in flight when the run was taken over by {} (no end recorded)", s.operator)
                    }
                    _ => "in flight when the engine stopped (no end recorded)".into(),
                });
                st.ended = None;
                st.lost = true;
                self.passed_order.retain(|p| p != id);
            }
        }
        let carry = finish_rollback
            || (!finished
                && s.kind == SessionKind::Resume
                && self.stop.as_ref().is_some_and(|x| x.kind == StopKind::Failed || x.roll_back));
        if !carry {
            self.stop = None;
            // A rollback that had not finished goes on; one that ended is
            // history (unless it is to be finished: carried above).
            if finished {
                self.rollback = None;
                self.rollback_cut = None;
            }
        }
        self.guard = None;
        self.end = None;
        self.ended = None;
        if !s.hash.is_empty() {
            self.hash = s.hash.clone();
        }
        self.vars.extend(s.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(m) = &s.mode {
            self.mode = m.clone();
        }
        if let Some(p) = &s.plan {
            let before = self.session();
            for old in self.plan.iter().filter(|o| !o.undo && !p.iter().any(|x| x.id == o.id)) {
                self.dropped.insert(old.id.clone(), before);
            }
            self.dropped.retain(|id, _| !p.iter().any(|x| x.id == *id));
            self.plan = p.clone();
        }
        self.sessions.push(SessionInfo {
            answering: s.answering,
            step_mode: s.step_mode,
            mode: self.mode.clone(),
            ..SessionInfo::new(n, Some(s.kind), &s.operator, s.pid, at)
        });
    }

    /// Steps started and never ended.
    pub fn in_flight(&self) -> Vec<&str> {
        self.steps.iter().filter(|(_, s)| s.in_flight()).map(|(k, _)| k.as_str()).collect()
    }

    /// The run stopped (crash) while rolling back: undo blocks ran, no end.
    pub fn rolling_back(&self) -> bool {
        self.end.is_none() && self.rollback.is_some()
    }

    /// Undo blocks of the rollback: (passed, not passed or never ended).
    pub fn undo_blocks(&self) -> (Vec<&str>, Vec<&str>) {
        let undos = self.steps.iter().filter(|(_, s)| s.undo);
        let (done, rest): (Vec<_>, Vec<_>) = undos.partition(|(_, s)| s.passed());
        (done.into_iter().map(|(k, _)| k.as_str()).collect(), rest.into_iter().map(|(k, _)| k.as_str()).collect())
    }

    /// The undo blocks of the rollback that did not pass (failed, skipped,
    /// interrupted, or not reached), in the rollback's order.
    pub fn rollback_incomplete(&self) -> Vec<&str> {
        let passed = |id: &str| self.step(id).is_some_and(|s| s.passed());
        self.rollback.iter().flatten().map(String::as_str).filter(|id| !passed(id)).collect()
    }

    /// The run ended after its rollback ran to its end (no signal stopped
    /// it) and left undo blocks that did not pass: a resume finishes it.
    pub fn rollback_to_finish(&self) -> bool {
        self.end.as_ref().is_some_and(|e| e.rolled_back)
            && self.rollback_cut.is_none()
            && !self.rollback_incomplete().is_empty()
    }

    /// Can `--resume` go on with this run? Not one that passed or was rolled
    /// back, unless its rollback is to be finished; a failed one continues
    /// (one incident, one run).
    pub fn resumable(&self) -> bool {
        match &self.end {
            None => true,
            Some(e) => e.status != RunStatus::Passed && (!e.rolled_back || self.rollback_to_finish()),
        }
    }

    /// The status `runs` shows: the end's, or `unfinished`.
    pub fn status_name(&self) -> &'static str {
        match &self.end {
            Some(e) => e.status.name(),
            None => "unfinished",
        }
    }

    /// Is step `id` in the runbook the latest session played? (A journal
    /// without a plan: every step it reached is.)
    pub fn in_runbook(&self, id: &str) -> bool {
        self.plan.is_empty() || self.plan.iter().any(|p| p.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(seq: u64, event: Event) -> Entry {
        Entry { seq, at: format!("t{seq}"), event }
    }

    fn start() -> Event {
        Event::RunStart(RunStart::example("r", "a"))
    }

    fn step_start(id: &str) -> Event {
        Event::StepStart(StepStart {
            step: id.into(),
            line: 1,
            attempt: 1,
            command: "echo".into(),
            command_hash: "c".into(),
            undo: false,
            lang: None,
            interactive: false,
            log_from: None,
        })
    }

    fn step_end(id: &str, status: StepStatus, stdout: &str) -> Event {
        Event::StepEnd(StepEnd {
            step: id.into(),
            status,
            exit: Some(0),
            duration_ms: Some(1),
            command_hash: None,
            reason: None,
            captures: BTreeMap::new(),
            unrestorable: Vec::new(),
            stdout: Some(stdout.into()),
            stdout_redacted: false,
            stdout_cut: false,
            tail: String::new(),
            undo: false,
            attempts: 1,
            exits: Vec::new(),
            stop: false,
        })
    }

    fn session(kind: SessionKind) -> Event {
        Event::Session(Session {
            v: 0,
            n: 0,
            run: "r".into(),
            runbook: "a".into(),
            env: "local".into(),
            kind,
            operator: "v@h".into(),
            pid: 2,
            hash: "h".into(),
            vars: BTreeMap::new(),
            mode: None,
            answering: Answering::Ask,
            step_mode: false,
            plan: None,
        })
    }

    #[test]
    fn a_resume_keeps_what_passed_and_interrupts_what_was_in_flight() {
        let events = [
            e(1, start()),
            e(2, step_start("a")),
            e(3, step_end("a", StepStatus::Passed, "miner: WorkExpired\n")),
            e(4, step_start("slow")),
            e(5, session(SessionKind::Resume)),
        ];
        let s = RunState::from_entries(&events);
        assert_eq!(s.step("a").unwrap().stdout.as_deref(), Some("miner: WorkExpired\n"));
        assert_eq!(s.step("slow").unwrap().status, Some(StepStatus::Interrupted));
        assert_eq!(s.passed_order, ["a"]);
        assert_eq!(s.session(), 2);
        assert_eq!(s.last_seq, 5);
        assert!(s.in_flight().is_empty());
    }

    #[test]
    fn a_failure_being_rolled_back_carries_over_a_resume_not_a_continuation() {
        let stop = Event::Stop(Stop { kind: StopKind::Failed, why: "x".into(), roll_back: false, cancel: false });
        let s = RunState::from_entries(&[e(1, start()), e(2, stop.clone()), e(3, session(SessionKind::Resume))]);
        assert_eq!(s.stop.as_ref().map(|s| s.kind), Some(StopKind::Failed));
        let end = Event::RunEnd(RunEnd { status: RunStatus::Failed, rolled_back: false, message: None });
        let s = RunState::from_entries(&[e(1, start()), e(2, stop), e(3, end), e(4, session(SessionKind::Continue))]);
        assert!(s.stop.is_none() && s.end.is_none() && s.resumable());
    }

    fn end(status: RunStatus, rolled_back: bool, message: Option<&str>) -> Event {
        Event::RunEnd(RunEnd { status, rolled_back, message: message.map(str::to_string) })
    }

    #[test]
    fn each_session_keeps_how_it_ended() {
        let sigint =
            Stop { kind: StopKind::Interrupted, why: "interrupted by SIGINT".into(), roll_back: false, cancel: true };
        let s = RunState::from_entries(&[
            e(1, start()),
            e(2, step_start("slow")),
            e(3, Event::Stop(sigint)),
            e(4, end(RunStatus::Interrupted, false, Some("interrupted by SIGINT"))),
            e(5, session(SessionKind::Resume)),
            e(6, end(RunStatus::Refused, false, Some("needs --yes"))),
            e(7, session(SessionKind::Resume)),
            e(8, step_start("slow")),
            e(9, session(SessionKind::Resume)),
        ]);
        let ends: Vec<_> = s
            .sessions
            .iter()
            .map(|x| (x.n, x.ended.as_deref(), x.end.as_ref().map(|e| (e.status, e.message.clone())), x.last.as_str()))
            .collect();
        assert_eq!(
            ends,
            [
                (1, Some("t4"), Some((RunStatus::Interrupted, Some("interrupted by SIGINT".into()))), "t4"),
                (2, Some("t6"), Some((RunStatus::Refused, Some("needs --yes".into()))), "t6"),
                (3, None, None, "t8"),
                (4, None, None, "t9"),
            ]
        );
    }

    fn undo_end(id: &str, status: StepStatus) -> Event {
        let mut x = step_end(id, status, "");
        if let Event::StepEnd(s) = &mut x {
            s.undo = true;
        }
        x
    }

    fn rolled_back(cut: bool) -> Vec<Entry> {
        let failed = Stop { kind: StopKind::Failed, why: "step `c` failed".into(), roll_back: false, cancel: false };
        let mut v = vec![
            e(1, start()),
            e(2, step_start("a")),
            e(3, step_end("a", StepStatus::Passed, "")),
            e(4, step_start("b")),
            e(5, step_end("b", StepStatus::Passed, "")),
            e(6, Event::Stop(failed)),
            e(7, Event::Rollback(Rollback { undo: vec!["undo-b".into(), "undo-a".into()] })),
            e(8, undo_end("undo-b", StepStatus::Failed)),
        ];
        if cut {
            let sigint = Stop { kind: StopKind::Interrupted, why: "SIGINT".into(), roll_back: false, cancel: true };
            v.push(e(9, Event::Stop(sigint)));
            v.push(e(10, end(RunStatus::Interrupted, true, None)));
        } else {
            v.push(e(9, undo_end("undo-a", StepStatus::Passed)));
            v.push(e(10, end(RunStatus::Failed, true, None)));
        }
        v
    }

    #[test]
    fn a_rollback_that_ended_with_a_failed_undo_is_finished_by_the_next_session() {
        let mut events = rolled_back(false);
        let s = RunState::from_entries(&events);
        assert_eq!(s.rollback_incomplete(), ["undo-b"]);
        assert!(s.rollback_to_finish() && s.resumable());
        events.push(e(11, session(SessionKind::Continue)));
        let s = RunState::from_entries(&events);
        assert_eq!(s.stop.as_ref().map(|x| x.kind), Some(StopKind::Failed), "the stop goes on: nothing runs forward");
        assert_eq!(s.rollback.as_deref(), Some(&["undo-b".to_string(), "undo-a".to_string()][..]));
        assert!(s.step("undo-b").unwrap().again && !s.step("undo-a").unwrap().again);
    }

    #[test]
    fn a_rollback_a_signal_stopped_is_not_resumed() {
        let s = RunState::from_entries(&rolled_back(true));
        assert_eq!(s.rollback_incomplete(), ["undo-b", "undo-a"]);
        assert!(!s.rollback_to_finish() && !s.resumable());
    }

    #[test]
    fn numbered_in_order_when_the_journal_has_no_seq() {
        let s = RunState::from_entries(&[e(0, start()), e(0, step_start("a"))]);
        assert_eq!(s.last_seq, 2);
    }

    /// What a resume decides never reads a `spawned` event: a run without
    /// them (a journal of an older engine; a retry's, queued after a start
    /// already durable) folds to the same state but for the process groups
    /// (which only find leftovers to kill).
    #[test]
    fn a_spawned_event_lost_changes_nothing_but_the_process_groups() {
        let spawned = |id: &str, pgid| Event::Spawned(Spawned { step: id.into(), pgid, born_ms: Some(9) });
        let all = [
            e(1, start()),
            e(2, step_start("a")),
            e(3, spawned("a", 11)),
            e(4, step_end("a", StepStatus::Passed, "x")),
            e(5, step_start("b")),
            e(6, spawned("b", 12)),
        ];
        let lost: Vec<Entry> = all.iter().filter(|x| !matches!(x.event, Event::Spawned(_))).cloned().collect();
        let fold = |entries: &[Entry]| {
            let st = RunState::from_entries(entries);
            assert_eq!(st.in_flight(), ["b"]);
            let mut v = serde_json::to_value(&st).unwrap();
            // When the session was last heard of: the lost event's time.
            v.as_object_mut().unwrap().remove("last_seq");
            for session in v["sessions"].as_array_mut().unwrap() {
                session.as_object_mut().unwrap().remove("last");
            }
            for step in v["steps"].as_object_mut().unwrap().values_mut() {
                let step = step.as_object_mut().unwrap();
                assert!(step.remove("pgid").is_some() && step.remove("born_ms").is_some());
            }
            v
        };
        assert_eq!(fold(&all), fold(&lost));
        assert_eq!(RunState::from_entries(&all).step("b").and_then(|s| s.pgid), Some(12));
    }

    /// A step whose start could not be made durable: its process, started
    /// and recorded with the start (`spawned`), was killed having run
    /// nothing, and the step's end says it did not run. Nothing of the fold
    /// says otherwise: no start time, no attempt, no process group.
    #[test]
    fn a_spawned_step_that_never_started_has_no_process_group() {
        let spawned = Event::Spawned(Spawned { step: "b".into(), pgid: 12, born_ms: Some(9) });
        let mut end = step_end("b", StepStatus::NotRun, "");
        if let Event::StepEnd(x) = &mut end {
            (x.exit, x.duration_ms, x.stdout, x.attempts) = (None, None, None, 0);
            x.reason = Some("not started: the run cannot be recorded".into());
        }
        let st = RunState::from_entries(&[e(1, start()), e(2, step_start("b")), e(3, spawned), e(4, end)]);
        let b = st.step("b").unwrap();
        assert_eq!((b.status, b.attempts, b.started.as_deref()), (Some(StepStatus::NotRun), 0, None));
        assert_eq!((b.pgid, b.born_ms), (None, None));
        assert!(st.in_flight().is_empty());
    }
}

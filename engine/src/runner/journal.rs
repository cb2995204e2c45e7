//! The checkpoint journal (SPEC §6): `runs/<run-id>/journal.jsonl`.
//!
//! Append-only, one JSON object per line. Every record is written with
//! `write(2)` as the event happens — a `step-start` before the step's process
//! exists, a `step-end` as soon as it is over — so a `kill -9` of the engine
//! loses nothing: the kernel has every record. After `kill -9` the journal says
//! exactly which steps passed and which one was in flight. A crash can leave
//! a torn last line; it is ignored.
//!
//! # Durability (power loss)
//!
//! Reaching the disk (`fdatasync`, ~1–5 ms) costs more than a trivial step,
//! so it is not on a step's path: a background syncer thread flushes the file
//! whenever records were written since its last flush, one `fdatasync` for a
//! whole burst (group commit). It is woken each time the play's event loop
//! goes idle ([`Kicker`]), so the records of one turn of the loop (a step's
//! end and the next step's start) share a flush. Flushes start at most every
//! [`COMMIT_INTERVAL`]: a burst of short steps shares one flush instead of
//! paying one each (a flush is not free even off the step's path: the wake-up,
//! the file system's commit, the device), while a step longer than the
//! interval still has its `step-start` on disk while it runs. `run-end` waits
//! for its flush at once, and so does the end of the play on every path
//! (passed, failed, refused, interrupted — exit 130 — or an error): dropping
//! the [`Journal`] joins the syncer after a last flush. A finished run is
//! durable.
//!
//! The window: a power loss (or kernel crash) while a play runs can lose the
//! records written since the syncer's last completed flush — at most
//! [`COMMIT_INTERVAL`] plus one flush of records, the ones after the last
//! `fdatasync` (e.g. the last `step-end`, or a `step-start` whose process had
//! just begun). A resume
//! after such a loss re-runs those steps: one that passed without its
//! `step-end` on disk runs a second time, one whose `step-start` was lost is
//! simply not in flight (nothing of it survived the power loss to reap).
//! Steps therefore run at least once, as after any crash mid-step. A failed
//! flush stops the play at the next record (never run what cannot be
//! recorded). A rehearsal (temporary directory) never flushes.
//!
//! Schema (`"event"` is the tag; times are RFC 3339 UTC; nothing secret is
//! ever written — values are redacted before they get here):
//!
//! | event | fields |
//! |---|---|
//! | `run-start` | `v` (1), `run`, `runbook`, `path`, `hash` (of the runbook file), `env`, `vars` {name: {value, origin, secret}}, `operator` (user@host), `pid`, `at` |
//! | `resume` | `operator`, `pid`, `hash`, `vars` (as in `run-start`, this session's), `at` |
//! | `step-start` | `step`, `attempt`, `command` (rendered, redacted), `command_hash` (sha256 of it), `undo`, `lang` (when not bash), `at` |
//! | `spawned` | `step`, `pgid` (the process group of an attempt), `born_ms` (when its leader started, ms since boot): a resume kills what is left of it |
//! | `step-end` | `step`, `status`, `exit`, `duration_ms`, `command_hash`, `reason`, `captures` {name: value}, `unrestorable` (captures that needed redaction), `tail`, `undo`, `attempts` (only when `retry` took more than one), `at` |
//! | `note` | `step`, `text`, `at` |
//! | `run-end` | `status` (passed/failed/interrupted/refused), `rolled_back`, `message`, `at` |

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::StepStatus;
use crate::error::{Diagnostic, Error, Result};

pub const FILE: &str = "journal.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VarRecord {
    pub value: String,
    pub origin: String,
    pub secret: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Record {
    RunStart {
        v: u32,
        run: String,
        runbook: String,
        path: String,
        hash: String,
        env: String,
        vars: BTreeMap<String, VarRecord>,
        operator: String,
        pid: u32,
        at: String,
    },
    Resume {
        operator: String,
        pid: u32,
        hash: String,
        /// The variables of this session (restored, `--set`, prompted); empty in old journals.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        vars: BTreeMap<String, VarRecord>,
        at: String,
    },
    StepStart {
        step: String,
        attempt: u32,
        command: String,
        command_hash: String,
        #[serde(default)]
        undo: bool,
        /// The step's language when it is not bash (the report's code fence).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lang: Option<String>,
        at: String,
    },
    /// A step's process started: its process group, and when its leader
    /// started (ms since boot, `CLOCK_BOOTTIME`), so that a resume can kill
    /// what is left of it even where its environment was reset (`env -i`,
    /// `sudo`), and never a later group that reuses the number.
    Spawned {
        step: String,
        pgid: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        born_ms: Option<u64>,
    },
    StepEnd {
        step: String,
        status: StepStatus,
        exit: Option<i32>,
        duration_ms: Option<u64>,
        command_hash: Option<String>,
        reason: Option<String>,
        #[serde(default)]
        captures: BTreeMap<String, String>,
        #[serde(default)]
        unrestorable: Vec<String>,
        #[serde(default)]
        tail: String,
        #[serde(default)]
        undo: bool,
        /// Attempts made (`retry`); absent (0) in journals written before it was recorded.
        #[serde(default, skip_serializing_if = "at_most_one")]
        attempts: u32,
        at: String,
    },
    Note {
        step: Option<String>,
        text: String,
        at: String,
    },
    RunEnd {
        status: String,
        #[serde(default)]
        rolled_back: bool,
        message: Option<String>,
        at: String,
    },
}

/// Appends records (written at once, flushed to disk in the background).
pub struct Journal {
    file: Arc<File>,
    path: PathBuf,
    /// `None` in a rehearsal (a temporary directory): no disk flushes.
    syncer: Option<Syncer>,
}

/// The background flusher: group commit of everything written so far.
struct Syncer {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    /// Records written so far (counted after their `write` returned).
    written: AtomicU64,
    /// `written` as of the last [`Kicker::kick`] that woke the syncer.
    kicked: AtomicU64,
    /// A flush failed: the next record fails (details in `state`).
    failed: AtomicBool,
    state: Mutex<SyncState>,
    /// Wakes the syncer: a flush is wanted, or the journal closes.
    work: Condvar,
    /// Wakes those waiting for a flush.
    done: Condvar,
}

#[derive(Default)]
struct SyncState {
    /// Flush at least this many records.
    wanted: u64,
    /// The syncer waits out [`COMMIT_INTERVAL`] after a flush: kicks only
    /// raise `wanted` then, without waking it.
    resting: bool,
    /// Someone waits for a flush ([`Journal::sync`]): the rest is cut short.
    urgent: bool,
    /// Records known to be on disk.
    synced: u64,
    /// The first failed flush.
    error: Option<String>,
    closing: bool,
}

fn lock(m: &Mutex<SyncState>) -> MutexGuard<'_, SyncState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Ask for a flush of everything written so far.
    fn want(&self, st: &mut SyncState) -> u64 {
        let w = self.written.load(Ordering::Acquire);
        if st.wanted < w {
            st.wanted = w;
            if !st.resting {
                self.work.notify_one();
            }
        }
        w
    }
}

/// The shortest time between the starts of two flushes while a play runs.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(25);

/// Wakes the syncer when records wait for their flush. The play calls it
/// each time its event loop goes idle (tokio's `on_thread_park`), so the
/// records of one turn — a step's `step-end` and the next step's
/// `step-start` — share one `fdatasync`, and no record waits longer than
/// the turn that wrote it.
#[derive(Clone)]
pub struct Kicker(Arc<Shared>);

impl Kicker {
    pub fn kick(&self) {
        let w = self.0.written.load(Ordering::Acquire);
        if self.0.kicked.swap(w, Ordering::AcqRel) < w {
            self.0.want(&mut lock(&self.0.state));
        }
    }
}

impl Syncer {
    fn start(file: Arc<File>, dir: Option<PathBuf>) -> std::io::Result<Syncer> {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let thread = std::thread::Builder::new().name("journal-sync".into()).spawn(move || flusher(&file, dir, &s))?;
        Ok(Syncer { shared, thread: Some(thread) })
    }
}

/// The syncer thread: flush whenever a flush is wanted and records were
/// written since the last one; exit after the last flush once the journal
/// closes.
fn flusher(file: &File, mut dir: Option<PathBuf>, shared: &Shared) {
    let mut st = lock(&shared.state);
    loop {
        while st.synced >= st.wanted && !st.closing {
            st = shared.work.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        // Everything written by now is covered by this flush.
        let target = shared.written.load(Ordering::Acquire);
        if st.synced >= target {
            if st.closing {
                return;
            }
            continue;
        }
        drop(st);
        let started = Instant::now();
        let r = file.sync_data();
        // Once: the run directory, so that a new journal's name survives too.
        if let Some(d) = dir.take() {
            let _ = File::open(d).and_then(|d| d.sync_all());
        }
        st = lock(&shared.state);
        if let Err(e) = r {
            st.error.get_or_insert_with(|| format!("cannot flush to disk: {e}"));
            shared.failed.store(true, Ordering::Release);
        }
        st.synced = target;
        if st.synced >= st.wanted {
            st.urgent = false;
        }
        shared.done.notify_all();
        // Rest until the interval is over, unless someone waits for a flush
        // or the journal closes ([`Syncer::hurry`] unparks this thread).
        st.resting = true;
        while !st.urgent && !st.closing {
            let Some(left) = COMMIT_INTERVAL.checked_sub(started.elapsed()).filter(|d| !d.is_zero()) else { break };
            drop(st);
            std::thread::park_timeout(left);
            st = lock(&shared.state);
        }
        st.resting = false;
    }
}

impl Syncer {
    /// Wake the syncer now, resting or not.
    fn hurry(&self) {
        self.shared.work.notify_one();
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }
}

impl Drop for Syncer {
    /// The last flush, then the thread ends.
    fn drop(&mut self) {
        {
            let mut st = lock(&self.shared.state);
            self.shared.want(&mut st);
            st.closing = true;
        }
        self.hurry();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Journal {
    /// Open for appending, cutting a torn last line left by a crash.
    /// `sync`: flush to disk (in the background); `false` in a rehearsal.
    pub fn open(path: &Path, sync: bool) -> Result<Journal> {
        let fresh = !path.exists();
        if let Ok(bytes) = std::fs::read(path)
            && !bytes.is_empty()
            && !bytes.ends_with(b"\n")
        {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let f = OpenOptions::new().write(true).open(path).map_err(|e| io(path, e))?;
            f.set_len(keep as u64).map_err(|e| io(path, e))?;
        }
        let file = Arc::new(OpenOptions::new().create(true).append(true).open(path).map_err(|e| io(path, e))?);
        let syncer = match sync {
            false => None,
            true => {
                let dir = path.parent().filter(|_| fresh).map(Path::to_path_buf);
                Some(Syncer::start(file.clone(), dir).map_err(|e| io(path, e))?)
            }
        };
        Ok(Journal { file, path: path.to_path_buf(), syncer })
    }

    /// Wakes the syncer; `None` when nothing is flushed (rehearsal).
    pub fn kicker(&self) -> Option<Kicker> {
        self.syncer.as_ref().map(|s| Kicker(s.shared.clone()))
    }

    /// Append now (a `kill -9` of the engine cannot lose it: it is in the
    /// kernel); the syncer takes it to the disk when the play's event loop
    /// next goes idle ([`Kicker`]). Fails if writing fails, or if an earlier
    /// flush failed.
    pub fn append(&mut self, r: &Record) -> Result<()> {
        append(&self.file, &self.path, self.syncer.as_ref().map(|s| &s.shared), r)
    }

    /// A handle that appends to this journal from elsewhere (a step's task).
    pub fn appender(&self) -> Appender {
        Appender {
            file: self.file.clone(),
            path: self.path.clone(),
            shared: self.syncer.as_ref().map(|s| s.shared.clone()),
        }
    }

    /// Wait until every record appended so far is on disk.
    pub fn sync(&mut self) -> Result<()> {
        let Some(s) = &self.syncer else { return Ok(()) };
        let mut st = lock(&s.shared.state);
        let w = s.shared.want(&mut st);
        if st.synced < w {
            st.urgent = true;
            s.hurry();
        }
        while st.synced < w {
            st = s.shared.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        match &st.error {
            Some(e) => Err(Error::Other(anyhow::anyhow!("journal {}: {e}", self.path.display()))),
            None => Ok(()),
        }
    }
}

/// Appends to a journal from a step's task: one `write` of a whole line to
/// a file opened for appending, so it never interleaves with the engine's.
#[derive(Clone)]
pub struct Appender {
    file: Arc<File>,
    path: PathBuf,
    shared: Option<Arc<Shared>>,
}

impl Appender {
    pub fn append(&self, r: &Record) -> Result<()> {
        append(&self.file, &self.path, self.shared.as_ref(), r)
    }
}

fn append(file: &File, path: &Path, shared: Option<&Arc<Shared>>, r: &Record) -> Result<()> {
    if let Some(s) = shared
        && s.failed.load(Ordering::Acquire)
    {
        let e = lock(&s.state).error.clone().unwrap_or_default();
        return Err(Error::Other(anyhow::anyhow!("journal {}: {e}", path.display())));
    }
    let mut line = serde_json::to_string(r).map_err(anyhow::Error::from)?;
    line.push('\n');
    (&*file).write_all(line.as_bytes()).map_err(|e| io(path, e))?;
    if let Some(s) = shared {
        s.written.fetch_add(1, Ordering::AcqRel);
    }
    Ok(())
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Other(anyhow::anyhow!("journal {}: {e}", path.display()))
}

/// Read a journal. A torn last line (crash mid-write) is ignored; any other
/// unreadable line is an error naming `file:line` and the way out.
pub fn read(path: &Path) -> Result<Vec<Record>> {
    let text = std::fs::read(path).map_err(|e| io(path, e))?;
    let text = String::from_utf8_lossy(&text);
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (n, l) in lines.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(l) {
            Ok(r) => out.push(r),
            Err(_) if n + 1 == lines.len() && !complete => {}
            Err(e) => return Err(corrupt(path, n + 1, &e.to_string())),
        }
    }
    if !matches!(out.first(), Some(Record::RunStart { .. })) {
        return Err(corrupt(path, 1, "the journal does not begin with a run-start record"));
    }
    Ok(out)
}

pub fn corrupt(path: &Path, line: usize, what: &str) -> Error {
    Error::invalid(
        Diagnostic::error("corrupt-journal", format!("unreadable run journal: {what}"))
            .at(path, line)
            .hint("start a new run with --fresh (the damaged run stays on disk for the post-mortem)"),
    )
}

/// The latest state of one step in a run.
#[derive(Debug, Clone, Default)]
pub struct StepLog {
    /// `None` while in flight (started, not ended).
    pub status: Option<StepStatus>,
    pub started: Option<String>,
    pub ended: Option<String>,
    pub exit: Option<i32>,
    pub duration_ms: Option<u64>,
    pub command: String,
    pub command_hash: Option<String>,
    pub reason: Option<String>,
    pub captures: BTreeMap<String, String>,
    pub unrestorable: Vec<String>,
    pub tail: String,
    pub pgid: Option<i32>,
    /// When the group's leader started (see [`Record::Spawned`]).
    pub born_ms: Option<u64>,
    pub undo: bool,
    pub attempts: u32,
}

/// A run, folded from its journal.
#[derive(Debug, Clone, Default)]
pub struct RunLog {
    pub run_id: String,
    pub runbook: String,
    pub path: String,
    pub hash: String,
    pub env: String,
    pub vars: BTreeMap<String, VarRecord>,
    pub operator: String,
    pub pid: u32,
    pub started: String,
    pub ended: Option<String>,
    /// `run-end` status, `None` when the run never ended (crash, or running).
    pub status: Option<String>,
    pub rolled_back: bool,
    pub message: Option<String>,
    pub steps: IndexMap<String, StepLog>,
    /// Steps (not undo blocks) in the order they passed, across resumes.
    pub passed_order: Vec<String>,
    pub resumes: Vec<(String, String)>,
    pub notes: Vec<(Option<String>, String, String)>,
}

impl RunLog {
    pub fn from_records(records: &[Record]) -> RunLog {
        let mut r = RunLog::default();
        for rec in records {
            match rec {
                Record::RunStart { run, runbook, path, hash, env, vars, operator, pid, at, .. } => {
                    r.run_id = run.clone();
                    r.runbook = runbook.clone();
                    r.path = path.clone();
                    r.hash = hash.clone();
                    r.env = env.clone();
                    r.vars = vars.clone();
                    r.operator = operator.clone();
                    r.pid = *pid;
                    r.started = at.clone();
                }
                Record::Resume { operator, pid, at, vars, .. } => {
                    r.resumes.push((at.clone(), operator.clone()));
                    r.pid = *pid;
                    // The latest values given to the run (see setup::restore).
                    r.vars.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                    // A resumed run is running again.
                    r.status = None;
                    r.ended = None;
                    r.message = None;
                }
                Record::StepStart { step, attempt, command, command_hash, undo, at, .. } => {
                    let s = r.steps.entry(step.clone()).or_default();
                    s.status = None;
                    s.started = Some(at.clone());
                    s.ended = None;
                    s.command = command.clone();
                    s.command_hash = Some(command_hash.clone());
                    s.undo = *undo;
                    s.attempts = *attempt;
                    s.pgid = None;
                    s.born_ms = None;
                    r.passed_order.retain(|p| p != step);
                }
                Record::Spawned { step, pgid, born_ms } => {
                    let s = r.steps.entry(step.clone()).or_default();
                    s.pgid = Some(*pgid);
                    s.born_ms = *born_ms;
                }
                Record::StepEnd {
                    step,
                    status,
                    exit,
                    duration_ms,
                    command_hash,
                    reason,
                    captures,
                    unrestorable,
                    tail,
                    undo,
                    attempts,
                    at,
                } => {
                    let s = r.steps.entry(step.clone()).or_default();
                    if *attempts > 0 {
                        s.attempts = *attempts;
                    }
                    s.status = Some(*status);
                    s.ended = Some(at.clone());
                    s.exit = *exit;
                    s.duration_ms = *duration_ms;
                    if command_hash.is_some() {
                        s.command_hash = command_hash.clone();
                    }
                    s.reason = reason.clone();
                    s.captures = captures.clone();
                    s.unrestorable = unrestorable.clone();
                    s.tail = tail.clone();
                    s.undo = *undo;
                    if s.started.is_none() {
                        s.started = Some(at.clone());
                    }
                    r.passed_order.retain(|p| p != step);
                    if *status == StepStatus::Passed && !undo {
                        r.passed_order.push(step.clone());
                    }
                }
                Record::Note { step, text, at } => r.notes.push((step.clone(), text.clone(), at.clone())),
                Record::RunEnd { status, rolled_back, message, at } => {
                    r.status = Some(status.clone());
                    r.rolled_back = *rolled_back;
                    r.message = message.clone();
                    r.ended = Some(at.clone());
                }
            }
        }
        r
    }

    /// The engine stopped (a crash, `kill -9`) while this run was rolling
    /// back: undo blocks have started, the run has no end.
    pub fn rolling_back(&self) -> bool {
        self.status.is_none() && self.steps.values().any(|s| s.undo)
    }

    /// Undo blocks of a rollback: (passed, not passed or never ended).
    pub fn undo_blocks(&self) -> (Vec<&str>, Vec<&str>) {
        let undos = self.steps.iter().filter(|(_, s)| s.undo);
        let (done, rest): (Vec<_>, Vec<_>) = undos.partition(|(_, s)| s.status == Some(StepStatus::Passed));
        (done.into_iter().map(|(k, _)| k.as_str()).collect(), rest.into_iter().map(|(k, _)| k.as_str()).collect())
    }

    /// Can `--resume` continue this run? Not one that was rolling back:
    /// going on forward would run over a half-undone state.
    pub fn resumable(&self) -> bool {
        match self.status.as_deref() {
            None => !self.rolling_back(),
            Some("interrupted") | Some("refused") => !self.rolled_back,
            _ => false,
        }
    }

    /// Steps started and never ended.
    pub fn in_flight(&self) -> Vec<&str> {
        self.steps.iter().filter(|(_, s)| s.status.is_none()).map(|(k, _)| k.as_str()).collect()
    }
}

/// Every run directory under `state/runs` that holds a journal, oldest first.
/// An empty journal is no run: the engine was killed before it wrote the
/// run's first record, so nothing of it ever happened (it was listed as
/// `corrupt` for ever; found in review).
pub fn run_dirs(state: &Path) -> Vec<PathBuf> {
    run_dirs_unchecked(state)
        .into_iter()
        .filter(|p| std::fs::metadata(p.join(FILE)).is_ok_and(|m| m.is_file() && m.len() > 0))
        .collect()
}

/// Every directory under `state/runs`, oldest first (run ids start with the
/// time), without looking into them: for callers that stop at the first
/// match and need not stat thousands of old runs.
pub fn run_dirs_unchecked(state: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(state.join("runs")) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    // Run ids sort by time, then by the `-2`, `-3` … of runs started in the
    // same second: numerically, or `-10` would come before `-9` (found in
    // review: `report latest` and `--resume` picked an older run).
    v.sort_by(|a, b| natord::compare(&a.to_string_lossy(), &b.to_string_lossy()));
    v
}

/// One attempt is the rule: not written.
fn at_most_one(n: &u32) -> bool {
    *n <= 1
}

#[cfg(test)]
mod tests {

    #[test]
    fn runs_of_the_same_second_sort_by_their_number() {
        let state = tempfile::tempdir().unwrap();
        let ids = [
            "20261130T034244Z-a-local-10",
            "20261130T034244Z-a-local",
            "20261130T034244Z-a-local-9",
            "20261130T034244Z-a-local-2",
            "20261130T034245Z-a-local",
        ];
        for id in ids {
            let d = state.path().join("runs").join(id);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(FILE), "{}\n").unwrap();
        }
        let got: Vec<String> =
            run_dirs(state.path()).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            got,
            [
                "20261130T034244Z-a-local",
                "20261130T034244Z-a-local-2",
                "20261130T034244Z-a-local-9",
                "20261130T034244Z-a-local-10",
                "20261130T034245Z-a-local"
            ]
        );
    }

    use super::*;

    fn note(text: &str) -> Record {
        Record::Note { step: None, text: text.into(), at: String::new() }
    }

    #[test]
    fn records_are_written_at_once_and_flushed_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut j = Journal::open(&path, true).unwrap();
        j.append(&note("a")).unwrap();
        // Written before any flush: a `kill -9` now would not lose it.
        assert!(std::fs::read_to_string(&path).unwrap().contains("\"a\""));
        j.kicker().unwrap().kick();
        j.append(&note("b")).unwrap();
        j.sync().unwrap();
        let s = &j.syncer.as_ref().unwrap().shared;
        assert_eq!(lock(&s.state).synced, 2);
        j.append(&note("c")).unwrap();
        drop(j); // the last flush, then the syncer ends
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }

    #[test]
    fn a_rehearsal_journal_never_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join(FILE), false).unwrap();
        assert!(j.kicker().is_none());
        j.append(&note("a")).unwrap();
        j.sync().unwrap();
    }
}

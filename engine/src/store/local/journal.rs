//! The local store's journal of a run: `runs/<run-id>/journal.jsonl`, the
//! run's events ([`crate::run::event`]), one JSON object per line.
//!
//! Append-only. Every event is written with `write(2)` as it happens — a
//! `step-start` before the step's process exists, a `step-end` as soon as it
//! is over — so a `kill -9` of the engine loses nothing: the kernel has every
//! line. A crash can leave a torn last line; it is cut when the journal is
//! opened again, and ignored when it is read.
//!
//! # Durability (power loss)
//!
//! Reaching the disk (`fdatasync`, ~1–5 ms) costs more than a trivial step,
//! so it is not on a step's path: a background syncer thread flushes the file
//! whenever lines were written since its last flush, one `fdatasync` for a
//! whole burst (group commit). It is woken each time the play's event loop
//! goes idle ([`Kicker`]), so the events of one turn of the loop (a step's
//! end and the next step's start) share a flush. Flushes start at most every
//! [`COMMIT_INTERVAL`]: a burst of short steps shares one flush instead of
//! paying one each, while a step longer than the interval still has its
//! `step-start` on disk while it runs. `run-end` waits for its flush, and so
//! does the end of the play on every path: dropping the [`Journal`] joins the
//! syncer after a last flush. A finished run is durable.
//!
//! The window: a power loss (or kernel crash) while a play runs can lose the
//! lines written since the syncer's last completed flush — at most
//! [`COMMIT_INTERVAL`] plus one flush. A resume after such a loss re-runs
//! those steps: steps run at least once, as after any crash mid-step. A
//! failed flush stops the play at the next event (never run what cannot be
//! recorded). A rehearsal (temporary directory) never flushes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Diagnostic, Error, Result};
use crate::run::Entry;
use crate::run::decode::{Unreadable, decode};

pub const FILE: &str = "journal.jsonl";

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
    fn start(file: Arc<File>, dir: Vec<PathBuf>) -> std::io::Result<Syncer> {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let thread = std::thread::Builder::new().name("journal-sync".into()).spawn(move || flusher(&file, dir, &s))?;
        Ok(Syncer { shared, thread: Some(thread) })
    }
}

/// The syncer thread: flush whenever a flush is wanted and records were
/// written since the last one; exit after the last flush once the journal
/// closes.
fn flusher(file: &File, mut dirs: Vec<PathBuf>, shared: &Shared) {
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
        // Once: the run directory and its parent, so that a new run's name
        // (renamed into place when it was created) survives too.
        for d in std::mem::take(&mut dirs) {
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
        if let Ok(bytes) = std::fs::read(path)
            && !bytes.is_empty()
            && !bytes.ends_with(b"\n")
        {
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let f = OpenOptions::new().write(true).open(path).map_err(|e| fault(path, e))?;
            f.set_len(keep as u64).map_err(|e| fault(path, e))?;
        }
        let file =
            Arc::new(OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(|e| fault(path, e))?);
        let syncer = match sync {
            false => None,
            true => {
                let dirs = path.ancestors().skip(1).take(2).map(Path::to_path_buf).collect();
                Some(Syncer::start(file.clone(), dirs).map_err(|e| fault(path, e))?)
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
    pub fn append(&mut self, r: &Entry) -> Result<()> {
        append(&self.file, &self.path, self.syncer.as_ref().map(|s| &s.shared), r)
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

fn append(file: &File, path: &Path, shared: Option<&Arc<Shared>>, r: &Entry) -> Result<()> {
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

/// The journal cannot be opened or read: a fault of the state directory.
fn fault(path: &Path, e: std::io::Error) -> Error {
    super::fault("journal", path, &e)
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Other(anyhow::anyhow!("journal {}: {e}", path.display()))
}

/// Read a journal. A torn last line (crash mid-write) is ignored; any other
/// unreadable line, an empty journal or one that does not begin with
/// `run-start` is an error naming `file:line` and the way out.
/// When the run started: the time of the journal's first event, read from
/// its first line alone.
pub fn first_at(path: &Path) -> Option<String> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(std::fs::File::open(path).ok()?).read_line(&mut line).ok()?;
    #[derive(serde::Deserialize)]
    struct At {
        at: String,
    }
    serde_json::from_str::<At>(&line).ok().map(|a| a.at)
}

pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let text = std::fs::read(path).map_err(|e| fault(path, e))?;
    let text = String::from_utf8_lossy(&text);
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (n, l) in lines.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match decode(l) {
            Ok(r) => out.push(r),
            Err(_) if n + 1 == lines.len() && !complete => {}
            Err(e) => return Err(unreadable(path, n + 1, &e)),
        }
    }
    if !matches!(out.first(), Some(Entry { event: crate::run::Event::RunStart(_), .. })) {
        return Err(corrupt(path, 1, "the journal does not begin with a run-start event"));
    }
    Ok(out)
}

/// The events after `seq` (the live view reads a growing journal many times
/// a second): a line up to `seq` is skipped by its `{"seq":N` prefix, not
/// parsed. Lines of the first format (no `seq`) are numbered in order, as
/// the fold numbers them.
pub fn read_after(path: &Path, seq: u64) -> Result<Vec<Entry>> {
    if seq == 0 {
        return read(path);
    }
    let text = std::fs::read(path).map_err(|e| fault(path, e))?;
    let text = String::from_utf8_lossy(&text);
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut at = 0u64;
    for (n, l) in lines.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        at += 1;
        if let Some(s) = quick_seq(l)
            && s <= seq
        {
            continue;
        }
        match decode(l) {
            Ok(r) if (if r.seq == 0 { at } else { r.seq }) > seq => out.push(r),
            Ok(_) => {}
            Err(_) if n + 1 == lines.len() && !complete => {}
            Err(e) => return Err(unreadable(path, n + 1, &e)),
        }
    }
    Ok(out)
}

/// `N` of a line that begins `{"seq":N,` (as every line this engine writes).
fn quick_seq(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("{\"seq\":")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

pub fn corrupt(path: &Path, line: usize, what: &str) -> Error {
    unreadable(path, line, &Unreadable::Bad(what.to_string()))
}

/// A line that is not an event this binary reads: damage, or written by a
/// newer runbook ([`crate::run::decode`]).
pub fn unreadable(path: &Path, line: usize, e: &Unreadable) -> Error {
    Error::invalid(
        Diagnostic::error(e.code(), format!("unreadable run journal: {}", e.what())).at(path, line).hint(e.hint()),
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn read_after_gives_what_read_gives_past_a_seq() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let start = r#"{"seq":1,"at":"t","event":"run-start","v":2,"run":"r","runbook":"a","path":"a.md","hash":"h","env":"e","operator":"u@h"}"#;
        let mut text = format!("{start}\n");
        for i in 2..=12 {
            text.push_str(&format!("{{\"seq\":{i},\"at\":\"t\",\"event\":\"note\",\"text\":\"n{i}\"}}\n"));
        }
        text.push_str("{\"seq\":13,\"at\"");
        std::fs::write(&path, &text).unwrap();
        let all = read(&path).unwrap();
        for k in 0..=13 {
            let after: Vec<u64> = read_after(&path, k).unwrap().iter().map(|e| e.seq).collect();
            let want: Vec<u64> = all.iter().map(|e| e.seq).filter(|s| *s > k).collect();
            assert_eq!(after, want, "after {k}");
        }
        assert_eq!(quick_seq(r#"{"seq":42,"at":""}"#), Some(42));
        assert_eq!(quick_seq(r#"{"at":"","seq":4}"#), None);
    }

    use super::*;

    fn note(text: &str) -> Entry {
        Entry {
            seq: 1,
            at: String::new(),
            event: crate::run::Event::Note(crate::run::event::Note { step: None, text: text.into() }),
        }
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

//! Step logs (SPEC §6), written by a background thread of the play: the
//! steps hand over chunks of output, a [`Chunks`] of the store takes them
//! where they belong (`runs/<run-id>/<step>.log` for the local store).
//!
//! Creating a file is not free (up to a millisecond on a busy ext4, more
//! than a trivial step costs), so neither the creation of a step's log nor
//! its writes are on the step's path: output reaches the writer thread in
//! chunks of up to [`CHUNK`] bytes. At most [`DEPTH`] chunks wait for the
//! writer (memory stays flat whatever a step prints; a disk slower than the
//! step slows the step's output down, as a direct write would), but a step's
//! output never blocks its thread for that: it waits for room
//! ([`LogRoom::wait`]) as the play's other work does, asynchronously. The
//! play's thread may be the one driving the connection a store writes the
//! chunks on ([`crate::store::lent`]), so it must keep running while the
//! writer is behind. Waking a thread is not free either
//! (a system call, often an inter-processor interrupt), so after some work the
//! writer rests for [`REST`] and then takes everything sent meanwhile in one
//! go, and keeps resting for a while before it blocks: the short last chunks
//! of a burst of quick steps cost no wake-up each.
//! A full chunk wakes it at once, so a step that prints a lot is not slowed.
//! The play stops the writer and waits for it before it returns, so every
//! log is complete once `play` is over. Logs are not checkpoints: they are never flushed to disk with
//! `fdatasync` (the journal is), and a `kill -9` of the engine loses what
//! the writer had not written yet.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

/// A chunk is handed to the writer once it holds this much.
pub const CHUNK: usize = 64 * 1024;
/// Chunks in flight before a step's output waits for the writer (memory
/// bound: about `CHUNK * DEPTH`).
const DEPTH: usize = 64;
/// How long the writer waits for more after some work, unless woken (a
/// store may ask for longer: [`Chunks::rest`]).
const REST: std::time::Duration = std::time::Duration::from_millis(10);
/// How long the writer keeps resting without a message before it blocks (a
/// play's steps usually come quicker than that, a long step's output too).
const IDLE: std::time::Duration = std::time::Duration::from_secs(1);

enum Msg {
    /// Append `data` to the log of `step` (created if needed); `last` closes it.
    Chunk {
        step: Arc<str>,
        data: Vec<u8>,
        last: bool,
    },
    /// Nothing more waiting (made by [`batches`], never sent): write what
    /// the store holds back.
    Flush,
    /// Write what was sent before, then answer ([`LogSender::settled`]).
    Settle(tokio::sync::oneshot::Sender<()>),
    Stop,
}

/// Where a store keeps step logs. Called on the writer thread only.
pub trait Chunks: Send {
    /// Append `data` to the log of `step`; `last`: the step's log is
    /// complete for now (a retry or a resume may append more later).
    fn write(&mut self, step: &str, data: &[u8], last: bool);
    /// Nothing more is waiting now: a store that gathers chunks (one
    /// statement for many) writes them.
    fn flush(&mut self) {}
    /// The play's output is all written: the last chance to store what
    /// could not be stored yet.
    fn finish(&mut self) {
        self.flush();
    }
    /// How long the writer rests after some work before it takes what came
    /// meanwhile: the output of quick steps gathered in one write. A running
    /// step's output does not wait for it (its hand-over wakes the writer).
    fn rest(&self) -> std::time::Duration {
        REST
    }
    /// Output this store could not keep anywhere since it was last asked
    /// (a full disk): what was lost and how to fix it, in one sentence.
    fn lost(&mut self) -> Option<String> {
        None
    }
}

/// The writer thread of one play. Dropping it writes what was sent and
/// waits for the thread.
pub struct Logs {
    tx: Sender<Msg>,
    room: Arc<Room>,
    sizes: Sizes,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How far behind the writer is, and who waits for it to catch up.
#[derive(Default)]
struct Room {
    /// Chunks sent and not yet taken by the writer.
    queued: AtomicUsize,
    /// The writer is gone: nobody waits for it.
    closed: AtomicBool,
    freed: tokio::sync::Notify,
    /// The first output the store could not keep ([`Chunks::lost`]).
    lost: Mutex<Option<String>>,
}

impl Room {
    fn full(&self) -> bool {
        self.queued.load(Ordering::Acquire) > DEPTH && !self.closed.load(Ordering::Acquire)
    }

    /// The writer took a chunk: wake who waits if there was no room.
    fn took(&self) {
        if self.queued.fetch_sub(1, Ordering::AcqRel) > DEPTH {
            self.freed.notify_waiters();
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.freed.notify_waiters();
    }

    fn lose(&self, what: String) {
        tracing::error!("{what}");
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(what);
    }
}

/// How long each step's log is: what the store held when the play began,
/// and what the play has handed over since (counted when handed over, so a
/// step's next start knows where its output will begin however far behind
/// the writer is).
type Sizes = Arc<Mutex<HashMap<Arc<str>, u64>>>;

/// What steps hold to send their output to the writer (and to wake it when
/// a chunk is full).
#[derive(Clone)]
pub struct LogSender {
    tx: Sender<Msg>,
    writer: std::thread::Thread,
    room: Arc<Room>,
    sizes: Sizes,
}

impl LogSender {
    /// A sender whose chunks go nowhere (the writer is gone).
    pub fn closed() -> LogSender {
        let (tx, _) = channel();
        let room = Room::default();
        room.close();
        LogSender { tx, writer: std::thread::current(), room: Arc::new(room), sizes: Sizes::default() }
    }

    /// Where the next output of `step` begins in its log, in bytes (its
    /// `step-start`'s `log_from`).
    pub fn offset(&self, step: &str) -> u64 {
        self.sizes.lock().unwrap_or_else(|p| p.into_inner()).get(step).copied().unwrap_or(0)
    }

    /// The first output the store could not keep, if any: the play starts
    /// no step after that (its output would be lost too).
    pub fn lost(&self) -> Option<String> {
        self.room.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Resolves once everything sent before is written (or could not be:
    /// [`LogSender::lost`] says so then), or once the writer is gone.
    pub async fn settled(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Settle(done)).is_err() {
            return;
        }
        self.writer.unpark();
        let _ = written.await;
    }

    /// Nothing more comes soon (the play is ending): the writer stops
    /// resting and writes what it has, while the play does its last work.
    pub fn hurry(&self) {
        self.writer.unpark();
    }

    fn send(&self, step: Arc<str>, data: Vec<u8>, last: bool) {
        if !data.is_empty() {
            let mut sizes = self.sizes.lock().unwrap_or_else(|p| p.into_inner());
            *sizes.entry(step.clone()).or_insert(0) += data.len() as u64;
        }
        // Counted first: the writer may take it before `send` returns.
        self.room.queued.fetch_add(1, Ordering::AcqRel);
        // Fails only once the play has stopped the writer: nothing to keep then.
        if self.tx.send(Msg::Chunk { step, data, last }).is_err() {
            self.room.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// What a step's output waits on while the writer is [`DEPTH`] chunks
/// behind.
#[derive(Clone)]
pub struct LogRoom(Arc<Room>);

impl LogRoom {
    /// Ready at once unless the writer is behind; then ready once it has
    /// taken a chunk (or is gone).
    pub async fn wait(&self) {
        while self.0.full() {
            let freed = self.0.freed.notified();
            let mut freed = std::pin::pin!(freed);
            // Registered before the check, so a chunk taken in between wakes it.
            freed.as_mut().enable();
            if !self.0.full() {
                return;
            }
            freed.await;
        }
    }
}

impl Logs {
    /// The writer of a run whose step logs hold `sizes` bytes now (by step).
    pub fn start(chunks: Box<dyn Chunks>, sizes: HashMap<String, u64>) -> std::io::Result<Logs> {
        let (tx, rx) = channel();
        let room = Arc::new(Room::default());
        let r = room.clone();
        let thread = std::thread::Builder::new().name("step-logs".into()).spawn(move || writer(rx, chunks, &r))?;
        let sizes = sizes.into_iter().map(|(k, v)| (Arc::from(k), v)).collect();
        Ok(Logs { tx, room, sizes: Arc::new(Mutex::new(sizes)), thread: Some(thread) })
    }

    pub fn sender(&self) -> LogSender {
        let writer = self.thread.as_ref().map(|t| t.thread().clone()).unwrap_or_else(std::thread::current);
        LogSender { tx: self.tx.clone(), writer, room: self.room.clone(), sizes: self.sizes.clone() }
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// `RUNBOOK_FAULT=<fault>:FILE` (debug builds, as the engine's other
/// faults): makes `FILE.reached`, then waits until FILE exists
/// (`RUNBOOK_TEST_WAIT` seconds at most), so a test can act at that point:
///
/// - `logs-stop-wait-for`: the writer, told to stop (the play is ending),
///   waits before its last writes, so a test can look at the play while it
///   finishes its logs;
/// - `pg-logs-wait-for`: every write of step output to PostgreSQL waits, so
///   a test can have it reach the store after a take-over.
#[cfg(debug_assertions)]
pub fn fault_wait(fault: &str) {
    let Some(file) = std::env::var("RUNBOOK_FAULT")
        .ok()
        .and_then(|v| v.strip_prefix(fault).and_then(|r| r.strip_prefix(':')).map(std::path::PathBuf::from))
    else {
        return;
    };
    let _ = std::fs::write(file.with_extension("reached"), "");
    let limit = std::env::var("RUNBOOK_TEST_WAIT").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(limit);
    while !file.exists() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(not(debug_assertions))]
pub fn fault_wait(_: &str) {}

/// Messages as they come: waits for the first, then, after each batch,
/// rests `rest` (cut short by an unpark) and takes what came meanwhile.
/// It keeps resting and looking for [`IDLE`] before it blocks on the
/// channel: a send to a blocked receiver wakes it (a system call on the
/// sending step's path), a send to a resting one does not. Each batch ends
/// with [`Msg::Flush`].
fn batches(rx: &Receiver<Msg>, rest: std::time::Duration) -> impl Iterator<Item = Msg> + '_ {
    let rests = (IDLE.as_micros() / rest.as_micros().max(1)).max(1) as u32;
    let mut idle = None;
    let mut dirty = false;
    std::iter::from_fn(move || {
        loop {
            if let Ok(m) = rx.try_recv() {
                idle = Some(0);
                dirty = true;
                return Some(m);
            }
            if dirty {
                dirty = false;
                return Some(Msg::Flush);
            }
            match idle {
                Some(n) if n < rests => {
                    std::thread::park_timeout(rest);
                    idle = Some(n + 1);
                }
                _ => {
                    idle = Some(0);
                    dirty = true;
                    return rx.recv().ok();
                }
            }
        }
    })
}

fn writer(rx: Receiver<Msg>, mut chunks: Box<dyn Chunks>, room: &Room) {
    let rest = chunks.rest();
    for m in batches(&rx, rest) {
        match m {
            Msg::Chunk { step, data, last } => {
                room.took();
                chunks.write(&step, &data, last);
            }
            Msg::Flush => chunks.flush(),
            Msg::Settle(done) => {
                chunks.flush();
                if let Some(what) = chunks.lost() {
                    room.lose(what);
                }
                let _ = done.send(());
            }
            Msg::Stop => break,
        }
        if let Some(what) = chunks.lost() {
            room.lose(what);
        }
    }
    fault_wait("logs-stop-wait-for");
    room.close();
    chunks.finish();
    if let Some(what) = chunks.lost() {
        room.lose(what);
    }
}

/// One step's log: lines are collected here and handed to the writer in
/// chunks; [`LogFile::close`] hands over the rest (and creates the file
/// even when the step printed nothing).
pub struct LogFile {
    step: Arc<str>,
    buf: Vec<u8>,
    tx: LogSender,
    /// Handed over while running ([`LogFile::hand_over`]): a step long
    /// enough to be watched, whose end wakes the writer too.
    live: bool,
}

impl LogFile {
    pub fn new(tx: &LogSender, step: &str) -> LogFile {
        LogFile { step: step.into(), buf: Vec::new(), tx: tx.clone(), live: false }
    }

    pub fn line(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
        self.buf.push(b'\n');
        if self.buf.len() >= CHUNK {
            self.send(false);
        }
    }

    pub fn close(&mut self) {
        self.send(true);
        if self.live {
            self.tx.writer.unpark();
        }
    }

    /// Lines collected and not yet handed to the writer.
    pub fn pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Hand over what is collected now and wake the writer: the output of a
    /// step still running reaches its log (the live view tails it).
    pub fn hand_over(&mut self) {
        if self.pending() {
            self.send(false);
            self.tx.writer.unpark();
            self.live = true;
        }
    }

    fn send(&mut self, last: bool) {
        let data = std::mem::take(&mut self.buf);
        let full = data.len() >= CHUNK;
        self.tx.send(self.step.clone(), data, last);
        if full {
            self.tx.writer.unpark();
        }
    }

    /// What this log's output waits on while the writer is behind.
    pub fn room(&self) -> LogRoom {
        LogRoom(self.tx.room.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;

    #[test]
    fn output_waits_for_room_once_the_writer_is_depth_chunks_behind_and_goes_on_when_it_takes_one() {
        // A writer that takes one chunk per token of `gate`.
        struct Gated(std::sync::mpsc::Receiver<()>);
        impl Chunks for Gated {
            fn write(&mut self, _: &str, _: &[u8], _: bool) {
                let _ = self.0.recv();
            }
        }
        // Declared first, dropped last: a failed assertion drops the gate
        // first, so that the writer is free to end.
        let logs;
        let (gate, rx) = std::sync::mpsc::channel();
        logs = Logs::start(Box::new(Gated(rx)), HashMap::new()).unwrap();
        let mut log = LogFile::new(&logs.sender(), "a");
        let room = log.room();
        let full = "x".repeat(CHUNK);
        for _ in 0..DEPTH + 2 {
            log.line(&full);
        }
        let mut wait = std::pin::pin!(room.wait());
        let pending = wait.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
        assert!(pending.is_pending(), "DEPTH + 1 chunks behind: no room");
        gate.send(()).unwrap();
        // A bound on the wait, not a grace period (as the integration tests).
        let limit = std::env::var("RUNBOOK_TEST_WAIT").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let woken = rt.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(limit), wait).await });
        assert!(woken.is_ok(), "the writer took a chunk: room again, and the waiting output was woken");
        drop(gate);
        drop(log);
        drop(logs);
    }

    #[test]
    fn logs_are_complete_when_the_writer_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = HashMap::from([("a".to_string(), 7)]);
        let logs = Logs::start(Box::new(super::super::local::Files::new(dir.path())), sizes).unwrap();
        let mut a = LogFile::new(&logs.sender(), "a");
        let mut b = LogFile::new(&logs.sender(), "b");
        let big = "x".repeat(1000);
        for _ in 0..200 {
            a.line(&big);
        }
        a.close();
        b.close();
        // Counted when handed over, from what the store held.
        assert_eq!((logs.sender().offset("a"), logs.sender().offset("b")), (7 + 200 * 1001, 0));
        drop(logs);
        assert_eq!(std::fs::read_to_string(dir.path().join("a.log")).unwrap().len(), 200 * 1001);
        assert_eq!(std::fs::read_to_string(dir.path().join("b.log")).unwrap(), "");
    }
}

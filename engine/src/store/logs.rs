//! Step logs (SPEC §6), written by a background thread of the play: the
//! steps hand over chunks of output, a [`Chunks`] of the store takes them
//! where they belong (`runs/<run-id>/<step>.log` for the local store).
//!
//! Creating a file is not free (up to a millisecond on a busy ext4, more
//! than a trivial step costs), so neither the creation of a step's log nor
//! its writes are on the step's path: output reaches the writer thread in
//! chunks of up to [`CHUNK`] bytes through a bounded channel (memory stays
//! flat whatever a step prints; a disk slower than the step slows the step's
//! output down, as a direct write would). Waking a thread is not free either
//! (a system call, often an inter-processor interrupt), so after some work the
//! writer rests for [`REST`] and then takes everything sent meanwhile in one
//! go, and keeps resting for a while before it blocks: the short last chunks
//! of a burst of quick steps cost no wake-up each.
//! A full chunk wakes it at once, so a step that prints a lot is not slowed.
//! The play stops the writer and waits for it before it returns, so every
//! log is complete once `play` is over. Logs are not checkpoints: they are never flushed to disk with
//! `fdatasync` (the journal is), and a `kill -9` of the engine loses what
//! the writer had not written yet.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// A chunk is handed to the writer once it holds this much.
pub const CHUNK: usize = 64 * 1024;
/// Chunks in flight, at most (memory bound: `CHUNK * DEPTH`).
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
    /// How long the writer rests after some work before it takes what came
    /// meanwhile: the output of quick steps gathered in one write. A running
    /// step's output does not wait for it (its hand-over wakes the writer).
    fn rest(&self) -> std::time::Duration {
        REST
    }
    /// Called once on the writer thread, before the first chunk.
    fn begin(&mut self) {}
}

/// The writer thread of one play. Dropping it writes what was sent and
/// waits for the thread.
pub struct Logs {
    tx: SyncSender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What steps hold to send their output to the writer (and to wake it when
/// a chunk is full).
#[derive(Clone)]
pub struct LogSender(SyncSender<Msg>, std::thread::Thread);

impl LogSender {
    /// A sender whose chunks go nowhere (the writer is gone).
    pub fn closed() -> LogSender {
        let (tx, _) = sync_channel(1);
        LogSender(tx, std::thread::current())
    }

    /// Nothing more comes soon (the play is ending): the writer stops
    /// resting and writes what it has, while the play does its last work.
    pub fn hurry(&self) {
        self.1.unpark();
    }
}

impl Logs {
    pub fn start(chunks: Box<dyn Chunks>) -> std::io::Result<Logs> {
        let (tx, rx) = sync_channel(DEPTH);
        let thread = std::thread::Builder::new().name("step-logs".into()).spawn(move || writer(rx, chunks))?;
        Ok(Logs { tx, thread: Some(thread) })
    }

    pub fn sender(&self) -> LogSender {
        let thread = self.thread.as_ref().map(|t| t.thread().clone()).unwrap_or_else(std::thread::current);
        LogSender(self.tx.clone(), thread)
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

fn writer(rx: Receiver<Msg>, mut chunks: Box<dyn Chunks>) {
    chunks.begin();
    let rest = chunks.rest();
    for m in batches(&rx, rest) {
        match m {
            Msg::Chunk { step, data, last } => chunks.write(&step, &data, last),
            Msg::Flush => chunks.flush(),
            Msg::Stop => break,
        }
    }
    chunks.flush();
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
            self.tx.1.unpark();
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
            self.tx.1.unpark();
            self.live = true;
        }
    }

    fn send(&mut self, last: bool) {
        let data = std::mem::take(&mut self.buf);
        let full = data.len() >= CHUNK;
        // Fails only once the play has stopped the writer: nothing to keep then.
        let _ = self.tx.0.send(Msg::Chunk { step: self.step.clone(), data, last });
        if full {
            self.tx.1.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_complete_when_the_writer_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let logs = Logs::start(Box::new(super::super::local::Files::new(dir.path()))).unwrap();
        let mut a = LogFile::new(&logs.sender(), "a");
        let mut b = LogFile::new(&logs.sender(), "b");
        let big = "x".repeat(1000);
        for _ in 0..200 {
            a.line(&big);
        }
        a.close();
        b.close();
        drop(logs);
        assert_eq!(std::fs::read_to_string(dir.path().join("a.log")).unwrap().len(), 200 * 1001);
        assert_eq!(std::fs::read_to_string(dir.path().join("b.log")).unwrap(), "");
    }
}

//! Step output: bytes from a pipe to redacted display lines, the step log, a
//! bounded tail and a bounded copy of stdout (for `capture`, `expect` and
//! `steps.<id>.stdout`). Memory stays flat whatever a step prints.
//!
//! Lines are cut at `\n`; a line longer than [`MAX_LINE`] is emitted in
//! pieces. `\r` progress output shows what a terminal would (the last
//! segment), and control characters and escape sequences are dropped, so a
//! step cannot garble the display. Cleaning comes first and masking second,
//! on whole lines: `grep --color=always` puts escapes inside a secret, and
//! only the cleaned text shows it whole. When a long line must be cut, the
//! last `longest secret - 1` bytes of the cleaned text are held back (and an
//! escape sequence cut in the middle waits for its end), so a secret split
//! across two reads (or two pieces) is still masked.
//!
//! A step whose stdout is captured into a secret holds its stderr lines
//! back (the last [`HELD_LINES`]) until the step is over, when its stdout,
//! the secret, is known: they are masked with it then, and shown.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};

use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use super::events::{Sink, Stream};
use crate::redact::Redactor;
use crate::store::logs::LogFile;

/// Longest piece of a line emitted at once.
pub const MAX_LINE: usize = 16 * 1024;
/// How much stdout is kept for `capture`/`expect`.
pub const KEEP_STDOUT: usize = 1 << 20;
/// Lines kept for the report and the journal.
pub const TAIL_LINES: usize = 20;
/// Longest line kept in the tail.
const TAIL_WIDTH: usize = 400;
/// Stderr lines held back while a secret capture is unknown (the last ones
/// are kept: an error is usually at the end).
pub const HELD_LINES: usize = 1000;

/// What the two pumps of a step share.
pub struct StepOutput {
    pub id: String,
    pub sink: Arc<Sink>,
    pub redactor: Arc<RwLock<Redactor>>,
    pub log: Mutex<Option<LogFile>>,
    pub tail: Mutex<VecDeque<String>>,
    pub stdout: Mutex<Vec<u8>>,
    pub stdout_truncated: std::sync::atomic::AtomicBool,
    /// The step captures stdout into a secret: it is never shown or logged,
    /// and stderr lines wait in `held` until the step is over.
    pub hide_stdout: bool,
    /// Where the step's script came from: its interpreter's messages about
    /// it are shown with the runbook's line (the log and tail keep them as
    /// printed).
    pub origin: Option<Arc<super::origin::ScriptOrigin>>,
    held: Mutex<Held>,
}

/// Stderr lines waiting for a secret capture, and what was dropped.
#[derive(Default)]
struct Held {
    lines: VecDeque<String>,
    dropped: usize,
    /// Each attempt's stdout (trimmed), the secrets to mask the lines with.
    secrets: Vec<String>,
}

impl StepOutput {
    pub fn new(id: &str, sink: Arc<Sink>, redactor: Arc<RwLock<Redactor>>, log: Option<LogFile>) -> Self {
        StepOutput {
            id: id.to_string(),
            sink,
            redactor,
            log: Mutex::new(log),
            tail: Mutex::new(VecDeque::new()),
            stdout: Mutex::new(Vec::new()),
            stdout_truncated: Default::default(),
            hide_stdout: false,
            origin: None,
            held: Mutex::default(),
        }
    }

    /// A secret capture's attempt is over (another may follow): its stdout
    /// is a value to mask the held stderr with.
    pub fn hold_secret(&self) {
        if self.hide_stdout {
            let value = self.stdout_text().trim().to_string();
            self.held.lock().unwrap_or_else(|p| p.into_inner()).secrets.push(value);
        }
    }

    /// The step is over: mask the held stderr lines with the captured
    /// values and emit them.
    pub fn release_held(&self) {
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
        if held.lines.is_empty() {
            return;
        }
        let red = Redactor::new(held.secrets);
        if held.dropped > 0 {
            self.emit(Stream::Stderr, format!("({} earlier lines of stderr dropped)", held.dropped));
        }
        for l in held.lines {
            self.emit(Stream::Stderr, red.redact(&l).into_owned());
        }
    }

    /// A line the engine itself writes to the step log (attempt markers).
    pub fn log_line(&self, text: &str) {
        if let Some(w) = self.log.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            w.line(text);
        }
    }

    /// What the step's output waits on while the log writer is behind.
    fn log_room(&self) -> Option<crate::store::logs::LogRoom> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(LogFile::room)
    }

    /// Output in the log not yet handed to its writer.
    fn log_pending(&self) -> bool {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(LogFile::pending)
    }

    /// Hand the log's collected output to its writer now (see [`LIVE_LOG`]).
    fn log_live(&self) {
        if let Some(w) = self.log.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            w.hand_over();
        }
    }

    /// A line of the engine's own (not the step's) in the log and the tail.
    pub fn marker(&self, text: &str) {
        self.log_line(text);
        self.push_tail(text);
    }

    /// The step is over: hand the rest of its log to the writer.
    pub fn flush(&self) {
        if let Some(w) = self.log.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            w.close();
        }
    }

    /// Emit one display line (already redacted) to the sink, log and tail;
    /// a stderr line of a secret capture waits (see [`StepOutput::release_held`]).
    pub fn line(&self, stream: Stream, line: String) {
        if self.hide_stdout && stream == Stream::Stderr {
            let mut h = self.held.lock().unwrap_or_else(|p| p.into_inner());
            if h.lines.len() == HELD_LINES {
                h.lines.pop_front();
                h.dropped += 1;
            }
            h.lines.push_back(line);
            return;
        }
        self.emit(stream, line);
    }

    fn emit(&self, stream: Stream, line: String) {
        self.log_line(&line);
        self.push_tail(&line);
        let line = match &self.origin {
            Some(o) => o.shown(line),
            None => line,
        };
        self.sink.output(&self.id, stream, line);
    }

    /// Keep a line in the bounded tail, cut to [`TAIL_WIDTH`].
    fn push_tail(&self, line: &str) {
        let mut t = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        let mut cut = line.len().min(TAIL_WIDTH);
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut short = line[..cut].to_string();
        if cut < line.len() {
            short.push('…');
        }
        t.push_back(short);
    }

    pub fn tail(&self) -> String {
        let t = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        t.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    }

    /// The kept stdout, unredacted (for captures; never displayed).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// A new attempt: what the last one printed is gone, cut or not.
    pub fn clear_stdout(&self) {
        self.stdout.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.stdout_truncated.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    fn keep(&self, data: &[u8]) {
        let mut s = self.stdout.lock().unwrap_or_else(|p| p.into_inner());
        let room = KEEP_STDOUT.saturating_sub(s.len());
        if data.len() > room {
            self.stdout_truncated.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        s.extend_from_slice(&data[..data.len().min(room)]);
    }
}

/// The most [`Pump::drain`] reads in one call: what a default pipe holds.
const DRAIN_AT_ONCE: usize = 64 * 1024;

/// A step still running has its output in its log within this (the live
/// view, `runbook serve`, tails the log): once its first unsent line is this
/// old, what was collected is handed to the log writer. A step over sooner
/// costs nothing more; a long one, at most one hand-over per period.
pub const LIVE_LOG: std::time::Duration = std::time::Duration::from_millis(50);

/// Reads one output pipe of a step (a non-blocking read end) to its end.
///
/// [`Pump::drain`] takes what the pipe holds without waiting, so a step that
/// is already over needs no registration with the runtime at all;
/// [`Pump::run`] waits for the rest.
pub struct Pump {
    /// `None` once handed to the runtime.
    pipe: Option<std::fs::File>,
    stream: Stream,
    out: Arc<StepOutput>,
    lines: LineBuf,
}

impl Pump {
    pub fn new(fd: OwnedFd, stream: Stream, out: Arc<StepOutput>) -> Pump {
        Pump { pipe: Some(fd.into()), stream, out, lines: LineBuf::default() }
    }

    /// Read what the pipe holds now, up to [`DRAIN_AT_ONCE`]; `true` once
    /// the stream has ended (its last partial line is emitted then). The
    /// bound matters: a step still running can refill the pipe as fast as it
    /// is read, and the play's event loop (signals, timeouts, other steps)
    /// waits while this reads.
    pub fn drain(&mut self) -> bool {
        let Some(f) = self.pipe.take() else { return true };
        // Plain reads into memory that is not zeroed first (zeroing a buffer
        // for each of a step's two pipes showed up in the per-step cost;
        // `read_to_end` would stat and seek the pipe too).
        let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
        let mut taken = 0;
        let ended = loop {
            if taken >= DRAIN_AT_ONCE {
                break false;
            }
            buf.clear();
            let room = buf.spare_capacity_mut();
            // SAFETY: `read` writes at most `room.len()` bytes into memory we
            // own; only the bytes it reports are then taken as initialised.
            let n = unsafe { nix::libc::read(f.as_raw_fd(), room.as_mut_ptr().cast(), room.len()) };
            match n {
                0 => break true,
                n if n > 0 => {
                    // SAFETY: the first `n` bytes were written by `read`.
                    unsafe { buf.set_len(n as usize) };
                    taken += n as usize;
                    self.feed(&buf);
                }
                _ => match std::io::Error::last_os_error().kind() {
                    std::io::ErrorKind::Interrupted => {}
                    std::io::ErrorKind::WouldBlock => break false,
                    _ => break true,
                },
            }
        };
        match ended {
            true => self.finish(),
            false => self.pipe = Some(f),
        }
        ended
    }

    /// Read to the end of the stream, waiting for data.
    pub async fn run(mut self) {
        if let Some(f) = self.pipe.take()
            && let Ok(mut r) = pipe::Receiver::from_owned_fd_unchecked(f.into())
        {
            // Not zeroed: most steps print a few lines (touching 64 KiB for
            // each step's two pipes showed up in the per-step cost).
            let mut buf = Vec::with_capacity(64 * 1024);
            let mut live_at: Option<tokio::time::Instant> = None;
            let room = self.out.log_room();
            loop {
                buf.clear();
                // Output that never pauses still reaches the log in time.
                if live_at.is_some_and(|at| tokio::time::Instant::now() >= at) {
                    self.out.log_live();
                    live_at = None;
                }
                if live_at.is_none() && self.out.log_pending() {
                    live_at = Some(tokio::time::Instant::now() + LIVE_LOG);
                }
                let read = match live_at {
                    // `read_buf` is cancel-safe: nothing read is lost.
                    Some(at) => tokio::select! {
                        biased;
                        res = r.read_buf(&mut buf) => res,
                        _ = tokio::time::sleep_until(at) => {
                            self.out.log_live();
                            live_at = None;
                            continue;
                        }
                    },
                    None => r.read_buf(&mut buf).await,
                };
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        self.feed(&buf);
                        // A log writer behind slows the step down (its pipe
                        // fills), never the play's loop.
                        if let Some(room) = &room {
                            room.wait().await;
                        }
                        // A read is one unit of the runtime's budget, but a
                        // full chunk is thousands of lines to show: a step
                        // flooding its output would hold the play's loop
                        // (its timeout, signals) for seconds between yields.
                        if n >= 16 * 1024 {
                            tokio::task::yield_now().await;
                        }
                    }
                }
            }
        }
        self.finish();
    }

    fn feed(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let out = &self.out;
        if self.stream == Stream::Stdout {
            out.keep(data);
            if out.hide_stdout {
                return;
            }
        }
        let red = out.redactor.read().unwrap_or_else(|p| p.into_inner()).clone();
        let stream = self.stream;
        self.lines.push(data, &red, &mut |l| out.line(stream, l));
    }

    fn finish(&mut self) {
        let out = &self.out;
        let red = out.redactor.read().unwrap_or_else(|p| p.into_inner()).clone();
        let stream = self.stream;
        self.lines.finish(&red, &mut |l| out.line(stream, l));
    }
}

/// Splits a byte stream into cleaned, redacted display lines.
#[derive(Default)]
pub struct LineBuf {
    buf: Vec<u8>,
}

impl LineBuf {
    pub fn push(&mut self, data: &[u8], red: &Redactor, out: &mut dyn FnMut(String)) {
        self.buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(p) = memchr::memchr(b'\n', &self.buf[start..]) {
            let line = String::from_utf8_lossy(&self.buf[start..start + p]);
            out(red.redact(&clean(&line)).into_owned());
            start += p + 1;
        }
        self.buf.drain(..start);
        while self.buf.len() > MAX_LINE {
            let end = piece_end(&self.buf);
            let text = clean(&String::from_utf8_lossy(&self.buf[..end]));
            let red_text = red.redact(&text).into_owned();
            // Held back: what could be the start of a secret that goes on
            // in the next piece.
            let hold = red.max_len().saturating_sub(1);
            let mut cut = red_text.len().saturating_sub(hold);
            while !red_text.is_char_boundary(cut) {
                cut -= 1;
            }
            if cut > 0 {
                out(red_text[..cut].to_string());
            }
            let mut rest = red_text.as_bytes()[cut..].to_vec();
            rest.extend_from_slice(&self.buf[end..]);
            if rest.len() >= self.buf.len() {
                // Nothing could be emitted (a huge secret): give up holding.
                if !red_text.is_empty() {
                    out(red_text);
                }
                self.buf.drain(..end);
                if self.buf.len() > MAX_LINE {
                    self.buf.clear();
                }
                break;
            }
            self.buf = rest;
        }
    }

    pub fn finish(&mut self, red: &Redactor, out: &mut dyn FnMut(String)) {
        if !self.buf.is_empty() {
            let line = String::from_utf8_lossy(&self.buf).into_owned();
            out(red.redact(&clean(&line)).into_owned());
            self.buf.clear();
        }
    }
}

/// Where to cut a piece of a long line: not inside a UTF-8 sequence, and
/// not inside an escape sequence (which would show half of it as text);
/// an escape longer than 256 bytes is cut all the same.
fn piece_end(buf: &[u8]) -> usize {
    let mut end = buf.len();
    let mut back = 0;
    while back < 3 && end > 0 && (buf[end - 1] & 0xC0) == 0x80 {
        end -= 1;
        back += 1;
    }
    if end > 0 && buf[end - 1] >= 0xC0 {
        end -= 1;
    } else {
        end = buf.len();
    }
    let window = end.saturating_sub(256);
    if let Some(esc) = memchr::memrchr(0x1b, &buf[window..end]).map(|i| window + i)
        && !escape_ended(&buf[esc..end])
        && esc > 0
    {
        return esc;
    }
    end
}

/// Does the escape sequence at the start of `s` end within it?
fn escape_ended(s: &[u8]) -> bool {
    match s.get(1) {
        None => false,
        Some(b'[') => s[2..].iter().any(|c| (0x40..=0x7e).contains(c)),
        Some(b']') => s[2..].windows(2).any(|w| w == b"\x1b\\") || s[2..].contains(&0x07),
        Some(_) => true,
    }
}

/// What a terminal would show of a line: the last `\r` segment, without
/// control characters or escape sequences (tabs are kept).
pub fn clean(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let seg = line.rsplit('\r').find(|s| !s.is_empty()).unwrap_or("");
    let mut out = String::with_capacity(seg.len());
    let mut chars = seg.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI `ESC [ … final`, OSC `ESC ] … BEL|ESC \`, or a two-char escape.
                match chars.peek() {
                    Some('[') => {
                        chars.next();
                        for c in chars.by_ref() {
                            if ('@'..='~').contains(&c) {
                                break;
                            }
                        }
                    }
                    Some(']') => {
                        chars.next();
                        while let Some(c) = chars.next() {
                            if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                                break;
                            }
                        }
                    }
                    Some(_) => {
                        chars.next();
                    }
                    None => {}
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]], secrets: &[&str]) -> Vec<String> {
        let red = Redactor::new(secrets.iter().map(|s| s.to_string()));
        let mut lb = LineBuf::default();
        let mut out = Vec::new();
        for c in chunks {
            lb.push(c, &red, &mut |l| out.push(l));
        }
        lb.finish(&red, &mut |l| out.push(l));
        out
    }

    #[test]
    fn secret_split_across_reads() {
        assert_eq!(run(&[b"tok=hun", b"ter2\nx"], &["hunter2"]), vec!["tok=***", "x"]);
    }

    #[test]
    fn long_line_secret_at_cut() {
        let mut big = vec![b'a'; MAX_LINE - 3];
        big.extend_from_slice(b"hun");
        let out = run(&[&big, b"ter2 end\n"], &["hunter2"]);
        let joined: String = out.concat();
        assert!(joined.ends_with("***ter2 end") || joined.ends_with("*** end"), "{}", &joined[joined.len() - 20..]);
        assert!(!joined.contains("hunter2"));
    }

    #[test]
    fn cleans_progress_and_escapes() {
        assert_eq!(clean("10%\r50%\r100%"), "100%");
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m\u{7}"), "red");
        assert_eq!(clean("done\r"), "done");
    }

    #[test]
    fn escapes_inside_a_secret_are_stripped_before_masking() {
        // `echo pw=hunter2hunter2 | grep --color=always hunter`
        let coloured = b"pw=\x1b[01;31m\x1b[Khunter\x1b[m\x1b[K2\x1b[01;31m\x1b[Khunter\x1b[m\x1b[K2\n";
        assert_eq!(run(&[coloured], &["hunter2"]), vec!["pw=******"]);
        let osc = b"\x1b]8;;http://x\x1b\\hun\x1b]8;;\x1b\\ter2\n";
        assert_eq!(run(&[osc], &["hunter2"]), vec!["***"]);
    }

    #[test]
    fn escapes_in_a_long_line_cut_across_reads() {
        let mut big = vec![b'a'; MAX_LINE + 10];
        big.extend_from_slice(b"hun\x1b[01;3");
        let out = run(&[&big, b"1mter2 end\n"], &["hunter2"]);
        let joined: String = out.concat();
        assert!(joined.ends_with("*** end"), "{}", &joined[joined.len() - 20..]);
        assert!(!joined.contains('\x1b') && !joined.contains("1m"));
    }

    #[test]
    fn non_utf8() {
        assert_eq!(run(&[b"a\xffb\n"], &[]), vec!["a\u{fffd}b"]);
    }
}

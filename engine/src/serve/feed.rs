//! What a run's poller publishes ([`Feed`]) and how it is made: each read
//! of the store becomes SSE messages written once, as one [`Bytes`] chunk
//! every client that was up to date sends as is (fifty clients cost one
//! serialisation, not fifty); the output of a step is followed by the bytes
//! added to its log, never by reading it whole again.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;

use crate::store::LogTail;

/// How much of a step's output a feed keeps (its tail), and a page shows.
pub const TAIL: usize = 64 * 1024;

/// How many chunks a feed keeps for clients a few reads behind; one
/// further behind is caught up from the feed itself.
pub const RECENT: usize = 64;

/// The tail of a step's output: `text` starts at byte `from` of its log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tail {
    pub from: usize,
    pub text: Arc<str>,
}

/// An event of the run, as JSON once for every client.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: u64,
    pub json: Arc<str>,
}

/// What a run's poller has read so far: every event, the output of the
/// steps in flight (or just over), and the chunks that brought the last
/// feeds.
#[derive(Debug, Default)]
pub struct Feed {
    pub events: Vec<Frame>,
    pub logs: BTreeMap<String, Tail>,
    /// The run cannot be read (damaged, removed): the clients are told, once.
    pub error: Option<String>,
    /// Whether a chunk told the clients the run is unreadable.
    pub told: bool,
    /// This feed's number: 0 before the first read.
    pub generation: u64,
    /// `recent[i]` took feed `generation - recent.len() + i` to the next one.
    pub recent: VecDeque<Bytes>,
}

impl Feed {
    /// What a client at feed `have` sends to be at this one, if the feed
    /// still has all of it.
    pub fn since(&self, have: u64) -> Option<Bytes> {
        let behind = self.generation.checked_sub(have)? as usize;
        if have == 0 || behind > self.recent.len() {
            return None;
        }
        let parts = self.recent.range(self.recent.len() - behind..);
        if behind == 1 {
            return parts.last().cloned();
        }
        Some(Bytes::from(parts.flat_map(|b| b.iter().copied()).collect::<Vec<u8>>()))
    }
}

/// One message in the text/event-stream format.
pub fn message(out: &mut String, event: Option<&str>, id: Option<u64>, data: &str) {
    if let Some(e) = event {
        let _ = writeln!(out, "event: {e}");
    }
    if let Some(id) = id {
        let _ = writeln!(out, "id: {id}");
    }
    for line in data.split('\n') {
        let _ = writeln!(out, "data: {}", line.trim_end_matches('\r'));
    }
    out.push('\n');
}

/// An `output` message: `text` starts at byte `from` of the step's log.
pub fn output(out: &mut String, step: &str, from: usize, text: &str) {
    let data = serde_json::json!({ "step": step, "from": from, "text": text }).to_string();
    message(out, Some("output"), None, &data);
}

/// The length of `bytes` without a character cut at its end (the rest of
/// it is in the log's next bytes).
fn whole_chars(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(4) {
        let b = bytes[n - back];
        if b & 0xC0 == 0x80 {
            continue;
        }
        let width = match b {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if width > back { n - back } else { n };
    }
    n
}

/// A step's log as a poller follows it: where it has read to, and the tail
/// the feed shows.
#[derive(Debug, Clone, Default)]
pub struct Follow {
    pub end: u64,
    pub tail: Tail,
}

impl Follow {
    /// Take what a read of the log brought (the bytes from [`Follow::end`],
    /// or a later tail): the new text and the byte it starts at, if any.
    pub fn take(&mut self, read: &LogTail) -> Option<(usize, String)> {
        let mut bytes = &read.bytes[..];
        let mut from = read.from;
        let append = from == self.end && !self.tail.text.is_empty();
        if from != self.end {
            // A tail cut from a longer log starts on a character.
            let skip = bytes.iter().take(3).take_while(|b| **b & 0xC0 == 0x80).count();
            bytes = &bytes[skip..];
            from += skip as u64;
        }
        let cut = whole_chars(bytes);
        let text = String::from_utf8_lossy(&bytes[..cut]).into_owned();
        let moved = from + cut as u64 != self.end;
        self.end = from + cut as u64;
        if text.is_empty() {
            if moved && !append {
                self.tail = Tail { from: self.end as usize, text: "".into() };
            }
            return None;
        }
        if append {
            let mut all = String::with_capacity(self.tail.text.len() + text.len());
            let mut start = (self.tail.text.len() + text.len()).saturating_sub(TAIL).min(self.tail.text.len());
            while !self.tail.text.is_char_boundary(start) {
                start += 1;
            }
            all.push_str(&self.tail.text[start..]);
            all.push_str(&text);
            self.tail = Tail { from: self.tail.from + start, text: all.into() };
        } else {
            self.tail = Tail { from: from as usize, text: text.clone().into() };
        }
        Some((from as usize, text))
    }
}

/// The last [`TAIL`] bytes of a log read from `from`, from a character boundary.
pub fn tail(read: &LogTail) -> Tail {
    let mut f = Follow { end: u64::MAX, tail: Tail::default() };
    f.take(read);
    f.tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(all: &[u8], since: u64, max: u64) -> LogTail {
        LogTail::cut(all, since, max)
    }

    #[test]
    fn a_tail_starts_on_a_character() {
        let mut log = "é".repeat(TAIL);
        log.push('x');
        let t = tail(&read(log.as_bytes(), 0, TAIL as u64));
        assert!(t.text.len() <= TAIL && t.text.ends_with('x') && !t.text.contains('\u{FFFD}'));
        assert_eq!(t.from + t.text.len(), log.len());
        assert_eq!(tail(&read(b"short", 0, TAIL as u64)), Tail { from: 0, text: "short".into() });
    }

    /// Followed in reads cut anywhere (mid-character too), a log's text is
    /// told once, in order, and the tail is its end.
    #[test]
    fn a_followed_log_is_told_once_whatever_the_reads() {
        let log = "añb€c😀d\n".repeat(7);
        let all = log.as_bytes();
        for step in 1..=5 {
            let mut f = Follow::default();
            let mut told = String::new();
            let mut written = 0;
            while written < all.len() {
                written = (written + step).min(all.len());
                if let Some((from, text)) = f.take(&read(&all[..written], f.end, TAIL as u64)) {
                    assert_eq!(from, told.len(), "appended where it was");
                    told.push_str(&text);
                }
            }
            assert_eq!(told, log);
            assert_eq!(&*f.tail.text, log.as_str());
        }
        // More than a tail since the last read: the text restarts further on.
        let big = "x".repeat(3 * TAIL);
        let mut f = Follow::default();
        f.take(&read(&big.as_bytes()[..10], 0, TAIL as u64));
        let (from, text) = f.take(&read(big.as_bytes(), f.end, TAIL as u64)).unwrap();
        assert_eq!((from, text.len()), (2 * TAIL, TAIL));
        assert_eq!(f.tail.from, 2 * TAIL);
    }

    #[test]
    fn a_feed_gives_what_a_client_missed_while_it_has_it() {
        let mut feed = Feed::default();
        for g in 1..=3u64 {
            feed.generation = g;
            feed.recent.push_back(Bytes::from(format!("{g};")));
        }
        assert_eq!(feed.since(2).unwrap(), "3;");
        assert_eq!(feed.since(1).unwrap(), "2;3;");
        assert_eq!(feed.since(3).unwrap(), "");
        assert_eq!(feed.since(0), None, "a new client is caught up from the feed");
        feed.recent.pop_front();
        assert_eq!(feed.since(1).unwrap(), "2;3;", "the chunk that took feed 1 to 2 is still there");
        feed.recent.pop_front();
        assert_eq!(feed.since(1), None, "too far behind");
        assert_eq!(feed.since(2).unwrap(), "3;");
    }
}

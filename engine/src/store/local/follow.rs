//! Reading a run while it grows, for the live view: the new lines of a
//! journal from a byte offset (never the whole file again), and the end of
//! a step's log by a seek from the end (never the whole log of a step that
//! printed megabytes).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::journal;
use crate::error::{Error, Result};
use crate::run::{Entry, Event};
use crate::store::LogTail;

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Other(anyhow::anyhow!("{}: {e}", path.display()))
}

/// The events of the journal at `path` after `seq`, reading from byte
/// `mark` (0: the whole journal), which moves past the last complete line
/// read (a line being written is read next time).
pub fn events(path: &Path, seq: u64, mark: &mut u64) -> Result<Vec<Entry>> {
    let mut f = File::open(path).map_err(|e| io(path, e))?;
    let len = f.metadata().map_err(|e| io(path, e))?.len();
    // A journal shorter than what was read was replaced: read it anew.
    let start = if *mark > len { 0 } else { *mark };
    let mut buf = Vec::new();
    f.seek(SeekFrom::Start(start)).map_err(|e| io(path, e))?;
    f.read_to_end(&mut buf).map_err(|e| io(path, e))?;
    let Some(nl) = buf.iter().rposition(|&b| b == b'\n') else {
        if start == 0 && !buf.is_empty() {
            // Not even the run-start is whole yet.
            return Ok(Vec::new());
        }
        return if start == 0 { Err(journal::corrupt(path, 1, "the journal is empty")) } else { Ok(Vec::new()) };
    };
    let text = String::from_utf8_lossy(&buf[..=nl]);
    // Line numbers, for an error: the lines before `start`.
    let line0 = || -> usize {
        std::fs::read(path)
            .map_or(0, |all| all[..(start as usize).min(all.len())].iter().filter(|&&b| b == b'\n').count())
    };
    let mut out = Vec::new();
    // Lines of the first format (no `seq`) are numbered in order, as the fold does.
    let mut at = 0u64;
    for (n, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        at += 1;
        if start == 0
            && let Some(s) = quick_seq(l)
            && s <= seq
        {
            continue;
        }
        let e: Entry = crate::run::decode::decode(l).map_err(|e| journal::unreadable(path, line0() + n + 1, &e))?;
        if start == 0 && n == 0 && !matches!(e.event, Event::RunStart(_)) {
            return Err(journal::corrupt(path, 1, "the journal does not begin with a run-start event"));
        }
        // Past the first read, every line is new.
        if start > 0 || (if e.seq == 0 { at } else { e.seq }) > seq {
            out.push(e);
        }
    }
    *mark = start + nl as u64 + 1;
    Ok(out)
}

/// `N` of a line that begins `{"seq":N,` (as every line this engine writes).
fn quick_seq(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("{\"seq\":")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// The end of the log at `path` ([`crate::store::Store::log_tail`]).
pub fn log_tail(path: &Path, since: u64, max_bytes: u64) -> Result<Option<LogTail>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, e)),
    };
    let len = f.metadata().map_err(|e| io(path, e))?.len();
    let from = LogTail::start(len, since, max_bytes);
    let mut bytes = Vec::with_capacity((len - from) as usize);
    if from < len {
        f.seek(SeekFrom::Start(from)).map_err(|e| io(path, e))?;
        f.take(len - from).read_to_end(&mut bytes).map_err(|e| io(path, e))?;
    }
    Ok(Some(LogTail { len: from + bytes.len() as u64, from, bytes }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A journal of `n` events, the last line torn.
    fn journal(n: u64) -> String {
        let start = r#"{"seq":1,"at":"t","event":"run-start","v":2,"run":"r","runbook":"a","path":"a.md","hash":"h","env":"e","operator":"u@h"}"#;
        let mut text = format!("{start}\n");
        for i in 2..=n {
            text.push_str(&format!("{{\"seq\":{i},\"at\":\"t\",\"event\":\"note\",\"text\":\"n{i}\"}}\n"));
        }
        text
    }

    #[test]
    fn a_follower_reads_each_event_once_however_the_writes_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(journal::FILE);
        let text = journal(12);
        // Grown in two writes cut at every byte: what the follower reads, in
        // two reads, is every event once, in order.
        for cut in 1..text.len() {
            std::fs::write(&p, &text[..cut]).unwrap();
            let (mut mark, mut seen) = (0, Vec::new());
            seen.extend(events(&p, 0, &mut mark).unwrap().iter().map(|e| e.seq));
            let last = seen.last().copied().unwrap_or(0);
            std::fs::OpenOptions::new().append(true).open(&p).unwrap().write_all(&text.as_bytes()[cut..]).unwrap();
            seen.extend(events(&p, last, &mut mark).unwrap().iter().map(|e| e.seq));
            assert_eq!(seen, (1..=12).collect::<Vec<_>>(), "cut at {cut}");
            assert_eq!(mark, text.len() as u64);
            assert!(events(&p, 12, &mut mark).unwrap().is_empty());
        }
        // A first read after a seq gives what reading the whole journal does.
        for k in 0..=12 {
            let mut mark = 0;
            let got: Vec<u64> = events(&p, k, &mut mark).unwrap().iter().map(|e| e.seq).collect();
            let want: Vec<u64> = journal::read_after(&p, k).unwrap().iter().map(|e| e.seq).collect();
            assert_eq!(got, want);
        }
        // A damaged line is an error naming its line, not a skipped event.
        std::fs::write(&p, format!("{}{{oops\n", journal(3))).unwrap();
        let mut mark = 0;
        assert!(events(&p, 0, &mut mark).unwrap_err().to_string().contains("unreadable run journal"));
    }

    #[test]
    fn a_tail_is_read_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.log");
        assert_eq!(log_tail(&p, 0, 4).unwrap(), None);
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(log_tail(&p, 0, 4).unwrap(), Some(LogTail { len: 10, from: 6, bytes: b"6789".to_vec() }));
        assert_eq!(log_tail(&p, 8, 4).unwrap().unwrap().bytes, b"89");
        assert_eq!(log_tail(&p, 10, 4).unwrap().unwrap().bytes, b"");
        assert_eq!(log_tail(&p, 99, 4).unwrap().unwrap().from, 6, "past the end: read anew");
        for since in 0..12 {
            assert_eq!(log_tail(&p, since, 4).unwrap().unwrap(), LogTail::cut(b"0123456789", since, 4));
        }
    }
}

//! Writing a command's output to stdout, and remembering whether it got
//! there. A closed pipe (`runbook list | head -1`) is the reader's choice
//! and is ignored; any other failure (`runbook report RUN > incident.md` on
//! a full disk) must not end in exit 0 with half a report, so the first
//! such error is kept and `main` turns it into exit 1 with a message.

use std::io::Write as _;
use std::sync::Mutex;

static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Write `text` to stdout and flush it.
pub fn write(text: &str) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        note(&e);
    }
}

/// Keep the first write error that is not a closed pipe.
pub fn note(e: &std::io::Error) {
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        let mut failed = FAILED.lock().unwrap_or_else(|p| p.into_inner());
        failed.get_or_insert_with(|| e.to_string());
    }
}

/// The first write to stdout that failed, other than a closed pipe.
pub fn failed() -> Option<String> {
    FAILED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

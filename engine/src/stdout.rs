//! Writing a command's output to stdout, and remembering whether it got
//! there. A closed pipe (`runbook list | head -1`) is the reader's choice
//! and is ignored; any other failure (`runbook report RUN > incident.md` on
//! a full disk) must not end in exit 0 with half a report, so the first
//! such error is kept and `main` turns it into exit 1 with a message.
//! Whether what goes there may be coloured is decided here too, once for
//! every command ([`colour_allowed`]).

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

/// May output to a terminal be coloured? Not with `NO_COLOR` set to
/// anything but the empty string (no-color.org), nor on `TERM=dumb`, a
/// terminal that shows escape codes as text. Whether stdout is a terminal
/// is the caller's question.
pub fn colour_allowed() -> bool {
    colour_allowed_by(std::env::var_os("NO_COLOR").as_deref(), std::env::var_os("TERM").as_deref())
}

fn colour_allowed_by(no_color: Option<&std::ffi::OsStr>, term: Option<&std::ffi::OsStr>) -> bool {
    no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_and_a_dumb_terminal_turn_colour_off() {
        let os = |s: &'static str| Some(std::ffi::OsStr::new(s));
        assert!(colour_allowed_by(None, os("xterm")));
        assert!(colour_allowed_by(os(""), os("xterm")), "an empty NO_COLOR is unset");
        assert!(!colour_allowed_by(os("1"), os("xterm")));
        assert!(!colour_allowed_by(None, os("dumb")));
        assert!(colour_allowed_by(None, None));
    }
}

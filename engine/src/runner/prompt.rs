//! Questions on the terminal.
//!
//! The question is printed on stderr (a value's control characters in it
//! shown as escapes, [`crate::visible`]) and the reply read from stdin with
//! `poll`, never with a blocking read left behind: a reader stuck in `read`
//! would steal the first line typed into a later interactive step. Polling
//! also lets a timeout (Ctrl-C's "quit after 10 s") and a second Ctrl-C
//! (the `cancel` flag) end the question.
//!
//! Values of secret variables are read with echo off. Before the play's own
//! signal handling exists (the questions of `setup`), [`SignalFlag`] turns
//! Ctrl-C, SIGTERM and SIGHUP into the `cancel` flag, so the terminal's echo
//! is always restored and a hung-up terminal ends the question as Ctrl-D
//! does (never as an answer).

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
pub use nix::sys::termios::LocalFlags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Line(String),
    Timeout,
    Cancelled,
    /// stdin closed.
    Eof,
}

/// Can questions be asked here?
pub fn terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Can an `interactive` step have the terminal here? It inherits stdin,
/// stdout and stderr: all three must be one, or it would read the engine's
/// piped input and write unmasked output into a log.
pub fn step_terminal() -> bool {
    terminal() && std::io::stdout().is_terminal()
}

/// Print `question` and read one line. What was typed before the question
/// was shown (a `y` meant for something else, typed while a step ran) is
/// discarded first: only a reply to the question is its answer.
pub fn ask(question: &str, timeout: Option<Duration>, cancel: &AtomicBool) -> Reply {
    discard_typed_ahead();
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{}", crate::visible::text(question));
    let _ = err.flush();
    drop(err);
    let start = Instant::now();
    let stdin = std::io::stdin();
    loop {
        if cancel.load(Ordering::SeqCst) {
            crate::errln!();
            return Reply::Cancelled;
        }
        if let Some(t) = timeout
            && start.elapsed() >= t
        {
            crate::errln!();
            return Reply::Timeout;
        }
        let fd = stdin.as_fd();
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) => continue,
            Ok(_) => {
                let mut buf = [0u8; 1024];
                match nix::unistd::read(stdin.as_fd(), &mut buf) {
                    Ok(0) => return Reply::Eof,
                    Ok(n) => return Reply::Line(String::from_utf8_lossy(&buf[..n]).trim().to_string()),
                    Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => continue,
                    Err(_) => return Reply::Eof,
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return Reply::Eof,
        }
    }
}

/// Drop the terminal's pending input (nothing when stdin is not one: piped
/// answers are meant in order).
fn discard_typed_ahead() {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let _ = nix::sys::termios::tcflush(stdin.as_fd(), nix::sys::termios::FlushArg::TCIFLUSH);
    }
}

/// Ask until the reply is one of `choices` (first letters); `default` for an
/// empty line. `None` when cancelled, timed out without default, or at EOF.
pub fn choose(question: &str, choices: &[char], default: Option<char>, cancel: &AtomicBool) -> Option<char> {
    loop {
        match ask(question, None, cancel) {
            Reply::Line(l) if l.is_empty() => {
                if default.is_some() {
                    return default;
                }
            }
            Reply::Line(l) => {
                let c = l.chars().next().map(|c| c.to_ascii_lowercase())?;
                if choices.contains(&c) {
                    return Some(c);
                }
            }
            _ => return None,
        }
    }
}

/// Ask for one of `keys` with a time limit: the key and how it came
/// (typed, or `default` when nobody answered in time or the line was
/// empty); `None` when cancelled or at EOF.
pub fn ask_key(
    question: &str,
    keys: &[char],
    default: char,
    wait: Duration,
    cancel: &AtomicBool,
) -> Option<(char, crate::run::event::How)> {
    use crate::run::event::How;
    match ask(question, Some(wait), cancel) {
        Reply::Line(l) => match l.chars().next().map(|c| c.to_ascii_lowercase()) {
            Some(c) if keys.contains(&c) => Some((c, How::Prompt)),
            _ => Some((default, How::Prompt)),
        },
        Reply::Timeout => Some((default, How::Timeout)),
        _ => None,
    }
}

/// Ask for a value: one line, trimmed; with echo off when `secret`.
pub fn value(question: &str, secret: bool, cancel: &AtomicBool) -> Reply {
    if !secret {
        return ask(question, None, cancel);
    }
    // The typed characters stay hidden; the Enter still ends the line.
    let _echo = TermFlags::remove(LocalFlags::ECHO, LocalFlags::ECHONL);
    ask(question, None, cancel)
}

/// The terminal's settings as they are now, put back on drop: an
/// `interactive` step (an editor, `kubectl edit`) killed by its timeout
/// leaves the terminal raw and without echo otherwise.
pub fn keep_terminal_settings() -> TermFlags {
    TermFlags::remove(LocalFlags::empty(), LocalFlags::empty())
}

/// Local flags of a terminal changed while alive (the previous settings
/// restored on drop); does nothing when the descriptor is not a terminal.
pub struct TermFlags(Option<(std::os::fd::OwnedFd, nix::sys::termios::Termios)>);

impl TermFlags {
    /// On the terminal of stdin (where answers are read).
    pub fn remove(off: LocalFlags, on: LocalFlags) -> Self {
        TermFlags::remove_on(std::io::stdin().as_fd(), off, on)
    }

    pub fn remove_on(fd: std::os::fd::BorrowedFd<'_>, off: LocalFlags, on: LocalFlags) -> Self {
        use nix::sys::termios::{SetArg, tcgetattr, tcsetattr};
        let Ok(old) = tcgetattr(fd) else { return TermFlags(None) };
        let mut new = old.clone();
        new.local_flags.remove(off);
        new.local_flags.insert(on);
        // Its own descriptor, so that the drop restores the same terminal.
        let Ok(fd) = fd.try_clone_to_owned() else { return TermFlags(None) };
        if tcsetattr(&fd, SetArg::TCSANOW, &new).is_err() {
            return TermFlags(None);
        }
        TermFlags(Some((fd, old)))
    }
}

impl Drop for TermFlags {
    fn drop(&mut self) {
        if let Some((fd, old)) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(fd, nix::sys::termios::SetArg::TCSANOW, old);
        }
    }
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);
static HUNG_UP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: nix::libc::c_int) {
    if sig == nix::libc::SIGHUP {
        HUNG_UP.store(true, Ordering::SeqCst);
    }
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// While alive, SIGINT, SIGTERM and SIGHUP set a flag (see [`SignalFlag::flag`])
/// instead of ending the process; the previous dispositions are restored on
/// drop.
pub struct SignalFlag(Vec<(nix::sys::signal::Signal, nix::sys::signal::SigAction)>);

impl SignalFlag {
    pub fn install() -> Self {
        use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
        SIGNALLED.store(false, Ordering::SeqCst);
        HUNG_UP.store(false, Ordering::SeqCst);
        let act = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
        let mut old = Vec::new();
        for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            // SAFETY: the handler only stores to an atomic (async-signal-safe).
            if let Ok(o) = unsafe { sigaction(sig, &act) } {
                old.push((sig, o));
            }
        }
        SignalFlag(old)
    }

    pub fn flag(&self) -> &'static AtomicBool {
        &SIGNALLED
    }

    /// Why a question asked while alive ended without a reply (exit 130,
    /// nothing run): a signal, or the end of its input (Ctrl-D, or the
    /// terminal hung up), never an answer. `at`: which question.
    pub fn unanswered(&self, at: &str) -> String {
        if HUNG_UP.load(Ordering::SeqCst) || !terminal() {
            format!("interrupted by SIGHUP at {at} (the terminal was closed): nothing was run")
        } else if SIGNALLED.load(Ordering::SeqCst) {
            "interrupted: nothing was run".to_string()
        } else {
            format!("interrupted at {at} (end of input: Ctrl-D): nothing was run")
        }
    }
}

impl Drop for SignalFlag {
    fn drop(&mut self) {
        for (sig, old) in &self.0 {
            // SAFETY: puts back the disposition that was there before.
            let _ = unsafe { nix::sys::signal::sigaction(*sig, old) };
        }
    }
}

//! Questions on the terminal.
//!
//! The question is printed on stderr and the reply read from stdin with
//! `poll`, never with a blocking read left behind: a reader stuck in `read`
//! would steal the first line typed into a later interactive step. Polling
//! also lets a timeout (Ctrl-C's "quit after 10 s") and a second Ctrl-C
//! (the `cancel` flag) end the question.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

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

/// Print `question` and read one line.
pub fn ask(question: &str, timeout: Option<Duration>, cancel: &AtomicBool) -> Reply {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question}");
    let _ = err.flush();
    drop(err);
    let start = Instant::now();
    let stdin = std::io::stdin();
    loop {
        if cancel.load(Ordering::SeqCst) {
            eprintln!();
            return Reply::Cancelled;
        }
        if let Some(t) = timeout
            && start.elapsed() >= t
        {
            eprintln!();
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

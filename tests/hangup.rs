//! The terminal going away under a play (SPEC §4): the operator closes the
//! window or the SSH session drops. The kernel hangs the terminal up: the
//! engine gets SIGHUP, its reads of the terminal end and its writes fail.
//! The run must be recorded `interrupted` (exit 130, resumable), as for
//! `kill -HUP` off a terminal, never crash nor count as an answer.
//!
//! rexpect keeps copies of the pty's master in its reader thread and its
//! writer, so it cannot hang a terminal up: this small driver owns the only
//! copy and closes it. Every wait is for text on the terminal (30 s
//! ceiling), never a sleep.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::common::*;
use crate::play::{journal, rb, text};
use crate::tty::records;

/// `runbook` as the session leader of a fresh pty (the controlling
/// process a terminal's hang-up signals), and what it printed so far.
pub(crate) struct Pty {
    master: Option<OwnedFd>,
    pub(crate) child: Child,
    seen: String,
    /// Everything it printed, waited for or not.
    all: String,
}

impl Pty {
    fn spawn(dir: &Path, args: &[&str]) -> Pty {
        let mut c = Command::new(bin());
        c.args(args).current_dir(dir).env_remove("RUNBOOK_CONFIG");
        Pty::on(c)
    }

    /// `c` (a `runbook` command) on the pty, with `NO_COLOR=1`.
    pub(crate) fn on(mut c: Command) -> Pty {
        let ws = nix::pty::Winsize { ws_row: 50, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0 };
        let pty = nix::pty::openpty(&ws, None).expect("openpty");
        // The master is the test's alone: a copy in runbook would keep the
        // terminal up.
        nix::fcntl::fcntl(&pty.master, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))
            .expect("close-on-exec on the pty's master");
        let slave = || Stdio::from(pty.slave.try_clone().expect("dup the pty's slave"));
        c.env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env("RUNBOOK_LOG", "warn")
            .stdin(slave())
            .stdout(slave())
            .stderr(slave());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            c.pre_exec(|| {
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = c.spawn().expect("spawn runbook on a pty");
        drop(pty.slave);
        Pty { master: Some(pty.master), child, seen: String::new(), all: String::new() }
    }

    /// Wait until `needle` is printed.
    pub(crate) fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let master = self.master.as_ref().expect("the terminal is up");
        while !self.seen.contains(needle) {
            assert!(Instant::now() < deadline, "waiting for {needle:?}; seen:\n{}", self.seen);
            let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, PollTimeout::from(100u16)).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match nix::unistd::read(master, &mut buf) {
                Ok(n) if n > 0 => {
                    self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                    self.all.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
                _ => panic!("the terminal closed waiting for {needle:?}; seen:\n{}", self.seen),
            }
        }
        // What follows is looked for after this point.
        let at = self.seen.find(needle).unwrap() + needle.len();
        self.seen.drain(..at);
    }

    pub(crate) fn line(&mut self, text: &str) {
        let master = self.master.as_ref().expect("the terminal is up");
        nix::unistd::write(master, format!("{text}\r").as_bytes()).expect("write to the pty");
    }

    /// Type Ctrl-C (SIGINT to the terminal's foreground group).
    pub(crate) fn ctrl_c(&mut self) {
        let master = self.master.as_ref().expect("the terminal is up");
        nix::unistd::write(master, b"\x03").expect("write to the pty");
    }

    /// Type Ctrl-D (end of input) at the start of a line.
    pub(crate) fn ctrl_d(&mut self) {
        let master = self.master.as_ref().expect("the terminal is up");
        nix::unistd::write(master, b"\x04").expect("write to the pty");
    }

    /// Read what it prints until it exits (`RUNBOOK_TEST_WAIT` seconds at
    /// most): its exit code (128 + the signal when killed).
    pub(crate) fn end(&mut self) -> i32 {
        let limit = std::env::var("RUNBOOK_TEST_WAIT").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
        let deadline = Instant::now() + Duration::from_secs(limit);
        loop {
            if let Some(st) = self.child.try_wait().expect("wait for runbook") {
                self.drain();
                return st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
            }
            assert!(Instant::now() < deadline, "runbook did not end; seen:\n{}", self.seen);
            self.read(100);
        }
    }

    /// What it printed after the last text waited for.
    pub(crate) fn seen(&self) -> &str {
        &self.seen
    }

    /// Everything it printed since it started.
    pub(crate) fn all(&self) -> &str {
        &self.all
    }

    /// What is left to read on the terminal.
    fn drain(&mut self) {
        while self.read(0) {}
    }

    /// Read once if something comes within `ms`: whether something came.
    fn read(&mut self, ms: u16) -> bool {
        let Some(master) = self.master.as_ref() else { return false };
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) == 0 {
            return false;
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(master, &mut buf) {
            Ok(n) if n > 0 => {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                self.all.push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
            _ => false,
        }
    }

    /// Close the terminal; the exit code (128 + the signal when killed).
    pub(crate) fn hang_up(mut self) -> i32 {
        drop(self.master.take());
        let st = self.child.wait().expect("wait for runbook");
        st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The events of the journal, in order, as `event` or `event:kind`.
pub(crate) fn events(dir: &Path) -> Vec<String> {
    journal(dir)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let ev = v["event"].as_str().unwrap_or("").to_string();
            match v["kind"].as_str().or(v["status"].as_str()) {
                Some(k) if ev == "stop" || ev == "run-end" => format!("{ev}:{k}"),
                _ => ev,
            }
        })
        .collect()
}

fn pending(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".runbook/pending")).map(|r| r.count()).unwrap_or(0)
}

/// The run resumes: `long` runs to its end, `deploy` runs only if it had not.
pub(crate) fn resumes(dir: &Path, deployed: bool) {
    std::fs::write(dir.join("go"), "").unwrap();
    let o = rb(dir, &["play", "l", "--resume", "--yes"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("resuming l") && out.contains("[long] finished"), "{out}");
    assert_eq!(out.contains("[deploy] deployed"), !deployed, "{out}");
}

/// A confirmed step, then one that waits for `go`.
pub(crate) const LONG: &str = r#"
    # Long

    ```bash {#deploy confirm="deploy?"}
    echo deployed
    ```

    ```bash {#long}
    echo waiting
    while [ ! -e go ]; do sleep 0.05; done
    echo finished
    ```
"#;

#[test]
fn closing_the_terminal_while_a_spinner_draws_interrupts_the_play() {
    let t = Test::new().runbook("l", LONG);
    let mut p = Pty::spawn(t.path(), &["play", "l"]);
    p.expect("run it?");
    p.line("y");
    p.expect("[long] waiting");
    // A spinner is drawn: the next tick writes to a hung-up terminal.
    p.expect("long 0s");
    let code = p.hang_up();
    let ev = events(t.path());
    assert_eq!(code, 130, "{ev:?}\n{}", journal(t.path()));
    let tail: Vec<&str> = ev.iter().map(String::as_str).skip_while(|e| !e.starts_with("stop")).collect();
    assert_eq!(tail, ["stop:interrupted", "step-end", "run-end:interrupted"], "{}", journal(t.path()));
    let stops = records(t.path(), "stop");
    assert_eq!(stops[0]["why"], "interrupted by SIGHUP", "{stops:?}");
    assert_eq!(pending(t.path()), 0, "events left pending");
    resumes(t.path(), true);
}

#[test]
fn closing_the_terminal_at_a_question_interrupts_the_play_and_answers_nothing() {
    let t = Test::new().runbook("l", LONG);
    let mut p = Pty::spawn(t.path(), &["play", "l"]);
    p.expect("run it?");
    let code = p.hang_up();
    let j = journal(t.path());
    assert_eq!(code, 130, "{j}");
    assert_eq!(records(t.path(), "answer").len(), 0, "the hang-up was recorded as an answer:\n{j}");
    let tail: Vec<String> = events(t.path()).into_iter().skip_while(|e| !e.starts_with("stop")).collect();
    assert_eq!(tail, ["stop:interrupted", "run-end:interrupted"], "{j}");
    let why = records(t.path(), "stop")[0]["why"].as_str().unwrap_or("").to_string();
    assert!(why.starts_with("interrupted by SIGHUP at a question"), "{why}");
    assert_eq!(pending(t.path()), 0, "events left pending");
    resumes(t.path(), false);
}

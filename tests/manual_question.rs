//! A play stopped at a manual step's question (SPEC §4): Ctrl-C, Ctrl-D,
//! SIGTERM or a closed terminal there interrupt the play as at a confirm
//! (exit 130, resumable), stop it once, and the resume puts the question
//! again. The manual step was started when its question was put, so its
//! end says it was interrupted. Driven on the pty of `hangup` (waits for
//! text, never a sleep).

use std::path::Path;
use std::process::Command;

use crate::common::*;
use crate::hangup::{Pty, events};
use crate::play::{journal, rb, text};
use crate::tty::records;

const MANUAL: &str = r#"
    # M

    ```bash {#a}
    echo a
    ```

    ```manual {#check-dash}
    Check the dashboard.
    ```
"#;

fn play(dir: &Path) -> Pty {
    let mut c = Command::new(bin());
    c.args(["play", "m"]).current_dir(dir).env_remove("RUNBOOK_CONFIG").env("RUNBOOK_CTRLC_WAIT", "1h");
    Pty::on(c)
}

/// Stopped once, the manual step ended interrupted, and a resume asks
/// its question again.
fn stopped_once(dir: &Path, code: i32, why: &str) {
    let j = journal(dir);
    assert_eq!(code, 130, "{j}");
    let tail: Vec<String> = events(dir).into_iter().skip_while(|e| !e.starts_with("stop")).collect();
    assert_eq!(tail, ["stop:interrupted", "step-end", "run-end:interrupted"], "{j}");
    let stops = records(dir, "stop");
    assert!(stops[0]["why"].as_str().unwrap_or("").starts_with(why), "{stops:?}");
    let ends = records(dir, "step-end");
    let end = ends.iter().find(|e| e["step"] == "check-dash").expect("the manual step's end");
    assert_eq!(end["status"], "interrupted", "{j}");
    assert_eq!(records(dir, "answer").len(), 0, "a stop was recorded as an answer:\n{j}");
    let o = rb(dir, &["play", "m", "--resume", "--yes"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("check-dash"), "{out}");
    assert!(!out.contains("[a] a"), "a passed step ran again:\n{out}");
}

#[test]
fn ctrl_c_at_a_manual_question_stops_the_play_once() {
    let t = Test::new().runbook("m", MANUAL);
    let mut p = play(t.path());
    p.expect("done?");
    p.ctrl_c();
    let code = p.end();
    stopped_once(t.path(), code, "interrupted at a question (Ctrl-C)");
}

#[test]
fn ctrl_d_at_a_manual_question_stops_the_play_once() {
    let t = Test::new().runbook("m", MANUAL);
    let mut p = play(t.path());
    p.expect("done?");
    p.ctrl_d();
    let code = p.end();
    stopped_once(t.path(), code, "interrupted at a question (end of input: Ctrl-D)");
}

#[test]
fn sigterm_at_a_manual_question_stops_the_play_once() {
    let t = Test::new().runbook("m", MANUAL);
    let mut p = play(t.path());
    p.expect("done?");
    let pid = nix::unistd::Pid::from_raw(p.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM the play we started");
    let code = p.end();
    stopped_once(t.path(), code, "interrupted by SIGTERM at a question");
}

#[test]
fn closing_the_terminal_at_a_manual_question_stops_the_play_once() {
    let t = Test::new().runbook("m", MANUAL);
    let mut p = play(t.path());
    p.expect("done?");
    let code = p.hang_up();
    stopped_once(t.path(), code, "interrupted by SIGHUP at a question");
}

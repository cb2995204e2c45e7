//! The end of the terminal's input at the questions other than the
//! dispatcher's (docs/decisions.md, "End of input at a question"): Ctrl-C's
//! question, the resume question and a variable's question. Ctrl-D, or the
//! terminal hung up, is never an answer: the play ends interrupted (exit
//! 130) saying so, nothing is recorded as an answer and the run is left as
//! it was. Driven on the pty of `hangup` (waits for text, never a sleep).

use std::path::Path;
use std::process::Command;

use crate::common::*;
use crate::hangup::{LONG, Pty, events, resumes};
use crate::play::journal;
use crate::tty::{records, run_count};

const VARS: &str = r#"
    # Vars

    ```bash {#call}
    echo calling with {{ api_token }}
    ```
"#;

/// `runbook ARGS` in `dir` on a pty; Ctrl-C's question waits long enough
/// for any machine (its default answer would be an answer).
fn play(dir: &Path, args: &[&str]) -> Pty {
    let mut c = Command::new(bin());
    c.args(args).current_dir(dir).env_remove("RUNBOOK_CONFIG").env("RUNBOOK_CTRLC_WAIT", "1h");
    Pty::on(c)
}

/// How the input ends: Ctrl-D on a live terminal, or the terminal closed.
#[derive(Clone, Copy)]
enum End {
    CtrlD,
    HangUp,
}

impl End {
    /// End the input of `p`: its exit code and what it printed.
    fn at(self, mut p: Pty) -> (i32, String) {
        match self {
            End::CtrlD => {
                p.ctrl_d();
                let code = p.end();
                (code, p.seen().to_string())
            }
            End::HangUp => (p.hang_up(), String::new()),
        }
    }

    /// The start of what the play says, at `question`.
    fn says(self, question: &str) -> String {
        match self {
            End::CtrlD => format!("interrupted at {question} (end of input: Ctrl-D)"),
            End::HangUp => "interrupted by SIGHUP".to_string(),
        }
    }
}

fn ctrl_c_question(end: End) {
    let t = Test::new().runbook("l", LONG);
    let mut p = play(t.path(), &["play", "l"]);
    p.expect("run it?");
    p.line("y");
    p.expect("[long] waiting");
    p.ctrl_c();
    p.expect("Ctrl-C: [q]uit");
    let (code, seen) = end.at(p);
    let j = journal(t.path());
    assert_eq!(code, 130, "{seen}\n{j}");
    let asked: Vec<String> = records(t.path(), "answer").iter().map(|a| a["question"].to_string()).collect();
    assert_eq!(asked, ["\"confirm\""], "the end of input was recorded as an answer:\n{j}");
    let why = records(t.path(), "stop")[0]["why"].as_str().unwrap_or("").to_string();
    assert!(why.starts_with(&end.says("Ctrl-C's question")), "{why}");
    if let End::CtrlD = end {
        assert!(seen.contains(&why), "said on the terminal: {seen}");
    }
    let tail: Vec<String> = events(t.path()).into_iter().skip_while(|e| !e.starts_with("stop")).collect();
    assert_eq!(tail, ["stop:interrupted", "step-end", "run-end:interrupted"], "{j}");
    resumes(t.path(), true);
}

#[test]
fn ctrl_d_at_ctrl_c_s_question_interrupts_the_play_and_answers_nothing() {
    ctrl_c_question(End::CtrlD);
}

#[test]
fn closing_the_terminal_at_ctrl_c_s_question_interrupts_the_play_and_answers_nothing() {
    ctrl_c_question(End::HangUp);
}

fn resume_question(end: End) {
    let t = Test::new().runbook("l", LONG);
    // An unfinished run: the terminal closed at its first question.
    let mut p = play(t.path(), &["play", "l"]);
    p.expect("run it?");
    assert_eq!(p.hang_up(), 130);
    let before = journal(t.path());
    let mut p = play(t.path(), &["play", "l"]);
    p.expect("Resume it?");
    let (code, seen) = end.at(p);
    assert_eq!(code, 130, "{seen}");
    if let End::CtrlD = end {
        assert!(seen.contains(&format!("{}: nothing was run", end.says("the resume question"))), "{seen}");
    }
    // Neither resumed nor started over: the run is as it was.
    assert_eq!(run_count(t.path()), 1, "{seen}");
    assert_eq!(journal(t.path()), before, "{seen}");
    resumes(t.path(), false);
}

#[test]
fn ctrl_d_at_the_resume_question_runs_nothing_and_keeps_the_run() {
    resume_question(End::CtrlD);
}

#[test]
fn closing_the_terminal_at_the_resume_question_runs_nothing_and_keeps_the_run() {
    resume_question(End::HangUp);
}

fn variable_question(end: End) {
    let t = Test::new().runbook("v", VARS);
    let mut p = play(t.path(), &["play", "v"]);
    p.expect("api_token (secret, not echoed; used by call): ");
    let (code, seen) = end.at(p);
    assert_eq!(code, 130, "{seen}");
    if let End::CtrlD = end {
        let said = format!("{}: nothing was run", end.says("the question for variable `api_token`"));
        assert!(seen.contains(&said), "{seen}");
    }
    assert!(!seen.contains("calling with"), "{seen}");
    assert_eq!(run_count(t.path()), 0, "{seen}");
}

#[test]
fn ctrl_d_at_a_variable_question_runs_nothing() {
    variable_question(End::CtrlD);
}

#[test]
fn closing_the_terminal_at_a_variable_question_runs_nothing() {
    variable_question(End::HangUp);
}

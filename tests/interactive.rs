//! `interactive` steps where the engine has no terminal (SPEC §2.2,
//! docs/decisions.md): the play stops at the step, refused (exit 3) and
//! resumable, without running it, reading the engine's input or writing
//! its output anywhere; a resume on a terminal runs it. A rehearsal runs
//! such steps captured, and never waits on the terminal.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;
use crate::play::{journal, text};
use crate::tty::Tty;

const EDIT: &str = r#"
    ---
    vars:
      api_token: hunter2-secret-value
    ---
    ```bash {#first}
    touch first-ran
    ```

    ```bash {#edit interactive}
    echo "the token: {{ api_token | safe }}"
    read -r line
    echo "$line" > edit-read
    touch edit-ran
    echo "edited with $line"
    ```

    ```bash {#after}
    touch after-ran
    ```
    "#;

/// `runbook ARGS` with `input` on a pipe as stdin, then `cat` on the same
/// stdin: what is left of `input` (what runbook did not read) lands in `left`.
fn play_piped(t: &Test, args: &[&str], input: &str) -> std::process::Output {
    let mut c = Command::new("sh")
        .arg("-c")
        .arg("\"$0\" \"$@\"; c=$?; cat > left; exit $c")
        .arg(bin())
        .args(args)
        .current_dir(t.path())
        .env_remove("RUNBOOK_CONFIG")
        .env("NO_COLOR", "1")
        .env("RUNBOOK_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run runbook");
    c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

#[test]
fn off_a_terminal_an_interactive_step_refuses_the_play_and_a_resume_on_one_runs_it() {
    let t = Test::new().runbook("i", EDIT);
    let o = play_piped(&t, &["play", "i", "--yes"], "first line\nsecond line\n");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(t.path().join("first-ran").exists(), "the step before it ran: {out}");
    for f in ["edit-ran", "edit-read", "after-ran"] {
        assert!(!t.path().join(f).exists(), "{f}: nothing from the interactive step on ran: {out}");
    }
    assert_eq!(
        std::fs::read_to_string(t.path().join("left")).unwrap(),
        "first line\nsecond line\n",
        "the engine's piped stdin is not read: {out}"
    );
    assert!(
        out.contains(
            "step `edit` (runbooks/i.md:9) is `interactive` and needs a terminal (stdin, stdout and stderr), \
             which this play does not have: it did not run; run `runbook play i --env devnet --resume` from a terminal to run it"
        ),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");
    // Recorded as a refusal, like a confirm that cannot be asked: a stop, no start of the step.
    let j = journal(t.path());
    assert!(j.contains(r#""event":"stop","kind":"refused""#), "{j}");
    assert!(!j.contains(r#""step":"edit""#), "{j}");
    let report = text(&crate::play::rb(t.path(), &["report", "latest"]));
    assert!(report.contains("| **refused** |"), "{report}");
    assert!(report.contains("step `edit` (runbooks/i.md:9) is `interactive` and needs a terminal"), "{report}");

    // On a terminal, the resume runs it, with the terminal.
    let mut p = Tty::spawn(t.path(), &["play", "i", "--resume"]);
    p.expect("edit (interactive: the terminal is the step's until it ends)");
    p.expect("the token: ");
    p.line("typed on the terminal");
    p.expect("edited with typed on the terminal");
    let seen = p.done(0);
    assert!(seen.contains("play passed"), "{seen}");
    assert_eq!(std::fs::read_to_string(t.path().join("edit-read")).unwrap(), "typed on the terminal\n");
    assert!(t.path().join("after-ran").exists(), "{seen}");
}

#[test]
fn stdout_off_the_terminal_is_no_terminal_for_an_interactive_step() {
    let t = Test::new().runbook("i", EDIT);
    // Prompts could still be asked (stdin and stderr are the pty), but the
    // step's output would go into the file, unmasked.
    Tty::spawn_stdout_to_file(t.path(), &["play", "i"]).done(3);
    let out = std::fs::read_to_string(t.path().join("out")).unwrap();
    assert!(out.contains("step `edit` (runbooks/i.md:9) is `interactive` and needs a terminal"), "{out}");
    assert!(!t.path().join("edit-ran").exists(), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
}

#[test]
fn a_rehearsal_runs_an_interactive_step_captured_and_never_waits_on_the_terminal() {
    let t = Test::new().runbook("i", EDIT).fixture(
        "i",
        r#"
        [[scenario]]
        name = "edit"
        env = "devnet"
        answers = "yes"
        "#,
    );
    // On a terminal too: the step's `read` gets end of file, not the keyboard.
    let seen = Tty::spawn(t.path(), &["play", "i", "--dry-run"]).done(1);
    for line in ["[edit] the token: ***", "edit failed, exit 1"] {
        assert!(seen.contains(line), "{line}:\n{seen}");
    }
    assert!(!seen.contains("hunter2"), "{seen}");
    assert!(!seen.contains("interactive: the terminal is the step's"), "{seen}");
}

//! The terminal paths of `runbook play`, on a real pty (SPEC §4, §6):
//! confirm, manual and `--step` questions, the resume question, Ctrl-C and
//! its prompt, signals at questions, `interactive` steps, spinners and
//! `NO_COLOR`. Variables (asked for, restored on resume) are in `tty_vars`,
//! on the same harness.
//!
//! Every wait is for text on the terminal (30 s ceiling), never a sleep. The
//! pty has echo on and a 200-column window, like an operator's terminal.
//! rexpect hands output over byte by byte as `char`s, so the needles are ASCII.

use std::path::Path;
use std::process::Command;

use rexpect::process::{Signal, WaitStatus};
use rexpect::reader::Options;
use rexpect::session::{PtySession, spawn_with_options};

use crate::common::*;
use crate::play::{journal, rb, text};

const TIMEOUT_MS: u64 = 30_000;

/// `runbook` on a pty, and everything it printed so far.
pub struct Tty {
    s: PtySession,
    seen: String,
}

impl Tty {
    /// `runbook ARGS` in `dir`, with `NO_COLOR=1`.
    pub fn spawn(dir: &Path, args: &[&str]) -> Tty {
        Tty::spawn_env(dir, args, &[("NO_COLOR", "1")])
    }

    pub fn spawn_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Tty {
        Tty::start(dir, "exec \"$0\" \"$@\"", args, env)
    }

    /// Then print the terminal's settings (`stty -a`) and exit with runbook's code.
    pub fn spawn_then_stty(dir: &Path, args: &[&str]) -> Tty {
        // `trap : INT`: the shell outlives a Ctrl-C meant for runbook.
        Tty::start(dir, "trap : INT; \"$0\" \"$@\"; c=$?; stty -a; exit $c", args, &[("NO_COLOR", "1")])
    }

    /// Its stdout into the file `out` (stdin and stderr on the pty).
    pub fn spawn_stdout_to_file(dir: &Path, args: &[&str]) -> Tty {
        Tty::start(dir, "\"$0\" \"$@\" > out", args, &[("NO_COLOR", "1")])
    }

    fn start(dir: &Path, script: &str, args: &[&str], env: &[(&str, &str)]) -> Tty {
        // rexpect turns echo off; an operator's terminal has it on (and a
        // width: indicatif needs one to draw).
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("stty echo cols 200 rows 50 && {script}"))
            .arg(bin())
            .args(args)
            .current_dir(dir)
            .env_remove("RUNBOOK_CONFIG")
            .env_remove("NO_COLOR")
            .env("TERM", "xterm")
            .env("RUNBOOK_LOG", "warn");
        for (k, v) in env {
            c.env(k, v);
        }
        let s = spawn_with_options(c, Options::new().timeout_ms(Some(TIMEOUT_MS))).expect("spawn runbook on a pty");
        Tty { s, seen: String::new() }
    }

    /// Wait until `needle` is printed.
    pub fn expect(&mut self, needle: &str) {
        match self.s.exp_string(needle) {
            Ok(before) => {
                self.seen.push_str(&before);
                self.seen.push_str(needle);
            }
            Err(e) => panic!("waiting for {needle:?}: {e}\n--- seen before:\n{}", self.seen),
        }
    }

    /// Wait until `re` matches; returns the match.
    pub fn expect_re(&mut self, re: &str) -> String {
        match self.s.exp_regex(re) {
            Ok((before, m)) => {
                self.seen.push_str(&before);
                self.seen.push_str(&m);
                m
            }
            Err(e) => panic!("waiting for /{re}/: {e}\n--- seen before:\n{}", self.seen),
        }
    }

    pub fn line(&mut self, text: &str) {
        self.s.send_line(text).expect("write to the pty");
    }

    pub fn ctrl_c(&mut self) {
        self.s.send_control('c').expect("write to the pty");
    }

    pub fn ctrl_d(&mut self) {
        self.s.send_control('d').expect("write to the pty");
    }

    pub fn sigterm(&mut self) {
        self.s.process_mut().signal(Signal::SIGTERM).expect("kill -TERM runbook");
    }

    /// Read to the end: the exit code and the whole transcript.
    pub fn finish(mut self) -> (i32, String) {
        match self.s.exp_eof() {
            Ok(rest) => self.seen.push_str(&rest),
            Err(e) => panic!("waiting for the end: {e}\n--- seen before:\n{}", self.seen),
        }
        let code = match self.s.process().wait() {
            Ok(WaitStatus::Exited(_, c)) => c,
            Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
            other => panic!("unexpected wait status {other:?}\n--- transcript:\n{}", self.seen),
        };
        (code, self.seen)
    }

    /// Read to the end and check the exit code; returns the transcript.
    pub fn done(self, code: i32) -> String {
        let (c, seen) = self.finish();
        assert_eq!(c, code, "unexpected exit code\n--- transcript:\n{seen}");
        seen
    }
}

pub fn has(seen: &str, needle: &str) {
    assert!(seen.contains(needle), "transcript lacks {needle:?}:\n{seen}");
}

pub fn lacks(seen: &str, needle: &str) {
    assert!(!seen.contains(needle), "transcript has {needle:?}:\n{seen}");
}

/// The journal's records of one kind, across runs.
pub fn records(dir: &Path, event: &str) -> Vec<serde_json::Value> {
    journal(dir)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == event)
        .collect()
}

/// The pid of the `runbook` process working in `dir`.
pub fn runbook_in(dir: &Path) -> i32 {
    let dir = dir.canonicalize().unwrap();
    let bin = bin();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let cwd = std::fs::read_link(e.path().join("cwd")).ok();
        let argv0 = std::fs::read(e.path().join("cmdline")).ok().and_then(|c| {
            c.split(|&b| b == 0).next().map(|a| std::path::PathBuf::from(String::from_utf8_lossy(a).into_owned()))
        });
        if cwd.as_deref() == Some(dir.as_path()) && argv0.as_deref() == Some(bin.as_path()) {
            return pid;
        }
    }
    panic!("no runbook process in {}", dir.display())
}

pub fn run_count(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".runbook/runs")).map(|r| r.count()).unwrap_or(0)
}

pub const CONFIRM: &str = r#"
    # Confirm

    ```bash {#before read}
    echo before
    ```

    ```bash {#restart confirm="restart the node?"}
    echo restarted
    ```

    ```bash {#after read}
    echo after
    ```
"#;

#[test]
fn confirm_yes_runs_the_step() {
    let t = Test::new().runbook("c", CONFIRM);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("[before] before");
    p.expect("confirm: restart the node?");
    p.expect("run it? [y]es / [n]o (stop the play) / [s]kip: ");
    p.line("y");
    p.expect("[restart] restarted");
    let seen = p.done(0);
    has(&seen, "[after] after");
    has(&seen, "play passed: 3 passed");
}

#[test]
fn confirm_no_refuses_and_the_run_stays_resumable() {
    let t = Test::new().runbook("c", CONFIRM);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("run it?");
    p.line("n");
    let seen = p.done(3);
    has(&seen, "the operator declined step `restart`");
    has(&seen, "runbook play c --env devnet --resume");
    lacks(&seen, "[restart] restarted");
    lacks(&seen, "[after] after");
    // Resumable: `before` is not run again.
    let o = rb(t.path(), &["play", "c", "--resume", "--yes"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("resuming c") && out.contains("[restart] restarted"), "{out}");
    assert!(!out.contains("[before] before"), "{out}");
}

#[test]
fn confirm_skip_skips_only_that_step() {
    let t = Test::new().runbook("c", CONFIRM);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("run it?");
    p.line("s");
    p.expect("[after] after");
    let seen = p.done(0);
    has(&seen, "restart skipped: skipped by the operator");
    lacks(&seen, "[restart] restarted");
}

#[test]
fn confirm_reasks_on_an_unknown_answer() {
    let t = Test::new().runbook("c", CONFIRM);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("run it?");
    p.line("maybe");
    p.expect("run it?");
    p.line("yes");
    p.expect("[restart] restarted");
    p.done(0);
}

const MANUAL: &str = r#"
    # Manual

    ```manual {#drain}
    Take the node out of the load balancer.
    ```

    ```bash {#after read}
    echo after
    ```
"#;

#[test]
fn manual_step_done_passes() {
    let t = Test::new().runbook("m", MANUAL);
    let mut p = Tty::spawn(t.path(), &["play", "m"]);
    p.expect("manual step `drain`:");
    p.expect("Take the node out of the load balancer.");
    p.expect("done? [y]es / [n]o (the step fails) / [s]kip: ");
    p.line("y");
    p.expect("[after] after");
    let seen = p.done(0);
    has(&seen, "drain passed");
    let ends = records(t.path(), "step-end");
    assert!(
        ends.iter().any(|e| e["step"] == "drain"
            && e["status"] == "passed"
            && e["reason"] == "the operator confirmed it is done"),
        "{ends:?}"
    );
}

#[test]
fn manual_step_not_done_fails_the_play() {
    let t = Test::new().runbook("m", MANUAL);
    let mut p = Tty::spawn(t.path(), &["play", "m"]);
    p.expect("done?");
    p.line("n");
    let seen = p.done(1);
    has(&seen, "drain failed");
    has(&seen, "not done");
    lacks(&seen, "[after] after");
}

#[test]
fn step_mode_continue_skip_quit() {
    let t = Test::new().runbook(
        "s",
        r#"
        ```bash {#one}
        echo first
        ```

        ```bash {#two}
        echo second
        ```

        ```bash {#three}
        echo third
        ```
        "#,
    );
    let mut p = Tty::spawn(t.path(), &["play", "s", "--step"]);
    p.expect("next: one");
    p.expect("[c]ontinue / [s]kip / [q]uit: ");
    p.line("c");
    p.expect("[one] first");
    p.expect("next: two");
    p.expect("[q]uit: ");
    p.line("s");
    p.expect("next: three");
    p.expect("[q]uit: ");
    p.line("q");
    let seen = p.done(3);
    has(&seen, "two skipped: skipped by the operator (--step)");
    has(&seen, "stopped by the operator before step `three` (--step)");
    lacks(&seen, "[two] second");
    lacks(&seen, "[three] third");
}

/// A run left unfinished off a terminal: its confirm step needs `--yes`.
pub fn unfinished(t: &Test) {
    let o = rb(t.path(), &["play", "c"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

#[test]
fn resume_question_yes_resumes() {
    let t = Test::new().runbook("c", CONFIRM);
    unfinished(&t);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("An unfinished run");
    p.expect("Resume it?");
    p.line("y");
    p.expect("resuming c");
    p.expect("run it?");
    p.line("y");
    let seen = p.done(0);
    has(&seen, "[restart] restarted");
    lacks(&seen, "[before] before");
    assert_eq!(run_count(t.path()), 1);
}

#[test]
fn resume_question_no_starts_a_fresh_run() {
    let t = Test::new().runbook("c", CONFIRM);
    unfinished(&t);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("Resume it?");
    p.line("n");
    p.expect("playing c");
    p.expect("[before] before");
    p.expect("run it?");
    p.line("y");
    p.done(0);
    assert_eq!(run_count(t.path()), 2);
}

#[test]
fn ctrl_c_at_the_resume_question_runs_nothing() {
    let t = Test::new().runbook("c", CONFIRM);
    unfinished(&t);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("Resume it?");
    p.ctrl_c();
    let seen = p.done(130);
    has(&seen, "interrupted: nothing was run");
    assert_eq!(records(t.path(), "resume").len(), 0, "{seen}");
}

const LONG: &str = r#"
    # Long

    ```bash {#deploy rollback=undo-deploy}
    echo deployed
    ```

    ```bash {#long}
    echo waiting
    while [ ! -e go ]; do sleep 0.05; done
    echo finished
    ```

    ```bash {#undo-deploy undo}
    echo undoing the deploy
    ```
"#;

const CTRL_C_PROMPT: &str = "Ctrl-C: [q]uit (default in 10 s; the run stays resumable) / [r]oll back / [c]ontinue: ";

#[test]
fn ctrl_c_then_continue_keeps_the_step_running() {
    let t = Test::new().runbook("l", LONG);
    let mut p = Tty::spawn(t.path(), &["play", "l"]);
    p.expect("[long] waiting");
    p.ctrl_c();
    p.expect(CTRL_C_PROMPT);
    p.line("c");
    p.expect("continuing");
    std::fs::write(t.path().join("go"), "").unwrap();
    p.expect("[long] finished");
    let seen = p.done(0);
    has(&seen, "long passed");
    lacks(&seen, "undoing");
}

#[test]
fn ctrl_c_is_not_echoed_over_the_spinners_and_the_terminal_is_restored() {
    // indicatif leaves the cursor in the last column of a spinner line: an
    // echoed `^C` wrapped onto a new line and the spinner line was left on
    // screen when the Ctrl-C question cleared the spinners.
    let t = Test::new().runbook("l", LONG);
    let mut p = Tty::spawn_then_stty(t.path(), &["play", "l"]);
    p.expect("[long] waiting");
    p.expect_re(r"long \d+s");
    p.ctrl_c();
    p.expect(CTRL_C_PROMPT);
    p.line("c");
    p.expect("continuing");
    std::fs::write(t.path().join("go"), "").unwrap();
    p.expect("[long] finished");
    let seen = p.done(0);
    let (play, stty) = seen.split_once("speed ").expect("stty -a output");
    lacks(play, "^C");
    // `stty -a` after the play: the echo of control characters is back.
    has(stty, " echoctl");
    lacks(stty, "-echoctl");
}

#[test]
fn ctrl_c_then_quit_exits_130_and_the_run_resumes() {
    let t = Test::new().runbook("l", LONG);
    let mut p = Tty::spawn(t.path(), &["play", "l"]);
    p.expect("[long] waiting");
    p.ctrl_c();
    p.expect(CTRL_C_PROMPT);
    p.line("q");
    let seen = p.done(130);
    has(&seen, "long interrupted");
    has(&seen, "runbook play l --env devnet --resume");
    lacks(&seen, "undoing");
    std::fs::write(t.path().join("go"), "").unwrap();
    let o = rb(t.path(), &["play", "l", "--resume"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("[long] finished") && !out.contains("[deploy] deployed"), "{out}");
}

#[test]
fn ctrl_c_then_roll_back_runs_the_undo_blocks() {
    let t = Test::new().runbook("l", LONG);
    let mut p = Tty::spawn(t.path(), &["play", "l"]);
    p.expect("[long] waiting");
    p.ctrl_c();
    p.expect(CTRL_C_PROMPT);
    p.line("r");
    p.expect("[undo-deploy] undoing the deploy");
    let seen = p.done(130);
    has(&seen, "rolled back: undo-deploy");
    // Rolled back: not resumable.
    let ends = records(t.path(), "run-end");
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert_eq!(ends[0]["rolled_back"], true, "{ends:?}");
}

#[test]
fn second_ctrl_c_quits_at_once() {
    let t = Test::new().runbook("l", LONG);
    let mut p = Tty::spawn(t.path(), &["play", "l"]);
    p.expect("[long] waiting");
    p.ctrl_c();
    p.expect(CTRL_C_PROMPT);
    p.ctrl_c();
    let seen = p.done(130);
    has(&seen, "second Ctrl-C");
    has(&seen, "--resume");
    // The second press is the operator's answer, and the journal says so.
    let answers = records(t.path(), "answer");
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!((&answers[0]["question"], &answers[0]["reply"]), (&"ctrl-c".into(), &"quit".into()), "{answers:?}");
}

#[test]
fn the_ctrl_c_question_is_recorded_as_asked_at_the_press_not_at_the_answer() {
    let t = Test::new().runbook("l", LONG);
    let mut p = Tty::spawn(t.path(), &["play", "l"]);
    p.expect("[long] waiting");
    p.ctrl_c();
    p.expect(CTRL_C_PROMPT);
    // The step ends while the question waits for its answer.
    std::fs::write(t.path().join("go"), "").unwrap();
    let wait = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while records(t.path(), "step-end").iter().all(|e| e["step"] != "long") {
        assert!(std::time::Instant::now() < wait, "long never ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    p.line("c");
    p.expect("continuing");
    p.done(0);
    let answer = &records(t.path(), "answer")[0];
    let end = records(t.path(), "step-end").into_iter().find(|e| e["step"] == "long").unwrap();
    let (asked, ended) = (answer["asked"].as_str().unwrap(), end["at"].as_str().unwrap());
    assert!(asked < ended, "asked {asked}, and the step it interrupted ended at {ended}: {answer}");
}

#[test]
fn ctrl_c_without_an_answer_quits_after_its_wait() {
    // The wait is 10 s by default; settable, so that this test does not
    // sit through it.
    let t = Test::new().runbook("l", LONG);
    let mut p = Tty::spawn_env(t.path(), &["play", "l"], &[("RUNBOOK_CTRLC_WAIT", "1s"), ("NO_COLOR", "1")]);
    p.expect("[long] waiting");
    p.ctrl_c();
    p.expect("Ctrl-C: [q]uit (default in 1 s; the run stays resumable) / [r]oll back / [c]ontinue: ");
    let seen = p.done(130);
    has(&seen, "answer: Ctrl-C: quit (no answer in time)");
    has(&seen, "interrupted by the operator");
    has(&seen, "--resume");
}

#[test]
fn ctrl_c_at_a_question_interrupts_the_play() {
    let t = Test::new().runbook("c", CONFIRM);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("run it?");
    p.ctrl_c();
    let seen = p.done(130);
    has(&seen, "interrupted at a question (Ctrl-C)");
    has(&seen, "runbook play c --env devnet --resume");
    lacks(&seen, "declined");
    lacks(&seen, "[restart] restarted");
}

#[test]
fn ctrl_d_at_a_question_interrupts_the_play_and_answers_nothing() {
    let t = Test::new().runbook("c", CONFIRM);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("run it?");
    p.ctrl_d();
    let seen = p.done(130);
    has(&seen, "interrupted at a question (end of input: Ctrl-D)");
    has(&seen, "runbook play c --env devnet --resume");
    lacks(&seen, "declined");
    assert_eq!(records(t.path(), "answer").len(), 0, "{seen}");
}

#[test]
fn sigterm_at_a_question_interrupts_the_play() {
    let t = Test::new().runbook("c", CONFIRM);
    let mut p = Tty::spawn(t.path(), &["play", "c"]);
    p.expect("run it?");
    p.sigterm();
    let seen = p.done(130);
    has(&seen, "interrupted by SIGTERM at a question");
    lacks(&seen, "[restart] restarted");
}

#[test]
fn interactive_step_reads_what_the_operator_types() {
    let t = Test::new().runbook(
        "i",
        r#"
        ```bash {#first confirm}
        echo first
        ```

        ```bash {#ask interactive}
        sleep 0.3
        printf 'your name? '
        read -r name
        echo "hello $name"
        ```
        "#,
    );
    let mut p = Tty::spawn(t.path(), &["play", "i"]);
    p.expect("run it?");
    p.line("y");
    p.expect("ask (interactive: the terminal is the step's until it ends)");
    p.expect("your name? ");
    p.line("ops on call");
    p.expect("hello ops on call");
    let seen = p.done(0);
    has(&seen, "ask passed");
    // No spinner draws over the step's screen (it would tick 3 times in the sleep).
    assert!(!regex::Regex::new(r"ask [0-9]+s").unwrap().is_match(&seen), "a spinner over the step:\n{seen}");
}

#[test]
fn ctrl_c_in_an_interactive_step_goes_to_the_step() {
    let t = Test::new().runbook(
        "i",
        r#"
        ```bash {#wait interactive}
        trap 'echo caught the interrupt; exit 0' INT
        echo ready
        while :; do sleep 0.05; done
        ```
        "#,
    );
    let mut p = Tty::spawn(t.path(), &["play", "i"]);
    p.expect("ready");
    p.ctrl_c();
    p.expect("caught the interrupt");
    let seen = p.done(0);
    lacks(&seen, "Ctrl-C: [q]uit");
}

#[test]
fn spinner_shows_the_running_step_and_its_elapsed_time() {
    let t = Test::new().runbook("l", LONG);
    let mut p = Tty::spawn(t.path(), &["play", "l"]);
    p.expect("[long] waiting");
    // `{spinner} {prefix} {elapsed} {msg}`: the step id, then seconds.
    p.expect_re(r"long [0-9]+s echo waiting");
    std::fs::write(t.path().join("go"), "").unwrap();
    let seen = p.done(0);
    // The spinner is cleared into a result line.
    has(&seen, "long passed");
}

/// An SGR sequence (colour, bold, dim).
fn has_colour(s: &str) -> bool {
    regex::Regex::new(r"\x1b\[[0-9;]*m").unwrap().is_match(s)
}

#[test]
fn colour_on_a_terminal_and_none_with_no_color() {
    let md = "```bash {#one read}\necho hello\n```\n\n```bash {#two}\nexit 3\n```\n";
    let t = Test::new().runbook("n", md);
    let coloured = Tty::spawn_env(t.path(), &["play", "n", "--fresh"], &[]).done(1);
    assert!(has_colour(&coloured), "no colour on a terminal:\n{coloured:?}");
    let plain = Tty::spawn(t.path(), &["play", "n", "--fresh"]).done(1);
    assert!(!has_colour(&plain), "colour despite NO_COLOR:\n{plain:?}");
    has(&plain, "[one] hello");
    has(&plain, "two failed, exit 3");
}

#[test]
fn each_line_on_a_terminal_ends_with_a_newline() {
    // Spinners are drawn (a terminal with a width); what stays on the
    // screen is lines a copy, a `script` recording or a resize keeps.
    let t = Test::new().runbook("p", "```bash {#a}\necho hello\n```\n\n```bash {#b}\necho world\n```\n");
    let seen = Tty::spawn(t.path(), &["play", "p", "--yes"]).done(0);
    for line in ["[a] hello\r\n", "a passed (", "[b] world\r\n", "play passed: 2 passed ("] {
        has(&seen, line);
    }
    lacks(&seen, "[a] hello ");
    lacks(&seen, "[b] world ");
}

/// A key typed while a step runs is not an answer to the question that
/// comes after it: the question discards it and waits for its own reply.
#[test]
fn keys_typed_before_a_question_do_not_answer_it() {
    let md = r#"
    # Ahead

    ```bash {#slow read}
    echo waiting
    while [ ! -e go ]; do sleep 0.05; done
    ```

    ```bash {#drop confirm="drop the table?"}
    echo dropped
    ```
"#;
    let t = Test::new().runbook("a", md);
    let mut p = Tty::spawn(t.path(), &["play", "a"]);
    p.expect("[slow] waiting");
    p.line("y");
    std::fs::write(t.path().join("go"), "").unwrap();
    p.expect("run it? [y]es / [n]o (stop the play) / [s]kip: ");
    p.line("n");
    let seen = p.done(3);
    has(&seen, "the operator declined step `drop`");
    lacks(&seen, "[drop] dropped");
    let answers = records(t.path(), "answer");
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["reply"], "no", "{answers:?}");
}

/// An `interactive` step killed by its timeout after making the terminal
/// raw (an editor) leaves it as it was before the step.
#[test]
fn an_interactive_step_killed_by_its_timeout_gives_the_terminal_back_as_it_was() {
    let md = r#"
    # Raw

    ```bash {#editor interactive timeout=1s on-fail=continue}
    stty raw -echo
    echo editor-in-raw-mode
    sleep 1000
    ```
"#;
    let t = Test::new().runbook("r", md);
    let mut p = Tty::spawn_then_stty(t.path(), &["play", "r", "--yes"]);
    p.expect("editor-in-raw-mode");
    let seen = p.done(1);
    has(&seen, "editor failed");
    let (_, stty) = seen.rsplit_once("speed ").expect("stty -a output");
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for flag in ["icanon", "echo", "opost", "isig"] {
        assert!(flags.contains(&flag), "{flag} is off after the play:\n{stty}");
    }
}

/// `TERM=dumb` (an editor's shell buffer, a serial console) shows escape
/// codes as text: no colour, as with `NO_COLOR`, in a play and in `check`.
#[test]
fn a_dumb_terminal_gets_no_colour() {
    let t = Test::new().runbook("d", "# D\n\n```bash {#a read}\necho hello\n```\n\n```bash {#b read}\nexit 3\n```\n");
    for args in [&["play", "d"][..], &["check"]] {
        let p = Tty::spawn_env(t.path(), args, &[("TERM", "dumb")]);
        let (_, seen) = p.finish();
        assert!(seen.contains("hello") || seen.contains("runbook"), "{args:?}: {seen}");
        assert!(!seen.contains('\x1b'), "{args:?}: an escape code on a dumb terminal: {seen:?}");
    }
    // The same play on xterm is coloured: the test can see colour.
    let p = Tty::spawn_env(t.path(), &["play", "d", "--fresh"], &[]);
    let (_, seen) = p.finish();
    assert!(seen.contains("\x1b["), "{seen:?}");
}

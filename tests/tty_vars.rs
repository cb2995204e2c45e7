//! Variables at play time (SPEC §2.3, §6): a missing variable is asked for
//! on a terminal (secrets without echo) and is an error naming it
//! otherwise; a resume restores the variables its run was given, except
//! secrets and redacted values, which must be given again. The terminal
//! cases run on the pty harness of `tty`.

use crate::common::*;
use crate::play::{journal, rb, text};
use crate::tty::{Tty, has, lacks, records, run_count, runbook_in};

const VARS: &str = r#"
    # Vars

    ```bash {#show read}
    echo rev is {{ rev }}
    ```

    ```bash {#call}
    echo calling with {{ api_token }}
    ```

    ```bash {#again read}
    echo still {{ rev }}
    ```
"#;

#[test]
fn missing_variables_are_asked_for_secrets_without_echo() {
    let t = Test::new().runbook("v", VARS);
    let mut p = Tty::spawn(t.path(), &["play", "v"]);
    p.expect("2 variables are not set");
    // In the order the steps first read them.
    p.expect("rev (used by show, again): ");
    // An empty answer asks again.
    p.line("");
    p.expect("rev (used by show, again): ");
    p.line("41");
    p.expect("api_token (secret, not echoed; used by call): ");
    p.line("s3cr3t-value-42");
    p.expect("[show] rev is 41");
    let seen = p.done(0);
    has(&seen, "[call] calling with ***");
    has(&seen, "[again] still 41");
    // Typed with echo off: the secret never reached the screen.
    lacks(&seen, "s3cr3t-value-42");
    let j = journal(t.path());
    assert!(!j.contains("s3cr3t-value-42"), "{j}");
    let start = &records(t.path(), "run-start")[0];
    assert_eq!(start["vars"]["rev"]["value"], "41", "{start}");
    assert_eq!(start["vars"]["rev"]["origin"], "prompt", "{start}");
    assert_eq!(start["vars"]["api_token"]["value"], "***", "{start}");
    assert_eq!(start["vars"]["api_token"]["secret"], true, "{start}");
    // Each typed value is an answer (SPEC §6: who, how and when); the value
    // itself is the session's `vars`, never in the answer.
    let answers = records(t.path(), "answer");
    let said: Vec<[&str; 4]> = answers
        .iter()
        .map(|a| ["question", "var", "reply", "how"].map(|k| a[k].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(said, [["variable", "rev", "given", "prompt"], ["variable", "api_token", "given", "prompt"]]);
    for a in &answers {
        let (asked, at) = (a["asked"].as_str().unwrap_or_default(), a["at"].as_str().unwrap_or_default());
        assert!(!asked.is_empty() && asked <= at, "asked when shown, before the answer: {a}");
        assert!(a.get("value").is_none(), "{a}");
    }
    let md = text(&rb(t.path(), &["report", "latest"]));
    assert!(md.contains(" | (the play) | variable `rev` | **given** | at the prompt | "), "{md}");
    assert!(md.contains(" | (the play) | variable `api_token` | **given** | at the prompt | "), "{md}");
}

#[test]
fn answers_are_asked_only_for_what_is_missing() {
    let t = Test::new().runbook("v", VARS);
    let mut p = Tty::spawn(t.path(), &["play", "v", "--set", "rev=7"]);
    p.expect("1 variable is not set");
    p.expect("api_token (");
    p.line("tok-123456");
    let seen = p.done(0);
    lacks(&seen, "rev (");
    has(&seen, "[show] rev is 7");
}

/// A variable a step reads only through a slice is asked for.
#[test]
fn a_variable_read_only_through_a_slice_is_asked_for() {
    let t = Test::new().runbook("v", "# V\n\n```bash {#call}\necho calling with {{ api_token[:8] }}\n```\n");
    let mut p = Tty::spawn(t.path(), &["play", "v"]);
    p.expect("1 variable is not set");
    p.expect("api_token (secret, not echoed; used by call): ");
    p.line("s3cr3t-value-42");
    let seen = p.done(0);
    has(&seen, "[call] calling with ***");
    lacks(&seen, "s3cr3t-v");
}

/// Questions come in the front matter's order, then in the order the steps
/// first read the undeclared ones, never alphabetically.
#[test]
fn variables_are_asked_in_front_matter_order_then_first_use() {
    let md = "---\nvars:\n  zone: ~\n  app: ~\n---\n# O\n\n```bash {#a read}\necho {{ zz }} {{ app }} {{ zone }}\n```\n\n```bash {#b read}\necho {{ mm }}\n```\n";
    let t = Test::new().runbook("o", md);
    let mut p = Tty::spawn(t.path(), &["play", "o"]);
    p.expect("4 variables are not set");
    for (name, answer) in [("zone", "z1"), ("app", "a1"), ("zz", "x1"), ("mm", "m1")] {
        p.expect(&format!("{name} ("));
        p.line(answer);
    }
    p.expect("[a] x1 a1 z1");
    p.expect("[b] m1");
    p.done(0);
}

#[test]
fn ctrl_c_at_a_variable_question_runs_nothing_and_restores_echo() {
    let t = Test::new().runbook("v", VARS);
    let mut p = Tty::spawn_then_stty(t.path(), &["play", "v", "--set", "rev=7"]);
    p.expect("api_token (secret, not echoed; used by call): ");
    p.ctrl_c();
    let seen = p.done(130);
    has(&seen, "interrupted: nothing was run");
    assert_eq!(run_count(t.path()), 0, "{seen}");
    // `stty -a` after runbook exited: echo is on again.
    assert!(regex::Regex::new(r"(^|\s)echo(\s|$)").unwrap().is_match(&seen), "echo left off:\n{seen}");
}

#[test]
fn sigterm_at_a_secret_question_restores_echo() {
    let t = Test::new().runbook("v", VARS);
    let mut p = Tty::spawn_then_stty(t.path(), &["play", "v", "--set", "rev=7"]);
    p.expect("api_token (secret, not echoed; used by call): ");
    // runbook is the shell's child here.
    let pid = runbook_in(t.path());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM).unwrap();
    let seen = p.done(130);
    has(&seen, "interrupted: nothing was run");
    assert!(regex::Regex::new(r"(^|\s)echo(\s|$)").unwrap().is_match(&seen), "echo left off:\n{seen}");
}

#[test]
fn missing_variables_off_a_terminal_are_an_error_naming_them() {
    let o = Test::new()
        .runbook("v", VARS)
        .args(["play", "v", "--set", "rev=1"])
        .status(2)
        .stderr_has("v.md:8")
        .stderr_has("undefined variable `api_token` in step `call`")
        // A secret is never passed on the command line, where `ps` shows it.
        .stderr_has("hint: pass `--set-file api_token=FILE` or `RUNBOOK_VAR_api_token=…`, or play on a terminal")
        .stderr_lacks("--set api_token=")
        .run();
    assert_eq!(run_count(o.path()), 0, "{}", o.stderr);
    // --yes on a terminal does not ask either.
    let t = Test::new().runbook("v", VARS);
    let mut p = Tty::spawn(t.path(), &["play", "v", "--yes"]);
    p.expect("undefined variable `api_token`");
    let seen = p.done(2);
    has(&seen, "undefined variable `rev` in step `show` (also used by again)");
}

const RESUME_VARS: &str = r#"
    # Resume vars

    ```bash {#one read}
    echo one {{ rev }}
    ```

    ```bash {#two confirm}
    echo two {{ rev }} {{ ns }} {{ api_token }}
    ```
"#;

#[test]
fn resume_restores_set_variables_unless_set_again() {
    let t = Test::new().runbook("r", RESUME_VARS);
    let o = rb(t.path(), &["play", "r", "--set", "rev=41", "--set", "ns=blue", "--set", "api_token=tok-9876"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    // The secret is not in the journal: it must be given again.
    let o = rb(t.path(), &["play", "r", "--resume", "--yes"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("variable `api_token` was given to run"), "{out}");
    assert!(out.contains("--set-file api_token=FILE") && !out.contains("--set api_token="), "{out}");
    // rev and ns come back; a new --set wins over the journal.
    let o = rb(t.path(), &["play", "r", "--resume", "--yes", "--set", "api_token=tok-9876", "--set", "ns=green"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("[two] two 41 green ***"), "{out}");
    assert!(out.contains("variables restored from run") && out.contains("rev=41"), "{out}");
    assert!(!out.contains("[one]"), "{out}");
    let resume = records(t.path(), "session").pop().expect("a session record");
    assert_eq!(resume["vars"]["ns"]["value"], "green", "{resume}");
    assert_eq!(resume["vars"]["api_token"]["value"], "***", "{resume}");
}

#[test]
fn resume_on_a_terminal_asks_for_secrets_again() {
    let t = Test::new().runbook("r", RESUME_VARS);
    let o = rb(t.path(), &["play", "r", "--set", "rev=41", "--set", "ns=blue", "--set", "api_token=tok-9876"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let mut p = Tty::spawn(t.path(), &["play", "r"]);
    p.expect("Resume it?");
    p.line("y");
    p.expect("1 variable is not set");
    p.expect("api_token (given to run ");
    p.line("tok-5555");
    p.expect("run it?");
    p.line("y");
    p.expect("[two] two 41 blue ***");
    p.done(0);
}

#[test]
fn resume_does_not_restore_a_value_journaled_redacted() {
    let t = Test::new().runbook("r", RESUME_VARS);
    let o = rb(t.path(), &["play", "r", "--set", "rev=41", "--set", "ns=ns-tok-9876", "--set", "api_token=tok-9876"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let start = &records(t.path(), "run-start")[0];
    assert_eq!(start["vars"]["ns"]["value"], "ns-***", "{start}");
    let o = rb(t.path(), &["play", "r", "--resume", "--yes", "--set", "api_token=tok-9876"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("variable `ns` was given to run") && out.contains("--set ns="), "{out}");
}

/// A required secret, declared with a null default.
const REQUIRED_SECRET: &str = "---\nvars:\n  api_token: ~\n  pod: ~\n---\n# Basic\n\n```bash {#a read}\necho using {{ api_token }} on {{ pod }}\n```\n";

#[test]
fn plan_shows_a_required_secret_unset_at_its_line_and_never_asks_for_it_with_set() {
    let f = Test::new()
        .runbook("basic", REQUIRED_SECRET)
        .args(["plan", "basic"])
        .stdout(
            "basic — Basic  (runbooks/basic.md)\nenv: devnet\nvars: api_token=<api_token> pod=<pod>\n\n \
             1. a  [read]  (runbooks/basic.md:8)\n    $ echo using <api_token> on <pod>\n",
        )
        .run();
    assert_eq!(
        f.stderr,
        "runbooks/basic.md:3: warning: variable `api_token` has no value: shown as <api_token>\n  \
         hint: a play asks for it on a terminal; or pass `--set-file api_token=FILE` or `RUNBOOK_VAR_api_token=…`\n\
         runbooks/basic.md:4: warning: variable `pod` has no value: shown as <pod>\n  \
         hint: a play asks for it on a terminal; or pass `--set pod=…`\n"
    );
    let f = Test::new().runbook("basic", REQUIRED_SECRET).args(["plan", "basic", "--json"]).run();
    assert_eq!(f.json()["vars"][0]["value"], "<api_token>");
}

#[test]
fn a_declared_secret_without_a_value_says_how_to_give_it_one() {
    let f = Test::new()
        .runbook("basic", REQUIRED_SECRET)
        .args(["play", "basic", "--yes", "--set", "pod=p1"])
        .status(2)
        .run();
    assert_eq!(
        f.stderr,
        "runbooks/basic.md:9: error: required variable `api_token` has no value in step `a`\n  \
         hint: give it a value with `--set-file api_token=FILE` or `RUNBOOK_VAR_api_token=…`, or play on a \
         terminal without --yes to be asked\n"
    );
    // Read by a template but declared nowhere: `plan` and `check` say the same.
    let md = "# U\n\n```bash {#a read}\necho {{ db_password }}\n```\n";
    let f = Test::new().runbook("u", md).args(["plan", "u"]).status(2).run();
    assert_eq!(
        f.stderr,
        "runbooks/u.md:4: error: undefined variable `db_password` in step `a`\n  \
         hint: give it a value with `--set-file db_password=FILE` or `RUNBOOK_VAR_db_password=…`\n"
    );
    Test::new()
        .runbook("u", md)
        .args(["check", "runbooks/u.md"])
        .status(2)
        .stdout_has(
            "runbooks/u.md:4: error[undefined-variable]: undefined variable `db_password` in step `a`\n  \
             hint: give it a value with `--set-file db_password=FILE` or `RUNBOOK_VAR_db_password=…`, or capture it \
             in a step this one `needs`\n",
        )
        .run();
}

#[test]
fn a_resumed_run_asks_for_its_secret_again_without_set() {
    let t = Test::new().runbook("r", RESUME_VARS);
    let o = crate::play::rb_cmd(t.path(), &["play", "r", "--set", "rev=41", "--set", "ns=blue"])
        .env("RUNBOOK_VAR_api_token", "tok-9876")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let run = records(t.path(), "run-start")[0]["run"].as_str().unwrap().to_string();
    let o = rb(t.path(), &["play", "r", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "runbooks/r.md:8: error: variable `api_token` was given to run {run}, whose journal keeps it redacted: \
             give it again\n  hint: pass `--set-file api_token=FILE` or `RUNBOOK_VAR_api_token=…`, or play on a \
             terminal without --yes to be asked\n"
        )
    );
}

#[test]
fn the_servers_of_query_steps_given_with_set_are_read_not_dropped() {
    // The engine reads `prometheus` itself (no template does): it is neither
    // warned about nor dropped when the runbook has a query step.
    let port = crate::common::servers::free_port();
    let url = format!("http://127.0.0.1:{port}");
    Test::new()
        .runbook("up", "# Up\n\n```promql {#up read timeout=3s}\nup\n```\n")
        .args(["play", "up", "--yes", "--set", &format!("prometheus={url}")])
        .status(1)
        .stdout_has(&format!("cannot reach Prometheus at {url}: connection refused"))
        .stderr_lacks("reads no variable")
        .run();
    // Without one, it is a name like any other.
    Test::new()
        .runbook("sh", "# Sh\n\n```bash {#a read}\necho hi\n```\n")
        .args(["plan", "sh", "--set", &format!("prometheus={url}")])
        .stderr_has("warning: --set prometheus: runbook `sh` reads no variable `prometheus`; it is ignored\n")
        .stdout_lacks(&url)
        .run();
}

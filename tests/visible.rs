//! A value's control characters never reach the terminal raw (README,
//! Security): an alert label `prod-db-0\r\e[2Kconfirm: delete pod
//! web-canary-1` would otherwise overwrite the confirm question with one
//! about another pod. Every line the engine shows a value in (the vars line,
//! the question, the command echo, the decline, plan, errors) shows them as
//! escapes; the step still gets the exact value.

use std::process::Command;

use crate::common::*;
use crate::hangup::Pty;

const LABEL: &str = "prod-db-0\r\x1b[2Kconfirm: delete pod web-canary-1";
const SHOWN: &str = r"prod-db-0\r\x1b[2Kconfirm: delete pod web-canary-1";

const D6: &str = r#"
    ---
    vars:
      pod: web-1
    ---
    # D6

    ```bash {#del confirm="delete pod {{ pod }}?"}
    printf '%s' {{ pod }} > got
    ```
"#;

fn project() -> Test {
    let alert = serde_json::json!({
        "version": "4", "status": "firing",
        "alerts": [{"status": "firing", "labels": {"alertname": "X", "pod": LABEL}, "annotations": {}}]
    });
    Test::new()
        .config("runbooks = \"runbooks\"\nfixtures = \"fixtures\"\n\n[alerts.labels]\npod = \"pod\"\n")
        .file("alert.json", &alert.to_string())
        .runbook("d6", D6)
}

/// Nothing of the label's `\r` or escape was written raw.
fn no_raw(what: &str, out: &str) {
    assert!(!out.contains('\x1b') && !out.contains('\r'), "{what} has a raw control character:\n{out:?}");
}

#[test]
fn piped_play_and_plan_show_a_values_control_characters_as_escapes() {
    let f = project().args(["play", "d6", "--from-alert", "alert.json", "--yes"]).run();
    no_raw("play's stdout", &f.stdout);
    no_raw("play's stderr", &f.stderr);
    assert!(f.stdout.contains(&format!("vars: pod={SHOWN}\n")), "{}", f.stdout);
    assert!(f.stdout.contains(&format!("==> del: printf '%s' '{SHOWN}' > got\n")), "{}", f.stdout);
    assert!(f.stdout.contains(&format!("confirm \"delete pod {SHOWN}?\": yes (--yes)")), "{}", f.stdout);
    // The step got the value itself.
    assert_eq!(std::fs::read_to_string(f.path().join("got")).unwrap(), LABEL);

    let refused = project().args(["play", "d6", "--from-alert", "alert.json"]).status(3).run();
    no_raw("a refused play's output", &(refused.stdout.clone() + &refused.stderr));
    assert!(refused.stdout.contains(&format!("(confirm \"delete pod {SHOWN}?\")")), "{}", refused.stdout);

    let plan = project().args(["plan", "d6", "--from-alert", "alert.json"]).run();
    no_raw("plan", &(plan.stdout.clone() + &plan.stderr));
    assert!(plan.stdout.contains(&format!("vars: pod={SHOWN}\n")), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("$ printf '%s' '{SHOWN}' > got\n")), "{}", plan.stdout);
}

#[test]
fn on_a_terminal_the_confirm_question_shows_the_value_escaped() {
    let t = project();
    let mut c = Command::new(bin());
    c.args(["play", "d6", "--from-alert", "alert.json"]).current_dir(t.path()).env_remove("RUNBOOK_CONFIG");
    let mut p = Pty::on(c);
    p.expect(&format!("confirm: delete pod {SHOWN}?"));
    p.expect("[s]kip: ");
    p.line("n");
    assert_eq!(p.end(), 3, "{}", p.all());
    let all = p.all();
    assert!(all.contains(&format!("declined step `del`: confirm \"delete pod {SHOWN}?\"")), "{all}");
    // The terminal ends lines with `\r\n`; no other `\r` and no escape is
    // written (NO_COLOR: the engine adds none of its own).
    no_raw("the terminal", &all.replace("\r\n", "\n"));
    assert!(!t.path().join("got").exists(), "the declined step ran");
}

/// A value whose newline (and `\r`) would print a forged line under the
/// question: `ok?\nconfirm: restart the canary only`.
const FORGED: &str = "web-1?\nconfirm: restart the canary only\r";
const FORGED_SHOWN: &str = r"web-1?\nconfirm: restart the canary only\r";

#[test]
fn a_newline_in_a_confirm_text_is_shown_as_an_escape_on_the_questions_line() {
    let set = format!("pod={FORGED}");
    let t = Test::new().runbook("d6", D6);
    let mut c = Command::new(bin());
    c.args(["play", "d6", "--set", &set]).current_dir(t.path()).env_remove("RUNBOOK_CONFIG");
    let mut p = Pty::on(c);
    p.expect("[s]kip: ");
    p.line("n");
    assert_eq!(p.end(), 3, "{}", p.all());
    let all = p.all().replace("\r\n", "\n");
    assert!(all.contains(&format!("\nconfirm: delete pod {FORGED_SHOWN}?\n")), "{all}");
    assert!(!all.contains("\nconfirm: restart"), "a forged line under the question:\n{all}");
    assert!(all.contains(&format!("declined step `del`: confirm \"delete pod {FORGED_SHOWN}?\"")), "{all}");

    let refused = Test::new().runbook("d6", D6).args(["play", "d6", "--set", &set]).status(3).run();
    assert!(refused.stdout.contains(&format!("(confirm \"delete pod {FORGED_SHOWN}?\")")), "{}", refused.stdout);
    let yes = Test::new().runbook("d6", D6).args(["play", "d6", "--set", &set, "--yes"]).run();
    assert!(yes.stdout.contains(&format!("confirm \"delete pod {FORGED_SHOWN}?\": yes (--yes)")), "{}", yes.stdout);
    let plan = Test::new().runbook("d6", D6).args(["plan", "d6", "--set", &set]).run();
    assert!(plan.stdout.contains(&format!("[write, confirm \"delete pod {FORGED_SHOWN}?\"]")), "{}", plan.stdout);
}

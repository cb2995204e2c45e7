//! `confirm="text"` is a template (docs/decisions.md): rendered with what
//! the step's body sees (vars, env, captures, `steps.*`), verbatim (prose,
//! not shell), secrets masked; the prompt, `--yes`'s line, the journal, the
//! report and `plan` show the rendered text, and `check` reports an
//! undefined variable in it at file:line.

use crate::common::*;
use crate::play::{journal, rb, text};
use crate::tty::{Tty, has, lacks};

const ROLL: &str = r#"
    ---
    vars:
      rev: 41
    ---
    ```bash {#current read capture=current}
    echo "v 40"
    ```

    ```bash {#roll confirm="roll {{ env }} back from {{ current }} to revision {{ rev }} ({{ steps.current.status }})"}
    echo rolled
    ```
    "#;

#[test]
fn a_confirm_text_shows_vars_and_captures_as_prose() {
    let t = Test::new()
        .runbook("r", ROLL)
        .args(["play", "r", "--yes"])
        .stdout_has(r#"answer [roll]: confirm "roll devnet back from v 40 to revision 41 (passed)": yes (--yes)"#)
        .run();
    let j = journal(t.path());
    assert!(j.contains(r#""confirm":"roll devnet back from v 40 to revision 41 (passed)""#), "{j}");
    let report = text(&rb(t.path(), &["report", "latest"]));
    assert!(
        report.contains(
            r#"| `roll` | confirm "roll devnet back from v 40 to revision 41 (passed)" | **yes** | `--yes` |"#
        ),
        "{report}"
    );
    // Before the play, captures and step results are placeholders.
    Test::new()
        .runbook("r", ROLL)
        .args(["plan", "r"])
        .stdout_has(r#"confirm "roll devnet back from <current from current> to revision 41 (<status of current>)""#)
        .run();
    // At the prompt.
    let mut p = Tty::spawn(t.path(), &["play", "r", "--fresh"]);
    p.expect("confirm: roll devnet back from v 40 to revision 41 (passed)\r\n");
    p.expect("run it?");
    p.line("y");
    has(&p.done(0), "[roll] rolled");
}

const SECRET: &str = r#"
    ---
    vars:
      api_token: hunter2-token-value
    ---
    ```bash {#fetch read capture=db_password}
    echo "$((6 * 7))-captured-db-password"
    ```

    ```bash {#rotate confirm="rotate with {{ api_token }} and {{ db_password }}"}
    echo rotated
    ```

    ```bash {#fail}
    exit 1
    ```

    ```bash {#undo-rotate undo confirm="undo the rotation with {{ api_token }}"}
    echo undone
    ```
    "#;

#[test]
fn a_secret_in_a_confirm_text_is_masked_everywhere() {
    let md = SECRET.replace("{#rotate confirm", "{#rotate rollback=undo-rotate confirm");
    let t = Test::new().runbook("s", &md);
    let mut p = Tty::spawn(t.path(), &["play", "s"]);
    p.expect("confirm: rotate with *** and ***\r\n");
    p.line("y");
    p.expect("rollback: undo `undo-rotate` of step `rotate`\r\nconfirm: undo the rotation with ***\r\n");
    p.line("y");
    let seen = p.done(1);
    has(&seen, "[undo-rotate] undone");
    let yes = rb(t.path(), &["play", "s", "--fresh", "--yes"]);
    let plan = rb(t.path(), &["plan", "s"]);
    let report = rb(t.path(), &["report", "latest"]);
    let json = rb(t.path(), &["report", "latest", "--format", "json"]);
    let j = journal(t.path());
    let all = [text(&yes), text(&plan), text(&report), text(&json), j.clone(), seen];
    for (what, out) in ["--yes", "plan", "report", "report --format json", "journal", "the prompt"].iter().zip(&all) {
        for secret in ["hunter2", "42-captured"] {
            assert!(!out.contains(secret), "{what} shows {secret}:\n{out}");
        }
    }
    assert!(j.contains(r#""confirm":"rotate with *** and ***""#), "{j}");
    assert!(j.contains(r#""confirm":"undo the rotation with ***""#), "{j}");
    has(&text(&yes), r#"answer [rotate]: confirm "rotate with *** and ***": yes (--yes)"#);
    has(&text(&report), r#"| `rotate` | confirm "rotate with *** and ***" | **yes** | `--yes` |"#);
    has(&text(&plan), r#"confirm "rotate with *** and <db_password from fetch>""#);
    lacks(&text(&plan), "{{");
}

#[test]
fn an_undefined_variable_in_a_confirm_text_is_an_error_at_its_line() {
    let md = "```bash {#look read}\necho look\n```\n\n```bash {#roll confirm=\"roll back to {{ revison }}\"}\necho roll\n```\n";
    let hint = "  hint: define `revison` in front matter `vars` or in the [env] profile, or capture it in a step this one `needs`";
    Test::new()
        .runbook("u", md)
        .args(["check", "runbooks/u.md"])
        .status(2)
        .stdout_has(&format!(
            "runbooks/u.md:5: error[undefined-variable]: undefined variable `revison` in `confirm` of step `roll`\n{hint}"
        ))
        .run();
    // As `plan` and `play` say of a body.
    Test::new()
        .runbook("u", md)
        .args(["plan", "u"])
        .status(2)
        .stderr_has("runbooks/u.md:5: error: undefined variable `revison` in `confirm` of step `roll`")
        .run();
    Test::new()
        .runbook("u", md)
        .args(["play", "u", "--yes"])
        .status(2)
        .stderr_has("runbooks/u.md:5: error: undefined variable `revison` in step `roll`")
        .stdout_lacks("look")
        .run();
}

#[test]
fn a_capture_read_by_a_confirm_text_is_checked_for_order() {
    let md = "```bash {#roll needs= confirm=\"roll back from {{ current }}\"}\necho roll\n```\n\n\
              ```bash {#current read needs= capture=current}\necho 40\n```\n";
    Test::new()
        .runbook("o", md)
        .args(["check", "runbooks/o.md"])
        .status(2)
        .stdout_has("runbooks/o.md:1: error[capture-order]: step `roll` uses `current`, captured by step `current`, which it does not depend on")
        .run();
}

#[test]
fn a_confirm_text_naming_no_step_is_a_check_error() {
    let md = "```bash {#look read}\necho look\n```\n\n```bash {#roll confirm=\"look said {{ steps.lok.stdout }}\"}\necho roll\n```\n";
    Test::new()
        .runbook("n", md)
        .args(["check", "runbooks/n.md"])
        .any_status()
        .stdout_has("runbooks/n.md:5: error[unknown-step-ref]: step `roll` refers to `steps.lok` in `confirm`, but no step has the id `lok`\n  hint: did you mean `steps.look`?")
        .run();
}

/// `escalate="text"` is a template as `confirm` is: rendered (vars,
/// captures), secrets masked, on the closing screen and in the budget note
/// (a journaled note); `check` reports an undefined variable in it.
#[test]
fn an_escalate_text_is_rendered_and_masked() {
    let md = "---\nvars:\n  team: db-oncall\n  pager_token: hunter2-pager\n---\n```bash {#who read capture=lead}\necho alice\n```\n\n```bash {#slow needs=who budget=1s escalate=\"page {{ team }} ({{ lead }}) with {{ pager_token }}\"}\nsleep 1.5; exit 3\n```\n";
    let t = Test::new().runbook("e", md);
    let o = rb(t.path(), &["play", "e"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    has(&out, "over its budget of 1s — escalate: page db-oncall (alice) with ***");
    has(&out, "escalate (slow): page db-oncall (alice) with ***");
    lacks(&out, "{{");
    lacks(&out, "hunter2");
    let j = journal(t.path());
    assert!(j.contains("escalate: page db-oncall (alice) with ***"), "{j}");
    assert!(!j.contains("hunter2"), "{j}");
    let bad = md.replace("{{ team }}", "{{ teem }}");
    Test::new()
        .runbook("e", &bad)
        .args(["check", "runbooks/e.md"])
        .status(2)
        .stdout_has(
            "runbooks/e.md:10: error[undefined-variable]: undefined variable `teem` in `escalate` of step `slow`",
        )
        .run();
}

const REFUSED: &str = r#"
    ---
    vars:
      api_token: hunter2-token-value
      rev: 41
    ---
    # C

    ```bash {#roll rollback=unroll confirm="roll back to {{ rev }} with {{ api_token }}"}
    echo rolled
    ```

    ```bash {#fail}
    exit 1
    ```

    ```bash {#unroll undo confirm="undo the roll with {{ api_token }}"}
    echo undone
    ```
    "#;

/// A refused confirm quotes the question refused, rendered and masked:
/// answered no (here by a scenario, as by the operator), for a step and
/// for an undo block, and asked of a play that cannot ask.
#[test]
fn a_refused_confirm_quotes_its_text_masked() {
    let fixture = r#"
        [[scenario]]
        name = "no"
        answers = { roll = "no" }
          [scenario.expect]
          outcome = "refused"

        [[scenario]]
        name = "undo-no"
        answers = { roll = "yes", unroll = "no" }
          [scenario.expect]
          outcome = "failed"
        "#;
    let t = || Test::new().runbook("c", REFUSED).fixture("c", fixture);
    t().args(["play", "c", "--dry-run", "--scenario", "no"])
        .stdout(
            "=== REHEARSAL of c — scenario no (env devnet) — fixtures/c.toml:1\n\
             === real bash, stubbed tools, contained: writes vanish with the scenario, no network, no process outlives it\n\
             playing c @ devnet (a rehearsal: not recorded)\n\
             vars: api_token=*** rev=41\n\
             answer [roll]: confirm \"roll back to 41 with ***\": no (the scenario)\n\
             play refused: 0 passed, 2 not run (a rehearsal: not recorded)\n  \
             the operator declined step `roll`: confirm \"roll back to 41 with ***\"\n\
             === REHEARSAL passed: scenario no holds its expectations\n\n",
        )
        .run();
    t().args(["play", "c", "--dry-run", "--scenario", "undo-no"])
        .stdout_has(
            "--- undo unroll: skipped: declined by the operator: confirm \"undo the roll with ***\"\n\
             play failed: 1 passed, 1 failed (a rehearsal: not recorded)\n  \
             failed: fail — exit 1\n  \
             rollback incomplete: unroll skipped (declined by the operator: confirm \"undo the roll with ***\")\n",
        )
        .run();
    // No terminal and no --yes: refused (3) before the step, quoting it.
    let f = t().args(["play", "c"]).status(3).run();
    let line = "  step `roll` needs an answer (confirm \"roll back to 41 with ***\") and this play cannot ask: \
                pass --yes to answer yes to every question, or play on a terminal";
    assert_eq!(f.stdout.lines().filter(|l| *l == line).count(), 1, "{}", f.stdout);
    let everything = format!("{}{}{}", f.stdout, f.stderr, journal(f.path()));
    assert!(!everything.contains("hunter2"), "{everything}");
    assert!(journal(f.path()).contains("needs an answer (confirm \\\"roll back to 41 with ***\\\")"));
    // An undo block's confirm, in a play that cannot ask.
    let md = REFUSED.replace(
        r#"{#roll rollback=unroll confirm="roll back to {{ rev }} with {{ api_token }}"}"#,
        "{#roll rollback=unroll}",
    );
    Test::new()
        .runbook("c", &md)
        .args(["play", "c"])
        .status(1)
        .stdout_has(
            "--- undo unroll: skipped: not run: step `unroll` needs an answer (an undo block asks first: \
             confirm \"undo the roll with ***\") and this play cannot ask: pass --yes to answer yes to every question, or play on a terminal\n",
        )
        .stdout_lacks("hunter2")
        .run();
}

//! What the filters (`--read-only`, `--only`, `--from`) leave out asks for
//! nothing: a required variable only a left-out step reads is not demanded
//! (SPEC §4's `--read-only` triage of an imported runbook, whose
//! placeholders are required variables), and a filter pair that leaves
//! nothing to run is refused, not "passed".

use std::process::Command;

use crate::common::*;
use crate::hangup::Pty;

const RQ: &str = r#"
    ---
    vars:
      target: ~
    ---
    # RQ

    ```bash {#look read}
    echo looking
    ```

    ```bash {#fix}
    echo fixing {{ target }}
    ```
"#;

#[test]
fn a_required_variable_only_left_out_steps_read_is_not_demanded() {
    for flags in [&["--read-only"][..], &["--only", "look"]] {
        let f = Test::new().runbook("rq", RQ).args(["play", "rq", "--yes"]).args(flags.iter().copied()).run();
        assert!(f.stdout.contains("[look] looking\n"), "{flags:?}: {}", f.stdout);
        assert!(!f.stdout.contains("fixing"), "{flags:?}: {}", f.stdout);
        assert!(
            f.stdout.contains("not asked for target: only steps this play leaves out read it"),
            "{flags:?}: {}",
            f.stdout
        );
    }
    // `--from fix` runs `fix`: it is demanded, as by a play of every step.
    for flags in [&[][..], &["--from", "fix"]] {
        Test::new()
            .runbook("rq", RQ)
            .args(["play", "rq", "--yes"])
            .args(flags.iter().copied())
            .status(2)
            .stderr_has("required variable `target` has no value in step `fix`")
            .run();
    }
}

#[test]
fn on_a_terminal_read_only_triage_does_not_ask_for_a_write_steps_variable() {
    let t = Test::new().runbook("rq", RQ);
    let mut c = Command::new(bin());
    c.args(["play", "rq", "--read-only"]).current_dir(t.path()).env_remove("RUNBOOK_CONFIG");
    let mut p = Pty::on(c);
    p.expect("play passed");
    assert_eq!(p.end(), 0, "{}", p.all());
    let all = p.all();
    assert!(all.contains("[look] looking"), "{all}");
    assert!(!all.contains("target ("), "asked for `target`:\n{all}");
}

#[test]
fn read_only_with_only_a_write_step_is_refused() {
    let f = Test::new()
        .runbook("rq", RQ)
        .args(["play", "rq", "--read-only", "--only", "fix", "--set", "target=x", "--yes"])
        .status(2)
        .stderr_has("--only fix with --read-only: `fix` (runbooks/rq.md:11) is a write step")
        .stderr_has("drop --read-only to run `fix`")
        .run();
    assert!(!f.stdout.contains("play passed"), "{}", f.stdout);
    assert!(!f.stdout.contains("fixing"), "{}", f.stdout);
    // A read step goes with --read-only.
    Test::new().runbook("rq", RQ).args(["play", "rq", "--read-only", "--only", "look", "--yes"]).run();
}

//! A rehearsal decides as the real play would: the waits it skips count
//! towards the play's `timeout` and the steps' `budget` (the rehearsed
//! clock), and parallel steps that share a `sequence` get its answers in
//! one order.

use crate::common::*;

/// Ready on the 7th call, polled every 5s: the real play's 20s run out
/// after the 5th (at 0, 5, 10, 15, 20s), before `act`.
const SLOW: &str = r#"
    ---
    timeout: 20s
    ---
    # Slow

    ```bash {#wait read retry=10 delay=5s}
    kubectl rollout status deploy/x
    ```

    ```bash {#act}
    kubectl delete pod x
    ```
"#;

fn sequence(ready_at: usize) -> String {
    let mut answers = vec!["{ exit = 1, stdout = \"waiting\" }"; ready_at - 1];
    answers.push("{ stdout = \"rolled out\" }");
    format!(
        r#"
        [[scenario]]
        name = "slow"
          [[scenario.stub]]
          cmd = "kubectl rollout status deploy/x"
          sequence = [ {} ]
          [[scenario.stub]]
          cmd = "kubectl delete pod x"
          stdout = "deleted"
          [scenario.expect]
          outcome = "failed"
          steps = {{ wait = "failed", act = "not-run" }}
        "#,
        answers.join(", ")
    )
}

#[test]
fn skipped_retry_delays_count_towards_the_plays_timeout() {
    let f = Test::new()
        .runbook("slow", SLOW)
        .fixture("slow", &sequence(7))
        .args(["play", "slow", "--dry-run"])
        .stdout_has("the play timed out after 20s of rehearsed time")
        .stdout_has("retrying in 5s (rehearsed: not waited, counted)")
        .stdout_lacks("deleted")
        .stdout_has("REHEARSAL passed")
        .run();
    // Four waits of 5s: the fifth attempt never runs.
    assert_eq!(f.stdout.matches("retrying in 5s").count(), 4, "{}", f.stdout);
}

#[test]
fn ready_in_time_the_rehearsal_goes_on() {
    let fx = sequence(4)
        .replace(r#"outcome = "failed""#, r#"outcome = "passed""#)
        .replace(r#"steps = { wait = "failed", act = "not-run" }"#, r#"steps = { wait = "passed", act = "passed" }"#);
    Test::new()
        .runbook("slow", SLOW)
        .fixture("slow", &fx)
        .args(["play", "slow", "--dry-run"])
        .stdout_has("deleted")
        .stdout_lacks("timed out")
        .stdout_has("REHEARSAL passed")
        .run();
}

#[test]
fn skipped_retry_delays_count_towards_the_steps_budget() {
    let md = "# B\n\n```bash {#wait read retry=5 delay=1m budget=2m escalate=\"page ops\"}\nkubectl get x\n```\n";
    let fx = r#"
        [[scenario]]
        name = "b"
          [[scenario.stub]]
          cmd = "kubectl get x"
          sequence = [ { exit = 1 }, { exit = 1 }, { exit = 1 }, { stdout = "ok" } ]
    "#;
    Test::new()
        .runbook("b", md)
        .fixture("b", fx)
        .args(["play", "b", "--dry-run"])
        .stdout_has("over its budget of 2m — escalate: page ops")
        .stdout_has("REHEARSAL passed")
        .run();
}

/// Two root steps call one `sequence` stub; `a`, first in plan order, is
/// slower to call it. In parallel `b` would get `node-1`; one at a time in
/// plan order, `a` always does, and `act` always runs.
#[test]
fn parallel_steps_sharing_a_sequence_decide_the_same_every_time() {
    let md = concat!(
        "# L\n\n",
        "```bash {#a read capture=ca}\nsleep 0.3; kubectl get leader\n```\n\n",
        "```bash {#b read capture=cb needs=}\nkubectl get leader\n```\n\n",
        "```bash {#act needs=a,b when=\"ca == 'node-1'\"}\nkubectl annotate node node-1 x=y\n```\n",
    );
    let fx = r#"
        [[scenario]]
        name = "s"
          [[scenario.stub]]
          cmd = "kubectl get leader"
          sequence = [ { stdout = "node-1" }, { stdout = "node-2" } ]
          [[scenario.stub]]
          cmd = "kubectl annotate *"
          stdout = "annotated"
          [scenario.expect]
          steps = { a = "passed", b = "passed", act = "passed" }
    "#;
    let t = Test::new().runbook("l", md).fixture("l", fx);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut c = t.command();
        c.args(["play", "l", "--dry-run", "--jobs", "4"]);
        let out = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.contains("[act] annotated"), "{stdout}");
        seen.push(stdout.lines().filter(|l| l.starts_with('[')).map(str::to_string).collect::<Vec<_>>());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:#?}");
}

#[test]
fn dry_run_refuses_resume_and_take_over() {
    // `--fresh` is what a rehearsal does anyway (play::a_filtered_out_step_still_orders_the_steps_after_it uses it).
    for flag in ["--resume", "--take-over"] {
        Test::new()
            .runbook("slow", SLOW)
            .fixture("slow", &sequence(7))
            .args(["play", "slow", "--dry-run", flag])
            .status(2)
            .stderr_has(&format!("{flag} does not go with --dry-run: a rehearsal keeps no run"))
            .stderr_has("--from STEP")
            .run();
    }
}

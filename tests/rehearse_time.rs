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

//! Writing fixtures: every missing stub named in one run with an entry to
//! paste (SPEC §5), scaffolding from the plan (`runbook fixture new`), and
//! recording from a real play (`play --record-fixture`).

use crate::common::*;

const DEPLOY: &str = r#"
    # Deploy

    ```bash {#replicas read capture=replicas}
    kubectl get deploy/miner -n {{ namespace }} -o jsonpath={.spec.replicas}
    ```

    ```bash {#notify}
    curl -fsS -X POST https://hooks.example/notify -d '{
      "text": "scaled to {{ replicas }}"
    }'
    ```

    ```bash {#pods read}
    kubectl get pods -n {{ namespace }}
    ```
"#;

/// The pasted entries of a failed rehearsal's output, as TOML.
fn pasted(stdout: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for l in stdout.lines() {
        let t = l.trim_start();
        if t.starts_with("[[scenario.stub]]") {
            inside = true;
        } else if !(t.starts_with("cmd = ") || t.starts_with("stdout = ") || t.starts_with("exit = ")) {
            inside = false;
        }
        if inside {
            out.push_str(t);
            out.push('\n');
        }
    }
    out
}

#[test]
fn every_missing_stub_is_named_in_one_run_and_the_pasted_entries_match() {
    let fx = "[[scenario]]\nname = \"s\"\n";
    let f = Test::new()
        .runbook("deploy", DEPLOY)
        .file("fixtures/deploy.toml", fx)
        .args(["play", "deploy", "--dry-run"])
        .status(1)
        .stdout_has("no fixture for: kubectl get deploy/miner -n animica-devnet -o jsonpath={.spec.replicas} (step `replicas`, runbooks/deploy.md:3)")
        .stdout_has("no fixture for: kubectl get pods -n animica-devnet (step `pods`")
        .stdout_has("no fixture for: curl -fsS -X POST https://hooks.example/notify -d {\\n")
        .stdout_has(r#"cmd = "kubectl get deploy/miner -n animica-devnet -o jsonpath=\\{.spec.replicas\\}""#)
        .stdout_lacks("()")
        .run();
    let entries = pasted(&f.stdout);
    assert_eq!(entries.matches("[[scenario.stub]]").count(), 3, "{}", f.stdout);
    // Every failure line is whole: no line of the output ends mid-entry.
    for l in f.stdout.lines().filter(|l| l.starts_with("  - no fixture for")) {
        assert!(l.ends_with(':'), "{l}");
    }
    // Pasted as is, they answer every call.
    let fixed = format!("{fx}{entries}");
    Test::new()
        .runbook("deploy", DEPLOY)
        .file("fixtures/deploy.toml", &fixed)
        .args(["play", "deploy", "--dry-run"])
        .stdout_has("REHEARSAL passed")
        .run();
}

#[test]
fn a_star_matches_across_the_newlines_of_an_argument() {
    let fx = r#"
        [[scenario]]
        name = "s"
          [[scenario.stub]]
          cmd = "kubectl get deploy/miner *"
          stdout = "3"
          [[scenario.stub]]
          cmd = "curl -fsS -X POST https://hooks.example/notify -d *scaled to 3*"
          [[scenario.stub]]
          cmd = "kubectl get pods *"
    "#;
    Test::new()
        .runbook("deploy", DEPLOY)
        .fixture("deploy", fx)
        .args(["play", "deploy", "--dry-run"])
        .stdout_has("REHEARSAL passed")
        .run();
}

//! `play --dry-run`: rehearsals against fixtures (SPEC §5), on runbooks the
//! engine's own corpus does not have.

use crate::common::*;

const TRIAGE: &str = r#"
    # Triage

    ```bash {#pods read capture=pods}
    kubectl get pods -n {{ namespace }} -o name | wc -l | tr -d ' '
    ```

    ```bash {#logs read capture=log}
    kubectl logs deploy/miner -n {{ namespace }} --tail=50 | grep -c WorkExpired || true
    ```

    ```bash {#restart needs=logs when="log | int > 0" confirm}
    kubectl rollout restart deploy/miner -n {{ namespace }}
    ```

    ```bash {#verify needs=pods expect="^ok"}
    curl -fsS http://localhost:8545/healthz
    ```
"#;

fn triage() -> Test {
    Test::new().runbook("triage", TRIAGE)
}

const HEALTHY: &str = r#"
    [[scenario]]
    name = "healthy"
      [[scenario.stub]]
      cmd = "kubectl get pods -n animica-devnet -o name"
      stdout = "pod/a\npod/b\n"
      [[scenario.stub]]
      cmd = "kubectl logs deploy/miner -n animica-devnet *"
      stdout = "all good\n"
      [[scenario.stub]]
      cmd = "curl -fsS http://localhost:8545/healthz"
      stdout = "ok"
      [scenario.expect]
      outcome = "passed"
      steps = { pods = "passed", restart = "skipped", verify = "passed" }
"#;

#[test]
fn passing_scenario() {
    let f = triage()
        .fixture("triage", HEALTHY)
        .args(["play", "triage", "--dry-run"])
        .stdout_has("REHEARSAL of triage")
        .stdout_has("[pods] 2")
        .stdout_has("REHEARSAL passed")
        .run();
    // Nothing is written outside the sandbox: no state dir in the project.
    assert!(!f.path().join(".runbook").exists());
}

#[test]
fn stub_output_makes_a_when_branch_fire() {
    let fx = HEALTHY
        .replace("all good\\n", "WorkExpired\\nWorkExpired\\n")
        .replace(r#"restart = "skipped""#, r#"restart = "passed""#)
        + r#"
      [[scenario.stub]]
      cmd = "kubectl rollout restart deploy/miner -n animica-devnet"
      stdout = "deployment.apps/miner restarted\n"
    "#;
    triage()
        .fixture("triage", &fx)
        .args(["play", "triage", "--dry-run", "--scenario", "healthy"])
        .stdout_has("deployment.apps/miner restarted")
        .stdout_has("REHEARSAL passed")
        .run();
    // The same fixture with the old expectation fails, naming the step.
    let fx2 = fx.replace(r#"restart = "passed""#, r#"restart = "skipped""#);
    triage()
        .fixture("triage", &fx2)
        .args(["play", "triage", "--dry-run"])
        .status(1)
        .stdout_has("REHEARSAL FAILED")
        .stdout_has("step `restart`: expected skipped, got passed")
        .run();
}

#[test]
fn missing_stub_names_the_call_and_the_runbook_line() {
    let fx = HEALTHY.replace("cmd = \"kubectl get pods -n animica-devnet -o name\"", "cmd = \"kubectl get nodes\"");
    triage()
        .fixture("triage", &fx)
        .args(["play", "triage", "--dry-run"])
        .status(1)
        .stdout_has("no fixture for: kubectl get pods -n animica-devnet -o name")
        .stdout_has("runbooks/triage.md:3")
        .run();
}

#[test]
fn broken_shell_line_fails_the_rehearsal() {
    let md = TRIAGE.replace("8545/healthz\n", "8545/healthz )\n");
    Test::new()
        .runbook("triage", &md)
        .fixture("triage", HEALTHY)
        .args(["play", "triage", "--dry-run"])
        .status(1)
        .stdout_has("REHEARSAL FAILED")
        .stdout_has("step `verify`: expected passed, got failed")
        .run();
}

#[test]
fn sequences_answer_retries_in_turn() {
    Test::new()
        .runbook(
            "r",
            r#"
            # R

            ```bash {#wait read retry=3 delay=30s}
            curl -fsS http://localhost:8545/healthz
            ```
            "#,
        )
        .fixture(
            "r",
            r#"
            [[scenario]]
            name = "comes-back"
              [[scenario.stub]]
              cmd = "curl *"
              sequence = [ { exit = 7, stderr = "refused" }, { exit = 7 }, { stdout = "ok" } ]
            "#,
        )
        .args(["check", "--format", "json"])
        .stdout_has("\"passed\": true")
        .run();
}

#[test]
fn path_stubs_answer_repo_scripts() {
    Test::new()
        .config(&CONFIG.replace(r#"stub = ["kubectl", "helm", "curl"]"#, r#"stub = ["kubectl", "ops/smoke.sh"]"#))
        .runbook(
            "s",
            r#"
            # S

            ```bash {#smoke}
            bash ops/smoke.sh --fast
            ./ops/smoke.sh again
            ```
            "#,
        )
        .fixture(
            "s",
            r#"
            [[scenario]]
            name = "smoke"
              [[scenario.stub]]
              cmd = "ops/smoke.sh --fast"
              stdout = "FAST PASS"
              [[scenario.stub]]
              cmd = "ops/smoke.sh again"
              stdout = "SECOND PASS"
            "#,
        )
        .args(["play", "s", "--dry-run"])
        .stdout_has("FAST PASS")
        .stdout_has("SECOND PASS")
        .run();
}

#[test]
fn unknown_scenario_is_invalid_input() {
    triage()
        .fixture("triage", HEALTHY)
        .args(["play", "triage", "--dry-run", "--scenario", "healthz"])
        .status(2)
        .stderr_has("did you mean `healthy`")
        .run();
}

#[test]
fn no_fixture_is_invalid_input() {
    triage().args(["play", "triage", "--dry-run"]).status(2).stderr_has("has no fixture").run();
}

#[test]
fn golden_transcript_mismatch_and_bless() {
    let fx = HEALTHY.to_string() + "  transcript = \"triage.healthy.txt\"\n";
    let t = triage().fixture("triage", &fx).file("fixtures/triage.healthy.txt", "stale\n");
    let f =
        t.args(["check", "runbooks/triage.md"]).status(1).stdout_has("transcript differs").stdout_has("-stale").run();
    assert!(f.stdout.contains("+== step pods (line 3)"), "{}", f.stdout);
    // --bless writes it; then it matches.
    let dir = f.test.dir;
    let run = |args: &[&str]| {
        let mut c = std::process::Command::new(bin());
        c.args(args).current_dir(dir.path()).env("NO_COLOR", "1").env_remove("RUNBOOK_CONFIG");
        c.output().unwrap()
    };
    assert_eq!(run(&["check", "--bless"]).status.code(), Some(0));
    let golden = std::fs::read_to_string(dir.path().join("fixtures/triage.healthy.txt")).unwrap();
    for want in [
        "== step pods (line 3)",
        "$ kubectl get pods -n animica-devnet -o name | wc -l | tr -d ' '",
        "> kubectl get pods -n animica-devnet -o name",
        "| 2",
        "-- passed (exit 0)",
        "-- skipped",
        "== outcome: passed",
    ] {
        assert!(golden.contains(want), "golden lacks {want:?}:\n{golden}");
    }
    assert!(!golden.contains("/tmp/"), "{golden}");
    let again = run(&["check"]);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stdout));
}

#[test]
fn transcript_scrubs_the_sandbox_path() {
    let md = "# H\n\n```bash {#home read}\necho \"$HOME\"\n```\n";
    let f = Test::new()
        .runbook("h", md)
        .fixture("h", "[[scenario]]\nname = \"x\"\n[scenario.expect]\ntranscript = \"h.x.txt\"\n")
        .args(["check", "--bless"])
        .run();
    let golden = std::fs::read_to_string(f.path().join("fixtures/h.x.txt")).unwrap();
    assert!(golden.contains("| $WORK/home"), "{golden}");
}

#[test]
fn parallel_branches_share_sequences_under_a_lock() {
    let mut md = String::from("# P\n\n");
    for i in 0..4 {
        md.push_str(&format!("```bash {{#b{i} read needs=}}\ncurl -fsS http://localhost/x\n```\n\n"));
    }
    let f = Test::new()
        .runbook("p", &md)
        .fixture(
            "p",
            r#"
            [[scenario]]
            name = "p"
              [[scenario.stub]]
              cmd = "curl -fsS http://localhost/x"
              sequence = [ { stdout = "one" }, { stdout = "two" }, { stdout = "three" }, { stdout = "four" } ]
            "#,
        )
        .args(["play", "p", "--dry-run"])
        .run();
    for w in ["one", "two", "three", "four"] {
        assert_eq!(f.stdout.matches(&format!("] {w}\n")).count(), 1, "{}", f.stdout);
    }
}

#[test]
fn a_failed_rehearsal_offers_no_resume_and_no_report_of_a_run_it_did_not_keep() {
    // Nor does it name, as it starts, a run id that is not kept.
    let md = "# A\n\n```bash {#x}\nexit 3\n```\n\n```bash {#y}\necho y\n```\n";
    let fx = "[[scenario]]\nname = \"fails\"\n\n[scenario.expect]\noutcome = \"failed\"\nsteps = { x = \"failed\" }\n";
    Test::new()
        .runbook("a", md)
        .file("fixtures/a.toml", fx)
        .args(["play", "a", "--dry-run"])
        .stdout_has("\nplaying a @ devnet (a rehearsal: not recorded)\n")
        .stdout_lacks("(run ")
        .stdout_has("play failed: 0 passed, 1 failed, 1 not run (a rehearsal: not recorded)\n")
        .stdout_lacks("--resume")
        .stdout_lacks("runbook report")
        .stdout_lacks("next:")
        .run();
}

/// A failed scenario names what it never used as notes after its failures,
/// and the steps the play did not reach, which may be the ones calling it.
#[test]
fn a_failed_rehearsal_notes_its_unused_stubs_and_the_steps_it_did_not_reach() {
    let md = "# U\n\n```bash {#pods read}\nkubectl get pods\n```\n\n```bash {#nodes read}\nkubectl get nodes\n```\n";
    let fx = concat!(
        "[[scenario]]\nname = \"s\"\n",
        "  [[scenario.stub]]\n  cmd = \"kubectl get pods\"\n  exit = 1\n",
        "  [[scenario.stub]]\n  cmd = \"kubectl get nodes\"\n",
        "  [[scenario.stub]]\n  cmd = \"helm status x\"\n",
    );
    Test::new()
        .runbook("u", md)
        .fixture("u", fx)
        .args(["play", "u", "--dry-run"])
        .status(1)
        .stdout_has(concat!(
            "=== REHEARSAL FAILED: scenario s\n",
            "  - expected outcome passed, got failed (step `pods` failed: exit 1) at runbooks/u.md:3\n",
            "  note: stub `kubectl get nodes` is never called (fixtures/u.toml:6)\n",
            "  note: stub `helm status x` is never called (fixtures/u.toml:8)\n",
            "  note: the play did not reach step `nodes`, which may call them\n",
        ))
        .run();
}

/// A rehearsal engine killed with `kill -9` leaves its scratch directory in
/// the temporary directory; the next rehearsal (`play --dry-run`, `check`)
/// removes it, and leaves those of engines that still run.
#[test]
fn a_rehearsal_removes_the_scratch_directories_of_killed_engines() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let ns = std::fs::metadata("/proc/self/ns/pid").unwrap().ino();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let sleeper = crate::postgres::Bg(std::process::Command::new("sleep").arg("60").spawn().unwrap());
    let left = |pid: u32, tag: &str| {
        let d = tmp.path().join(format!("runbook-rehearsal-{pid}-{ns}-{tag}"));
        std::fs::create_dir_all(d.join("repo/ops")).unwrap();
        std::fs::write(d.join("repo/ops/x"), "x").unwrap();
        d
    };
    let killed = left(dead, "aaaaaa");
    let mut live = vec![left(sleeper.0.id(), "bbbbbb"), left(std::process::id(), "cccccc")];
    live.sort();
    let tmpdir = tmp.path().to_str().unwrap();
    let rehearse = |args: &[&str]| {
        triage().fixture("triage", HEALTHY).args(args.iter().copied()).env("TMPDIR", tmpdir).run();
    };
    rehearse(&["play", "triage", "--dry-run"]);
    assert!(!killed.exists(), "{} is removed", killed.display());
    let killed = left(dead, "dddddd");
    rehearse(&["check"]);
    assert!(!killed.exists(), "{} is removed", killed.display());
    let mut kept: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).collect();
    kept.sort();
    assert_eq!(kept, live, "what live engines own stays; a rehearsal removes its own");
}

/// A rehearsal takes `RUNBOOK_VAR_*`, `--set` and `--set-file` of the
/// command that starts it, where `check` takes none: the rehearsal says
/// which values came from there and how each was given, names only.
#[test]
fn a_rehearsal_names_the_values_the_command_gave_and_where_from() {
    let md = "---\nvars:\n  ns: dev\n  other: x\n  third: z\n---\n# V\n\n```bash {#s0}\necho {{ ns }} {{ other }} {{ third }}\ntest {{ ns }} = dev\n```\n";
    let fx = "[[scenario]]\nname = \"one\"\nvars = { other = \"s\" }\n";
    let t = || Test::new().file("runbooks/v.md", md).file("fixtures/v.toml", fx);
    // The caller's value is played: the step, which wants the fixture's, fails.
    t().env("RUNBOOK_VAR_ns", "prod")
        .args(["play", "v", "--dry-run", "--set", "other=y"])
        .status(1)
        .stdout_has(
            "\n=== vars given by this command, not by the fixture: ns (RUNBOOK_VAR_ns), other (--set other, over the \
             scenario's value); `runbook check` takes none of them\nplaying v @ ",
        )
        .stdout_has("\nvars: ns=prod other=y third=z\n")
        .run();
    t().args(["play", "v", "--dry-run"]).stdout_lacks("vars given by this command").stdout_has("[s0] dev s z").run();
    // `check` plays the fixture's values alone: the step passes.
    t().env("RUNBOOK_VAR_ns", "prod").args(["check"]).stdout_has("ok v / one").run();
}

/// `play --dry-run` blames a scenario that leaves a required variable
/// without a value on the fixture, as `check` does: the error is at the
/// misspelt key with its did-you-mean, never a `--set` hint about the
/// runbook; the fixture's other scenarios still rehearse, and the exit is 2
/// (invalid fixture). A `--set` of the variable gives it, as in a play.
#[test]
fn dry_run_blames_a_missing_scenario_variable_on_the_fixture() {
    let md = "---\nvars: {pod: ~}\n---\n# Req\n\n```bash {#logs read}\nkubectl logs {{ pod }}\n```\n";
    let fx = concat!(
        "[[scenario]]\n",
        "name = \"fine\"\n",
        "vars = { pod = \"api-1\" }\n",
        "  [[scenario.stub]]\n",
        "  cmd = \"kubectl logs *\"\n",
        "\n",
        "[[scenario]]\n",
        "name = \"crashloop\"\n",
        "  [scenario.vars]\n",
        "  pods = \"api-1\"\n",
        "  [[scenario.stub]]\n",
        "  cmd = \"kubectl logs *\"\n",
    );
    let error = "fixtures/req.toml:10: error: scenario `crashloop` gives no value to `pod`, \
                 which runbook `req` requires (read by step `logs`)\n  hint: the scenario gives `pods`: did you mean `pod`?\n";
    let f = Test::new()
        .runbook("req", md)
        .fixture("req", fx)
        .args(["play", "req", "--dry-run", "--scenario", "crashloop"])
        .status(2)
        .stdout_lacks("REHEARSAL of")
        .stderr_lacks("--set")
        .run();
    assert_eq!(
        f.stderr,
        format!("{error}not rehearsed (the fixture gives no value to a required variable): crashloop\n")
    );
    Test::new()
        .runbook("req", md)
        .fixture("req", fx)
        .args(["play", "req", "--dry-run"])
        .status(2)
        .stdout_has("=== REHEARSAL passed: scenario fine holds its expectations")
        .stdout_lacks("scenario crashloop")
        .stderr_has(error)
        .stderr_has("not rehearsed (the fixture gives no value to a required variable): crashloop")
        .run();
    Test::new()
        .runbook("req", md)
        .fixture("req", fx)
        .args(["play", "req", "--dry-run", "--scenario", "crashloop", "--set", "pod=api-2"])
        .stdout_has("=== REHEARSAL passed: scenario crashloop holds its expectations")
        .run();
}

/// The run id holds the time, so a rehearsal writes it `$RUN` (in
/// `RUNBOOK_RUN` and in `RUNBOOK_RUN_DIR`): two rehearsals of one scenario
/// write byte-identical transcripts (SPEC §5: deterministic).
#[test]
fn the_run_id_is_masked_in_transcripts() {
    let md = "# R\n\n```bash {#id read}\necho \"run $RUNBOOK_RUN\"\necho \"dir $RUNBOOK_RUN_DIR\"\n```\n";
    let f = Test::new()
        .runbook("r", md)
        .fixture("r", "[[scenario]]\nname = \"x\"\n[scenario.expect]\ntranscript = \"r.x.txt\"\n")
        .args(["check", "--bless"])
        .run();
    let golden = std::fs::read_to_string(f.path().join("fixtures/r.x.txt")).unwrap();
    assert!(golden.contains("| run $RUN\n"), "{golden}");
    assert!(golden.contains("| dir $WORK/") && golden.contains("/$RUN\n"), "{golden}");
    let dir = f.test.dir;
    let rehearse = |golden: &str| {
        let mut c = std::process::Command::new(bin());
        c.args(["check", "--bless"]).current_dir(dir.path()).env("NO_COLOR", "1").env_remove("RUNBOOK_CONFIG");
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
        std::fs::read(dir.path().join("fixtures").join(golden)).unwrap()
    };
    assert_eq!(rehearse("r.x.txt"), golden.as_bytes());
    assert_eq!(rehearse("r.x.txt"), golden.as_bytes());
}

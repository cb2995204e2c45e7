//! `play --dry-run` where containment is refused (`RUNBOOK_CONTAIN=0`, as
//! on macOS or in a container): what a rehearsal promises there, checked
//! with fake "real" tools first on `PATH` that only leave a marker file in
//! the test's directory when they run.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A directory of fake real programs, each writing `<marks>/<name>` when
/// it runs, and the `PATH` that puts it first.
fn fakes(t: &Test, names: &[&str]) -> (PathBuf, String) {
    let dir = t.path().join("fake-bin");
    let marks = t.path().join("marks");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&marks).unwrap();
    for n in names {
        let p = dir.join(n);
        std::fs::write(&p, format!("#!/bin/sh\necho ran > '{}'\necho real {n}\n", marks.join(n).display())).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    (marks, path)
}

fn ran(marks: &Path, name: &str) -> bool {
    marks.join(name).exists()
}

const AWS_RB: &str = "# Clean\n\n```bash {#clean}\naws s3 rm s3://example-invalid-bucket/backups --recursive\n```\n";
const AWS_FX: &str = "[[scenario]]\nname = \"s\"\n[[scenario.stub]]\n\
                      cmd = \"aws s3 rm s3://example-invalid-bucket/backups --recursive\"\nstdout = \"stubbed aws\\n\"\n";

#[test]
fn a_program_only_the_fixture_stubs_is_shimmed_not_run() {
    // The default `[rehearse] stub` (no table): aws is not in it.
    let t = Test::new().config("").file("runbooks/clean.md", AWS_RB).file("fixtures/clean.toml", AWS_FX);
    let (marks, path) = fakes(&t, &["aws", "kubectl"]);
    let f = t
        .env("PATH", &path)
        .env("RUNBOOK_CONTAIN", "0")
        .args(["play", "clean", "--dry-run"])
        .stdout_has("[clean] stubbed aws")
        .stdout_has("REHEARSAL passed")
        .run();
    assert!(!ran(&marks, "aws"), "the real aws ran: {}", f.stdout);

    // `stub = ["terraform"]` replaces the defaults: a kubectl stub still shims kubectl.
    let rb = "# K\n\n```bash {#pods read}\nkubectl get pods\n```\n";
    let fx = "[[scenario]]\nname = \"s\"\n[[scenario.stub]]\ncmd = \"kubectl get pods\"\nstdout = \"pod/a\\n\"\n";
    let t = Test::new()
        .config("[rehearse]\nstub = [\"terraform\"]\n")
        .file("runbooks/k.md", rb)
        .file("fixtures/k.toml", fx);
    let (marks, path) = fakes(&t, &["kubectl"]);
    let f = t
        .env("PATH", &path)
        .env("RUNBOOK_CONTAIN", "0")
        .args(["play", "k", "--dry-run"])
        .stdout_has("[pods] pod/a")
        .stdout_has("REHEARSAL passed")
        .run();
    assert!(!ran(&marks, "kubectl"), "the real kubectl ran: {}", f.stdout);
}

#[test]
fn an_unanswered_call_fails_its_step_uncontained() {
    let t = Test::new().config("[rehearse]\nstub = [\"kubectl\"]\n");
    let cache = t.path().join("cache");
    std::fs::create_dir_all(cache.join("keep")).unwrap();
    std::fs::write(cache.join("keep/file"), "x").unwrap();
    let rb = format!(
        "# Prune\n\n```bash {{#old read capture=old}}\nkubectl get cm cache -o name\n```\n\n\
         ```bash {{#prune needs=old}}\nrm -rf '{}/{{{{ old }}}}'\n```\n",
        cache.display()
    );
    // The glob has a stale trailing space: it never matches the call.
    let fx =
        "[[scenario]]\nname = \"s\"\n[[scenario.stub]]\ncmd = \"kubectl get cm cache -o name \"\nstdout = \"v1\\n\"\n";
    let f = t
        .file("runbooks/prune.md", &rb)
        .file("fixtures/prune.toml", fx)
        .env("RUNBOOK_CONTAIN", "0")
        .args(["play", "prune", "--dry-run"])
        .status(1)
        .stdout_has("no fixture for: kubectl get cm cache -o name (step `old` at runbooks/prune.md:3); the step fails")
        .stdout_has(
            "  - no fixture for: kubectl get cm cache -o name (step `old`, runbooks/prune.md:3); the call failed",
        )
        .stdout_has("note: stub `kubectl get cm cache -o name ` is never called")
        .run();
    assert!(cache.join("keep/file").exists(), "a later step acted on an invented answer: {}", f.stdout);
    assert!(!f.stdout.contains("[prune]"), "{}", f.stdout);
}

#[test]
fn only_stubs_interpreters_and_local_tools_run_uncontained() {
    let rb = "# Apply\n\n```bash {#look read}\nssh db1 uptime || true\nprintf 'x\\ny\\n' | sort -r | head -1\n```\n\n\
              ```bash {#apply needs=look}\nterraform apply -auto-approve\n```\n";
    let fx = "[[scenario]]\nname = \"s\"\n[scenario.expect]\noutcome = \"passed\"\n";
    let project = || Test::new().config("").file("runbooks/apply.md", rb).file("fixtures/apply.toml", fx);
    let t = project();
    let (marks, path) = fakes(&t, &["ssh", "terraform"]);
    let f = t
        .env("PATH", &path)
        .env("RUNBOOK_CONTAIN", "0")
        .args(["play", "apply", "--dry-run"])
        .status(1)
        .stdout_has("only the stubs, the step interpreters and local tools are on PATH, but a program called by absolute path and the network (/dev/tcp) are real")
        .stdout_has("[look] y\n")
        .stdout_has("=== not run here: step `look`: `ssh` is installed here but was not run")
        .stdout_has("hint: `terraform` is installed here but was not run: an uncontained rehearsal runs only the stubs")
        .stdout_has("`[rehearse] local = [\"terraform\"]`")
        .run();
    assert!(!ran(&marks, "ssh") && !ran(&marks, "terraform"), "a real tool ran: {}", f.stdout);

    // `[rehearse] local` puts a tool on the PATH.
    let t = project().config("[rehearse]\nlocal = [\"terraform\"]\n");
    let (marks, path) = fakes(&t, &["ssh", "terraform"]);
    let f = t
        .env("PATH", &path)
        .env("RUNBOOK_CONTAIN", "0")
        .args(["play", "apply", "--dry-run"])
        .stdout_has("[apply] real terraform")
        .run();
    assert!(ran(&marks, "terraform") && !ran(&marks, "ssh"), "{}", f.stdout);

    // A name that is not a program's is refused where it is written.
    project()
        .config("[rehearse]\nstub = [\"kubectl\"]\nlocal = [\n  \"jq\",\n  \"../bin/x\",\n]\n")
        .args(["play", "apply", "--dry-run"])
        .status(2)
        .stderr_has("runbook.toml:5: error: [rehearse] local \"../bin/x\": not a program name")
        .run();
}

#[test]
fn dry_run_contained_refuses_where_containment_is_refused() {
    Test::new()
        .config("")
        .file("runbooks/apply.md", "# A\n\n```bash {#a read}\ntrue\n```\n")
        .file("fixtures/apply.toml", "[[scenario]]\nname = \"s\"\n")
        .env("RUNBOOK_CONTAIN", "0")
        .args(["play", "apply", "--dry-run", "--contained"])
        .status(3)
        .stdout_lacks("REHEARSAL")
        .stderr_has("play --dry-run --contained: rehearsals cannot be contained here: RUNBOOK_CONTAIN=0")
        .run();
    let help = Test::new().args(["play", "--help"]).run();
    assert!(help.stdout.contains("Contained on Linux") && help.stdout.contains("--contained"), "{}", help.stdout);
}

#[test]
fn the_stand_in_repo_holds_the_projects_files() {
    let rb = "# Conf\n\n```bash {#conf read cwd=ops}\ncat settings.conf\n```\n";
    let t = Test::new()
        .config("")
        .file("runbooks/conf.md", rb)
        .file("fixtures/conf.toml", "[[scenario]]\nname = \"s\"\n")
        .file("ops/settings.conf", "replicas=3\n")
        .file(".runbook/runs/old/journal", "not copied\n");
    let f = t
        .env("RUNBOOK_CONTAIN", "0")
        .args(["play", "conf", "--dry-run"])
        .stdout_has("[conf] replicas=3")
        .stdout_has("REHEARSAL passed")
        .stdout_lacks("stand-in repo holds")
        .run();
    // What the rehearsal wrote there was a copy.
    assert_eq!(std::fs::read_to_string(f.path().join("ops/settings.conf")).unwrap(), "replicas=3\n");
}

fn containable() -> bool {
    std::process::Command::new("unshare").args(["-Urmn", "true"]).status().is_ok_and(|s| s.success())
}

#[test]
fn a_container_that_fails_after_the_probe_is_said_first() {
    if !containable() {
        eprintln!("notice: user namespaces refused here, skipping a containment test");
        return;
    }
    let f = Test::new()
        .config("")
        .file("runbooks/apply.md", "# A\n\n```bash {#a read}\necho hi\n```\n")
        .file("fixtures/apply.toml", "[[scenario]]\nname = \"s\"\n")
        .env("RUNBOOK_FAULT", "contain-setup:s")
        .args(["play", "apply", "--dry-run"])
        .run();
    let lines: Vec<&str> = f.stdout.lines().collect();
    let banner = lines.iter().position(|l| l.starts_with("=== REHEARSAL of apply")).expect(&f.stdout);
    assert_eq!(lines[banner - 1], "=== not contained: injected fault: contain-setup", "{}", f.stdout);
    assert!(lines[banner + 1].starts_with("=== real bash, stubbed tools, NOT contained"), "{}", f.stdout);
    assert!(!f.stdout.contains("contained: writes vanish"), "{}", f.stdout);
    // With --contained, that scenario is refused, not played.
    let f = Test::new()
        .config("")
        .file("runbooks/apply.md", "# A\n\n```bash {#a read}\necho hi\n```\n")
        .file("fixtures/apply.toml", "[[scenario]]\nname = \"s\"\n")
        .env("RUNBOOK_FAULT", "contain-setup:s")
        .args(["play", "apply", "--dry-run", "--contained"])
        .status(3)
        .stderr_has("scenario `s` cannot be rehearsed contained here (injected fault: contain-setup), and --contained was given")
        .run();
    assert!(!f.stdout.contains("[a] hi"), "{}", f.stdout);
}

/// Uncontained, a call no stub answers fails its step (it is not answered
/// empty, as it is contained): the transcript's verdict says what happened.
#[test]
fn the_transcript_says_an_unanswered_call_failed_its_step_uncontained() {
    let md = "# M\n\n```bash {#pods read}\nkubectl get pods\n```\n";
    let fx = "[[scenario]]\nname = \"s\"\n";
    let f = Test::new()
        .runbook("m", md)
        .fixture("m", fx)
        .env("RUNBOOK_CONTAIN", "0")
        .args(["check", "--format", "junit"])
        .status(1)
        .run();
    let r = quick_junit::Report::deserialize_from_str(&f.stdout).unwrap_or_else(|e| panic!("{e}\n{}", f.stdout));
    let out = r.test_suites[0].test_cases[1].system_out.as_ref().map(|o| o.as_str().to_string()).unwrap_or_default();
    let last = out.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "== outcome: failed: no stub for `kubectl get pods` (step `pods`), the call failed its step (not contained: \
         no invented answer) (the play itself failed)",
        "{out}"
    );
}

/// `requires` is checked against the `PATH` the steps of an uncontained
/// rehearsal get (the stubs, the interpreters, the local tools), not the
/// engine's: a tool installed here that the steps would not find refuses
/// the play before it starts, saying why and what to do; stubbed, it is
/// found.
#[test]
fn requires_is_checked_against_the_path_an_uncontained_step_gets() {
    let md = "---\nrequires: [terraform]\n---\n# Apply\n\n```bash {#apply}\nterraform apply\n```\n";
    let t = Test::new().file("runbooks/apply.md", md).file("fixtures/apply.toml", "[[scenario]]\nname = \"s\"\n");
    let (marks, path) = fakes(&t, &["terraform"]);
    let f = t
        .env("RUNBOOK_CONTAIN", "0")
        .env("PATH", &path)
        .args(["play", "apply", "--dry-run"])
        .status(1)
        .stdout_has(
            "runbook `apply` requires a tool that is installed here but not on the PATH of an uncontained rehearsal's \
             steps (the stubs, the step interpreters and the local tools): terraform; nothing was run",
        )
        .stdout_has("allow it as a local tool (runbook.toml `[rehearse] local`")
        .run();
    assert!(!ran(&marks, "terraform"), "{}", f.stdout);
    assert!(!f.stdout.contains("==> apply"), "{}", f.stdout);
    let stubbed = "[[scenario]]\nname = \"s\"\n[[scenario.stub]]\ncmd = \"terraform apply\"\nstdout = \"ok\"\n";
    Test::new()
        .file("runbooks/apply.md", md)
        .file("fixtures/apply.toml", stubbed)
        .env("RUNBOOK_CONTAIN", "0")
        .env("PATH", &path)
        .args(["play", "apply", "--dry-run"])
        .stdout_has("[apply] ok")
        .run();
}

/// `check`'s human output says what its JSON has of an uncontained
/// scenario (`withheld`, `stand_in`): a program installed here that was
/// not run, and the files the stand-in repo left out.
#[test]
fn check_says_what_was_not_run_and_left_out_as_its_json_does() {
    let md = "# Plan\n\n```bash {#plan}\nterraform plan || true\n```\n";
    let t = Test::new().file("runbooks/plan.md", md).file("fixtures/plan.toml", "[[scenario]]\nname = \"s\"\n");
    // Beyond the stand-in's cap (sparse: nothing is written or copied).
    let big = std::fs::File::create(t.path().join("big.bin")).unwrap();
    big.set_len(33 << 20).unwrap();
    let (marks, path) = fakes(&t, &["terraform"]);
    let f = t.env("RUNBOOK_CONTAIN", "0").env("PATH", &path).args(["check"]).run();
    assert!(!ran(&marks, "terraform"), "{}", f.stdout);
    let mut lines = f.stdout.lines().skip_while(|l| !l.starts_with("ok plan / s"));
    assert!(lines.next().is_some(), "{}", f.stdout);
    let note = lines.next().unwrap_or_default();
    assert!(
        note.starts_with("  note: the stand-in repo holds ") && note.contains("1 more were left out"),
        "{}",
        f.stdout
    );
    assert_eq!(
        lines.next().unwrap_or_default(),
        "  not run here: step `plan`: `terraform` is installed here but was not run: an uncontained rehearsal runs \
         only the stubs, the step interpreters and local tools (docs/containment.md). Answer its calls in the \
         fixture ([[scenario.stub]] cmd = \"terraform …\", which shims it), or, if it only reads and writes local \
         files, allow it in runbook.toml: `[rehearse] local = [\"terraform\"]`",
        "{}",
        f.stdout
    );
}

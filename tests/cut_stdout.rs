//! A template that reads a cut `steps.<id>.stdout` (the engine keeps its
//! first MiB) says so: one note on the step that reads it, naming the step
//! read and the cap, on the screen and in the report, in a play, in a
//! resumed play and in a rehearsal alike.

use std::os::unix::process::ExitStatusExt;

use crate::common::*;
use crate::play::{journal, rb, rb_cmd, text};

/// `x` prints `ready` after more than a MiB: the kept stdout ends before
/// it, and `y`'s `when` is decided on what was kept.
const CUT: &str = "```bash {#x}\nhead -c 1100000 /dev/zero | tr '\\0' x; echo; echo ready\n```\n\n\
                   ```bash {#m}\necho m\n```\n\n\
                   ```bash {#y when=\"'ready' in steps.x.stdout\"}\necho y\n```\n";

const NOTE: &str = "reads `steps.x.stdout`, which is cut: only the first 1 MiB of step `x`'s stdout is kept, and this step's templates see only that";

/// The notes a play printed (`note [y]: …`).
fn notes(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out).lines().filter(|l| l.starts_with("note [")).map(str::to_string).collect()
}

/// The report's notes (`- T \`y\`: …`), times left out.
fn report_notes(dir: &std::path::Path) -> Vec<String> {
    let md = String::from_utf8(rb(dir, &["report", "latest"]).stdout).unwrap();
    let Some(notes) = md.split("## Notes\n\n").nth(1) else { return Vec::new() };
    notes
        .lines()
        .take_while(|l| l.starts_with("- "))
        .filter_map(|l| l.split_once(" `").map(|(_, rest)| format!("`{rest}")))
        .collect()
}

/// What the play said of `y`, and the report's status for it.
fn y_decided(dir: &std::path::Path, out: &[u8]) -> (String, String) {
    let out = String::from_utf8_lossy(out);
    let said = out.lines().find(|l| l.starts_with("--- y: ") || l.starts_with("<== y: ")).unwrap_or_default();
    let o = rb(dir, &["report", "latest", "--format", "json"]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let y = r["steps"].as_array().unwrap().iter().rfind(|s| s["step"] == "y").unwrap();
    (said.to_string(), y["status"].as_str().unwrap().to_string())
}

const Y_SKIPPED: (&str, &str) = ("--- y: skipped: `when` is false: 'ready' in steps.x.stdout", "skipped");

#[test]
fn a_when_on_a_cut_stdout_says_so() {
    let t = Test::new().runbook("cut", CUT);
    let dir = t.path();
    let o = rb(dir, &["play", "cut", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", notes(&o.stdout).join("\n"));
    assert_eq!(notes(&o.stdout), [format!("note [y]: {NOTE}")]);
    let (said, status) = y_decided(dir, &o.stdout);
    assert_eq!((said.as_str(), status.as_str()), Y_SKIPPED);
    assert_eq!(report_notes(dir), [format!("`y`: {NOTE}")]);
    let ends: Vec<serde_json::Value> = journal(dir)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "step-end")
        .collect();
    let cut: Vec<(&str, bool)> =
        ends.iter().map(|e| (e["step"].as_str().unwrap(), e.get("stdout_cut").is_some_and(|c| c == true))).collect();
    assert_eq!(cut, [("x", true), ("m", false), ("y", false)]);
    // Not cut: said false by leaving it out, as journals before it read.
    assert!(ends[1].get("stdout_cut").is_none());
}

/// Killed right after `m` ended, the resume knows `x` was cut from the
/// journal alone (`x` is not run again), and says it as the play did.
#[test]
fn a_resumed_run_knows_the_cut_from_the_journal() {
    let t = Test::new().runbook("cut", CUT);
    let dir = t.path();
    let o = rb_cmd(dir, &["play", "cut", "--yes"]).env("RUNBOOK_FAULT", "kill-after-end:m").output().unwrap();
    assert_eq!(o.status.signal(), Some(9), "{}", text(&o));
    assert!(notes(&o.stdout).is_empty());
    let o = rb(dir, &["play", "cut", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", notes(&o.stdout).join("\n"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("passed before, not run again: x"), "{}", notes(&o.stdout).join("\n"));
    assert_eq!(notes(&o.stdout), [format!("note [y]: {NOTE}")]);
    let (said, status) = y_decided(dir, &o.stdout);
    assert_eq!((said.as_str(), status.as_str()), Y_SKIPPED);
    assert_eq!(report_notes(dir), [format!("`y`: {NOTE}")]);
}

/// A step whose output is not cut, or that reads another field of a cut
/// step, gets no note; a retry that prints less is not cut.
#[test]
fn only_a_read_of_a_cut_stdout_says_so() {
    let md = "```bash {#x retry=1 delay=0s}\nif [ -f again ]; then echo ready; else touch again; head -c 1100000 /dev/zero | tr '\\0' x; exit 1; fi\n```\n\n\
              ```bash {#big}\nhead -c 1100000 /dev/zero | tr '\\0' x\n```\n\n\
              ```bash {#y when=\"'ready' in steps.x.stdout and steps.big.status == 'passed'\"}\necho y\n```\n";
    let t = Test::new().runbook("cut", md);
    let dir = t.path();
    let o = rb(dir, &["play", "cut", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", notes(&o.stdout).join("\n"));
    let notes: Vec<String> = notes(&o.stdout).into_iter().filter(|n| n.contains("cut")).collect();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(y_decided(dir, &o.stdout).1, "passed");
}

/// A rehearsal's fixture can print more than the cap too: the rehearsal
/// says it as the play does.
#[test]
fn a_rehearsal_says_it_too() {
    let md = "```bash {#x read}\ncurl -fsS http://localhost:8545/status\n```\n\n```bash {#y read when=\"'ready' in steps.x.stdout\"}\necho y\n```\n";
    let big = format!("{}\nready\n", "x".repeat(1_100_000));
    let fixture = format!(
        "[[scenario]]\nname = \"big\"\n  [[scenario.stub]]\n  cmd = \"curl -fsS http://localhost:8545/status\"\n  stdout = \"{}\"\n  [scenario.expect]\n  steps = {{ y = \"skipped\" }}\n",
        big.replace('\n', "\\n")
    );
    let f = Test::new().runbook("cut", md).fixture("cut", &fixture).args(["play", "cut", "--dry-run"]).status(0).run();
    let notes: Vec<String> = notes(&f.output.stdout);
    assert_eq!(notes, [format!("note [y]: {NOTE}")]);
}

//! A state directory in a bad state (a directory where a file belongs) is
//! exit 2 naming the path, what is wrong and the fix: exit 1 says a step
//! failed, and none did. A step's output the disk does not take (a full
//! disk, made here by a log that is `/dev/full`) stops the play, failed and
//! resumable, naming the step, the file and the fix: never lost silently.

use crate::common::{Test, bin};
use crate::play::{journal, rb};

fn project() -> Test {
    Test::new().runbook("s", "# S\n\n```bash {#a read}\necho a\n```\n")
}

#[test]
fn a_lock_file_that_is_a_directory_is_exit_2_naming_it_and_the_fix() {
    let t = project();
    let lock = t.path().join(".runbook/locks/s@devnet.lock");
    std::fs::create_dir_all(&lock).unwrap();
    let l = lock.display();
    t.args(["play", "s", "--yes"])
        .status(2)
        .stderr_has(&format!("error: cannot open lock {l}: Is a directory"))
        .stderr_has(&format!("hint: it must be a file: move the directory away (`mv {l} {l}.bad`)"))
        .run();
}

#[test]
fn a_journal_that_is_a_directory_is_exit_2_for_report_and_resume() {
    let played = project().args(["play", "s", "--yes"]).run();
    let runs = played.path().join(".runbook/runs");
    let id = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().file_name().into_string().unwrap();
    let journal = runs.join(&id).join("journal.jsonl");
    std::fs::remove_file(&journal).unwrap();
    std::fs::create_dir(&journal).unwrap();
    let j = journal.display();
    for args in [vec!["report", id.as_str()], vec!["play", "s", "--resume", "--yes"]] {
        let o = std::process::Command::new(bin())
            .args(&args)
            .current_dir(played.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&format!("error: journal {j}: Is a directory")), "{args:?}: {err}");
        assert!(err.contains(&format!("hint: it must be a file: move the directory away (`mv {j} {j}.bad`)")), "{err}");
    }
}

/// A run of `s1`, `s2` (fails until `ok` exists) and `s3`, played once:
/// the project and the run's directory.
fn failed_once() -> (Test, std::path::PathBuf) {
    let t = Test::new().runbook(
        "lf",
        "# L\n\n```bash {#s1}\necho one\n```\n\n```bash {#s2}\ntest -f ok || exit 1\necho two\n```\n\n```bash {#s3}\necho three\n```\n",
    );
    let o = rb(t.path(), &["play", "lf", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = t.path().join(".runbook/runs");
    let id = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().file_name();
    std::fs::write(t.path().join("ok"), "").unwrap();
    (t, runs.join(id))
}

/// The step's log made a full disk (`/dev/full` answers every write with ENOSPC).
fn full(run: &std::path::Path, step: &str) -> std::path::PathBuf {
    let log = run.join(format!("{step}.log"));
    let _ = std::fs::remove_file(&log);
    std::os::unix::fs::symlink("/dev/full", &log).unwrap();
    log
}

fn run_ends(dir: &std::path::Path) -> Vec<serde_json::Value> {
    journal(dir)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "run-end")
        .collect()
}

fn passed(dir: &std::path::Path, step: &str) -> usize {
    journal(dir)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "step-end" && e["step"] == step && e["status"] == "passed")
        .count()
}

/// [`failed_once`], then resumed with `step`'s log a full disk: exit 1.
/// The project, the log and the play's stdout.
fn resumed_with_full(step: &str) -> (Test, std::path::PathBuf, String) {
    let (t, run) = failed_once();
    let log = full(&run, step);
    let o = rb(t.path(), &["play", "lf", "--yes", "--resume"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}");
    (t, log, out)
}

#[test]
fn output_the_disk_does_not_take_stops_the_play_failed_and_resumable() {
    let (t, log, out) = resumed_with_full("s2");
    let why = format!(
        "cannot record the run: the output of step `s2` could not be written to {}: No space left on device",
        log.display()
    );
    assert!(out.contains(&format!("stopping: {why}")), "{out}");
    assert!(out.contains("the disk of the state directory is full: free space"), "{out}");
    let ends = run_ends(t.path());
    let last = ends.last().unwrap();
    assert_eq!(last["status"], "failed", "{last}");
    assert!(last["message"].as_str().unwrap().starts_with(&why), "{last}");
    // Space freed: the run goes on where it stopped, `s3` passing once in all.
    std::fs::remove_file(&log).unwrap();
    let o = rb(t.path(), &["play", "lf", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(run_ends(t.path()).last().unwrap()["status"], "passed");
    assert_eq!(passed(t.path(), "s3"), 1);
    assert_eq!(passed(t.path(), "s2"), 1);
}

#[test]
fn the_last_steps_output_not_taken_makes_the_runs_end_failed() {
    let (t, log, out) = resumed_with_full("s3");
    assert!(out.contains("play failed: 3 passed"), "{out}");
    let last = run_ends(t.path()).pop().unwrap();
    assert_eq!(last["status"], "failed", "{last}");
    let why = format!("the output of step `s3` could not be written to {}", log.display());
    assert!(last["message"].as_str().unwrap().contains(&why), "{last}");
}

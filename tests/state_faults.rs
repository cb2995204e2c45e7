//! A state directory in a bad state (a directory where a file belongs) is
//! exit 2 naming the path, what is wrong and the fix: exit 1 says a step
//! failed, and none did.

use crate::common::{Test, bin};

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

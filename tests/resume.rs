//! Checkpoints and resume (SPEC §6): `kill -9` at any moment, then
//! `--resume`: passed steps never run again, the one in flight does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;
use crate::play::{alive, crash_while_running, journal, rb, rb_cmd, text, wait_until, written_pid};

pub fn counts(dir: &Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in std::fs::read_to_string(dir.join("runs.txt")).unwrap_or_default().lines() {
        *m.entry(l.to_string()).or_default() += 1;
    }
    m
}

/// Steps whose latest step-end in the journal is `passed`.
pub fn passed(dir: &Path) -> BTreeSet<String> {
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for l in journal(dir).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else { continue };
        let step = v["step"].as_str().unwrap_or_default().to_string();
        match v["event"].as_str() {
            Some("step-end") => {
                last.insert(step, v["status"].as_str().unwrap_or_default().to_string());
            }
            Some("step-start") => {
                last.insert(step, "started".into());
            }
            _ => {}
        }
    }
    last.into_iter().filter(|(_, s)| s == "passed").map(|(k, _)| k).collect()
}

#[test]
fn kill_9_at_any_moment_then_resume() {
    let mut md = String::new();
    for i in 0..12 {
        // Two parallel chains, so kills land in the middle of parallel work too.
        let needs = if i < 2 { "needs=".to_string() } else { format!("needs=s{}", i - 2) };
        md.push_str(&format!("```bash {{#s{i} {needs}}}\necho s{i} >> runs.txt\nsleep 0.03\n```\n\n"));
    }
    let t = Test::new().runbook("a", &md);
    let dir = t.path().to_path_buf();
    let delays = [5u64, 20, 45, 70, 100, 30, 140, 60];
    for (n, d) in delays.iter().enumerate() {
        let before = counts(&dir);
        let done = passed(&dir);
        // `--resume` once a run exists: a kill before the first play created
        // its run leaves nothing to resume (refused, exit 3).
        let args: &[&str] = if journal(&dir).is_empty() { &["play", "a"] } else { &["play", "a", "--resume"] };
        let mut child = rb_cmd(&dir, args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(*d));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let after = counts(&dir);
        for s in &done {
            assert_eq!(before.get(s), after.get(s), "step {s} had passed but ran again (kill #{n})");
        }
        if passed(&dir).len() == 12 {
            break;
        }
    }
    // On a fast machine a resumed play can finish inside its kill window: then
    // there is nothing left to resume (a `--resume` would be refused).
    if passed(&dir).len() < 12 {
        let before = counts(&dir);
        let done = passed(&dir);
        let args: &[&str] = if journal(&dir).is_empty() { &["play", "a"] } else { &["play", "a", "--resume"] };
        let o = rb(&dir, args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let after = counts(&dir);
        for s in &done {
            assert_eq!(before.get(s), after.get(s), "step {s} had passed but ran again");
        }
    }
    let after = counts(&dir);
    for i in 0..12 {
        assert!(after.get(&format!("s{i}")).copied().unwrap_or(0) >= 1, "s{i} never ran: {after:?}");
    }
}

#[test]
fn resume_restores_captures_and_reruns_changed_commands() {
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#get read capture=rev}
        echo get >> runs.txt; echo 41
        ```

        ```bash {#use}
        echo "use" >> runs.txt; echo rev={{ rev }}
        ```

        ```bash {#stop}
        [ -f go ] || exit 1
        ```
        "#,
    );
    let dir = t.path().to_path_buf();
    // A failed run is finished, not resumable; Ctrl-C makes it resumable, so
    // interrupt it instead: the third step waits.
    std::fs::write(
        dir.join("runbooks/a.md"),
        "```bash {#get read capture=rev}\necho get >> runs.txt; echo 41\n```\n\n```bash {#use}\necho use >> runs.txt; echo rev={{ rev }}\n```\n\n```bash {#wait}\ntouch waiting; while [ ! -f go ]; do sleep 0.02; done\n```\n",
    )
    .unwrap();
    let child = rb_cmd(&dir, &["play", "a"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    crate::play::wait_until("the wait step", || dir.join("waiting").exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(130));
    // Edit `use`: its command changed, so it runs again (and says so).
    let md = std::fs::read_to_string(dir.join("runbooks/a.md")).unwrap().replace("rev={{ rev }}", "rev2={{ rev }}");
    std::fs::write(dir.join("runbooks/a.md"), md).unwrap();
    std::fs::write(dir.join("go"), "").unwrap();
    let o = rb(&dir, &["play", "a", "--resume"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(out.contains("[use] rev2=41"), "{}", text(&o));
    assert!(out.contains("command changed since"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("runs.txt")).unwrap(), "get\nuse\nuse\n");
}

#[test]
fn corrupted_journal_gives_a_way_out() {
    let t = Test::new()
        .runbook("a", "```bash {#x}\necho x >> runs.txt\n```\n\n```bash {#y}\n[ -f go ] || sleep 1000\n```\n");
    let dir = t.path().to_path_buf();
    let mut child = rb_cmd(&dir, &["play", "a"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    crate::play::wait_until("x to run", || dir.join("runs.txt").exists());
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    let run = std::fs::read_dir(dir.join(".runbook/runs")).unwrap().next().unwrap().unwrap().path();
    let jf = run.join("journal.jsonl");
    let good = std::fs::read_to_string(&jf).unwrap();
    // A torn last line (crash mid-write) is fine.
    std::fs::write(&jf, format!("{good}{{\"event\":\"step-st")).unwrap();
    std::fs::write(dir.join("go"), "").unwrap();
    let o = rb(&dir, &["play", "a", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Garbage in the middle: a clear error naming the file and --fresh.
    let mut lines: Vec<String> = std::fs::read_to_string(&jf).unwrap().lines().map(String::from).collect();
    lines.insert(1, "{not json".into());
    lines.retain(|l| !l.contains("run-end"));
    std::fs::write(&jf, lines.join("\n") + "\n").unwrap();
    let o = rb(&dir, &["play", "a", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("journal.jsonl:2") && err.contains("--fresh"), "{err}");
    let o = rb(&dir, &["play", "a", "--fresh"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // `runs` lists the damaged run instead of failing.
    let o = rb(&dir, &["runs"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("corrupt"), "{}", text(&o));
}

#[test]
fn secret_capture_step_runs_again_on_resume() {
    let t = Test::new().runbook(
        "a",
        "```bash {#login read capture=session_token}\necho login >> runs.txt; echo tok-$((123000+456))\n```\n\n```bash {#wait}\ntouch waiting; while [ ! -f go ]; do sleep 0.02; done; echo {{ session_token }} > used.txt\n```\n",
    );
    let dir = t.path().to_path_buf();
    let child = rb_cmd(&dir, &["play", "a"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    crate::play::wait_until("the wait step", || dir.join("waiting").exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    child.wait_with_output().unwrap();
    assert!(!journal(&dir).contains("tok-123456"));
    std::fs::write(dir.join("go"), "").unwrap();
    let o = rb(&dir, &["play", "a", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("holds a secret"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("used.txt")).unwrap(), "tok-123456\n");
}

#[test]
fn a_run_killed_while_rolling_back_finishes_its_rollback_when_resumed() {
    // As without the crash: the rollback goes on (the undo block in flight
    // runs again, after its leftovers are killed); no step runs forward.
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#one rollback=undo-one}
        echo one >> runs.txt
        ```

        ```bash {#boom}
        [ -f go ] || exit 1
        ```

        ```bash {#undo-one undo}
        echo undo >> undo.txt
        if [ ! -f go ]; then
          sleep 20 &
          echo $! > undo.pid
          wait
        fi
        ```
        "#,
    );
    let dir = t.path().to_path_buf();
    // In the middle of the rollback.
    let sleeper = crash_while_running(&dir, "a", "undo.pid");
    std::fs::write(dir.join("go"), "").unwrap();
    // Not without a flag off a terminal.
    let o = rb(&dir, &["play", "a"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(alive(sleeper), "the refusal killed the undo block's process");
    let o = rb(&dir, &["play", "a", "--resume"]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(all.contains("leftover process(es) of step `undo-one`"), "{all}");
    assert!(all.contains("rolled back: undo-one"), "{all}");
    wait_until("the undo block's leftover to die", || !alive(sleeper));
    assert_eq!(std::fs::read_to_string(dir.join("runs.txt")).unwrap(), "one\n", "a step ran again");
    assert_eq!(std::fs::read_to_string(dir.join("undo.txt")).unwrap(), "undo\nundo\n", "the undo in flight ran again");
    // Rolled back: finished for good.
    let o = rb(&dir, &["play", "a", "--resume"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("rolled back") && text(&o).contains("--fresh"), "{}", text(&o));
}

#[test]
fn a_fresh_run_over_a_crashed_one_kills_its_leftovers() {
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#slow}
        sleep 30 &
        echo $! > slow.pid
        wait
        ```
        "#,
    );
    let dir = t.path().to_path_buf();
    let sleeper = crash_while_running(&dir, "a", "slow.pid");
    std::fs::write(dir.join("runbooks/a.md"), "```bash {#quick}\ntrue\n```\n").unwrap();
    let o = rb(&dir, &["play", "a", "--fresh"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("leftover process(es) of step `slow` from the unfinished run"), "{}", text(&o));
    wait_until("the crashed run's leftover to die", || !alive(sleeper));
    // A finished run leaves nothing to kill and says nothing about it.
    let o = rb(&dir, &["play", "a", "--fresh"]);
    assert!(!text(&o).contains("leftover"), "{}", text(&o));
}

#[test]
fn starting_over_kills_only_this_projects_leftovers() {
    // Two checkouts play the same runbook, in the same second: the same run
    // id. Starting over in one must not kill the other's step.
    let md = r#"
        ```bash {#slow}
        sleep 30 &
        echo $! > slow.pid
        wait
        ```
        "#;
    for attempt in 0..5 {
        let (a, b) = (Test::new().runbook("a", md), Test::new().runbook("a", md));
        let mut cb = rb_cmd(b.path(), &["play", "a"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let pa = crash_while_running(a.path(), "a", "slow.pid");
        let pb = written_pid(b.path(), "slow.pid");
        let id =
            |t: &Test| std::fs::read_dir(t.path().join(".runbook/runs")).unwrap().next().unwrap().unwrap().file_name();
        let same = id(&a) == id(&b);
        let o = rb(a.path(), &["play", "a", "--fresh", "--read-only"]);
        assert!(text(&o).contains("leftover process(es) of step `slow`"), "{}", text(&o));
        wait_until("this project's leftover to die", || !alive(pa));
        assert!(alive(pb), "the other project's step was killed (same run id: {same})");
        let _ = cb.kill();
        let _ = cb.wait();
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pb), nix::sys::signal::Signal::SIGKILL);
        if same {
            return;
        }
        eprintln!("attempt {attempt}: the two runs started in different seconds; again");
    }
    panic!("never got two runs with the same id");
}

#[test]
fn resume_over_a_failed_run_continues_it_and_over_a_passed_one_refuses() {
    // One incident, one run: `--resume` after a failure offers the failed
    // step again (`--yes` answers), never the steps that passed.
    let t = Test::new().runbook(
        "a",
        "```bash {#one}\necho one >> runs.txt\n```\n\n```bash {#two}\necho two >> runs.txt; [ -f fixed ] || exit 4\n```\n",
    );
    let dir = t.path();
    assert_eq!(rb(dir, &["play", "a", "--yes"]).status.code(), Some(1));
    // Off a terminal without --yes: the question cannot be asked.
    let o = rb(dir, &["play", "a", "--resume"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("--yes") && text(&o).contains("--from"), "{}", text(&o));
    std::fs::write(dir.join("fixed"), "").unwrap();
    let o = rb(dir, &["play", "a", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("session 3"), "{}", text(&o));
    assert_eq!(counts(dir).get("one"), Some(&1), "a passed step ran again");
    assert_eq!(counts(dir).get("two"), Some(&2));
    // One run: one journal, one report over both sessions.
    assert_eq!(std::fs::read_dir(dir.join(".runbook/runs")).unwrap().count(), 1);
    let report = text(&rb(dir, &["report", "latest"]));
    assert!(report.contains("| Continued |") && report.contains("| retry | **yes** | `--yes` |"), "{report}");
    // A passed run is finished: nothing to resume, and no step runs again.
    let o = rb(dir, &["play", "a", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nothing to resume"), "{err}");
    assert!(err.contains("runbook play a --env devnet --fresh`"), "{err}");
    assert_eq!(counts(dir).get("one"), Some(&1), "nothing ran again");
    // Without any earlier run, `--resume` refuses too: nothing runs.
    let t = Test::new().runbook("b", "```bash {#one}\necho one >> runs.txt\n```\n");
    let o = rb(t.path(), &["play", "b", "--resume"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("there is nothing to resume"), "{}", text(&o));
    assert!(!t.path().join("runs.txt").exists(), "a step ran");
}

#[test]
fn a_resume_never_combines_only_and_from() {
    let md = "```bash {#a}\necho a\n```\n\n```bash {#b}\ntest -f fixed\necho b >> runs.txt\n```\n\n```bash {#d}\necho d\n```\n";
    let t = Test::new().runbook("fo", md);
    let dir = t.path();
    let o = rb(dir, &["play", "fo", "--only", "b", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    std::fs::write(dir.join("fixed"), "").unwrap();
    let o = rb(dir, &["play", "fo", "--resume", "--from", "d", "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("error: --resume --from d: the run was started with --only b, and the two cannot be combined\n"),
        "{err}"
    );
    assert!(err.contains("`runbook play fo --env devnet --resume`"), "{err}");
    assert_eq!(counts(dir).get("b"), None);
    // As it was started, the resume runs the one step chosen.
    let o = rb(dir, &["play", "fo", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(counts(dir).get("b"), Some(&1));
}

#[test]
fn a_resume_kills_the_old_in_flight_process_even_with_its_environment_reset() {
    // `env -i` (as sudo's env_reset) drops RUNBOOK_*: the recorded process
    // group still finds it, so the step never runs twice at once. The old
    // copy waits until it is killed; the resumed one finds `resumed`.
    let t = Test::new().runbook(
        "a",
        "```bash {#restart timeout=30s}\nenv -i /bin/bash -c 'echo \"begin $$\" >> log; echo $$ > inner.pid; [ -e resumed ] || sleep 1000; echo \"done $$\" >> log'\n```\n",
    );
    let dir = t.path();
    let old = crash_while_running(dir, "a", "inner.pid");
    std::fs::remove_file(dir.join("inner.pid")).unwrap();
    std::fs::write(dir.join("resumed"), "").unwrap();
    let o = rb(dir, &["play", "a", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!alive(old), "the old process was killed");
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert!(!log.contains(&format!("done {old}")), "the old copy ran on:\n{log}");
    assert_eq!(log.matches("done").count(), 1, "{log}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("leftover process"), "{}", text(&o));
}

/// The engine killed after a warm step's process started but before its
/// process group reached the journal: that process has run nothing (its body
/// comes after the record), so the resume, which cannot know it, runs the
/// step once and never beside a copy of itself.
#[test]
fn a_warm_step_started_but_not_yet_recorded_has_run_nothing_when_the_engine_dies() {
    // `b` runs in the interpreter warmed while `a` ran.
    let md = "```bash {#a}\necho a >> log\n```\n\n```bash {#b}\necho b >> log\n```\n";
    let t = Test::new().runbook("r", md);
    let dir = t.path();
    let o = rb_cmd(dir, &["play", "r"]).env("RUNBOOK_FAULT", "kill-before-spawned:b").output().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&o.status), Some(9), "{}", text(&o));
    // Its interpreter, left waiting for a body, reads none and exits.
    let start = std::time::Instant::now();
    while processes_in(dir) > 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "the step's interpreter never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    assert_eq!(log, "a\n", "the unrecorded process ran the step");
    let o = rb(dir, &["play", "r", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("log")).unwrap(), "a\nb\n");
}

/// The same for a cold start (no warm interpreters), whose body is in a
/// memfd before the spawn: the engine killed after the step's process
/// started but before its process group reached the journal. The step resets
/// its environment (`env -i`, as sudo does), so neither the journal nor
/// `RUNBOOK_*` could lead the resume to it: it must have run nothing, and the
/// resume runs it once.
#[test]
fn a_cold_step_started_but_not_yet_recorded_has_run_nothing_when_the_engine_dies() {
    let md = "```bash {#a}\necho a >> log\n```\n\n```bash {#b}\nenv -i /bin/bash -c 'echo \"begin $$\" >> log; echo $$ > inner.pid; sleep 1; echo \"done $$\" >> log'\n```\n";
    let t = Test::new().runbook("r", md);
    let dir = t.path();
    let o = rb_cmd(dir, &["play", "r"])
        .env("RUNBOOK_WARM", "0")
        .env("RUNBOOK_FAULT", "kill-before-spawned:b")
        .output()
        .unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&o.status), Some(9), "{}", text(&o));
    // Either the step's process ends having run nothing, or (the defect) it
    // runs the body: wait for one or the other, never for a time.
    let start = std::time::Instant::now();
    let ran = || std::fs::read_to_string(dir.join("inner.pid")).is_ok_and(|s| s.ends_with('\n'));
    while processes_in(dir) > 0 && !ran() {
        assert!(start.elapsed() < Duration::from_secs(30), "the step's process neither ran nor ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    let old = std::fs::read_to_string(dir.join("inner.pid")).ok();
    let o = rb_cmd(dir, &["play", "r", "--resume"]).env("RUNBOOK_WARM", "0").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    if let Some(pid) = old.as_deref().and_then(|p| p.trim().parse().ok()) {
        wait_until("the unrecorded copy to end", || !alive(pid));
    }
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    let lines: Vec<&str> = log.lines().map(|l| l.split(' ').next().unwrap_or_default()).collect();
    assert_eq!(lines, ["a", "begin", "done"], "the unrecorded process ran the step:\n{log}");
}

/// Processes whose working directory is `dir`.
pub fn processes_in(dir: &std::path::Path) -> usize {
    let dir = std::fs::canonicalize(dir).unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c == dir))
        .count()
}

/// The session note says up front which steps that passed before run again
/// and why, as the step loop then decides: a step it says is not run again
/// does not run, and one that runs is named with its reason.
#[test]
fn the_session_note_says_which_passed_steps_run_again_and_why() {
    let md = "```bash {#a}\necho a >> runs.txt\n```\n\n```bash {#b}\necho b >> runs.txt\n```\n\n```bash {#c}\n[ -f fixed ] || exit 4\n```\n";
    let t = Test::new().runbook("r", md);
    let dir = t.path();
    assert_eq!(rb(dir, &["play", "r", "--yes"]).status.code(), Some(1));
    std::fs::write(dir.join("runbooks/r.md"), md.replace("echo a >>", "echo a2 >>")).unwrap();
    std::fs::write(dir.join("fixed"), "").unwrap();
    let o = rb(dir, &["play", "r", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let run = out.split("(run ").nth(1).and_then(|r| r.split(',').next()).unwrap_or_else(|| panic!("{out}"));
    let notes: Vec<&str> = out.lines().filter(|l| l.starts_with("note")).collect();
    assert_eq!(
        notes,
        [
            "note: the runbook changed since this run started: steps whose command changed run again".to_string(),
            format!("note: session 2 of run {run}; passed before, not run again: b; run again (command changed): a"),
            "note [a]: passed in an earlier session, but its command changed since: running it again".to_string(),
        ],
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(dir.join("runs.txt")).unwrap(), "a\nb\na2\n");
}

/// A step that prints a line and waits the first time it runs, and prints
/// another and passes when run again: what a resume re-runs after `kill -9`.
pub const RERUN: &str = "```bash {#fix}\nif [ -f started ]; then echo second run; else touch started; echo first run; echo $$ > fix.pid; sleep 1000; fi\n```\n";

/// The directory of the project's run, once there is one (not one being
/// created, `.new-…`).
fn only_run(dir: &Path) -> Option<std::path::PathBuf> {
    let rd = std::fs::read_dir(dir.join(".runbook/runs")).ok()?;
    rd.filter_map(|e| e.ok()).find(|e| !e.file_name().to_string_lossy().starts_with('.')).map(|e| e.path())
}

/// The `## Steps` section of a report, with its times, durations and
/// operator made stable.
pub fn steps_section(report: &str, operator: &str) -> String {
    let steps = &report[report.find("## Steps").expect(report)..];
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC").unwrap();
    let dur = regex::Regex::new(r"exit 0 · [0-9.]+(ms|s)").unwrap();
    let s = time.replace_all(steps, "T");
    dur.replace_all(&s, "exit 0 · D").replace(operator, "OP")
}

/// What the report says of a step killed with its engine, then re-run by
/// the resume: each run apart, in order, with its own output.
pub const RERUN_STEPS: &str = "## Steps

### T `fix` — interrupted

attempt 1 (session 1, OP) · in flight when the engine stopped (no end recorded)

```bash
if [ -f started ]; then echo second run; else touch started; echo first run; echo $$ > fix.pid; sleep 1000; fi
```

Output (last lines):

```text
first run
```

### T `fix` — passed

attempt 2 (session 2, OP) · exit 0 · D

```bash
if [ -f started ]; then echo second run; else touch started; echo first run; echo $$ > fix.pid; sleep 1000; fi
```

Output (last lines):

```text
second run
```
";

/// The step's whole log as `serve` gives it: each run opened by its label.
pub fn rerun_log(operator: &str) -> String {
    format!(
        "=== attempt 1 (session 1, {operator}): killed: the engine stopped (no end recorded) ===\nfirst run\n\
         === attempt 2 (session 2, {operator}): passed ===\nsecond run\n"
    )
}

/// Runbook `k` (`md`) played, its engine killed once step `fix` logged
/// `first run`, then resumed to the end.
fn killed_at_its_first_line_then_resumed(md: &str) -> Test {
    let t = Test::new().runbook("k", md);
    let dir = t.path();
    let mut child = rb_cmd(dir, &["play", "k"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_until("the first run's line in the log", || {
        only_run(dir).is_some_and(|r| std::fs::read_to_string(r.join("fix.log")).is_ok_and(|l| l == "first run\n"))
    });
    let _ = child.kill();
    let _ = child.wait();
    let o = rb(dir, &["play", "k", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    t
}

#[test]
fn a_step_killed_with_its_engine_and_rerun_by_the_resume_shows_each_run_apart() {
    let t = killed_at_its_first_line_then_resumed(RERUN);
    let dir = t.path();
    let run = || only_run(dir).unwrap();
    assert_eq!(std::fs::read_to_string(run().join("fix.log")).unwrap(), "first run\nsecond run\n");
    // The journal says where each run's output begins.
    let starts: Vec<u64> = journal(dir)
        .lines()
        .filter(|l| l.contains("\"step-start\""))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["log_from"].as_u64().unwrap())
        .collect();
    assert_eq!(starts, [0, 10]);
    let json: serde_json::Value =
        serde_json::from_slice(&rb(dir, &["report", "latest", "--format", "json"]).stdout).unwrap();
    let operator = json["operator"].as_str().unwrap().to_string();
    let md = String::from_utf8(rb(dir, &["report", "latest"]).stdout).unwrap();
    assert_eq!(steps_section(&md, &operator), RERUN_STEPS, "{md}");
    let timeline: Vec<(u64, String)> = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["attempt"].as_u64().unwrap(), e["tail"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(timeline, [(1, "first run".to_string()), (2, "second run".to_string())]);
    // And by the live view.
    let view = crate::serve::Serve::start(dir, &[], &[]);
    let id = run().file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(crate::serve::get_ok(&format!("{}/api/runs/{id}/log/fix", view.url)), rerun_log(&operator));
    let page = crate::serve::get_ok(&format!("{}/runs/{id}", view.url));
    assert!(page.contains("=== attempt 1 (session 1, "), "{page}");
}

#[test]
fn the_retries_of_a_rerun_stay_in_its_part_of_the_log_each_opened_by_its_line() {
    let md = "```bash {#fix retry=1 delay=10ms}\nif [ ! -f started ]; then touch started; echo first run; sleep 1000; elif [ ! -f tried ]; then touch tried; echo try one; exit 1; else echo try two; fi\n```\n";
    let t = killed_at_its_first_line_then_resumed(md);
    let dir = t.path();
    let run = || only_run(dir).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&rb(dir, &["report", "latest", "--format", "json"]).stdout).unwrap();
    let operator = json["operator"].as_str().unwrap();
    let view = crate::serve::Serve::start(dir, &[], &[]);
    let id = run().file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(
        crate::serve::get_ok(&format!("{}/api/runs/{id}/log/fix", view.url)),
        format!(
            "=== attempt 1 (session 1, {operator}): killed: the engine stopped (no end recorded) ===\nfirst run\n\
             === attempt 2 (session 2, {operator}): passed ===\ntry one\n--- attempt 2 of 2 ---\ntry two\n"
        )
    );
}

/// The engine died once the play had decided to end failed (the failing
/// step's end written, not the run's): the first `--resume` continues the
/// failed run as it would have had the engine lived, offering the failed
/// step again, instead of ending at once and saying it is offered again.
#[test]
fn a_resume_of_a_failed_run_whose_end_was_not_written_offers_the_failed_step_again() {
    let md = "```bash {#a}\necho a >> runs.txt\n```\n\n```bash {#b}\necho b >> runs.txt; [ -f fixed ] || exit 1\n```\n";
    let t = Test::new().runbook("s", md);
    let dir = t.path();
    assert_eq!(rb(dir, &["play", "s", "--yes"]).status.code(), Some(1));
    let run = std::fs::read_dir(dir.join(".runbook/runs")).unwrap().next().unwrap().unwrap().path();
    let path = run.join("journal.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&path).unwrap().lines().map(String::from).collect();
    assert!(lines.last().unwrap().contains(r#""event":"run-end""#), "{lines:?}");
    std::fs::write(&path, format!("{}\n", lines[..lines.len() - 1].join("\n"))).unwrap();
    std::fs::write(dir.join("fixed"), "").unwrap();
    let o = rb(dir, &["play", "s", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("continuing the failed run of s"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("<== b: passed (")), "{out}");
    assert_eq!(std::fs::read_to_string(dir.join("runs.txt")).unwrap(), "a\nb\nb\n");
    let report = text(&rb(dir, &["report", "latest"]));
    assert!(report.contains("| retry | **yes** | `--yes` |"), "{report}");
}

/// `--resume --from c` past a failed step: the closing line, `runs` and the
/// report count the same steps the same way (the step the mode left out
/// apart, never as skipped), and the report says which session played in
/// which mode: the run was not played `--from c` from its start.
#[test]
fn a_resume_from_past_a_failed_step_is_counted_alike_everywhere_with_each_sessions_mode() {
    let md = "```bash {#a}\necho a\n```\n\n```bash {#b}\n[ -f fixed ] || exit 3\n```\n\n```bash {#c}\necho c\n```\n";
    let t = Test::new().runbook("s", md);
    let dir = t.path();
    assert_eq!(rb(dir, &["play", "s", "--yes"]).status.code(), Some(1));
    let o = rb(dir, &["play", "s", "--resume", "--from", "c", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("play passed: 2 passed, 1 left out (run "), "{out}");
    let stdout = |args: &[&str]| String::from_utf8(rb(dir, args).stdout).unwrap();
    let runs: serde_json::Value = serde_json::from_str(&stdout(&["runs", "--json"])).unwrap();
    assert_eq!((&runs[0]["passed"], &runs[0]["failed"], &runs[0]["steps"]), (&2.into(), &0.into(), &2.into()));
    let md = text(&rb(dir, &["report", "latest"]));
    assert!(md.contains("| Mode | session 1: every step; session 2: `--from c` |\n"), "{md}");
    assert!(md.contains("\n- 2 passed, 0 failed, 0 skipped, 0 not run\n- 1 left out: `b` (before --from c)\n"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&["report", "latest", "--format", "json"])).unwrap();
    let modes: Vec<&serde_json::Value> = json["sessions"].as_array().unwrap().iter().map(|s| &s["mode"]).collect();
    assert_eq!(modes, [&serde_json::json!([]), &serde_json::json!(["--from c"])]);
}

/// The continuation of a failed run offers every failed step again, one
/// the play went on past (`on-fail=continue`) too, and its hint names them
/// all, in the runbook's order.
#[test]
fn the_continue_hint_names_every_step_offered_again() {
    let md = "# C\n\n```bash {#notify on-fail=continue}\nexit 1\n```\n\n```bash {#work}\nexit 2\n```\n";
    let t = Test::new().runbook("c", md).args(["play", "c", "--yes"]).status(1);
    t.stdout_has("continue this run: `notify`, `work` are offered again\n").run();
}

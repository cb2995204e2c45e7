//! What the engine does when things go wrong around it (issue "Hardening"):
//! a panic, a hangup, a damaged journal, a restart right after `kill -9`.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use crate::common::*;
use crate::play::{alive, crash_while_running, journal, rb, rb_cmd, text, wait_until, written_pid};

const TWO: &str = "```bash {#a}\necho a >> runs.txt\n```\n\n```bash {#b}\necho b >> runs.txt\n```\n";

#[test]
fn a_panic_in_a_steps_task_fails_the_run_and_it_resumes() {
    let t = Test::new().runbook("p", TWO);
    let dir = t.path();
    let o = rb_cmd(dir, &["play", "p"]).env("RUNBOOK_FAULT", "step-panic:a").output().unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "a panic is never a pass: {out}");
    assert!(out.contains("internal error of the engine"), "{out}");
    let runs = text(&rb(dir, &["runs"]));
    assert!(runs.contains("failed*"), "recorded failed, resumable: {runs}");
    let o = rb(dir, &["play", "p", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("runs.txt")).unwrap(), "a\nb\n");
}

#[test]
fn a_panic_of_the_loop_kills_what_runs_and_fails_the_run() {
    // `boom` starts once `bg` is running (`wait` waits for its pid).
    let md = "```bash {#bg needs=}\necho $$ > bg.pid\nsleep 1000\n```\n\n```bash {#wait needs=}\nwhile [ ! -f bg.pid ]; do sleep 0.01; done\n```\n\n```bash {#boom}\ntrue\n```\n";
    let t = Test::new().runbook("p", md);
    let dir = t.path();
    let child = rb_cmd(dir, &["play", "p"])
        .env("RUNBOOK_FAULT", "loop-panic:boom")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let pid = written_pid(dir, "bg.pid");
    wait_until("the running step to be killed", || !alive(pid));
    let j = journal(dir);
    assert!(j.contains("\"event\":\"run-end\",\"status\":\"failed\""), "{j}");
    assert!(j.contains("internal error of the engine"), "{j}");
}

#[test]
fn sighup_stops_the_play_kills_every_process_of_the_step_and_it_resumes() {
    // An SSH disconnect: the step's `&`, `nohup` and TERM-deaf children go too.
    let md = r#"
        ```bash {#work}
        echo work >> runs.txt
        sleep 1000 &
        echo $! > bg.pid
        nohup sleep 1000 >/dev/null 2>&1 &
        echo $! > nohup.pid
        bash -c "trap '' TERM; sleep 1000" &
        echo $! > deaf.pid
        ( sleep 1000 & echo $! > double.pid ) &
        while [ ! -f go ]; do sleep 0.02; done
        ```

        ```bash {#after}
        echo after >> runs.txt
        ```
        "#;
    let t = Test::new().runbook("h", md);
    let dir = t.path();
    let child = rb_cmd(dir, &["play", "h"]).env("RUNBOOK_GRACE", "300ms").stdout(Stdio::piped()).spawn().unwrap();
    let pids: Vec<i32> =
        ["bg.pid", "nohup.pid", "deaf.pid", "double.pid"].iter().map(|f| written_pid(dir, f)).collect();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGHUP).unwrap();
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(130), "{out}");
    assert!(out.contains("interrupted by SIGHUP") && out.contains("--resume"), "{out}");
    for p in pids {
        wait_until("every process of the step to die", || !alive(p));
    }
    assert!(journal(dir).contains("\"status\":\"interrupted\""));
    std::fs::write(dir.join("go"), "").unwrap();
    let o = rb(dir, &["play", "h", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("runs.txt")).unwrap(), "work\nwork\nafter\n");
}

const SLOW: &str = r#"
```bash {#first}
echo first >> runs.txt
```

```bash {#slow}
echo slow >> runs.txt
if [ ! -f go ]; then
  sleep 1000 &
  echo $! > slow.pid
  wait
fi
```
"#;

#[test]
fn a_damaged_journal_is_never_started_over_by_a_resume() {
    for damage in ["line 1", "empty", "deleted"] {
        let t = Test::new().runbook("d", SLOW);
        let dir = t.path();
        let sleeper = crash_while_running(dir, "d", "slow.pid");
        let run = std::fs::read_dir(dir.join(".runbook/runs")).unwrap().next().unwrap().unwrap().path();
        let jf = run.join("journal.jsonl");
        match damage {
            "line 1" => {
                let good = std::fs::read_to_string(&jf).unwrap();
                std::fs::write(&jf, format!("{{garbage\n{}", good.split_once('\n').unwrap().1)).unwrap();
            }
            "empty" => std::fs::write(&jf, "").unwrap(),
            _ => std::fs::remove_file(&jf).unwrap(),
        }
        let o = rb(dir, &["play", "d", "--resume"]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{damage}: {out}");
        assert!(out.contains("journal.jsonl:1") && out.contains("--fresh"), "{damage}: {out}");
        assert_eq!(std::fs::read_to_string(dir.join("runs.txt")).unwrap(), "first\nslow\n", "{damage}: a step ran");
        assert!(alive(sleeper), "{damage}: the refusal killed nothing");
        // A new run first kills what is left of the damaged one.
        std::fs::write(dir.join("go"), "").unwrap();
        let o = rb(dir, &["play", "d", "--fresh"]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{damage}: {out}");
        wait_until("the damaged run's leftover to die", || !alive(sleeper));
        assert!(out.contains("leftover process(es) of the damaged run"), "{damage}: {out}");
    }
}

#[test]
fn a_restart_right_after_kill_9_waits_for_the_dead_holders_lock() {
    // The cause, proven: between a child's `clone` and its `execve` it shares
    // the engine's descriptors, the play's lock included (close-on-exec only
    // acts at the exec). A fault holds that window open for a second; the
    // engine is killed in it. Without waiting, the restart is refused by a
    // dead holder; with the wait, it takes the lock once the child exec'd.
    // The window is long enough for a loaded machine to start the restart
    // in it.
    let t = Test::new().runbook("k", "```bash {#s}\ntrue\n```\n");
    let dir = t.path();
    let mut child = rb_cmd(dir, &["play", "k", "--fresh"])
        .env("RUNBOOK_FAULT", "spawn-pause:5000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let engine = child.id();
    // The engine's child, paused before its exec: past the gate (a child
    // still waiting there exits when the engine dies, letting the lock go).
    let paused = |c: u32| std::fs::read_to_string(format!("/proc/{c}/wchan")).is_ok_and(|w| w.contains("nanosleep"));
    wait_until("the paused child", || children(engine).any(paused));
    let _ = child.kill();
    let _ = child.wait();
    let o = rb_cmd(dir, &["play", "k", "--fresh"]).env("RUNBOOK_LOCK_SETTLE", "0").output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("no longer running; a process it started still holds the lock"), "{}", text(&o));
    let o = rb_cmd(dir, &["play", "k", "--fresh"]).env("RUNBOOK_LOCK_SETTLE", "30000").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// The children of `pid`.
fn children(pid: u32) -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()).filter_map(move |e| {
        let child: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let ppid: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == pid).then_some(child)
    })
}

#[test]
fn a_step_named_runbook_has_a_log_of_its_own_output_only() {
    let md = "```bash {#runbook}\necho step output\n```\n";
    let t = Test::new().runbook("s", md).env("RUNBOOK_LOG", "info").args(["play", "s"]).run();
    let runs = t.path().join(".runbook/runs");
    let run = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::read_to_string(run.join("runbook.log")).unwrap(), "step output\n");
    let engine = std::fs::read_to_string(run.join("_engine.log")).unwrap();
    assert!(engine.contains("INFO") && !engine.contains("step output"), "{engine}");
}

#[test]
fn the_state_directory_is_the_operators_alone() {
    let t = Test::new().runbook("s", TWO).args(["play", "s"]).run();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let state = t.path().join(".runbook");
    let run = std::fs::read_dir(state.join("runs")).unwrap().next().unwrap().unwrap().path();
    for d in [&state.join("runs"), &run, &state.join("locks")] {
        assert_eq!(mode(d), 0o700, "{}", d.display());
    }
    for f in ["journal.jsonl", "a.log", "_engine.log"] {
        assert_eq!(mode(&run.join(f)), 0o600, "{f}");
    }
    let lock = std::fs::read_dir(state.join("locks")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(mode(&lock), 0o600);
}

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
fn a_restart_right_after_kill_9_is_never_refused_by_the_dead_holders_lock() {
    // Between a vfork'd child's clone and its exec, it shares the engine's
    // descriptors, lock included: after `kill -9` of the engine such a child
    // holds the lock for microseconds. The restart waits for it.
    let mut md = String::new();
    for i in 0..60 {
        md.push_str(&format!("```bash {{#s{i}}}\ntrue\n```\n\n"));
    }
    let t = Test::new().runbook("k", &md);
    let dir = t.path();
    for n in 0..40 {
        let mut child =
            rb_cmd(dir, &["play", "k", "--fresh"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20 + (n % 7) * 7));
        let _ = child.kill();
        let _ = child.wait();
        let o = rb(dir, &["play", "k", "--fresh", "--only", "s0"]);
        assert_ne!(o.status.code(), Some(3), "restart {n} refused: {}", text(&o));
    }
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
    for f in ["journal.jsonl", "a.log", "runbook.log"] {
        assert_eq!(mode(&run.join(f)), 0o600, "{f}");
    }
    let lock = std::fs::read_dir(state.join("locks")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(mode(&lock), 0o600);
}

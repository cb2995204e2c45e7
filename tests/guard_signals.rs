//! A signal while the env guard runs: its process group is terminated and
//! the play ends interrupted (exit 130, resumable), not refused.

use crate::common::*;
use crate::play::{alive, journal, rb, rb_cmd, text, written_pid};

const CONFIG: &str = r#"runbooks = "runbooks"
[env.prod]
confirm = "write"
guard = { run = "if [ -f go ]; then echo prod-1; else sleep 1061 & echo $! > guard.pid; wait; fi", expect = "^prod-" }
"#;

const RUNBOOK: &str = r#"
```bash {#look read}
echo looked >> runs.txt
```

```bash {#change}
echo changed >> runs.txt
```
"#;

fn signal_during_the_guard(sig: nix::sys::signal::Signal) {
    let t = Test::new().config(CONFIG).runbook("g", RUNBOOK);
    let dir = t.path().to_path_buf();
    let child = rb_cmd(&dir, &["play", "g", "--env", "prod", "--fresh", "--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guard = written_pid(&dir, "guard.pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(!alive(guard), "the guard's process outlived the play");
    let j = journal(&dir);
    let why = format!("interrupted by {} while the guard of env `prod` ran", sig.as_str());
    assert!(j.contains(&why), "{j}");
    assert!(j.contains(r#""kind":"interrupted""#), "{j}");
    assert_eq!(std::fs::read_to_string(dir.join("runs.txt")).unwrap(), "looked\n");
    // Resumable: the resume runs the guard again, then the write step.
    std::fs::write(dir.join("go"), "").unwrap();
    let o = rb(&dir, &["play", "g", "--env", "prod", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(dir.join("runs.txt")).unwrap(), "looked\nchanged\n");
}

#[test]
fn sigint_while_the_guard_runs_interrupts_the_play() {
    signal_during_the_guard(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn sigterm_while_the_guard_runs_interrupts_the_play() {
    signal_during_the_guard(nix::sys::signal::Signal::SIGTERM);
}

#[test]
fn the_guard_times_out_after_runbook_guard_timeout() {
    let t = Test::new().config(CONFIG).runbook("g", RUNBOOK);
    let dir = t.path().to_path_buf();
    let o = rb_cmd(&dir, &["play", "g", "--env", "prod", "--fresh", "--yes"])
        .env("RUNBOOK_GUARD_TIMEOUT", "300ms")
        .env("RUNBOOK_GRACE", "100ms")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("failed (timed out after 300ms): refusing to run write steps"),
        "{}",
        text(&o)
    );
    let guard = written_pid(&dir, "guard.pid");
    assert!(!alive(guard), "the guard's process outlived the play");
}

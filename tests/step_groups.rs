//! Nothing a step started outlives its timeout or an interrupt, not even a
//! command that put itself in a process group of its own (GNU `timeout`,
//! `set -m` job control): the engine ends every process that carries the
//! step's markers (`RUNBOOK_RUN_DIR`, `RUNBOOK_STEP`) in its session.

use std::path::Path;
use std::process::Stdio;

use crate::common::*;
use crate::play::{alive, journal, rb_cmd, text, written_pid};

/// The running processes whose environment names the run directory of a
/// run under `dir` (what the step started, wherever it went).
fn marked(dir: &Path) -> Vec<u32> {
    let want = format!("RUNBOOK_RUN_DIR={}", dir.canonicalize().unwrap().display());
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(env) = std::fs::read(e.path().join("environ")) else { continue };
        let env = String::from_utf8_lossy(&env);
        if env.split('\0').any(|kv| kv.starts_with(&want)) && alive(pid as i32) {
            found.push(pid);
        }
    }
    found
}

fn play(dir: &Path) -> std::process::Child {
    rb_cmd(dir, &["play", "s"])
        .env("RUNBOOK_GRACE", "200ms")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A step running `inner` (which writes `inner.pid` once it runs), with
/// `attrs`.
fn project(attrs: &str, inner: &str) -> Test {
    let md = format!(
        "```bash {{#follow read{attrs}}}\necho following\n{inner}\nwhile [ ! -f inner.pid ]; do sleep 0.01; done\nwait\n```\n"
    );
    Test::new().file("runbooks/s.md", &md)
}

fn ends_with_the_play(dir: &Path, inner: i32, out: std::process::Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    assert!(!alive(inner), "the step's process {inner} outlived the play:\n{}", text(&out));
    assert_eq!(marked(dir), Vec::<u32>::new(), "processes of the step outlived the play");
    let j = journal(dir);
    assert!(j.contains("terminated processes the step had started in process groups of their own"), "{j}");
}

#[test]
fn gnu_timeout_inside_a_step_ends_with_the_step_timeout() {
    let t = project(" timeout=2s", "timeout 1000 sh -c 'echo $$ > inner.pid; exec sleep 104401' &");
    let dir = t.path().to_path_buf();
    let child = play(&dir);
    let inner = written_pid(&dir, "inner.pid");
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("timed out after 2s"), "{}", text(&out));
    ends_with_the_play(&dir, inner, out, 1);
}

#[test]
fn gnu_timeout_inside_a_step_ends_with_sigint_off_a_terminal() {
    let t = project("", "timeout 1000 sh -c 'echo $$ > inner.pid; exec sleep 104402' &");
    let dir = t.path().to_path_buf();
    let child = play(&dir);
    let inner = written_pid(&dir, "inner.pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    ends_with_the_play(&dir, inner, child.wait_with_output().unwrap(), 130);
}

#[test]
fn a_job_control_group_inside_a_step_ends_with_sigint_off_a_terminal() {
    let t = project("", "set -m\nsh -c 'echo $$ > inner.pid; exec sleep 104403' &");
    let dir = t.path().to_path_buf();
    let child = play(&dir);
    let inner = written_pid(&dir, "inner.pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    ends_with_the_play(&dir, inner, child.wait_with_output().unwrap(), 130);
}

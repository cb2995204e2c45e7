//! The local store's lock, as other commands meet it: `--take-over` of a
//! live engine of this machine (refused, naming its pid), `runs --prune`,
//! which looks at every lock and must never take one (a play starting at
//! that moment would be refused), and a play holding it until its step
//! logs are written (a later session's output never lands before them).
//!
//! The checkouts and helpers are tests/postgres.rs's, with a directory as
//! their state.

use std::process::Command;

use crate::postgres::{Bg, Checkout, Shared, code, count, exit_of, text, wait_for};

#[test]
fn take_over_of_a_live_local_engine_is_refused_naming_its_pid_and_takes_nothing() {
    let sh = Shared::new();
    let c = Checkout::new(".runbook", &[("gated", &sh.runbook())]);
    let mut first = Bg(c.spawn(&["play", "gated"], "first"));
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    let pid = first.0.id();
    for args in [&["play", "gated", "--take-over"][..], &["play", "gated", "--take-over", "--yes"]] {
        let o = c.run(args);
        assert_eq!(code(&o), 3, "{args:?}: {}", text(&o));
        let t = text(&o);
        let lock = c.path().join(".runbook/locks/gated@local.lock");
        assert_eq!(
            t.lines().next().unwrap_or_default().split(" is held by ").next().unwrap_or_default(),
            format!("--take-over is for a shared store (state = \"postgres://…\"): lock {}", lock.display()),
            "{t}"
        );
        for part in [
            format!("(pid {pid}, since "),
            "an engine that still runs on this machine".to_string(),
            format!(
                "stop it (`kill {pid}`: its run stays resumable), then continue the run with `runbook play gated --resume`"
            ),
        ] {
            assert!(t.contains(&part), "the refusal says {part}: {t}");
        }
        assert!(!t.contains("--yes"), "nothing to confirm: {t}");
    }
    // The first engine was left alone: it finishes its run.
    sh.open();
    assert!(exit_of(&mut first.0).success(), "{}", c.output_of("first"));
    assert_eq!(count(&sh.log(), "s3"), 1);
    assert_eq!(kinds(&c), ["run-start"], "no session of the refused take-overs");
}

/// A play lets go of its lock only once its step logs are written: the
/// next session of the run starts after the last byte of the previous
/// one's output, so its output is its own part of the log (the shared store
/// needs a fence for that, docs/decisions.md).
#[test]
fn a_play_holds_its_lock_until_its_step_logs_are_written() {
    let c = Checkout::new(".runbook", &[("r", "```bash {#a}\necho first\n```\n")]);
    let gate = c.path().join("logs-gate");
    let fault = format!("logs-stop-wait-for:{}", gate.display());
    let mut first = Bg(c.spawn_with(&["play", "r"], "first", &[("RUNBOOK_FAULT", &fault)]));
    // Its play is ending: its log writer is told to stop, and waits.
    wait_for("the log writer's last writes", || gate.with_extension("reached").exists());
    let o = c.run(&["play", "r", "--fresh"]);
    assert_eq!(code(&o), 3, "the lock is still held: {}", text(&o));
    std::fs::write(&gate, "").unwrap();
    assert!(exit_of(&mut first.0).success(), "{}", c.output_of("first"));
    let runs = std::fs::read_dir(c.path().join(".runbook/runs")).unwrap().flatten().count();
    assert_eq!(runs, 1, "no second run");
}

/// `runs --prune` in a process whose `flock(2)` always fails: it cannot
/// take a lock, not even for the instant of a look, and still spares the run
/// being played (it reads the kernel's list of locks).
#[test]
fn runs_prune_never_takes_a_lock_it_looks_at() {
    let sh = Shared::new();
    let c = Checkout::new(".runbook", &[("gated", &sh.runbook())]);
    let (mut playing, old, new) = sh.a_run_then_one_playing(&c);
    let mut prune = c.cmd(&["runs", "--prune", "--keep", "0"]);
    without_flock(&mut prune);
    let o = prune.output().unwrap();
    sh.open();
    assert!(exit_of(&mut playing.0).success(), "{}", c.output_of("playing"));
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!(
            "removed 1 run(s) from {}\n  {old}\nkept 1 run(s) being played:\n  {new}\n",
            c.path().join(".runbook").display()
        )
    );
}

/// The session kinds of the latest run's journal, in order.
fn kinds(c: &Checkout) -> Vec<String> {
    let runs = c.path().join(".runbook/runs");
    let mut ids: Vec<_> = std::fs::read_dir(&runs).unwrap().map(|e| e.unwrap().file_name()).collect();
    ids.sort();
    let journal = std::fs::read_to_string(runs.join(ids.last().unwrap()).join("journal.jsonl")).unwrap();
    journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|e| match e["event"].as_str() {
            Some("run-start") => Some("run-start".to_string()),
            Some("session") => Some(e["kind"].as_str().unwrap_or_default().to_string()),
            _ => None,
        })
        .collect()
}

/// Run `cmd` with `flock(2)` failing (EPERM) whatever it locks: a seccomp
/// filter installed between fork and exec. (The binary under test makes
/// native system calls only, so the filter needs no architecture check.)
fn without_flock(cmd: &mut Command) {
    use nix::libc;
    use std::os::unix::process::CommandExt;
    let op = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter { code: code as u16, jt, jf, k };
    let filter = [
        op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0), // the system call's number
        op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, libc::SYS_flock as u32),
        op(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        op(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    // SAFETY: only `prctl`, async-signal-safe, between fork and exec; the
    // filter outlives the call (the kernel copies it).
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut libc::sock_filter };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog as *const libc::sock_fprog) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// An engine killed between creating a run (`runs/.new-PID-N`, holding its
/// first event) and renaming it into place leaves the directory: `runs
/// --prune` removes it once its engine is gone and it was left alone for an
/// hour (one just made may be an engine's of another pid namespace that
/// renames it the next instant), and says so.
#[test]
fn runs_prune_sweeps_a_run_creation_left_by_a_killed_engine() {
    let c = Checkout::new(".runbook", &[("a", "# A\n\n```bash {#x}\necho x\n```\n")]);
    let o = c.run(&["play", "a"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let runs = c.path().join(".runbook/runs");
    let run = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let journal = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
    let first = journal.lines().next().unwrap().to_string() + "\n";
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let left = |name: &str, ago: u64| {
        let dir = runs.join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("journal.jsonl"), &first).unwrap();
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(ago);
        std::fs::File::open(&dir).unwrap().set_modified(t).unwrap();
    };
    left(&format!(".new-{dead}-1"), 2 * 3600);
    left(&format!(".new-{dead}-2"), 0);
    let o = c.run(&["runs", "--prune", "--older-than", "90d"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!(
            "removed 0 run(s) from {}\nremoved .new-{dead}-1: left by an engine killed while it created a run (no step of it ran)\n",
            c.path().join(".runbook").display()
        )
    );
    assert!(!runs.join(format!(".new-{dead}-1")).exists());
    assert!(runs.join(format!(".new-{dead}-2")).exists(), "just made: left alone");
    assert!(run.join("journal.jsonl").exists(), "the run stays");
}

//! The local store's lock, as other commands meet it: `runs --prune`, which
//! looks at every lock and must never take one (a play starting at that
//! moment would be refused).
//!
//! The checkouts and helpers are tests/postgres.rs's, with a directory as
//! their state.

use std::process::Command;

use crate::postgres::{Bg, Checkout, Shared, code, count, exit_of, text, wait_for};

/// `runs --prune` in a process whose `flock(2)` always fails: it cannot
/// take a lock, not even for the instant of a look, and still spares the run
/// being played (it reads the kernel's list of locks).
#[test]
fn runs_prune_never_takes_a_lock_it_looks_at() {
    let sh = Shared::new();
    let c = Checkout::new(".runbook", &[("gated", &sh.runbook())]);
    sh.open();
    let o = c.run(&["play", "gated"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    std::fs::remove_file(sh.gate()).unwrap();
    std::fs::remove_file(sh.log()).unwrap();
    let mut playing = Bg(c.spawn(&["play", "gated", "--fresh"], "playing"));
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    let runs = c.run(&["runs", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    let (old, new) = (rows[0]["run"].as_str().unwrap().to_string(), rows[1]["run"].as_str().unwrap().to_string());
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

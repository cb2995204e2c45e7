//! Step processes: spawning, process groups, killing, leftovers.
//!
//! A non-interactive step runs in its own process group with stdin from
//! `/dev/null`, so that a timeout or Ctrl-C reaches its grandchildren too
//! (SIGTERM to the group, a grace period, SIGKILL). An interactive step stays
//! in the foreground group so it can read the terminal. The rendered body
//! reaches the interpreter through an inherited descriptor
//! ([`super::script`]).
//!
//! **Leftovers.** When a step's main process exits, its group may still hold
//! processes. Some are not leftovers: the children of a process substitution
//! (`diff <(…) <(…)`, `tee >(…)`) are not waited for by bash, so they may
//! still be finishing, or have exited and wait as zombies until init reaps
//! them (which can take seconds in a container). So the group first gets
//! a moment (`RUNBOOK_SETTLE`, [`super::timing`]) to empty by itself, zombies not counting; only what still runs
//! after that is terminated, and reported.

use std::ffi::{OsStr, OsString};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::script::Script;
use crate::model::StepKind;

pub struct Spec<'a> {
    pub kind: StepKind,
    pub body: &'a str,
    pub cwd: &'a Path,
    pub env: &'a [(String, String)],
    /// Start from the engine's environment (`PlayEnv::inherit_env`).
    pub inherit_env: bool,
    /// Prepended to PATH (the rehearsal's stub directory).
    pub path_prefix: Option<&'a Path>,
    /// Namespace descriptors the process enters (`PlayEnv::enter`).
    pub enter: &'a [std::os::fd::RawFd],
    pub interactive: bool,
}

pub struct Proc {
    pub child: super::spawn::Child,
    /// The process group to signal; `None` for interactive steps.
    pub pgid: Option<i32>,
    /// When it started, in ms since boot (see [`boot_ms`]).
    pub born_ms: u64,
    /// The body the interpreter reads, kept until the step is done with it.
    script: Script,
    /// Its descriptor's number: the interpreter reads `/dev/fd/N`, and names
    /// it so in its own error messages (see [`super::origin`]).
    pub script_fd: i32,
}

/// The interpreter and its flags for a step kind, found on the *real* PATH
/// (a rehearsal may stub `python3` for the steps' own calls, not for the
/// interpreter of a python step). A version manager's shim (pyenv's,
/// asdf's: a script that looks the program up on PATH again, where the
/// stubs come first, or a PATH a contained rehearsal hides) is resolved to
/// the program it runs ([`real_program`]).
pub fn interpreter(kind: StepKind) -> (PathBuf, &'static [&'static str]) {
    let (i, flags): (usize, &'static [&'static str]) = match kind {
        StepKind::Bash | StepKind::Manual => (0, &["-euo", "pipefail"]),
        StepKind::Sh => (1, &["-eu"]),
        StepKind::Python => (2, &[]),
        // Never spawned: query steps are run by `runner::query`.
        StepKind::Promql | StepKind::Logql | StepKind::Http => (0, &["-euo", "pipefail"]),
    };
    // Each found once, when first needed: resolving a shim starts it.
    static FOUND: [std::sync::OnceLock<PathBuf>; 3] = [const { std::sync::OnceLock::new() }; 3];
    let found = FOUND[i].get_or_init(|| {
        let prog = ["bash", "sh", "python3"][i];
        match which(prog, std::env::var_os("PATH").as_deref()) {
            Some(p) => real_program(prog, &p).unwrap_or(p),
            None => PathBuf::from(prog),
        }
    });
    (found.clone(), flags)
}

/// The program a script at `path` (`#!…`) runs as `prog`, as the program
/// itself says (`sys.executable`, `$BASH`); `None` when `path` is no
/// script, or the answer is no executable file.
fn real_program(prog: &str, path: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 2];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).ok()?;
    if &head != b"#!" {
        return None;
    }
    let ask = match prog {
        "python3" => "import sys; print(sys.executable)",
        "bash" => "printf '%s\\n' \"$BASH\"",
        _ => return None,
    };
    let out = std::process::Command::new(path)
        .args(["-c", ask])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let real = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim_end_matches('\n'));
    let parent = real.parent()?.as_os_str().to_owned();
    (out.status.success() && real.is_absolute() && real != path)
        .then(|| which(real.file_name()?.to_str()?, Some(&parent)))
        .flatten()
}

/// The first executable `prog` on `path`.
pub fn which(prog: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = path?;
    std::env::split_paths(path)
        .map(|d| d.join(prog))
        .find(|p| std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false))
}

/// PATH with `prefix` first.
pub fn path_with(prefix: Option<&Path>) -> OsString {
    // Read once: the engine never changes its own environment.
    static PATH: std::sync::OnceLock<OsString> = std::sync::OnceLock::new();
    let cur =
        PATH.get_or_init(|| std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into())).clone();
    match prefix {
        None => cur,
        Some(p) => {
            let mut v = vec![p.to_path_buf()];
            v.extend(std::env::split_paths(&cur));
            std::env::join_paths(v).unwrap_or(cur)
        }
    }
}

/// Starts the step's interpreter with its body (a step's process not
/// started ahead, see `runner::step::ready`). `started` gets its process group (`None`:
/// an interactive step, in the engine's) and start time once it exists and
/// before it can run anything of the body: the play records them there
/// (`spawned`), so that a resume finds whatever the step started. From a
/// memfd, the interpreter's `execve` waits at the gate until `started`
/// returned ([`super::launch`]); from a pipe (no memfds here, or no gate),
/// the body is written into the pipe after it.
pub fn spawn(spec: &Spec, started: &dyn Fn(Option<i32>, u64)) -> std::io::Result<Proc> {
    let body = spec.body.as_bytes();
    let mut script = Script::new(body)?;
    if matches!(script, Script::Memory(_)) && !spec.interactive {
        match start(spec, script, Some(started)) {
            Err(e) if super::launch::ungated(&e) => script = Script::empty_pipe()?,
            r => return r,
        }
    }
    let mut p = start(spec, script, None)?;
    p.script.close_reader();
    started(p.pgid, p.born_ms);
    p.feed(body)?;
    Ok(p)
}

/// Starts the interpreter on an empty pipe: it starts up, then waits for
/// its script until [`Proc::feed`] (see [`super::warm`], and
/// `runner::step::ready`). `spec.body` is not used.
pub fn spawn_waiting(spec: &Spec) -> std::io::Result<Proc> {
    let mut p = start(spec, Script::empty_pipe()?, None)?;
    p.script.close_reader();
    Ok(p)
}

impl Proc {
    /// The body of a process from [`spawn_waiting`]: it runs now. When it
    /// cannot be handed over whole, the process is killed with its group
    /// and the step does not run.
    pub fn feed(&mut self, body: &[u8]) -> std::io::Result<()> {
        let fed = self.script.fill(body);
        if fed.is_err() {
            match self.pgid {
                Some(g) => signal_group(g, Signal::SIGKILL),
                None => drop(self.child.start_kill()),
            }
        }
        fed
    }
}

/// A process from [`spawn_waiting`] that will never get its body: killed
/// with its group, having run nothing, and reaped.
pub async fn discard(mut p: Proc) {
    if let Some(g) = p.pgid {
        signal_group(g, Signal::SIGKILL);
    }
    let _ = p.child.start_kill();
    let _ = p.child.wait().await;
}

/// `gate`: called (with the process group and start time) before the
/// interpreter's `execve`; only for a step in its own process group.
fn start(spec: &Spec, script: Script, gate: Option<&dyn Fn(Option<i32>, u64)>) -> std::io::Result<Proc> {
    // Before the clone: at most the process's start time, never far from it.
    let born_ms = boot_ms();
    let at_gate = gate.map(|g| move |pid: nix::libc::pid_t| g(Some(pid), born_ms));
    let (interp, flags) = interpreter(spec.kind);
    let fd = script.fd().as_raw_fd();
    let script_arg = OsString::from(format!("/dev/fd/{fd}"));
    let mut args: Vec<&OsStr> = flags.iter().map(OsStr::new).collect();
    args.push(&script_arg);
    let path = path_with(spec.path_prefix);
    let mut env: Vec<(&str, &OsStr)> = Vec::with_capacity(spec.env.len() + 1);
    // A `PATH` of the step's own environment replaces it (an uncontained
    // rehearsal's: the stubs and the local tools only).
    if !spec.env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH", &path));
    }
    env.extend(spec.env.iter().map(|(k, v)| (k.as_str(), OsStr::new(v))));
    let child = super::spawn::spawn(&super::spawn::Command {
        program: &interp,
        args: &args,
        cwd: spec.cwd,
        env: &env,
        inherit_env: spec.inherit_env,
        stdio: if spec.interactive { super::spawn::Stdio::Inherit } else { super::spawn::Stdio::Piped },
        new_group: !spec.interactive,
        inherit: Some(fd),
        enter: spec.enter,
        gate: at_gate.as_ref().map(|g| g as &dyn Fn(nix::libc::pid_t)),
    })?;
    let pgid = if spec.interactive { None } else { child.id().map(|p| p as i32) };
    Ok(Proc { child, pgid, born_ms, script, script_fd: fd })
}

/// Milliseconds since boot, on the clock `/proc/<pid>/stat` start times use.
pub fn boot_ms() -> u64 {
    let mut ts = nix::libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    if unsafe { nix::libc::clock_gettime(nix::libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// After a crash: kill what is left of a step's process group as its
/// journal recorded it (`Spawned`), which also reaches processes whose
/// environment was reset (`env -i`, as `sudo` does: without this, the step
/// would run twice at once after a resume). Only if it is still that group: its leader, when
/// alive, must have started when recorded (a number is reused only once the
/// whole group is gone). Returns how many processes were killed.
pub fn reap_group(pgid: i32, born_ms: Option<u64>) -> usize {
    if pgid <= 1 || !group_alive(pgid) || pgid == nix::unistd::getpgrp().as_raw() {
        return 0;
    }
    if let Some((_, pgrp, started)) = stat_full(pgid as u32)
        && pgrp == pgid
    {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) }.max(1) as u64;
        let same = born_ms.is_some_and(|b| (started * 1000 / hz).abs_diff(b) <= 250);
        if !same {
            return 0;
        }
    }
    let members = group_members(pgid);
    signal_group(pgid, Signal::SIGKILL);
    let until = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < until && group_running(pgid) {
        std::thread::sleep(Duration::from_millis(10));
    }
    members
}

/// Running processes (zombies not counted) of a group.
fn group_members(pgid: i32) -> usize {
    let Ok(rd) = std::fs::read_dir("/proc") else { return 0 };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|&pid| matches!(stat(pid), Some((state, g)) if g == pgid && !matches!(state, 'Z' | 'X' | 'x')))
        .count()
}

/// Is any process left in the group (zombies included)?
pub fn group_alive(pgid: i32) -> bool {
    killpg(Pid::from_raw(pgid), None).is_ok()
}

/// Is a process of the group still running? Zombies (exited, not yet reaped
/// by their new parent) do not count. Without `/proc`, every member counts.
pub fn group_running(pgid: i32) -> bool {
    if !group_alive(pgid) {
        return false;
    }
    let Ok(rd) = std::fs::read_dir("/proc") else { return true };
    let me = std::process::id();
    rd.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|&pid| pid != me)
        .any(|pid| match stat(pid) {
            Some((state, pgrp)) => pgrp == pgid && !matches!(state, 'Z' | 'X' | 'x'),
            None => false,
        })
}

/// `(state, process group, start time in clock ticks since boot)`.
fn stat_full(pid: u32) -> Option<(char, i32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = s.rsplit_once(')')?.1.split_ascii_whitespace();
    let state = f.next()?.chars().next()?;
    let pgrp = f.nth(1)?.parse().ok()?;
    // After pgrp: session … itrealvalue (16 fields), then starttime.
    let started = f.nth(16)?.parse().ok()?;
    Some((state, pgrp, started))
}

/// `(state, process group)` of a process, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, i32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
    let mut f = s.rsplit_once(')')?.1.split_ascii_whitespace();
    let state = f.next()?.chars().next()?;
    let _ppid = f.next()?;
    Some((state, f.next()?.parse().ok()?))
}

pub fn signal_group(pgid: i32, sig: Signal) {
    let _ = killpg(Pid::from_raw(pgid), sig);
}

/// SIGTERM the group (or the child alone), wait up to the grace period ([`super::timing::grace`]) for the
/// child and the rest of its group, then SIGKILL whatever is left. One grace
/// period in all (a step ignoring SIGTERM, children too, once waited two).
/// Returns the child's exit status.
pub async fn terminate(p: &mut Proc) -> Option<std::process::ExitStatus> {
    let deadline = tokio::time::Instant::now() + super::timing::grace();
    // The child itself, when it left its group (`setpgid` to another one):
    // signalling the group alone would miss it, and its end is waited for.
    // Ours and not reaped yet, its pid cannot be another process's.
    let left = |p: &Proc, g: i32| p.child.id().filter(|&id| stat(id).is_some_and(|(_, pgrp)| pgrp != g));
    match p.pgid {
        Some(g) => {
            signal_group(g, Signal::SIGTERM);
            if let Some(id) = left(p, g) {
                let _ = kill(Pid::from_raw(id as i32), Signal::SIGTERM);
            }
        }
        None => {
            if let Some(id) = p.child.id() {
                let _ = kill(Pid::from_raw(id as i32), Signal::SIGTERM);
            }
        }
    }
    let status = match tokio::time::timeout_at(deadline, p.child.wait()).await {
        Ok(s) => s.ok(),
        Err(_) => {
            if let Some(g) = p.pgid {
                signal_group(g, Signal::SIGKILL);
            }
            let _ = p.child.start_kill();
            p.child.wait().await.ok()
        }
    };
    if let Some(g) = p.pgid {
        while group_running(g) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if group_running(g) {
            signal_group(g, Signal::SIGKILL);
        }
    }
    status
}

/// Resolves once a process of the step's group is stopped (state `T`): on
/// a terminal, what a step out of the foreground group gets for reading it
/// (SIGTTIN) or changing its settings (SIGTTOU), and would wait in for
/// ever. Never without a group (an interactive step has the terminal) or
/// where the engine has no controlling terminal (opening `/dev/tty` fails
/// there, nothing stops). Looked at four times a second: the leader each
/// time, the whole group every fourth.
pub async fn stopped_at_terminal(pgid: Option<i32>) {
    static TTY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let tty = *TTY.get_or_init(|| std::fs::File::open("/dev/tty").is_ok());
    let Some(g) = pgid.filter(|_| tty) else { return std::future::pending().await };
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 0u64.. {
        tick.tick().await;
        let leader = matches!(stat(g as u32), Some(('T', pgrp)) if pgrp == g);
        if leader || (n % 4 == 3 && group_stopped(g)) {
            return;
        }
    }
}

/// Is a process of the group stopped (state `T`, not a tracer's `t`)?
fn group_stopped(pgid: i32) -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else { return false };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .any(|pid| matches!(stat(pid), Some(('T', pgrp)) if pgrp == pgid))
}

/// [`terminate`] a group that has stopped processes: SIGTERM reaches a
/// stopped process only once it is continued, so it is continued too.
pub async fn terminate_stopped(p: &mut Proc) -> Option<std::process::ExitStatus> {
    if let Some(g) = p.pgid {
        signal_group(g, Signal::SIGTERM);
        signal_group(g, Signal::SIGCONT);
    }
    terminate(p).await
}

/// After the main process ended: give the group a moment ([`super::timing::settle`]) to end by itself,
/// then terminate what still runs. `true` when something had to be.
pub async fn kill_leftovers(pgid: i32) -> bool {
    let until = tokio::time::Instant::now() + super::timing::settle();
    let mut pause = Duration::from_millis(1);
    loop {
        if !group_running(pgid) {
            return false;
        }
        if tokio::time::Instant::now() >= until {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(25));
    }
    end_group(pgid).await;
    true
}

/// SIGTERM the group, up to the grace period ([`super::timing::grace`]) to end, then SIGKILL.
async fn end_group(pgid: i32) {
    signal_group(pgid, Signal::SIGTERM);
    let until = tokio::time::Instant::now() + super::timing::grace();
    while group_running(pgid) && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if group_running(pgid) {
        signal_group(pgid, Signal::SIGKILL);
    }
}

/// After a crash of the engine: kill the processes still running for the
/// step that was in flight (found by their `RUNBOOK_RUN_DIR`/`RUNBOOK_STEP`
/// environment; `run_key` is the run directory's absolute path). Returns how
/// many were killed.
/// `step`: `None` for every step of the run (a run whose journal cannot
/// say which was in flight).
pub fn reap_orphans(run_key: &str, step: Option<&str>) -> usize {
    let Ok(rd) = std::fs::read_dir("/proc") else { return 0 };
    let me = std::process::id();
    let want_run = format!("RUNBOOK_RUN_DIR={run_key}");
    let want_step = step.map(|s| format!("RUNBOOK_STEP={s}"));
    let mut killed = Vec::new();
    for e in rd.filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else { continue };
        let mut run_ok = false;
        let mut step_ok = want_step.is_none();
        for kv in env.split(|&b| b == 0) {
            run_ok |= kv == want_run.as_bytes();
            step_ok |= want_step.as_ref().is_some_and(|w| kv == w.as_bytes());
        }
        if run_ok && step_ok && kill(Pid::from_raw(pid as i32), Signal::SIGKILL).is_ok() {
            killed.push(pid);
        }
    }
    // Wait briefly until they are gone, so the re-run does not overlap them.
    let until = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < until && killed.iter().any(|&p| crate::store::local::lock::alive(p) && !zombie(p))
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    killed.len()
}

/// After a step's timeout or interrupt: end every process that carries the
/// step's markers (`RUNBOOK_RUN_DIR`/`RUNBOOK_STEP`, `run_key` and `step`)
/// and is still in the engine's session, wherever its process group is: a
/// command that made a group of its own (GNU `timeout`, `set -m` job
/// control) is out of reach of the step's group, not of its end. What left
/// the session (`setsid`, the documented way to start a daemon) is spared.
/// SIGTERM, up to the grace period ([`super::timing::grace`]), then SIGKILL.
/// Returns how many there were.
pub async fn end_marked(run_key: &str, step: &str) -> usize {
    let until = tokio::time::Instant::now() + super::timing::grace();
    let mut seen = std::collections::HashSet::new();
    loop {
        let left = marked(run_key, step);
        if left.is_empty() {
            return seen.len();
        }
        let last = tokio::time::Instant::now() >= until;
        for &pid in &left {
            if seen.insert(pid) || last {
                let sig = if last { Signal::SIGKILL } else { Signal::SIGTERM };
                let _ = kill(Pid::from_raw(pid as i32), sig);
            }
        }
        if last {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Killed: gone once the kernel has torn them down, a moment.
    let gone = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < gone && !marked(run_key, step).is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen.len()
}

/// The running processes (zombies not counted) of the engine's session
/// with a step's markers, the engine itself left out.
fn marked(run_key: &str, step: &str) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    let me = std::process::id();
    let sid = nix::unistd::getsid(None).map(|p| p.as_raw()).ok();
    let want_run = format!("RUNBOOK_RUN_DIR={run_key}");
    let want_step = format!("RUNBOOK_STEP={step}");
    let mut found = Vec::new();
    for e in rd.filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == me || zombie(pid) {
            continue;
        }
        if sid.is_none() || nix::unistd::getsid(Some(Pid::from_raw(pid as i32))).ok().map(|p| p.as_raw()) != sid {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else { continue };
        let (mut run_ok, mut step_ok) = (false, false);
        for kv in env.split(|&b| b == 0) {
            run_ok |= kv == want_run.as_bytes();
            step_ok |= kv == want_step.as_bytes();
        }
        if run_ok && step_ok {
            found.push(pid);
        }
    }
    found
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_group_is_killed_only_if_its_leader_started_when_recorded() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sleep").arg("30").process_group(0).spawn().unwrap();
        let born = boot_ms();
        let pgid = child.id() as i32;
        assert_eq!(
            reap_group(pgid, Some(born.saturating_sub(60_000))),
            0,
            "a leader born a minute apart is another group"
        );
        assert_eq!(reap_group(pgid, None), 0, "nothing recorded: nothing to compare");
        assert!(child.try_wait().unwrap().is_none(), "still running");
        assert_eq!(reap_group(pgid, Some(born)), 1);
        assert!(child.wait().unwrap().code().is_none(), "killed");
    }
}

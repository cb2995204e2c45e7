//! Warm interpreters: the bash of the step expected next, started while the
//! current step runs, waiting on an empty pipe for its body.
//!
//! Why: starting bash (`execve`, the dynamic loader, bash's own set-up) is
//! most of what a short step costs, about 1 ms on the development VM against
//! 0.1 ms for the engine's own turn between two steps. None of it depends on
//! the body. So when a step starts, the play also starts the interpreter of
//! the first step still pending, with everything that step's process gets:
//! its environment (`RUNBOOK_STEP` included), working directory, process
//! group, output pipes, stdin from `/dev/null`. It starts up on another CPU
//! while the current step runs. When that step's turn comes, after its start
//! and then its process group are in the journal, and durable there
//! (`runner::step::ready`), its rendered body is written into the pipe and the pipe closed: from then on it is the step's process like any other, with
//! the same timeout, Ctrl-C, leftovers and output handling.
//!
//! **Nothing runs early.** Until its body is written the interpreter has no
//! script to read (a pipe, not a file), and a non-interactive bash or sh
//! reads no start-up file, except bash's `$BASH_ENV`: with `BASH_ENV` set
//! there are no warm interpreters at all. A warm interpreter that is not used
//! (another step came first, the step's `cwd` rendered differently, its body
//! is long, the play stopped) is killed with its group, having run nothing.
//! So is one whose working directory is no longer the one at its path (the
//! step before made it again), one started under another host name (bash
//! sets `$HOSTNAME` as it starts), and one older than [`MAX_AGE`] (bash's
//! `$SECONDS` counts from the interpreter's start, and this bounds how stale
//! anything else read at start-up can be).
//! If the engine itself dies (`kill -9`), the pipe's write end closes with
//! it: the interpreter reads an empty script and exits 0.
//!
//! **Limits.** bash reads a script it cannot seek one byte per `read(2)`:
//! 2 KB cost about 0.4 ms more than from a memfd, so a body longer than
//! [`BODY_MAX`] gets a new interpreter reading a memfd (the warm one is
//! killed). Only bash and sh steps are warmed (python's start-up imports
//! modules, a start-up file in all but name), never interactive steps, and
//! only a step's first attempt uses one. None on a machine (or an affinity
//! mask, or a cgroup quota) of one CPU, where they gain nothing.
//! `RUNBOOK_WARM=0` turns them off (to compare, or to rule them out).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::process::{self, Proc, Spec};
use crate::model::StepKind;

/// The longest body fed to a warm interpreter (see the module's doc).
pub const BODY_MAX: usize = 2048;

/// The oldest warm interpreter used: bash's `$SECONDS` counts from its
/// start, so a wait loop bounded by `$SECONDS` would end too early in an
/// interpreter warmed during a long step. Older than this it is dropped;
/// the gain is only worth having next to short steps anyway.
pub const MAX_AGE: Duration = Duration::from_millis(100);

/// An interpreter started for step `step`, waiting for its body.
pub struct Warm {
    step: usize,
    cwd: PathBuf,
    born: Instant,
    /// The host name when it started: bash sets `$HOSTNAME` from it then.
    host: Option<std::ffi::OsString>,
    proc: Option<Proc>,
}

/// The machine's host name now.
fn host_name() -> Option<std::ffi::OsString> {
    nix::sys::utsname::uname().ok().map(|u| u.nodename().to_os_string())
}

/// Can a step with this spec have a warm interpreter?
fn allowed(spec: &Spec) -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let on = *ON.get_or_init(|| {
        std::env::var_os("BASH_ENV").is_none_or(|v| v.is_empty())
            && std::env::var_os("RUNBOOK_WARM").is_none_or(|v| v != "0")
            // On one CPU a warm start-up only takes turns with the step it
            // should overlap (measured: 1.44× the `sh` loop against 1.39×).
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
    });
    on && matches!(spec.kind, StepKind::Bash | StepKind::Sh)
        && !spec.interactive
        && !spec.env.iter().any(|(k, v)| k == "BASH_ENV" && !v.is_empty())
}

impl Warm {
    /// Starts the interpreter of step `step` (`spec.body` unused); `None`
    /// when the step cannot have one or the spawn failed (the step will
    /// then spawn its own, and report why it cannot).
    pub fn start(step: usize, spec: &Spec) -> Option<Warm> {
        if !allowed(spec) {
            return None;
        }
        let proc = process::spawn_waiting(spec).ok()?;
        Some(Warm { step, cwd: spec.cwd.to_path_buf(), born: Instant::now(), host: host_name(), proc: Some(proc) })
    }

    /// The step's process, running `body` from now on; `None` (and this
    /// interpreter killed) when it was started for another step or another
    /// working directory, the body is longer than [`BODY_MAX`], it is older
    /// than [`MAX_AGE`], its directory is no longer the one at `cwd`, or
    /// the host name changed since it started (a step that renames the host,
    /// then one that checks `$HOSTNAME`).
    pub fn fire(mut self, step: usize, cwd: &Path, body: &str) -> Option<Proc> {
        if step != self.step || cwd != self.cwd || body.len() > BODY_MAX || self.born.elapsed() > MAX_AGE {
            return None;
        }
        if host_name() != self.host {
            return None;
        }
        let p = self.proc.take()?;
        if !same_dir(&p, cwd) {
            self.proc = Some(p);
            return None;
        }
        // Still waiting: its process group is recorded with the step's
        // start, and it is fed once both are durable (`runner::step::ready`).
        Some(p)
    }
}

/// Is the working directory of `p` the directory at `cwd` now? The step
/// before may have removed and made it again (`rm -rf build && mkdir
/// build`): the interpreter would then run in the removed one. `cwd` is
/// looked up from the interpreter's own root (`/proc/PID/root`): in a
/// contained rehearsal it lives in the scenario's mount namespace, where
/// the repo is an overlay, not the host's directory. Where this cannot be
/// known (no `/proc`), no.
fn same_dir(p: &Proc, cwd: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(pid) = p.child.id() else { return false };
    let Ok(abs) = std::path::absolute(cwd) else { return false };
    let at = Path::new(&format!("/proc/{pid}/root")).join(abs.strip_prefix("/").unwrap_or(&abs));
    let (Ok(theirs), Ok(now)) = (std::fs::metadata(format!("/proc/{pid}/cwd")), std::fs::metadata(at)) else {
        return false;
    };
    theirs.dev() == now.dev() && theirs.ino() == now.ino()
}

impl Drop for Warm {
    fn drop(&mut self) {
        if let Some(p) = self.proc.take() {
            if let Some(g) = p.pgid {
                process::signal_group(g, Signal::SIGKILL);
            }
            // Dropping the child leaves its reaping to a background thread.
            drop(p);
        }
    }
}

//! One play per runbook and environment (SPEC §6):
//! `locks/<runbook-id>@<env>.lock`.
//!
//! The lock is an exclusive `flock` on the file, which the kernel drops when
//! the holder dies (even by `kill -9`), so a stale lock is simply taken over.
//! The file's content (user, host, pid, since, run) names the holder for the
//! refusal message; a recorded pid that is dead is mentioned when taking over.
//!
//! The descriptor is close-on-exec, so step processes never inherit the lock;
//! but between its `clone` and its `execve` a child shares a copy of the
//! engine's descriptors, lock included. After a `kill -9` of the engine such
//! a child holds the lock for the microseconds until its `execve`: a holder
//! that is dead on this host is therefore waited for, up to [`SETTLE`],
//! before the lock is refused.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};
use crate::store::Holder;

/// How long a lock whose recorded holder is dead may still be held (by a
/// child of that holder on its way to `execve`), at most. `RUNBOOK_LOCK_SETTLE`
/// (milliseconds) overrides it.
pub const SETTLE: Duration = Duration::from_millis(200);

/// Held until dropped.
pub struct PlayLock {
    _lock: Flock<File>,
    pub path: PathBuf,
    /// The holder recorded by a previous process that died holding it.
    pub took_over: Option<Holder>,
}

pub fn path(state: &Path, runbook: &str, env: &str) -> PathBuf {
    state.join("locks").join(format!("{runbook}@{env}.lock"))
}

pub fn acquire(path: &Path, me: &Holder) -> Result<PlayLock> {
    if let Some(dir) = path.parent() {
        super::make_dir(dir)?;
    }
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::Other(anyhow::anyhow!("cannot open lock {}: {e}", path.display())))
    };
    let settle =
        std::env::var("RUNBOOK_LOCK_SETTLE").ok().and_then(|v| v.parse().ok()).map_or(SETTLE, Duration::from_millis);
    let deadline = Instant::now() + settle;
    let mut file = open()?;
    let mut lock = loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => break l,
            Err((mut f, Errno::EWOULDBLOCK)) => {
                let holder = read_holder(&mut f);
                let dead = holder.as_ref().is_some_and(|h| h.pid != 0 && h.host == me.host && !alive(h.pid));
                if dead && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                    file = f;
                    continue;
                }
                return Err(refused(path, holder.as_ref(), dead));
            }
            Err((_, e)) => return Err(Error::Other(anyhow::anyhow!("cannot lock {}: {e}", path.display()))),
        }
    };
    let previous = read_holder(&mut lock);
    let took_over = previous.filter(|h| h.pid != 0 && (h.host != me.host || !alive(h.pid)));
    let json = serde_json::to_string(me).map_err(anyhow::Error::from)?;
    let write = |f: &mut File| -> std::io::Result<()> {
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(json.as_bytes())?;
        f.write_all(b"\n")
    };
    write(&mut lock).map_err(|e| anyhow::anyhow!("cannot write lock {}: {e}", path.display()))?;
    Ok(PlayLock { _lock: lock, path: path.to_path_buf(), took_over })
}

impl PlayLock {
    /// Name the run in the lock once its id is known.
    pub fn set_run(&mut self, me: &Holder, run: &str) {
        let h = Holder { run: run.to_string(), ..me.clone() };
        if let Ok(json) = serde_json::to_string(&h) {
            let _ = self._lock.set_len(0);
            let _ = self._lock.rewind();
            let _ = self._lock.write_all(format!("{json}\n").as_bytes());
        }
    }
}

impl Drop for PlayLock {
    /// A clean exit leaves an empty lock file: only a crashed holder is named.
    fn drop(&mut self) {
        let _ = self._lock.set_len(0);
    }
}

fn refused(path: &Path, holder: Option<&Holder>, dead: bool) -> Error {
    let who = match holder {
        Some(h) if !h.run.is_empty() => {
            format!("{}@{} (pid {}, since {}, run {})", h.user, h.host, h.pid, h.since, h.run)
        }
        Some(h) => format!("{}@{} (pid {}, since {})", h.user, h.host, h.pid, h.since),
        None => "another process".to_string(),
    };
    let why = if dead {
        format!("{who}, which is no longer running; a process it started still holds the lock")
    } else {
        who
    };
    Error::Refused(format!(
        "another play of this runbook and env is running: lock {} is held by {why}\n  hint: wait for it to finish; a lock of a dead process is taken over automatically",
        path.display()
    ))
}

fn read_holder(f: &mut File) -> Option<Holder> {
    let mut s = String::new();
    f.rewind().ok()?;
    f.read_to_string(&mut s).ok()?;
    serde_json::from_str(s.trim()).ok()
}

/// Is a process with this pid alive (on this host)?
pub fn alive(pid: u32) -> bool {
    let Ok(p) = i32::try_from(pid) else { return false };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None) {
        Ok(()) => true,
        Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// Is the lock at `path` held by a play now? (Taken and let go at once if not.)
pub fn held(path: &Path) -> bool {
    let Ok(f) = OpenOptions::new().read(true).open(path) else { return false };
    matches!(Flock::lock(f, FlockArg::LockExclusiveNonblock), Err((_, Errno::EWOULDBLOCK)))
}

/// The holder of the lock at `path`, if a play holds it now.
pub fn holder_if_held(path: &Path) -> Option<Holder> {
    let f = OpenOptions::new().read(true).open(path).ok()?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Err((mut f, Errno::EWOULDBLOCK)) => Some(read_holder(&mut f).unwrap_or_else(|| Holder {
            user: String::new(),
            host: String::new(),
            pid: 0,
            since: String::new(),
            run: String::new(),
            start: None,
        })),
        _ => None,
    }
}

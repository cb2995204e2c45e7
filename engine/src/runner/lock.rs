//! One play per runbook and environment (SPEC §6):
//! `locks/<runbook-id>@<env>.lock`.
//!
//! The lock is an exclusive `flock` on the file, which the kernel drops when
//! the holder dies (even by `kill -9`), so a stale lock is simply taken over.
//! The file's content (user, host, pid, since, run) names the holder for the
//! refusal message; a recorded pid that is dead is mentioned when taking over.
//! The descriptor is close-on-exec, so step processes never inherit the lock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub since: String,
    pub run: String,
}

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
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open lock {}: {e}", path.display()))?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut f, Errno::EWOULDBLOCK)) => {
            let holder = read_holder(&mut f);
            let who = match holder {
                Some(h) if !h.run.is_empty() => {
                    format!("{}@{} (pid {}, since {}, run {})", h.user, h.host, h.pid, h.since, h.run)
                }
                Some(h) => format!("{}@{} (pid {}, since {})", h.user, h.host, h.pid, h.since),
                None => "another process".to_string(),
            };
            return Err(Error::Refused(format!(
                "another play of this runbook and env is running: lock {} is held by {who}\n  hint: wait for it to finish; a lock of a dead process is taken over automatically",
                path.display()
            )));
        }
        Err((_, e)) => return Err(Error::Other(anyhow::anyhow!("cannot lock {}: {e}", path.display()))),
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

/// `user`, `host` of this process.
pub fn operator() -> (String, String) {
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown".into());
    (user, host)
}

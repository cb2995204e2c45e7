//! One play per runbook and environment (SPEC §6):
//! `locks/<runbook-id>@<env>.lock`.
//!
//! The lock is an exclusive `flock` on the file, which the kernel drops when
//! the holder dies (even by `kill -9`), so a stale lock is simply taken over.
//! The file's content (user, host, pid, since, run) names the holder for the
//! refusal message; a recorded pid that is dead is mentioned when taking over.
//!
//! Whoever only looks (`runs --prune`, which spares a run being played)
//! never takes the lock, not even for an instant: a play starting then would
//! be refused. It reads the kernel's list of locks ([`holder_if_held`]).
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

/// The lock held by another process: its recorded holder, and whether
/// that holder is dead (a process it started still holds the lock).
pub struct Busy {
    pub holder: Option<Holder>,
    pub dead: bool,
}

/// Take the lock, or refuse (exit 3) naming its holder.
pub fn acquire(path: &Path, me: &Holder) -> Result<PlayLock> {
    try_acquire(path, me)?.map_err(|b| refused(path, b.holder.as_ref(), b.dead))
}

/// Take the lock, or say who holds it.
pub fn try_acquire(path: &Path, me: &Holder) -> Result<std::result::Result<PlayLock, Busy>> {
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
            .map_err(|e| super::fault("cannot open lock", path, &e))
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
                return Ok(Err(Busy { holder, dead }));
            }
            Err((_, e)) => return Err(super::fault("cannot lock", path, &e.into())),
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
    write(&mut lock).map_err(|e| super::fault("cannot write lock", path, &e))?;
    Ok(Ok(PlayLock { _lock: lock, path: path.to_path_buf(), took_over }))
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
    let who = holder.map_or_else(|| "another process".to_string(), Holder::describe);
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

/// `--take-over` of a lock held by a live engine: a local lock's holder
/// runs on this machine (or one sharing the state directory), where it can
/// be stopped; nothing is taken from it.
pub fn take_over_refused(path: &Path, busy: &Busy, me: &Holder, runbook: &str, env: &str) -> Error {
    let env_flag = if env == crate::config::LOCAL_ENV { String::new() } else { format!(" --env {env}") };
    let resume = format!("`runbook play {runbook}{env_flag} --resume`");
    let (who, hint) = match &busy.holder {
        Some(h) if busy.dead => (
            format!("{}, which is no longer running; a process it started still holds the lock", h.describe()),
            format!("try again in a moment: {resume}"),
        ),
        Some(h) => {
            let place = if h.host == me.host { "this machine".to_string() } else { h.host.clone() };
            let there = if h.host == me.host { "" } else { " there" };
            (
                format!("{}, an engine that still runs on {place}", h.describe()),
                format!(
                    "let it finish, or stop it{there} (`kill {}`: its run stays resumable), then continue the run with {resume}",
                    h.pid
                ),
            )
        }
        None => ("another process".to_string(), format!("let it finish, then continue the run with {resume}")),
    };
    Error::Refused(format!(
        "--take-over is for a shared store (state = \"postgres://…\"): lock {} is held by {who}\n  hint: {hint}",
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

/// The holder of the lock at `path`, if a play holds it now, found without
/// touching the lock: a play taking it at that moment must never be refused
/// because someone looked (`runs --prune`). The kernel lists every `flock`
/// held in `/proc/locks`, from the moment it is taken (the holder's name is
/// written just after); where that list cannot be read, the holder the file
/// names counts while its process runs on this host (pid and start time).
/// Either way a lock whose file names a live holder counts as held: a
/// wrong "held" only spares a run, a wrong "free" would remove one.
pub fn holder_if_held(path: &Path) -> Option<Holder> {
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).ok()?);
    let listed = std::fs::read_to_string("/proc/locks").ok().is_some_and(|text| flocked(&text, ino));
    let named = std::fs::File::open(path).ok().and_then(|mut f| read_holder(&mut f));
    let runs =
        |h: &Holder| h.pid != 0 && h.host == crate::store::operator().1 && crate::store::machine::alive(h.pid, h.start);
    match named {
        Some(h) if listed || runs(&h) => Some(h),
        _ if listed => Some(Holder {
            user: String::new(),
            host: String::new(),
            pid: 0,
            since: String::new(),
            run: String::new(),
            start: None,
            elsewhere: false,
        }),
        _ => None,
    }
}

/// Does `/proc/locks` (its text) list a granted `flock` of inode `ino`?
/// Matched by inode alone: the device it names is the file system's, which
/// `stat` does not always report (btrfs subvolumes, overlayfs); a lock of
/// another file system's inode of the same number only spares a run.
fn flocked(text: &str, ino: u64) -> bool {
    text.lines().any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // `N: FLOCK ADVISORY WRITE PID MAJ:MIN:INO 0 EOF`; a waiter's line
        // has `->` after the number, and holds nothing.
        f.get(1) == Some(&"FLOCK")
            && f.get(5).and_then(|id| id.rsplit(':').next()).and_then(|i| i.parse::<u64>().ok()) == Some(ino)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lists_a_granted_flock_by_inode_never_a_waiter_nor_a_posix_lock() {
        let text = "1: FLOCK  ADVISORY  WRITE 17746 fe:00:5554177 0 EOF\n\
                    1: -> FLOCK  ADVISORY  WRITE 17750 fe:00:777 0 EOF\n\
                    2: POSIX  ADVISORY  WRITE 17740 fe:00:888 0 EOF\n\
                    3: FLOCK  ADVISORY  READ 17740 103:02:10133507 0 EOF\n";
        assert!(flocked(text, 5554177));
        assert!(flocked(text, 10133507));
        assert!(!flocked(text, 777), "a waiter holds nothing");
        assert!(!flocked(text, 888), "a POSIX lock is not a play's");
        assert!(!flocked("", 5554177));
    }

    #[test]
    fn a_held_lock_is_seen_whatever_its_file_says_and_a_free_one_only_while_its_named_holder_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a@local.lock");
        std::fs::write(&path, "").unwrap();
        assert!(holder_if_held(&path).is_none(), "free, naming nobody");
        // Held, before the holder's name is written.
        let held = Flock::lock(File::open(&path).unwrap(), FlockArg::LockExclusiveNonblock).unwrap();
        assert!(holder_if_held(&path).is_some(), "held by this process, named or not");
        drop(held);
        assert!(holder_if_held(&path).is_none());
        // Free, naming a process that runs (where /proc/locks cannot be read,
        // that is all there is to go by): held. A dead one: free.
        let me = Holder { run: "r1".into(), ..Holder::me() };
        std::fs::write(&path, serde_json::to_string(&me).unwrap()).unwrap();
        assert_eq!(holder_if_held(&path).map(|h| h.run), Some("r1".to_string()));
        let gone = Holder { start: me.start.map(|s| s + 1), ..me };
        std::fs::write(&path, serde_json::to_string(&gone).unwrap()).unwrap();
        assert!(holder_if_held(&path).is_none(), "a reused pid is not the holder");
    }
}

//! Holders' stages left in the temporary directory by engines that are
//! gone, removed by the next engine that starts a holder (once per
//! process). A stage is an empty directory on the host (its tmpfs is
//! mounted in its holder's namespace only), named `runbook-contain-…`:
//!
//! - `runbook-contain-<pid>-XXXXXX` carries its engine's pid: removed when
//!   no process has that pid. One that is not empty (a holder that wrote
//!   below its stage once its tmpfs was gone) is removed with what it
//!   holds when it is a directory of this user mounted in no namespace,
//!   without following a link or entering a mount ([`remove_tree`]).
//! - `runbook-contain-XXXXXX`, named by engines before the pid was added,
//!   says nothing of its owner, so it goes only when clearly abandoned: a
//!   directory (not a link) of this user, untouched for
//!   [`UNNAMED_AGE_ENV`] (24 hours unless set), and mounted in no process's
//!   namespace. A live holder has its tmpfs on its stage however long its
//!   rehearsal runs; a stage not mounted yet is new.
//!
//! Stages without a pid are removed only when empty (`remove_dir`):
//! anything else with such a name is left as it is.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The start of a stage's name; the engine's pid follows.
pub const PREFIX: &str = "runbook-contain-";

/// How long a stage without a pid must be untouched before it is removed
/// (a duration: `24h`, `90m`).
pub const UNNAMED_AGE_ENV: &str = "RUNBOOK_CONTAIN_SWEEP_AGE";

fn unnamed_age() -> Duration {
    std::env::var(UNNAMED_AGE_ENV)
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(Duration::from_secs(24 * 3600))
}

/// Sweep the temporary directory, once per process.
pub fn sweep() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| sweep_in(&std::env::temp_dir(), unnamed_age()));
}

fn sweep_in(dir: &Path, age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let (mut unnamed, mut full) = (Vec::new(), Vec::new());
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else { continue };
        match rest.split_once('-').and_then(|(pid, _)| pid.parse::<i32>().ok()) {
            Some(pid) => {
                let gone =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH);
                if pid > 0 && gone && std::fs::remove_dir(e.path()).is_err() {
                    full.push(e.path());
                }
            }
            None => unnamed.push(e.path()),
        }
    }
    let uid = nix::unistd::geteuid().as_raw();
    let ours = |p: &PathBuf| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == uid);
    let full: Vec<PathBuf> = full.into_iter().filter(ours).filter_map(|p| std::fs::canonicalize(p).ok()).collect();
    if !full.is_empty() {
        let mounted = mount_points();
        for p in full {
            if !mounted.iter().any(|m| m.starts_with(&p)) {
                remove_tree(&p);
            }
        }
    }
    let abandoned: Vec<PathBuf> = unnamed
        .into_iter()
        .filter(|p| {
            std::fs::symlink_metadata(p).is_ok_and(|m| {
                m.is_dir()
                    && m.uid() == uid
                    && m.modified().ok().and_then(|t| t.elapsed().ok()).is_some_and(|a| a >= age)
            })
        })
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    if abandoned.is_empty() {
        return;
    }
    let mounted = mount_points();
    for p in abandoned {
        if !mounted.iter().any(|m| m.starts_with(&p)) {
            let _ = std::fs::remove_dir(&p);
        }
    }
}

/// Remove the directory `path` and everything in it, on its own file
/// system only: a link is removed, never followed (every directory is
/// opened relative to its parent with `O_NOFOLLOW`); a directory of
/// another device (a mount point) is not entered, and so it and its
/// parents stay; a directory that cannot be read (an overlay's `work`,
/// mode 000) is made readable first, when it is this user's.
pub(in crate::rehearse) fn remove_tree(path: &Path) {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else { return };
    let Ok(dir) = open_dir(nix::fcntl::AT_FDCWD, parent) else { return };
    if remove_in(&dir, name, None, 0) {
        let _ = nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::RemoveDir);
    }
}

/// How deep [`remove_tree`] goes (a deeper tree stays).
const MAX_DEPTH: usize = 64;

fn open_dir<Fd: std::os::fd::AsFd, P: ?Sized + nix::NixPath>(at: Fd, name: &P) -> nix::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::OFlag;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    nix::fcntl::openat(at, name, flags, nix::sys::stat::Mode::empty())
}

/// Empty the directory `name` of `parent` (on device `dev`, that of the
/// tree's top when `None`); whether it is empty now.
fn remove_in(parent: &std::os::fd::OwnedFd, name: &std::ffi::OsStr, dev: Option<u64>, depth: usize) -> bool {
    use nix::sys::stat::{FchmodatFlags, Mode, fstat, fstatat};
    use nix::unistd::{UnlinkatFlags, unlinkat};
    let Ok(st) = fstatat(parent, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) else { return false };
    let is_dir = st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFDIR;
    if !is_dir || depth > MAX_DEPTH || dev.is_some_and(|d| d != st.st_dev) {
        return false;
    }
    let mut opened = open_dir(parent, name);
    if opened.as_ref().err() == Some(&nix::errno::Errno::EACCES) && st.st_uid == nix::unistd::geteuid().as_raw() {
        let _ = nix::sys::stat::fchmodat(parent, name, Mode::S_IRWXU, FchmodatFlags::NoFollowSymlink);
        opened = open_dir(parent, name);
    }
    let Ok(fd) = opened else { return false };
    // What was opened is what was looked at (not swapped for another since).
    if fstat(&fd).map(|s| (s.st_dev, s.st_ino)) != Ok((st.st_dev, st.st_ino)) {
        return false;
    }
    let Ok(again) = fd.try_clone() else { return false };
    let Ok(mut entries) = nix::dir::Dir::from_fd(again) else { return false };
    let names: Vec<std::ffi::CString> = entries
        .iter()
        .flatten()
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    let mut empty = true;
    for n in names {
        let child = std::ffi::OsStr::from_bytes(n.as_bytes());
        let gone = if remove_in(&fd, child, Some(st.st_dev), depth + 1) {
            unlinkat(&fd, child, UnlinkatFlags::RemoveDir).is_ok()
        } else {
            let link = fstatat(&fd, child, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|c| c.st_mode & nix::libc::S_IFMT != nix::libc::S_IFDIR);
            link && unlinkat(&fd, child, UnlinkatFlags::NoRemoveDir).is_ok()
        };
        empty &= gone;
    }
    empty
}

/// Every mount point of every mount namespace a process of this machine
/// is in (each namespace read once), as its processes see them.
pub(in crate::rehearse) fn mount_points() -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return out };
    for p in procs.flatten() {
        if !p.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A namespace we cannot name is read all the same.
        let ns = std::fs::read_link(p.path().join("ns/mnt")).ok();
        if ns.as_ref().is_some_and(|n| !seen.insert(n.clone())) {
            continue;
        }
        let Ok(info) = std::fs::read_to_string(p.path().join("mountinfo")) else { continue };
        out.extend(info.lines().filter_map(|l| l.split(' ').nth(4)).map(|m| PathBuf::from(unescape(m))));
    }
    out
}

/// A mountinfo path: the kernel writes space, tab, newline and backslash
/// as octal escapes (`\040`).
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/tmp/a\\040b\\134c"), "/tmp/a b\\c");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/x\\9"), "/x\\9");
    }

    #[test]
    fn the_root_is_a_mount_point() {
        assert!(mount_points().iter().any(|m| m == Path::new("/")));
    }
}

//! Holders' stages left in the temporary directory by engines that are
//! gone, removed by the next engine that starts a holder (once per
//! process). A stage is an empty directory on the host (its tmpfs is
//! mounted in its holder's namespace only), named `runbook-contain-…`:
//!
//! - `runbook-contain-<pid>-XXXXXX` carries its engine's pid: removed when
//!   no process has that pid.
//! - `runbook-contain-XXXXXX`, named by engines before the pid was added,
//!   says nothing of its owner, so it goes only when clearly abandoned: a
//!   directory (not a link) of this user, untouched for
//!   [`UNNAMED_AGE_ENV`] (24 hours unless set), and mounted in no process's
//!   namespace. A live holder has its tmpfs on its stage however long its
//!   rehearsal runs; a stage not mounted yet is new.
//!
//! Only empty directories are ever removed (`remove_dir`): anything else
//! with such a name is left as it is.

use std::collections::HashSet;
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
    let mut unnamed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else { continue };
        match rest.split_once('-').and_then(|(pid, _)| pid.parse::<i32>().ok()) {
            Some(pid) => {
                let gone =
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH);
                if pid > 0 && gone {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
            None => unnamed.push(e.path()),
        }
    }
    let uid = nix::unistd::geteuid().as_raw();
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

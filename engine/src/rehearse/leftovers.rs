//! Scratch directories of rehearsals whose engine was killed (`kill -9`
//! skips the removal, [`super::sandbox`]), removed by the next rehearsal
//! of this machine: once per process, before its first scratch directory.
//! A scratch directory is named `runbook-rehearsal-PID-NS-XXXXXX` (its
//! engine's pid and pid namespace), and is removed only when all hold:
//!
//! - it is a directory (not a link) of this user;
//! - its engine is gone: of this pid namespace (a pid says nothing in
//!   another), and its pid is free or held by a process started after the
//!   directory was last written ([`machine::gone_since`]);
//! - nothing uses it: no process works in it or was given it (a step the
//!   killed engine left running: its current directory, `HOME` and
//!   `TMPDIR` are there).
//!
//! Names without a pid (engines before it was added) say nothing of their
//! owner: left alone. Only the temporary directory itself is listed; what
//! is walked below it is the removal's.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::store::machine;

/// The start of a scratch directory's name.
pub const PREFIX: &str = "runbook-rehearsal-";

/// The start of the names of this process's scratch directories.
pub fn prefix() -> String {
    format!("{PREFIX}{}-{}-", std::process::id(), machine::pid_ns())
}

/// Sweep the temporary directory, once per process.
pub fn sweep() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        sweep_in(&std::env::temp_dir());
    });
}

/// Remove the scratch directories of gone engines from `dir`: those removed.
fn sweep_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let (uid, ns) = (nix::unistd::geteuid().as_raw(), machine::pid_ns());
    let gone: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let Some((pid, owner_ns)) = e.file_name().to_str().and_then(owner) else { return false };
            std::fs::symlink_metadata(e.path()).is_ok_and(|m| {
                m.is_dir()
                    && m.uid() == uid
                    && owner_ns == ns
                    && m.modified().is_ok_and(|t| machine::gone_since(pid, t))
            })
        })
        .filter_map(|e| std::fs::canonicalize(e.path()).ok())
        .collect();
    if gone.is_empty() {
        return gone;
    }
    let used = in_use();
    gone.into_iter()
        .filter(|d| !used.iter().any(|u| u.starts_with(d)))
        .filter(|d| std::fs::remove_dir_all(d).is_ok())
        .collect()
}

/// The pid and pid namespace a scratch directory's name gives.
fn owner(name: &str) -> Option<(u32, u64)> {
    let mut parts = name.strip_prefix(PREFIX)?.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let ns = parts.next()?.parse().ok()?;
    parts.next().filter(|rest| !rest.is_empty())?;
    Some((pid, ns))
}

/// Where the processes of this machine that can be asked work, and the
/// absolute paths their environment gives.
fn in_use() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return out };
    for p in procs.flatten() {
        if !p.file_name().as_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        out.extend(std::fs::read_link(p.path().join("cwd")));
        let Ok(env) = std::fs::read(p.path().join("environ")) else { continue };
        let values = env.split(|b| *b == 0).filter_map(|kv| kv.iter().position(|b| *b == b'=').map(|i| &kv[i + 1..]));
        out.extend(values.filter(|v| v.starts_with(b"/")).map(|v| PathBuf::from(std::ffi::OsStr::from_bytes(v))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};

    fn dead_pid() -> u32 {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    /// A scratch directory with a file deep in it.
    fn made(dir: &Path, name: &str) -> PathBuf {
        let d = dir.join(name);
        std::fs::create_dir_all(d.join("repo/ops")).unwrap();
        std::fs::write(d.join("repo/ops/x"), "x").unwrap();
        d
    }

    struct Killed(Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn a_scratch_directory_goes_once_its_engine_is_gone_and_nothing_uses_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(tmp.path()).unwrap();
        let (ns, dead, me) = (machine::pid_ns(), dead_pid(), std::process::id());
        let sleeper = Killed(Command::new("sleep").arg("60").spawn().unwrap());
        let stale = made(&dir, &format!("{PREFIX}{dead}-{ns}-aaaaaa"));
        let mine = made(&dir, &format!("{PREFIX}{me}-{ns}-bbbbbb"));
        let sleepers = made(&dir, &format!("{PREFIX}{}-{ns}-cccccc", sleeper.0.id()));
        let other_ns = made(&dir, &format!("{PREFIX}{dead}-{}-dddddd", ns + 1));
        let unnamed = made(&dir, &format!("{PREFIX}eeeeee"));
        let worked_in = made(&dir, &format!("{PREFIX}{dead}-{ns}-ffffff"));
        let given = made(&dir, &format!("{PREFIX}{dead}-{ns}-gggggg"));
        let link = dir.join(format!("{PREFIX}{dead}-{ns}-hhhhhh"));
        std::os::unix::fs::symlink(&stale, &link).unwrap();
        let worker = Killed(Command::new("sleep").arg("60").current_dir(worked_in.join("repo")).spawn().unwrap());
        let home = given.join("home");
        let user = Killed(Command::new("sleep").arg("60").current_dir("/").env("HOME", &home).spawn().unwrap());
        // A process's environment shows in /proc once its exec has laid it out.
        let environ = format!("/proc/{}/environ", user.0.id());
        let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !std::fs::read(&environ).unwrap().windows(5).any(|w| w == b"HOME=") {
            assert!(std::time::Instant::now() < end, "the environment of {environ} never showed");
            std::thread::yield_now();
        }
        assert_eq!(sweep_in(&dir), std::slice::from_ref(&stale));
        for d in [&mine, &sleepers, &other_ns, &unnamed, &worked_in, &given] {
            assert!(d.join("repo/ops/x").exists(), "{} stays", d.display());
        }
        assert!(link.symlink_metadata().is_ok(), "a link is not followed");
        drop((worker, user));
        let mut swept = sweep_in(&dir);
        swept.sort();
        assert_eq!(swept, [worked_in, given], "once nothing uses them");
        drop(sleeper);
        assert_eq!(sweep_in(&dir), [sleepers], "once its engine is gone");
    }

    #[test]
    fn a_scratch_directory_names_its_engine() {
        let name = format!("{}x1y2z3", prefix());
        assert_eq!(owner(&name), Some((std::process::id(), machine::pid_ns())));
        assert_eq!(owner("runbook-rehearsal-x1y2z3"), None);
        assert_eq!(owner("runbook-rehearsal-12-34-"), None);
    }
}

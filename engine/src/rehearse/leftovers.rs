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
//! - nothing uses it: no process works in it, holds a file of it open or
//!   was given it (a step the killed engine left running: its current
//!   directory, `HOME` and `TMPDIR` are there), and nothing is mounted in it.
//!
//! Engines before the pid was added named them `runbook-rehearsal-XXXXXX`
//! (six letters or digits), which says nothing of the owner. Such a
//! directory is removed only when clearly abandoned: as above a directory
//! of this user that nothing uses (a live engine holds its journal open
//! there, its steps work there), and untouched for [`UNNAMED_AGE`]: nothing
//! in it, at any depth, written since (a running rehearsal writes its
//! journal and its steps' logs there). Only the temporary directory itself
//! is listed; what is walked below it is the removal's and, for an unnamed
//! one, the age's.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::store::machine;

/// The start of a scratch directory's name.
pub const PREFIX: &str = "runbook-rehearsal-";

/// The start of the names of this process's scratch directories.
pub fn prefix() -> String {
    format!("{PREFIX}{}-{}-", std::process::id(), machine::pid_ns())
}

/// How long a scratch directory without a pid in its name must be
/// untouched before it is removed.
pub const UNNAMED_AGE: Duration = Duration::from_secs(24 * 3600);

/// Sweep the temporary directory, once per process.
pub fn sweep() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        sweep_in(&std::env::temp_dir(), UNNAMED_AGE);
    });
}

/// Remove from `dir` the scratch directories of gone engines, and those
/// without a pid untouched for `age`: those removed.
fn sweep_in(dir: &Path, age: Duration) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let (uid, ns) = (nix::unistd::geteuid().as_raw(), machine::pid_ns());
    // Each with whether its name has no pid (then its age is looked at below it).
    let candidates: Vec<(PathBuf, bool)> = entries
        .flatten()
        .filter_map(|e| {
            let m = std::fs::symlink_metadata(e.path()).ok().filter(|m| m.is_dir() && m.uid() == uid)?;
            let name = e.file_name();
            let name = name.to_str()?;
            let stale = match owner(name) {
                Some((pid, owner_ns)) => owner_ns == ns && m.modified().is_ok_and(|t| machine::gone_since(pid, t)),
                None => without_pid(name) && m.modified().is_ok_and(|t| older(t, age)),
            };
            stale.then(|| Some((std::fs::canonicalize(e.path()).ok()?, owner(name).is_none()))).flatten()
        })
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let used = in_use();
    candidates
        .into_iter()
        .filter(|(d, unnamed)| !used.iter().any(|u| u.starts_with(d)) && (!unnamed || untouched(d, age)))
        .map(|(d, _)| d)
        .filter(|d| std::fs::remove_dir_all(d).is_ok())
        .collect()
}

/// A name given before the pid was: [`PREFIX`] and what `tempfile` makes,
/// six letters or digits.
fn without_pid(name: &str) -> bool {
    name.strip_prefix(PREFIX).is_some_and(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Was `t` at least `age` ago?
fn older(t: SystemTime, age: Duration) -> bool {
    t.elapsed().is_ok_and(|a| a >= age)
}

/// Nothing in `dir`, at any depth (links not followed), written in the
/// last `age`; nothing that cannot be read either.
fn untouched(dir: &Path, age: Duration) -> bool {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .same_file_system(true)
        .into_iter()
        .all(|e| e.ok().and_then(|e| e.metadata().ok()).and_then(|m| m.modified().ok()).is_some_and(|t| older(t, age)))
}

/// The pid and pid namespace a scratch directory's name gives.
fn owner(name: &str) -> Option<(u32, u64)> {
    let mut parts = name.strip_prefix(PREFIX)?.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let ns = parts.next()?.parse().ok()?;
    parts.next().filter(|rest| !rest.is_empty())?;
    Some((pid, ns))
}

/// Where the processes of this machine that can be asked work, the files
/// they hold open, the absolute paths their environment gives, and every
/// mount point (of any mount namespace).
fn in_use() -> Vec<PathBuf> {
    #[cfg(target_os = "linux")]
    let mut out = super::contain::sweep::mount_points();
    #[cfg(not(target_os = "linux"))]
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return out };
    for p in procs.flatten() {
        if !p.file_name().as_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        out.extend(std::fs::read_link(p.path().join("cwd")));
        if let Ok(fds) = std::fs::read_dir(p.path().join("fd")) {
            out.extend(fds.flatten().filter_map(|fd| std::fs::read_link(fd.path()).ok()).filter(|t| t.is_absolute()));
        }
        let Ok(env) = std::fs::read(p.path().join("environ")) else { continue };
        let values = env.split(|b| *b == 0).filter_map(|kv| kv.iter().position(|b| *b == b'=').map(|i| &kv[i + 1..]));
        out.extend(values.filter(|v| v.starts_with(b"/")).map(|v| PathBuf::from(std::ffi::OsStr::from_bytes(v))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
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
        assert_eq!(sweep_in(&dir, UNNAMED_AGE), std::slice::from_ref(&stale));
        for d in [&mine, &sleepers, &other_ns, &unnamed, &worked_in, &given] {
            assert!(d.join("repo/ops/x").exists(), "{} stays", d.display());
        }
        assert!(link.symlink_metadata().is_ok(), "a link is not followed");
        drop((worker, user));
        let mut swept = sweep_in(&dir, UNNAMED_AGE);
        swept.sort();
        assert_eq!(swept, [worked_in, given], "once nothing uses them");
        drop(sleeper);
        assert_eq!(sweep_in(&dir, UNNAMED_AGE), [sleepers], "once its engine is gone");
    }

    /// Everything in `d`, and `d`, last written at `t` (links themselves).
    fn aged(d: &Path, t: SystemTime) {
        use nix::sys::stat::{UtimensatFlags, utimensat};
        let at = nix::sys::time::TimeSpec::from(t.duration_since(SystemTime::UNIX_EPOCH).unwrap());
        for e in walkdir::WalkDir::new(d).contents_first(true) {
            let p = e.unwrap().into_path();
            utimensat(nix::fcntl::AT_FDCWD, &p, &at, &at, UtimensatFlags::NoFollowSymlink).unwrap();
        }
    }

    /// Waits until `pid`'s environment shows in /proc (once its exec laid it out).
    fn environment_shows(pid: u32) {
        let environ = format!("/proc/{pid}/environ");
        let end = std::time::Instant::now() + Duration::from_secs(60);
        while !std::fs::read(&environ).unwrap().windows(5).any(|w| w == b"HOME=") {
            assert!(std::time::Instant::now() < end, "the environment of {environ} never showed");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_scratch_directory_without_a_pid_goes_once_untouched_for_the_age_and_unused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(tmp.path()).unwrap();
        let day = Duration::from_secs(24 * 3600);
        let old = made(&dir, &format!("{PREFIX}aB3xY9"));
        let written_below = made(&dir, &format!("{PREFIX}bbbbbb"));
        let worked_in = made(&dir, &format!("{PREFIX}cccccc"));
        let held_open = made(&dir, &format!("{PREFIX}dddddd"));
        let given = made(&dir, &format!("{PREFIX}eeeeee"));
        let fresh = made(&dir, &format!("{PREFIX}ffffff"));
        // Not what an older engine named: a longer random part, another prefix.
        let longer = made(&dir, &format!("{PREFIX}ggggggg"));
        let other = made(&dir, "runbook-record-hhhhhh");
        let link = dir.join(format!("{PREFIX}jjjjjj"));
        std::os::unix::fs::symlink(&old, &link).unwrap();
        let two_days_ago = SystemTime::now() - 2 * day;
        for d in [&old, &written_below, &worked_in, &held_open, &given, &longer, &other, &link] {
            aged(d, two_days_ago);
        }
        // Written deep below today: its top directory is as old as the others.
        std::fs::File::options().append(true).open(written_below.join("repo/ops/x")).unwrap().write_all(b"y").unwrap();
        let worker = Killed(Command::new("sleep").arg("60").current_dir(worked_in.join("repo")).spawn().unwrap());
        let file = std::fs::File::open(held_open.join("repo/ops/x")).unwrap();
        let holder = Killed(Command::new("sleep").arg("60").current_dir("/").stdin(file).spawn().unwrap());
        let user =
            Killed(Command::new("sleep").arg("60").current_dir("/").env("HOME", given.join("home")).spawn().unwrap());
        environment_shows(user.0.id());
        assert_eq!(sweep_in(&dir, day), std::slice::from_ref(&old));
        for d in [&written_below, &worked_in, &held_open, &given, &fresh, &longer, &other] {
            assert!(d.join("repo/ops/x").exists(), "{} stays", d.display());
        }
        assert!(link.symlink_metadata().is_ok(), "a link is not followed");
        drop((worker, holder, user));
        let mut swept = sweep_in(&dir, day);
        swept.sort();
        assert_eq!(swept, [worked_in, held_open, given], "once nothing uses them");
        // Untouched for the age only now.
        let mut swept = sweep_in(&dir, Duration::ZERO);
        swept.sort();
        assert_eq!(swept, [written_below, fresh]);
    }

    #[test]
    fn a_scratch_directory_names_its_engine() {
        let name = format!("{}x1y2z3", prefix());
        assert_eq!(owner(&name), Some((std::process::id(), machine::pid_ns())));
        assert_eq!(owner("runbook-rehearsal-x1y2z3"), None);
        assert_eq!(owner("runbook-rehearsal-12-34-"), None);
    }
}

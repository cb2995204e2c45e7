//! Which machine, and which process on it, holds a lock. A database can
//! lose a holder's session (a restart, a dropped connection) while the
//! holder lives; on the holder's own machine its process says whether it
//! does: the same pid with the same start time is the same process (a pid
//! can be reused after a crash). "The same machine" is the kernel's boot
//! and pid namespace, not the host name: two containers may share a name,
//! not a pid space. The same start time says whether the engine that left
//! something behind (a run it was creating, a rehearsal's scratch
//! directory) is gone ([`gone_since`]).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// This kernel's boot and pid namespace (`""` where they cannot be read:
/// then no holder counts as being on this machine).
pub fn here() -> &'static str {
    static HERE: OnceLock<String> = OnceLock::new();
    HERE.get_or_init(|| {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
        let ns = std::fs::read_link("/proc/self/ns/pid").map(|p| p.display().to_string()).unwrap_or_default();
        match (boot.trim(), ns.as_str()) {
            ("", _) | (_, "") => String::new(),
            (boot, ns) => format!("{boot}/{ns}"),
        }
    })
}

/// When process `pid` started, in clock ticks after boot (`/proc/PID/stat`),
/// if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from its end.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Is the process `pid`, started at `start` (when known), alive on this
/// machine?
pub fn alive(pid: u32, start: Option<u64>) -> bool {
    if pid == 0 || !super::local::lock::alive(pid) {
        return false;
    }
    match (start, start_time(pid)) {
        (Some(recorded), Some(now)) => recorded == now,
        _ => true,
    }
}

/// When process `pid` started, on the wall clock: the boot time
/// (`/proc/stat`, to the second) plus its [`start_time`].
pub fn started_at(pid: u32) -> Option<SystemTime> {
    let ticks = start_time(pid)?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().filter(|h| *h > 0)? as u64;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let boot: u64 = stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(boot) + Duration::from_millis(ticks * 1000 / hz))
}

/// Is the process that had `pid` at `t` gone? It is when no process has
/// that pid now, or when the one that has it started after `t` (the pid
/// was reused; "after" with two seconds to spare, the boot time being read
/// to the second). One that may be the same process is not gone: started
/// before `t`, or when its start cannot be read. Pid 0 is nobody's: never
/// gone.
pub fn gone_since(pid: u32, t: SystemTime) -> bool {
    if pid == 0 || i32::try_from(pid).is_err() {
        return false;
    }
    if !super::local::lock::alive(pid) {
        return true;
    }
    started_at(pid).is_some_and(|s| s > t + Duration::from_secs(2))
}

/// This process's pid namespace (the inode of `/proc/self/ns/pid`; 0 where
/// it cannot be read): a pid names a process only in its own namespace.
pub fn pid_ns() -> u64 {
    std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| std::os::unix::fs::MetadataExt::ino(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = std::process::id();
        let start = start_time(me);
        assert!(start.is_some(), "/proc/self/stat has a start time");
        assert!(alive(me, start));
        assert!(alive(me, None));
        assert!(!alive(me, start.map(|s| s + 1)), "another start time: another process");
        assert!(!here().is_empty());
    }

    #[test]
    fn a_process_is_gone_once_its_pid_is_free_or_taken_by_a_later_process() {
        let now = SystemTime::now();
        let me = std::process::id();
        assert!(started_at(me).is_some_and(|s| s <= now), "this process started before now");
        assert!(!gone_since(me, now));
        assert!(gone_since(me, now - Duration::from_secs(3600)), "a process started later has the pid");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(gone_since(pid, now));
        assert!(!gone_since(0, now));
        assert_ne!(pid_ns(), 0);
    }
}

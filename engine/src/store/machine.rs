//! Which machine, and which process on it, holds a lock. A database can
//! lose a holder's session (a restart, a dropped connection) while the
//! holder lives; on the holder's own machine its process says whether it
//! does: the same pid with the same start time is the same process (a pid
//! can be reused after a crash). "The same machine" is the kernel's boot
//! and pid namespace, not the host name: two containers may share a name,
//! not a pid space.

use std::sync::OnceLock;

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
}

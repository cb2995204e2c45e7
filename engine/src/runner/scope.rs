//! Signals from a contained step reach only its own processes.
//!
//! A contained step's shell joins the scenario's namespaces by `setns`,
//! which puts only its children in the PID namespace: the shell itself, and
//! whatever it `exec`s (`exec pkill -f node`), stays outside, and the kernel
//! lets a process signal any other of the same user, whatever the user
//! namespace. So each contained step is also put in a Landlock domain that
//! scopes signals (`LANDLOCK_SCOPE_SIGNAL`, Landlock ABI 6, Linux 6.12):
//! its processes can signal one another, the engine can signal them, but
//! `kill -1`, `pkill` or `kill PID` from a step reach no process outside it.
//! The ruleset is made once; the launcher's child enters it right after
//! `setns` (a raw system call: the child may not allocate).

use std::os::fd::RawFd;

/// The ruleset, or why there is none.
#[cfg(target_os = "linux")]
fn ruleset() -> &'static Result<std::os::fd::OwnedFd, String> {
    use landlock::{CompatLevel, Compatible, Ruleset, RulesetAttr, Scope};
    static RULESET: std::sync::OnceLock<Result<std::os::fd::OwnedFd, String>> = std::sync::OnceLock::new();
    RULESET.get_or_init(|| {
        let made = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .scope(Scope::Signal)
            .and_then(|r| r.create());
        match made {
            Ok(created) => Option::<std::os::fd::OwnedFd>::from(created).ok_or_else(unsupported),
            Err(e) => Err(format!("{}: {e}", unsupported())),
        }
    })
}

#[cfg(target_os = "linux")]
fn unsupported() -> String {
    "this kernel cannot scope a step's signals (Landlock ABI 6, Linux 6.12)".into()
}

/// The ruleset's descriptor for the launcher's child, if this kernel has one.
#[cfg(target_os = "linux")]
pub fn fd() -> Option<RawFd> {
    use std::os::fd::AsRawFd;
    ruleset().as_ref().ok().map(|f| f.as_raw_fd())
}

#[cfg(not(target_os = "linux"))]
pub fn fd() -> Option<RawFd> {
    None
}

/// Why a contained step could still signal processes outside its
/// scenario here, if it could.
pub fn unscoped() -> Option<String> {
    #[cfg(target_os = "linux")]
    return ruleset().as_ref().err().cloned();
    #[cfg(not(target_os = "linux"))]
    None
}

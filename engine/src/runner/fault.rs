//! Fault injection for the test suite: `RUNBOOK_FAULT=<fault>:<step>` makes
//! the engine fail on purpose where no input can make it fail, to prove what
//! happens then. Only in debug builds (what the tests run); a release build
//! has no such hook.
//!
//! - `step-panic:ID`: the task running step `ID` panics.
//! - `loop-panic:ID`: the play's loop panics as it starts step `ID`.
//! - `kill-after-end:ID`: the engine kills itself (SIGKILL) right after
//!   step `ID`'s end is handed to the store.
//! - `kill-before-spawned:ID`: the engine kills itself (SIGKILL) right after
//!   step `ID`'s process started, before its process group is recorded (it
//!   waits for its body then, or at its gate: `runner::step::ready`).
//! - `kill-after-spawn:ID`: the engine kills itself (SIGKILL) right after
//!   step `ID`'s process got its body (it runs on, the engine's child no
//!   more); `kill-after-retry:ID` the same for its second or a later
//!   attempt.
//! - `contain-setup:SCENARIO`: a rehearsal's containment of scenario
//!   `SCENARIO` fails after the probe said it can contain (the scenario
//!   then runs uncontained, and says so first).
//! - `contain-late-reset:1`: a contained rehearsal's namespace holder makes
//!   fresh what a scenario wrote only once the engine said what is next
//!   (the next scenario, or nothing: its stdin closed), so that the engine
//!   is done before the holder is.
//! - `spawn-pause:MS`: every child the engine starts waits MS milliseconds
//!   between its `clone` and its `execve` (when it shares the engine's
//!   descriptors, the play's lock included).

/// Is `fault` asked for at step `id`?
#[cfg(debug_assertions)]
pub fn at(fault: &str, id: &str) -> bool {
    std::env::var("RUNBOOK_FAULT").is_ok_and(|v| v.split_once(':').is_some_and(|(f, s)| f == fault && s == id))
}

#[cfg(not(debug_assertions))]
pub fn at(_: &str, _: &str) -> bool {
    false
}

/// The number given with `fault` (`spawn-pause:300` → 300), if asked for.
#[cfg(debug_assertions)]
pub fn value(fault: &str) -> Option<u32> {
    static V: std::sync::OnceLock<Option<(String, u32)>> = std::sync::OnceLock::new();
    let v = V.get_or_init(|| {
        let s = std::env::var("RUNBOOK_FAULT").ok()?;
        let (f, n) = s.split_once(':')?;
        Some((f.to_string(), n.parse().ok()?))
    });
    v.as_ref().filter(|(f, _)| f == fault).map(|&(_, n)| n)
}

#[cfg(not(debug_assertions))]
pub fn value(_: &str) -> Option<u32> {
    None
}

//! Fault injection for the test suite: `RUNBOOK_FAULT=<fault>:<step>` makes
//! the engine fail on purpose where no input can make it fail, to prove what
//! happens then. Only in debug builds (what the tests run); a release build
//! has no such hook.
//!
//! - `step-panic:ID`: the task running step `ID` panics.
//! - `loop-panic:ID`: the play's loop panics as it starts step `ID`.

/// Is `fault` asked for at step `id`?
#[cfg(debug_assertions)]
pub fn at(fault: &str, id: &str) -> bool {
    std::env::var("RUNBOOK_FAULT").is_ok_and(|v| v.split_once(':').is_some_and(|(f, s)| f == fault && s == id))
}

#[cfg(not(debug_assertions))]
pub fn at(_: &str, _: &str) -> bool {
    false
}

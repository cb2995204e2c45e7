//! The reporters of a real play: spinners on a terminal ([`term`]), plain
//! lines prefixed with the step id otherwise ([`plain`]).

pub mod plain;
pub mod term;

use std::io::IsTerminal;

use super::Reporter;

/// The reporter for this process's stdout; `recorded`: the run is kept
/// (false for a rehearsal's, whose id is not shown).
pub fn for_stdout(recorded: bool) -> Box<dyn Reporter> {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    match (std::io::stdout().is_terminal(), recorded) {
        (true, true) => Box::new(term::Term::new(color)),
        (true, false) => Box::new(term::Term::new(color).not_recorded()),
        (false, true) => Box::new(plain::Plain::new(std::io::stdout())),
        (false, false) => Box::new(plain::Plain::new(std::io::stdout()).not_recorded()),
    }
}

/// The closing screen, shared by both reporters: the count, what failed
/// (once), the escalation hints, and what to type next.
pub fn summary(o: &super::Outcome) -> Vec<String> {
    use super::StepStatus::*;
    // Steps only, as the report counts them: undo blocks that ran are listed
    // as rolled back below, and those that never ran are "not run" without
    // a reason.
    let steps = || o.steps.iter().filter(|(id, _)| !o.rolled_back.contains(id)).map(|(_, r)| r);
    let count = |st| steps().filter(|r| r.status == st && (st != NotRun || r.reason.is_some())).count();
    let mut parts = vec![format!("{} passed", count(Passed))];
    for (st, name) in [(Failed, "failed"), (Skipped, "skipped"), (Interrupted, "interrupted"), (NotRun, "not run")] {
        let n = count(st);
        if n > 0 {
            parts.push(format!("{n} {name}"));
        }
    }
    let run = if o.recorded { format!("run {}", o.run_id) } else { "a rehearsal: not recorded".into() };
    let mut out = vec![format!("play {}: {} ({run})", o.status.name(), parts.join(", "))];
    let mut failed = Vec::new();
    for (id, r) in &o.steps {
        if r.status == Failed && !o.rolled_back.contains(id) {
            failed.push(id.as_str());
            out.push(format!("  failed: {id}{}", r.reason.as_deref().map(|x| format!(" — {x}")).unwrap_or_default()));
        }
    }
    // The reason the play stopped, unless it only repeats a failure above.
    if let Some(m) = &o.message
        && !failed.iter().any(|f| m.starts_with(&format!("step `{f}` failed")))
    {
        out.push(format!("  {}", m.lines().next().unwrap_or("")));
    }
    for (id, e) in &o.escalate {
        out.push(format!("  escalate ({id}): {e}"));
    }
    if !o.rolled_back.is_empty() {
        out.push(format!("  rolled back: {}", o.rolled_back.join(", ")));
    }
    if !o.next.is_empty() {
        out.push("next:".into());
        let w = o.next.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
        for (c, what) in &o.next {
            out.push(format!("  {c:<w$}   {what}"));
        }
    }
    out
}

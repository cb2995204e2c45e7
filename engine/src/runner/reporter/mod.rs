//! The reporters of a real play: spinners on a terminal ([`term`]), plain
//! lines prefixed with the step id otherwise ([`plain`]). Neither panics
//! when its terminal or pipe is gone: a lost line is not worth a crash.

pub mod plain;
mod screen;
pub mod term;

use std::io::IsTerminal;

use super::Reporter;

/// The reporter for this process's stdout; `recorded`: the run is kept
/// (false for a rehearsal's, whose id is not shown).
pub fn for_stdout(recorded: bool) -> Box<dyn Reporter> {
    let color = crate::stdout::colour_allowed();
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
    // Another engine has the run: that is all there is to say here.
    if let Some(line) = &o.taken_over {
        return vec![line.clone()];
    }
    // Steps only, as the report counts them: the undo blocks of the rollback
    // are listed with it below, and those that never ran are "not run"
    // without a reason.
    let undo = |id: &String| o.rolled_back.contains(id) || o.rollback_incomplete.contains(id);
    let steps = || o.steps.iter().filter(|(id, _)| !undo(id)).map(|(_, r)| r);
    // A step the mode left out is counted apart, as the report does.
    let count = |st| steps().filter(|r| !r.left_out && r.status == st && (st != NotRun || r.reason.is_some())).count();
    let mut parts = vec![format!("{} passed", count(Passed))];
    for (st, name) in [(Failed, "failed"), (Skipped, "skipped"), (Interrupted, "interrupted"), (NotRun, "not run")] {
        let n = count(st);
        if n > 0 {
            parts.push(format!("{n} {name}"));
        }
    }
    let left_out = steps().filter(|r| r.left_out).count();
    if left_out > 0 {
        parts.push(format!("{left_out} left out"));
    }
    let run = if o.recorded { format!("run {}", o.run_id) } else { "a rehearsal: not recorded".into() };
    let mut out = vec![format!("play {}: {} ({run})", o.status.name(), parts.join(", "))];
    let mut failed = Vec::new();
    for (id, r) in &o.steps {
        if r.status == Failed && !undo(id) {
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
    if let Some(l) = &o.output_lost {
        out.push(format!("  not recorded: {l}"));
    }
    if let Some(line) = rollback(o) {
        out.push(format!("  {line}"));
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

/// What the rollback came to: `rolled back: a, b`, or, when an undo block
/// did not pass, `rollback incomplete: b failed (exit 4); rolled back: a`.
fn rollback(o: &super::Outcome) -> Option<String> {
    let done = (!o.rolled_back.is_empty()).then(|| format!("rolled back: {}", o.rolled_back.join(", ")));
    if o.rollback_incomplete.is_empty() {
        return done;
    }
    let left: Vec<String> = o
        .rollback_incomplete
        .iter()
        .map(|id| match o.steps.get(id) {
            Some(r) => {
                let status = r.status.name().replace('-', " ");
                let why = r.reason.as_deref().filter(|x| *x != status).map(|x| format!(" ({x})"));
                format!("{id} {status}{}", why.unwrap_or_default())
            }
            None => format!("{id} not run"),
        })
        .collect();
    let mut line = format!("rollback incomplete: {}", left.join(", "));
    if let Some(d) = done {
        line.push_str(&format!("; {d}"));
    }
    Some(line)
}

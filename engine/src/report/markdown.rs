//! The incident report as markdown, meant to be pasted into an incident
//! document: a header table (runbook, env, vars, sessions), a summary with
//! the failures first and each step once, the approvals (who answered what,
//! how, when), a timeline table (step ends and where each session ended),
//! then each step with its command and the tail of its output.

use super::timeline::{Row, rows};
use super::times::{clock, duration as dur, span, utc};
use super::{Entry, Report, Session, Shown};

/// Text in a table cell: a `|` cannot end the cell, a newline the row, and
/// `<`/`&` show as typed (a confirm text or an operator's name is text, not
/// markup for whoever pastes the report into the incident doc).
fn cell(s: &str) -> String {
    code_cell(&s.replace('&', "&amp;").replace('<', "&lt;"))
}

/// Text that may hold code spans (a note, a reason, a value in backticks)
/// in a table cell: only `|` and newlines need care (a code span would show
/// `&lt;` as typed).
fn code_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Inline code that its content cannot close (a value may hold backticks);
/// a multi-line value is shown on one line.
fn code(s: &str) -> String {
    let s = s.replace('\n', " ⏎ ");
    let mut ticks = 1;
    while s.contains(&"`".repeat(ticks)) {
        ticks += 1;
    }
    let f = "`".repeat(ticks);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{f}{pad}{s}{pad}{f}")
}

pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    o.push_str(&format!("# Incident timeline: {} @ {}\n\n", r.runbook, r.env));
    o.push_str("| | |\n|---|---|\n");
    if r.versions.len() < 2 {
        o.push_str(&format!("| Runbook | `{}` ({}, sha256 `{}`) |\n", r.runbook, r.path, short(&r.hash)));
    } else {
        // Edited between sessions: each version with the sessions that played it.
        let each: Vec<String> =
            r.versions.iter().map(|v| format!("`{}` ({})", short(&v.hash), sessions_said(&v.sessions))).collect();
        o.push_str(&format!("| Runbook | `{}` ({}), sha256 {} |\n", r.runbook, r.path, each.join(" then ")));
    }
    o.push_str(&format!("| Run | `{}` |\n", r.run));
    o.push_str(&format!("| Environment | {} |\n", r.env));
    o.push_str(&format!("| Operator | {} |\n", cell(&r.operator)));
    o.push_str(&format!("| Started | {} |\n", utc(&r.started)));
    if let Some(e) = &r.ended {
        let span = span(&r.started, e).map(|d| format!(" ({d})"));
        o.push_str(&format!("| Ended | {}{} |\n", utc(e), span.unwrap_or_default()));
    }
    for ss in r.sessions.iter().skip(1) {
        let what = match ss.kind.as_str() {
            "continue" => "Continued",
            "take-over" => "Taken over",
            _ => "Resumed",
        };
        o.push_str(&format!("| {what} | {} by {} (session {}) |\n", utc(&ss.at), cell(&ss.operator), ss.n));
    }
    for ss in &r.sessions {
        if let Some(g) = &ss.guard {
            let label = if r.sessions.len() > 1 { format!("Guard (session {})", ss.n) } else { "Guard".into() };
            o.push_str(&format!("| {label} | {} |\n", code_cell(&guard(g))));
        }
    }
    // A session that narrowed the mode (`--resume --from c`) is told apart:
    // the run was not played in that mode from its start.
    if r.sessions.windows(2).any(|w| w[0].mode != w[1].mode) {
        let each: Vec<String> = r
            .sessions
            .iter()
            .map(|ss| {
                let m = if ss.mode.is_empty() { "every step".to_string() } else { format!("`{}`", ss.mode.join(" ")) };
                format!("session {}: {m}", ss.n)
            })
            .collect();
        o.push_str(&format!("| Mode | {} |\n", each.join("; ")));
    } else if !r.mode.is_empty() {
        o.push_str(&format!("| Mode | `{}` |\n", r.mode.join(" ")));
    }
    let rollback = if r.rolled_back {
        " (rolled back)".to_string()
    } else if !r.rollback_incomplete.is_empty() {
        format!(" (rollback incomplete: {})", undo_list(r))
    } else {
        String::new()
    };
    o.push_str(&format!("| Status | **{}**{rollback} |\n", r.status));
    if !r.vars.is_empty() {
        let v: Vec<String> = r
            .vars
            .iter()
            .map(|(k, v)| match r.var_changes.get(k) {
                // Each value with its session: what the steps ran with.
                Some(values) => values
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let shown = if i == 0 { format!("{k}={}", s.value.text()) } else { s.value.text() };
                        let from = super::vars::origin(k, &s.value.origin);
                        let from = if from.is_empty() { String::new() } else { format!(", {from}") };
                        format!("{} (session {}{from})", code_cell(&code(&shown)), s.session)
                    })
                    .collect::<Vec<_>>()
                    .join(" then "),
                None => code_cell(&code(&format!("{k}={}", v.text()))),
            })
            .collect();
        o.push_str(&format!("| Variables | {} |\n", v.join(", ")));
    }
    o.push_str("\n## Summary\n\n");
    // Each step once, as the run left it; its failures from the timeline.
    let last_end = |id: &str| r.timeline.iter().rev().find(|e| e.step == id);
    let failed: Vec<&Entry> =
        r.steps.iter().filter(|s| s.status == Shown::Failed).filter_map(|s| last_end(&s.step)).collect();
    for e in &failed {
        o.push_str(&format!(
            "- **failed** `{}`{} at {}{}{}\n",
            e.step,
            if e.undo { " (undo)" } else { "" },
            clock(e.ended.as_deref().unwrap_or_default()),
            e.exit.map(|c| format!(", exit {c}")).unwrap_or_default(),
            detail(e).map(|x| format!(": {x}")).unwrap_or_default()
        ));
    }
    for s in r.steps.iter().filter(|s| s.status == Shown::Interrupted) {
        o.push_str(&format!("- **interrupted** `{}`\n", s.step));
    }
    for s in r.steps.iter().filter(|s| s.status == Shown::Running) {
        let since = last_end(&s.step).and_then(|e| e.started.as_deref()).map(|t| format!(" since {}", clock(t)));
        o.push_str(&format!("- **running** `{}`{}\n", s.step, since.unwrap_or_default()));
    }
    // The steps of the runbook the latest session played, as `runs` counts
    // them; those renamed or removed since are listed apart, those left
    // out by the mode with their reasons below.
    let c = &r.counts;
    let mut counts =
        format!("- {} passed, {} failed, {} skipped, {} not run", c.passed, c.failed, c.skipped, c.not_run);
    // A run stopped under a step, and, while the engine plays, what it is
    // running and what it may still run.
    for (n, what) in [(c.interrupted, "interrupted"), (c.running, "running"), (c.pending, "pending")] {
        if n > 0 {
            counts.push_str(&format!(", {n} {what}"));
        }
    }
    o.push_str(&counts);
    o.push('\n');
    let dropped: Vec<String> = r
        .steps
        .iter()
        .filter_map(|s| {
            let n = s.dropped?;
            Some(match s.sessions.last() {
                Some(ran) => format!("`{}` {} in session {ran}", s.step, s.status.name().replace('-', " ")),
                None => format!("`{}` planned in session {n}, never run", s.step),
            })
        })
        .collect();
    if !dropped.is_empty() {
        o.push_str(&format!("- no longer in the runbook: {}\n", dropped.join(", ")));
    }
    // Each reason once, with the steps it left out.
    let mut left_out: Vec<(&str, Vec<String>)> = Vec::new();
    for s in r.steps.iter().filter(|s| s.dropped.is_none()) {
        let Some(why) = s.excluded.as_deref() else { continue };
        match left_out.iter_mut().find(|(w, _)| *w == why) {
            Some((_, ids)) => ids.push(format!("`{}`", s.step)),
            None => left_out.push((why, vec![format!("`{}`", s.step)])),
        }
    }
    if !left_out.is_empty() {
        let n: usize = left_out.iter().map(|(_, ids)| ids.len()).sum();
        let parts: Vec<String> = left_out.iter().map(|(why, ids)| format!("{} ({why})", ids.join(", "))).collect();
        o.push_str(&format!("- {n} left out: {}\n", parts.join("; ")));
    }
    let again: Vec<String> = r
        .steps
        .iter()
        .filter(|s| s.sessions.len() > 1)
        .map(|s| {
            let sessions: Vec<String> = s.sessions.iter().map(u32::to_string).collect();
            format!("`{}` (sessions {}; {} runs)", s.step, and_list(&sessions), s.runs)
        })
        .collect();
    if !again.is_empty() {
        o.push_str(&format!("- in more than one session: {}\n", again.join(", ")));
    }
    if r.versions.len() > 1 {
        let each: Vec<String> = r
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let ran = if v.steps.is_empty() {
                    "no step".to_string()
                } else {
                    v.steps.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                };
                let sha = if i == 0 { "sha256 " } else { "" };
                format!("under {sha}`{}` ({}) ran {ran}", short(&v.hash), sessions_said(&v.sessions))
            })
            .collect();
        o.push_str(&format!("- the runbook changed between sessions: {}\n", each.join("; ")));
    }
    let undos: Vec<String> =
        r.steps.iter().filter(|s| s.undo).map(|s| format!("`{}` {}", s.step, s.status.name())).collect();
    if !undos.is_empty() {
        o.push_str(&format!("- rollback: {}\n", undos.join(", ")));
    }
    if !r.rollback_incomplete.is_empty() {
        let left: Vec<String> = r.rollback_incomplete.iter().map(|u| format!("`{u}`")).collect();
        if r.resumable {
            // A run without an env profile is `local`: no `--env` gives it again.
            let env = if r.env == crate::runner::LOCAL_ENV { String::new() } else { format!(" --env {}", r.env) };
            o.push_str(&format!(
                "- the rollback is incomplete: `runbook play {}{env} --resume` offers {} again\n",
                r.runbook,
                left.join(", ")
            ));
        } else {
            o.push_str(&format!(
                "- the rollback is incomplete and was stopped: undo by hand what {} would have undone\n",
                left.join(", ")
            ));
        }
    }
    // The play's stop reason, unless it only repeats a failure listed above.
    if let Some(m) = &r.message
        && !failed.iter().any(|e| m.starts_with(&format!("step `{}` failed", e.step)))
    {
        o.push_str(&format!("- {}\n", m.lines().next().unwrap_or("")));
    }
    if !r.approvals.is_empty() {
        o.push_str(
            "\n## Approvals\n\n| Time (UTC) | Step | Question | Answer | How | By |\n|---|---|---|---|---|---|\n",
        );
        for a in &r.approvals {
            let how = match a.how_said.as_str() {
                flag if flag.starts_with("--") => format!("`{flag}`"),
                words => words.to_string(),
            };
            let step = a.step.as_deref().map(|s| format!("`{s}`")).unwrap_or_else(|| "(the play)".into());
            let mut question = match &a.confirm {
                Some(c) => format!("{} \"{}\"", a.question, cell(c)),
                None => a.question.clone(),
            };
            if let Some(run) = &a.run {
                question.push_str(&format!(" run `{run}`"));
            }
            if let Some(var) = &a.var {
                question.push_str(&format!(" `{var}`"));
            }
            o.push_str(&format!(
                "| {} | {step} | {question} | **{}** | {how} | {} |\n",
                clock(&a.at),
                a.reply,
                cell(&a.by)
            ));
        }
    }
    o.push_str("\n## Timeline\n\n| Time (UTC) | Step | Status | Exit | Duration | Note |\n|---|---|---|---|---|---|\n");
    for row in rows(&r.timeline, &r.sessions) {
        match row {
            Row::Step(e) => o.push_str(&format!(
                "| {} | `{}`{} | {} | {} | {} | {} |\n",
                clock(at(&e)),
                e.step,
                if e.undo { " (undo)" } else { "" },
                e.status.name(),
                e.exit.map(|c| c.to_string()).unwrap_or_default(),
                dur(e.duration_ms),
                code_cell(&note(&e))
            )),
            Row::Session(s) => o.push_str(&session_end(&s)),
        }
    }
    if !r.notes.is_empty() {
        o.push_str("\n## Notes\n\n");
        for n in &r.notes {
            let who = n.step.as_deref().map(|s| format!("`{s}`: ")).unwrap_or_default();
            o.push_str(&format!("- {} {who}{}\n", clock(&n.at), n.text));
        }
    }
    o.push_str("\n## Steps\n");
    for e in r.timeline.iter().filter(|e| e.started.is_some() && !e.command.is_empty()) {
        o.push_str(&format!(
            "\n### {} `{}`{} — {}\n\n",
            utc(at(e)),
            e.step,
            if e.undo { " (undo)" } else { "" },
            e.status.name()
        ));
        let mut facts = Vec::new();
        if let Some(n) = e.attempt {
            let what = if e.undo { "undo" } else { "attempt" };
            facts.push(format!("{what} {n} (session {}, {})", e.session, e.operator));
        } else if r.sessions.len() > 1 {
            facts.push(format!("session {}, {}", e.session, e.operator));
        }
        if let Some(c) = e.exit {
            facts.push(format!("exit {c}"));
        }
        if e.duration_ms.is_some() {
            facts.push(dur(e.duration_ms));
        }
        if let Some(n) = e.attempts {
            facts.push(format!("{n} attempts{}", exits(e)));
        }
        if let Some(x) = detail(e) {
            facts.push(x.to_string());
        }
        if !facts.is_empty() {
            o.push_str(&format!("{}\n\n", facts.join(" · ")));
        }
        if !e.captures.is_empty() {
            let c: Vec<String> = e.captures.iter().map(|(k, v)| format!("`{k}` = {}", code(v))).collect();
            o.push_str(&format!("Captured: {}\n\n", c.join(", ")));
        }
        if let Some((label, url)) = &e.link {
            o.push_str(&format!("[{label}]({url})\n\n"));
        }
        let lang = match &e.link {
            Some((label, _)) if label.starts_with("Prometheus") => "promql",
            Some(_) => "logql",
            None => e.lang.as_deref().unwrap_or("bash"),
        };
        o.push_str(&fence(&e.command, lang));
        if !e.tail.trim().is_empty() {
            o.push_str("\nOutput (last lines):\n\n");
            o.push_str(&fence(&e.tail, "text"));
        }
    }
    o
}

/// A runbook's sha256 as the report shows it: its first 12 digits.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// `session 1`, `sessions 2 and 3`.
fn sessions_said(sessions: &[u32]) -> String {
    let n: Vec<String> = sessions.iter().map(u32::to_string).collect();
    format!("{} {}", if n.len() == 1 { "session" } else { "sessions" }, and_list(&n))
}

/// `1, 2 and 3`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// When a step's row is: its start, or its end when it was decided without
/// running.
fn at(e: &Entry) -> &str {
    e.started.as_deref().or(e.ended.as_deref()).unwrap_or_default()
}

/// A session's guard: `` `cmd` printed `prod-eu1`, expected `^prod-`: passed``
/// (why a guard refused is the run's message).
fn guard(g: &crate::run::event::Guard) -> String {
    format!(
        "{} printed {}, expected {}: {}",
        code(&g.command),
        code(g.output.trim_end()),
        code(&g.expect),
        if g.passed { "passed" } else { "refused" }
    )
}

/// The undo blocks of an incomplete rollback and what they came to:
/// `` `undo-b` failed``.
fn undo_list(r: &Report) -> String {
    let status = |u: &str| r.steps.iter().find(|s| s.step == u).map_or("not run", |s| s.status.name());
    let v: Vec<String> =
        r.rollback_incomplete.iter().map(|u| format!("`{u}` {}", status(u).replace('-', " "))).collect();
    v.join(", ")
}

/// A session's end in the timeline: when, how, why, as the report tells
/// it ([`super::Session::end_at`]) for every view.
fn session_end(s: &Session) -> String {
    let (span, note) = duration_and_note(&Row::Session(s.clone()));
    format!(
        "| {} | *session {} ended* | {} |  | {span} | {} |\n",
        clock(s.end_at.as_deref().unwrap_or_default()),
        s.n,
        s.status.replace('-', " "),
        code_cell(&note)
    )
}

/// What the timeline's Duration and Note columns say of a row, in every
/// view: a step's time and what its exit code does not say; a session's
/// span and why it ended.
pub fn duration_and_note(row: &Row) -> (String, String) {
    match row {
        Row::Step(e) => (dur(e.duration_ms), note(e)),
        Row::Session(s) => {
            let span = s.ended.as_deref().and_then(|b| span(&s.at, b));
            (span.unwrap_or_else(|| "–".into()), s.end_note.clone().unwrap_or_default())
        }
    }
}

/// A step's reason beyond its exit code, which has its own column: none
/// for `exit 1`, `command not found: kubctl at runbooks/k.md:4` for `exit
/// 127: command not found: kubctl at runbooks/k.md:4`.
fn detail(e: &Entry) -> Option<&str> {
    let r = e.reason.as_deref()?;
    match r.strip_prefix("exit ") {
        Some(rest) => rest.split_once(": ").map(|(_, d)| d),
        None => Some(r),
    }
}

/// The timeline's note on a step: its reason (an exit code has its own
/// column), how many attempts it took, if more than one, and when its start
/// was recorded, if it began a second or more after that.
fn note(e: &Entry) -> String {
    let reason = detail(e);
    let tries = e.attempts.map(|n| format!("{n} attempts{}", exits(e)));
    let mut n = match (tries, reason) {
        (Some(n), Some(r)) => format!("{r} ({n})"),
        (Some(n), None) => n,
        (None, r) => r.unwrap_or("").to_string(),
    };
    if let Some(r) = &e.recorded {
        let sep = if n.is_empty() { "" } else { "; " };
        n.push_str(&format!("{sep}start recorded at {}", clock(r)));
    }
    n
}

/// A fenced block that its content cannot close.
fn fence(text: &str, lang: &str) -> String {
    let mut ticks = 3;
    while text.contains(&"`".repeat(ticks)) {
        ticks += 1;
    }
    let f = "`".repeat(ticks);
    format!("{f}{lang}\n{}\n{f}\n", text.trim_end())
}

/// Each attempt's exit, when the journal has them: `: exit 3, 4, 5` (a
/// signal's end as `signal`).
fn exits(e: &Entry) -> String {
    if e.exits.is_empty() {
        return String::new();
    }
    let each: Vec<String> = e.exits.iter().map(|x| x.map_or_else(|| "signal".to_string(), |c| c.to_string())).collect();
    format!(": exit {}", each.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_sessions_reads_as_one() {
        let l = |v: &[&str]| and_list(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!((l(&["1", "2"]), l(&["1", "2", "3"])), ("1 and 2".to_string(), "1, 2 and 3".to_string()));
    }

    #[test]
    fn prose_in_a_cell_is_text_and_code_keeps_its_characters() {
        assert_eq!(cell("<b>alice</b> | bob & co\nx"), "&lt;b>alice&lt;/b> \\| bob &amp; co x");
        assert_eq!(code_cell("expect `value < 0.5` | x"), "expect `value < 0.5` \\| x");
    }
}

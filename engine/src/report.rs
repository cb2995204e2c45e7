//! Recorded runs (`runbook runs`) and the incident timeline of one run
//! (`runbook report RUN_ID`), both read from the journals (SPEC §6).
//!
//! The markdown is meant to be pasted into an incident document: a header
//! table (runbook, env, vars, operator, start/end UTC), a summary with the
//! failures first, a timeline table, then each step with its command and the
//! tail of its output. Everything comes from the journal, which never holds
//! a secret, so neither does the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Diagnostic, Error, Result};
use crate::runner::StepStatus;
use crate::runner::journal::{self, Record, RunLog};

/// A run as listed by `runbook runs`.
#[derive(Debug, Serialize)]
pub struct RunRow {
    pub run: String,
    pub runbook: String,
    pub env: String,
    /// passed, failed, interrupted, refused, running, or `unfinished` (crashed: resumable).
    pub status: String,
    pub operator: String,
    pub started: String,
    pub ended: Option<String>,
    pub passed: usize,
    pub failed: usize,
    pub steps: usize,
    pub resumable: bool,
    pub dir: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn status_of(log: &RunLog) -> String {
    match &log.status {
        Some(s) => s.clone(),
        None if crate::runner::lock::alive(log.pid) && log.pid != std::process::id() => "running".into(),
        None => "unfinished".into(),
    }
}

/// Every recorded run, oldest first. An unreadable journal is listed with
/// its error.
pub fn list(state: &Path) -> Vec<RunRow> {
    journal::run_dirs(state)
        .into_iter()
        .map(|dir| {
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            match journal::read(&dir.join(journal::FILE)) {
                Ok(records) => {
                    let log = RunLog::from_records(&records);
                    let count = |st| log.steps.values().filter(|s| s.status == Some(st) && !s.undo).count();
                    RunRow {
                        run: log.run_id.clone(),
                        runbook: log.runbook.clone(),
                        env: log.env.clone(),
                        status: status_of(&log),
                        operator: log.operator.clone(),
                        started: log.started.clone(),
                        ended: log.ended.clone(),
                        passed: count(StepStatus::Passed),
                        failed: count(StepStatus::Failed),
                        steps: log.steps.values().filter(|s| !s.undo).count(),
                        resumable: log.resumable(),
                        dir,
                        error: None,
                    }
                }
                Err(e) => RunRow {
                    run: name,
                    runbook: String::new(),
                    env: String::new(),
                    status: "corrupt".into(),
                    operator: String::new(),
                    started: String::new(),
                    ended: None,
                    passed: 0,
                    failed: 0,
                    steps: 0,
                    resumable: false,
                    dir,
                    error: Some(e.to_string()),
                },
            }
        })
        .collect()
}

/// A run directory by id, unique prefix, or `latest`.
pub fn find(state: &Path, arg: &str) -> Result<PathBuf> {
    let dirs = journal::run_dirs(state);
    let name = |d: &PathBuf| d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if arg == "latest" {
        // Newest by start time; ids sort by time.
        return dirs.last().cloned().ok_or_else(|| no_runs(state));
    }
    if let Some(d) = dirs.iter().find(|d| name(d) == arg) {
        return Ok(d.clone());
    }
    let m: Vec<&PathBuf> = dirs.iter().filter(|d| name(d).starts_with(arg)).collect();
    match m.as_slice() {
        [one] => Ok((*one).clone()),
        [] if dirs.is_empty() => Err(no_runs(state)),
        [] => Err(Error::invalid(
            Diagnostic::error("unknown-run", format!("no run `{arg}` in {}", state.join("runs").display()))
                .hint("`runbook runs` lists the runs; `runbook report latest` shows the newest"),
        )),
        many => Err(Error::invalid(
            Diagnostic::error(
                "ambiguous-run",
                format!(
                    "`{arg}` matches {} runs: {}",
                    many.len(),
                    many.iter().map(|d| name(d)).collect::<Vec<_>>().join(", ")
                ),
            )
            .hint("type more of the run id"),
        )),
    }
}

fn no_runs(state: &Path) -> Error {
    Error::invalid(
        Diagnostic::error("no-runs", format!("no recorded runs in {}", state.join("runs").display()))
            .hint("runs are recorded by `runbook play`"),
    )
}

/// One step's entry in the timeline.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub step: String,
    pub undo: bool,
    pub started: Option<String>,
    pub ended: String,
    pub status: StepStatus,
    pub exit: Option<i32>,
    pub duration_ms: Option<u64>,
    pub command: String,
    pub reason: Option<String>,
    /// Values the step captured (`capture=`), as the journal has them (secrets redacted).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub captures: BTreeMap<String, String>,
    pub tail: String,
    /// The step's language when it is not bash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Attempts made, when `retry` took more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// promql/logql steps: the dashboard view of the query and its window, `(label, url)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<(String, String)>,
}

#[derive(Debug, Serialize)]
pub struct Note {
    pub at: String,
    pub step: Option<String>,
    pub text: String,
}

/// The report of one run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub run: String,
    pub runbook: String,
    pub path: String,
    pub hash: String,
    pub env: String,
    pub vars: std::collections::BTreeMap<String, journal::VarRecord>,
    pub operator: String,
    pub started: String,
    pub ended: Option<String>,
    pub status: String,
    pub rolled_back: bool,
    pub message: Option<String>,
    /// (at, operator) of each resume.
    pub resumes: Vec<(String, String)>,
    /// Every step end, in the order it happened (a step resumed after a crash appears once per end).
    pub timeline: Vec<Entry>,
    pub notes: Vec<Note>,
}

pub fn load(dir: &Path) -> Result<Report> {
    let records = journal::read(&dir.join(journal::FILE))?;
    let log = RunLog::from_records(&records);
    let mut timeline = Vec::new();
    let mut notes = Vec::new();
    let mut starts: std::collections::HashMap<String, (String, String, Option<String>)> = Default::default();
    for r in &records {
        match r {
            Record::StepStart { step, command, at, lang, .. } => {
                starts.insert(step.clone(), (at.clone(), command.clone(), lang.clone()));
            }
            Record::StepEnd { step, status, exit, duration_ms, reason, tail, undo, at, captures, attempts, .. } => {
                let (started, command, lang) = match starts.remove(step) {
                    Some((s, c, l)) => (Some(s), c, l),
                    None => (None, String::new(), None),
                };
                timeline.push(Entry {
                    step: step.clone(),
                    undo: *undo,
                    started,
                    ended: at.clone(),
                    status: *status,
                    exit: *exit,
                    duration_ms: *duration_ms,
                    command,
                    reason: reason.clone(),
                    captures: captures.clone(),
                    tail: tail.clone(),
                    attempts: (*attempts > 1).then_some(*attempts),
                    lang,
                    link: None,
                });
            }
            Record::Note { step, text, at } => {
                notes.push(Note { at: at.clone(), step: step.clone(), text: text.clone() })
            }
            _ => {}
        }
    }
    // Steps that started and never ended (the engine was killed).
    for (step, (at, command, lang)) in starts {
        timeline.push(Entry {
            step,
            undo: false,
            started: Some(at.clone()),
            ended: at,
            status: StepStatus::Interrupted,
            exit: None,
            duration_ms: None,
            command,
            reason: Some("in flight when the engine stopped (no end recorded)".into()),
            captures: BTreeMap::new(),
            tail: String::new(),
            attempts: None,
            lang,
            link: None,
        });
    }
    let root = dir.ancestors().nth(3);
    let links = crate::observe::report::Links::new(Path::new(&log.path), root, &log.vars);
    for e in &mut timeline {
        e.link = links.link(&e.step, &e.command, e.started.as_deref(), &e.ended);
    }
    Ok(Report {
        status: status_of(&log),
        run: log.run_id,
        runbook: log.runbook,
        path: log.path,
        hash: log.hash,
        env: log.env,
        vars: log.vars,
        operator: log.operator,
        started: log.started,
        ended: log.ended,
        rolled_back: log.rolled_back,
        message: log.message,
        resumes: log.resumes,
        timeline,
        notes,
    })
}

/// `2026-11-28T03:15:00.123Z` → `2026-11-28 03:15:00 UTC`
pub fn utc(t: &str) -> String {
    let t = t.trim_end_matches('Z');
    let t = t.split('.').next().unwrap_or(t);
    format!("{} UTC", t.replace('T', " "))
}

fn clock(t: &str) -> String {
    utc(t).split(' ').nth(1).unwrap_or("").to_string()
}

fn dur(ms: Option<u64>) -> String {
    ms.map(|m| crate::runner::time::short(std::time::Duration::from_millis(m))).unwrap_or_else(|| "–".into())
}

fn cell(s: &str) -> String {
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
    o.push_str(&format!("| Runbook | `{}` ({}, sha256 `{}`) |\n", r.runbook, r.path, &r.hash[..r.hash.len().min(12)]));
    o.push_str(&format!("| Run | `{}` |\n", r.run));
    o.push_str(&format!("| Environment | {} |\n", r.env));
    o.push_str(&format!("| Operator | {} |\n", r.operator));
    o.push_str(&format!("| Started | {} |\n", utc(&r.started)));
    if let Some(e) = &r.ended {
        let span = match (crate::runner::time::parse(&r.started), crate::runner::time::parse(e)) {
            (Some(a), Some(b)) => b.duration_since(a).ok().map(|d| format!(" ({})", crate::runner::time::short(d))),
            _ => None,
        };
        o.push_str(&format!("| Ended | {}{} |\n", utc(e), span.unwrap_or_default()));
    }
    for (at, who) in &r.resumes {
        o.push_str(&format!("| Resumed | {} by {} |\n", utc(at), who));
    }
    o.push_str(&format!("| Status | **{}**{} |\n", r.status, if r.rolled_back { " (rolled back)" } else { "" }));
    if !r.vars.is_empty() {
        let v: Vec<String> = r.vars.iter().map(|(k, v)| format!("`{}={}`", k, cell(&v.value))).collect();
        o.push_str(&format!("| Variables | {} |\n", v.join(", ")));
    }
    o.push_str("\n## Summary\n\n");
    let failed: Vec<&Entry> = r.timeline.iter().filter(|e| e.status == StepStatus::Failed).collect();
    for e in &failed {
        o.push_str(&format!(
            "- **failed** `{}`{} at {}{}{}\n",
            e.step,
            if e.undo { " (undo)" } else { "" },
            clock(&e.ended),
            e.exit.map(|c| format!(", exit {c}")).unwrap_or_default(),
            e.reason.as_deref().filter(|x| !x.starts_with("exit ")).map(|x| format!(": {x}")).unwrap_or_default()
        ));
    }
    for e in r.timeline.iter().filter(|e| e.status == StepStatus::Interrupted) {
        o.push_str(&format!("- **interrupted** `{}` at {}\n", e.step, clock(&e.ended)));
    }
    let count = |st: StepStatus| r.timeline.iter().filter(|e| e.status == st && !e.undo).count();
    o.push_str(&format!(
        "- {} passed, {} failed, {} skipped, {} not run\n",
        count(StepStatus::Passed),
        count(StepStatus::Failed),
        count(StepStatus::Skipped),
        count(StepStatus::NotRun)
    ));
    let undos: Vec<String> =
        r.timeline.iter().filter(|e| e.undo).map(|e| format!("`{}` {}", e.step, e.status.name())).collect();
    if !undos.is_empty() {
        o.push_str(&format!("- rollback: {}\n", undos.join(", ")));
    }
    // The play's stop reason, unless it only repeats a failure listed above.
    if let Some(m) = &r.message
        && !failed.iter().any(|e| m.starts_with(&format!("step `{}` failed", e.step)))
    {
        o.push_str(&format!("- {}\n", m.lines().next().unwrap_or("")));
    }
    o.push_str("\n## Timeline\n\n| Time (UTC) | Step | Status | Exit | Duration | Note |\n|---|---|---|---|---|---|\n");
    for e in &r.timeline {
        let at = e.started.as_deref().unwrap_or(&e.ended);
        o.push_str(&format!(
            "| {} | `{}`{} | {} | {} | {} | {} |\n",
            clock(at),
            e.step,
            if e.undo { " (undo)" } else { "" },
            e.status.name(),
            e.exit.map(|c| c.to_string()).unwrap_or_default(),
            dur(e.duration_ms),
            cell(&note(e))
        ));
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
        let at = e.started.as_deref().unwrap_or(&e.ended);
        o.push_str(&format!(
            "\n### {} `{}`{} — {}\n\n",
            utc(at),
            e.step,
            if e.undo { " (undo)" } else { "" },
            e.status.name()
        ));
        let mut facts = Vec::new();
        if let Some(c) = e.exit {
            facts.push(format!("exit {c}"));
        }
        if e.duration_ms.is_some() {
            facts.push(dur(e.duration_ms));
        }
        if let Some(n) = e.attempts {
            facts.push(format!("{n} attempts"));
        }
        if let Some(x) = e.reason.as_ref().filter(|x| !x.starts_with("exit ")) {
            facts.push(x.clone());
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

/// The timeline's note on a step: its reason (an exit code has its own
/// column) and how many attempts it took, if more than one.
fn note(e: &Entry) -> String {
    let reason = e.reason.as_deref().filter(|x| !x.starts_with("exit "));
    match (e.attempts, reason) {
        (Some(n), Some(r)) => format!("{r} ({n} attempts)"),
        (Some(n), None) => format!("{n} attempts"),
        (None, r) => r.unwrap_or("").to_string(),
    }
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

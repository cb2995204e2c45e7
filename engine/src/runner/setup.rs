//! Everything before the first step: env checks, `requires`, the lock, the
//! resume decision, the variables (restored on resume, asked for when
//! missing), the run directory and its journal, the tracing log.
//!
//! - **Resume restores variables**: the `--set`, alert and prompt values of
//!   the run's journal (its `run-start`, overlaid by each `resume`) come back
//!   unless a new `--set` (or alert) gives them; secret ones were journaled
//!   as `***` (and a value holding a secret, redacted), so they must be given
//!   again (asked without echo on a terminal, else exit 2 naming them).
//! - **Missing variables** (read by a template, defined nowhere, not a
//!   capture) are asked for on a terminal without `--yes`, all before the
//!   first step, secrets without echo; the answers have the highest
//!   precedence and are journaled (secrets as `***`). Otherwise exit 2
//!   naming each. A rehearsal never asks: its scenario is the input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::journal::{self, Journal, Record, RunLog, VarRecord};
use super::lock::{self, Holder, PlayLock};
use super::{Answers, PlayOptions, ResumeMode, StepStatus, prompt, time};
use crate::config::Config;
use crate::error::{Diagnostic, Error, Result};
use crate::model::Runbook;
use crate::plan::Dag;
use crate::vars::{Origin, Resolved};

/// The env name used when no profile is given.
pub const LOCAL_ENV: &str = "local";

pub struct Prepared {
    pub run_id: String,
    pub run_dir: PathBuf,
    /// The run directory's absolute path, as step processes carry it
    /// (`RUNBOOK_RUN_DIR`, see [`run_key`]).
    pub run_key: String,
    pub env_name: String,
    pub journal: Journal,
    pub previous: Option<RunLog>,
    /// Things to tell the operator once reporting starts.
    pub notes: Vec<String>,
    pub _lock: PlayLock,
}

pub fn state_dir(config: &Config, opts: &PlayOptions) -> PathBuf {
    opts.sandbox.as_ref().map(|s| s.state_dir.clone()).unwrap_or_else(|| config.state.clone())
}

/// Why `--resume` has nothing to resume, and the ways on.
fn nothing_to_resume(rb: &Runbook, log: &RunLog, opts: &PlayOptions) -> String {
    let env_flag = opts.env.as_ref().map(|e| format!(" --env {}", e.name)).unwrap_or_default();
    let again = format!("runbook play {}{env_flag}", rb.id);
    let status = log.status.as_deref().unwrap_or("unfinished");
    let failed = log.steps.iter().find(|(_, s)| s.status == Some(StepStatus::Failed) && !s.undo).map(|(k, _)| k);
    let mut m = format!("--resume: the latest run, {}, {status}", log.run_id);
    if log.rolled_back {
        m.push_str(" and was rolled back");
    }
    m.push_str(": it is finished, there is nothing to resume");
    if let Some(step) = failed {
        m.push_str(&format!("\n  re-run from the step that failed: `{again} --from {step}`"));
    }
    m.push_str(&format!("\n  or start over, every step again: `{again} --fresh`"));
    m.push_str(&format!("\n  see what ran: `runbook report {}`", log.run_id));
    m
}

pub fn prepare(rb: &Runbook, dag: &Dag, config: &Config, opts: &mut PlayOptions) -> Result<Prepared> {
    let env_name = opts.env.as_ref().map(|e| e.name.clone()).unwrap_or_else(|| LOCAL_ENV.to_string());
    crate::preview::check_env_allowed(rb, opts.env.as_ref())?;
    check_selectors(rb, dag, opts)?;
    check_requires(rb, opts)?;
    let state = state_dir(config, opts);
    let (user, host) = lock::operator();
    let operator = format!("{user}@{host}");
    let now = std::time::SystemTime::now();
    let mut notes = Vec::new();
    let me = Holder { user, host, pid: std::process::id(), since: time::now_rfc3339(), run: String::new() };
    let mut lock = lock::acquire(&lock::path(&state, &rb.id, &env_name), &me)?;
    if let Some(h) = &lock.took_over {
        notes.push(format!("took over the lock of {}@{} (pid {}, no longer running)", h.user, h.host, h.pid));
    }

    let previous = match opts.resume {
        ResumeMode::Fresh => None,
        mode => match latest_run(&state, &rb.id, &env_name)? {
            Some((_, log)) if log.rolling_back() => {
                let (done, rest) = log.undo_blocks();
                let list = |v: &[&str]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
                let env_flag = opts.env.as_ref().map(|e| format!(" --env {}", e.name)).unwrap_or_default();
                return Err(Error::Refused(format!(
                    "run {} stopped while rolling back (undo blocks passed: {}; failed, skipped or cut short: {}): \
                     it cannot be resumed, steps would run again over a half-undone state\n  \
                     see what ran with `runbook report {}`, finish the rollback by hand, then start over with \
                     `runbook play {}{env_flag} --fresh`",
                    log.run_id,
                    list(&done),
                    list(&rest),
                    log.run_id,
                    rb.id
                )));
            }
            Some((dir, log)) if log.resumable() => {
                let resume = match mode {
                    ResumeMode::Resume => true,
                    _ => ask_resume(&log, &dir, opts)?,
                };
                if resume { Some(log) } else { None }
            }
            // `--resume` over a finished run: starting over would run every
            // step again, write steps included, which is not what the
            // operator asked for (found in review).
            Some((_, log)) if mode == ResumeMode::Resume => {
                return Err(Error::Refused(nothing_to_resume(rb, &log, opts)));
            }
            _ => {
                if mode == ResumeMode::Resume {
                    notes.push("--resume: no earlier run of this runbook and env; starting a new run".into());
                }
                None
            }
        },
    };

    if previous.is_none() {
        reap_unfinished(&state, &rb.id, &env_name, &mut notes);
    }
    settle_vars(rb, opts, previous.as_ref(), &mut notes)?;

    let (run_id, run_dir) = match &previous {
        Some(p) => (p.run_id.clone(), state.join("runs").join(&p.run_id)),
        None => new_run_dir(&state, &format!("{}-{}-{}", time::compact(now), rb.id, env_name))?,
    };
    lock.set_run(&me, &run_id);
    std::fs::create_dir_all(&run_dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", run_dir.display()))?;
    let run_key = run_key(&run_dir);
    let mut journal = Journal::open(&run_dir.join(journal::FILE), opts.sandbox.is_none())?;
    let pid = std::process::id();
    match &previous {
        Some(p) => {
            journal.append(&Record::Resume {
                operator: operator.clone(),
                pid,
                hash: rb.hash.clone(),
                vars: var_records(rb, opts),
                at: time::now_rfc3339(),
            })?;
            if p.hash != rb.hash {
                notes.push("the runbook changed since this run started: steps whose command changed run again".into());
            }
            for step in p.in_flight() {
                let n = super::process::reap_orphans(&run_key, step) + reap_recorded(p, step);
                if n > 0 {
                    notes.push(format!("killed {n} leftover process(es) of step `{step}` from the interrupted run"));
                }
            }
        }
        None => {
            journal.append(&Record::RunStart {
                v: 1,
                run: run_id.clone(),
                runbook: rb.id.clone(),
                path: rb.path.display().to_string(),
                hash: rb.hash.clone(),
                env: env_name.clone(),
                vars: var_records(rb, opts),
                operator: operator.clone(),
                pid,
                at: time::now_rfc3339(),
            })?;
        }
    }
    if opts.sandbox.is_none() {
        init_tracing(&run_dir);
    }
    tracing::info!(run = %run_id, runbook = %rb.id, env = %env_name, "play started");
    Ok(Prepared { run_id, run_dir, run_key, env_name, journal, previous, notes, _lock: lock })
}

/// What a run's step processes carry as `RUNBOOK_RUN_DIR` and what finds
/// them again after a crash: the run directory's absolute path. The run id
/// alone is not unique on a machine — two checkouts can start the same
/// runbook in the same second — and a resume must kill its own leftovers
/// only.
fn run_key(run_dir: &Path) -> String {
    std::fs::canonicalize(run_dir).unwrap_or_else(|_| run_dir.to_path_buf()).display().to_string()
}

/// Restore the resumed run's variables, then make sure every variable the
/// templates read has a value: ask on a terminal, else exit 2 naming them.
fn settle_vars(rb: &Runbook, opts: &mut PlayOptions, previous: Option<&RunLog>, notes: &mut Vec<String>) -> Result<()> {
    let mut again = Vec::new();
    if let Some(p) = previous {
        let (restored, secrets) = restore(rb, &mut opts.vars, &p.vars);
        if !restored.is_empty() {
            notes.push(format!("variables restored from run {}: {}", p.run_id, restored.join(" ")));
        }
        again = secrets;
    }
    if opts.sandbox.is_some() {
        return Ok(());
    }
    let mut missing = crate::vars::missing(rb, &opts.vars);
    for name in &again {
        if !missing.iter().any(|m| &m.name == name) {
            missing.push(crate::vars::Missing {
                name: name.clone(),
                used_by: Vec::new(),
                secret: true,
                file: rb.path.clone(),
                line: rb.front_matter_line.unwrap_or(1),
            });
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let run = previous.map(|p| p.run_id.as_str()).unwrap_or_default();
    if !(matches!(opts.answers, Answers::Interactive) && prompt::terminal()) {
        return Err(Error::Invalid(missing.iter().map(|m| unset(m, again.contains(&m.name), run)).collect()));
    }
    let n = missing.len();
    crate::errln!(
        "{n} variable{} not set; answers are recorded in the run's journal (secrets as ***):",
        if n == 1 { " is" } else { "s are" }
    );
    let signals = prompt::SignalFlag::install();
    for (i, m) in missing.iter().enumerate() {
        let mut why = Vec::new();
        let given_before = again.contains(&m.name);
        if given_before {
            why.push(format!("given to run {run}: the journal keeps it redacted; not echoed"));
        } else if m.secret {
            why.push("secret, not echoed".to_string());
        }
        if !m.used_by.is_empty() {
            why.push(format!("used by {}", m.used_by.join(", ")));
        }
        let q = format!("  {} ({}): ", m.name, why.join("; "));
        let value = loop {
            match prompt::value(&q, m.secret || given_before, signals.flag()) {
                prompt::Reply::Line(v) if v.is_empty() => continue,
                prompt::Reply::Line(v) => break v,
                prompt::Reply::Cancelled => return Err(Error::Interrupted("interrupted: nothing was run".into())),
                _ => {
                    let rest = missing[i..].iter().map(|m| unset(m, again.contains(&m.name), run)).collect();
                    return Err(Error::Invalid(rest));
                }
            }
        };
        opts.vars.insert(m.name.clone(), crate::model::Value::String(value), Origin::Prompt);
    }
    Ok(())
}

/// The diagnostic for a variable that has no value and cannot be asked for.
fn unset(m: &crate::vars::Missing, redacted: bool, run: &str) -> Diagnostic {
    let n = &m.name;
    let msg = if redacted {
        format!("variable `{n}` was given to run {run}, whose journal keeps it redacted: give it again")
    } else {
        let mut msg = format!("undefined variable `{n}`");
        if let Some(first) = m.used_by.first() {
            msg.push_str(&format!(" in step `{first}`"));
        }
        if m.used_by.len() > 1 {
            msg.push_str(&format!(" (also used by {})", m.used_by[1..].join(", ")));
        }
        msg
    };
    Diagnostic::error("undefined-variable", msg).at(&m.file, m.line).hint(format!(
        "pass `--set {n}=…`{}, or play on a terminal without --yes to be asked",
        if redacted { "" } else { " (or define it in front matter `vars` or the env profile)" }
    ))
}

/// Take over the `--set`, alert and prompt values a run was given (non-secret
/// ones; a new `--set` or alert wins). Returns the restored `name=value`s and
/// the names that must be given again (secret, or journaled redacted).
fn restore(rb: &Runbook, vars: &mut Resolved, recorded: &BTreeMap<String, VarRecord>) -> (Vec<String>, Vec<String>) {
    let mut restored = Vec::new();
    let mut again = Vec::new();
    for (k, r) in recorded {
        let origin = match r.origin.as_str() {
            "set" => Origin::Set,
            "alert" => Origin::Alert,
            "prompt" => Origin::Prompt,
            _ => continue,
        };
        if matches!(vars.origin.get(k), Some(Origin::Set | Origin::Alert | Origin::Prompt)) {
            continue;
        }
        // A value that held a secret was journaled redacted: restoring the
        // `***` would run with a wrong value.
        if r.secret || rb.is_secret(k) || r.value.contains(crate::redact::MASK) {
            again.push(k.clone());
            continue;
        }
        vars.insert(k.clone(), crate::model::Value::String(r.value.clone()), origin);
        restored.push(format!("{k}={}", r.value));
    }
    (restored, again)
}

fn var_records(rb: &Runbook, opts: &PlayOptions) -> BTreeMap<String, VarRecord> {
    let red = crate::preview::secret_redactor(rb, &opts.vars);
    opts.vars
        .vars
        .iter()
        .map(|(k, v)| {
            let secret = rb.is_secret(k);
            let text = crate::vars::as_text(v);
            let value = if secret { crate::redact::MASK.to_string() } else { red.redact(&text).into_owned() };
            let origin = opts
                .vars
                .origin
                .get(k)
                .and_then(|o| serde_json::to_value(o).ok())
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            (k.clone(), VarRecord { value, origin, secret })
        })
        .collect()
}

fn check_selectors(rb: &Runbook, dag: &Dag, opts: &PlayOptions) -> Result<()> {
    for (flag, v) in [("--from", &opts.from), ("--only", &opts.only)] {
        let Some(id) = v else { continue };
        let ok = rb.step_index(id).is_some_and(|i| dag.order.contains(&i));
        if !ok {
            let ids: Vec<&str> = dag.order.iter().map(|&i| rb.steps[i].id.as_str()).collect();
            let hint = match crate::error::did_you_mean(id, ids.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("steps: {}", ids.join(", ")),
            };
            return Err(Error::usage(format!("{flag} {id}: no such step in `{}`", rb.id), hint));
        }
    }
    Ok(())
}

/// Every tool of `requires` must be on PATH (the sandbox's, in a rehearsal).
fn check_requires(rb: &Runbook, opts: &PlayOptions) -> Result<()> {
    let path = super::process::path_with(opts.sandbox.as_ref().map(|s| s.bin_dir.as_path()));
    let missing: Vec<&str> =
        rb.requires.iter().filter(|t| super::process::which(t, Some(&path)).is_none()).map(String::as_str).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "runbook `{}` requires {} not found on PATH: {}\n  hint: install {}, or fix PATH (front matter `requires`)",
        rb.id,
        if missing.len() == 1 { "a tool" } else { "tools" },
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" },
    )))
}

/// The latest run of this runbook and env, read fully. A journal whose first
/// line cannot be read is skipped here (it belongs to nobody we know).
fn latest_run(state: &Path, runbook: &str, env: &str) -> Result<Option<(PathBuf, RunLog)>> {
    match latest_journal(state, runbook, env) {
        Some((dir, file)) => Ok(Some((dir, RunLog::from_records(&journal::read(&file)?)))),
        None => Ok(None),
    }
}

/// The run directory and journal of the latest run of `runbook`@`env`.
fn latest_journal(state: &Path, runbook: &str, env: &str) -> Option<(PathBuf, PathBuf)> {
    // Newest first; a directory is looked into only until the latest run of
    // this runbook@env is found: a state directory collects thousands of runs.
    for dir in journal::run_dirs_unchecked(state).into_iter().rev() {
        let file = dir.join(journal::FILE);
        let first = std::fs::read_to_string(&file).ok().and_then(|t| t.lines().next().map(str::to_string));
        let Some(first) = first else { continue };
        let Ok(Record::RunStart { runbook: r, env: e, .. }) = serde_json::from_str::<Record>(&first) else {
            continue;
        };
        if r == runbook && e == env {
            return Some((dir, file));
        }
    }
    None
}

/// A new run over an unfinished one (a crash, then `--fresh` or "no" to the
/// resume question): what still runs of the old run's steps and undo blocks
/// that were in flight is killed, as a resume would, so the new run does
/// not overlap it. Best effort: an unreadable journal (which `--fresh` is
/// the way out of) is left alone.
fn reap_unfinished(state: &Path, runbook: &str, env: &str, notes: &mut Vec<String>) {
    let Some((dir, file)) = latest_journal(state, runbook, env) else { return };
    let Ok(text) = std::fs::read_to_string(&file) else { return };
    // The common case, a finished run, needs no parse of the whole journal.
    let last = text.lines().rev().find(|l| !l.trim().is_empty());
    if last.is_some_and(|l| matches!(serde_json::from_str::<Record>(l), Ok(Record::RunEnd { .. }))) {
        return;
    }
    let Ok(records) = journal::read(&file) else { return };
    let log = RunLog::from_records(&records);
    if log.status.is_some() {
        return;
    }
    let key = run_key(&dir);
    for step in log.in_flight() {
        let n = super::process::reap_orphans(&key, step) + reap_recorded(&log, step);
        if n > 0 {
            notes.push(format!(
                "killed {n} leftover process(es) of step `{step}` from the unfinished run {}",
                log.run_id
            ));
        }
    }
}

/// What is left of the process group the journal recorded for a step in
/// flight (processes whose environment was reset escape `reap_orphans`).
fn reap_recorded(log: &RunLog, step: &str) -> usize {
    match log.steps.get(step) {
        Some(s) => s.pgid.map_or(0, |g| super::process::reap_group(g, s.born_ms)),
        None => 0,
    }
}

fn ask_resume(log: &RunLog, dir: &Path, opts: &PlayOptions) -> Result<bool> {
    let passed = log.steps.values().filter(|s| s.status == Some(super::StepStatus::Passed)).count();
    let flight = log.in_flight();
    let mut what = format!("{passed} step(s) passed");
    if !flight.is_empty() {
        what.push_str(&format!(", in flight: {}", flight.join(", ")));
    }
    let status = log.status.as_deref().unwrap_or("did not finish");
    if matches!(opts.answers, Answers::Interactive) && prompt::terminal() {
        let q = format!(
            "An unfinished run {} ({status}, {what}; started {} by {}).\nResume it? [Y]es / [n]o, start a fresh run / [q]uit: ",
            log.run_id, log.started, log.operator
        );
        let signals = prompt::SignalFlag::install();
        return match prompt::choose(&q, &['y', 'n', 'f', 'q'], Some('y'), signals.flag()) {
            Some('y') => Ok(true),
            Some('n') | Some('f') => Ok(false),
            None if signals.flag().load(std::sync::atomic::Ordering::SeqCst) => {
                Err(Error::Interrupted("interrupted: nothing was run".into()))
            }
            _ => Err(Error::Refused("no answer: nothing was run".into())),
        };
    }
    Err(Error::Refused(format!(
        "an unfinished run of this runbook and env exists: {} ({status}, {what}; {})\n  hint: pass --resume to continue it, or --fresh to start a new run",
        log.run_id,
        dir.display()
    )))
}

fn new_run_dir(state: &Path, base: &str) -> Result<(String, PathBuf)> {
    let runs = state.join("runs");
    std::fs::create_dir_all(&runs).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", runs.display()))?;
    for n in 1.. {
        let id = if n == 1 { base.to_string() } else { format!("{base}-{n}") };
        let dir = runs.join(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(anyhow::anyhow!("cannot create {}: {e}", dir.display()).into()),
        }
    }
    unreachable!("the loop returns")
}

/// `runs/<id>/runbook.log`: the engine's own log (level from `RUNBOOK_LOG`,
/// default `info`). Once per process; later plays in the same process keep
/// the first file.
fn init_tracing(run_dir: &Path) {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).open(run_dir.join("runbook.log")) else {
            return;
        };
        let filter = tracing_subscriber::EnvFilter::try_from_env("RUNBOOK_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init();
    });
}

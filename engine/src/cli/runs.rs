//! `runbook runs`: the recorded runs, oldest first.

use crate::config::Config;
use crate::error::{Exit, Result};
use crate::report;

pub fn run(config: &Config, json: bool) -> Result<Exit> {
    let store = crate::store::open_read(config)?;
    let rows = report::list(store.as_ref())?;
    if json {
        super::out(&(serde_json::to_string_pretty(&rows).map_err(anyhow::Error::from)? + "\n"));
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        super::out(&format!("no recorded runs in {}\n", store.name()));
        return Ok(Exit::Success);
    }
    let w = rows.iter().map(|r| r.run.len()).max().unwrap_or(3).max(3);
    let status = |r: &report::RunRow| {
        if r.resumable && r.status != "running" { format!("{}*", r.status) } else { r.status.clone() }
    };
    let sw = rows.iter().map(|r| status(r).len()).max().unwrap_or(6).max(6);
    let mut o = format!(
        "{:<w$}  {:<sw$}  {:>7}  {:<20}  {:<19}  MODE\n",
        "RUN", "STATUS", "PASSED", "OPERATOR", "STARTED (UTC)"
    );
    for r in &rows {
        let started = if r.started.is_empty() { String::new() } else { report::utc(&r.started) };
        o.push_str(&format!(
            "{:<w$}  {:<sw$}  {:>7}  {:<20}  {:<19}  {}\n",
            r.run,
            status(r),
            format!("{}/{}", r.passed, r.steps),
            r.hands(),
            started.trim_end_matches(" UTC"),
            if r.runbook.is_empty() { String::new() } else { r.mode_said() }
        ));
        if let Some(e) = &r.error {
            o.push_str(&format!("    {}\n", e.lines().next().unwrap_or("")));
        }
    }
    if rows.iter().any(|r| r.resumable && r.status != "running") {
        o.push_str("* resumable: runbook play ID --resume\n");
    }
    super::out(&o);
    Ok(Exit::Success)
}

/// `runbook runs --prune`: remove runs older than `older_than` and beyond
/// the newest `keep`, from either store; a run being played is never
/// removed, nor the run `--resume` continues unless `older_than` covers its
/// last event ([`crate::store::Prune`]): each is named as kept, and why.
pub fn prune(config: &Config, older_than: Option<std::time::Duration>, keep: Option<usize>) -> Result<Exit> {
    if older_than.is_none() && keep.is_none() {
        return Err(crate::error::Error::usage(
            "--prune needs --older-than AGE, --keep N, or both",
            "runbook runs --prune --older-than 90d --keep 20",
        ));
    }
    let store = crate::store::open_read(config)?;
    let pruned = store.prune(&crate::store::Prune { older_than, keep, now: None })?;
    let mut o = format!("removed {} run(s) from {}\n", pruned.removed.len(), store.name());
    for id in &pruned.removed {
        o.push_str(&format!("  {id}\n"));
    }
    if !pruned.playing.is_empty() {
        o.push_str(&format!("kept {} run(s) being played:\n", pruned.playing.len()));
        for id in &pruned.playing {
            o.push_str(&format!("  {id}\n"));
        }
    }
    for r in &pruned.resumable {
        let last = r.last.and_then(|t| t.elapsed().ok()).map(crate::time::coarse);
        let last = last.map(|a| format!(", last event {a} ago")).unwrap_or_default();
        o.push_str(&format!(
            "kept {}@{} run {}: resumable ({}{last}); --older-than removes it once its last event is older\n",
            r.runbook, r.env, r.id, r.status
        ));
    }
    for l in &pruned.leftovers {
        o.push_str(&format!("removed {l}: left by an engine killed while it created a run (no step of it ran)\n"));
    }
    super::out(&o);
    Ok(Exit::Success)
}

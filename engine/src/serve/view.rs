//! What the pages show, as data for the templates: a run's page from its
//! events (the fold, the report) and its step logs, and a runbook's page as
//! the wiki renders it. Nothing here is HTML but the wiki's own rendering,
//! cleaned ([`crate::prose`]).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use super::feed;
use crate::config::Config;
use crate::error::Result;
use crate::report::{self, Approval, Session};
use crate::run::RunState;
use crate::store::Store;

/// A step as the run page shows it.
#[derive(Debug, Serialize)]
pub struct StepView {
    pub id: String,
    /// A step status, or `running`, `pending` (the run may still reach it).
    pub status: String,
    pub command: String,
    pub lang: Option<String>,
    pub exit: Option<i32>,
    pub duration: String,
    pub attempts: u32,
    pub undo: bool,
    pub read: bool,
    pub reason: Option<String>,
    pub needs: Vec<String>,
    /// The step it follows when it has no `needs` (the one before it).
    pub after: Option<String>,
    /// Column of the DAG: after every step it waits for.
    pub level: usize,
    /// The tail of its output, starting at byte `output_from` of its log.
    pub output: String,
    pub output_from: usize,
    /// The byte of its log the output ends at (where the stream goes on).
    pub output_end: usize,
    /// The size of its log, in bytes (more than `output` when it was cut).
    pub log_len: u64,
    pub escalate: Option<String>,
}

/// A row of the timeline table, with the Duration and Note the report's
/// timeline gives it.
#[derive(Debug, Serialize)]
pub struct TimelineRow {
    #[serde(flatten)]
    pub row: report::Row,
    pub duration: String,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct RunView {
    pub run: String,
    pub runbook: String,
    pub env: String,
    pub operator: String,
    pub status: String,
    pub started: String,
    pub ended: Option<String>,
    pub duration: String,
    pub mode: Vec<String>,
    pub message: Option<String>,
    /// Why the play stops starting steps, while it does.
    pub stop: Option<String>,
    pub steps: Vec<StepView>,
    /// The DAG's columns: step ids by level.
    pub levels: Vec<Vec<usize>>,
    /// The DAG, laid out.
    pub dag: super::dag::Dag,
    /// Failed steps (indexes into `steps`), shown first.
    pub failures: Vec<usize>,
    pub approvals: Vec<Approval>,
    pub sessions: Vec<Session>,
    /// How to go on with the run, when it can.
    pub resume: Option<String>,
    pub timeline: Vec<report::Entry>,
    /// The timeline as printed: step ends and session ends, in order.
    pub rows: Vec<TimelineRow>,
    /// `runbook report`'s markdown.
    pub markdown: String,
    pub last_seq: u64,
}

/// `2m03s` from `started` to `ended`, or to now while running, as the
/// report writes a duration ([`report::times`]).
pub fn span(started: &str, ended: Option<&str>, running: bool) -> String {
    let end = match ended {
        Some(e) => e.to_string(),
        None if running => crate::time::now_rfc3339(),
        None => return String::new(),
    };
    report::times::span(started, &end).unwrap_or_default()
}

/// The `escalate` text of the run's steps, rendered with the run's values
/// and captures as its journal holds them (secrets already `***`), as the
/// closing screen renders it; none unless the runbook on disk is the one
/// the run's latest session played (its hash): another version's text
/// would not be the run's. A text that cannot render is shown as written.
fn escalations(config: &Config, st: &RunState) -> HashMap<String, String> {
    let Ok(rb) = crate::catalog::Catalog::find(config, &st.runbook) else { return HashMap::new() };
    if rb.hash != st.hash {
        return HashMap::new();
    }
    let t = crate::template::Templater::new(&rb);
    let vars = st.vars.iter().map(|(k, r)| (k.clone(), r.value.clone())).collect();
    // A play without an env profile renders `env` as nothing, as here.
    let env = (st.env != crate::runner::LOCAL_ENV).then(|| st.env.clone());
    let base = crate::template::Context { vars, env, ..Default::default() };
    let ctx = crate::runner::run_context(&rb, st, base);
    rb.steps
        .iter()
        .filter_map(|s| {
            let raw = s.attrs.escalate.clone()?;
            Some((s.id.clone(), t.escalate(s, &ctx).ok().flatten().unwrap_or(raw)))
        })
        .collect()
}

pub fn build(store: &dyn Store, config: &Config, id: &str) -> Result<RunView> {
    let events = store.events(id)?;
    let st = RunState::from_entries(&events);
    let status = report::status_in(store, id, &st)?;
    let running = status == "running";
    let mut rep = report::build(&events, status.clone(), Some(&config.root));
    report::lost_output(store, id, &events, &mut rep.timeline);
    let markdown = report::markdown(&rep);
    let escalate = escalations(config, &st);
    let mut steps = Vec::new();
    // The plan's order, then what the plan did not have (undo blocks, old journals).
    let mut order: Vec<(String, Vec<String>, bool)> =
        st.plan.iter().filter(|p| !p.undo).map(|p| (p.id.clone(), p.needs.clone(), p.read)).collect();
    for k in st.steps.keys() {
        if !order.iter().any(|(o, _, _)| o == k) {
            order.push((k.clone(), Vec::new(), false));
        }
    }
    let mut level: HashMap<String, usize> = HashMap::new();
    let mut prev: Option<String> = None;
    for (sid, needs, read) in order {
        let s = st.step(&sid);
        let lv = if needs.is_empty() {
            prev.as_ref().and_then(|p| level.get(p)).map_or(0, |l| l + 1)
        } else {
            needs.iter().filter_map(|n| level.get(n)).max().map_or(0, |l| l + 1)
        };
        level.insert(sid.clone(), lv);
        let before = prev.replace(sid.clone());
        let after = if needs.is_empty() { before } else { None };
        let status = report::shown::step(&st, &sid, running).name().to_string();
        let started = s.is_some_and(|s| s.started.is_some() || s.attempts > 0);
        // Only the tail is read: a step may have logged megabytes.
        let got = if started { store.log_tail(id, &sid, 0, feed::TAIL as u64).ok().flatten() } else { None };
        let log_len = got.as_ref().map_or(0, |r| r.len);
        let out = got.as_ref().map(feed::tail).unwrap_or_default();
        // Each run of the step labelled (a resume re-runs what its killed
        // engine was running); the live follow-up goes on from the log's bytes.
        let output_end = out.from + out.text.len();
        let shown = crate::run::attempts::window(&events, &sid, out.text.as_bytes(), out.from as u64, running);
        steps.push(StepView {
            escalate: escalate.get(&sid).cloned(),
            status,
            command: s.map(|s| s.command.clone()).unwrap_or_default(),
            lang: s.and_then(|s| s.lang.clone()),
            exit: s.and_then(|s| s.exit),
            duration: s.and_then(|s| s.duration_ms).map(|m| report::times::duration(Some(m))).unwrap_or_default(),
            attempts: s.map_or(0, |s| s.attempts),
            undo: s.is_some_and(|s| s.undo),
            read,
            reason: s.and_then(|s| s.reason.clone()),
            needs,
            after,
            level: lv,
            output_end,
            log_len,
            output: String::from_utf8_lossy(&shown).into_owned(),
            output_from: out.from,
            id: sid,
        });
    }
    let mut levels: Vec<Vec<usize>> = Vec::new();
    for (i, s) in steps.iter().enumerate().filter(|(_, s)| !s.undo) {
        if levels.len() <= s.level {
            levels.resize(s.level + 1, Vec::new());
        }
        levels[s.level].push(i);
    }
    let failures = steps.iter().enumerate().filter(|(_, s)| s.status == "failed").map(|(i, _)| i).collect();
    let rows = report::timeline::rows(&rep.timeline, &rep.sessions)
        .into_iter()
        .map(|row| {
            let (duration, note) = report::duration_and_note(&row);
            TimelineRow { row, duration, note }
        })
        .collect();
    let resume = (st.resumable() && !running && !st.runbook.is_empty())
        .then(|| report::is_latest(store, id, &st.runbook, &st.env))
        .transpose()?
        .unwrap_or(false)
        .then(|| format!("runbook play {} --env {} --resume", st.runbook, st.env));
    Ok(RunView {
        run: id.to_string(),
        runbook: st.runbook.clone(),
        env: st.env.clone(),
        operator: rep.operator.clone(),
        started: if st.started.is_empty() { String::new() } else { report::utc(&st.started) },
        ended: st.ended.as_deref().map(report::utc),
        duration: span(&st.started, st.ended.as_deref(), running),
        mode: rep.mode.clone(),
        message: rep.message.clone(),
        stop: st.stop.as_ref().filter(|_| st.end.is_none()).map(|s| s.why.clone()),
        dag: super::dag::layout(&steps, &levels),
        steps,
        levels,
        failures,
        approvals: rep.approvals,
        sessions: rep.sessions,
        resume,
        markdown,
        rows,
        timeline: rep.timeline,
        last_seq: st.last_seq,
        status,
    })
}

/// A runbook of the catalog as the wiki shows it, its raw HTML cleaned:
/// `(id, title, html)`.
pub fn runbook_html(config: &Config, id: &str) -> Result<Option<(String, String, String)>> {
    let cat = crate::catalog::Catalog::load(config)?;
    let Some(rb) = cat.runbooks.iter().find(|r| r.id == id) else { return Ok(None) };
    let file = if rb.path.is_absolute() { rb.path.clone() } else { config.root.join(&rb.path) };
    let text = std::fs::read_to_string(&file).map_err(anyhow::Error::from)?;
    let md = crate::mdbook::render_page(Path::new(&rb.path), &text, config)?;
    let opts = pulldown_cmark::Options::ENABLE_TABLES
        | pulldown_cmark::Options::ENABLE_TASKLISTS
        | pulldown_cmark::Options::ENABLE_STRIKETHROUGH
        | pulldown_cmark::Options::ENABLE_FOOTNOTES
        | pulldown_cmark::Options::ENABLE_HEADING_ATTRIBUTES;
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new_ext(&md, opts));
    Ok(Some((rb.id.clone(), rb.title.clone(), crate::prose::clean(&html))))
}

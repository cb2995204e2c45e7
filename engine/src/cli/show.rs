//! `runbook show ID`: what a runbook is made of, and the variables it needs.

use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Exit, Result};
use crate::model::Runbook;
use crate::plan::Dag;

pub fn run(config: &Config, id: &str, json: bool) -> Result<Exit> {
    let rb = Catalog::find(config, id)?;
    let dag = Dag::build(&rb)?;
    let vars = crate::vars::needed(&rb, config);
    if json {
        #[derive(Serialize)]
        struct Show<'a> {
            runbook: &'a Runbook,
            variables: &'a [crate::vars::VarNeed],
        }
        // Each secret default as the text form shows it: `***`, or a map
        // with its secret parts so.
        let mut shown = rb.clone();
        for (k, v) in &mut shown.vars {
            *v = rb.shown(k, v);
        }
        let s =
            serde_json::to_string_pretty(&Show { runbook: &shown, variables: &vars }).map_err(anyhow::Error::from)?;
        super::out(&(s + "\n"));
        return Ok(Exit::Success);
    }
    let mut o = String::new();
    o.push_str(&format!("{} — {}\n", rb.id, rb.title));
    o.push_str(&format!("  file:     {}\n", rb.path.display()));
    if !rb.envs.is_empty() {
        o.push_str(&format!("  envs:     {}\n", rb.envs.join(", ")));
    }
    if !rb.requires.is_empty() {
        o.push_str(&format!("  requires: {}\n", rb.requires.join(", ")));
    }
    if let Some(t) = rb.timeout {
        o.push_str(&format!("  timeout:  {}\n", humantime::format_duration(t)));
    }
    // Wiki metadata (front-matter keys the engine does not read).
    for (k, v) in &rb.meta {
        o.push_str(&format!("  {:<9} {}\n", format!("{k}:"), crate::model::meta_text(v)));
    }
    if !vars.is_empty() {
        o.push_str("\nvariables:\n");
        for v in &vars {
            let mut from = Vec::new();
            if let Some(d) = &v.default {
                // An empty default would read as nothing at all.
                from.push(if d.is_empty() { "default \"\" (empty)".to_string() } else { format!("default {d}") });
            }
            if !v.envs.is_empty() {
                from.push(format!("env {}", v.envs.join("/")));
            }
            if let Some(c) = &v.captured_by {
                from.push(format!("captured by {c}"));
            }
            if from.is_empty() {
                // A secret never on the command line (README, Security).
                from.push(if v.secret { "--set-file or RUNBOOK_VAR_ required" } else { "--set required" }.into());
            }
            let secret = if v.secret { " (secret)" } else { "" };
            o.push_str(&format!("  {}{secret}: {}\n", v.name, from.join(", ")));
        }
    }
    o.push_str("\nsteps:\n");
    for &i in dag
        .order
        .iter()
        .chain(rb.steps.iter().enumerate().filter(|(_, s)| s.attrs.undo).map(|(i, _)| i).collect::<Vec<_>>().iter())
    {
        let s = &rb.steps[i];
        o.push_str(&format!(
            "  {:<24} {:<6} line {:<4} {}\n",
            s.id,
            s.kind.name(),
            s.line,
            crate::render::tags(s).join(" ")
        ));
    }
    super::out(&crate::visible::text(&o));
    Ok(Exit::Success)
}

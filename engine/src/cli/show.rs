//! `runbook show ID`: what a runbook is made of, and the variables it needs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Exit, Result};
use crate::model::Runbook;
use crate::plan::Dag;
use crate::template::Templater;

#[derive(Serialize)]
struct VarNeed {
    name: String,
    /// Front-matter default, if any.
    default: Option<String>,
    /// Which env profiles define it.
    envs: Vec<String>,
    /// Captured by this step.
    captured_by: Option<String>,
    /// Steps that use it.
    used_by: Vec<String>,
    secret: bool,
}

/// Every variable a runbook's templates read, and where it can come from.
fn variables(rb: &Runbook, config: &Config) -> Vec<VarNeed> {
    let t = Templater::new(rb);
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &rb.steps {
        for n in t.names_used(s) {
            if crate::template::BUILTINS.contains(&n.as_str()) {
                continue;
            }
            used.entry(n).or_default().push(s.id.clone());
        }
    }
    for k in rb.vars.keys() {
        used.entry(k.clone()).or_default();
    }
    used.into_iter()
        .map(|(name, used_by)| VarNeed {
            default: rb
                .vars
                .get(&name)
                .map(|v| if rb.is_secret(&name) { "***".into() } else { crate::vars::as_text(v) }),
            envs: config.envs.values().filter(|e| e.vars.contains_key(&name)).map(|e| e.name.clone()).collect(),
            captured_by: rb.steps.iter().find(|s| s.attrs.capture.as_deref() == Some(&name)).map(|s| s.id.clone()),
            secret: rb.is_secret(&name),
            used_by,
            name,
        })
        .collect()
}

pub fn run(config: &Config, id: &str, json: bool) -> Result<Exit> {
    let rb = Catalog::find(config, id)?;
    let dag = Dag::build(&rb)?;
    let vars = variables(&rb, config);
    if json {
        #[derive(Serialize)]
        struct Show<'a> {
            runbook: &'a Runbook,
            variables: &'a [VarNeed],
        }
        let s = serde_json::to_string_pretty(&Show { runbook: &rb, variables: &vars }).map_err(anyhow::Error::from)?;
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
    if !vars.is_empty() {
        o.push_str("\nvariables:\n");
        for v in &vars {
            let mut from = Vec::new();
            if let Some(d) = &v.default {
                from.push(format!("default {d}"));
            }
            if !v.envs.is_empty() {
                from.push(format!("env {}", v.envs.join("/")));
            }
            if let Some(c) = &v.captured_by {
                from.push(format!("captured by {c}"));
            }
            if from.is_empty() {
                from.push("--set required".into());
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
    super::out(&o);
    Ok(Exit::Success)
}

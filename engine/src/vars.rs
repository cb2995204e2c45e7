//! Variable resolution (SPEC §2.3): front matter `vars` < env profile <
//! alert labels < `--set` < answers to prompts. Each value remembers where it
//! came from, for `show` and `plan`.

use serde::Serialize;

use std::collections::BTreeMap;

use crate::config::{Config, EnvProfile};
use crate::error::{Error, Result};
use crate::model::{Runbook, Value, Vars};
use crate::template::Templater;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    FrontMatter,
    Env,
    Alert,
    Set,
    Prompt,
}

#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub vars: Vars,
    pub origin: std::collections::BTreeMap<String, Origin>,
}

impl Resolved {
    pub fn insert(&mut self, k: String, v: Value, o: Origin) {
        self.origin.insert(k.clone(), o);
        self.vars.insert(k, v);
    }
}

/// Parse `--set k=v` pairs.
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if crate::parse::valid_var(k.trim()) => Ok((k.trim().to_string(), v.to_string())),
            Some((k, _)) => Err(Error::usage(
                format!("--set {s}: `{k}` is not a variable name"),
                "variable names are letters, digits and `_`, starting with a letter: --set rev=41",
            )),
            None => Err(Error::usage(format!("--set {s}: expected KEY=VALUE"), format!("write --set {s}=VALUE"))),
        })
        .collect()
}

pub fn resolve(
    rb: &Runbook,
    env: Option<&EnvProfile>,
    alert: &[(String, String)],
    sets: &[(String, String)],
) -> Resolved {
    let mut r = Resolved::default();
    for (k, v) in &rb.vars {
        r.insert(k.clone(), v.clone(), Origin::FrontMatter);
    }
    if let Some(p) = env {
        for (k, v) in &p.vars {
            r.insert(k.clone(), v.clone(), Origin::Env);
        }
    }
    for (k, v) in alert {
        r.insert(k.clone(), Value::String(v.clone()), Origin::Alert);
    }
    for (k, v) in sets {
        r.insert(k.clone(), Value::String(v.clone()), Origin::Set);
    }
    r
}

/// A value as text (what a shell step would see).
pub fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[derive(Debug, Serialize)]
pub struct VarNeed {
    pub name: String,
    /// Front-matter default, if any.
    pub default: Option<String>,
    /// Which env profiles define it.
    pub envs: Vec<String>,
    /// Captured by this step.
    pub captured_by: Option<String>,
    /// Steps that use it.
    pub used_by: Vec<String>,
    pub secret: bool,
}

/// Every variable a runbook's templates read, and where it can come from.
pub fn needed(rb: &Runbook, config: &Config) -> Vec<VarNeed> {
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

/// A variable the runbook's templates read that nothing defines.
#[derive(Debug, Clone)]
pub struct Missing {
    pub name: String,
    /// Steps whose templates read it, in document order.
    pub used_by: Vec<String>,
    pub secret: bool,
    /// Where it is first read (runbook file, line).
    pub file: std::path::PathBuf,
    pub line: usize,
}

/// Every variable read by a template (body, `when`, `expect`, `cwd`) that is
/// neither resolved nor captured by a step, in name order.
pub fn missing(rb: &Runbook, vars: &Resolved) -> Vec<Missing> {
    let t = Templater::new(rb);
    let captured: Vec<&str> = rb.steps.iter().filter_map(|s| s.attrs.capture.as_deref()).collect();
    let mut out: BTreeMap<String, Missing> = BTreeMap::new();
    for s in &rb.steps {
        for n in t.names_used(s) {
            if crate::template::BUILTINS.contains(&n.as_str()) || captured.contains(&n.as_str()) {
                continue;
            }
            if vars.vars.contains_key(&n) {
                continue;
            }
            let m = out.entry(n.clone()).or_insert_with(|| Missing {
                secret: rb.is_secret(&n),
                used_by: Vec::new(),
                file: rb.path.clone(),
                line: t.line_of_name(s, crate::template::Source::Body, &n).unwrap_or(s.line),
                name: n.clone(),
            });
            m.used_by.push(s.id.clone());
        }
    }
    out.into_values().collect()
}

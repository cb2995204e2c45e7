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
            Some((k, v)) if crate::parse::attrs::valid_var(k.trim()) => Ok((k.trim().to_string(), v.to_string())),
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

//! What templates read: the variables, the env, the steps' results and the
//! captures, converted for minijinja only as far as a template reads them;
//! and `steps.<id-with-dashes>` rewritten so that such ids can be written
//! as they are.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::value::Value as JValue;
use serde::Serialize;

use super::BUILTINS;
use crate::model::{Runbook, Vars};

/// What a step's templates are rendered against.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub vars: Vars,
    /// The environment profile name (`env` in templates).
    pub env: Option<String>,
    /// `steps.<id>.{status,exit,stdout}`.
    pub steps: BTreeMap<String, StepState>,
    /// Captured values (or placeholders at plan time).
    pub captures: BTreeMap<String, Capture>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepState {
    pub status: String,
    pub exit: Option<i32>,
    pub stdout: String,
    /// Not known before the play: each field shows as `<stdout of id>`, and a
    /// `when` reading `steps` is decided at run time.
    #[serde(skip)]
    pub placeholder: bool,
}

impl StepState {
    pub fn new(status: &str, exit: Option<i32>, stdout: String) -> Self {
        StepState { status: status.to_string(), exit, stdout, placeholder: false }
    }

    /// The plan-time state of a step: placeholders only.
    pub fn placeholder() -> Self {
        StepState { status: String::new(), exit: None, stdout: String::new(), placeholder: true }
    }

    fn to_value(&self, id: &str) -> JValue {
        if !self.placeholder {
            return JValue::from(minijinja::value::Serde(self));
        }
        let field = |f: &str| JValue::from_safe_string(format!("<{f} of {id}>"));
        let m: BTreeMap<&str, JValue> = ["status", "exit", "stdout"].into_iter().map(|f| (f, field(f))).collect();
        JValue::from(m)
    }
}

#[derive(Debug, Clone)]
pub enum Capture {
    Value(String),
    /// Not known before the play: shown as `<name from step>`.
    Placeholder {
        step: String,
    },
    /// A required variable not given yet (a play asks for it): `<name>`.
    Unset,
}

impl Context {
    /// The template's view of the context. `Some(names)`: only those (the
    /// names the template reads) are converted — converting everything, every
    /// step's stdout included, for every render made a play quadratic.
    pub(super) fn to_value(&self, names: Option<&BTreeSet<String>>) -> JValue {
        self.view(names, None, None)
    }

    /// [`Context::to_value`], with `steps` limited to `ids` when given;
    /// with `mask`, each secret of that runbook as its placeholder
    /// ([`Runbook::placeheld`]), given or not.
    pub(super) fn view(
        &self,
        names: Option<&BTreeSet<String>>,
        ids: Option<&BTreeSet<&str>>,
        mask: Option<&Runbook>,
    ) -> JValue {
        let mut m: BTreeMap<String, JValue> = BTreeMap::new();
        let wanted = |k: &str| names.is_none_or(|n| n.contains(k));
        for (k, v) in self.vars.iter().filter(|(k, _)| wanted(k)) {
            let v = match mask {
                Some(rb) => &rb.placeheld(k, v),
                None => v,
            };
            m.insert(k.clone(), JValue::from(minijinja::value::Serde(v)));
        }
        if let (Some(rb), Some(names)) = (mask, names) {
            for n in names.iter().filter(|n| rb.is_secret(n) && !self.vars.contains_key(*n)) {
                m.insert(n.clone(), JValue::from(crate::model::placeholder(n)));
            }
        }
        for (k, c) in self.captures.iter().filter(|(k, _)| wanted(k)) {
            let v = match c {
                Capture::Value(s) => JValue::from(s.clone()),
                Capture::Placeholder { step } => JValue::from_safe_string(format!("<{k} from {step}>")),
                Capture::Unset => JValue::from_safe_string(format!("<{k}>")),
            };
            m.insert(k.clone(), v);
        }
        if wanted("env") {
            m.insert("env".into(), JValue::from(self.env.clone().unwrap_or_default()));
        }
        if wanted("steps") {
            let steps: BTreeMap<&str, JValue> = match ids {
                Some(ids) => ids.iter().filter_map(|k| Some((*k, self.steps.get(*k)?.to_value(k)))).collect(),
                None => self.steps.iter().map(|(k, s)| (k.as_str(), s.to_value(k))).collect(),
            };
            m.insert("steps".into(), JValue::from(steps));
        }
        JValue::from(m)
    }

    /// Is this name defined for templates? A variable whose value is null
    /// is required and not given yet: it is not.
    pub fn defines(&self, name: &str) -> bool {
        BUILTINS.contains(&name)
            || self.vars.get(name).is_some_and(|v| !v.is_null())
            || self.captures.contains_key(name)
    }
}

/// Rewrites `steps.miner-logs.stdout` into `steps["miner-logs"].stdout`, so
/// that step ids with `-` or `.` can be written naturally in templates.
/// `ids` is sorted.
pub fn rewrite_step_refs(src: &str, ids: &[&str]) -> String {
    if !src.contains("steps.") {
        return src.to_string();
    }
    let mut out = String::with_capacity(src.len() + 8);
    let mut rest = src;
    while let Some(pos) = rest.find("steps.") {
        let boundary = pos == 0 || !rest[..pos].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.');
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 6..];
        let best = match longest_id(ids, after) {
            Some(id) => Some(id).filter(|id| id.contains('-') || id.contains('.')),
            // No step has this id: one with a `-` is still one name (an
            // unknown step, reported as such), not a subtraction.
            None => Some(unknown_id(after)).filter(|id| id.contains('-')),
        };
        match (boundary, best) {
            (true, Some(id)) => {
                out.push_str("steps[\"");
                out.push_str(id);
                out.push_str("\"]");
                rest = &after[id.len()..];
            }
            _ => {
                out.push_str("steps.");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The id-like name `text` starts with, up to its first `.`.
fn unknown_id(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-'))).unwrap_or(text.len());
    &text[..end]
}

/// The longest step id (of the sorted `ids`) that `text` starts with and
/// that ends where an id may end: at the end of the id-like run of
/// characters, or before a `.` in it. Binary searches, so a template with
/// many references costs no more in a runbook with many steps.
pub(super) fn longest_id<'a>(ids: &[&'a str], text: &str) -> Option<&'a str> {
    let run = text.find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))).unwrap_or(text.len());
    let token = &text[..run];
    let ends = token.match_indices('.').map(|(i, _)| i).chain([token.len()]);
    let ends: Vec<usize> = ends.collect();
    ends.into_iter().rev().find_map(|e| ids.binary_search(&&token[..e]).ok().map(|p| ids[p]))
}

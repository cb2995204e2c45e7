//! The runbook model: what a parsed markdown runbook is.
//!
//! The parser produces it, everything else (planner, templating, runner,
//! rehearsal, check, the mdBook preprocessor) reads it. It is `Serialize` so
//! that `show --json` and `plan --json` expose exactly what the engine sees.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// A variable value as written in front matter, config or on the command line.
pub type Value = serde_json::Value;

/// Variables by name, in a stable order.
pub type Vars = BTreeMap<String, Value>;

/// Front-matter keys the engine does not read (`tags`, `owner`, …), kept for
/// the wiki and `show`, in the order written.
pub type Meta = indexmap::IndexMap<String, Value>;

/// A metadata value on one line (`show`, the wiki): text as is, a list of
/// texts joined with `, `, anything else as JSON.
pub fn meta_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| i.is_string()) => {
            items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// Names every template sees besides the variables: no variable may take them.
pub const BUILTINS: &[&str] = &["env", "steps"];

#[derive(Debug, Clone, Serialize)]
pub struct Runbook {
    pub id: String,
    pub title: String,
    pub path: PathBuf,
    /// sha256 of the file's bytes: ties a journal to the text it ran.
    pub hash: String,
    pub vars: Vars,
    pub secrets: Vec<String>,
    /// Environments this runbook may run in; empty means all.
    pub envs: Vec<String>,
    pub requires: Vec<String>,
    #[serde(with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Line of the front matter's opening `---` (1) when present.
    pub front_matter_line: Option<usize>,
    /// Other front-matter keys (SPEC §2.1): metadata for the wiki.
    #[serde(skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
    pub steps: Vec<Step>,
    /// Fenced blocks without attributes: documentation, linted but never run.
    pub doc_blocks: Vec<DocBlock>,
    /// Where each step id is in `steps`, made on the first lookup.
    #[serde(skip)]
    pub index: StepIndex,
}

/// Step ids to their place in [`Runbook::steps`], so that looking up each
/// step of a runbook of thousands (`check` asks for each block's step)
/// stays linear in all. Made on the first lookup, with the number of steps
/// then. The steps may change later (a rehearsal stages them), not their
/// ids: a place whose step has another id, or a miss after steps were added
/// or removed, is not trusted, and the steps are searched instead.
#[derive(Debug, Clone, Default)]
pub struct StepIndex(std::sync::OnceLock<(usize, std::collections::HashMap<String, usize>)>);

impl Runbook {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.step_index(id).map(|i| &self.steps[i])
    }

    /// The place of the first step with this id (an id given twice is an
    /// error the parser reports, with the steps still there to show it).
    pub fn step_index(&self, id: &str) -> Option<usize> {
        let (len, places) = self.index.0.get_or_init(|| {
            let mut m = std::collections::HashMap::with_capacity(self.steps.len());
            for (i, s) in self.steps.iter().enumerate() {
                m.entry(s.id.clone()).or_insert(i);
            }
            (self.steps.len(), m)
        });
        match places.get(id) {
            Some(&i) if self.steps.get(i).is_some_and(|s| s.id == id) => Some(i),
            None if *len == self.steps.len() => None,
            _ => self.steps.iter().position(|s| s.id == id),
        }
    }

    /// Is this variable secret (listed, or by its name, SPEC §2.1)?
    pub fn is_secret(&self, name: &str) -> bool {
        self.secrets.iter().any(|s| s == name) || crate::redact::is_secret_name(name)
    }

    /// The secret values among these variables, each as text for a
    /// [`crate::redact::Redactor`]: the value of each secret variable, and
    /// each part of another under a key that is secret by its name
    /// ([`crate::redact::secret_parts`]). Every sink masks these.
    pub fn secret_values<'v>(&self, vars: impl IntoIterator<Item = (&'v String, &'v Value)>) -> Vec<String> {
        self.secret_parts(vars).into_iter().filter_map(|(_, v)| crate::redact::part_text(v)).collect()
    }

    /// The secret parts among these variables, each by its path
    /// (`registry.password`): what [`Runbook::secret_values`] gives the
    /// redactors, for what must name them (`check`'s `short-secret`).
    pub fn secret_parts<'v>(
        &self,
        vars: impl IntoIterator<Item = (&'v String, &'v Value)>,
    ) -> Vec<(String, &'v Value)> {
        vars.into_iter().flat_map(|(k, v)| crate::redact::secret_parts(k, v, self.is_secret(k))).collect()
    }

    /// Does this variable's value hold a secret, whole or in part?
    pub fn holds_secret(&self, name: &str, value: &Value) -> bool {
        !crate::redact::secret_parts(name, value, self.is_secret(name)).is_empty()
    }

    /// A variable's value as shown: `***` for a secret variable, each secret
    /// part of another as `***`.
    pub fn shown(&self, name: &str, value: &Value) -> Value {
        let mask = &mut |_: &str| Value::String(crate::redact::MASK.into());
        crate::redact::replace_secret_parts(name, value, self.is_secret(name), mask)
    }

    /// A variable's value with each secret part replaced by a [`placeholder`]
    /// naming it: what does not depend on a secret's value.
    pub fn placeheld(&self, name: &str, value: &Value) -> Value {
        let by = &mut |path: &str| Value::String(placeholder(path));
        crate::redact::replace_secret_parts(name, value, self.is_secret(name), by)
    }
}

/// What stands for the secret at `path` (`tok`, `registry.password`) in a
/// rendering that must not depend on secret values: `@secret:tok@`, a word
/// a shell takes as it is, as most secrets (`hosts[0].key`: `hosts.0.key`).
pub fn placeholder(path: &str) -> String {
    format!("@secret:{}@", path.replace('[', ".").replace(']', ""))
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub id: String,
    /// 1-based line of the opening fence.
    pub line: usize,
    /// 1-based line of the first body line.
    pub body_line: usize,
    pub lang: String,
    pub kind: StepKind,
    pub attrs: Attrs,
    pub body: String,
    /// The nearest heading above the block (shared by the steps under it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<std::sync::Arc<str>>,
}

impl Step {
    /// Shell-like steps get shell quoting of substituted values.
    pub fn is_shell(&self) -> bool {
        matches!(self.kind, StepKind::Bash | StepKind::Sh)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DocBlock {
    pub line: usize,
    pub body_line: usize,
    pub lang: String,
    pub body: String,
    /// The fence ran to the end of its container without a closing fence.
    pub unclosed: bool,
}

impl DocBlock {
    /// Shell documentation blocks are still syntax-checked by `check`.
    pub fn is_shell(&self) -> bool {
        matches!(self.lang.as_str(), "bash" | "sh" | "shell")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Bash,
    Sh,
    Python,
    Manual,
    /// Observability steps (docs/observability.md): queries, not processes.
    Promql,
    Logql,
    Http,
}

impl StepKind {
    /// The step kind for a fence language, if it is one.
    pub fn from_lang(lang: &str) -> Option<StepKind> {
        Some(match lang {
            "bash" => StepKind::Bash,
            "sh" => StepKind::Sh,
            "python" | "python3" => StepKind::Python,
            "manual" => StepKind::Manual,
            "promql" => StepKind::Promql,
            "logql" => StepKind::Logql,
            "http" => StepKind::Http,
            _ => return None,
        })
    }

    pub const LANGS: &'static [&'static str] =
        &["bash", "sh", "python", "python3", "manual", "promql", "logql", "http"];

    /// The observability kind of a query step, `None` for processes.
    pub fn query(self) -> Option<QueryKind> {
        match self {
            StepKind::Promql => Some(QueryKind::Promql),
            StepKind::Logql => Some(QueryKind::Logql),
            StepKind::Http => Some(QueryKind::Http),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StepKind::Bash => "bash",
            StepKind::Sh => "sh",
            StepKind::Python => "python",
            StepKind::Manual => "manual",
            StepKind::Promql => "promql",
            StepKind::Logql => "logql",
            StepKind::Http => "http",
        }
    }
}

/// The three kinds of observability steps (run by `observe`, which adds
/// what each kind means for queries and conditions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    Promql,
    Logql,
    Http,
}

impl QueryKind {
    pub fn name(self) -> &'static str {
        match self {
            QueryKind::Promql => "promql",
            QueryKind::Logql => "logql",
            QueryKind::Http => "http",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFail {
    #[default]
    Stop,
    Continue,
}

/// The attributes of a step, typed (SPEC §2.2).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Attrs {
    /// `None`: depends on the previous step for ordering only. `Some(vec![])`: a root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub read: bool,
    /// `Some("")` for a bare `confirm`, `Some(text)` for `confirm="text"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    pub retry: u32,
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
    pub on_fail: OnFail,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    pub interactive: bool,
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub budget: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    pub undo: bool,
    /// Query steps: re-evaluate every `delay` for this long, failing at the
    /// first false `expect` (docs/observability.md).
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub soak: Option<Duration>,
    /// promql/logql: query this window ending now (`query_range`).
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub range: Option<Duration>,
    /// promql/logql: the resolution of a range query.
    #[serde(with = "opt_duration", skip_serializing_if = "Option::is_none")]
    pub step: Option<Duration>,
}

/// Durations serialize as humantime strings (`30s`, `5m`).
pub mod opt_duration {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }
}

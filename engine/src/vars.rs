//! Variable resolution (SPEC §2.3): front matter `vars` < env profile <
//! alert labels < `--set` < answers to prompts. Each value remembers where it
//! came from, for `show` and `plan`.
//!
//! - **Typed values** ([`typed()`](typed::typed)): a value from an env profile, an alert,
//!   `--set`, `--set-file` or `RUNBOOK_VAR_<name>` takes the type of the
//!   variable's front matter default when it reads as one: `revision: 0` and
//!   `--set revision=0` give the number 0, so `when="revision == 0"` holds.
//! - **Required variables**: a null default (`target: ~`) is no value. The
//!   variable is reported [`missing`] until something gives it one (asked on
//!   a terminal, else exit 2), and templates treat it as undefined: it never
//!   renders as an empty string.
//! - **`RUNBOOK_VAR_<name>` and `--set-file name=PATH`** ([`command_line`])
//!   keep a secret out of argv, which `ps` shows every user; both rank as
//!   `--set`, the environment first, then files, then `--set`: the last
//!   given wins. Each value remembers its [`Channel`], so that a warning
//!   names what the user typed and the journal records the real origin
//!   (`runbook-var`, `set-file`, `set`: [`Resolved::origin_name`]): an
//!   auditor must not read that a secret went on the command line when it
//!   did not.
//! - **A value no template reads** is dropped: a given one after a warning
//!   ([`sort_given`]), one of the env profile or an alert silently
//!   ([`resolve`]). It could change nothing; a misspelt secret's name
//!   (`api_tokn`) must not put its value in the journal or the report, nor
//!   a value another runbook declares secret (docs/decisions.md).
//! - **A value that turns on no branch** ([`unmatched`]): `--set
//!   action=rolback`, where the runbook's conditions name `upgrade` and
//!   `rollback` only, is refused before anything runs.

mod domain;
mod secrets;
mod typed;

use serde::Serialize;

use std::collections::BTreeMap;
use std::ffi::OsString;

use crate::config::{Config, EnvProfile};
use crate::error::{Diagnostic, Error, Result};
use crate::model::{Runbook, Value, Vars};
use crate::template::Templater;

pub use domain::unmatched;
pub use secrets::unread_secrets;
pub use typed::{mismatch, typed, untyped_comparisons};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    FrontMatter,
    Env,
    Alert,
    Set,
    Prompt,
}

impl Origin {
    /// The journal's name of the origin (its serialized form).
    pub fn name(self) -> &'static str {
        serde_variant::to_variant_name(&self).unwrap_or("?")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub vars: Vars,
    pub origin: std::collections::BTreeMap<String, Origin>,
    /// How each value of origin [`Origin::Set`] was given (none: `--set`).
    pub via: std::collections::BTreeMap<String, Channel>,
}

impl Resolved {
    pub fn insert(&mut self, k: String, v: Value, o: Origin) {
        self.via.remove(&k);
        self.origin.insert(k.clone(), o);
        self.vars.insert(k, v);
    }

    /// A value given from outside, with how it was given.
    pub fn insert_given(&mut self, k: String, v: Value, channel: Channel) {
        self.insert(k.clone(), v, Origin::Set);
        self.via.insert(k, channel);
    }

    /// Note how each value of origin `set` was given: the last of `given`
    /// of its name wins, as it does in [`resolve`].
    pub fn given_through(&mut self, given: &[Given]) {
        for g in given {
            if self.origin.get(&g.name) == Some(&Origin::Set) {
                self.via.insert(g.name.clone(), g.channel);
            }
        }
    }

    /// The origin of `k` as the journal records it: `front-matter`, `env`
    /// (the env profile), `alert`, `prompt`, or for a value given from
    /// outside `set`, `set-file` or `runbook-var` ([`Channel::from_origin`]
    /// reads them back).
    pub fn origin_name(&self, k: &str) -> &'static str {
        match (self.origin.get(k), self.via.get(k)) {
            (Some(Origin::Set), Some(c)) => c.origin(),
            (Some(o), _) => o.name(),
            (None, _) => "",
        }
    }
}

/// The environment variables that set a variable: `RUNBOOK_VAR_<name>`.
pub const ENV_PREFIX: &str = "RUNBOOK_VAR_";

/// The largest file `--set-file` reads (a token, a key, a certificate).
pub const MAX_SET_FILE: u64 = 1 << 20;

/// Why a name cannot be given a value from outside, if it cannot.
fn bad_name(k: &str) -> Option<(String, &'static str)> {
    if !crate::parse::valid_var(k) {
        return Some((
            format!("`{k}` is not a variable name"),
            "variable names are letters, digits and `_`, starting with a letter: --set rev=41",
        ));
    }
    match k {
        "env" => Some((
            "`env` is the environment's name in templates, chosen with --env".into(),
            "pass --env NAME to choose the environment; a variable needs another name",
        )),
        "steps" => Some((
            "`steps` holds the steps' results in templates and cannot be set".into(),
            "a variable needs another name",
        )),
        _ => None,
    }
}

/// Parse `--set k=v` pairs. An error never shows the value: it may be a secret.
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => match bad_name(k.trim()) {
                None => Ok((k.trim().to_string(), v.to_string())),
                Some((why, hint)) => Err(Error::usage(format!("--set {}=…: {why}", k.trim()), hint)),
            },
            // Without `=` the word is shown only when it is a name: it may
            // be a value, a secret, typed without its name.
            None if bad_name(s.trim()).is_none() => {
                Err(Error::usage(format!("--set {s}: expected NAME=VALUE"), format!("write --set {s}=VALUE")))
            }
            None => Err(Error::usage("--set: expected NAME=VALUE, and it has no `=`", "write --set NAME=VALUE")),
        })
        .collect()
}

/// Where a value from outside the runbook was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// `RUNBOOK_VAR_<name>` in the engine's environment.
    Env,
    /// `--set-file name=PATH`.
    File,
    /// `--set name=VALUE`.
    Set,
}

impl Channel {
    /// The journal's origin of a value given through this channel.
    pub fn origin(self) -> &'static str {
        match self {
            Channel::Env => "runbook-var",
            Channel::File => "set-file",
            Channel::Set => "set",
        }
    }

    /// The channel of a journaled origin, if it is one of a given value.
    pub fn from_origin(o: &str) -> Option<Channel> {
        match o {
            "runbook-var" => Some(Channel::Env),
            "set-file" => Some(Channel::File),
            "set" => Some(Channel::Set),
            _ => None,
        }
    }
}

/// A value given from outside the runbook (all count as `--set`).
#[derive(Debug, Clone)]
pub struct Given {
    pub name: String,
    pub value: String,
    pub channel: Channel,
}

impl Given {
    /// How the user wrote it (never its value): `RUNBOOK_VAR_x`,
    /// `--set-file x`, `--set x`.
    pub fn label(&self) -> String {
        let n = &self.name;
        match self.channel {
            Channel::Env => format!("{ENV_PREFIX}{n}"),
            Channel::File => format!("--set-file {n}"),
            Channel::Set => format!("--set {n}"),
        }
    }
}

/// `RUNBOOK_VAR_<name>` of `environ`, then `--set-file name=PATH`, then
/// `--set`, in that order (the last given wins).
pub fn command_line(
    sets: &[String],
    files: &[String],
    environ: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Vec<Given>> {
    let mut out: Vec<Given> = Vec::new();
    for (k, v) in environ {
        let Some(name) = k.to_str().and_then(|k| k.strip_prefix(ENV_PREFIX)) else { continue };
        if let Some((why, hint)) = bad_name(name) {
            return Err(Error::usage(format!("{ENV_PREFIX}{name}: {why}"), hint));
        }
        let v = v.into_string().map_err(|_| {
            Error::usage(format!("{ENV_PREFIX}{name}: the value is not valid UTF-8"), "export it as UTF-8 text")
        })?;
        out.push(Given { name: name.to_string(), value: v, channel: Channel::Env });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    for f in files {
        let Some((k, path)) = f.split_once('=') else {
            return Err(Error::usage(
                format!("--set-file {f}: expected KEY=PATH"),
                format!("write --set-file {f}=PATH"),
            ));
        };
        let k = k.trim();
        if let Some((why, hint)) = bad_name(k) {
            return Err(Error::usage(format!("--set-file {k}=…: {why}"), hint));
        }
        out.push(Given { name: k.to_string(), value: read_set_file(k, path)?, channel: Channel::File });
    }
    for (name, value) in parse_sets(sets)? {
        out.push(Given { name, value, channel: Channel::Set });
    }
    Ok(out)
}

/// A `--set-file` value: the file's text without its last line ending.
fn read_set_file(k: &str, path: &str) -> Result<String> {
    let fail =
        |why: String| Error::usage(format!("--set-file {k}={path}: {why}"), "give the path of a UTF-8 text file");
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a file".into()));
    }
    if meta.len() > MAX_SET_FILE {
        return Err(fail(format!("{} bytes, more than the {MAX_SET_FILE} a variable may hold", meta.len())));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let mut text = String::from_utf8(bytes).map_err(|_| fail("not valid UTF-8".into()))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// The variables of a play of `rb`: its front matter's, then the env
/// profile's, the alert's and the given ones. Of the profile and the alert,
/// only what the runbook [`reads`]: a profile is shared by every runbook of
/// the project, and a value another runbook declares secret must not reach
/// this one's journal, `plan`, report or live view in clear.
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
    let default = |k: &str| rb.vars.get(k);
    let read = reads(rb);
    if let Some(p) = env {
        for (k, v) in p.vars.iter().filter(|(k, _)| read.contains(k.as_str())) {
            r.insert(k.clone(), typed(default(k), v.clone()), Origin::Env);
        }
    }
    for (k, v) in alert.iter().filter(|(k, _)| read.contains(k.as_str())) {
        r.insert(k.clone(), typed(default(k), Value::String(v.clone())), Origin::Alert);
    }
    for (k, v) in sets {
        r.insert(k.clone(), typed(default(k), Value::String(v.clone())), Origin::Set);
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
            // A null default is none: the variable is required.
            default: rb.vars.get(&name).filter(|v| !v.is_null()).map(|v| crate::vars::as_text(&rb.shown(&name, v))),
            envs: config.envs.values().filter(|e| e.vars.contains_key(&name)).map(|e| e.name.clone()).collect(),
            captured_by: rb.steps.iter().find(|s| s.attrs.capture.as_deref() == Some(&name)).map(|s| s.id.clone()),
            secret: rb.is_secret(&name),
            used_by,
            name,
        })
        .collect()
}

/// Every variable `rb` reads: those its front matter declares, those its
/// templates read, and the servers' when it has a query step (the engine
/// reads those itself).
pub fn reads(rb: &Runbook) -> std::collections::BTreeSet<String> {
    let t = Templater::new(rb);
    let mut names: std::collections::BTreeSet<String> = rb.vars.keys().cloned().collect();
    for s in &rb.steps {
        names.extend(t.names_used(s).into_iter().filter(|n| !crate::template::BUILTINS.contains(&n.as_str())));
    }
    if rb.steps.iter().any(|s| s.kind.query().is_some()) {
        names.extend(SERVERS.iter().flat_map(|s| s.vars).map(|n| n.to_string()));
    }
    names
}

/// A server the engine itself queries for a runbook's query steps
/// (`promql`, `logql`, `http`; `crate::observe::Servers`): the variables
/// that name it, the first one set winning, and the engine's environment
/// variable that does.
pub struct ServerVars {
    pub vars: &'static [&'static str],
    pub env: &'static str,
}

pub const PROMETHEUS: ServerVars =
    ServerVars { vars: &["prometheus", "prometheus_url"], env: "RUNBOOK_PROMETHEUS_URL" };
pub const LOKI: ServerVars = ServerVars { vars: &["loki", "loki_url"], env: "RUNBOOK_LOKI_URL" };
pub const GRAFANA: ServerVars = ServerVars { vars: &["grafana", "grafana_url"], env: "RUNBOOK_GRAFANA_URL" };
pub const LOKI_DATASOURCE: ServerVars = ServerVars { vars: &["loki_datasource"], env: "RUNBOOK_LOKI_DATASOURCE" };

/// Every server's variables: read by the engine when a runbook has a query step.
const SERVERS: [ServerVars; 4] = [PROMETHEUS, LOKI, GRAFANA, LOKI_DATASOURCE];

/// The values given from outside that the runbook reads, as `--set` pairs in
/// the order given, and one warning (with did-you-mean) for each name and
/// channel it reads nowhere, and one for each value that does not read as
/// its default's type (number, boolean: it stays text, see [`typed()`](typed::typed)). Those are dropped: a misspelt name would leave
/// the default in place and change nothing, and its value (perhaps a secret
/// given under a wrong name, so not masked) must not reach the journal, the
/// report or `plan`.
pub fn sort_given(rb: &Runbook, given: &[Given]) -> (Vec<(String, String)>, Vec<Diagnostic>) {
    let read = reads(rb);
    let names: Vec<&str> = read.iter().map(String::as_str).collect();
    let mut kept = Vec::new();
    let mut warnings: Vec<Diagnostic> = Vec::new();
    let mut said = std::collections::BTreeSet::new();
    for g in given {
        let k = g.name.as_str();
        if names.contains(&k) {
            if g.channel == Channel::Set && rb.is_secret(k) && said.insert((k, g.channel)) {
                warnings.push(
                    Diagnostic::warning(
                        "secret-in-argv",
                        format!(
                            "--set {k}: a secret on the command line is visible to every user of this machine (`ps`)"
                        ),
                    )
                    .hint(format!("give it with {}", crate::template::how_to_give(k, true))),
                );
            }
            if let Some(want) = mismatch(rb.vars.get(k), &g.value) {
                // Never the value: it may be a secret.
                warnings.push(
                    Diagnostic::warning(
                        "value-type",
                        format!(
                            "{}: the value is not {want}, as the default of `{k}` is; it is used as text",
                            g.label()
                        ),
                    )
                    .hint(format!("give {want}, or change the default of `{k}` in the front matter")),
                );
            }
            kept.push((g.name.clone(), g.value.clone()));
            continue;
        }
        if !said.insert((k, g.channel)) {
            continue;
        }
        let mut d = Diagnostic::warning(
            "unread-variable",
            format!("{}: runbook `{}` reads no variable `{k}`; it is ignored", g.label(), rb.id),
        );
        if let Some(near) = crate::error::did_you_mean(k, names.iter().copied()) {
            d = d.hint(format!("did you mean `{near}`?"));
        }
        warnings.push(d);
    }
    (kept, warnings)
}

/// A variable the runbook's templates read that nothing defines.
#[derive(Debug, Clone)]
pub struct Missing {
    pub name: String,
    /// Steps whose templates read it, in document order.
    pub used_by: Vec<String>,
    pub secret: bool,
    /// Declared in front matter (with a null default: required).
    pub declared: bool,
    /// Where it is first read (runbook file, line).
    pub file: std::path::PathBuf,
    pub line: usize,
}

/// Every variable read by a template (body, `when`, `expect`, `cwd`) that is
/// neither resolved nor captured by a step, and every required variable
/// (null default) nothing gave a value: those the front matter declares in
/// its order, then the others in the order steps first read them (the order
/// a play asks for them).
pub fn missing(rb: &Runbook, vars: &Resolved) -> Vec<Missing> {
    let t = Templater::new(rb);
    let captured: Vec<&str> = rb.steps.iter().filter_map(|s| s.attrs.capture.as_deref()).collect();
    let unset = |n: &str| vars.vars.get(n).is_none_or(Value::is_null);
    let mut out: BTreeMap<String, Missing> = BTreeMap::new();
    for s in &rb.steps {
        for n in t.names_required(s) {
            // A function there is none of: no value can be it (the render
            // says so).
            if crate::template::BUILTINS.contains(&n.as_str())
                || captured.contains(&n.as_str())
                || t.calls_unknown(s, &n)
            {
                continue;
            }
            if !unset(&n) {
                continue;
            }
            let m = out.entry(n.clone()).or_insert_with(|| Missing {
                secret: rb.is_secret(&n),
                declared: rb.vars.contains_key(&n),
                used_by: Vec::new(),
                file: rb.path.clone(),
                line: t.line_of_name(s, crate::template::Source::Body, &n).unwrap_or(s.line),
                name: n.clone(),
            });
            m.used_by.push(s.id.clone());
        }
    }
    // Required but read by no template: still required.
    for (n, _) in rb.vars.iter().filter(|(n, v)| v.is_null() && unset(n) && !captured.contains(&n.as_str())) {
        out.entry(n.clone()).or_insert_with(|| Missing {
            name: n.clone(),
            used_by: Vec::new(),
            secret: rb.is_secret(n),
            declared: true,
            file: rb.path.clone(),
            line: declared_at(rb, n),
        });
    }
    let mut out: Vec<Missing> = out.into_values().collect();
    out.sort_by_cached_key(|m| match m.declared {
        true => (0, declared_at(rb, &m.name)),
        false => (1, m.line),
    });
    out
}

/// The line of the runbook where front matter declares `name` (else the
/// front matter's first line).
pub fn declared_at(rb: &Runbook, name: &str) -> usize {
    let start = rb.front_matter_line.unwrap_or(1);
    std::fs::read_to_string(&rb.path)
        .ok()
        .and_then(|t| {
            t.lines()
                .skip(start)
                .take_while(|l| l.trim_end() != "---")
                .position(|l| l.trim_start().strip_prefix(name).is_some_and(|r| r.trim_start().starts_with(':')))
        })
        .map_or(start, |i| start + 1 + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origins_name_is_its_serialized_form() {
        for o in [Origin::FrontMatter, Origin::Env, Origin::Alert, Origin::Set, Origin::Prompt] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.name());
        }
        for c in [Channel::Env, Channel::File, Channel::Set] {
            assert_eq!(Channel::from_origin(c.origin()), Some(c));
        }
    }
}

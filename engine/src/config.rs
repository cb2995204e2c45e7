//! `runbook.toml`: where runbooks, fixtures and state live, the environment
//! profiles, and which programs a rehearsal stubs (SPEC §3).
//!
//! Found by walking up from the current directory, so `runbook` works from any
//! subdirectory of the repository; `--config` overrides. Without a config the
//! current directory is the root and the defaults apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Diagnostic, Error, Result, did_you_mean};
use crate::model::Vars;
use crate::parse::LineIndex;
use crate::state_url::State;

pub const FILE_NAME: &str = "runbook.toml";

#[derive(Debug, Clone)]
pub struct Config {
    /// The repository root: the directory holding `runbook.toml`.
    pub root: PathBuf,
    pub file: Option<PathBuf>,
    pub runbooks: PathBuf,
    pub fixtures: PathBuf,
    /// The local store's directory; with a shared store, this machine's
    /// own files (engine logs, the spool of events the database missed).
    pub state: PathBuf,
    /// `state = "postgres://…"` (or `RUNBOOK_STATE`): the team's database.
    pub shared_state: Option<SharedState>,
    pub default_env: Option<String>,
    pub envs: BTreeMap<String, EnvProfile>,
    pub stubs: Vec<String>,
    /// `[rehearse] env`: more variables of the engine's environment that
    /// rehearsed steps see (`JAVA_HOME`), beyond the sandbox's allow-list.
    pub rehearse_env: Vec<String>,
    /// `[rehearse] local`: more tools an uncontained rehearsal's steps find
    /// on `PATH`, beyond the built-in list (`rehearse::sandbox::LOCAL_TOOLS`).
    pub rehearse_local: Vec<String>,
    /// `[alerts]`: how `--from-alert` payloads map to variables and runbooks.
    pub alerts: Alerts,
}

/// `[alerts]` of runbook.toml (issue 6): `[alerts.labels]` maps an alert
/// label to a variable name, `[alerts.runbooks]` an alertname to a runbook id.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub runbooks: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmPolicy {
    /// Only steps marked `confirm` ask.
    #[default]
    Marked,
    /// Every step that is not `read` asks.
    Write,
    /// Every step asks.
    All,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    pub run: String,
    pub expect: String,
}

#[derive(Debug, Clone, Default)]
pub struct EnvProfile {
    pub name: String,
    pub vars: Vars,
    pub confirm: ConfirmPolicy,
    pub guard: Option<Guard>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    runbooks: Option<String>,
    fixtures: Option<String>,
    state: Option<toml::Spanned<String>>,
    default_env: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, BTreeMap<String, toml::Spanned<toml::Value>>>,
    #[serde(default)]
    rehearse: RawRehearse,
    #[serde(default)]
    alerts: Alerts,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRehearse {
    #[serde(default)]
    stub: Vec<String>,
    #[serde(default)]
    env: Vec<toml::Spanned<String>>,
    #[serde(default)]
    local: Vec<toml::Spanned<String>>,
}

/// Variables a rehearsal sets itself (or that would let a rehearsed step
/// reach the real world through the engine): `[rehearse] env` cannot pass
/// them through.
const SANDBOX_OWNED: &[&str] = &["PATH", "HOME", "TMPDIR", "KUBECONFIG", "BASH_ENV", "ENV"];

pub const DEFAULT_STUBS: &[&str] = &["kubectl", "helm", "docker", "curl", "python3", "python"];

/// `RUNBOOK_STATE`, else `state` of runbook.toml (`at`: its file and line),
/// else `.runbook`: a directory, or a `postgres://` URL (this machine's files
/// then stay in `.runbook`). A value that is neither is refused, where it was
/// set ([`crate::state_url`]).
fn state(root: &Path, configured: Option<&str>, at: Option<(&Path, usize)>) -> Result<(PathBuf, Option<SharedState>)> {
    let env = std::env::var("RUNBOOK_STATE").ok();
    // Set but empty (`RUNBOOK_STATE=$TEAM_DB` with TEAM_DB unset): falling
    // back to this machine's `.runbook` would take a local lock where the
    // team shares one.
    if env.as_deref().is_some_and(|v| v.trim().is_empty()) {
        return Err(Error::invalid(Diagnostic::error("state-dir", "RUNBOOK_STATE is set but empty").hint(
            "unset it to use `state` of runbook.toml (`.runbook` without one), or set it to a directory or the team's `postgres://…`",
        )));
    }
    let (value, at) = match (&env, configured) {
        (Some(v), _) => (v.as_str(), None),
        (None, Some(v)) => (v, at),
        (None, None) => (".runbook", None),
    };
    match crate::state_url::classify(value) {
        Ok(State::Dir(d)) if root.join(&d).exists() && !root.join(&d).is_dir() => {
            let why = format!("`{value}` is a file, not a directory");
            let d = match at {
                Some((f, l)) => Diagnostic::error("state-dir", format!("state: {why}")).at(f, l),
                None => Diagnostic::error("state-dir", format!("RUNBOOK_STATE: {why}")),
            };
            Err(Error::invalid(d.hint(
                "the state is a directory the runs, logs and locks are kept in (`.runbook` when unset), or a team database (`postgres://…`)",
            )))
        }
        Ok(State::Dir(d)) => Ok((root.join(d), None)),
        Ok(State::Database(url)) => {
            Ok((root.join(".runbook"), Some(SharedState { url, at: at.map(|(f, l)| (f.to_path_buf(), l)) })))
        }
        Err(why) => {
            let hint = "a team database is `state = \"postgres://USER@HOST:5432/DB\"` (password from PGPASSWORD or ~/.pgpass); a directory is a path (`./name` for one with a colon)";
            let d = match at {
                Some((f, l)) => Diagnostic::error("state-url", format!("state: {why}")).at(f, l),
                None => Diagnostic::error("state-url", format!("RUNBOOK_STATE: {why}")),
            };
            Err(Error::invalid(d.hint(hint)))
        }
    }
}

/// The team's database, and where it was named (`None`: `RUNBOOK_STATE`).
#[derive(Debug, Clone)]
pub struct SharedState {
    pub url: String,
    pub at: Option<(PathBuf, usize)>,
}

impl SharedState {
    /// An error about the URL (malformed, nothing answers there, or the
    /// server refused it), located where it was set.
    pub fn locate(&self, e: Error) -> Error {
        match e {
            Error::Invalid(ds) => Error::Invalid(
                ds.into_iter()
                    .map(|d| {
                        match (
                            &self.at,
                            d.file.is_none() && matches!(d.code, "state-url" | "state-unreachable" | "state-database"),
                        ) {
                            (Some((f, l)), true) => d.at(f, *l),
                            (None, true) => Diagnostic { message: format!("RUNBOOK_STATE: {}", d.message), ..d },
                            _ => d,
                        }
                    })
                    .collect(),
            ),
            e => e,
        }
    }
}

/// The text of the config file `file`.
fn read(file: &Path) -> Result<String> {
    std::fs::read_to_string(file)
        .map_err(|e| Error::invalid(Diagnostic::error("config", format!("cannot read config: {e}")).in_file(file)))
}

impl Config {
    /// The defaults, rooted at `root`, when there is no `runbook.toml`.
    pub fn defaults(root: &Path) -> Config {
        Config {
            root: root.to_path_buf(),
            file: None,
            runbooks: root.join("runbooks"),
            fixtures: root.join("fixtures"),
            state: root.join(".runbook"),
            shared_state: None,
            default_env: None,
            envs: BTreeMap::new(),
            stubs: DEFAULT_STUBS.iter().map(|s| s.to_string()).collect(),
            rehearse_env: Vec::new(),
            rehearse_local: Vec::new(),
            alerts: Alerts::default(),
        }
    }

    /// `--config FILE`, or `runbook.toml` in `start` or any parent.
    pub fn discover(explicit: Option<&Path>, start: &Path) -> Result<Config> {
        if let Some(p) = explicit {
            // Not only a regular file: `--config /dev/null` (no settings) or
            // a process substitution is read as what it holds.
            let why = match std::fs::metadata(p) {
                Err(_) => Some(format!("config file not found: {}", p.display())),
                Ok(m) if m.is_dir() => Some(format!("--config {}: is a directory, not a file", p.display())),
                Ok(_) => None,
            };
            if let Some(why) = why {
                return Err(Error::invalid(
                    Diagnostic::error("config", why)
                        .hint("pass the path of a runbook.toml, or drop --config to search upwards"),
                ));
            }
            if p.is_file() {
                return Config::load(p);
            }
            // `/dev/null`, a pipe: no directory of its own, so the project
            // is the current one.
            return Config::from_str_at(p, &read(p)?, start.to_path_buf());
        }
        let mut dir = Some(start);
        while let Some(d) = dir {
            let f = d.join(FILE_NAME);
            if f.is_file() {
                return Config::load(&f);
            }
            dir = d.parent();
        }
        // No file: `RUNBOOK_STATE` may still name the state.
        let (state, shared_state) = state(start, None, None)?;
        Ok(Config { state, shared_state, ..Config::defaults(start) })
    }

    pub fn load(file: &Path) -> Result<Config> {
        Config::from_str(file, &read(file)?)
    }

    pub fn from_str(file: &Path, text: &str) -> Result<Config> {
        let root = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = if root.as_os_str().is_empty() { PathBuf::from(".") } else { root };
        Config::from_str_at(file, text, root)
    }

    /// [`Config::from_str`], the project rooted at `root` rather than at the
    /// file's directory.
    fn from_str_at(file: &Path, text: &str, root: PathBuf) -> Result<Config> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| LineIndex::new(text).line(s.start)).unwrap_or(1);
            Error::invalid(
                Diagnostic::error("config", e.message().trim().to_string())
                    .at(file, line)
                    .hint("keys: runbooks, fixtures, state, default_env, [env.NAME], [rehearse] stub/env/local, [alerts] labels/runbooks (see SPEC §3, docs/observability.md)"),
            )
        })?;
        let line_of = |needle: &str| text.find(needle).map(|o| LineIndex::new(text).line(o)).unwrap_or(1);
        let lines = LineIndex::new(text);
        let mut envs = BTreeMap::new();
        for (name, table) in raw.env {
            let at = env_line(text, &name);
            // Env names name lock files and run ids (`<runbook>@<env>.lock`).
            if !crate::parse::valid_runbook_id(&name) {
                return Err(Error::invalid(
                    Diagnostic::error("config", format!("[env.\"{}\"]: not an environment name", name.escape_debug()))
                        .at(file, at)
                        .hint(
                            "environment names are letters, digits, `.`, `_` and `-`, starting with a letter or digit",
                        ),
                ));
            }
            let mut p = EnvProfile { name: name.clone(), ..EnvProfile::default() };
            for (k, v) in table {
                let literal = text.get(v.span());
                // Where the key's value is: an error points at its line, not
                // at the table's header.
                let here = lines.line(v.span().start);
                let v = v.into_inner();
                if !matches!(k.as_str(), "confirm" | "guard") && !crate::parse::valid_var(&k)
                    || k == "env"
                    || k == "steps"
                {
                    return Err(Error::invalid(
                        Diagnostic::error("config", format!("[env.{name}] `{}`: not a variable name", k.escape_debug()))
                            .at(file, here)
                            .hint("variable names are letters, digits and `_`, starting with a letter (not `env` or `steps`, which templates define)"),
                    ));
                }
                if let Some(meant) = near_setting(&k) {
                    return Err(Error::invalid(
                        Diagnostic::error(
                            "config",
                            format!(
                                "[env.{name}] `{}`: did you mean `{meant}`? As written it is a variable, and env `{name}` has no {meant}",
                                k.escape_debug()
                            ),
                        )
                        .at(file, key_line(text, at, &k))
                        .hint(format!("spell it `{meant}`; a variable needs a name further from `{meant}`")),
                    ));
                }
                match k.as_str() {
                    "confirm" => {
                        p.confirm = match v.as_str() {
                            Some("write") => ConfirmPolicy::Write,
                            Some("all") => ConfirmPolicy::All,
                            Some("marked") => ConfirmPolicy::Marked,
                            _ => {
                                return Err(Error::invalid(
                                    Diagnostic::error(
                                        "config",
                                        format!("[env.{name}] confirm = {v}: not a confirm policy"),
                                    )
                                    .at(file, here)
                                    .hint("use \"write\" (every non-read step asks), \"all\" or \"marked\" (default)"),
                                ));
                            }
                        }
                    }
                    "guard" => {
                        p.guard = Some(v.try_into().map_err(|e: toml::de::Error| {
                            Error::invalid(
                                Diagnostic::error("config", format!("[env.{name}] guard: {}", e.message().trim()))
                                    .at(file, here)
                                    .hint("guard = { run = \"kubectl config current-context\", expect = \"^prod-\" }"),
                            )
                        })?);
                        let g = p.guard.as_ref().expect("just set");
                        if let Err(e) = crate::expect::compile(&g.expect) {
                            let what = e.message(&g.expect).replacen("`expect`", "its expect", 1);
                            return Err(Error::invalid(
                                Diagnostic::error("config", format!("[env.{name}] guard: {what}"))
                                    .at(file, here)
                                    .hint(e.hint),
                            ));
                        }
                    }
                    _ => {
                        p.vars.insert(k, crate::parse::from_toml(v, literal));
                    }
                }
            }
            envs.insert(name, p);
        }
        if let Some(d) = &raw.default_env
            && !envs.contains_key(d)
        {
            let d = d.escape_debug();
            return Err(Error::invalid(
                Diagnostic::error("config", format!("default_env = \"{d}\" names no [env.{d}] table"))
                    .at(file, line_of("default_env"))
                    .hint("add the [env] table or fix the name"),
            ));
        }
        for (label, var) in &raw.alerts.labels {
            if !crate::parse::valid_var(var) {
                return Err(Error::invalid(
                    Diagnostic::error("config", format!("[alerts.labels] {label} = \"{var}\": not a variable name"))
                        .at(file, line_of("[alerts.labels]"))
                        .hint("map a label to a variable: namespace = \"namespace\", instance = \"target\""),
                ));
            }
        }
        // A stub is written into the rehearsal's scratch tree (and, contained,
        // over a path of its own root): an entry that climbs out could only
        // name a file outside it.
        for s in &raw.rehearse.stub {
            let climbs = Path::new(s).components().any(|c| matches!(c, std::path::Component::ParentDir));
            if s.trim().is_empty() || climbs || s.ends_with('/') {
                return Err(Error::invalid(
                    Diagnostic::error("config", format!("[rehearse] stub \"{}\": not a program or path", s.escape_debug()))
                        .at(file, line_of("stub"))
                        .hint("name a program (`kubectl`), a repo script relative to the repo root without `..` (`ops/scripts/x.sh`), or an absolute program path (`/usr/local/bin/kubectl`, shadowed only inside a contained rehearsal)"),
                ));
            }
        }
        for spanned in &raw.rehearse.env {
            let name = spanned.get_ref();
            let word = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let why = if !word {
                Some("not a variable name")
            } else if SANDBOX_OWNED.contains(&name.as_str()) || name.starts_with("RUNBOOK_") {
                Some("the rehearsal sets it itself")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(Error::invalid(
                    Diagnostic::error("config", format!("[rehearse] env \"{}\": {why}", name.escape_debug()))
                        .at(file, LineIndex::new(text).line(spanned.span().start))
                        .hint("name variables of your environment that rehearsed steps need, as they are spelt: env = [\"JAVA_HOME\", \"GOPATH\"]; PATH, HOME, TMPDIR, KUBECONFIG, BASH_ENV, ENV and RUNBOOK_* belong to the sandbox"),
                ));
            }
        }
        // A local tool is linked into the rehearsal's PATH directory by its name.
        for spanned in &raw.rehearse.local {
            let name = spanned.get_ref();
            let plain = !name.is_empty()
                && name != "."
                && name != ".."
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '['));
            if !plain {
                return Err(Error::invalid(
                    Diagnostic::error("config", format!("[rehearse] local \"{}\": not a program name", name.escape_debug()))
                        .at(file, LineIndex::new(text).line(spanned.span().start))
                        .hint("name programs found on PATH that only read and write local files, as they are spelt: local = [\"xmllint\", \"csvtool\"] (docs/containment.md)"),
                ));
            }
        }
        let rehearse_local: Vec<String> = raw.rehearse.local.into_iter().map(toml::Spanned::into_inner).collect();
        let rehearse_env: Vec<String> = raw.rehearse.env.into_iter().map(toml::Spanned::into_inner).collect();
        let mut stubs = if raw.rehearse.stub.is_empty() {
            DEFAULT_STUBS.iter().map(|s| s.to_string()).collect()
        } else {
            raw.rehearse.stub
        };
        // A program named twice is one shim (the second failed: File exists).
        let mut seen = std::collections::HashSet::new();
        stubs.retain(|s| seen.insert(s.clone()));
        // An empty path is the project's root: `state = ""` would put
        // `runs/` and `locks/` beside runbook.toml.
        let empty = [
            ("runbooks", raw.runbooks.as_deref()),
            ("fixtures", raw.fixtures.as_deref()),
            ("state", raw.state.as_ref().map(|s| s.get_ref().as_str())),
        ];
        if let Some((key, _)) = empty.iter().find(|(_, v)| v.is_some_and(|v| v.trim().is_empty())) {
            return Err(Error::invalid(
                Diagnostic::error("config", format!("{key} = \"\": an empty path"))
                    .at(file, key_line(text, 0, key))
                    .hint(format!(
                        "remove the line for the default (`{}`), or name a directory",
                        match *key {
                            "state" => ".runbook",
                            k => k,
                        }
                    )),
            ));
        }
        let state_line = raw.state.as_ref().map_or(1, |s| LineIndex::new(text).line(s.span().start));
        let configured = raw.state.as_ref().map(|s| s.get_ref().as_str());
        let (state, shared_state) = state(&root, configured, Some((file, state_line)))?;
        Ok(Config {
            runbooks: root.join(raw.runbooks.as_deref().unwrap_or("runbooks")),
            fixtures: root.join(raw.fixtures.as_deref().unwrap_or("fixtures")),
            state,
            shared_state,
            default_env: raw.default_env,
            envs,
            stubs,
            rehearse_env,
            rehearse_local,
            alerts: raw.alerts,
            file: Some(file.to_path_buf()),
            root,
        })
    }

    /// The profile for `--env NAME` (or the default env); an unknown name is
    /// an error listing the known ones. [`LOCAL_ENV`] without a table of its
    /// own is the env of no profile, as when no env is given.
    pub fn env(&self, name: Option<&str>) -> Result<Option<&EnvProfile>> {
        let Some(name) = name.or(self.default_env.as_deref()) else { return Ok(None) };
        match self.envs.get(name) {
            Some(p) => Ok(Some(p)),
            None if name == LOCAL_ENV => Ok(None),
            None => {
                let known: Vec<&str> = self.envs.keys().map(String::as_str).collect();
                let mut hint = if known.is_empty() {
                    "define it as an [env.NAME] table in runbook.toml".to_string()
                } else {
                    format!("known environments: {}", known.join(", "))
                };
                if let Some(m) = did_you_mean(name, known.iter().copied()) {
                    hint = format!("did you mean `{m}`? {hint}");
                }
                let mut d = Diagnostic::error("unknown-env", format!("unknown environment `{name}`")).hint(hint);
                if let Some(f) = &self.file {
                    d = d.in_file(f);
                }
                Err(Error::invalid(d))
            }
        }
    }
}

/// The env of a play given no profile: runs, locks and reports name it so,
/// and `--env local` chooses it too (unless runbook.toml has `[env.local]`).
pub const LOCAL_ENV: &str = "local";

/// The profile setting (`confirm`, `guard`) a key of an `[env.*]` table
/// misspells (`confrim`, `Guard`, `guards`): one edit or transposition
/// away, in any case. Taken as a variable, it would leave the env without
/// the confirm policy or guard its author wrote, and without a word.
fn near_setting(key: &str) -> Option<&'static str> {
    let k = key.to_lowercase();
    ["confirm", "guard"].into_iter().find(|s| key != *s && strsim::osa_distance(&k, s) <= 1)
}

/// The line of `key = …` in the `[env.*]` table that starts at line
/// `table` (1-based); `table` itself when it is not found there.
fn key_line(text: &str, table: usize, key: &str) -> usize {
    text.lines()
        .enumerate()
        .skip(table)
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find(|(_, l)| {
            let l = l.trim_start();
            let l = l.strip_prefix('"').or_else(|| l.strip_prefix('\'')).unwrap_or(l);
            l.strip_prefix(key).is_some_and(|r| r.trim_start_matches(['"', '\'']).trim_start().starts_with('='))
        })
        .map_or(table, |(i, _)| i + 1)
}

/// The line of `[env.NAME]` (or a quoted or dotted spelling of it) in the
/// config text; 1 when it cannot be found.
fn env_line(text: &str, name: &str) -> usize {
    let forms =
        [format!("[env.{name}]"), format!("[env.\"{name}\"]"), format!("[env.'{name}']"), format!("env.{name}.")];
    let idx = LineIndex::new(text);
    forms.iter().find_map(|f| text.find(f.as_str())).map_or(1, |o| idx.line(o))
}

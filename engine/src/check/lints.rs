//! The structural lints of `check` (SPEC §5): everything the engine itself
//! can see in a runbook without running a shell: parse and plan errors,
//! template syntax, undefined variables per environment, `{{ }}` inside
//! quotes, unclosed documentation fences, and a missing fixture. The lints
//! of any page (placeholders, hazards, front matter) are in `page.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;

use crate::config::{Config, EnvProfile};
use crate::error::{Diagnostic, Error, Severity};
use crate::model::Runbook;
use crate::plan::Dag;
use crate::template::{BUILTINS, Source, Templater};

/// A fenced block as the text lints see it: a step or a documentation block.
#[derive(Debug, Clone)]
pub struct Block<'r> {
    /// Line of the opening fence.
    pub line: usize,
    pub body_line: usize,
    pub lang: &'r str,
    pub body: &'r str,
    /// The step id, `None` for documentation.
    pub step: Option<&'r str>,
}

impl Block<'_> {
    /// `bash` or `sh` when the block is shell code.
    pub fn dialect(&self) -> Option<&'static str> {
        match self.lang {
            "bash" | "shell" => Some("bash"),
            "sh" => Some("sh"),
            _ => None,
        }
    }

    pub fn what(&self) -> String {
        match self.step {
            Some(id) => format!("step `{id}`"),
            None => "documentation block".to_string(),
        }
    }
}

pub fn blocks(rb: &Runbook) -> Vec<Block<'_>> {
    let mut out: Vec<Block> = rb
        .steps
        .iter()
        .map(|s| Block { line: s.line, body_line: s.body_line, lang: &s.lang, body: &s.body, step: Some(&s.id) })
        .chain(rb.doc_blocks.iter().map(|d| Block {
            line: d.line,
            body_line: d.body_line,
            lang: &d.lang,
            body: &d.body,
            step: None,
        }))
        .collect();
    out.sort_by_key(|b| b.line);
    out
}

/// Diagnostics of a failed parse or plan, as findings.
pub fn from_error(e: Error, file: &std::path::Path) -> Vec<Diagnostic> {
    match e {
        Error::Invalid(d) => d,
        other => vec![Diagnostic::error("io", other.to_string()).in_file(file)],
    }
}

/// Template syntax of every step.
pub fn templates(rb: &Runbook) -> Vec<Diagnostic> {
    let t = Templater::new(rb);
    rb.steps.iter().flat_map(|s| t.check_syntax(s)).collect()
}

/// `steps.cuont.status`: at run time an undefined value, which a `when`
/// cannot decide on.
pub fn unknown_step_refs(rb: &Runbook) -> Vec<Diagnostic> {
    let t = Templater::new(rb);
    rb.steps.iter().flat_map(|s| t.unknown_step_ref_errors(s)).collect()
}

/// The environments a runbook may run in, with their profiles.
fn envs<'c>(rb: &Runbook, config: &'c Config) -> Vec<Option<&'c EnvProfile>> {
    let mut out: Vec<Option<&EnvProfile>> =
        config.envs.values().filter(|p| rb.envs.is_empty() || rb.envs.contains(&p.name)).map(Some).collect();
    if out.is_empty() {
        out.push(None);
    }
    out
}

/// What `plan` refuses in each env the runbook may run in, by `plan`'s own
/// code ([`crate::preview::build`]) with each env's variables: a `when`
/// that fails on the values it reads, a template that fails to render, an
/// `expect` that is not a regex. A refusal of some envs only names them
/// (`in env prod`); one mistake is reported once, in the words of the first
/// env that shows it. Undefined variables and template syntax are left to
/// their own lints ([`undefined_vars`], [`templates`]), which say more.
pub fn plan_refusals(rb: &Runbook, dag: &Dag, config: &Config) -> Vec<Diagnostic> {
    const OWN_LINTS: [&str; 3] = ["undefined-variable", "template-syntax", "template-too-large"];
    let envs = envs(rb, config);
    // One mistake: the same line, code and subject (`when of step a`).
    let key = |d: &Diagnostic| (d.line, d.code, d.message.split(": ").next().unwrap_or_default().to_string());
    let mut found: Vec<(Diagnostic, Vec<&str>)> = Vec::new();
    for env in &envs {
        let vars = crate::vars::resolve(rb, *env, &[], &[]);
        let Err(e) = crate::preview::build(rb, dag, &vars, *env, true) else { continue };
        let name = env.map_or("(no env)", |p| p.name.as_str());
        for d in from_error(e, &rb.path).into_iter().filter(|d| !OWN_LINTS.contains(&d.code)) {
            match found.iter_mut().find(|(f, _)| key(f) == key(&d)) {
                Some((_, names)) => names.push(name),
                None => found.push((d, vec![name])),
            }
        }
    }
    found
        .into_iter()
        .map(|(d, names)| {
            if names.len() == envs.len() {
                d
            } else {
                Diagnostic { message: format!("{} in env {}", d.message, names.join(", ")), ..d }
            }
        })
        .collect()
}

/// An `undo` block no step names in `rollback=`: no rollback runs it, so
/// it is documentation that looks like a safety net.
pub fn orphan_undos(rb: &Runbook, dag: &Dag) -> Vec<Diagnostic> {
    let named: std::collections::BTreeSet<usize> = dag.rollback.iter().flatten().copied().collect();
    rb.steps
        .iter()
        .enumerate()
        .filter(|(u, s)| s.attrs.undo && !named.contains(u))
        .map(|(_, s)| {
            Diagnostic::warning(
                "orphan-undo",
                format!("undo block `{}` is the rollback of no step: it never runs", s.id),
            )
            .at(&rb.path, s.line)
            .hint(format!("name it in the step it undoes (`rollback={}`), or drop `undo` to make it a step", s.id))
        })
        .collect()
}

/// Front-matter `envs` that runbook.toml does not define. Without any
/// `[env.*]`, a play is `local`: an `envs` without it plays only when
/// `--env local` is typed.
/// `text`: the runbook file's, for the line of `envs`.
pub fn unknown_envs(rb: &Runbook, config: &Config, text: &str) -> Vec<Diagnostic> {
    let at = crate::parse::top_key_line(text, "envs").or(rb.front_matter_line).unwrap_or(1);
    if config.envs.is_empty() {
        let local = crate::config::LOCAL_ENV;
        if rb.envs.is_empty() || rb.envs.iter().any(|e| e == local) {
            return Vec::new();
        }
        let names = rb.envs.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ");
        return vec![
            Diagnostic::error(
                "unknown-env",
                format!(
                    "front matter `envs` names {names}, but runbook.toml defines no env: \
                     the runbook plays only with `--env {local}`"
                ),
            )
            .at(&rb.path, at)
            .hint(format!(
                "define them in runbook.toml (`[env.{}]`), or add `{local}` to `envs` (the env of a play without profiles)",
                rb.envs[0]
            )),
        ];
    }
    rb.envs
        .iter()
        .filter(|e| !config.envs.contains_key(*e))
        .map(|e| {
            let known: Vec<&str> = config.envs.keys().map(String::as_str).collect();
            Diagnostic::error(
                "unknown-env",
                format!("front matter `envs` names `{e}`, which runbook.toml does not define"),
            )
            .at(&rb.path, at)
            .hint(format!("environments in runbook.toml: {}", known.join(", ")))
        })
        .collect()
}

/// Undefined variables (SPEC §2.3): a name is defined in a step if it is a
/// front-matter variable, a variable of the env profile (checked for every
/// env the runbook may run in), a builtin, or captured by a step the step
/// depends on (transitively). A name only a fixture scenario sets is a
/// warning: the operator has to pass it with `--set`.
pub fn undefined_vars(
    rb: &Runbook,
    dag: Option<&Dag>,
    config: &Config,
    scenario_vars: &BTreeSet<String>,
) -> Vec<Diagnostic> {
    let t = Templater::new(rb);
    let envs = envs(rb, config);
    let captures: BTreeMap<usize, &str> =
        rb.steps.iter().enumerate().filter_map(|(i, s)| s.attrs.capture.as_deref().map(|c| (i, c))).collect();
    let mut out = Vec::new();
    for (i, s) in rb.steps.iter().enumerate() {
        // What has certainly run (and captured) before this step: worked out
        // only for a name some step captures, since walking the graph for
        // every step is quadratic on a long `needs` chain.
        let before = std::cell::OnceCell::new();
        let before = || {
            before.get_or_init(|| match dag {
                None => (0..rb.steps.len()).collect(),
                Some(d) => d.runs_before(i, s.attrs.undo),
            })
        };
        // A name only tested for (`is defined`) or given a `default` is not
        // required, as the play and `plan` read it; read from a capture the
        // step does not wait for, it is still the capture-order mistake.
        let required = t.names_required(s);
        for name in t.names_used(s) {
            if BUILTINS.contains(&name.as_str()) || rb.vars.contains_key(&name) || t.calls_global(s, &name) {
                continue;
            }
            if t.calls_unknown(s, &name) {
                let src = t.first_use(s, &name).unwrap_or(Source::Body);
                let line = t.line_of_name(s, src, &name).unwrap_or(s.line);
                out.push(crate::template::unknown_function(&name, s, src).at(&rb.path, line));
                continue;
            }
            let captured_by: Vec<usize> = captures.iter().filter(|(_, c)| **c == name).map(|(i, _)| *i).collect();
            if captured_by.iter().any(|j| before().contains(j)) || captured_by.is_empty() && !required.contains(&name) {
                continue;
            }
            let missing_in: Vec<&str> = envs
                .iter()
                .filter(|p| !p.is_some_and(|p| p.vars.contains_key(&name)))
                .map(|p| p.map_or("(no env)", |p| p.name.as_str()))
                .collect();
            if missing_in.is_empty() {
                continue;
            }
            let src = t.first_use(s, &name).unwrap_or(Source::Body);
            let line = t.line_of_name(s, src, &name).unwrap_or(s.line);
            let scope = if missing_in.len() == envs.len() {
                String::new()
            } else {
                format!(" in env {}", missing_in.join(", "))
            };
            let d = if let Some(&j) = captured_by.first() {
                crate::preview::capture_order(s, &rb.steps[j], &name)
            } else if scenario_vars.contains(&name) {
                Diagnostic::warning(
                    "variable-without-default",
                    format!("variable `{name}` of step `{}` has no default{scope}: only the fixture sets it", s.id),
                )
                .hint(if rb.is_secret(&name) {
                    format!("a play needs {} (or prompts)", crate::template::how_to_give(&name, true))
                } else {
                    format!("a play needs `--set {name}=…` (or prompts); give it a default in front matter `vars` if one makes sense")
                })
            } else {
                crate::template::undefined_variable(&name, s, src, &scope).hint(if rb.is_secret(&name) {
                    format!(
                        "give it a value with {}, or capture it in a step this one `needs`",
                        crate::template::how_to_give(&name, true)
                    )
                } else {
                    format!(
                        "define `{name}` in front matter `vars` or in the [env] profile, or capture it in a step this one `needs`"
                    )
                })
            };
            out.push(d.at(&rb.path, line));
        }
    }
    out
}

/// `{{ }}` inside shell quotes: an error in `check` (SPEC §2.3). A `{{`
/// inside `{% raw %}` is literal text (a Go template `'{{.Status}}'`).
pub fn quotes(rb: &Runbook) -> Vec<Diagnostic> {
    rb.steps
        .iter()
        .flat_map(|s| crate::preview::quote_warnings(rb, s))
        .map(|d| Diagnostic { severity: Severity::Error, ..d })
        .collect()
}

/// A documentation fence that is never closed swallows the rest of the page.
pub fn unclosed_docs(rb: &Runbook) -> Vec<Diagnostic> {
    rb.doc_blocks
        .iter()
        .filter(|d| d.unclosed)
        .map(|d| {
            Diagnostic::error("unclosed-fence", "code block is not closed: the rest of the file renders as code")
                .at(&rb.path, d.line)
                .hint("close it with a fence line (```) of the same length as the opening")
        })
        .collect()
}

/// A documentation block whose `{{ … }}` does not compile as a runbook
/// template (a Go or Helm template): the wiki shows it as written, with no
/// value filled in, which the author may not know. `{% raw %}` says so.
pub fn foreign_docs(rb: &Runbook) -> Vec<Diagnostic> {
    rb.doc_blocks
        .iter()
        .filter(|d| !d.unclosed && crate::doc_blocks::is_foreign(rb, d))
        .map(|d| {
            Diagnostic::warning(
                "foreign-template",
                "the `{{ }}` of this documentation block is not a runbook template: the wiki shows the block as written",
            )
            .at(&rb.path, d.line)
            .hint("if it is another tool's template (Go, Helm), wrap that part in `{% raw %}…{% endraw %}`")
        })
        .collect()
}

/// A secret whose value is too short to be masked (`redact::MIN_LEN`): its
/// value would appear in logs, or its name only looks secret (`key_id`).
/// Secret is what the redactors mask ([`Runbook::secret_parts`]): a secret
/// variable, or a part of a list or map under a secret key
/// (`registry.password`); of a list or map, each leaf is masked on its own
/// (`{{ registry.password }}` prints the leaf), so each short leaf is named.
/// `text` is the runbook's: a front-matter variable is named at its line.
pub fn short_secrets(rb: &Runbook, config: &Config, text: &str) -> Vec<Diagnostic> {
    let fm_line = rb.front_matter_line.unwrap_or(1);
    let profiles = config.envs.values().map(|p| (format!("env `{}`", p.name), &p.vars, false));
    let mut out = Vec::new();
    for (from, vars, front_matter) in std::iter::once(("front matter".to_string(), &rb.vars, true)).chain(profiles) {
        let mut short = Vec::new();
        for (path, v) in rb.secret_parts(vars) {
            short_leaves(path, v, &mut short);
        }
        for path in short {
            let line = if front_matter { path_line(text, fm_line, &path) } else { fm_line };
            out.push(
                Diagnostic::warning(
                    "short-secret",
                    format!(
                        "secret `{path}` ({from}) is shorter than {} characters: it is not masked",
                        crate::redact::MIN_LEN
                    ),
                )
                .at(&rb.path, line)
                .hint(not_secret_hint(rb, &path)),
            );
        }
    }
    out
}

/// How to say that the value at `path` is not secret: by the name that
/// makes it so, the variable's or the first secret key on the path.
fn not_secret_hint(rb: &Runbook, path: &str) -> String {
    let mut keys = path.split('.').map(|k| k.split('[').next().unwrap_or(k));
    let var = keys.next().unwrap_or(path);
    if rb.secrets.iter().any(|s| s == var) {
        return format!("if `{path}` is not secret, take `{var}` out of `secrets:`");
    }
    let name = std::iter::once(var).chain(keys).find(|k| crate::redact::is_secret_name(k)).unwrap_or(var);
    let what = if name == path { "it".to_string() } else { format!("`{name}`") };
    format!(
        "if `{path}` is not secret, rename {what} (names with secret, password, token, key or credential are secret)"
    )
}

/// The paths of the leaves of `v` (itself, if not a list or map) whose text
/// is not empty but shorter than `redact::MIN_LEN`.
fn short_leaves(path: String, v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::Array(items) => items.iter().enumerate().for_each(|(i, x)| short_leaves(format!("{path}[{i}]"), x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| short_leaves(format!("{path}.{k}"), x, out)),
        v => {
            let t = crate::vars::as_text(v);
            if !t.is_empty() && t.chars().count() < crate::redact::MIN_LEN {
                out.push(path);
            }
        }
    }
}

/// The line of the runbook where its front matter (from line `fm_line`,
/// the opening `---`) writes the value at `path` (`registry.password`):
/// each key of the path in turn, on a line of its own (`password:`,
/// `- password:`) below the one before; as far as the keys are found so
/// (a flow map, `{user: bot, password: x}`, is one line), else `fm_line`.
fn path_line(text: &str, fm_line: usize, path: &str) -> usize {
    let keys = path.split('.').map(|k| k.split('[').next().unwrap_or(k)).filter(|k| !k.is_empty());
    let lines: Vec<&str> = text.lines().skip(fm_line).take_while(|l| l.trim_end() != "---").collect();
    let (mut at, mut from) = (None, 0);
    for key in keys {
        let found = lines[from..].iter().position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start();
            let l = l
                .strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                .or_else(|| l.strip_prefix(&format!("'{key}'")));
            l.is_some_and(|r| r.trim_start().starts_with(':'))
        });
        let Some(i) = found else { break };
        at = Some(from + i);
        from += i + 1;
    }
    at.map_or(fm_line, |i| fm_line + 1 + i)
}

/// A stubbed program called by an absolute path (`/usr/bin/kubectl`): the
/// rehearsal's stubs are found on PATH, so that call would reach the real
/// program during `check` (where `KUBECONFIG` and `HOME` point into the
/// sandbox, so a real kubectl at least finds no cluster).
pub fn absolute_tools(rb: &Runbook, config: &Config) -> Vec<Diagnostic> {
    static CALL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)(?:^\s*|[;|&(`]\s*|\$\(\s*|\b(?:sudo|exec|env|time|xargs|watch)\s+)((?:/[A-Za-z0-9_.+-]+)*/s?bin/([A-Za-z0-9_.+-]+))\b")
            .expect("valid regex")
    });
    let mut out = Vec::new();
    for s in &rb.steps {
        if !matches!(s.lang.as_str(), "bash" | "sh" | "shell") {
            continue;
        }
        for (n, text) in s.body.lines().enumerate() {
            let code = text.trim_start();
            if code.starts_with('#') {
                continue;
            }
            for c in CALL.captures_iter(text) {
                let (path, tool) = (&c[1], &c[2]);
                if config.stubs.iter().any(|t| t == tool) {
                    out.push(
                        Diagnostic::warning(
                            "absolute-tool-path",
                            format!("step `{}` calls `{path}` by its path: a rehearsal cannot stub it", s.id),
                        )
                        .at(&rb.path, s.body_line + n)
                        .hint(format!("call `{tool}` by name (it is looked up on PATH, where the stub comes first)")),
                    );
                }
            }
        }
    }
    out
}

pub fn missing_fixture(rb: &Runbook, config: &Config) -> Option<Diagnostic> {
    let f = crate::rehearse::fixture::Fixture::path_for(config, &rb.id);
    if f.is_file() {
        return None;
    }
    let shown = crate::catalog::display_path(&f, &config.root);
    Some(
        Diagnostic::warning("no-fixture", format!("runbook `{}` has no fixture: it is never rehearsed", rb.id))
            .at(&rb.path, rb.front_matter_line.unwrap_or(1))
            .hint(format!(
                "start one with `runbook fixture new {}`, or add {} with a [[scenario]] (SPEC §5)",
                rb.id,
                shown.display()
            )),
    )
}

//! `runbook fixture new ID [--scenario NAME] [--env E]`: a scenario
//! scaffolded from the plan, for the runbooks no one can play for real.
//!
//! Each step's command is rendered as `plan` renders it; every call of a
//! stubbed program in it (`kubectl …`, `/usr/bin/curl …`, a repo script)
//! becomes a `[[scenario.stub]]` whose `cmd` matches that call exactly (glob
//! characters escaped; what only the play knows, a capture or a step's
//! output, is `*`, and so is a secret's value, which the plan shows as
//! `***`), with its output marked TODO. Query steps get a
//! `[[scenario.query]]` each. A rehearsal fails while any TODO answer is
//! left ([`super::todo`]). The calls are found by splitting the body at
//! `|`, `;`, `&`, `&&`, `||`, `$(…)`, backquotes and newlines, and skipping
//! assignments and wrappers (`sudo`, `timeout 30s`, `env`, …): a call built
//! at run time (`"$tool" get pods`) is not found, and shows up as a missing
//! stub on the first rehearsal instead.

use std::sync::LazyLock;

use regex::Regex;

use super::fixture::{escape_glob, toml_string};
use super::sandbox::StubKind;
use super::todo;
use super::write::{NewScenario, NewStub};
use crate::config::Config;
use crate::model::{Runbook, StepKind};
use crate::preview::Preview;

/// The scenario for `rb` planned as `preview`.
pub fn scenario(config: &Config, rb: &Runbook, preview: &Preview, name: &str, env: Option<&str>) -> NewScenario {
    let mut sc = NewScenario {
        name: name.to_string(),
        env: env.map(str::to_string),
        comment: Some(format!(
            "Scaffolded from the plan by `runbook fixture new {}`: replace each TODO with what the real\nprogram prints (and its exit code), then `runbook play {} --dry-run --scenario {name}`.",
            rb.id, rb.id
        )),
        outcome: "passed".into(),
        ..NewScenario::default()
    };
    let mut seen = std::collections::BTreeSet::new();
    for s in &preview.steps {
        let Some(step) = rb.step(&s.id) else { continue };
        let at = format!("step `{}`, {}:{}", s.id, rb.path.display(), step.line);
        match step.kind {
            StepKind::Promql | StepKind::Logql | StepKind::Http => {
                let text = crate::observe::fixture::normalize(&s.command);
                let text = if step.kind == StepKind::Http {
                    text.split(' ').take(2).collect::<Vec<_>>().join(" ")
                } else {
                    text
                };
                // A secret is `***` in the plan: `*` here, as a recording writes it.
                let pattern: Vec<String> = text
                    .split(crate::redact::MASK)
                    .map(|t| t.replace('\\', "\\\\").replace('*', "\\*").replace('?', "\\?"))
                    .collect();
                let pattern = pattern.join("*");
                let answer = match step.kind {
                    StepKind::Http => todo::HTTP,
                    StepKind::Logql => todo::LOGQL,
                    _ => todo::PROMQL,
                };
                let q = format!(
                    "kind = \"{}\"   # {at}\nmatch = {}\n{answer}",
                    step.kind.name(),
                    toml_string(&placeholders_to_star(&pattern))
                );
                sc.queries.push(q);
            }
            _ => {
                for cmd in calls(&s.command, &config.stubs) {
                    if seen.insert(cmd.clone()) {
                        sc.stubs.push(NewStub {
                            cmd,
                            stdout: format!("{}\n", todo::TEXT),
                            note: Some(at.clone()),
                            ..NewStub::default()
                        });
                    }
                }
            }
        }
    }
    sc
}

/// What only the play knows, in a rendered plan: `<rev from get-rev>`,
/// `<stdout of pods>`.
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<[^<>\n]+ (?:from|of) [^<>\n]+>").expect("valid regex"));

/// What the shell expands at run time: `$x`, `${x:-y}`, `$(…)` (the
/// latter cut by [`segments`] already, up to its `$(`).
static EXPANSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\$[0-9@*#?$!-]").expect("valid regex"));

/// Stands for a placeholder while a segment is split into words.
const MARK: &str = "\u{1}placeholder\u{1}";

/// `text` with its placeholders as `*`.
fn placeholders_to_star(text: &str) -> String {
    PLACEHOLDER.replace_all(text, "*").into_owned()
}

/// The stubbed calls of a rendered body, as exact globs.
pub fn calls(body: &str, stubs: &[String]) -> Vec<String> {
    let joined = body.replace("\\\n", " ");
    let mut out = Vec::new();
    for seg in segments(&joined) {
        // A placeholder has spaces (and a `<`): one word, whatever shlex says.
        // A secret's value is `***` in the plan: a `*` too.
        let seg = PLACEHOLDER.replace_all(seg.trim(), MARK).replace(crate::redact::MASK, MARK);
        let Some(words) = shlex::split(&seg) else { continue };
        let mut w: &[String] = &words;
        loop {
            match w.first().map(String::as_str) {
                Some(a) if a.contains('=') && !a.starts_with('=') && !a.starts_with('-') && !a.contains('/') => {
                    w = &w[1..]
                }
                Some("sudo" | "exec" | "command" | "env" | "nohup" | "time" | "xargs") => w = &w[1..],
                Some("timeout") => w = w.get(2..).unwrap_or(&[]),
                _ => break,
            }
        }
        let Some(first) = w.first() else { continue };
        let Some(name) = stub_name(first, stubs) else { continue };
        let mut cmd = escape_glob(&name);
        for a in &w[1..] {
            // A word that is only an expansion may expand to nothing: its `*`
            // takes the space before it.
            if !EXPANSION.replace_all(&a.replace(MARK, "x"), "").is_empty() {
                cmd.push(' ');
            }
            let parts: Vec<String> =
                a.split(MARK).map(|p| EXPANSION.split(p).map(escape_glob).collect::<Vec<_>>().join("*")).collect();
            cmd.push_str(&parts.join("*"));
        }
        out.push(cmd);
    }
    out
}

/// The name the shim answers to when `word` runs a stubbed program.
fn stub_name(word: &str, stubs: &[String]) -> Option<String> {
    let base = word.rsplit('/').next().unwrap_or(word);
    for s in stubs {
        match StubKind::of(s) {
            StubKind::Program(p) if p == base => return Some(p.to_string()),
            StubKind::Absolute(p)
                if p.to_str() == Some(word) || p.file_name().and_then(|f| f.to_str()) == Some(base) =>
            {
                return Some(base.to_string());
            }
            StubKind::Script(rel) if rel.to_str() == Some(word.trim_start_matches("./")) => {
                return Some(rel.display().to_string());
            }
            _ => {}
        }
    }
    None
}

/// The simple commands of a body: split at unquoted `|`, `;`, `&`,
/// newlines, parentheses and backquotes, and at `$(` anywhere.
fn segments(body: &str) -> Vec<&str> {
    let b = body.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut single, mut double) = (0, false, false);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let split = match c {
            b'\'' if !double => {
                single = !single;
                false
            }
            b'"' if !single => {
                double = !double;
                false
            }
            b'\\' if !single => {
                i += 2;
                continue;
            }
            b'$' if !single && b.get(i + 1) == Some(&b'(') => {
                out.push(&body[start..i]);
                i += 2;
                start = i;
                continue;
            }
            b')' | b'`' if !single => true,
            b'|' | b';' | b'&' | b'\n' | b'(' if !single && !double => true,
            b'#' if !single && !double && (i == 0 || b[i - 1].is_ascii_whitespace()) => {
                // A comment: to the end of the line.
                out.push(&body[start..i]);
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                start = i;
                continue;
            }
            _ => false,
        };
        if split {
            out.push(&body[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(&body[start.min(body.len())..]);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stubs() -> Vec<String> {
        ["kubectl", "curl", "ops/scripts/x.sh", "/opt/bin/helm"].map(String::from).to_vec()
    }

    #[test]
    fn finds_each_stubbed_call_as_an_exact_glob() {
        let body = "n=$(kubectl get pods -n ns -o jsonpath={.items[*].name} | wc -l)\n\
                    sudo timeout 30s /usr/bin/curl -fsS 'http://x/a b' && ./ops/scripts/x.sh --fast # kubectl not this\n\
                    echo kubectl; helm list; /opt/bin/helm status <rev from get-rev>\n\
                    kubectl apply -n x ${extra:+--dry-run} -f \"$dir/a.yaml\"";
        assert_eq!(
            calls(body, &stubs()),
            [
                r"kubectl get pods -n ns -o jsonpath=\{.items\[\*\].name\}",
                "curl -fsS http://x/a b",
                "ops/scripts/x.sh --fast",
                "helm list",
                "helm status *",
                "kubectl apply -n x* -f */a.yaml",
            ]
        );
    }

    #[test]
    fn a_masked_secret_is_a_star() {
        let body = "kubectl --token *** get pods\ncurl -H 'Authorization: Bearer ***' http://x/a";
        assert_eq!(calls(body, &stubs()), ["kubectl --token * get pods", "curl -H Authorization: Bearer * http://x/a"]);
    }
}

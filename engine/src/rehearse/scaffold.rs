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
//! stub on the first rehearsal instead. The env's guard is a call of the
//! plan too, before the first step that is not `read` (where a play runs
//! it): its stubbed calls get a stub each, noted with the regex their
//! output must match.

use std::sync::LazyLock;

use regex::Regex;

use super::fixture::{escape_glob, toml_string};
use super::sandbox::StubKind;
use super::todo;
use super::write::{NewScenario, NewStub};
use crate::config::Config;
use crate::model::{Runbook, StepKind};
use crate::preview::Preview;

/// The scenario for `rb` planned as `preview`, and a warning for each call
/// of a stubbed program that got no stub (it cannot be split into words).
pub fn scenario(
    config: &Config,
    rb: &Runbook,
    preview: &Preview,
    name: &str,
    env: Option<&str>,
) -> (NewScenario, Vec<String>) {
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
    let mut warnings = Vec::new();
    let mut guard = config.env(env).ok().flatten().and_then(|p| p.guard.as_ref().map(|g| (p.name.as_str(), g)));
    for s in &preview.steps {
        let Some(step) = rb.step(&s.id) else { continue };
        if !step.attrs.read
            && let Some((env, g)) = guard.take()
        {
            let at = format!("the guard of env `{env}`: its output must match /{}/", g.expect);
            for cmd in scan(&g.run, &config.stubs).found {
                if seen.insert(cmd.clone()) {
                    let stdout = format!("{}\n", todo::TEXT);
                    sc.stubs.push(NewStub { cmd, stdout, note: Some(at.clone()), ..NewStub::default() });
                }
            }
        }
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
                let calls = scan(&s.command, &config.stubs);
                for call in calls.unparsed {
                    warnings.push(format!(
                        "warning: {at}: no stub for `{call}`: its quotes do not balance, so it cannot be split into \
                         words\n  hint: add its [[scenario.stub]] by hand, or fix the quoting"
                    ));
                }
                for cmd in calls.found {
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
    (sc, warnings)
}

/// What only the play knows, in a rendered plan: `<rev from get-rev>`,
/// `<stdout of pods>`.
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<[^<>\n]+ (?:from|of) [^<>\n]+>").expect("valid regex"));

/// What the shell expands at run time: `$x`, `${x:-y}` (a `$(…)` is a
/// [`MARK`] already, from [`segments`]).
static EXPANSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\$[0-9@*#?$!-]").expect("valid regex"));

/// Stands for a placeholder or a command substitution while a segment is
/// split into words.
const MARK: &str = "\u{1}placeholder\u{1}";

/// `text` with its placeholders as `*`.
fn placeholders_to_star(text: &str) -> String {
    PLACEHOLDER.replace_all(text, "*").into_owned()
}

/// What [`scan`] finds in a rendered body.
#[derive(Debug, Default, PartialEq)]
pub struct Calls {
    /// The stubbed calls, as exact globs.
    pub found: Vec<String>,
    /// Calls of a stubbed program that cannot be split into words
    /// (unbalanced quotes), as written: no stub is written for them.
    pub unparsed: Vec<String>,
}

/// Leading assignments and wrappers (`sudo`, `timeout 30s`, …) skipped.
fn command_words<S: AsRef<str>>(mut w: &[S]) -> &[S] {
    loop {
        match w.first().map(AsRef::as_ref) {
            Some(a) if a.contains('=') && !a.starts_with('=') && !a.starts_with('-') && !a.contains('/') => w = &w[1..],
            Some("sudo" | "exec" | "command" | "env" | "nohup" | "time" | "xargs") => w = &w[1..],
            Some("timeout") => w = w.get(2..).unwrap_or(&[]),
            _ => return w,
        }
    }
}

/// The stubbed calls of a rendered body.
pub fn scan(body: &str, stubs: &[String]) -> Calls {
    let joined = body.replace("\\\n", " ");
    let mut out = Calls::default();
    for seg in segments(&joined) {
        // A placeholder has spaces (and a `<`): one word, whatever shlex says.
        // A secret's value is `***` in the plan: a `*` too.
        let seg = PLACEHOLDER.replace_all(seg.trim(), MARK).replace(crate::redact::MASK, MARK);
        let Some(words) = shlex::split(&seg) else {
            // Split at blanks instead, only to tell whether it calls a stub.
            let loose: Vec<&str> = seg.split_whitespace().collect();
            let first = command_words(&loose).first().map(|w| w.trim_matches(['"', '\'']));
            if first.is_some_and(|f| stub_name(f, stubs).is_some()) {
                out.unparsed.push(seg.replace(MARK, "*"));
            }
            continue;
        };
        let w = command_words(&words);
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
        out.found.push(cmd);
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

/// One level of nesting in [`segments`]: the top level, a `$(…)` or `(…)`,
/// or a backquoted command, with the command being read in it.
struct Frame {
    nest: Nest,
    /// Inside double quotes: text, but for `$(…)` and backquotes in it.
    double: bool,
    cur: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nest {
    Top,
    /// `$(…)` or `(…)`: ends at its `)`.
    Paren,
    /// `` `…` ``: ends at its backquote.
    Backquote,
}

impl Frame {
    fn new(nest: Nest) -> Frame {
        Frame { nest, double: false, cur: Vec::new() }
    }

    /// The command read so far is one segment; the next one starts.
    fn cut(&mut self, out: &mut Vec<String>) {
        out.push(String::from_utf8_lossy(&std::mem::take(&mut self.cur)).into_owned());
    }
}

/// The simple commands of a body: split at unquoted `|`, `;`, `&`,
/// newlines and parentheses. Double-quoted text is one word whatever it
/// holds (`"select now()"`). A command substitution (`$(…)`, backquotes,
/// in double quotes or not) is its own commands, and [`MARK`] (a `*`) in the
/// command around it.
fn segments(body: &str) -> Vec<String> {
    let b = body.as_bytes();
    let mut out = Vec::new();
    let mut stack = vec![Frame::new(Nest::Top)];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let at_word = i == 0 || b[i - 1].is_ascii_whitespace();
        let depth = stack.len();
        let Some(f) = stack.last_mut() else { break };
        match c {
            b'\\' => {
                f.cur.extend_from_slice(&b[i..(i + 2).min(b.len())]);
                i += 2;
                continue;
            }
            b'$' if b.get(i + 1) == Some(&b'(') => {
                f.cur.extend_from_slice(MARK.as_bytes());
                stack.push(Frame::new(Nest::Paren));
                i += 2;
                continue;
            }
            b'`' if f.nest == Nest::Backquote && !f.double => {
                f.cut(&mut out);
                stack.pop();
            }
            b'`' => {
                f.cur.extend_from_slice(MARK.as_bytes());
                stack.push(Frame::new(Nest::Backquote));
            }
            b'"' if f.double => {
                f.double = false;
                f.cur.push(c);
            }
            _ if f.double => f.cur.push(c),
            b'"' => {
                f.double = true;
                f.cur.push(c);
            }
            b'\'' => {
                // Single quotes: nothing is special up to the next one.
                let end = b[i + 1..].iter().position(|&q| q == b'\'').map_or(b.len(), |p| i + 2 + p);
                f.cur.extend_from_slice(&b[i..end]);
                i = end;
                continue;
            }
            b'(' => {
                f.cut(&mut out);
                stack.push(Frame::new(Nest::Paren));
            }
            b')' => {
                f.cut(&mut out);
                if f.nest == Nest::Paren && depth > 1 {
                    stack.pop();
                }
            }
            b'|' | b';' | b'&' | b'\n' => f.cut(&mut out),
            b'#' if at_word => {
                // A comment: to the end of the line.
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => f.cur.push(c),
        }
        i += 1;
    }
    while let Some(mut f) = stack.pop() {
        f.cut(&mut out);
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(body: &str, stubs: &[String]) -> Vec<String> {
        let c = scan(body, stubs);
        assert_eq!(c.unparsed, Vec::<String>::new(), "every call parses");
        c.found
    }

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

    #[test]
    fn parentheses_in_double_quotes_are_text() {
        let body = "kubectl exec p -- psql -tAc \"select 1\"\n\
                    kubectl exec p -- psql -tAc \"select now()\"\n\
                    kubectl exec p -- sh -c \"echo (a) `date` b\" | wc -l";
        assert_eq!(
            calls(body, &stubs()),
            [
                "kubectl exec p -- psql -tAc select 1",
                "kubectl exec p -- psql -tAc select now()",
                "kubectl exec p -- sh -c echo (a) * b",
            ]
        );
    }

    #[test]
    fn command_substitutions_in_double_quotes_are_commands() {
        let body = "echo \"pods: $(kubectl get pods -l \"app=x\" -o name) at `curl -s http://t/now`\"\n\
                    n=\"$( (kubectl get ns) )\"; echo ')' \"$((1 + 2))\"; curl -d \"(x)\" http://a";
        assert_eq!(
            calls(body, &stubs()),
            ["kubectl get pods -l app=x -o name", "curl -s http://t/now", "kubectl get ns", "curl -d (x) http://a",]
        );
    }

    #[test]
    fn a_call_that_cannot_be_split_is_reported_not_dropped() {
        let c = scan("echo ok\nsudo kubectl exec p -- psql -c \"select 1\nhelm list", &stubs());
        assert_eq!(c.found, Vec::<String>::new());
        assert_eq!(c.unparsed, ["sudo kubectl exec p -- psql -c \"select 1\nhelm list"]);
        let c = scan("echo \"unbalanced", &stubs());
        assert_eq!(c, Calls::default(), "not a call of a stubbed program: nothing to say");
    }
}

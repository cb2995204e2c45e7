//! Rehearsal fixtures (SPEC §5): `fixtures/<runbook-id>.toml`, one or more
//! scenarios, each with the stub answers for the external programs and what
//! the play should come to.
//!
//! Loading is in two stages so that every mistake is reported with the
//! fixture's `file:line`: [`load`] checks the file on its own (TOML syntax,
//! unknown keys through `deny_unknown_fields`, globs, exit codes), and
//! [`Fixture::validate`] checks it against its runbook and the config
//! (unknown env, steps that do not exist).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config::Config;
use crate::error::{Diagnostic, Error, Result, did_you_mean};
use crate::model::Runbook;
use crate::parse::LineIndex;
use crate::rehearse::todo::{self, Todo};

/// The answer to a question of the play (confirm, manual step, `--step`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ans {
    Yes,
    No,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectOutcome {
    Passed,
    Failed,
    Refused,
    Interrupted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectStatus {
    Passed,
    Failed,
    Skipped,
    NotRun,
}

impl ExpectStatus {
    pub fn name(self) -> &'static str {
        match self {
            ExpectStatus::Passed => "passed",
            ExpectStatus::Failed => "failed",
            ExpectStatus::Skipped => "skipped",
            ExpectStatus::NotRun => "not-run",
        }
    }
}

/// One canned answer of a stub.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub exit: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stub {
    /// The glob as written: the whole argv joined by single spaces.
    pub cmd: String,
    pub line: usize,
    /// The glob compiled to a regex (for `regex::bytes`), so that the shim
    /// does not have to parse globs on every call.
    pub regex: String,
    /// Answers to successive calls; the last one repeats.
    pub responses: Vec<Response>,
}

#[derive(Debug, Clone, Default)]
pub struct Answers {
    pub default: Option<Ans>,
    /// Per step id, with the fixture line.
    pub per_step: BTreeMap<String, (Ans, usize)>,
}

impl Answers {
    pub fn for_step(&self, id: &str) -> Ans {
        match self.per_step.get(id) {
            Some((a, _)) => *a,
            None => self.default.unwrap_or(Ans::Yes),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub outcome: Option<ExpectOutcome>,
    /// Step id, expected status, fixture line.
    pub steps: Vec<(String, ExpectStatus, usize)>,
    /// Golden transcript file name (next to the fixture), with its line.
    pub transcript: Option<(String, usize)>,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub line: usize,
    pub description: Option<String>,
    pub env: Option<(String, usize)>,
    pub vars: Vec<(String, String)>,
    /// The line of `vars`, and of each of its keys (for `check`'s findings
    /// about them).
    pub vars_line: Option<usize>,
    pub var_lines: BTreeMap<String, usize>,
    pub answers: Answers,
    pub stubs: Vec<Stub>,
    /// `[[scenario.query]]`: answers for promql/logql/http steps.
    pub queries: Vec<crate::observe::fixture::Query>,
    pub expect: Expect,
    /// Answers still as `runbook fixture new` wrote them: the scenario fails.
    pub todos: Vec<Todo>,
}

impl Scenario {
    /// The stub entries a rehearsal of this scenario shims: `configured`
    /// (`[rehearse] stub`), then every program its stubs answer for (the
    /// first word of each `cmd`, when it is a literal name or path, not a
    /// glob): a stub for `aws` shims `aws` though `[rehearse] stub` does not
    /// name it, so the real `aws` never runs in its place.
    pub fn shimmed(&self, configured: &[String]) -> Vec<String> {
        let mut out = configured.to_vec();
        for s in &self.stubs {
            let Some(first) = s.cmd.split_whitespace().next() else { continue };
            let literal = !first.contains(['*', '?', '[', ']', '{', '}', '\\']);
            let valid =
                !matches!(crate::rehearse::sandbox::StubKind::of(first), crate::rehearse::sandbox::StubKind::Invalid);
            if literal && valid && !first.ends_with('/') && !out.iter().any(|o| o == first) {
                out.push(first.to_string());
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Fixture {
    /// As shown in messages (relative to the repo root).
    pub path: PathBuf,
    /// As opened (golden transcripts live next to it).
    pub file: PathBuf,
    /// The runbook id this fixture belongs to: the file stem.
    pub id: String,
    pub scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    scenario: Vec<Spanned<RawScenario>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    description: Option<String>,
    env: Option<Spanned<String>>,
    vars: Option<Spanned<BTreeMap<String, toml::Value>>>,
    answers: Option<Spanned<toml::Value>>,
    #[serde(default)]
    stub: Vec<Spanned<RawStub>>,
    #[serde(default)]
    query: Vec<Spanned<crate::observe::fixture::RawQuery>>,
    expect: Option<RawExpect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStub {
    cmd: Spanned<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    exit: Option<Spanned<i64>>,
    sequence: Option<Spanned<Vec<Spanned<RawResponse>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResponse {
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
    #[serde(default)]
    exit: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    outcome: Option<ExpectOutcome>,
    steps: Option<Spanned<BTreeMap<String, ExpectStatus>>>,
    transcript: Option<Spanned<String>>,
}

const KEYS_HINT: &str = "scenario keys: name, description, env, vars, answers, [[scenario.stub]] (cmd, stdout, stderr, \
                         exit, sequence), [[scenario.query]] (kind, match, value, rows, lines, status, body, error, sequence), \
                         [scenario.expect] (outcome, steps, transcript); see SPEC §5";

/// Compile a stub's `cmd` glob: `*` matches any run of characters (spaces,
/// `/` and newlines included: a multi-line `curl -d '{…}'` matches `curl -d *`),
/// `?` one character (a newline too), `[abc]` and `{a,b}` as in globset; a
/// `\` escapes the next character ([`escape_glob`]).
pub fn compile_glob(cmd: &str) -> std::result::Result<String, String> {
    let g = globset::GlobBuilder::new(cmd)
        .literal_separator(false)
        .backslash_escape(true)
        .empty_alternates(true)
        .build()
        .map_err(|e| e.kind().to_string())?;
    Ok(format!("(?s){}", g.regex()))
}

/// `cmd` as a glob that matches exactly it: `* ? [ ] { } \` escaped
/// (`-o jsonpath={.spec.replicas}` pasted from a hint matches itself).
pub fn escape_glob(cmd: &str) -> String {
    let mut out = String::with_capacity(cmd.len());
    for c in cmd.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A TOML basic string on one line (newlines as `\n`): pasted at any
/// indentation, it means the same.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A ready-to-paste `[[scenario.stub]]` for a call no stub answers.
pub fn stub_entry(cmd: &str) -> String {
    let value = toml_string(&escape_glob(cmd));
    format!("[[scenario.stub]]\ncmd = {value}\nstdout = \"\"   # TODO: what the real program prints\nexit = 0")
}

/// Load and check a fixture file on its own.
pub fn load(path: &Path) -> Result<Fixture> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid(Diagnostic::error("fixture", format!("cannot read fixture: {e}")).in_file(path)))?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Fixture> {
    let lines = LineIndex::new(text);
    let line = |r: Range<usize>| lines.line(r.start);
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let l = e.span().map(|s| lines.line(s.start)).unwrap_or(1);
        Error::invalid(Diagnostic::error("fixture", e.message().trim().to_string()).at(path, l).hint(KEYS_HINT))
    })?;
    let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    let mut errors = Vec::new();
    let mut scenarios: Vec<Scenario> = Vec::new();
    for s in raw.scenario {
        let s_line = line(s.span());
        let s = s.into_inner();
        let name = s.name.get_ref().clone();
        if let Some(first) = scenarios.iter().find(|x| x.name == name) {
            errors.push(
                Diagnostic::error("fixture", format!("duplicate scenario name `{name}`"))
                    .at(path, line(s.name.span()))
                    .hint(format!("the name is first used at line {}; rename one of them", first.line)),
            );
        }
        let mut answers = Answers::default();
        if let Some(a) = &s.answers {
            let at = line(a.span());
            match a.get_ref() {
                toml::Value::String(v) => match ans(v) {
                    Some(x) => answers.default = Some(x),
                    None => errors.push(bad_answer(path, at, v)),
                },
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        match v.as_str().and_then(ans) {
                            Some(x) => {
                                let l = find_line(text, a.span(), k).unwrap_or(at);
                                answers.per_step.insert(k.clone(), (x, l));
                            }
                            None => errors.push(bad_answer(path, at, &v.to_string())),
                        }
                    }
                }
                other => errors.push(bad_answer(path, at, &other.to_string())),
            }
        }
        let mut stubs = Vec::new();
        let mut todos = Vec::new();
        for st in s.stub {
            let st_line = line(st.span());
            let st = st.into_inner();
            let cmd_line = line(st.cmd.span());
            let cmd = st.cmd.into_inner();
            let regex = match compile_glob(&cmd) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(
                        Diagnostic::error("fixture", format!("stub cmd `{cmd}` is not a valid glob: {e}"))
                            .at(path, cmd_line)
                            .hint("`*` matches any text, `?` one character; write `[[]`, `[{]` or `\\\\*` for a literal `[`, `{` or `*`"),
                    );
                    continue;
                }
            };
            let mut responses = Vec::new();
            match st.sequence {
                Some(seq) => {
                    if st.stdout.is_some() || st.stderr.is_some() || st.exit.is_some() {
                        errors.push(
                            Diagnostic::error(
                                "fixture",
                                "a stub has either `sequence` or stdout/stderr/exit, not both",
                            )
                            .at(path, line(seq.span()))
                            .hint("move stdout/stderr/exit into the entries of `sequence`"),
                        );
                    }
                    if seq.get_ref().is_empty() {
                        errors.push(
                            Diagnostic::error("fixture", "empty `sequence`")
                                .at(path, line(seq.span()))
                                .hint("give at least one answer: sequence = [ { stdout = \"ok\" } ]"),
                        );
                    }
                    for r in seq.into_inner() {
                        let l = line(r.span());
                        let r = r.into_inner();
                        let exit = check_exit(&mut errors, path, r.exit, l);
                        responses.push(Response { stdout: r.stdout, stderr: r.stderr, exit });
                    }
                }
                None => {
                    let exit = match st.exit {
                        Some(e) => check_exit(&mut errors, path, *e.get_ref(), line(e.span())),
                        None => 0,
                    };
                    responses.push(Response {
                        stdout: st.stdout.unwrap_or_default(),
                        stderr: st.stderr.unwrap_or_default(),
                        exit,
                    });
                }
            }
            if responses.iter().any(|r| todo::is_text(&r.stdout)) {
                todos.push(Todo { line: st_line, what: format!("stub `{cmd}`") });
            }
            stubs.push(Stub { cmd, line: st_line, regex, responses });
        }
        let mut expect = Expect::default();
        if let Some(e) = s.expect {
            expect.outcome = e.outcome;
            if let Some(steps) = e.steps {
                let at = line(steps.span());
                for (k, v) in steps.get_ref() {
                    expect.steps.push((k.clone(), *v, find_line(text, steps.span(), k).unwrap_or(at)));
                }
            }
            if let Some(t) = e.transcript {
                let l = line(t.span());
                let name = t.into_inner();
                if name.is_empty() || name.contains("..") || Path::new(&name).is_absolute() {
                    errors.push(
                        Diagnostic::error(
                            "fixture",
                            format!("transcript = \"{name}\": not a file name next to the fixture"),
                        )
                        .at(path, l)
                        .hint(format!("use a name such as \"{id}.{}.txt\"", s.name.get_ref())),
                    );
                }
                expect.transcript = Some((name, l));
            }
        }
        let queries = crate::observe::fixture::compile(path, s.query, &line, &mut errors);
        for q in queries.iter().filter(|q| q.is_todo() || todo::has_promql_value(text, q.line)) {
            todos.push(Todo { line: q.line, what: format!("{} query `{}`", q.kind.name(), q.pattern) });
        }
        let vars_line = s.vars.as_ref().map(|v| line(v.span()));
        let var_lines = s
            .vars
            .as_ref()
            .map(|v| {
                let at = line(v.span());
                v.get_ref().keys().map(|k| (k.clone(), key_line(text, v.span(), k).unwrap_or(at))).collect()
            })
            .unwrap_or_default();
        let vars = s.vars.map(|v| v.into_inner()).unwrap_or_default();
        let vars = vars.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
        scenarios.push(Scenario {
            name,
            line: s_line,
            description: s.description,
            env: s.env.map(|e| (e.get_ref().clone(), line(e.span()))),
            vars,
            vars_line,
            var_lines,
            answers,
            stubs,
            queries,
            expect,
            todos,
        });
    }
    if scenarios.is_empty() && errors.is_empty() {
        errors.push(
            Diagnostic::error("fixture", "no [[scenario]] in the fixture")
                .at(path, 1)
                .hint("add a scenario: [[scenario]] name = \"healthy\" with its [[scenario.stub]] tables"),
        );
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(Fixture { path: path.to_path_buf(), file: path.to_path_buf(), id, scenarios })
}

fn check_exit(errors: &mut Vec<Diagnostic>, path: &Path, e: i64, line: usize) -> i32 {
    if !(0..=255).contains(&e) {
        errors.push(
            Diagnostic::error("fixture", format!("stub exit = {e}: an exit code is 0 to 255"))
                .at(path, line)
                .hint("use 0 for success, 1-125 for a failure"),
        );
    }
    e.clamp(0, 255) as i32
}

fn ans(s: &str) -> Option<Ans> {
    match s {
        "yes" => Some(Ans::Yes),
        "no" => Some(Ans::No),
        "skip" => Some(Ans::Skip),
        _ => None,
    }
}

fn bad_answer(path: &Path, line: usize, v: &str) -> Diagnostic {
    Diagnostic::error("fixture", format!("answers = {v}: not an answer"))
        .at(path, line)
        .hint("answers = \"yes\" | \"no\" | \"skip\", or a table { step-id = \"skip\" } (other steps: yes)")
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The line of the first occurrence of `key` inside `span` of `text`.
fn find_line(text: &str, span: Range<usize>, key: &str) -> Option<usize> {
    let part = text.get(span.clone())?;
    let off = part.find(key)?;
    Some(LineIndex::new(text).line(span.start + off))
}

/// The line of `key = …` in a table: an inline table's (TOML keeps one on
/// one line), or the line of the key after the table's `[header]`, up to
/// the next header.
fn key_line(text: &str, span: Range<usize>, key: &str) -> Option<usize> {
    let lines = LineIndex::new(text);
    if !text.get(span.clone())?.starts_with('[') {
        return Some(lines.line(span.start));
    }
    let is_key = |l: &str| {
        let l = l.trim_start();
        let rest = l.strip_prefix(key).or_else(|| l.strip_prefix(&format!("\"{key}\"")));
        rest.is_some_and(|r| r.trim_start().starts_with('='))
    };
    let mut pos = text[span.start..].find('\n').map_or(text.len(), |i| span.start + i + 1);
    for l in text[pos..].split_inclusive('\n') {
        if l.trim_start().starts_with('[') {
            return None;
        }
        if is_key(l) {
            return Some(lines.line(pos));
        }
        pos += l.len();
    }
    None
}

impl Fixture {
    /// The fixture of a runbook, if it has one: `<fixtures>/<id>.toml`.
    pub fn path_for(config: &Config, id: &str) -> PathBuf {
        config.fixtures.join(format!("{id}.toml"))
    }

    /// Check the fixture against its runbook and the config.
    pub fn validate(&self, rb: &Runbook, config: &Config) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let p = &self.path;
        let ids: Vec<&str> = rb.steps.iter().map(|s| s.id.as_str()).collect();
        let unknown_step = |what: &str, id: &str, line: usize| {
            let hint = match did_you_mean(id, ids.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("steps of `{}`: {}", rb.id, ids.join(", ")),
            };
            Diagnostic::error("fixture", format!("{what} names step `{id}`, which `{}` does not have", rb.id))
                .at(p, line)
                .hint(hint)
        };
        for s in &self.scenarios {
            // `local` without a table of its own: the env of no profile, for any runbook.
            let implicit = |env: &str| env == crate::config::LOCAL_ENV && !config.envs.contains_key(env);
            if let Some((env, line)) = s.env.as_ref().filter(|(env, _)| !implicit(env)) {
                if !config.envs.contains_key(env) {
                    let known: Vec<&str> = config.envs.keys().map(String::as_str).collect();
                    let mut hint = format!("environments in runbook.toml: {}", known.join(", "));
                    if let Some(m) = did_you_mean(env, known.iter().copied()) {
                        hint = format!("did you mean `{m}`? {hint}");
                    }
                    out.push(
                        Diagnostic::error("fixture", format!("scenario `{}`: unknown environment `{env}`", s.name))
                            .at(p, *line)
                            .hint(hint),
                    );
                } else if !rb.envs.is_empty() && !rb.envs.contains(env) {
                    out.push(
                        Diagnostic::error(
                            "fixture",
                            format!("scenario `{}`: runbook `{}` is not for env `{env}`", s.name, rb.id),
                        )
                        .at(p, *line)
                        .hint(format!("its front matter allows: {}", rb.envs.join(", "))),
                    );
                }
            } else if config.default_env.is_none() && !config.envs.is_empty() {
                out.push(
                    Diagnostic::error(
                        "fixture",
                        format!("scenario `{}` names no env and there is no default_env", s.name),
                    )
                    .at(p, s.line)
                    .hint("add env = \"NAME\" to the scenario, or default_env to runbook.toml"),
                );
            }
            for (id, _, line) in &s.expect.steps {
                if rb.step(id).is_none() {
                    out.push(unknown_step("expect.steps", id, *line));
                }
            }
            for (id, (_, line)) in &s.answers.per_step {
                if rb.step(id).is_none() {
                    out.push(unknown_step("answers", id, *line));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(t: &str) -> String {
        parse(Path::new("f.toml"), t).unwrap_err().to_string()
    }

    #[test]
    fn globs() {
        let r = regex::bytes::Regex::new(&compile_glob("kubectl get * -o jsonpath=*ready*").unwrap()).unwrap();
        assert!(r.is_match(b"kubectl get deploy/x -n a b -o jsonpath={.status.readyReplicas}"));
        assert!(!r.is_match(b"kubectl get deploy/x"));
        let r = regex::bytes::Regex::new(&compile_glob("a?c").unwrap()).unwrap();
        assert!(r.is_match(b"a/c") && !r.is_match(b"ac"));
        assert!(compile_glob("kubectl get [pods").is_err());
        assert!(compile_glob("a**b").is_ok());
    }

    #[test]
    fn full_scenario() {
        let f = parse(
            Path::new("fixtures/x.toml"),
            r#"
[[scenario]]
name = "a"
env = "devnet"
vars = { rev = 41 }
answers = { b = "skip" }
  [[scenario.stub]]
  cmd = "kubectl get *"
  stdout = "x"
  [[scenario.stub]]
  cmd = "curl *"
  sequence = [ { exit = 7, stderr = "refused" }, { stdout = "ok" } ]
  [scenario.expect]
  outcome = "passed"
  steps = { a = "passed", b = "not-run" }
  transcript = "x.a.txt"
"#,
        )
        .unwrap();
        assert_eq!(f.id, "x");
        let s = &f.scenarios[0];
        assert_eq!(s.line, 2);
        assert_eq!(s.vars, [("rev".to_string(), "41".to_string())]);
        assert_eq!(s.answers.for_step("b"), Ans::Skip);
        assert_eq!(s.answers.for_step("c"), Ans::Yes);
        assert_eq!(s.stubs[1].responses.len(), 2);
        assert_eq!(s.stubs[1].line, 10);
        assert_eq!(s.expect.steps[1], ("b".to_string(), ExpectStatus::NotRun, 15));
    }

    #[test]
    fn the_programs_a_scenario_stubs_are_shimmed() {
        let stubs =
            ["aws s3 ls", "kubectl get *", "k*ctl x", "/usr/bin/curl -s x", "ops/x.sh a", "aws s3 rm y", "../up z"];
        let mut t = String::from("[[scenario]]\nname = \"a\"\n");
        for c in stubs {
            t.push_str(&format!("[[scenario.stub]]\ncmd = \"{c}\"\n"));
        }
        let f = parse(Path::new("fixtures/x.toml"), &t).unwrap();
        let got = f.scenarios[0].shimmed(&["kubectl".to_string(), "helm".to_string()]);
        assert_eq!(got, ["kubectl", "helm", "aws", "/usr/bin/curl", "ops/x.sh"]);
    }

    #[test]
    fn errors_have_lines() {
        let e = parse_err("[[scenario]]\nname = \"a\"\nbogus = 1\n");
        assert!(e.contains("f.toml:3") && e.contains("bogus"), "{e}");
        let e = parse_err("[[scenario]]\nname = \"a\"\n[[scenario.stub]]\ncmd = \"k [x\"\n");
        assert!(e.contains("f.toml:4") && e.contains("glob"), "{e}");
        let e = parse_err("[[scenario]]\nname = \"a\"\n[[scenario.stub]]\ncmd = \"k\"\nexitt = 1\n");
        assert!(e.contains("f.toml:5"), "{e}");
        let e = parse_err("[[scenario]]\nname = \"a\"\n[scenario.expect]\nsteps = { a = \"passd\" }\n");
        assert!(e.contains("f.toml:4"), "{e}");
        let e = parse_err("[[scenario]]\nname = \"a\"\nanswers = \"maybe\"\n");
        assert!(e.contains("f.toml:3"), "{e}");
    }
}

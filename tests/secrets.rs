//! The secret-leak sweep (SPEC §6, issue 20): runbooks use secrets in every
//! form (scalar, list, map, quoted, coloured with ANSI escapes, split across
//! reads, on stderr, captured; given by `--set`, `--set-file`,
//! `RUNBOOK_VAR_`, an env profile, a fixture), and every byte the engine
//! writes is searched for every form of every secret value.
//!
//! What is swept is a list of [`Source`]s: each command's stdout and stderr,
//! and every file under the project that is not one of the test's own
//! inputs (the state dir with its journals, logs and locks, goldens written
//! by `--bless`, …), every row of the team database (`pg_dump`, step output
//! decoded), and every page, API answer and event stream of `runbook serve`
//! over either store. A new sink is one more `Source`: its bytes, by a name.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// The secrets, each with a value that appears nowhere else.
struct Secrets(Vec<(&'static str, String)>);

/// A piece of what the engine wrote.
enum Source {
    /// A command's output, by the command line.
    Output(String, Output),
    /// Every file under a directory, but these (the test's inputs).
    Tree(PathBuf, Vec<PathBuf>),
    /// Bytes read from elsewhere (a web page, a database), by a name.
    Bytes(String, Vec<u8>),
}

impl Source {
    /// `(name, bytes)` of everything this source holds.
    fn bytes(&self) -> Vec<(String, Vec<u8>)> {
        match self {
            Source::Output(cmd, o) => {
                vec![(format!("`{cmd}` stdout"), o.stdout.clone()), (format!("`{cmd}` stderr"), o.stderr.clone())]
            }
            Source::Tree(root, inputs) => files(root)
                .into_iter()
                .filter(|p| !inputs.iter().any(|i| p == i))
                .map(|p| (p.strip_prefix(root).unwrap_or(&p).display().to_string(), std::fs::read(&p).unwrap()))
                .collect(),
            Source::Bytes(name, bytes) => vec![(name.clone(), bytes.clone())],
        }
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(files(&p)) } else { out.push(p) }
    }
    out
}

/// The forms a value can take in a sink: as it is, JSON-escaped, shell- and
/// HTML-quoted.
fn forms(v: &str) -> Vec<String> {
    let json = serde_json::to_string(v).unwrap();
    let mut out = vec![v.to_string(), json[1..json.len() - 1].to_string(), json];
    out.extend(shlex::try_quote(v).ok().map(|q| q.into_owned()));
    out.push(v.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;"));
    out.sort();
    out.dedup();
    out
}

/// The text as found, without line breaks (a secret cut into two display
/// lines), and without escape sequences (a secret with colours inside).
fn views(bytes: &[u8]) -> Vec<(&'static str, String)> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let joined: String = text.chars().filter(|c| !matches!(c, '\n' | '\r')).collect();
    let plain = strip_escapes(&text);
    vec![("as written", text), ("lines joined", joined), ("escapes removed", plain)]
}

fn strip_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('[') => {
                for c in it.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = it.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && it.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Every leak: source, view, secret and form, with the text around it.
fn sweep(sources: &[Source], secrets: &Secrets) -> Vec<String> {
    let mut leaks = Vec::new();
    for src in sources {
        for (name, bytes) in src.bytes() {
            for (view, text) in views(&bytes) {
                for (secret, value) in &secrets.0 {
                    for form in forms(value) {
                        if let Some(at) = text.find(&form) {
                            let from = text[..at].char_indices().rev().nth(40).map_or(0, |(i, _)| i);
                            let to = (at + form.len() + 40).min(text.len());
                            let to = (to..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
                            leaks.push(format!("{name} ({view}): {secret} as {form:?}: …{}…", &text[from..to]));
                        }
                    }
                }
            }
        }
    }
    leaks.sort();
    leaks.dedup();
    leaks
}

fn assert_clean(sources: &[Source], secrets: &Secrets) {
    let leaks = sweep(sources, secrets);
    assert!(leaks.is_empty(), "{} secret leak(s):\n{}", leaks.len(), leaks.join("\n"));
}

/// Run the binary in the project, with extra environment.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Source {
    let mut c = std::process::Command::new(bin());
    c.args(args).current_dir(dir).env_remove("RUNBOOK_CONFIG").env("NO_COLOR", "1").env("RUNBOOK_LOG", "info");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.stdin(std::process::Stdio::null()).output().unwrap();
    Source::Output(args.join(" "), out)
}

const CONFIG: &str = r#"
default_env = "devnet"

[env.devnet]
namespace = "animica-devnet"
keys = ["aaaa1111zz", "bbbb2222zz"]

[env.devnet.cfg]
user = "ops"
pass = "cfgpass-9876"

[env.devnet.nested]
inner = { deep = "deep-leaf-4321" }

[rehearse]
stub = ["kubectl"]
"#;

/// Every form of use, in one runbook. `api_token` is captured (computed,
/// so that the runbook's text does not hold it); the others come from
/// outside.
const RUNBOOK: &str = r#"
---
secrets: [keys, cfg, nested, quoted]
vars:
  db_password: ~
---
# Secrets

```bash {#scalar read}
echo "pw={{ db_password }} file={{ file_secret }} env={{ env_secret }}"
echo "derived={{ db_password | upper }} {{ env_secret | replace('-', '') }}"
```

```bash {#list read}
for k in {{ keys }}; do echo "key=$k"; done
echo "all: {{ keys | join(',') | safe }}"
```

```bash {#map read}
echo "pass={{ cfg.pass }} deep={{ nested.inner.deep }}"
```

```python {#quoted read}
print("q=" + {{ quoted }})
```

```bash {#coloured read}
echo "pw={{ db_password }}{{ db_password }}" | grep --color=always pw-scalar
printf 'x=pw-sc\033[31mal\033[0mar-XQ77\n'
```

```bash {#split read}
head -c 65533 /dev/zero | tr '\0' a
printf '%s\n' {{ db_password }}
head -c 70000 /dev/zero | tr '\0' b
printf '%s' {{ env_secret }} | head -c 5
printf '%s\n' {{ env_secret }} | tail -c +6
```

```bash {#stderr read}
echo "err={{ db_password }} {{ cfg.pass }}" >&2
```

```bash {#token read capture=api_token}
t="tok-captured-$((5100 + 50))"
echo "$t"
echo "debug: got $t" >&2
```

```bash {#use-token read}
echo "using {{ api_token }} {{ api_token | upper }}"
```

```bash {#fails read on-fail=continue}
echo "failing with {{ db_password }}"
exit 3
```
"#;

fn secrets() -> Secrets {
    Secrets(vec![
        ("db_password (--set, scalar)", "pw-scalar-XQ77".into()),
        ("file_secret (--set-file)", "from-a-file-8812".into()),
        ("env_secret (RUNBOOK_VAR_)", "from-the-env-6603".into()),
        ("keys[0] (env profile list)", "aaaa1111zz".into()),
        ("keys[1] (env profile list)", "bbbb2222zz".into()),
        ("cfg.pass (env profile table)", "cfgpass-9876".into()),
        ("nested.inner.deep (nested table)", "deep-leaf-4321".into()),
        ("quoted (quote and backslash)", "Qw\"Er\\Ty-77".into()),
        ("api_token (captured)", "tok-captured-5150".into()),
        ("db_password | upper (derived)", "PW-SCALAR-XQ77".into()),
        ("env_secret | replace (derived)", "fromtheenv6603".into()),
        ("api_token | upper (derived from a capture)", "TOK-CAPTURED-5150".into()),
    ])
}

/// The project, and the files that are its inputs (they hold the values).
fn project() -> (Test, Vec<PathBuf>) {
    let t = Test::new()
        .config(CONFIG)
        .runbook("s", RUNBOOK)
        .file("secret.txt", "from-a-file-8812\n")
        // A non-secret name, secret by the runbook's `secrets`.
        .file("quoted.txt", "Qw\"Er\\Ty-77");
    let inputs = ["runbook.toml", "runbooks/s.md", "secret.txt", "quoted.txt"].map(|f| t.path().join(f)).to_vec();
    (t, inputs)
}

fn secret_args() -> Vec<&'static str> {
    vec![
        "--set",
        "db_password=pw-scalar-XQ77",
        "--set-file",
        "file_secret=secret.txt",
        "--set-file",
        "quoted=quoted.txt",
    ]
}

const ENV: &[(&str, &str)] = &[("RUNBOOK_VAR_env_secret", "from-the-env-6603")];

#[test]
fn a_play_and_everything_it_leaves_never_show_a_secret() {
    let (t, inputs) = project();
    let dir = t.path();
    let mut args = vec!["play", "s", "--yes"];
    args.extend(secret_args());
    let play = run(dir, &args, ENV);
    if let Source::Output(_, o) = &play {
        let stdout = String::from_utf8_lossy(&o.stdout);
        // The play ran every form (one step fails on purpose).
        assert_eq!(o.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
        for shown in [
            "[list] key=***",
            "[map] pass=*** deep=***",
            "[quoted] q=***",
            "[coloured] x=***",
            "[stderr] err=*** ***",
            "[use-token] using *** ***",
        ] {
            assert!(stdout.contains(shown), "{shown:?} not in:\n{stdout}");
        }
    }
    let mut sources = vec![play];
    let mut plan = vec!["plan", "s"];
    plan.extend(secret_args());
    sources.push(run(dir, &plan, ENV));
    let mut plan_json = plan.clone();
    plan_json.push("--json");
    sources.push(run(dir, &plan_json, ENV));
    for cmd in [
        &["report", "latest"][..],
        &["report", "latest", "--format", "json"],
        &["runs", "--json"],
        &["show", "s"],
        &["show", "s", "--json"],
    ] {
        sources.push(run(dir, cmd, &[]));
    }
    sources.push(Source::Tree(dir.to_path_buf(), inputs));
    assert_clean(&sources, &secrets());
}

/// What the live view shows of every run in `dir`'s store: each page, part,
/// API answer, step log and report, and each run's event stream to its end;
/// and the `extra` pages. `(step, shown)`: that step's log shows `shown` (the
/// masked values are there).
fn served(dir: &Path, env: &[(&str, &str)], extra: &[&str], (step, shown): (&str, &str)) -> Vec<Source> {
    let serve = crate::serve::Serve::start(dir, &[], env);
    let mut c = std::process::Command::new(bin());
    c.args(["runs", "--json"]).current_dir(dir).env_remove("RUNBOOK_CONFIG");
    c.envs(env.iter().copied());
    let runs: serde_json::Value = serde_json::from_slice(&c.output().unwrap().stdout).unwrap();
    let mut pages =
        vec!["/".to_string(), "/parts/runs".into(), "/runbooks".into(), "/runbooks/s".into(), "/api/runs".into()];
    pages.extend(extra.iter().map(|p| p.to_string()));
    let mut streams = Vec::new();
    for r in runs.as_array().unwrap() {
        let id = r["run"].as_str().unwrap();
        pages.extend(["", "/report.md"].map(|p| format!("/runs/{id}{p}")));
        pages.extend([format!("/parts/runs/{id}"), format!("/api/runs/{id}")]);
        let run: serde_json::Value =
            serde_json::from_str(&crate::serve::get_ok(&format!("{}/api/runs/{id}", serve.url))).unwrap();
        for step in run["steps"].as_object().unwrap().keys() {
            pages.push(format!("/api/runs/{id}/log/{step}"));
        }
        let events = crate::serve::stream(&format!("{}/api/runs/{id}/events", serve.url), &[], crate::serve::ended);
        streams.push((
            format!("GET /api/runs/{id}/events"),
            events.into_iter().map(|(e, i, d)| format!("{e} {i} {d}\n")).collect::<String>(),
        ));
    }
    assert!(!streams.is_empty(), "no run to serve: {runs}");
    let got: Vec<(String, String)> =
        pages.iter().map(|p| (format!("GET {p}"), crate::serve::get_ok(&format!("{}{p}", serve.url)))).collect();
    // The sweep reads the output itself: the masked values are there.
    let log = format!("/log/{step}");
    assert!(got.iter().any(|(p, body)| p.ends_with(&log) && body.contains(shown)), "{got:?}");
    got.into_iter().chain(streams).map(|(name, body)| Source::Bytes(name, body.into_bytes())).collect()
}

/// Every row of every table of the team database (`pg_dump`), and each
/// `bytea` value (step output) decoded, in the order stored, so that a
/// secret split over two chunks is found whole. The decoded output holds
/// each of `shown` (the masked values are there).
fn database(url: &str, shown: &[&str]) -> Vec<Source> {
    let o = std::process::Command::new("pg_dump").args(["--data-only", url]).output().expect("pg_dump runs");
    assert!(o.status.success(), "pg_dump: {}", String::from_utf8_lossy(&o.stderr));
    let dump = String::from_utf8_lossy(&o.stdout).into_owned();
    let hex = regex::Regex::new(r"\\x([0-9a-f]+)").unwrap();
    let decoded: Vec<u8> = hex
        .captures_iter(&dump)
        .flat_map(|c| {
            let h = c[1].as_bytes().to_vec();
            h.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect::<Vec<u8>>()
        })
        .collect();
    // The sweep reads the output itself: the masked values are there.
    let text = String::from_utf8_lossy(&decoded);
    assert!(shown.iter().all(|s| text.contains(s)), "no step output in the database: {dump}");
    vec![Source::Bytes("pg_dump".into(), dump.into_bytes()), Source::Bytes("pg_dump, bytea decoded".into(), decoded)]
}

#[test]
fn the_shared_store_and_the_live_view_never_show_a_secret() {
    // The same play as above, in the local store and (when a server is
    // given) the team database; then every byte of the database and of
    // what `runbook serve` shows of either.
    let mut stores = vec![(None, Vec::new())];
    let db = crate::postgres::server().map(|s| crate::postgres::Db::new(&s, "secrets"));
    if let Some(db) = &db {
        stores.push((Some(db.url.clone()), vec![("RUNBOOK_STATE", db.url.as_str())]));
    }
    for (url, state) in stores {
        let (t, inputs) = project();
        let dir = t.path();
        let env: Vec<(&str, &str)> = ENV.iter().copied().chain(state.iter().copied()).collect();
        let mut args = vec!["play", "s", "--yes"];
        args.extend(secret_args());
        let mut sources = vec![run(dir, &args, &env)];
        if let Source::Output(_, o) = &sources[0] {
            assert_eq!(o.status.code(), Some(1), "{url:?}: {}", String::from_utf8_lossy(&o.stderr));
        }
        sources.extend(served(dir, &state, &[], ("list", "key=***")));
        if let Some(url) = &url {
            sources.extend(database(url, &["key=***", "using ***"]));
        }
        sources.push(Source::Tree(dir.to_path_buf(), inputs));
        assert_clean(&sources, &secrets());
    }
}

#[test]
fn the_sweep_finds_a_leak_in_every_view() {
    // The sweep itself: a leak as written, split over two lines, or with
    // escapes inside, in a file or an output, is found.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.log"), "x pw-scal\nar-XQ77 y").unwrap();
    std::fs::write(dir.path().join("b.json"), "{\"v\":\"Qw\\\"Er\\\\Ty-77\"}").unwrap();
    std::fs::write(dir.path().join("c.txt"), "\u{1b}[31mcfgpass\u{1b}[0m-9876").unwrap();
    let found = sweep(&[Source::Tree(dir.path().to_path_buf(), Vec::new())], &secrets());
    let names: Vec<&str> = found.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert!(names.contains(&"a.log") && names.contains(&"b.json") && names.contains(&"c.txt"), "{found:#?}");
}

/// A rehearsal's secrets come from its scenario, and its stubs see them.
const FIXTURE: &str = r#"
[[scenario]]
name = "with-secrets"
vars = { db_password = "pw-scalar-XQ77", file_secret = "from-a-file-8812", env_secret = "from-the-env-6603", quoted = "Qw\"Er\\Ty-77" }
  [[scenario.stub]]
  cmd = "kubectl --token * get pods"
  stdout = "pod/a\n"
  [scenario.expect]
  outcome = "passed"
"#;

const REHEARSED: &str = r#"
---
secrets: [keys, cfg, nested, quoted]
vars:
  db_password: ~
  keys: ~
  cfg: ~
  nested: ~
  quoted: ~
---
# Rehearsed

```bash {#pods read}
kubectl --token {{ db_password }} get pods
echo "pw={{ db_password }}" >&2
```
"#;

fn rehearsal_project() -> (Test, Vec<PathBuf>) {
    let t = Test::new().config(CONFIG).runbook("r", REHEARSED).file("fixtures/r.toml", FIXTURE);
    let inputs = ["runbook.toml", "runbooks/r.md", "fixtures/r.toml"].map(|f| t.path().join(f)).to_vec();
    (t, inputs)
}

#[test]
fn check_output_in_every_format_never_shows_a_secret() {
    let (t, inputs) = rehearsal_project();
    let dir = t.path();
    let mut sources = Vec::new();
    for format in ["human", "json", "github"] {
        sources.push(run(dir, &["check", "--format", format, "runbooks/r.md"], &[]));
    }
    sources.push(Source::Tree(dir.to_path_buf(), inputs));
    assert_clean(&sources, &secrets());
}

// Rehearsal transcripts, goldens, diffs and junit print a stubbed call's
// argv (`> kubectl --token *** get pods`): masked like every other sink.
#[test]
fn rehearsal_transcripts_goldens_and_junit_never_show_a_secret() {
    let (t, inputs) = rehearsal_project();
    let dir = t.path();
    let golden = FIXTURE.replace("outcome = \"passed\"", "outcome = \"passed\"\n  transcript = \"r.golden.txt\"");
    std::fs::write(dir.join("fixtures/r.toml"), golden).unwrap();
    let sources = vec![
        run(dir, &["play", "r", "--dry-run"], &[]),
        run(dir, &["check", "--bless", "runbooks/r.md"], &[]),
        run(dir, &["check", "--format", "junit", "runbooks/r.md"], &[]),
        run(dir, &["check", "--format", "json", "runbooks/r.md"], &[]),
    ];
    // A golden that differs: the diff shows the masked argv on both sides.
    let g = dir.join("fixtures/r.golden.txt");
    let blessed = std::fs::read_to_string(&g).unwrap();
    assert!(blessed.contains("> kubectl --token"), "{blessed}");
    std::fs::write(&g, blessed.replace("get pods", "get nodes")).unwrap();
    let diff = run(dir, &["check", "runbooks/r.md"], &[]);
    let Source::Output(_, o) = &diff else { unreachable!() };
    assert!(String::from_utf8_lossy(&o.stdout).contains("+> kubectl --token"), "no diff shown");
    let mut sources = sources;
    sources.extend([diff, Source::Tree(dir.to_path_buf(), inputs)]);
    assert_clean(&sources, &secrets());
}

/// A runbook with a required secret, given by its right name from the
/// environment and by misspelt names from every channel.
const TYPO: &str = "---\nvars:\n  api_token: ~\n---\n# Basic\n\n```bash {#a read}\necho using {{ api_token }}\n```\n";

#[test]
fn a_value_given_under_a_name_the_runbook_reads_nowhere_is_never_written() {
    let t = Test::new().runbook("basic", TYPO).file("tok2.txt", "Typo5ecretFILE\n").fixture(
        "basic",
        "[[scenario]]\nname = \"s\"\nvars = { api_token = \"from-the-fixture\" }\n[scenario.expect]\noutcome = \"passed\"\n",
    );
    let inputs = ["runbook.toml", "runbooks/basic.md", "tok2.txt", "fixtures/basic.toml"].map(|f| t.path().join(f));
    let dir = t.path();
    let env = [("RUNBOOK_VAR_api_token", "right-name-7781"), ("RUNBOOK_VAR_api_tokn", "Typo5ecretENV")];
    let typos = ["--set-file", "api_tokn=tok2.txt", "--set", "api_tkn=Typo5ecretARGV"];
    let cmd = |c: &[&'static str]| c.iter().chain(&typos).copied().collect::<Vec<&str>>();
    let play = run(dir, &cmd(&["play", "basic", "--yes"]), &env);
    let Source::Output(_, o) = &play else { unreachable!() };
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    // Each warning names what the user typed, never the value.
    assert_eq!(
        stderr,
        "warning: RUNBOOK_VAR_api_tokn: runbook `basic` reads no variable `api_tokn`; it is ignored\n  \
         hint: did you mean `api_token`?\n\
         warning: --set-file api_tokn: runbook `basic` reads no variable `api_tokn`; it is ignored\n  \
         hint: did you mean `api_token`?\n\
         warning: --set api_tkn: runbook `basic` reads no variable `api_tkn`; it is ignored\n  \
         hint: did you mean `api_token`?\n"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("vars: api_token=***\n"));
    let mut sources = vec![play];
    for c in [&["plan", "basic"][..], &["plan", "basic", "--json"], &["play", "basic", "--dry-run"]] {
        sources.push(run(dir, &cmd(c), &env));
    }
    for c in [&["report", "latest"][..], &["report", "latest", "--format", "json"], &["runs", "--json"]] {
        sources.push(run(dir, c, &[]));
    }
    sources.push(Source::Tree(dir.to_path_buf(), inputs.to_vec()));
    let typos = ["Typo5ecretFILE", "Typo5ecretENV", "Typo5ecretARGV"];
    assert_clean(&sources, &Secrets(typos.iter().map(|v| ("a value under a misspelt name", v.to_string())).collect()));
}

#[test]
fn a_step_never_sees_runbook_var_in_its_environment() {
    // The runbook reads `api_token` through its template; the environment
    // that gave it, and one it reads nowhere, stay the engine's.
    let md = "---\nvars:\n  api_token: ~\n---\n# E\n\n```bash {#a read}\necho using {{ api_token }}\nenv | grep -c '^RUNBOOK_VAR_' || true\nenv | grep -c env-tok || true\n```\n";
    let f = Test::new()
        .runbook("e", md)
        .env("RUNBOOK_VAR_api_token", "env-tok-5150")
        .env("RUNBOOK_VAR_unread_thing", "env-tok-5150")
        .args(["play", "e", "--yes"])
        .stdout_has("[a] using ***\n[a] 0\n[a] 0\n")
        .run();
    assert!(!f.stdout.contains("env-tok-5150"), "{}", f.stdout);
}

/// A list or map variable whose parts are secret by their key's name
/// (SPEC §2.1): `registry.password`, `hosts[0].api_key`; the variables
/// themselves are not secret, and are neither listed nor named so.
const NESTED_CONFIG: &str = r#"
default_env = "prod"

[env.prod]
namespace = "ns"
db_token = "top-level-TOKEN-55"
registry = { user = "bot", password = "PW-nested-SECRET-77" }
hosts = [{ name = "h1", api_key = "list-KEY-secret-88" }]

[rehearse]
stub = ["kubectl"]
"#;

const NESTED: &str = r#"# Nested

```bash {#login read}
kubectl login -u {{ registry.user }} -p {{ registry.password }} --token {{ db_token }}
echo key={{ hosts[0].api_key }} host={{ hosts[0].name }} all={{ registry }}
```
"#;

fn nested_secrets() -> Secrets {
    Secrets(vec![
        ("registry.password (a map's part)", "PW-nested-SECRET-77".into()),
        ("hosts[0].api_key (a list's map's part)", "list-KEY-secret-88".into()),
        ("db_token (a scalar)", "top-level-TOKEN-55".into()),
    ])
}

#[test]
fn a_secret_part_of_a_list_or_map_is_never_shown() {
    let mut stores = vec![(None, Vec::new())];
    let db = crate::postgres::server().map(|s| crate::postgres::Db::new(&s, "nested_secrets"));
    if let Some(db) = &db {
        stores.push((Some(db.url.clone()), vec![("RUNBOOK_STATE", db.url.as_str())]));
    }
    for (url, state) in stores {
        let t = Test::new()
            .config(NESTED_CONFIG)
            .runbook("s", NESTED)
            .file(
                "book.toml",
                "[book]\ntitle = \"t\"\nsrc = \"runbooks\"\n\n[preprocessor.runbook]\ncommand = \"runbook mdbook\"\n",
            )
            .file("runbooks/SUMMARY.md", "# Summary\n\n- [Nested](s.md)\n")
            .file("bin/kubectl", "#!/bin/sh\necho \"kubectl $*\"\n");
        let dir = t.path();
        let kubectl = dir.join("bin/kubectl");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let inputs = ["runbook.toml", "runbooks/s.md", "book.toml", "runbooks/SUMMARY.md", "bin/kubectl"]
            .map(|f| dir.join(f))
            .to_vec();
        let path = format!("{}:{}", dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        let mut env: Vec<(&str, &str)> = vec![("PATH", path.as_str())];
        env.extend(state.iter().copied());
        let play = run(dir, &["play", "s", "--yes", "--record-fixture", "live"], &env);
        let Source::Output(_, o) = &play else { unreachable!() };
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{url:?}: {stdout}\n{}", String::from_utf8_lossy(&o.stderr));
        for shown in [
            "vars: db_token=*** hosts=[{\"api_key\":\"***\",\"name\":\"h1\"}] registry={\"password\":\"***\",\"user\":\"bot\"}\n",
            "[login] kubectl login -u bot -p *** --token ***\n",
            "[login] key=*** host=h1 all={\"password\":\"***\",\"user\":\"bot\"}\n",
        ] {
            assert!(stdout.contains(shown), "{shown:?} not in:\n{stdout}");
        }
        let mut sources = vec![play];
        for cmd in [
            &["plan", "s"][..],
            &["plan", "s", "--json"],
            &["play", "s", "--dry-run", "--scenario", "live"],
            &["report", "latest"],
            &["report", "latest", "--format", "json"],
            &["runs", "--json"],
            &["show", "s"],
            &["show", "s", "--json"],
            &["check", "--format", "json", "runbooks/s.md"],
        ] {
            sources.push(run(dir, cmd, &env));
        }
        sources.extend(served(dir, &state, &["/runbooks/s?env=prod"], ("login", "key=***")));
        if let Some(url) = &url {
            sources.extend(database(url, &["-p *** --token ***", "key=***"]));
        }
        // The wiki, when mdbook is there to build it (CI installs it).
        if Command::new("mdbook").arg("--version").output().is_ok_and(|o| o.status.success()) {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-book");
            let o = Command::new("bash").arg(script).arg(dir).env("RUNBOOK_BIN", bin()).output().unwrap();
            assert!(o.status.success(), "build-book: {}", String::from_utf8_lossy(&o.stderr));
            let page = std::fs::read_to_string(dir.join("book/s.html")).unwrap();
            assert!(page.contains("registry.password: secret"), "{page}");
            sources.push(Source::Output("build-book".into(), o));
        }
        sources.push(Source::Tree(dir.to_path_buf(), inputs));
        assert_clean(&sources, &nested_secrets());
    }
}

/// A value of the env profile that one runbook declares secret, and a
/// second runbook (`s`) of the project reads nowhere: nothing of a play of
/// the second one shows it (a profile is shared by every runbook; a play
/// keeps only what its runbook reads).
#[test]
fn a_profile_value_another_runbook_declares_secret_never_reaches_a_run_that_does_not_read_it() {
    let t = Test::new()
        .config("default_env = \"dev\"\n\n[env.dev]\nsentry_dsn = \"https://SentryKey4242@sentry.example/1\"\nregion = \"eu\"\n")
        .runbook("uses-dsn", "---\nsecrets: [sentry_dsn]\n---\n# U\n\n```bash {#a read}\necho configured {{ sentry_dsn }}\n```\n")
        .runbook("s", "# S\n\n```bash {#a read}\necho hello {{ region }}\n```\n");
    let dir = t.path();
    let play = run(dir, &["play", "s", "--yes"], &[]);
    let Source::Output(_, o) = &play else { unreachable!() };
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("vars: region=eu\n"), "{stdout}");
    let mut sources = vec![play];
    for cmd in [
        &["plan", "s"][..],
        &["plan", "s", "--json"],
        &["show", "s", "--json"],
        &["report", "latest"],
        &["report", "latest", "--format", "json"],
        &["runs", "--json"],
    ] {
        sources.push(run(dir, cmd, &[]));
    }
    sources.extend(served(dir, &[], &[], ("a", "hello eu")));
    sources.push(Source::Tree(dir.to_path_buf(), vec![dir.join("runbook.toml"), dir.join("runbooks/uses-dsn.md")]));
    assert_clean(&sources, &Secrets(vec![("sentry_dsn (secret in uses-dsn)", "SentryKey4242".into())]));
}

/// A secret given with `--set` is in argv, which `ps` shows every user: the
/// play says so and how to give it instead; `--set-file` and
/// `RUNBOOK_VAR_` are quiet.
#[test]
fn a_secret_given_with_set_gets_a_warning_naming_the_other_ways() {
    let md = "---\nsecrets: [tok]\nvars:\n  tok: ~\n---\n# S\n\n```bash {#a read}\necho {{ tok }}\n```\n";
    let f = Test::new().runbook("s", md).args(["play", "s", "--yes", "--set", "tok=abcd1234"]).run();
    assert_eq!(
        f.stderr,
        "warning: --set tok: a secret on the command line is visible to every user of this machine (`ps`)\n  \
         hint: give it with `--set-file tok=FILE` or `RUNBOOK_VAR_tok=…`\n"
    );
    let f = Test::new().runbook("s", md).env("RUNBOOK_VAR_tok", "abcd1234").args(["play", "s", "--yes"]).run();
    assert_eq!(f.stderr, "");
}

const DERIVED: &str = r#"
---
secrets: [tok]
vars:
  tok: ~
---
# Derived

```bash {#derived read}
echo "up={{ tok | upper }} flat={{ tok | replace('-', '') }} cut={{ tok[:6] }}"
```
"#;

#[test]
fn a_value_a_template_derives_from_a_secret_is_secret() {
    let t = Test::new().runbook("d", DERIVED).file("tok.txt", "s3cret-abc-91\n");
    let inputs = ["runbook.toml", "runbooks/d.md", "tok.txt"].map(|f| t.path().join(f)).to_vec();
    let dir = t.path();
    let give = ["--set-file", "tok=tok.txt"];
    let cmd = |c: &[&'static str]| c.iter().chain(&give).copied().collect::<Vec<&str>>();
    let play = run(dir, &cmd(&["play", "d", "--yes"]), &[]);
    let Source::Output(_, o) = &play else { unreachable!() };
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("[derived] up=*** flat=*** cut=***\n"), "{stdout}");
    let plan = run(dir, &cmd(&["plan", "d"]), &[]);
    let Source::Output(_, p) = &plan else { unreachable!() };
    let shown = String::from_utf8_lossy(&p.stdout);
    assert!(shown.contains(r#"echo "up=*** flat=*** cut=***""#), "{shown}");
    let mut sources = vec![play, plan];
    for c in [&["report", "latest"][..], &["report", "latest", "--format", "json"]] {
        sources.push(run(dir, c, &[]));
    }
    sources.push(Source::Tree(dir.to_path_buf(), inputs));
    let derived =
        [("tok", "s3cret-abc-91"), ("tok | upper", "S3CRET-ABC-91"), ("replace", "s3cretabc91"), ("tok[:6]", "s3cret")];
    assert_clean(&sources, &Secrets(derived.iter().map(|(n, v)| (*n, v.to_string())).collect()));
}

/// A secret in a query regex, in `label_replace`'s replacement and in a
/// LogQL template, where it is written escaped for that language.
const IN_QUERIES: &str = r#"
---
secrets: [tok]
vars:
  tok: ~
---
# In queries

```promql {#rx read}
sum(up{pod=~"{{ tok }}"}) or label_replace(up, "d", "{{ tok }}", "s", "x")
```

```logql {#lines read}
{app="a"} |~ "{{ tok }}" | line_format "{{ tok }}"
```
"#;

#[test]
fn a_secret_as_a_query_language_escapes_it_is_secret() {
    let srv = crate::common::servers::HttpServer::start(|r| match r.path() {
        "/api/v1/query" => {
            (200, "application/json", r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.into())
        }
        "/loki/api/v1/query_range" => {
            (200, "application/json", r#"{"status":"success","data":{"resultType":"streams","result":[]}}"#.into())
        }
        _ => (404, "text/plain", "no".into()),
    });
    let tok = "s3.cr+et$9{1";
    let t = Test::new()
        .config(&format!("default_env = \"d\"\n\n[env.d]\nprometheus = \"{0}\"\nloki = \"{0}\"\n", srv.url()))
        .runbook("q", IN_QUERIES)
        .file("tok.txt", &format!("{tok}\n"));
    let inputs = ["runbook.toml", "runbooks/q.md", "tok.txt"].map(|f| t.path().join(f)).to_vec();
    let dir = t.path();
    let give = ["--set-file", "tok=tok.txt"];
    let cmd = |c: &[&'static str]| c.iter().chain(&give).copied().collect::<Vec<&str>>();
    let play = run(dir, &cmd(&["play", "q", "--yes"]), &[]);
    let Source::Output(_, o) = &play else { unreachable!() };
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let mut sources = vec![play];
    for c in [&["plan", "q"][..], &["plan", "q", "--json"]] {
        sources.push(run(dir, &cmd(c), &[]));
    }
    for c in [&["report", "latest"][..], &["report", "latest", "--format", "json"]] {
        sources.push(run(dir, c, &[]));
    }
    sources.push(Source::Tree(dir.to_path_buf(), inputs));
    let forms = [
        ("tok", tok.to_string()),
        ("tok in a regex", r"s3\.cr\+et\$9\{1".to_string()),
        ("tok in a replacement", "s3.cr+et$$9{1".to_string()),
        ("tok in a Go template", r#"s3.cr+et$9{{"{"}}1"#.to_string()),
    ];
    // And in a link: percent-encoded, in the query's string literal, and
    // that in a JSON string (Grafana's `left=` state).
    let json = |v: &str| serde_json::to_string(v).unwrap().trim_matches('"').to_string();
    let linked = forms.iter().flat_map(|(n, v)| [v.clone(), json(v), json(&json(v))].map(|f| (*n, percent(&f))));
    let all: Vec<(&str, String)> = forms.iter().cloned().chain(linked).collect();
    assert_clean(&sources, &Secrets(all));
}

/// `v` percent-encoded, every byte but `A-Z a-z 0-9 - . _ ~`.
fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Values derived from a secret by `{% set %}`, a `{% for %}` loop and a
/// macro: no `{{ … }}` of the text reads the secret itself.
const DERIVED_BY_STATEMENTS: &str = r#"
---
secrets: [tok]
vars:
  tok: ~
---
# Derived by statements

```bash {#set read}
{% set t = tok | upper %}echo set={{ t }}
```

```bash {#for read}
{% for p in tok | split('-') %}echo part={{ p | upper }}
{% endfor %}
```

```bash {#macro read}
{% macro flat(x) %}{{ x | replace('-', '') }}{% endmacro %}echo macro={{ flat(tok) }}
```
"#;

#[test]
fn a_value_a_statement_derives_from_a_secret_is_secret() {
    let t = Test::new().runbook("d", DERIVED_BY_STATEMENTS).file("tok.txt", "s3cret-abcdef-9182\n");
    let inputs = ["runbook.toml", "runbooks/d.md", "tok.txt"].map(|f| t.path().join(f)).to_vec();
    let dir = t.path();
    let give = ["--set-file", "tok=tok.txt"];
    let cmd = |c: &[&'static str]| c.iter().chain(&give).copied().collect::<Vec<&str>>();
    let play = run(dir, &cmd(&["play", "d", "--yes"]), &[]);
    let Source::Output(_, o) = &play else { unreachable!() };
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    for shown in ["[set] set=***\n", "[for] part=***\n", "[macro] macro=***\n"] {
        assert!(stdout.contains(shown), "{shown:?} not in:\n{stdout}");
    }
    let mut sources = vec![play, run(dir, &cmd(&["plan", "d"]), &[]), run(dir, &cmd(&["plan", "d", "--json"]), &[])];
    for c in [&["report", "latest"][..], &["report", "latest", "--format", "json"]] {
        sources.push(run(dir, c, &[]));
    }
    sources.push(Source::Tree(dir.to_path_buf(), inputs));
    let derived = [
        ("tok", "s3cret-abcdef-9182"),
        ("{% set t = tok | upper %}", "S3CRET-ABCDEF-9182"),
        ("{% for p in tok | split('-') %}{{ p | upper }}", "S3CRET"),
        ("… the second part", "ABCDEF"),
        ("{% macro %} replace", "s3cretabcdef9182"),
    ];
    assert_clean(&sources, &Secrets(derived.iter().map(|(n, v)| (*n, v.to_string())).collect()));
}

/// A secret a runbook reads only through a slice is read (its value is not
/// dropped as read nowhere) and masked, with the slice.
#[test]
fn a_secret_read_only_through_a_slice_is_read_and_masked() {
    let md = "---\nsecrets: [tok]\n---\n# S\n\n```bash {#a read}\necho cut={{ tok[:9] }}\n```\n";
    let t = Test::new().runbook("s", md);
    let inputs = ["runbook.toml", "runbooks/s.md"].map(|f| t.path().join(f)).to_vec();
    let dir = t.path();
    let play = run(dir, &["play", "s", "--yes"], &[("RUNBOOK_VAR_tok", "s3cret-abc-91")]);
    let Source::Output(_, o) = &play else { unreachable!() };
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("[a] cut=***\n"), "{stdout}");
    assert!(!stderr.contains("reads no variable"), "{stderr}");
    let mut sources = vec![play];
    for c in [&["report", "latest"][..], &["report", "latest", "--format", "json"]] {
        sources.push(run(dir, c, &[]));
    }
    sources.push(Source::Tree(dir.to_path_buf(), inputs));
    let secrets = [("tok", "s3cret-abc-91"), ("tok[:9]", "s3cret-ab")];
    assert_clean(&sources, &Secrets(secrets.iter().map(|(n, v)| (*n, v.to_string())).collect()));
}

/// A piece of a secret too short to mask (a character of a loop over it,
/// a short slice, its length) is refused before anything runs, in `play`
/// and `plan`, and never written: masking a one-letter text is not
/// possible. The secret written whole, tested, or cut into long pieces is
/// played and masked.
#[test]
fn a_piece_of_a_secret_too_short_to_mask_is_refused_and_never_written() {
    let tok = "q7-zx-k9w";
    for (body, n) in [
        ("echo {% for c in tok %}{{ c }} {% endfor %}", 1),
        ("echo head={{ tok[:3] }}", 3),
        ("echo tail={{ tok | split('-') | last }}", 3),
        ("{% set t = tok | list %}echo {{ t[0] }}-{{ t[1] }}", 1),
    ] {
        let md = format!(
            "---\nsecrets: [tok]\n---\n# S\n\n```bash {{#a}}\necho first > ran\n```\n\n```bash {{#b read}}\n{body}\n```\n"
        );
        let t = Test::new().runbook("s", &md);
        let inputs = ["runbook.toml", "runbooks/s.md"].map(|f| t.path().join(f)).to_vec();
        let dir = t.path();
        let play = run(dir, &["play", "s", "--yes"], &[("RUNBOOK_VAR_tok", tok)]);
        let plan = run(dir, &["plan", "s"], &[("RUNBOOK_VAR_tok", tok)]);
        for src in [&play, &plan] {
            let Source::Output(cmd, o) = src else { unreachable!() };
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{body}: {cmd}: {stderr}");
            let s = if n == 1 { "" } else { "s" };
            let said = format!(
                "runbooks/s.md:11: error: step `b` writes a piece of secret `tok` ({n} character{s}) too short to be masked: it would show in the journal, the log and the report\n  hint: write the secret whole (`{{{{ name }}}}`, masked as `***`), or take it apart in the step's own code, from an environment variable\n"
            );
            assert!(stderr.contains(&said), "{body}: {cmd}: {stderr}");
        }
        assert!(!dir.join("ran").exists(), "{body}: a step ran before the refusal");
        let pieces: Vec<(&str, String)> = vec![
            ("tok", tok.to_string()),
            ("its first characters", "q 7 - z".into()),
            ("head", "q7-".into()),
            ("tail", "=k9w".into()),
        ];
        assert_clean(&[play, plan, Source::Tree(dir.to_path_buf(), inputs)], &Secrets(pieces));
    }
    let md = "---\nsecrets: [tok]\n---\n# S\n\n```bash {#a read}\n{% if tok %}echo whole={{ tok }} up={{ tok | upper }} long={{ tok[:5] }} len={{ tok | length }}{% endif %}\n```\n";
    let t = Test::new().runbook("s", md);
    let play = run(t.path(), &["play", "s", "--yes"], &[("RUNBOOK_VAR_tok", tok)]);
    let Source::Output(_, o) = &play else { unreachable!() };
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("[a] whole=*** up=*** long=*** len=9\n"), "{stdout}");
}

/// A misspelt `secrets` entry masks nothing: `check`, `plan` and `play`
/// refuse it at its line, with the name it was meant for, and the value
/// is never shown.
#[test]
fn a_secrets_entry_that_names_nothing_is_refused_before_the_value_is_shown() {
    let md = "---\nvars:\n  pg_pw: ~\nsecrets: [pgpw]\n---\n# S\n\n```bash {#a read}\necho connecting with {{ pg_pw }}\n```\n";
    let error = "runbooks/s.md:4: error: `secrets` names `pgpw`, which this runbook neither declares, captures nor reads: it masks nothing\n  hint: did you mean `pg_pw`? Name a variable or a capture of this runbook\n";
    for args in [vec!["plan", "s"], vec!["play", "s", "--yes"]] {
        let t = Test::new()
            .runbook("s", md)
            .env("RUNBOOK_VAR_pg_pw", "Zebra-Horse-42")
            .args(args)
            .status(2)
            .stderr_has(error)
            .stdout_lacks("Zebra-Horse-42")
            .stderr_lacks("Zebra-Horse-42")
            .run();
        assert!(!t.path().join(".runbook").join("runs").exists(), "a run was started");
    }
    Test::new()
        .runbook("s", md)
        .args(["check"])
        .status(2)
        .stdout_has("runbooks/s.md:4: error[unknown-secret]: `secrets` names `pgpw`")
        .run();
}

/// A secret's front-matter default (a secret by `secrets:` or by its name,
/// whole or a part of a map) is the runbook's own text, but no command that
/// describes the runbook shows it: `show` and `plan`, text and JSON.
#[test]
fn a_secret_default_in_the_front_matter_is_shown_by_no_command() {
    let md = "---\nvars:\n  db_password: ByNameSecret77\n  foo: ExplicitSecretValue99\n  \
              registry: {user: bot, password: NestedSecret55}\nsecrets: [foo]\n---\n# S\n\n\
              ```bash {#a read}\necho {{ foo }} {{ db_password }} {{ registry.user }}\n```\n";
    let t = Test::new().runbook("s", md);
    let dir = t.path();
    let mut sources = Vec::new();
    for cmd in [&["show", "s"][..], &["show", "s", "--json"], &["plan", "s"], &["plan", "s", "--json"]] {
        sources.push(run(dir, cmd, &[]));
    }
    let Source::Output(_, o) = &sources[1] else { unreachable!() };
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["runbook"]["vars"]["registry"], serde_json::json!({"user": "bot", "password": "***"}));
    assert_clean(
        &sources,
        &Secrets(vec![
            ("db_password", "ByNameSecret77".into()),
            ("foo", "ExplicitSecretValue99".into()),
            ("registry.password", "NestedSecret55".into()),
        ]),
    );
}

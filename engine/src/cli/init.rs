//! `runbook init [--wiki]`: a project to start from, in the current
//! directory: a commented runbook.toml, one example runbook with its
//! fixture (so `runbook check` has a scenario to rehearse from the first
//! minute), a CI workflow running `runbook check --format github`, and with
//! `--wiki` an mdBook wiki over the runbooks. A file that exists is kept,
//! never overwritten, and said so; an existing `.gitignore` only gets
//! `.runbook/` appended when it lacks it.
//!
//! In a project that has its runbook.toml already, the example and its
//! fixture are not written: they are written for the runbook.toml init
//! writes (its `dev` env, its namespace, kubectl stubbed), and against
//! another one the example's rehearsal fails, turning the project's
//! `runbook check` red. There `--wiki` lists the project's own pages.

use std::path::Path;

use crate::error::{Exit, Result};

const CONFIG: &str = r#"# runbook.toml: the project configuration of `runbook` (SPEC §3). runbook
# finds it by walking up from the current directory; --config overrides.

# Markdown runbooks, walked recursively (pages without steps are wiki pages:
# `runbook check` still lints their shell blocks).
runbooks = "runbooks"
# Rehearsal fixtures, one TOML file per runbook id.
fixtures = "fixtures"
# Checkpoints, logs and locks of the plays: a directory, or "postgres://…"
# to share one store (and its locks) with the whole team.
state = ".runbook"
# The environment of a play without --env.
default_env = "dev"

# Environments: every key but `confirm` and `guard` is a variable that every
# runbook played there sees (front matter `vars` < env < --set).
[env.dev]
namespace = "default"

[env.prod]
namespace = "prod"
# Every step that is not `read` asks first.
confirm = "write"
# Checked before the first write step: the play stops if it does not match.
# guard = { run = "kubectl config current-context", expect = "^prod-" }

[rehearse]
# Programs answered by the fixtures in a rehearsal (`runbook play ID --dry-run`,
# `runbook check`): they never run for real there.
stub = ["kubectl", "helm", "docker", "curl"]
"#;

const EXAMPLE: &str = r#"---
id: example
title: Example — a deployment is not ready
vars:
  deployment: web       # the deployment to look at (--set deployment=api)
requires: [kubectl]
---

# Example — a deployment is not ready

A runbook is a markdown page: it renders anywhere markdown does. A fenced
block with `{…}` after its language is a step; `runbook play example`
runs them in order, `--dry-run` rehearses them against
`fixtures/example.toml`, and `runbook check` does both in CI. Replace this
page with your own (`runbook import page.md` converts a plain one).

## Look

How many replicas are ready (a `read` step only looks; `--read-only` plays
only those):

```bash {#ready read capture=ready timeout=30s}
kubectl get deployment {{ deployment }} -n {{ namespace }} -o jsonpath='{.status.readyReplicas}'
```

## Act

Only when none is ready, and after asking:

```bash {#restart when="ready == '' or ready == '0'" confirm="restart the deployment" timeout=5m}
kubectl rollout restart deployment/{{ deployment }} -n {{ namespace }}
kubectl rollout status deployment/{{ deployment }} -n {{ namespace }} --timeout=4m
```
"#;

const FIXTURE: &str = r#"# Rehearsal fixture of runbooks/example.md: each scenario plays the runbook
# with the stubbed programs (runbook.toml [rehearse]) answering from here.
# Record real answers with `runbook play example --record-fixture NAME`.

[[scenario]]
name = "none-ready"
env = "dev"
answers = "yes"     # confirmations are answered yes

  [[scenario.stub]]
  cmd = "kubectl get deployment web -n default -o jsonpath=*readyReplicas*"
  stdout = ""

  [[scenario.stub]]
  cmd = "kubectl rollout restart deployment/web -n default"
  stdout = "deployment.apps/web restarted\n"

  [[scenario.stub]]
  cmd = "kubectl rollout status deployment/web -n default --timeout=4m"
  stdout = "deployment \"web\" successfully rolled out\n"

  [scenario.expect]
  outcome = "passed"
  steps = { ready = "passed", restart = "passed" }

[[scenario]]
name = "all-ready"
env = "dev"

  [[scenario.stub]]
  cmd = "kubectl get deployment web -n default -o jsonpath=*readyReplicas*"
  stdout = "3"

  [scenario.expect]
  outcome = "passed"
  steps = { ready = "passed", restart = "skipped" }
"#;

const WORKFLOW: &str = r#"# Doc CI: lint every runbook and page, rehearse every fixture scenario.
# Findings show as annotations on the pull request's diff.
name: runbook

on:
  push:
  pull_request:

jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Install shellcheck
        run: sudo apt-get update -qq && sudo apt-get install -y -qq shellcheck
      - name: Install runbook
        # However your team gets the binary; from its sources with cargo:
        run: cargo install --locked --git "$RUNBOOK_GIT" runbook
        env:
          RUNBOOK_GIT: https://github.com/your-org/runbook
      # shellcheck's findings, by the content of each page: unchanged pages
      # are not checked again (runbook keeps them in .runbook/cache).
      - uses: actions/cache@v4
        with:
          path: .runbook/cache
          key: runbook-${{ github.sha }}
          restore-keys: runbook-
      # A rehearsal is contained where the runner allows unprivileged user
      # namespaces (ubuntu-24.04 restricts them through AppArmor; `sudo
      # sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` lifts
      # that): then add `--contained`, so that a scenario that ran
      # uncontained fails the job (docs/containment.md).
      - name: runbook check
        run: runbook check --format github
"#;

const BOOK: &str = r#"# An mdBook 0.5 wiki of the runbooks: `mdbook build` (or `mdbook serve`).
[book]
title = "Runbooks"
src = "runbooks"

[build]
# A missing page in SUMMARY.md fails the build instead of being created.
create-missing = false

# runbook renders the runbook pages for humans: front matter and step
# attributes removed, each step's header, variables and plan shown.
[preprocessor.runbook]
command = "runbook mdbook"
after = ["links"]

[output.html]
# The placeholders' style, and the selector that switches a runbook page
# between the envs of runbook.toml (written by `runbook init --wiki`).
additional-css = ["wiki/runbook.css"]
additional-js = ["wiki/runbook.js"]
"#;

/// The wiki's style and env selector, as this repository's own wiki uses them.
const WIKI_CSS: &str = include_str!("../../../docs/wiki/runbook.css");
const WIKI_JS: &str = include_str!("../../../docs/wiki/runbook.js");

const SUMMARY: &str = "# Summary\n\n- [Example — a deployment is not ready](example.md)\n";

const GITIGNORE: &str = "# runbook's state: checkpoints, logs, locks of the plays\n.runbook/\n";

/// Write what is missing; say what was written and what was kept.
pub fn run(dir: &Path, wiki: bool) -> Result<Exit> {
    let existing = dir.join(crate::config::FILE_NAME).exists();
    // `None`: not written here.
    let mut files: Vec<(String, Option<String>)> = vec![("runbook.toml".into(), Some(CONFIG.into()))];
    if existing {
        files.push(("runbooks/example.md, fixtures/example.toml".into(), None));
    } else {
        files.push(("runbooks/example.md".into(), Some(EXAMPLE.into())));
        files.push(("fixtures/example.toml".into(), Some(FIXTURE.into())));
    }
    files.push((".github/workflows/runbook.yml".into(), Some(WORKFLOW.into())));
    files.push((".gitignore".into(), Some(GITIGNORE.into())));
    if wiki {
        let (src, summary) = if existing { own_pages(dir) } else { ("runbooks".into(), SUMMARY.into()) };
        files.push(("book.toml".into(), Some(BOOK.replace("src = \"runbooks\"", &format!("src = {src:?}")))));
        files.push((format!("{src}/SUMMARY.md"), Some(summary)));
        files.push(("wiki/runbook.css".into(), Some(WIKI_CSS.into())));
        files.push(("wiki/runbook.js".into(), Some(WIKI_JS.into())));
    }
    let mut report = String::new();
    for (rel, text) in &files {
        let rel = rel.as_str();
        let Some(text) = text else {
            report
                .push_str(&format!("skipped  {rel} (written for init's own runbook.toml; this project has its own)\n"));
            continue;
        };
        let path = dir.join(rel);
        if rel == ".gitignore" && path.is_file() {
            report.push_str(&ignore_state(&path)?);
            continue;
        }
        if path.exists() {
            report.push_str(&format!("kept     {rel} (exists)\n"));
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(anyhow::Error::from)?;
        }
        // `create_new`: a file that appeared meanwhile is not overwritten either.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        match written {
            Ok(()) => report.push_str(&format!("created  {rel}\n")),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                report.push_str(&format!("kept     {rel} (exists)\n"))
            }
            Err(e) => return Err(anyhow::anyhow!("cannot write {}: {e}", path.display()).into()),
        }
    }
    report.push_str("\nnext:\n  runbook check                          lint and rehearse (what CI runs)\n");
    if !existing {
        report.push_str("  runbook play example --dry-run         rehearse the example against its fixture\n");
    }
    report.push_str("  runbook import PAGE.md -o runbooks/PAGE.md   convert a plain markdown runbook\n");
    super::out(&report);
    Ok(Exit::Success)
}

/// A project's own `.gitignore`: `.runbook/` appended when no line ignores
/// it (the rest kept byte for byte, a missing final line end added first),
/// so that run journals and logs are not committed.
fn ignore_state(path: &Path) -> Result<String> {
    let text = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let ignores = text.split(|&b| b == b'\n').any(|l| {
        let l = l.trim_ascii();
        matches!(l, b".runbook" | b".runbook/" | b"/.runbook" | b"/.runbook/")
    });
    if ignores {
        return Ok("kept     .gitignore (ignores .runbook/ already)\n".into());
    }
    let eol = if memchr::memmem::find(&text, b"\r\n").is_some() { "\r\n" } else { "\n" };
    let mut add = String::new();
    if !text.is_empty() && !text.ends_with(b"\n") {
        add.push_str(eol);
    }
    add.push_str(".runbook/");
    add.push_str(eol);
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, add.as_bytes()))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok("updated  .gitignore (added .runbook/: run journals and logs stay out of git)\n".into())
}

/// The wiki of an existing project: its runbooks directory (relative to
/// the project), and a SUMMARY.md listing its pages by their first heading.
fn own_pages(dir: &Path) -> (String, String) {
    let runbooks = crate::config::Config::load(&dir.join(crate::config::FILE_NAME))
        .map(|c| c.runbooks)
        .unwrap_or_else(|_| dir.join("runbooks"));
    let src = runbooks.strip_prefix(dir).unwrap_or(&runbooks).to_string_lossy().into_owned();
    let mut summary = String::from("# Summary\n\n");
    for file in crate::catalog::markdown_files(&runbooks) {
        let Ok(rel) = file.strip_prefix(&runbooks) else { continue };
        if rel == Path::new("SUMMARY.md") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let title = text
            .lines()
            .find_map(|l| l.strip_prefix("# "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map_or_else(|| rel.with_extension("").to_string_lossy().into_owned(), str::to_string);
        summary.push_str(&format!("- [{}]({})\n", title.replace(['[', ']'], ""), rel.display()));
    }
    (if src.is_empty() { ".".into() } else { src }, summary)
}

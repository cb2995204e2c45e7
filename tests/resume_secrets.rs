//! A resume and the secrets of steps that passed (SPEC §6): the journal
//! keeps a secret as `***`, so a resume must be given again a secret a step
//! still to run reads, but not one only steps that passed and stand read:
//! the engineer the incident is handed to may not hold it. The hash that
//! tells a step was edited does not depend on the secret's value; an edited
//! step, or a changed value, still runs again, and journals of earlier
//! engines (which hashed the command as journaled) still resume.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::common::*;
use crate::play::{journal, rb, rb_cmd, text};

/// `a` reads the secret `tok` and the variable `ns`; `b` fails until
/// `fixed` exists and reads neither.
const MD: &str = "---\nsecrets: [tok]\n---\n\n```bash {#a}\necho a >> runs.txt; echo {{ ns }} {{ tok }}\n```\n\n```bash {#b}\n[ -f fixed ] || exit 4; echo b >> runs.txt\n```\n";

const TOK: &str = "s3cret-value-17ch";

/// The first play: `a` passes with the secret, `b` fails.
fn failed_once(md: &str) -> Test {
    let t = Test::new().runbook("r", md);
    let o = rb_cmd(t.path(), &["play", "r", "--yes", "--set", "ns=blue"]).env("RUNBOOK_VAR_tok", TOK).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    std::fs::write(t.path().join("fixed"), "").unwrap();
    t
}

fn runs(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("runs.txt")).unwrap_or_default()
}

fn notes(o: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.starts_with("note")).map(str::to_string).collect()
}

fn run_id(dir: &Path) -> String {
    let j = journal(dir);
    let first: serde_json::Value = serde_json::from_str(j.lines().next().unwrap()).unwrap();
    first["run"].as_str().unwrap().to_string()
}

#[test]
fn a_resume_does_not_ask_for_a_secret_only_steps_that_passed_read() {
    let t = failed_once(MD);
    let dir = t.path();
    let run = run_id(dir);
    // No `tok`, no terminal: nothing to ask, nothing missing.
    let o = rb(dir, &["play", "r", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        notes(&o),
        [
            format!("note: variables restored from run {run}: ns=blue"),
            "note: not asked for tok: only steps that passed before and stand read it".to_string(),
            format!("note: session 2 of run {run}; passed before, not run again: a"),
        ],
        "{}",
        text(&o)
    );
    assert_eq!(runs(dir), "a\nb\n");
}

#[test]
fn an_edited_step_that_read_a_secret_still_runs_again_and_asks_for_it() {
    let t = failed_once(MD);
    let dir = t.path();
    let run = run_id(dir);
    std::fs::write(dir.join("runbooks/r.md"), MD.replace("echo {{ ns }}", "echo ns={{ ns }}")).unwrap();
    let o = rb(dir, &["play", "r", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains(&format!("error: variable `tok` was given to run {run}, whose journal keeps it redacted")),
        "{}",
        text(&o)
    );
    let o = rb_cmd(dir, &["play", "r", "--yes", "--resume"]).env("RUNBOOK_VAR_tok", TOK).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        notes(&o).contains(&format!("note: session 2 of run {run}; passed before, run again (command changed): a")),
        "{}",
        text(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("[a] ns=blue ***"), "{}", text(&o));
    assert_eq!(runs(dir), "a\na\nb\n");
}

#[test]
fn a_changed_value_of_a_step_that_read_a_secret_runs_it_again() {
    let t = failed_once(MD);
    let dir = t.path();
    let o = rb(dir, &["play", "r", "--yes", "--resume", "--set", "ns=green"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = rb_cmd(dir, &["play", "r", "--yes", "--resume", "--set", "ns=green"])
        .env("RUNBOOK_VAR_tok", TOK)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("[a] green ***"), "{}", text(&o));
    assert_eq!(runs(dir), "a\na\nb\n");
}

/// Rewrite the journal's hashes of step `a` as an earlier engine wrote
/// them: the hash of the command as journaled.
fn as_an_earlier_engine_hashed(dir: &Path) {
    let runs = dir.join(".runbook/runs");
    let run = std::fs::read_dir(&runs).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    let path = run.join("journal.jsonl");
    let mut hash = String::new();
    let mut out = String::new();
    for l in std::fs::read_to_string(&path).unwrap().lines() {
        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["step"] == "a" && v["event"] == "step-start" {
            hash = format!("{:x}", Sha256::digest(v["command"].as_str().unwrap().as_bytes()));
        }
        if v["step"] == "a" && v["command_hash"].is_string() {
            assert_ne!(v["command_hash"].as_str(), Some(hash.as_str()), "already the hash of the command as journaled");
            v["command_hash"] = serde_json::Value::String(hash.clone());
        }
        out.push_str(&format!("{v}\n"));
    }
    assert!(!hash.is_empty(), "no start of a in {out}");
    std::fs::write(&path, out).unwrap();
}

#[test]
fn a_journal_of_an_earlier_engine_resumes_without_the_secret_when_it_is_inserted_as_is() {
    let t = failed_once(MD);
    let dir = t.path();
    as_an_earlier_engine_hashed(dir);
    let o = rb(dir, &["play", "r", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(notes(&o).iter().any(|n| n.contains("passed before, not run again: a")), "{}", text(&o));
    assert_eq!(runs(dir), "a\nb\n");
}

#[test]
fn a_journal_of_an_earlier_engine_the_placeholders_cannot_match_asks_for_the_secret_and_keeps_the_step() {
    let md = MD.replace("{{ tok }}", "{{ tok | length }}");
    let t = failed_once(&md);
    let dir = t.path();
    as_an_earlier_engine_hashed(dir);
    let run = run_id(dir);
    // The hash is of `echo blue 17`: only the secret's value tells.
    let o = rb(dir, &["play", "r", "--yes", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("error: variable `tok` was given to run {run}")),
        "{}",
        text(&o)
    );
    let o = rb_cmd(dir, &["play", "r", "--yes", "--resume"]).env("RUNBOOK_VAR_tok", TOK).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(notes(&o).iter().any(|n| n.contains("passed before, not run again: a")), "{}", text(&o));
    assert_eq!(runs(dir), "a\nb\n");
}

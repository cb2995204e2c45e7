//! The report of a run whose journal is written here event by event, as a
//! real play of several sessions (or one the shared store kept waiting)
//! leaves it: which runbook version each session ran and which steps ran
//! under it, when a step began, who ran each step, and what `runs` counts
//! against the report's own counts.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::*;
use crate::play::{rb, text};

const RUN: &str = "20261202T091900Z-inc-devnet";

/// A project holding one run of `inc`@devnet, whose journal is `events`
/// (JSON objects without `seq`, numbered here in order).
fn project(events: &[&str]) -> Test {
    let t = Test::new();
    let dir = t.path().join(".runbook/runs").join(RUN);
    std::fs::create_dir_all(&dir).unwrap();
    let lines: Vec<String> =
        events.iter().enumerate().map(|(i, e)| format!(r#"{{"seq":{},{}"#, i + 1, &e.trim()[1..])).collect();
    std::fs::write(dir.join("journal.jsonl"), lines.join("\n") + "\n").unwrap();
    t
}

fn report(dir: &Path) -> String {
    let o = rb(dir, &["report", RUN]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn report_json(dir: &Path) -> Value {
    let o = rb(dir, &["report", RUN, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `## title` of a report, up to the next section.
fn section(md: &str, title: &str) -> String {
    let from = md.find(&format!("## {title}\n")).unwrap_or_else(|| panic!("no `## {title}` in:\n{md}"));
    let to = md[from..].find("\n## ").map_or(md.len(), |i| from + i);
    md[from..to].trim_end().to_string()
}

/// Session 1 (alice, runbook `aaaa…`) ran `check` and was killed in
/// `fix`; session 2 (bob, the runbook edited: `bbbb…`) ran `fix` again and
/// `verify`.
const TWO_VERSIONS: &[&str] = &[
    r#"{"at":"2026-12-02T09:19:00.000Z","event":"run-start","v":2,"run":"20261202T091900Z-inc-devnet","runbook":"inc","path":"runbooks/inc.md","hash":"aaaaaaaaaaaa0001","env":"devnet","operator":"alice@a","pid":1,"plan":[{"id":"check"},{"id":"fix"},{"id":"verify"}]}"#,
    r#"{"at":"2026-12-02T09:19:01.000Z","event":"step-start","step":"check","attempt":1,"command":"echo ok","command_hash":"c"}"#,
    r#"{"at":"2026-12-02T09:19:02.000Z","event":"step-end","step":"check","status":"passed","exit":0,"duration_ms":1000,"reason":null}"#,
    r#"{"at":"2026-12-02T09:19:03.000Z","event":"step-start","step":"fix","attempt":1,"command":"fix it","command_hash":"f"}"#,
    r#"{"at":"2026-12-02T09:25:00.000Z","event":"session","n":2,"kind":"resume","operator":"bob@b","pid":2,"hash":"bbbbbbbbbbbb0002","answering":"yes"}"#,
    r#"{"at":"2026-12-02T09:25:01.000Z","event":"step-start","step":"fix","attempt":1,"command":"fix it again","command_hash":"g"}"#,
    r#"{"at":"2026-12-02T09:25:02.000Z","event":"step-end","step":"fix","status":"passed","exit":0,"duration_ms":1000,"reason":null}"#,
    r#"{"at":"2026-12-02T09:25:03.000Z","event":"step-start","step":"verify","attempt":1,"command":"echo verified","command_hash":"v"}"#,
    r#"{"at":"2026-12-02T09:25:04.000Z","event":"step-end","step":"verify","status":"passed","exit":0,"duration_ms":1000,"reason":null}"#,
    r#"{"at":"2026-12-02T09:25:05.000Z","event":"run-end","status":"passed","rolled_back":false,"message":null}"#,
];

#[test]
fn each_session_shows_the_runbook_version_it_ran_and_which_steps_ran_under_it() {
    let t = project(TWO_VERSIONS);
    let md = report(t.path());
    let row = md.lines().find(|l| l.starts_with("| Runbook |")).unwrap_or_else(|| panic!("{md}"));
    assert_eq!(
        row,
        "| Runbook | `inc` (runbooks/inc.md), sha256 `aaaaaaaaaaaa` (session 1) then `bbbbbbbbbbbb` (session 2) |"
    );
    assert_eq!(
        section(&md, "Summary"),
        "## Summary\n\n\
         - 3 passed, 0 failed, 0 skipped, 0 not run\n\
         - in more than one session: `fix` (sessions 1 and 2; 2 runs)\n\
         - the runbook changed between sessions: under sha256 `aaaaaaaaaaaa` (session 1) ran `check`, `fix`; \
         under `bbbbbbbbbbbb` (session 2) ran `fix`, `verify`"
    );
    let v = report_json(t.path());
    let hashes: Vec<&str> = v["sessions"].as_array().unwrap().iter().map(|s| s["hash"].as_str().unwrap()).collect();
    assert_eq!(hashes, ["aaaaaaaaaaaa0001", "bbbbbbbbbbbb0002"]);
    assert_eq!(
        v["versions"],
        json!([
            {"hash": "aaaaaaaaaaaa0001", "sessions": [1], "steps": ["check", "fix"]},
            {"hash": "bbbbbbbbbbbb0002", "sessions": [2], "steps": ["fix", "verify"]},
        ])
    );
}

#[test]
fn a_run_of_one_runbook_version_says_it_once() {
    let events: Vec<String> =
        TWO_VERSIONS.iter().map(|e| e.replace("bbbbbbbbbbbb0002", "aaaaaaaaaaaa0001")).collect();
    let t = project(&events.iter().map(String::as_str).collect::<Vec<_>>());
    let md = report(t.path());
    assert!(md.contains("| Runbook | `inc` (runbooks/inc.md, sha256 `aaaaaaaaaaaa`) |\n"), "{md}");
    assert!(!md.contains("the runbook changed"), "{md}");
    let v = report_json(t.path());
    assert_eq!(v["versions"], json!([{"hash": "aaaaaaaaaaaa0001", "sessions": [1, 2], "steps": ["check", "fix", "verify"]}]));
}

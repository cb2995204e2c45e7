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

/// The line of each step's facts in the Steps section, after its heading.
fn facts(md: &str) -> Vec<String> {
    let steps = section(md, "Steps");
    let parts: Vec<&str> = steps.split("\n### ").skip(1).collect();
    parts.iter().map(|p| p.lines().nth(2).unwrap_or("").to_string()).collect()
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
    let events: Vec<String> = TWO_VERSIONS.iter().map(|e| e.replace("bbbbbbbbbbbb0002", "aaaaaaaaaaaa0001")).collect();
    let t = project(&events.iter().map(String::as_str).collect::<Vec<_>>());
    let md = report(t.path());
    assert!(md.contains("| Runbook | `inc` (runbooks/inc.md, sha256 `aaaaaaaaaaaa`) |\n"), "{md}");
    assert!(!md.contains("the runbook changed"), "{md}");
    let v = report_json(t.path());
    assert_eq!(
        v["versions"],
        json!([{"hash": "aaaaaaaaaaaa0001", "sessions": [1, 2], "steps": ["check", "fix", "verify"]}])
    );
}

/// In a run of several sessions every run of a step says its session and
/// operator, whether the step ran once or more.
#[test]
fn every_step_of_a_run_of_several_sessions_says_its_session_and_operator() {
    let t = project(TWO_VERSIONS);
    let md = report(t.path());
    assert_eq!(
        facts(&md),
        [
            "session 1, alice@a · exit 0 · 1.0s",
            "attempt 1 (session 1, alice@a) · in flight when the engine stopped (no end recorded)",
            "attempt 2 (session 2, bob@b) · exit 0 · 1.0s",
            "session 2, bob@b · exit 0 · 1.0s",
        ]
    );
    let v = report_json(t.path());
    let who: Vec<(&str, u64, &str)> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["step"].as_str().unwrap(), e["session"].as_u64().unwrap(), e["operator"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(who, [("check", 1, "alice@a"), ("fix", 1, "alice@a"), ("fix", 2, "bob@b"), ("verify", 2, "bob@b")]);
}

/// On the shared store a step starts once its start is committed: with the
/// database away, `a`'s start was recorded 30s before it could run (its end
/// less its duration says when it began), and python step `b`'s process
/// started (`spawned`) only once its start was committed.
#[test]
fn a_step_that_waited_for_the_store_starts_when_it_began_not_when_its_start_was_recorded() {
    let t = project(&[
        r#"{"at":"2026-12-02T10:00:00.000Z","event":"run-start","v":2,"run":"20261202T091900Z-inc-devnet","runbook":"inc","path":"runbooks/inc.md","hash":"h","env":"devnet","operator":"u@h","pid":0,"plan":[{"id":"a"},{"id":"b"}]}"#,
        r#"{"at":"2026-12-02T10:00:01.000Z","event":"step-start","step":"a","attempt":1,"command":"echo a","command_hash":"a"}"#,
        r#"{"at":"2026-12-02T10:00:01.004Z","event":"spawned","step":"a","pgid":11,"born_ms":5000}"#,
        r#"{"at":"2026-12-02T10:00:33.000Z","event":"step-end","step":"a","status":"passed","exit":0,"duration_ms":2000,"reason":null}"#,
        r#"{"at":"2026-12-02T10:00:34.000Z","event":"step-start","step":"b","attempt":1,"command":"print('b')","command_hash":"b","lang":"python"}"#,
        r#"{"at":"2026-12-02T10:00:45.000Z","event":"spawned","step":"b","pgid":12,"born_ms":49000}"#,
    ]);
    let md = report(t.path());
    assert_eq!(
        section(&md, "Timeline"),
        "## Timeline\n\n\
         | Time (UTC) | Step | Status | Exit | Duration | Note |\n|---|---|---|---|---|---|\n\
         | 10:00:31 | `a` | passed | 0 | 2.0s | start recorded at 10:00:01 |\n\
         | 10:00:45 | `b` | interrupted |  | – | in flight when the engine stopped (no end recorded); start recorded at 10:00:34 |\n\
         | 10:00:45 | *session 1 ended* | unfinished |  | – | no end recorded: last event at 10:00:45, then no word from the engine |"
    );
    assert!(md.contains("\n### 2026-12-02 10:00:31 UTC `a` — passed\n"), "{md}");
    assert!(md.contains("\n### 2026-12-02 10:00:45 UTC `b` — interrupted\n"), "{md}");
    let v = report_json(t.path());
    let times: Vec<(&str, &str)> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["started"].as_str().unwrap(), e["recorded"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        times,
        [
            ("2026-12-02T10:00:31.000Z", "2026-12-02T10:00:01.000Z"),
            ("2026-12-02T10:00:45.000Z", "2026-12-02T10:00:34.000Z")
        ]
    );
}

/// `a` passed, `b` skipped (`when` false), `c` interrupted, `d` not
/// reached, `e` left out by the mode: `runs` says 1/3, and the report
/// counts the same steps the same way.
#[test]
fn runs_and_the_report_count_the_same_steps_the_same_way() {
    let t = project(&[
        r#"{"at":"2026-12-02T09:19:00.000Z","event":"run-start","v":2,"run":"20261202T091900Z-inc-devnet","runbook":"inc","path":"runbooks/inc.md","hash":"h","env":"devnet","operator":"u@h","pid":1,"plan":[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"},{"id":"e"}]}"#,
        r#"{"at":"2026-12-02T09:19:00.000Z","event":"excluded","steps":["e"],"reason":"not selected by --only"}"#,
        r#"{"at":"2026-12-02T09:19:01.000Z","event":"step-start","step":"a","attempt":1,"command":"echo a","command_hash":"a"}"#,
        r#"{"at":"2026-12-02T09:19:02.000Z","event":"step-end","step":"a","status":"passed","exit":0,"duration_ms":1000,"reason":null}"#,
        r#"{"at":"2026-12-02T09:19:02.000Z","event":"step-end","step":"b","status":"skipped","exit":null,"duration_ms":null,"reason":"`when` is false","attempts":0}"#,
        r#"{"at":"2026-12-02T09:19:03.000Z","event":"step-start","step":"c","attempt":1,"command":"sleep 9","command_hash":"c"}"#,
        r#"{"at":"2026-12-02T09:19:04.000Z","event":"step-end","step":"c","status":"interrupted","exit":null,"duration_ms":1000,"reason":"interrupted"}"#,
        r#"{"at":"2026-12-02T09:19:05.000Z","event":"run-end","status":"interrupted","rolled_back":false,"message":"interrupted by SIGINT"}"#,
    ]);
    let md = report(t.path());
    assert_eq!(
        section(&md, "Summary"),
        "## Summary\n\n\
         - **interrupted** `c`\n\
         - 1 passed, 0 failed, 1 skipped, 1 not run, 1 interrupted\n\
         - 1 left out: `e` (not selected by --only)\n\
         - interrupted by SIGINT"
    );
    let v = report_json(t.path());
    assert_eq!(
        v["counts"],
        json!({"passed": 1, "failed": 0, "skipped": 1, "left_out": 1, "interrupted": 1, "not_run": 1, "running": 0, "pending": 0, "to_play": 3})
    );
    let o = rb(t.path(), &["runs", "--json"]);
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((&rows[0]["passed"], &rows[0]["failed"], &rows[0]["steps"]), (&json!(1), &json!(0), &json!(3)));
    let table = String::from_utf8_lossy(&rb(t.path(), &["runs"]).stdout).into_owned();
    assert!(table.lines().nth(1).is_some_and(|l| l.contains(" 1/3 ")), "{table}");
}

/// The runs' rows of `report RUN --format json`'s approvals: (session,
/// step, question, reply, how, by).
fn approvals(v: &Value) -> Vec<(u64, Value, String, String, String, String)> {
    let s = |a: &Value, k: &str| a[k].as_str().unwrap_or_default().to_string();
    v["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["session"].as_u64().unwrap(),
                a["step"].clone(),
                s(a, "question"),
                s(a, "reply"),
                s(a, "how"),
                s(a, "by"),
            )
        })
        .collect()
}

/// The operator, on a terminal, answers the resume question: the run's
/// Approvals list that answer (who, when, what) before the step's confirm.
#[test]
fn the_answer_to_the_resume_question_is_listed_under_approvals() {
    let t = Test::new().runbook(
        "c",
        "```bash {#before}\necho before\n```\n\n```bash {#restart confirm=\"restart the node?\"}\necho restarted\n```\n",
    );
    let o = rb(t.path(), &["play", "c"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let mut p = crate::tty::Tty::spawn(t.path(), &["play", "c"]);
    p.expect("Resume it?");
    p.line("y");
    p.expect("run it?");
    p.line("y");
    p.done(0);
    let o = rb(t.path(), &["report", "latest", "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let me = v["sessions"][1]["operator"].as_str().unwrap().to_string();
    let by = |q: &str, step: Value| (2, step, q.to_string(), "yes".to_string(), "prompt".to_string(), me.clone());
    assert_eq!(approvals(&v), [by("resume", Value::Null), by("confirm", json!("restart"))]);
    assert!(v["approvals"][0]["at"].as_str().is_some_and(|at| at.ends_with('Z')), "{v}");
    let md = String::from_utf8_lossy(&rb(t.path(), &["report", "latest"]).stdout).into_owned();
    let rows = regex::Regex::new(r"\b\d{2}:\d{2}:\d{2}\b")
        .unwrap()
        .replace_all(&section(&md, "Approvals"), "[TIME]")
        .into_owned();
    assert_eq!(
        rows,
        format!(
            "## Approvals\n\n| Time (UTC) | Step | Question | Answer | How | By |\n|---|---|---|---|---|---|\n\
             | [TIME] | (the play) | resume | **yes** | at the prompt | {me} |\n\
             | [TIME] | `restart` | confirm \"restart the node?\" | **yes** | at the prompt | {me} |"
        )
    );
}

/// The operator declines the resume question: the new run's Approvals list
/// that "no" (who, when) and name the unfinished run it left.
#[test]
fn a_declined_resume_is_listed_under_the_new_runs_approvals() {
    let t = Test::new().runbook(
        "c",
        "```bash {#before}\necho before\n```\n\n```bash {#restart confirm=\"restart the node?\"}\necho restarted\n```\n",
    );
    let o = rb(t.path(), &["play", "c"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let rows: Value = serde_json::from_slice(&rb(t.path(), &["runs", "--json"]).stdout).unwrap();
    let old = rows[0]["run"].as_str().unwrap().to_string();
    let mut p = crate::tty::Tty::spawn(t.path(), &["play", "c"]);
    p.expect("Resume it?");
    p.line("n");
    p.expect("run it?");
    p.line("y");
    p.done(0);
    let o = rb(t.path(), &["report", "latest", "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_ne!(v["run"], old.as_str(), "{v}");
    let me = v["sessions"][0]["operator"].as_str().unwrap().to_string();
    let by = |q: &str, step: Value, reply: &str| {
        (1, step, q.to_string(), reply.to_string(), "prompt".to_string(), me.clone())
    };
    assert_eq!(approvals(&v), [by("resume", Value::Null, "no"), by("confirm", json!("restart"), "yes")]);
    assert_eq!(v["approvals"][0]["run"], old.as_str(), "{v}");
    assert!(v["approvals"][0]["at"].as_str().is_some_and(|at| at.ends_with('Z')), "{v}");
    let md = String::from_utf8_lossy(&rb(t.path(), &["report", "latest"]).stdout).into_owned();
    let rows = regex::Regex::new(r"\b\d{2}:\d{2}:\d{2}\b")
        .unwrap()
        .replace_all(&section(&md, "Approvals"), "[TIME]")
        .into_owned();
    assert_eq!(
        rows,
        format!(
            "## Approvals\n\n| Time (UTC) | Step | Question | Answer | How | By |\n|---|---|---|---|---|---|\n\
             | [TIME] | (the play) | resume run `{old}` | **no** | at the prompt | {me} |\n\
             | [TIME] | `restart` | confirm \"restart the node?\" | **yes** | at the prompt | {me} |"
        )
    );
}

/// A second checkout takes the run over with `--take-over --yes` while the
/// first plays it (shared store): its Approvals list the take-over.
#[test]
fn a_take_over_is_listed_under_approvals_with_how_it_was_confirmed() {
    use crate::postgres::{Bg, Checkout, Db, Shared, count, exit_of, server, wait_for};
    let Some(server) = server() else { return };
    let db = Db::new(&server, "takeapproval");
    let sh = Shared::new();
    let book = sh.runbook();
    let (a, b) = (Checkout::new(&db.url, &[("gated", &book)]), Checkout::new(&db.url, &[("gated", &book)]));
    let _first = Bg(a.spawn(&["play", "gated"], "first"));
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    let mut second = Bg(b.spawn(&["play", "gated", "--take-over", "--yes"], "second"));
    let took = "SELECT count(*) FROM runbook_events WHERE body LIKE '%\"kind\":\"take-over\"%'";
    wait_for("the take-over", || db.sql(took) == "1");
    sh.open();
    assert!(exit_of(&mut second.0).success(), "{}", b.output_of("second"));
    let o = b.run(&["report", "latest", "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let them = v["sessions"][1]["operator"].as_str().unwrap().to_string();
    assert_eq!(v["sessions"][1]["kind"], "take-over", "{v}");
    assert_eq!(approvals(&v), [(2, Value::Null, "take-over".into(), "yes".into(), "yes".into(), them.clone())]);
    let md = String::from_utf8_lossy(&b.run(&["report", "latest"]).stdout).into_owned();
    assert!(md.contains(&format!(" | (the play) | take-over | **yes** | `--yes` | {them} |\n")), "{md}");
}

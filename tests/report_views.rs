//! Every view of a run tells the same story as its journal: the markdown
//! and JSON reports, `runs`, and the live view's page agree on how each
//! session ended, what the run counts, the order of the timeline and the
//! guard each session ran.

use std::path::Path;

use serde_json::Value;

use crate::common::*;
use crate::play::{rb, text};
use crate::report::{report, report_json};
use crate::serve::{Serve, get_ok};

fn runs_json(dir: &Path) -> Value {
    let o = rb(dir, &["runs", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The journal of the only run of `dir`.
fn journal(dir: &Path) -> std::path::PathBuf {
    let id = runs_json(dir)[0]["run"].as_str().unwrap().to_string();
    dir.join(".runbook/runs").join(id).join("journal.jsonl")
}

/// The rows of a markdown table section's lines that start with `| `.
fn lines_with<'a>(md: &'a str, needle: &str) -> Vec<&'a str> {
    md.lines().filter(|l| l.contains(needle)).collect()
}

/// A session whose engine recorded no end and whose run another operator
/// took over: the report and the run page both say `taken over`, by whom,
/// at the take-over.
#[test]
fn a_taken_over_session_ends_taken_over_in_the_report_and_on_the_run_page() {
    let t = Test::new().runbook("k", "```bash {#a}\necho a\n```\n");
    let dir = t.path();
    let o = rb(dir, &["play", "k", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The first engine is taken over before it recorded its end.
    let path = journal(dir);
    let old = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = old.lines().collect();
    assert!(lines.pop().unwrap().contains("\"run-end\""));
    let n = lines.len();
    let take = format!(
        r#"{{"seq":{},"at":"2099-01-01T00:00:01.000Z","event":"session","n":2,"kind":"take-over","operator":"jack@vm","pid":0,"answering":"yes"}}"#,
        n + 1
    );
    let end = format!(
        r#"{{"seq":{},"at":"2099-01-01T00:00:02.000Z","event":"run-end","status":"passed","rolled_back":false,"message":null}}"#,
        n + 2
    );
    std::fs::write(&path, format!("{}\n{take}\n{end}\n", lines.join("\n"))).unwrap();

    let md = report(dir);
    let row = lines_with(&md, "*session 1 ended*");
    assert_eq!(row.len(), 1, "{md}");
    assert!(
        row[0].starts_with(
            "| 00:00:01 | *session 1 ended* | taken over |  | – | taken over by jack@vm; its engine's last event at "
        ),
        "{md}"
    );
    let v = report_json(dir);
    let s1 = &v["sessions"][0];
    assert_eq!((s1["status"].as_str(), s1["end_at"].as_str()), (Some("taken-over"), Some("2099-01-01T00:00:01.000Z")));

    let s = Serve::start(dir, &[], &[]);
    let page = get_ok(&format!("{}/runs/{}", s.url, v["run"].as_str().unwrap()));
    // As the page escapes it.
    let note = s1["end_note"].as_str().unwrap().replace('\'', "&#x27;");
    // Times as the report writes them.
    let utc = |t: &str| format!("{} UTC", t.trim_end_matches('Z').split('.').next().unwrap().replace('T', " "));
    let listed = format!(
        r#"data-session="1" data-session-status="taken-over">1: start by {} at {}, ended 2099-01-01 00:00:01 UTC: taken over ({note})</span>"#,
        s1["operator"].as_str().unwrap(),
        utc(s1["at"].as_str().unwrap())
    );
    assert!(page.contains(&listed), "{listed}\n{page}");
    let row = format!(
        r#"<tr class="session-end st-taken-over" data-session-end="1"><td>00:00:01</td><td>session 1 ended: {note}</td><td>taken over</td>"#
    );
    assert!(page.contains(&row), "{row}\n{page}");
}

/// The step names of the markdown timeline's rows, in order.
fn md_timeline_steps(md: &str) -> Vec<String> {
    let from = md.find("## Timeline\n").unwrap();
    let to = md[from..].find("\n## ").map_or(md.len(), |i| from + i);
    let re = regex::Regex::new(r"^\| [^|]* \| `([^`]+)`").unwrap();
    md[from..to].lines().filter_map(|l| re.captures(l).map(|c| c[1].to_string())).collect()
}

/// A step renamed between sessions: the counts are over the runbook the
/// latest session played, the same in `runs`, `runs --json`, the report
/// (markdown and JSON) and the runs page; the steps of the earlier runbook
/// are named, not lost.
#[test]
fn a_step_renamed_between_sessions_is_counted_once_and_named_apart() {
    let t = Test::new()
        .runbook("r", "```bash {#a}\necho a\n```\n\n```bash {#b}\ntest -f ok\n```\n\n```bash {#c}\necho c\n```\n");
    let dir = t.path();
    let o = rb(dir, &["play", "r", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    std::fs::write(dir.join("runbooks/r.md"), "```bash {#a2}\necho a2\n```\n\n```bash {#b}\necho b\n```\n").unwrap();
    let o = rb(dir, &["play", "r", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let row = &runs_json(dir)[0];
    assert_eq!((row["passed"].as_u64(), row["failed"].as_u64(), row["steps"].as_u64()), (Some(2), Some(0), Some(2)));
    // A write run of every step: its mode says so, in `runs` and `--json`.
    assert_eq!(row["mode"], serde_json::json!([]));
    let o = rb(dir, &["runs"]);
    let table = String::from_utf8_lossy(&o.stdout).to_string();
    let line = table.lines().nth(1).unwrap();
    assert!(line.contains(" 2/2 ") && line.ends_with("  write"), "{table}");
    assert!(table.lines().next().unwrap().ends_with("  MODE"), "{table}");
    let md = report(dir);
    assert!(md.contains("\n- 2 passed, 0 failed, 0 skipped, 0 not run\n"), "{md}");
    assert!(
        md.contains("\n- no longer in the runbook: `a` passed in session 1, `c` planned in session 1, never run\n"),
        "{md}"
    );
    // The resumed session's note names the step as gone, not as kept.
    assert!(md.contains("; passed before, no longer in the runbook: a\n"), "{md}");
    assert!(!md.contains("not run again: a"), "{md}");
    let v = report_json(dir);
    let dropped: Vec<(&str, &str, Option<u64>)> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap(), s["dropped"].as_u64()))
        .collect();
    assert_eq!(
        dropped,
        [("a", "passed", Some(1)), ("b", "passed", None), ("a2", "passed", None), ("c", "not-run", Some(1))]
    );
    let s = Serve::start(dir, &[], &[]);
    let api: Value = serde_json::from_str(&get_ok(&format!("{}/api/runs", s.url))).unwrap();
    assert_eq!(api, runs_json(dir));
}

/// A long step started before a short one ends after it: every timeline
/// lists each run of a step where it started, as the journal has the starts.
#[test]
fn every_timeline_is_in_the_order_the_steps_started() {
    let t = Test::new().runbook(
        "p",
        "```bash {#first}\necho first\n```\n\n\
         ```bash {#long needs=first}\nwhile [ ! -f go ] && [ -f runbook.toml ]; do sleep 0.02; done\n```\n\n\
         ```bash {#short needs=first}\necho short\n```\n\n\
         ```bash {#after-short needs=short}\ntouch go\n```\n",
    );
    let dir = t.path();
    let o = rb(dir, &["play", "p", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let events: Vec<Value> =
        std::fs::read_to_string(journal(dir)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let of = |kind: &str| -> Vec<String> {
        events.iter().filter(|e| e["event"] == kind).map(|e| e["step"].as_str().unwrap().to_string()).collect()
    };
    let (starts, ends) = (of("step-start"), of("step-end"));
    assert_ne!(starts, ends, "`long` ends after `after-short`, which starts after it");
    assert_eq!(md_timeline_steps(&report(dir)), starts);
    let v = report_json(dir);
    let json: Vec<String> =
        v["timeline"].as_array().unwrap().iter().map(|e| e["step"].as_str().unwrap().to_string()).collect();
    assert_eq!(json, starts);
    let s = Serve::start(dir, &[], &[]);
    let page = get_ok(&format!("{}/runs/{}", s.url, v["run"].as_str().unwrap()));
    let re = regex::Regex::new(r#"data-timeline-step="([^"]+)""#).unwrap();
    let served: Vec<String> = re.captures_iter(&page).map(|c| c[1].to_string()).collect();
    assert_eq!(served, starts);
}

/// The guard each session ran, what it printed (masked) and expected, and
/// whether it let the session play: in the markdown, the JSON and the page.
#[test]
fn the_guard_of_each_session_is_in_every_view() {
    let t = Test::new()
        .config("default_env = \"prod\"\n\n[env.prod]\nguard = { run = \"echo prod-eu1\", expect = \"^prod-\" }\n")
        .runbook("g", "```bash {#change}\necho changing\n```\n");
    let dir = t.path();
    let o = rb(dir, &["play", "g", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = report(dir);
    assert!(md.contains("\n| Guard | `echo prod-eu1` printed `prod-eu1`, expected `^prod-`: passed |\n"), "{md}");
    let v = report_json(dir);
    let g = &v["sessions"][0]["guard"];
    assert_eq!(
        (g["command"].as_str(), g["expect"].as_str(), g["output"].as_str(), g["passed"].as_bool()),
        (Some("echo prod-eu1"), Some("^prod-"), Some("prod-eu1"), Some(true))
    );
    let s = Serve::start(dir, &[], &[]);
    let page = get_ok(&format!("{}/runs/{}", s.url, v["run"].as_str().unwrap()));
    let dd = r#"<dt>Guard</dt><dd data-guard="1" data-guard-passed="true"><code>echo prod-eu1</code> printed <code>prod-eu1</code>, expected <code>^prod-</code>: passed</dd>"#;
    assert!(page.contains(dd), "{page}");
}

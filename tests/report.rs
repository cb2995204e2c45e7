//! What `runbook report`, the live view and the closing screen say of a run,
//! against what happened: a step running while its engine plays, how each
//! session ended, a rollback whose undo block failed. Every view is a fold
//! of the run's events; these are the places a new user found them wrong.
//!
//! A play caught while running waits for a file the test creates; the test
//! waits for what the play did, never for time.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::common::*;
use crate::play::{rb, rb_cmd, text, wait_until};
use crate::serve::{Playing, Serve, get_ok};

/// `## title` of a report, up to the next section.
fn section(md: &str, title: &str) -> String {
    let from = md.find(&format!("## {title}\n")).unwrap_or_else(|| panic!("no `## {title}` in:\n{md}"));
    let to = md[from..].find("\n## ").map_or(md.len(), |i| from + i);
    md[from..to].trim_end().to_string()
}

/// Times, durations and run ids, which differ from run to run.
fn stable(s: &str) -> String {
    let s = regex::Regex::new(r"\b\d{2}:\d{2}:\d{2}\b").unwrap().replace_all(s, "[TIME]");
    let s = regex::Regex::new(r"\b\d+\.\d+s\b").unwrap().replace_all(&s, "[SECS]");
    regex::Regex::new(r"\d{8}T\d{6}Z(-\d+)?").unwrap().replace_all(&s, "[RUN]").into_owned()
}

pub(crate) fn report(dir: &Path) -> String {
    let o = rb(dir, &["report", "latest"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn report_json(dir: &Path) -> Value {
    let o = rb(dir, &["report", "latest", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `(step, status)` of the report's steps.
fn statuses(v: &Value) -> Vec<(String, String)> {
    let steps = v["steps"].as_array().unwrap();
    steps.iter().map(|s| (s["step"].as_str().unwrap().into(), s["status"].as_str().unwrap().into())).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// `fix` waits for the file `go` (or for the project to be gone: a test
/// that failed leaves no step behind).
const INCIDENT: &str = r#"
```bash {#check}
echo ok
```

```bash {#fix}
touch started; while [ ! -f go ] && [ -f runbook.toml ]; do sleep 0.02; done
```

```bash {#verify}
echo verified
```

```bash {#close}
echo closed
```
"#;

#[test]
fn a_step_in_flight_is_running_while_its_engine_plays_and_interrupted_once_it_is_gone() {
    let t = Test::new().runbook("incident", INCIDENT);
    let dir = t.path();
    let mut play = Playing(
        rb_cmd(dir, &["play", "incident", "--yes"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap(),
    );
    wait_until("fix to start", || dir.join("started").exists());

    // While the engine plays: `fix` runs, the rest is still to come.
    let md = report(dir);
    assert!(md.contains("| Status | **running** |"), "{md}");
    assert_eq!(
        stable(&section(&md, "Summary")),
        "## Summary\n\n\
         - **running** `fix` since [TIME]\n\
         - 1 passed, 0 failed, 0 skipped, 0 not run, 1 running, 2 pending"
    );
    assert_eq!(
        stable(&section(&md, "Timeline")),
        "## Timeline\n\n\
         | Time (UTC) | Step | Status | Exit | Duration | Note |\n|---|---|---|---|---|---|\n\
         | [TIME] | `check` | passed | 0 | [SECS] |  |\n\
         | [TIME] | `fix` | running |  | – |  |"
    );
    let v = report_json(dir);
    assert_eq!(
        statuses(&v),
        pairs(&[("check", "passed"), ("fix", "running"), ("verify", "pending"), ("close", "pending")])
    );
    let fix = &v["timeline"][1];
    assert_eq!(
        (&fix["step"], &fix["status"], &fix["ended"], &fix["reason"]),
        (&"fix".into(), &"running".into(), &Value::Null, &Value::Null)
    );
    assert_eq!((&v["sessions"][0]["status"], &v["sessions"][0]["ended"]), (&"running".into(), &Value::Null));
    // The live view says the same, from the same fold.
    let run = v["run"].as_str().unwrap().to_string();
    let s = Serve::start(dir, &[], &[]);
    let page = get_ok(&format!("{}/runs/{run}", s.url));
    assert!(page.contains(r#"data-step="fix" data-step-status="running""#), "{page}");
    assert!(page.contains(r#"data-step="verify" data-step-status="pending""#), "{page}");
    assert!(page.contains(r#"data-timeline-step="fix" data-timeline-status="running""#), "{page}");
    assert!(!page.contains("interrupted"), "{page}");
    assert_eq!(get_ok(&format!("{}/runs/{run}/report.md", s.url)), report(dir));

    // The engine is gone (kill -9): `fix` never got its end.
    play.0.kill().unwrap();
    play.wait().unwrap();
    let md = report(dir);
    assert!(md.contains("| Status | **unfinished** |"), "{md}");
    assert_eq!(
        stable(&section(&md, "Summary")),
        "## Summary\n\n- **interrupted** `fix`\n- 1 passed, 0 failed, 0 skipped, 2 not run, 1 interrupted"
    );
    assert_eq!(
        stable(&section(&md, "Timeline")),
        "## Timeline\n\n\
         | Time (UTC) | Step | Status | Exit | Duration | Note |\n|---|---|---|---|---|---|\n\
         | [TIME] | `check` | passed | 0 | [SECS] |  |\n\
         | [TIME] | `fix` | interrupted |  | – | in flight when the engine stopped (no end recorded) |\n\
         | [TIME] | *session 1 ended* | unfinished |  | – | no end recorded: last event at [TIME], then no word from the engine |"
    );
    assert_eq!(
        statuses(&report_json(dir)),
        pairs(&[("check", "passed"), ("fix", "interrupted"), ("verify", "not-run"), ("close", "not-run")])
    );
    let page = get_ok(&format!("{}/runs/{run}", s.url));
    assert!(page.contains(r#"data-step="fix" data-step-status="interrupted""#), "{page}");
    assert!(page.contains(r#"data-timeline-step="fix" data-timeline-status="interrupted""#), "{page}");
    // The step's process outlived the engine: let it end.
    std::fs::write(dir.join("go"), "").unwrap();
}

#[test]
fn a_step_in_flight_when_its_engine_died_shows_what_it_printed() {
    let md = "```bash {#a}\necho a\n```\n\n```bash {#b}\necho b-out; touch started; while [ ! -f go ] && [ -f runbook.toml ]; do sleep 0.02; done\n```\n";
    let t = Test::new().runbook("k9", md);
    let dir = t.path();
    let mut play =
        Playing(rb_cmd(dir, &["play", "k9", "--yes"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    // Killed once the engine has written what `b` printed to its log.
    let logged = || {
        let runs = std::fs::read_dir(dir.join(".runbook/runs")).into_iter().flatten().flatten();
        runs.into_iter().any(|r| std::fs::read_to_string(r.path().join("b.log")).is_ok_and(|l| l == "b-out\n"))
    };
    wait_until("b's output to be logged", || dir.join("started").exists() && logged());
    play.0.kill().unwrap();
    play.wait().unwrap();
    // The step's process outlives its engine: once it has ended, the run is
    // read as the engine left it.
    std::fs::write(dir.join("go"), "").unwrap();
    wait_until("b to end", || report(dir).contains("`b` — interrupted"));
    let md = report(dir);
    let b = &md[md.find("`b` — interrupted").unwrap()..];
    assert_eq!(
        b,
        "`b` — interrupted\n\nin flight when the engine stopped (no end recorded)\n\n```bash\necho b-out; touch started; while [ ! -f go ] && [ -f runbook.toml ]; do sleep 0.02; done\n```\n\nOutput (last lines):\n\n```text\nb-out\n```\n"
    );
}

#[test]
fn the_timeline_says_how_each_session_ended() {
    let md = INCIDENT.replace("{#fix}", "{#fix confirm}");
    let t = Test::new().runbook("incident", &md);
    let dir = t.path();
    // Session 1: SIGINT while `fix` runs.
    let mut play = Playing(
        rb_cmd(dir, &["play", "incident", "--yes"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap(),
    );
    wait_until("fix to start", || dir.join("started").exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(play.0.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    assert_eq!(play.wait().unwrap().code(), Some(130));
    // Session 2: `fix` asks, and nobody can answer.
    let o = rb(dir, &["play", "incident", "--resume"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    // Session 3: to the end.
    std::fs::write(dir.join("go"), "").unwrap();
    let o = rb(dir, &["play", "incident", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    assert_eq!(
        stable(&section(&report(dir), "Timeline")),
        "## Timeline\n\n\
         | Time (UTC) | Step | Status | Exit | Duration | Note |\n|---|---|---|---|---|---|\n\
         | [TIME] | `check` | passed | 0 | [SECS] |  |\n\
         | [TIME] | `fix` | interrupted |  | [SECS] | interrupted |\n\
         | [TIME] | *session 1 ended* | interrupted |  | [SECS] | interrupted by SIGINT |\n\
         | [TIME] | *session 2 ended* | refused |  | [SECS] | step `fix` needs an answer (confirm) and this play cannot ask: pass --yes to answer yes to every question, or play on a terminal |\n\
         | [TIME] | `fix` | passed | 0 | [SECS] |  |\n\
         | [TIME] | `verify` | passed | 0 | [SECS] |  |\n\
         | [TIME] | `close` | passed | 0 | [SECS] |  |\n\
         | [TIME] | *session 3 ended* | passed |  | [SECS] |  |"
    );
    let v = report_json(dir);
    let sessions: Vec<(u64, &str, &str, Option<&str>, bool)> = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = s["n"].as_u64().unwrap();
            (n, s["kind"].as_str().unwrap(), s["status"].as_str().unwrap(), s["why"].as_str(), s["ended"].is_string())
        })
        .collect();
    assert_eq!(
        sessions,
        [
            (1, "start", "interrupted", Some("interrupted by SIGINT"), true),
            (
                2,
                "resume",
                "refused",
                Some(
                    "step `fix` needs an answer (confirm) and this play cannot ask: pass --yes to answer yes to every question, or play on a terminal"
                ),
                true
            ),
            (3, "resume", "passed", None, true),
        ]
    );
    // The live view lists the same ends.
    let s = Serve::start(dir, &[], &[]);
    let page = get_ok(&format!("{}/runs/{}", s.url, v["run"].as_str().unwrap()));
    for (n, status) in [(1, "interrupted"), (2, "refused"), (3, "passed")] {
        assert!(page.contains(&format!(r#"data-session="{n}" data-session-status="{status}""#)), "{page}");
        assert!(page.contains(&format!(r#"<tr class="session-end st-{status}" data-session-end="{n}">"#)), "{page}");
    }
}

const ROLLBACK: &str = r#"
```bash {#a rollback=undo-a}
echo a
```

```bash {#b rollback=undo-b}
echo b
```

```bash {#c}
echo c >> forward.txt; exit 1
```

```bash {#undo-a undo}
echo undo-a >> undo.txt
```

```bash {#undo-b undo}
echo undo-b >> undo.txt; [ -f fixed ] || exit 4
```
"#;

/// The closing screen: from its count to the end.
fn closing(stdout: &[u8]) -> String {
    let out = String::from_utf8_lossy(stdout);
    stable(&out[out.rfind("\nplay ").map_or(0, |i| i + 1)..])
}

#[test]
fn a_failed_undo_block_leaves_the_rollback_incomplete_and_a_resume_runs_it_again() {
    let t = Test::new().runbook("inc", ROLLBACK);
    let dir = t.path();
    let o = rb(dir, &["play", "inc", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(
        closing(&o.stdout),
        "play failed: 2 passed, 1 failed (run [RUN]-inc-devnet)\n  \
         failed: c — exit 1\n  \
         rollback incomplete: undo-b failed (exit 4); rolled back: undo-a\n\
         next:\n  \
         runbook play inc --env devnet --resume       finish the rollback: undo-b offered again\n  \
         runbook report [RUN]-inc-devnet   the incident timeline, as markdown\n"
    );
    let md = report(dir);
    assert!(md.contains("| Status | **failed** (rollback incomplete: `undo-b` failed) |\n"), "{md}");
    assert_eq!(
        stable(&section(&md, "Summary")),
        "## Summary\n\n\
         - **failed** `c` at [TIME], exit 1\n\
         - **failed** `undo-b` (undo) at [TIME], exit 4\n\
         - 2 passed, 1 failed, 0 skipped, 0 not run\n\
         - rollback: `undo-b` failed, `undo-a` passed\n\
         - the rollback is incomplete: `runbook play inc --env devnet --resume` offers `undo-b` again"
    );
    let v = report_json(dir);
    assert_eq!(
        (&v["rolled_back"], &v["rollback_incomplete"], &v["resumable"]),
        (&false.into(), &serde_json::json!(["undo-b"]), &true.into())
    );
    // The live view offers the same way on.
    let s = Serve::start(dir, &[], &[]);
    let page = get_ok(&format!("{}/runs/{}", s.url, v["run"].as_str().unwrap()));
    assert!(page.contains("runbook play inc --env devnet --resume"), "{page}");
    drop(s);

    // The undo fixed by hand: the resume runs `undo-b` again, and nothing else.
    std::fs::write(dir.join("fixed"), "").unwrap();
    let o = rb(dir, &["play", "inc", "--resume"]);
    assert_eq!(o.status.code(), Some(1), "the run failed, and is now rolled back: {}", text(&o));
    assert!(text(&o).contains("finishing the rollback, offered again: undo-b"), "{}", text(&o));
    assert_eq!(
        closing(&o.stdout),
        "play failed: 2 passed, 1 failed (run [RUN]-inc-devnet)\n  \
         failed: c — exit 1\n  \
         rolled back: undo-b, undo-a\n\
         next:\n  \
         runbook report [RUN]-inc-devnet   the incident timeline, as markdown\n"
    );
    assert_eq!(std::fs::read_to_string(dir.join("undo.txt")).unwrap(), "undo-b\nundo-a\nundo-b\n");
    assert_eq!(std::fs::read_to_string(dir.join("forward.txt")).unwrap(), "c\n", "c ran again");
    assert!(report(dir).contains("| Status | **failed** (rolled back) |\n"));
    let v = report_json(dir);
    assert_eq!(
        (&v["rolled_back"], &v["rollback_incomplete"], &v["resumable"]),
        (&true.into(), &serde_json::json!([]), &false.into())
    );
    // Rolled back: finished.
    let o = rb(dir, &["play", "inc", "--resume"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("failed and was rolled back: it is finished"), "{}", text(&o));
}

/// A run continued with another `--set`: the Variables row shows each value
/// with the session that gave it, as the step's commands show what ran
/// (`scale to 3`, then `scale to 5`); a secret stays masked.
#[test]
fn a_value_changed_by_a_later_session_shows_each_value_with_its_session() {
    let md = "---\nvars:\n  replicas: 1\n  ns: miners\n  token: {secret: true}\n---\n\
              ```bash {#scale}\necho scale to {{ replicas }} {{ token }}; [ {{ replicas }} -ge 5 ]\n```\n";
    let t = Test::new().runbook("s", md);
    let dir = t.path();
    let play = |replicas: &str, resume: bool| {
        let set = format!("replicas={replicas}");
        let mut args = vec!["play", "s", "--yes", "--set", set.as_str()];
        if resume {
            args.push("--resume");
        }
        rb_cmd(dir, &args).env("RUNBOOK_VAR_token", "tok-98765").output().unwrap()
    };
    let o = play("3", false);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = play("5", true);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = report(dir);
    let row = md.lines().find(|l| l.starts_with("| Variables |")).unwrap_or_else(|| panic!("{md}"));
    assert_eq!(
        row,
        "| Variables | `ns=miners`, `replicas=3` (session 1, --set) then `5` (session 2, --set), `token=***` |"
    );
    assert!(md.contains("echo scale to 3 ***;") && md.contains("echo scale to 5 ***;"), "{md}");
    assert!(!md.contains("tok-98765"), "{md}");
}

/// A value given through `RUNBOOK_VAR_x` or `--set-file` is journaled and
/// reported as given so, not as `--set`: an auditor must not read that a
/// value (a secret) went on the command line when it did not.
#[test]
fn a_value_given_by_the_environment_or_a_file_is_reported_as_given_so() {
    let md = "---\nvars:\n  lvl: 1\n  token: {secret: true}\n---\n\
              ```bash {#check}\necho level {{ lvl }} {{ token }}; [ {{ lvl }} -ge 7 ]\n```\n";
    let t = Test::new().runbook("audit4", md);
    let dir = t.path();
    std::fs::write(dir.join("lvl.txt"), "7\n").unwrap();
    let o = rb_cmd(dir, &["play", "audit4", "--fresh", "--yes"])
        .env("RUNBOOK_VAR_lvl", "5")
        .env("RUNBOOK_VAR_token", "tok-4417")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = rb_cmd(dir, &["play", "audit4", "--resume", "--yes", "--set-file", "lvl=lvl.txt"])
        .env("RUNBOOK_VAR_token", "tok-4417")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = report(dir);
    let row = md.lines().find(|l| l.starts_with("| Variables |")).unwrap_or_else(|| panic!("{md}"));
    assert_eq!(
        row,
        "| Variables | `lvl=5` (session 1, RUNBOOK_VAR_lvl) then `7` (session 2, --set-file), `token=***` |"
    );
    let v = report_json(dir);
    assert_eq!(
        (&v["vars"]["lvl"]["origin"], &v["vars"]["token"]["origin"]),
        (&"set-file".into(), &"runbook-var".into())
    );
    let journal = std::fs::read_dir(dir.join(".runbook/runs")).unwrap().next().unwrap().unwrap().path();
    let journal = std::fs::read_to_string(journal.join("journal.jsonl")).unwrap();
    assert!(!journal.contains(r#""origin":"set""#), "{journal}");
    assert!(!journal.contains("tok-4417"), "{journal}");
}

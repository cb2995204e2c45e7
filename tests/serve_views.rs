//! The live view and `runbook report` tell one story of a run of two
//! sessions (a play interrupted, then `--resume`): the run page's timeline
//! has the report's rows, in its order, with its durations and notes.

use std::process::Stdio;

use nix::sys::signal::Signal;

use crate::serve::{Playing, Serve, gated, get_ok, only_run, until};

/// The cells of the rows of the run page's timeline table, tags removed.
fn page_rows(page: &str) -> Vec<Vec<String>> {
    let table = &page[page.find("<section class=\"timeline\">").expect("a timeline")..];
    let body = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
    body.split("<tr")
        .skip(1)
        .map(|tr| tr.split("<td").skip(1).map(|td| strip(&td[td.find('>').unwrap() + 1..])).collect())
        .collect()
}

fn strip(html: &str) -> String {
    let mut out = String::new();
    let mut tag = false;
    for c in html.chars() {
        match c {
            '<' => tag = true,
            '>' => tag = false,
            c if !tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// The cells of the rows of the markdown report's timeline table.
fn md_rows(md: &str) -> Vec<Vec<String>> {
    let at = md.find("## Timeline").expect("a timeline");
    md[at..]
        .lines()
        .skip_while(|l| !l.starts_with("|---"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().to_string()).collect())
        .collect()
}

#[test]
fn a_run_of_two_sessions_has_the_reports_timeline_on_its_page() {
    let gates = tempfile::tempdir().unwrap();
    let gate = gates.path().join("gate");
    let t = gated(&gate);
    let mut play = Playing(
        t.command().args(["play", "gated", "--yes"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap(),
    );
    let id = until("the run to start", || {
        let runs = t.path().join(".runbook/runs");
        std::fs::read_dir(&runs).ok()?.flatten().map(|d| d.path()).find(|d| {
            !d.file_name().unwrap().to_string_lossy().starts_with('.')
                && std::fs::read_to_string(d.join("wait.log")).is_ok_and(|l| l.contains("waiting"))
        })
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(play.0.id() as i32), Signal::SIGINT).unwrap();
    assert_eq!(play.wait().unwrap().code(), Some(130));
    std::fs::write(&gate, "").unwrap();
    let resumed = t.command().args(["play", "gated", "--yes", "--resume"]).output().unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    let run = only_run(&t);
    assert_eq!(id.file_name().unwrap().to_string_lossy(), run);

    let md = String::from_utf8(t.command().args(["report", &run]).output().unwrap().stdout).unwrap();
    let want = md_rows(&md);
    let s = Serve::start(t.path(), &[], &[]);
    let got = page_rows(&get_ok(&format!("{}/runs/{run}", s.url)));
    assert_eq!(got.len(), want.len(), "{got:?}\n{md}");
    assert!(want.iter().any(|r| r[5] == "interrupted by SIGINT"), "{md}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.len(), 7, "Time, Step, Status, Exit, Duration, Note, Session on the page: {g:?}");
        if w[1].starts_with("*session") {
            let n = w[1].trim_matches('*').trim_start_matches("session ").trim_end_matches(" ended");
            let ended =
                if w[5].is_empty() { format!("session {n} ended") } else { format!("session {n} ended: {}", w[5]) };
            assert_eq!((&g[1], &g[2], &g[4]), (&ended, &w[2], &w[4]), "{g:?} {w:?}");
        } else {
            assert_eq!(format!("`{}`", g[1]), w[1], "{g:?} {w:?}");
            assert_eq!((&g[2], &g[3], &g[4], &g[5]), (&w[2], &w[3], &w[4], &w[5]), "{g:?} {w:?}");
        }
    }
}

/// A finished run of two sessions, written with known times.
const TIMED: &[&str] = &[
    r#"{"seq":1,"at":"2026-12-04T09:00:00.000Z","event":"run-start","v":3,"run":"20261204T090000Z-a-local","runbook":"a","path":"runbooks/a.md","hash":"h","env":"local","operator":"u@h","pid":1,"answering":"yes","plan":[{"id":"x"},{"id":"y"}]}"#,
    r#"{"seq":2,"at":"2026-12-04T09:00:01.000Z","event":"step-start","step":"x","attempt":1,"command":"echo x","command_hash":"c"}"#,
    r#"{"seq":3,"at":"2026-12-04T09:00:02.500Z","event":"step-end","step":"x","status":"passed","exit":0,"duration_ms":1500,"command_hash":"c","reason":null,"tail":"x\n"}"#,
    r#"{"seq":4,"at":"2026-12-04T09:05:00.000Z","event":"session","v":3,"n":2,"run":"20261204T090000Z-a-local","runbook":"a","env":"local","kind":"resume","operator":"v@h","pid":2,"hash":"h","answering":"ask"}"#,
    r#"{"seq":5,"at":"2026-12-04T09:05:02.000Z","event":"answer","step":"y","question":"confirm","reply":"yes","how":"prompt","by":"v@h","asked":"2026-12-04T09:05:01.000Z"}"#,
    r#"{"seq":6,"at":"2026-12-04T09:05:02.000Z","event":"step-start","step":"y","attempt":1,"command":"echo y","command_hash":"d"}"#,
    r#"{"seq":7,"at":"2026-12-04T09:06:07.000Z","event":"step-end","step":"y","status":"passed","exit":0,"duration_ms":65000,"command_hash":"d","reason":null,"tail":"y\n"}"#,
    r#"{"seq":8,"at":"2026-12-04T09:06:07.000Z","event":"run-end","status":"passed","rolled_back":false,"message":null}"#,
];

/// The run page writes every time and duration as `runbook report` does:
/// the same run, the same characters.
#[test]
fn the_run_page_writes_times_and_durations_as_the_report_does() {
    let t = crate::common::Test::new().runbook("a", "```bash {#x}\necho x\n```\n\n```bash {#y confirm}\necho y\n```\n");
    let run = "20261204T090000Z-a-local";
    let dir = t.path().join(".runbook/runs").join(run);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("journal.jsonl"), TIMED.join("\n") + "\n").unwrap();
    let o = t.command().args(["report", run]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let md = String::from_utf8(o.stdout).unwrap();
    for line in [
        "| Started | 2026-12-04 09:00:00 UTC |\n",
        "| Ended | 2026-12-04 09:06:07 UTC (6m07s) |\n",
        "| Resumed | 2026-12-04 09:05:00 UTC by v@h (session 2) |\n",
        "| 09:05:02 | `y` | confirm | **yes** | at the prompt | v@h |\n",
        "| 09:00:01 | `x` | passed | 0 | 1.5s |  |\n",
        "| 09:05:02 | `y` | passed | 0 | 1m05s |  |\n",
    ] {
        assert!(md.contains(line), "{line}\n{md}");
    }
    let s = Serve::start(t.path(), &[], &[]);
    let page = get_ok(&format!("{}/runs/{run}", s.url));
    for html in [
        "<dt>Started</dt><dd>2026-12-04 09:00:00 UTC</dd>",
        "<dt>Ended</dt><dd>2026-12-04 09:06:07 UTC</dd>",
        "<dt>Duration</dt><dd>6m07s</dd>",
        "2: resume by v@h at 2026-12-04 09:05:00 UTC, ended 2026-12-04 09:06:07 UTC",
        "<tr><td>09:05:02</td><td>v@h</td><td>y</td><td>confirm</td>",
        "<span class=\"muted\">1.5s</span>",
        "<span class=\"muted\">1m05s</span>",
    ] {
        assert!(page.contains(html), "{html}\n{page}");
    }
    let (got, want) = (page_rows(&page), md_rows(&md));
    assert_eq!(got.len(), want.len(), "{got:?}\n{md}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((&g[0], &g[4]), (&w[0], &w[4]), "Time and Duration: {g:?} {w:?}");
    }
    assert_eq!(got[0], ["09:00:01", "x", "passed", "0", "1.5s", "", "1"], "{got:?}");
}

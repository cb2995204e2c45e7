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

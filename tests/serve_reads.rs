//! What `runbook serve` reads, and that reading less shows the same.
//!
//! A step that logged megabytes: its run page reads and shows only the
//! log's tail ([`Store::log_tail`]), says it was cut (how many bytes are
//! not shown, where the whole log is), and the whole log is still served on
//! its own. With the local store, and with PostgreSQL when
//! `RUNBOOK_TEST_PG_URL` names a server (`.ci/run` starts one; without it
//! the PostgreSQL case prints a notice and passes, under `CI=true` it fails).
//!
//! The runs list's stream, which reads only what was added to each run,
//! says what `runs --json` says while runs are played, continued and damaged.

use std::io::{BufRead, BufReader, Write};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::common::*;
use crate::serve::{Serve, get_ok, play, project, runs_json, until};

/// The tail a page shows (`TAIL` of `serve/feed.rs`).
const TAIL: usize = 64 * 1024;

/// A project whose step `big` prints a first line, about 3 MiB of lines
/// numbered so any cut shows, then a last line (made by printf: the command
/// the page shows does not hold them).
fn big() -> Test {
    Test::new().runbook(
        "big",
        r#"
        ```bash {#big}
        printf 'FIRST-LINE-%s\n' OF-BIG
        seq -f 'line %08g of the big log' 1 110000
        printf 'LAST-LINE-%s\n' OF-BIG
        ```

        ```bash {#small}
        echo small step
        ```
        "#,
    )
}

/// The page of the only run shows the tail of `big`'s log, cut, and all of
/// `small`'s; the whole log is served as it is.
fn the_page_shows_the_tail(t: &Test, env: &[(&str, &str)]) {
    let mut play = t.command();
    play.args(["play", "big", "--yes"]).envs(env.iter().copied());
    let out = play.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s = Serve::start(t.path(), &[], env);
    let runs: serde_json::Value = serde_json::from_str(&get_ok(&format!("{}/api/runs", s.url))).unwrap();
    let id = runs[0]["run"].as_str().unwrap().to_string();
    let whole = get_ok(&format!("{}/api/runs/{id}/log/big", s.url));
    assert!(whole.len() > 3_000_000 && whole.starts_with("FIRST-LINE-OF-BIG\n"), "the whole log is served");
    assert!(whole.ends_with("LAST-LINE-OF-BIG\n"));
    let cut = whole.len() - TAIL;
    for path in [format!("/runs/{id}"), format!("/parts/runs/{id}")] {
        let page = get_ok(&format!("{}{path}", s.url));
        assert!(page.len() < 4 * TAIL, "{path}: {} bytes, not the whole log", page.len());
        assert!(page.contains("LAST-LINE-OF-BIG") && !page.contains("FIRST-LINE-OF-BIG"), "{path}");
        // Exactly the log's last bytes, from the first whole character.
        assert!(page.contains(&whole[cut..]), "{path}: the tail is the log's end");
        let said = format!("the first {cut} bytes of this step's {}-byte log are not shown", whole.len());
        assert!(page.contains(&said), "{path} says the log was cut: {said}");
        assert!(page.contains(&format!("href=\"/api/runs/{id}/log/big\"")), "{path} links the whole log");
        assert_eq!(page.matches("data-cut=").count(), 1, "{path}: only `big` was cut");
        assert!(page.contains("small step"));
    }
}

#[test]
fn a_step_with_a_big_log_shows_its_tail_and_says_it_was_cut() {
    the_page_shows_the_tail(&big(), &[]);
}

#[test]
fn with_postgresql_a_big_log_shows_its_tail_too() {
    let server = match std::env::var("RUNBOOK_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "RUNBOOK_TEST_PG_URL is not set (.ci/run starts one)"
            );
            eprintln!("notice: RUNBOOK_TEST_PG_URL not set, skipping the PostgreSQL case of serve_tail");
            return;
        }
    };
    let psql = |url: &str, sql: &str| {
        let o = Command::new("psql").args([url, "-XAtqc", sql]).output().expect("psql runs");
        assert!(o.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let name = format!("t_serve_tail_{}", std::process::id());
    psql(&server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    psql(&server, &format!("CREATE DATABASE {name}"));
    let url = format!("{}/{name}", server.rsplit_once('/').expect("a URL with a database").0);
    the_page_shows_the_tail(&big(), &[("RUNBOOK_STATE", &url)]);
    psql(&server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

/// The `runs` messages of `/api/events`, as they come, read by a thread
/// until the stream ends (the server stops).
fn follow_list(url: String) -> Arc<Mutex<Vec<Value>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    std::thread::spawn(move || {
        let Ok(r) = ureq::get(&url).call() else { return };
        for line in BufReader::new(r.into_body().into_reader()).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data: ") {
                out.lock().unwrap().push(serde_json::from_str::<Value>(data).unwrap());
            }
        }
    });
    seen
}

#[test]
fn the_runs_stream_says_what_runs_says_while_runs_are_played_and_damaged() {
    let t = project();
    play(&t, 1);
    let s = Serve::start(t.path(), &[], &[]);
    let seen = follow_list(format!("{}/api/events", s.url));
    until("the first runs message", || (!seen.lock().unwrap().is_empty()).then_some(()));
    // Another run, the first one continued, then a line of the second damaged.
    play(&t, 1);
    play(&t, 1);
    let runs = runs_json(&t);
    let last = runs.as_array().unwrap().last().unwrap()["run"].as_str().unwrap().to_string();
    let journal = t.path().join(".runbook/runs").join(&last).join("journal.jsonl");
    let mut f = std::fs::OpenOptions::new().append(true).open(&journal).unwrap();
    f.write_all(b"{damaged\n").unwrap();
    let want = runs_json(&t);
    assert!(want.as_array().unwrap().iter().any(|r| r["status"] == "corrupt"), "{want}");
    until("the stream to say what runs --json says", || (seen.lock().unwrap().last() == Some(&want)).then_some(()));
    let api: Value = serde_json::from_str(&get_ok(&format!("{}/api/runs", s.url))).unwrap();
    assert_eq!(api, want);
}

//! A journal written by a newer runbook (a newer event vocabulary, or an
//! event this binary does not know) is never misread nor dropped: `runs`
//! lists the run with what it found, `report` and `play --resume` refuse
//! it (exit 2) saying which vocabulary and to upgrade, and a plain `play`
//! starts a new run over it only when `--fresh` asks.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::play::{rb, text};

const BOOK: &str = "```bash {#x}\necho x\n```\n\n```bash {#y confirm}\necho y\n```\n";

/// A run of `a` stopped at `y`'s question (exit 3): its id and journal.
fn unfinished(dir: &Path) -> (String, PathBuf) {
    let o = rb(dir, &["play", "a"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let run = std::fs::read_dir(dir.join(".runbook/runs")).unwrap().next().unwrap().unwrap().path();
    let id = run.file_name().unwrap().to_string_lossy().into_owned();
    (id, run.join("journal.jsonl"))
}

/// Append `line` (its `seq` the next one) to the journal: its line number.
fn append(jf: &Path, line: &str) -> usize {
    let text = std::fs::read_to_string(jf).unwrap();
    let n = text.lines().count();
    std::fs::write(jf, format!("{text}{}\n", line.replace("SEQ", &(n + 1).to_string()))).unwrap();
    n + 1
}

fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_newer_vocabulary_is_refused_naming_it_and_the_upgrade() {
    let t = Test::new().runbook("a", BOOK);
    let dir = t.path();
    let (id, jf) = unfinished(dir);
    let line = append(
        &jf,
        &format!(
            r#"{{"seq":SEQ,"at":"2026-12-04T09:00:00.000Z","event":"session","v":99,"n":2,"run":"{id}","runbook":"a","env":"local","kind":"hand-over","operator":"x@y","pid":1}}"#
        ),
    );
    let said = format!(
        "journal.jsonl:{line}: error: unreadable run journal: written by a newer runbook (event vocabulary v99; this runbook reads up to v4)\n  hint: upgrade runbook on this machine to read, report or resume this run (an engine never writes to a run it cannot read)"
    );
    let o = rb(dir, &["runs"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("written by a newer runbook (event vocabulary v99; this runbook reads up to v4)"), "{out}");
    let o = rb(dir, &["report", &id]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err(&o).contains(&said), "{}", text(&o));
    let o = rb(dir, &["play", "a", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err(&o).contains(&said), "{}", text(&o));
    // A plain play does not start over a run a newer runbook may resume.
    let o = rb(dir, &["play", "a", "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err(&o).contains(&format!("{said}\n  or start a new run: `runbook play a --env devnet --fresh`")),
        "{}",
        text(&o)
    );
    let before = std::fs::read_to_string(&jf).unwrap();
    let o = rb(dir, &["play", "a", "--fresh", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&jf).unwrap(), before, "the newer run is never written to");
}

#[test]
fn an_unknown_event_is_refused_never_dropped() {
    let t = Test::new().runbook("a", BOOK);
    let dir = t.path();
    let (id, jf) = unfinished(dir);
    let line = append(&jf, r#"{"seq":SEQ,"at":"2026-12-04T09:00:00.000Z","event":"step-paused","step":"y"}"#);
    let said = format!(
        "journal.jsonl:{line}: error: unreadable run journal: unknown event `step-paused` (not in event vocabulary v4, which this runbook reads)\n  hint: upgrade runbook"
    );
    let o = rb(dir, &["report", &id]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err(&o).contains(&said), "{}", text(&o));
    let o = rb(dir, &["play", "a", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(err(&o).contains(&said), "{}", text(&o));
    let o = rb(dir, &["runs"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("unknown event `step-paused`"), "{}", text(&o));
}

/// The session this binary writes says its vocabulary.
#[test]
fn a_session_records_its_vocabulary() {
    let t = Test::new().runbook("a", BOOK);
    let dir = t.path();
    let (_, jf) = unfinished(dir);
    let o = rb(dir, &["play", "a", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = std::fs::read_to_string(&jf).unwrap();
    assert!(j.lines().next().unwrap().contains(r#""event":"run-start","v":4,"#), "{j}");
    assert!(j.lines().any(|l| l.contains(r#""event":"session","v":4,"#)), "{j}");
}

/// The shared store reads the same events: a row of a newer vocabulary is
/// refused there too, naming the run and the event.
#[test]
fn the_shared_store_refuses_a_newer_vocabulary_too() {
    use crate::postgres::{Checkout, Db, server};
    let Some(server) = server() else { return };
    let db = Db::new(&server, "vocabulary");
    let c = Checkout::new(&db.url, &[("a", BOOK)]);
    let o = c.run(&["play", "a"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let id = db.sql("SELECT id FROM runbook_runs");
    let seq: i64 = db.sql(&format!("SELECT max(seq) FROM runbook_events WHERE run = '{id}'")).parse().unwrap();
    let body = format!(
        r#"{{"seq":{},"at":"2026-12-04T09:00:00.000Z","event":"session","v":99,"n":2,"run":"{id}","runbook":"a","env":"local","kind":"hand-over","operator":"x@y","pid":1}}"#,
        seq + 1
    );
    db.sql(&format!("INSERT INTO runbook_events (run, seq, body) VALUES ('{id}', {}, '{body}')", seq + 1));
    let said = format!(
        "(event {}): written by a newer runbook (event vocabulary v99; this runbook reads up to v4)\n  hint: upgrade runbook",
        seq + 1
    );
    for args in [vec!["report", id.as_str()], vec!["play", "a", "--resume", "--yes"]] {
        let o = c.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(err(&o).contains(&said), "{args:?}: {}", text(&o));
    }
}

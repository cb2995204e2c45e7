//! The `state` setting (SPEC §6): a directory or the team's database. A
//! value that is neither is refused where it was set (runbook.toml:LINE, or
//! `RUNBOOK_STATE`), never taken for a directory (which would bypass the
//! team's lock and write the URL into a path), and no message shows a
//! password, however the URL is malformed.

use crate::common::*;

const HELLO: &str = "# Hello\n\n```bash {#a}\necho hi > ran\n```\n";

/// What stderr says with the project's path written `$DIR`, and the
/// project's top-level entries (nothing new may appear).
fn refused(t: Test, args: &[&str], code: i32) -> (String, Vec<String>) {
    let f = t.args(args.iter().copied()).status(code).run();
    let dir = f.path().to_path_buf();
    let mut entries: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    entries.sort();
    (f.stderr.replace(&dir.display().to_string(), "$DIR"), entries)
}

#[test]
fn a_misspelt_database_url_is_refused_where_it_is_set_and_never_becomes_a_directory() {
    for (value, line) in [
        ("Postgres:/oncall:Sup3rSecret@127.0.0.1:5999/db", "1"),
        ("postgres:/oncall:Sup3rSecret@127.0.0.1:5999/db", "1"),
        ("postgress://oncall:Sup3rSecret@127.0.0.1:5999/db", "1"),
    ] {
        let t = Test::new().runbook("hello", HELLO).config(&format!("state = \"{value}\"\n"));
        let (err, entries) = refused(t, &["play", "hello", "--yes"], 2);
        let shown = value.replace("Sup3rSecret", "***");
        assert_eq!(
            err,
            format!(
                "$DIR/runbook.toml:{line}: error: state: \"{shown}\" is a URL misspelt, but the shared store takes only postgres:// URLs\n  hint: a team database is `state = \"postgres://USER@HOST:5432/DB\"` (password from PGPASSWORD or ~/.pgpass); a directory is a path (`./name` for one with a colon)\n"
            )
        );
        assert_eq!(entries, ["fixtures", "runbook.toml", "runbooks"], "{value}: nothing is created");
    }
}

#[test]
fn the_same_from_runbook_state_says_so() {
    let t = Test::new().runbook("hello", HELLO).env("RUNBOOK_STATE", "postgres:/u:Sup3rSecret@h/db");
    let (err, entries) = refused(t, &["runs"], 2);
    assert!(err.starts_with("error: RUNBOOK_STATE: \"postgres:/u:***@h/db\" is a URL misspelt"), "{err}");
    assert_eq!(entries, ["fixtures", "runbook.toml", "runbooks"]);
}

#[test]
fn a_malformed_database_url_names_its_line_and_never_its_password() {
    let config = "# the team's database\n\nstate = \"postgres://oncall:Sup3rSecret@db.example:notaport/runs\"\n";
    let t = Test::new().runbook("hello", HELLO).config(config);
    let (err, _) = refused(t, &["runs"], 2);
    assert_eq!(
        err,
        "$DIR/runbook.toml:3: error: state: not a PostgreSQL URL (postgres://oncall:***@db.example:notaport/runs): invalid connection string\n  hint: state = \"postgres://USER@HOST:5432/DB?sslmode=require\" (password from PGPASSWORD or ~/.pgpass)\n"
    );
    // An `@` the client would split on: refused before it could show a
    // piece of the password as the host.
    for url in [
        "postgres://oncall:p@ss:w0rdXYZ@127.0.0.1:5999/db",
        "postgres://127.0.0.1:5999/db?password=Other@Secret99&port=abc",
        "postgres://oncall:pa?ss@w0rdXYZ@127.0.0.1:5999/db",
    ] {
        let t = Test::new().runbook("hello", HELLO).env("RUNBOOK_STATE", url);
        let (err, _) = refused(t, &["runs"], 2);
        assert!(err.contains("percent-encode") && err.contains("%40"), "{url}: {err}");
        for piece in ["ss:w0rd", "w0rdXYZ", "Secret99", "Other"] {
            assert!(!err.contains(piece), "{url}: a piece of the password shown: {err}");
        }
    }
}

#[test]
fn an_unreachable_database_names_where_it_is_set() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = format!("runbooks = \"runbooks\"\nstate = \"postgres://oncall:Sup3rSecret@127.0.0.1:{port}/db\"\n");
    let t = Test::new().runbook("hello", HELLO).config(&config);
    let (err, _) = refused(t, &["runs"], 2);
    assert!(
        err.starts_with(&format!("$DIR/runbook.toml:2: error: cannot reach the state database at 127.0.0.1:{port}: ")),
        "{err}"
    );
    assert!(!err.contains("Sup3rSecret"), "{err}");
}

#[test]
fn resume_with_no_run_to_resume_is_refused_not_played_from_the_start() {
    let t = Test::new().runbook("hello", HELLO);
    let (err, entries) = refused(t, &["play", "hello", "--resume", "--yes"], 3);
    assert_eq!(
        err,
        "--resume: hello@devnet has no run in $DIR/.runbook: there is nothing to resume\n  start a new run: `runbook play hello --env devnet`\n  a run started on another machine is in that machine's state (a team shares runs with `state = \"postgres://…\"`)\n"
    );
    assert!(!entries.contains(&"ran".to_string()), "no step ran");
}

#[test]
fn a_state_that_is_a_file_is_refused_where_it_is_set() {
    let hint = "  hint: the state is a directory the runs, logs and locks are kept in (`.runbook` when unset), or a team database (`postgres://…`)\n";
    let t = Test::new().runbook("hello", HELLO).config("\nstate = \"runbook.toml\"\n");
    let (err, _) = refused(t, &["play", "hello", "--yes"], 2);
    assert_eq!(err, format!("$DIR/runbook.toml:2: error: state: `runbook.toml` is a file, not a directory\n{hint}"));
    let t = Test::new().runbook("hello", HELLO).env("RUNBOOK_STATE", "runbooks/hello.md");
    let (err, _) = refused(t, &["runs"], 2);
    assert_eq!(err, format!("error: RUNBOOK_STATE: `runbooks/hello.md` is a file, not a directory\n{hint}"));
}

/// `RUNBOOK_STATE=$TEAM_DB` with `TEAM_DB` unset: refused, not taken for
/// this machine's `.runbook`, whose lock the team does not share.
#[test]
fn an_empty_runbook_state_is_refused_not_taken_for_the_local_store() {
    let t = Test::new().runbook("hello", HELLO).env("RUNBOOK_STATE", "");
    let (stderr, entries) = refused(t, &["play", "hello", "--yes"], 2);
    assert_eq!(
        stderr,
        "error: RUNBOOK_STATE is set but empty\n  hint: unset it to use `state` of runbook.toml (`.runbook` without one), or set it to a directory or the team's `postgres://…`\n"
    );
    assert!(!entries.iter().any(|e| e == ".runbook" || e == "ran"), "{entries:?}");
}

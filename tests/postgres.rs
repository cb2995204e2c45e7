//! Team mode against a real PostgreSQL (issue 17): two project checkouts
//! sharing one database, as two engineers' laptops would.
//!
//! The server comes from `RUNBOOK_TEST_PG_URL` (`scripts/pg-cluster start`;
//! `.ci/run` starts one). Without it the tests print a notice and pass; under
//! `CI=true` they fail. Each test has a database of its own (CREATE DATABASE),
//! so they run in parallel; the tests that restart or stop the server start
//! a cluster of their own. Waits poll for a state (`RUNBOOK_TEST_WAIT`
//! seconds at most), never sleep through a fixed period.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{bin, unindent};

/// The server's URL, or `None` (with a notice) when none is given.
pub(crate) fn server() -> Option<String> {
    match std::env::var("RUNBOOK_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "RUNBOOK_TEST_PG_URL is not set: .ci/run starts a PostgreSQL cluster (scripts/pg-cluster start)"
            );
            eprintln!(
                "notice: RUNBOOK_TEST_PG_URL not set, skipping the PostgreSQL tests (eval \"$(scripts/pg-cluster start)\")"
            );
            None
        }
    }
}

/// `url` with its database replaced.
fn with_db(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{db}")
}

fn psql(url: &str, sql: &str) -> String {
    let o = Command::new("psql").args([url, "-XAtqc", sql]).output().expect("psql runs");
    assert!(o.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A database of one test's own.
pub(crate) struct Db {
    admin: String,
    name: String,
    pub(crate) url: String,
}

impl Db {
    pub(crate) fn new(server: &str, test: &str) -> Db {
        let name = format!("t_{test}_{}", std::process::id());
        psql(server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        psql(server, &format!("CREATE DATABASE {name}"));
        Db { admin: server.to_string(), url: with_db(server, &name), name }
    }

    pub(crate) fn sql(&self, q: &str) -> String {
        psql(&self.url, q)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([&self.admin, "-XAtqc", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .output();
    }
}

/// A project checkout whose `state` is the team database.
pub(crate) struct Checkout {
    dir: tempfile::TempDir,
}

impl Checkout {
    pub(crate) fn new(state: &str, runbooks: &[(&str, &str)]) -> Checkout {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("runbooks")).unwrap();
        std::fs::write(dir.path().join("runbook.toml"), format!("state = \"{state}\"\n")).unwrap();
        for (name, md) in runbooks {
            std::fs::write(dir.path().join(format!("runbooks/{name}.md")), unindent(md)).unwrap();
        }
        Checkout { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args).current_dir(self.path()).env_remove("RUNBOOK_STATE").env("NO_COLOR", "1").stdin(Stdio::null());
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// In the background, its output in files of the checkout.
    pub(crate) fn spawn(&self, args: &[&str], name: &str) -> Child {
        self.spawn_with(args, name, &[])
    }

    /// [`Checkout::spawn`], with more environment.
    pub(crate) fn spawn_with(&self, args: &[&str], name: &str, env: &[(&str, &str)]) -> Child {
        let out = std::fs::File::create(self.path().join(format!("{name}.out"))).unwrap();
        let err = std::fs::File::create(self.path().join(format!("{name}.err"))).unwrap();
        self.cmd(args).envs(env.iter().copied()).stdout(out).stderr(err).spawn().unwrap()
    }

    pub(crate) fn output_of(&self, name: &str) -> String {
        let o = std::fs::read_to_string(self.path().join(format!("{name}.out"))).unwrap_or_default();
        let e = std::fs::read_to_string(self.path().join(format!("{name}.err"))).unwrap_or_default();
        format!("{o}{e}")
    }
}

pub(crate) fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

pub(crate) fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Poll until `ok`, at most `RUNBOOK_TEST_WAIT` seconds (default 60).
pub(crate) fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let limit = std::env::var("RUNBOOK_TEST_WAIT").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let end = Instant::now() + Duration::from_secs(limit);
    while !ok() {
        assert!(Instant::now() < end, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_for`], for something a background play of `c` (spawned as
/// `name`) must do: if the play ends first, say how and what it printed.
pub(crate) fn wait_while_running(play: &mut Child, c: &Checkout, name: &str, what: &str, mut ok: impl FnMut() -> bool) {
    wait_for(what, || {
        if let Ok(Some(status)) = play.try_wait() {
            panic!("the play ended ({status}) before {what}:\n{}", c.output_of(name));
        }
        ok()
    });
}

/// Lines of the step log equal to `line`.
pub(crate) fn count(log: &Path, line: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| *l == line).count()
}

/// Three steps appending to `log`; `s2` waits for `gate` to exist.
fn gated(log: &Path, gate: &Path) -> String {
    let s3 = format!("```bash {{#s3}}\necho s3 >> {}\n```\n", log.display());
    gate_first("Gated", log, gate, &s3)
}

/// `# TITLE`, then `s1` and `s2` appending to `log` (`s2` waits for `gate`
/// to exist), then `rest`.
fn gate_first(title: &str, log: &Path, gate: &Path, rest: &str) -> String {
    let (log, gate) = (log.display(), gate.display());
    format!(
        "# {title}\n\n```bash {{#s1}}\necho s1 >> {log}\n```\n\n```bash {{#s2}}\necho s2-start >> {log}\nwhile [ ! -e {gate} ]; do sleep 0.02; done\necho s2 >> {log}\n```\n\n{rest}"
    )
}

/// A shared place for the step log and the gate (both checkouts see it).
pub(crate) struct Shared {
    dir: tempfile::TempDir,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared { dir: tempfile::tempdir().unwrap() }
    }
    pub(crate) fn log(&self) -> PathBuf {
        self.dir.path().join("steps.log")
    }
    pub(crate) fn gate(&self) -> PathBuf {
        self.dir.path().join("gate")
    }
    pub(crate) fn open(&self) {
        std::fs::write(self.gate(), "").unwrap();
    }
    pub(crate) fn runbook(&self) -> String {
        gated(&self.log(), &self.gate())
    }

    /// A run of `gated` that passed, then another play of it held at its
    /// gate (`s2` started): that play, in the background, and the two
    /// runs, the older first.
    pub(crate) fn a_run_then_one_playing(&self, c: &Checkout) -> (Bg, String, String) {
        self.open();
        let o = c.run(&["play", "gated"]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        std::fs::remove_file(self.gate()).unwrap();
        std::fs::remove_file(self.log()).unwrap();
        let playing = Bg(c.spawn(&["play", "gated", "--fresh"], "playing"));
        wait_for("s2 to start", || count(&self.log(), "s2-start") == 1);
        let runs = c.run(&["runs", "--json"]);
        let rows: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
        let run = |i: usize| rows[i]["run"].as_str().unwrap().to_string();
        (playing, run(0), run(1))
    }
}

#[test]
fn the_lock_holds_across_two_checkouts_and_both_see_the_runs() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "lock");
    let sh = Shared::new();
    let rb = sh.runbook();
    let (a, b) = (Checkout::new(&db.url, &[("gated", &rb)]), Checkout::new(&db.url, &[("gated", &rb)]));
    let mut first = a.spawn(&["play", "gated"], "first");
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    let o = b.run(&["play", "gated"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let t = text(&o);
    let pid = first.id().to_string();
    let run = db.sql("SELECT id FROM runbook_runs");
    for part in ["is held by", "@", &format!("pid {pid}"), "since", &run, "--take-over"] {
        assert!(t.contains(part), "the refusal names {part}: {t}");
    }
    assert!(!t.contains("runbook-test-pw"), "no password in messages: {t}");
    // What is played right now, seen from the other checkout.
    let o = b.run(&["runs", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["status"], "running", "{}", text(&o));
    // And by the live view of the other checkout: its list and the run's page.
    let view = crate::serve::Serve::start(b.path(), &[], &[]);
    let api = |path: &str| -> serde_json::Value {
        serde_json::from_str(&crate::serve::get_ok(&format!("{}{path}", view.url))).unwrap()
    };
    assert_eq!(api("/api/runs")[0]["status"], "running");
    assert_eq!(api(&format!("/api/runs/{run}"))["status"], "running");
    assert!(crate::serve::get_ok(&format!("{}/runs/{run}", view.url)).contains("running"));
    drop(view);
    sh.open();
    assert!(first.wait().unwrap().success(), "{}", a.output_of("first"));
    for c in [&a, &b] {
        let o = c.run(&["runs"]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        assert!(text(&o).contains(&run) && text(&o).contains("passed"), "{}", text(&o));
        let o = c.run(&["report", "latest"]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        assert!(text(&o).contains("`s3`") && text(&o).contains("**passed**"), "{}", text(&o));
    }
    // A clean end frees the lock at once: the second checkout plays.
    let o = b.run(&["play", "gated", "--fresh"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn a_run_killed_on_one_machine_resumes_on_the_other_without_running_a_step_twice() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "kill");
    let sh = Shared::new();
    let rb = sh.runbook();
    let (a, b) = (Checkout::new(&db.url, &[("gated", &rb)]), Checkout::new(&db.url, &[("gated", &rb)]));
    let mut first = a.spawn(&["play", "gated"], "first");
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    // The database frees the lock once it notices the connection is gone.
    wait_for("the lock to be freed", || {
        db.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") == "0"
    });
    // The second checkout resumes; the gate opens once its s2 runs (the
    // killed engine's s2, left waiting on this machine, is reaped by then).
    let mut second = b.spawn(&["play", "gated", "--resume"], "second");
    wait_for("s2 to start again", || count(&sh.log(), "s2-start") == 2);
    sh.open();
    assert!(second.wait().unwrap().success(), "{}", b.output_of("second"));
    let said = b.output_of("second");
    assert!(said.contains("passed before, not run again: s1"), "{said}");
    for (line, n) in [("s1", 1), ("s2", 1), ("s3", 1)] {
        assert_eq!(count(&sh.log(), line), n, "{line}: {}", std::fs::read_to_string(sh.log()).unwrap());
    }
    let o = a.run(&["report", "latest"]);
    assert!(text(&o).contains("**passed**"), "{}", text(&o));
}

#[test]
fn take_over_asks_first_then_the_first_engine_stops_and_names_who_took_over() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "takeover");
    let sh = Shared::new();
    let rb = sh.runbook();
    let (a, b) = (Checkout::new(&db.url, &[("gated", &rb)]), Checkout::new(&db.url, &[("gated", &rb)]));
    let mut first = a.spawn(&["play", "gated"], "first");
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    let o = b.run(&["play", "gated", "--take-over"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains(&format!("pid {}", first.id())) && text(&o).contains("--yes"), "{}", text(&o));
    let mut second = b.spawn(&["play", "gated", "--take-over", "--yes"], "second");
    let status = first.wait().unwrap();
    // Refused: the run goes on with the other engine (docs/team-mode.md).
    assert_eq!(status.code(), Some(3), "{}", a.output_of("first"));
    let said = a.output_of("first");
    assert!(said.contains("taken over by") && said.contains(&format!("pid {}", second.id())), "{said}");
    assert_eq!(said.matches("taken over by").count(), 1, "said once: {said}");
    for noise in ["failed", "--resume", "SIGKILL", "<== s2", "journal may not be complete"] {
        assert!(!said.contains(noise), "the taken-over engine says only who has the run ({noise}): {said}");
    }
    sh.open();
    assert!(second.wait().unwrap().success(), "{}", b.output_of("second"));
    assert!(b.output_of("second").contains("taking over"), "{}", b.output_of("second"));
    assert_eq!(count(&sh.log(), "s1"), 1);
    assert_eq!(count(&sh.log(), "s3"), 1);
    let kinds = db.sql("SELECT count(*) FROM runbook_events WHERE body LIKE '%\"kind\":\"take-over\"%'");
    assert_eq!(kinds, "1");
}

#[test]
fn the_store_refuses_a_stale_session() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "fence");
    let sh = Shared::new();
    let a = Checkout::new(&db.url, &[("gated", &sh.runbook())]);
    let mut first = a.spawn(&["play", "gated"], "first");
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    // Another session took the lock while this one was cut off (no notice
    // reaches it): only the token tells.
    db.sql(
        r#"UPDATE runbook_locks SET token = token + 1,
           holder = '{"user":"mallory","host":"elsewhere","pid":4242,"since":"then","run":""}'"#,
    );
    sh.open();
    // Taken over, as when told at once (exit 3): the run is mallory's now.
    assert_eq!(first.wait().unwrap().code(), Some(3), "{}", a.output_of("first"));
    let said = a.output_of("first");
    assert!(said.contains("mallory@elsewhere") && said.contains("refused"), "{said}");
    let after =
        db.sql("SELECT count(*) FROM runbook_events WHERE body LIKE '%\"step\":\"s2\"%' AND body LIKE '%step-end%'");
    assert_eq!(after, "0", "no event of the stale session is stored");
    assert_eq!(count(&sh.log(), "s3"), 0, "no step started after the lock was lost");
}

#[test]
fn twenty_plays_of_different_runbooks_at_once() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "twenty");
    let logs = tempfile::tempdir().unwrap();
    let books: Vec<(String, String)> = (0..20)
        .map(|i| {
            let log = logs.path().join(format!("r{i:02}.log"));
            let md = (1..=3)
                .map(|s| format!("```bash {{#s{s}}}\necho s{s} >> {}\n```\n\n", log.display()))
                .collect::<String>();
            (format!("r{i:02}"), format!("# R{i}\n\n{md}"))
        })
        .collect();
    let refs: Vec<(&str, &str)> = books.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let c = Checkout::new(&db.url, &refs);
    // Twenty engines connect at once: on a loaded machine a connection's
    // handshake may take longer than the default 5 s. What is tested is that
    // all twenty play, not how soon the server answers.
    let patient = [("RUNBOOK_PG_CONNECT_TIMEOUT", "120"), ("RUNBOOK_PG_WAIT", "120")];
    let mut kids: Vec<(String, Child)> =
        books.iter().map(|(id, _)| (id.clone(), c.spawn_with(&["play", id], id, &patient))).collect();
    for (id, k) in &mut kids {
        assert!(k.wait().unwrap().success(), "{id}: {}", c.output_of(id));
    }
    for (id, _) in &books {
        let log = logs.path().join(format!("{id}.log"));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "s1\ns2\ns3\n", "{id}");
    }
    assert_eq!(db.sql("SELECT count(*) FROM runbook_runs"), "20");
    let o = c.run(&["runs", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let passed = rows.as_array().unwrap().iter().filter(|r| r["status"] == "passed").count();
    assert_eq!(passed, 20, "{}", text(&o));
}

#[test]
fn a_secret_never_reaches_the_database_in_clear() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "secret");
    let secret = "tok-7c1e93-never-stored";
    let rb = "
        ---
        secrets: [token]
        vars:
          token: ~
        ---
        # Secret

        ```bash {#use}
        echo \"token={{ token }}\"
        echo \"again {{ token }}\" >&2
        ```
        ";
    let c = Checkout::new(&db.url, &[("secret", rb)]);
    let o = c.run(&["play", "secret", "--set", &format!("token={secret}")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let dump = [
        db.sql("SELECT string_agg(body, E'\\n') FROM runbook_events"),
        db.sql("SELECT string_agg(convert_from(data, 'UTF8'), E'\\n') FROM runbook_logs"),
        db.sql("SELECT string_agg(holder, E'\\n') FROM runbook_locks"),
        db.sql("SELECT string_agg(id || runbook || env, E'\\n') FROM runbook_runs"),
    ]
    .join("\n");
    assert!(dump.contains("token=") && dump.contains("***"), "the output is stored, masked: {dump}");
    assert!(!dump.contains(secret), "the secret is stored in clear: {dump}");
    assert!(!dump.contains(&secret[..12]), "a part of the secret is stored: {dump}");
}

/// A step may print its environment: the store's password, in
/// `RUNBOOK_STATE` or `PGPASSWORD`, is masked like a secret in the output,
/// the events and the logs.
#[test]
fn the_store_password_is_masked_in_what_a_step_prints() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "pwmask");
    let password = db
        .url
        .split_once("://")
        .and_then(|(_, r)| r.split_once('@'))
        .and_then(|(a, _)| a.split_once(':'))
        .unwrap()
        .1
        .to_string();
    let rb = "# Env\n\n```bash {#dump}\necho \"state=$RUNBOOK_STATE pg=$PGPASSWORD\"\n```\n";
    let c = Checkout::new(&db.url, &[("env", rb)]);
    let o = c.cmd(&["play", "env"]).env("RUNBOOK_STATE", &db.url).env("PGPASSWORD", &password).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("pg=***"), "{}", text(&o));
    assert!(!text(&o).contains(&password), "{}", text(&o));
    let dump = [
        db.sql("SELECT string_agg(body, E'\\n') FROM runbook_events"),
        db.sql("SELECT string_agg(convert_from(data, 'UTF8'), E'\\n') FROM runbook_logs"),
    ]
    .join("\n");
    assert!(dump.contains("pg=***"), "{dump}");
    assert!(!dump.contains(&password), "the store's password is stored in clear: {dump}");
}

/// A blank before the URL is a typo, not a directory named after the URL
/// (which would bypass the team's lock and write the password into a name).
#[test]
fn a_state_url_with_a_blank_before_it_is_refused() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "blank");
    let c = Checkout::new(&format!(" {}", db.url), &[("a", "# A\n\n```bash {#x}\necho x\n```\n")]);
    let o = c.run(&["play", "a"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        text(&o).contains("runbook.toml:1: error: state: ") && text(&o).contains("has blanks at its start or end"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("runbook-test-pw") && !text(&o).contains("\n[x]"), "{}", text(&o));
    let names: Vec<String> =
        std::fs::read_dir(c.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.starts_with(' ')), "no directory named after the URL: {names:?}");
}

/// `sslmode=require` against a server without TLS says so, not "cannot reach".
#[test]
fn sslmode_require_against_a_server_without_tls_says_so() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "tls");
    let c = Checkout::new(&format!("{}?sslmode=require", db.url), &[]);
    let o = c.run(&["runs"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("does not offer TLS, which the state URL's sslmode requires"), "{}", text(&o));
    assert!(text(&o).contains("runbook.toml:1"), "{}", text(&o));
}

#[test]
fn an_unreachable_database_is_exit_2_naming_host_and_port_never_the_password() {
    // No server needed: a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://alice:Sup3r-Secret-pw@127.0.0.1:{port}/team");
    let c = Checkout::new(&url, &[("a", "# A\n\n```bash {#x}\necho x\n```\n")]);
    for args in [&["play", "a"][..], &["runs"], &["report", "latest"]] {
        let o = c.run(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(text(&o).contains(&format!("127.0.0.1:{port}")), "{}", text(&o));
        assert!(!text(&o).contains("Sup3r-Secret-pw"), "{}", text(&o));
    }
    assert!(!c.path().join("ran").exists());
}

#[test]
fn runs_prune_removes_old_runs_from_both_stores() {
    let md = "# A\n\n```bash {#x}\necho x\n```\n";
    let prune = |c: &Checkout, store_runs: &dyn Fn() -> usize| {
        for _ in 0..3 {
            let o = c.run(&["play", "a", "--fresh"]);
            assert_eq!(code(&o), 0, "{}", text(&o));
        }
        assert_eq!(store_runs(), 3);
        let o = c.run(&["runs", "--prune"]);
        assert_eq!(code(&o), 2, "--prune alone says what it needs: {}", text(&o));
        let o = c.run(&["runs", "--prune", "--older-than", "90d"]);
        assert!(text(&o).contains("removed 0 run(s)"), "{}", text(&o));
        let o = c.run(&["runs", "--prune", "--keep", "1"]);
        assert!(text(&o).contains("removed 2 run(s)"), "{}", text(&o));
        assert_eq!(store_runs(), 1);
        let o = c.run(&["report", "latest"]);
        assert_eq!(code(&o), 0, "the newest run stays: {}", text(&o));
    };
    let local = Checkout::new(".runbook", &[("a", md)]);
    let dir = local.path().join(".runbook/runs");
    prune(&local, &|| std::fs::read_dir(&dir).map_or(0, |d| d.count()));
    let Some(server) = server() else { return };
    let db = Db::new(&server, "prune");
    let shared = Checkout::new(&db.url, &[("a", md)]);
    prune(&shared, &|| db.sql("SELECT count(*) FROM runbook_runs").parse().unwrap());
    assert_eq!(db.sql("SELECT count(DISTINCT run) FROM runbook_events"), "1", "events go with their run");
    assert_eq!(db.sql("SELECT count(DISTINCT run) FROM runbook_logs"), "1", "logs go with their run");
}

#[test]
fn a_database_schema_newer_than_the_binary_is_refused() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "schema");
    let c = Checkout::new(&db.url, &[("a", "# A\n\n```bash {#x}\necho x\n```\n")]);
    let o = c.run(&["play", "a"]);
    assert_eq!(code(&o), 0, "migrations applied by the first play: {}", text(&o));
    assert_eq!(
        db.sql("SELECT max(version) FROM runbook_schema"),
        runbook::store::postgres::schema::latest().to_string()
    );
    db.sql("INSERT INTO runbook_schema (version) VALUES (999)");
    let o = c.run(&["runs"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("schema version 999") && text(&o).contains("upgrade runbook"), "{}", text(&o));
}

/// Sixteen engines bringing a fresh database's schema up at the same moment,
/// on several databases: every one succeeds, and the versions are applied
/// once. Creating the version table itself races in the catalog unless it
/// too is under the migration lock.
#[test]
fn engines_creating_the_schema_at_once_all_succeed() {
    use runbook::store::postgres::{connect::Target, schema};
    let Some(server) = server() else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for round in 0..6 {
        let db = Db::new(&server, &format!("schema_race{round}"));
        let t = Target::parse(&db.url).unwrap();
        rt.block_on(async {
            let mut clients = Vec::new();
            for _ in 0..16 {
                let (c, conn) = t.connect().await.expect("connects");
                tokio::spawn(conn);
                clients.push(c);
            }
            let start = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
            let tasks: Vec<_> = clients
                .into_iter()
                .map(|mut c| {
                    let (t, start) = (t.clone(), start.clone());
                    tokio::spawn(async move {
                        start.wait().await;
                        schema::migrate(&mut c, &t).await.map_err(|e| e.to_string())
                    })
                })
                .collect();
            for task in tasks {
                if let Err(e) = task.await.unwrap() {
                    panic!("round {round}: {e}");
                }
            }
        });
        assert_eq!(
            db.sql("SELECT count(*) = max(version) FROM runbook_schema"),
            "t",
            "round {round}: each version applied once"
        );
    }
}

#[test]
fn a_version_1_database_is_migrated_and_its_runs_still_prune_with_their_events_and_logs() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "v1");
    db.sql(include_str!("../engine/src/store/postgres/migrations/001_runs.sql"));
    db.sql(
        "CREATE TABLE runbook_schema (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
         INSERT INTO runbook_schema (version) VALUES (1)",
    );
    let keys = "SELECT count(*) FROM pg_constraint WHERE contype = 'f'";
    assert_eq!(db.sql(keys), "2", "version 1 has the run keys");
    let c = Checkout::new(&db.url, &[("a", "# A\n\n```bash {#x}\necho x\n```\n")]);
    for _ in 0..2 {
        let o = c.run(&["play", "a", "--fresh"]);
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    assert_eq!(
        db.sql("SELECT max(version) FROM runbook_schema"),
        runbook::store::postgres::schema::latest().to_string()
    );
    assert_eq!(db.sql(keys), "0", "version 2 deletes events and logs with their run itself");
    let o = c.run(&["runs", "--prune", "--keep", "1"]);
    assert!(text(&o).contains("removed 1 run(s)"), "{}", text(&o));
    let orphans = "SELECT (SELECT count(*) FROM runbook_events e WHERE NOT EXISTS (SELECT 1 FROM runbook_runs r WHERE r.id = e.run))
                        + (SELECT count(*) FROM runbook_logs l WHERE NOT EXISTS (SELECT 1 FROM runbook_runs r WHERE r.id = l.run))";
    assert_eq!(db.sql(orphans), "0", "nothing of the pruned run is left");
    assert_eq!(db.sql("SELECT count(DISTINCT run) FROM runbook_logs"), "1", "the kept run keeps its log");
}

#[test]
fn a_batch_written_again_after_its_answer_was_lost_keeps_what_the_first_attempt_wrote() {
    use runbook::run::event::Note;
    use runbook::run::{Entry, Event};
    use runbook::store::Store;
    let Some(server) = server() else { return };
    let db = Db::new(&server, "again");
    let local = tempfile::tempdir().unwrap();
    let store = runbook::store::postgres::PgStore::open(&db.url, local.path().to_path_buf()).unwrap();
    let lease = store.lock("a", "local", &runbook::store::Holder::me()).unwrap();
    let note = |seq: u64, text: &str| Entry {
        seq,
        at: String::new(),
        event: Event::Note(Note { step: None, text: text.into() }),
    };
    let start = |run: &str| -> Entry {
        serde_json::from_value(serde_json::json!({"seq": 1, "event": "run-start", "run": run, "runbook": "a",
            "path": "a.md", "hash": "h", "env": "local", "operator": "u@h"}))
        .unwrap()
    };
    let run = store.create("20261202T000000Z-a-local", &mut |id| start(id)).unwrap();
    let mut writer = store.writer(&run, lease.as_ref(), true).unwrap();
    writer.append(&note(2, "two")).unwrap();
    writer.sync().unwrap();
    // The first attempt of the next batch wrote its first event; its answer never came.
    let first = serde_json::to_string(&note(3, "three, first attempt")).unwrap();
    db.sql(&format!("INSERT INTO runbook_events (run, seq, body) VALUES ('{run}', 3, '{first}')"));
    writer.append(&note(3, "three")).unwrap();
    writer.append(&note(4, "four")).unwrap();
    writer.sync().expect("the batch is written again, not refused");
    let rows = db.sql(&format!("SELECT string_agg(seq || ' ' || coalesce(body::json->>'text', body::json->>'event'), ', ' ORDER BY seq) FROM runbook_events WHERE run = '{run}'"));
    assert_eq!(rows, "1 run-start, 2 two, 3 three, first attempt, 4 four");
    writer.append(&note(5, "five")).unwrap();
    writer.sync().expect("the writer goes on");
}

#[test]
fn the_latest_run_is_the_greatest_id_even_when_another_engine_s_clock_made_a_later_row_with_a_smaller_one() {
    use runbook::run::event::Note;
    use runbook::run::{Entry, Event};
    use runbook::store::Store;
    let Some(server) = server() else { return };
    let db = Db::new(&server, "latest");
    let local = tempfile::tempdir().unwrap();
    let start = |run: &str| -> Entry {
        serde_json::from_value(serde_json::json!({"seq": 1, "event": "run-start", "run": run, "runbook": "a",
            "path": "a.md", "hash": "h", "env": "local", "operator": "u@h"}))
        .unwrap()
    };
    let note =
        |seq: u64| Entry { seq, at: String::new(), event: Event::Note(Note { step: None, text: format!("n{seq}") }) };
    let store = runbook::store::postgres::PgStore::open(&db.url, local.path().to_path_buf()).unwrap();
    let lease = store.lock("a", "local", &runbook::store::Holder::me()).unwrap();
    let run = store.create("20261202T100000Z-a-local", &mut |id| start(id)).unwrap();
    let mut writer = store.writer(&run, lease.as_ref(), true).unwrap();
    writer.append(&note(2)).unwrap();
    writer.sync().unwrap();
    drop(writer);
    drop(lease);
    // An engine whose clock is an hour behind made its run later.
    let late = "20261202T090000Z-a-local";
    let body = serde_json::to_string(&start(late)).unwrap();
    db.sql(&format!(
        "INSERT INTO runbook_runs (id, runbook, env, created) VALUES ('{late}', 'a', 'local', now() + interval '1 hour');
         INSERT INTO runbook_events (run, seq, body) VALUES ('{late}', 1, '{body}')"
    ));
    let store = runbook::store::postgres::PgStore::open(&db.url, local.path().to_path_buf()).unwrap();
    let lease = store.lock("a", "local", &runbook::store::Holder::me()).unwrap();
    let latest = store.latest("a", "local").unwrap().expect("a latest run");
    assert_eq!(latest.id, run, "the greatest id, as the local store has it");
    let seqs: Vec<u64> = latest.events.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2], "its own events, not the other run's");
    // Resumed: its writer goes on after the last event read.
    let mut writer = store.writer(&run, lease.as_ref(), true).unwrap();
    writer.append(&note(3)).unwrap();
    writer.sync().unwrap();
    assert_eq!(
        db.sql(&format!("SELECT string_agg(seq::text, ',' ORDER BY seq) FROM runbook_events WHERE run = '{run}'")),
        "1,2,3"
    );
}

#[test]
fn a_step_printing_more_than_the_log_writer_holds_neither_stalls_the_play_nor_passes_the_limit() {
    // 8 MB of output: more than the log writer's channel holds (64 chunks of
    // 64 KiB), so the step's output waits for the log writer while the play
    // runs on the store's runtime; more than the store keeps of it (2 MB here).
    let Some(server) = server() else { return };
    let db = Db::new(&server, "bigout");
    let md = "# Big\n\n```bash {#big}\nhead -c 8000000 /dev/zero | tr '\\0' x | fold -w 99\n```\n\n```bash {#after}\necho after\n```\n";
    let c = Checkout::new(&db.url, &[("big", md)]);
    struct Reap(Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut cmd = c.cmd(&["play", "big", "--yes"]);
    cmd.env("RUNBOOK_PG_LOG_LIMIT", "2000000").stdout(Stdio::null()).stderr(Stdio::piped());
    let mut play = Reap(cmd.spawn().unwrap());
    let mut status = None;
    wait_for("the play to end", || {
        status = play.0.try_wait().unwrap();
        status.is_some()
    });
    assert!(status.unwrap().success(), "the play passes");
    let stored: usize = db.sql("SELECT sum(length(data)) FROM runbook_logs WHERE step = 'big'").parse().unwrap();
    assert!((2_000_000..2_000_200).contains(&stored), "the store keeps the limit and says where it cut: {stored}");
    let cut = db.sql(
        "SELECT count(*) FROM runbook_logs WHERE step = 'big' AND position('is not kept in the store' in convert_from(data, 'UTF8')) > 0",
    );
    assert_eq!(cut, "1");
    assert_eq!(db.sql("SELECT convert_from(data, 'UTF8') FROM runbook_logs WHERE step = 'after'"), "after");
}

#[test]
fn a_play_holds_one_connection_to_the_team_database_its_step_logs_included() {
    // A backend of the team's server per engine, not one more for the logs:
    // counted once the first step's output is stored.
    let Some(server) = server() else { return };
    let db = Db::new(&server, "oneconn");
    let shared = Shared::new();
    let seen = shared.dir.path().join("backends");
    let (url, seen_at) = (&db.url, seen.display());
    let md = format!(
        "
        # One connection

        ```bash {{#first}}
        echo first
        ```

        ```bash {{#count}}
        q() {{ psql '{url}' -XAtqc \"$1\"; }}
        for _ in $(seq 3000); do
          [ \"$(q \"SELECT count(*) FROM runbook_logs WHERE step = 'first'\")\" = 1 ] && break
          sleep 0.02
        done
        q \"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'runbook'\" > {seen_at}
        ```
        "
    );
    let c = Checkout::new(&db.url, &[("one", &md)]);
    let o = c.run(&["play", "one", "--yes"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(db.sql("SELECT convert_from(data, 'UTF8') FROM runbook_logs WHERE step = 'first'"), "first");
    assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), "1", "backends of the play while it runs");
}

/// A cluster of one test's own, for the tests that stop or restart it.
struct Cluster {
    dir: String,
    url: String,
}

impl Cluster {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster")
    }

    fn start() -> Option<Cluster> {
        server()?;
        let o = Command::new(Self::script()).arg("start").output().unwrap();
        assert!(o.status.success(), "scripts/pg-cluster start: {}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let var =
            |k: &str| out.lines().find_map(|l| l.strip_prefix(&format!("export {k}=")).map(str::to_string)).expect(k);
        Some(Cluster { dir: var("RUNBOOK_TEST_PG_DIR"), url: var("RUNBOOK_TEST_PG_URL") })
    }

    fn ctl(&self, what: &str) {
        let o = Command::new(Self::script()).args([what, &self.dir]).output().unwrap();
        assert!(o.status.success(), "scripts/pg-cluster {what}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(Self::script()).args(["stop", &self.dir]).output();
    }
}

#[test]
fn the_database_restarted_mid_play_loses_nothing() {
    let Some(cluster) = Cluster::start() else { return };
    let sh = Shared::new();
    let c = Checkout::new(&cluster.url, &[("gated", &sh.runbook())]);
    let mut play = c.spawn(&["play", "gated"], "play");
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    cluster.ctl("restart");
    sh.open();
    assert!(play.wait().unwrap().success(), "{}", c.output_of("play"));
    for line in ["s1", "s2", "s3"] {
        assert_eq!(count(&sh.log(), line), 1, "{line}");
    }
    let o = c.run(&["report", "latest"]);
    assert!(text(&o).contains("**passed**") && text(&o).contains("`s3`"), "{}", text(&o));
}

#[test]
fn the_database_gone_mid_play_keeps_the_step_end_and_resumes_after() {
    let Some(cluster) = Cluster::start() else { return };
    let sh = Shared::new();
    let c = Checkout::new(&cluster.url, &[("gated", &sh.runbook())]);
    let mut play = c.spawn_with(&["play", "gated"], "play", &[("RUNBOOK_PG_WAIT", "2")]);
    wait_while_running(&mut play, &c, "play", "s2 to start", || count(&sh.log(), "s2-start") == 1);
    cluster.ctl("halt");
    sh.open();
    // The step in flight finishes; nothing starts after it; exit 1.
    assert_eq!(play.wait().unwrap().code(), Some(1));
    assert_eq!(count(&sh.log(), "s2"), 1);
    assert_eq!(count(&sh.log(), "s3"), 0, "no step starts without the database");
    let pending = c.path().join(".runbook/pending");
    assert_eq!(std::fs::read_dir(&pending).unwrap().count(), 1, "the events are kept on this machine");
    cluster.ctl("start");
    let o = c.run(&["play", "gated", "--resume"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("passed before, not run again: s1, s2"), "{}", text(&o));
    for line in ["s1", "s2", "s3"] {
        assert_eq!(count(&sh.log(), line), 1, "{line}");
    }
    assert_eq!(std::fs::read_dir(&pending).unwrap().count(), 0, "the spool is written and gone");
}

/// The engine's own log of the one run in `c` (`_engine.log`).
fn engine_log(c: &Checkout) -> String {
    let runs = c.path().join(".runbook/runs");
    let Ok(dirs) = std::fs::read_dir(&runs) else { return String::new() };
    dirs.filter_map(|d| d.ok())
        .map(|d| std::fs::read_to_string(d.path().join("_engine.log")).unwrap_or_default())
        .collect()
}

#[test]
fn output_printed_while_the_database_is_away_reaches_the_shared_log_in_order() {
    let Some(cluster) = Cluster::start() else { return };
    let sh = Shared::new();
    let mark = sh.log().with_file_name("s2-printed");
    let book = format!(
        "# Away\n\n```bash {{#s1}}\necho s1-out\n```\n\n```bash {{#s2}}\necho s2-before\ntouch {mark}\nwhile [ ! -e {gate} ]; do sleep 0.02; done\necho s2-after\n```\n\n```bash {{#s3}}\necho s3-out\n```\n",
        mark = mark.display(),
        gate = sh.gate().display()
    );
    let c = Checkout::new(&cluster.url, &[("away", &book)]);
    let mut play = c.spawn_with(&["play", "away"], "play", &[("RUNBOOK_PG_WAIT", "120")]);
    let stored = |step: &str| {
        let sql = format!(
            "SELECT string_agg(convert_from(data, 'UTF8'), '' ORDER BY n) FROM runbook_logs WHERE step = '{step}'"
        );
        psql(&cluster.url, &sql)
    };
    wait_for("s2-before in the shared log", || mark.exists() && stored("s2").contains("s2-before"));
    cluster.ctl("halt");
    sh.open();
    wait_for("a write of s2-after to fail", || engine_log(&c).contains("not stored"));
    cluster.ctl("start");
    assert!(play.wait().unwrap().success(), "{}", c.output_of("play"));
    assert_eq!(stored("s2").trim(), "s2-before\ns2-after", "{}", engine_log(&c));
    assert_eq!(stored("s3").trim(), "s3-out");
    let runs = std::fs::read_dir(c.path().join(".runbook/runs")).unwrap();
    let kept: Vec<_> = runs.filter_map(|d| d.ok()).map(|d| d.path().join("s2.log")).filter(|p| p.exists()).collect();
    assert!(kept.is_empty(), "s2's output was kept apart: {kept:?}");
}

#[test]
fn output_the_database_never_took_is_kept_on_this_machine_saying_where() {
    let Some(cluster) = Cluster::start() else { return };
    let sh = Shared::new();
    let mark = sh.log().with_file_name("s2-printed");
    let book = format!(
        "# Away\n\n```bash {{#s1}}\necho s1-out\n```\n\n```bash {{#s2}}\necho s2-before\ntouch {mark}\nwhile [ ! -e {gate} ]; do sleep 0.02; done\necho s2-after\n```\n",
        mark = mark.display(),
        gate = sh.gate().display()
    );
    let c = Checkout::new(&cluster.url, &[("away", &book)]);
    let mut play = c.spawn_with(&["play", "away"], "play", &[("RUNBOOK_PG_WAIT", "2")]);
    wait_for("s2 to print", || mark.exists());
    cluster.ctl("halt");
    sh.open();
    // The last step ended: the play passes, its last events spooled.
    assert_eq!(play.wait().unwrap().code(), Some(0), "{}", c.output_of("play"));
    let runs = std::fs::read_dir(c.path().join(".runbook/runs")).unwrap();
    let kept: String = runs
        .filter_map(|d| d.ok())
        .map(|d| std::fs::read_to_string(d.path().join("s2.log")).unwrap_or_default())
        .collect();
    assert!(kept.contains("s2-after"), "s2's last output is lost: {kept:?}\n{}", c.output_of("play"));
    assert!(c.output_of("play").contains("output of step `s2` could not be stored"), "{}", c.output_of("play"));
}

#[test]
fn credentials_come_from_pgpassword_or_a_private_pgpass() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "creds");
    // The same URL without its password.
    let (scheme, rest) = db.url.split_once("://").unwrap();
    let (auth, tail) = rest.split_once('@').unwrap();
    let (user, password) = auth.split_once(':').expect("the test URL has a password");
    let bare = format!("{scheme}://{user}@{tail}");
    let c = Checkout::new(&bare, &[]);
    let runs = |envs: &[(&str, &str)]| {
        let mut cmd = c.cmd(&["runs"]);
        cmd.env_remove("PGPASSWORD").env("PGPASSFILE", c.path().join("none"));
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let o = runs(&[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("password"), "{}", text(&o));
    let o = runs(&[("PGPASSWORD", password)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let pgpass = c.path().join("pgpass");
    let port = tail.split(':').nth(1).and_then(|p| p.split('/').next()).unwrap();
    std::fs::write(&pgpass, format!("# team\n127.0.0.1:{port}:*:{user}:{password}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let file = pgpass.display().to_string();
    let o = runs(&[("PGPASSFILE", &file)]);
    assert_eq!(code(&o), 2, "a pgpass others can read is ignored: {}", text(&o));
    assert!(
        text(&o).contains(&format!("{file} exists, but others can read it, so it is ignored: chmod 0600 it")),
        "{}",
        text(&o)
    );
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = runs(&[("PGPASSFILE", &file)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(!text(&o).contains(password));
}

/// Four steps appending to `log`, the later ones decided by the earlier
/// (a capture, a `when` on it, a `when` on a status).
fn decided(log: &Path) -> String {
    let log = log.display();
    format!(
        "
        # Decided

        ```bash {{#s1 capture=c1}}
        echo s1 >> {log}
        echo tok
        ```

        ```bash {{#s2 when=\"c1 == 'tok'\"}}
        echo s2 >> {log}
        ```

        ```bash {{#s3 when=\"steps.s2.status == 'passed'\"}}
        echo s3 >> {log}
        ```

        ```bash {{#s4 when=\"c1 == 'other'\"}}
        echo s4 >> {log}
        ```
        "
    )
}

/// What the latest run decided: each step's status, and the run's.
fn decisions(c: &Checkout) -> (Vec<(String, String)>, String) {
    let o = c.run(&["report", "latest", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("a JSON report");
    let steps = r["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| (s["step"].as_str().unwrap_or_default().to_string(), s["status"].as_str().unwrap_or_default().into()))
        .collect();
    (steps, r["status"].as_str().unwrap_or_default().to_string())
}

/// The events of the latest run: `(seq, body)`, in order.
fn events(db: &Db) -> Vec<(u64, String)> {
    db.sql("SELECT seq || ' ' || body FROM runbook_events WHERE run = (SELECT max(id) FROM runbook_runs) ORDER BY seq")
        .lines()
        .map(|l| {
            let (seq, body) = l.split_once(' ').unwrap();
            (seq.parse().unwrap(), body.to_string())
        })
        .collect()
}

#[test]
fn connections_killed_right_after_a_step_end_lose_nothing() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "killconn");
    let sh = Shared::new();
    let c = Checkout::new(&db.url, &[("decided", &decided(&sh.log()))]);
    // The server kills every connection of the engine once s1's end is
    // queued: s1's end and s2's start are written once it reconnects (or
    // spooled meanwhile), and s2 starts only then.
    let o = c.cmd(&["play", "decided"]).env("RUNBOOK_FAULT", "pg-kill-connections-after-end:s1").output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    wait_for("the killed sessions to be counted", || {
        db.sql(&format!("SELECT sessions_killed FROM pg_stat_database WHERE datname = '{}'", db.name)) != "0"
    });
    for (line, n) in [("s1", 1), ("s2", 1), ("s3", 1), ("s4", 0)] {
        assert_eq!(count(&sh.log(), line), n, "{line}");
    }
    let ev = events(&db);
    let seqs: Vec<u64> = ev.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=ev.len() as u64).collect::<Vec<_>>(), "every event once, in order");
    let ends = ev.iter().filter(|e| e.1.contains(r#""event":"step-end","step":"s1""#)).count();
    assert_eq!(ends, 1, "s1's end is stored once");
    let pending = c.path().join(".runbook/pending");
    assert_eq!(std::fs::read_dir(&pending).map_or(0, |d| d.count()), 0, "nothing left in the spool");
    let other = Db::new(&server, "killconn_whole");
    let whole = Checkout::new(&other.url, &[("decided", &decided(&sh.dir.path().join("w")))]);
    assert_eq!(code(&whole.run(&["play", "decided"])), 0);
    assert_eq!(decisions(&c), decisions(&whole));
}

#[test]
fn kill_9_right_after_a_step_end_reruns_that_step_once_and_decides_the_same() {
    let Some(server) = server() else { return };
    let (db, other) = (Db::new(&server, "killend"), Db::new(&server, "killend_whole"));
    let sh = Shared::new();
    let c = Checkout::new(&db.url, &[("decided", &decided(&sh.log()))]);
    // The engine dies (SIGKILL) the moment s2's end is handed to the store:
    // nobody waited for that end, so it is not in the store.
    let o = c.cmd(&["play", "decided"]).env("RUNBOOK_FAULT", "kill-after-end:s2").output().unwrap();
    assert_eq!(o.status.signal(), Some(9), "{}", text(&o));
    assert_eq!(count(&sh.log(), "s2"), 1);
    let ev = events(&db);
    assert!(ev.iter().any(|e| e.1.contains(r#""event":"step-start","step":"s2""#)), "s2's start is stored");
    assert!(!ev.iter().any(|e| e.1.contains(r#""event":"step-end","step":"s2""#)), "s2's end was lost");
    wait_for("the lock to be freed", || {
        db.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") == "0"
    });
    // The resume runs s2 again, as a step in flight when the engine died,
    // and then decides as a play that was never interrupted.
    let o = c.run(&["play", "decided", "--resume"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("passed before, not run again: s1"), "{}", text(&o));
    assert!(text(&o).contains("in flight when it stopped, run again: s2"), "{}", text(&o));
    for (line, n) in [("s1", 1), ("s2", 2), ("s3", 1), ("s4", 0)] {
        assert_eq!(count(&sh.log(), line), n, "{line}");
    }
    let whole = Checkout::new(&other.url, &[("decided", &decided(&sh.dir.path().join("w")))]);
    assert_eq!(code(&whole.run(&["play", "decided"])), 0);
    assert_eq!(decisions(&c), decisions(&whole));
}

/// A process of this test's that outlived its engine: killed when the test
/// ends, whatever it asserted.
struct Leftover(Option<i32>);

impl Drop for Leftover {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// `kill -9` of the engine the moment step `b`'s process got its body, in a
/// warm interpreter (`RUNBOOK_WARM=1`), a cold one, or as its second attempt
/// (`retry`): `b` resets its environment (`env -i`, as sudo does), so only
/// its recorded process group leads the resume to it. That group was
/// committed with `b`'s start (in the same transaction) or before the retry
/// ran, although nobody waits for a `spawned` otherwise (events linger a
/// minute here): the resume kills the old `b` before running it again.
#[test]
fn kill_9_as_a_step_that_resets_its_environment_starts_leaves_its_process_group_in_the_store() {
    let Some(server) = server() else { return };
    for (warm, retry) in [("1", false), ("0", false), ("1", true)] {
        let db = Db::new(&server, &format!("killspawn{warm}{}", retry as u8));
        let mut b = "if [ ! -e pid ]; then echo $$ > pid.new; mv pid.new pid; exec env -i sleep 1000; fi".to_string();
        let (attrs, fault) = match retry {
            true => {
                b.insert_str(0, "if [ ! -e tried ]; then touch tried; exit 1; fi\n");
                (" retry=1 delay=10ms", "kill-after-retry:b")
            }
            false => ("", "kill-after-spawn:b"),
        };
        let md = format!("# K\n\n```bash {{#a}}\necho a\n```\n\n```bash {{#b{attrs}}}\n{b}\n```\n");
        let c = Checkout::new(&db.url, &[("k", &md)]);
        let env = [("RUNBOOK_WARM", warm), ("RUNBOOK_PG_LINGER", "60000")];
        let o = c.cmd(&["play", "k"]).envs(env).env("RUNBOOK_FAULT", fault).output().unwrap();
        assert_eq!(o.status.signal(), Some(9), "{}", text(&o));
        let pid = c.path().join("pid");
        wait_for("step b to run", || std::fs::read_to_string(&pid).is_ok_and(|p| p.ends_with('\n')));
        let old: i32 = std::fs::read_to_string(&pid).unwrap().trim().parse().unwrap();
        let _old = Leftover(Some(old));
        wait_for("the lock to be freed", || {
            db.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") == "0"
        });
        let o = c.cmd(&["play", "k", "--resume"]).envs(env).output().unwrap();
        assert_eq!(code(&o), 0, "{}", text(&o));
        assert!(text(&o).contains("killed 1 leftover process(es) of step `b`"), "{warm} {retry}: {}", text(&o));
        assert!(!crate::play::alive(old), "{warm} {retry}: the old `b` runs on beside its re-run");
        let rows = db.sql(
            "SELECT string_agg(event || ' ' || same, ',' ORDER BY seq) FROM (
               SELECT seq, body::json->>'event' AS event, (xmin::text = first_value(xmin::text) OVER (ORDER BY seq))::text AS same
               FROM runbook_events WHERE run = (SELECT max(id) FROM runbook_runs) AND body::json->>'step' = 'b') e",
        );
        assert!(
            rows.starts_with("step-start true,spawned true,"),
            "warm={warm}: b's start, then its process group, in one commit: {rows}"
        );
        if retry {
            assert!(rows.starts_with("step-start true,spawned true,note false,spawned false,"), "{rows}");
        }
    }
}

/// Send `sig` to `pid` (a process this test started).
fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}

/// The children of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let ppid = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().nth(1)?.parse::<u32>().ok());
            ppid == Some(pid)
        })
        .collect()
}

/// Processes stopped (SIGSTOP) until dropped (SIGCONT): a server, or an
/// engine, that does not answer.
struct Stopped(Vec<u32>);

impl Stopped {
    fn pids(pids: Vec<u32>) -> Stopped {
        for p in &pids {
            signal(*p, nix::sys::signal::Signal::SIGSTOP);
        }
        Stopped(pids)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        for p in &self.0 {
            signal(*p, nix::sys::signal::Signal::SIGCONT);
        }
    }
}

impl Cluster {
    /// `host:port` of the server.
    fn address(&self) -> String {
        self.url.rsplit_once('@').and_then(|(_, r)| r.split_once('/')).map(|(a, _)| a.to_string()).unwrap()
    }

    /// Stop the server (postmaster first: it forks no more backends, then
    /// its children): it accepts connections and answers nothing.
    fn freeze(&self) -> Stopped {
        let pidfile = std::fs::read_to_string(Path::new(&self.dir).join("data/postmaster.pid")).unwrap();
        let postmaster: u32 = pidfile.lines().next().unwrap().trim().parse().unwrap();
        let mut all = Stopped::pids(vec![postmaster]);
        all.0.append(&mut Stopped::pids(children(postmaster)).0);
        all
    }
}

/// A play in the background, killed if the test ends before it does.
pub(crate) struct Bg(pub(crate) Child);

impl Drop for Bg {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Wait (bounded) for `child` to exit.
pub(crate) fn exit_of(child: &mut Child) -> std::process::ExitStatus {
    let mut status = None;
    wait_for("the play to end", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

const ADVISORY: &str = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

#[test]
fn a_play_started_right_after_a_restart_is_refused_while_the_holder_lives_and_kills_nothing_of_it() {
    let Some(cluster) = Cluster::start() else { return };
    let sh = Shared::new();
    let rb = sh.runbook();
    let (eve, frank) = (Checkout::new(&cluster.url, &[("gated", &rb)]), Checkout::new(&cluster.url, &[("gated", &rb)]));
    let mut first = Bg(eve.spawn(&["play", "gated", "--fresh"], "eve"));
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    // The restart frees eve's advisory lock; eve (stopped meanwhile) has
    // not reconnected when frank plays.
    let asleep = Stopped::pids(vec![first.0.id()]);
    cluster.ctl("restart");
    let o = frank.run(&["play", "gated", "--fresh"]);
    drop(asleep);
    assert_eq!(code(&o), 3, "refused as while eve's session held it: {}", text(&o));
    let t = text(&o);
    for part in ["is held by", &format!("pid {}", first.0.id()), "still runs on this machine", "--take-over"] {
        assert!(t.contains(part), "the refusal says {part}: {t}");
    }
    assert!(!t.contains("killed") && !t.contains("took over"), "nothing of eve's is touched: {t}");
    // Eve is back: its advisory lock taken again, under its own token.
    wait_for("eve to hold the lock again", || psql(&cluster.url, ADVISORY) == "1");
    let o = frank.run(&["play", "gated", "--fresh"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    sh.open();
    assert!(exit_of(&mut first.0).success(), "eve's play goes on: {}", eve.output_of("eve"));
    for line in ["s1", "s2", "s3"] {
        assert_eq!(count(&sh.log(), line), 1, "{line}");
    }
    let tokens = psql(&cluster.url, "SELECT count(DISTINCT token) FROM runbook_events");
    assert_eq!(tokens, "1", "the run is eve's session alone");
}

#[test]
fn a_holder_elsewhere_counts_as_alive_while_it_beats_and_its_lock_is_taken_once_it_stopped() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "beat");
    let c = Checkout::new(&db.url, &[("a", ONE_STEP), ("schema", ONE_STEP)]);
    // A play (of another runbook) creates the schema.
    assert_eq!(code(&c.run(&["play", "schema"])), 0);
    // An engine of another machine whose connection is gone (no advisory
    // lock), seen 2 s ago, alive for ten minutes after its last beat.
    db.sql(
        r#"INSERT INTO runbook_locks (runbook, env, token, holder, beat, ttl, machine)
           VALUES ('a', 'local', 7, '{"user":"eve","host":"elsewhere","pid":4242,"since":"then","run":""}',
                   now() - interval '2 seconds', interval '10 minutes', 'another machine')"#,
    );
    let o = c.run(&["play", "a"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    for part in ["eve@elsewhere (pid 4242", "--take-over"] {
        assert!(text(&o).contains(part), "{part}: {}", text(&o));
    }
    // Its age when the play looked: 2 s or more (the machine may be slow),
    // less than the ten minutes it counts as alive.
    let seen = text(&o)
        .split("last seen ")
        .nth(1)
        .and_then(|t| t.split_once("s ago"))
        .and_then(|(n, _)| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no `last seen Ns ago`: {}", text(&o)));
    assert!((2..600).contains(&seen), "last seen {seen}s ago: {}", text(&o));
    assert_eq!(db.sql("SELECT token FROM runbook_locks WHERE runbook = 'a'"), "7", "nothing taken");
    assert_eq!(db.sql(ADVISORY), "0", "the advisory lock let go again");
    // Not seen for longer than its three beats: gone; its lock is taken, said.
    db.sql("UPDATE runbook_locks SET beat = now() - interval '1 hour', ttl = interval '1 second'");
    let o = c.run(&["play", "a"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Its age when the play looked: the hour it was set back, or more (the
    // machine may be slow), less than the hour and ten minutes no test waits.
    let unseen = text(&o)
        .split("took over the lock of eve@elsewhere (pid 4242, not seen for ")
        .nth(1)
        .and_then(|t| t.split_once("s)"))
        .and_then(|(n, _)| n.parse::<u64>().ok())
        .unwrap_or_else(|| {
            panic!("no `took over the lock of eve@elsewhere (pid 4242, not seen for Ns)`: {}", text(&o))
        });
    assert!((3600..4200).contains(&unseen), "not seen for {unseen}s: {}", text(&o));
}

#[test]
fn a_database_that_stops_answering_mid_play_stops_the_play_saying_so_once_and_the_run_resumes_after() {
    let Some(cluster) = Cluster::start() else { return };
    let sh = Shared::new();
    let c = Checkout::new(&cluster.url, &[("gated", &sh.runbook())]);
    let mut play = c.cmd(&["play", "gated"]);
    play.env("RUNBOOK_PG_WAIT", "2").env("RUNBOOK_PG_SLACK", "0.2");
    let out = std::fs::File::create(c.path().join("play.out")).unwrap();
    let mut play = Bg(play.stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap());
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    let frozen = cluster.freeze();
    sh.open();
    // It ends while the server still answers nothing: no wait is unbounded.
    assert_eq!(exit_of(&mut play.0).code(), Some(1), "{}", c.output_of("play"));
    let said = c.output_of("play");
    let address = cluster.address();
    assert_eq!(said.matches("did not answer").count(), 1, "said once: {said}");
    assert!(said.contains(&format!("state database at {address} did not answer")), "{said}");
    assert!(said.contains("step `s3` does not start"), "{said}");
    for noise in ["==> s3", "Error occurred", "journal may not be complete", "stopping:"] {
        assert!(!said.contains(noise), "{noise}: {said}");
    }
    assert_eq!(count(&sh.log(), "s3"), 0);
    let pending = c.path().join(".runbook/pending");
    assert_eq!(std::fs::read_dir(&pending).unwrap().count(), 1, "the events are kept on this machine");
    drop(frozen);
    let o = c.run(&["play", "gated", "--resume"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("passed before, not run again: s1, s2"), "{}", text(&o));
    for line in ["s1", "s2", "s3"] {
        assert_eq!(count(&sh.log(), line), 1, "{line}");
    }
}

#[test]
fn ctrl_c_ends_a_play_waiting_for_a_database_that_does_not_answer_and_keeps_its_events() {
    let Some(cluster) = Cluster::start() else { return };
    let sh = Shared::new();
    let c = Checkout::new(&cluster.url, &[("gated", &sh.runbook())]);
    let mut play = c.cmd(&["play", "gated"]);
    // It would wait ten minutes for the start of s3.
    play.env("RUNBOOK_PG_WAIT", "600").env("RUNBOOK_PG_SLACK", "0.2");
    let out = std::fs::File::create(c.path().join("play.out")).unwrap();
    let mut play = Bg(play.stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap());
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    let frozen = cluster.freeze();
    sh.open();
    wait_for("s2's end", || c.output_of("play").contains("<== s2: passed"));
    signal(play.0.id(), nix::sys::signal::Signal::SIGINT);
    assert_eq!(exit_of(&mut play.0).code(), Some(130), "{}", c.output_of("play"));
    let said = c.output_of("play");
    assert!(said.contains("interrupted by SIGINT"), "{said}");
    assert!(!said.contains("==> s3"), "{said}");
    let pending = c.path().join(".runbook/pending");
    assert_eq!(std::fs::read_dir(&pending).unwrap().count(), 1, "what the database did not take is kept");
    drop(frozen);
    let o = c.run(&["play", "gated", "--resume"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("passed before, not run again: s1, s2"), "nothing lost: {}", text(&o));
    for line in ["s1", "s2", "s3"] {
        assert_eq!(count(&sh.log(), line), 1, "{line}");
    }
}

#[test]
fn a_server_that_accepts_and_never_answers_is_unreachable_after_the_connect_timeout() {
    // No server needed: a listener that takes connections and says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let held = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => conns.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        })
    };
    let url = format!("postgres://u:Sup3r-Secret-pw@127.0.0.1:{port}/db");
    let c = Checkout::new(&url, &[("a", "# A\n\n```bash {#x}\necho x >> ran\n```\n")]);
    let mut cmd = c.cmd(&["play", "a"]);
    cmd.env("RUNBOOK_PG_CONNECT_TIMEOUT", "1");
    let out = std::fs::File::create(c.path().join("play.out")).unwrap();
    let mut play = Bg(cmd.stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap());
    let status = exit_of(&mut play.0);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    held.join().unwrap();
    let said = c.output_of("play");
    assert_eq!(status.code(), Some(2), "{said}");
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
    assert!(!said.contains("Sup3r-Secret-pw"), "{said}");
    assert!(!c.path().join("ran").exists());
}

/// Four steps appending to `log`; `s2` waits for `gate`; `s3` asks first.
fn asking(log: &Path, gate: &Path) -> String {
    let l = log.display();
    let rest =
        format!("```bash {{#s3 confirm=\"go on?\"}}\necho s3 >> {l}\n```\n\n```bash {{#s4}}\necho s4 >> {l}\n```\n");
    gate_first("Asking", log, gate, &rest)
}

/// Every run's stored events are one history: seqs contiguous, each
/// session's events after the earlier sessions' (tokens never decrease),
/// and after a run's end only a new session.
fn one_history(url: &str) {
    let runs = psql(url, "SELECT string_agg(id, ' ') FROM runbook_runs");
    for run in runs.split_whitespace() {
        let rows = psql(
            url,
            &format!(
                "SELECT seq || ' ' || coalesce(token, 0) || ' ' || (body::json->>'event') FROM runbook_events WHERE run = '{run}' ORDER BY seq"
            ),
        );
        let rows: Vec<(u64, i64, String)> = rows
            .lines()
            .map(|l| {
                let mut f = l.split(' ');
                (f.next().unwrap().parse().unwrap(), f.next().unwrap().parse().unwrap(), f.next().unwrap().into())
            })
            .collect();
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.0, i as u64 + 1, "{run}: seqs contiguous: {rows:?}");
        }
        for w in rows.windows(2) {
            assert!(w[0].1 <= w[1].1, "{run}: a session's events after a later session's: {rows:?}");
            if w[0].2 == "run-end" {
                assert_eq!(w[1].2, "session", "{run}: after a run's end, only a new session: {rows:?}");
            }
        }
    }
}

/// Eve's play loses the database while `s2` runs (its end and what
/// follows kept in eve's spool); frank, on another checkout, resumes the
/// run with `frank_args` once the database is back; then eve plays
/// `eve_args`. Returns (eve's checkout, its output, the cluster).
fn overtaken(frank_args: &[&str], frank_exit: i32, eve_args: &[&str]) -> Option<(Checkout, String, Cluster, Shared)> {
    let cluster = Cluster::start()?;
    let sh = Shared::new();
    let rb = asking(&sh.log(), &sh.gate());
    let (eve, frank) =
        (Checkout::new(&cluster.url, &[("asking", &rb)]), Checkout::new(&cluster.url, &[("asking", &rb)]));
    let mut first =
        Bg(eve.cmd(&["play", "asking", "--yes"]).env("RUNBOOK_PG_WAIT", "2").stdout(Stdio::null()).spawn().unwrap());
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    cluster.ctl("halt");
    sh.open();
    assert_eq!(exit_of(&mut first.0).code(), Some(1));
    let pending = eve.path().join(".runbook/pending");
    assert_eq!(std::fs::read_dir(&pending).unwrap().count(), 1, "eve keeps s2's end and what followed");
    cluster.ctl("start");
    let o = frank.run(frank_args);
    assert_eq!(code(&o), frank_exit, "{}", text(&o));
    let o = eve.run(eve_args);
    let said = text(&o);
    one_history(&cluster.url);
    let files: Vec<String> =
        std::fs::read_dir(&pending).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".stale"), "set aside, not written back, not deleted: {files:?}");
    assert!(said.contains("not written back") && said.contains(&files[0]), "said, naming the file: {said}");
    Some((eve, said, cluster, sh))
}

#[test]
fn a_spool_another_session_went_on_from_is_set_aside_never_merged() {
    // Frank runs s2 again and stops at s3's question (no --yes); eve then
    // resumes with --yes: her kept events (s2's end, her stop, her run's
    // end) are not appended after frank's.
    let Some((_, said, cluster, sh)) =
        overtaken(&["play", "asking", "--resume"], 3, &["play", "asking", "--resume", "--yes"])
    else {
        return;
    };
    assert!(said.contains("play passed"), "{said}");
    for (line, n) in [("s1", 1), ("s2", 2), ("s3", 1), ("s4", 1)] {
        assert_eq!(count(&sh.log(), line), n, "{line}");
    }
    let ends = psql(&cluster.url, "SELECT count(*) FROM runbook_events WHERE body LIKE '%\"event\":\"run-end\"%'");
    assert_eq!(ends, "2", "frank's refused session and eve's last one");
}

#[test]
fn a_spool_of_a_run_finished_elsewhere_is_set_aside_not_deleted() {
    let Some((_, said, _, sh)) =
        overtaken(&["play", "asking", "--resume", "--yes"], 0, &["play", "asking", "--fresh", "--yes"])
    else {
        return;
    };
    assert!(said.contains("play passed"), "{said}");
    assert_eq!(count(&sh.log(), "s4"), 2, "frank's resume and eve's new run");
}

#[test]
fn runs_prune_keep_0_while_a_run_plays_spares_that_run_only_in_both_stores() {
    let prune = |c: &Checkout, sh: &Shared| {
        let (mut playing, old, new) = sh.a_run_then_one_playing(c);
        let o = c.run(&["runs", "--prune", "--keep", "0"]);
        sh.open();
        assert!(exit_of(&mut playing.0).success(), "{}", c.output_of("playing"));
        let t = text(&o);
        assert!(t.contains("removed 1 run(s)") && t.contains(&format!("  {old}\n")), "{t}");
        assert!(t.contains(&format!("kept 1 run(s) being played:\n  {new}\n")), "{t}");
        let runs = c.run(&["runs", "--json"]);
        let rows: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
        let left: Vec<&str> = rows.as_array().unwrap().iter().filter_map(|r| r["run"].as_str()).collect();
        assert_eq!(left, [new.as_str()]);
    };
    let sh = Shared::new();
    prune(&Checkout::new(".runbook", &[("gated", &sh.runbook())]), &sh);
    let Some(server) = server() else { return };
    let db = Db::new(&server, "prune_playing");
    let sh = Shared::new();
    prune(&Checkout::new(&db.url, &[("gated", &sh.runbook())]), &sh);
}

/// `runs --prune` keeps the run an incident may still resume: the latest
/// run of each runbook@env that is not finished (here, one that failed),
/// whatever `--keep`, and names it; `--older-than` removes it once its last
/// event is older.
#[test]
fn runs_prune_keeps_the_latest_resumable_run_of_each_runbook_and_env_in_both_stores() {
    let sh = Shared::new();
    let failing = format!("# B\n\n```bash {{#s1}}\ntest -e {}\n```\n", sh.gate().display());
    let prune = |c: &Checkout| {
        for (rb, want) in [("a", 0), ("a", 0), ("b", 1), ("b", 1)] {
            let o = c.run(&["play", rb, "--fresh"]);
            assert_eq!(code(&o), want, "{}", text(&o));
        }
        let runs = c.run(&["runs", "--json"]);
        let rows: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
        let ids: Vec<String> = rows.as_array().unwrap().iter().map(|r| r["run"].as_str().unwrap().into()).collect();
        let [a1, a2, b1, b2] = &ids[..] else { panic!("four runs: {ids:?}") };
        let kept = format!(
            "kept b@local run {b2}: resumable (failed, last event N ago); --older-than removes it once its last event is older\n"
        );
        let o = c.run(&["runs", "--prune", "--keep", "0"]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        let (first, rest) = aged(&String::from_utf8_lossy(&o.stdout));
        assert!(first.starts_with("removed 3 run(s) from "), "{first}");
        assert_eq!(rest, format!("  {a1}\n  {a2}\n  {b1}\n{kept}"));
        let o = c.run(&["runs", "--prune", "--keep", "0"]);
        assert_eq!(aged(&String::from_utf8_lossy(&o.stdout)).1, kept, "said each time");
        let runs = c.run(&["runs", "--json"]);
        let rows: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
        assert_eq!((&rows[0]["run"], &rows[0]["resumable"]), (&serde_json::json!(b2), &serde_json::json!(true)));
        let o = c.run(&["runs", "--prune", "--older-than", "0s"]);
        assert_eq!(String::from_utf8_lossy(&o.stdout).split_once('\n').unwrap().1, format!("  {b2}\n"));
    };
    let md = "# A\n\n```bash {#x}\necho x\n```\n";
    prune(&Checkout::new(".runbook", &[("a", md), ("b", &failing)]));
    let Some(server) = server() else { return };
    let db = Db::new(&server, "prune_resumable");
    prune(&Checkout::new(&db.url, &[("a", md), ("b", &failing)]));
}

/// A failed run that a later run of its runbook@env superseded is not
/// resumable (`--resume` goes on with the latest run only): not marked in
/// `runs`, nor in `runs --json` or the report; and a resumable run takes
/// none of `--keep`'s places.
#[test]
fn a_superseded_run_is_not_resumable_and_a_resumable_one_takes_no_place_of_keep_in_both_stores() {
    let check = |c: &Checkout, sh: &Shared| {
        let failing = ["play", "b", "--fresh"];
        assert_eq!(code(&c.run(&failing)), 1);
        sh.open();
        assert_eq!(code(&c.run(&failing)), 0);
        std::fs::remove_file(sh.gate()).unwrap();
        let ids = |c: &Checkout| -> Vec<(String, bool)> {
            let rows: serde_json::Value = serde_json::from_slice(&c.run(&["runs", "--json"]).stdout).unwrap();
            rows.as_array()
                .unwrap()
                .iter()
                .map(|r| (r["run"].as_str().unwrap().into(), r["resumable"] == true))
                .collect()
        };
        let runs = ids(c);
        let [(b1, false), (_, false)] = &runs[..] else { panic!("two runs, neither resumable: {runs:?}") };
        let o = c.run(&["runs"]);
        assert!(!text(&o).contains("failed*") && !text(&o).contains("resumable"), "{}", text(&o));
        let rep: serde_json::Value =
            serde_json::from_slice(&c.run(&["report", b1, "--format", "json"]).stdout).unwrap();
        assert_eq!((&rep["status"], &rep["resumable"]), (&serde_json::json!("failed"), &serde_json::json!(false)));
        // a1, a2 passed; b3 failed, the latest of b: kept, and a2 takes the one place.
        for (rb, want) in [("a", 0), ("a", 0), ("b", 1)] {
            assert_eq!(code(&c.run(&["play", rb, "--fresh"])), want);
        }
        let all = ids(c);
        let o = c.run(&["runs", "--prune", "--keep", "1"]);
        let (first, rest) = aged(&String::from_utf8_lossy(&o.stdout));
        assert!(first.starts_with("removed 3 run(s) from "), "{first}\n{rest}");
        assert_eq!(rest, format!("  {}\n  {}\n  {}\n", all[0].0, all[1].0, all[2].0));
        let left: Vec<(String, bool)> = ids(c);
        assert_eq!(left, [(all[3].0.clone(), false), (all[4].0.clone(), true)]);
    };
    let md = "# A\n\n```bash {#x}\necho x\n```\n";
    let sh = Shared::new();
    let failing = format!("# B\n\n```bash {{#s1}}\ntest -e {}\n```\n", sh.gate().display());
    check(&Checkout::new(".runbook", &[("a", md), ("b", &failing)]), &sh);
    let Some(server) = server() else { return };
    let db = Db::new(&server, "superseded");
    let sh = Shared::new();
    let failing = format!("# B\n\n```bash {{#s1}}\ntest -e {}\n```\n", sh.gate().display());
    check(&Checkout::new(&db.url, &[("a", md), ("b", &failing)]), &sh);
}

/// The first line of a prune's output, and the rest with each age (`last
/// event 3s ago`) as `N`.
fn aged(out: &str) -> (String, String) {
    let (first, rest) = out.split_once('\n').unwrap_or((out, ""));
    let mut masked = String::new();
    let mut left = rest;
    while let Some(i) = left.find(", last event ") {
        let (head, tail) = left.split_at(i + ", last event ".len());
        masked.push_str(head);
        masked.push('N');
        left = &tail[tail.find(" ago").unwrap_or(0)..];
    }
    masked.push_str(left);
    (first.to_string(), masked)
}

/// A LOGIN role of one test's own. Roles belong to the cluster: declared
/// before the test's [`Db`], it is dropped after it (with what it owned).
struct Role {
    admin: String,
    name: String,
}

impl Role {
    fn new(server: &str, test: &str) -> Role {
        let name = format!("r_{test}_{}", std::process::id());
        psql(server, &format!("DROP ROLE IF EXISTS {name}"));
        psql(server, &format!("CREATE ROLE {name} LOGIN PASSWORD 'pw-{name}'"));
        Role { admin: server.to_string(), name }
    }

    /// `url` (a superuser's) as this role.
    fn url(&self, url: &str) -> String {
        let (_, rest) = url.split_once('@').expect("a URL with a user");
        format!("postgres://{0}:pw-{0}@{rest}", self.name)
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ =
            Command::new("psql").args([&self.admin, "-XAtqc", &format!("DROP ROLE IF EXISTS {}", self.name)]).output();
    }
}

/// `url` as messages show it: without its password.
fn shown(url: &str) -> String {
    let (user, rest) = url.split_once('@').expect("a URL with a user");
    let user = user.trim_start_matches("postgres://").split(':').next().unwrap_or_default();
    format!("postgres://{user}@{rest}")
}

const ONE_STEP: &str = "# A\n\n```bash {#x}\necho x\n```\n";

/// PostgreSQL 15 lets only a database's owner create tables in its `public`
/// schema, and tables another role created need grants: the server's own
/// words, what to grant, where the state is set, exit 2.
#[test]
fn a_role_without_privileges_is_told_what_to_grant_where_the_state_is_set_exit_2() {
    let Some(server) = server() else { return };
    let role = Role::new(&server, "weak");
    let db = Db::new(&server, "weak");
    let url = role.url(&db.url);
    let weak = Checkout::new(&url, &[("a", ONE_STEP)]);
    let refused = |o: &Output, first: &str, hint: &[&str]| {
        let t = text(o);
        assert_eq!(code(o), 2, "{t}");
        assert_eq!(t.lines().next(), Some(first), "{t}");
        let h = t.lines().nth(1).unwrap_or_default();
        assert!(h.starts_with("  hint: "), "{t}");
        for part in hint {
            assert!(h.contains(part), "the hint says {part}: {t}");
        }
        assert!(!t.contains("db error") && !t.contains(&format!("pw-{}", role.name)), "{t}");
    };
    let at = format!("{}: error: state database {}", weak.path().join("runbook.toml:1").display(), shown(&url));
    refused(
        &weak.run(&["play", "a"]),
        &format!("{at}: creating the schema: permission denied for schema public"),
        &[
            "let the owner run the first `runbook play` once",
            &format!("GRANT CREATE ON SCHEMA public TO {}", role.name),
        ],
    );
    let owner = Checkout::new(&db.url, &[("a", ONE_STEP)]);
    let o = owner.run(&["play", "a"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let grant = format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON runbook_runs, runbook_events, runbook_logs, runbook_locks TO {0}; GRANT SELECT ON runbook_schema TO {0}",
        role.name
    );
    for args in [&["play", "a", "--fresh"][..], &["runs"], &["report", "latest"], &["runs", "--prune", "--keep", "0"]] {
        let first = format!("{at}: schema: permission denied for table runbook_schema");
        refused(&weak.run(args), &first, &["the runbook tables belong to another role", &grant]);
    }
    let o = weak.cmd(&["runs"]).env("RUNBOOK_STATE", &url).output().unwrap();
    let first = format!(
        "error: RUNBOOK_STATE: state database {}: schema: permission denied for table runbook_schema",
        shown(&url)
    );
    refused(&o, &first, &[&grant]);
    // Allowed to read, not to lock: the reads work, a play is told.
    db.sql(&format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}", role.name));
    let o = weak.run(&["runs"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("passed"), "{}", text(&o));
    refused(
        &weak.run(&["play", "a", "--fresh"]),
        &format!("{at}: lock: permission denied for table runbook_locks"),
        &[&grant],
    );
    assert_eq!(db.sql("SELECT count(*) FROM runbook_runs"), "1", "the refused plays made no run");
}

/// A privilege revoked mid-play is no outage: waiting does not bring it
/// back. The play stops at the next start, saying what the server said and
/// what to grant; the step in flight finishes and its end is kept; once
/// granted again, a resume runs no step twice.
#[test]
fn a_privilege_revoked_mid_play_stops_it_at_once_saying_what_to_grant_and_a_resume_runs_nothing_twice() {
    let Some(server) = server() else { return };
    let role = Role::new(&server, "revoked");
    let db = Db::new(&server, "revoked");
    let owner = Checkout::new(&db.url, &[("a", ONE_STEP)]);
    assert_eq!(code(&owner.run(&["play", "a"])), 0);
    db.sql(&format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}", role.name));
    let sh = Shared::new();
    let weak = Checkout::new(&role.url(&db.url), &[("gated", &sh.runbook())]);
    // An outage would be waited for this long: the refusal must not be.
    let mut cmd = weak.cmd(&["play", "gated"]);
    let out = std::fs::File::create(weak.path().join("playing.out")).unwrap();
    let err = std::fs::File::create(weak.path().join("playing.err")).unwrap();
    let mut playing = Bg(cmd.env("RUNBOOK_PG_WAIT", "600").stdout(out).stderr(err).spawn().unwrap());
    wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
    db.sql(&format!("REVOKE INSERT ON runbook_events FROM {}", role.name));
    sh.open();
    let status = exit_of(&mut playing.0);
    let t = weak.output_of("playing");
    assert_eq!(status.code(), Some(1), "{t}");
    assert!(
        t.contains("refuses this session's writes: permission denied for table runbook_events")
            && t.contains(&format!("GRANT SELECT, INSERT, UPDATE, DELETE ON runbook_runs, runbook_events, runbook_logs, runbook_locks TO {}", role.name)),
        "{t}"
    );
    assert!(!t.contains(&format!("pw-{}", role.name)), "{t}");
    assert_eq!((count(&sh.log(), "s2"), count(&sh.log(), "s3")), (1, 0), "s2 finished, s3 never started");
    db.sql(&format!("GRANT INSERT ON runbook_events TO {}", role.name));
    let o = weak.run(&["play", "gated", "--resume"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let log = std::fs::read_to_string(sh.log()).unwrap();
    assert_eq!(log, "s1\ns2-start\ns2\ns3\n", "no step ran twice");
}

/// `runs`, `report`, `serve` and `runs --prune` write nothing to a database
/// without the schema, and say what they say of an empty state directory.
#[test]
fn read_only_commands_on_a_database_without_the_schema_create_nothing_and_answer_as_an_empty_local_store() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "readonly");
    let shared = Checkout::new(&db.url, &[("a", ONE_STEP)]);
    let local = Checkout::new(".runbook", &[("a", ONE_STEP)]);
    let tables = || db.sql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'");
    let local_name = local.path().join(".runbook").display().to_string();
    for args in [
        &["runs"][..],
        &["runs", "--json"],
        &["report", "latest"],
        &["report", "latest", "--format", "json"],
        &["runs", "--prune", "--keep", "0"],
    ] {
        let (s, l) = (shared.run(args), local.run(args));
        assert_eq!(code(&s), code(&l), "{args:?}: {}", text(&s));
        assert_eq!(text(&s).replace(&shown(&db.url), "STORE"), text(&l).replace(&local_name, "STORE"), "{args:?}");
    }
    for c in [&shared, &local] {
        let view = crate::serve::Serve::start(c.path(), &[], &[]);
        assert_eq!(crate::serve::get_ok(&format!("{}/api/runs", view.url)).trim(), "[]");
    }
    assert_eq!(tables(), "0", "nothing was created");
    let o = shared.run(&["play", "a"]);
    assert_eq!(code(&o), 0, "a play creates the schema: {}", text(&o));
    assert_ne!(tables(), "0");
}

/// An older schema is read as it is by a read-only command (the run of an
/// older engine is listed, reported, judged alive by its advisory lock),
/// and never migrated by one: a migration would make every older engine of
/// the team refuse the database. The next play migrates it.
#[test]
fn a_read_only_command_reads_an_older_schema_as_it_is_and_leaves_it_to_a_play_to_migrate() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "older");
    db.sql(include_str!("../engine/src/store/postgres/migrations/001_runs.sql"));
    db.sql(
        "CREATE TABLE runbook_schema (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
         INSERT INTO runbook_schema (version) VALUES (1)",
    );
    // A run an older engine recorded, and the lock row of a holder gone.
    let local = Checkout::new(".runbook", &[("a", ONE_STEP)]);
    let o = local.run(&["play", "a"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let runs = local.path().join(".runbook/runs");
    let id = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().file_name().into_string().unwrap();
    let journal = std::fs::read_to_string(runs.join(&id).join("journal.jsonl")).unwrap();
    let mut sql = format!("INSERT INTO runbook_runs (id, runbook, env) VALUES ('{id}', 'a', 'local');");
    for (i, line) in journal.lines().enumerate() {
        sql.push_str(&format!("INSERT INTO runbook_events (run, seq, body) VALUES ('{id}', {}, $j${line}$j$);", i + 1));
    }
    sql.push_str(r#"INSERT INTO runbook_locks VALUES ('a', 'local', 1, '{"user":"eve","host":"old","pid":4242,"since":"then","run":""}');"#);
    db.sql(&sql);
    let shared = Checkout::new(&db.url, &[("a", ONE_STEP)]);
    let (s, l) = (shared.run(&["runs"]), local.run(&["runs"]));
    assert_eq!(code(&s), 0, "{}", text(&s));
    assert_eq!(text(&s), text(&l), "the older schema's run, as the local store lists it");
    let o = shared.run(&["report", "latest"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains(&id) && text(&o).contains("**passed**"), "{}", text(&o));
    assert_eq!(db.sql("SELECT max(version) FROM runbook_schema"), "1", "not migrated by a read");
    let o = shared.run(&["play", "a", "--fresh"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        db.sql("SELECT max(version) FROM runbook_schema"),
        runbook::store::postgres::schema::latest().to_string()
    );
}

/// `--take-over` when no engine plays the run (its engine was killed) is a
/// resume, in both stores: nothing to confirm, recorded as a resume.
#[test]
fn take_over_with_no_live_engine_is_a_resume_in_both_stores() {
    let resume = |c: &Checkout, sh: &Shared, freed: &dyn Fn() -> bool, kinds: &dyn Fn() -> Vec<String>| {
        let mut first = Bg(c.spawn(&["play", "gated"], "first"));
        wait_for("s2 to start", || count(&sh.log(), "s2-start") == 1);
        first.0.kill().unwrap(); // SIGKILL
        first.0.wait().unwrap();
        wait_for("the lock to be free", freed);
        sh.open();
        let o = c.run(&["play", "gated", "--take-over"]);
        assert_eq!(code(&o), 0, "nothing to confirm: {}", text(&o));
        let t = text(&o);
        for part in [
            "no engine was playing this runbook and env: --take-over goes on as --resume",
            "passed before, not run again: s1",
        ] {
            assert!(t.contains(part), "{part}: {t}");
        }
        assert!(!t.contains("taking over") && !t.contains("took the run over"), "{t}");
        assert_eq!(kinds(), ["run-start", "resume"]);
        assert_eq!((count(&sh.log(), "s1"), count(&sh.log(), "s3")), (1, 1));
    };
    let kinds = |bodies: Vec<String>| -> Vec<String> {
        bodies
            .iter()
            .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
            .filter_map(|e| match e["event"].as_str() {
                Some("run-start") => Some("run-start".to_string()),
                Some("session") => Some(e["kind"].as_str().unwrap_or_default().to_string()),
                _ => None,
            })
            .collect()
    };
    let sh = Shared::new();
    let c = Checkout::new(".runbook", &[("gated", &sh.runbook())]);
    let runs = c.path().join(".runbook/runs");
    let journal = || {
        let id = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
        std::fs::read_to_string(id.join("journal.jsonl")).unwrap().lines().map(str::to_string).collect()
    };
    resume(&c, &sh, &|| true, &|| kinds(journal()));
    let Some(server) = server() else { return };
    let db = Db::new(&server, "takeover_dead");
    let sh = Shared::new();
    let c = Checkout::new(&db.url, &[("gated", &sh.runbook())]);
    resume(&c, &sh, &|| db.sql(ADVISORY) == "0", &|| kinds(events(&db).into_iter().map(|(_, b)| b).collect()));
}

/// Engineers sharing an account are told apart (`RUNBOOK_OPERATOR`, else
/// `sudo`'s `SUDO_USER`), and the run list names who played the run, session
/// by session, the last one first in mind: `runs`, `runs --json` and the runs
/// page and `/api/runs` of `serve`, the same in both stores.
#[test]
fn the_run_list_names_each_operator_who_played_the_run_told_apart_under_one_account_in_both_stores() {
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let account = nix::unistd::User::from_uid(nix::unistd::getuid()).unwrap().unwrap().name;
    let (alice, bob) = (format!("alice@{host}"), format!("bob (sudo {account})@{host}"));
    let hands = |c: &Checkout| {
        let md = "# A\n\n```bash {#one}\necho one\n```\n\n```bash {#two}\ntest -e fixed\n```\n";
        std::fs::write(c.path().join("runbooks/a.md"), md).unwrap();
        let play = |args: &[&str], who: &[(&str, &str)]| {
            let mut cmd = c.cmd(args);
            cmd.env_remove("RUNBOOK_OPERATOR").env_remove("SUDO_USER").envs(who.iter().copied());
            cmd.output().unwrap()
        };
        let o = play(&["play", "a", "--yes"], &[("RUNBOOK_OPERATOR", "alice")]);
        assert_eq!(code(&o), 1, "{}", text(&o));
        std::fs::write(c.path().join("fixed"), "").unwrap();
        let o = play(&["play", "a", "--yes", "--resume"], &[("SUDO_USER", "bob")]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        assert!(text(&o).contains(&format!("by {bob})")), "{}", text(&o));
        let rows: serde_json::Value = serde_json::from_slice(&c.run(&["runs", "--json"]).stdout).unwrap();
        assert_eq!(rows[0]["operator"], alice.as_str(), "who started it");
        assert_eq!(rows[0]["operators"], serde_json::json!([alice, bob]));
        let runs = text(&c.run(&["runs"]));
        assert!(runs.contains(&format!("  passed      2/2  {alice} → {bob}  ")), "{runs}");
        let s = crate::serve::Serve::start(c.path(), &[], &[]);
        let api: serde_json::Value =
            serde_json::from_str(&crate::serve::get_ok(&format!("{}/api/runs", s.url))).unwrap();
        assert_eq!(api, rows);
        let page = crate::serve::get_ok(&format!("{}/", s.url));
        assert!(page.contains(&format!("<td>{alice} → {bob}</td>")), "{page}");
    };
    hands(&Checkout::new(".runbook", &[]));
    let Some(server) = server() else { return };
    let db = Db::new(&server, "hands");
    hands(&Checkout::new(&db.url, &[]));
}

/// A step in flight when its engine, on another machine, was killed may
/// still run there, out of this machine's reach: the refusal and the
/// take-over's note name the step, the host and the process group, and how
/// to stop it there.
#[test]
fn a_step_in_flight_on_another_machine_is_named_with_its_host_and_process_group_by_the_refusal_and_the_take_over() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "far");
    let wait = "# A\n\n```bash {#wait}\ntouch started; while [ ! -e go ]; do sleep 0.1; done\n```\n";
    let c = Checkout::new(&db.url, &[("a", wait)]);
    let mut a = Bg(c.spawn(&["play", "a"], "a"));
    wait_for("step wait to start", || c.path().join("started").exists());
    let spawned = || db.sql("SELECT body::json->>'pgid' FROM runbook_events WHERE body::json->>'event' = 'spawned'");
    wait_for("the step's process group to be recorded", || !spawned().is_empty());
    let pgid = spawned();
    a.0.kill().unwrap(); // kill -9
    a.0.wait().unwrap();
    // As if that engine ran on vm-a, another machine, and beat 2 s ago.
    db.sql(
        r#"UPDATE runbook_locks SET machine = 'another machine', beat = now() - interval '2 seconds',
                  ttl = interval '10 minutes', holder = jsonb_set(holder::jsonb, '{host}', '"vm-a"')::text"#,
    );
    let o = c.run(&["play", "a", "--resume"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let hint = format!(
        "hint: step `wait` was in flight on host vm-a (process group {pgid}): make sure it is not still running there (`kill -- -{pgid}` on vm-a) before --take-over"
    );
    assert!(text(&o).contains(&hint), "{}", text(&o));
    let o = c.run(&["play", "a", "--take-over"]);
    assert_eq!(code(&o), 3, "off a terminal, --yes is needed: {}", text(&o));
    assert!(text(&o).contains(&hint), "{}", text(&o));
    std::fs::write(c.path().join("go"), "").unwrap();
    let o = c.run(&["play", "a", "--take-over", "--yes"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let note = format!(
        "step `wait` was in flight on host vm-a (process group {pgid}) and runs again here: make sure it is not still running there (`kill -- -{pgid}` on vm-a)"
    );
    assert!(text(&o).contains(&note), "{}", text(&o));
    let report = text(&c.run(&["report", "latest"]));
    assert!(report.contains(&note), "the session's note is in the audit trail: {report}");
}

#[test]
fn a_step_killed_with_its_engine_and_rerun_by_the_resume_shows_each_run_apart() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "rerun");
    let c = Checkout::new(&db.url, &[("k", crate::resume::RERUN)]);
    let mut first = c.spawn(&["play", "k"], "first");
    // Killed once its first line is in the step's log.
    let log =
        "SELECT convert_from(string_agg(data, ''::bytea ORDER BY n), 'UTF8') FROM runbook_logs WHERE step = 'fix'";
    wait_for("the first run's line in the log", || {
        db.sql("SELECT to_regclass('runbook_logs') IS NOT NULL") == "t" && db.sql(log) == "first run"
    });
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    wait_for("the lock to be freed", || {
        db.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") == "0"
    });
    let o = c.run(&["play", "k", "--resume"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(db.sql(log), "first run\nsecond run");
    let starts = db.sql("SELECT string_agg(body::json->>'log_from', ',' ORDER BY seq) FROM runbook_events WHERE body::json->>'event' = 'step-start'");
    assert_eq!(starts, "0,10", "where each run's output begins");
    let json: serde_json::Value =
        serde_json::from_slice(&c.run(&["report", "latest", "--format", "json"]).stdout).unwrap();
    let operator = json["operator"].as_str().unwrap().to_string();
    let md = String::from_utf8(c.run(&["report", "latest"]).stdout).unwrap();
    assert_eq!(crate::resume::steps_section(&md, &operator), crate::resume::RERUN_STEPS, "{md}");
    let view = crate::serve::Serve::start(c.path(), &[], &[]);
    let id = json["run"].as_str().unwrap();
    assert_eq!(
        crate::serve::get_ok(&format!("{}/api/runs/{id}/log/fix", view.url)),
        crate::resume::rerun_log(&operator)
    );
}

#[test]
fn a_step_in_flight_when_the_run_is_taken_over_and_its_rerun_show_apart() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "rerun_take");
    let (a, b) = (
        Checkout::new(&db.url, &[("k", crate::resume::RERUN)]),
        Checkout::new(&db.url, &[("k", crate::resume::RERUN)]),
    );
    let mut first = a.spawn(&["play", "k"], "first");
    let log =
        "SELECT convert_from(string_agg(data, ''::bytea ORDER BY n), 'UTF8') FROM runbook_logs WHERE step = 'fix'";
    wait_for("the first run's line in the log", || {
        db.sql("SELECT to_regclass('runbook_logs') IS NOT NULL") == "t" && db.sql(log) == "first run"
    });
    // The re-run, in the other checkout, finds the first run's mark there.
    std::fs::write(b.path().join("started"), "").unwrap();
    let o = b.run(&["play", "k", "--take-over", "--yes"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(first.wait().unwrap().code(), Some(3), "{}", a.output_of("first"));
    let json: serde_json::Value =
        serde_json::from_slice(&b.run(&["report", "latest", "--format", "json"]).stdout).unwrap();
    let op = json["operator"].as_str().unwrap().to_string();
    let view = crate::serve::Serve::start(b.path(), &[], &[]);
    let id = json["run"].as_str().unwrap();
    assert_eq!(
        crate::serve::get_ok(&format!("{}/api/runs/{id}/log/fix", view.url)),
        format!(
            "=== attempt 1 (session 1, {op}): in flight when the run was taken over by {op} (no end recorded; its output after that stays with its engine) ===\nfirst run\n\
             === attempt 2 (session 2, {op}): passed ===\nsecond run\n"
        )
    );
}

/// Output of a taken-over engine that reaches the store after the new
/// session began (here: all of it, held by a fault until then) is refused
/// there, not read as the new run's output: the shared log holds the new
/// run's output only, and the first engine keeps its own on its machine and
/// says where.
#[test]
fn output_reaching_the_store_after_a_take_over_stays_out_of_the_new_runs_part() {
    let Some(server) = server() else { return };
    let db = Db::new(&server, "late_log");
    let (a, b) = (
        Checkout::new(&db.url, &[("k", crate::resume::RERUN)]),
        Checkout::new(&db.url, &[("k", crate::resume::RERUN)]),
    );
    let gate = a.path().join("logs-gate");
    let fault = format!("pg-logs-wait-for:{}", gate.display());
    let mut first = a.spawn_with(&["play", "k"], "first", &[("RUNBOOK_FAULT", &fault)]);
    wait_for("the first run of fix", || a.path().join("fix.pid").exists());
    // The second engine waits three of its beats for the first to let go
    // (the first is held at its log write), then plays.
    std::fs::write(b.path().join("started"), "").unwrap();
    let o = b.cmd(&["play", "k", "--take-over", "--yes"]).env("RUNBOOK_PG_BEAT", "0.2").output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let log =
        "SELECT convert_from(string_agg(data, ''::bytea ORDER BY n), 'UTF8') FROM runbook_logs WHERE step = 'fix'";
    assert_eq!(db.sql(log), "second run");
    // Now the first engine's output reaches the store.
    std::fs::write(&gate, "").unwrap();
    assert_eq!(first.wait().unwrap().code(), Some(3), "{}", a.output_of("first"));
    assert_eq!(db.sql(log), "second run", "the first engine's output is not in the shared log");
    let said = a.output_of("first");
    let at = "output of step `fix` reached the store after the run was taken over: not in the run's shared log, kept on this machine in ";
    let kept =
        said.lines().find_map(|l| l.split_once(at)).map(|(_, f)| f.to_string()).unwrap_or_else(|| panic!("{said}"));
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "first run\n", "{kept}");
    let json: serde_json::Value =
        serde_json::from_slice(&b.run(&["report", "latest", "--format", "json"]).stdout).unwrap();
    let op = json["operator"].as_str().unwrap().to_string();
    let view = crate::serve::Serve::start(b.path(), &[], &[]);
    let id = json["run"].as_str().unwrap();
    assert_eq!(
        crate::serve::get_ok(&format!("{}/api/runs/{id}/log/fix", view.url)),
        format!(
            "=== attempt 1 (session 1, {op}): in flight when the run was taken over by {op} (no end recorded; its output after that stays with its engine) ===\n\
             === attempt 2 (session 2, {op}): passed ===\nsecond run\n"
        )
    );
}

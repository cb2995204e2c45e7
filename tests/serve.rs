//! `runbook serve` (issue 18): the JSON API and event streams over HTTP
//! against a started server, and its security (token, CSP, ids, escaping,
//! secrets, read-only). The pages in a real browser: `serve_browser.rs`.
//!
//! A play that must be caught while running waits for a file the test
//! creates (a gate): the test follows it, then opens the gate. Never a wait
//! for time.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::browser::WAIT_LIMIT;
use crate::common::*;

/// A started `runbook serve` on a free port of loopback, killed on drop.
pub struct Serve {
    child: Child,
    pub url: String,
}

impl Serve {
    pub fn start(project: &Path, extra: &[&str], env: &[(&str, &str)]) -> Serve {
        let mut c = Command::new(bin());
        c.args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .current_dir(project)
            .env_remove("RUNBOOK_CONFIG")
            .env_remove("RUNBOOK_SERVE_TOKEN")
            .env("RUNBOOK_LOG", "warn")
            .env("RUNBOOK_SERVE_POLL_MS", "10")
            .stdout(Stdio::piped());
        // Its stderr goes to a file, read only when it never said where it
        // listens: then it has ended, and why is there.
        let mut stderr = tempfile::tempfile().expect("a temporary file");
        c.stderr(stderr.try_clone().expect("the file again"));
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn runbook serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("runbook serve: ").unwrap_or_else(|| {
            use std::io::{Read, Seek};
            let mut why = String::new();
            let _ = stderr.rewind().and_then(|()| stderr.read_to_string(&mut why));
            panic!("no URL in {line:?}; serve said: {why}")
        });
        Serve { child, url: url.trim_end_matches('/').to_string() }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(WAIT_LIMIT))
        .build()
        .into()
}

/// `(status, headers, body)` of a GET.
fn get(url: &str, headers: &[(&str, &str)]) -> (u16, ureq::http::HeaderMap, String) {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let h = r.headers().clone();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    (status, h, body)
}

pub fn get_ok(url: &str) -> String {
    let (status, _, body) = get(url, &[]);
    assert_eq!(status, 200, "GET {url}: {body}");
    body
}

/// The messages of an event stream, `(event, id, data)`, until `done` says so.
pub fn stream(
    url: &str,
    headers: &[(&str, &str)],
    done: impl Fn(&[(String, String, String)]) -> bool,
) -> Vec<(String, String, String)> {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(r.status().as_u16(), 200);
    let mut lines = BufReader::new(r.into_body().into_reader()).lines();
    let mut out = Vec::new();
    let (mut event, mut id, mut data) = (String::new(), String::new(), Vec::<String>::new());
    while !done(&out) {
        let line = lines.next().expect("the stream goes on").expect("a line of the stream");
        if line.is_empty() {
            if !data.is_empty() {
                let ev = if event.is_empty() { "message".to_string() } else { std::mem::take(&mut event) };
                out.push((ev, std::mem::take(&mut id), data.join("\n")));
                data.clear();
            }
            event.clear();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().to_string();
        }
    }
    out
}

pub fn ended(msgs: &[(String, String, String)]) -> bool {
    msgs.iter().any(|(e, _, d)| e == "message" && d.contains("\"event\":\"run-end\""))
}

/// A project with one runbook, `demo`: `a` prints `<script>`, `b` needs it,
/// `c` fails with an escalation.
pub fn project() -> Test {
    Test::new().runbook(
        "demo",
        r#"
        ---
        id: demo
        ---
        # Demo

        ```bash {#a read}
        echo '<script>window.pwned = 1</script>'
        ```

        ```bash {#b needs=a}
        echo "b in {{ namespace }}"
        ```

        ```bash {#c budget=5m escalate="page the on-call DBA"}
        echo broken; exit 3
        ```
        "#,
    )
}

pub fn play(t: &Test, status: i32) {
    let out = t.command().args(["play", "demo", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(status), "{}", String::from_utf8_lossy(&out.stderr));
}

pub fn runs_json(t: &Test) -> Value {
    let out = t.command().args(["runs", "--json"]).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The id of the run a play just started (not the `.new-…` directory it is
/// created in).
pub fn started(t: &Test) -> String {
    until("the run to start", || {
        let rows = runs_json(t);
        rows.as_array()?.iter().filter_map(|r| r["run"].as_str()).find(|r| !r.starts_with('.')).map(str::to_string)
    })
}

pub fn only_run(t: &Test) -> String {
    runs_json(t)[0]["run"].as_str().unwrap().to_string()
}

#[test]
fn the_api_gives_the_records_of_runs_json_and_the_state_of_a_run() {
    let t = project();
    play(&t, 1);
    let s = Serve::start(t.path(), &[], &[]);
    let api: Value = serde_json::from_str(&get_ok(&format!("{}/api/runs", s.url))).unwrap();
    assert_eq!(api, runs_json(&t));
    let id = only_run(&t);
    let st: Value = serde_json::from_str(&get_ok(&format!("{}/api/runs/{id}", s.url))).unwrap();
    assert_eq!(st["status"], "failed");
    assert_eq!(st["steps"]["a"]["status"], "passed");
    assert_eq!(st["steps"]["c"]["exit"], 3);
    assert_eq!(get_ok(&format!("{}/api/runs/{id}/log/b", s.url)), "b in animica-devnet\n");
    // The timeline as `runbook report` has it.
    let report = t.command().args(["report", &id]).output().unwrap();
    assert_eq!(get_ok(&format!("{}/runs/{id}/report.md", s.url)), String::from_utf8_lossy(&report.stdout));
    // The run page: failures first, with the escalation and the resume command.
    let page = get_ok(&format!("{}/runs/{id}", s.url));
    let (fail, steps) = (page.find("class=\"failures\"").unwrap(), page.find("class=\"steps\"").unwrap());
    assert!(fail < steps);
    assert!(page.contains("page the on-call DBA"));
    assert!(page.contains("runbook play demo --env devnet --resume"));
}

/// The runs list shows each run's mode as `runs` does in its MODE column
/// (the same words), and `/api/runs` has it as `runs --json` has it.
#[test]
fn the_runs_list_shows_each_runs_mode_as_runs_does() {
    let t = project();
    for args in [&["--yes"][..], &["--yes", "--read-only"], &["--yes", "--only", "a"]] {
        t.command().args(["play", "demo"]).args(args).output().unwrap();
    }
    let table = String::from_utf8(t.command().arg("runs").output().unwrap().stdout).unwrap();
    let at = table.lines().next().unwrap().find("MODE").expect("a MODE column");
    let said: Vec<(String, String)> = table
        .lines()
        .skip(1)
        .filter(|l| l.len() > at)
        .map(|l| (l.split_whitespace().next().unwrap().to_string(), l[at..].trim().to_string()))
        .collect();
    let mut modes: Vec<&str> = said.iter().map(|(_, m)| m.as_str()).collect();
    modes.sort();
    assert_eq!(modes, ["read-only", "write", "write --only a"], "{table}");
    let s = Serve::start(t.path(), &[], &[]);
    let api: Value = serde_json::from_str(&get_ok(&format!("{}/api/runs", s.url))).unwrap();
    assert_eq!(api, runs_json(&t));
    for page in [get_ok(&format!("{}/", s.url)), get_ok(&format!("{}/parts/runs", s.url))] {
        assert!(page.contains("<th>Mode</th>"), "{page}");
        for (run, mode) in &said {
            let row = &page[page.find(&format!("data-run=\"{run}\"")).unwrap_or_else(|| panic!("{run}: {page}"))..];
            let row = &row[..row.find("</tr>").unwrap()];
            assert!(row.contains(&format!("<td class=\"mode\">{mode}</td>")), "{run} is {mode}: {row}");
        }
    }
}

/// A run page's escalation is the run's: rendered with its values, and
/// shown only while the runbook is the one the run played.
#[test]
fn a_run_page_escalates_with_the_runs_values_and_never_with_an_edited_runbooks_text() {
    let md = "---\nvars:\n  team: dba\n---\n# E\n\n```bash {#c budget=5m escalate=\"page the {{ team }} on duty in {{ env }}\"}\nexit 3\n```\n";
    let t = Test::new().runbook("e", md);
    let out = t.command().args(["play", "e", "--yes", "--set", "team=storage"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    let page = get_ok(&format!("{}/runs/{id}", s.url));
    assert!(page.contains("page the storage on duty in devnet<"), "{page}");
    std::fs::write(t.path().join("runbooks/e.md"), md.replace("page the", "email the")).unwrap();
    let page = get_ok(&format!("{}/runs/{id}", s.url));
    assert!(!page.contains("email the") && !page.contains("page the"), "{page}");
}

#[test]
fn the_event_stream_has_every_event_and_resumes_after_last_event_id() {
    let t = project();
    play(&t, 1);
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    let last = serde_json::from_str::<Value>(&get_ok(&format!("{}/api/runs/{id}", s.url))).unwrap()["last_seq"]
        .as_u64()
        .unwrap();
    let url = format!("{}/api/runs/{id}/events", s.url);
    let all = stream(&url, &[], ended);
    let events: Vec<_> = all.iter().filter(|m| m.0 == "message").collect();
    let ids: Vec<u64> = events.iter().map(|m| m.1.parse().unwrap()).collect();
    assert_eq!(ids, (1..=last).collect::<Vec<_>>(), "every event, in order, its id its seq");
    for (_, id, data) in &events {
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["seq"].to_string(), *id);
    }
    assert!(events[0].2.contains("\"event\":\"run-start\""));
    // A reconnection after any event gets exactly what follows it.
    for k in 0..last {
        let rest = stream(&url, &[("Last-Event-ID", &k.to_string())], ended);
        let ids: Vec<u64> = rest.iter().filter(|m| m.0 == "message").map(|m| m.1.parse().unwrap()).collect();
        assert_eq!(ids, (k + 1..=last).collect::<Vec<_>>(), "after {k}");
    }
}

#[test]
fn a_client_following_a_play_gets_every_event_once_in_order_and_the_output_as_it_comes() {
    let gate = tempfile::tempdir().unwrap();
    let go = gate.path().join("go");
    let t = gated(&go);
    let s = Serve::start(t.path(), &[], &[]);
    let mut play = start_play(&t, "gated");
    let id = started(&t);
    let url = format!("{}/api/runs/{id}/events", s.url);
    // The output of the step in flight comes before the step ends: the gate
    // opens only once the client has seen it.
    let msgs = stream(&url, &[], |m| {
        let waiting = m.iter().any(|(e, _, d)| e == "output" && d.contains("waiting"));
        if waiting && !go.exists() {
            std::fs::write(&go, "").unwrap();
        }
        let released = m.iter().any(|(e, _, d)| e == "output" && d.contains("released"));
        ended(m) && released
    });
    assert!(play.wait().unwrap().success());
    let ids: Vec<u64> = msgs.iter().filter(|m| m.0 == "message").map(|m| m.1.parse().unwrap()).collect();
    let last = *ids.last().unwrap();
    assert_eq!(ids, (1..=last).collect::<Vec<_>>());
    let out: String = msgs
        .iter()
        .filter(|m| m.0 == "output")
        .map(|m| serde_json::from_str::<Value>(&m.2).unwrap())
        .filter(|v| v["step"] == "wait")
        .map(|v| v["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(out, "waiting\nreleased\n", "each byte of the output once, in order");
}

#[test]
fn a_damaged_run_is_listed_as_runs_lists_it_and_its_stream_says_so() {
    let t = project();
    play(&t, 1);
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    let url = format!("{}/api/runs/{id}/events", s.url);
    let journal = t.path().join(".runbook/runs").join(&id).join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, text.replacen("\"event\":\"step-start\"", "\"event\":\"step-stort\"", 1)).unwrap();
    let api: Value = serde_json::from_str(&get_ok(&format!("{}/api/runs", s.url))).unwrap();
    assert_eq!(api, runs_json(&t));
    assert_eq!(api[0]["status"], "corrupt");
    let (status, _, body) = get(&format!("{}/api/runs/{id}", s.url), &[]);
    assert_eq!(status, 500);
    assert!(body.contains("journal.jsonl:2"), "{body}");
    let msgs = stream(&url, &[], |m| m.iter().any(|x| x.0 == "unreadable"));
    assert!(msgs.iter().all(|m| m.0 != "message"), "no event of a damaged journal");
    let page = get(&format!("{}/", s.url), &[]);
    assert!(page.2.contains("corrupt"));
}

#[test]
fn ids_are_checked_and_nothing_outside_the_store_is_served() {
    let t = project().file("secret.txt", "top-secret-1234");
    play(&t, 1);
    let s = Serve::start(t.path(), &[], &[]);
    for path in [
        "/api/runs/..%2F..%2Fsecret.txt",
        "/api/runs/..",
        "/api/runs/%2e%2e",
        "/runs/..%2Fruns",
        "/api/runs/nope",
        "/api/runs/.hidden/events",
        "/runbooks/..%2Frunbook.toml",
        "/runbooks/..",
        "/assets/..%2F..%2FCargo.toml",
        "/../../etc/passwd",
    ] {
        let (status, _, body) = get(&format!("{}{path}", s.url), &[]);
        assert!(status == 400 || status == 404, "{path}: {status}");
        assert!(!body.contains("top-secret") && !body.contains("[env"), "{path}: {body}");
    }
    let id = only_run(&t);
    let (status, _, _) = get(&format!("{}/api/runs/{id}/log/..%2F..%2Fsecret.txt", s.url), &[]);
    assert_eq!(status, 400);
}

#[test]
fn it_is_read_only() {
    let t = project();
    play(&t, 1);
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    for path in ["/api/runs".to_string(), format!("/api/runs/{id}"), format!("/runs/{id}"), "/".into()] {
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let req = ureq::http::Request::builder().method(method).uri(format!("{}{path}", s.url)).body(()).unwrap();
            let r = agent().run(req).unwrap();
            assert!(matches!(r.status().as_u16(), 404 | 405), "{method} {path}: {}", r.status());
        }
    }
}

#[test]
fn off_loopback_a_token_is_required() {
    let t = project();
    t.command()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("RUNBOOK_SERVE_TOKEN")
        .output()
        .map(|o| {
            assert_eq!(o.status.code(), Some(2));
            assert!(String::from_utf8_lossy(&o.stderr).contains("--token"));
        })
        .unwrap();
}

#[test]
fn off_loopback_a_token_that_can_be_guessed_is_refused() {
    let t = project();
    for (token, ok) in [("a", false), ("s3cr3t-tok", false), ("0123456789abcdef", true)] {
        let mut c = t.command();
        c.args(["serve", "--listen", "0.0.0.0:0", "--token", token]).env_remove("RUNBOOK_SERVE_TOKEN");
        if ok {
            // Accepted: it serves (until killed), never exit 2.
            let mut child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line)
                .unwrap();
            assert!(line.starts_with("runbook serve: http://0.0.0.0:"), "{line}");
            child.kill().unwrap();
            child.wait().unwrap();
            continue;
        }
        // Refused at once; accepted, it would serve until killed.
        let mut child = c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > std::time::Duration::from_secs(30) {
                child.kill().unwrap();
                panic!("--token {token}: accepted off loopback (still serving)");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{token}: {err}");
        assert!(
            err.contains(&format!("its token is {} characters: at least 16 guard it", token.len())),
            "{token}: {err}"
        );
        assert!(token.len() < 4 || !err.contains(token), "the token is not echoed: {err}");
    }
}

#[test]
fn with_a_token_a_request_needs_it_by_bearer_or_by_the_cookie_set_from_the_url() {
    let t = project();
    play(&t, 1);
    for (args, env) in
        [(&["--token", "s3cr3t-tok"][..], &[][..]), (&[][..], &[("RUNBOOK_SERVE_TOKEN", "s3cr3t-tok")][..])]
    {
        let s = Serve::start(t.path(), args, env);
        let api = format!("{}/api/runs", s.url);
        assert_eq!(get(&api, &[]).0, 401);
        assert_eq!(get(&api, &[("Authorization", "Bearer wrong")]).0, 401);
        assert_eq!(get(&api, &[("Authorization", "Bearer s3cr3t-tok")]).0, 200);
        let (status, h, _) = get(&format!("{}/?token=s3cr3t-tok", s.url), &[]);
        assert_eq!(status, 303);
        assert_eq!(h["location"], "/", "the token leaves the address bar");
        let cookie = h["set-cookie"].to_str().unwrap();
        let name = format!("runbook_serve_{}", s.url.rsplit(':').next().unwrap());
        assert_eq!(cookie, format!("{name}=s3cr3t-tok; Path=/; HttpOnly; SameSite=Lax"));
        let pair = cookie.split(';').next().unwrap();
        assert_eq!(get(&api, &[("Cookie", pair)]).0, 200);
        assert_eq!(get(&api, &[("Cookie", &format!("{name}=wrong"))]).0, 401);
    }
}

#[test]
fn every_response_has_a_content_security_policy() {
    let t = project();
    play(&t, 1);
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    for path in ["/".to_string(), format!("/runs/{id}"), "/api/runs".into(), "/assets/serve.js".into(), "/nope".into()]
    {
        let (_, h, _) = get(&format!("{}{path}", s.url), &[]);
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
}

/// Every body the server gives for a run: pages, parts, API, log, report, stream.
fn every_response(s: &Serve, id: &str, steps: &[&str]) -> Vec<(String, String)> {
    let mut paths = vec![
        "/".to_string(),
        "/parts/runs".into(),
        format!("/runs/{id}"),
        format!("/parts/runs/{id}"),
        format!("/runs/{id}/report.md"),
        "/api/runs".into(),
        format!("/api/runs/{id}"),
        "/runbooks".into(),
        "/runbooks/demo".into(),
    ];
    paths.extend(steps.iter().map(|st| format!("/api/runs/{id}/log/{st}")));
    let mut out: Vec<(String, String)> =
        paths.into_iter().map(|p| (p.clone(), get_ok(&format!("{}{p}", s.url)))).collect();
    let msgs = stream(&format!("{}/api/runs/{id}/events", s.url), &[], ended);
    out.push(("event stream".into(), msgs.into_iter().map(|m| m.2).collect::<Vec<_>>().join("\n")));
    let runs = stream(&format!("{}/api/events", s.url), &[], |m| !m.is_empty());
    out.push(("runs stream".into(), runs[0].2.clone()));
    out
}

#[test]
fn a_secret_is_shown_by_no_page_api_or_stream() {
    let config =
        CONFIG.replace("namespace = \"animica-devnet\"", "namespace = \"animica-devnet\"\ndb_pass = \"envpass-8812\"");
    let t = Test::new().config(&config).runbook(
        "demo",
        r#"
        ---
        id: demo
        secrets: [api_key, db_pass]
        vars:
          api_key: ~
        ---
        # Secret

        ```bash {#use read}
        echo "key={{ api_key }}"; echo "err {{ api_key }}" >&2; echo "db={{ db_pass }}"
        ```

        ```bash {#derived read}
        echo "again {{ api_key }} done"
        ```
        "#,
    );
    let out = t.command().args(["play", "demo", "--yes", "--set", "api_key=sk-serve-5531"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    let bodies = every_response(&s, &id, &["use", "derived"]);
    assert!(bodies.iter().any(|(_, b)| b.contains("key=***")), "the masked value is shown");
    for (what, body) in &bodies {
        for secret in ["sk-serve-5531", "envpass-8812"] {
            assert!(!body.contains(secret), "{what} shows {secret}:\n{body}");
        }
    }
}

#[test]
fn what_a_step_prints_stays_text() {
    let t = project();
    play(&t, 1);
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    for path in [format!("/runs/{id}"), format!("/parts/runs/{id}")] {
        let page = get_ok(&format!("{}{path}", s.url));
        assert!(!page.contains("<script>window.pwned"), "{path}");
        assert!(page.contains("&lt;script&gt;window.pwned"), "{path}");
    }
}

/// Poll the server until `f` holds (the play runs in another process).
pub fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < WAIT_LIMIT, "waited {WAIT_LIMIT:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A play held at its first step until the gate file exists.
pub fn gated(gate: &Path) -> Test {
    Test::new().runbook(
        "gated",
        &format!(
            r#"
            ---
            id: gated
            ---
            # Gated

            ```bash {{#wait read}}
            echo waiting; while [ ! -f '{}' ]; do sleep 0.02; done; echo released
            ```

            ```bash {{#left}}
            echo left
            ```

            ```bash {{#right needs=wait}}
            echo right
            ```

            ```bash {{#last needs=left,right}}
            echo last
            ```
            "#,
            gate.display()
        ),
    )
}

/// A play in the background; killed on drop if the test fails before its
/// gate opens (it would wait for it forever).
pub struct Playing(pub Child);

impl Playing {
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.0.wait()
    }
}

impl Drop for Playing {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub fn start_play(t: &Test, id: &str) -> Playing {
    Playing(t.command().args(["play", id, "--yes"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
}

/// stderr of `serve ARGS` up to the moment it listens (then it is killed).
fn serve_stderr(t: &Test, args: &[&str], env: Option<&str>) -> String {
    let mut c = t.command();
    c.arg("serve").args(args).env_remove("RUNBOOK_SERVE_TOKEN");
    if let Some(v) = env {
        c.env("RUNBOOK_SERVE_TOKEN", v);
    }
    let mut child = c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
    assert!(line.starts_with("runbook serve: http://"), "{line}");
    child.kill().unwrap();
    let o = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_token_in_the_arguments_is_warned_about_and_plain_http_off_loopback_is_said() {
    let t = project();
    let token = "0123456789abcdef0123";
    let argv = serve_stderr(&t, &["--listen", "127.0.0.1:0", "--token", token], None);
    assert!(argv.contains("warning: --token is in this process's arguments, which `ps` shows"), "{argv}");
    assert!(argv.contains("give it in RUNBOOK_SERVE_TOKEN instead"), "{argv}");
    assert!(!argv.contains("plain HTTP"), "loopback: {argv}");
    let env = serve_stderr(&t, &["--listen", "0.0.0.0:0"], Some(token));
    assert!(!env.contains("--token is in"), "{env}");
    assert!(env.contains("warning: plain HTTP: the token and the runs cross the network unencrypted"), "{env}");
    assert!(!argv.contains(token) && !env.contains(token), "the token is never echoed");
}

#[test]
fn a_token_of_blanks_or_with_a_newline_is_refused() {
    let t = project();
    for token in ["                ", "0123456789abcdef\n"] {
        let o = t.command().args(["serve", "--listen", "0.0.0.0:0", "--token", token]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{token:?}: {err}");
        let what = if token.trim().is_empty() { "is only blanks" } else { "has blanks or control characters" };
        assert!(
            err.starts_with(&format!("error: the token {what}: a Bearer token or a URL cannot carry them\n")),
            "{err}"
        );
    }
}

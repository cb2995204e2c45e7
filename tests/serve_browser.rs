//! `runbook serve` in a real browser (headless Chromium): a run page opened
//! at the start of a play follows it to its end without a reload, the runs
//! list updates live, a step's `<script>` stays text, a runbook page switches
//! env and copies. Plays are held at their first step by a file the test
//! creates; the tests wait for the page's state, never for time.
//!
//! `RUNBOOK_UPDATE_SCREENSHOTS=1 cargo test --test integration serve_browser`
//! rewrites docs/serve-runs.png and docs/serve-run.png (the README shows them).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::common::browser::{Browser, Page, WAIT_LIMIT};
use crate::common::*;
use crate::serve::{Serve, gated, get_ok, only_run, play, project, start_play, started};

#[test]
fn what_a_step_prints_stays_text_in_the_browser() {
    let t = project();
    play(&t, 1);
    let id = only_run(&t);
    let s = Serve::start(t.path(), &[], &[]);
    assert!(get_ok(&format!("{}/runs/{id}", s.url)).contains("&lt;script&gt;window.pwned"));
    let Some(b) = Browser::launch() else { return };
    let p = b.open(&format!("{}/runs/{id}", s.url));
    wait(&p, "document.documentElement.dataset.live === 'open'");
    let text: String = p.eval("document.querySelector('pre.out[data-out=\"a\"]').innerText");
    assert_eq!(text.trim(), "<script>window.pwned = 1</script>");
    assert!(p.eval::<bool>("window.pwned === undefined"), "the step's output ran as a script");
}

/// Wait for a JS expression in the page (inlined: the page's CSP forbids
/// `eval`).
fn wait(p: &Page, js: &str) {
    let ms = WAIT_LIMIT.as_millis();
    let waiter = format!(
        "new Promise((resolve) => {{
            const t0 = performance.now();
            const check = () => {{
                let ok = false;
                try {{ ok = !!({js}); }} catch (e) {{}}
                if (ok) resolve(true);
                else if (performance.now() - t0 > {ms}) resolve(false);
                else setTimeout(check, 10);
            }};
            check();
        }})"
    );
    assert!(p.eval::<bool>(&waiter), "waited {WAIT_LIMIT:?} for `{js}` in {}", p.url());
}

fn screenshot(p: &Page, name: &str) {
    let path: PathBuf = if std::env::var_os("RUNBOOK_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join(name)
    } else {
        // Kept for a look after the run, with the build, not in the machine's /tmp.
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("runbook-{}-{name}", std::process::id()))
    };
    p.screenshot(&path, false);
    let mut head = [0u8; 8];
    std::fs::File::open(&path).unwrap().read_exact(&mut head).unwrap();
    assert_eq!(&head, b"\x89PNG\r\n\x1a\n");
}

#[test]
fn a_run_page_opened_at_the_start_follows_the_play_to_its_end() {
    let Some(b) = Browser::launch() else { return };
    let gate = tempfile::tempdir().unwrap();
    let go = gate.path().join("go");
    let t = gated(&go);
    let s = Serve::start(t.path(), &[], &[]);
    let mut play = start_play(&t, "gated");
    let id = started(&t);
    let p = b.open(&format!("{}/runs/{id}", s.url));
    // The page shows the run in flight: `wait` running, its output so far.
    wait(&p, "document.documentElement.dataset.live === 'open'");
    wait(&p, "document.querySelector('[data-step=\"wait\"]').dataset.stepStatus === 'running'");
    wait(&p, "document.querySelector('pre.out[data-out=\"wait\"]').innerText.includes('waiting')");
    assert_ne!(p.eval::<String>("document.querySelector('.run').dataset.runStatus"), "passed");
    std::fs::write(&go, "").unwrap();
    // Without a reload, every step comes to its final status.
    wait(&p, "document.querySelector('.run').dataset.runStatus === 'passed'");
    let statuses: Vec<String> =
        p.eval("[...document.querySelectorAll('[data-step-status]')].map(e => e.dataset.stepStatus)");
    assert_eq!(statuses, ["passed"; 4]);
    let nodes: Vec<String> = p.eval("[...document.querySelectorAll('.dag .node')].map(e => e.dataset.status)");
    assert_eq!(nodes, ["passed"; 4]);
    // An edge per dependency (`needs`, and the order of a step without
    // them), from its step's node to the next one's, and every label fits.
    let mut edges: Vec<String> = p.eval(
        "[...document.querySelectorAll('.dag .edge')].map(e => `${e.dataset.from}>${e.dataset.to}:${e.dataset.kind}`)",
    );
    edges.sort();
    assert_eq!(edges, ["left>last:needs", "right>last:needs", "wait>left:order", "wait>right:needs"]);
    assert!(p.eval::<bool>(
        "[...document.querySelectorAll('.dag .edge')].every(e => {
            const box = id => document.querySelector(`.dag .node[data-node=\"${id}\"] rect`).getBBox();
            const a = box(e.dataset.from), b = box(e.dataset.to);
            const p0 = e.getPointAtLength(0), p1 = e.getPointAtLength(e.getTotalLength());
            return Math.abs(p0.x - (a.x + a.width)) < 1 && p0.y > a.y && p0.y < a.y + a.height
                && Math.abs(p1.x - b.x) < 1 && p1.y > b.y && p1.y < b.y + b.height;
        })"
    ));
    assert!(p.eval::<bool>(
        "[...document.querySelectorAll('.dag .node')].every(n =>
            n.querySelector('text').getComputedTextLength() <= n.querySelector('rect').getBBox().width - 12)"
    ));
    assert!(p.eval::<bool>(
        "[...document.querySelectorAll('.dag .edge')].every(e => e.classList.contains('from-st-passed'))"
    ));
    wait(&p, "document.querySelector('pre.out[data-out=\"wait\"]').innerText.includes('released')");
    assert_eq!(p.eval::<u64>("performance.getEntriesByType('navigation').length"), 1, "never reloaded");
    assert!(play.wait().unwrap().success());
}

#[test]
fn the_runs_list_updates_live_and_the_screenshots() {
    let Some(b) = Browser::launch() else { return };
    let gate = tempfile::tempdir().unwrap();
    let go = gate.path().join("go");
    let t = gated(&go)
        .runbook(
            "db-failover",
            r#"
            ---
            id: db-failover
            ---
            # Fail the database over

            ```bash {#replicas read}
            echo "replica-1 lag=0s"; echo "replica-2 lag=3s"
            ```

            ```bash {#freeze-writes needs=replicas}
            echo "writes frozen on the api"
            ```

            ```bash {#promote needs=replicas budget=5m escalate="call the DBA on duty (#db-oncall)"}
            echo "promoting replica-1"; echo "error: replica-1 is fenced" >&2; exit 1
            ```

            ```bash {#repoint needs=promote,freeze-writes}
            echo "kubectl -n {{ namespace }} set env deploy/api DB_HOST=replica-1"
            ```
            "#,
        )
        .runbook("smoke", "# Smoke\n\n```bash {#ping read}\necho pong\n```\n");
    let s = Serve::start(t.path(), &[], &[]);
    let p = b.open(&format!("{}/", s.url));
    wait(&p, "document.documentElement.dataset.live === 'open'");
    assert!(p.eval::<bool>("!!document.querySelector('.empty')"));
    for id in ["smoke", "db-failover"] {
        let out = t.command().args(["play", id, "--yes"]).output().unwrap();
        assert!(out.status.code().is_some());
    }
    wait(&p, "document.querySelectorAll('tr[data-run]').length === 2");
    let mut play = start_play(&t, "gated");
    // Running runs first.
    wait(
        &p,
        "document.querySelector('tr[data-run]').dataset.runStatus === 'running' \
         && document.querySelector('tr[data-run] td:nth-child(2)').innerText === 'gated'",
    );
    screenshot(&p, "serve-runs.png");
    let failed: String = p.eval("document.querySelector('tr[data-run-status=\"failed\"] a.run-link').href");
    let r = b.open(&failed);
    wait(&r, "document.documentElement.dataset.live === 'open'");
    assert!(r.eval::<String>("document.querySelector('.failures').innerText").contains("call the DBA on duty"));
    screenshot(&r, "serve-run.png");
    std::fs::write(&go, "").unwrap();
    wait(&p, "document.querySelector('tr[data-run]').dataset.runStatus === 'passed'");
    assert!(play.wait().unwrap().success());
}

#[test]
fn a_runbook_page_renders_as_in_the_wiki_with_the_env_selector_and_copy_buttons() {
    let Some(b) = Browser::launch() else { return };
    let t = Test::new().runbook(
        "pods",
        "---\nid: pods\n---\n# Pods\n\n```bash {#pods read}\nkubectl get pods -n {{ namespace }}\n```\n",
    );
    let s = Serve::start(t.path(), &[], &[]);
    let p = b.open(&format!("{}/runbooks/pods", s.url));
    wait(&p, "document.documentElement.dataset.runbookShown === 'devnet'");
    let shown = "[...document.querySelectorAll('pre:not([hidden]) code')].map(c => c.innerText).join('\\n')";
    assert!(p.eval::<String>(shown).contains("kubectl get pods -n animica-devnet"));
    p.select("select.runbook-env-select", "prod");
    wait(&p, "document.documentElement.dataset.runbookShown === 'prod'");
    assert!(p.eval::<String>(shown).contains("kubectl get pods -n animica"));
    assert!(p.eval::<bool>(
        "[...document.querySelectorAll('pre:not([hidden])')].every(p => p.querySelector('button.copy'))"
    ));
    p.click("pre:not([hidden]) button.copy");
    wait(&p, "document.querySelector('pre:not([hidden]) button.copy').dataset.copied === 'yes'");
}

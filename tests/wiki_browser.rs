//! The built wiki in a real browser (headless Chromium): the Animica
//! runbooks as a responder sees them — real values in the commands, the env
//! selector, conditions in words, symptoms before the machinery, copy
//! buttons that copy the selected env's command.
//!
//! `RUNBOOK_UPDATE_SCREENSHOTS=1 cargo test --test integration wiki_browser`
//! rewrites the screenshots in docs/ (README, docs/wiki.md); otherwise they
//! go to a temp dir, and are checked to be PNGs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::bin;
use crate::common::browser::{self, Browser, Page};

/// The repository's wiki (runbooks/, runbook.toml, book.toml, docs/wiki/),
/// built once into a temp dir by scripts/build-book; `None` without mdbook
/// (a notice), or a panic under CI=true.
fn wiki() -> Option<&'static Path> {
    static BOOK: OnceLock<Option<tempfile::TempDir>> = OnceLock::new();
    BOOK.get_or_init(|| {
        if !Command::new("mdbook").arg("--version").output().is_ok_and(|o| o.status.success()) {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "mdbook is not installed (.ci/run installs it)");
            eprintln!("notice: mdbook is not on PATH, skipping the wiki browser tests (CI installs it)");
            return None;
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        for f in ["book.toml", "runbook.toml"] {
            std::fs::copy(repo.join(f), dir.path().join(f)).unwrap();
        }
        for d in ["runbooks", "docs/wiki"] {
            copy_dir(&repo.join(d), &dir.path().join(d));
        }
        let out = Command::new("bash")
            .arg(repo.join("scripts/build-book"))
            .arg(dir.path())
            .env("RUNBOOK_BIN", bin())
            .env("RUNBOOK_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "build-book failed:\n{}", String::from_utf8_lossy(&out.stderr));
        Some(dir)
    })
    .as_ref()
    .map(|d| d.path())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// The browser and the wiki, or `None` when either is missing here.
fn setup() -> Option<(Browser, &'static Path)> {
    if !browser::available("the wiki browser tests") {
        return None;
    }
    let book = wiki()?;
    Some((Browser::launch()?, book))
}

fn open<'b>(b: &'b Browser, book: &Path, page: &str) -> Page<'b> {
    let p = b.open(&Browser::file_url(&book.join("book").join(page)));
    // The page script has run: it marks the env it shows.
    p.wait_for("document.documentElement.dataset.runbookShown");
    p
}

/// The command of a step as the page shows it (the visible twin).
fn command(p: &Page, step: &str) -> String {
    p.eval(&format!(
        "(document.querySelector('#step-{step} ~ pre.runbook-code:not([hidden]) code') || {{innerText: 'no visible code'}}).innerText"
    ))
}

/// The text of a step's header.
fn header(p: &Page, step: &str) -> String {
    p.eval(&format!("document.getElementById('step-{step}').innerText"))
}

fn switch(p: &Page, env: &str) {
    p.select("select.runbook-env-select", env);
    p.wait_for(&format!("document.documentElement.dataset.runbookShown === '{env}'"));
}

#[test]
fn head_stall_in_devnet_then_prod() {
    let Some((b, book)) = setup() else { return };
    let p = open(&b, book, "2.1-head-stall.html");
    assert_eq!(p.eval::<String>("document.documentElement.dataset.runbookShown"), "devnet", "the default env first");

    // Real devnet values in commands and requests.
    assert_eq!(command(&p, "pods"), "kubectl get pods -n animica-devnet -o wide");
    assert_eq!(command(&p, "node-logs"), "kubectl logs statefulset/animica-node -n animica-devnet --tail=200");
    assert_eq!(command(&p, "healthz"), "GET http://localhost:8545/healthz");
    assert_eq!(
        command(&p, "scale-miners"),
        "kubectl scale deploy/animica-miner -n animica-devnet --replicas=4\n\
         kubectl rollout status deploy/animica-miner -n animica-devnet --timeout=5m"
    );
    let visible: String =
        p.eval("[...document.querySelectorAll('pre:not([hidden]) code')].map(c => c.innerText).join('\\n')");
    assert!(!visible.contains("{{"), "a template left in a visible command:\n{visible}");

    // Conditions in words, the expression on hover.
    let h = header(&p, "lower-theta");
    assert!(h.contains("only on devnet, and only if the miner logs contain WorkExpired"), "{h}");
    let title: String = p.eval("document.querySelector('#step-lower-theta .runbook-when').title");
    assert_eq!(title, "when: env == 'devnet' and 'WorkExpired' in steps.miner-logs.stdout");
    assert!(header(&p, "scale-miners").contains("only if miner_ready (captured by miner-ready) is below 1"));
    assert!(header(&p, "healthz").contains("passes when the HTTP status is 200 and the body contains ok"));
    assert!(header(&p, "head-advancing").contains("passes when every series is above 0"));

    // The responder's order: title, summary, symptoms, then the folded machinery.
    let order: Vec<String> = p.eval(
        "[...document.querySelectorAll('main h1, main .runbook-summary, main h2, main details.runbook-machinery')]
            .map(e => e.tagName === 'H2' || e.tagName === 'H1' ? e.id : e.className).slice(0, 5)",
    );
    assert_eq!(
        order,
        [
            "21-head-not-advancing-block-production-stall",
            "runbook-summary",
            "symptoms",
            "runbook-machinery",
            "checklist"
        ]
    );
    assert!(!p.eval::<bool>("document.querySelector('details.runbook-machinery').open"), "the plan is folded");
    assert!(
        p.eval::<bool>("document.getElementById('symptoms').getBoundingClientRect().bottom < window.innerHeight"),
        "the symptoms are on the first screen"
    );

    // Prod: the selector switches every command, and says what is skipped.
    switch(&p, "prod");
    assert_eq!(command(&p, "pods"), "kubectl get pods -n animica -o wide");
    assert_eq!(command(&p, "healthz"), "GET http://animica-node-rpc.animica.svc:8545/healthz");
    assert!(header(&p, "lower-theta").contains("(skipped in prod)"), "{}", header(&p, "lower-theta"));
    assert!(!header(&p, "prod-escalate").contains("skipped"), "{}", header(&p, "prod-escalate"));
    let summary: String = p.eval("document.querySelector('.runbook-summary').innerText");
    assert!(summary.contains("runbook play 2.1-head-stall --env prod"), "{summary}");
    assert!(summary.contains("in prod, every change asks first"), "{summary}");

    // The copy button copies the command of the env shown.
    p.eval::<bool>(
        "document.addEventListener('copy', e => { window.copied = e.target.value ?? String(getSelection()); }); true",
    );
    let pre = "#step-pods ~ pre.runbook-code:not([hidden])";
    p.hover(pre);
    p.wait_for(&format!("getComputedStyle(document.querySelector('{pre} .buttons')).opacity === '1'"));
    p.click(&format!("{pre} .clip-button"));
    p.wait_for("window.copied !== undefined");
    assert_eq!(p.eval::<String>("window.copied"), "kubectl get pods -n animica -o wide");

    // The choice is kept across pages; a link can name the env.
    let again = open(&b, book, "2.1-head-stall.html");
    assert_eq!(command(&again, "pods"), "kubectl get pods -n animica -o wide");
    let linked = b.open(&format!("{}?env=devnet", Browser::file_url(&book.join("book/2.1-head-stall.html"))));
    linked.wait_for("document.documentElement.dataset.runbookShown === 'devnet'");
    assert_eq!(command(&linked, "pods"), "kubectl get pods -n animica-devnet -o wide");
}

#[test]
fn slo_gates_in_words_with_their_values() {
    let Some((b, book)) = setup() else { return };
    let p = open(&b, book, "7-slo-gates.html");
    let gates = [
        ("slo-head-lag", "passes when the p95 head lag is below 4 s", "value < 4"),
        ("slo-rpc-p99", "passes when the p99 rpc request duration is below 0.5 s", "value < 0.5"),
        ("slo-rpc-errors", "passes when the value is below 0.01", "value < 0.01"),
        ("slo-da-p-fail", "passes when every series is below 1e-6", "all(value < 1e-6)"),
        ("slo-aicf-sla", "passes when the result is empty, or the value is below 0.005", "empty or value < 0.005"),
    ];
    for env in ["devnet", "prod"] {
        if env == "prod" {
            switch(&p, "prod");
        }
        for (step, words, expr) in gates {
            assert!(header(&p, step).contains(words), "{env}: {}", header(&p, step));
            let title: String = p.eval(&format!("document.querySelector('#step-{step} .runbook-expect').title"));
            assert_eq!(title, format!("expect: {expr}"));
        }
        let summary: String = p.eval("document.querySelector('.runbook-summary').innerText");
        assert!(summary.contains(&format!("runbook play 7-slo-gates --env {env}")), "{summary}");
    }
    assert_eq!(
        command(&p, "slo-rpc-p99"),
        "histogram_quantile(0.99, sum by (le) (rate(animica_rpc_request_duration_seconds_bucket[5m])))"
    );
    // Long queries wrap instead of running off the right edge.
    p.resize(700, 900);
    p.wait_for("window.innerWidth === 700");
    let overflow: Vec<String> = p.eval(
        "[...document.querySelectorAll('pre.runbook-code:not([hidden]) code')]
            .filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText)",
    );
    assert!(overflow.is_empty(), "clipped: {overflow:?}");
}

/// With JavaScript off the page shows the default env: its commands, the
/// env's name instead of the selector, nothing of the other envs.
#[test]
fn readable_with_scripts_off() {
    let Some((b, book)) = setup() else { return };
    let p = b.open_without_scripts(&Browser::file_url(&book.join("book/2.1-head-stall.html")));
    assert!(p.eval::<bool>("document.documentElement.dataset.runbookShown === undefined"), "the page script ran");
    assert_eq!(command(&p, "pods"), "kubectl get pods -n animica-devnet -o wide");
    let hidden: Vec<String> = p.eval(
        "[...document.querySelectorAll('[data-runbook-env]')].filter(e => e.offsetParent !== null)
            .map(e => e.dataset.runbookEnv).filter(k => !k.split(' ').includes('devnet'))",
    );
    assert!(hidden.is_empty(), "another env's twins are shown: {hidden:?}");
    let line: String = p.eval("document.querySelector('.runbook-envs').innerText");
    assert!(line.starts_with("Commands and values for devnet (the default; the others: prod)"), "{line}");
    assert!(!p.eval::<bool>("document.querySelector('select.runbook-env-select').offsetParent !== null"));
}

/// The first screen of both pages, light (devnet, the default) and dark
/// (prod chosen in the selector).
#[test]
fn screenshots_light_and_dark() {
    let Some((b, book)) = setup() else { return };
    let update = std::env::var("RUNBOOK_UPDATE_SCREENSHOTS").as_deref() == Ok("1");
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf =
        if update { Path::new(env!("CARGO_MANIFEST_DIR")).join("docs") } else { tmp.path().to_path_buf() };
    for name in ["2.1-head-stall", "7-slo-gates"] {
        for (theme, shade, env) in [("light", "light", "devnet"), ("navy", "dark", "prod")] {
            let p = open(&b, book, &format!("{name}.html"));
            p.resize(1280, 1000);
            p.click("#mdbook-theme-toggle");
            p.wait_for("document.getElementById('mdbook-theme-list').style.display === 'block'");
            p.click(&format!("#mdbook-theme-{theme}"));
            p.wait_for(&format!("document.documentElement.classList.contains('{theme}')"));
            if p.eval::<bool>("document.getElementById('mdbook-theme-list').style.display === 'block'") {
                p.click("#mdbook-theme-toggle");
                p.wait_for("document.getElementById('mdbook-theme-list').style.display !== 'block'");
            }
            switch(&p, env);
            p.eval::<bool>("document.activeElement.blur(), true");
            // Theme colours change with a CSS transition: wait until it is over.
            p.wait_for("document.getAnimations().length === 0");
            let file = dir.join(format!("wiki-{name}-{shade}.png"));
            p.screenshot(&file, false);
            let png = std::fs::read(&file).unwrap();
            assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{}: not a screenshot", file.display());
        }
    }
}

#[test]
fn placeholders_stay_marked_after_highlighting() {
    let Some((b, book)) = setup() else { return };
    let p = open(&b, book, "2.3-p2p-partition.html");
    let pre = "#step-ban-peer ~ pre.runbook-code:not([hidden])";
    // highlight.js has run over the block (it adds `hljs`), and kept the mark.
    p.wait_for(&format!("document.querySelector('{pre} code').classList.contains('hljs')"));
    let mark: String = p.eval(&format!("document.querySelector('{pre} code .runbook-ph').innerText"));
    assert_eq!(mark, "<suspect_peer from handshake-peers>");
    let title: String = p.eval(&format!("document.querySelector('{pre} code .runbook-ph').title"));
    assert_eq!(title, "captured by step handshake-peers during the play");
    assert!(
        command(&p, "ban-peer")
            .starts_with("python -m p2p.cli.peer ban --peer <suspect_peer from handshake-peers> --minutes ")
    );
    assert!(header(&p, "ban-peer").contains("only if suspect_peer (captured by handshake-peers) is set"));
}

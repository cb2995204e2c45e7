//! A real browser for the tests: headless Chromium (Debian's `chromium`)
//! driven over the DevTools protocol by `chromiumoxide`, behind a small
//! synchronous API.
//!
//! ```ignore
//! let Some(browser) = Browser::launch() else { return };   // a notice when chromium is missing
//! let page = browser.open("file:///…/2.1-head-stall.html");
//! page.wait_for("document.documentElement.dataset.runbookEnv === 'devnet'");
//! page.select("select.runbook-env-select", "prod");
//! page.hover("pre"); page.click("pre .clip-button");
//! let text: String = page.eval("document.querySelector('pre:not([hidden]) code').innerText");
//! page.screenshot(Path::new("shot.png"), false);
//! let plain = browser.open_without_scripts(&url);                // JavaScript off
//! ```
//!
//! Tests wait for page state (a JS expression turning true), never for time:
//! `wait_for` checks the expression on every animation frame inside the page
//! and fails, with the expression, after [`WAIT_LIMIT`]. Chromium runs with a
//! fresh profile and without its background networking, which would
//! otherwise flood a closed network with update and sync requests. Without
//! chromium the tests print a notice and pass; under `CI=true` they fail
//! (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chromiumoxide::browser::{Browser as CdpBrowser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::{
    SetDeviceMetricsOverrideParams, SetScriptExecutionDisabledParams,
};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::page::ScreenshotParams;
use futures::StreamExt;
use serde::de::DeserializeOwned;

/// How long `wait_for` lets a condition take before it fails the test.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// Chromium's flags besides `--headless` (the default), `--no-sandbox` and `--user-data-dir`
/// (without the `--`): no GPU, and none of the background traffic.
const FLAGS: &[&str] = &[
    "disable-gpu",
    "disable-quic",
    "no-first-run",
    "disable-background-networking",
    "disable-component-update",
    "disable-sync",
];

/// The Chromium binary: `$CHROMIUM`, else Debian's.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.is_file().then_some(path)
}

/// `true` when the browser tests can run; otherwise prints a notice, or
/// panics under `CI=true`, where a missing browser is a broken setup.
pub fn available(what: &str) -> bool {
    if chromium().is_some() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("chromium is not installed (/usr/bin/chromium or $CHROMIUM): .ci/run installs it; needed for {what}");
    }
    eprintln!("notice: chromium is not installed, skipping {what} (.ci/run installs it: apt-get install chromium)");
    false
}

pub struct Browser {
    rt: tokio::runtime::Runtime,
    browser: Option<CdpBrowser>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A headless Chromium with a fresh profile, or `None` (after
    /// [`available`]'s notice) when there is none.
    pub fn launch() -> Option<Browser> {
        if !available("the browser tests") {
            return None;
        }
        let exe = chromium()?;
        let profile = tempfile::tempdir().expect("a temp dir for the browser profile");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime for the browser");
        let config = BrowserConfig::builder()
            .chrome_executable(exe)
            .no_sandbox()
            .disable_default_args()
            .args(FLAGS.iter().copied())
            .user_data_dir(profile.path())
            .window_size(1280, 1000)
            .viewport(None)
            .launch_timeout(WAIT_LIMIT)
            .request_timeout(WAIT_LIMIT)
            .build()
            .expect("a browser config");
        let browser = rt.block_on(async {
            let (browser, mut handler) = CdpBrowser::launch(config).await.expect("chromium starts");
            // The protocol's messages are read as long as the browser lives.
            tokio::spawn(async move { while handler.next().await.is_some() {} });
            browser
        });
        Some(Browser { rt, browser: Some(browser), _profile: profile })
    }

    /// A new tab on `url`, once it has loaded.
    pub fn open(&self, url: &str) -> Page<'_> {
        let browser = self.browser.as_ref().expect("a running browser");
        let page = self.rt.block_on(async {
            let page = browser.new_page(url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
            page.wait_for_navigation().await.unwrap_or_else(|e| panic!("{url} does not load: {e}"));
            page
        });
        let page = Page { browser: self, page };
        page.wait_for("document.readyState === 'complete'");
        page
    }

    /// A new tab on `url` with the page's own scripts off (what a reader
    /// with JavaScript disabled sees); `eval` and `wait_for` still work.
    pub fn open_without_scripts(&self, url: &str) -> Page<'_> {
        let browser = self.browser.as_ref().expect("a running browser");
        let page = self.rt.block_on(async {
            let page = browser.new_page("about:blank").await.expect("a blank tab");
            page.execute(SetScriptExecutionDisabledParams::new(true)).await.expect("scripts off");
            page.goto(url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
            page
        });
        let page = Page { browser: self, page };
        page.wait_for("document.readyState === 'complete'");
        page
    }

    /// The URL of a local file.
    pub fn file_url(path: &Path) -> String {
        format!("file://{}", path.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", path.display())).display())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(mut b) = self.browser.take() {
            self.rt.block_on(async {
                let _ = b.close().await;
                let _ = b.wait().await;
            });
        }
    }
}

pub struct Page<'b> {
    browser: &'b Browser,
    page: chromiumoxide::Page,
}

impl Page<'_> {
    fn block<T>(&self, f: impl Future<Output = T>) -> T {
        self.browser.rt.block_on(f)
    }

    /// The value of a JS expression (awaited if it is a promise).
    pub fn eval<T: DeserializeOwned>(&self, js: &str) -> T {
        let params = EvaluateParams::builder()
            .expression(js)
            .await_promise(true)
            .return_by_value(true)
            .build()
            .expect("evaluate params");
        let result = self
            .block(self.page.evaluate_expression(params))
            .unwrap_or_else(|e| panic!("evaluating `{js}` failed: {e}"));
        result.into_value().unwrap_or_else(|e| panic!("`{js}` returned an unexpected value: {e}"))
    }

    /// Wait until a JS expression is true (checked on every animation frame
    /// in the page); fail the test after [`WAIT_LIMIT`].
    pub fn wait_for(&self, js: &str) {
        let ms = WAIT_LIMIT.as_millis();
        let src = serde_json::to_string(js).expect("a JS string");
        let waiter = format!(
            "new Promise((resolve) => {{
                const t0 = performance.now();
                const check = () => {{
                    let ok = false;
                    try {{ ok = !!(eval({src})); }} catch (e) {{}}
                    if (ok) resolve(true);
                    else if (performance.now() - t0 > {ms}) resolve(false);
                    else requestAnimationFrame(check);
                }};
                check();
            }})"
        );
        let ok: bool = self.eval(&waiter);
        assert!(ok, "waited {WAIT_LIMIT:?} for `{js}` in {}", self.url());
    }

    pub fn url(&self) -> String {
        self.block(self.page.url()).ok().flatten().unwrap_or_default()
    }

    /// Click an element as a user does (mouse events at its centre).
    pub fn click(&self, selector: &str) {
        self.block(async {
            let el = self.page.find_element(selector).await.unwrap_or_else(|e| panic!("no `{selector}`: {e}"));
            el.click().await.unwrap_or_else(|e| panic!("cannot click `{selector}`: {e}"));
        });
    }

    /// Move the mouse over an element (what `:hover` styles and menus need).
    pub fn hover(&self, selector: &str) {
        self.block(async {
            let el = self.page.find_element(selector).await.unwrap_or_else(|e| panic!("no `{selector}`: {e}"));
            el.scroll_into_view().await.unwrap_or_else(|e| panic!("cannot scroll to `{selector}`: {e}"));
            let point = el.clickable_point().await.unwrap_or_else(|e| panic!("`{selector}` has no box: {e}"));
            self.page.move_mouse(point).await.unwrap_or_else(|e| panic!("cannot hover `{selector}`: {e}"));
        });
    }

    /// Choose an option of a `<select>`, as a user's choice does: the value
    /// changes and `change` fires.
    pub fn select(&self, selector: &str, value: &str) {
        let (sel, val) = (serde_json::to_string(selector).unwrap(), serde_json::to_string(value).unwrap());
        let found: bool = self.eval(&format!(
            "(() => {{ const s = document.querySelector({sel}); if (!s || s.hidden) return false;
               s.focus(); s.value = {val}; s.dispatchEvent(new Event('input', {{bubbles: true}}));
               s.dispatchEvent(new Event('change', {{bubbles: true}})); return s.value === {val}; }})()"
        ));
        assert!(found, "no visible `{selector}` with an option `{value}`");
    }

    /// The viewport size (CSS pixels).
    pub fn resize(&self, width: u32, height: u32) {
        let params = SetDeviceMetricsOverrideParams::new(i64::from(width), i64::from(height), 1.0, false);
        self.block(self.page.execute(params)).expect("resize the viewport");
    }

    /// A PNG of the viewport (or the whole page) into `path`.
    pub fn screenshot(&self, path: &Path, full_page: bool) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        let params = ScreenshotParams::builder().full_page(full_page).build();
        self.block(self.page.save_screenshot(params, path))
            .unwrap_or_else(|e| panic!("screenshot {}: {e}", path.display()));
    }
}

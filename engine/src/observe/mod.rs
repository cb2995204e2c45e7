//! Observability steps (issue 6): `promql`, `logql` and `http` blocks turn
//! "open the dashboard and look" into gates that pass or fail.
//!
//! A query step's body is the query (or the request), its output is a small
//! table (or the matched lines, or the response), and its `expect` is a
//! condition over the result in the grammar of [`expect`]. The servers come
//! from the variables (`prometheus`/`prometheus_url`, `loki`/`loki_url`,
//! `grafana`/`grafana_url`) or `RUNBOOK_PROMETHEUS_URL` / `RUNBOOK_LOKI_URL`
//! (see [`Servers::resolve`]). A rehearsal answers from the fixture's
//! `[[scenario.query]]` tables instead ([`fixture`]), through the same
//! [`Backend`] seam. Alertmanager payloads for `--from-alert` are in
//! [`alert`]; report links in [`link`]. User documentation:
//! docs/observability.md.

pub mod alert;
pub mod check;
pub mod expect;
pub mod fixture;
pub mod http;
pub mod link;
pub mod loki;
pub mod net;
pub mod prom;
pub mod report;

use std::sync::Arc;
use std::time::Duration;

use expect::{Data, Expect, Target};
use prom::{QueryResult, Range};

/// Timeout of a query step without `timeout=`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Window of a logql step without `range=`.
pub const DEFAULT_LOG_RANGE: Duration = Duration::from_secs(3600);

pub use crate::model::QueryKind;

impl QueryKind {
    /// What an `expect` condition of this kind reads.
    pub fn target(self) -> Target {
        match self {
            QueryKind::Promql => Target::Query,
            QueryKind::Logql => Target::Logs,
            QueryKind::Http => Target::Http,
        }
    }
}

/// Where the queries go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Servers {
    pub prometheus: Option<String>,
    pub loki: Option<String>,
    /// For Explore links of logql steps.
    pub grafana: Option<String>,
    /// The Grafana datasource name of Loki (`loki_datasource`, default `loki`).
    pub loki_datasource: String,
}

impl Servers {
    /// Resolve the servers: a `--set prometheus=…` (or `prometheus_url`)
    /// wins, then `RUNBOOK_PROMETHEUS_URL`, then the env profile or front
    /// matter value; Loki and Grafana likewise.
    pub fn resolve(vars: &crate::vars::Resolved, getenv: &dyn Fn(&str) -> Option<String>) -> Servers {
        use crate::vars::{GRAFANA, LOKI, LOKI_DATASOURCE, PROMETHEUS, ServerVars};
        let pick = |server: &ServerVars| -> Option<String> {
            let var = |set_only: bool| {
                server.vars.iter().find_map(|k| {
                    let origin = vars.origin.get(*k);
                    let ok = !set_only || matches!(origin, Some(crate::vars::Origin::Set));
                    vars.vars.get(*k).filter(|_| ok).map(crate::vars::as_text).filter(|s| !s.trim().is_empty())
                })
            };
            var(true).or_else(|| getenv(server.env).filter(|s| !s.trim().is_empty())).or_else(|| var(false))
        };
        Servers {
            prometheus: pick(&PROMETHEUS),
            loki: pick(&LOKI),
            grafana: pick(&GRAFANA),
            loki_datasource: pick(&LOKI_DATASOURCE).unwrap_or_else(|| "loki".into()),
        }
    }

    fn need(&self, kind: QueryKind) -> Result<&str, String> {
        let (v, server) = match kind {
            QueryKind::Promql => (&self.prometheus, crate::vars::PROMETHEUS),
            _ => (&self.loki, crate::vars::LOKI),
        };
        let (key, env) = (server.vars[0], server.env);
        v.as_deref().ok_or_else(|| {
            format!("no {} server: set `{key} = \"http://…\"` in the [env.NAME] table of runbook.toml, pass --set {key}=http://…, or export {env}", kind.name())
        })
    }
}

/// One execution of a query step.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    pub kind: QueryKind,
    /// The rendered body: the query, or the request.
    pub text: &'a str,
    /// `range=`: a range query over this window ending now.
    pub range: Option<Duration>,
    /// `step=`: resolution of a range query.
    pub step: Option<Duration>,
    pub timeout: Duration,
}

/// What a query step saw.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The step's stdout: the table, the lines, or the response.
    pub output: String,
    /// What `capture=` stores.
    pub capture: String,
    /// What `expect` looks at.
    pub data: Data,
}

/// Answers queries: real servers, or a rehearsal's fixtures.
pub trait Backend: Send + Sync {
    fn prometheus(
        &self,
        servers: &Servers,
        expr: &str,
        range: Option<Range>,
        timeout: Duration,
    ) -> Result<QueryResult, String>;
    fn loki(&self, servers: &Servers, expr: &str, range: Range, timeout: Duration) -> Result<QueryResult, String>;
    fn http(&self, req: &http::Request, timeout: Duration) -> Result<http::Response, String>;
}

/// The real servers, over HTTP.
pub struct Live;

impl Backend for Live {
    fn prometheus(
        &self,
        s: &Servers,
        expr: &str,
        range: Option<Range>,
        timeout: Duration,
    ) -> Result<QueryResult, String> {
        prom::query(s.need(QueryKind::Promql)?, expr, range, timeout)
    }

    fn loki(&self, s: &Servers, expr: &str, range: Range, timeout: Duration) -> Result<QueryResult, String> {
        loki::query(s.need(QueryKind::Logql)?, expr, range, timeout)
    }

    fn http(&self, req: &http::Request, timeout: Duration) -> Result<http::Response, String> {
        http::send(req, timeout)
    }
}

/// A rehearsal's answers: the scenario's `[[scenario.query]]` tables.
pub struct Fixtures(pub Arc<Vec<fixture::Query>>);

impl Fixtures {
    fn find(&self, kind: QueryKind, text: &str) -> Result<fixture::Canned, String> {
        match self.0.iter().find(|q| q.matches(kind, text)) {
            Some(q) => Ok(q.answer()),
            None => Err(format!("no fixture for {}: {}", kind.name(), fixture::normalize(text))),
        }
    }

    fn result(&self, kind: QueryKind, text: &str) -> Result<QueryResult, String> {
        match self.find(kind, text)? {
            fixture::Canned::Result(r) => Ok(r),
            fixture::Canned::Error(e) => Err(format!("{e} (fixture)")),
            fixture::Canned::Http(_) => Err("internal: http answer for a query".into()),
        }
    }
}

impl Backend for Fixtures {
    fn prometheus(&self, _: &Servers, expr: &str, _: Option<Range>, _: Duration) -> Result<QueryResult, String> {
        self.result(QueryKind::Promql, expr)
    }

    fn loki(&self, _: &Servers, expr: &str, _: Range, _: Duration) -> Result<QueryResult, String> {
        self.result(QueryKind::Logql, expr)
    }

    fn http(&self, req: &http::Request, _: Duration) -> Result<http::Response, String> {
        match self.find(QueryKind::Http, &fixture::http_key(req))? {
            fixture::Canned::Http(r) => Ok(r),
            fixture::Canned::Error(e) => Err(format!("{} {}: {e} (fixture)", req.method, req.url)),
            fixture::Canned::Result(_) => Err("internal: query answer for an http step".into()),
        }
    }
}

/// Run one query step once (blocking: call it off the async runtime).
pub fn run(backend: &dyn Backend, servers: &Servers, spec: &Spec) -> Result<Answer, String> {
    match spec.kind {
        QueryKind::Promql => {
            let range = spec.range.map(|r| Range::ending_now(r, spec.step));
            let r = backend.prometheus(servers, spec.text.trim(), range, spec.timeout)?;
            Ok(Answer { output: r.table(), capture: r.capture(), data: r.data() })
        }
        QueryKind::Logql => {
            let range = Range::ending_now(spec.range.unwrap_or(DEFAULT_LOG_RANGE), spec.step);
            let r = backend.loki(servers, spec.text.trim(), range, spec.timeout)?;
            Ok(Answer { output: loki::render(&r), capture: loki::capture(&r), data: loki::data(&r) })
        }
        QueryKind::Http => {
            let req = http::parse(spec.text).map_err(|e| format!("{} ({})", e.message, e.hint))?;
            let r = backend.http(&req, spec.timeout)?;
            Ok(Answer { output: r.render(), capture: r.body.trim().to_string(), data: r.data() })
        }
    }
}

/// Judge an answer: `Err(reason)` when `expect` is false or cannot apply.
/// Without `expect`, an http step passes on a 2xx/3xx status only (like
/// `curl -f`), a query step on any answer.
pub fn judge(kind: QueryKind, expect: Option<&Expect>, a: &Answer) -> Result<String, String> {
    match expect {
        Some(e) => match e.eval(&a.data) {
            Ok(v) if v.ok => Ok(format!("expect `{}` holds ({})", e.src, v.seen)),
            Ok(v) => Err(format!("expect `{}` is false ({})", e.src, v.seen)),
            Err(why) => Err(format!("expect `{}`: {why}", e.src)),
        },
        None if kind == QueryKind::Http => match a.data.status {
            Some(s) if s < 400 => Ok(format!("HTTP {s}")),
            Some(s) => Err(format!("HTTP {s} (add expect=\"status == {s}\" if that is the answer you want)")),
            None => Err("no HTTP status".into()),
        },
        None => Ok(String::new()),
    }
}

/// Static checks of a query step for `check` (before any rendering): the
/// `expect` grammar (templates stand in as numbers) and, for http, the
/// request's shape. `Err((0-based line offset in the body or None for the
/// attribute line, message, hint))`.
pub fn lint(kind: QueryKind, body: &str, expect: Option<&str>) -> Vec<(Option<usize>, String, String)> {
    let mut out = Vec::new();
    if let Some(x) = expect
        && let Err(e) = expect::check_template(x, kind.target())
    {
        out.push((
            None,
            format!("expect=\"{x}\": {e}"),
            "see docs/observability.md: e.g. expect=\"value < 0.01\", \"all(value >= 3)\", \"empty\", \"status == 200\"".into(),
        ));
    }
    if kind == QueryKind::Http && !body.contains("{%") {
        // A template may stand for a whole URL: check the shape with a stand-in.
        let probe = body.replace("{{", "").replace("}}", "");
        let probe = if probe.contains("://") || !body.contains("{{") { probe } else { String::new() };
        if !probe.is_empty()
            && let Err(e) = http::parse(&probe)
            && !body.lines().nth(e.line).is_some_and(|l| l.contains("{{"))
        {
            out.push((Some(e.line), e.message, e.hint));
        }
    }
    if body.trim().is_empty() {
        out.push((Some(0), format!("empty {} step", kind.name()), "write the query in the block".into()));
    }
    out
}

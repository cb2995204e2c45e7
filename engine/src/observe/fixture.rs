//! `[[scenario.query]]`: canned answers for promql, logql and http steps in
//! a rehearsal, so `check` covers the gates with no server.
//!
//! ```toml
//! [[scenario.query]]
//! kind = "promql"                          # promql | logql | http
//! match = "sum(rate(animica_rpc_requests_total*"   # glob on the rendered query
//! value = "0.004"                          # one unlabeled sample
//! # rows = [{ labels = { instance = "a" }, value = "3" }]
//! # lines = ["ERROR …"]                    (logql)
//! # status = 200, body = "ok"              (http; `match` is on "METHOD URL")
//! # error = "bad_data: parse error"        (the server rejects the query)
//! # sequence = [{ status = 503 }, { status = 200 }]   successive answers, the last repeats
//! ```
//!
//! The query text is matched with runs of whitespace collapsed to one space,
//! so a multi-line query is matched as one line. In `match`, only `*` (any
//! text) and `?` (one character) are wildcards, `\*` and `\?` are literal:
//! PromQL and LogQL are full of `{…}` and `[…]`, which stay literal here
//! (unlike a stub's `cmd` glob).

use std::collections::BTreeMap;
use std::ops::Range as Span;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use toml::Spanned;

use super::QueryKind;
use super::http::{Request, Response};
use super::prom::{Kind, QueryResult, Series};
use crate::error::Diagnostic;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuery {
    kind: Spanned<String>,
    #[serde(rename = "match")]
    pattern: Spanned<String>,
    value: Option<String>,
    rows: Option<Vec<RawRow>>,
    lines: Option<Vec<String>>,
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
    sequence: Option<Vec<RawAnswer>>,
}

impl RawQuery {
    fn answer(&self) -> RawAnswer {
        RawAnswer {
            value: self.value.clone(),
            rows: self.rows.clone(),
            lines: self.lines.clone(),
            status: self.status,
            body: self.body.clone(),
            error: self.error.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnswer {
    value: Option<String>,
    rows: Option<Vec<RawRow>>,
    lines: Option<Vec<String>>,
    status: Option<u16>,
    body: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRow {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    value: String,
}

/// One canned answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Canned {
    Result(QueryResult),
    Http(Response),
    Error(String),
}

/// A compiled `[[scenario.query]]`.
#[derive(Debug, Clone)]
pub struct Query {
    pub kind: QueryKind,
    pub pattern: String,
    pub line: usize,
    regex: regex::bytes::Regex,
    answers: Vec<Canned>,
    calls: Arc<AtomicUsize>,
}

impl Query {
    pub fn matches(&self, kind: QueryKind, text: &str) -> bool {
        self.kind == kind && self.regex.is_match(normalize(text).as_bytes())
    }

    /// The next answer (the last one repeats).
    pub fn answer(&self) -> Canned {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        self.answers[n.min(self.answers.len() - 1)].clone()
    }

    /// The same query with its own call counter (each rehearsal starts its
    /// `sequence` from the first answer).
    pub fn fresh(&self) -> Query {
        Query { calls: Arc::new(AtomicUsize::new(0)), ..self.clone() }
    }

    pub fn used(&self) -> bool {
        self.calls.load(Ordering::SeqCst) > 0
    }

    /// Whether an answer is still the scaffold's http `body` or logql
    /// `lines` ([`crate::rehearse::todo`]; its promql value is told by the
    /// comment, in the fixture's text).
    pub fn is_todo(&self) -> bool {
        use crate::rehearse::todo::is_text;
        self.answers.iter().any(|a| match a {
            Canned::Http(r) => is_text(&r.body),
            Canned::Result(r) if r.kind == Kind::Streams => {
                matches!(&r.series[..], [s] if matches!(&s.samples[..], [(_, l)] if is_text(l)))
            }
            _ => false,
        })
    }
}

/// Whitespace runs → one space, trimmed: what `match` is matched against.
pub fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `*` and `?` wildcards (`\*`, `\?` literal), everything else literal.
fn wildcards(pattern: &str) -> String {
    let mut re = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '\\' => match chars.next() {
                Some(n) => re.push_str(&regex::escape(&n.to_string())),
                None => re.push_str(&regex::escape("\\")),
            },
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    re
}

/// What `match` of an http query is matched against.
pub fn http_key(r: &Request) -> String {
    format!("{} {}", r.method, r.url)
}

const HINT: &str = "[[scenario.query]] kind = \"promql\"|\"logql\"|\"http\", match = \"<glob>\", and one of value, rows, lines, status/body, error, sequence (docs/observability.md)";

/// Compile the `[[scenario.query]]` tables of a scenario; problems go to
/// `errors` with the fixture's line (`line` maps a byte span to a line).
pub fn compile(
    path: &Path,
    raw: Vec<Spanned<RawQuery>>,
    line: &dyn Fn(Span<usize>) -> usize,
    errors: &mut Vec<Diagnostic>,
) -> Vec<Query> {
    let mut out = Vec::new();
    for q in raw {
        let at = line(q.span());
        let q = q.into_inner();
        let kind = match q.kind.get_ref().as_str() {
            "promql" => QueryKind::Promql,
            "logql" => QueryKind::Logql,
            "http" => QueryKind::Http,
            other => {
                errors.push(
                    Diagnostic::error("fixture", format!("query kind = \"{other}\": not promql, logql or http"))
                        .at(path, line(q.kind.span()))
                        .hint(HINT),
                );
                continue;
            }
        };
        let pattern = q.pattern.get_ref().clone();
        let regex = match regex::bytes::Regex::new(&wildcards(&normalize(&pattern))) {
            Ok(r) => r,
            Err(e) => {
                errors.push(
                    Diagnostic::error("fixture", format!("query match `{pattern}`: {e}"))
                        .at(path, line(q.pattern.span())),
                );
                continue;
            }
        };
        let single = q.answer();
        let raws = match (&q.sequence, is_empty(&single)) {
            (Some(seq), true) if !seq.is_empty() => seq.clone(),
            (Some(_), true) => {
                errors.push(Diagnostic::error("fixture", "empty `sequence`").at(path, at).hint(HINT));
                continue;
            }
            (Some(_), false) => {
                errors.push(
                    Diagnostic::error("fixture", "a query has either `sequence` or an answer, not both")
                        .at(path, at)
                        .hint("move the answer into the entries of `sequence`"),
                );
                continue;
            }
            (None, _) => vec![single],
        };
        let mut answers = Vec::new();
        for a in &raws {
            match canned(kind, a) {
                Ok(c) => answers.push(c),
                Err(m) => errors.push(Diagnostic::error("fixture", m).at(path, at).hint(HINT)),
            }
        }
        if answers.len() == raws.len() {
            out.push(Query { kind, pattern, line: at, regex, answers, calls: Arc::new(AtomicUsize::new(0)) });
        }
    }
    out
}

fn is_empty(a: &RawAnswer) -> bool {
    a.value.is_none()
        && a.rows.is_none()
        && a.lines.is_none()
        && a.status.is_none()
        && a.body.is_none()
        && a.error.is_none()
}

fn canned(kind: QueryKind, a: &RawAnswer) -> Result<Canned, String> {
    let given: Vec<&str> = [
        ("value", a.value.is_some()),
        ("rows", a.rows.is_some()),
        ("lines", a.lines.is_some()),
        ("status", a.status.is_some()),
        ("body", a.body.is_some()),
        ("error", a.error.is_some()),
    ]
    .into_iter()
    .filter(|(_, g)| *g)
    .map(|(k, _)| k)
    .collect();
    if let Some(e) = &a.error {
        if given.len() > 1 {
            return Err(format!("`error` stands alone (also given: {})", given.join(", ")));
        }
        return Ok(Canned::Error(e.clone()));
    }
    let wrong = |allowed: &[&str]| given.iter().find(|g| !allowed.contains(g)).map(|g| g.to_string());
    match kind {
        QueryKind::Http => {
            if let Some(g) = wrong(&["status", "body"]) {
                return Err(format!("an http query answers `status` and `body`, not `{g}`"));
            }
            let status = a.status.unwrap_or(200);
            let reason = ureq::http::StatusCode::from_u16(status)
                .map_err(|_| format!("status = {status}: not an HTTP status"))?
                .canonical_reason()
                .unwrap_or_default()
                .to_string();
            Ok(Canned::Http(Response { status, reason, body: a.body.clone().unwrap_or_default() }))
        }
        QueryKind::Promql | QueryKind::Logql => {
            if let Some(g) = wrong(&["value", "rows", "lines"]) {
                return Err(format!("a {} query answers value, rows or lines, not `{g}`", kind.name()));
            }
            if given.len() > 1 {
                return Err(format!("give one of value, rows or lines (got {})", given.join(", ")));
            }
            let series =
                |labels: BTreeMap<String, String>, v: &str| Series { labels, samples: vec![(0.0, v.to_string())] };
            let check = |v: &str| match super::expect::parse_number(v) {
                Some(_) => Ok(()),
                None => Err(format!("value = \"{v}\" is not a number (write \"0.004\", \"1e-6\", \"NaN\")")),
            };
            if let Some(v) = &a.value {
                check(v)?;
                return Ok(Canned::Result(QueryResult {
                    kind: Kind::Vector,
                    series: vec![series(BTreeMap::new(), v)],
                    warnings: vec![],
                }));
            }
            if let Some(rows) = &a.rows {
                let mut s = Vec::new();
                for r in rows {
                    check(&r.value)?;
                    s.push(series(r.labels.clone(), &r.value));
                }
                return Ok(Canned::Result(QueryResult { kind: Kind::Vector, series: s, warnings: vec![] }));
            }
            if let Some(lines) = &a.lines {
                if kind == QueryKind::Promql {
                    return Err("a promql query answers value or rows, not `lines`".into());
                }
                let samples = lines.iter().map(|l| (0.0, l.clone())).collect();
                return Ok(Canned::Result(QueryResult {
                    kind: Kind::Streams,
                    series: vec![Series { labels: BTreeMap::new(), samples }],
                    warnings: vec![],
                }));
            }
            // No answer at all: the empty result ("no data").
            let k = if kind == QueryKind::Logql { Kind::Streams } else { Kind::Vector };
            Ok(Canned::Result(QueryResult { kind: k, series: vec![], warnings: vec![] }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct F {
        query: Vec<Spanned<RawQuery>>,
    }

    fn compile_str(t: &str) -> (Vec<Query>, Vec<Diagnostic>) {
        let f: F = toml::from_str(t).unwrap();
        let mut errors = Vec::new();
        let idx = crate::parse::LineIndex::new(t);
        let q = compile(Path::new("f.toml"), f.query, &|s: Span<usize>| idx.line(s.start), &mut errors);
        (q, errors)
    }

    #[test]
    fn answers_and_matching() {
        let (q, e) = compile_str(
            r#"
[[query]]
kind = "promql"
match = "sum(rate(x*"
value = "0.004"
[[query]]
kind = "http"
match = "GET http://*/healthz"
sequence = [{ status = 503 }, { status = 200, body = "ok" }]
"#,
        );
        assert!(e.is_empty(), "{e:?}");
        assert!(q[0].matches(QueryKind::Promql, "sum(rate(x[5m]))\n  / 2"));
        assert!(!q[0].matches(QueryKind::Logql, "sum(rate(x[5m]))"));
        assert!(matches!(q[1].answer(), Canned::Http(Response { status: 503, .. })));
        assert!(matches!(q[1].answer(), Canned::Http(Response { status: 200, .. })));
        assert!(matches!(q[1].answer(), Canned::Http(Response { status: 200, .. })));
    }

    #[test]
    fn mistakes_have_lines() {
        let (_, e) = compile_str(
            "[[query]]\nkind = \"sql\"\nmatch = \"x\"\n\n[[query]]\nkind = \"promql\"\nmatch = \"y\"\nvalue = \"abc\"\n",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].line, Some(2));
        assert!(e[1].message.contains("not a number"), "{e:?}");
        let (_, e) = compile_str("[[query]]\nkind = \"http\"\nmatch = \"x\"\nvalue = \"1\"\n");
        assert!(e[0].message.contains("status` and `body"), "{e:?}");
    }
}

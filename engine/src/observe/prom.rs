//! Prometheus' HTTP API (`/api/v1/query`, `/api/v1/query_range`) and the
//! result model shared with Loki's metric queries.
//!
//! Every way a server can answer badly becomes one clear line: unreachable,
//! an HTML page (a login proxy), a 500 without JSON, and Prometheus' own
//! `{"status":"error","errorType":…,"error":…}` (a malformed PromQL query),
//! which is shown as Prometheus wrote it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;

use super::expect::{Data, Row, parse_number};
use super::net::{self, Reply};

/// The kind of a query result (`data.resultType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Vector,
    Matrix,
    Scalar,
    String,
    Streams,
}

/// One series: its labels and samples `(unix seconds, value as written)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(f64, String)>,
}

/// A query result, as rows a person (the table) and `expect` can read.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub kind: Kind,
    pub series: Vec<Series>,
    pub warnings: Vec<String>,
}

/// A time window for `query_range`.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub start: f64,
    pub end: f64,
    pub step: Duration,
}

impl Range {
    /// The window of length `range` ending now; `step` defaults to 1/60 of
    /// the range (at least 1s), so a graph has about 60 points.
    pub fn ending_now(range: Duration, step: Option<Duration>) -> Range {
        let end = now();
        let step = step.unwrap_or_else(|| Duration::from_secs((range.as_secs() / 60).max(1)));
        Range { start: end - range.as_secs_f64(), end, step }
    }
}

pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Run a PromQL query against the server at `base`.
pub fn query(base: &str, expr: &str, range: Option<Range>, timeout: Duration) -> Result<QueryResult, String> {
    let base = base.trim_end_matches('/');
    let what = format!("Prometheus at {base}");
    let t = format!("{}s", timeout.as_secs().max(1));
    let reply = match range {
        None => net::send(
            &what,
            "GET",
            &format!("{base}/api/v1/query"),
            &[("query", expr), ("timeout", &t)],
            &[],
            None,
            timeout,
        )?,
        Some(r) => {
            let (s, e, st) = (format!("{:.3}", r.start), format!("{:.3}", r.end), format!("{}", r.step.as_secs_f64()));
            let q =
                [("query", expr), ("start", s.as_str()), ("end", e.as_str()), ("step", st.as_str()), ("timeout", &t)];
            net::send(&what, "GET", &format!("{base}/api/v1/query_range"), &q, &[], None, timeout)?
        }
    };
    parse_reply(&what, &reply)
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Json>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

/// Turn an HTTP answer of a Prometheus-compatible API (Prometheus, Loki)
/// into a result or a clear error.
pub fn parse_reply(what: &str, r: &Reply) -> Result<QueryResult, String> {
    let env: Option<Envelope> = serde_json::from_str(&r.body).ok();
    let Some(env) = env else {
        if net::is_html(r) {
            return Err(format!(
                "{what} answered an HTML page (HTTP {}), not the API's JSON: is the URL that of the API (not a login page or a UI behind a proxy)?",
                r.status
            ));
        }
        if r.status >= 400 {
            let text = net::excerpt(&r.body);
            let text = if text.is_empty() { String::new() } else { format!(": {text}") };
            return Err(format!("{what} answered HTTP {} {}{text}", r.status, r.reason));
        }
        return Err(format!("{what} answered something that is not the API's JSON: {}", net::excerpt(&r.body)));
    };
    if env.status == "error" {
        let t = env.error_type.as_deref().unwrap_or("error");
        let msg = env.error.as_deref().unwrap_or("(no message)");
        return Err(format!("{what} rejected the query ({t}): {msg}"));
    }
    if env.status != "success" {
        return Err(format!("{what} answered status `{}` (expected success)", env.status));
    }
    if r.status >= 400 {
        return Err(format!("{what} answered HTTP {} {}", r.status, r.reason));
    }
    let data = env.data.ok_or_else(|| format!("{what}: the answer has no `data`"))?;
    let mut res = parse_data(&data).map_err(|e| format!("{what}: unexpected answer: {e}"))?;
    res.warnings = env.warnings;
    Ok(res)
}

fn labels(v: Option<&Json>) -> BTreeMap<String, String> {
    v.and_then(Json::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

fn sample(v: &Json) -> Result<(f64, String), String> {
    let a = v.as_array().filter(|a| a.len() == 2).ok_or("a sample is not [time, value]")?;
    let t = match &a[0] {
        Json::Number(n) => n.as_f64().unwrap_or_default(),
        // Loki writes nanoseconds as a string.
        Json::String(s) => s.parse::<f64>().map(|ns| ns / 1e9).map_err(|_| "a sample time is not a number")?,
        _ => return Err("a sample time is not a number".into()),
    };
    let v = a[1].as_str().ok_or("a sample value is not a string")?.to_string();
    Ok((t, v))
}

/// `data` of a query answer (`resultType` + `result`).
pub fn parse_data(data: &Json) -> Result<QueryResult, String> {
    let kind = match data.get("resultType").and_then(Json::as_str) {
        Some("vector") => Kind::Vector,
        Some("matrix") => Kind::Matrix,
        Some("scalar") => Kind::Scalar,
        Some("string") => Kind::String,
        Some("streams") => Kind::Streams,
        Some(other) => return Err(format!("unknown resultType `{other}`")),
        None => return Err("no resultType".into()),
    };
    let result = data.get("result").ok_or("no result")?;
    let mut series = Vec::new();
    match kind {
        Kind::Scalar | Kind::String => series.push(Series { labels: BTreeMap::new(), samples: vec![sample(result)?] }),
        Kind::Vector => {
            for s in result.as_array().ok_or("result is not a list")? {
                let v = s.get("value").ok_or("a vector element has no value")?;
                series.push(Series { labels: labels(s.get("metric")), samples: vec![sample(v)?] });
            }
        }
        Kind::Matrix | Kind::Streams => {
            let (lkey, vkey) = if kind == Kind::Matrix { ("metric", "values") } else { ("stream", "values") };
            for s in result.as_array().ok_or("result is not a list")? {
                let vals = s.get(vkey).and_then(Json::as_array).ok_or("a series has no values")?;
                let samples = vals.iter().map(sample).collect::<Result<Vec<_>, _>>()?;
                series.push(Series { labels: labels(s.get(lkey)), samples });
            }
        }
    }
    Ok(QueryResult { kind, series, warnings: Vec::new() })
}

impl QueryResult {
    /// Rows for `expect`: one per vector element, one per sample of a
    /// matrix (so `all(value < x)` means "at every point of the window").
    pub fn data(&self) -> Data {
        let mut rows = Vec::new();
        for s in &self.series {
            for (_, v) in &s.samples {
                let (value, line) = match self.kind {
                    Kind::Streams => (None, Some(v.clone())),
                    Kind::String => (parse_number(v), Some(v.clone())),
                    _ => (parse_number(v), None),
                };
                rows.push(Row { labels: s.labels.clone(), value, line });
            }
        }
        Data { rows, ..Data::default() }
    }

    /// What `capture=` stores: the value of a single-valued result, else the table.
    pub fn capture(&self) -> String {
        match self.series.as_slice() {
            [s] if s.samples.len() == 1 && self.kind != Kind::Streams => s.samples[0].1.clone(),
            _ => self.table(),
        }
    }

    /// The result as a small aligned table (the step's output).
    pub fn table(&self) -> String {
        if self.series.is_empty() {
            return "(no data: the query returned an empty result)\n".into();
        }
        if let [s] = self.series.as_slice()
            && s.labels.is_empty()
            && s.samples.len() == 1
        {
            // One unlabeled value (a scalar, `sum(…)`): the value alone.
            return format!("{}\n", s.samples[0].1);
        }
        let mut rows: Vec<Vec<String>> = Vec::new();
        let header: Vec<String> = if self.kind == Kind::Matrix {
            ["SERIES", "POINTS", "MIN", "MAX", "LAST"].map(String::from).to_vec()
        } else {
            ["SERIES", "VALUE"].map(String::from).to_vec()
        };
        for s in &self.series {
            let name = series_name(&s.labels);
            if self.kind == Kind::Matrix {
                let nums: Vec<f64> = s.samples.iter().filter_map(|(_, v)| parse_number(v)).collect();
                let min = nums.iter().copied().fold(f64::INFINITY, f64::min);
                let max = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let last = s.samples.last().map(|(_, v)| v.clone()).unwrap_or_default();
                let f = |x: f64| if x.is_finite() { format!("{x}") } else { "-".into() };
                rows.push(vec![name, s.samples.len().to_string(), f(min), f(max), last]);
            } else {
                rows.push(vec![name, s.samples.first().map(|(_, v)| v.clone()).unwrap_or_default()]);
            }
        }
        let mut out = render_table(&header, &rows);
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out
    }
}

/// `name{k="v", …}` as Prometheus writes a series (`{}` without labels).
pub fn series_name(l: &BTreeMap<String, String>) -> String {
    let name = l.get("__name__").cloned().unwrap_or_default();
    let inner: Vec<String> = l.iter().filter(|(k, _)| *k != "__name__").map(|(k, v)| format!("{k}={v:?}")).collect();
    if inner.is_empty() && !name.is_empty() { name } else { format!("{name}{{{}}}", inner.join(", ")) }
}

/// Columns left-aligned, separated by two spaces, no trailing blanks.
pub fn render_table(header: &[String], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let mut w = vec![0; n];
    for r in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        for (i, c) in r.iter().enumerate().take(n) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate().take(n) {
            if i + 1 == n {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, ct: &str, body: &str) -> Reply {
        Reply { status, reason: "X".into(), content_type: ct.into(), headers: Vec::new(), body: body.into() }
    }

    #[test]
    fn vector_table_and_capture() {
        let r = reply(
            200,
            "application/json",
            r#"{"status":"success","data":{"resultType":"vector","result":[
              {"metric":{"__name__":"up","instance":"a"},"value":[1,"1"]},
              {"metric":{"instance":"b"},"value":[1,"0"]}]}}"#,
        );
        let q = parse_reply("P", &r).unwrap();
        assert_eq!(q.table(), "SERIES            VALUE\nup{instance=\"a\"}  1\n{instance=\"b\"}    0\n");
        assert_eq!(q.data().rows.len(), 2);
        let one = parse_reply(
            "P",
            &reply(200, "", r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.004"]}}"#),
        )
        .unwrap();
        assert_eq!(one.capture(), "0.004");
    }

    #[test]
    fn matrix_rows_are_samples() {
        let r = reply(
            200,
            "",
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"i":"a"},"values":[[1,"1"],[2,"3"]]}]}}"#,
        );
        let q = parse_reply("P", &r).unwrap();
        assert_eq!(q.data().rows.len(), 2);
        assert!(q.table().contains("{i=\"a\"}  2       1    3    3"), "{}", q.table());
    }

    #[test]
    fn errors() {
        let e = parse_reply(
            "P",
            &reply(
                400,
                "application/json",
                r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#,
            ),
        )
        .unwrap_err();
        assert!(e.contains("bad_data") && e.contains("parse error at char 5"), "{e}");
        let e = parse_reply("P", &reply(200, "text/html", "<html>login</html>")).unwrap_err();
        assert!(e.contains("HTML"), "{e}");
        let e = parse_reply("P", &reply(500, "text/plain", "boom")).unwrap_err();
        assert!(e.contains("HTTP 500") && e.contains("boom"), "{e}");
        let e = parse_reply("P", &reply(200, "text/plain", "hello")).unwrap_err();
        assert!(e.contains("not the API's JSON"), "{e}");
    }
}

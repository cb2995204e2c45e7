//! Loki's `/loki/api/v1/query_range`: the "search the logs for errors" checks.
//!
//! A log query's result is its matched lines: the step shows the newest
//! [`SHOWN`] of them and the count, and `expect` looks at the count (`count
//! == 0`, `empty`) or the lines (`none(line ~ "panic")`). A LogQL metric query
//! (`sum(count_over_time(…))`) answers like Prometheus and is shown the same.

use std::time::Duration;

use super::expect::Data;
use super::net;
use super::prom::{self, Kind, QueryResult, Range};

/// Lines shown in the step's output (all of them count).
pub const SHOWN: usize = 20;
/// Lines asked of Loki: the count says "at least" when it is reached.
pub const LIMIT: usize = 1000;

/// Run a LogQL query over `range` (ending now).
pub fn query(base: &str, expr: &str, range: Range, timeout: Duration) -> Result<QueryResult, String> {
    let base = base.trim_end_matches('/');
    let what = format!("Loki at {base}");
    let ns = |s: f64| format!("{}", (s * 1e9) as i128);
    let (start, end, step, limit) =
        (ns(range.start), ns(range.end), format!("{}", range.step.as_secs_f64()), LIMIT.to_string());
    let q = [
        ("query", expr),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("step", step.as_str()),
        ("limit", limit.as_str()),
        ("direction", "backward"),
    ];
    let reply = net::send(&what, "GET", &format!("{base}/loki/api/v1/query_range"), &q, &[], None, timeout)?;
    if reply.status >= 400 && !net::is_html(&reply) && serde_json::from_str::<serde_json::Value>(&reply.body).is_err() {
        // Loki answers a bad query in plain text ("parse error at line 1, col 5: …").
        return Err(format!("{what} rejected the query (HTTP {}): {}", reply.status, net::excerpt(&reply.body)));
    }
    prom::parse_reply(&what, &reply)
}

/// Matched lines, newest first: `(unix seconds, labels, line)`.
pub fn lines(r: &QueryResult) -> Vec<(f64, String, String)> {
    let mut out: Vec<(f64, String, String)> = r
        .series
        .iter()
        .flat_map(|s| {
            let name = prom::series_name(&s.labels);
            s.samples.iter().map(move |(t, l)| (*t, name.clone(), l.clone()))
        })
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
    out
}

/// The step's output: the count and the newest lines.
pub fn render(r: &QueryResult) -> String {
    if r.kind != Kind::Streams {
        return r.table();
    }
    let all = lines(r);
    let n = all.len();
    let count = if n >= LIMIT { format!("at least {n}") } else { n.to_string() };
    let mut out = format!("{count} matching line{}\n", if n == 1 { "" } else { "s" });
    for (t, labels, line) in all.iter().take(SHOWN) {
        // A fixture's lines have neither time nor labels.
        let time = if *t > 0.0 { format!("{}  ", super::link::utc(*t)) } else { String::new() };
        let labels = if labels == "{}" { String::new() } else { format!("{labels}  ") };
        out.push_str(&format!("{time}{labels}{}\n", line.trim_end()));
    }
    if n > SHOWN {
        out.push_str(&format!("… {} more not shown\n", n - SHOWN));
    }
    out
}

/// Rows for `expect` (one per line, or per sample of a metric query).
pub fn data(r: &QueryResult) -> Data {
    r.data()
}

/// What `capture=` stores: the lines (newest first), or a metric query's value.
pub fn capture(r: &QueryResult) -> String {
    if r.kind != Kind::Streams {
        return r.capture();
    }
    lines(r).into_iter().map(|(_, _, l)| l.trim_end().to_string()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_render_newest_first_and_bounded() {
        let mut values = Vec::new();
        for i in 0..25 {
            values.push(format!("[\"{}\",\"line {i}\"]", (1_700_000_000 + i) as i128 * 1_000_000_000));
        }
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"streams","result":[{{"stream":{{"app":"node"}},"values":[{}]}}]}}}}"#,
            values.join(",")
        );
        let r = prom::parse_reply(
            "L",
            &net::Reply { status: 200, reason: "OK".into(), content_type: String::new(), headers: vec![], body },
        )
        .unwrap();
        let out = render(&r);
        assert!(out.starts_with("25 matching lines\n"), "{out}");
        assert!(out.lines().nth(1).unwrap().ends_with("line 24"), "{out}");
        assert!(out.contains("… 5 more not shown"), "{out}");
        assert_eq!(data(&r).rows.len(), 25);
    }
}

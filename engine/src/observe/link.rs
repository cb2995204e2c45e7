//! Links from a report to the dashboards, for the query and time window a
//! step looked at, so the incident timeline leads back to the graph.
//!
//! - Prometheus: the classic graph page,
//!   `BASE/graph?g0.expr=Q&g0.tab=0&g0.range_input=1h&g0.end_input=YYYY-MM-DD%20HH%3AMM%3ASS`
//!   (UTC; Prometheus 2.x and 3.x both read these parameters).
//! - Loki: Grafana's Explore view,
//!   `GRAFANA/explore?orgId=1&left={"datasource":DS,"queries":[{"refId":"A","expr":Q}],"range":{"from":MS,"to":MS}}`
//!   (URL-encoded JSON; Grafana 7–11 accept it, newer ones redirect it to
//!   their `panes` form). Without a Grafana URL, the Loki API URL of the same
//!   query and window is given instead.

use std::time::Duration;

use super::net::{encode, with_query};

/// `YYYY-MM-DD HH:MM:SS` (UTC) for unix seconds.
pub fn utc(secs: f64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_secs(secs.max(0.0) as u64);
    humantime::format_rfc3339_seconds(t).to_string().trim_end_matches('Z').replace('T', " ")
}

/// A duration as Prometheus' range input writes it (`1h`, `90m`, `45s`).
pub fn prom_duration(d: Duration) -> String {
    let s = d.as_secs().max(1);
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The Prometheus graph page of `expr` over the `range` ending at `end`.
pub fn prometheus(base: &str, expr: &str, end: f64, range: Duration) -> String {
    let base = base.trim_end_matches('/');
    let (r, e) = (prom_duration(range), utc(end.ceil()));
    let q = [("g0.expr", expr.trim()), ("g0.tab", "0"), ("g0.range_input", r.as_str()), ("g0.end_input", e.as_str())];
    with_query(&format!("{base}/graph"), &q)
}

/// Grafana Explore for a LogQL query over `[start, end]`.
pub fn grafana_explore(grafana: &str, datasource: &str, expr: &str, start: f64, end: f64) -> String {
    let left = serde_json::json!({
        "datasource": datasource,
        "queries": [{ "refId": "A", "expr": expr.trim() }],
        "range": { "from": format!("{}", (start * 1000.0) as i64), "to": format!("{}", (end * 1000.0).ceil() as i64) },
    });
    format!("{}/explore?orgId=1&left={}", grafana.trim_end_matches('/'), encode(&left.to_string()))
}

/// Loki's own query URL (when no Grafana is configured).
pub fn loki_api(base: &str, expr: &str, start: f64, end: f64) -> String {
    let ns = |s: f64| format!("{}", (s * 1e9) as i128);
    let (s, e) = (ns(start), ns(end));
    let q = [("query", expr.trim()), ("start", s.as_str()), ("end", e.as_str())];
    with_query(&format!("{}/loki/api/v1/query_range", base.trim_end_matches('/')), &q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_url() {
        let u = prometheus("http://p:9090/", "rate(x{a=\"b\"}[5m])", 1_700_000_000.0, Duration::from_secs(3600));
        assert_eq!(
            u,
            "http://p:9090/graph?g0.expr=rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29&g0.tab=0&g0.range_input=1h&g0.end_input=2023-11-14%2022%3A13%3A20"
        );
        assert_eq!(prom_duration(Duration::from_secs(5400)), "90m");
    }

    #[test]
    fn explore_url() {
        let u = grafana_explore("https://g", "loki", "{app=\"node\"} |= \"ERROR\"", 1.0, 2.0);
        assert!(u.starts_with("https://g/explore?orgId=1&left=%7B%22datasource%22%3A%22loki%22"), "{u}");
        assert!(u.contains("%22from%22%3A%221000%22"), "{u}");
    }
}

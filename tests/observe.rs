//! Observability steps (issue 6) against real servers on 127.0.0.1: a real
//! Prometheus (Debian's `prometheus`) scraping a target this test serves, a
//! fake Loki and health endpoints served by [`HttpServer`].

use std::time::{Duration, Instant};

use runbook::observe::{self, QueryKind, Servers, Spec, http, loki, prom};

use crate::common::servers::{HttpServer, Prometheus};

/// The Animica metrics the target exposes; counters grow per scrape so that
/// `rate()`/`increase()` see them move.
#[derive(Clone, Copy)]
pub struct Animica {
    pub peers: f64,
    pub p_fail: f64,
    pub queue_depth: f64,
    pub head_lag: f64,
    /// Requests per scrape: (2xx, 5xx).
    pub rpc: (u64, u64),
    /// Upper bound of the bucket every RPC latency observation lands in.
    pub rpc_latency_le: &'static str,
    /// Upper bound of the bucket every AICF queue wait lands in (blocks).
    pub aicf_wait_le: &'static str,
    /// AICF (jobs, SLA breaches) per scrape.
    pub aicf: (u64, u64),
    pub beacon_missed_per_scrape: u64,
}

pub const HEALTHY: Animica = Animica {
    peers: 8.0,
    p_fail: 1e-9,
    queue_depth: 3.0,
    head_lag: 1.5,
    rpc: (100, 0),
    rpc_latency_le: "0.25",
    aicf_wait_le: "0.5",
    aicf: (50, 0),
    beacon_missed_per_scrape: 0,
};

pub const BREACHED: Animica = Animica {
    peers: 1.0,
    p_fail: 3e-4,
    queue_depth: 950.0,
    head_lag: 9.0,
    rpc: (50, 50),
    rpc_latency_le: "1",
    aicf_wait_le: "5",
    aicf: (50, 10),
    beacon_missed_per_scrape: 1,
};

impl Animica {
    pub fn exposition(&self, n: u64) -> String {
        let n1 = n + 1;
        let mut s = String::new();
        let mut metric = |help: &str, kind: &str, name: &str, lines: Vec<String>| {
            s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for l in lines {
                s.push_str(&l);
                s.push('\n');
            }
        };
        metric(
            "Height of the head block.",
            "gauge",
            "animica_head_height",
            vec![format!("animica_head_height {}", 1000 + n)],
        );
        metric(
            "Head lag.",
            "gauge",
            "animica_head_lag_seconds",
            vec![format!("animica_head_lag_seconds {}", self.head_lag)],
        );
        metric(
            "RPC requests.",
            "counter",
            "animica_rpc_requests_total",
            vec![
                format!("animica_rpc_requests_total{{status=\"200\"}} {}", self.rpc.0 * n1),
                format!("animica_rpc_requests_total{{status=\"500\"}} {}", self.rpc.1 * n1),
            ],
        );
        let buckets = |name: &str, les: &[&str], at: &str, count: u64| -> Vec<String> {
            let mut out = Vec::new();
            let mut hit = false;
            for le in les {
                hit |= *le == at;
                out.push(format!("{name}_bucket{{le=\"{le}\"}} {}", if hit { count } else { 0 }));
            }
            out.push(format!("{name}_bucket{{le=\"+Inf\"}} {count}"));
            out.push(format!("{name}_count {count}"));
            out
        };
        let total = (self.rpc.0 + self.rpc.1) * n1;
        metric(
            "RPC latency.",
            "histogram",
            "animica_rpc_request_duration_seconds",
            buckets(
                "animica_rpc_request_duration_seconds",
                &["0.1", "0.25", "0.5", "1", "2.5"],
                self.rpc_latency_le,
                total,
            ),
        );
        metric(
            "Peers.",
            "gauge",
            "animica_p2p_peer_count",
            vec![
                format!("animica_p2p_peer_count{{instance_name=\"node-0\"}} {}", self.peers),
                format!("animica_p2p_peer_count{{instance_name=\"node-1\"}} {}", self.peers + 1.0),
            ],
        );
        metric(
            "DA p_fail.",
            "gauge",
            "animica_da_sampling_p_fail",
            vec![format!("animica_da_sampling_p_fail {:e}", self.p_fail)],
        );
        metric(
            "AICF queue.",
            "gauge",
            "animica_aicf_queue_depth",
            vec![format!("animica_aicf_queue_depth {}", self.queue_depth)],
        );
        metric(
            "AICF wait.",
            "histogram",
            "animica_aicf_queue_wait_blocks",
            buckets("animica_aicf_queue_wait_blocks", &["0.5", "1", "2", "5"], self.aicf_wait_le, self.aicf.0 * n1),
        );
        metric(
            "AICF jobs.",
            "counter",
            "animica_aicf_jobs_total",
            vec![format!("animica_aicf_jobs_total {}", self.aicf.0 * n1)],
        );
        metric(
            "AICF SLA.",
            "counter",
            "animica_aicf_sla_breaches_total",
            vec![format!("animica_aicf_sla_breaches_total {}", self.aicf.1 * n1)],
        );
        metric(
            "Beacon.",
            "counter",
            "animica_beacon_rounds_missed_total",
            vec![format!("animica_beacon_rounds_missed_total {}", self.beacon_missed_per_scrape * n1)],
        );
        s
    }
}

/// Prometheus scraping `values`, with enough scrapes in for `rate()`.
pub fn prometheus(values: Animica) -> Option<Prometheus> {
    Prometheus::start(move |n| values.exposition(n), 4)
}

fn servers(prom: &str) -> Servers {
    Servers { prometheus: Some(prom.into()), loki_datasource: "loki".into(), ..Servers::default() }
}

fn spec(kind: QueryKind, text: &str) -> Spec<'_> {
    Spec { kind, text, range: None, step: None, timeout: Duration::from_secs(10) }
}

#[test]
fn promql_client_against_real_prometheus() {
    let Some(p) = prometheus(HEALTHY) else { return };
    let s = servers(&p.url);
    let a = observe::run(&observe::Live, &s, &spec(QueryKind::Promql, "animica_p2p_peer_count")).unwrap();
    assert!(a.output.starts_with("SERIES"), "{}", a.output);
    assert!(a.output.contains("instance_name=\"node-0\"") && a.output.contains("  8\n"), "{}", a.output);
    let e = observe::expect::parse("all(value >= 3)", observe::expect::Target::Query).unwrap();
    assert!(observe::judge(QueryKind::Promql, Some(&e), &a).is_ok());
    let e = observe::expect::parse("all(value >= 9)", observe::expect::Target::Query).unwrap();
    let why = observe::judge(QueryKind::Promql, Some(&e), &a).unwrap_err();
    assert!(why.contains("is false") && why.contains("1 of 2 rows fail"), "{why}");

    let a = observe::run(&observe::Live, &s, &spec(QueryKind::Promql, "sum(animica_aicf_queue_depth)")).unwrap();
    assert_eq!(a.capture, "3");

    let mut r = spec(QueryKind::Promql, "animica_da_sampling_p_fail");
    r.range = Some(Duration::from_secs(60));
    r.step = Some(Duration::from_secs(1));
    let a = observe::run(&observe::Live, &s, &r).unwrap();
    assert!(a.output.starts_with("SERIES") && a.output.contains("POINTS"), "{}", a.output);
    assert!(a.data.rows.len() >= 2, "{:?}", a.data.rows);

    let err =
        observe::run(&observe::Live, &s, &spec(QueryKind::Promql, "sum(rate(animica_head_height[5m]")).unwrap_err();
    assert!(err.contains("rejected the query (bad_data)") && err.contains("parse error"), "{err}");
}

#[test]
fn unreachable_prometheus_fails_within_the_timeout() {
    let port = crate::common::servers::free_port();
    let s = servers(&format!("http://127.0.0.1:{port}"));
    let started = Instant::now();
    let err = observe::run(&observe::Live, &s, &spec(QueryKind::Promql, "up")).unwrap_err();
    assert!(err.contains("cannot reach Prometheus at http://127.0.0.1:") && err.contains("refused"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // A server that accepts and never answers: the timeout.
    let hang = HttpServer::start(|_| (0, "", String::new()));
    let mut r = spec(QueryKind::Promql, "up");
    r.timeout = Duration::from_secs(1);
    let err = observe::run(&observe::Live, &servers(&hang.url()), &r).unwrap_err();
    assert!(err.contains("no answer from Prometheus") && err.contains("within 1s"), "{err}");
}

#[test]
fn bad_answers_are_clear_failures() {
    let srv = HttpServer::start(|r| match r.path() {
        "/html/api/v1/query" => (200, "text/html", "<html><body>Sign in</body></html>".into()),
        "/boom/api/v1/query" => (500, "text/plain", "internal error: out of memory".into()),
        "/text/api/v1/query" => (200, "text/plain", "hello".into()),
        _ => (404, "text/plain", "404 page not found".into()),
    });
    let run = |prefix: &str| {
        observe::run(&observe::Live, &servers(&format!("{}/{prefix}", srv.url())), &spec(QueryKind::Promql, "up"))
            .unwrap_err()
    };
    assert!(run("html").contains("answered an HTML page"), "{}", run("html"));
    assert!(run("boom").contains("HTTP 500") && run("boom").contains("out of memory"), "{}", run("boom"));
    assert!(run("text").contains("not the API's JSON"), "{}", run("text"));
    assert!(run("nope").contains("HTTP 404"), "{}", run("nope"));
    let none = observe::run(&observe::Live, &Servers::default(), &spec(QueryKind::Promql, "up")).unwrap_err();
    assert!(none.contains("no promql server") && none.contains("RUNBOOK_PROMETHEUS_URL"), "{none}");
}

#[test]
fn http_requests_against_a_local_server() {
    let srv = HttpServer::start(|r| match (r.method.as_str(), r.path()) {
        ("GET", "/healthz") => (200, "text/plain", "ok".into()),
        ("POST", "/rpc") if r.header("content-type") == Some("application/json") => {
            (200, "application/json", format!("{{\"echo\":{}}}", r.body))
        }
        _ => (503, "text/plain", "warming up".into()),
    });
    let body = format!("GET {}/healthz\n", srv.url());
    let a = observe::run(&observe::Live, &Servers::default(), &spec(QueryKind::Http, &body)).unwrap();
    assert_eq!(a.output, "HTTP 200 OK\nok\n");
    assert!(observe::judge(QueryKind::Http, None, &a).is_ok());

    let body = format!("POST {}/rpc\nContent-Type: application/json\n\n{{\"method\":\"chain_head\"}}\n", srv.url());
    let a = observe::run(&observe::Live, &Servers::default(), &spec(QueryKind::Http, &body)).unwrap();
    let e = observe::expect::parse("status == 200 and body ~ \"chain_head\"", observe::expect::Target::Http).unwrap();
    assert!(observe::judge(QueryKind::Http, Some(&e), &a).is_ok(), "{}", a.output);

    let body = format!("GET {}/other\n", srv.url());
    let a = observe::run(&observe::Live, &Servers::default(), &spec(QueryKind::Http, &body)).unwrap();
    let why = observe::judge(QueryKind::Http, None, &a).unwrap_err();
    assert!(why.contains("HTTP 503"), "{why}");
    assert!(http::parse("FETCH http://x/").is_err());
}

#[test]
fn loki_client_against_a_fake_loki() {
    let srv = HttpServer::start(|r| {
        if r.path() != "/loki/api/v1/query_range" {
            return (404, "text/plain", "404 page not found".into());
        }
        if r.target.contains("bad") {
            return (
                400,
                "text/plain; charset=utf-8",
                "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER".into(),
            );
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        (
            200,
            "application/json",
            format!(
                r#"{{"status":"success","data":{{"resultType":"streams","result":[{{"stream":{{"app":"animica-node"}},"values":[["{now}","ERROR head stalled at 1042"],["{}","ERROR peer dropped"]]}}]}}}}"#,
                now - 1_000_000_000
            ),
        )
    });
    let s = Servers { loki: Some(srv.url()), ..Servers::default() };
    let a = observe::run(&observe::Live, &s, &spec(QueryKind::Logql, "{app=\"animica-node\"} |= \"ERROR\"")).unwrap();
    assert!(a.output.starts_with("2 matching lines\n"), "{}", a.output);
    assert!(a.output.lines().nth(1).unwrap().ends_with("ERROR head stalled at 1042"), "{}", a.output);
    let e = observe::expect::parse("count == 0", observe::expect::Target::Logs).unwrap();
    assert!(observe::judge(QueryKind::Logql, Some(&e), &a).unwrap_err().contains("count = 2"));
    let err = observe::run(&observe::Live, &s, &spec(QueryKind::Logql, "bad query")).unwrap_err();
    assert!(err.contains("Loki at") && err.contains("parse error at line 1"), "{err}");
    let q = &srv.requests.lock().unwrap()[0];
    assert!(q.target.contains("limit=1000") && q.target.contains("direction=backward"), "{}", q.target);
    assert_eq!(loki::SHOWN, 20);
    let _ = prom::now();
}

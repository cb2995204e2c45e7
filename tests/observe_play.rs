//! promql/logql/http steps in `play`, `check`, rehearsals, reports and
//! `--from-alert` (issue 6), end to end through the binary.

use crate::common::Test;
use crate::common::servers::HttpServer;
use crate::observe::{BREACHED, HEALTHY, prometheus};

const SLO_GATES: &str = include_str!("../runbooks/7-slo-gates.md");

fn config_for(prom: &str) -> String {
    format!("default_env = \"devnet\"\n\n[env.devnet]\nnamespace = \"animica-devnet\"\nprometheus = \"{prom}\"\n")
}

#[test]
fn slo_gates_pass_against_real_prometheus() {
    let Some(p) = prometheus(HEALTHY) else { return };
    let done = Test::new()
        .config(&config_for(&p.url))
        .file("runbooks/7-slo-gates.md", SLO_GATES)
        .args(["play", "7-slo-gates", "--yes"])
        .status(0)
        .stdout_has("<== slo-head-lag: passed")
        .stdout_has("<== slo-beacon: passed")
        .stdout_lacks(": failed")
        .run();
    // The numbers seen are in the output (and so in the step logs and the report).
    assert!(done.stdout.contains("[slo-head-lag] 1.5\n"), "{}", done.stdout);
}

#[test]
fn slo_gates_fail_against_real_prometheus() {
    let Some(p) = prometheus(BREACHED) else { return };
    let done = Test::new()
        .config(&config_for(&p.url))
        .file("runbooks/7-slo-gates.md", SLO_GATES)
        .args(["play", "7-slo-gates", "--yes"])
        // Every gate runs (on-fail=continue) and fails; the play fails.
        .status(1)
        .run();
    for id in [
        "slo-head-lag",
        "slo-rpc-p99",
        "slo-rpc-errors",
        "slo-da-p-fail",
        "slo-aicf-wait",
        "slo-aicf-sla",
        "slo-beacon",
    ] {
        assert!(
            done.stdout.contains(&format!("<== {id}: failed")),
            "{id} did not fail:\n{}\n{}",
            done.stdout,
            done.stderr
        );
    }
    assert!(done.stdout.contains("expect `value < 0.5` is false (value = 0.99"), "{}", done.stdout);
    assert!(done.stdout.contains("expect `all(value < 1e-6)` is false"), "{}", done.stdout);
}

#[test]
fn promql_steps_capture_soak_report_links_and_server_errors() {
    let Some(p) = prometheus(HEALTHY) else { return };
    let rb = r#"
        # Peers

        ```promql {#peers read expect="all(value >= 3)" capture=peers}
        animica_p2p_peer_count
        ```

        ```promql {#queue read capture=depth expect="value < 100" soak=2s delay=1s}
        sum(animica_aicf_queue_depth)
        ```

        ```promql {#p-fail read range=30s step=5s expect="all(value < 1e-6) and count >= 2"}
        animica_da_sampling_p_fail
        ```

        ```bash {#use read}
        echo "depth is {{ depth }}"
        ```
        "#;
    let done = Test::new()
        .config(&config_for(&p.url))
        .runbook("peers", rb)
        .args(["play", "peers", "--yes"])
        .status(0)
        .stdout_has("[peers] SERIES")
        .stdout_has("instance_name=\"node-0\"")
        .stdout_has("[use] depth is 3")
        .stdout_has("held for 2s (")
        .stdout_has("POINTS")
        .run();
    let report = std::process::Command::new(crate::common::bin())
        .args(["report", "latest"])
        .current_dir(done.path())
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&report.stdout);
    assert!(md.contains(&format!("{}/graph?g0.expr=animica_p2p_peer_count&g0.tab=0", p.url)), "{md}");
    assert!(md.contains("g0.range_input=30s"), "{md}");
    // The numbers seen at the time are in the step's output, in the report.
    assert!(md.contains("instance_name=\"node-0\", job=\"animica\"}  8"), "{md}");

    // Malformed PromQL: the server's error, with the runbook line of the query.
    Test::new()
        .config(&config_for(&p.url))
        .runbook("bad", "# Bad\n\n```promql {#broken read}\nsum(rate(animica_head_height[5m]\n```\n")
        .args(["play", "bad", "--yes"])
        .status(1)
        .stdout_has("rejected the query (bad_data)")
        .stdout_has("parse error")
        .stdout_has("(query at runbooks/bad.md:4)")
        .run();
}

#[test]
fn unreachable_prometheus_is_a_clear_step_failure() {
    let port = crate::common::servers::free_port();
    Test::new()
        .config(&config_for(&format!("http://127.0.0.1:{port}")))
        .runbook("up", "# Up\n\n```promql {#up read timeout=3s}\nup\n```\n")
        .args(["play", "up", "--yes"])
        .status(1)
        .stdout_has(&format!("cannot reach Prometheus at http://127.0.0.1:{port}: connection refused"))
        .run();
    // RUNBOOK_PROMETHEUS_URL when the env profile has none.
    Test::new()
        .runbook("up", "# Up\n\n```promql {#up read timeout=3s}\nup\n```\n")
        .env("RUNBOOK_PROMETHEUS_URL", &format!("http://127.0.0.1:{port}"))
        .args(["play", "up", "--yes"])
        .status(1)
        .stdout_has(&format!("http://127.0.0.1:{port}"))
        .run();
}

#[test]
fn http_steps_wait_with_retry_and_judge_status_and_body() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let srv = HttpServer::start(move |r| match r.path() {
        "/healthz" if h.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 => (503, "text/plain", "starting".into()),
        "/healthz" => (200, "application/json", "{\"status\":\"ok\",\"height\":1042}".into()),
        "/rpc" => (200, "application/json", format!("{{\"echo\":{}}}", r.body)),
        _ => (404, "text/plain", "no".into()),
    });
    let rb = format!(
        r#"
        # Health

        ```http {{#wait read retry=5 delay=100ms expect='status == 200 and body ~ "ok"'}}
        GET {url}/healthz
        ```

        ```http {{#rpc read capture=reply}}
        POST {url}/rpc
        Content-Type: application/json

        {{"method":"chain_head","ns":"{{{{ namespace }}}}"}}
        ```

        ```http {{#missing read on-fail=continue}}
        GET {url}/nope
        ```
        "#,
        url = srv.url()
    );
    Test::new()
        .runbook("health", &rb)
        .args(["play", "health", "--yes"])
        .any_status()
        .stdout_has("[wait] HTTP 503")
        .stdout_has("[wait] HTTP 200 OK")
        .stdout_has("<== wait: passed")
        .stdout_has("[rpc] {\"echo\":{\"method\":\"chain_head\",\"ns\":\"animica-devnet\"}}")
        .stdout_has("HTTP 404 (add expect=\"status == 404\"")
        .run();
}

#[test]
fn check_catches_bad_expect_and_requests_at_file_line() {
    Test::new()
        .runbook(
            "q",
            r#"
            # Q

            ```promql {#a read expect="vaule < 0.01"}
            up
            ```

            ```http {#b read expect="status = 200"}
            GET http://127.0.0.1:1/x
            ```

            ```http {#c read}
            get http://127.0.0.1:1/x
            ```

            ```promql {#d read expect="value < {{ max }}"}
            up
            ```
            "#,
        )
        .args(["check"])
        // 2: the undefined `max` is invalid input, as `plan` says.
        .status(2)
        .stdout_has("runbooks/q.md:3")
        .stdout_has("did you mean `value`")
        .stdout_has("runbooks/q.md:7")
        .stdout_has("`=` is not an operator")
        .stdout_has("runbooks/q.md:12")
        .stdout_has("unknown HTTP method `get`")
        .stdout_lacks("runbooks/q.md:15: error: step `d`: expect")
        .run();
}

#[test]
fn rehearsal_answers_queries_from_fixtures() {
    Test::new()
        .runbook(
            "g",
            r#"
            # G

            ```promql {#errors read expect="value < 0.01"}
            sum(rate(animica_rpc_requests_total{status=~"5..", namespace="{{ namespace }}"}[5m]))
            ```

            ```logql {#logs read expect="count == 0"}
            {namespace="{{ namespace }}"} |= "panic"
            ```

            ```http {#probe read retry=2 delay=1s}
            GET http://node.{{ namespace }}:8545/healthz
            ```
            "#,
        )
        .fixture(
            "g",
            r#"
            [[scenario]]
            name = "ok"
            [[scenario.query]]
            kind = "promql"
            match = "sum(rate(animica_rpc_requests_total{status=~\"5..\", namespace=\"animica-devnet\"}*"
            value = "0.004"
            [[scenario.query]]
            kind = "logql"
            match = "*panic*"
            lines = []
            [[scenario.query]]
            kind = "http"
            match = "GET http://node.animica-devnet:8545/healthz"
            sequence = [{ status = 503 }, { status = 200, body = "ok" }]
            [scenario.expect]
            outcome = "passed"

            [[scenario]]
            name = "errors"
            [[scenario.query]]
            kind = "promql"
            match = "sum(rate(*"
            value = "0.2"
            [[scenario.query]]
            kind = "logql"
            match = "*"
            lines = ["panic: runtime error"]
            [[scenario.query]]
            kind = "http"
            match = "GET *"
            status = 500
            [scenario.expect]
            outcome = "failed"
            steps = { errors = "failed" }
            "#,
        )
        .args(["check"])
        .status(0)
        .stdout_has("ok g / ok")
        .stdout_has("ok g / errors")
        .run();
}

#[test]
fn unmatched_query_in_a_rehearsal_names_the_query() {
    Test::new()
        .runbook("g", "# G\n\n```promql {#q read}\nup\n```\n")
        .fixture(
            "g",
            "[[scenario]]\nname = \"s\"\n[[scenario.query]]\nkind = \"promql\"\nmatch = \"down\"\nvalue = \"1\"\n",
        )
        .args(["check"])
        .status(1)
        .stdout_has("no fixture for promql: up")
        .run();
}

#[test]
fn unused_query_fixture_is_a_warning() {
    Test::new()
        .runbook("g", "# G\n\n```promql {#q read}\nup\n```\n")
        .fixture(
            "g",
            "[[scenario]]\nname = \"s\"\n[[scenario.query]]\nkind = \"promql\"\nmatch = \"up\"\nvalue = \"1\"\n\
             [[scenario.query]]\nkind = \"logql\"\nmatch = \"*panic*\"\nlines = []\n",
        )
        .args(["check"])
        .status(0)
        .stdout_has("fixtures/g.toml:7: warning[unused-query]: query fixture `logql *panic*` is never asked for by scenario `s`")
        .stdout_lacks("promql up` is never")
        .run();
}

const ALERT: &str = r#"{
  "version": "4", "groupKey": "{}:{alertname=\"PeersLow\"}", "truncatedAlerts": 0, "status": "firing",
  "receiver": "runbook", "groupLabels": {"alertname": "PeersLow"},
  "commonLabels": {"alertname": "PeersLow", "namespace": "animica-staging"},
  "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
  "alerts": [{"status": "firing", "labels": {"alertname": "PeersLow", "namespace": "animica-staging", "pod": "animica-node-2"},
              "annotations": {"summary": "peers low"}, "startsAt": "2024-05-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
              "generatorURL": "", "fingerprint": "f"}]
}"#;

const ALERT_CONFIG: &str = r#"
default_env = "devnet"

[env.devnet]
namespace = "animica-devnet"
pod = "animica-node-0"

[alerts.labels]
namespace = "namespace"
pod = "pod"

[alerts.runbooks]
PeersLow = "peers"
"#;

#[test]
fn from_alert_maps_labels_and_picks_the_runbook() {
    let rb = "# Peers\n\n```bash {#show read}\necho ns={{ namespace }} pod={{ pod }}\n```\n";
    Test::new()
        .config(ALERT_CONFIG)
        .runbook("peers", rb)
        .file("alert.json", ALERT)
        .args(["play", "--from-alert", "alert.json", "--yes"])
        .status(0)
        .stdout_has("[show] ns=animica-staging pod=animica-node-2")
        .stderr_has("alert PeersLow (firing): namespace=animica-staging pod=animica-node-2")
        .run();
    // --set still wins over the alert; stdin works; plan too.
    Test::new()
        .config(ALERT_CONFIG)
        .runbook("peers", rb)
        .stdin(ALERT)
        .args(["plan", "peers", "--from-alert", "-", "--set", "pod=animica-node-9"])
        .status(0)
        .stdout_has("echo ns=animica-staging pod=animica-node-9")
        .run();
    // A rehearsal of the alert's runbook gets its labels too, below the
    // scenario's own vars.
    Test::new()
        .config(ALERT_CONFIG)
        .runbook("peers", rb)
        .fixture("peers", "[[scenario]]\nname = \"s\"\nvars = { namespace = \"animica-fixture\" }\n")
        .file("alert.json", ALERT)
        .args(["play", "--from-alert", "alert.json", "--dry-run"])
        .status(0)
        .stdout_has("[show] ns=animica-fixture pod=animica-node-2")
        .run();
}

#[test]
fn from_alert_rejects_other_payloads() {
    let rb = "# Peers\n\n```bash {#show read}\necho hi\n```\n";
    Test::new()
        .config(ALERT_CONFIG)
        .runbook("peers", rb)
        .file("alert.json", r#"{"status":"firing","alerts":[{"labels":{}}]}"#)
        .args(["play", "peers", "--from-alert", "alert.json", "--yes"])
        .status(2)
        .stderr_has("not an Alertmanager webhook payload: no `version` field")
        .run();
    Test::new()
        .config(ALERT_CONFIG)
        .runbook("peers", rb)
        .file("alert.json", &ALERT.replace("PeersLow", "DiskFull"))
        .args(["play", "--from-alert", "alert.json", "--yes"])
        .status(2)
        .stderr_has("no runbook for alert `DiskFull` in [alerts.runbooks]")
        .run();
    Test::new()
        .config(ALERT_CONFIG)
        .runbook("peers", rb)
        .file("alert.json", "<html>")
        .args(["play", "peers", "--from-alert", "alert.json", "--yes"])
        .status(2)
        .stderr_has("not JSON")
        .run();
}

/// A value from outside (an alert's label, `--set`) goes into a query as
/// data: escaped for the string it lands in, or refused outside one unless
/// a plain word. A label crafted to turn a gate's condition into "always"
/// changes nothing.
#[test]
fn a_value_cannot_change_what_a_query_asks() {
    let rb = "---\nvars:\n  pod: web-1\n  window: 5m\n---\n# G\n\n```promql {#gate read expect=\"value == 0\"}\nsum(rate(errors_total{pod=\"{{ pod }}\"}[{{ window }}]))\n```\n";
    Test::new()
        .runbook("g", rb)
        .args(["plan", "g", "--set", "pod=x\"}[5m])) or vector(0) #"])
        .stdout_has("    $ sum(rate(errors_total{pod=\"x\\\"}[5m])) or vector(0) #\"}[5m]))\n")
        .run();
    let refused =
        Test::new().runbook("g", rb).args(["plan", "g", "--set", "window=5m])) or vector(0) #"]).status(2).run();
    assert_eq!(
        refused.stderr,
        "runbooks/g.md:9: error: step `gate`, its promql query: a value outside a string is not a plain word \
             (letters, digits, `_ : . / -`); it could change what the query asks\n  \
             hint: put the value inside a string (`{pod=\"{{ pod }}\"}`), or write `{{ value | safe }}` when it is \
             meant as query text\n",
    );
    // In a rehearsal, the fixture sees the query as the server would.
    Test::new()
        .runbook("g", rb)
        .fixture(
            "g",
            // A glob: `\\` is one backslash, the query's escape.
            r#"
            [[scenario]]
            name = "s"
            vars = { pod = 'a"b' }
            [[scenario.query]]
            kind = "promql"
            match = 'sum(rate(errors_total{pod="a\\"b"}*'
            value = "0"
            [scenario.expect]
            outcome = "passed"
            "#,
        )
        .args(["check"])
        .stdout_has("ok g / s")
        .run();
}

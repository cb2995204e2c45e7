//! A value in an `http` request is data, never request: what `plan`
//! shows, what a fixture matches and what the server receives is the
//! placed request, and a value that would add to the request is refused
//! (exit 2, never shown). A value in a query's regex matches itself only.

use crate::common::Test;
use crate::common::servers::HttpServer;

const PROBE: &str = "---
vars:
  rpc_url: http://localhost:8545
  pod: web-1
  since: 1h
  tail: 10
secrets: [api_token]
---
# P

```http {#probe read}
POST {{ rpc_url }}/pods/{{ pod }}/logs?since={{ since }}
Content-Type: application/json
Authorization: Bearer {{ api_token }}

{\"pod\": \"{{ pod }}\", \"tail\": {{ tail }}}
```
";

const HINT: &str = "  hint: a value in a URL's path, query or a form body is percent-encoded and in a JSON string \
                    JSON-escaped; a whole base URL is `http(s)://host[:port][/path]`; write `{{ value | safe }}` \
                    when it is meant as request text (docs/observability.md)\n";

#[test]
fn a_hostile_value_in_a_path_a_query_or_a_json_string_is_data() {
    let done = Test::new()
        .runbook("p", PROBE)
        .env("RUNBOOK_VAR_api_token", "t0k3n-value")
        .args(["plan", "p", "--set", "pod=../admin\", \"all\": true, \"x\": \"", "--set", "since=1h&all=1#x"])
        .run();
    let request: Vec<&str> = done.stdout.lines().skip_while(|l| !l.contains("1. probe")).skip(1).collect();
    assert_eq!(
        request,
        [
            "    $ POST http://localhost:8545/pods/..%2Fadmin%22%2C%20%22all%22%3A%20true%2C%20%22x%22%3A%20%22/logs?since=1h%26all%3D1%23x",
            "    $ Content-Type: application/json",
            "    $ Authorization: Bearer ***",
            "    $ ",
            "    $ {\"pod\": \"../admin\\\", \\\"all\\\": true, \\\"x\\\": \\\"\", \"tail\": 10}",
        ]
    );
}

#[test]
fn a_value_that_would_add_to_a_request_is_refused_unshown() {
    let refused = Test::new()
        .runbook("p", PROBE)
        .env("RUNBOOK_VAR_api_token", "t0k3n\r\nX-Admin: 1")
        .args(["plan", "p"])
        .status(2)
        .stderr_lacks("X-Admin")
        .run();
    assert_eq!(
        refused.stderr,
        format!(
            "runbooks/p.md:14: error: step `probe`, its request: a value in a header holds a CR, LF or NUL (it \
             would add headers to the request); it could change what the request sends\n{HINT}"
        )
    );
    let refused = Test::new()
        .runbook("p", PROBE)
        .env("RUNBOOK_VAR_api_token", "t0k3n-value")
        .args(["plan", "p", "--set", "tail=1, \"all\": true"])
        .status(2)
        .stderr_lacks("all")
        .run();
    assert_eq!(
        refused.stderr,
        format!(
            "warning: --set tail: the value is not a whole number, as the default of `tail` is; it is used as text\n  \
             hint: give a whole number, or change the default of `tail` in the front matter\n\
             runbooks/p.md:16: error: step `probe`, its request: a value outside a JSON string is not a number, \
             true, false or null; it could change what the request sends\n{HINT}"
        )
    );
    let refused = Test::new()
        .runbook("p", PROBE)
        .env("RUNBOOK_VAR_api_token", "t0k3n-value")
        .args(["plan", "p", "--set", "rpc_url=http://good.example@evil.example"])
        .status(2)
        .stderr_lacks("evil")
        .run();
    assert!(refused.stderr.starts_with("runbooks/p.md:12: error: step `probe`, its request: a value at the start"));
    // `| safe` puts request text in on purpose.
    Test::new()
        .runbook("p", &PROBE.replace("{{ tail }}", "{{ tail | safe }}"))
        .env("RUNBOOK_VAR_api_token", "t0k3n-value")
        .args(["plan", "p", "--set", "tail=1, \"all\": true"])
        .stdout_has("    $ {\"pod\": \"web-1\", \"tail\": 1, \"all\": true}\n")
        .run();
}

/// A secret goes into a URL percent-encoded: that form is masked too.
#[test]
fn a_secret_in_a_query_string_is_masked_encoded() {
    let rb = "---\nsecrets: [api_token]\n---\n# S\n\n```http {#s read}\nGET http://h/x?token={{ api_token }}\n```\n";
    Test::new()
        .runbook("s", rb)
        .env("RUNBOOK_VAR_api_token", "s3cr/et+value")
        .args(["plan", "s"])
        .stdout_has("    $ GET http://h/x?token=***\n")
        .stdout_lacks("s3cr")
        .run();
}

/// The server receives the placed request; a rehearsal's fixture matches it.
#[test]
fn the_server_and_the_fixture_see_the_placed_request() {
    let srv = HttpServer::start(|_| (200, "text/plain", "ok".into()));
    let config = format!("default_env = \"devnet\"\n\n[env.devnet]\nrpc_url = \"{}\"\n", srv.url());
    Test::new()
        .config(&config)
        .runbook("p", PROBE)
        .env("RUNBOOK_VAR_api_token", "t0k3n-value")
        .args(["play", "p", "--yes", "--set", "pod=../admin", "--set", "since=1h&all=1"])
        .run();
    let reqs = srv.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].target, "/pods/..%2Fadmin/logs?since=1h%26all%3D1");
    let body: serde_json::Value = serde_json::from_str(&reqs[0].body).unwrap();
    assert_eq!(body, serde_json::json!({"pod": "../admin", "tail": 10}));

    Test::new()
        .runbook("p", PROBE)
        .fixture(
            "p",
            r#"
            [[scenario]]
            name = "s"
            vars = { pod = "a/b", api_token = "t0k3n-value" }
            [[scenario.query]]
            kind = "http"
            match = "POST http://localhost:8545/pods/a%2Fb/logs?since=1h"
            status = 200
            [scenario.expect]
            outcome = "passed"
            "#,
        )
        .args(["check"])
        .stdout_has("ok p / s")
        .run();
}

/// A label `.*` in a regex matcher or a line filter matches itself, not
/// every series or line: it cannot change what a gate counts.
#[test]
fn a_value_in_a_query_regex_matches_itself_only() {
    let rb = "---\nvars:\n  pod: web-1\n---\n# G\n\n\
              ```promql {#gate read expect=\"value == 0\"}\nsum(up{pod=~\"{{ pod }}\", ns!~\"kube-{{ pod }}|x\"})\n```\n\n\
              ```logql {#lines read}\n{app=\"node\"} |~ \"{{ pod }}\" != \"{{ pod }}\"\n```\n";
    Test::new()
        .runbook("g", rb)
        .args(["plan", "g", "--set", "pod=.*"])
        .stdout_has("    $ sum(up{pod=~\"\\\\.\\\\*\", ns!~\"kube-\\\\.\\\\*|x\"})\n")
        .stdout_has("    $ {app=\"node\"} |~ \"\\\\.\\\\*\" != \".*\"\n")
        .run();
    Test::new()
        .runbook("g", &rb.replace("pod=~\"{{ pod }}\"", "pod=~\"{{ pod | safe }}\""))
        .args(["plan", "g", "--set", "pod=web-.*"])
        .stdout_has("    $ sum(up{pod=~\"web-.*\", ")
        .run();
}

/// In `label_replace`'s regex a value matches itself, in its replacement a
/// `$` refers to no group; in LogQL's `regexp` parser it matches itself, in
/// a `line_format` template a `{` opens no action.
#[test]
fn a_value_in_label_replace_or_a_logql_stage_means_itself() {
    let rb = "---\nvars:\n  pod: web-1\n---\n# G\n\n\
              ```promql {#gate read expect=\"value == 0\"}\n\
              label_replace(up, \"d\", \"{{ pod }}-$1\", \"pod\", \"{{ pod }}-(.*)\")\n```\n\n\
              ```logql {#lines read}\n{app=\"node\"} | regexp \"{{ pod }} (?P<x>.*)\" \
              | line_format \"{% raw %}{{.x}}{% endraw %} {{ pod }}\"\n```\n";
    Test::new()
        .runbook("g", rb)
        .args(["plan", "g", "--set", "pod=$1{.*}"])
        .stdout_has("    $ label_replace(up, \"d\", \"$$1{.*}-$1\", \"pod\", \"\\\\$1\\\\{\\\\.\\\\*\\\\}-(.*)\")\n")
        .stdout_has(
            "    $ {app=\"node\"} | regexp \"\\\\$1\\\\{\\\\.\\\\*\\\\} (?P<x>.*)\" \
             | line_format \"{{.x}} $1{{\\\"{\\\"}}.*}\"\n",
        )
        .run();
}

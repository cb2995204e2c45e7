//! Writing fixtures: every missing stub named in one run with an entry to
//! paste (SPEC §5), scaffolding from the plan (`runbook fixture new`), and
//! recording from a real play (`play --record-fixture`).

use crate::common::*;

const DEPLOY: &str = r#"
    # Deploy

    ```bash {#replicas read capture=replicas}
    kubectl get deploy/miner -n {{ namespace }} -o jsonpath={.spec.replicas}
    ```

    ```bash {#notify}
    curl -fsS -X POST https://hooks.example/notify -d '{
      "text": "scaled to {{ replicas }}"
    }'
    ```

    ```bash {#pods read}
    kubectl get pods -n {{ namespace }}
    ```
"#;

/// Run the binary again in a project; exit code and stdout + stderr.
fn again(dir: &std::path::Path, args: &[&str], path: Option<&str>) -> (i32, String) {
    let mut c = std::process::Command::new(bin());
    c.args(args).current_dir(dir).env_remove("RUNBOOK_CONFIG").env("NO_COLOR", "1").stdin(std::process::Stdio::null());
    if let Some(p) = path {
        c.env("PATH", p);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
    )
}

/// The pasted entries of a failed rehearsal's output, as TOML.
fn pasted(stdout: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for l in stdout.lines() {
        let t = l.trim_start();
        if t.starts_with("[[scenario.stub]]") {
            inside = true;
        } else if !(t.starts_with("cmd = ") || t.starts_with("stdout = ") || t.starts_with("exit = ")) {
            inside = false;
        }
        if inside {
            out.push_str(t);
            out.push('\n');
        }
    }
    out
}

#[test]
fn every_missing_stub_is_named_in_one_run_and_the_pasted_entries_match() {
    let fx = "[[scenario]]\nname = \"s\"\n";
    let f = Test::new()
        .runbook("deploy", DEPLOY)
        .file("fixtures/deploy.toml", fx)
        .args(["play", "deploy", "--dry-run"])
        .status(1)
        .stdout_has("no fixture for: kubectl get deploy/miner -n animica-devnet -o jsonpath={.spec.replicas} (step `replicas`, runbooks/deploy.md:3)")
        .stdout_has("no fixture for: kubectl get pods -n animica-devnet (step `pods`")
        .stdout_has("no fixture for: curl -fsS -X POST https://hooks.example/notify -d {\\n")
        .stdout_has(r#"cmd = "kubectl get deploy/miner -n animica-devnet -o jsonpath=\\{.spec.replicas\\}""#)
        .stdout_lacks("()")
        .run();
    let entries = pasted(&f.stdout);
    assert_eq!(entries.matches("[[scenario.stub]]").count(), 3, "{}", f.stdout);
    // Every failure line is whole: no line of the output ends mid-entry.
    for l in f.stdout.lines().filter(|l| l.starts_with("  - no fixture for")) {
        assert!(l.ends_with(':'), "{l}");
    }
    // Pasted as is, they answer every call.
    let fixed = format!("{fx}{entries}");
    Test::new()
        .runbook("deploy", DEPLOY)
        .file("fixtures/deploy.toml", &fixed)
        .args(["play", "deploy", "--dry-run"])
        .stdout_has("REHEARSAL passed")
        .run();
}

#[test]
fn a_star_matches_across_the_newlines_of_an_argument() {
    let fx = r#"
        [[scenario]]
        name = "s"
          [[scenario.stub]]
          cmd = "kubectl get deploy/miner *"
          stdout = "3"
          [[scenario.stub]]
          cmd = "curl -fsS -X POST https://hooks.example/notify -d *scaled to 3*"
          [[scenario.stub]]
          cmd = "kubectl get pods *"
    "#;
    Test::new()
        .runbook("deploy", DEPLOY)
        .fixture("deploy", fx)
        .args(["play", "deploy", "--dry-run"])
        .stdout_has("REHEARSAL passed")
        .run();
}

#[test]
fn fixture_new_scaffolds_an_exact_stub_per_call_and_keeps_other_scenarios() {
    let hand = "# written by hand\n[[scenario]]\nname = \"hand\"   # keep me\n  [[scenario.stub]]\n  cmd = \"kubectl *\"\n  [[scenario.stub]]\n  cmd = \"curl *\"\n";
    let f = Test::new()
        .runbook("deploy", DEPLOY)
        .file("fixtures/deploy.toml", hand)
        .args(["fixture", "new", "deploy", "--scenario", "todo"])
        .stdout_has("scenario `todo` with 3 stubs")
        .run();
    let text = std::fs::read_to_string(f.path().join("fixtures/deploy.toml")).unwrap();
    assert!(text.starts_with(hand), "{text}");
    assert!(
        text.contains(r#"cmd = "kubectl get deploy/miner -n animica-devnet -o jsonpath=\\{.spec.replicas\\}""#),
        "{text}"
    );
    assert!(text.contains("TODO"), "{text}");
    // It loads, and every call has its stub: nothing is missing.
    let (code, out) = again(f.path(), &["play", "deploy", "--dry-run", "--scenario", "todo"], None);
    assert!(code <= 1 && out.contains("=== REHEARSAL") && !out.contains("no fixture for"), "{out}");
}

/// The env's guard is a call of the plan (`plan` lists it): the scaffold
/// stubs it before the first write step, where a play runs it, so that the
/// scenario filled in is rehearsed, not refused by a guard without a stub.
#[test]
fn fixture_new_stubs_the_env_guard() {
    let f = Test::new()
        .runbook("deploy", DEPLOY)
        .args(["fixture", "new", "deploy", "--env", "prod", "--scenario", "p"])
        .stdout_has("scenario `p` with 4 stubs")
        .run();
    let text = std::fs::read_to_string(f.path().join("fixtures/deploy.toml")).unwrap();
    let guard = "cmd = \"kubectl config current-context\"   # the guard of env `prod`: its output must match /^prod-/";
    let (g, notify) = (text.find(guard), text.find("cmd = \"curl "));
    assert!(g.is_some() && g < notify, "the guard's stub, before the first write step's: {text}");
    let filled = text.replace("\nTODO\n", "\nprod-east\n");
    let (code, out) = again(f.path(), &["play", "deploy", "--dry-run", "--scenario", "p"], None);
    assert!(code == 1 && out.contains("TODO"), "unfilled, it fails for its TODOs: {out}");
    std::fs::write(f.path().join("fixtures/deploy.toml"), &filled).unwrap();
    let (code, out) = again(f.path(), &["play", "deploy", "--dry-run", "--scenario", "p"], None);
    assert!(code == 0 && out.contains("guard") && !out.contains("refused"), "{out}");
    // Without a write step, a play never runs the guard: no stub for it.
    let reads = "# R\n\n```bash {#pods read}\nkubectl get pods\n```\n";
    Test::new().runbook("r", reads).args(["fixture", "new", "r", "--env", "prod"]).stdout_has("with 1 stubs").run();
}

#[test]
fn fixture_new_never_overwrites_a_scenario() {
    Test::new()
        .runbook("deploy", DEPLOY)
        .file("fixtures/deploy.toml", "[[scenario]]\nname = \"scaffold\"\n")
        .args(["fixture", "new", "deploy"])
        .status(2)
        .stderr_has("scenario `scaffold` already exists")
        .run();
}

/// A runbook with a call of each kind the scaffold stubs: a capture fed to a
/// later command, promql, logql and http.
const SCAFFOLDED: &str = r#"
    # Scaffolded

    ```bash {#pod read capture=pod}
    kubectl get pods -n {{ namespace }} -o name
    ```

    ```bash {#restart needs=pod}
    kubectl delete {{ pod }} -n {{ namespace }}
    ```

    ```promql {#rate read}
    sum(rate(errors_total[5m]))
    ```

    ```logql {#errors read}
    {app="miner"} |= "panic"
    ```

    ```http {#health read}
    GET http://svc/healthz
    ```
"#;

/// What `fixture new scaf --scenario s` writes for [`SCAFFOLDED`].
fn scaffolded() -> String {
    let f = Test::new().runbook("scaf", SCAFFOLDED).args(["fixture", "new", "scaf", "--scenario", "s"]).run();
    std::fs::read_to_string(f.path().join("fixtures/scaf.toml")).unwrap()
}

/// The failure of the scenario of [`scaffolded`], as `check` and
/// `play --dry-run` print it.
const TODOS: &str = "  - scenario `s` still holds the scaffold's TODO answers, so it verifies nothing:
      fixtures/scaf.toml:6: stub `kubectl get pods -n animica-devnet -o name` answers TODO
      fixtures/scaf.toml:13: stub `kubectl delete * -n animica-devnet` answers TODO
      fixtures/scaf.toml:20: promql query `sum(rate(errors_total[5m]))` answers TODO
      fixtures/scaf.toml:25: logql query `{app=\"miner\"} |= \"panic\"` answers TODO
      fixtures/scaf.toml:30: http query `GET http://svc/healthz` answers TODO
      hint: replace each with what the real program prints (and its exit code), or record them with `runbook play scaf --record-fixture s`
";

#[test]
fn an_unfilled_scaffold_fails_check_and_the_dry_run_until_each_todo_is_replaced() {
    let text = scaffolded();
    let t = |fx: &str| Test::new().runbook("scaf", SCAFFOLDED).file("fixtures/scaf.toml", fx);
    t(&text).args(["check"]).status(1).stdout_has("FAILED scaf / s  fixtures/scaf.toml:3").stdout_has(TODOS).run();
    t(&text)
        .args(["play", "scaf", "--dry-run"])
        .status(1)
        .stdout_has(&format!("=== REHEARSAL FAILED: scenario s\n{TODOS}"))
        .run();
    // Filled in, with answers that mention TODO in a longer text: those are
    // answers, and so is a promql "0" without the scaffold's comment.
    let filled = text
        .replacen("\nTODO\n", "\npod/miner-0\n", 1)
        .replacen("\nTODO\n", "\npod \"miner-0\" deleted (TODO: watch it come back)\n", 1)
        .replace("value = \"0\"   # TODO", "value = \"0\"")
        .replace("lines = [\"TODO\"]", "lines = [\"TODO\", \"panic: TODO reached\"]")
        .replace("body = \"TODO\"", "body = \"TODO list: empty\"");
    assert_ne!(filled.matches("TODO").count(), 0, "{filled}");
    t(&filled).args(["check"]).stdout_has("ok scaf / s").stdout_lacks("scaffold's TODO").run();
}

#[test]
fn every_check_format_carries_the_todo_answers() {
    let text = scaffolded();
    let t = || Test::new().runbook("scaf", SCAFFOLDED).file("fixtures/scaf.toml", &text);
    let stub = "fixtures/scaf.toml:6: stub `kubectl get pods -n animica-devnet -o name` answers TODO";
    let j = t().args(["check", "--format", "json"]).status(1).run().json();
    let s = &j["runbooks"][0]["scenarios"][0];
    assert_eq!(s["passed"], false, "{j}");
    assert!(s["failures"][0].as_str().unwrap().contains(stub), "{j}");
    assert_eq!(j["summary"]["scenarios_failed"], 1, "{j}");
    let f = t().args(["check", "--format", "junit"]).status(1).stdout_has(stub).run();
    let r = quick_junit::Report::deserialize_from_str(&f.stdout).unwrap_or_else(|e| panic!("{e}\n{}", f.stdout));
    assert_eq!(r.failures, 1, "{}", f.stdout);
    t().args(["check", "--format", "github"])
        .status(1)
        .stdout_has("::error file=fixtures/scaf.toml,line=3,title=rehearsal::scenario `s` of `scaf` failed:%0Ascenario `s` still holds the scaffold's TODO answers")
        .stdout_has(&format!("%0A{stub}%0A"))
        .run();
}

const RECORDED: &str = r#"
    ---
    secrets: [token]
    vars:
      token: ~
    ---
    # Recorded

    ```bash {#pods read capture=n}
    kubectl --token {{ token }} get pods | wc -l | tr -d ' '
    ```

    ```bash {#health needs=pods}
    curl -fsS http://svc/healthz
    curl -fsS http://svc/healthz
    ```
"#;

/// Fake `kubectl` and `curl` in a directory of their own: `curl` answers
/// `starting` first, then `ok`.
fn fake_tools(dir: &std::path::Path) -> String {
    let bin = dir.join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let state = dir.join("curl-calls");
    let tools = [
        ("kubectl", "#!/bin/sh\nprintf 'pod/a\\npod/b\\n'\necho \"kubectl saw $*\" >&2\n".to_string()),
        (
            "curl",
            format!(
                "#!/bin/sh\nn=$(cat {s} 2>/dev/null || echo 0)\necho $((n + 1)) > {s}\nif [ \"$n\" = 0 ]; then echo starting; else echo ok; fi\n",
                s = state.display()
            ),
        ),
    ];
    for (name, body) in tools {
        let p = bin.join(name);
        std::fs::write(&p, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

#[test]
fn a_recorded_play_replays_without_the_tools_and_masks_secrets() {
    let secret = "tok-SECRET-991";
    let hand = "# written by hand\n[[scenario]]\nname = \"hand\"   # keep me\nvars = { token = \"t\" }\n  [[scenario.stub]]\n  cmd = \"kubectl *\"\n  stdout = \"x\\n\"\n  [[scenario.stub]]\n  cmd = \"curl *\"\n";
    let t = Test::new().runbook("rec", RECORDED).file("fixtures/rec.toml", hand);
    let path = fake_tools(t.path());
    let f = t
        .env("PATH", &path)
        .args(["play", "rec", "--yes", "--set", &format!("token={secret}"), "--record-fixture", "live"])
        .stdout_has("[pods] 2")
        .stdout_has("recorded scenario `live` in fixtures/rec.toml (3 calls, outcome passed)")
        .run();
    let fx = f.path().join("fixtures/rec.toml");
    let text = std::fs::read_to_string(&fx).unwrap();
    assert!(text.starts_with(hand), "{text}");
    assert!(!text.contains(secret), "the secret was recorded:\n{text}");
    assert!(text.contains(r#"cmd = "kubectl --token * get pods""#), "{text}");
    assert!(text.contains("sequence = ["), "{text}");
    assert!(text.contains(r#"pods = "passed""#), "{text}");
    // Replays under check with no fake tool on PATH.
    let (code, out) = again(f.path(), &["check"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 scenarios rehearsed, 0 failed"), "{out}");
    // Recording again replaces only that scenario.
    let set = format!("token={secret}");
    let args = ["play", "rec", "--yes", "--fresh", "--set", &set, "--record-fixture", "live"];
    let (code, out) = again(f.path(), &args, Some(&path));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("replaced scenario `live`"), "{out}");
    let text2 = std::fs::read_to_string(&fx).unwrap();
    assert_eq!(text2.matches("name = \"live\"").count(), 1, "{text2}");
    assert!(text2.starts_with(hand), "{text2}");
}

#[test]
fn the_engine_binary_alone_records_what_the_small_shim_records() {
    // `runbook-record-shim` next to `runbook` is the recording shim; an
    // engine installed without it is its own shim, with the same fixture.
    let alone = tempfile::tempdir().unwrap();
    let engine = alone.path().join("runbook");
    std::fs::copy(bin(), &engine).unwrap();
    assert!(bin().with_file_name("runbook-record-shim").is_file(), "cargo builds the small shim beside the engine");
    let mut fixtures = Vec::new();
    for shim in [None, Some(&engine)] {
        let mut t = Test::new().runbook("rec", RECORDED);
        let path = fake_tools(t.path());
        t = t.env("PATH", &path);
        if let Some(e) = shim {
            t = t.env("RUNBOOK_SHIM_EXE", &e.display().to_string());
        }
        let f = t
            .args(["play", "rec", "--yes", "--set", "token=t0k-abc", "--record-fixture", "live"])
            .stdout_has("recorded scenario `live` in fixtures/rec.toml (3 calls, outcome passed)")
            .run();
        fixtures.push(std::fs::read_to_string(f.path().join("fixtures/rec.toml")).unwrap());
    }
    assert!(fixtures[0].contains(r#"cmd = "kubectl --token * get pods""#), "{}", fixtures[0]);
    assert_eq!(fixtures[0], fixtures[1]);
}

#[test]
fn query_answers_are_recorded_and_replayed() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let srv = crate::common::servers::HttpServer::start(move |_| {
        if h.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            (503, "text/plain", "starting".into())
        } else {
            (200, "text/plain", "healthy".into())
        }
    });
    let rb = format!(
        "# Health\n\n```http {{#wait read retry=3 delay=10ms expect='status == 200'}}\nGET {}/healthz\n```\n",
        srv.url()
    );
    let f = Test::new()
        .file("runbooks/health.md", &rb)
        .args(["play", "health", "--yes", "--record-fixture", "live"])
        .stdout_has("recorded scenario `live`")
        .run();
    let text = std::fs::read_to_string(f.path().join("fixtures/health.toml")).unwrap();
    assert!(text.contains("kind = \"http\"") && text.contains("sequence = ["), "{text}");
    drop(srv);
    // The server is gone: the rehearsal answers from what was recorded.
    let (code, out) = again(f.path(), &["check"], None);
    assert_eq!(code, 0, "{out}\n{text}");
}

#[test]
fn interactive_answers_are_recorded_as_given() {
    let md = "# Asked\n\n```bash {#look confirm}\nkubectl get pods\n```\n\n```bash {#drop confirm}\nkubectl delete pod x\n```\n";
    let t = Test::new().file("runbooks/asked.md", md);
    let path = fake_tools(t.path());
    let env = [("NO_COLOR", "1"), ("PATH", path.as_str())];
    let mut p = crate::tty::Tty::spawn_env(t.path(), &["play", "asked", "--record-fixture", "live"], &env);
    // `look` yes, `drop` skipped, each answered at its question.
    p.expect("run it? [y]es / [n]o (stop the play) / [s]kip: ");
    p.line("y");
    p.expect("confirm: step `drop` asks for confirmation");
    p.expect("run it? [y]es / [n]o (stop the play) / [s]kip: ");
    p.line("s");
    let out = p.done(0);
    assert!(out.contains("recorded scenario `live`"), "{out}");
    let text = std::fs::read_to_string(t.path().join("fixtures/asked.toml")).unwrap();
    assert!(text.contains(r#"answers = { drop = "skip" }"#), "{text}");
    assert!(text.contains(r#"drop = "skipped""#), "{text}");
    // The replay answers as the operator did.
    let (code, out) = again(t.path(), &["check"], None);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn fixture_new_never_writes_a_secret_given_on_the_command_line() {
    // `token` is secret by `secrets:`, `api_token` by its name; `region` is not.
    let md = r#"
        ---
        secrets: [token]
        vars:
          token: ~
          region: eu
        ---
        # Secret

        ```bash {#pods read}
        kubectl --token {{ token }} get pods -n {{ region }}
        curl -fsS -H "X-Token: "{{ api_token }} http://svc/{{ region }}
        ```

        ```http {#health read}
        GET http://svc/healthz?key={{ api_token }}
        ```
    "#;
    // Given with --set, through the environment, and under a misspelt name
    // (`api_tokn` is not secret by its name: it is dropped, as `play` drops it).
    let (token, api, typo) = ("tok-SECRET-991", "apitok-xyz-123", "typo-SECRET-55");
    let f = Test::new()
        .runbook("sec", md)
        .env("RUNBOOK_VAR_token", token)
        .args(["fixture", "new", "sec", "--set", &format!("api_token={api}"), "--set", "region=us-east"])
        .args(["--set", &format!("api_tokn={typo}")])
        .stdout_has("wrote fixtures/sec.toml: scenario `scaffold` with 2 stubs and 1 queries")
        .stdout_has("secrets not written: token, api_token = \"MASKED\" in the scenario's vars, `*` in the stubs (as --record-fixture writes them)\n")
        .stderr_has("warning: --set api_tokn: runbook `sec` reads no variable `api_tokn`; it is ignored")
        .run();
    for secret in [token, api, typo] {
        assert!(!f.stdout.contains(secret) && !f.stderr.contains(secret), "{secret} shown:\n{}{}", f.stdout, f.stderr);
    }
    let bytes = std::fs::read(f.path().join("fixtures/sec.toml")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for secret in [token, api, typo] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} written:\n{text}");
    }
    assert!(text.contains(r#"vars = { token = "MASKED", api_token = "MASKED", region = "us-east" }"#), "{text}");
    assert!(text.contains(r#"cmd = "kubectl --token * get pods -n us-east""#), "{text}");
    assert!(text.contains(r#"cmd = "curl -fsS -H X-Token: * http://svc/us-east""#), "{text}");
    assert!(text.contains(r#"match = "GET http://svc/healthz\\?key=*""#), "{text}");
    // The scenario replays: every call has its stub, every query its answer.
    let (code, out) = again(f.path(), &["play", "sec", "--dry-run", "--scenario", "scaffold"], None);
    assert!(code <= 1 && out.contains("=== REHEARSAL") && !out.contains("no fixture for"), "{out}");
    assert!(!out.contains("no query fixture") && !out.contains("never called"), "{out}");
}

#[test]
fn fixture_new_stubs_calls_with_parentheses_in_quotes_and_warns_of_a_call_it_cannot_split() {
    let f = Test::new()
        .runbook(
            "q",
            r#"
            # Queries

            ```bash {#db read}
            kubectl exec p -- psql -tAc "select 1"
            kubectl exec p -- psql -tAc "select now()" | grep -c "$(date +%Y)"
            ```

            ```bash {#odd read}
            echo ready
            kubectl exec p -- sh -c "echo 'unbalanced
            ```
            "#,
        )
        .args(["fixture", "new", "q"])
        .stdout(
            "wrote fixtures/q.toml: scenario `scaffold` with 2 stubs and 0 queries, outputs marked TODO\n\
             next: fill in the TODOs (a rehearsal fails while one is left), then `runbook play q --dry-run --scenario scaffold`\n",
        )
        .run();
    assert_eq!(
        f.stderr,
        "warning: step `odd`, runbooks/q.md:8: no stub for `kubectl exec p -- sh -c \"echo 'unbalanced`: its quotes do \
         not balance, so it cannot be split into words\n  hint: add its [[scenario.stub]] by hand, or fix the quoting\n"
    );
    let text = std::fs::read_to_string(f.path().join("fixtures/q.toml")).unwrap();
    let cmds: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("cmd = ")).map(str::trim).collect();
    assert_eq!(
        cmds,
        [
            r#"cmd = "kubectl exec p -- psql -tAc select 1"   # step `db`, runbooks/q.md:3"#,
            r#"cmd = "kubectl exec p -- psql -tAc select now()"   # step `db`, runbooks/q.md:3"#
        ],
        "{text}"
    );
}

/// `fixture new` over a runbook whose required secret has no value: the
/// secret is written as it is when given (`MASKED`), nothing is asked.
#[test]
fn fixture_new_scaffolds_without_a_value_for_a_required_secret() {
    let md = r#"
        ---
        vars:
          api_token: ~
        ---
        # Secret

        ```bash {#pods read}
        kubectl --token {{ api_token }} get pods
        ```
    "#;
    let f = Test::new()
        .runbook("sec", md)
        .args(["fixture", "new", "sec"])
        .stdout(
            "wrote fixtures/sec.toml: scenario `scaffold` with 1 stubs and 0 queries, outputs marked TODO\n\
             secrets not written: api_token = \"MASKED\" in the scenario's vars, `*` in the stubs (as --record-fixture writes them)\n\
             next: fill in the TODOs (a rehearsal fails while one is left), then `runbook play sec --dry-run --scenario scaffold`\n",
        )
        .run();
    assert_eq!(f.stderr, "", "nothing asked, nothing warned");
    let text = std::fs::read_to_string(f.path().join("fixtures/sec.toml")).unwrap();
    assert!(text.contains(r#"vars = { api_token = "MASKED" }"#), "{text}");
    assert!(text.contains(r#"cmd = "kubectl --token * get pods""#), "{text}");
    std::fs::write(f.path().join("fixtures/sec.toml"), text.replace("\nTODO\n", "\npod/miner-0\n")).unwrap();
    let (code, out) = again(f.path(), &["play", "sec", "--dry-run", "--scenario", "scaffold"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("=== REHEARSAL passed"), "{out}");
}

/// A command holding the glob's own characters (`[`, `*`, `?`, `\`) is
/// scaffolded as a pattern that matches exactly that command: each stub
/// answers its own call, and the filled-in scenario rehearses green.
#[test]
fn fixture_new_escapes_glob_characters_so_each_stub_matches_its_own_command() {
    let md = r#"
        # Globs

        ```bash {#all read expect="^all$"}
        kubectl get pods -o jsonpath='{.items[*].metadata.name}'
        ```

        ```bash {#first read expect="^first$"}
        kubectl get pods -o jsonpath='{.items[0].metadata.name}'
        ```

        ```bash {#query read expect="^one$"}
        curl -fsS 'http://svc/pods?limit=1'
        ```

        ```bash {#slash read expect="^slash$"}
        kubectl exec p -- printf 'a\\tb'
        ```
    "#;
    let f = Test::new().runbook("g", md).args(["fixture", "new", "g"]).stdout_has("with 4 stubs").run();
    let text = std::fs::read_to_string(f.path().join("fixtures/g.toml")).unwrap();
    let cmds: Vec<&str> =
        text.lines().filter_map(|l| l.trim().strip_prefix("cmd = ")).map(|l| l.split("   #").next().unwrap()).collect();
    assert_eq!(
        cmds,
        [
            r#""kubectl get pods -o jsonpath=\\{.items\\[\\*\\].metadata.name\\}""#,
            r#""kubectl get pods -o jsonpath=\\{.items\\[0\\].metadata.name\\}""#,
            r#""curl -fsS http://svc/pods\\?limit=1""#,
            r#""kubectl exec p -- printf a\\\\\\\\tb""#,
        ],
        "{text}"
    );
    let mut filled = text.clone();
    for answer in ["all", "first", "one", "slash"] {
        filled = filled.replacen("\nTODO\n", &format!("\n{answer}\n"), 1);
    }
    std::fs::write(f.path().join("fixtures/g.toml"), filled).unwrap();
    let (code, out) = again(f.path(), &["play", "g", "--dry-run", "--scenario", "scaffold"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("=== REHEARSAL passed"), "{out}");
}

/// A scenario needs a name: `--scenario ''` and `--record-fixture ''` are
/// refused (exit 2) before anything is written or played.
#[test]
fn an_empty_scenario_name_is_refused() {
    let md = "# N\n\n```bash {#a}\necho a > ran\n```\n";
    for args in [&["fixture", "new", "n", "--scenario", ""][..], &["play", "n", "--yes", "--record-fixture", ""]] {
        let f =
            Test::new().runbook("n", md).args(args.iter().copied()).status(2).stderr_has("a value is required").run();
        assert!(!f.path().join("fixtures/n.toml").exists() && !f.path().join("ran").exists(), "{args:?}");
    }
}

/// A freshly imported runbook declares its placeholders required (`~`):
/// `fixture new` names each one nothing gives, with the command that gives
/// them all to the scenario, and then writes it with those values.
#[test]
fn fixture_new_names_the_values_the_scenario_needs() {
    let md = "---\nvars:\n  pod: ~\n---\n# R\n\n```bash {#logs read}\nkubectl logs {{ pod }}\n```\n";
    Test::new()
        .runbook("r", md)
        .args(["fixture", "new", "r"])
        .status(2)
        .stderr(
            "runbooks/r.md:8: error: required variable `pod` has no value (read by step `logs`)\n  \
             hint: give the scenario its values: `runbook fixture new r --set pod=…` (written in its `vars`)\n",
        )
        .run();
    let f = Test::new().runbook("r", md).args(["fixture", "new", "r", "--set", "pod=web-1"]).run();
    let written = std::fs::read_to_string(f.path().join("fixtures/r.toml")).unwrap();
    assert!(
        written.contains("vars = { pod = \"web-1\" }\n") && written.contains("cmd = \"kubectl logs web-1\""),
        "{written}"
    );
}

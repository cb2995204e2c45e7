//! `plan`: order, dependencies, rendered commands and variable precedence.

use crate::common::*;

const HEAD: &str = r#"
---
title: Head stall
vars:
  tail: 200
  namespace: from-front-matter
---
# Head stall

```bash {#pods read}
kubectl get pods -n {{ namespace }}
```

```bash {#logs read capture=current_rev}
kubectl logs deploy/x -n {{ namespace }} --tail={{ tail }}
```

```bash {#restart confirm needs=logs when="env == 'devnet' and 'WorkExpired' in steps.logs.stdout"}
helm rollback rel {{ current_rev }} -n {{ namespace }}
```

```bash {#other needs=}
echo independent
```
"#;

#[test]
fn precedence_front_matter_env_set() {
    Test::new()
        .runbook("h", HEAD)
        .args(["plan", "h", "--env", "prod"])
        .stdout_has("kubectl get pods -n animica\n")
        .run();
    Test::new()
        .runbook("h", HEAD)
        .args(["plan", "h", "--env", "prod", "--set", "namespace=over"])
        .stdout_has("-n over\n")
        .run();
    Test::new().config("").runbook("h", HEAD).args(["plan", "h"]).stdout_has("-n from-front-matter\n").run();
}

#[test]
fn hostile_set_is_one_quoted_word() {
    let hostile = "x; rm -rf / $(touch pwned) `id` \"dq\" 'sq'\nsecond line";
    let f = Test::new()
        .runbook("h", HEAD)
        .args(["plan", "h", "--json", "--set"])
        .args([format!("namespace={hostile}")])
        .run();
    let j = f.json();
    let cmd = j["steps"][0]["command"].as_str().unwrap();
    let words = shlex::split(cmd).expect("the command still parses as shell words");
    assert_eq!(words, ["kubectl", "get", "pods", "-n", hostile]);
    assert!(!f.path().join("pwned").exists());
}

#[test]
fn captures_are_placeholders_and_when_is_runtime() {
    let f = Test::new().runbook("h", HEAD).args(["plan", "h", "--json"]).run();
    let j = f.json();
    let restart = &j["steps"][2];
    assert_eq!(restart["id"], "restart");
    assert_eq!(restart["command"], "helm rollback rel <current_rev from logs> -n animica-devnet\n");
    assert!(restart["will_run"].is_null(), "decided at run time: {restart}");
    assert_eq!(restart["needs"], serde_json::json!(["logs"]));
}

#[test]
fn step_results_are_placeholders() {
    let md = "# R\n\n```bash {#pods read}\nkubectl get pods\n```\n\n```bash {#show when=\"steps.pods.exit == 0\"}\necho {{ steps.pods.stdout }} {{ steps.pods.status }}\n```\n";
    let f = Test::new().runbook("r", md).args(["plan", "r", "--json"]).run();
    let show = &f.json()["steps"][1];
    assert_eq!(show["command"], "echo <stdout of pods> <status of pods>\n");
    assert!(show["will_run"].is_null(), "decided at run time: {show}");
    Test::new().runbook("r", md).args(["plan", "r"]).stdout_has("echo <stdout of pods> <status of pods>").run();
}

#[test]
fn order_and_levels() {
    let f = Test::new().runbook("h", HEAD).args(["plan", "h", "--json"]).run();
    let j = f.json();
    let ids: Vec<&str> = j["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["pods", "logs", "restart", "other"]);
    assert_eq!(j["levels"], serde_json::json!([["pods", "other"], ["logs"], ["restart"]]));
}

#[test]
fn when_false_is_shown_as_skipped() {
    Test::new()
        .runbook("w", "# W\n\n```bash {#dev when=\"env == 'devnet'\"}\necho dev\n```\n")
        .args(["plan", "w", "--env", "prod"])
        .stdout_has("skipped: `when` is false")
        .run();
}

#[test]
fn template_in_double_quotes_warns() {
    Test::new()
        .runbook("q", "# Q\n\n```bash {#a}\necho \"ns {{ namespace }}\"\n```\n")
        .args(["plan", "q"])
        .stderr_has("q.md:4: warning")
        .stderr_has("inside double quotes")
        .run();
}

#[test]
fn two_templates_in_one_quoted_line_warn_once() {
    let t = Test::new()
        .runbook("q", "# Q\n\n```bash {#a}\necho \"{{ namespace }} {{ namespace }}\"\necho \"{{ namespace }}\"\n```\n")
        .args(["plan", "q"])
        .run();
    assert_eq!(t.stderr.matches("q.md:4: warning").count(), 1, "{}", t.stderr);
    assert_eq!(t.stderr.matches("q.md:5: warning").count(), 1, "{}", t.stderr);
}

#[test]
fn secrets_are_masked() {
    Test::new()
        .runbook("s", "---\nvars:\n  api_token: hunter22\n---\n# S\n\n```bash {#a}\ncurl -H {{ api_token }} x\n```\n")
        .args(["plan", "s"])
        .stdout_lacks("hunter22")
        .stdout_has("curl -H *** x")
        .run();
}

#[test]
fn unknown_env() {
    Test::new()
        .runbook("h", HEAD)
        .args(["plan", "h", "--env", "prd"])
        .status(2)
        .stderr_has("unknown environment `prd`")
        .stderr_has("did you mean `prod`")
        .run();
}

#[test]
fn set_without_equals() {
    Test::new()
        .runbook("h", HEAD)
        .args(["plan", "h", "--set", "namespace"])
        .status(2)
        .stderr_has("error: --set namespace: expected NAME=VALUE\n  hint: write --set namespace=VALUE\n")
        .run();
    // Empty, or not a name (a value typed without its name, perhaps a
    // secret): not shown back.
    for given in ["", "s3cr et-v@lue"] {
        Test::new()
            .runbook("h", HEAD)
            .args(["plan", "h", "--set", given])
            .status(2)
            .stderr("error: --set: expected NAME=VALUE, and it has no `=`\n  hint: write --set NAME=VALUE\n")
            .run();
    }
}

#[test]
fn env_not_allowed_by_front_matter() {
    Test::new()
        .runbook("d", "---\nenvs: [devnet]\n---\n# D\n\n```bash {#a}\n:\n```\n")
        .args(["plan", "d", "--env", "prod"])
        .status(2)
        .stderr_has("not for env `prod`")
        .run();
}

/// No env chosen (no `--env`, no `default_env`) a play is `local`, with no
/// profile: a runbook for `prod` alone is refused there (play, plan) unless
/// `--env local` is typed; `check` says runbook.toml defines no such env.
#[test]
fn a_runbook_not_for_local_is_refused_when_no_env_is_chosen() {
    let md = "---\nenvs: [prod]\n---\n# D\n\n```bash {#a}\necho ran\n```\n";
    let hint = "  hint: its front matter allows: prod; no env was chosen (`--env`, or `default_env` in runbook.toml), \
                so the play would be `local`, with no profile: choose one with `--env prod` (or `--env local` to play it so)\n";
    for config in ["", "[env.prod]\nconfirm = \"marked\"\n"] {
        for args in [vec!["play", "d", "--yes"], vec!["plan", "d"]] {
            Test::new()
                .config(config)
                .runbook("d", md)
                .args(args)
                .status(2)
                .stdout("")
                .stderr(&format!("runbooks/d.md:1: error: runbook `d` is not for env `local`\n{hint}"))
                .run();
        }
    }
    Test::new().config("").runbook("d", md).args(["play", "d", "--yes", "--env", "local"]).stdout_has("[a] ran").run();
    Test::new()
        .config("")
        .runbook("d", md)
        .args(["check"])
        .status(1)
        .stdout_has(
            "runbooks/d.md:2: error[unknown-env]: front matter `envs` names `prod`, but runbook.toml defines no env: \
             the runbook plays only with `--env local`\n  hint: define them in runbook.toml (`[env.prod]`), or add `local` to `envs`",
        )
        .run();
    // `local` among them: it plays.
    Test::new()
        .config("")
        .runbook("d", "---\nenvs: [local, prod]\n---\n# D\n\n```bash {#a}\necho ran\n```\n")
        .args(["play", "d", "--yes"])
        .stdout_has("[a] ran")
        .run();
}

#[test]
fn bash_length_expansion_is_not_a_template_comment() {
    Test::new()
        .runbook(
            "l",
            "# L\n\n```bash {#a}\nitems=(a b c)\necho ${#items[@]} {{ namespace }} {## a template comment ##}\n```\n",
        )
        .args(["plan", "l"])
        .stdout_has("$ echo ${#items[@]} animica-devnet\n")
        .run();
}

#[test]
fn a_step_needing_a_skipped_step_is_shown_skipped() {
    Test::new()
        .runbook(
            "r",
            "# R\n\n```bash {#rollback when=\"env == 'nowhere'\"}\necho undo\n```\n\n```bash {#rollback-status needs=rollback}\necho status\n```\n\n```bash {#after-all}\necho done\n```\n",
        )
        .args(["plan", "r"])
        .stdout_has("rollback  [write, when env == 'nowhere']  — skipped: `when` is false")
        .stdout_has("rollback-status  [write, needs rollback]  — skipped: needs `rollback`, which is skipped")
        .stdout_lacks("after-all  [write]  — skipped")
        .run();
}

#[test]
fn plan_shows_what_the_env_adds_questions_and_guard() {
    let md = "# P\n\n```bash {#a read}\necho a\n```\n";
    Test::new()
        .runbook("p", md)
        .args(["plan", "p", "--env", "prod"])
        .stdout_has("asks: before every step not marked `read` (env confirm = \"write\")")
        .stdout_has(
            "guard: `kubectl config current-context` must print a match of /^prod-/ before the first write step",
        )
        .run();
    Test::new()
        .runbook("p", md)
        .args(["plan", "p", "--env", "devnet"])
        .stdout_lacks("guard:")
        .stdout_lacks("asks:")
        .run();
}

/// `local`, the env a play without a profile is recorded under, can be
/// chosen by name: over `default_env`, with none of the profiles' values.
#[test]
fn env_local_is_the_env_of_no_profile_even_over_the_default_env() {
    let t = Test::new().runbook("h", HEAD).args(["plan", "h", "--env", "local"]).run();
    assert!(t.stdout.contains("kubectl get pods -n from-front-matter"), "{}", t.stdout);
    assert!(!t.stdout.contains("animica-devnet"), "{}", t.stdout);
    Test::new()
        .runbook("e", "# E\n\n```bash {#a}\necho env={{ env }}.\n```\n")
        .args(["play", "e", "--env", "local", "--yes"])
        .stdout_has("playing e @ local (run ")
        .stdout_has("[a] env=.\n")
        .run();
    Test::new()
        .runbook("h", HEAD)
        .args(["plan", "h", "--env", "lokal"])
        .status(2)
        .stderr_has("unknown environment `lokal`")
        .run();
}

/// A project that defines `[env.local]` gets that profile for `--env local`.
#[test]
fn env_local_defined_in_the_config_is_that_profile() {
    Test::new()
        .config("[env.local]\nnamespace = \"mine\"\n")
        .runbook("h", HEAD)
        .args(["plan", "h", "--env", "local"])
        .stdout_has("kubectl get pods -n mine")
        .run();
}

/// A scenario may name `local` too: the rehearsal of a play with no profile.
#[test]
fn a_scenario_of_env_local_rehearses_with_no_profile() {
    Test::new()
        .runbook("h", "---\nenvs: [prod]\nvars:\n  namespace: fm\n---\n# H\n\n```bash {#pods read}\nkubectl get pods -n {{ namespace }}\n```\n")
        .fixture(
            "h",
            "[[scenario]]\nname = \"by hand\"\nenv = \"local\"\n[[scenario.stub]]\ncmd = \"kubectl get pods -n fm\"\nstdout = \"p\"\n",
        )
        .args(["check", "runbooks/h.md"])
        .stdout_has("ok")
        .run();
}

/// A required variable (`~`) not given: `plan` shows `<name>`, as the wiki
/// does, and says a play asks for it; `play` still refuses without it.
#[test]
fn a_required_variable_is_shown_as_a_placeholder_by_plan() {
    let md =
        "---\nvars:\n  pod: ~\n---\n# R\n\n```bash {#del when=\"pod != 'x'\"}\nkubectl delete pod {{ pod }}\n```\n";
    Test::new()
        .runbook("r", md)
        .args(["plan", "r"])
        .stdout_has("kubectl delete pod <pod>")
        .stderr_has("runbooks/r.md:3: warning: variable `pod` has no value: shown as <pod>")
        .stderr_has("a play asks for it on a terminal; or pass `--set pod=…`")
        .run();
    let f = Test::new().runbook("r", md).args(["plan", "r", "--json"]).run();
    assert_eq!(f.json()["steps"][0]["command"], "kubectl delete pod <pod>\n");
    Test::new().runbook("r", md).args(["play", "r", "--yes"]).status(2).stderr_has("`pod`").run();
    Test::new().runbook("r", md).args(["fixture", "new", "r"]).status(2).stderr_has("`pod`").run();
}

/// A number, a float and a boolean default, each printed and used in arithmetic.
const TYPED: &str = r#"
---
vars:
  n: 3
  ratio: 0.5
  dry: false
---
# Typed

```bash {#show read}
echo n={{ n }} ratio={{ ratio }} dry={{ dry }} plus={{ n + 1 }}
```
"#;

#[test]
fn a_value_that_does_not_read_as_its_default_type_stays_text_with_a_warning() {
    let out = |args: &[&str], config: Option<&str>| {
        let mut t = Test::new().runbook("t", TYPED).args(["play", "t", "--yes"]).args(args.iter().copied());
        if let Some(c) = config {
            t = t.config(c);
        }
        t.any_status().run()
    };
    // What reads as the default's type takes it: `1e3` is a float only for a float default.
    let f = out(&["--set", "n=41", "--set", "ratio=1e3", "--set", "dry=TRUE"], None);
    assert!(f.stdout.contains("[show] n=41 ratio=1000.0 dry=true plus=42"), "{}", f.stdout);
    assert!(!f.stderr.contains("warning"), "{}", f.stderr);
    // `1e3` is no integer: the text `1e3`, never the float 1000.0. The
    // arithmetic on it is refused before anything runs, after the warning
    // that says why.
    let f = out(&["--set", "n=1e3"], None);
    assert_eq!(f.output.status.code(), Some(2), "{}{}", f.stdout, f.stderr);
    assert!(f.stderr.contains("warning: --set n: the value is not a whole number, as the default of `n` is; it is used as text\n  hint: give a whole number, or change the default of `n` in the front matter\n"), "{}", f.stderr);
    assert!(
        f.stderr.contains("unsupported types string and number (it read dry = false, n = \"1e3\", ratio = 0.5)"),
        "{}",
        f.stderr
    );
    assert!(!f.stdout.contains("1000"), "{}", f.stdout);
    // As `abc` always was.
    let f = out(&["--set", "n=abc"], None);
    assert!(f.stderr.contains("warning: --set n: the value is not a whole number"), "{}", f.stderr);
    let f = Test::new()
        .runbook("t", &TYPED.replace(" plus={{ n + 1 }}", ""))
        .args(["play", "t", "--yes", "--set", "n=1e3", "--set", "ratio=x", "--set", "dry=yes"])
        .env("RUNBOOK_VAR_ratio", "1")
        .run();
    assert!(f.stdout.contains("[show] n=1e3 ratio=x dry=yes"), "{}", f.stdout);
    for w in [
        "warning: --set ratio: the value is not a number, as the default of `ratio` is",
        "warning: --set dry: the value is not true or false, as the default of `dry` is",
    ] {
        assert!(f.stderr.contains(w), "{}", f.stderr);
    }
    // An integer given for a float default is that float.
    let f = Test::new().runbook("t", TYPED).args(["plan", "t", "--set", "ratio=1"]).run();
    assert!(f.stdout.contains("ratio=1.0 "), "{}", f.stdout);
    // An env profile: text as --set, TOML numbers by the same rule.
    let config = "[env.e]\nn = \"1e3\"\nratio = 2\ndry = \"yes\"\n";
    let f = Test::new()
        .config(config)
        .runbook("t", &TYPED.replace(" plus={{ n + 1 }}", ""))
        .args(["plan", "t", "--env", "e"])
        .run();
    assert!(f.stdout.contains("echo n=1e3 ratio=2.0 dry=yes"), "{}", f.stdout);
}

#[test]
fn an_alert_label_takes_its_default_type_only_when_it_reads_as_one() {
    let alert = |n: &str| {
        format!(
            r#"{{"version": "4", "status": "firing", "receiver": "runbook", "groupLabels": {{}}, "commonLabels": {{}},
                "commonAnnotations": {{}}, "externalURL": "", "groupKey": "k", "truncatedAlerts": 0,
                "alerts": [{{"status": "firing", "labels": {{"alertname": "Many", "n": "{n}"}}, "annotations": {{}},
                "startsAt": "2024-05-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "f"}}]}}"#
        )
    };
    let config = "[alerts.labels]\nn = \"n\"\n[alerts.runbooks]\nMany = \"t\"\n";
    for (given, shown) in [("7", "echo n=7 "), ("1e3", "echo n=1e3 ")] {
        Test::new()
            .config(config)
            .runbook("t", &TYPED.replace(" plus={{ n + 1 }}", ""))
            .stdin(&alert(given))
            .args(["plan", "t", "--from-alert", "-"])
            .stdout_has(shown)
            .run();
    }
}

/// A misspelt step id with a `-` is one name, not a subtraction: `plan`
/// and `play` say which step is unknown and which was meant, as `check`
/// does, never "undefined variable `revv`".
#[test]
fn a_misspelt_step_reference_names_the_step_in_plan_and_play() {
    let md = "# N\n\n```bash {#get-rev read}\necho 1\n```\n\n```bash {#b read}\necho {{ steps.get-revv.stdout }}\n```\n\n\
              ```manual {#m}\n- look at {{ steps.pods-on-nod.stdout }}\n```\n";
    let expected = "runbooks/n.md:7: error: step `b` refers to `steps.get-revv` in its body, but no step has the id `get-revv`\n  \
                    hint: did you mean `steps.get-rev`?\n\
                    runbooks/n.md:11: error: step `m` refers to `steps.pods-on-nod` in its body, but no step has the id `pods-on-nod`\n  \
                    hint: `steps.<id>` takes the id of a step of this runbook (`runbook show` lists them)\n";
    for args in [vec!["plan", "n"], vec!["play", "n", "--yes"]] {
        let f = Test::new().runbook("n", md).args(args).status(2).run();
        assert_eq!(f.stderr, expected);
    }
}

/// `expect`, `cwd` and `escalate` are templates: `plan` shows them as the
/// play in that env would use them (rendered, secrets masked), and shows
/// `escalate` at all.
#[test]
fn expect_cwd_and_escalate_are_shown_rendered_for_the_env() {
    let md = r#"---
vars:
  team: db-oncall
  pager_token: hunter2-pager
---
# Attrs

```bash {#up read cwd="deploy/{{ namespace }}" expect="^{{ namespace }} ok$" budget=5m escalate="page {{ team }} in {{ env }} with {{ pager_token }}"}
echo {{ namespace }} ok
```
"#;
    Test::new().runbook("attrs", md).args(["plan", "attrs", "--env", "prod"]).stdout(
        "attrs — Attrs  (runbooks/attrs.md)\n\
         env: prod\n\
         asks: before every step not marked `read` (env confirm = \"write\")\n\
         guard: `kubectl config current-context` must print a match of /^prod-/ before the first write step\n\
         vars: namespace=animica pager_token=*** team=db-oncall\n\
         \n \
         1. up  [read, expect /^animica ok$/, cwd deploy/animica, budget 5m, escalate \"page db-oncall in prod with ***\"]  (runbooks/attrs.md:8)\n    \
         $ echo animica ok\n",
    ).run();
}

const FILTERED: &str = "# F\n\n```bash {#look read}\necho looking\n```\n\n```bash {#fix}\necho fixing\n```\n\n```bash {#verify read}\necho verified\n```\n";

#[test]
fn plan_read_only_shows_what_the_triage_play_leaves_out() {
    Test::new()
        .config("")
        .runbook("f", FILTERED)
        .args(["plan", "f", "--read-only"])
        .stdout(
            "f — F  (runbooks/f.md)\nenv: (none)\nmode: --read-only\n\n \
             1. look  [read]  (runbooks/f.md:3)\n    $ echo looking\n \
             2. fix  [write]  — skipped: not a `read` step (--read-only)  (runbooks/f.md:7)\n    after look\n    $ echo fixing\n \
             3. verify  [read]  (runbooks/f.md:11)\n    after fix\n    $ echo verified\n",
        )
        .run();
    // The play leaves out the same step, for the same reason.
    Test::new()
        .config("")
        .runbook("f", FILTERED)
        .args(["play", "f", "--read-only", "--yes"])
        .stdout_has("--- fix: skipped: not a `read` step (--read-only)\n")
        .run();
}

#[test]
fn plan_only_and_from_leave_out_what_the_play_leaves_out() {
    let f = Test::new().config("").runbook("f", FILTERED).args(["plan", "f", "--only", "fix", "--json"]).run();
    let skips: Vec<(bool, String)> = f.json()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["will_run"] == true, s["skip"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(
        skips,
        [
            (false, "not selected (--only fix)".to_string()),
            (true, String::new()),
            (false, "not selected (--only fix)".to_string())
        ]
    );
    Test::new()
        .config("")
        .runbook("f", FILTERED)
        .args(["plan", "f", "--from", "fix"])
        .stdout_has("mode: --from fix\n")
        .stdout_has("1. look  [read]  — skipped: before --from fix  (runbooks/f.md:3)\n")
        .stdout_has("2. fix  [write]  (runbooks/f.md:7)\n")
        .run();
}

#[test]
fn plan_read_only_with_only_a_write_step_is_refused_as_the_play_is() {
    for cmd in ["plan", "play"] {
        Test::new()
            .config("")
            .runbook("f", FILTERED)
            .args(
                [cmd, "f", "--read-only", "--only", "fix", "--yes"]
                    .into_iter()
                    .filter(|a| cmd == "play" || *a != "--yes"),
            )
            .status(2)
            .stderr_has("--only fix with --read-only: `fix` (runbooks/f.md:7) is a write step")
            .stderr_has("drop --read-only to run `fix`")
            .run();
    }
    Test::new()
        .config("")
        .runbook("f", FILTERED)
        .args(["plan", "f", "--only", "nope"])
        .status(2)
        .stderr_has("--only nope: no such step in `f`")
        .run();
}

/// A step that reads a capture of a step it does not depend on would render
/// before the capture exists, or after it, as the branches race: `plan` and
/// `play` refuse it as `check` does (exit 2), before anything runs.
#[test]
fn a_capture_read_without_needs_is_refused_before_anything_runs() {
    let md = "# C\n\n```bash {#snapshot needs=}\ntouch snapshot-taken\n```\n\n\
              ```bash {#get-ver read needs= capture=ver}\necho v1\n```\n\n\
              ```bash {#use read needs=snapshot}\necho deploying {{ ver }}\n```\n";
    let refused = "runbooks/c.md:12: error: step `use` uses `ver`, captured by step `get-ver`, which it does not depend on\n  \
                   hint: add `needs=get-ver` to step `use` so the capture exists when it runs\n";
    Test::new().runbook("c", md).args(["plan", "c"]).status(2).stderr(refused).run();
    let f = Test::new().runbook("c", md).args(["play", "c", "--yes"]).status(2).stderr(refused).run();
    assert!(f.path().join("runbook.toml").exists());
    assert!(!f.path().join("snapshot-taken").exists(), "a step ran");
}

/// A `when` reading the output of a step that runs after it would decide
/// from nothing (an empty stdout) and skip the fix without a word: the
/// play is refused before anything runs.
#[test]
fn a_when_reading_a_later_step_is_refused_before_anything_runs() {
    let md = "# F\n\n```bash {#fix when=\"'ERROR' in steps.logs.stdout\"}\ntouch fixed\n```\n\n\
              ```bash {#logs read}\ntouch looked; echo ERROR disk full\n```\n";
    let f = Test::new()
        .runbook("f", md)
        .args(["play", "f", "--yes"])
        .status(2)
        .stderr(
            "runbooks/f.md:3: error: step `fix` reads `steps.logs` in `when`, but step `logs` does not run before it: \
             the value would be empty or depend on which branch is faster\n  \
             hint: add `needs=logs` to step `fix` so `logs` has ended when it runs\n",
        )
        .run();
    assert!(f.path().join("runbook.toml").exists());
    assert!(!f.path().join("looked").exists() && !f.path().join("fixed").exists(), "a step ran");
}

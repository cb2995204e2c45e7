//! `runbook check`: each lint fires at the right file:line, a clean runbook
//! has no finding, invalid fixtures are exit 2 with file:line, and the
//! machine formats parse.

use crate::common::*;

const CLEAN: &str = r#"
    # Clean

    ```bash {#pods read capture=pod}
    kubectl get pods -n {{ namespace }} -o name | head -1
    ```

    ```bash {#logs read needs=pods}
    kubectl logs {{ pod }} -n {{ namespace }} --tail=20
    ```
"#;

const CLEAN_FIXTURE: &str = r#"
    [[scenario]]
    name = "ok"
      [[scenario.stub]]
      cmd = "kubectl get pods -n animica-devnet -o name"
      stdout = "pod/a\n"
      [[scenario.stub]]
      cmd = "kubectl logs pod/a -n animica-devnet --tail=20"
      stdout = "fine\n"
      [scenario.expect]
      steps = { pods = "passed", logs = "passed" }
"#;

#[test]
fn clean_runbook_has_no_finding() {
    let f = Test::new()
        .runbook("clean", CLEAN)
        .fixture("clean", CLEAN_FIXTURE)
        .args(["check"])
        .stdout_has("ok clean / ok")
        .stdout_has("1 runbook, 0 errors, 0 warnings; 1 scenario rehearsed, 0 failed")
        .run();
    assert!(!f.stdout.contains("runbooks/clean.md:"), "{}", f.stdout);
}

/// (markdown, `file:line`, code, exit) — each broken runbook alone in a
/// project. Exit 2 is what `plan` refuses too (invalid input); 1 is a
/// finding only `check` makes; 0 a warning.
const CORPUS: &[(&str, &str, &str, i32)] = &[
    ("# A\n\n```bash {#a reed}\necho\n```\n", "a.md:3", "unknown-attribute", 2),
    ("# A\n\n```bash {#a}\necho\n```\n\n```bash {#a}\necho\n```\n", "a.md:7", "duplicate-id", 2),
    ("# A\n\n```bash {#a needs=b}\necho\n```\n", "a.md:3", "unknown-step", 2),
    ("# A\n\n```bash {#a needs=b}\necho\n```\n\n```bash {#b needs=a}\necho\n```\n", "a.md:3", "cycle", 2),
    ("# A\n\n```bash {#a rollback=u}\necho\n```\n\n```bash {#u}\necho\n```\n", "a.md:3", "rollback-not-undo", 2),
    ("# A\n\n```bash {#a}\necho\necho {{ nope }}\n```\n", "a.md:5", "undefined-variable", 2),
    (
        "# A\n\n```bash {#a when=\"'E' in steps.b.stdout\"}\necho\n```\n\n```bash {#b}\necho E\n```\n",
        "a.md:3",
        "step-ref-order",
        2,
    ),
    ("# A\n\n```bash {#a}\necho {{ steps.a.status }}\n```\n", "a.md:3", "step-ref-order", 2),
    (
        "# A\n\n```bash {#a capture=x}\necho\n```\n\n```bash {#b needs=}\necho {{ x }}\n```\n",
        "a.md:8",
        "capture-order",
        2,
    ),
    ("# A\n\n```bash {#a}\necho \"ns {{ env }}\"\n```\n", "a.md:4", "template-in-quotes", 1),
    ("# A\n\n```bash {#a}\necho ok\nif true; then echo (; fi\n```\n", "a.md:5", "shell-syntax", 1),
    ("# A\n\n```bash {#a}\n:\n```\n\n```sh\nfor x in; do\n```\n", "a.md:8", "shell-syntax", 1),
    ("# A\n\n```python {#a}\nx = 1\nif x\n    pass\n```\n", "a.md:5", "python-syntax", 1),
    ("# A\n\n```python {#a}\nprint('ns {{ env }}')\n```\n", "a.md:4", "template-in-quotes", 1),
    ("# A\n\n```bash {#a}\nkubectl logs <pod> -n <ns>\n```\n", "a.md:4", "placeholder", 1),
    ("# A\n\n```bash {#a}\n:\ncurl -fsSL https://x.io/i.sh | bash\n```\n", "a.md:5", "pipe-to-shell", 1),
    ("# A\n\n```bash {#a}\ncurl -fsS http://example.com/x.tgz -o /dev/null\n```\n", "a.md:4", "plain-http", 0),
    ("# A\n\n```bash {#a}\ncurl -H 'Authorization: Bearer abcdef123456' x\n```\n", "a.md:4", "credential", 1),
    ("# A\n\n```bash {#a}\nexport AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n```\n", "a.md:4", "credential", 1),
    ("# A\n\n```bash {#a}\n:\n```\n\n```bash\necho never closed\n", "a.md:7", "unclosed-fence", 1),
    ("# A\n\n```bash {#a}\necho {% if x %}\n```\n", "a.md:4", "template-syntax", 2),
    ("# A\n\n```bash {#a}\n:\n```\n", "a.md:1", "no-fixture", 0),
    ("# A\n\n```bash {#a}\n:\n```\n\n```bash {#b expect=\"e: (ok\"}\n:\n```\n", "a.md:7", "expect-regex", 2),
    ("# A\n\n```python {#a expect=\"(?<=a)b\"}\nprint(1)\n```\n", "a.md:3", "expect-regex", 2),
];

#[test]
fn every_lint_fires_at_its_line() {
    for (md, at, code, exit) in CORPUS {
        let f = Test::new().file("runbooks/a.md", md).args(["check", "--format", "json"]).any_status().run();
        let j = f.json();
        let findings = j["runbooks"][0]["findings"].as_array().cloned().unwrap_or_default();
        let hit = findings
            .iter()
            .any(|d| d["code"] == *code && format!("{}:{}", d["file"].as_str().unwrap_or(""), d["line"]).ends_with(at));
        assert!(hit, "no `{code}` at {at} for:\n{md}\nfindings: {findings:#?}");
        assert!(findings.iter().all(|d| d["hint"].is_string()), "a finding without a hint: {findings:#?}");
        assert_eq!(f.output.status.code(), Some(*exit), "{code}: {}", f.stdout);
        // One verdict on invalid input: what `plan` refuses, `check` exits 2 for.
        let plan = Test::new().file("runbooks/a.md", md).args(["plan", "a"]).any_status().run();
        assert_eq!(plan.output.status.code() == Some(2), *exit == 2, "{code}: plan says {}", plan.stderr);
    }
}

#[test]
fn shellcheck_findings_map_to_runbook_lines() {
    if std::process::Command::new("shellcheck").arg("--version").output().is_err() {
        return;
    }
    let md = "# A\n\n```bash {#a}\necho a\n```\n\n```bash {#b}\nfor f in $(ls); do echo \"$f\"; done\n```\n";
    Test::new()
        .file("runbooks/a.md", md)
        .args(["check"])
        .status(1)
        .stdout_has("runbooks/a.md:8: error[shellcheck]: shellcheck SC2045")
        .run();
}

/// A list variable renders several words (`plan`: `for h in a b`), so
/// shellcheck sees several words for it: no SC2043 ("this loop will only
/// ever run once") on a loop over a list of the front matter or of an env;
/// a loop over a one-value variable still gets it.
#[test]
fn shellcheck_sees_a_list_variable_as_several_words() {
    if std::process::Command::new("shellcheck").arg("--version").output().is_err() {
        return;
    }
    let cfg = CONFIG.replace("\nnamespace = ", "\nnodes = [\"n1\", \"n2\"]\nnamespace = ");
    let md = "---\nvars: {hosts: [a, b], one: x}\n---\n# A\n\n```bash {#a read}\nfor h in {{ hosts }}; do echo \"$h\"; done\nfor n in {{nodes}}; do echo \"$n\"; done\nfor o in {{ one }}; do echo \"$o\"; done\n```\n";
    let t = || Test::new().config(&cfg).file("runbooks/a.md", md);
    let f = t().args(["check"]).status(0).run();
    assert_eq!(f.stdout.matches("shellcheck SC2043").count(), 1, "{}", f.stdout);
    assert!(f.stdout.contains("runbooks/a.md:9: warning[shellcheck]: shellcheck SC2043"), "{}", f.stdout);
    t().args(["plan", "a"]).stdout_has("for h in a b; do").stdout_has("for n in n1 n2; do").run();
}

#[test]
fn undefined_variable_is_checked_per_env() {
    let cfg = CONFIG.replace("confirm = \"write\"", "confirm = \"write\"\nonly_prod = \"x\"");
    let md = "# A\n\n```bash {#a}\necho {{ only_prod }}\n```\n";
    Test::new()
        .config(&cfg)
        .file("runbooks/a.md", md)
        .args(["check"])
        // As `plan --env devnet` refuses it.
        .status(2)
        .stdout_has(
            "runbooks/a.md:4: error[undefined-variable]: undefined variable `only_prod` in step `a` in env devnet",
        )
        .run();
    // Restricted to prod, it is defined.
    let md = "---\nenvs: [prod]\n---\n# A\n\n```bash {#a}\necho {{ only_prod }}\n```\n";
    Test::new().config(&cfg).file("runbooks/a.md", md).args(["check"]).stdout_lacks("undefined").run();
}

/// `check` and `plan` name an undefined variable with one wording, saying
/// which template of the step reads it.
#[test]
fn undefined_variable_names_the_template_as_plan_does() {
    let cases = [
        ("```bash {#a}\necho {{ nope }}\n```\n", 4, "undefined variable `nope` in step `a`"),
        ("```bash {#a when=\"nope == 'x'\"}\necho\n```\n", 3, "undefined variable `nope` in `when` of step `a`"),
        ("```bash {#a expect=\"{{ nope }}\"}\necho\n```\n", 3, "undefined variable `nope` in `expect` of step `a`"),
        ("```bash {#a cwd=\"/srv/{{ nope }}\"}\necho\n```\n", 3, "undefined variable `nope` in `cwd` of step `a`"),
        ("```bash {#a when=\"nope == 'x'\"}\necho {{ nope }}\n```\n", 4, "undefined variable `nope` in step `a`"),
    ];
    for (block, line, message) in cases {
        let md = format!("# A\n\n{block}");
        Test::new()
            .file("runbooks/a.md", &md)
            .args(["check"])
            .status(2)
            .stdout_has(&format!("runbooks/a.md:{line}: error[undefined-variable]: {message}\n"))
            .run();
        Test::new()
            .file("runbooks/a.md", &md)
            .args(["plan", "a"])
            .status(2)
            .stderr_has(&format!("runbooks/a.md:{line}: error: {message}\n"))
            .run();
    }
}

/// A variable only tested for (`is defined`) or given a `default` is
/// optional: `check` agrees with `plan` and the play, which render it
/// without a value; the same name read bare is still undefined.
#[test]
fn a_guarded_variable_is_optional_in_check_as_in_plan() {
    let md = "# D\n\n```bash {#a read}\necho {{ tier | default('gold') }} {% if extra is defined %}{{ extra }}{% endif %}\n```\n";
    Test::new().file("runbooks/d.md", md).args(["check"]).stdout_lacks("undefined").run();
    Test::new().file("runbooks/d.md", md).args(["plan", "d"]).stdout_has("    $ echo gold\n").run();
    let bare = md.replace("{% endif %}", "{% endif %} {{ tier }}");
    Test::new()
        .file("runbooks/d.md", &bare)
        .args(["check"])
        .status(2)
        .stdout_has("runbooks/d.md:4: error[undefined-variable]: undefined variable `tier` in step `a`\n")
        .stdout_lacks("`extra`")
        .run();
}

/// A variable read only through a slice (`{{ tok[:6] }}`, which
/// minijinja's `undeclared_variables` does not see) is read: `check` and
/// `plan` name it undefined as they name `{{ tok }}`.
#[test]
fn a_variable_read_only_through_a_slice_is_named_undefined() {
    let cases = [
        ("```bash {#a}\necho {{ nope[:6] }}\n```\n", 4, "undefined variable `nope` in step `a`"),
        ("```bash {#a when=\"nope[1:] == 'x'\"}\necho\n```\n", 3, "undefined variable `nope` in `when` of step `a`"),
        (
            "```bash {#a}\n{% for c in nope[::2] %}echo {{ c }}{% endfor %}\n```\n",
            4,
            "undefined variable `nope` in step `a`",
        ),
    ];
    for (block, line, message) in cases {
        let md = format!("# A\n\n{block}");
        Test::new()
            .file("runbooks/a.md", &md)
            .args(["check"])
            .status(2)
            .stdout_has(&format!("runbooks/a.md:{line}: error[undefined-variable]: {message}\n"))
            .run();
        Test::new()
            .file("runbooks/a.md", &md)
            .args(["plan", "a"])
            .status(2)
            .stderr_has(&format!("runbooks/a.md:{line}: error: {message}\n"))
            .run();
    }
}

#[test]
fn unused_stub_is_a_warning() {
    let fx = CLEAN_FIXTURE.to_string() + "  [[scenario.stub]]\n  cmd = \"helm status *\"\n";
    Test::new()
        .runbook("clean", CLEAN)
        .fixture("clean", &fx)
        .args(["check"])
        .stdout_has("fixtures/clean.toml:11: warning[unused-stub]: stub `helm status *` is never called")
        .run();
    Test::new().runbook("clean", CLEAN).fixture("clean", &fx).args(["check", "--deny-warnings"]).status(1).run();
}

/// A call no stub answers is answered empty and its step passes, but the
/// scenario fails for it: junit's system-out (the transcript) ends in that
/// verdict, never in `passed` beside the failure. The stub left unused is a
/// note of the failure, not a warning (`--deny-warnings` changes nothing).
#[test]
fn a_missing_stub_is_the_reason_junit_gives_and_unused_stubs_are_notes() {
    let md = "# M\n\n```bash {#pods read}\nkubectl get pods\n```\n";
    let fx = "[[scenario]]\nname = \"s\"\n  [[scenario.stub]]\n  cmd = \"kubectl get nodes\"\n  stdout = \"n1\\n\"\n";
    let t = || Test::new().runbook("m", md).fixture("m", fx);
    let f = t().args(["check", "--format", "junit"]).status(1).run();
    let r = quick_junit::Report::deserialize_from_str(&f.stdout).unwrap_or_else(|e| panic!("{e}\n{}", f.stdout));
    let case = &r.test_suites[0].test_cases[1];
    assert_eq!(case.name.as_str(), "scenario s");
    assert_eq!(
        case.system_out.as_ref().map(|o| o.as_str()),
        Some(concat!(
            "# rehearsal of m — scenario s (env devnet)\n",
            "\n",
            "== step pods (line 3)\n",
            "$ kubectl get pods\n",
            "> kubectl get pods\n",
            "! no fixture for: kubectl get pods (step `pods` at runbooks/m.md:3); answered empty (the scenario fails)\n",
            "-- passed (exit 0)\n",
            "\n",
            // (junit keeps it without its last newline)
            "== outcome: failed: no stub for `kubectl get pods` (step `pods`), answered empty (the play itself passed)",
        ))
    );
    let quick_junit::TestCaseStatus::NonSuccess { description, .. } = &case.status else {
        panic!("the scenario fails: {:?}", case.status)
    };
    let description = description.as_deref().unwrap();
    assert!(
        description.starts_with("no fixture for: kubectl get pods (step `pods`, runbooks/m.md:3)"),
        "{description}"
    );
    assert!(
        description.ends_with("\nnote: stub `kubectl get nodes` is never called (fixtures/m.toml:3)"),
        "{description}"
    );
    for deny in [false, true] {
        let args = if deny { vec!["check", "--deny-warnings"] } else { vec!["check"] };
        t().args(args)
            .status(1)
            .stdout_has(
                "      exit = 0\n  note: stub `kubectl get nodes` is never called (fixtures/m.toml:3)\n\nFAILED: ",
            )
            .stdout_has("1 runbook, 0 errors, 0 warnings; 1 scenario rehearsed, 1 failed")
            .stdout_lacks("warning[unused-stub]")
            .run();
    }
    let j = t().args(["check", "--format", "json"]).status(1).run().json();
    assert_eq!(
        j["runbooks"][0]["scenarios"][0]["notes"][0],
        "stub `kubectl get nodes` is never called (fixtures/m.toml:3)"
    );
}

#[test]
fn a_stubbed_tool_called_by_its_path_is_a_warning() {
    let md = "# A\n\n```bash {#a read}\n/usr/bin/kubectl get pods\nv=$(/usr/local/bin/helm version)\nls /usr/bin/kubectl\n# /usr/bin/docker ps\n/usr/bin/git status\nkubectl get ns\n```\n";
    Test::new()
        .runbook("a", md)
        .args(["check"])
        .stdout_has("runbooks/a.md:4: warning[absolute-tool-path]: step `a` calls `/usr/bin/kubectl` by its path")
        .stdout_has("runbooks/a.md:5: warning[absolute-tool-path]: step `a` calls `/usr/local/bin/helm` by its path")
        .stdout_lacks("runbooks/a.md:6: warning[absolute-tool-path]")
        .stdout_lacks("docker")
        .stdout_lacks("/usr/bin/git")
        .run();
}

/// (fixture, `file:line`, message) — each an invalid fixture, exit 2.
const BAD_FIXTURES: &[(&str, &str, &str, &str)] = &[
    ("ghost", "[[scenario]]\nname = \"x\"\n", "fixtures/ghost.toml:1", "runbook that does not exist"),
    (
        "clean",
        "[[scenario]]\nname = \"x\"\nenv = \"staging\"\n",
        "fixtures/clean.toml:3",
        "unknown environment `staging`",
    ),
    (
        "clean",
        "[[scenario]]\nname = \"x\"\n[[scenario.stub]]\ncmd = \"kubectl get [pods\"\n",
        "fixtures/clean.toml:4",
        "not a valid glob",
    ),
    (
        "clean",
        "[[scenario]]\nname = \"x\"\n[scenario.expect]\nsteps = { podz = \"passed\" }\n",
        "fixtures/clean.toml:4",
        "names step `podz`",
    ),
    ("clean", "[[scenario]]\nname = \"x\"\nstubs = []\n", "fixtures/clean.toml:3", "unknown field `stubs`"),
    (
        "clean",
        "[[scenario]]\nname = \"x\"\n[[scenario.stub]]\ncmd = \"k\"\nexit = 300\n",
        "fixtures/clean.toml:5",
        "0 to 255",
    ),
    (
        "clean",
        "[[scenario]]\nname = \"x\"\nanswers = { podz = \"skip\" }\n",
        "fixtures/clean.toml:3",
        "names step `podz`",
    ),
];

#[test]
fn invalid_fixtures_are_exit_2_with_file_line() {
    for (name, toml, at, msg) in BAD_FIXTURES {
        let t = Test::new().runbook("clean", CLEAN).file(&format!("fixtures/{name}.toml"), toml);
        t.args(["check"]).status(2).stdout_has(&format!("{at}: error[fixture]: ")).stdout_has(msg).run();
    }
    // The same through play --dry-run.
    Test::new()
        .runbook("clean", CLEAN)
        .file("fixtures/clean.toml", BAD_FIXTURES[1].1)
        .args(["play", "clean", "--dry-run"])
        .status(2)
        .stderr_has("fixtures/clean.toml:3")
        .run();
}

fn mixed() -> Test {
    Test::new()
        .runbook("clean", CLEAN)
        .fixture("clean", CLEAN_FIXTURE)
        .file("runbooks/bad.md", "# B\n\n```bash {#a}\necho \"{{ namespace }}\"\n```\n")
}

#[test]
fn json_is_one_valid_document() {
    let f = mixed().args(["check", "--format", "json"]).status(1).run();
    let j = f.json();
    assert_eq!(j["summary"]["runbooks"], 2);
    assert_eq!(j["summary"]["scenarios"], 1);
    let bad = j["runbooks"].as_array().unwrap().iter().find(|r| r["id"] == "bad").unwrap();
    assert_eq!(bad["findings"][0]["severity"], "warning");
    assert!(bad["findings"].as_array().unwrap().iter().any(|d| d["code"] == "template-in-quotes" && d["line"] == 4));
    let clean = j["runbooks"].as_array().unwrap().iter().find(|r| r["id"] == "clean").unwrap();
    assert_eq!(clean["scenarios"][0]["passed"], true);
}

#[test]
fn junit_parses_and_lists_every_runbook_and_scenario() {
    let f = mixed().args(["check", "--format", "junit"]).status(1).run();
    let r = quick_junit::Report::deserialize_from_str(&f.stdout).unwrap_or_else(|e| panic!("{e}\n{}", f.stdout));
    let names: Vec<String> = r.test_suites.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["bad", "clean"]);
    let cases: Vec<String> =
        r.test_suites.iter().flat_map(|s| s.test_cases.iter().map(|c| c.name.to_string())).collect();
    // Every runbook has its `lint` case, whatever it found; scenarios by name.
    assert_eq!(cases, ["lint", "lint", "scenario ok"]);
    assert_eq!(r.failures, 1);
    let lint = &r.test_suites[0].test_cases[0];
    let quick_junit::TestCaseStatus::NonSuccess { message, ty, description, .. } = &lint.status else {
        panic!("bad's lint fails: {:?}", lint.status)
    };
    assert_eq!(
        message.as_deref(),
        Some("runbooks/bad.md:4: `{{ }}` inside double quotes in step `a`: quoting cannot protect the value there")
    );
    assert_eq!(ty.as_deref(), Some("template-in-quotes"));
    let description = description.as_deref().unwrap();
    assert!(
        description.contains("runbooks/bad.md:4: error: `{{ }}` inside double quotes in step `a`"),
        "{description}"
    );
    assert!(description.contains("runbooks/bad.md:1: warning: runbook `bad` has no fixture"), "{description}");
}

/// A CI keeps a test's history by its name: a line inserted above a finding
/// renames nothing, and two findings of one kind are one failing case.
#[test]
fn junit_names_do_not_move_with_lines_or_repeat() {
    let page = |pad: &str| format!("# T\n{pad}\n```bash {{#a}}\necho {{{{ foo }}}} {{{{ bar }}}}\n```\n");
    let names = |md: &str| {
        let f = Test::new().runbook("two", md).args(["check", "--format", "junit"]).any_status().run();
        let r = quick_junit::Report::deserialize_from_str(&f.stdout).unwrap_or_else(|e| panic!("{e}\n{}", f.stdout));
        let s = r.test_suites.iter().find(|s| s.name.as_str() == "two").unwrap();
        (s.test_cases.iter().map(|c| c.name.to_string()).collect::<Vec<_>>(), r.failures)
    };
    let (before, failures) = names(&page(""));
    assert_eq!(before, ["lint"]);
    assert_eq!(failures, 1);
    assert_eq!(names(&page("\nA line of prose above the step.\n")).0, before);
}

#[test]
fn github_annotations() {
    mixed()
        .args(["check", "--format", "github"])
        .status(1)
        .stdout_has("::error file=runbooks/bad.md,line=4,title=template-in-quotes::")
        .stdout_has("::warning file=runbooks/bad.md,line=1,title=no-fixture::")
        .run();
}

#[test]
fn failed_scenario_is_a_github_error_at_the_scenario() {
    let fx = CLEAN_FIXTURE.replace("logs = \"passed\"", "logs = \"failed\"");
    Test::new()
        .runbook("clean", CLEAN)
        .fixture("clean", &fx)
        .args(["check", "--format", "github"])
        .status(1)
        .stdout_has("::error file=fixtures/clean.toml,line=1,title=rehearsal::scenario `ok` of `clean` failed")
        .run();
}

#[test]
fn paths_select_runbooks() {
    mixed().args(["check", "runbooks/clean.md"]).stdout_has("1 runbook, 0 errors").run();
    mixed().args(["check", "runbooks/nope.md"]).status(2).stderr_has("no such file").run();
}

#[test]
fn short_secret_values_are_a_warning() {
    Test::new()
        .runbook("s", "---\nvars:\n  key_id: 7\n---\n# S\n\n```bash {#a read}\necho {{ key_id }}\n```\n")
        .args(["check", "runbooks/s.md"])
        .stdout_has("s.md:1")
        .stdout_has("secret `key_id` (front matter) is shorter than 4 characters")
        .run();
}

/// A secret part of a list or map (`Runbook::secret_values`) is named by
/// its path, at its line.
#[test]
fn short_nested_secret_values_are_a_warning_at_their_line() {
    let md = "---\nvars:\n  registry:\n    url: registry.example.com\n    password: abc\n  hosts:\n    - name: a\n      api_key: xy\n  tokens: [t1, long-enough-token]\nsecrets: [tokens]\n---\n# S\n\n```bash {#a read}\necho {{ registry.url }} {{ hosts[0].name }}\n```\n";
    let hint = "(names with secret, password, token, key or credential are secret)";
    Test::new()
        .runbook("s", md)
        .args(["check", "runbooks/s.md"])
        .stdout(&format!(
            "runbooks/s.md:1: warning[no-fixture]: runbook `s` has no fixture: it is never rehearsed\n\
             \x20 hint: start one with `runbook fixture new s`, or add fixtures/s.toml with a [[scenario]] (SPEC §5)\n\
             runbooks/s.md:5: warning[short-secret]: secret `registry.password` (front matter) is shorter than 4 characters: it is not masked\n\
             \x20 hint: if `registry.password` is not secret, rename `password` {hint}\n\
             runbooks/s.md:8: warning[short-secret]: secret `hosts[0].api_key` (front matter) is shorter than 4 characters: it is not masked\n\
             \x20 hint: if `hosts[0].api_key` is not secret, rename `api_key` {hint}\n\
             runbooks/s.md:9: warning[short-secret]: secret `tokens[0]` (front matter) is shorter than 4 characters: it is not masked\n\
             \x20 hint: if `tokens[0]` is not secret, take `tokens` out of `secrets:`\n\
             \n\
             ok: 1 runbook, 0 errors, 4 warnings; 0 scenarios rehearsed, 0 failed\n"
        ))
        .run();
}

#[test]
fn a_runbook_that_does_not_parse_keeps_its_fixture() {
    // Its fixture is not an orphan: one error, at the runbook, exit 2 (invalid
    // input, as `plan` says), whether the file is named or the whole project checked.
    let broken = CLEAN.replace("{#pods read capture=pod}", "{#pods raed capture=pod}");
    for args in [vec!["check"], vec!["check", "runbooks/clean.md"]] {
        let f = Test::new()
            .runbook("clean", &broken)
            .fixture("clean", CLEAN_FIXTURE)
            .args(args.clone())
            .status(2)
            .stdout_has("unknown-attribute")
            .stdout_lacks("does not exist")
            .run();
        assert!(f.stdout.contains("1 runbook, 1 error"), "{args:?}: {}", f.stdout);
    }
    // The same with broken front matter, whose `id:` names the fixture.
    let broken = format!("---\nid: clean\ntitle: [unclosed\n---\n{}", CLEAN);
    Test::new()
        .runbook("other-name", &broken)
        .fixture("clean", CLEAN_FIXTURE)
        .args(["check"])
        .status(2)
        .stdout_lacks("does not exist")
        .run();
}

#[test]
fn a_failed_scenario_says_where_and_what_the_step_said_and_nothing_else() {
    // A typo in a command: the scenario fails at the first step. Its stubs
    // are never called because of that: no warning about them.
    let f = Test::new()
        .runbook("clean", &CLEAN.replace("kubectl get pods", "kubctl get pods"))
        .fixture("clean", CLEAN_FIXTURE)
        .args(["check"])
        .status(1)
        .stdout_lacks("unused-stub")
        .run();
    assert!(
        f.stdout.contains(
            "expected outcome passed, got failed (step `pods` failed: exit 127: command not found: kubctl at runbooks/clean.md:4) at runbooks/clean.md:3; last output: line 1: kubctl: command not found"
        ),
        "{}",
        f.stdout
    );
}

#[test]
fn a_reference_to_a_step_that_does_not_exist_is_an_error() {
    let f = Test::new()
        .runbook(
            "a",
            "# A\n\n```bash {#count read capture=n}\necho 3\n```\n\n```bash {#scale when=\"steps.cuont.status == 'passed'\"}\necho {{ steps.count.stdout }} {{ steps.miner-lgo.stdout }}\n```\n",
        )
        .args(["check"])
        // `steps.miner-lgo` is one unknown name (not `steps.miner - lgo`), which `plan` refuses too.
        .status(2)
        .run();
    assert!(
        f.stdout.contains("a.md:7: error[unknown-step-ref]: step `scale` refers to `steps.cuont` in `when`, but no step has the id `cuont`"),
        "{}",
        f.stdout
    );
    assert!(f.stdout.contains("did you mean `steps.count`?"), "{}", f.stdout);
    assert!(f.stdout.contains("refers to `steps.miner-lgo` in its body"), "{}", f.stdout);
    assert!(!f.stdout.contains("`steps.count` in"), "a known step is fine: {}", f.stdout);
}

// ---- Plain pages (issue 16): linted like runbooks' blocks ----

#[test]
fn a_plain_page_is_checked_not_skipped() {
    let page = "# Notes\n\nRestart it:\n\n```bash\nkubectl rollout restart deploy/web\nkubectl get deploy web -o wide\"\n```\n";
    let f = Test::new()
        .file("runbooks/notes.md", page)
        .args(["check", "runbooks/notes.md"])
        .status(1)
        .stdout_has("runbooks/notes.md:7: error[shell-syntax]: bash syntax error in documentation block")
        .run();
    assert!(f.stdout.contains("FAILED: 0 runbooks, 1 plain page, 1 error, 0 warnings"), "{}", f.stdout);
    // Under runbooks/ without a path, and any other path given.
    Test::new().file("runbooks/notes.md", page).args(["check"]).status(1).stdout_has("notes.md:7").run();
    Test::new()
        .file("docs/ops/notes.md", page)
        .args(["check", "docs"])
        .status(1)
        .stdout_has("docs/ops/notes.md:7")
        .run();
    // A clean page is counted, not listed.
    Test::new()
        .file("runbooks/ok.md", "# Ok\n\n```bash\nkubectl get pods\n```\n")
        .args(["check", "--format", "json"])
        .stdout_lacks("ok.md")
        .stdout_has("\"pages\": 1")
        .run();
}

#[test]
fn a_placeholder_no_longer_hides_a_syntax_error() {
    for (body, hint) in [
        ("kubectl get deploy web -o wide\" <deployment>", "{{ deployment }}"),
        ("git commit -m \"<change-description>\" && echo \"", "{{ change_description }}"),
        ("kubectl delete pdb <service>-pdb; echo (", "{{ service }}"),
    ] {
        let md = format!("# A\n\n```bash\n{body}\n```\n");
        let f = Test::new().file("runbooks/a.md", &md).args(["check", "--format", "json"]).status(1).run();
        let j = f.json();
        let codes: Vec<(String, i64)> = j["runbooks"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["code"].as_str().unwrap().to_string(), d["line"].as_i64().unwrap()))
            .collect();
        assert!(codes.contains(&("placeholder".into(), 4)), "{body}: {codes:?}");
        assert!(codes.iter().any(|(c, _)| c == "shell-syntax"), "{body}: {codes:?}");
        assert!(f.stdout.contains(hint), "{body}: {}", f.stdout);
    }
}

#[test]
fn each_shellcheck_finding_once() {
    if std::process::Command::new("shellcheck").arg("--version").output().is_err() {
        return;
    }
    let md = "# A\n\n```bash {#a}\necho a > x.txt > y.txt > z.txt\n```\n";
    let f = Test::new().file("runbooks/a.md", md).args(["check"]).status(1).run();
    assert_eq!(f.stdout.matches("shellcheck SC2261").count(), 1, "{}", f.stdout);
}

#[test]
fn shellcheck_is_not_given_a_huge_line() {
    if std::process::Command::new("shellcheck").arg("--version").output().is_err() {
        return;
    }
    let md = format!("# A\n\n```bash\necho {}\n```\n", "x".repeat(5000));
    Test::new()
        .file("runbooks/a.md", &md)
        .args(["check"])
        .stdout_has("runbooks/a.md:3: warning[shellcheck-skipped]: documentation block is too large for shellcheck")
        .run();
}

#[test]
fn hazards_of_steps_are_errors_and_the_safe_twin_passes() {
    let md = "# A\n\n```bash {#logs read}\nkubectl logs -f deploy/web\n```\n\n```bash {#shell}\nkubectl exec -it web-0 -- sh\n```\n\n```bash {#look read}\nkubectl scale deploy/web --replicas=0\n```\n";
    Test::new()
        .runbook("a", md)
        .args(["check"])
        .status(1)
        .stdout_has("a.md:4: error[never-ending]: step `logs` runs `kubectl logs -f deploy/web`, which never ends (kubectl logs -f), and has no `timeout`")
        .stdout_has("a.md:8: error[needs-terminal]: step `shell` runs `kubectl exec -it web-0 -- sh`, which needs a terminal")
        .stdout_has("a.md:12: error[write-in-read]: step `look` is marked `read` but runs `kubectl scale deploy/web --replicas=0`")
        .run();
    let safe = "# A\n\n```bash {#logs read}\nkubectl logs --tail=100 deploy/web\n```\n\n```bash {#shell}\nkubectl exec web-0 -- cat /etc/hostname\n```\n\n```bash {#look read}\nkubectl get deploy/web\n```\n";
    Test::new().runbook("a", safe).args(["check"]).stdout_lacks("error[").run();
}

/// A command pasted from a terminal with its `$ ` prompt would run `$`
/// (exit 127): an error in a step, wherever the line is, but not in a
/// heredoc's text nor in a documentation block (a transcript is fine there).
#[test]
fn a_prompt_pasted_into_a_step_is_an_error() {
    let md = "# A\n\n```bash {#a read}\n$ kubectl get pods\ncat <<EOF\n$ in a heredoc\nEOF\n  $ echo hi\n```\n\n```bash\n$ ls\n```\n";
    let hint = "  hint: remove the `$ ` before the command; what the command printed goes in a block of its own\n";
    let f = Test::new().runbook("a", md).args(["check"]).status(1).run();
    let prompts: Vec<&str> = f.stdout.lines().filter(|l| l.contains("shell-prompt")).collect();
    assert_eq!(
        prompts,
        [
            "runbooks/a.md:4: error[shell-prompt]: step `a` runs `$ kubectl get pods`: the `$ ` is the prompt of the terminal it was copied from, and would run as a command named `$`",
            "runbooks/a.md:8: error[shell-prompt]: step `a` runs `$ echo hi`: the `$ ` is the prompt of the terminal it was copied from, and would run as a command named `$`",
        ]
    );
    assert!(f.stdout.contains(hint), "{}", f.stdout);
}

/// A `read` step runs in `--read-only` triage without asking: a write run
/// over `ssh` (or under `sudo`), or `journalctl --vacuum-size`, is an
/// error there; `watch` of a remote `df` reads.
#[test]
fn a_write_over_ssh_in_a_read_step_is_an_error() {
    let blocks = [
        "ssh n1 \"sudo docker image prune -af\"",
        "ssh n1 sudo journalctl --vacuum-size=500M",
        "ssh n1 sudo rm -rf /tmp/x",
        "ssh n1 reboot",
        "ssh -p 2222 -i ~/.ssh/ops n1 \"kubectl delete pod x\"",
        "journalctl --vacuum-size=500M",
        "watch -n 5 \"ssh n1 df -h /var/lib/docker\"",
    ];
    let mut md = String::from("# Disk\n");
    for (i, b) in blocks.iter().enumerate() {
        md.push_str(&format!("\n```bash {{#s{i} read timeout=5m}}\n{b}\n```\n"));
    }
    let f = Test::new().runbook("disk", &md).args(["check", "--format", "json"]).status(1).run();
    let j = f.json();
    let mut found: Vec<(i64, &str)> = j["runbooks"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["line"].as_i64().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    found.sort_unstable();
    assert_eq!(
        found,
        [
            (1, "no-fixture"),
            (4, "sudo-prompt"),
            (4, "write-in-read"),
            (8, "sudo-prompt"),
            (8, "write-in-read"),
            (12, "sudo-prompt"),
            (12, "write-in-read"),
            (16, "write-in-read"),
            (20, "write-in-read"),
            (24, "write-in-read"),
        ],
        "{}",
        f.stdout
    );
    Test::new()
        .runbook("disk", &md)
        .args(["check"])
        .status(1)
        .stdout_has("disk.md:8: error[write-in-read]: step `s1` is marked `read` but runs `ssh n1 sudo journalctl --vacuum-size=500M`, which changes the system (journalctl --vacuum-*/--rotate/--flush/…)")
        .stdout_has("disk.md:16: error[write-in-read]: step `s3` is marked `read` but runs `ssh n1 reboot`, which changes the system (rm/mv/kill/reboot/…)")
        .run();
}

/// Lists, quotes, CRLF, tildes and wiki front matter: the lines are right.
#[test]
fn pages_of_every_shape() {
    let md = "---\r\ntags: [redis]\r\nowner: sre\r\nvar:\r\n  x: 1\r\n---\r\n# P\r\n\r\n- step one:\r\n  ```bash\r\n  kubectl logs <pod>\r\n  ```\r\n\r\n> ~~~sh\r\n> echo (\r\n> ~~~\r\n";
    let f = Test::new().file("runbooks/p.md", md).args(["check"]).status(1).run();
    for want in [
        "runbooks/p.md:4: warning[front-matter-key]: front matter key `var` is not a runbook key",
        "did you mean `vars`?",
        "runbooks/p.md:11: warning[placeholder]: `<pod>` placeholder",
        "runbooks/p.md:15: error[shell-syntax]: sh syntax error",
    ] {
        assert!(f.stdout.contains(want), "no {want:?} in\n{}", f.stdout);
    }
}

/// A program neither installed nor stubbed: the failure says how to stub it,
/// with the whole list (`[rehearse] stub` replaces the defaults).
#[test]
fn a_program_missing_in_a_rehearsal_is_told_how_to_stub() {
    let hint = "  hint: `redis-cli-x9` is not installed here and the rehearsal does not stub it: in runbook.toml, \
                `[rehearse] stub = [\"kubectl\", \"redis-cli-x9\"]`, then answer its calls in the fixture \
                ([[scenario.stub]] cmd = \"redis-cli-x9 …\")";
    let f = Test::new()
        .config("[rehearse]\nstub = [\"kubectl\"]\n")
        .runbook("r", "# R\n\n```bash {#ping read}\nredis-cli-x9 -h cache ping\n```\n")
        .fixture("r", "[[scenario]]\nname = \"ok\"\n[scenario.expect]\noutcome = \"passed\"\n")
        .args(["check"])
        .status(1)
        .run();
    assert!(f.stdout.contains(hint), "{}", f.stdout);
    // A stubbed program that is missing says nothing of the kind.
    let f = Test::new()
        .config("[rehearse]\nstub = [\"kubectl\", \"redis-cli-x9\"]\n")
        .runbook("r", "# R\n\n```bash {#ping read}\nredis-cli-x9 -h cache ping\nnot-there-x9\n```\n")
        .fixture("r", "[[scenario]]\nname = \"ok\"\n[[scenario.stub]]\ncmd = \"redis-cli-x9 -h cache ping\"\nstdout = \"PONG\"\n[scenario.expect]\noutcome = \"passed\"\n")
        .args(["check"])
        .status(1)
        .run();
    assert!(
        f.stdout.contains("command not found: not-there-x9") && f.stdout.contains("hint: `not-there-x9`"),
        "{}",
        f.stdout
    );
    assert!(!f.stdout.contains("hint: `redis-cli-x9`"), "{}", f.stdout);
}

#[test]
fn a_page_opening_with_a_horizontal_rule_is_markdown_not_front_matter() {
    for page in ["---\n\n# Page\n\ntext\n", "---\n# Page\n\ntext\n", "---\n\n# Page\n\ntext\n\n---\n\nmore\n"] {
        Test::new()
            .file("runbooks/hr.md", page)
            .args(["check"])
            .status(0)
            .stdout_has("ok: 0 runbooks, 1 plain page")
            .stdout_lacks("front-matter")
            .run();
        Test::new().file("runbooks/hr.md", page).args(["list", "--all"]).status(0).stdout_has("hr").run();
    }
    // Front matter its author forgot to close is still an error.
    for page in ["---\ntitle: T\nvars:\n  x: 1\n\n# T\n", "---\n\nid: t\n\n# T\n", "---\nTitle: T\n# T\n"] {
        Test::new()
            .file("runbooks/fm.md", page)
            .args(["check"])
            .status(2)
            .stdout_has("fm.md:1: error[front-matter]: front matter is not closed")
            .run();
    }
}

/// A shell step's `expect` that is not a regex: `check` says where and why,
/// and `plan` and `play` refuse it before anything runs, rendered when it
/// holds a template.
const BAD_EXPECT: &str = r#"# Bad expect

```bash {#first}
echo wrote > written.txt
```

```bash {#a read expect="error: [0-9]+ (failed|ok"}
echo error: 3 failed
```

```bash {#b read expect="{{ namespace }}(?<=a)b"}
echo ab
```

```promql {#q read expect="value > 1"}
up
```
"#;

#[test]
fn an_expect_that_is_not_a_regex_is_refused_before_anything_runs() {
    let a = "runbooks/x.md:7: error[expect-regex]: step `a`: `expect` is not a regex: unclosed group at character 15 of `error: [0-9]+ (failed|ok`\n  \
             hint: close each `(` with `)`, or write a literal parenthesis as `\\(` or `\\)`\n";
    let b = "runbooks/x.md:11: error[expect-regex]: step `b`: `expect` is not a regex: look-around, including look-ahead and look-behind, is not supported at character 15 of `animica-devnet(?<=a)b`\n  \
             hint: look-around is not supported in `expect` (Rust regex syntax): rewrite the pattern without it, e.g. `(?<=a)b` as `ab`, or check the line in the step itself (`grep -P`)\n";
    let f = Test::new()
        .runbook("x", BAD_EXPECT)
        .args(["check", "runbooks/x.md"])
        .status(2)
        .stdout_has(a)
        .stdout_has(b)
        .run();
    assert_eq!(
        f.stdout.matches("expect-regex").count(),
        2,
        "once per mistake, the query step's grammar is its own:\n{}",
        f.stdout
    );
    for args in [&["plan", "x"][..], &["play", "x", "--yes"]] {
        let plain = |s: &str| s.replace("error[expect-regex]", "error");
        let f = Test::new()
            .runbook("x", BAD_EXPECT)
            .args(args.iter().copied())
            .status(2)
            .stderr_has(&plain(a))
            .stderr_has(&plain(b))
            .run();
        assert!(!f.path().join("written.txt").exists(), "{args:?} ran step `first`:\n{}", f.stdout);
        assert!(!f.path().join(".runbook/runs").exists(), "{args:?} started a run:\n{}", f.stdout);
    }
}

#[test]
fn other_tools_attribute_sets_are_documentation_and_typos_in_ours_are_errors() {
    let page = "# Page\n\n```bash {1,3}\nkubectl get pods\necho a\nkubectl get nodes\n```\n\n```js {2-3} title=\"app.js\"\nconst a = 1;\nconst b = 2;\n```\n\n```yaml {.numberLines}\na: 1\n```\n\n```bash {showLineNumbers}\nls\n```\n";
    Test::new()
        .file("runbooks/page.md", page)
        .args(["check"])
        .status(0)
        .stdout_has("0 runbooks, 1 plain page, 0 errors")
        .stdout_lacks("unknown attribute")
        .run();
    Test::new().file("runbooks/page.md", page).args(["list", "--all"]).status(0).stdout_has("page").run();
    // Beside a step, a runbook keeps it as documentation too.
    let runbook = format!("{page}\n```bash {{#pods read}}\nkubectl get pods\n```\n");
    Test::new().file("runbooks/page.md", &runbook).args(["plan", "page"]).status(0).stdout_has("pods").run();
    // A set with an id, or a near miss of a runbook key, is runbook's.
    for (block, hint) in [("{#pods reed}", "did you mean `read`"), ("{reed}", "did you mean `read`")] {
        Test::new()
            .file("runbooks/a.md", &format!("# A\n\n```bash {block}\necho\n```\n"))
            .args(["check"])
            .status(2)
            .stdout_has("a.md:3: error[unknown-attribute]: unknown attribute `reed`")
            .stdout_has(hint)
            .run();
    }
}

#[test]
fn a_huge_jobs_is_bounded_by_the_work() {
    // `--jobs 100000` on one runbook and one scenario: as many threads as
    // tasks (the pool's own unit test counts them), the usual output.
    let f = Test::new()
        .runbook("clean", CLEAN)
        .fixture("clean", CLEAN_FIXTURE)
        .args(["check", "--jobs", "100000"])
        .stdout_has("1 runbook, 0 errors, 0 warnings; 1 scenario rehearsed, 0 failed")
        .run();
    assert!(f.stderr.is_empty(), "nothing said about --jobs: {}", f.stderr);
    // A play runs no more steps at once than are ready.
    let md = "# P\n\n```bash {#a read}\necho a\n```\n\n```bash {#b read}\necho b\n```\n";
    Test::new()
        .runbook("p", md)
        .args(["play", "p", "--yes", "--jobs", "100000"])
        .stdout_has("play passed: 2 passed")
        .run();
}

/// What `plan` refuses in some env, `check` refuses too, naming the env:
/// a `when` that cannot read a value of one env profile.
#[test]
fn a_when_that_fails_in_one_env_is_refused_in_that_env() {
    let cfg = "[env.staging]\nreplicas = 2\n\n[env.prod]\nreplicas = \"auto\"\n";
    let md = "---\nvars: {replicas: 1}\n---\n# W\n\n```bash {#a when=\"replicas | int > 1\"}\necho scale\n```\n";
    Test::new()
        .config(cfg)
        .runbook("w", md)
        .args(["check", "runbooks/w.md"])
        .status(2)
        .stdout(
            "runbooks/w.md:1: warning[no-fixture]: runbook `w` has no fixture: it is never rehearsed\n  \
             hint: start one with `runbook fixture new w`, or add fixtures/w.toml with a [[scenario]] (SPEC §5)\n\
             runbooks/w.md:6: error[template]: `when` of step `a`: invalid float literal (it read replicas = \"auto\") in env prod\n  \
             hint: a value it read is not what the expression expects: give another (`--set NAME=…`, the env profile, front matter `vars`)\n\
             \nFAILED: 1 runbook, 1 error, 1 warning; 0 scenarios rehearsed, 0 failed\n",
        )
        .run();
    Test::new().config(cfg).runbook("w", md).args(["plan", "w", "--env", "prod"]).status(2).run();
    Test::new().config(cfg).runbook("w", md).args(["plan", "w", "--env", "staging"]).status(0).run();
}

/// A default every env keeps: refused once, without an env.
#[test]
fn a_when_that_fails_on_the_default_is_refused_once() {
    let md = "---\nvars: {replicas: \"3 replicas\"}\n---\n# W\n\n```bash {#a when=\"replicas | int > 1\"}\necho scale\n```\n";
    Test::new()
        .runbook("w", md)
        .args(["check", "runbooks/w.md"])
        .status(2)
        .stdout(
            "runbooks/w.md:1: warning[no-fixture]: runbook `w` has no fixture: it is never rehearsed\n  \
             hint: start one with `runbook fixture new w`, or add fixtures/w.toml with a [[scenario]] (SPEC §5)\n\
             runbooks/w.md:6: error[template]: `when` of step `a`: invalid float literal (it read replicas = \"3 replicas\")\n  \
             hint: a value it read is not what the expression expects: give another (`--set NAME=…`, the env profile, front matter `vars`)\n\
             \nFAILED: 1 runbook, 1 error, 1 warning; 0 scenarios rehearsed, 0 failed\n",
        )
        .run();
    Test::new().runbook("w", md).args(["plan", "w"]).status(2).run();
}

/// A `python` step is compiled as `bash -n` parses a shell step, rendered
/// as a play renders it (a value is a Python string literal): a syntax
/// error and a `{{ }}` inside a Python string are errors at their line.
#[test]
fn python_steps_are_compiled_and_templates_in_their_strings_found() {
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "python3 is needed under CI=true (.ci/run installs it)");
        eprintln!("skipped: no python3 here");
        return;
    }
    let md = "---\nvars: {ns: default}\n---\n# P\n\n```python {#a}\nprint(\"hello {{ ns }}\")\n```\n\n```python {#b}\nx = 1\nprint(\"a\"\n```\n\n```python {#c}\n# \"{{ ns }}\" in a comment\ny = {{ ns }}\nprint(f\"ok {y}\")\n```\n";
    Test::new()
        .runbook("p", md)
        .args(["check", "runbooks/p.md"])
        .status(1)
        .stdout(
            "runbooks/p.md:1: warning[no-fixture]: runbook `p` has no fixture: it is never rehearsed\n  \
             hint: start one with `runbook fixture new p`, or add fixtures/p.toml with a [[scenario]] (SPEC §5)\n\
             runbooks/p.md:7: error[python-syntax]: python syntax error in step `a`: invalid syntax. Perhaps you forgot a comma?\n  \
             hint: `python3` cannot compile this line; check quotes, brackets, colons and indentation\n\
             runbooks/p.md:7: error[template-in-quotes]: `{{ }}` inside a Python string in step `a`: the value is a string literal of its own there\n  \
             hint: `{{ ns }}` is already a Python string: write `\"hello \" + {{ ns }}`, or bind it first (`ns = {{ ns }}`) and use an f-string\n\
             runbooks/p.md:12: error[python-syntax]: python syntax error in step `b`: '(' was never closed\n  \
             hint: `python3` cannot compile this line; check quotes, brackets, colons and indentation\n\
             \nFAILED: 1 runbook, 3 errors, 1 warning; 0 scenarios rehearsed, 0 failed\n",
        )
        .run();
}

/// `--jobs 0` would run nothing: refused, saying what to give, as usage (2).
#[test]
fn jobs_zero_is_refused_saying_what_to_give() {
    for args in [&["check", "--jobs", "0"][..], &["play", "x", "--jobs", "0"]] {
        let f = Test::new().args(args.iter().copied()).status(2).run();
        assert_eq!(
            f.stderr.lines().next(),
            Some(
                "error: invalid value '0' for '--jobs <JOBS>': 0 would run nothing: give 1 or more (1 runs one at a time)"
            ),
            "{}",
            f.stderr
        );
    }
}

/// One run reports everything: a runbook's parse error hides neither the
/// lints of the steps that did parse nor another runbook's findings, and
/// the verdict stays that of the parse error (invalid input, 2).
#[test]
fn a_parse_error_hides_no_other_finding() {
    let a = "# A\n\n```bash {#x reed}\necho x\n```\n\n```bash {#y read}\nkubectl logs <pod>\n```\n";
    let b = "# B\n\n```bash {#z}\necho \"ns {{ env }}\"\n```\n";
    Test::new()
        .runbook("a", a)
        .runbook("b", b)
        .args(["check"])
        .status(2)
        .stdout(
            "runbooks/a.md:3: error[unknown-attribute]: unknown attribute `reed`\n  \
             hint: did you mean `read`? known attributes: id, needs, when, read, confirm, timeout, retry, delay, expect, capture, on-fail, cwd, interactive, budget, escalate, rollback, undo, soak, range, step\n\
             runbooks/a.md:8: error[placeholder]: `<pod>` placeholder in step `y`: bash reads it as a redirection\n  \
             hint: use a variable: `{{ pod }}`, defined in front matter `vars` or captured\n\
             runbooks/b.md:1: warning[no-fixture]: runbook `b` has no fixture: it is never rehearsed\n  \
             hint: start one with `runbook fixture new b`, or add fixtures/b.toml with a [[scenario]] (SPEC §5)\n\
             runbooks/b.md:4: error[template-in-quotes]: `{{ }}` inside double quotes in step `z`: quoting cannot protect the value there\n  \
             hint: move it outside the quotes: `echo prepare {{ ns }}` or `echo \"prepare \"{{ ns }}`\n\
             \nFAILED: 2 runbooks, 3 errors, 1 warning; 0 scenarios rehearsed, 0 failed\n",
        )
        .run();
    // The machine formats carry the same findings.
    let j = Test::new().runbook("a", a).runbook("b", b).args(["check", "--format", "json"]).status(2).run().json();
    let codes: Vec<String> = j["runbooks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap().iter().map(|d| format!("{}:{}", d["line"], d["code"])))
        .collect();
    assert_eq!(codes, ["3:\"unknown-attribute\"", "8:\"placeholder\"", "1:\"no-fixture\"", "4:\"template-in-quotes\""]);
}

/// A block that swallowed the next one (its closing fence is missing) is
/// the parse error alone: its body is not linted as if it were code.
#[test]
fn a_block_that_swallowed_another_is_only_its_parse_error() {
    let md = "# A\n\n```bash {#a}\n:\n```\n\n```bash\necho doc\n\n```bash {#b}\necho b\n```\n";
    Test::new()
        .runbook("a", md)
        .args(["check"])
        .status(2)
        .stdout(
            "runbooks/a.md:10: error[unclosed-fence]: the code block opened at line 7 runs on into this line, which opens another block\n  \
             hint: add the code block's closing fence (a line of 3 backticks) where it ends, above this line\n\
             \nFAILED: 1 runbook, 1 error, 0 warnings; 0 scenarios rehearsed, 0 failed\n",
        )
        .run();
}

/// A directory holding links to just `tools` (found on this PATH), for a
/// PATH that lacks everything else.
pub fn path_of(tools: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for t in tools {
        let found = std::env::split_paths(&path).map(|d| d.join(t)).find(|p| p.is_file());
        let found = found.unwrap_or_else(|| panic!("{t} is not on PATH"));
        std::os::unix::fs::symlink(found, dir.path().join(t)).unwrap();
    }
    dir
}

/// Without python3 the python steps are not compiled: said once on stderr
/// (not once per step), with how to have them compiled, and the exit code
/// is what the other findings make it.
#[test]
fn a_missing_python3_is_one_notice_that_changes_no_exit_code() {
    let md = "# P\n\n```python {#a}\nprint(\"a\"\n```\n\n```python {#b}\nif x\n```\n\n```bash {#c}\necho c\n```\n";
    let path = path_of(&["bash", "sh"]);
    let f = Test::new()
        .runbook("p", md)
        .env("PATH", path.path().to_str().unwrap())
        .args(["check", "runbooks/p.md"])
        .status(0)
        .stdout(
            "runbooks/p.md:1: warning[no-fixture]: runbook `p` has no fixture: it is never rehearsed\n  \
             hint: start one with `runbook fixture new p`, or add fixtures/p.toml with a [[scenario]] (SPEC §5)\n\
             \nok: 1 runbook, 0 errors, 1 warning; 0 scenarios rehearsed, 0 failed (shellcheck not installed: skipped)\n",
        )
        .run();
    assert_eq!(
        f.stderr,
        "notice: python3 is not on PATH: the syntax of 2 python steps was not checked\n  \
         hint: install python3 to have check compile the python steps (it never runs them)\n"
    );
    // The machine formats keep stdout theirs: the notice is on stderr too.
    let j = Test::new()
        .runbook("p", md)
        .env("PATH", path.path().to_str().unwrap())
        .args(["check", "--format", "json", "runbooks/p.md"])
        .stderr_has("notice: python3 is not on PATH")
        .run();
    assert_eq!(j.json()["summary"]["errors"], 0);
    // Without bash either, the bash block is named too, each tool once.
    let bare = path_of(&["sh"]);
    let f = Test::new()
        .runbook("p", md)
        .env("PATH", bare.path().to_str().unwrap())
        .args(["check", "runbooks/p.md"])
        .status(0)
        .run();
    assert_eq!(
        f.stderr,
        "notice: bash is not on PATH: the syntax of 1 bash block was not checked\n  \
         hint: install bash to have check parse the bash blocks (`bash -n`: nothing runs)\n\
         notice: python3 is not on PATH: the syntax of 2 python steps was not checked\n  \
         hint: install python3 to have check compile the python steps (it never runs them)\n"
    );
}

/// A step that needs both of two branches whose `when`s exclude each
/// other is skipped in every play (a skipped need skips it): an error at
/// its line, saying which branches and what the format offers instead.
#[test]
fn needs_on_exclusive_branches_is_an_error_at_the_needing_step() {
    let md = "---\nvars: {action: restart}\n---\n# X\n\n```bash {#restart read when=\"action == 'restart'\"}\necho restart\n```\n\n\
              ```bash {#rollback read needs= when=\"action == 'rollback'\"}\necho rollback\n```\n\n\
              ```bash {#verify read needs=restart,rollback}\necho verify\n```\n";
    Test::new()
        .runbook("x", md)
        .args(["check", "runbooks/x.md"])
        .status(1)
        .stdout(
            "runbooks/x.md:1: warning[no-fixture]: runbook `x` has no fixture: it is never rehearsed\n  \
             hint: start one with `runbook fixture new x`, or add fixtures/x.toml with a [[scenario]] (SPEC §5)\n\
             runbooks/x.md:14: error[needs-exclusive]: step `verify` can never run: it needs `restart` (when=\"action == 'restart'\") \
             and `rollback` (when=\"action == 'rollback'\"), which never both pass in one play, and a step runs only when every step it needs passed\n  \
             hint: `needs` is all-of and the format has no any-of: give each branch its own step (one with `needs=restart`, \
             one with `needs=rollback`), or drop one of them from `needs`\n\
             \nFAILED: 1 runbook, 1 error, 1 warning; 0 scenarios rehearsed, 0 failed\n",
        )
        .run();
    // What the engine does with it: `verify` is skipped, whichever the action.
    for action in ["restart", "rollback"] {
        Test::new()
            .runbook("x", md)
            .args(["play", "x", "--yes", "--set", &format!("action={action}")])
            .stdout_has("--- verify: skipped: needs `")
            .run();
    }
}

/// A scenario that leaves a required variable without a value (here a
/// misspelt key) is the fixture's mistake: one error at the key, naming the
/// scenario and the variable, with the did-you-mean; a key the runbook
/// reads nowhere is a warning, as `--set` of it is. The other scenarios are
/// still rehearsed, and nothing blames the runbook.
#[test]
fn a_scenario_without_a_required_variable_is_the_fixtures_mistake() {
    let md = "---\nvars: {pod: ~, node: n0}\n---\n# Req\n\n```bash {#logs read}\nkubectl logs {{ pod }} -n {{ namespace }}\n```\n";
    let fx = concat!(
        "[[scenario]]\n",
        "name = \"fine\"\n",
        "vars = { pod = \"api-1\" }\n",
        "  [[scenario.stub]]\n",
        "  cmd = \"kubectl logs *\"\n",
        "\n",
        "[[scenario]]\n",
        "name = \"crashloop\"\n",
        "  [scenario.vars]\n",
        "  nodes = \"zz\"\n",
        "  pods = \"api-1\"\n",
        "  [[scenario.stub]]\n",
        "  cmd = \"kubectl logs *\"\n",
    );
    let f = Test::new().runbook("req", md).fixture("req", fx).args(["check"]).status(2).run();
    let time = f.stdout.find("  (").map(|i| &f.stdout[i..]).and_then(|s| s.find(')').map(|j| &s[..=j])).unwrap();
    assert_eq!(
        f.stdout.replace(time, "  (0.0s)"),
        "fixtures/req.toml:10: warning[unread-variable]: scenario `crashloop`: runbook `req` reads no variable `nodes`; it is ignored\n\
         \x20 hint: did you mean `node`?\n\
         fixtures/req.toml:11: error[scenario-variable]: scenario `crashloop` gives no value to `pod`, which runbook `req` requires (read by step `logs`)\n\
         \x20 hint: the scenario gives `pods`: did you mean `pod`?\n\
         ok req / fine  (0.0s)\n\
         \n\
         FAILED: 1 runbook, 1 error, 1 warning; 1 scenario rehearsed, 0 failed\n"
    );
}

/// A documentation block whose `{{ }}` is another tool's template (Helm
/// here) is a warning at its fence line, hinting `{% raw %}`: the wiki
/// shows it as written. Wrapped in `{% raw %}`, it is a runbook template
/// again and nothing is said.
#[test]
fn a_documentation_block_with_a_foreign_template_is_a_warning() {
    let md = |yaml: &str| {
        format!(
            "# Helm\n\n```bash {{#pods read}}\nkubectl get pods\n```\n\nThe chart's values:\n\n```yaml\n{yaml}\n```\n"
        )
    };
    Test::new()
        .runbook("helm", &md("image: {{ .Values.image }}"))
        .args(["check"])
        .stdout_has(
            "runbooks/helm.md:9: warning[foreign-template]: the `{{ }}` of this documentation block is not a runbook \
             template: the wiki shows the block as written\n  \
             hint: if it is another tool's template (Go, Helm), wrap that part in `{% raw %}…{% endraw %}`\n",
        )
        .run();
    Test::new()
        .runbook("helm", &md("image: {% raw %}{{ .Values.image }}{% endraw %}"))
        .args(["check"])
        .stdout_lacks("foreign-template")
        .run();
}

/// A fixture named after no runbook says which runbook it was likely meant
/// for, and still how to name it.
#[test]
fn an_orphan_fixture_suggests_the_nearest_runbook_id() {
    Test::new()
        .runbook("2.1-head-stall", "# Stall\n\n```bash {#a read}\necho a\n```\n")
        .fixture("2.1-head-stal", "[[scenario]]\nname = \"s\"\n")
        .args(["check"])
        .status(2)
        .stdout_has(
            "fixtures/2.1-head-stal.toml:1: error[fixture]: fixture for a runbook that does not exist: `2.1-head-stal`\n  \
             hint: did you mean `2.1-head-stall` (2.1-head-stall.toml)? name the file after a runbook id (`runbook list`), in fixtures\n",
        )
        .run();
}

/// An `undo` block no step names in `rollback=` never runs: a warning at
/// its fence, naming how to wire it; a named one is not reported.
#[test]
fn an_undo_block_no_step_names_is_a_warning() {
    let md = "# O\n\n```bash {#scale rollback=unscale}\necho scale\n```\n\n```bash {#unscale undo}\necho unscale\n```\n\n```bash {#orphan undo}\necho undo\n```\n";
    Test::new()
        .file("runbooks/o.md", md)
        .args(["check"])
        .stdout_has("runbooks/o.md:11: warning[orphan-undo]: undo block `orphan` is the rollback of no step: it never runs\n  hint: name it in the step it undoes (`rollback=orphan`), or drop `undo` to make it a step\n")
        .stdout_lacks("`unscale` is the rollback of no step")
        .run();
}

//! How a template writes a value that is not a word: a map (or a list of
//! maps) as JSON, `tojson` for any value, in a shell body one quoted word
//! placed as every value is.

use crate::common::*;

const PATCH: &str = r#"
    ---
    vars:
      patch: {spec: {replicas: 3}}
      hooks: [{name: a, on: true}, {name: "it's"}]
      ns: prod
    ---
    ```bash {#show read}
    printf '%s\n' {{ patch }} {{ hooks }}
    printf '%s\n' {{ ns | tojson }} {{ patch | tojson(indent=1) }}
    ```
"#;

#[test]
fn a_map_is_one_word_of_json_in_a_shell_body() {
    Test::new()
        .runbook("p", PATCH)
        .args(["plan", "p"])
        .stdout_has(r#"$ printf '%s\n' '{"spec":{"replicas":3}}' '{"name":"a","on":true}' "{\"name\":\"it's\"}""#)
        .stdout_has("$ printf '%s\\n' '\"prod\"' '{\n    $  \"spec\": {\n    $   \"replicas\": 3\n    $  }\n    $ }'")
        .run();
    Test::new()
        .runbook("p", PATCH)
        .args(["play", "p", "--yes"])
        .stdout_has("[show] {\"spec\":{\"replicas\":3}}\n[show] {\"name\":\"a\",\"on\":true}\n[show] {\"name\":\"it's\"}\n[show] \"prod\"\n")
        .run();
}

/// `tojson` writes text the shell formatter quotes as any value: a value
/// that would end the quotes it sits in is refused, not written raw.
#[test]
fn tojson_is_placed_as_any_value() {
    let rb =
        |body: &str| format!("---\nvars:\n  m: {{a: \"x $(touch pwned)\"}}\n---\n```bash {{#s read}}\n{body}\n```\n");
    let f = Test::new()
        .runbook("q", &rb("echo {{ m | tojson }}"))
        .args(["play", "q", "--yes"])
        .stdout_has("[s] {\"a\":\"x $(touch pwned)\"}\n")
        .run();
    assert!(!f.path().join("pwned").exists());
    Test::new()
        .runbook("q", &rb("echo \"{{ m | tojson }}\""))
        .args(["play", "q", "--yes"])
        .status(2)
        .stderr_has("inside double quotes, where quoting cannot protect it")
        .run();
}

/// A variable a runbook only tests for (`is defined`) or gives a default
/// is optional: a play without it runs the `else` branch, with it the
/// `then` branch, and never asks for it nor refuses.
const OPTIONAL: &str = r#"
    # Optional

    ```bash {#deploy read}
    {% if tag is defined %}echo tag {{ tag }}{% else %}echo no tag{% endif %}
    echo channel {{ channel | default("stable") }}
    ```

    ```bash {#extra read when="tag is undefined or tag != 'x'"}
    echo extra
    ```
"#;

#[test]
fn a_variable_only_tested_for_is_optional() {
    Test::new()
        .runbook("o", OPTIONAL)
        .args(["play", "o", "--yes"])
        .stdout_has("[deploy] no tag\n[deploy] channel stable\n")
        .stdout_has("[extra] extra\n")
        .run();
    Test::new()
        .runbook("o", OPTIONAL)
        .args(["play", "o", "--yes", "--set", "tag=v2", "--set", "channel=beta"])
        .stdout_has("[deploy] tag v2\n[deploy] channel beta\n")
        .stderr_lacks("reads no variable")
        .run();
}

/// A step whose `when` needs a name defined (`when="tag is defined"`) reads
/// it only when it runs: without it, plan shows the step skipped with its
/// templates as written, a play skips it (as it would on its `when`) and
/// asks for nothing; with it, the step runs. `check` does not call it
/// undefined either.
#[test]
fn a_when_that_needs_a_variable_defined_guards_its_step() {
    let md = "# G\n\n```bash {#tag read when=\"tag is defined and tag != 'latest'\"}\necho tag {{ tag }}\n```\n\n```bash {#always read}\necho always\n```\n";
    Test::new()
        .runbook("g", md)
        .args(["plan", "g"])
        .stdout_has(" 1. tag  [read, when tag is defined and tag != 'latest']  — skipped: `when` is false  (runbooks/g.md:3)\n    $ echo tag {{ tag }}\n")
        .run();
    Test::new()
        .runbook("g", md)
        .args(["play", "g", "--yes"])
        .stdout_has("--- tag: skipped: `when` is false: tag is defined and tag != 'latest'\n")
        .stdout_has("[always] always\n")
        .run();
    Test::new().runbook("g", md).args(["play", "g", "--yes", "--set", "tag=v2"]).stdout_has("[tag] tag v2\n").run();
    Test::new().runbook("g", md).args(["check"]).stdout_lacks("undefined").run();
}

/// The Python methods Jinja2 templates call on strings, lists and dicts
/// (minijinja-contrib's pycompat) work in a body and a `when`, and what
/// they make is quoted as any value.
#[test]
fn python_methods_work_as_in_jinja2() {
    let md = "---\nvars: {ver: \"v1.2 beta\", labels: {app: web}}\n---\n# P\n\n```bash {#a when=\"ver.startswith('v1') and labels.get('app') == 'web'\"}\necho {{ ver.split(' ')[0].upper() }} {{ ver.replace('v', 'V') }} {{ labels.get('team', 'none') }}\n```\n";
    Test::new().runbook("p", md).args(["plan", "p"]).stdout_has("    $ echo V1.2 'V1.2 beta' none\n").run();
    Test::new().runbook("p", md).args(["play", "p", "--yes"]).stdout_has("[a] V1.2 V1.2 beta none\n").run();
}

/// Work inside a filter counts against the template's fuel, not only the
/// template's own instructions: a `join` of 100,000 items 20,000 times over
/// in a body, or a `sum` of 11 lists of 99,999 items in a `when` (more than
/// the million items a `sum` may join), is
/// refused in a moment with its own code, by plan, play and check alike
/// (exit 2), never left to run for minutes.
#[test]
fn a_template_that_does_too_much_work_is_refused() {
    let body =
        "# W\n\n```bash {#a}\necho {% for i in range(20000) %}{{ range(99999) | join | length }}{% endfor %}\n```\n";
    let hint = "  hint: split the work into steps, or compute it in the step's shell code\n";
    let fuel = "does more work than a template may (minijinja's fuel of 1000000)";
    let want = format!("runbooks/w.md:4: error: step `a`: {fuel}\n{hint}");
    Test::new().runbook("w", body).args(["plan", "w"]).status(2).stdout("").stderr(&want).run();
    Test::new()
        .runbook("w", body)
        .args(["check"])
        .status(2)
        .stdout_has(&format!("runbooks/w.md:4: error[template-too-much-work]: step `a`: {fuel}"))
        .run();
    let when =
        "# W\n\n```bash {#b when=\"([range(99999) | list] * 11) | sum(start=[]) | length > 0\"}\necho ran\n```\n";
    Test::new()
        .runbook("w", when)
        .args(["play", "w", "--yes"])
        .status(2)
        .stdout_lacks("ran")
        .stderr_has(&format!("runbooks/w.md:3: error: `when` of step `b`: {fuel}\n{hint}"))
        .run();
}

/// A global function only called (`range(3)`, `dict(a=1)`) is no variable:
/// a play renders it as plan does, rather than giving it an empty value as
/// a variable nobody set.
#[test]
fn a_global_function_called_in_a_template_is_no_variable() {
    let md = "# G\n\n```bash {#a when=\"range(3) | length > 0\"}\necho {{ range(3) | join }} {{ dict(k=1).k }}\n```\n";
    Test::new().runbook("g", md).args(["plan", "g"]).stdout_has("    $ echo 012 1\n").run();
    Test::new().runbook("g", md).args(["play", "g", "--yes"]).stdout_has("[a] 012 1\n").run();
}

/// A call of a function there is none of (Jinja2's `lipsum`) is that, in
/// plan, play and check alike: no value is asked for it, nor stood in for
/// it under `--yes` (where a stand-in would read "string is not callable").
#[test]
fn a_call_of_an_unknown_function_is_no_undefined_variable() {
    let md = "# U\n\n```bash {#a}\necho {{ lipsum(2) }}\n```\n";
    let want = "runbooks/u.md:4: error: unknown function `lipsum` in step `a`\n  hint: the functions a template can call are debug, dict, namespace, range; do other work in the step's code\n";
    Test::new().runbook("u", md).args(["plan", "u"]).status(2).stdout("").stderr(want).run();
    Test::new().runbook("u", md).args(["play", "u", "--yes"]).status(2).stdout("").stderr(want).run();
    Test::new()
        .runbook("u", md)
        .args(["check"])
        .status(2)
        .stdout_has("runbooks/u.md:4: error[unknown-function]: unknown function `lipsum` in step `a`\n")
        .stdout_lacks("undefined-variable")
        .run();
}

/// A value whose text is longer than a rendered body may be (4 MiB) is
/// refused as it is written, in a shell body, a python one and an
/// attribute, by plan, check and play alike (exit 2, what `plan` refuses):
/// never written out first.
#[test]
fn a_value_longer_than_a_body_may_be_is_refused() {
    let md = "# L\n\n```bash {#a}\necho {{ [1] * 100000000 }}\n```\n\n```python {#b}\nprint({{ [[0] * 100000000] }})\n```\n\n```bash {#c confirm=\"{{ [2] * 100000000 }}\"}\n:\n```\n";
    let hint = "  hint: split the work into steps, or compute it in the step's shell code\n";
    let want = [(3, "step `a`"), (7, "step `b`"), (11, "`confirm` of step `c`")]
        .map(|(line, what)| format!("runbooks/l.md:{line}: error: {what}: renders to more than 4194304 bytes\n{hint}"));
    Test::new().runbook("l", md).args(["plan", "l"]).status(2).stdout("").stderr(&want.concat()).run();
    Test::new().runbook("l", md).args(["play", "l", "--yes"]).status(2).stdout("").stderr_has(&want[0]).run();
    Test::new()
        .runbook("l", md)
        .args(["check"])
        .status(2)
        .stdout_has("runbooks/l.md:3: error[rendered-too-large]: step `a`: renders to more than 4194304 bytes")
        .run();
}

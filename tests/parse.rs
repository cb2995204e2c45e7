//! Malformed runbooks: every one gets exit 2 and `file:line`, what is wrong
//! and how to fix it (issue 2, "Bad input").

use crate::common::*;

/// `runbook plan bad` on a runbook `bad` must fail with exit 2 and say all of `needles`.
fn bad(md: &str, needles: &[&str]) {
    let mut t = Test::new().runbook("bad", md).args(["plan", "bad"]).status(2);
    for n in needles {
        t = t.stderr_has(n);
    }
    t.stderr_lacks("panicked").run();
}

#[test]
fn unclosed_fence() {
    bad("# T\n\n```bash {#a}\necho a\n", &["runbooks/bad.md:3", "not closed", "hint:"]);
}

#[test]
fn unknown_attribute() {
    bad(
        "# T\n\n```bash {#a timout=3s}\necho a\n```\n",
        &["runbooks/bad.md:3", "unknown attribute `timout`", "did you mean `timeout`"],
    );
}

/// Every unknown attribute of a fence is said in one run, each at the
/// fence's line with its own did-you-mean.
#[test]
fn every_unknown_attribute_is_reported() {
    bad(
        "# T\n\n```bash {#a tiemout=5s retires=3}\necho a\n```\n",
        &[
            "runbooks/bad.md:3: error: unknown attribute `tiemout`\n  hint: did you mean `timeout`?",
            "runbooks/bad.md:3: error: unknown attribute `retires`\n  hint: did you mean `retry`?",
        ],
    );
}

#[test]
fn bad_attribute_quoting() {
    bad("# T\n\n```bash {#a when=\"env == 'x'}\necho a\n```\n", &["bad.md:3", "unterminated quote"]);
}

#[test]
fn attribute_without_space() {
    bad("# T\n\n```bash{#a}\necho a\n```\n", &["bad.md:3", "no space between the language"]);
}

#[test]
fn duplicate_id() {
    bad(
        "# T\n\n```bash {#a}\necho a\n```\n\n```bash {#a}\necho b\n```\n",
        &["bad.md:7", "duplicate step id `a`", "line 3"],
    );
}

#[test]
fn missing_id() {
    bad("# T\n\n```bash {read}\necho a\n```\n", &["bad.md:3", "step has no id", "{#my-step read}"]);
}

#[test]
fn invalid_id_characters() {
    bad("# T\n\n```bash {#Bad_ID!}\necho a\n```\n", &["bad.md:3", "invalid step id `Bad_ID!`"]);
}

#[test]
fn unknown_needs() {
    bad(
        "# T\n\n```bash {#pods}\necho a\n```\n\n```bash {#b needs=pod}\necho b\n```\n",
        &["bad.md:7", "`needs=pod` names no step", "did you mean `pods`"],
    );
}

#[test]
fn self_dependency() {
    bad("# T\n\n```bash {#a needs=a}\necho a\n```\n", &["bad.md:3", "step `a` needs itself"]);
}

#[test]
fn three_cycle() {
    bad(
        "# T\n\n```bash {#a needs=c}\n:\n```\n\n```bash {#b needs=a}\n:\n```\n\n```bash {#c needs=b}\n:\n```\n",
        &["bad.md:3", "dependency cycle: a -> b -> c -> a"],
    );
}

#[test]
fn unknown_step_language() {
    bad("# T\n\n```ruby {#a}\nputs 1\n```\n", &["bad.md:3", "unknown step language `ruby`", "bash, sh"]);
}

#[test]
fn front_matter_not_yaml() {
    bad("---\nvars: [unclosed\n---\n# T\n\n```bash {#a}\n:\n```\n", &["bad.md:", "front matter"]);
}

#[test]
fn front_matter_wrong_type() {
    bad("---\nid: x\nrequires: 5\n---\n# T\n\n```bash {#a}\n:\n```\n", &["bad.md:3", "front matter"]);
}

#[test]
fn front_matter_near_miss_is_a_warning_with_did_you_mean() {
    // Wiki keys are metadata; a key that looks like a runbook key misspelt is
    // a warning of check, at its line, and the runbook still plans.
    let md = "---\ntitel: x\n---\n# T\n\n```bash {#a}\n:\n```\n";
    Test::new().runbook("bad", md).args(["plan", "bad"]).run();
    // `plan` and `play` say it too: `secret:` for `secrets:` would leave
    // the value in clear.
    let leak = "---\nvars:\n  tok: s3cr3t-value\nsecret: [tok]\n---\n# T\n\n```bash {#a}\n: {{ tok }}\n```\n";
    let warning = "runbooks/bad.md:4: warning: front matter key `secret` is not a runbook key: it is kept as metadata, and the runbook has no `secrets`\n";
    Test::new().runbook("bad", leak).args(["plan", "bad"]).stderr_has(warning).run();
    Test::new().runbook("bad", leak).args(["play", "bad", "--yes"]).stderr_has(warning).run();
    Test::new().runbook("bad", leak).args(["play", "bad", "--dry-run"]).status(2).stderr_has(warning).run();
    Test::new()
        .runbook("bad", md)
        .args(["check"])
        .stdout_has("runbooks/bad.md:2: warning[front-matter-key]: front matter key `titel` is not a runbook key")
        .stdout_has("did you mean `title`?")
        .run();
}

#[test]
fn wiki_front_matter_is_kept_and_shown() {
    let md = "---\ntitle: Redis failover\ntags: [redis, database]\nowner: team-sre\nseverity: 2\n---\n# T\n\n```bash {#a read}\n:\n```\n";
    let f = Test::new()
        .runbook("r", md)
        .args(["show", "r"])
        .stdout_has("  tags:     redis, database")
        .stdout_has("  owner:    team-sre")
        .stdout_has("  severity: 2")
        .run();
    assert!(f.stdout.starts_with("r — Redis failover"), "{}", f.stdout);
    let j = Test::new().runbook("r", md).args(["show", "r", "--json"]).run().json();
    assert_eq!(j["runbook"]["meta"]["tags"], serde_json::json!(["redis", "database"]));
    assert_eq!(j["runbook"]["meta"]["severity"], 2);
    Test::new().runbook("r", md).args(["check"]).stdout_lacks("front-matter").run();
}

#[test]
fn list_tells_plain_pages_from_runbooks() {
    let t = || {
        Test::new()
            .runbook("a", "# A\n\n```bash {#x read}\n:\n```\n")
            // Wiki front matter, a list item, a quote with a tilde fence, CRLF.
            .file(
                "runbooks/wiki.md",
                "---\r\ntags: [ops]\r\n---\r\n# Wiki page\r\n\r\n1. Look:\r\n   ```bash\r\n   kubectl get pods\r\n   ```\r\n\r\n> ~~~sh\r\n> echo \"a 'quoted' word\"\r\n> ~~~\r\n\r\n```text\r\nnot shell\r\n```\r\n",
            )
            .file("runbooks/SUMMARY.md", "# Summary\n")
            // Front matter that configures a run makes a runbook, even without steps yet.
            .file("runbooks/draft.md", "---\nvars:\n  ns: x\n---\n# Draft\n")
    };
    t().args(["list"])
        .stdout_lacks("wiki")
        .stderr_has("2 runbooks, 2 plain pages (no steps): `runbook list --all` lists them")
        .run();
    t().args(["list", "--all"])
        .stdout_has("runbooks/wiki.md     page      Wiki page (2 shell blocks)")
        .stdout_has("a                     1 step   A")
        .stdout_has("draft                 0 steps  Draft")
        .run();
    let j = t().args(["list", "--all", "--json"]).run().json();
    let kinds: Vec<(&str, &str)> =
        j.as_array().unwrap().iter().map(|i| (i["path"].as_str().unwrap(), i["kind"].as_str().unwrap())).collect();
    assert_eq!(
        kinds,
        [
            ("runbooks/a.md", "runbook"),
            ("runbooks/draft.md", "runbook"),
            ("runbooks/SUMMARY.md", "page"),
            ("runbooks/wiki.md", "page")
        ]
    );
    // A page with front matter but no step is a page: `plan` says so and how to convert it.
    t().args(["plan", "runbooks/wiki.md"]).status(2).stderr_has("no steps").stderr_has("runbook import").run();
}

#[test]
fn numbers_with_leading_zeros_keep_their_digits() {
    // Both front-matter readers: the plain one (block mapping) and YAML's
    // (a flow mapping sends the whole front matter there).
    for vars in [
        "vars:\n  mode: 0755\n  shard: 007\n  back: -07\n  n: 10\n",
        "vars: {mode: 0755, shard: 007, back: -07, n: 10}\n",
    ] {
        Test::new()
            .runbook("z", &format!("---\n{vars}---\n# Z\n\n```bash {{#a}}\nchmod {{{{ mode }}}} f-{{{{ shard }}}} {{{{ back }}}} {{{{ n }}}}\n```\n"))
            .args(["plan", "z"])
            .stdout_has("vars: back=-07 mode=0755 n=10 shard=007\n")
            .stdout_has("$ chmod 0755 f-007 -07 10\n")
            .run();
    }
}

/// Only `true`/`false` (any case) are booleans, as `--set` reads them:
/// `region: no` is Norway, not false (YAML 1.1's `yes`/`no`/`on`/`off`/`y`).
#[test]
fn yes_no_on_off_are_text_in_front_matter() {
    for vars in [
        "vars:\n  region: no\n  enabled: on\n  c: y\n  t: True\n  f: FALSE\n",
        "vars: {region: no, enabled: on, c: y, t: True, f: FALSE}\n",
    ] {
        Test::new()
            .runbook("n", &format!("---\n{vars}---\n# N\n\n```bash {{#a}}\necho {{{{ region }}}} {{{{ enabled }}}} {{{{ c }}}} {{{{ t }}}} {{{{ f }}}}\n```\n"))
            .args(["plan", "n"])
            .stdout_has("$ echo no on y true false\n")
            .run();
    }
}

#[test]
fn template_syntax_error() {
    bad("# T\n\n```bash {#a}\necho ok\necho {{ namespace \n```\n", &["bad.md:5", "step `a`"]);
}

#[test]
fn undefined_variable() {
    bad(
        "# T\n\n```bash {#a}\necho ok\nkubectl get pods -n {{ nmespace }}\n```\n",
        &["bad.md:5", "undefined variable `nmespace`", "--set nmespace="],
    );
}

#[test]
fn minijinja_functions_are_not_variables_and_a_variable_shadows_one() {
    // `range` and `dict` are called without being defined; the env
    // profile's `namespace` (as in Animica's runbook.toml) is the variable,
    // not minijinja's function.
    let md = "# T\n\n```bash {#a when=\"range(2) | length == 2\"}\n\
              {% for i in range(2) %}echo {{ i }} {{ namespace }}\n{% endfor %}echo {{ dict(k='v').k }}\n```\n";
    Test::new()
        .runbook("g", md)
        .args(["plan", "g"])
        .stdout_has("    $ echo 0 animica-devnet\n    $ echo 1 animica-devnet\n    $ echo v\n")
        .run();
    Test::new().runbook("g", md).args(["check", "runbooks/g.md"]).stdout_lacks("undefined").run();
    // Without the variable, a bare `{{ namespace }}` is still undefined,
    // in plan and in check alike, rather than a function's name.
    let bare = "# T\n\n```bash {#a}\necho {{ range(1) | length }} {{ namespace }}\n```\n";
    Test::new()
        .config("")
        .runbook("g", bare)
        .args(["plan", "g"])
        .status(2)
        .stderr_has("g.md:4: error: undefined variable `namespace` in step `a`")
        .run();
    Test::new()
        .config("")
        .runbook("g", bare)
        .args(["check"])
        .status(2)
        .stdout_has("undefined variable `namespace`")
        .run();
}

#[test]
fn undefined_variable_in_when() {
    bad("# T\n\n```bash {#a when=\"flavour == 'x'\"}\necho ok\n```\n", &["bad.md:3", "undefined variable `flavour`"]);
}

#[test]
fn bad_duration() {
    bad("# T\n\n```bash {#a timeout=soon}\n:\n```\n", &["bad.md:3", "`timeout=soon` is not a duration", "30s"]);
    // A bare number: the unit is what is missing, and the hint gives it.
    bad("# T\n\n```bash {#a timeout=30}\n:\n```\n", &["bad.md:3", "`timeout=30` has no unit", "write `timeout=30s`"]);
}

#[test]
fn an_age_without_a_unit_says_so() {
    Test::new()
        .args(["runs", "--prune", "--older-than", "90"])
        .status(2)
        .stderr_has("`90` has no unit: write 90d for days")
        .run();
}

#[test]
fn flag_with_value() {
    bad("# T\n\n```bash {#a read=yes}\n:\n```\n", &["bad.md:3", "`read` is a flag"]);
}

#[test]
fn rollback_to_non_undo() {
    bad("# T\n\n```bash {#a rollback=b}\n:\n```\n\n```bash {#b}\n:\n```\n", &["bad.md:3", "not an `undo` block"]);
}

#[test]
fn non_utf8_file() {
    Test::new()
        .bytes("runbooks/bad.md", b"# T\n\n```bash {#a}\necho \xff\xfe\n```\n")
        .args(["plan", "bad"])
        .status(2)
        .stderr_has("runbooks/bad.md:4")
        .stderr_has("not valid UTF-8")
        .run();
}

#[test]
fn empty_file_given_by_path() {
    Test::new()
        .file("runbooks/empty.md", "")
        .args(["plan", "runbooks/empty.md"])
        .status(2)
        .stderr_has("empty.md:1")
        .stderr_has("empty file")
        .run();
}

#[test]
fn empty_file_is_not_listed() {
    // A wiki page without steps is not a runbook: `list` ignores it.
    Test::new()
        .file("runbooks/empty.md", "")
        .runbook("a", "```bash {#x}\n:\n```")
        .args(["list"])
        .stdout_has("a ")
        .stdout_lacks("empty")
        .run();
}

#[test]
fn all_errors_at_once() {
    let f = Test::new()
        .runbook("bad", "# T\n\n```bash {#a bogus}\n:\n```\n\n```ruby {#b}\n:\n```\n")
        .args(["plan", "bad"])
        .status(2)
        .run();
    assert!(f.stderr.contains("bad.md:3") && f.stderr.contains("bad.md:7"), "{}", f.stderr);
}

#[test]
fn steps_inside_lists_quotes_tildes_and_crlf() {
    let md = "# T\r\n\r\n1. first\r\n   ```bash {#a read}\r\n   echo a\r\n   ```\r\n\r\n> ~~~sh {#b}\r\n> echo b\r\n> ~~~\r\n";
    let f = Test::new().file("runbooks/r.md", md).args(["show", "r", "--json"]).run();
    let j = f.json();
    let steps = j["runbook"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["line"], 4);
    assert_eq!(steps[0]["body"], "echo a\n");
    assert_eq!(steps[1]["line"], 8);
    assert_eq!(steps[1]["kind"], "sh");
}

#[test]
fn doc_blocks_never_become_steps() {
    Test::new()
        .runbook("r", "# T\n\n```bash\nrm -rf /\n```\n\n```bash {#a}\necho a\n```\n")
        .args(["plan", "r"])
        .stdout_has("echo a")
        .stdout_lacks("rm -rf")
        .run();
}

#[test]
fn text_after_attributes() {
    bad("# T\n\n```bash {#a read} extra\n:\n```\n", &["bad.md:3", "text after the attributes", "drop `extra`"]);
}

/// An `interactive` step's output goes to the terminal and a `manual` one
/// prints none: what reads output would read nothing in a play, while a
/// rehearsal (which captures it) passes.
#[test]
fn capture_and_expect_on_a_step_without_output_are_refused() {
    for (fence, msg) in [
        ("```bash {#rev interactive capture=cur}", "`capture` does not apply to an `interactive` step"),
        ("```bash {#rev interactive expect=\"^ok$\"}", "`expect` does not apply to an `interactive` step"),
        ("```manual {#rev capture=cur}", "`capture` does not apply to a `manual` step"),
        ("```manual {#rev expect=ok}", "`expect` does not apply to a `manual` step"),
    ] {
        bad(&format!("# T\n\n{fence}\necho 41\n```\n"), &["bad.md:3", msg, "in a step of its own"]);
    }
}

/// A backslash before punctuation in an attribute is the author's:
/// `expect="^\[OK\]$"` matches `[OK]` and not `K` (CommonMark's escapes
/// would have made it a character class).
#[test]
fn backslashes_in_attributes_are_read_as_written() {
    let md = |out: &str| format!("# T\n\n```bash {{#gate read expect=\"^\\[OK\\]$\"}}\necho '{out}'\n```\n");
    Test::new().runbook("g", &md("K")).args(["play", "g", "--yes"]).status(1).stdout_has("<== gate: failed").run();
    Test::new().runbook("g", &md("[OK]")).args(["play", "g", "--yes"]).stdout_has("<== gate: passed").run();
    Test::new().runbook("g", &md("K")).args(["show", "g", "--json"]).stdout_has(r#""expect": "^\\[OK\\]$""#).run();
}

#[test]
fn small_attribute_mistakes_say_what_is_wrong() {
    // A space but no language: the language is what is missing.
    bad("# T\n\n``` {#a read}\n:\n```\n", &["bad.md:3", "step has no language", "```bash {#a read}"]);
    bad("# T\n\n```bash {#a timeout=1ns}\n:\n```\n", &["bad.md:3", "`timeout=1ns` is shorter than a millisecond"]);
    bad(
        "# T\n\n```bash {#a capture=env}\n:\n```\n",
        &["bad.md:3", "`capture=env`: `env` is a name templates already define"],
    );
    bad(
        "---\nvars:\n  env: x\n---\n# T\n\n```bash {#a}\n:\n```\n",
        &["bad.md:3", "rename it: variable names are not `env` or `steps`"],
    );
}

/// `needs=` never suggests an undo block (needing one is an error), and
/// `rollback=` suggests only undo blocks.
#[test]
fn a_misspelt_needs_or_rollback_suggests_a_step_it_may_name() {
    let md = |attrs: &str| {
        format!(
            "# T\n\n```bash {{#drain}}\n:\n```\n\n```bash {{#drain-undo undo}}\n:\n```\n\n```bash {{#b {attrs}}}\n:\n```\n"
        )
    };
    bad(&md("needs=drain-und"), &["bad.md:11", "`needs=drain-und` names no step", "did you mean `drain`?"]);
    bad(&md("rollback=drain"), &["bad.md:11", "names a step that is not an `undo` block"]);
    bad(
        &md("rollback=drian"),
        &["bad.md:11", "`rollback=drian` names no step", "steps `rollback=` may name here: drain-undo"],
    );
    // Nothing to name, or nothing named: said so, not an empty list.
    bad(
        "# T

```bash {#a rollback=}
:
```
",
        &["bad.md:3", "`rollback=` is empty: it names no step", "no step here can be named by `rollback=`: remove it"],
    );
}

#[test]
fn a_when_written_as_a_template_says_to_drop_the_braces() {
    bad(
        "---\nvars: {force: false}\n---\n# T\n\n```bash {#a when=\"{{ force }}\"}\n:\n```\n",
        &["bad.md:6", "hint: `when` is an expression, not a template: write `when=\"force\"`"],
    );
}

#[test]
fn runbook_id_cannot_be_a_path() {
    bad("---\nid: ../../etc/x\n---\n# T\n\n```bash {#a}\n:\n```\n", &["bad.md:2", "invalid runbook id `../../etc/x`"]);
}

#[test]
fn two_runbooks_with_one_id() {
    Test::new()
        .runbook("a", "---\nid: same\n---\n# A\n\n```bash {#x}\n:\n```\n")
        .runbook("b", "---\nid: same\n---\n# B\n\n```bash {#x}\n:\n```\n")
        .args(["list"])
        .status(2)
        .stderr_has("runbooks/b.md:2")
        .stderr_has("runbook id `same` is also used by runbooks/a.md")
        .run();
}

/// Which file `play drain` would run must never depend on file names:
/// every command that takes the id refuses, and `check` (the CI gate)
/// fails, naming both files.
#[test]
fn an_id_two_files_share_is_refused_by_every_command_and_fails_check() {
    let a = "---\nid: drain\n---\n# A\n\n```bash {#a read}\necho from-a\n```\n";
    let drain = "# Drain\n\n```bash {#b read}\necho from-drain\n```\n";
    let dup = "runbooks/drain.md:1: error: runbook id `drain` is also used by runbooks/a.md\n\
               \x20 hint: give one of them another `id:` in front matter, or rename the file\n";
    for args in
        [vec!["play", "drain", "--yes"], vec!["play", "dra", "--yes"], vec!["plan", "drain"], vec!["show", "drain"]]
    {
        Test::new()
            .runbook("a", a)
            .runbook("drain", drain)
            .args(args)
            .status(2)
            .stdout_lacks("from-")
            .stderr_has(dup)
            .run();
    }
    Test::new()
        .runbook("a", a)
        .runbook("drain", drain)
        .args(["check"])
        .status(2)
        .stdout_has("runbooks/drain.md:1: error[duplicate-runbook]: runbook id `drain` is also used by runbooks/a.md")
        .stdout_has("FAILED: 2 runbooks, 1 error")
        .run();
}

#[test]
fn a_symlink_to_a_runbook_is_that_runbook_not_a_second_one() {
    let t = Test::new().runbook("a", "# A\n\n```bash {#x}\n:\n```\n");
    std::os::unix::fs::symlink("a.md", t.path().join("runbooks/alias.md")).unwrap();
    t.args(["list"]).stdout("a   1 step   A\n").run();
}

/// An attribute value is read as the file spells it: `\"` inside double
/// quotes is a quote (CommonMark would take that backslash out of an info
/// string); an unescaped inner quote is explained.
#[test]
fn a_quote_inside_an_attribute_value_is_explained() {
    let f = Test::new()
        .runbook("a", "# A\n\n```bash {#a read expect=\"say \"ok\"\"}\necho say '\"ok\"'\n```\n")
        .args(["plan", "a"])
        .status(2)
        .run();
    assert_eq!(
        f.stderr,
        "runbooks/a.md:3: error: text right after the closing quote of `expect`\n  \
         hint: separate attributes with spaces; a value that holds \" is quoted with ': `expect='say \"ok\"'`\n"
    );
    Test::new()
        .runbook("a", "# A\n\n```bash {#a read expect=\"say \\\"ok\\\"\"}\necho say '\"ok\"'\n```\n")
        .args(["play", "a", "--yes"])
        .stdout_has("<== a: passed")
        .run();
    Test::new()
        .runbook("a", "# A\n\n```bash {#a read expect='say \"ok\"'}\necho say '\"ok\"'\n```\n")
        .args(["play", "a", "--yes"])
        .stdout_has("<== a: passed")
        .run();
}

/// A NUL byte in a step's body: no interpreter runs it (bash exits 126
/// "cannot execute binary file") and a shown command hides it, so it is a
/// parse error at its line, before anything plays.
#[test]
fn a_nul_byte_in_a_body_is_an_error_at_its_line() {
    bad(
        "# N\n\n```bash {#a}\necho ok\necho a\0b > out\n```\n",
        &[
            "runbooks/bad.md:5: error: step `a` has a NUL byte in its body: no interpreter can run it",
            "hint: remove it",
        ],
    );
    let f = Test::new()
        .runbook("n", "# N\n\n```bash {#a}\necho a\0b > out\n```\n")
        .args(["play", "n", "--yes"])
        .status(2)
        .run();
    assert!(!f.path().join("out").exists());
}

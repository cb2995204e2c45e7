//! `check --format json|junit|github` say a broken project config on
//! stdout too, in the format (exit 2, the error on stderr as well), and the
//! summary lines count in the singular and the plural.

use crate::common::*;

const BROKEN: &str = "runbooks = \"runbooks\"\nfixture = \"x\"\n";
const MESSAGE: &str = "unknown field `fixture`, expected one of `runbooks`, `fixtures`, `state`, `default_env`, `env`, `rehearse`, `alerts`";
const HINT: &str = "keys: runbooks, fixtures, state, default_env, [env.NAME], [rehearse] stub/env/local, [alerts] labels/runbooks (see SPEC §3, docs/observability.md)";

fn broken(format: &str) -> Finished {
    Test::new()
        .config(BROKEN)
        .args(["check", "--format", format])
        .status(2)
        .stderr_has(&format!("runbook.toml:2: error: {MESSAGE}"))
        .run()
}

#[test]
fn a_broken_config_in_github_format() {
    let f = broken("github");
    assert_eq!(
        f.stdout,
        format!(
            "::error file=runbook.toml,line=2,title=config::{MESSAGE}%0Ahint: {HINT}\n\
             checked 0 runbooks: 1 error, 0 warnings, 0 of 0 scenarios failed\n"
        )
    );
}

#[test]
fn a_broken_config_in_json_format() {
    let j = broken("json").json();
    assert_eq!(
        j["runbooks"],
        serde_json::json!([{
            "id": null,
            "path": "runbook.toml",
            "findings": [{"severity": "error", "file": "runbook.toml", "line": 2, "code": "config", "message": MESSAGE, "hint": HINT}],
            "scenarios": [],
        }])
    );
    assert_eq!((j["summary"]["errors"].as_u64(), j["interrupted"].as_bool()), (Some(1), Some(false)));
}

#[test]
fn a_broken_config_in_junit_format() {
    let f = broken("junit");
    for want in [
        "<testsuites name=\"runbook check\" tests=\"1\" skipped=\"0\" failures=\"1\" errors=\"0\">",
        "<testsuite name=\"runbook.toml\" tests=\"1\" skipped=\"0\" errors=\"0\" failures=\"1\">",
        &format!(
            "<testcase name=\"lint\" classname=\"runbook.toml\">\n            <failure message=\"runbook.toml:2: {MESSAGE}\" type=\"config\">"
        ),
    ] {
        assert!(f.stdout.contains(want), "no {want:?} in\n{}", f.stdout);
    }
}

#[test]
fn a_missing_runbooks_directory_in_every_machine_format() {
    let t = || Test::new().config("runbooks = \"nope\"\n").status(2).stderr_has("error: runbooks directory not found:");
    let f = t().args(["check", "--format", "github"]).run();
    assert!(f.stdout.starts_with("::error title=no-runbooks::runbooks directory not found: "), "{}", f.stdout);
    assert!(f.stdout.ends_with("\nchecked 0 runbooks: 1 error, 0 warnings, 0 of 0 scenarios failed\n"), "{}", f.stdout);
    let j = t().args(["check", "--format", "json"]).run().json();
    assert_eq!(j["runbooks"][0]["findings"][0]["code"], "no-runbooks", "{j}");
    let f = t().args(["check", "--format", "junit"]).run();
    assert!(f.stdout.contains("<failure message=\"runbooks directory not found: "), "{}", f.stdout);
    // Human output is unchanged: the error on stderr only.
    let f = t().args(["check"]).run();
    assert_eq!(f.stdout, "");
}

#[test]
fn summaries_count_in_the_singular_and_plural() {
    let md = "# A\n\n```bash {#a read}\ntrue\n```\n";
    let fx = "[[scenario]]\nname = \"ok\"\n[scenario.expect]\noutcome = \"passed\"\n";
    Test::new()
        .runbook("a", md)
        .fixture("a", fx)
        .file("runbooks/p.md", "# P\n\n```bash\nkubectl logs <pod>\n```\n")
        .args(["check", "--format", "github"])
        .stdout_has("checked 1 runbook, 1 plain page: 0 errors, 1 warning, 0 of 1 scenario failed\n")
        .run();
    Test::new()
        .runbook("a", md)
        .fixture("a", fx)
        .runbook("b", md)
        .fixture("b", fx)
        .args(["check", "--format", "github"])
        .stdout("checked 2 runbooks: 0 errors, 0 warnings, 0 of 2 scenarios failed\n")
        .run();
}

/// `--deny-warnings` fails the check for a warning, and every format says
/// so: the human verdict is FAILED and names the cause, github makes the
/// warning an `::error`, json's summary says `failed`, junit fails `lint`.
#[test]
fn denied_warnings_fail_in_every_format() {
    let t = || Test::new().runbook("a", "# A\n\n```bash {#a read}\ntrue\n```\n");
    let check = |format: &str| t().args(["check", "--deny-warnings", "--format", format]).status(1).run().stdout;
    let human = check("human");
    assert!(human.contains("runbooks/a.md:1: warning[no-fixture]: "), "{human}");
    assert!(
        human.ends_with(
            "\nFAILED: 1 runbook, 0 errors, 1 warning, denied by --deny-warnings; 0 scenarios rehearsed, 0 failed\n"
        ),
        "{human}"
    );
    let github = check("github");
    assert!(github.starts_with("::error file=runbooks/a.md,line=1,title=no-fixture::"), "{github}");
    assert!(
        github.ends_with(
            "\nchecked 1 runbook: 0 errors, 1 warning, denied by --deny-warnings, 0 of 0 scenarios failed\n"
        ),
        "{github}"
    );
    let j: serde_json::Value = serde_json::from_str(&check("json")).unwrap();
    assert_eq!((j["deny_warnings"].as_bool(), j["summary"]["failed"].as_bool()), (Some(true), Some(true)), "{j}");
    let junit = check("junit");
    assert!(junit.contains("<failure message=\"runbooks/a.md:1: "), "{junit}");
    // Without the flag: a warning, and the check passes.
    let f = t().args(["check"]).run();
    assert!(
        f.stdout.ends_with("\nok: 1 runbook, 0 errors, 1 warning; 0 scenarios rehearsed, 0 failed\n"),
        "{}",
        f.stdout
    );
    let f = t().args(["check", "--format", "github"]).run();
    assert!(f.stdout.starts_with("::warning file=runbooks/a.md,line=1,title=no-fixture::"), "{}", f.stdout);
    let j = t().args(["check", "--format", "json"]).run().json();
    assert_eq!((j["deny_warnings"].as_bool(), j["summary"]["failed"].as_bool()), (Some(false), Some(false)), "{j}");
}

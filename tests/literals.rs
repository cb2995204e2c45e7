//! Values render as their author wrote them: TOML dates, numbers beyond 64
//! bits, floats written in a form their number would not render as
//! (docs/decisions.md, "Numbers as written").

use crate::common::Test;

const CONFIG: &str = "default_env = \"dev\"\n\n[env.dev]\nat = 1979-05-27T07:32:00Z\nday = 2026-12-04\nlocal = 07:32:00\nratio = 1.10\nkilo = 1e3\nhalf = 2.5\n";

const RUNBOOK: &str = "---\nvars:\n  big: 99999999999999999999999999999\n  ver: 1.10\n  k: 1e3\n  n: 42\n  pi: 3.14\n---\n# L\n\n```bash {#a}\necho {{ at }} {{ day }} {{ local }} {{ ratio }} {{ kilo }} {{ half }} {{ big }} {{ ver }} {{ k }} {{ n }} {{ pi }} > out\n```\n";

const RENDERED: &str =
    "1979-05-27T07:32:00Z 2026-12-04 07:32:00 1.10 1e3 2.5 99999999999999999999999999999 1.10 1e3 42 3.14";

#[test]
fn plan_shows_dates_and_numbers_as_written() {
    Test::new()
        .config(CONFIG)
        .runbook("l", RUNBOOK)
        .args(["plan", "l"])
        .stdout_has("vars: at=1979-05-27T07:32:00Z big=99999999999999999999999999999 day=2026-12-04 half=2.5 k=1e3 kilo=1e3 local=07:32:00 n=42 pi=3.14 ratio=1.10 ver=1.10\n")
        .stdout_has(&format!("$ echo {RENDERED} > out\n"))
        .stdout_lacks("toml_private")
        .run();
}

#[test]
fn play_runs_dates_and_numbers_as_written() {
    let f = Test::new().config(CONFIG).runbook("l", RUNBOOK).args(["play", "l", "--yes"]).run();
    assert_eq!(std::fs::read_to_string(f.path().join("out")).unwrap(), format!("{RENDERED}\n"));
}

/// A number that renders as written stays a number: templates compute with it.
#[test]
fn numbers_that_render_as_written_stay_numbers() {
    Test::new()
        .config("[env.dev]\nhalf = 2.5\n")
        .runbook("n", "---\nvars:\n  n: 42\n  pi: 3.14\n---\n# N\n\n```bash {#a read}\necho {{ n + 1 }} {{ pi * 2 }} {{ half * 2 }}\n```\n")
        .args(["plan", "n", "--env", "dev"])
        .stdout_has("$ echo 43 6.28 5.0\n")
        .run();
}

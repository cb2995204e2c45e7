//! A cancelled `check` (SIGINT) exits 130 and reports the scenario it cut
//! short as interrupted, never failed, in every format: CI must not read a
//! cancelled job as a failed scenario (docs/decisions.md).

use std::process::Stdio;

use crate::common::*;
use crate::play::wait_until;

/// A project with a scenario that passes (`a`, played first with
/// `--jobs 1`) and one whose step waits until the test interrupts it (`w`).
fn project() -> Test {
    let t = Test::new()
        .runbook("a", "# A\n\n```bash {#ok read}\ntrue\n```\n")
        .fixture("a", "[[scenario]]\nname = \"fast\"\n[scenario.expect]\noutcome = \"passed\"\n");
    let started = t.path().join("started");
    t.runbook("w", &format!("# W\n\n```bash {{#wait timeout=5m}}\ntouch '{}'\nsleep 600\n```\n", started.display()))
        .fixture("w", "[[scenario]]\nname = \"slow\"\n[scenario.expect]\noutcome = \"passed\"\n")
        .env("RUNBOOK_CONTAIN", "0")
}

/// Run `check --format FORMAT`, SIGINT it once the slow step has started.
fn interrupted(format: &str) -> (String, String) {
    let t = project().args(["check", "--jobs", "1", "--format", format]);
    let child = t.command().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_until("the slow step to start", || t.path().join("started").exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stderr.contains("check interrupted: scenarios in play were cut short, later ones not played"), "{stderr}");
    (stdout, stderr)
}

#[test]
fn human() {
    let (out, _) = interrupted("human");
    let lines: Vec<String> = out
        .lines()
        .map(|l| match l.split_once("  (") {
            Some((head, tail)) => format!("{head}  ({}", tail.split_once(", ").map_or(")", |(_, t)| t)),
            None => l.to_string(),
        })
        .collect();
    assert_eq!(
        lines.iter().filter(|l| !l.starts_with("===")).cloned().collect::<Vec<_>>(),
        [
            "ok a / fast  ()",
            "interrupted w / slow  fixtures/w.toml:1  (cut short: neither passed nor failed)",
            "",
            "interrupted: 2 runbooks, 0 errors, 0 warnings; 2 scenarios rehearsed, 0 failed, 1 interrupted",
        ],
        "{out}"
    );
}

#[test]
fn json() {
    let (out, _) = interrupted("json");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let s = &j["summary"];
    assert_eq!(
        (s["scenarios"].as_u64(), s["scenarios_failed"].as_u64(), s["scenarios_interrupted"].as_u64()),
        (Some(2), Some(0), Some(1)),
        "{out}"
    );
    assert_eq!(j["interrupted"], true, "{out}");
    let slow = &j["runbooks"][1]["scenarios"][0];
    assert_eq!(
        (&slow["scenario"], &slow["passed"], &slow["interrupted"], &slow["failures"]),
        (&"slow".into(), &false.into(), &true.into(), &serde_json::json!([])),
        "{out}"
    );
    assert_eq!(j["runbooks"][0]["scenarios"][0]["interrupted"], false, "{out}");
}

#[test]
fn junit() {
    let (out, _) = interrupted("junit");
    assert!(
        out.contains("<testsuites name=\"runbook check\" tests=\"4\" skipped=\"1\" failures=\"0\" errors=\"0\">"),
        "{out}"
    );
    assert!(
        out.contains("<skipped message=\"interrupted\">cut short by a signal that stopped the check</skipped>"),
        "{out}"
    );
    assert!(!out.contains("<failure"), "{out}");
}

#[test]
fn github() {
    let (out, _) = interrupted("github");
    assert_eq!(
        out,
        "::notice file=fixtures/w.toml,line=1,title=interrupted::scenario `slow` of `w` was cut short: \
         the check was cancelled (neither passed nor failed)\n\
         checked 2 runbooks: 0 errors, 0 warnings, 0 of 2 scenarios failed, 1 interrupted\n"
    );
}

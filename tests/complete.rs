//! Shell completion knows the project: runbook ids, env names, step ids of
//! the runbook typed (`--from`/`--only`), scenario names; never `__shim`.

use crate::common::*;

const RB: &str = "# R\n\n```bash {#pods read}\necho\n```\n\n```bash {#restart}\necho\n```\n";
const FX: &str = "[[scenario]]\nname = \"healthy\"\n\n[[scenario]]\nname = \"broken\"\n";

/// Candidates for the last word, as fish gets them (one per line, `value\thelp`).
fn complete(words: &[&str]) -> Vec<String> {
    let t = Test::new().runbook("2.1-head-stall", RB).runbook("9-hygiene", RB).fixture("2.1-head-stall", FX);
    let out = std::process::Command::new(bin())
        .env("COMPLETE", "fish")
        .arg("--")
        .args(words)
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Options are offered too where a value may come: keep the values.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .filter(|c| !c.starts_with('-') || words.last().is_some_and(|w| w.starts_with('-')))
        .collect()
}

#[test]
fn runbook_ids_envs_steps_and_scenarios() {
    assert_eq!(complete(&["runbook", "play", "2"]), ["2.1-head-stall"]);
    assert_eq!(complete(&["runbook", "show", ""]), ["2.1-head-stall", "9-hygiene"]);
    assert_eq!(complete(&["runbook", "plan", "9", "--env", ""]), ["devnet", "prod"]);
    assert_eq!(complete(&["runbook", "play", "2.1", "--from", ""]), ["pods", "restart"]);
    assert_eq!(complete(&["runbook", "play", "--env", "prod", "2.1-head-stall", "--only", "r"]), ["restart"]);
    assert_eq!(complete(&["runbook", "play", "2.1", "--dry-run", "--scenario", ""]), ["healthy", "broken"]);
}

#[test]
fn the_shim_is_never_offered() {
    assert!(complete(&["runbook", "__"]).is_empty());
    let all = complete(&["runbook", ""]);
    assert!(all.contains(&"play".to_string()) && all.contains(&"import".to_string()), "{all:?}");
    assert!(!all.iter().any(|c| c.contains("shim")), "{all:?}");
}

#[test]
fn the_hook_calls_back_into_runbook() {
    Test::new()
        .args(["completions", "bash"])
        .stdout_has("COMPLETE=\"bash\"")
        .stdout_has("_clap_complete_runbook")
        .run();
}

/// `report` completes `latest` and the project's runs, newest first.
#[test]
fn report_completes_latest_and_the_runs() {
    let t = Test::new().runbook("r", "# R\n\n```bash {#a read}\necho\n```\n");
    let dir = t.path().to_path_buf();
    let play = |dir: &std::path::Path| {
        let o = std::process::Command::new(bin()).args(["play", "r", "--yes"]).current_dir(dir).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    play(&dir);
    play(&dir);
    let runs = std::process::Command::new(bin()).args(["runs", "--json"]).current_dir(&dir).output().unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    let ids: Vec<String> =
        runs.as_array().unwrap().iter().rev().map(|r| r["run"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 2);
    let out = std::process::Command::new(bin())
        .env("COMPLETE", "fish")
        .args(["--", "runbook", "report", ""])
        .current_dir(&dir)
        .output()
        .unwrap();
    let got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .filter(|c| !c.starts_with('-'))
        .collect();
    let mut want = vec!["latest".to_string()];
    want.extend(ids);
    assert_eq!(got, want);
    drop(t);
}

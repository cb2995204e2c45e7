//! One incident, one run, one event log (issue "Runs as one event log"):
//! each numbered problem of the issue, as an on-call engineer met it.

use std::process::Stdio;

use crate::common::*;
use crate::play::{crash_while_running, journal, rb, rb_cmd, text, wait_until};
use crate::tty::Tty;

const WORK_EXPIRED: &str = r#"
```bash {#a read}
echo "miner: WorkExpired"
```

```bash {#slow read}
echo $$ > slow.pid
while [ ! -f go ]; do sleep 0.02; done
```

```bash {#b when="'WorkExpired' in steps.a.stdout"}
echo fixing
```
"#;

#[test]
fn a_resume_decides_on_what_a_step_printed_before_the_crash() {
    let t = Test::new().runbook("r", WORK_EXPIRED);
    let dir = t.path();
    crash_while_running(dir, "r", "slow.pid");
    std::fs::write(dir.join("go"), "").unwrap();
    let o = rb(dir, &["play", "r", "--yes", "--resume"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("[b] fixing"), "the remediation was skipped after the resume: {out}");
    assert!(!out.contains("[a] miner"), "a ran again: {out}");
}

const TRIAGE: &str = r#"
```bash {#look read}
echo looking
```

```bash {#wait read}
touch waiting
while [ ! -f go ]; do sleep 0.02; done
```

```bash {#scale}
echo scaled >> scaled.txt
```
"#;

#[test]
fn a_resume_keeps_the_runs_mode_and_never_widens_it() {
    let t = Test::new().runbook("t", TRIAGE);
    let dir = t.path().to_path_buf();
    let child = rb_cmd(&dir, &["play", "t", "--read-only", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the triage to wait", || dir.join("waiting").exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(130), "{screen}");
    // The hint reproduces the run's mode.
    assert!(screen.contains("runbook play t --env devnet --read-only --resume"), "{screen}");
    std::fs::write(dir.join("go"), "").unwrap();
    // `--resume` alone: still triage.
    let o = rb(&dir, &["play", "t", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!dir.join("scaled.txt").exists(), "the triage run scaled the miners: {}", text(&o));
    // A write step into the read-only run: refused, with the way to a new run.
    let t = Test::new().runbook("t", TRIAGE);
    let child =
        rb_cmd(t.path(), &["play", "t", "--read-only"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_until("the triage to wait", || t.path().join("waiting").exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    child.wait_with_output().unwrap();
    let o = rb(t.path(), &["play", "t", "--resume", "--yes", "--only", "scale"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("never widens") && text(&o).contains("--fresh"), "{}", text(&o));
    assert!(!t.path().join("scaled.txt").exists());
}

#[test]
fn a_failed_run_continues_with_its_values_in_one_report() {
    let md = "```bash {#one}\necho one {{ rev }}\n```\n\n```bash {#two}\ntest -f fixed\necho two {{ rev }}\n```\n\n```bash {#three}\necho three\n```\n";
    let t = Test::new().runbook("r", &format!("---\nvars:\n  rev: 1\n---\n{md}"));
    let dir = t.path();
    let o = rb(dir, &["play", "r", "--yes", "--set", "rev=41"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // The closing screen says once what failed and what to type next.
    let screen = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(screen.matches("exit 1").count(), 2, "the step's end and the summary, nothing more: {screen}");
    assert!(screen.contains("runbook play r --env devnet --resume"), "{screen}");
    std::fs::write(dir.join("fixed"), "").unwrap();
    let o = rb(dir, &["play", "r", "--yes", "--resume"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("[two] two 41"), "the --set value was lost: {out}");
    assert!(!out.contains("[one] one"), "{out}");
    // One run, every session in its report, each step once in its summary.
    let r = rb(dir, &["report", "latest", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["sessions"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["steps"].as_array().unwrap().len(), 3, "each step once: {v}");
    assert_eq!(v["status"], "passed");
    let md = text(&rb(dir, &["report", "latest"]));
    assert!(md.contains("- 3 passed, 0 failed"), "{md}");
}

#[test]
fn every_answer_is_journaled_with_who_how_and_when() {
    let md =
        "```bash {#restart confirm}\necho restarted\n```\n\n```manual {#check}\n- [ ] look at the dashboard\n```\n";
    let t = Test::new().runbook("a", md);
    let o = rb(t.path(), &["play", "a", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let answers: Vec<serde_json::Value> = journal(t.path())
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "answer")
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    for a in &answers {
        assert_eq!(a["how"], "yes", "{a}");
        assert_eq!(a["reply"], "yes", "{a}");
        assert!(a["by"].as_str().unwrap().contains('@'), "{a}");
        assert!(!a["at"].as_str().unwrap().is_empty(), "{a}");
    }
    let report = text(&rb(t.path(), &["report", "latest"]));
    assert!(report.contains("## Approvals"), "{report}");
    assert!(report.contains("| `restart` | confirm | **yes** | `--yes` |"), "{report}");
    assert!(report.contains("| `check` | manual | **yes** | `--yes` |"), "{report}");
}

#[test]
fn a_manual_step_takes_the_operators_time() {
    let md = "```manual {#drain}\n- [ ] Take the node out of the load balancer.\n```\n";
    let t = Test::new().runbook("m", md);
    let mut p = Tty::spawn(t.path(), &["play", "m"]);
    p.expect("done?");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    p.line("y");
    p.done(0);
    let j = journal(t.path());
    let end: serde_json::Value = j
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|v: &serde_json::Value| v["event"] == "step-end")
        .unwrap();
    let ms = end["duration_ms"].as_u64().expect("a duration");
    assert!(ms >= 1000, "the manual step took the operator's time, not {ms} ms");
    assert!(j.contains("\"how\":\"prompt\""), "{j}");
}

#[test]
fn a_rehearsal_honours_the_filters_of_a_play() {
    let md = "```bash {#look read}\nkubectl get pods\n```\n\n```bash {#fix}\nkubectl rollout restart deploy/x\n```\n";
    let fx = "[[scenario]]\nname = \"s\"\n[[scenario.stub]]\ncmd = \"kubectl *\"\nstdout = \"ok\"\n";
    let t = Test::new().runbook("r", md).fixture("r", fx);
    for (flag, runs, skipped) in
        [("--read-only", "look", "fix"), ("--only=fix", "fix", "look"), ("--from=fix", "fix", "look")]
    {
        let o = rb(t.path(), &["play", "r", "--dry-run", flag]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(out.contains(&format!("==> {runs}:")), "{flag}: {out}");
        assert!(!out.contains(&format!("==> {skipped}:")), "{flag}: {out}");
    }
    // And checks every template before its first step, as a play does.
    let bad = "```bash {#one}\necho one\n```\n\n```bash {#two}\necho {{ nope }}\n```\n";
    let t = Test::new().runbook("b", bad).fixture("b", "[[scenario]]\nname = \"s\"\n");
    let o = rb(t.path(), &["play", "b", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("[one] one"), "{}", text(&o));
}

#[test]
fn steps_left_out_are_one_line_and_ctrl_c_offers_only_what_can_happen() {
    let mut md = String::new();
    for i in 0..200 {
        md.push_str(&format!("```bash {{#t{i}}}\necho {i}\n```\n\n"));
    }
    let t = Test::new().runbook("many", &md);
    let o = rb(t.path(), &["play", "many", "--only", "t100"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("--- 199 steps skipped: not selected (--only t100)"), "{out}");
    assert!(out.lines().count() < 12, "{out}");
    // Nothing to roll back: Ctrl-C does not offer it.
    let t = Test::new().runbook("l", "```bash {#long}\necho waiting\nsleep 30\n```\n");
    let mut p = Tty::spawn(t.path(), &["play", "l"]);
    p.expect("[long] waiting");
    p.ctrl_c();
    p.expect("[q]uit");
    p.expect("[c]ontinue: ");
    p.line("q");
    let seen = p.done(130);
    assert!(!seen.contains("[r]oll back"), "{seen}");
}

/// Line 8: the body's first line; line 9 a missing command. A step before
/// it: `pods` may get a warm interpreter (a pipe, not a memfd).
const TYPO: &str =
    "# K\n\n```bash {#first read}\necho first\n```\n\n```bash {#pods}\necho {{ greeting }}\nkubctl get pods\n```\n";

#[test]
fn bash_errors_name_the_runbooks_line_on_screen_and_in_the_report_and_the_log_keeps_them() {
    let t = Test::new().runbook("k", TYPO);
    let o = rb(t.path(), &["play", "k", "--set", "greeting=hi"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("\n[pods] runbooks/k.md:9: kubctl: command not found\n"), "{out}");
    assert!(out.contains("failed: pods — exit 127: command not found: kubctl at runbooks/k.md:9\n"), "{out}");
    assert!(!out.contains("/dev/fd/"), "{out}");
    // The step log and the journal keep what bash printed.
    let runs = t.path().join(".runbook/runs");
    let run = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let log = std::fs::read_to_string(run.join("pods.log")).unwrap();
    let printed = log.lines().find(|l| l.ends_with("kubctl: command not found")).unwrap_or_else(|| panic!("{log}"));
    let fd = printed.strip_prefix("/dev/fd/").and_then(|r| r.strip_suffix(": line 2: kubctl: command not found"));
    assert!(fd.is_some_and(|n| n.parse::<u32>().is_ok()), "{log}");
    assert!(journal(t.path()).contains(&format!("\"tail\":\"hi\\n{printed}\"")), "{}", journal(t.path()));
    // The report's failure summary names the line; its output block is the step's.
    let r = rb(t.path(), &["report", "latest"]);
    let report = text(&r);
    assert!(report.contains("- **failed** `pods` at "), "{report}");
    assert!(report.contains(", exit 127: command not found: kubctl at runbooks/k.md:9\n"), "{report}");
    assert!(report.contains(&format!("\nhi\n{printed}\n```")), "{report}");

    // A value of two lines moves the line: not the runbook's line 9, the rendered body's 3.
    let t = Test::new().runbook("k", TYPO);
    let o = rb(t.path(), &["play", "k", "--set", "greeting=a\nb"]);
    let out = text(&o);
    assert!(out.contains("\n[pods] step pods, line 3 of its rendered body: kubctl: command not found\n"), "{out}");
    assert!(
        out.contains("failed: pods — exit 127: command not found: kubctl at step pods, line 3 of its rendered body\n"),
        "{out}"
    );
    // Another script of the step (`source <(…)` is `/dev/fd/63` to bash) is not the runbook's.
    let t = Test::new().runbook("k", "# K\n\n```bash {#pods}\necho hi\nsource <(echo kubctl)\n```\n");
    let o = rb(t.path(), &["play", "k"]);
    let out = text(&o);
    assert!(out.contains("[pods] /dev/fd/63: line 1: kubctl: command not found\n"), "{out}");
    assert!(out.contains("failed: pods — exit 127: command not found: kubctl\n"), "{out}");
}

/// Line 4: the body's first line; a function raises on line 5, called on line 6.
const RAISES: &str =
    "# P\n\n```python {#boom}\ndef check(v):\n    raise ValueError(f\"bad {v}\")\ncheck({{ n }})\n```\n";

#[test]
fn python_tracebacks_name_the_runbooks_line_on_screen_and_the_log_keeps_them() {
    let t = Test::new().runbook("p", RAISES);
    let o = rb(t.path(), &["play", "p", "--set", "n=7"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let frames: Vec<&str> = out.lines().filter(|l| l.contains(", in ")).collect();
    assert_eq!(frames, ["[boom]   runbooks/p.md:6, in <module>", "[boom]   runbooks/p.md:5, in check"], "{out}");
    assert!(out.contains("\n[boom] ValueError: bad 7\n"), "{out}");
    assert!(!out.contains("/dev/fd/"), "{out}");
    // The step log keeps what python printed.
    let runs = t.path().join(".runbook/runs");
    let run = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let log = std::fs::read_to_string(run.join("boom.log")).unwrap();
    let printed = log.lines().find(|l| l.ends_with(", line 2, in check")).unwrap_or_else(|| panic!("{log}"));
    let fd = printed.strip_prefix("  File \"/dev/fd/").and_then(|r| r.strip_suffix("\", line 2, in check"));
    assert!(fd.is_some_and(|n| n.parse::<u32>().is_ok()), "{log}");

    // Not certain of the line (a `{% %}`): the rendered body's line.
    let t = Test::new().runbook("p", &RAISES.replace("def check", "{% set m = 1 %}def check"));
    let o = rb(t.path(), &["play", "p", "--set", "n=7"]);
    let out = text(&o);
    let frames: Vec<&str> = out.lines().filter(|l| l.contains(", in ")).collect();
    assert_eq!(
        frames,
        [
            "[boom]   step boom, line 3 of its rendered body, in <module>",
            "[boom]   step boom, line 2 of its rendered body, in check"
        ],
        "{out}"
    );
}

#[test]
fn a_missing_command_is_named_on_the_failure_screen() {
    let t = Test::new()
        .runbook("k", "```bash {#pods budget=10m escalate=\"page the platform team\"}\nkubctl get pods\n```\n");
    let o = rb(t.path(), &["play", "k"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("failed: pods — exit 127: command not found: kubctl"), "{out}");
    assert!(out.contains("escalate (pods): page the platform team"), "{out}");
    assert!(out.contains("next:"), "{out}");
}

/// A run recorded by the first journal format (`v: 1`), as the engine wrote
/// it before the event log: `runs`, `report` and `--resume` still read it.
const V1_JOURNAL: &str = r#"{"event":"run-start","v":1,"run":"20261130T034244Z-a-devnet","runbook":"a","path":"runbooks/a.md","hash":"0000","env":"devnet","vars":{"namespace":{"value":"animica-devnet","origin":"env","secret":false},"rev":{"value":"41","origin":"set","secret":false}},"operator":"ops@laptop","pid":4242,"at":"2026-11-30T03:42:44.100Z"}
{"event":"step-start","step":"one","attempt":1,"command":"echo one 41","command_hash":"h1","undo":false,"at":"2026-11-30T03:42:44.200Z"}
{"event":"spawned","step":"one","pgid":4243,"born_ms":1000}
{"event":"step-end","step":"one","status":"passed","exit":0,"duration_ms":12,"command_hash":"h1","reason":null,"captures":{},"unrestorable":[],"tail":"one 41","undo":false,"at":"2026-11-30T03:42:44.300Z"}
{"event":"step-start","step":"two","attempt":1,"command":"sleep 30","command_hash":"h2","undo":false,"at":"2026-11-30T03:42:44.400Z"}
{"event":"note","step":null,"text":"interrupted by SIGINT: stopping the running steps","at":"2026-11-30T03:42:45.000Z"}
{"event":"step-end","step":"two","status":"interrupted","exit":null,"duration_ms":600,"command_hash":"h2","reason":"interrupted","captures":{},"unrestorable":[],"tail":"","undo":false,"at":"2026-11-30T03:42:45.100Z"}
{"event":"step-end","step":"three","status":"not-run","exit":null,"duration_ms":null,"command_hash":null,"reason":"the play stopped: interrupted by SIGINT","captures":{},"unrestorable":[],"tail":"","undo":false,"at":"2026-11-30T03:42:45.100Z"}
{"event":"run-end","status":"interrupted","rolled_back":false,"message":"interrupted by SIGINT; the run is resumable: runbook play a --env devnet --resume","at":"2026-11-30T03:42:45.200Z"}
"#;

#[test]
fn runs_of_the_first_journal_format_stay_readable_and_resumable() {
    let md = "```bash {#one}\necho one {{ rev }}\n```\n\n```bash {#two}\necho two\n```\n\n```bash {#three}\necho three {{ rev }}\n```\n";
    let t = Test::new().runbook("a", md).file(".runbook/runs/20261130T034244Z-a-devnet/journal.jsonl", V1_JOURNAL);
    let dir = t.path();
    let runs = text(&rb(dir, &["runs"]));
    assert!(runs.contains("20261130T034244Z-a-devnet  interrupted*") && runs.contains("1/3"), "{runs}");
    let report = text(&rb(dir, &["report", "latest"]));
    assert!(report.contains("| Operator | ops@laptop |") && report.contains("`rev=41`"), "{report}");
    assert!(report.contains("- 1 passed, 0 failed, 0 skipped, 1 not run"), "{report}");
    // Its --set value comes back; the step that passed stands (its command
    // hash is of the old format, so it runs again, and says why).
    let o = rb(dir, &["play", "a", "--resume"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("variables restored from run 20261130T034244Z-a-devnet: rev=41"), "{out}");
    assert!(out.contains("[three] three 41"), "{out}");
    let r = rb(dir, &["report", "latest", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["sessions"].as_array().unwrap().len(), 2, "{v}");
}

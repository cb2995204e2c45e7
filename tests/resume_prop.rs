//! The invariant of resume with real processes: generated runbooks
//! (parallel branches, `needs`, captures, `when` on stdout and exit codes,
//! retries, `on-fail=continue`, undo blocks) are played once without
//! interruption and once with `kill -9`s of the engine at random moments,
//! each followed by `--resume`. Both must end with the same status for
//! every step, the same undo blocks run, the same end; no step that had
//! passed may run again. Some steps (and their undo blocks) read a secret,
//! given to the first play only: a resume runs without it when no step
//! still to run reads it, else it exits 2 having run nothing, and is given
//! it. `RUNBOOK_SOAK_CASES` runs more cases
//! (`scripts/soak`); the pure simulation of the same property, with
//! thousands of cases, is `runner::dispatch::prop`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::common::*;
use crate::play::{journal, rb, rb_cmd, text};
use crate::resume::{counts as runs, passed, processes_in};

#[derive(Debug, Clone)]
struct StepSpec {
    needs: Option<Vec<usize>>,
    token: &'static str,
    exit: i32,
    when: Option<(u8, usize)>,
    capture: bool,
    cont: bool,
    undo: bool,
    /// Fails this many times before it passes (with `retry` to match).
    flaky: u8,
    sleep_ms: u8,
    /// It and its undo block read the secret `api_token`.
    secret: bool,
    /// It prints more than the engine keeps of its stdout before its
    /// token: a `when` on its stdout or capture is decided on the cut part,
    /// and says so.
    big: bool,
}

const SECRET: &str = "tok-1234567";

const TOKENS: [&str; 3] = ["ok", "WorkExpired", "degraded"];

fn step(i: usize) -> impl Strategy<Value = StepSpec> {
    let needs = if i == 0 {
        Just(None).boxed()
    } else {
        prop_oneof![3 => Just(None), 2 => proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(2)).prop_map(Some)]
            .boxed()
    };
    (
        needs,
        0..3usize,
        prop_oneof![6 => Just(0), 1 => Just(1), 1 => Just(3)],
        0..5u8,
        any::<bool>(),
        any::<bool>(),
        0..3u8,
        0..3u8,
        0..40u8,
        any::<bool>(),
        0..3u8,
    )
        .prop_map(move |(needs, t, exit, w, capture, cont, undo, flaky, sleep_ms, secret, big)| {
            let deps: Vec<usize> = match &needs {
                Some(n) => n.clone(),
                None if i > 0 => vec![i - 1],
                None => Vec::new(),
            };
            let when = (w < 4).then(|| deps.last().map(|&d| (w, d))).flatten();
            StepSpec {
                needs,
                token: TOKENS[t],
                exit,
                when,
                capture,
                cont,
                undo: undo == 0,
                flaky: flaky.min(1),
                sleep_ms,
                secret,
                big: big == 0,
            }
        })
}

fn spec() -> impl Strategy<Value = (Vec<StepSpec>, usize)> {
    (3..8usize, 1..4usize).prop_flat_map(|(n, jobs)| ((0..n).map(step).collect::<Vec<_>>(), Just(jobs)))
}

/// Each step logs its run to `runs.txt` first, then does its work.
fn markdown(steps: &[StepSpec]) -> String {
    let mut md = String::new();
    for (i, s) in steps.iter().enumerate() {
        let mut attrs = vec![format!("#s{i}")];
        if let Some(n) = &s.needs {
            attrs.push(format!("needs={}", n.iter().map(|d| format!("s{d}")).collect::<Vec<_>>().join(",")));
        }
        if let Some((kind, d)) = s.when {
            let dep = &steps[d];
            let cond = match kind {
                0 => format!("'{}' in steps.s{d}.stdout", dep.token),
                1 => format!("steps.s{d}.exit == {}", dep.exit),
                2 if dep.capture => format!("c{d} == '{}'", dep.token),
                _ => format!("steps.s{d}.status == 'passed'"),
            };
            attrs.push(format!("when=\"{cond}\""));
        }
        if s.capture {
            attrs.push(format!("capture=c{i}"));
        }
        if s.cont {
            attrs.push("on-fail=continue".into());
        }
        if s.flaky > 0 {
            attrs.push("retry=2 delay=0s".into());
        }
        if s.undo {
            attrs.push(format!("rollback=u{i}"));
        }
        // A flaky step fails its first attempt ever and passes a later one:
        // with `retry=2` it ends as its exit code says, whatever the kills.
        let flaky = if s.flaky > 0 {
            format!("n=$(cat .att{i} 2>/dev/null || echo 0); echo $((n+1)) > .att{i}; [ \"$n\" -ge 1 ] || exit 7\n")
        } else {
            String::new()
        };
        let secret = if s.secret { ": {{ api_token }}\n" } else { "" };
        let big = if s.big { "head -c 1100000 /dev/zero | tr '\\0' x; echo\n" } else { "" };
        md.push_str(&format!(
            "```bash {{{}}}\necho s{i} >> runs.txt\n{secret}{flaky}sleep 0.0{:02}\n{big}echo {}\nexit {}\n```\n\n",
            attrs.join(" "),
            s.sleep_ms,
            s.token,
            s.exit
        ));
    }
    for (i, s) in steps.iter().enumerate() {
        if s.undo {
            let secret = if s.secret { ": {{ api_token }}\n" } else { "" };
            md.push_str(&format!("```bash {{#u{i} undo}}\necho u{i} >> runs.txt\n{secret}echo undone\n```\n\n"));
        }
    }
    md
}

/// What a run decided: each step's status, the undo blocks that passed, the
/// end, and which steps said they read a cut stdout (and what; each once
/// in a run, however often it was killed).
type Decisions = (BTreeMap<String, String>, BTreeSet<String>, String, Vec<(String, String)>);

/// What a run decided ([`Decisions`]). `plays`: what the plays before said,
/// shown if there is no run.
fn decisions(dir: &Path, plays: &str) -> Decisions {
    let o = rb(dir, &["report", "latest", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n--- the plays before\n{plays}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("a JSON report");
    let mut steps = BTreeMap::new();
    let mut undone = BTreeSet::new();
    for s in r["steps"].as_array().expect("steps") {
        let id = s["step"].as_str().unwrap_or_default().to_string();
        let status = s["status"].as_str().unwrap_or_default().to_string();
        if s["undo"].as_bool() == Some(true) {
            if status == "passed" {
                undone.insert(id);
            }
        } else {
            steps.insert(id, status);
        }
    }
    let mut cut: Vec<(String, String)> = r["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter(|n| n["text"].as_str().is_some_and(|t| t.contains("stdout`, which")))
        .map(|n| {
            (n["step"].as_str().unwrap_or_default().to_string(), n["text"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    cut.sort();
    (steps, undone, r["status"].as_str().unwrap_or_default().to_string(), cut)
}

fn check(steps: &[StepSpec], jobs: usize, kills: &[u64]) -> Result<(), TestCaseError> {
    // With real processes, which parallel steps are already running when a
    // failure stops the play is a matter of timing, kills or not: steps run
    // in parallel only where no failure stops the play (the simulation in
    // `runner::dispatch::prop` covers parallel stops, with a fixed order).
    let stops = steps.iter().any(|s| s.exit != 0 && !s.cont);
    let jobs = if stops { 1 } else { jobs };
    let md = markdown(steps);
    let jobs = jobs.to_string();
    let play = ["play", "p", "--yes", "--jobs", jobs.as_str()];
    let whole = Test::new().runbook("p", &md);
    let o = rb_cmd(whole.path(), &play).env("RUNBOOK_VAR_api_token", SECRET).output().expect("play");
    prop_assert!(matches!(o.status.code(), Some(0 | 1)), "{}\n{md}", text(&o));
    let want = decisions(whole.path(), &text(&o));

    let cut = Test::new().runbook("p", &md);
    let dir = cut.path();
    // `--resume` once a run exists: a kill before the first play created its
    // run leaves nothing to resume (refused, exit 3).
    let resume = |dir: &Path| {
        let mut args: Vec<&str> = play.to_vec();
        if !journal(dir).is_empty() {
            args.push("--resume");
        }
        args
    };
    // What the steps of a killed engine still write (they outlive it) is
    // no step run by the play after it: counted once they have ended.
    let settled = |dir: &Path| {
        crate::play::wait_until("the killed engine's steps to end", || processes_in(dir) == 0);
        runs(dir)
    };
    for &ms in kills {
        let before = settled(dir);
        let done = passed(dir);
        let args = resume(dir);
        let mut status = None;
        for given in [args.len() == play.len(), true] {
            let mut c = rb_cmd(dir, &args);
            if given {
                c.env("RUNBOOK_VAR_api_token", SECRET);
            }
            let mut child = c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
            std::thread::sleep(Duration::from_millis(ms));
            let _ = child.kill(); // SIGKILL
            let s = child.wait().expect("wait");
            status = Some(s);
            // Not given the secret a step still to run reads: it ran nothing.
            if s.code() != Some(2) || given {
                break;
            }
            prop_assert_eq!(&before, &runs(dir), "a play refused for a missing secret ran steps\n{}", md);
        }
        let status = status.expect("played");
        let after = runs(dir);
        for s in &done {
            prop_assert_eq!(before.get(s), after.get(s), "step {} had passed but ran again\n{}", s, md);
        }
        if status.code().is_some() {
            break; // it had ended before the kill
        }
    }
    // Resume until the run ends (a run that ended says so and exits 3).
    let mut said = format!("killed after {kills:?} ms\n");
    for _ in 0..3 {
        let before = settled(dir);
        let done = passed(dir);
        let args = resume(dir);
        let mut o = rb(dir, &args);
        said.push_str(&format!("$ runbook {}: {:?}\n{}\n", args.join(" "), o.status.code(), text(&o)));
        if o.status.code() == Some(2) {
            prop_assert_eq!(&before, &runs(dir), "a play refused for a missing secret ran steps\n{}", md);
            o = rb_cmd(dir, &args).env("RUNBOOK_VAR_api_token", SECRET).output().expect("play");
            said.push_str(&format!(
                "$ RUNBOOK_VAR_api_token=… runbook {}: {:?}\n{}\n",
                args.join(" "),
                o.status.code(),
                text(&o)
            ));
        }
        let after = runs(dir);
        for s in &done {
            prop_assert_eq!(before.get(s), after.get(s), "step {} had passed but ran again\n{}", s, md);
        }
        if o.status.code() != Some(130) {
            break;
        }
    }
    let got = decisions(dir, &said);
    prop_assert_eq!(&got.0, &want.0, "step decisions differ\n{}\n--- journal\n{}", md, journal(dir));
    prop_assert_eq!(&got.1, &want.1, "undo blocks differ\n{}", md);
    prop_assert_eq!(&got.2, &want.2, "ends differ\n{}", md);
    prop_assert_eq!(&got.3, &want.3, "the notes of a cut stdout differ\n{}", md);
    Ok(())
}

#[test]
fn kill_9_anywhere_then_resume_decides_as_without_the_kills() {
    let cases = std::env::var("RUNBOOK_SOAK_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let kills = proptest::collection::vec(5..250u64, 1..4);
    runner
        .run(&(spec(), kills), |((steps, jobs), kills)| check(&steps, jobs, &kills))
        .unwrap_or_else(|e| panic!("{e}"));
}

//! The bounded-input and validation findings of the hardening issue (issue
//! 20 items 1, 2, 9, 11–14), each as the operator meets it: the command,
//! its exit code and the file:line it names. docs/hardening.md maps every
//! finding to its tests.

use std::process::Stdio;

use crate::common::*;
use crate::play::{alive, journal, rb, rb_cmd, text, wait_until, written_pid};

fn plan(md: &str) -> Finished {
    Test::new().runbook("h", md).args(["plan", "h"]).any_status().run()
}

fn assert_invalid(f: &Finished, needles: &[&str]) {
    let all = format!("{}{}", f.stdout, f.stderr);
    assert_eq!(f.output.status.code(), Some(2), "{all}");
    for n in needles {
        assert!(all.contains(n), "{n:?} not in:\n{all}");
    }
}

#[test]
fn durations_beyond_their_bound_are_invalid_input_at_their_line() {
    // Item 1: these overflowed an Instant (a panic, exit 101, or a step's
    // task that died unseen and read as a pass).
    let f = plan("---\ntimeout: 9223372036854775807s\n---\n# H\n\n```bash {#a}\ntrue\n```\n");
    assert_invalid(&f, &["h.md:2", "timeout"]);
    let f = plan("# H\n\n```bash {#a timeout=9999999999999999999s}\ntrue\n```\n");
    assert_invalid(&f, &["h.md:3", "timeout"]);
    // Item 14: a zero timeout kills every step at once.
    let f = plan("# H\n\n```bash {#a timeout=0s}\ntrue\n```\n");
    assert_invalid(&f, &["h.md:3", "timeout"]);
    let f = plan("# H\n\n```bash {#a retry=99999999999 delay=1s}\ntrue\n```\n");
    assert_invalid(&f, &["h.md:3", "retry"]);
}

#[test]
fn sigquit_stops_the_play_as_sigterm_does() {
    // Item 2's decision (docs/decisions.md): Ctrl-\ is a stop, recorded and
    // resumable, never a core dump that leaves the step running.
    let md =
        "```bash {#work}\nsleep 1000 &\necho $! > bg.pid\nwait\n```\n\n```bash {#after}\necho after > after.txt\n```\n";
    let t = Test::new().runbook("q", md);
    let dir = t.path();
    let child = rb_cmd(dir, &["play", "q"]).env("RUNBOOK_GRACE", "300ms").stdout(Stdio::piped()).spawn().unwrap();
    let bg = written_pid(dir, "bg.pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGQUIT).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", String::from_utf8_lossy(&o.stdout));
    wait_until("the step's process to die", || !alive(bg));
    assert!(journal(dir).contains("\"status\":\"interrupted\""), "{}", journal(dir));
    assert!(!dir.join("after.txt").exists());
}

#[test]
fn env_names_are_checked_like_runbook_ids_and_make_no_file_outside() {
    // Item 11: `[env."../../x"]` made `.runbook/locks/r@../../x.lock`.
    let config = format!("{CONFIG}\n[env.\"../../x\"]\nnamespace = \"x\"\n");
    let t = Test::new().config(&config).runbook("r", "```bash {#a}\ntrue\n```\n");
    let o = rb(t.path(), &["play", "r", "--env", "../../x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("runbook.toml:") && text(&o).contains("not an environment name"), "{}", text(&o));
    let outside = t.path().parent().unwrap().join("x.lock");
    assert!(!outside.exists() && !t.path().join("x.lock").exists());
    // A profile key that is no variable name is refused too.
    let config = format!("{CONFIG}\n[env.stage]\n\"a b\" = \"x\"\n");
    let t = Test::new().config(&config).runbook("r", "```bash {#a}\ntrue\n```\n");
    let o = rb(t.path(), &["plan", "r"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("runbook.toml:") && text(&o).contains("not a variable name"), "{}", text(&o));
}

#[test]
fn deep_expressions_are_refused_before_they_overflow_the_stack() {
    // Item 12: 30,000 `~` terms or 100,000 `not`s aborted (exit 134).
    let chain = vec!["x"; 30_000].join(" ~ ");
    let f = plan(&format!("---\nvars: {{x: a}}\n---\n# H\n\n```bash {{#a}}\necho {{{{ {chain} }}}}\n```\n"));
    assert_invalid(&f, &["h.md:6", "operators"]);
    let nots = "not ".repeat(100_000);
    let f = plan(&format!("# H\n\n```bash {{#a when=\"{nots}true\"}}\ntrue\n```\n"));
    assert_invalid(&f, &["h.md:3", "operators"]);
}

#[test]
fn templates_run_out_of_fuel_or_room_instead_of_time_or_memory() {
    // Item 13: nested loops took 14 s, string doubling 2.9 GB.
    let l: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    let loops = "{% for a in l %}{% for b in l %}{% for c in l %}{{ c }}{% endfor %}{% endfor %}{% endfor %}";
    let f = plan(&format!("---\nvars: {{l: [{}]}}\n---\n```bash {{#a}}\necho {loops}\n```\n", l.join(", ")));
    assert_invalid(&f, &["h.md:5", "fuel"]);
    let doubling = "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s | length }}{% endif %}{% endmacro %}{{ d('ab', 60) }}";
    let f = plan(&format!("# H\n\n```bash {{#a}}\necho {doubling}\n```\n"));
    assert_invalid(&f, &["h.md:4", "fuel"]);
    let big = "{{ 'x' * 999999999 }}";
    let f = plan(&format!("# H\n\n```bash {{#a}}\necho {big}\n```\n"));
    assert_invalid(&f, &["h.md:4", "fuel"]);
}

#[test]
fn many_tags_on_one_line_plan_in_full() {
    // Item 13: 100k `{{ x }}` on one line (quadratic before: over 60 s in a
    // release build). The plan shows every value once.
    let line = "{{ x }} ".repeat(100_000);
    let f = Test::new()
        .runbook("h", &format!("---\nvars: {{x: v}}\n---\n# H\n\n```bash {{#a}}\necho {line}\n```\n"))
        .args(["plan", "h"])
        .run();
    let shown = f.stdout.split_whitespace().filter(|w| *w == "v").count();
    assert_eq!(shown, 100_000, "{}", &f.stdout[..f.stdout.len().min(300)]);
}

#[test]
fn jobs_zero_and_reserved_names_in_set_are_usage_errors() {
    // Item 14: `--jobs 0` ran nothing for ever; `--set env=` and `--set
    // steps=` were ignored without a word.
    let t = Test::new().runbook("r", "```bash {#a}\necho {{ env }}\n```\n");
    for args in [&["play", "r", "--jobs", "0"][..], &["check", "--jobs", "0"]] {
        let o = rb(t.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("--jobs"), "{}", text(&o));
    }
    for (set, says) in [("env=prod", "--env"), ("steps=x", "steps")] {
        let o = rb(t.path(), &["plan", "r", "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", text(&o));
        assert!(text(&o).contains(says), "{set}: {}", text(&o));
    }
    let o = rb(t.path(), &["plan", "r"]);
    assert!(text(&o).contains("echo devnet"), "{}", text(&o));
}

#[test]
fn cr_only_line_endings_are_line_endings() {
    // Item 14: a runbook saved with lone CRs read as "no steps".
    let md = "# H\r\r```bash {#a}\recho one\r```\r\r```bash {#b timeout=1x}\recho two\r```\r";
    let f = plan(md);
    assert_invalid(&f, &["h.md:7", "timeout"]);
    let f = plan(&md.replace("timeout=1x", "timeout=1s"));
    assert!(f.stdout.contains("echo one") && f.stdout.contains("echo two"), "{}", f.stdout);
}

#[test]
fn values_given_out_of_ps_reach_the_step() {
    // Item 9: `--set db_password=…` sat in argv for the whole play; a value can
    // come from RUNBOOK_VAR_<name> or `--set-file name=PATH` instead.
    let md = "---\nvars: {db_password: ~, rev: ~}\n---\n```bash {#a}\necho \"rev={{ rev }}\"; echo {{ db_password }} > got.txt\n```\n";
    let t = Test::new().runbook("v", md).file("pw.txt", "s3cr3t-from-file\n");
    let o = rb_cmd(t.path(), &["play", "v", "--set-file", "db_password=pw.txt"])
        .env("RUNBOOK_VAR_rev", "41")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("rev=41"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(t.path().join("got.txt")).unwrap(), "s3cr3t-from-file\n");
    assert!(!text(&o).contains("s3cr3t-from-file"), "a secret by its name: {}", text(&o));
    // A file that cannot be read names itself, not its contents.
    let o = rb_cmd(t.path(), &["plan", "v", "--set-file", "db_password=nope.txt"])
        .env("RUNBOOK_VAR_rev", "41")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("nope.txt"), "{}", text(&o));
}

#[test]
fn check_warns_about_a_secret_given_with_set_in_docs_and_ci() {
    // Item 9: a documented `--set db_password=…` teaches the leak.
    let md = "---\nvars: {db_password: ~}\n---\n# R\n\n```bash {#a read}\necho {{ db_password }}\n```\n";
    let ci = "jobs:\n  run:\n    steps:\n      - run: runbook play r --yes --set db_password=${{ secrets.DB }}\n";
    let f = Test::new()
        .runbook("r", md)
        .file(".github/workflows/ops.yml", ci)
        .file("docs/howto.md", "Run `runbook play r --set db_password=hunter2`.\n")
        .args(["check"])
        .any_status()
        .run();
    let all = format!("{}{}", f.stdout, f.stderr);
    assert!(all.contains(".github/workflows/ops.yml:4") && all.contains("docs/howto.md:1"), "{all}");
    assert!(all.contains("RUNBOOK_VAR_db_password") || all.contains("--set-file"), "{all}");
}

#[test]
fn yaml_nested_to_the_parsers_limit_is_a_finding_of_check_not_an_abort() {
    // check's worker threads need room for serde-saphyr's recursion (limit
    // 256) in a debug build: a 2 MiB stack overflows.
    let n = 5000;
    let md =
        format!("---\nvars:\n  v: {}x{}\n---\n# T\n\n```bash {{#a}}\necho hi\n```\n", "{a: ".repeat(n), "}".repeat(n));
    let f = Test::new().runbook("y", &md).args(["check"]).any_status().run();
    assert_eq!(f.output.status.code(), Some(2), "{}{}", f.stdout, f.stderr);
    assert!(f.stdout.contains("y.md:3") && f.stdout.contains("recursion limit"), "{}", f.stdout);
}

#[test]
fn a_program_stubbed_twice_is_one_shim() {
    // `stub = ["kubectl", "kubectl"]` must not fail every rehearsal with
    // "cannot create the shim: File exists" (exit 2, no line).
    let config = CONFIG.replace("stub = [\"kubectl\", \"helm\", \"curl\"]", "stub = [\"kubectl\", \"kubectl\"]");
    let md = "# R\n\n```bash {#a read}\nkubectl get pods\n```\n";
    let fixture =
        "[[scenario]]\nname = \"ok\"\n  [[scenario.stub]]\n  cmd = \"kubectl get pods\"\n  stdout = \"pod/a\"\n";
    Test::new()
        .config(&config)
        .runbook("r", md)
        .fixture("r", fixture)
        .args(["play", "r", "--dry-run"])
        .stdout_has("pod/a")
        .run();
}

#[test]
fn shellcheck_is_bounded_in_input_and_time() {
    // Item 13: a 400 KB line took shellcheck over a minute and 660 MB; a
    // shellcheck that never ends held check for ever.
    let fake = tempfile::tempdir().unwrap();
    let sc = fake.path().join("shellcheck");
    std::fs::write(&sc, "#!/bin/sh\ncase \"$1\" in --version) echo 'version: 0.0.fake';; *) exec sleep 1000;; esac\n")
        .unwrap();
    std::fs::set_permissions(&sc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", fake.path().display(), std::env::var("PATH").unwrap());
    let huge = format!("echo {}", "x ".repeat(200_000));
    let md = format!("# R\n\n```bash {{#a read}}\necho a\n```\n\n```bash {{#b read}}\n{huge}\n```\n");
    let f = Test::new()
        .runbook("r", &md)
        .env("PATH", &path)
        .env("RUNBOOK_SHELLCHECK_TIMEOUT", "300ms")
        .args(["check"])
        .any_status()
        .run();
    let all = format!("{}{}", f.stdout, f.stderr);
    assert!(all.contains("shellcheck did not finish in 300ms"), "{all}");
    assert!(all.contains("r.md:7") && all.contains("too large for shellcheck"), "{all}");
}

#[test]
fn the_state_directory_made_by_check_is_the_operators_alone_too() {
    // Item 9: `check` made `.runbook/` and its shellcheck cache 0755 when it
    // ran before any play.
    if std::process::Command::new("shellcheck").arg("--version").output().is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "shellcheck is not installed (.ci/run installs it)");
        eprintln!("notice: shellcheck not installed, skipping");
        return;
    }
    let f = Test::new().runbook("c", "```bash {#a}\necho a > x > y\n```\n").args(["check"]).any_status().run();
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777
    };
    let state = f.path().join(".runbook");
    for d in [state.clone(), state.join("cache"), state.join("cache/shellcheck")] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
}

#[test]
fn a_runbook_over_16_mib_is_refused_at_line_1() {
    // A 300 MB runbook would not fit in 1 GiB of address space. Every
    // command refuses one over 16 MiB the same way,
    // `check` included (invalid input).
    let md = format!("# Big\n\n```bash {{#a}}\n{}```\n", "echo x\n".repeat((16 << 20) / 7 + 1));
    let t = Test::new().runbook("big", &md);
    for args in [&["plan", "big"][..], &["show", "runbooks/big.md"], &["list"]] {
        let o = rb(t.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("big.md:1") && text(&o).contains("at most 16 MiB"), "{args:?}: {}", text(&o));
    }
    let o = rb(t.path(), &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("big.md:1") && text(&o).contains("at most 16 MiB"), "{}", text(&o));
}

#[test]
fn a_timeout_that_passes_during_the_quiet_start_is_a_timeout_not_a_panic() {
    // The fuzz reproducer tests/data/fuzz-timeout-1ms: `timeout=1ms` passes
    // before the step's output is watched, and the finished deadline must
    // not be polled again ("`async fn` resumed after completion").
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-timeout-1ms");
    let t = Test::new()
        .config(&std::fs::read_to_string(src.join("runbook.toml")).unwrap())
        .file("runbooks/f.md", &std::fs::read_to_string(src.join("runbooks/f.md")).unwrap())
        .file("fixtures/f.toml", &std::fs::read_to_string(src.join("fixtures/f.toml")).unwrap());
    for _ in 0..3 {
        let o = rb(t.path(), &["check"]);
        assert!(!text(&o).contains("panicked") && o.status.code() != Some(101), "{}", text(&o));
    }
    let t = Test::new().runbook("q", "```python {#a timeout=1ms}\nimport time\ntime.sleep(5)\n```\n");
    let o = rb(t.path(), &["play", "q"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("timed out after 1ms"), "{}", text(&o));
}

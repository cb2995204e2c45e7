//! `runbook play`: scheduling, processes, attributes, modes, output, secrets,
//! locks, and bad input (SPEC §2.2, §4, §6).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Run `runbook` in an existing project directory.
pub fn rb(dir: &Path, args: &[&str]) -> Output {
    rb_cmd(dir, args).output().expect("run runbook")
}

pub fn rb_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .current_dir(dir)
        .env_remove("RUNBOOK_CONFIG")
        .env("NO_COLOR", "1")
        .env("RUNBOOK_LOG", "warn")
        .stdin(Stdio::null());
    c
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Poll until `f` holds (no timed assertion: a generous ceiling only).
pub fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait until a step has written a pid (a line) into `file`, and read it.
pub fn written_pid(dir: &Path, file: &str) -> i32 {
    let path = dir.join(file);
    wait_until(file, || std::fs::read_to_string(&path).is_ok_and(|s| s.ends_with('\n')));
    std::fs::read_to_string(&path).unwrap().trim().parse().unwrap()
}

/// Starts `runbook play ID` in `dir`, waits until a step has written a pid
/// into `file`, then kills the engine (SIGKILL): that process is left
/// running, as after a crash. Returns its pid.
pub fn crash_while_running(dir: &Path, id: &str, file: &str) -> i32 {
    let mut child = rb_cmd(dir, &["play", id]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let pid = written_pid(dir, file);
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive(pid), "the step's process outlived the engine");
    pid
}

pub fn alive(pid: i32) -> bool {
    // A zombie is dead for our purpose.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
}

pub fn journal(dir: &Path) -> String {
    let runs = dir.join(".runbook/runs");
    let mut out = String::new();
    let Ok(rd) = std::fs::read_dir(runs) else { return out };
    for e in rd {
        let e = e.unwrap();
        // A run being created (`.new-…`) is not a run yet, as for the store:
        // an engine killed before renaming it into place left no run.
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        out.push_str(&std::fs::read_to_string(e.path().join("journal.jsonl")).unwrap_or_default());
    }
    out
}

#[test]
fn runs_steps_with_prefixed_output_and_journal() {
    let t = Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#one read}
            echo hello from {{ namespace }}
            ```

            ```sh {#two}
            echo two >&2
            ```

            ```python {#three}
            print("py", 1 + 1)
            ```
            "#,
        )
        .args(["play", "a"])
        .stdout_has("[one] hello from animica-devnet")
        .stdout_has("[two] two")
        .stdout_has("[three] py 2")
        .stdout_has("play passed: 3 passed")
        .run();
    let j = journal(t.path());
    for ev in ["\"run-start\"", "\"step-start\"", "\"step-end\"", "\"run-end\"", "\"status\":\"passed\""] {
        assert!(j.contains(ev), "journal lacks {ev}:\n{j}");
    }
    let runs = t.path().join(".runbook/runs");
    let run = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let name = run.file_name().unwrap().to_string_lossy().to_string();
    assert!(name.ends_with("-a-devnet") && name.starts_with("20"), "{name}");
    assert!(std::fs::read_to_string(run.join("one.log")).unwrap().contains("hello from animica-devnet"));
}

/// A runbook that is only front matter and prose so far plays nothing and
/// passes (the DAG's step count is checked in `plan.rs`'s unit tests).
#[test]
fn a_runbook_without_steps_plays_nothing() {
    Test::new()
        .runbook("a", "---\nid: a\n---\n# To be written\n")
        .args(["play", "a"])
        .stdout_has("play passed: 0 passed")
        .run();
}

#[test]
fn needs_failure_skips_but_document_order_only_orders() {
    Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#bad on-fail=continue}
            exit 4
            ```

            ```bash {#after}
            echo after ran
            ```

            ```bash {#dependent needs=bad}
            echo must not run
            ```
            "#,
        )
        .args(["play", "a"])
        // The failure is recorded, not forgiven: the play goes on, then ends failed.
        .status(1)
        .stdout_has("[after] after ran")
        .stdout_has("--- dependent: skipped: needs `bad`, which failed")
        .stdout_has("play failed: 1 passed, 1 failed, 1 skipped")
        .stdout_lacks("must not run")
        .run();
}

#[test]
fn on_fail_stop_halts_new_work() {
    Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#bad}
            exit 4
            ```

            ```bash {#later}
            echo later ran
            ```
            "#,
        )
        .args(["play", "a"])
        .status(1)
        .stdout_has("<== bad: failed, exit 4")
        .stdout_has("1 failed, 1 not run")
        .stdout_lacks("later ran")
        .stdout_has("runbook report")
        .run();
}

#[test]
fn independent_steps_run_in_parallel() {
    // `a` can only finish if `b` runs at the same time.
    Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#a needs= timeout=20s}
            touch a.flag
            while [ ! -f b.flag ]; do sleep 0.01; done
            ```

            ```bash {#b needs= timeout=20s}
            touch b.flag
            while [ ! -f a.flag ]; do sleep 0.01; done
            ```
            "#,
        )
        .args(["play", "a", "--jobs", "2"])
        .stdout_has("play passed: 2 passed")
        .run();
}

#[test]
fn a_step_holds_only_its_own_script_and_pipes() {
    // Two steps at once: neither may hold the other's script or pipes (each
    // is handed to its own child only, even while the other starts).
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#one needs= timeout=20s}
        echo $$ > one.pid
        while [ ! -f go.flag ]; do sleep 0.01; done
        ```

        ```bash {#two needs= timeout=20s}
        echo $$ > two.pid
        while [ ! -f go.flag ]; do sleep 0.01; done
        ```
        "#,
    );
    let mut cmd = rb_cmd(t.path(), &["play", "a", "--jobs", "2"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    // The engine passes on what it inherited itself, as any shell does; it
    // inherits nothing here (the test harness may hold a jobserver's pipes).
    // SAFETY: only `close`, async-signal-safe, between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            for fd in 3..1024 {
                nix::libc::close(fd);
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    // Its script is a memfd, or a pipe when the step's interpreter was
    // started ahead (runner::warm); bash holds it twice (the inherited
    // descriptor and its own 255), so objects are counted by inode.
    let mut held = Vec::new();
    for f in ["one.pid", "two.pid"] {
        use std::os::unix::fs::MetadataExt;
        let pid = written_pid(t.path(), f);
        let (mut null, mut objects, mut other) = (0, std::collections::BTreeSet::new(), Vec::new());
        for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
            let e = e.unwrap();
            let target = std::fs::read_link(e.path()).unwrap().to_string_lossy().into_owned();
            if target == "/dev/null" {
                null += 1;
            } else if target.starts_with("pipe:") || target.starts_with("/memfd:runbook-step") {
                objects.insert(std::fs::metadata(e.path()).unwrap().ino());
            } else {
                other.push(target);
            }
        }
        assert_eq!(
            (null, objects.len(), other),
            (1, 3, Vec::<String>::new()),
            "{f}: stdin, stdout, stderr, its script"
        );
        held.push(objects);
    }
    assert!(held[0].is_disjoint(&held[1]), "the steps share a pipe or script: {held:?}");
    std::fs::write(t.path().join("go.flag"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_long_step_output_shows_while_it_runs() {
    // The step ends only once its first line has reached the play's output.
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#long timeout=20s}
        echo first line
        while [ ! -f seen.flag ]; do sleep 0.01; done
        echo after
        ```
        "#,
    );
    let mut child = rb_cmd(t.path(), &["play", "a"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("[long] first line") {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert!(n > 0, "output ended before the first line: {seen}");
        seen.push_str(&line);
    }
    std::fs::write(t.path().join("seen.flag"), "").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{seen}{rest}");
    assert!(rest.contains("[long] after"), "{rest}");
}

#[test]
fn a_missing_working_directory_fails_the_step() {
    Test::new()
        .runbook("a", "```bash {#here cwd=nowhere}\ntrue\n```\n")
        .args(["play", "a"])
        .status(1)
        .stdout_has("working directory")
        .stdout_has("nowhere does not exist")
        .run();
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let t = Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#leaky timeout=1s}
            sleep 1000 &
            echo $! > grandchild.pid
            wait
            ```
            "#,
        )
        .args(["play", "a"])
        .status(1)
        .stdout_has("timed out after 1s")
        .run();
    let pid: i32 = std::fs::read_to_string(t.path().join("grandchild.pid")).unwrap().trim().parse().unwrap();
    wait_until("the grandchild to die", || !alive(pid));
}

#[test]
fn a_step_deaf_to_sigterm_gets_one_grace_period_then_sigkill() {
    // The step and its child ignore SIGTERM: after the timeout the group gets
    // one SIGTERM, then, one grace period later, SIGKILL; never a second
    // SIGTERM and grace. The step's shell logs each SIGTERM it gets.
    let t = Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#deaf timeout=1s}
            trap 'echo TERM >> terms.log' TERM
            bash -c "trap '' TERM; sleep 1000" &
            echo $! > child.pid
            while true; do sleep 0.05; done
            ```
            "#,
        )
        .env("RUNBOOK_GRACE", "500ms")
        .args(["play", "a"])
        .status(1)
        .stdout_has("timed out after 1s")
        .run();
    let pid: i32 = std::fs::read_to_string(t.path().join("child.pid")).unwrap().trim().parse().unwrap();
    wait_until("the child to die", || !alive(pid));
    let terms = std::fs::read_to_string(t.path().join("terms.log")).unwrap_or_default();
    assert_eq!(terms, "TERM\n", "one SIGTERM, then SIGKILL");
}

#[test]
fn a_timeout_ends_a_step_that_left_its_process_group() {
    // The step's own process moves to another group (here its parent's)
    // and ignores SIGTERM: the timeout still ends it, one grace later.
    Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#away timeout=1s}
            exec perl -MPOSIX -e 'POSIX::setpgid(0, getpgrp(getppid())) or die "setpgid: $!"; $SIG{TERM} = "IGNORE"; sleep 30; print "survived\n"'
            ```
            "#,
        )
        .env("RUNBOOK_GRACE", "500ms")
        .args(["play", "a"])
        .status(1)
        .stdout_has("timed out after 1s")
        .stdout_lacks("[away] survived")
        .run();
}

#[test]
fn leftover_background_processes_end_with_the_step() {
    let t = Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#leaves}
            sleep 1000 &
            echo $! > bg.pid
            ```
            "#,
        )
        .args(["play", "a"])
        .stdout_has("terminated processes the step left running")
        .run();
    let pid: i32 = std::fs::read_to_string(t.path().join("bg.pid")).unwrap().trim().parse().unwrap();
    wait_until("the background process to die", || !alive(pid));
}

#[test]
fn process_substitution_is_not_a_leftover() {
    Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#subst}
            diff <(echo a) <(echo a)
            echo hi > >(cat)
            ```
            "#,
        )
        .args(["play", "a"])
        .stdout_has("[subst] hi")
        .stdout_has("<== subst: passed")
        .stdout_lacks("left running in the background")
        .run();
}

#[test]
fn sigint_kills_the_step_group_and_the_run_resumes() {
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#first}
        echo first >> runs.txt
        ```

        ```bash {#slow}
        echo slow >> runs.txt
        if [ ! -f go ]; then
          sleep 1000 &
          echo $! > grandchild.pid
          wait
        fi
        ```

        ```bash {#last}
        echo last >> runs.txt
        ```
        "#,
    );
    let dir = t.path().to_path_buf();
    let child = rb_cmd(&dir, &["play", "a"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = written_pid(&dir, "grandchild.pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    // The closing screen says what to type next.
    assert!(String::from_utf8_lossy(&out.stdout).contains("--resume"), "{}", text(&out));
    wait_until("the grandchild to die", || !alive(pid));
    // Not resumed without a flag off a terminal: exit 3 naming the flags.
    let o = rb(&dir, &["play", "a"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"), "{}", text(&o));
    std::fs::write(dir.join("go"), "").unwrap();
    let o = rb(&dir, &["play", "a", "--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let runs = std::fs::read_to_string(dir.join("runs.txt")).unwrap();
    assert_eq!(runs, "first\nslow\nslow\nlast\n", "{}", text(&o));
}

#[test]
fn sigint_during_a_rollback_stops_it() {
    let t = Test::new().runbook("a", &rollback_runbook("sleep 20 &\necho $! > grandchild.pid\nwait"));
    let dir = t.path().to_path_buf();
    let child = rb_cmd(&dir, &["play", "a"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = written_pid(&dir, "grandchild.pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert!(all.contains("the rollback was interrupted by SIGINT"), "{all}");
    assert!(!all.contains("--resume"), "a rolled-back run is not resumable: {all}");
    assert!(all.contains("  rollback incomplete: undo-two interrupted, undo-one not run\n"), "{all}");
    wait_until("the undo's grandchild to die", || !alive(pid));
    assert!(!dir.join("undo.txt").exists(), "the next undo block ran: {all}");
    let j = journal(&dir);
    assert!(j.contains("\"status\":\"interrupted\""), "{j}");
    assert!(j.contains("the rollback was interrupted"), "{j}");
}

#[test]
fn a_step_flooding_its_output_still_times_out() {
    // A step that prints without end keeps its pipe full: reading it must
    // not hold up the play's event loop (the timeout, signals).
    let t = Test::new().runbook("a", "```bash {#flood timeout=1s}\nyes\n```\n");
    let dir = t.path().to_path_buf();
    // The closing screen goes to a file: a pipe nobody reads would fill up.
    let out = std::fs::File::create(dir.join("out.txt")).unwrap();
    let mut child = rb_cmd(&dir, &["play", "a"]).stdout(out).stderr(Stdio::null()).spawn().unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the play did not end 30 s after a 1 s timeout");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(dir.join("out.txt")).unwrap();
    let err = out.lines().filter(|l| !l.starts_with("[flood]")).collect::<Vec<_>>().join("\n");
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("timed out after 1s"), "{err}");
}

#[test]
fn sigterm_interrupts_too() {
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#slow}
        touch started
        sleep 1000
        ```
        "#,
    );
    let dir = t.path().to_path_buf();
    let child = rb_cmd(&dir, &["play", "a"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_until("the step to start", || dir.join("started").exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(journal(&dir).contains("\"status\":\"interrupted\""));
}

#[test]
fn step_attributes_capture_when_expect_retry() {
    Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#get-rev read capture=rev}
            echo "  41  "
            ```

            ```bash {#use-rev when="rev == '41'"}
            echo rolling back to {{ rev }}
            ```

            ```bash {#never when="rev == '7'"}
            echo never
            ```

            ```bash {#check expect="^ok"}
            echo ok fine
            ```

            ```bash {#flaky retry=2 delay=0s}
            n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n
            [ "$n" -ge 1 ]
            ```

            ```bash {#status read}
            echo previous={{ steps.get-rev.status }}
            ```
            "#,
        )
        .args(["play", "a"])
        .stdout_has("[use-rev] rolling back to 41")
        .stdout_has("--- never: skipped: `when` is false")
        .stdout_has("attempt 1 of 3 failed")
        .stdout_has("<== flaky: passed")
        .stdout_has("[status] previous=passed")
        .run();
}

/// A boolean is written `true`/`false` in a shell body, a list and a
/// confirm text (as the front matter and `--set` write it), and
/// `True`/`False` in a Python body.
#[test]
fn booleans_render_as_the_front_matter_writes_them_except_in_python() {
    Test::new()
        .runbook(
            "b",
            r#"
            ---
            vars:
              dry: true
              flags: [false, "x"]
            ---
            ```bash {#sh read}
            echo "dry={{ dry }} flags={{ flags }}"
            [ {{ dry }} = true ] && echo tested
            ```

            ```python {#py read}
            print(repr({{ dry }}), {{ not dry }})
            ```

            ```bash {#ask confirm="apply with dry={{ dry }}?"}
            true
            ```
            "#,
        )
        .args(["play", "b", "--yes"])
        .stdout_has("[sh] dry=true flags=false x")
        .stdout_has("[sh] tested")
        .stdout_has("[py] True False")
        .stdout_has("apply with dry=true?")
        .run();
}

#[test]
fn expect_mismatch_fails() {
    Test::new()
        .runbook("a", "```bash {#check expect=\"^Running\"}\necho Pending\n```\n")
        .args(["play", "a"])
        .status(1)
        .stdout_has("stdout does not match expect /^Running/")
        .run();
}

#[test]
fn expect_matches_line_by_line_as_grep_does() {
    // `^` and `$` anchor at each line: `echo ok` ends with a newline, and
    // a line in the middle of the output counts.
    Test::new()
        .runbook(
            "a",
            "```bash {#exact expect=\"^ok$\"}\necho ok\n```\n\n```bash {#middle expect=\"^Running$\"}\nprintf 'Pending\\nRunning\\nDone\\n'\n```\n",
        )
        .args(["play", "a"])
        .stdout_has("<== exact: passed")
        .stdout_has("<== middle: passed")
        .run();
    Test::new()
        .runbook("a", "```bash {#partial expect=\"^Run$\"}\necho Running\n```\n")
        .args(["play", "a"])
        .status(1)
        .stdout_has("stdout does not match expect /^Run$/")
        .run();
}

#[test]
fn budget_is_not_a_timeout() {
    Test::new()
        .runbook("a", "```bash {#slowish budget=1s escalate=\"page the DA on-call\"}\nsleep 1.5; echo done\n```\n")
        .args(["play", "a"])
        .stdout_has("over its budget of 1s — escalate: page the DA on-call")
        .stdout_has("<== slowish: passed")
        .run();
}

#[test]
fn cwd_is_relative_to_the_repo_root() {
    Test::new()
        .file("sub/dir/marker", "x")
        .runbook("a", "```bash {#here cwd=sub/dir}\nls\n```\n")
        .args(["play", "a"])
        .cwd("runbooks")
        .stdout_has("[here] marker")
        .run();
}

#[test]
fn confirm_needs_yes_off_a_terminal() {
    let md = "```bash {#restart confirm=\"restart the node?\"}\necho restarted\n```\n";
    let t =
        Test::new().runbook("a", md).args(["play", "a"]).status(3).stdout_has("--yes").stdout_lacks("restarted").run();
    let o = rb(t.path(), &["play", "a", "--resume", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("[restart] restarted"));
}

#[test]
fn manual_steps_are_answered() {
    let md = "```manual {#look}\n- [ ] open the dashboard\n```\n";
    Test::new().runbook("a", md).args(["play", "a"]).status(3).stdout_has("--yes").run();
    Test::new()
        .runbook("a", md)
        .args(["play", "a", "--yes"])
        .stdout_has("<== look: passed (")
        .stdout_has("s): answered by --yes: nobody confirmed it is done\n")
        .stdout_lacks("the operator confirmed")
        .stdout_has("open the dashboard")
        .run();
}

#[test]
fn env_confirm_policy_and_guard() {
    let md = r#"
        ```bash {#look read}
        echo looking
        ```

        ```bash {#change}
        echo changing
        ```
        "#;
    let bin = tempfile::tempdir().unwrap();
    let kubectl = bin.path().join("kubectl");
    std::fs::write(&kubectl, "#!/bin/sh\necho prod-eu\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    // confirm = "write": the write step needs --yes.
    Test::new()
        .runbook("a", md)
        .env("PATH", &path)
        .args(["play", "a", "--env", "prod"])
        .status(3)
        .stdout_has("[look] looking")
        .stdout_has("--yes")
        .run();
    // The guard runs before the first write step and refuses on mismatch.
    std::fs::write(&kubectl, "#!/bin/sh\necho dev-cluster\n").unwrap();
    Test::new()
        .runbook("a", md)
        .env("PATH", &path)
        .args(["play", "a", "--env", "prod", "--yes"])
        .status(3)
        .stdout_has("printed `dev-cluster`, which does not match `^prod-`")
        .stdout_lacks("changing")
        .run();
    std::fs::write(&kubectl, "#!/bin/sh\necho prod-eu\n").unwrap();
    Test::new()
        .runbook("a", md)
        .env("PATH", &path)
        .args(["play", "a", "--env", "prod", "--yes"])
        .stdout_has("matches `^prod-`")
        .stdout_has("[change] changing")
        .run();
}

#[test]
fn read_only_from_and_only() {
    let md = r#"
        ```bash {#r1 read}
        echo r1
        ```

        ```bash {#w1}
        echo w1
        ```

        ```bash {#r2 read needs=w1}
        echo r2
        ```
        "#;
    Test::new()
        .runbook("a", md)
        .args(["play", "a", "--read-only"])
        .stdout_has("[r1] r1")
        .stdout_has("[r2] r2")
        .stdout_lacks("[w1] w1")
        .stdout_has("not a `read` step (--read-only)")
        .run();
    Test::new()
        .runbook("a", md)
        .args(["play", "a", "--from", "w1"])
        .stdout_lacks("[r1] r1")
        .stdout_has("[w1] w1")
        .stdout_has("[r2] r2")
        .run();
    Test::new()
        .runbook("a", md)
        .args(["play", "a", "--only", "r2"])
        .stdout_has("[r2] r2")
        .stdout_lacks("[w1] w1")
        .run();
    Test::new().runbook("a", md).args(["play", "a", "--only", "nope"]).status(2).stderr_has("no such step").run();
}

/// `verify` needs two write steps, which need `notify`, which needs
/// `assess`. Each read step waits for the file the one before it writes.
const TRIAGE: &str = r#"
    ```bash {#assess read}
    touch assessed
    ```

    ```bash {#notify read needs=assess}
    until [ -e assessed ]; do sleep 0.01; done
    touch notified
    ```

    ```bash {#restart needs=notify}
    echo restart
    ```

    ```bash {#cleanup needs=notify}
    echo cleanup
    ```

    ```bash {#verify read needs=restart,cleanup}
    until [ -e notified ]; do sleep 0.01; done
    echo verified
    ```
    "#;

/// The steps started, in order, from the `==> id:` lines of a play.
fn started(stdout: &str) -> Vec<&str> {
    stdout.lines().filter_map(|l| l.strip_prefix("==> ")?.split(':').next()).collect()
}

#[test]
fn a_filtered_out_step_still_orders_the_steps_after_it() {
    let fx = "[[scenario]]\nname = \"s\"\n";
    for dry in [false, true] {
        let t = Test::new().runbook("t", TRIAGE).fixture("t", fx);
        let mut args = vec!["play", "t", "--read-only"];
        if dry {
            args.push("--dry-run");
        }
        let o = rb(t.path(), &args);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{out}");
        assert_eq!(started(&out), ["assess", "notify", "verify"], "dry run: {dry}\n{out}");
        let o = rb(
            t.path(),
            &[&args[..2], &["--fresh", "--only", "restart"], if dry { &["--dry-run"] } else { &[] }].concat(),
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(started(&out), ["restart"], "{out}");
    }
}

/// Two steps with undo blocks, then a failing one: a rollback runs
/// `undo-two` (with `undo_two` as its body), then `undo-one`.
fn rollback_runbook(undo_two: &str) -> String {
    format!(
        "```bash {{#one rollback=undo-one}}\necho one\n```\n\n```bash {{#two rollback=undo-two}}\necho two\n```\n\n\
         ```bash {{#boom}}\nexit 1\n```\n\n```bash {{#undo-one undo}}\necho undo one >> undo.txt\n```\n\n\
         ```bash {{#undo-two undo}}\n{undo_two}\n```\n"
    )
}

#[test]
fn rollback_runs_undo_blocks_in_reverse_order() {
    let md = &rollback_runbook("echo undo two >> undo.txt");
    let t =
        Test::new().runbook("a", md).args(["play", "a"]).status(1).stdout_has("rolling back: undo-two, undo-one").run();
    assert_eq!(std::fs::read_to_string(t.path().join("undo.txt")).unwrap(), "undo two\nundo one\n");
    let t =
        Test::new().runbook("a", md).args(["play", "a", "--no-rollback"]).status(1).stdout_lacks("rolling back").run();
    assert!(!t.path().join("undo.txt").exists());
}

#[test]
fn requires_names_every_missing_tool() {
    Test::new()
        .runbook("a", "---\nrequires: [bash, no-such-tool-x, no-such-tool-y]\n---\n```bash {#x}\necho x\n```\n")
        .args(["play", "a"])
        .status(3)
        .stderr_has("no-such-tool-x, no-such-tool-y")
        .stdout_lacks("[x] x")
        .run();
}

#[test]
fn a_missing_required_tool_is_named_at_its_front_matter_line_with_how_to_fix_it() {
    let f = Test::new()
        .runbook("a", "---\ntitle: A\nrequires:\n  - bash\n  - no-such-tool-x\n---\n```bash {#x}\necho x\n```\n")
        .args(["play", "a"])
        .status(3)
        .run();
    assert_eq!(
        f.stderr,
        "runbooks/a.md:5: error: runbook `a` requires a tool that is not on PATH: no-such-tool-x; nothing was run\n  \
         hint: install it, or add the directory that holds it to PATH; front matter `requires` lists the tools the steps call\n"
    );
    assert_eq!(f.stdout, "");
    let f = Test::new()
        .runbook("b", "---\nrequires: [bash, no-such-tool-x, no-such-tool-y]\n---\n```bash {#x}\necho x\n```\n")
        .args(["play", "b"])
        .status(3)
        .run();
    assert_eq!(
        f.stderr,
        "runbooks/b.md:2: error: runbook `b` requires tools that are not on PATH: no-such-tool-x, no-such-tool-y; nothing was run\n  \
         hint: install them, or add the directories that hold them to PATH; front matter `requires` lists the tools the steps call\n"
    );
    // A rehearsal can stub it instead.
    Test::new()
        .runbook("a", "---\nrequires:\n  - no-such-tool-x\n---\n```bash {#x}\necho x\n```\n")
        .fixture("a", "[[scenario]]\nname = \"s\"\n")
        .args(["play", "a", "--dry-run"])
        .status(1)
        .stdout_has("the play did not start: runbooks/a.md:3: error: runbook `a` requires a tool that is not on PATH: no-such-tool-x; nothing was run\n")
        .stdout_has("hint: install it, or add the directory that holds it to PATH, or stub it for rehearsals (runbook.toml `[rehearse] stub`); front matter")
        .run();
}

#[test]
fn play_timeout_stops_the_play() {
    Test::new()
        .runbook("a", "---\ntimeout: 1s\n---\n```bash {#slow}\nsleep 1000\n```\n")
        .args(["play", "a"])
        .status(1)
        .stdout_has("the play timed out after 1s")
        .run();
}

#[test]
fn hostile_set_values_never_execute() {
    for v in
        ["$(touch pwned)", "`touch pwned`", "x; touch pwned", "a\ntouch pwned", "'\"; touch pwned; \"'", "$((1+1))"]
    {
        let t = Test::new()
            .runbook("a", "```bash {#echo read}\necho value={{ v }}\nprintf '%s\\n' {{ v }} > value.txt\n```\n")
            .args(["play", "a", "--set"])
            .args([format!("v={v}")])
            .run();
        assert!(!t.path().join("pwned").exists(), "value {v:?} executed");
        assert_eq!(std::fs::read_to_string(t.path().join("value.txt")).unwrap(), format!("{v}\n"));
    }
}

/// Quoting protects a value only where bash reads words. Wherever else a
/// `{{ }}` sits (a comment, quotes, a heredoc), a value crafted to end that
/// place and run a command is refused before anything runs, in `bash` and
/// `sh` steps alike; a plain word still goes anywhere.
#[test]
fn hostile_values_never_execute_from_any_place_in_a_body() {
    let places = [
        ("echo checking  # the pod {{ v }}", "x\ntouch pwned #"),
        ("# about {{ v }}\necho ok", "x\ntouch pwned #"),
        ("echo \"hi {{ v }}\"", "\";touch pwned;\""),
        ("echo 'hi {{ v }}'", "x' ; touch pwned ; '"),
        ("cat <<EOF\n{{ v }}\nEOF", "x\nEOF\ntouch pwned #"),
        ("cat <<'EOF'\n{{ v }}\nEOF", "x\nEOF\ntouch pwned #"),
        ("cat <<EOF\n$(echo {{ v }})\nEOF", "x\nEOF\ntouch pwned #"),
    ];
    for lang in ["bash", "sh"] {
        for (line, hostile) in places {
            let md = format!("```{lang} {{#first read}}\ntouch first-ran\n```\n\n```{lang} {{#a read}}\n{line}\n```\n");
            let t = Test::new()
                .runbook("a", &md)
                .args(["play", "a", "--yes", "--set"])
                .args([format!("v={hostile}")])
                .status(2)
                .stderr_has("error: step `a`, its body: a value ")
                .run();
            assert!(!t.path().join("pwned").exists(), "{lang}: {line:?} ran the value {hostile:?}");
            assert!(!t.path().join("first-ran").exists(), "{lang}: {line:?}: a step ran before the refusal");
            Test::new()
                .runbook("a", &md)
                .args(["play", "a", "--yes", "--set", "v=web-1"])
                .stdout_has("play passed: 2 passed")
                .run();
        }
    }
}

/// SPEC §2.2: `when` sees `steps.<id>.status`. A step skipped without
/// running (its need failed, its `when` was false) reads `skipped` from
/// then on, so a fallback written on it runs.
#[test]
fn a_skipped_step_reads_as_skipped_in_later_templates() {
    let md = [
        "```bash {#a on-fail=continue}\nexit 3\n```\n",
        "```bash {#c needs=a}\necho never\n```\n",
        "```bash {#w when=\"env == 'nowhere'\"}\necho never\n```\n",
        "```bash {#p}\necho c={{ steps.c.status }} w={{ steps.w.status }}\n```\n",
        "```bash {#fallback when=\"steps.c.status == 'skipped'\"}\necho fallback ran\n```\n",
    ]
    .join("\n");
    Test::new()
        .runbook("a", &md)
        .args(["play", "a", "--yes"])
        .status(1)
        .stdout_has("[p] c=skipped w=skipped\n")
        .stdout_has("[fallback] fallback ran\n")
        .run();
}

#[test]
fn secrets_are_redacted_everywhere_even_split_across_reads() {
    let t = Test::new()
        .runbook(
            "a",
            r#"
            ---
            vars:
              db_password: hunter2hunter2
            ---
            ```bash {#leak}
            s={{ db_password }}
            printf 'pw=%s' "${s:0:9}"; sleep 0.2; printf '%s end\n' "${s:9}"
            echo "$s" >&2
            ```

            ```bash {#token-step capture=api_token}
            echo s3cr3t-$(echo t0ken)
            ```

            ```bash {#reuse}
            echo using {{ api_token }} again
            ```
            "#,
        )
        .args(["play", "a"])
        .stdout_has("[leak] pw=*** end")
        .stdout_has("[reuse] using *** again")
        .stdout_lacks("hunter2")
        .stdout_lacks("s3cr3t-t0ken")
        .run();
    let dir = t.path();
    let report = rb(dir, &["report", "latest"]);
    let report_json = rb(dir, &["report", "latest", "--format", "json"]);
    let mut all = journal(dir) + &text(&report) + &text(&report_json);
    for e in walkdir(dir.join(".runbook/runs")) {
        all.push_str(&String::from_utf8_lossy(&std::fs::read(e).unwrap()));
    }
    assert!(!all.contains("hunter2"), "a secret leaked:\n{all}");
    assert!(!all.contains("s3cr3t-t0ken"), "a captured secret leaked:\n{all}");
}

fn walkdir(dir: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walkdir(p)) } else { out.push(p) }
    }
    out
}

#[test]
fn odd_output_does_not_break_display_or_log() {
    let t = Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#odd}
            printf 'bad \xff\xfe bytes\n'
            printf '10%%\r50%%\r100%%\n'
            printf '\033[31mred\033[0m\n'
            head -c 200000 /dev/zero | tr '\0' 'y'; echo
            printf 'no newline at the end'
            ```
            "#,
        )
        .args(["play", "a"])
        .stdout_has("[odd] bad \u{fffd}\u{fffd} bytes")
        .stdout_has("[odd] 100%")
        .stdout_has("[odd] red")
        .stdout_has("[odd] no newline at the end")
        .stdout_lacks("\r")
        .stdout_lacks("\u{1b}")
        .run();
    let log = walkdir(t.path().join(".runbook/runs")).into_iter().find(|p| p.ends_with("odd.log")).unwrap();
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("100%") && !log.contains('\r'));
    assert!(log.len() > 200_000);
}

#[test]
fn hundred_megabytes_of_output_keep_memory_flat() {
    if !Path::new("/usr/bin/time").exists() {
        eprintln!("skipped: /usr/bin/time not installed");
        return;
    }
    let t = Test::new()
        .runbook("a", "```bash {#flood capture=x}\nhead -c 100000000 /dev/zero | tr '\\0' 'x' | fold -w 100\n```\n");
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(bin())
        .args(["play", "a"])
        .current_dir(t.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let kb: u64 = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes): "))
        .and_then(|v| v.trim().parse().ok())
        .expect("max RSS");
    assert!(kb < 64 * 1024, "peak RSS {kb} kB");
}

#[test]
fn lock_held_refuses_and_names_the_holder() {
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#hold}
        touch started
        while [ ! -f release ]; do sleep 0.02; done
        ```
        "#,
    );
    let dir = t.path().to_path_buf();
    let child = rb_cmd(&dir, &["play", "a"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_until("the first play to start its step", || dir.join("started").exists());
    let o = rb(&dir, &["play", "a", "--fresh"]);
    std::fs::write(dir.join("release"), "").unwrap();
    let first = child.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("held by") && err.contains(&format!("pid {}", child_pid_hint(&err))), "{err}");
    assert!(err.contains("a@devnet.lock"), "{err}");
}

fn child_pid_hint(err: &str) -> String {
    err.split("pid ").nth(1).and_then(|s| s.split(',').next()).unwrap_or("?").to_string()
}

#[test]
fn stale_lock_of_a_dead_process_is_taken_over() {
    let t = Test::new()
        .runbook("a", "```bash {#x}\necho x\n```\n")
        .file(
            ".runbook/locks/a@devnet.lock",
            r#"{"user":"ghost","host":"elsewhere","pid":999999,"since":"2026-01-01T00:00:00Z","run":""}"#,
        )
        .args(["play", "a"])
        .stdout_has("took over the lock of ghost@elsewhere")
        .run();
    let _ = t;
}

#[test]
fn no_env_profile_is_local() {
    let t = Test::new()
        .config("")
        .runbook("a", "```bash {#x}\necho env=$RUNBOOK_ENV\n```\n")
        .args(["play", "a"])
        .stdout_has("[x] env=local")
        .stdout_has("a @ local")
        .run();
    assert!(t.path().join(".runbook/locks/a@local.lock").exists());
}

#[test]
fn runs_and_report() {
    let t = Test::new()
        .runbook("a", "```bash {#ok capture=rev}\necho 'r`7'\n```\n\n```bash {#bad}\necho broken; exit 2\n```\n")
        .args(["play", "a"])
        .status(1)
        .run();
    let dir = t.path();
    let runs = rb(dir, &["runs", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    let run = v[0]["run"].as_str().unwrap().to_string();
    assert_eq!(v[0]["status"], "failed");
    let o = rb(dir, &["runs"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(&run));
    let prefix = &run[..10];
    let md = rb(dir, &["report", prefix]);
    let md = String::from_utf8_lossy(&md.stdout).to_string();
    assert!(md.contains("# Incident timeline: a @ devnet"), "{md}");
    assert!(md.contains("- **failed** `bad`"), "{md}");
    assert!(md.contains("broken"), "{md}");
    assert!(md.contains(" UTC"), "{md}");
    assert!(md.contains("Captured: `rev` = ``r`7``"), "{md}");
    let js = rb(dir, &["report", "latest", "--format", "json"]);
    let j: serde_json::Value = serde_json::from_slice(&js.stdout).unwrap();
    assert_eq!(j["timeline"][1]["exit"], 2);
    assert_eq!(j["timeline"][0]["captures"]["rev"], "r`7");
    let none = rb(dir, &["report", "zzz"]);
    assert_eq!(none.status.code(), Some(2));
    // A run is created with its first event, so an empty journal is damage:
    // listed as such, and `latest` is the newest run that can be read.
    let empty = dir.join(".runbook/runs/20990101T000000Z-a-devnet");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("journal.jsonl"), "").unwrap();
    let o = rb(dir, &["runs"]);
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(listed.contains("20990101T000000Z-a-devnet  corrupt "), "not marked resumable: {listed}");
    assert!(String::from_utf8_lossy(&rb(dir, &["report", "latest"]).stdout).contains(&run), "latest is the real run");
}

/// `runs`' PASSED is "of the steps this run is to play": the plan's, less
/// those the mode excludes and those skipped; the steps not reached count.
#[test]
fn runs_counts_the_steps_to_play_and_aligns_its_columns() {
    let md = "```bash {#a read}\necho a\n```\n\n```bash {#b when=\"false\"}\necho b\n```\n\n```bash {#c}\nexit 3\n```\n\n```bash {#d}\necho d\n```\n\n```bash {#e}\necho e\n```\n";
    let t = Test::new().runbook("a", md).args(["play", "a", "--yes"]).status(1).run();
    let dir = t.path();
    let rows =
        |dir: &Path| -> serde_json::Value { serde_json::from_slice(&rb(dir, &["runs", "--json"]).stdout).unwrap() };
    let v = rows(dir);
    // a passed, b skipped (left out), c failed, d and e not reached: 1 of 4.
    assert_eq!((v[0]["passed"].as_u64(), v[0]["failed"].as_u64(), v[0]["steps"].as_u64()), (Some(1), Some(1), Some(4)));
    let ro = rb(dir, &["play", "a", "--read-only", "--fresh", "--yes"]);
    assert_eq!(ro.status.code(), Some(0), "{}", String::from_utf8_lossy(&ro.stdout));
    let v = rows(dir);
    // --read-only: c, d, e excluded, b skipped: 1 of 1.
    assert_eq!((v[1]["passed"].as_u64(), v[1]["steps"].as_u64()), (Some(1), Some(1)), "{v}");
    // An interrupted run: the longest status, `interrupted*`, keeps the columns.
    std::fs::write(dir.join("runbooks/i.md"), "```bash {#x}\nkill -INT $PPID; sleep 30\n```\n").unwrap();
    assert_eq!(rb(dir, &["play", "i", "--yes"]).status.code(), Some(130));
    let table = String::from_utf8_lossy(&rb(dir, &["runs"]).stdout).to_string();
    let lines: Vec<&str> = table.lines().collect();
    // Superseded by the --read-only run: not resumable, no `*`.
    assert!(lines[1].contains(" failed ") && lines[1].contains(" 1/4 "), "{table}");
    assert!(lines[2].contains(" passed ") && lines[2].contains(" 1/1 "), "{table}");
    assert!(lines[3].contains(" interrupted* ") && lines[3].contains(" 0/1 "), "{table}");
    // The PASSED column ends where its header does, on every line.
    let end = lines[0].find("PASSED").unwrap() + "PASSED".len();
    for (l, last) in lines[1..4].iter().zip(['4', '1', '1']) {
        assert_eq!(l[..end].chars().last(), Some(last), "{table}");
    }
}

#[test]
fn the_incident_report_reads_as_a_timeline() {
    // What an incident commander pastes into the incident doc: a failed
    // expectation, a retry, a secret, a capture, a skipped step, a rollback.
    let t = Test::new()
        .runbook(
            "deploy",
            r#"
            ---
            title: Deploy the widget
            vars:
              release: v1.2.3
              api_token: s3cr3t-tok
            ---
            # Deploy

            ```bash {#version read capture=current}
            echo v1.2.2
            ```

            ```bash {#auth read}
            echo using token {{ api_token }}
            ```

            ```bash {#rollout retry=1 delay=10ms rollback=unroll}
            echo deploying {{ release }} over {{ current }}
            [ -f tried ] || { touch tried; echo first try fails >&2; exit 7; }
            ```

            ```bash {#unroll undo}
            echo rolled back
            ```

            ```bash {#cleanup when="current == 'v0'"}
            echo never
            ```

            ```bash {#verify expect="ok"}
            echo "health: bad"
            ```
            "#,
        )
        .args(["play", "deploy", "--yes"])
        .status(1)
        // The same counts as the report: the undo block is not a step.
        .stdout_has("play failed: 3 passed, 1 failed, 1 skipped (")
        .stdout_has("  rolled back: unroll")
        .run();
    let md = rb(t.path(), &["report", "latest"]);
    assert_eq!(md.status.code(), Some(0), "{}", text(&md));
    let md = String::from_utf8_lossy(&md.stdout).into_owned();
    insta::with_settings!({filters => vec![
        (r"\d{8}T\d{6}Z", "[RUN]"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "[DATE TIME]"),
        (r"\b\d{2}:\d{2}:\d{2}\b", "[TIME]"),
        (r"\b\d+\.\d+s\b", "[SECS]"),
        (r"sha256 `[0-9a-f]+`", "sha256 `[HASH]`"),
        (r"\| Operator \| [^|]+ \|", "| Operator | [USER@HOST] |"),
    ]}, {
        insta::assert_snapshot!("incident_report", md);
    });
}

#[test]
fn a_play_whose_output_nobody_reads_any_more_ends_normally() {
    // `runbook play … 2>&1 | head -1`: stdout and stderr closed under it.
    // The play runs to its end and exits with its own code, not a panic's.
    let t = Test::new().runbook("a", "```bash {#one}\necho one\n```\n\n```bash {#two}\necho two; exit 3\n```\n");
    let mut child = rb_cmd(t.path(), &["play", "a"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "a failed play, not a crash");
    assert!(journal(t.path()).contains("\"event\":\"run-end\",\"status\":\"failed\""), "{}", journal(t.path()));
}

#[test]
fn a_process_a_step_leaves_behind_can_neither_read_nor_change_later_scripts() {
    // `one` leaves a process in a session of its own (out of reach of the
    // group kill), holding `one`'s script descriptor. Once `two` has started
    // it reads that descriptor, and tries to write it; `two` runs until the
    // spy is done. Warm interpreters off: every step reads a memfd.
    let t = Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#one}
            fd=${0#/dev/fd/}
            setsid bash -c "while [ ! -e two.started ]; do sleep 0.02; done; cat /proc/self/fd/$fd > spy.tmp; mv spy.tmp spy.out; { printf 'touch injected\n' > /proc/self/fd/$fd; } 2>/dev/null; echo \$? > spy.write" </dev/null >/dev/null 2>&1 &
            ```

            ```bash {#two timeout=60s}
            touch two.started
            while [ ! -e spy.write ]; do sleep 0.02; done # SECRET-OF-TWO
            ```
            "#,
        )
        .env("RUNBOOK_WARM", "0")
        .args(["play", "a"])
        .run();
    let dir = t.path();
    wait_until("the spy", || dir.join("spy.write").exists());
    let seen = std::fs::read_to_string(dir.join("spy.out")).unwrap();
    assert!(!seen.contains("SECRET-OF-TWO"), "a leftover read a later step's script:\n{seen}");
    assert!(seen.contains("setsid"), "it reads its own step's body: {seen}");
    let wrote = std::fs::read_to_string(dir.join("spy.write")).unwrap();
    assert_ne!(wrote.trim(), "0", "a leftover could write a step's script");
}

#[test]
fn secrets_with_quotes_backslashes_and_tabs_are_masked_in_their_quoted_forms_too() {
    // A quote, a backslash, `'` with `!`, a tab: the rendered command holds
    // the value shell-quoted or as a Python literal, not as itself.
    for value in ["Qw\"Er\\Ty", "it's!a\tsecret"] {
        let t = Test::new().runbook(
            "a",
            "---\nsecrets: [db_password]\n---\n```bash {#use-pw}\npw={{ db_password }}\necho \"$pw\"\n```\n\n```python {#py}\npw = {{ db_password }}\nprint(pw)\n```\n",
        );
        let set = format!("db_password={value}");
        let play = rb(t.path(), &["play", "a", "--set", &set]);
        assert_eq!(play.status.code(), Some(0), "{}", text(&play));
        let plan = rb(t.path(), &["plan", "a", "--set", &set]);
        let report = rb(t.path(), &["report", "latest"]);
        let all = format!("{}{}{}{}", text(&play), text(&plan), text(&report), journal(t.path()));
        for piece in ["Er\\", "Qw\\\"", "s!a", "it'"] {
            assert!(!all.contains(piece), "{value:?}: `{piece}` shown:\n{all}");
        }
        assert!(all.contains("==> use-pw: pw=***"), "{all}");
    }
}

#[test]
fn a_when_that_cannot_be_evaluated_fails_the_step_rather_than_skip_it() {
    // `3 replicas | int` is no number: the scale-down must not be skipped unseen.
    Test::new()
        .runbook(
            "a",
            "```bash {#count read capture=replicas}\necho 3 replicas\n```\n\n```bash {#scale-down when=\"replicas | int > 2\"}\necho scaling\n```\n",
        )
        .args(["play", "a"])
        .status(1)
        .stdout_has("scale-down: failed")
        .stdout_has("`when` cannot be evaluated")
        .stdout_lacks("scaling")
        .run();
}

#[test]
fn output_held_by_a_detached_process_is_waited_for_once() {
    // `setsid sleep &` keeps the step's stdout and stderr open: the step
    // waits for them (RUNBOOK_DRAIN, 2 s by default), says so once, and
    // ends.
    let t = Test::new()
        .runbook("a", "```bash {#detach}\nsetsid sleep 30 &\necho $! > bg.pid\n```\n")
        .env("RUNBOOK_DRAIN", "1s")
        .args(["play", "a"])
        .run();
    let pid: i32 = std::fs::read_to_string(t.path().join("bg.pid")).unwrap().trim().parse().unwrap();
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    assert_eq!(t.stdout.matches("output still held open by a detached process").count(), 1, "{}", t.stdout);
    // One wait for both streams, not one each: `runner::step`'s
    // `streams_held_open_are_waited_for_once_not_once_each`, on a paused
    // clock.
}

#[test]
fn the_report_fences_each_step_in_its_own_language() {
    let t = Test::new()
        .runbook(
            "a",
            "```sh {#posix}\necho sh\n```\n\n```python {#py}\nprint('py')\n```\n\n```bash {#b}\necho b\n```\n",
        )
        .args(["play", "a"])
        .run();
    let md = String::from_utf8_lossy(&rb(t.path(), &["report", "latest"]).stdout).into_owned();
    for fence in ["```sh\necho sh\n```", "```python\nprint('py')\n```", "```bash\necho b\n```"] {
        assert!(md.contains(fence), "{fence:?} in:\n{md}");
    }
}

#[test]
fn only_an_undo_block_says_what_it_is_and_runs_nothing() {
    let md = "# K\n\n```bash {#scale rollback=unscale}\necho scale >> ran\n```\n\n```bash {#unscale undo}\necho undo >> ran\n```\n\n```bash {#orphan undo}\ntrue\n```\n";
    let f = Test::new().runbook("k", md).args(["play", "k", "--yes", "--only", "unscale"]).status(2).run();
    assert_eq!(
        f.stderr,
        "error: --only unscale: `unscale` is the undo block of `scale`, outside the play's order\n  hint: it runs when a play that passed `scale` rolls back; to run `scale` itself: `--only scale`\n"
    );
    assert!(!f.path().join("ran").exists());
    Test::new()
        .runbook("k", md)
        .args(["play", "k", "--yes", "--from", "orphan"])
        .status(2)
        .stderr_has(
            "error: --from orphan: `orphan` is an undo block no step names (`rollback=`), outside the play's order\n",
        )
        .run();
}

/// The same for a step's body: `--set n=abc` where it adds to `n`.
#[test]
fn a_body_that_cannot_use_a_value_names_the_value_it_read() {
    let md = "---\nvars:\n  n: 3\n---\n# B\n\n```bash {#a}\necho {{ n + 1 }} > ran\n```\n";
    let f = Test::new().runbook("b", md).args(["play", "b", "--yes", "--set", "n=abc"]).status(2).run();
    assert!(f.stderr.contains("(it read n = \"abc\")"), "{}", f.stderr);
    assert!(f.stderr.contains("hint: a value it read is not what the template expects"), "{}", f.stderr);
    assert!(!f.path().join("ran").exists());
}

#[test]
fn a_when_that_cannot_use_a_value_names_the_values_it_read_but_no_secret() {
    let md = "---\nvars:\n  n: \"3 replicas\"\n  api_token: \"tok-Sup3r\"\n---\n# W\n\n```bash {#a when=\"n | int > 3 and api_token\"}\necho a > ran\n```\n";
    let f = Test::new().runbook("w", md).args(["play", "w", "--yes"]).status(2).run();
    assert_eq!(
        f.stderr.replace(&f.path().display().to_string(), "$DIR"),
        "runbooks/w.md:8: error: `when` of step `a`: invalid float literal (it read n = \"3 replicas\")\n  hint: a value it read is not what the expression expects: give another (`--set NAME=…`, the env profile, front matter `vars`)\n"
    );
    assert!(!f.path().join("ran").exists());
}

/// A runbook whose steps choose a branch by a variable's value, as
/// runbooks/4.2 does with `action`.
const BRANCHES: &str = "---\nvars:\n  action: upgrade\n---\n# B\n\n```bash {#up when=\"action == 'upgrade'\"}\necho up >> ran\n```\n\n```bash {#down when=\"action in ['rollback', 'roll-back']\"}\necho down >> ran\n```\n";

#[test]
fn a_given_value_that_turns_on_no_branch_is_refused_before_anything_runs() {
    let f = Test::new().runbook("b", BRANCHES).args(["play", "b", "--yes", "--set", "action=rolback"]).status(2).run();
    assert_eq!(
        f.stderr,
        "runbooks/b.md:7: error: action = \"rolback\" turns on none of the steps that depend on it: `up` (line 7), \
         `down` (line 11); the play would skip them all\n  hint: did you mean `rollback`? the runbook's conditions \
         name `upgrade`, `rollback`, `roll-back`\n"
    );
    assert!(!f.path().join("ran").exists());
    assert!(!f.path().join(".runbook/runs").exists(), "a refused play recorded a run");
    // `plan` shows it, and the plan.
    Test::new()
        .runbook("b", BRANCHES)
        .args(["plan", "b", "--set", "action=rolback"])
        .stderr_has("runbooks/b.md:7: warning: action = \"rolback\" turns on none")
        .stdout_has("skipped")
        .run();
    // From the env profile too, where it says so; and a rehearsal likewise.
    Test::new()
        .runbook("b", BRANCHES)
        .config("[env.prod]\naction = \"rolback\"\n")
        .args(["play", "b", "--env", "prod", "--dry-run"])
        .status(2)
        .stderr_has("error: action = \"rolback\" (from the env profile) turns on none")
        .run();
    // A scenario that gives it rehearses no play that can happen: `check` fails it.
    let f = Test::new()
        .runbook("b", BRANCHES)
        .fixture(
            "b",
            "[[scenario]]\nname = \"typo\"\nvars = { action = \"rolback\" }\n[scenario.expect]\noutcome = \"passed\"\n",
        )
        .args(["check"])
        .status(1)
        .run();
    assert!(
        f.stdout.contains("fixtures/b.toml:1: scenario `typo` gives a value a play refuses: runbooks/b.md:7: error: action = \"rolback\" turns on none"),
        "{}",
        f.stdout
    );
    // A value the runbook names plays; so does its default.
    for set in [&["--set", "action=roll-back"][..], &[]] {
        let f = Test::new().runbook("b", BRANCHES).args(["play", "b", "--yes"]).args(set.iter().copied()).run();
        let want = if set.is_empty() { "up\n" } else { "down\n" };
        assert_eq!(std::fs::read_to_string(f.path().join("ran")).unwrap(), want);
    }
}

#[test]
fn a_value_the_runbook_may_mean_is_never_refused() {
    let cases = [
        // A condition an unnamed value makes true: other values are meant
        // (`safe` turns off both steps here, as the author wrote).
        (
            "```bash {#a when=\"mode != 'safe'\"}\necho a >> ran\n```\n\n```bash {#b when=\"mode == 'x'\"}\necho b >> ran\n```\n",
            "safe",
        ),
        // The value is used in a body as well.
        (
            "```bash {#a when=\"mode == 'safe'\"}\necho a >> ran\n```\n\n```bash {#b}\necho {{ mode }} >> ran\n```\n",
            "fast",
        ),
        // A condition decided only by the play (a capture).
        (
            "```bash {#c capture=seen}\necho x\n```\n\n```bash {#a when=\"mode == 'safe' or seen == 'y'\"}\necho a >> ran\n```\n",
            "fast",
        ),
    ];
    for (md, value) in cases {
        let md = format!("---\nvars:\n  mode: safe\n---\n# M\n\n{md}");
        let set = format!("mode={value}");
        Test::new().runbook("m", &md).args(["play", "m", "--yes", "--set", &set]).run();
    }
}

/// A guard whose `expect` is no regex is invalid config, said in one line
/// with a fix, at the guard's line: nothing plays.
#[test]
fn a_guard_expect_that_is_not_a_regex_is_one_line_with_a_fix_at_its_env() {
    let f = Test::new()
        .config("default_env = \"dev\"\n\n[env.dev]\n\n[env.prod]\nguard = { run = \"kubectl config current-context\", expect = \"^(prod\" }\n")
        .runbook("a", "# A\n\n```bash {#change}\necho changing > ran\n```\n")
        .args(["play", "a", "--env", "prod", "--yes"])
        .status(2)
        .run();
    let err = f.stderr.replace(&f.path().display().to_string(), "$DIR");
    assert!(
        err.starts_with(
            "$DIR/runbook.toml:6: error: [env.prod] guard: its expect is not a regex: unclosed group at character 2 of `^(prod`\n  hint: close each `(`"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(!f.path().join("ran").exists());
}

/// A `when` that fails on a captured value says the value it read, as the
/// one that fails before the play does for a variable.
#[test]
fn a_when_failing_on_a_capture_says_what_it_read() {
    Test::new()
        .runbook("w", "# W\n\n```bash {#a read capture=n}\necho auto\n```\n\n```bash {#b when=\"n | int > 1\"}\necho scale\n```\n")
        .args(["play", "w", "--yes"])
        .status(1)
        .stdout_has("<== b: failed: `when` cannot be evaluated: `when` of step `b`: invalid float literal (it read n = \"auto\")\n")
        .run();
}

/// Each attempt's process group is recorded right after what starts it (the
/// step's start, or the note of the attempt before that failed), before
/// anything else of the step: warm or cold, bash, sh or python, retried.
#[test]
fn a_step_s_process_group_is_recorded_right_after_its_start_and_each_retry() {
    let md = "```bash {#a}\necho a\n```\n\n```bash {#b}\necho b\n```\n\n\
              ```bash {#c retry=1 delay=10ms}\nif [ -e tried ]; then echo c; else touch tried; exit 1; fi\n```\n\n\
              ```sh {#d}\necho d\n```\n\n```python {#p}\nprint('p')\n```\n";
    for warm in ["1", "0"] {
        let t = Test::new().runbook("r", md);
        let o = rb_cmd(t.path(), &["play", "r"]).env("RUNBOOK_WARM", warm).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let events: Vec<serde_json::Value> =
            journal(t.path()).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        for (step, want) in [
            ("a", &["step-start", "spawned", "step-end"][..]),
            ("b", &["step-start", "spawned", "step-end"]),
            ("c", &["step-start", "spawned", "note", "spawned", "step-end"]),
            ("d", &["step-start", "spawned", "step-end"]),
            ("p", &["step-start", "spawned", "step-end"]),
        ] {
            let got: Vec<&str> =
                events.iter().filter(|e| e["step"] == step).map(|e| e["event"].as_str().unwrap()).collect();
            assert_eq!(got, want, "warm={warm}, step {step}");
        }
    }
}

/// Each attempt of a retried step has its exit in the journal (`exits`)
/// and the report ("3 attempts: exit 3, 4, 5"), not only in notes.
#[test]
fn each_attempt_of_a_retried_step_keeps_its_exit() {
    let md = "```bash {#r retry=2 delay=0s}\nn=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; exit $((3+n))\n```\n";
    let f = Test::new().runbook("r", md).args(["play", "r"]).status(1).run();
    let end = journal(f.path()).lines().find(|l| l.contains("\"step-end\"")).unwrap().to_string();
    let end: serde_json::Value = serde_json::from_str(&end).unwrap();
    assert_eq!((&end["exit"], &end["exits"]), (&5.into(), &serde_json::json!([3, 4, 5])), "{end}");
    let md = text(&rb(f.path(), &["report", "latest"]));
    assert!(md.contains("| `r` | failed | 5 | 0.0s | 3 attempts: exit 3, 4, 5 |"), "{md}");
}

/// Interrupted while waiting to retry: no process gave the end an exit,
/// so it has none; the attempt that failed keeps its own in `exits`.
#[test]
fn a_retry_interrupted_during_its_delay_ends_without_an_exit_of_its_own() {
    let md = "```bash {#r retry=1 delay=1h}\ntouch tried; exit 7\n```\n";
    let t = Test::new().runbook("r", md);
    let dir = t.path().to_path_buf();
    let child = rb_cmd(&dir, &["play", "r"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_until("the first attempt to fail", || journal(&dir).contains("retrying in 1h"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let end = journal(&dir).lines().find(|l| l.contains("\"step-end\"")).unwrap().to_string();
    let end: serde_json::Value = serde_json::from_str(&end).unwrap();
    assert_eq!(
        (&end["status"], &end["exit"], &end["exits"]),
        (&"interrupted".into(), &serde_json::Value::Null, &serde_json::json!([7])),
        "{end}"
    );
}

/// A bad value in an env table is reported at its own line, not at the
/// table's header (a long `[env.prod]` has many keys).
#[test]
fn a_bad_env_value_is_reported_at_its_line() {
    let config = "default_env = \"dev\"\n\n[env.dev]\nnamespace = \"a\"\nregion = \"eu\"\nconfirm = \"sometimes\"\n";
    let f = Test::new()
        .config(config)
        .runbook("a", "# A\n\n```bash {#a}\necho a\n```\n")
        .args(["plan", "a"])
        .status(2)
        .run();
    let err = f.stderr.replace(&f.path().display().to_string(), "$DIR");
    assert!(
        err.starts_with("$DIR/runbook.toml:6: error: [env.dev] confirm = \"sometimes\": not a confirm policy\n"),
        "{err}"
    );
}

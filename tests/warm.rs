//! Warm interpreters (engine/src/runner/warm.rs): the next step's bash is
//! started ahead, waiting on an empty pipe. These tests pin what must not
//! change because of it: nothing of a step runs before its turn, a step gets
//! its own environment, directory and process group, and an interpreter not
//! used is gone with the play (or the engine).

use std::path::Path;
use std::process::Stdio;

use crate::common::*;
use crate::play::{alive, rb_cmd, text, wait_until, written_pid};

/// What the script descriptor (bash's 255) of the calling step is:
/// `pipe:[…]` from a warm interpreter, `/memfd:runbook-step …` otherwise.
const SCRIPT_FD: &str = r#"readlink /proc/$$/fd/255 | sed 's/:.*//'"#;

/// Does the engine warm interpreters on this machine (not on one CPU)?
fn warm_here() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Processes of this project's runs whose `RUNBOOK_STEP` is `step`.
fn step_processes(project: &Path, step: &str) -> Vec<i32> {
    let want_step = format!("RUNBOOK_STEP={step}");
    let run_dir = project.join(".runbook");
    let want_run = format!("RUNBOOK_RUN_DIR={}", run_dir.display());
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(env) = std::fs::read(e.path().join("environ")) else { continue };
        let vars: Vec<&[u8]> = env.split(|&b| b == 0).collect();
        let in_run = vars.iter().any(|kv| kv.starts_with(want_run.as_bytes()));
        if in_run && vars.contains(&want_step.as_bytes()) && alive(pid) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn steps_after_the_first_run_in_interpreters_started_ahead_with_their_own_env_and_group() {
    let t = Test::new()
        .runbook(
            "a",
            &format!(
                r#"
                ```bash {{#one}}
                echo "one $RUNBOOK_STEP $({SCRIPT_FD})"
                ```

                ```bash {{#two}}
                echo "two $RUNBOOK_STEP $({SCRIPT_FD}) $(basename "$PWD") group=$([ "$(ps -o pgid= $$ | tr -d ' ')" = $$ ] && echo own) stdin=$(readlink /proc/$$/fd/0)"
                ```
                "#
            ),
        )
        .file("sub/.keep", "")
        .args(["play", "a"])
        .run();
    let out = &t.stdout;
    assert!(out.contains("one one /memfd"), "{out}");
    let two = out.lines().find(|l| l.contains("two two")).unwrap_or_else(|| panic!("{out}"));
    let script = if warm_here() { "pipe" } else { "/memfd" };
    assert!(two.contains(&format!("two two {script}")), "step two came from a warm interpreter: {two}");
    assert!(two.contains("group=own stdin=/dev/null"), "{two}");
}

#[test]
fn runbook_warm_0_turns_them_off() {
    let t = Test::new()
        .runbook("a", &format!("```bash {{#one}}\ntrue\n```\n\n```bash {{#two}}\necho \"two $({SCRIPT_FD})\"\n```\n"))
        .env("RUNBOOK_WARM", "0")
        .args(["play", "a"])
        .run();
    assert!(t.stdout.contains("two /memfd"), "{}", t.stdout);
}

#[test]
fn with_bash_env_set_no_interpreter_starts_before_its_step() {
    // BASH_ENV is read when bash starts: a warm interpreter would read it
    // while step one still runs.
    let t = Test::new().file("hook.sh", "echo \"sourced $RUNBOOK_STEP\" >> \"$ORDER\"\n").runbook(
        "a",
        r#"
            ```bash {#one}
            sleep 0.3
            echo "one done" >> "$ORDER"
            ```

            ```bash {#two}
            echo "two ran" >> "$ORDER"
            ```
            "#,
    );
    let order = t.path().join("order");
    let hook = t.path().join("hook.sh");
    let t = t.env("BASH_ENV", &hook.to_string_lossy()).env("ORDER", &order.to_string_lossy()).args(["play", "a"]).run();
    assert_eq!(
        std::fs::read_to_string(&order).unwrap(),
        "sourced one\none done\nsourced two\ntwo ran\n",
        "{}",
        t.stdout
    );
}

#[test]
fn a_long_body_runs_from_a_memfd_and_the_warm_interpreter_is_dropped() {
    let long = format!("# {}\necho \"two $({SCRIPT_FD})\"", "x".repeat(3000));
    let t = Test::new()
        .runbook("a", &format!("```bash {{#one}}\ntrue\n```\n\n```bash {{#two}}\n{long}\n```\n"))
        .args(["play", "a"])
        .run();
    assert!(t.stdout.contains("two /memfd"), "{}", t.stdout);
}

#[test]
fn a_cwd_that_renders_differently_once_the_step_starts_is_the_one_it_runs_in() {
    // When step two's interpreter is warmed, step one is still running, so
    // its `cwd` renders as `.`: that interpreter is dropped, and the step
    // runs where its `cwd` says when its turn comes.
    let t = Test::new()
        .file("sub/.keep", "")
        .runbook(
            "a",
            r#"
            ```bash {#one}
            sleep 0.1
            ```

            ```bash {#two cwd="{{ 'sub' if steps.one.status == 'passed' else '.' }}"}
            echo "in $(basename "$PWD") $(SCRIPT)"
            ```
            "#
            .replace("SCRIPT", SCRIPT_FD)
            .as_str(),
        )
        .args(["play", "a"])
        .run();
    assert!(t.stdout.contains("in sub /memfd"), "{}", t.stdout);
}

#[test]
fn a_play_that_stops_kills_the_interpreter_it_warmed() {
    if !warm_here() {
        eprintln!("one CPU: no warm interpreters to look at");
        return;
    }
    // `one` fails while `slow` runs: no new step starts, so the interpreter
    // warmed for `two` (after `slow`) goes at once, not when the play ends.
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#one needs=}
        sleep 0.2
        exit 1
        ```

        ```bash {#slow needs= timeout=30s}
        echo $$ > slow.pid
        while [ ! -f go.flag ]; do sleep 0.01; done
        ```

        ```bash {#two}
        touch two.ran
        ```
        "#,
    );
    let child = rb_cmd(t.path(), &["play", "a"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    written_pid(t.path(), "slow.pid");
    wait_until("step two's warm interpreter", || !step_processes(t.path(), "two").is_empty());
    wait_until("the warm interpreter killed after `one` failed", || step_processes(t.path(), "two").is_empty());
    std::fs::write(t.path().join("go.flag"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!t.path().join("two.ran").exists(), "{}", text(&out));
}

#[test]
fn a_warm_interpreter_exits_by_itself_when_the_engine_is_killed() {
    if !warm_here() {
        eprintln!("one CPU: no warm interpreters to look at");
        return;
    }
    let t = Test::new().runbook(
        "a",
        r#"
        ```bash {#one timeout=30s}
        echo $$ > one.pid
        while [ ! -f go.flag ]; do sleep 0.01; done
        ```

        ```bash {#two}
        touch two.ran
        ```
        "#,
    );
    let mut child = rb_cmd(t.path(), &["play", "a"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let one = written_pid(t.path(), "one.pid");
    wait_until("step two's warm interpreter", || !step_processes(t.path(), "two").is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    // Its script's write end closed with the engine: it reads an empty script.
    wait_until("the warm interpreter to exit", || step_processes(t.path(), "two").is_empty());
    std::fs::write(t.path().join("go.flag"), "").unwrap();
    wait_until("step one to end", || !alive(one));
    assert!(!t.path().join("two.ran").exists());
}

#[test]
fn a_directory_made_again_by_the_step_before_is_the_one_the_next_step_runs_in() {
    // The interpreter warmed for `two` sits in `work` while `one` replaces
    // it: it is dropped, since a process in a removed directory can create
    // nothing there.
    let t = Test::new()
        .file("work/old", "")
        .runbook(
            "a",
            r#"
            ```bash {#one}
            sleep 0.05
            rm -rf work && mkdir work
            ```

            ```bash {#two cwd=work}
            touch made
            ```
            "#,
        )
        .args(["play", "a"])
        .run();
    assert!(t.path().join("work/made").exists(), "{}", t.stdout);
}

#[test]
fn a_step_after_a_long_one_gets_a_young_interpreter() {
    // bash's `$SECONDS` (wait loops bound by it) counts from the
    // interpreter's start: one warmed during a 1 s step would be a second
    // ahead. `two`'s interpreter must have started after `one` ended: its
    // start (from /proc, in clock ticks) is compared with the uptime `one`
    // wrote last, both on the boot clock, truncated to a tick.
    let t = Test::new()
        .runbook(
            "a",
            r#"
            ```bash {#one}
            sleep 1
            cut -d' ' -f1 /proc/uptime > one.end
            ```

            ```bash {#two}
            start=$(cut -d' ' -f22 /proc/$$/stat)
            echo "age: $(awk -v s="$start" -v hz="$(getconf CLK_TCK)" '{ print (s / hz + 0.5 / hz >= $1) ? "young" : "old" }' one.end)"
            ```
            "#,
        )
        .args(["play", "a"])
        .run();
    assert!(t.stdout.contains("age: young"), "{}", t.stdout);
}

#[test]
fn a_step_after_one_that_renames_the_host_sees_the_new_name() {
    // bash sets `$HOSTNAME` (when not inherited) as it starts: an
    // interpreter warmed before the rename would keep the old one. Needs
    // a UTS namespace of its own (root, or user namespaces) not to rename
    // this machine.
    let unshare = std::process::Command::new("unshare").args(["-u", "true"]).output();
    if !unshare.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: `unshare -u` is not allowed here");
        return;
    }
    let t = Test::new().runbook(
        "a",
        "```bash {#rename}\nhostname runbook-renamed\n```\n\n```bash {#check}\necho \"host=$HOSTNAME\"\n```\n",
    );
    let out = std::process::Command::new("unshare")
        .arg("-u")
        .arg(crate::common::bin())
        .args(["play", "a"])
        .current_dir(t.path())
        .env_remove("HOSTNAME")
        .env_remove("RUNBOOK_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("host=runbook-renamed"), "{}", text(&out));
}

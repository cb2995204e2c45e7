//! `list`, `show`, `graph`, id resolution, config discovery, completions.

use crate::common::*;

fn two() -> Test {
    Test::new()
        .runbook("2.1-head-stall", "# Head\n\n```bash {#a read}\necho a\n```\n\n```bash {#b needs=a}\necho b\n```\n")
        .runbook("2.2-rpc", "# RPC\n\n```bash {#a read}\necho a\n```\n")
        .file("runbooks/SUMMARY.md", "# Summary\n\n- [Head](2.1-head-stall.md)\n")
}

#[test]
fn list_human_and_json() {
    two().args(["list"]).stdout_has("2.1-head-stall").stdout_has("2.2-rpc").stdout_lacks("SUMMARY").run();
    let f = two().args(["list", "--json"]).run();
    let j = f.json();
    assert_eq!(j.as_array().unwrap().len(), 2);
    assert_eq!(j[0]["id"], "2.1-head-stall");
    assert_eq!(j[0]["steps"], 2);
    assert_eq!(j[0]["path"], "runbooks/2.1-head-stall.md");
}

#[test]
fn a_page_that_only_shows_step_syntax_is_wiki_not_a_runbook() {
    // SPEC §3: no front matter and no step. The quick test sees a fence
    // with `{`; the parse finds the step syntax only inside an example.
    let howto = "# Writing steps\n\n````markdown\n```bash {#pods read}\nkubectl get pods\n```\n````\n\n    ```bash {#indented}\n";
    let f = two().file("runbooks/howto.md", howto).args(["list", "--json"]).run();
    assert_eq!(f.json().as_array().unwrap().len(), 2, "{}", f.stdout);
    two().file("runbooks/howto.md", howto).args(["check"]).stdout_lacks("howto").run();
}

#[test]
fn list_reports_broken_runbooks_with_exit_2() {
    two()
        .runbook("bad", "# B\n\n```bash {#x nope}\n:\n```\n")
        .args(["list"])
        .status(2)
        .stdout_has("2.2-rpc")
        .stderr_has("bad.md:3")
        .run();
}

#[test]
fn list_reports_runbooks_whose_steps_do_not_order_as_plan_does() {
    // They parse, but `plan` and `check` refuse them (exit 2): a duplicate
    // step id, `needs=` naming no step, a cycle. `list` treats them as it
    // treats a file that does not parse, in both outputs.
    let broken = [
        ("dup", "# Dup\n\n```bash {#a}\n:\n```\n\n```bash {#a}\n:\n```\n"),
        ("missing", "# Missing\n\n```bash {#a needs=zz}\n:\n```\n"),
        ("cycle", "# Cycle\n\n```bash {#a needs=b}\n:\n```\n\n```bash {#b needs=a}\n:\n```\n"),
    ];
    let with_broken = || broken.iter().fold(two(), |t, (id, md)| t.runbook(id, md));
    let healthy = two().args(["list"]).run().stdout;
    let f = with_broken().args(["list"]).status(2).stdout(&healthy).run();
    let j = with_broken().args(["list", "--json"]).status(2).stdout(&two().args(["list", "--json"]).run().stdout).run();
    for (id, md) in broken {
        let plan = Test::new().runbook(id, md).args(["plan", id]).status(2).run().stderr;
        assert!(f.stderr.contains(&plan), "`plan {id}` says:\n{plan}\n`list` says:\n{}", f.stderr);
        assert!(j.stderr.contains(&plan), "`plan {id}` says:\n{plan}\n`list --json` says:\n{}", j.stderr);
    }
    assert!(f.stderr.contains("runbooks/dup.md:7: error: duplicate step id `a`"), "{}", f.stderr);
}

#[test]
fn many_runbooks_list_the_same_as_few() {
    // From 64 files on they are parsed in parallel: same list, same order,
    // broken ones reported the same way.
    let mut t = two().runbook("bad", "# B\n\n```bash {#x nope}\n:\n```\n");
    for i in 0..70 {
        t = t.runbook(&format!("gen-{i:03}"), &format!("# Gen {i}\n\n```bash {{#a read}}\necho {i}\n```\n"));
    }
    let f = t.args(["list", "--json"]).status(2).stderr_has("bad.md:3").run();
    let ids: Vec<String> = f.json().as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    let mut want = vec!["2.1-head-stall".to_string(), "2.2-rpc".to_string()];
    want.extend((0..70).map(|i| format!("gen-{i:03}")));
    assert_eq!(ids, want);
}

#[test]
fn unique_prefix() {
    two().args(["show", "2.1"]).stdout_has("2.1-head-stall — Head").run();
}

#[test]
fn ambiguous_prefix_lists_candidates() {
    two().args(["show", "2."]).status(2).stderr_has("matches 2 runbooks: 2.1-head-stall, 2.2-rpc").run();
}

#[test]
fn unknown_runbook() {
    two().args(["plan", "9.9"]).status(2).stderr_has("no runbook `9.9`").run();
}

#[test]
fn config_found_from_subdirectory() {
    two().file("sub/dir/keep", "").cwd("sub/dir").args(["list"]).stdout_has("2.2-rpc").run();
}

#[test]
fn explicit_missing_config() {
    two().args(["--config", "nope.toml", "list"]).status(2).stderr_has("config file not found").run();
}

/// `--config /dev/null`: no settings, the project is the current
/// directory; a directory is said to be one, not "not found".
#[test]
fn explicit_config_that_is_not_a_regular_file() {
    two().args(["--config", "/dev/null", "list"]).stdout_has("2.2-rpc").run();
    two()
        .file("conf.d/keep", "")
        .args(["--config", "conf.d", "list"])
        .status(2)
        .stderr("error: --config conf.d: is a directory, not a file\n  hint: pass the path of a runbook.toml, or drop --config to search upwards\n")
        .run();
}

#[test]
fn outside_any_project_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(bin())
        .arg("list")
        .current_dir(dir.path())
        .env_remove("RUNBOOK_CONFIG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no runbook.toml in ") && err.contains("or any directory above it"), "{err}");
}

#[test]
fn an_empty_default_is_shown_as_such() {
    Test::new()
        .runbook("v", "---\nvars:\n  proof: \"\"\n---\n# V\n\n```bash {#a}\necho {{ proof }}\n```\n")
        .args(["show", "v"])
        .stdout_has("proof: default \"\" (empty)")
        .run();
}

#[test]
fn a_yaml_error_gives_one_line_number_the_files() {
    Test::new()
        .runbook("y", "---\ntitle: x\nvars:\n  a: [1\n---\n```bash {#a}\necho\n```\n")
        .args(["plan", "y"])
        .status(2)
        .stderr_has("y.md:4: error: front matter: unclosed bracket '[' (column 6)")
        .stderr_lacks("at line")
        .run();
}

#[test]
fn invalid_config_names_line() {
    two().config("runbooks = \"runbooks\"\nbogus = 1\n").args(["list"]).status(2).stderr_has("runbook.toml:2").run();
}

#[test]
fn a_misspelt_confirm_or_guard_in_an_env_table_is_refused_not_taken_as_a_variable() {
    for (key, meant, line) in [
        ("confrim = \"write\"", "confirm", 4),
        ("Guard = { run = \"true\", expect = \"x\" }", "guard", 4),
        ("guards = 1", "guard", 4),
    ] {
        let f = two()
            .config(&format!("runbooks = \"runbooks\"\n[env.prod]\nnamespace = \"animica\"\n{key}\n"))
            .args(["list"])
            .status(2)
            .run();
        let first = f.stderr.lines().next().unwrap_or_default().to_string();
        let name = key.split(' ').next().unwrap();
        let first = first.strip_prefix(&format!("{}/", f.path().display())).unwrap_or(&first);
        assert_eq!(
            first,
            format!(
                "runbook.toml:{line}: error: [env.prod] `{name}`: did you mean `{meant}`? As written it is a variable, and env `prod` has no {meant}"
            ),
            "{}",
            f.stderr
        );
    }
    // Names further away stay variables.
    two()
        .config("runbooks = \"runbooks\"\n[env.prod]\nconfirmed = 1\nguard_url = \"x\"\nconfirm = \"write\"\n")
        .args(["list"])
        .run();
}

#[test]
fn an_empty_path_in_the_config_is_refused_and_an_unwritable_state_is_a_clear_error() {
    for key in ["runbooks", "fixtures", "state"] {
        let f = two().config(&format!("default_env = \"x\"\n{key} = \"\"\n[env.x]\n")).args(["list"]).status(2).run();
        let want = format!("runbook.toml:2: error: {key} = \"\": an empty path\n");
        assert!(f.stderr.contains(&want), "{key}: {}", f.stderr);
    }
    // A state directory that cannot be made: exit 2, naming the way out.
    two()
        .config("runbooks = \"runbooks\"\nstate = \"/proc/runbook-state\"\n")
        .args(["play", "2.2-rpc", "--yes"])
        .status(2)
        .stderr_has("error: cannot create /proc/runbook-state")
        .stderr_has("hint: the runs, logs and locks need a writable directory")
        .run();
}

#[test]
fn graph_dot_and_mermaid() {
    two().args(["graph", "2.1"]).stdout_has("digraph").stdout_has("\"a\" -> \"b\";").run();
    two().args(["graph", "2.1", "--format", "mermaid"]).stdout_has("flowchart TD").stdout_has("s0 --> s1").run();
}

#[test]
fn usage_error_is_exit_2() {
    two().args(["plan"]).status(2).run();
    two().args(["frobnicate"]).status(2).run();
}

#[test]
fn help_has_examples() {
    two().args(["--help"]).stdout_has("Examples:").run();
    two().args(["plan", "--help"]).stdout_has("runbook plan 2.1-head-stall --env devnet").run();
}

#[test]
fn completions() {
    two().args(["completions", "bash"]).stdout_has("_runbook").run();
}

#[test]
fn show_lists_needed_variables() {
    Test::new()
        .runbook("v", "---\nvars:\n  tail: 200\n---\n# V\n\n```bash {#a capture=rev}\necho {{ namespace }} {{ tail }} {{ pod }}\n```\n\n```bash {#b}\necho {{ rev }}\n```\n")
        .args(["show", "v"])
        .stdout_has("namespace: env devnet/prod")
        .stdout_has("tail: default 200")
        .stdout_has("pod: --set required")
        .stdout_has("rev: captured by a")
        .run();
}

#[test]
fn a_set_the_runbook_reads_nowhere_is_a_warning_with_did_you_mean() {
    let md = "---\nvars:\n  greeting: hi\n---\n# G\n\n```bash {#a}\necho {{ greeting }}\n```\n";
    for cmd in [&["play", "g", "--yes"][..], &["plan", "g"]] {
        Test::new()
            .runbook("g", md)
            .args(cmd.iter().copied())
            .args(["--set", "greting=yo", "--set", "greeting=hello"])
            .stderr_has("warning: --set greting: runbook `g` reads no variable `greting`; it is ignored\n  hint: did you mean `greeting`?\n")
            .stderr_lacks("--set greeting:")
            .run();
    }
}

#[test]
fn an_undefined_variable_with_no_env_chosen_names_the_envs_that_set_it() {
    let config = "[env.dev]\nnamespace = \"dev-ns\"\n\n[env.prod]\nnamespace = \"prod\"\n\n[env.lab]\nother = \"x\"\n";
    let md = "# K\n\n```bash {#a}\necho {{ namespace }}\n```\n";
    for cmd in [&["play", "k", "--yes"][..], &["plan", "k"], &["fixture", "new", "k", "--scenario", "s"]] {
        Test::new()
            .config(config)
            .runbook("k", md)
            .args(cmd.iter().copied())
            .status(2)
            .stderr_has("  hint: envs dev, prod set `namespace`: choose one with `--env` (no env was chosen); or ")
            .run();
    }
    // With an env chosen, the hint is the plain one.
    Test::new()
        .config(config)
        .runbook("k", md)
        .args(["play", "k", "--yes", "--env", "lab"])
        .status(2)
        .stderr_lacks("no env was chosen")
        .run();
}

/// Output that cannot be written (a full disk) is not a success: exit 1,
/// saying why. A closed pipe is the reader's choice and stays exit 0.
#[test]
fn output_that_cannot_be_written_is_exit_1_and_a_closed_pipe_is_not() {
    use crate::play::{rb, rb_cmd};
    let t = two();
    let dir = t.path();
    assert_eq!(rb(dir, &["play", "2.2-rpc", "--yes"]).status.code(), Some(0));
    let commands: [&[&str]; 6] = [
        &["list"],
        &["show", "2.2-rpc"],
        &["plan", "2.2-rpc"],
        &["runs"],
        &["report", "latest"],
        &["check", "--format", "junit"],
    ];
    for args in commands {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let o = rb_cmd(dir, args).stdout(full).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("error: writing the output failed: No space left on device"), "{args:?}: {err}");
        let mut c = rb_cmd(dir, args).stdout(std::process::Stdio::piped()).spawn().unwrap();
        drop(c.stdout.take());
        let status = c.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?} into a closed pipe");
    }
}

//! Contained rehearsals (SPEC §5, docs/containment.md): each escape a step
//! could try is played in a rehearsal, and the host is looked at afterwards.
//! Where user namespaces are refused the tests skip with a notice, and fail
//! under `CI=true` (`.ci/run` runs where they are allowed).

use std::path::Path;

use crate::common::*;

/// Whether this machine lets the rehearsal contain; says why not.
fn containable() -> bool {
    let ok = std::process::Command::new("unshare").args(["-Urmn", "true"]).status().is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "user namespaces are refused here (`unshare -Urmn true` failed): contained rehearsals cannot be tested"
        );
        eprintln!("notice: user namespaces refused here, skipping a containment test");
    }
    ok
}

/// A directory of the host that a contained step would see as it is: in
/// the build's temp dir, which must not lie below a directory the
/// container makes fresh (there, a write "vanishing" would prove nothing).
fn on_the_host(prefix: &str) -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let fresh = ["/tmp", "/var/tmp", "/run", "/dev/shm"];
    assert!(
        !fresh.iter().any(|f| base.starts_with(f)),
        "the build's temp dir {} lies below {}, which is fresh inside a contained rehearsal: \
         set CARGO_TARGET_DIR outside it to run the containment tests",
        base.display(),
        fresh.iter().find(|f| base.starts_with(f)).unwrap_or(&""),
    );
    tempfile::Builder::new().prefix(prefix).tempdir_in(base).unwrap()
}

/// A marker no other test or process uses.
fn marker(what: &str) -> String {
    format!("runbook-escape-{what}-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish() % 1_000_000_007
}

/// A runbook of one `bash` step per body, a fixture with one scenario that
/// expects every step `passed` with `stubs` (TOML `[[scenario.stub]]`s).
fn project(bodies: &[&str], stubs: &str) -> Test {
    let mut md = String::from("# Escape\n\n");
    let mut steps = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        md.push_str(&format!("```bash {{#s{i}}}\n{b}\n```\n\n"));
        steps.push(format!("s{i} = \"passed\""));
    }
    let fx = format!(
        "[[scenario]]\nname = \"escape\"\n{stubs}\n[scenario.expect]\noutcome = \"passed\"\nsteps = {{ {} }}\n",
        steps.join(", ")
    );
    Test::new().file("runbooks/escape.md", &md).file("fixtures/escape.toml", &fx)
}

#[test]
fn writes_to_tmp_home_etc_root_and_the_repo_vanish() {
    if !containable() {
        return;
    }
    let m = marker("write");
    // Not below /tmp, which is fresh inside anyway: $HOME itself must be.
    let home = on_the_host("runbook-home-");
    let real_home = home.path().display().to_string();
    let bodies = [
        format!("echo x > /tmp/{m}"),
        format!("echo x > \"$HOME/{m}\"; echo x > {real_home}/{m}"),
        format!("echo x > /etc/{m}"),
        format!("cd / && touch {m}"),
        format!("echo x > {m}.txt && mkdir -p build && echo y > build/{m}"),
        // Within the scenario, writes behave as in reality.
        format!("test -s /tmp/{m} && test -s /etc/{m} && test -s {m}.txt && test -s build/{m}"),
    ];
    let b: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let f = project(&b, "").env("HOME", &real_home).args(["check", "--contained"]).stdout_lacks("not contained").run();
    for p in [format!("/tmp/{m}"), format!("/etc/{m}"), format!("/{m}"), format!("{real_home}/{m}")] {
        assert!(!Path::new(&p).exists(), "{p} was written on the host");
    }
    assert!(!f.path().join(format!("{m}.txt")).exists(), "the repo was written");
    assert!(!f.path().join("build").exists(), "the repo was written");
}

#[test]
fn a_tool_called_by_absolute_path_is_stubbed() {
    if !containable() {
        return;
    }
    // Whether or not they are installed here, both paths answer from the stubs.
    let stubs = r#"
  [[scenario.stub]]
  cmd = "curl -fsS https://prod.example/api"
  stdout = "stubbed-curl"
  [[scenario.stub]]
  cmd = "kubectl get pods"
  stdout = "stubbed-kubectl"
"#;
    project(
        &[
            "test \"$(/usr/bin/curl -fsS https://prod.example/api)\" = stubbed-curl",
            "test \"$(/usr/local/bin/kubectl get pods)\" = stubbed-kubectl",
            "test \"$(\"$(command -v curl)\" -fsS https://prod.example/api)\" = stubbed-curl",
        ],
        stubs,
    )
    .args(["check", "--contained"])
    .run();
}

#[test]
fn the_hosts_loopback_is_out_of_reach() {
    if !containable() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let body =
        format!("if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; then echo reached; exit 1; fi; echo refused");
    project(&[&body], "").args(["check", "--contained"]).run();
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the host's listener was reached: {other:?}"),
    }
}

/// Processes whose command line holds `m`, on the host.
fn running(m: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(m))
        .count()
}

#[test]
fn a_daemon_that_outlives_its_step_ends_with_the_scenario() {
    if !containable() {
        return;
    }
    let m = marker("daemon");
    let start = format!("setsid nohup bash -c 'exec -a {m} sleep 3000' >/dev/null 2>&1 < /dev/null &");
    // It outlives its step within the scenario, as it would in reality.
    let seen = format!("for _ in $(seq 100); do pgrep -f {m} >/dev/null && exit 0; sleep 0.05; done; exit 1");
    project(&[&start, &seen], "").args(["check", "--contained"]).run();
    assert_eq!(running(&m), 0, "a process of the scenario outlived it");
}

#[test]
fn a_contained_check_leaves_nothing_in_the_temporary_directory() {
    if !containable() {
        return;
    }
    let tmp = tempfile::Builder::new().prefix("runbook-tmpdir-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // Stages left by engines that were killed: one whose pid cannot exist
    // (at or above pid_max) goes; one of a live process (this test) stays.
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    let dead = tmp.path().join(format!("runbook-contain-{pid_max}-a1b2c3"));
    let live = tmp.path().join(format!("runbook-contain-{}-d4e5f6", std::process::id()));
    std::fs::create_dir(&dead).unwrap();
    std::fs::create_dir(&live).unwrap();
    let tmpdir = tmp.path().to_str().unwrap();
    // Two scenarios, two workers: two holders, idle in the pool at the end.
    let fx = "[[scenario]]\nname = \"one\"\n\n[[scenario]]\nname = \"two\"\n";
    project(&["echo x > \"$TMPDIR/f\""], "")
        .file("fixtures/escape.toml", fx)
        .env("TMPDIR", tmpdir)
        .args(["check", "--contained", "--jobs", "2"])
        .run();
    let mut left: Vec<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, [live.file_name().unwrap().to_string_lossy().into_owned()]);
}

/// Stages named before they carried their engine's pid
/// (`runbook-contain-XXXXXX`) go once clearly abandoned: a directory of this
/// user, empty, untouched for `RUNBOOK_CONTAIN_SWEEP_AGE`, mounted in no
/// namespace. One a live holder has its tmpfs on stays however old, and so
/// do a new one, one with something in it, a link and another user's.
#[test]
fn stages_without_a_pid_are_swept_when_abandoned_never_while_mounted() {
    if !containable() {
        return;
    }
    let tmp = tempfile::Builder::new().prefix("runbook-tmpdir-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let stage = |n: &str| tmp.path().join(format!("runbook-contain-{n}"));
    for n in ["abandn", "newone", "inuse1", "full01", "others"] {
        std::fs::create_dir(stage(n)).unwrap();
    }
    std::fs::write(stage("full01").join("keep"), "").unwrap();
    std::os::unix::fs::symlink(stage("abandn"), stage("link01")).unwrap();
    let root = nix::unistd::geteuid().is_root();
    if root {
        std::os::unix::fs::chown(stage("others"), Some(65534), Some(65534)).unwrap();
    }
    // A holder of an engine from before: its tmpfs on its stage, in its namespace.
    let mut holder = hold_a_mount(&stage("inuse1"), "");
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for n in ["abandn", "inuse1", "full01", "others"] {
        std::fs::File::open(stage(n)).unwrap().set_modified(two_hours_ago).unwrap();
    }
    project(&["true"], "")
        .env("TMPDIR", tmp.path().to_str().unwrap())
        .env("RUNBOOK_CONTAIN_SWEEP_AGE", "1h")
        .args(["check", "--contained"])
        .run();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut left: Vec<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    let mut want =
        vec!["runbook-contain-full01", "runbook-contain-inuse1", "runbook-contain-link01", "runbook-contain-newone"];
    if root {
        want.push("runbook-contain-others");
    }
    assert_eq!(left, want);
}

#[test]
fn ctrl_c_during_a_contained_check_leaves_no_stage_behind() {
    use std::os::unix::process::CommandExt;
    if !containable() {
        return;
    }
    let tmp = tempfile::Builder::new().prefix("runbook-tmpdir-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // The step says it runs in its scratch home (on the host, below $TMPDIR), then waits.
    let t = project(&["touch \"$HOME/running\"; sleep 1000"], "");
    let mut child = crate::play::rb_cmd(t.path(), &["check", "--contained"])
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let running = || std::fs::read_dir(tmp.path()).unwrap().flatten().any(|e| e.path().join("home/running").exists());
    crate::play::wait_until("the contained step to start", running);
    // As a terminal does: the whole foreground process group, the holder included.
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGINT).unwrap();
    child.wait().unwrap();
    let stages: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("runbook-contain-"))
        .collect();
    assert_eq!(stages, Vec::<String>::new(), "a holder's stage outlived the engine");
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A scenario that writes where the holder must make things fresh again
/// after it (`/tmp`, `/etc`, the engine's home, hidden under a tmpfs with
/// its tools' directories overlaid back), and calls stubbed tools: the
/// holder may still be at work when the engine is done. Its stage must be
/// gone after every play, never left with a root written onto the host.
#[test]
fn contained_plays_one_after_the_other_leave_nothing_in_the_temporary_directory() {
    if !containable() {
        return;
    }
    let tmp = tempfile::Builder::new().prefix("runbook-tmpdir-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let stubs = "[[scenario.stub]]\ncmd = \"kubectl get pods\"\nstdout = \"pod-a\"\n\
                 [[scenario.stub]]\ncmd = \"curl *\"\nstdout = \"ok\"\n";
    let body = "kubectl get pods && curl -s https://example.invalid; echo x > /tmp/f; echo y > /etc/rb-x";
    let t = project(&[body], stubs);
    let home = std::env::var("HOME").unwrap_or_default();
    let t =
        t.file("runbooks/escape.md", &format!("# Escape\n\n```bash {{#s0}}\n{body}\necho z > '{home}/rb-z'\n```\n"));
    for i in 0..30 {
        // Every other play, the holder makes things fresh once the engine is done (debug builds).
        let fault = if i % 2 == 0 { "contain-late-reset:1" } else { "" };
        let o = crate::play::rb_cmd(t.path(), &["play", "escape", "--dry-run"])
            .env("TMPDIR", tmp.path())
            .env("RUNBOOK_FAULT", fault)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", crate::play::text(&o));
        assert_eq!(names_in(tmp.path()), Vec::<String>::new(), "left after play {i}");
    }
}

/// A stage left with content by an engine that is gone goes, with what it
/// holds, links removed and never followed; one of a live engine stays, and
/// so does one with a mount below it in some namespace (with that mount's
/// files).
#[test]
fn a_dead_engine_s_stage_with_content_goes_but_not_through_a_link_or_a_mount() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    if !containable() {
        return;
    }
    let tmp = tempfile::Builder::new().prefix("runbook-tmpdir-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let outside = on_the_host("runbook-outside-");
    std::fs::write(outside.path().join("keep"), "keep").unwrap();
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    let dead = tmp.path().join(format!("runbook-contain-{pid_max}-a1b2c3"));
    let mounted = tmp.path().join(format!("runbook-contain-{pid_max}-m0unt1"));
    let live = tmp.path().join(format!("runbook-contain-{}-d4e5f6", std::process::id()));
    // As a holder leaves it: a root with the stubs linked, an overlay's work dir (mode 000).
    for stage in [&dead, &mounted, &live] {
        std::fs::create_dir_all(stage.join("root/usr/local/bin")).unwrap();
        std::fs::create_dir_all(stage.join("root/root/tmp")).unwrap();
        std::fs::create_dir_all(stage.join("layers/home0/2/w/work")).unwrap();
        std::fs::write(stage.join("root/root/tmp/f"), "x").unwrap();
        symlink("/usr/bin/true", stage.join("root/usr/local/bin/kubectl")).unwrap();
        symlink(outside.path(), stage.join("root/out")).unwrap();
        symlink(outside.path().join("keep"), stage.join("root/keep")).unwrap();
        std::fs::set_permissions(stage.join("layers/home0/2/w/work"), std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    // A holder still at work: its tmpfs below the stage, in its namespace.
    let mut holder = hold_a_mount(&mounted.join("root/root/tmp"), "&& echo x > \"$1/in\" ");
    project(&["true"], "").env("TMPDIR", tmp.path().to_str().unwrap()).args(["check", "--contained"]).run();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    let mut want = vec![name(&mounted), name(&live)];
    want.sort();
    assert_eq!(names_in(tmp.path()), want);
    assert_eq!(names_in(outside.path()), ["keep"]);
    assert_eq!(std::fs::read_to_string(outside.path().join("keep")).unwrap(), "keep");
    assert!(live.join("root/root/tmp/f").exists() && mounted.join("root/root/tmp/f").exists());
    for stage in [&mounted, &live] {
        std::fs::set_permissions(stage.join("layers/home0/2/w/work"), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}

#[test]
fn a_symlink_out_of_the_scratch_tree_leads_nowhere() {
    if !containable() {
        return;
    }
    let m = marker("link");
    let outside = on_the_host("runbook-outside-");
    let o = outside.path().display();
    let bodies = [
        format!("ln -s {o} \"$TMPDIR/out\" && echo x > \"$TMPDIR/out/{m}\""),
        format!("ln -s /etc/{m} \"$HOME/etc-link\" && echo x > \"$HOME/etc-link\""),
    ];
    let b: Vec<&str> = bodies.iter().map(String::as_str).collect();
    project(&b, "").args(["check", "--contained"]).run();
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "written through a symlink");
    assert!(!Path::new(&format!("/etc/{m}")).exists());
}

#[test]
fn uncontained_says_so_first_and_check_contained_fails() {
    let t = || project(&["true"], "").env("RUNBOOK_CONTAIN", "0");
    let f = t().args(["play", "escape", "--dry-run"]).run();
    assert_eq!(f.stdout.lines().next(), Some("=== not contained: RUNBOOK_CONTAIN=0"), "{}", f.stdout);
    assert!(f.stdout.contains("NOT contained"));
    t().args(["check"]).stdout_has("=== not contained: RUNBOOK_CONTAIN=0").run();
    t().args(["check", "--contained"])
        .status(1)
        .stderr_has("check --contained: rehearsals could not be contained: RUNBOOK_CONTAIN=0")
        .run();
}

#[test]
fn contained_rehearsal_says_so() {
    if !containable() {
        return;
    }
    project(&["true"], "")
        .args(["play", "escape", "--dry-run"])
        .stdout_has("stubbed tools, contained")
        .stdout_lacks("not contained")
        .run();
}

#[test]
fn stub_entries_never_write_outside_the_scratch_tree() {
    let m = marker("stub");
    let abs = format!("/usr/local/bin/{m}");
    // `..`: refused with the config's line, nothing written.
    let config = format!("{}\n", CONFIG.replace(r#"stub = ["kubectl", "helm", "curl"]"#, r#"stub = ["../x.sh"]"#));
    project(&["true"], "")
        .config(&config)
        .args(["check"])
        .status(2)
        .stderr_has("[rehearse] stub \"../x.sh\": not a program or path")
        .stderr_has("runbook.toml:")
        .run();
    // Absolute: answered (by its file name uncontained, at its path contained), never written on the host.
    let config = CONFIG.replace(r#"stub = ["kubectl", "helm", "curl"]"#, &format!(r#"stub = ["{abs}"]"#));
    let stubs = format!("  [[scenario.stub]]\n  cmd = \"{m} version\"\n  stdout = \"v1\"\n");
    for contain in ["1", "0"] {
        project(&[&format!("test \"$({m} version)\" = v1")], &stubs)
            .config(&config)
            .env("RUNBOOK_CONTAIN", contain)
            .args(["check"])
            .run();
        assert!(!Path::new(&abs).exists(), "{abs} was written (RUNBOOK_CONTAIN={contain})");
    }
}

#[test]
fn a_worker_s_next_scenario_sees_nothing_of_the_one_before() {
    if !containable() {
        return;
    }
    // Two scenarios on one worker (`--jobs 1`), in either order: each writes
    // everywhere and leaves a daemon, then finds nothing of the other's.
    let (a, b) = (marker("first"), marker("second"));
    let home = on_the_host("runbook-home-");
    let real_home = home.path().display().to_string();
    let places = |m: &str| {
        [
            format!("/tmp/{m}"),
            format!("/run/{m}"),
            format!("/var/tmp/{m}"),
            format!("/dev/shm/{m}"),
            format!("/etc/{m}"),
            format!("\"$HOME\"/{m}"),
            format!("{real_home}/{m}"),
            format!("{m}.txt"),
        ]
    };
    let write: Vec<String> = places("{{ mine }}").iter().map(|p| format!("echo x > {p}")).collect();
    let absent: Vec<String> = places("{{ theirs }}").iter().map(|p| format!("test ! -e {p}")).collect();
    // Its own name: `pgrep` would find itself (its pid differs inside the
    // PID namespace from the host's `/proc`).
    let daemon = "setsid nohup bash -c 'exec -a \"$0\" sleep 3000' {{ mine }}-daemon >/dev/null 2>&1 < /dev/null &";
    let alive = "t={{ theirs }}-daemon\nfor c in /proc/[0-9]*/cmdline; do a=; read -r -d '' a < \"$c\" 2>/dev/null || true; if [ \"$a\" = \"$t\" ]; then echo alive; exit 1; fi; done";
    let md = format!(
        "---\nvars:\n  mine: x\n  theirs: y\n---\n# Two\n\n```bash {{#write}}\n{}\n{daemon}\n```\n\n```bash {{#look}}\n{}\n{alive}\n```\n",
        write.join("\n"),
        absent.join("\n")
    );
    let scenario = |name: &str, mine: &str, theirs: &str| {
        format!(
            "[[scenario]]\nname = \"{name}\"\nvars = {{ mine = \"{mine}\", theirs = \"{theirs}\" }}\n[scenario.expect]\noutcome = \"passed\"\nsteps = {{ write = \"passed\", look = \"passed\" }}\n\n"
        )
    };
    let fx = scenario("a", &a, &b) + &scenario("b", &b, &a);
    Test::new()
        .file("runbooks/two.md", &md)
        .file("fixtures/two.toml", &fx)
        .env("HOME", &real_home)
        .args(["check", "--contained", "--jobs", "1"])
        .stdout_has("2 scenarios rehearsed, 0 failed")
        .run();
    assert_eq!(running(&a) + running(&b), 0, "a process of a scenario outlived it");
}

#[test]
fn no_process_of_the_host_leads_a_step_out() {
    if !containable() {
        return;
    }
    // Through any process the host's `/proc` shows (the holder's
    // namespaces included), a write must not reach the host.
    let m = marker("proc");
    let outside = on_the_host("runbook-outside-");
    let o = outside.path().display();
    let body = format!(
        "for p in /proc/[0-9]*; do echo x 2>/dev/null > \"$p/root{o}/{m}\" || true; echo x 2>/dev/null > \"$p/cwd/{m}\" || true; done"
    );
    project(&[&body], "").args(["check", "--contained"]).run();
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "written through another process's root");
}

/// A process of the test's own (so of the engine's user), named `m`.
fn victim(m: &str) -> std::process::Child {
    std::process::Command::new("bash").args(["-c", &format!("exec -a {m} sleep 3000")]).spawn().unwrap()
}

#[test]
fn a_step_cannot_signal_a_process_outside_its_scenario() {
    if !containable() {
        return;
    }
    // The step's shell runs outside the scenario's PID namespace (only its
    // children are in it): by number from the shell, by name, and by a
    // program the shell `exec`s. Never `kill -1` here: were the scope
    // broken, it would end every process of the user.
    let marks = [marker("signal-number"), marker("signal-name"), marker("signal-exec")];
    let mut victims: Vec<_> = marks.iter().map(|m| victim(m)).collect();
    let pids: Vec<u32> = victims.iter().map(|v| v.id()).collect();
    let bodies = [
        format!("kill -TERM {} 2>/dev/null || echo refused", pids[0]),
        format!("pkill -f {} || echo refused", marks[1]),
        format!("exec perl -e 'kill(q(TERM), {}); exit 0'", pids[2]),
        // Its own processes it still can signal.
        "sleep 100 & p=$!; kill -TERM $p; wait $p || [ $? = 143 ]".to_string(),
    ];
    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let out = project(&refs, "").args(["check", "--contained"]).run();
    let unscoped = out.stdout.contains("=== signals not scoped");
    let dead: Vec<&String> =
        marks.iter().zip(&mut victims).filter_map(|(m, v)| v.try_wait().unwrap().map(|_| m)).collect();
    for v in &mut victims {
        let _ = v.kill();
        let _ = v.wait();
    }
    if unscoped {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "this kernel cannot scope signals:\n{}", out.stdout);
        eprintln!("notice: this kernel cannot scope a step's signals (Landlock ABI 6), skipping");
        return;
    }
    assert!(dead.is_empty(), "a contained step signalled a host process: {dead:?}\n{}", out.stdout);
}

/// `check` or `play --dry-run` of two scenarios, the first of which waits:
/// a SIGINT to the engine alone (a supervisor's, not a terminal's) during
/// the first ends the command with 130, the second never played.
fn interrupted_rehearsal(args: &[&str]) -> (Option<i32>, String) {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::Builder::new().prefix("runbook-tmpdir-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // The second scenario would end at once: played, it shows in the output.
    let md = "---\nvars:\n  wait: 0\n---\n```bash {#wait}\ntouch \"$HOME/running\"; sleep {{ wait }}\n```\n";
    let fx = "[[scenario]]\nname = \"first\"\nvars = { wait = \"1000\" }\n\n[[scenario]]\nname = \"second\"\n";
    let t = Test::new().file("runbooks/slow.md", md).file("fixtures/slow.toml", fx);
    let child = crate::play::rb_cmd(t.path(), args)
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let homes = || {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten().flatten())
            .filter(|e| e.path().join("running").exists())
            .count()
    };
    crate::play::wait_until("the first scenario's step to start", || homes() > 0);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let o = child.wait_with_output().unwrap();
    (o.status.code(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn a_signal_stops_check_and_a_rehearsal_with_130() {
    for args in [&["check", "--jobs", "1"][..], &["play", "slow", "--dry-run"][..]] {
        let (code, out) = interrupted_rehearsal(args);
        assert_eq!(code, Some(130), "{args:?}\n{out}");
        assert!(out.contains("interrupted: "), "{args:?}\n{out}");
        assert!(!out.contains("scenario second"), "the second scenario played after the signal: {args:?}\n{out}");
    }
}

/// A scenario cut short by a signal is said to be interrupted, never to
/// have failed its expectations (docs/decisions.md); exit 130 all the same.
#[test]
fn an_interrupted_rehearsal_says_so_and_not_that_it_failed() {
    let (code, out) = interrupted_rehearsal(&["play", "slow", "--dry-run"]);
    assert_eq!(code, Some(130), "{out}");
    let said: Vec<&str> = out.lines().filter(|l| l.starts_with("=== REHEARSAL ") && !l.contains(" — ")).collect();
    assert_eq!(said, ["=== REHEARSAL interrupted: scenario first was cut short: neither passed nor failed"], "{out}");
    assert!(!out.contains("FAILED") && !out.contains("expected outcome"), "{out}");
}

/// A home of the host (outside every fresh directory, so that only the
/// hiding of the home hides it) with credentials in `.ssh` and `.aws`, a
/// tool in `bin/` and a python as pyenv installs one: a shim in
/// `.pyenv/shims` that runs an interpreter of `.pyenv/versions`.
fn home_with_secrets() -> (tempfile::TempDir, String) {
    let home = on_the_host("runbook-home-");
    let h = home.path();
    let secret = marker("ssh-key");
    for (rel, text) in [(".ssh/id_rsa", secret.as_str()), (".aws/credentials", secret.as_str())] {
        std::fs::create_dir_all(h.join(rel).parent().unwrap()).unwrap();
        std::fs::write(h.join(rel), text).unwrap();
    }
    let python = std::fs::canonicalize(which("python3")).unwrap();
    std::fs::create_dir_all(h.join(".pyenv/versions/3/bin")).unwrap();
    std::os::unix::fs::symlink(&python, h.join(".pyenv/versions/3/bin/python3")).unwrap();
    let shim = format!("#!/bin/sh\nexec {}/.pyenv/versions/3/bin/python3 \"$@\"\n", h.display());
    for (rel, text) in [(".pyenv/shims/python3", shim.as_str()), ("bin/mytool", "#!/bin/sh\necho tool-ran\n")] {
        std::fs::create_dir_all(h.join(rel).parent().unwrap()).unwrap();
        std::fs::write(h.join(rel), text).unwrap();
        std::fs::set_permissions(h.join(rel), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    (home, secret)
}

/// The first `prog` on this process's `PATH`.
fn which(prog: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no {prog} on PATH"))
}

/// The python interpreter itself, not a version manager's shim script
/// (which runs an interpreter elsewhere, as `sys.executable` says).
fn python_binary() -> std::path::PathBuf {
    let o = std::process::Command::new(which("python3"))
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    std::fs::canonicalize(String::from_utf8(o.stdout).unwrap().trim_end()).unwrap()
}

/// `PATH` with `dirs` first.
fn path_with(dirs: &[std::path::PathBuf]) -> String {
    let rest = std::env::split_paths(&std::env::var_os("PATH").unwrap()).collect::<Vec<_>>();
    std::env::join_paths(dirs.iter().cloned().chain(rest)).unwrap().into_string().unwrap()
}

/// The files of the test builder's project, copied to `to`.
fn copy_project(t: &Test, to: &Path) {
    for rel in ["runbook.toml", "runbooks/escape.md", "fixtures/escape.toml"] {
        std::fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(t.path().join(rel), to.join(rel)).unwrap();
    }
}

#[test]
fn the_home_is_hidden_even_with_the_repo_below_it_but_its_tools_are_not() {
    if !containable() {
        return;
    }
    let (home, secret) = home_with_secrets();
    let h = home.path();
    let hd = h.display();
    let bodies = [
        format!("test ! -e {hd}/.ssh/id_rsa && test ! -e {hd}/.aws && ! ls {hd}/.ssh"),
        // The repo (the working directory) is there, below the hidden home.
        "test -s runbook.toml && test -s runbooks/escape.md && pwd".to_string(),
        // A tool of a PATH directory below the home, and a pyenv python.
        "test \"$(mytool)\" = tool-ran && python3 -c 'print(6 * 7)'".to_string(),
    ];
    let b: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let t = project(&b, "");
    let proj = h.join("proj");
    copy_project(&t, &proj);
    // A python step's interpreter is the pyenv shim.
    let md = std::fs::read_to_string(proj.join("runbooks/escape.md")).unwrap();
    std::fs::write(proj.join("runbooks/escape.md"), format!("{md}```python {{#py}}\nprint('py', 6 * 7)\n```\n"))
        .unwrap();
    let path = path_with(&[h.join("bin"), h.join(".pyenv/shims")]);
    // The scratch tree below the home too (`TMPDIR`), or the repo elsewhere
    // (a home below a top-level directory, as `/home/alice` is): hidden
    // all the same.
    std::fs::create_dir(h.join("tmp")).unwrap();
    std::fs::write(t.path().join("runbooks/escape.md"), std::fs::read(proj.join("runbooks/escape.md")).unwrap())
        .unwrap();
    let elsewhere = std::fs::canonicalize(t.path()).unwrap();
    for (proj, tmpdir) in [(&proj, std::env::temp_dir()), (&proj, h.join("tmp")), (&elsewhere, std::env::temp_dir())] {
        let o = crate::play::rb_cmd(proj, &["play", "escape", "--dry-run"])
            .env("HOME", h)
            .env("PATH", &path)
            .env("TMPDIR", &tmpdir)
            .output()
            .unwrap();
        let out = crate::play::text(&o);
        assert_eq!(o.status.code(), Some(0), "TMPDIR={}: {out}", tmpdir.display());
        assert!(out.contains("stubbed tools, contained") && !out.contains("not contained"), "{out}");
        assert!(out.contains(&format!("[s1] {}\n", proj.display())), "{out}");
        assert!(out.contains("[s2] 42\n") && out.contains("[py] py 42\n"), "{out}");
        assert!(!out.contains(&secret), "a secret of the home was read: {out}");
    }
}

#[test]
fn a_python_step_runs_its_body_with_python3_stubbed_and_its_calls_still_hit_the_stub() {
    // A shim as a version manager's for the system python: it looks
    // `python3` up again on PATH, its own directory left out (where a
    // rehearsal's stubs come first).
    let shims = on_the_host("runbook-shims-");
    let shim = shims.path().join("python3");
    std::fs::write(
        &shim,
        "#!/bin/sh\nd=$(dirname \"$0\")\nPATH=$(printf %s \"$PATH\" | tr : '\\n' | grep -vx \"$d\" | paste -sd: -) exec python3 \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let md = "# Py\n\n```python {#calc read}\nprint('real', 6 * 7)\n```\n\n```bash {#inner read}\npython3 -c 'print(1)'\n```\n";
    let fx = "[[scenario]]\nname = \"s\"\n[scenario.expect]\nsteps = { calc = \"passed\", inner = \"passed\" }\n\
              [[scenario.stub]]\ncmd = \"python3 -c *\"\nstdout = \"stubbed\\n\"\n";
    let t = Test::new()
        .config("default_env = \"dev\"\n[env.dev]\n[rehearse]\nstub = [\"kubectl\", \"python3\"]\n")
        .file("runbooks/py.md", md)
        .file("fixtures/py.toml", fx);
    let path = path_with(&[shims.path().to_path_buf()]);
    let contain: &[&str] = if containable() { &["1", "0"] } else { &["0"] };
    for c in contain {
        let o = crate::play::rb_cmd(t.path(), &["play", "py", "--dry-run"])
            .env("PATH", &path)
            .env("RUNBOOK_CONTAIN", c)
            .output()
            .unwrap();
        let out = crate::play::text(&o);
        assert_eq!(o.status.code(), Some(0), "RUNBOOK_CONTAIN={c}: {out}");
        assert!(out.contains("[calc] real 42\n"), "the real body ran: {out}");
        assert!(out.contains("[inner] stubbed\n"), "the body's python3 is the stub: {out}");
        assert!(!out.contains("no fixture for"), "{out}");
        let o =
            crate::play::rb_cmd(t.path(), &["check"]).env("PATH", &path).env("RUNBOOK_CONTAIN", c).output().unwrap();
        let out = crate::play::text(&o);
        assert_eq!(o.status.code(), Some(0), "check, RUNBOOK_CONTAIN={c}: {out}");
        assert!(out.contains("1 scenario rehearsed, 0 failed"), "{out}");
    }
}

#[test]
fn an_interpreter_the_hidden_home_holds_says_so_and_what_to_do() {
    if !containable() {
        return;
    }
    let (home, _) = home_with_secrets();
    let h = home.path();
    // On PATH, but a link into a directory of the home nothing shows.
    std::fs::create_dir_all(h.join(".local/bin")).unwrap();
    std::fs::create_dir_all(h.join("conda/bin")).unwrap();
    std::os::unix::fs::symlink(python_binary(), h.join("conda/bin/python3")).unwrap();
    std::os::unix::fs::symlink(h.join("conda/bin/python3"), h.join(".local/bin/python3")).unwrap();
    let t = project(&[], "").file("runbooks/escape.md", "# P\n\n```python {#py}\nprint('py')\n```\n");
    let proj = h.join("proj");
    copy_project(&t, &proj);
    let o = crate::play::rb_cmd(&proj, &["play", "escape", "--dry-run"])
        .env("HOME", h)
        .env("PATH", path_with(&[h.join(".local/bin")]))
        .output()
        .unwrap();
    let out = crate::play::text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let hd = h.display();
    let want = format!(
        "  failed: py — cannot start {hd}/.local/bin/python3 in {}: No such file or directory (os error 2): it lies \
         in the home directory {hd} (through {hd}/conda/bin/python3), which a contained rehearsal hides but for the \
         repo, the PATH directories and the version managers' roots below it (~/.pyenv, ~/.rustup, …; \
         docs/containment.md): install the interpreter system-wide, put its directory on PATH, or rehearse \
         uncontained while debugging (RUNBOOK_CONTAIN=0)\n",
        proj.display()
    );
    assert!(out.contains(&want), "{want}\nnot in:\n{out}");
}

#[test]
fn a_rehearsed_step_sees_no_variable_of_the_engine_but_the_allowed_ones() {
    let secret = marker("env-token");
    let stubs = "  [[scenario.stub]]\n  cmd = \"kubectl get pods\"\n  stdout = \"pod-a\"\n";
    let bodies = [
        "test -z \"${FRESHD_SECRET_TOKEN:-}\" && test -z \"${RUNBOOK_VAR_unread:-}\" && test -z \"${AWS_PROFILE:-}\"",
        "env | grep -ci token || true",
        // PATH works (bash's own tools, the stubs first), and the locale passes.
        "command -v bash >/dev/null && test \"$(kubectl get pods)\" = pod-a && echo \"lang=$LANG tz=$TZ\"",
    ];
    for contain in ["1", "0"] {
        if contain == "1" && !containable() {
            continue;
        }
        let t = || {
            project(&bodies, stubs)
                .env("RUNBOOK_CONTAIN", contain)
                .env("FRESHD_SECRET_TOKEN", &secret)
                .env("RUNBOOK_VAR_unread", &secret)
                .env("AWS_PROFILE", &secret)
                .env("LANG", "C.UTF-8")
                .env("TZ", "UTC")
                .stdout_lacks(&secret)
                .stderr_lacks(&secret)
        };
        t().args(["play", "escape", "--dry-run"]).stdout_has("[s1] 0\n").stdout_has("[s2] lang=C.UTF-8 tz=UTC\n").run();
        t().args(["check", "--format", "json"]).run();
    }
}

#[test]
fn rehearse_env_passes_the_named_variables_and_shows_their_directories_in_the_hidden_home() {
    let home = on_the_host("runbook-home-");
    let h = home.path();
    let secret = marker("env-token");
    std::fs::create_dir_all(h.join(".ssh")).unwrap();
    std::fs::write(h.join(".ssh/id_rsa"), &secret).unwrap();
    std::fs::create_dir_all(h.join("jdk/bin")).unwrap();
    std::fs::write(h.join("jdk/bin/javaish"), "#!/bin/sh\necho jdk-ran\n").unwrap();
    std::fs::set_permissions(h.join("jdk/bin/javaish"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let hd = h.display();
    for contain in ["1", "0"] {
        if contain == "1" && !containable() {
            continue;
        }
        // Uncontained, nothing hides the home's files.
        let hidden = if contain == "1" { format!("test ! -e {hd}/.ssh/id_rsa && ") } else { String::new() };
        let bodies = [
            format!("test \"$JAVA_HOME\" = {hd}/jdk && \"$JAVA_HOME/bin/javaish\""),
            format!("{hidden}test -z \"${{AWS_PROFILE:-}}\" && echo hidden"),
        ];
        let b: Vec<&str> = bodies.iter().map(String::as_str).collect();
        project(&b, "")
            .config("[rehearse]\nenv = [\"JAVA_HOME\"]\n")
            .env("RUNBOOK_CONTAIN", contain)
            .env("HOME", &hd.to_string())
            .env("JAVA_HOME", &format!("{hd}/jdk"))
            .env("AWS_PROFILE", &secret)
            .stdout_lacks(&secret)
            .args(["play", "escape", "--dry-run"])
            .stdout_has("[s0] jdk-ran\n")
            .stdout_has("[s1] hidden\n")
            .run();
    }
}

#[test]
fn rehearse_env_refuses_what_the_sandbox_sets_itself() {
    for (name, why) in [
        ("HOME", "the rehearsal sets it itself"),
        ("RUNBOOK_VAR_x", "the rehearsal sets it itself"),
        ("A B", "not a variable name"),
    ] {
        project(&["true"], "")
            .config(&format!("runbooks = \"runbooks\"\n\n[rehearse]\nenv = [\n  \"JAVA_HOME\",\n  \"{name}\",\n]\n"))
            .args(["play", "escape", "--dry-run"])
            .status(2)
            .stderr_has(&format!("runbook.toml:6: error: [rehearse] env \"{name}\": {why}"))
            .run();
    }
}

/// A process in a user and mount namespace of its own, holding a tmpfs
/// mounted at `at` (after `then`, more shell run once it is mounted) until
/// it is killed: a holder of another engine, as the sweep must see it.
fn hold_a_mount(at: &Path, then: &str) -> std::process::Child {
    use std::io::BufRead;
    let script = format!("mount -t tmpfs s \"$1\" {then}&& echo mounted && exec sleep 600");
    let mut holder = std::process::Command::new("unshare")
        .args(["-Urm", "sh", "-c", &script, "sh"])
        .arg(at)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line, "mounted\n");
    holder
}

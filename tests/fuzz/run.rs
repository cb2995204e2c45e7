//! One fuzz case against the binary: the generated project is written to a
//! temporary directory, each command runs in a process group of its own
//! under a memory limit (`prlimit --as`), a CPU-time limit (`prlimit
//! --cpu`: the machine is shared, so wall time says more about the others'
//! load than about the engine) and a generous wall-time limit for hangs
//! that burn no CPU, and its ending is
//! held to the invariants. A case that breaks one is saved as a reproducer.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use wait_timeout::ChildExt;

use super::generate::Case;

/// Where and how the cases run.
pub struct Bounds {
    pub bin: PathBuf,
    /// Address space of each command (`prlimit --as`).
    pub memory: u64,
    /// CPU time of each command's engine process, in seconds.
    pub cpu: u64,
    /// Wall time of each command (a hang).
    pub time: Duration,
}

/// A broken invariant.
#[derive(Debug)]
pub struct Finding {
    pub command: String,
    pub what: String,
}

const ID: &str = "runbooks/f.md";

/// The commands run on every case: the read-only ones (and `import`, which
/// writes to stdout) always, the rehearsal
/// (real bash over harmless bodies) when there is a fixture.
fn commands(case: &Case) -> Vec<Vec<String>> {
    let sets = case.sets.iter().flat_map(|s| ["--set".to_string(), s.clone()]);
    let mut plan = vec!["plan".to_string(), ID.into()];
    plan.extend(sets.clone());
    let mut cmds = vec![
        plan,
        vec!["show".into(), ID.into()],
        vec!["list".into()],
        vec!["check".into()],
        // A page as a team's wiki has it, turned into a runbook.
        vec!["import".into(), ID.into()],
    ];
    if case.fixture.is_some() {
        let mut play: Vec<String> = ["play", ID, "--dry-run", "--yes"].map(String::from).to_vec();
        play.extend(sets);
        cmds.push(play);
    }
    cmds
}

pub fn write(case: &Case, dir: &Path) {
    std::fs::create_dir_all(dir.join("runbooks")).unwrap();
    std::fs::create_dir_all(dir.join("fixtures")).unwrap();
    std::fs::write(dir.join("runbook.toml"), &case.config).unwrap();
    std::fs::write(dir.join(ID), &case.runbook).unwrap();
    if let Some(f) = &case.fixture {
        std::fs::write(dir.join("fixtures/f.toml"), f).unwrap();
    }
}

/// How the commands ended: (command, exit code) → count. Says how deep
/// the cases reach (a case every command refuses tests only the parser).
pub type Stats = std::collections::BTreeMap<(String, i32), u64>;

/// Runs every command of `case`; the first broken invariant, if any.
pub fn run(case: &Case, bounds: &Bounds, stats: &mut Stats) -> Option<Finding> {
    let dir = tempfile::tempdir().unwrap();
    write(case, dir.path());
    let mut refused = false;
    for args in commands(case) {
        match run_one(dir.path(), &args, bounds, stats) {
            Err(f) => return Some(f),
            // A runbook `show` refuses is invalid input to `check` too; a
            // page without steps is no runbook (`check` lints it as a plain page).
            Ok((code, stderr)) if args[0] == "show" => refused = code == 2 && !stderr.contains("error: no steps"),
            Ok((code, _)) if args[0] == "check" && refused && code != 2 => {
                return Some(Finding {
                    command: "runbook check".into(),
                    what: format!("exit {code}, but show exits 2"),
                });
            }
            Ok(_) => {}
        }
    }
    None
}

/// The command's exit code and stderr, or the invariant it broke.
fn run_one(dir: &Path, args: &[String], bounds: &Bounds, stats: &mut Stats) -> Result<(i32, String), Finding> {
    let out = dir.join(".fuzz-out");
    let err = dir.join(".fuzz-err");
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={}", bounds.memory))
        .arg(format!("--cpu={}:{}", bounds.cpu, bounds.cpu + 1))
        .arg("--")
        .arg(&bounds.bin)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUNBOOK_STATE")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("prlimit (util-linux) runs the binary");
    let group = Pid::from_raw(child.id() as i32);
    let status = child.wait_timeout(bounds.time).unwrap();
    // Whatever the command left behind in its group goes with it.
    let _ = killpg(group, Signal::SIGKILL);
    let command = format!(
        "runbook {}",
        args.iter().map(|a| shlex::try_quote(a).unwrap().into_owned()).collect::<Vec<_>>().join(" ")
    );
    let Some(status) = status else {
        let _ = child.wait();
        return Err(Finding { command, what: format!("still running after {:?}", bounds.time) });
    };
    let stderr = read(&err);
    let stdout = read(&out);
    let elapsed = started.elapsed();
    let finding = |what: String| {
        Err(Finding { command: command.clone(), what: format!("{what} ({elapsed:?})\n{}", excerpt(&stderr)) })
    };
    if status.signal() == Some(nix::libc::SIGXCPU) {
        return finding(format!("over {} s of CPU", bounds.cpu));
    }
    if let Some(sig) = status.signal() {
        return finding(format!("killed by signal {sig} (abort, stack overflow or memory)"));
    }
    let code = status.code().unwrap_or(-1);
    *stats.entry((args[0].clone(), code)).or_default() += 1;
    if code == 101 || stderr.contains("panicked at") || stdout.contains("panicked at") {
        return finding(format!("panic (exit {code})"));
    }
    if stderr.contains("memory allocation of") {
        return finding(format!("out of memory (exit {code})"));
    }
    let allowed: &[i32] = if args[0] == "play" { &[0, 1, 2, 3] } else { &[0, 1, 2] };
    if !allowed.contains(&code) {
        return finding(format!("exit {code}"));
    }
    // `check` reports its findings on stdout.
    if code == 2 && !names_a_line(&stderr) && !(args[0] == "check" && names_a_line(&stdout)) {
        return finding("exit 2 without file:line".into());
    }
    Ok((code, stderr))
}

/// Whether an invalid-input message says where: `file:line`, or the
/// command-line argument it rejects.
fn names_a_line(stderr: &str) -> bool {
    let re = regex::Regex::new(r"[\w./-]+\.(md|toml|jsonl):\d+").unwrap();
    re.is_match(stderr) || stderr.contains("--set")
}

/// A command's output, as text (its first 4 MiB).
fn read(p: &Path) -> String {
    let mut b = std::fs::read(p).unwrap_or_default();
    b.truncate(4 << 20);
    String::from_utf8_lossy(&b).into_owned()
}

/// The start and the end of a long text.
fn excerpt(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 1600 {
        return s.to_string();
    }
    let head: String = chars[..800].iter().collect();
    let tail: String = chars[chars.len() - 800..].iter().collect();
    format!("{head}\n[… {} characters …]\n{tail}", chars.len() - 1600)
}

/// Saves `case` as a project under `dir`, with a `repro` note.
pub fn save(case: &Case, seed: u64, f: &Finding, dir: &Path) -> PathBuf {
    let at = dir.join(format!("finding-{seed:016x}"));
    write(case, &at);
    let note = format!(
        "seed: {seed:#x}\ncommand (in this directory): {}\nbroke: {}\nmutations: {:?}\n",
        f.command, f.what, case.notes
    );
    std::fs::write(at.join("repro"), note).unwrap();
    at
}

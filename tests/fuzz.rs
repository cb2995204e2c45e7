//! The fuzz harness (issue 20, "Keep it proven"): generated runbooks,
//! fixtures and configs (`fuzz/generate.rs`, on proptest's seeded RNG) are run
//! through `plan`, `show`, `list`, `check`, `import` and `play --dry-run`, each bounded
//! in memory and time (`fuzz/run.rs`). Every case must end without a panic,
//! an abort or a signal, within its bounds, with exit 0–3, and name
//! file:line whenever it exits 2.
//!
//! The suite runs a few small cases; `scripts/fuzz DURATION` runs the
//! ignored `endless` test against the release binary for as long as asked.

mod generate;
mod run;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::test_runner::{RngAlgorithm, TestRng};

use generate::{Case, Gen, Scale};
use run::Bounds;

fn case(seed: u64, scale: Scale) -> Case {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    Gen::new(&mut rng, scale).case()
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `count` cases from `seed` on (or until `deadline`); the reproducers
/// of the findings.
fn fuzz(seed: u64, count: u64, deadline: Option<Instant>, scale: Scale, bounds: &Bounds) -> (u64, Vec<PathBuf>) {
    let out = std::env::var_os("RUNBOOK_FUZZ_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz"));
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut found = Vec::new();
    let mut stats = run::Stats::new();
    let mut n = 0;
    while n < count && deadline.is_none_or(|d| Instant::now() < d) {
        let s = seed.wrapping_add(n);
        let c = case(s, scale);
        // RUNBOOK_FUZZ_KEEP=DIR: every case written out, to see what they are.
        if let Some(keep) = std::env::var_os("RUNBOOK_FUZZ_KEEP") {
            run::write(&c, &PathBuf::from(keep).join(format!("case-{s}")));
        }
        if let Some(f) = run::run(&c, bounds, &mut stats) {
            let at = run::save(&c, s, &f, &out);
            eprintln!("fuzz: FINDING {}: {} — {}\n  reproducer: {}", found.len() + 1, f.command, f.what, at.display());
            found.push(at);
        }
        n += 1;
        if deadline.is_some() && last_report.elapsed() > Duration::from_secs(60) {
            eprintln!("fuzz: {n} cases in {:.0?}, {} finding(s)", started.elapsed(), found.len());
            last_report = Instant::now();
        }
    }
    let exits: Vec<String> = stats.iter().map(|((c, e), k)| format!("{c} exit {e}: {k}")).collect();
    eprintln!("fuzz: how the commands ended: {}", exits.join(", "));
    (n, found)
}

#[test]
fn generated_projects_never_panic_abort_or_hide_where() {
    let bounds = Bounds {
        bin: crate::common::bin(),
        memory: env("RUNBOOK_FUZZ_MEMORY", 4 << 30),
        cpu: env("RUNBOOK_FUZZ_CPU", 120),
        time: Duration::from_secs(env("RUNBOOK_FUZZ_SECS", 600)),
    };
    let (n, found) =
        fuzz(env("RUNBOOK_FUZZ_SEED", 20), env("RUNBOOK_FUZZ_CASES", 12), None, Scale { huge: 3000 }, &bounds);
    assert!(found.is_empty(), "{} of {n} cases broke an invariant: {found:?}", found.len());
}

/// `scripts/fuzz DURATION`: cases against `RUNBOOK_FUZZ_BIN` (the release
/// binary) until `RUNBOOK_FUZZ_FOR` has passed, at the issue's sizes.
#[test]
#[ignore = "long: run by scripts/fuzz"]
fn endless() {
    let duration = std::env::var("RUNBOOK_FUZZ_FOR").unwrap_or_else(|_| "1m".into());
    let duration = humantime::parse_duration(&duration).expect("RUNBOOK_FUZZ_FOR: a duration such as 1h");
    let bin = std::env::var_os("RUNBOOK_FUZZ_BIN").map(PathBuf::from).unwrap_or_else(crate::common::bin);
    let bounds = Bounds {
        bin,
        memory: env("RUNBOOK_FUZZ_MEMORY", 1 << 30),
        cpu: env("RUNBOOK_FUZZ_CPU", 20),
        time: Duration::from_secs(env("RUNBOOK_FUZZ_SECS", 300)),
    };
    let seed =
        env("RUNBOOK_FUZZ_SEED", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    let count = env("RUNBOOK_FUZZ_CASES", u64::MAX);
    eprintln!(
        "fuzz: seed {seed}, for {duration:?}; per command {} s of CPU, {} wall, {} MiB",
        bounds.cpu,
        humantime::format_duration(bounds.time),
        bounds.memory >> 20
    );
    let started = Instant::now();
    let (n, found) = fuzz(seed, count, Some(started + duration), Scale { huge: 400_000 }, &bounds);
    eprintln!("fuzz: done: {n} cases in {:.0?}, {} finding(s)", started.elapsed(), found.len());
    for f in &found {
        eprintln!("  {}", f.display());
    }
    assert!(found.is_empty());
}

/// `check` rehearsing scenarios on several threads fits in the harness's
/// 1 GiB of address space (it uses some 21 MB): glibc's malloc, which only
/// libc's own calls use, would reserve 64 MiB of it for each thread that
/// makes one, so the engine keeps it to one arena.
#[test]
fn a_check_on_many_threads_fits_in_the_fuzz_address_space() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("runbooks")).unwrap();
    std::fs::create_dir_all(p.join("fixtures")).unwrap();
    std::fs::write(p.join("runbook.toml"), "state = \".runbook\"\n").unwrap();
    let md =
        "# M\n\n```bash {#a}\nkubectl get pods\nls / > /dev/null\n```\n\n```bash {#b needs=a}\nkubectl logs x\n```\n";
    std::fs::write(p.join("runbooks/m.md"), md).unwrap();
    let scenario =
        |i| format!("[[scenario]]\nname = \"s{i}\"\n  [[scenario.stub]]\n  cmd = \"kubectl *\"\n  stdout = \"ok\"\n\n");
    std::fs::write(p.join("fixtures/m.toml"), (0..16).map(scenario).collect::<String>()).unwrap();
    let out = std::process::Command::new("prlimit")
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--")
        .arg(crate::common::bin())
        .args(["check", "--jobs", "4"])
        .current_dir(p)
        .env("NO_COLOR", "1")
        .env_remove("RUNBOOK_STATE")
        .output()
        .expect("prlimit (util-linux) runs the binary");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("16 scenarios rehearsed, 0 failed"), "{all}");
}

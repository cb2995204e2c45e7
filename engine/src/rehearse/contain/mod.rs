//! Contained rehearsals (SPEC §5, Linux): each rehearsed scenario runs in
//! namespaces of its own, so that a step that writes `/tmp`, `$HOME`,
//! `/etc` or the repo, calls `/usr/bin/curl`, connects to the host's
//! `127.0.0.1` or leaves a daemon behind changes nothing outside.
//!
//! The engine stays outside: a holder, `runbook __contain` ([`holder`]),
//! builds the namespaces and keeps them alive for one scenario after the
//! other (a pool of them, one per worker of a `check`); every step process
//! joins them with `setns` between its clone and its `execve`
//! ([`crate::runner::PlayEnv::enter`]). Dropping the [`Container`] ends the
//! scenario's PID namespace (and whatever it left running); the holder then
//! makes fresh what the scenario wrote ([`places`]) and waits for the next.
//! Why this and not bubblewrap: docs/containment.md.
//!
//! Where namespaces are refused (not Linux, a container without user
//! namespaces, `RUNBOOK_CONTAIN=0`), the rehearsal runs as before and says
//! why ([`refused`]).

#[cfg(target_os = "linux")]
mod build;
#[cfg(target_os = "linux")]
pub mod holder;
#[cfg(target_os = "linux")]
mod places;
#[cfg(target_os = "linux")]
mod pool;
#[cfg(target_os = "linux")]
pub(super) mod sweep;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::sandbox::SandboxDir;
use crate::config::Config;

/// What the holder builds (handed over as JSON on its command line).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Spec {
    /// The holder's own directory (the new root and the upper layers are
    /// mounted there, in its namespace only); removed when it ends, by the
    /// holder and by the engine.
    pub stage: PathBuf,
    /// The repo root: visible at its path (overlaid again when it lies
    /// below a fresh directory such as `/tmp`).
    pub repo: Option<PathBuf>,
    /// The real `$HOME`, hidden under a fresh tmpfs; the repo, the `PATH`
    /// directories and the tool roots below it are overlaid back
    /// (`build::home_shown`).
    pub home: Option<PathBuf>,
    /// The binary that answers as a shim.
    pub exe: PathBuf,
    /// Stubbed program names, shadowed in each of `dirs`.
    pub programs: Vec<String>,
    /// Where programs are looked up: `PATH` and the usual bin directories.
    pub dirs: Vec<PathBuf>,
    /// Stub entries given as absolute paths, shadowed there.
    pub absolute: Vec<PathBuf>,
    /// Directories that the values of `[rehearse] env` name (`JAVA_HOME`):
    /// shown again when they lie in the hidden home.
    #[serde(default)]
    pub shown: Vec<PathBuf>,
    /// Path stubs: the repo script (absolute) and the shim script over it.
    pub scripts: Vec<(PathBuf, String)>,
}

/// `RUNBOOK_CONTAIN=0` turns containment off (benchmarks compare both).
pub const ENV: &str = "RUNBOOK_CONTAIN";

/// How long the holder may take to say `ready` before the rehearsal gives up
/// on containing (`RUNBOOK_CONTAIN_WAIT`, seconds).
fn ready_wait() -> Duration {
    let s = std::env::var("RUNBOOK_CONTAIN_WAIT").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    Duration::from_secs(s)
}

/// The namespaces of one scenario, alive as long as this is.
pub struct Container {
    #[cfg(target_os = "linux")]
    inner: pool::Held,
    /// What setting it up took.
    pub setup: Duration,
}

/// Why the first refusal happened, for every later scenario of this process.
static REFUSED: Mutex<Option<String>> = Mutex::new(None);

/// Why rehearsals are not contained here, if they are not (known before any
/// scenario starts only for the environment and platform; a kernel's refusal
/// is known once a scenario tried).
pub fn refused() -> Option<String> {
    if std::env::var(ENV).is_ok_and(|v| v == "0") {
        return Some(format!("{ENV}=0"));
    }
    if !cfg!(target_os = "linux") {
        return Some("namespaces are Linux only".into());
    }
    REFUSED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Whether rehearsals can be contained here: tries once (a holder that
/// builds nothing but the namespaces), remembers the answer.
pub fn probe() -> Option<String> {
    if let Some(r) = refused() {
        return Some(r);
    }
    static PROBED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    PROBED.get_or_init(|| {
        #[cfg(target_os = "linux")]
        if let Err(why) = super::sandbox::shim_exe()
            .map_err(|e| e.to_string())
            .and_then(|exe| pool::Holder::start(&Spec { exe, ..Spec::default() }).map(drop))
        {
            remember(why);
        }
    });
    refused()
}

/// This process is done with rehearsals: the idle holders end and their
/// stages are removed (`main` calls it before exiting).
pub fn release() {
    #[cfg(target_os = "linux")]
    pool::release();
}

/// Said once before contained scenarios where the kernel cannot scope a
/// step's signals ([`crate::runner::scope`]): the rest holds.
pub fn unscoped_line(why: &str) -> String {
    format!("signals not scoped: {why}: a contained step can still signal processes of your user outside the scenario")
}

fn remember(why: String) {
    let mut r = REFUSED.lock().unwrap_or_else(|p| p.into_inner());
    if r.is_none() {
        *r = Some(why);
    }
}

impl Container {
    /// The namespaces of one scenario with its scratch tree: a holder of
    /// the pool made fresh, or a new one. `Err` says why not (and is
    /// remembered: the next scenarios do not try again).
    #[cfg(target_os = "linux")]
    pub fn start(spec: &Spec, scratch: &std::path::Path) -> Result<Container, String> {
        if let Some(r) = refused() {
            return Err(r);
        }
        let started = std::time::Instant::now();
        match pool::Held::start(spec, scratch) {
            Ok(inner) => Ok(Container { inner, setup: started.elapsed() }),
            Err(e) => {
                remember(e.clone());
                Err(e)
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn start(_: &Spec, _: &std::path::Path) -> Result<Container, String> {
        Err(refused().unwrap_or_else(|| "namespaces are Linux only".into()))
    }

    /// The descriptors a step joins, in order (see `runner::launch`).
    pub fn fds(&self) -> Vec<std::os::fd::RawFd> {
        #[cfg(target_os = "linux")]
        return self.inner.fds();
        #[cfg(not(target_os = "linux"))]
        Vec::new()
    }
}

/// The scenario's namespaces, and the repo root its steps run in (the real
/// one, seen through the overlay). `Err`: why it runs uncontained.
/// `stubs`: the entries it shims (`[rehearse] stub` and the programs its
/// fixture answers for, [`super::fixture::Scenario::shimmed`]).
pub fn for_scenario(sb: &SandboxDir, config: &Config, stubs: &[String]) -> Result<(Container, PathBuf), String> {
    if let Some(why) = refused() {
        return Err(why);
    }
    let repo = std::fs::canonicalize(&config.root).map_err(|e| format!("repo root {}: {e}", config.root.display()))?;
    let exe = super::sandbox::shim_exe().map_err(|e| e.to_string())?;
    static DIRS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .and_then(|h| std::fs::canonicalize(h).ok())
        .filter(|h| h.parent().is_some());
    let mut spec = Spec {
        stage: PathBuf::new(),
        repo: Some(repo.clone()),
        home,
        programs: Vec::new(),
        dirs: DIRS.get_or_init(program_dirs).clone(),
        absolute: Vec::new(),
        scripts: Vec::new(),
        exe: exe.clone(),
        shown: named_dirs(&config.rehearse_env),
    };
    for s in stubs {
        match super::sandbox::StubKind::of(s) {
            super::sandbox::StubKind::Program(p) => spec.programs.push(p.to_string()),
            super::sandbox::StubKind::Absolute(p) => spec.absolute.push(p.to_path_buf()),
            super::sandbox::StubKind::Script(rel) => {
                spec.scripts.push((repo.join(rel), super::sandbox::script(&exe, rel)))
            }
            super::sandbox::StubKind::Invalid => {}
        }
    }
    let c = Container::start(&spec, &sb.root)?;
    Ok((c, repo))
}

/// The directories the engine's values of `names` are or lie in (a file's
/// directory), resolved: a `JAVA_HOME` passed by `[rehearse] env` must not
/// name a directory the hidden home hides.
fn named_dirs(names: &[String]) -> Vec<PathBuf> {
    names
        .iter()
        .filter_map(std::env::var_os)
        .filter_map(|v| std::fs::canonicalize(v).ok())
        .filter_map(|p| if p.is_dir() { Some(p) } else { p.parent().map(Path::to_path_buf) })
        .collect()
}

/// Why a contained step cannot start `program`, when the reason is the
/// hidden home: it lies there, or one of the links it goes through leads
/// there, outside what stays visible (`build::home_shown`). `None`: it does
/// not touch the home.
pub fn hidden_by_home(program: &std::path::Path) -> Option<String> {
    let home = std::fs::canonicalize(std::env::var_os("HOME")?).ok()?;
    // The program, then each link it goes through.
    let mut hops = vec![program.to_path_buf()];
    while let Some(next) = hops.last().and_then(|h| Some(h.parent()?.join(std::fs::read_link(h).ok()?))) {
        if hops.len() > 40 {
            break;
        }
        hops.push(next);
    }
    let dirs = program_dirs();
    let in_home: Vec<&PathBuf> = hops.iter().filter(|h| h.starts_with(&home)).collect();
    let first = in_home.first()?;
    let hidden = in_home.iter().find(|h| !h.parent().is_some_and(|p| dirs.iter().any(|d| d == p))).unwrap_or(first);
    let via = if *hidden == &hops[0] { String::new() } else { format!(" (through {})", hidden.display()) };
    Some(format!(
        "it lies in the home directory {}{via}, which a contained rehearsal hides but for the repo, the PATH \
         directories and the version managers' roots below it (~/.pyenv, ~/.rustup, …; docs/containment.md): \
         install the interpreter system-wide, put its directory on PATH, or rehearse uncontained while debugging \
         (RUNBOOK_CONTAIN=0)",
        home.display()
    ))
}

/// Directories a program is looked up in: `PATH`'s and the usual ones,
/// resolved (`/bin` is `/usr/bin` on a merged `/usr`), each once.
pub fn program_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let usual = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from);
    for d in std::env::split_paths(&path).chain(usual) {
        let Ok(d) = std::fs::canonicalize(&d) else { continue };
        if d.is_absolute() && d.is_dir() && !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

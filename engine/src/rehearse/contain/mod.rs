//! Contained rehearsals (SPEC §5, Linux): each rehearsed scenario runs in
//! namespaces of its own, so that a step that writes `/tmp`, `$HOME`,
//! `/etc` or the repo, calls `/usr/bin/curl`, connects to the host's
//! `127.0.0.1` or leaves a daemon behind changes nothing outside.
//!
//! The engine stays outside: [`Container::start`] runs `runbook __contain`
//! ([`holder`]), which builds the namespaces and keeps them alive; every
//! step process joins them with `setns` between its clone and its `execve`
//! ([`crate::runner::PlayEnv::enter`]). Dropping the [`Container`] closes
//! the holder's stdin: its init exits and the kernel ends whatever the
//! scenario left running. Why this and not bubblewrap: docs/containment.md.
//!
//! Where namespaces are refused (not Linux, a container without user
//! namespaces, `RUNBOOK_CONTAIN=0`), the rehearsal runs as before and says
//! why ([`refused`]).

#[cfg(target_os = "linux")]
pub mod holder;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::sandbox::SandboxDir;
use crate::config::Config;

/// What the holder builds (handed over as JSON on its command line).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Spec {
    /// The scenario's scratch tree: bound at its path, writable.
    pub scratch: PathBuf,
    /// The repo root: visible at its path (overlaid again when it lies
    /// below a fresh directory such as `/tmp`).
    pub repo: Option<PathBuf>,
    /// The real `$HOME`, hidden under a fresh tmpfs (`None` when the repo
    /// or the scratch tree lies below it).
    pub home: Option<PathBuf>,
    /// The binary that answers as a shim.
    pub exe: PathBuf,
    /// Stubbed program names, shadowed in each of `dirs`.
    pub programs: Vec<String>,
    /// Where programs are looked up: `PATH` and the usual bin directories.
    pub dirs: Vec<PathBuf>,
    /// Stub entries given as absolute paths, shadowed there.
    pub absolute: Vec<PathBuf>,
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
    child: std::process::Child,
    #[cfg(target_os = "linux")]
    stdin: Option<std::process::ChildStdin>,
    #[cfg(target_os = "linux")]
    fds: Vec<std::os::fd::OwnedFd>,
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
        {
            let dir = match tempfile::Builder::new().prefix("runbook-probe-").tempdir() {
                Ok(d) => d,
                Err(e) => return remember(format!("no scratch directory: {e}")),
            };
            let spec = Spec { scratch: dir.path().to_path_buf(), ..Spec::default() };
            if let Err(why) = super::sandbox::shim_exe().map_err(|e| e.to_string()).and_then(|exe| {
                let spec = Spec { exe, ..spec };
                Container::start(&spec).map(drop)
            }) {
                remember(why);
            }
        }
    });
    refused()
}

fn remember(why: String) {
    let mut r = REFUSED.lock().unwrap_or_else(|p| p.into_inner());
    if r.is_none() {
        *r = Some(why);
    }
}

impl Container {
    /// Build the namespaces of one scenario. `Err` says why not (and is
    /// remembered: the next scenarios do not try again).
    #[cfg(target_os = "linux")]
    pub fn start(spec: &Spec) -> Result<Container, String> {
        if let Some(r) = refused() {
            return Err(r);
        }
        let r = Self::try_start(spec);
        if let Err(e) = &r {
            remember(e.clone());
        }
        r
    }

    #[cfg(not(target_os = "linux"))]
    pub fn start(_: &Spec) -> Result<Container, String> {
        Err(refused().unwrap_or_else(|| "namespaces are Linux only".into()))
    }

    #[cfg(target_os = "linux")]
    fn try_start(spec: &Spec) -> Result<Container, String> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let started = std::time::Instant::now();
        let json = serde_json::to_string(spec).map_err(|e| e.to_string())?;
        let mut child = Command::new(&spec.exe)
            .arg("__contain")
            .arg(json)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", spec.exe.display()))?;
        let stdin = child.stdin.take();
        let out = child.stdout.take().ok_or("no pipe from the holder")?;
        // Read on a thread, so that a holder that hangs is given up on.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut pid, mut ready) = (None, false);
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(p) = line.strip_prefix("pid ") {
                    pid = p.trim().parse::<u32>().ok();
                } else if line == "ready" {
                    ready = true;
                } else if let Some(e) = line.strip_prefix("error ") {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
                if let (Some(p), true) = (pid, ready) {
                    let _ = tx.send(Ok(p));
                    return;
                }
            }
            let _ = tx.send(Err("the namespace holder ended before it was ready".into()));
        });
        let mut c = Container { child, stdin, fds: Vec::new(), setup: Duration::ZERO };
        let pid = match rx.recv_timeout(ready_wait()) {
            Ok(Ok(pid)) => pid,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("the namespace holder did not get ready in time".into()),
        };
        // The user namespace first: it grants what joining the others needs.
        for ns in ["user", "mnt", "net", "pid"] {
            let f = std::fs::File::open(format!("/proc/{pid}/ns/{ns}")).map_err(|e| format!("ns/{ns}: {e}"))?;
            c.fds.push(f.into());
        }
        c.setup = started.elapsed();
        Ok(c)
    }

    /// The descriptors a step joins, in order (see `runner::launch`).
    pub fn fds(&self) -> Vec<std::os::fd::RawFd> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            self.fds.iter().map(|f| f.as_raw_fd()).collect()
        }
        #[cfg(not(target_os = "linux"))]
        Vec::new()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        {
            // The init sees its stdin close and exits; the kernel ends the
            // rest of the namespace before the holder's wait returns.
            self.stdin.take();
            let _ = self.child.wait();
            // Closing the last reference to the mount namespace unmounts its
            // tree, which waits for an RCU grace period (10-20 ms on a busy
            // VM): done aside, nothing of the scenario is alive any more.
            let fds = std::mem::take(&mut self.fds);
            let _ = std::thread::Builder::new().name("ns-close".into()).spawn(move || drop(fds));
        }
    }
}

/// The scenario's namespaces, and the repo root its steps run in (the real
/// one, seen through the overlay). `Err`: why it runs uncontained.
pub fn for_scenario(sb: &SandboxDir, config: &Config) -> Result<(Container, PathBuf), String> {
    if let Some(why) = refused() {
        return Err(why);
    }
    let repo = std::fs::canonicalize(&config.root).map_err(|e| format!("repo root {}: {e}", config.root.display()))?;
    let exe = super::sandbox::shim_exe().map_err(|e| e.to_string())?;
    static DIRS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .and_then(|h| std::fs::canonicalize(h).ok())
        .filter(|h| h.parent().is_some() && !repo.starts_with(h) && !sb.root.starts_with(h));
    let mut spec = Spec {
        scratch: sb.root.clone(),
        repo: Some(repo.clone()),
        home,
        programs: Vec::new(),
        dirs: DIRS.get_or_init(program_dirs).clone(),
        absolute: Vec::new(),
        scripts: Vec::new(),
        exe: exe.clone(),
    };
    for s in &config.stubs {
        match super::sandbox::StubKind::of(s) {
            super::sandbox::StubKind::Program(p) => spec.programs.push(p.to_string()),
            super::sandbox::StubKind::Absolute(p) => spec.absolute.push(p.to_path_buf()),
            super::sandbox::StubKind::Script(rel) => {
                spec.scripts.push((repo.join(rel), super::sandbox::script(&exe, rel)))
            }
            super::sandbox::StubKind::Invalid => {}
        }
    }
    let c = Container::start(&spec)?;
    Ok((c, repo))
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

//! The scratch directory of one rehearsal: everything a rehearsed play
//! writes lands here, and it is removed afterwards.
//!
//! ```text
//! $WORK/bin/kubectl -> runbook     program stubs, first on PATH
//! $WORK/repo/ops/scripts/x.sh      path stubs; the repo root of the steps
//! $WORK/shim/stubs.json            the scenario's stubs, calls log, counters
//! $WORK/state/                     the play's state dir (journal, locks)
//! $WORK/home/  $WORK/tmp/          HOME and TMPDIR of the steps
//! ```
//!
//! A rehearsed step does not inherit the engine's environment (where
//! tokens and cloud credentials live): it gets `PATH`, the names of
//! [`PASSED_ENV`] (and `LC_*`, and those `[rehearse] env` lists) from the
//! engine's environment, the play's
//! `RUNBOOK_*` and [`SandboxDir::env`] (docs/containment.md).

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::shim::{self, Table};

pub struct SandboxDir {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub bin: PathBuf,
    pub work: PathBuf,
    pub shim: PathBuf,
    pub state: PathBuf,
    pub home: PathBuf,
    pub tmp: PathBuf,
    /// The real repo root the steps run in, when contained.
    pub repo: Option<PathBuf>,
}

/// What a `[rehearse] stub` entry names.
pub enum StubKind<'a> {
    /// `kubectl`: shadowed first on `PATH` (and, contained, in every bin directory).
    Program(&'a str),
    /// `/usr/local/bin/kubectl`: shadowed at that path, contained; first on
    /// `PATH` under its file name either way. Never written on the host.
    Absolute(&'a Path),
    /// `ops/scripts/x.sh`: relative to the repo root.
    Script(&'a Path),
    /// Empty, or with a `..` component: it could only point outside the
    /// scratch tree (the config is refused before; nothing is written).
    Invalid,
}

impl StubKind<'_> {
    pub fn of(s: &str) -> StubKind<'_> {
        let p = Path::new(s);
        if s.is_empty() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            StubKind::Invalid
        } else if p.is_absolute() {
            if p.file_name().is_some() { StubKind::Absolute(p) } else { StubKind::Invalid }
        } else if s.contains('/') {
            StubKind::Script(Path::new(s.trim_start_matches("./")))
        } else {
            StubKind::Program(s)
        }
    }
}

/// The shim of a path stub: `runbook __shim REL "$@"`.
pub fn script(exe: &Path, rel: &Path) -> String {
    format!("#!/bin/sh\nexec {} __shim {} \"$@\"\n", sh_quote(exe), sh_quote(rel))
}

/// The binary that answers as a shim: `RUNBOOK_SHIM_EXE` (tests of the
/// library, where the current exe is the test harness) or this binary.
pub fn shim_exe() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("RUNBOOK_SHIM_EXE") {
        return Ok(PathBuf::from(p));
    }
    std::env::current_exe().context("cannot find the runbook binary for the rehearsal shims")
}

impl SandboxDir {
    /// Create the sandbox with a shim for each entry of `[rehearse] stub`.
    pub fn create(stubs: &[String], table: &Table) -> anyhow::Result<SandboxDir> {
        let dir = tempfile::Builder::new().prefix("runbook-rehearsal-").tempdir()?;
        // Canonical, so that the `$WORK` replacement also catches resolved paths (macOS /private/var).
        let root = std::fs::canonicalize(dir.path())?;
        let sb = SandboxDir {
            bin: root.join("bin"),
            work: root.join("repo"),
            shim: root.join("shim"),
            state: root.join("state"),
            home: root.join("home"),
            tmp: root.join("tmp"),
            repo: None,
            root,
            _dir: dir,
        };
        for d in [&sb.bin, &sb.work, &sb.shim, &sb.state, &sb.home, &sb.tmp] {
            std::fs::create_dir_all(d)?;
        }
        let exe = shim_exe()?;
        for s in stubs {
            let program = match StubKind::of(s) {
                StubKind::Script(rel) => {
                    let target = sb.work.join(rel);
                    if let Some(p) = target.parent() {
                        std::fs::create_dir_all(p)?;
                    }
                    std::fs::write(&target, script(&exe, rel))?;
                    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
                    continue;
                }
                StubKind::Invalid => continue,
                StubKind::Program(p) => p.to_string(),
                StubKind::Absolute(p) => p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            };
            let link = sb.bin.join(&program);
            if link.symlink_metadata().is_ok() {
                continue;
            }
            std::os::unix::fs::symlink(&exe, &link).with_context(|| format!("cannot create the shim for `{s}`"))?;
        }
        shim::write_table(&sb.shim, table)?;
        Ok(sb)
    }

    /// The environment of every rehearsed step but `PATH` and the play's
    /// `RUNBOOK_*` (the runner adds those): the engine's [`PASSED_ENV`]
    /// variables and those of `[rehearse] env` (`also`), and the sandbox's own.
    pub fn env(&self, also: &[String]) -> Vec<(String, String)> {
        let s = |p: &Path| p.display().to_string();
        let mut env = passed(std::env::vars_os(), also);
        env.extend([
            (shim::STATE_ENV.into(), s(&self.shim)),
            ("HOME".into(), s(&self.home)),
            ("TMPDIR".into(), s(&self.tmp)),
            ("RUNBOOK_REHEARSAL".into(), "1".into()),
            // A real kubectl reached by an absolute path still finds no cluster.
            ("KUBECONFIG".into(), s(&self.home.join(".kube-rehearsal"))),
        ]);
        env
    }

    pub fn calls(&self) -> Vec<shim::Call> {
        shim::read_calls(&self.shim)
    }

    /// Replace the sandbox path with `$WORK`, and the repo root the steps
    /// run in (the real one when contained, its stand-in otherwise) with
    /// `$REPO`: transcripts are the same contained or not, here or in CI.
    pub fn scrub(&self, text: &str) -> String {
        let mut t = text.replace(&self.work.display().to_string(), "$REPO");
        if let Some(r) = self.repo.as_ref().filter(|r| r.components().count() > 2) {
            t = t.replace(&r.display().to_string(), "$REPO");
        }
        t.replace(&self.root.display().to_string(), "$WORK")
    }
}

/// The variables of the engine's environment a rehearsed step sees, with
/// every `LC_*`: the locale, the terminal, the time zone and who runs it.
/// Anything else (`AWS_SECRET_ACCESS_KEY`, `VAULT_TOKEN`, `RUNBOOK_VAR_*`)
/// stays out: a rehearsal must not read the real world.
pub const PASSED_ENV: &[&str] = &["LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME", "SHELL"];

/// The entries of `engine` (an environment) a rehearsed step sees, sorted:
/// [`PASSED_ENV`], `LC_*`, and the names of `[rehearse] env` (`also`).
fn passed(engine: impl IntoIterator<Item = (OsString, OsString)>, also: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = engine
        .into_iter()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| PASSED_ENV.contains(&k.as_str()) || k.starts_with("LC_") || also.contains(k))
        .collect();
    out.sort();
    out
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rehearsed_step_sees_the_allow_listed_variables_only() {
        let engine = [
            ("LANG", "C.UTF-8"),
            ("LC_TIME", "en_GB.UTF-8"),
            ("TERM", "xterm"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("RUNBOOK_VAR_token", "y"),
            ("HOME", "/root"),
            ("PATH", "/usr/bin"),
            ("XLC_ALL", "z"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let names: Vec<String> = passed(engine.clone(), &[]).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["LANG", "LC_TIME", "TERM"]);
        let names: Vec<String> = passed(engine, &["XLC_ALL".into()]).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["LANG", "LC_TIME", "TERM", "XLC_ALL"]);
    }
}

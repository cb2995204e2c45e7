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
            root,
            _dir: dir,
        };
        for d in [&sb.bin, &sb.work, &sb.shim, &sb.state, &sb.home, &sb.tmp] {
            std::fs::create_dir_all(d)?;
        }
        let exe = shim_exe()?;
        for s in stubs {
            if s.contains('/') {
                let rel = s.trim_start_matches("./");
                let target = sb.work.join(rel);
                if let Some(p) = target.parent() {
                    std::fs::create_dir_all(p)?;
                }
                let script = format!("#!/bin/sh\nexec {} __shim {} \"$@\"\n", sh_quote(&exe), sh_quote(Path::new(rel)));
                std::fs::write(&target, script)?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
            } else {
                std::os::unix::fs::symlink(&exe, sb.bin.join(s))
                    .with_context(|| format!("cannot create the shim for `{s}`"))?;
            }
        }
        shim::write_table(&sb.shim, table)?;
        Ok(sb)
    }

    /// Extra environment of every rehearsed step.
    pub fn env(&self) -> Vec<(String, String)> {
        let s = |p: &Path| p.display().to_string();
        vec![
            (shim::STATE_ENV.into(), s(&self.shim)),
            ("HOME".into(), s(&self.home)),
            ("TMPDIR".into(), s(&self.tmp)),
            ("RUNBOOK_REHEARSAL".into(), "1".into()),
            // A real kubectl reached by an absolute path still finds no cluster.
            ("KUBECONFIG".into(), s(&self.home.join(".kube-rehearsal"))),
        ]
    }

    pub fn calls(&self) -> Vec<shim::Call> {
        shim::read_calls(&self.shim)
    }

    /// Replace the sandbox path with `$WORK` (deterministic transcripts).
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.root.display().to_string(), "$WORK")
    }
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

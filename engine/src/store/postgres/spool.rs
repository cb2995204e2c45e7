//! Events the database did not take (it went away mid-play), kept on this
//! machine: `<state dir>/pending/<run-id>.jsonl`, 0600. The next session of
//! the same runbook@env on this machine writes them once it holds the lock,
//! before it reads the run: a step whose end waited here is not run again.
//! Written only if they follow what the database has; a spool that another
//! machine's session overtook is set aside (`.stale`), never merged.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::run::Entry;

pub fn path(local: &Path, run: &str) -> PathBuf {
    local.join("pending").join(format!("{run}.jsonl"))
}

/// Replace the spool with `pending` (written aside, then renamed).
pub fn write(file: &Path, pending: &[(i64, String)]) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let tmp = file.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(&tmp)?;
    for (_, body) in pending {
        f.write_all(body.as_bytes())?;
        f.write_all(b"\n")?;
    }
    f.sync_data()?;
    std::fs::rename(&tmp, file)
}

/// The spooled runs of this machine: `(run, entries)`.
pub fn list(local: &Path) -> Vec<(String, PathBuf, Vec<Entry>)> {
    let Ok(rd) = std::fs::read_dir(local.join("pending")) else { return Vec::new() };
    let mut out = Vec::new();
    for e in rd.filter_map(|e| e.ok()) {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let Some(run) = p.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let entries = text.lines().filter_map(|l| serde_json::from_str::<Entry>(l).ok()).collect();
        out.push((run, p, entries));
    }
    out
}

/// Set a spool aside: it can no longer be written.
pub fn set_aside(file: &Path) {
    let _ = std::fs::rename(file, file.with_extension("stale"));
}

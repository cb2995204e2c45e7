//! Events the database did not take (it went away mid-play), kept on this
//! machine: `<state dir>/pending/<run-id>.jsonl`, 0600. The next session of
//! the same runbook@env on this machine writes them once it holds the lock,
//! before it reads the run: a step whose end waited here is not run again.
//! Written only if they follow what the database has; a spool that another
//! machine's session overtook is set aside (`.stale`), never merged.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::conns::Conns;
use super::lease::Shared as LeaseShared;
use super::runtime::Rt;
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

/// Write the spools of runbook@env left on this machine (under the new
/// lease's token), before the run is read. Whether there were any (what
/// was read of the database before may be out of date).
pub fn replay(rt: &Rt, conns: &Conns, local: &Path, l: &Arc<LeaseShared>) -> bool {
    let spools = list(local);
    let any = !spools.is_empty();
    for (run, file, entries) in spools {
        let (conns, l2, r2) = (conns.clone(), l.clone(), run.clone());
        let res = rt.call(async move {
            let c = conns.get().await.map_err(|e| e.to_string())?;
            let row = c
                .query_opt("SELECT runbook, env FROM runbook_runs WHERE id = $1", &[&r2])
                .await
                .map_err(|e| e.to_string())?;
            let Some(row) = row else { return Ok(None) };
            if row.get::<_, &str>(0) != l2.runbook || row.get::<_, &str>(1) != l2.env {
                return Ok(Some(false));
            }
            let max: i64 = c
                .query_one("SELECT COALESCE(max(seq), 0) FROM runbook_events WHERE run = $1", &[&r2])
                .await
                .map_err(|e| e.to_string())?
                .get(0);
            let rest: Vec<&Entry> = entries.iter().filter(|e| e.seq as i64 > max).collect();
            if rest.first().is_some_and(|e| e.seq as i64 != max + 1) {
                return Ok(None);
            }
            let seqs: Vec<i64> = rest.iter().map(|e| e.seq as i64).collect();
            let bodies: Vec<String> = rest.iter().map(|e| serde_json::to_string(e).unwrap_or_default()).collect();
            c.execute(
                "WITH ok AS (SELECT 1 FROM runbook_locks WHERE runbook = $1 AND env = $2 AND token = $3 FOR SHARE)
                 INSERT INTO runbook_events (run, seq, body)
                 SELECT $4, u.s, u.b FROM ok, unnest($5::bigint[], $6::text[]) AS u(s, b)",
                &[&l2.runbook, &l2.env, &l2.token, &r2, &seqs, &bodies],
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok::<_, String>(Some(true))
        });
        match res {
            Ok(Ok(Some(true))) => {
                tracing::info!("wrote the events of run {run} kept on this machine while the database was away");
                let _ = std::fs::remove_file(&file);
            }
            Ok(Ok(Some(false))) => {}
            Ok(Ok(None)) => set_aside(&file),
            Ok(Err(e)) => tracing::warn!("cannot write the spooled events of run {run}: {e}"),
            Err(e) => tracing::warn!("cannot write the spooled events of run {run}: {e}"),
        }
    }
    any
}

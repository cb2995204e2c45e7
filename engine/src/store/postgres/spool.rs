//! Events the database did not take (it went away mid-play), kept on this
//! machine: `<state dir>/pending/<run-id>.jsonl`, 0600, a header line with
//! the token of the session that wrote them, then the events. The next
//! session of the same runbook@env on this machine writes them once it
//! holds the lock, before it reads the run: a step whose end waited here is
//! not run again.
//!
//! **The journal is the run**: one history, each session's events after the
//! previous session's. Every stored event carries the token of the session
//! that made it (`runbook_events.token`; tokens grow with each new holder),
//! so a spool may be written back only where its session left off: the
//! run's last stored event is the one before the spool's first (or the
//! spool's own first ones, stored by an attempt whose answer was lost), and
//! no later session wrote anything since (the last stored event's token is
//! not newer than the spool's). Otherwise another session went on with the
//! run (it ran the kept step again, or finished the run): the spool is set
//! aside (`.stale`, said once, naming the file), never merged, never
//! deleted. A spool whose events are all stored already is removed. A
//! spool with a line this engine cannot read (a newer engine's event, a
//! damaged file) is set aside whole, never written back in part.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::conns::Conns;
use super::lease::Shared as LeaseShared;
use super::patience::wait;
use super::runtime::Rt;
use crate::run::Entry;

pub fn path(local: &Path, run: &str) -> PathBuf {
    local.join("pending").join(format!("{run}.jsonl"))
}

/// The spool's first line.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    /// The token of the session whose events these are.
    token: i64,
}

/// A spool as read back.
#[derive(Debug, Clone, Default)]
pub struct Spool {
    /// The token of the session that wrote it (`None`: an older spool).
    pub token: Option<i64>,
    pub entries: Vec<Entry>,
    /// Why part of it cannot be read (a line a newer engine wrote, a damaged
    /// file): then none of it is written back ([`decide`] sets it aside),
    /// since what it holds past that line would be lost.
    pub unreadable: Option<String>,
}

/// Replace the spool with `pending`, events of the session holding `token`
/// (written aside, then renamed).
pub fn write(file: &Path, token: i64, pending: &[(i64, String)]) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let tmp = file.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).mode(0o600).open(&tmp)?;
    let header = serde_json::to_string(&Header { token }).map_err(std::io::Error::other)?;
    f.write_all(header.as_bytes())?;
    f.write_all(b"\n")?;
    for (_, body) in pending {
        f.write_all(body.as_bytes())?;
        f.write_all(b"\n")?;
    }
    f.sync_data()?;
    std::fs::rename(&tmp, file)
}

pub fn read(text: &str) -> Spool {
    let mut lines = text.lines().enumerate().peekable();
    let token = lines.peek().and_then(|(_, l)| serde_json::from_str::<Header>(l).ok()).map(|h| h.token);
    if token.is_some() {
        lines.next();
    }
    let mut spool = Spool { token, ..Spool::default() };
    for (i, l) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str::<Entry>(l) {
            Ok(e) => spool.entries.push(e),
            Err(e) => {
                spool.unreadable.get_or_insert_with(|| format!("its line {} cannot be read ({e})", i + 1));
            }
        }
    }
    spool
}

/// The spooled runs of this machine: `(run, file, spool)`.
pub fn list(local: &Path) -> Vec<(String, PathBuf, Spool)> {
    let Ok(rd) = std::fs::read_dir(local.join("pending")) else { return Vec::new() };
    let mut out = Vec::new();
    for e in rd.filter_map(|e| e.ok()) {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let Some(run) = p.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
        let spool = match std::fs::read_to_string(&p) {
            Ok(text) => read(&text),
            Err(e) => Spool { unreadable: Some(format!("it cannot be read ({e})")), ..Spool::default() },
        };
        out.push((run, p, spool));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Set a spool aside (`<run>.stale`, or `<run>.N.stale` if taken): it can
/// no longer be written, and is kept for whoever looks into the run.
pub fn set_aside(file: &Path) -> PathBuf {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("spool").to_string();
    let mut to = file.with_file_name(format!("{stem}.stale"));
    let mut n = 2;
    while to.exists() {
        to = file.with_file_name(format!("{stem}.{n}.stale"));
        n += 1;
    }
    match std::fs::rename(file, &to) {
        Ok(()) => to,
        Err(_) => file.to_path_buf(),
    }
}

/// A stored event of the run: its seq, the token of the session that made
/// it (`None`: stored by an older engine), its body.
pub type Stored = (u64, Option<i64>, String);

/// What to do with a spool.
#[derive(Debug)]
pub enum Decision {
    /// Write these (the spool's events after the last stored one).
    Write(Vec<Entry>),
    /// Every event of it is stored already.
    Done,
    /// Another session went on with the run: set it aside, saying why.
    Aside(String),
}

/// What to do with `spool`, given the run's last stored seq `max` and its
/// stored events from the one before the spool's first on (`tail`).
pub fn decide(spool: &Spool, max: u64, tail: &[Stored]) -> Decision {
    if let Some(why) = &spool.unreadable {
        return Decision::Aside(format!("{why}: a newer engine's event, or a damaged file"));
    }
    let (Some(first), Some(last)) = (spool.entries.first(), spool.entries.last()) else { return Decision::Done };
    let (a, b) = (first.seq, last.seq);
    let token_of = |seq: u64| tail.iter().find(|s| s.0 == seq).and_then(|s| s.1);
    if max + 1 < a {
        return Decision::Aside(format!("the run's events {}..{} are not stored", max + 1, a - 1));
    }
    match spool.token {
        Some(mine) => {
            // Nothing stored by a later session: the last stored event is
            // this session's, or an earlier one's.
            match token_of(max) {
                Some(t) if t > mine => {
                    return Decision::Aside(format!("another session went on with the run (its event {max})"));
                }
                None if max >= a => return Decision::Aside(format!("event {max} was stored by another engine")),
                _ => {}
            }
            // Stored already (an answer that never came): the same events.
            for e in spool.entries.iter().take_while(|e| e.seq <= max) {
                let same = tail
                    .iter()
                    .find(|s| s.0 == e.seq)
                    .is_some_and(|s| s.1 == Some(mine) && serde_json::to_string(e).is_ok_and(|body| body == s.2));
                if !same {
                    return Decision::Aside(format!("event {} is stored with other content", e.seq));
                }
            }
            if max >= b {
                return Decision::Done;
            }
            Decision::Write(spool.entries.iter().filter(|e| e.seq > max).cloned().collect())
        }
        // An older spool, without its session's token: only right after
        // the last stored event.
        None if max + 1 == a => Decision::Write(spool.entries.clone()),
        None => Decision::Aside(format!("the run went on without them (its last event is {max})")),
    }
}

/// Write the spools of runbook@env left on this machine (under the new
/// lease's token, each event with its own session's), before the run is
/// read. Returns whether there were any (what was read of the database
/// before may be out of date), and what to tell the operator. An error
/// when the database did not take them: the play must not go on without
/// them (it would run their steps again).
pub fn replay(rt: &Rt, conns: &Conns, local: &Path, l: &Arc<LeaseShared>) -> Result<(bool, Vec<String>), String> {
    let spools = list(local);
    let any = !spools.is_empty();
    let mut notes = Vec::new();
    for (run, file, spool) in spools {
        let (conns, l2, r2, sp) = (conns.clone(), l.clone(), run.clone(), spool.clone());
        let res = rt.call(async move {
            let patience = conns.patience.clone();
            let work = async {
                let c = conns.get().await.map_err(|e| e.to_string())?;
                let row = c
                    .query_opt("SELECT runbook, env FROM runbook_runs WHERE id = $1", &[&r2])
                    .await
                    .map_err(|e| e.to_string())?;
                let Some(row) = row else {
                    return Ok(Some(Decision::Aside("the run is not in the database".into())));
                };
                if row.get::<_, &str>(0) != l2.runbook || row.get::<_, &str>(1) != l2.env {
                    return Ok(None);
                }
                let from = sp.entries.first().map_or(0, |e| e.seq as i64 - 1);
                let rows = c
                    .query(
                        "SELECT seq, token, body FROM runbook_events WHERE run = $1 AND seq >= $2
                         UNION ALL SELECT COALESCE(max(seq), 0), NULL, NULL FROM runbook_events WHERE run = $1
                         ORDER BY 1",
                        &[&r2, &from],
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                let max = rows.iter().map(|r| r.get::<_, i64>(0)).max().unwrap_or(0) as u64;
                let tail: Vec<Stored> = rows
                    .iter()
                    .filter_map(|r| {
                        let body: Option<String> = r.get(2);
                        body.map(|b| (r.get::<_, i64>(0) as u64, r.get::<_, Option<i64>>(1), b))
                    })
                    .collect();
                let decision = decide(&sp, max, &tail);
                if let Decision::Write(rest) = &decision {
                    let seqs: Vec<i64> = rest.iter().map(|e| e.seq as i64).collect();
                    let bodies: Vec<String> =
                        rest.iter().map(|e| serde_json::to_string(e).unwrap_or_default()).collect();
                    let n = c
                        .execute(
                            "WITH ok AS (SELECT 1 FROM runbook_locks WHERE runbook = $1 AND env = $2 AND token = $3 FOR SHARE)
                             INSERT INTO runbook_events (run, seq, body, token)
                             SELECT $4, u.s, u.b, $7 FROM ok, unnest($5::bigint[], $6::text[]) AS u(s, b)",
                            &[&l2.runbook, &l2.env, &l2.token, &r2, &seqs, &bodies, &sp.token],
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                    if n as usize != rest.len() {
                        return Err("the lock was taken meanwhile".to_string());
                    }
                }
                Ok::<_, String>(Some(decision))
            };
            patience.bound(wait(), work).await.unwrap_or_else(|| Err("no answer".into()))
        });
        match res.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(Some(Decision::Write(_) | Decision::Done)) => {
                tracing::info!("wrote the events of run {run} kept on this machine while the database was away");
                let _ = std::fs::remove_file(&file);
            }
            Ok(Some(Decision::Aside(why))) => {
                let to = set_aside(&file);
                tracing::warn!("spool of run {run} set aside as {}: {why}", to.display());
                notes.push(format!(
                    "the events of run {run} kept on this machine were not written back: {why}; set aside as {}",
                    to.display()
                ));
            }
            Ok(None) => {}
            Err(e) => {
                return Err(format!(
                    "cannot write the events of run {run} kept on this machine ({}): {e}",
                    file.display()
                ));
            }
        }
    }
    Ok((any, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Event;
    use crate::run::event::Note;

    fn note(seq: u64, text: &str) -> Entry {
        Entry { seq, at: String::new(), event: Event::Note(Note { step: None, text: text.into() }) }
    }

    /// What `decide` said, as seqs to write (`Some(vec![])`: done; `None`: aside).
    fn said(d: Decision) -> Option<Vec<u64>> {
        match d {
            Decision::Write(e) => Some(e.iter().map(|e| e.seq).collect()),
            Decision::Done => Some(vec![]),
            Decision::Aside(_) => None,
        }
    }

    fn stored(e: &Entry, token: i64) -> Stored {
        (e.seq, Some(token), serde_json::to_string(e).unwrap())
    }

    /// A line it cannot read (a newer engine's event, a damaged file) sets
    /// the whole spool aside: writing back the rest would lose that event
    /// and leave a gap in the run.
    #[test]
    fn a_spool_with_a_line_it_cannot_read_is_set_aside_not_written_back_in_part() {
        let good = serde_json::to_string(&note(14, "a")).unwrap();
        let text = format!("{{\"token\":5}}\n{good}\n{{\"seq\":15,\"event\":\"from-the-future\"}}\n");
        let spool = read(&text);
        assert_eq!(spool.entries.len(), 1);
        assert!(spool.unreadable.as_deref().is_some_and(|w| w.starts_with("its line 3 cannot be read (")), "{spool:?}");
        let Decision::Aside(why) = decide(&spool, 13, &[]) else { panic!("written back in part") };
        assert!(why.ends_with(": a newer engine's event, or a damaged file"), "{why}");
        let whole = read(&format!("{{\"token\":5}}\n{good}\n"));
        assert!(whole.unreadable.is_none() && matches!(decide(&whole, 13, &[]), Decision::Write(_)));
    }

    /// A spool file that cannot be read at all (not UTF-8) is set aside,
    /// not taken for an empty one and removed.
    #[test]
    fn a_spool_file_that_cannot_be_read_is_not_taken_for_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "r");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"{\"token\":5}\n\xff\xfe\n").unwrap();
        let spools = list(dir.path());
        assert_eq!(spools.len(), 1);
        assert!(matches!(decide(&spools[0].2, 13, &[]), Decision::Aside(_)));
    }

    #[test]
    fn a_spool_is_written_back_only_where_its_session_left_off() {
        let spool = Spool { token: Some(5), entries: vec![note(14, "a"), note(15, "b")], unreadable: None };
        let mine = note(13, "before");
        // The normal case: the last stored event is this session's, just before.
        assert_eq!(said(decide(&spool, 13, &[stored(&mine, 5)])), Some(vec![14, 15]));
        // Or an earlier session's (this session's first events are all here).
        assert_eq!(said(decide(&spool, 13, &[stored(&mine, 4)])), Some(vec![14, 15]));
        // Its first event was stored by an attempt whose answer was lost.
        let tail = [stored(&mine, 5), stored(&spool.entries[0], 5)];
        assert_eq!(said(decide(&spool, 14, &tail)), Some(vec![15]));
        let tail = [stored(&mine, 5), stored(&spool.entries[0], 5), stored(&spool.entries[1], 5)];
        assert_eq!(said(decide(&spool, 15, &tail)), Some(vec![]));
        // Another session went on: never merged, never dropped.
        let other = [stored(&mine, 5), stored(&note(14, "frank"), 6)];
        assert_eq!(said(decide(&spool, 14, &other)), None);
        let finished: Vec<Stored> = (14..=30).map(|s| stored(&note(s, "frank"), 6)).collect();
        assert_eq!(said(decide(&spool, 30, &finished)), None, "a run finished elsewhere");
        let later = [stored(&mine, 7)];
        assert_eq!(said(decide(&spool, 13, &later)), None, "a later session's last event");
        let changed = [stored(&mine, 5), stored(&note(14, "other"), 5)];
        assert_eq!(said(decide(&spool, 14, &changed)), None);
        assert_eq!(said(decide(&spool, 12, &[])), None, "a gap");
        // A spool of an older engine: only right after the last event.
        let old = Spool { token: None, ..spool.clone() };
        assert_eq!(said(decide(&old, 13, &[])), Some(vec![14, 15]));
        assert_eq!(said(decide(&old, 15, &[])), None);
    }

    #[test]
    fn a_spool_keeps_its_session_token_and_an_older_one_reads_without() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "r");
        let pending: Vec<(i64, String)> =
            [note(3, "x"), note(4, "y")].iter().map(|e| (e.seq as i64, serde_json::to_string(e).unwrap())).collect();
        write(&file, 9, &pending).unwrap();
        let got = list(dir.path());
        assert_eq!(got.len(), 1);
        let seqs = |s: &Spool| s.entries.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!((got[0].2.token, seqs(&got[0].2)), (Some(9), vec![3, 4]));
        let old = read(&format!("{}\n", pending[0].1));
        assert_eq!((old.token, seqs(&old)), (None, vec![3]));
        let aside = set_aside(&file);
        assert!(aside.ends_with("r.stale") && aside.exists() && !file.exists());
        write(&file, 9, &pending).unwrap();
        assert!(set_aside(&file).ends_with("r.2.stale"), "an earlier one is kept");
    }
}

//! The end of a step's log in PostgreSQL ([`Store::log_tail`]): the chunk
//! sizes first, then only the chunks from the one holding the tail's first
//! byte, so a page of a step that logged megabytes fetches its last KiB.
//!
//! [`Store::log_tail`]: crate::store::Store::log_tail

use super::PgStore;
use crate::error::Result;
use crate::store::LogTail;

impl PgStore {
    pub(super) fn tail(&self, run: &str, step: &str, since: u64, max_bytes: u64) -> Result<Option<LogTail>> {
        let (r, s) = (run.to_string(), step.to_string());
        let sizes: Vec<(i32, i32)> = self.read(move |c| async move {
            let rows = c
                .query("SELECT n, length(data) FROM runbook_logs WHERE run = $1 AND step = $2 ORDER BY n", &[&r, &s])
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        if sizes.is_empty() {
            return Ok(None);
        }
        let len: u64 = sizes.iter().map(|(_, l)| *l as u64).sum();
        let from = LogTail::start(len, since, max_bytes);
        // The chunk holding byte `from`, and where it starts.
        let mut at = 0u64;
        let mut first = None;
        for (n, l) in &sizes {
            if at + *l as u64 > from {
                first = Some(*n);
                break;
            }
            at += *l as u64;
        }
        let Some(first) = first else { return Ok(Some(LogTail { len, from, bytes: Vec::new() })) };
        let (r, s) = (run.to_string(), step.to_string());
        let chunks: Vec<Vec<u8>> = self.read(move |c| async move {
            let rows = c
                .query(
                    "SELECT data FROM runbook_logs WHERE run = $1 AND step = $2 AND n >= $3 ORDER BY n",
                    &[&r, &s, &first],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?;
        let mut bytes = chunks.concat();
        bytes.drain(..((from - at) as usize).min(bytes.len()));
        Ok(Some(LogTail { len: from + bytes.len() as u64, from, bytes }))
    }
}

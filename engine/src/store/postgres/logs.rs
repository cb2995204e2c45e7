//! Step output in the shared store: the chunks of [`crate::store::logs`]
//! (already masked: output lines are redacted before they reach a log) as
//! rows of `runbook_logs`, so `report` and a resume work from any machine.
//! A step's output is bounded per session ([`LIMIT`], `RUNBOOK_PG_LOG_LIMIT`
//! bytes): past it, one line says so and the rest is dropped. A chunk the
//! database cannot take is dropped too (a log is a convenience, the events
//! are the record).

use std::collections::HashMap;

use crate::store::logs::Chunks;

/// The most output of one step kept per session.
pub const LIMIT: usize = 16 * 1024 * 1024;

pub struct PgChunks {
    pub handle: tokio::runtime::Handle,
    pub pool: deadpool_postgres::Pool,
    pub run: String,
    pub limit: usize,
    /// Bytes stored per step in this session.
    pub sizes: HashMap<String, usize>,
}

impl PgChunks {
    pub fn new(handle: tokio::runtime::Handle, pool: deadpool_postgres::Pool, run: &str) -> PgChunks {
        let limit = std::env::var("RUNBOOK_PG_LOG_LIMIT").ok().and_then(|v| v.parse().ok()).unwrap_or(LIMIT);
        PgChunks { handle, pool, run: run.to_string(), limit, sizes: HashMap::new() }
    }
}

const INSERT: &str = "INSERT INTO runbook_logs (run, step, n, data)
     SELECT $1, $2, COALESCE(max(n) + 1, 0), $3 FROM runbook_logs WHERE run = $1 AND step = $2";

impl Chunks for PgChunks {
    fn write(&mut self, step: &str, data: &[u8], last: bool) {
        let size = self.sizes.entry(step.to_string()).or_insert(0);
        let room = self.limit.saturating_sub(*size);
        let mut data = data.to_vec();
        if data.len() > room {
            if room > 0 {
                data.truncate(room);
                data.extend_from_slice(
                    format!("\n[runbook: output past {} bytes is not kept in the store]\n", self.limit).as_bytes(),
                );
            } else {
                data.clear();
            }
            *size = self.limit;
        } else {
            *size += data.len();
        }
        // Nothing printed, nothing stored (a step without output has no log).
        let _ = last;
        if data.is_empty() {
            return;
        }
        let (pool, run, step) = (self.pool.clone(), self.run.clone(), step.to_string());
        let r = super::runtime::call(&self.handle, async move {
            let c = pool.get().await.map_err(|e| e.to_string())?;
            c.execute(INSERT, &[&run, &step, &data]).await.map_err(|e| e.to_string())
        });
        if let Ok(Err(e)) = r {
            tracing::warn!("step log of `{}` not stored: {e}", self.run);
        }
    }
}

//! Step output in the shared store: the chunks of [`crate::store::logs`]
//! (already masked: output lines are redacted before they reach a log) as
//! rows of `runbook_logs`, so `report` and a resume work from any machine.
//! A step's output is bounded per session ([`LIMIT`], `RUNBOOK_PG_LOG_LIMIT`
//! bytes): past it, one line says so and the rest is dropped. A chunk the
//! database cannot take is dropped too (a log is a convenience, the events
//! are the record). The chunks handed over together (the writer takes what
//! came while it rested: the output of a burst of quick steps) are written
//! in one statement.

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
    /// Chunks not written yet: `(step, data)`, in order.
    held: Vec<(String, Vec<u8>)>,
    held_bytes: usize,
}

/// Chunks held back at most, in bytes (then written at once).
const HOLD: usize = 1024 * 1024;

impl PgChunks {
    pub fn new(handle: tokio::runtime::Handle, pool: deadpool_postgres::Pool, run: &str) -> PgChunks {
        let limit = std::env::var("RUNBOOK_PG_LOG_LIMIT").ok().and_then(|v| v.parse().ok()).unwrap_or(LIMIT);
        PgChunks { handle, pool, run: run.to_string(), limit, sizes: HashMap::new(), held: Vec::new(), held_bytes: 0 }
    }
}

/// Each chunk numbered after the step's last one stored, in the order given.
const INSERT: &str = "INSERT INTO runbook_logs (run, step, n, data)
     SELECT $1, u.step,
            COALESCE((SELECT max(l.n) FROM runbook_logs l WHERE l.run = $1 AND l.step = u.step), -1)
              + row_number() OVER (PARTITION BY u.step ORDER BY u.i),
            u.data
     FROM unnest($2::text[], $3::bytea[]) WITH ORDINALITY AS u(step, data, i)";

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
        self.held_bytes += data.len();
        self.held.push((step.to_string(), data));
        if self.held_bytes >= HOLD {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let (steps, data): (Vec<String>, Vec<Vec<u8>>) = std::mem::take(&mut self.held).into_iter().unzip();
        self.held_bytes = 0;
        let (pool, run) = (self.pool.clone(), self.run.clone());
        let r = super::runtime::call(&self.handle, async move {
            let c = pool.get().await.map_err(|e| e.to_string())?;
            let stmt = c.prepare_cached(INSERT).await.map_err(|e| e.to_string())?;
            c.execute(&stmt, &[&run, &steps, &data]).await.map_err(|e| e.to_string())
        });
        if let Ok(Err(e)) = r {
            tracing::warn!("step logs of run {} not stored: {e}", self.run);
        }
    }
}

//! Step output in the shared store: the chunks of [`crate::store::logs`]
//! (already masked: output lines are redacted before they reach a log) as
//! rows of `runbook_logs`, so `report` and a resume work from any machine.
//! A step's output is bounded per session ([`LIMIT`], `RUNBOOK_PG_LOG_LIMIT`
//! bytes): past it, one line says so and the rest is dropped. A chunk the
//! database cannot take is dropped too (a log is a convenience, the events
//! are the record). The chunks handed over together (the writer takes what
//! came while it rested: the output of a burst of quick steps) are written
//! in one statement.
//!
//! The chunks are written from the log writer's own thread, on a connection
//! and a small runtime of its own: never through the store's runtime, which
//! a play may be running on ([`crate::store::lent`]) and may be waiting for
//! this thread (a step's output waits when the writer is behind).

use std::collections::HashMap;

use super::connect::Target;
use crate::store::logs::Chunks;

/// The most output of one step kept per session.
pub const LIMIT: usize = 16 * 1024 * 1024;

pub struct PgChunks {
    target: Target,
    /// Drives this thread's connection while a statement is waited for.
    rt: Option<tokio::runtime::Runtime>,
    conn: Option<(tokio_postgres::Client, tokio_postgres::Statement)>,
    run: String,
    limit: usize,
    /// Bytes stored per step in this session.
    sizes: HashMap<String, usize>,
    /// Chunks not written yet: `(step, data)`, in order.
    held: Vec<(String, Vec<u8>)>,
    held_bytes: usize,
}

/// Chunks held back at most, in bytes (then written at once).
const HOLD: usize = 1024 * 1024;

/// How long the log writer gathers the output of quick steps before a write.
const REST: std::time::Duration = std::time::Duration::from_millis(50);

impl PgChunks {
    pub fn new(target: Target, run: &str) -> PgChunks {
        let limit = std::env::var("RUNBOOK_PG_LOG_LIMIT").ok().and_then(|v| v.parse().ok()).unwrap_or(LIMIT);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
        PgChunks {
            target,
            rt,
            conn: None,
            run: run.to_string(),
            limit,
            sizes: HashMap::new(),
            held: Vec::new(),
            held_bytes: 0,
        }
    }

    /// This thread's connection, opened (and the insert prepared) if need be.
    fn connect(&mut self) -> Result<(), String> {
        if self.conn.as_ref().is_some_and(|(c, _)| !c.is_closed()) {
            return Ok(());
        }
        self.conn = None;
        let Some(rt) = &self.rt else { return Err("cannot start the log writer's runtime".into()) };
        let t = &self.target;
        self.conn = Some(rt.block_on(async {
            let (client, conn) = t.connect().await.map_err(|e| super::chain(&e))?;
            tokio::spawn(conn);
            let (_, stmt) = tokio::join!(client.batch_execute(super::fenced::GENERIC_PLANS), client.prepare(INSERT));
            let stmt = stmt.map_err(|e| super::chain(&e))?;
            Ok::<_, String>((client, stmt))
        })?);
        Ok(())
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

    /// Connected before the first chunk comes: the play does not wait for
    /// it at its end.
    fn begin(&mut self) {
        if let Err(e) = self.connect() {
            tracing::warn!("step logs of run {}: cannot connect yet: {e}", self.run);
        }
    }

    /// Each write is a transaction of the team's database: the output of
    /// quick steps is gathered for longer than the local store's files are.
    fn rest(&self) -> std::time::Duration {
        REST
    }

    fn flush(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let (steps, data): (Vec<String>, Vec<Vec<u8>>) = std::mem::take(&mut self.held).into_iter().unzip();
        self.held_bytes = 0;
        let r = self.connect().and_then(|()| {
            let (Some(rt), Some((client, stmt))) = (&self.rt, &self.conn) else { return Ok(0) };
            rt.block_on(client.execute(stmt, &[&self.run, &steps, &data])).map_err(|e| super::chain(&e))
        });
        if let Err(e) = r {
            self.conn = None;
            tracing::warn!("step logs of run {} not stored: {e}", self.run);
        }
    }
}

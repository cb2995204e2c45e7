//! Step output in the shared store: the chunks of [`crate::store::logs`]
//! (already masked: output lines are redacted before they reach a log) as
//! rows of `runbook_logs`, so `report` and a resume work from any machine.
//! A step's output is bounded per session ([`LIMIT`], `RUNBOOK_PG_LOG_LIMIT`
//! bytes): past it, one line says so and the rest is dropped. The chunks
//! handed over together (the writer takes what
//! came while it rested: the output of a burst of quick steps) are written
//! in one statement.
//!
//! **Only the lock's holder writes a run's logs.** A chunk is stored only
//! while the lock row has this session's token (the fence of the events,
//! [`super::fenced`]): output that reaches the store after the run was
//! taken over (a step's last lines, read after the new session began, or
//! chunks held while the database was away) would otherwise be numbered
//! after the new session's and read as the new run's output, and shift
//! where every later run's part of the log begins. A refused chunk is kept
//! on this machine instead, in `<state dir>/runs/<run-id>/<step>.log` (as
//! the local store keeps a log), and the engine says so once per step.
//! A chunk the database does not take because it is away is held, with
//! what follows it, and written with the next write that succeeds (in
//! order: the log's chunks are numbered as they came); what is still not
//! stored when the play ends, or past [`LIMIT`] bytes held, is kept on this
//! machine in the same place, said once per step.
//! Nothing a step printed is lost; the shared log holds only what the
//! session holding the run wrote. The `FOR SHARE` on the lock row orders
//! it: a take-over waits for a chunk being stored, and the new session
//! reads where each log ends after that.
//!
//! The chunks go over the engine's own connection ([`super::conns`]): a
//! play is one backend of the team's server, its logs included. They are
//! written from the log writer's thread, which waits for each statement on
//! a small runtime of its own: the connection is driven by the store's
//! runtime, which may be lent to the play ([`crate::store::lent`]), and the
//! play never waits for this thread while it runs (a step's output waits
//! for room asynchronously, [`crate::store::logs::LogRoom`]). Once the
//! engine's connection broke, a statement takes one of the pool's, through
//! the store's runtime.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use tokio_postgres::Statement;

use super::conns::Conns;
use super::lease::Shared as LeaseShared;
use crate::store::logs::Chunks;

/// The most output of one step kept per session.
pub const LIMIT: usize = 16 * 1024 * 1024;

pub struct PgChunks {
    conns: Conns,
    /// The store's runtime: a pooled connection is taken there.
    store: tokio::runtime::Handle,
    /// Waits for a statement on this thread.
    rt: Option<tokio::runtime::Runtime>,
    /// The insert, prepared on the engine's connection.
    insert: Option<Statement>,
    run: String,
    /// The session's lease: its runbook@env and token fence each insert.
    lease: Arc<LeaseShared>,
    /// Where a chunk the store refused is kept (`<state dir>/runs/<run>`).
    keep: PathBuf,
    /// Steps whose refused output was said to be kept.
    kept: HashSet<String>,
    limit: usize,
    /// Bytes stored per step in this session.
    sizes: HashMap<String, usize>,
    /// Chunks not written yet: `(step, data)`, in order.
    held: Vec<(String, Vec<u8>)>,
    held_bytes: usize,
    /// Output neither stored nor kept since last asked ([`Chunks::lost`]).
    lost: Option<String>,
}

/// Chunks held back at most, in bytes (then written at once).
const HOLD: usize = 1024 * 1024;

/// How long the log writer gathers the output of quick steps before a write.
const REST: std::time::Duration = std::time::Duration::from_millis(50);

impl PgChunks {
    pub fn new(
        conns: Conns,
        store: tokio::runtime::Handle,
        run: &str,
        lease: Arc<LeaseShared>,
        keep: PathBuf,
    ) -> PgChunks {
        let limit = std::env::var("RUNBOOK_PG_LOG_LIMIT").ok().and_then(|v| v.parse().ok()).unwrap_or(LIMIT);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
        PgChunks {
            conns,
            store,
            rt,
            insert: None,
            run: run.to_string(),
            lease,
            keep,
            kept: HashSet::new(),
            limit,
            sizes: HashMap::new(),
            held: Vec::new(),
            held_bytes: 0,
            lost: None,
        }
    }

    /// Store `steps`' `data` in one statement: on the engine's connection
    /// while it works (the insert prepared there once), else on one of the
    /// pool's.
    fn insert(&mut self, steps: &[String], data: &[Vec<u8>]) -> Result<u64, String> {
        crate::store::logs::fault_wait("pg-logs-wait-for");
        let Some(rt) = &self.rt else { return Err("cannot start the log writer's runtime".into()) };
        let (runbook, env, token) = (self.lease.runbook.clone(), self.lease.env.clone(), self.lease.token);
        let (patience, limit) = (self.conns.patience.clone(), super::patience::wait());
        let late = move || format!("no answer within {}s", limit.as_secs_f64());
        let main = &self.conns.main;
        if !main.is_closed() {
            let stmt = match self.insert.take() {
                Some(stmt) => stmt,
                None => rt
                    .block_on(patience.bound(limit, main.prepare(INSERT)))
                    .ok_or_else(late)?
                    .map_err(|e| super::chain(&e))?,
            };
            let stored = rt
                .block_on(
                    patience.bound(limit, main.execute(&stmt, &[&self.run, &steps, &data, &runbook, &env, &token])),
                )
                .ok_or_else(late)?
                .map_err(|e| super::chain(&e));
            self.insert = Some(stmt);
            return stored;
        }
        self.insert = None;
        let (conns, run, steps, data) = (self.conns.clone(), self.run.clone(), steps.to_vec(), data.to_vec());
        super::runtime::call(&self.store, async move {
            let work = async {
                let c = conns.get().await.map_err(|e| e.to_string())?;
                c.execute(INSERT, &[&run, &steps, &data, &runbook, &env, &token]).await.map_err(|e| super::chain(&e))
            };
            patience.bound(limit, work).await.unwrap_or_else(|| Err(late()))
        })
        .map_err(|e| e.to_string())?
    }
}

/// Each chunk numbered after the step's last one stored, in the order given;
/// none while the lock row does not have the session's token.
const INSERT: &str = "WITH ok AS (SELECT 1 FROM runbook_locks WHERE runbook = $4 AND env = $5 AND token = $6 FOR SHARE)
     INSERT INTO runbook_logs (run, step, n, data)
     SELECT $1, u.step,
            COALESCE((SELECT max(l.n) FROM runbook_logs l WHERE l.run = $1 AND l.step = u.step), -1)
              + row_number() OVER (PARTITION BY u.step ORDER BY u.i),
            u.data
     FROM ok, unnest($2::text[], $3::bytea[]) WITH ORDINALITY AS u(step, data, i)";

/// Why chunks are kept on this machine rather than in the shared log.
#[derive(Clone, Copy)]
enum Kept {
    /// The store refused them: the run is another session's now.
    TakenOver,
    /// The database did not take them before the play ended (or too much
    /// waited for it).
    Away,
}

impl PgChunks {
    /// Chunks not in the run's shared log: kept on this machine, said once
    /// per step.
    fn keep(&mut self, steps: &[String], data: &[Vec<u8>], why: Kept) {
        for (step, data) in steps.iter().zip(data) {
            let file = self.keep.join(format!("{step}.log"));
            let kept = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.keep).and_then(|()| {
                std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&file)?.write_all(data)
            });
            let what = match why {
                Kept::TakenOver => "reached the store after the run was taken over",
                Kept::Away => "could not be stored: the state database did not take it",
            };
            let said = match &kept {
                Ok(()) => format!(
                    "runbook: output of step `{step}` {what}: not in the run's shared log, kept on this machine in {}",
                    file.display()
                ),
                Err(e) => {
                    format!("runbook: output of step `{step}` {what} and could not be kept in {}: {e}", file.display())
                }
            };
            if let Err(e) = &kept {
                self.lost.get_or_insert_with(|| crate::store::local::output_lost(step, &file, e));
            }
            if self.kept.insert(step.clone()) || kept.is_err() {
                tracing::warn!("{said}");
                crate::errln!("{said}");
            }
        }
    }
}

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
        let bytes = std::mem::take(&mut self.held_bytes);
        match self.insert(&steps, &data) {
            Ok(0) => self.keep(&steps, &data, Kept::TakenOver),
            Ok(_) => {}
            // Held, in order, for the next write; too much held goes to
            // this machine rather than memory.
            Err(e) if bytes < self.limit => {
                tracing::warn!("step logs of run {} not stored yet: {e}", self.run);
                self.held = steps.into_iter().zip(data).collect();
                self.held_bytes = bytes;
            }
            Err(e) => {
                tracing::warn!("step logs of run {} not stored: {e}", self.run);
                self.keep(&steps, &data, Kept::Away);
            }
        }
    }

    fn finish(&mut self) {
        self.flush();
        let (steps, data): (Vec<String>, Vec<Vec<u8>>) = std::mem::take(&mut self.held).into_iter().unzip();
        self.held_bytes = 0;
        if !steps.is_empty() {
            self.keep(&steps, &data, Kept::Away);
        }
    }

    fn lost(&mut self) -> Option<String> {
        self.lost.take()
    }
}

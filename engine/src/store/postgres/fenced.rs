//! The fenced insert of a batch of a run's events: written only while the
//! lock row still has the lease's token (`FOR SHARE` on the row, so a
//! take-over waits for the batch or the batch sees the new token), on the
//! engine's connection while it works. Fewer rows than given means
//! either the token is not ours any more (fenced) or an attempt whose answer
//! was lost had written some: the row says which. Each row carries the
//! token of the session that made it (see [`super::spool`]). An attempt
//! that gets no answer within `RUNBOOK_PG_WAIT` counts as the database
//! being away.

use super::conns::{Conn, Conns};
use super::lease::Shared as LeaseShared;

/// The fenced insert: written only while the lock row has our token.
pub const INSERT: &str =
    "WITH ok AS (SELECT 1 FROM runbook_locks WHERE runbook = $1 AND env = $2 AND token = $3 FOR SHARE)
     INSERT INTO runbook_events (run, seq, body, token)
     SELECT $4, u.s, u.b, $3 FROM ok, unnest($5::bigint[], $6::text[]) AS u(s, b)";

/// [`INSERT`] again after an attempt whose answer was lost may have written
/// some of the batch: those are left as they are. Only then: checking each
/// row for a conflict first costs every commit a few percent.
const INSERT_AGAIN: &str =
    "WITH ok AS (SELECT 1 FROM runbook_locks WHERE runbook = $1 AND env = $2 AND token = $3 FOR SHARE)
     INSERT INTO runbook_events (run, seq, body, token)
     SELECT $4, u.s, u.b, $3 FROM ok, unnest($5::bigint[], $6::text[]) AS u(s, b)
     ON CONFLICT (run, seq) DO NOTHING";

/// The writer's connections plan [`INSERT`] once: a custom plan per
/// execution (the server's default for its first runs, and whenever it
/// judges one cheaper) cost each commit of a step's start a tenth of its
/// time. A server that does not know the setting (before PostgreSQL 12)
/// plans as it did.
pub const GENERIC_PLANS: &str = "SET plan_cache_mode = force_generic_plan";

/// A connection made ready for [`INSERT`]: plans kept, the insert prepared
/// (both sent at once: one round trip).
pub async fn prepare(client: &tokio_postgres::Client) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
    let (_, prepared) = tokio::join!(client.batch_execute(GENERIC_PLANS), client.prepare(INSERT));
    prepared
}

/// The writer's connection, with [`INSERT`] prepared on it.
pub struct Ready {
    pub conn: Conn,
    pub insert: tokio_postgres::Statement,
}

pub enum Outcome {
    Committed,
    Fenced(String),
    Down(String),
    /// The server refuses the write for a reason waiting does not fix
    /// (`said::refuses_writes`): the server's words.
    Denied(String),
}

/// `RUNBOOK_FAULT=pg-kill-connections-after-end:STEP` (debug builds, as
/// the engine's other faults): the database connections are killed right
/// after STEP's end is queued, before it and the next start are written.
#[cfg(debug_assertions)]
pub fn fault_kill_connections(step: &str) -> bool {
    std::env::var("RUNBOOK_FAULT").is_ok_and(|v| v.strip_prefix("pg-kill-connections-after-end:") == Some(step))
}

#[cfg(not(debug_assertions))]
pub fn fault_kill_connections(_: &str) -> bool {
    false
}

/// Fault injection (`RUNBOOK_FAULT=pg-kill-connections-after-end:STEP`):
/// every connection to the run's database but one is killed by the server,
/// then that one, as when the database drops them all.
pub async fn kill_connections(conns: &Conns) {
    let Ok(c) = conns.pool.get().await else { return };
    let _ = c
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )
        .await;
    let _ = c.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())").await;
}

pub async fn insert(
    conns: &Conns,
    conn: &mut Option<Ready>,
    lease: &LeaseShared,
    run: &str,
    batch: &[(i64, String)],
) -> Outcome {
    let limit = super::patience::wait();
    let attempt = async {
        let ready = match conn.take().filter(|r| !r.conn.is_closed()) {
            Some(r) => r,
            None => match conns.get().await {
                Ok(c) => match prepare(&c).await {
                    Ok(insert) => Ready { conn: c, insert },
                    Err(e) => return Outcome::Down(cause(&e)),
                },
                Err(e) => return Outcome::Down(cause(&e)),
            },
        };
        let out = insert_on(&ready, lease, run, batch).await;
        if !matches!(out, Outcome::Down(_)) {
            *conn = Some(ready);
        }
        out
    };
    // Not cut short by giving up: what this attempt writes is the spool's
    // next session's to know about, and an answer is worth its whole wait.
    match tokio::time::timeout(limit, attempt).await {
        Ok(out) => out,
        Err(_) => Outcome::Down(format!("no answer within {}s", limit.as_secs_f64())),
    }
}

/// Why the database could not be reached, as its innermost cause says it
/// (`Connection refused (os error 111)`), without the pool's and the
/// client's wrappings around it.
pub fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(s) = inner.source() {
        inner = s;
    }
    inner.to_string()
}

async fn insert_on(ready: &Ready, lease: &LeaseShared, run: &str, batch: &[(i64, String)]) -> Outcome {
    let client = &ready.conn;
    let seqs: Vec<i64> = batch.iter().map(|b| b.0).collect();
    let bodies: Vec<&str> = batch.iter().map(|b| b.1.as_str()).collect();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&lease.runbook, &lease.env, &lease.token, &run, &seqs, &bodies];
    let n = match client.execute(&ready.insert, &params).await {
        Ok(n) => n,
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
            let again = match client.prepare(INSERT_AGAIN).await {
                Ok(s) => s,
                Err(e) => return Outcome::Down(cause(&e)),
            };
            match client.execute(&again, &params).await {
                Ok(n) => n,
                Err(e) => {
                    return super::said::refuses_writes(&e).map_or_else(|| Outcome::Down(cause(&e)), Outcome::Denied);
                }
            }
        }
        Err(e) => return super::said::refuses_writes(&e).map_or_else(|| Outcome::Down(cause(&e)), Outcome::Denied),
    };
    if n as usize == batch.len() {
        return Outcome::Committed;
    }
    // Fewer rows: either the token is not ours any more, or some were
    // committed by an attempt whose answer was lost (the conflict).
    match client
        .query_opt(
            "SELECT token, holder FROM runbook_locks WHERE runbook = $1 AND env = $2",
            &[&lease.runbook, &lease.env],
        )
        .await
    {
        Ok(Some(r)) if r.get::<_, i64>(0) == lease.token => Outcome::Committed,
        Ok(r) => {
            let who = r
                .and_then(|r| serde_json::from_str::<crate::store::Holder>(r.get::<_, &str>(1)).ok())
                .map_or_else(|| "another engine".to_string(), |h| super::lease::describe(&h));
            Outcome::Fenced(format!("the store refused this session's events: {}", super::lease::taken_by(&who)))
        }
        Err(e) => Outcome::Down(cause(&e)),
    }
}

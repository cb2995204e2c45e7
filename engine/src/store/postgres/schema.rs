//! The shared store's schema: versioned migrations embedded in the binary
//! (`migrations/NNN_*.sql`), applied in order by a play, one transaction
//! each, under an advisory lock so that two engines starting at once do not
//! both apply them. A database whose schema is newer than this binary knows
//! is refused: an old engine must not write what it does not understand.
//!
//! Only a play creates or migrates the schema. A read-only command (`runs`,
//! `report`, `serve`) writes nothing: without the schema it finds no runs;
//! with an older one it reads what that version has (migrating would make
//! every older engine of the team refuse the database, mid-incident).

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::connect::Target;
use super::said::{Doing, failed};
use crate::error::{Diagnostic, Error, Result};

/// `(version, sql)`, oldest first.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/001_runs.sql")),
    (2, include_str!("migrations/002_no_run_keys.sql")),
    (3, include_str!("migrations/003_beat_and_event_tokens.sql")),
];

/// The advisory lock key of migrations (any constant of our own).
const MIGRATION_LOCK: i64 = 0x7275_6e62_6f6f_6b00;

pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

const VERSION: &str = "SELECT COALESCE(max(version), 0) FROM runbook_schema";

/// The schema's version, 0 without one; a newer one than this binary's is
/// refused. Reads only.
pub async fn check(client: &Client, t: &Target) -> Result<i32> {
    let current = match client.query_typed(VERSION, &[]).await {
        Ok(rows) => rows.first().map_or(0, |r| r.get::<_, i32>(0)),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => 0,
        Err(e) => return Err(failed(t, Doing::Use, "schema", &e)),
    };
    if current > latest() {
        return Err(newer(&t.display, current));
    }
    Ok(current)
}

/// Bring the schema up to date, or refuse a newer one.
pub async fn migrate(client: &mut Client, t: &Target) -> Result<()> {
    // The usual case in one round trip: the schema is there and current.
    let current = check(client, t).await?;
    if current == latest() {
        return Ok(());
    }
    let doing = if current == 0 { Doing::Create } else { Doing::Migrate };
    let what = if current == 0 { "creating the schema" } else { "migrating the schema" };
    let sql = |e: tokio_postgres::Error| failed(t, doing, what, &e);
    // Everything under the lock, the table too: two engines creating it at
    // once race in the catalog (a duplicate type), which IF NOT EXISTS does
    // not cover. DDL is transactional, so the loser sees the winner's table.
    let tx = client.transaction().await.map_err(sql)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(sql)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS runbook_schema (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(sql)?;
    let current: i32 = tx.query_one(VERSION, &[]).await.map_err(sql)?.get(0);
    if current > latest() {
        return Err(newer(&t.display, current));
    }
    for (v, text) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(text).await.map_err(sql)?;
        tx.execute("INSERT INTO runbook_schema (version) VALUES ($1)", &[v]).await.map_err(sql)?;
        tracing::info!("state database {}: schema migrated to version {v}", t.display);
    }
    tx.commit().await.map_err(sql)
}

fn newer(name: &str, current: i32) -> Error {
    Error::invalid(
        Diagnostic::error(
            "state-schema",
            format!(
                "the state database {name} has schema version {current}, newer than this runbook knows ({})",
                latest()
            ),
        )
        .hint("upgrade runbook on this machine: the team's database was migrated by a newer version"),
    )
}

//! The shared store's schema: versioned migrations embedded in the binary
//! (`migrations/NNN_*.sql`), applied in order on first use, one transaction
//! each, under an advisory lock so that two engines starting at once do not
//! both apply them. A database whose schema is newer than this binary knows
//! is refused: an old engine must not write what it does not understand.

use tokio_postgres::Client;

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

/// Bring the schema up to date, or refuse a newer one.
pub async fn migrate(client: &mut Client, name: &str) -> Result<()> {
    let sql = |e: tokio_postgres::Error| Error::Other(anyhow::anyhow!("state database {name}: migration: {e}"));
    // The usual case in one round trip: the schema is there and current.
    if let Ok(rows) = client.query_typed("SELECT COALESCE(max(version), 0) FROM runbook_schema", &[]).await
        && let Some(current) = rows.first().map(|r| r.get::<_, i32>(0))
    {
        if current == latest() {
            return Ok(());
        }
        if current > latest() {
            return Err(newer(name, current));
        }
    }
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS runbook_schema (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .or_else(|e| {
            // Two engines creating it at once: the other one won.
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) { Ok(()) } else { Err(e) }
        })
        .map_err(sql)?;
    let current = version(client).await.map_err(sql)?;
    if current == latest() {
        return Ok(());
    }
    if current > latest() {
        return Err(newer(name, current));
    }
    let tx = client.transaction().await.map_err(sql)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(sql)?;
    let current: i32 =
        tx.query_one("SELECT COALESCE(max(version), 0) FROM runbook_schema", &[]).await.map_err(sql)?.get(0);
    if current > latest() {
        return Err(newer(name, current));
    }
    for (v, text) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(text).await.map_err(sql)?;
        tx.execute("INSERT INTO runbook_schema (version) VALUES ($1)", &[v]).await.map_err(sql)?;
        tracing::info!("state database {name}: schema migrated to version {v}");
    }
    tx.commit().await.map_err(sql)
}

async fn version(client: &Client) -> std::result::Result<i32, tokio_postgres::Error> {
    Ok(client.query_one("SELECT COALESCE(max(version), 0) FROM runbook_schema", &[]).await?.get(0))
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

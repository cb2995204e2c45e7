//! What the server said, for a message. tokio-postgres shows an error the
//! server sent as just "db error" (the server's words are its source), so
//! every failed statement of the store goes through [`failed`]: the server's
//! message, detail and hint, and, for a role that may not do what runbook
//! needs (PostgreSQL 15 lets only a database's owner create tables in its
//! `public` schema; tables another role created need grants), a setup error
//! (exit 2) that says what to grant.

use tokio_postgres::error::SqlState;

use super::connect::Target;
use crate::error::{Diagnostic, Error};

/// What the failed statement was for: what a missing privilege asks of the
/// team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    /// Creating the runbook tables (the first play on a database).
    Create,
    /// Altering them to this binary's schema version.
    Migrate,
    /// Reading or writing runs and locks.
    Use,
}

/// The tables a play reads and writes (`runs`, `report`, `serve` only read).
const TABLES: &str = "runbook_runs, runbook_events, runbook_logs, runbook_locks";

/// The server's words, `message (detail)`; for an error the server did not
/// send (a connection that broke), the error and its causes.
pub fn said(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({d})", db.message()),
            None => db.message().to_string(),
        },
        None => super::chain(e),
    }
}

/// A statement of the store failed: `state database URL: what: the server's
/// words`. A role without the privilege, or a server that takes no writes
/// (a standby), is a setup error (exit 2, code `state-database`, located
/// where the state was set); anything else exit 1.
pub fn failed(t: &Target, doing: Doing, what: &str, e: &tokio_postgres::Error) -> Error {
    let what = if what.is_empty() { String::new() } else { format!("{what}: ") };
    let message = format!("state database {}: {what}{}", t.display, said(e));
    let Some(ours) = hint(t, doing, e.code()) else { return Error::Other(anyhow::anyhow!("{message}")) };
    let hint = match e.as_db_error().and_then(|db| db.hint()) {
        Some(theirs) => format!("{theirs}; {ours}"),
        None => ours,
    };
    Error::invalid(Diagnostic::error("state-database", message).hint(hint))
}

/// A write the server refuses for a reason of setup that waiting does not
/// fix (a privilege revoked, a primary that became a standby): the play's
/// writer gives up at once, saying what to do, rather than wait for it as
/// for an outage.
pub fn refuses_writes(e: &tokio_postgres::Error) -> Option<String> {
    let code = e.code()?;
    (*code == SqlState::INSUFFICIENT_PRIVILEGE || *code == SqlState::READ_ONLY_SQL_TRANSACTION).then(|| said(e))
}

/// What the team does about a write [`refuses_writes`] names, `role` being
/// the engine's.
pub fn refused_write_hint(role: &str, why: &str) -> String {
    let code =
        if why.contains("read-only") { SqlState::READ_ONLY_SQL_TRANSACTION } else { SqlState::INSUFFICIENT_PRIVILEGE };
    hint_for(role, Doing::Use, &code).unwrap_or_default()
}

/// What the team does about `code`, if it is a setup problem.
fn hint(t: &Target, doing: Doing, code: Option<&SqlState>) -> Option<String> {
    hint_for(t.config.get_user().unwrap_or("this role"), doing, code?)
}

fn hint_for(role: &str, doing: Doing, code: &SqlState) -> Option<String> {
    let grant =
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLES} TO {role}; GRANT SELECT ON runbook_schema TO {role}");
    match code {
        c if *c == SqlState::INSUFFICIENT_PRIVILEGE => Some(match doing {
            Doing::Create => format!(
                "the role {role} may not create tables here (PostgreSQL 15 lets only the database's owner create in schema public): let the owner run the first `runbook play` once (it creates the tables), then, as the owner, {grant}; or let {role} create them: GRANT CREATE ON SCHEMA public TO {role}"
            ),
            Doing::Migrate => format!(
                "only the owner of the runbook tables may migrate them: let it run one `runbook play` with this version of runbook (`runs`, `report` and `serve` read the older schema meanwhile), then, as the owner, {grant}"
            ),
            Doing::Use => format!(
                "the runbook tables belong to another role: as their owner (or a superuser), {grant} (`runs`, `report` and `serve` need only SELECT)"
            ),
        }),
        c if *c == SqlState::READ_ONLY_SQL_TRANSACTION => {
            Some("the state URL names a server that takes no writes (a standby?): name the primary".to_string())
        }
        _ => None,
    }
}

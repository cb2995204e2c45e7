//! Reading a run back from the shared store: the latest run of a
//! runbook@env in one round trip (sent along with the lock when a play
//! takes it), and rows decoded into events, a row that does not parse
//! making the run corrupt (exit 2) rather than silently shorter, and a row
//! of a newer event vocabulary refused ([`crate::run::decode`]).

use tokio_postgres::types::Type;

use super::{PgResult, PgStore};
use crate::error::{Diagnostic, Error, Result};
use crate::run::decode::{Unreadable, decode};
use crate::run::{Entry, Event};
use crate::store::Store;

/// The ids of runbook@env's runs, and the events of the run created last.
pub(super) type LatestRows = (Vec<String>, Vec<(String, i64, String)>);

/// [`LatestRows`], pipelined (one round trip). The run created last is the
/// latest run (the greatest id) unless the engines' clocks disagree: then
/// [`Store::latest`] reads its events again.
pub(super) async fn latest_rows(c: &tokio_postgres::Client, rb: &str, env: &str) -> PgResult<LatestRows> {
    let params = [(&rb as &(dyn tokio_postgres::types::ToSql + Sync), Type::TEXT), (&env, Type::TEXT)];
    let ids = c.query_typed("SELECT id FROM runbook_runs WHERE runbook = $1 AND env = $2", &params);
    let guess = c.query_typed(
        "SELECT run, seq, body FROM runbook_events WHERE run = (
             SELECT id FROM runbook_runs WHERE runbook = $1 AND env = $2 ORDER BY created DESC, id DESC LIMIT 1)
         ORDER BY seq",
        &params,
    );
    let (ids, guess) = tokio::join!(ids, guess);
    let guess = guess?.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    Ok((ids?.iter().map(|r| r.get(0)).collect(), guess))
}

impl PgStore {
    /// A run's events from their rows (after `seq`): a row that does not
    /// parse, or a run that does not begin with its start, is a corrupt run.
    pub(super) fn decode(&self, run: &str, seq: u64, rows: Vec<(i64, String)>) -> Result<Vec<Entry>> {
        let name = self.name();
        let mut out = Vec::with_capacity(rows.len());
        for (seq, body) in rows {
            out.push(decode(&body).map_err(|e| unreadable(&name, run, seq, &e))?);
        }
        if seq == 0 && !matches!(out.first(), Some(Entry { event: Event::RunStart(_), .. })) {
            return Err(corrupt(&name, run, 1, "the run does not begin with a run-start event"));
        }
        Ok(out)
    }
}

fn corrupt(name: &str, run: &str, seq: i64, what: &str) -> Error {
    Error::invalid(
        Diagnostic::error("corrupt-journal", format!("unreadable run {run} in {name} (event {seq}): {what}"))
            .hint("start a new run with --fresh (the damaged run stays for the post-mortem)"),
    )
}

/// A row that is not an event this binary reads: damage, or written by a
/// newer runbook ([`crate::run::decode`]).
fn unreadable(name: &str, run: &str, seq: i64, e: &Unreadable) -> Error {
    match e {
        Unreadable::Bad(what) => corrupt(name, run, seq, what),
        _ => Error::invalid(
            Diagnostic::error(e.code(), format!("unreadable run {run} in {name} (event {seq}): {}", e.what()))
                .hint(e.hint()),
        ),
    }
}

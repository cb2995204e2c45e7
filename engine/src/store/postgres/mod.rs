//! The shared store (SPEC §6, issue 17): a team's PostgreSQL database,
//! chosen by `state = "postgres://…"` (or `RUNBOOK_STATE`). It holds what
//! the local store keeps under `.runbook/` — every run's events, step logs
//! and the lock of each runbook@env — so any engineer's machine can list,
//! report and resume any run, and two plays of one runbook@env are refused
//! wherever they start.
//!
//! ```text
//! runbook_runs    (id, runbook, env, created)   one row per run
//! runbook_events  (run, seq, body)              the run's events, as JSON
//! runbook_logs    (run, step, n, data)          step output, chunked
//! runbook_locks   (runbook, env, token, holder) the lock row (lease.rs)
//! runbook_schema  (version, applied)            migrations (schema.rs)
//! ```
//!
//! This machine keeps only what is its own: the engine's log and the spool
//! of events the database could not take (`spool.rs`), in the local state
//! directory.

pub mod connect;
pub mod conns;
pub mod fenced;
pub mod lease;
pub mod logs;
pub mod patience;
mod read;
pub mod runtime;
pub mod said;
pub mod schema;
pub mod spool;
#[cfg(test)]
mod spool_prop;
mod tail;
pub mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use self::connect::{Target, unreachable};
pub use self::connect::{chain, connect_error};
use self::conns::{Conn, Conns};
use self::read::{LatestRows, latest_rows};
use self::runtime::Rt;
use self::said::{Doing, failed};
use super::logs::Logs;
use super::{Holder, Latest, Lease, Playing, Prune, Pruned, Store, Writer};
use crate::error::{Error, Result};
use crate::run::{Entry, Event};

/// A duration from an environment variable in seconds (fractions allowed).
pub fn env_duration(var: &str, default: Duration) -> Duration {
    std::env::var(var).ok().and_then(|v| v.parse::<f64>().ok()).map_or(default, Duration::from_secs_f64)
}

/// What a command does with the store: a play creates or migrates the
/// schema; a read-only command (`runs`, `report`, `serve`, `runs --prune`)
/// never does (`schema.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Play,
    Read,
}

/// Locates an error about the state where it was set (`runbook.toml:LINE`
/// or `RUNBOOK_STATE`): [`crate::config::SharedState::locate`].
pub type Locate = Arc<dyn Fn(Error) -> Error + Send + Sync>;

pub struct PgStore {
    target: Target,
    /// Opened read-only: the schema may be absent (no runs) or older.
    read_only: bool,
    locate: Locate,
    conns: Conns,
    /// This machine's state directory (engine logs, spool).
    local: PathBuf,
    /// The lease taken by this process, for its writers' fencing.
    current: Mutex<Option<Arc<lease::Shared>>>,
    /// The engine's connection's notifications, for the first lease.
    spare: Mutex<Option<lease::Notes>>,
    /// Runbook@env's latest run, read in the round trip that took its lock.
    read: Mutex<Option<(String, String, LatestRows)>>,
    /// The writer's insert, prepared on the engine's connection once a
    /// play holds its lock (while the play reads its latest run).
    insert: Mutex<Option<tokio::task::JoinHandle<PgResult<tokio_postgres::Statement>>>>,
    /// The last event of the run this engine last read or created under its
    /// lock: its writer starts there without asking the database again
    /// (nobody else can append to it meanwhile).
    last: Mutex<Option<(String, u64)>>,
    rt: Rt,
}

impl PgStore {
    /// Connect, and bring the schema up to date, for a play: exit 2 naming
    /// host and port when the database cannot be reached.
    pub fn open(url: &str, local: PathBuf) -> Result<PgStore> {
        PgStore::open_as(url, local, Access::Play, Arc::new(|e| e))
    }

    /// Connect, and check the schema (`access`: and bring it up to date);
    /// errors about the state, then and later, go through `locate`.
    pub fn open_as(url: &str, local: PathBuf, access: Access, locate: Locate) -> Result<PgStore> {
        PgStore::connect(url, local, access, locate.clone()).map_err(|e| locate(e))
    }

    fn connect(url: &str, local: PathBuf, access: Access, locate: Locate) -> Result<PgStore> {
        let target = Target::parse(url)?;
        let rt = Rt::start()?;
        let pool = target.pool()?;
        let t = target.clone();
        let (main, notes) = rt.call(async move {
            let (mut c, notes) = lease::open(&t, false).await.map_err(|e| connect_error(&t, &e))?;
            let limit = patience::wait();
            let checked = async {
                match access {
                    Access::Play => schema::migrate(&mut c, &t).await,
                    Access::Read => schema::check(&c, &t).await.map(|_| ()),
                }
            };
            tokio::time::timeout(limit, checked)
                .await
                .map_err(|_| t.unreachable(&format!("no answer within {}s", limit.as_secs_f64())))??;
            Ok::<_, Error>((Arc::new(c), notes))
        })??;
        let spare = Mutex::new(Some(notes));
        let conns = Conns { main, pool, patience: patience::Patience::default() };
        Ok(PgStore {
            target,
            read_only: access == Access::Read,
            locate,
            conns,
            local,
            current: Mutex::new(None),
            spare,
            read: Mutex::new(None),
            insert: Mutex::new(None),
            last: Mutex::new(None),
            rt,
        })
    }

    /// A query on the engine's connection (or a pooled one), waited for.
    fn q<T: Send + 'static, F>(&self, f: impl FnOnce(Conn) -> F + Send + 'static) -> Result<T>
    where
        F: std::future::Future<Output = PgResult<T>> + Send,
    {
        let (conns, t) = (self.conns.clone(), self.target.clone());
        self.rt
            .call(async move {
                let patience = conns.patience.clone();
                let work = async {
                    let c = conns.get().await.map_err(|e| unreachable(&t, e))?;
                    f(c).await.map_err(|e| failed(&t, Doing::Use, "", &e))
                };
                let limit = patience::wait();
                patience
                    .bound(limit, work)
                    .await
                    .unwrap_or_else(|| Err(t.unreachable(&format!("no answer within {}s", limit.as_secs_f64()))))
            })
            .and_then(|r| r)
            .map_err(|e| (self.locate)(e))
    }

    /// A read ([`PgStore::q`]): opened read-only, a database without the
    /// runbook tables holds no runs.
    fn read<T: Default + Send + 'static, F>(&self, f: impl FnOnce(Conn) -> F + Send + 'static) -> Result<T>
    where
        F: std::future::Future<Output = PgResult<T>> + Send,
    {
        let absent_is_empty = self.read_only;
        self.q(move |c| async move {
            match f(c).await {
                Err(e) if absent_is_empty && e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(T::default()),
                r => r,
            }
        })
    }

    fn take(&self, runbook: &str, env: &str, me: &Holder, take_over: bool) -> Result<Box<dyn Lease>> {
        let (rb, env) = (runbook.to_string(), env.to_string());
        let want = lease::Want { runbook: rb.clone(), env: env.clone(), me: me.clone(), take_over, name: self.name() };
        let spare = lock(&self.spare).take().map(|n| (self.conns.main.clone(), n));
        // The play reads its latest run next: read in the lock's round trip.
        let (rb2, env2) = (rb.clone(), env.clone());
        let read = move |c: Arc<tokio_postgres::Client>| async move { latest_rows(&c, &rb2, &env2).await };
        let ((shared, previous, stop), rows) = self
            .rt
            .call(lease::acquire(self.target.clone(), spare, want, self.conns.patience.clone(), read))
            .and_then(|r| r)
            .map_err(|e| (self.locate)(e))?;
        *lock(&self.current) = Some(shared.clone());
        let main = self.conns.main.clone();
        let insert = self.rt.handle().spawn(async move { fenced::prepare(&main).await });
        *lock(&self.insert) = Some(insert);
        let mut lease = lease::PgLease {
            shared: shared.clone(),
            previous,
            handle: self.rt.handle().clone(),
            conns: self.conns.clone(),
            stop: Some(stop),
            notes: Vec::new(),
        };
        // Events written back from this machine's spool are not in what was read.
        let (spooled, notes) = spool::replay(&self.rt, &self.conns, &self.local, &shared).map_err(|e| {
            Error::Other(anyhow::anyhow!("{e}; nothing was run (the events stay kept, for the next play)"))
        })?;
        if !spooled && let Ok(rows) = rows {
            *lock(&self.read) = Some((rb, env, rows));
        }
        lease.notes = notes;
        Ok(Box::new(lease))
    }
}

type PgResult<T> = std::result::Result<T, tokio_postgres::Error>;

impl PgStore {
    /// The plays going on now, on any machine: a lock row that names a
    /// holder whose advisory lock is held, or that counts as alive as the
    /// lock judges it (lease.rs: by its process on this machine, by its
    /// beat elsewhere: a restart frees the advisory locks of live holders).
    fn plays(&self) -> Result<Vec<Playing>> {
        type Rows = (Vec<(String, String, String, bool, bool)>, Vec<i64>);
        let here = super::machine::here().to_string();
        let (locks, held): Rows = self.read(move |c| async move {
            let locks = match c
                .query(
                    "SELECT runbook, env, holder,
                            COALESCE(greatest(beat, pg_postmaster_start_time()) + ttl > now(), false),
                            $1 <> '' AND machine = $1
                     FROM runbook_locks WHERE holder <> ''",
                    &[&here],
                )
                .await
            {
                // A schema before version 3 (read-only): no beat, no machine;
                // a holder is alive while its advisory lock is held.
                Err(e) if e.code() == Some(&SqlState::UNDEFINED_COLUMN) => {
                    c.query("SELECT runbook, env, holder, false, false FROM runbook_locks WHERE holder <> ''", &[])
                        .await?
                }
                r => r?,
            };
            let held = c
                .query(
                    "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks
                     WHERE locktype = 'advisory' AND granted AND objsubid = 1
                       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    &[],
                )
                .await?;
            Ok((
                locks.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect(),
                held.iter().map(|r| r.get(0)).collect(),
            ))
        })?;
        Ok(locks
            .into_iter()
            .filter_map(|(runbook, env, h, seen, here)| {
                let h = serde_json::from_str::<Holder>(&h).ok()?;
                let alive = held.contains(&lease::key(&runbook, &env))
                    || if here { super::machine::alive(h.pid, h.start) } else { seen };
                alive.then_some(Playing { runbook, env, run: h.run })
            })
            .collect())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Store for PgStore {
    fn name(&self) -> String {
        self.target.display.clone()
    }

    fn secrets(&self) -> Vec<String> {
        self.target.config.get_password().map(|p| String::from_utf8_lossy(p).into_owned()).into_iter().collect()
    }

    fn lock(&self, runbook: &str, env: &str, me: &Holder) -> Result<Box<dyn Lease>> {
        self.take(runbook, env, me, false)
    }

    /// The lock as a play takes it, if no live engine holds it (a resume);
    /// else, once confirmed, from the live holder.
    fn take_over(
        &self,
        runbook: &str,
        env: &str,
        me: &Holder,
        confirm: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Box<dyn Lease>> {
        match self.take(runbook, env, me, false) {
            Err(Error::Refused(_)) => {
                confirm()?;
                self.take(runbook, env, me, true)
            }
            taken => taken,
        }
    }

    fn holder(&self, runbook: &str, env: &str) -> Result<Option<Holder>> {
        let (rb, e) = (runbook.to_string(), env.to_string());
        let h: Option<(String, String)> = self.read(move |c| async move {
            let r = c
                .query_opt("SELECT holder, machine FROM runbook_locks WHERE runbook = $1 AND env = $2", &[&rb, &e])
                .await?;
            Ok(r.map(|r| (r.get(0), r.get(1))))
        })?;
        let here = crate::store::machine::here();
        Ok(h.and_then(|(h, machine)| {
            let h: Holder = serde_json::from_str(&h).ok()?;
            Some(Holder { elsewhere: here.is_empty() || machine != here, ..h })
        }))
    }

    fn runs(&self) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = self.read(|c| async move {
            let rows = c
                .query(
                    "SELECT id, to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') FROM runbook_runs",
                    &[],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        let created: std::collections::HashMap<String, String> = rows.into_iter().collect();
        let mut ids: Vec<String> = created.keys().cloned().collect();
        crate::store::oldest_first(&mut ids, |id| created.get(id).cloned());
        Ok(ids)
    }

    fn events(&self, run: &str) -> Result<Vec<Entry>> {
        self.events_after(run, 0)
    }

    fn events_after(&self, run: &str, seq: u64) -> Result<Vec<Entry>> {
        let (r, s) = (run.to_string(), seq as i64);
        let rows: Vec<(i64, String)> = self.read(move |c| async move {
            let rows = c
                .query_typed(
                    "SELECT seq, body FROM runbook_events WHERE run = $1 AND seq > $2 ORDER BY seq",
                    &[(&r, Type::TEXT), (&s, Type::INT8)],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        self.decode(run, seq, rows)
    }

    fn latest(&self, runbook: &str, env: &str) -> Result<Option<Latest>> {
        let read = lock(&self.read).take().filter(|(rb, e, _)| rb == runbook && e == env);
        let (ids, guess) = match read {
            Some((_, _, rows)) => rows,
            None => {
                let (rb, e) = (runbook.to_string(), env.to_string());
                self.read(move |c| async move { latest_rows(&c, &rb, &e).await })?
            }
        };
        let Some(id) = ids.into_iter().max_by(|a, b| natord::compare(a, b)) else { return Ok(None) };
        let events = match guess.first() {
            Some((run, _, _)) if *run == id => self.decode(&id, 0, guess.into_iter().map(|(_, s, b)| (s, b)).collect()),
            _ => self.events(&id),
        };
        if let (Ok(ev), true) = (&events, lock(&self.current).is_some()) {
            *lock(&self.last) = ev.last().map(|e| (id.clone(), e.seq));
        }
        Ok(Some(Latest { id, events }))
    }

    fn create(&self, base: &str, first: &mut dyn FnMut(&str) -> Entry) -> Result<String> {
        for n in 1.. {
            let id = if n == 1 { base.to_string() } else { format!("{base}-{n}") };
            let entry = first(&id);
            let Event::RunStart(rs) = &entry.event else {
                return Err(Error::Other(anyhow::anyhow!("a run must begin with run-start")));
            };
            let (rb, env) = (rs.runbook.clone(), rs.env.clone());
            let body = serde_json::to_string(&entry).map_err(anyhow::Error::from)?;
            let i = id.clone();
            // Made by the session holding the lock (spool.rs).
            let token = lock(&self.current).as_ref().map(|l| l.token);
            // One statement: the run and its first event, or neither.
            let created: bool = self.q(move |c| async move {
                let n = c
                    .execute_typed(
                        "WITH r AS (
                             INSERT INTO runbook_runs (id, runbook, env) VALUES ($1, $2, $3)
                             ON CONFLICT DO NOTHING RETURNING id)
                         INSERT INTO runbook_events (run, seq, body, token) SELECT id, 1, $4, $5 FROM r",
                        &[
                            (&i, Type::TEXT),
                            (&rb, Type::TEXT),
                            (&env, Type::TEXT),
                            (&body, Type::TEXT),
                            (&token, Type::INT8),
                        ],
                    )
                    .await?;
                Ok(n == 1)
            })?;
            if created {
                if lock(&self.current).is_some() {
                    *lock(&self.last) = Some((id.clone(), 1));
                }
                return Ok(id);
            }
        }
        unreachable!("the loop returns")
    }

    fn writer(&self, run: &str, _lease: &dyn Lease, _durable: bool) -> Result<Box<dyn Writer>> {
        let Some(l) = lock(&self.current).clone() else {
            return Err(Error::Other(anyhow::anyhow!("no lock of the state database is held for run {run}")));
        };
        // The engine's connection, kept: a batch never waits for one. In a
        // play, its insert is prepared and the run's last event known
        // already: no round trip here.
        let r = run.to_string();
        let known = lock(&self.last).take().filter(|(id, _)| *id == r).map(|(_, seq)| seq as i64);
        let ahead = lock(&self.insert).take();
        let (last, conn, sizes): (i64, fenced::Ready, HashMap<String, u64>) = self.q(move |c| async move {
            let last = async {
                let params = [(&r as &(dyn tokio_postgres::types::ToSql + Sync), Type::TEXT)];
                match known {
                    Some(seq) => Ok(seq),
                    None => c
                        .query_typed_one("SELECT COALESCE(max(seq), 0) FROM runbook_events WHERE run = $1", &params)
                        .await
                        .map(|row| row.get(0)),
                }
            };
            let insert = async {
                match (ahead, &c) {
                    (Some(h), Conn::Main(_)) => match h.await {
                        Ok(Ok(insert)) => Ok(insert),
                        _ => fenced::prepare(&c).await,
                    },
                    _ => fenced::prepare(&c).await,
                }
            };
            // Where each step's log ends: a later session's output of a
            // step begins there. A run just created has no log yet.
            let sizes = async {
                if known.is_some_and(|seq| seq <= 1) {
                    return Ok::<_, tokio_postgres::Error>(HashMap::new());
                }
                let params = [(&r as &(dyn tokio_postgres::types::ToSql + Sync), Type::TEXT)];
                let rows = c
                    .query_typed(
                        "SELECT step, sum(octet_length(data))::int8 FROM runbook_logs WHERE run = $1 GROUP BY step",
                        &params,
                    )
                    .await?;
                Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64)).collect())
            };
            let (last, insert, sizes) = tokio::join!(last, insert, sizes);
            Ok((last?, fenced::Ready { insert: insert?, conn: c }, sizes?))
        })?;
        let keep = self.local.join("runs").join(run);
        let chunks = logs::PgChunks::new(self.conns.clone(), self.rt.handle().clone(), run, l.clone(), keep);
        let logs = Logs::start(Box::new(chunks), sizes)
            .map_err(|e| anyhow::anyhow!("cannot start the step log writer: {e}"))?;
        let spool = spool::path(&self.local, run);
        Ok(Box::new(writer::PgWriter::start(
            self.rt.handle(),
            self.conns.clone(),
            conn,
            l,
            run,
            spool,
            logs,
            last as u64,
            (self.target.address.clone(), self.target.config.get_user().unwrap_or("this role").to_string()),
        )))
    }

    fn log(&self, run: &str, step: &str) -> Result<Option<Vec<u8>>> {
        let (r, s) = (run.to_string(), step.to_string());
        let chunks: Vec<Vec<u8>> = self.read(move |c| async move {
            let rows =
                c.query("SELECT data FROM runbook_logs WHERE run = $1 AND step = $2 ORDER BY n", &[&r, &s]).await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?;
        Ok((!chunks.is_empty()).then(|| chunks.concat()))
    }

    fn log_tail(&self, run: &str, step: &str, since: u64, max_bytes: u64) -> Result<Option<super::LogTail>> {
        self.tail(run, step, since, max_bytes)
    }

    fn playing(&self) -> Result<Option<Vec<String>>> {
        Ok(Some(self.plays()?.into_iter().map(|p| p.run).filter(|r| !r.is_empty()).collect()))
    }

    fn prune(&self, p: &Prune) -> Result<Pruned> {
        let playing = self.plays()?;
        let ids = self.runs()?;
        let doomed = super::prunable(&ids, p);
        let of: std::collections::HashMap<String, (String, String)> = if doomed.is_empty() {
            Default::default()
        } else {
            self.read(|c| async move {
                let rows = c.query("SELECT id, runbook, env FROM runbook_runs", &[]).await?;
                Ok(rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect())
            })?
        };
        let of = |id: &str| of.get(id).cloned();
        let pruned = super::to_prune(&ids, p, &playing, of, |rb, env| self.latest(rb, env))?;
        if pruned.removed.is_empty() {
            return Ok(pruned);
        }
        let d = pruned.removed.clone();
        self.q(move |c| async move {
            c.execute(
                "WITH e AS (DELETE FROM runbook_events WHERE run = ANY($1)),
                      l AS (DELETE FROM runbook_logs WHERE run = ANY($1))
                 DELETE FROM runbook_runs WHERE id = ANY($1)",
                &[&d],
            )
            .await
        })?;
        Ok(pruned)
    }

    /// The run as the database names it: the same from every checkout of
    /// this machine, so a resume from another checkout finds the leftovers
    /// of a killed engine's step here even before their `spawned` event was
    /// committed.
    fn run_key(&self, run: &str) -> String {
        format!("{}/{run}", self.name())
    }

    fn local_dir(&self, run: &str) -> Option<PathBuf> {
        let dir = self.local.join("runs").join(run);
        super::local::make_dir(&dir).ok().map(|_| dir)
    }

    fn lend(&self) -> Option<super::lent::Lent> {
        self.rt.lend()
    }

    fn interrupter(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        let patience = self.conns.patience.clone();
        Some(Box::new(move || patience.interrupt()))
    }
}

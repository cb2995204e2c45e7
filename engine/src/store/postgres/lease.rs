//! The lock of a runbook@env in the shared store: a row of `runbook_locks`
//! (the holder, for refusals, and the fencing token) plus a session advisory
//! lock held by the engine's connection ([`super::conns`]), plus a heartbeat.
//!
//! Taking the lock bumps the row's token; every append carries it and the
//! store refuses an append whose token is not the row's ([`super::writer`]),
//! so two engines can never both write a run. `--take-over` bumps the token
//! while the first engine lives and notifies it (`NOTIFY runbook_lock`): it
//! stops its steps in flight, says who took over, and lets go of its
//! advisory lock; the new holder waits for that (three beats at most)
//! before it runs anything.
//!
//! **Is the holder alive?** Its advisory lock held: yes. Free, the database
//! lost the holder's session, which does not prove the holder dead: a
//! restart frees every advisory lock, and a dropped connection frees its
//! own, while their engines live and reconnect. So the holder also beats:
//! every `RUNBOOK_PG_BEAT` seconds (default 5) it sets the row's `beat`,
//! and counts as alive for three beats (`ttl`) after the last one, or after
//! the server started if that is later (a restart gives every holder that
//! long to come back). A holder on the taker's own machine
//! ([`crate::store::machine`]) is asked directly: alive while its process
//! (pid and start time) is. A holder that counts as alive is refused (exit
//! 3, "last seen Ns ago"), as one whose advisory lock is held; only
//! `--take-over` goes past it.
//!
//! The lease's connection is watched: when it drops (the database
//! restarted), it is opened again, the advisory lock taken again under the
//! same token, and the beat goes on; if someone else took the lock
//! meanwhile, the lease is lost.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::poll_fn;
use sha2::Digest;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{AsyncMessage, Client};

use super::connect::Target;
use super::patience::{Patience, wait};
use crate::error::{Error, Result};
use crate::store::{Holder, Lease, machine};

/// What the lease, the writer and the watcher share.
pub struct Shared {
    pub runbook: String,
    pub env: String,
    pub key: i64,
    pub token: i64,
    /// Why the lock was lost, once it is.
    lost: watch::Sender<Option<String>>,
    /// The holder as the row names it (run set once known).
    pub me: std::sync::Mutex<Holder>,
}

impl Shared {
    pub fn new(runbook: String, env: String, token: i64, me: Holder) -> Shared {
        let key = key(&runbook, &env);
        Shared { runbook, env, key, token, lost: watch::channel(None).0, me: std::sync::Mutex::new(me) }
    }

    pub fn lost(&self) -> Option<String> {
        self.lost.borrow().clone()
    }

    pub fn lose(&self, why: String) {
        self.lost.send_if_modified(|l| {
            if l.is_some() {
                return false;
            }
            tracing::warn!("{why}");
            *l = Some(why);
            true
        });
    }

    /// Resolves with why once the lock is lost.
    pub fn on_lost(&self) -> impl Future<Output = String> + Send + 'static {
        let mut rx = self.lost.subscribe();
        async move {
            let why = rx.wait_for(Option::is_some).await.ok().and_then(|w| w.clone());
            match why {
                Some(why) => why,
                None => std::future::pending().await,
            }
        }
    }
}

/// The line an engine that lost its lock to `who` says.
pub fn taken_by(who: &str) -> String {
    format!("taken over by {who}: this engine stops; the run goes on there")
}

/// The advisory lock key of runbook@env.
pub fn key(runbook: &str, env: &str) -> i64 {
    let d = sha2::Sha256::digest(format!("{runbook}@{env}").as_bytes());
    i64::from_be_bytes(d[..8].try_into().unwrap_or_default())
}

/// How often a holder beats (`RUNBOOK_PG_BEAT`, seconds).
pub fn beat_every() -> Duration {
    super::env_duration("RUNBOOK_PG_BEAT", Duration::from_secs(5)).max(Duration::from_millis(10))
}

/// How long after its last beat a holder counts as alive.
fn ttl() -> Duration {
    beat_every() * 3
}

/// Notifications of a lease connection; `None` once the connection is gone.
pub type Notes = mpsc::UnboundedReceiver<String>;

/// Connect; `listen`: and listen for take-overs (else the caller sends the
/// `LISTEN` along with its first statement).
pub async fn open(target: &Target, listen: bool) -> std::result::Result<(Client, Notes), tokio_postgres::Error> {
    let (client, mut conn) = target.connect().await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(m) = poll_fn(|cx| conn.poll_message(cx)).await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = tx.send(n.payload().to_string());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("lease connection: {e}");
                    break;
                }
            }
        }
    });
    if listen {
        client.batch_execute(LISTEN).await?;
    }
    Ok((client, rx))
}

const LISTEN: &str = "LISTEN runbook_lock";

pub fn describe(h: &Holder) -> String {
    h.describe()
}

/// The engine's connection ([`super::conns`]) and its notifications, for
/// the first lease the store takes: taking the lock then costs one round
/// trip (its `LISTEN` included).
pub type Spare = (Arc<Client>, Notes);

/// What a play asks the lock for.
pub struct Want {
    pub runbook: String,
    pub env: String,
    pub me: Holder,
    pub take_over: bool,
    /// The store, for messages.
    pub name: String,
}

/// The holder before us, and why it counts as gone (`None`: we took over
/// a live one).
pub type Previous = Option<(Holder, Option<String>)>;

/// The lease taken: what it shares, the holder before us (if the row named
/// one), and how to end it.
pub type Taken = (Arc<Shared>, Previous, oneshot::Sender<oneshot::Sender<()>>);

/// Take the lock (or, with `take_over`, take it from a live holder).
/// `then` is sent along on the lease's connection, in the same round trip:
/// the server runs it after the lock statement, so once the lock is ours it
/// has read under the lock (its result is only for a lock taken).
pub async fn acquire<T, F: Future<Output = T>>(
    target: Target,
    spare: Option<Spare>,
    want: Want,
    patience: Patience,
    then: impl FnOnce(Arc<Client>) -> F,
) -> Result<(Taken, T)> {
    let Want { runbook, env, me, take_over, name } = want;
    let (client, notes) = match spare.filter(|(c, _)| !c.is_closed()) {
        Some(c) => c,
        None => {
            let (c, n) = open(&target, false).await.map_err(|e| super::connect_error(&target, &e))?;
            (Arc::new(c), n)
        }
    };
    let sql = |e: tokio_postgres::Error| super::said::failed(&target, super::said::Doing::Use, "lock", &e);
    let key = key(&runbook, &env);
    let holder = serde_json::to_string(&me).map_err(anyhow::Error::from)?;
    let notice = key.to_string();
    let here = machine::here().to_string();
    let ttl_s = ttl().as_secs_f64();
    let params: [(&(dyn ToSql + Sync), Type); 8] = [
        (&key, Type::INT8),
        (&runbook, Type::TEXT),
        (&env, Type::TEXT),
        (&holder, Type::TEXT),
        (&notice, Type::TEXT),
        (&take_over, Type::BOOL),
        (&here, Type::TEXT),
        (&ttl_s, Type::FLOAT8),
    ];
    // One typed statement, one round trip: try the advisory lock; read the
    // holder before us (the statement's snapshot: before the bump) and
    // whether it counts as alive by its beat, or runs on this machine; if
    // we got the advisory lock and the holder is neither (or we take
    // over), bump the row's token; when taking over, notify the live
    // holder. A holder that lost its connection finds the new token when it
    // reconnects, and its appends are refused meanwhile.
    // The LISTEN goes first, in the same round trip (pipelined): take-overs
    // are heard from the moment the lock is ours.
    // `join!` polls in order, and a statement is queued on its connection
    // when first polled: the LISTEN, the lock, then `then`.
    let statements = async {
        tokio::join!(
            client.batch_execute(LISTEN),
            client.query_typed(
                "WITH l AS MATERIALIZED (SELECT pg_try_advisory_lock($1) AS got),
                 p AS MATERIALIZED (
                     SELECT holder, token, extract(epoch FROM now() - beat)::float8 AS age,
                            holder <> '' AND COALESCE(greatest(beat, pg_postmaster_start_time()) + ttl > now(), false)
                                AS seen,
                            holder <> '' AND $7 <> '' AND machine = $7 AS here
                     FROM runbook_locks WHERE runbook = $2 AND env = $3),
                 up AS (
                     INSERT INTO runbook_locks (runbook, env, token, holder, beat, ttl, machine)
                     SELECT $2, $3, 1, $4, now(), make_interval(secs => $8), $7 FROM l
                     WHERE (l.got AND NOT EXISTS (SELECT 1 FROM p WHERE p.seen OR p.here)) OR $6
                     ON CONFLICT (runbook, env) DO UPDATE SET token = runbook_locks.token + 1,
                         holder = EXCLUDED.holder, beat = EXCLUDED.beat, ttl = EXCLUDED.ttl, machine = EXCLUDED.machine
                     RETURNING token),
                 n AS MATERIALIZED (SELECT pg_notify('runbook_lock', $5) FROM up WHERE $6)
                 SELECT l.got, (SELECT holder FROM p), (SELECT token FROM up), (SELECT count(*) FROM n),
                        (SELECT token FROM p), (SELECT age FROM p), (SELECT seen FROM p), (SELECT here FROM p)
                 FROM l",
                &params,
            ),
            then(client.clone())
        )
    };
    let Some((listen, row, then)) = patience.bound(wait(), statements).await else {
        return Err(no_answer(&target));
    };
    listen.map_err(sql)?;
    let row = row.map_err(sql)?;
    let row = row.first().ok_or_else(|| sql_missing(&name))?;
    let got = row.get::<_, bool>(0);
    let previous: Option<Holder> = row.get::<_, Option<String>>(1).and_then(|h| serde_json::from_str(&h).ok());
    let refuse = |who: String, hint: &str| {
        let env_flag = if env == crate::config::LOCAL_ENV { String::new() } else { format!(" --env {env}") };
        Error::Refused(format!(
            "another play of {runbook}@{env} is running: the lock in {name} is held by {who}\n  hint: wait for it to finish; {hint} `runbook play {runbook}{env_flag} --take-over` (asks first)"
        ))
    };
    if !got && !take_over {
        let who = previous.as_ref().map_or_else(|| "another engine".to_string(), describe);
        return Err(refuse(who, "to continue its run from here,"));
    }
    let (age, seen, here_) = (
        row.get::<_, Option<f64>>(5),
        row.get::<_, Option<bool>>(6) == Some(true),
        row.get::<_, Option<bool>>(7) == Some(true),
    );
    // A holder of this machine is asked by its process (a killed engine's
    // session may linger a moment); one elsewhere counts as alive while its
    // advisory lock is held or it beats.
    let alive_here = here_ && previous.as_ref().is_some_and(|h| machine::alive(h.pid, h.start));
    let live = if here_ { alive_here } else { !got || seen };
    let token = match row.get::<_, Option<i64>>(2) {
        Some(t) => t,
        // We hold the advisory lock, but the row names a holder that counts
        // as alive, or one of this machine, whose process says.
        None => {
            let taken = if here_ && !alive_here {
                let prev = row.get::<_, Option<i64>>(4).unwrap_or_default();
                bump(&client, &patience, &runbook, &env, prev, &holder, &here, ttl_s).await.map_err(|e| match e {
                    Bumped::Sql(e) => sql(e),
                    Bumped::NoAnswer => no_answer(&target),
                })?
            } else {
                None
            };
            match taken {
                Some(t) => t,
                None => {
                    let _ = patience.bound(wait(), client.execute("SELECT pg_advisory_unlock($1)", &[&key])).await;
                    let who = previous.as_ref().map_or_else(|| "another engine".to_string(), describe);
                    let seen = match (alive_here, age) {
                        (true, _) => "its process still runs on this machine".to_string(),
                        (false, Some(a)) => format!("last seen {}s ago", a.max(0.0).round() as u64),
                        (false, None) => "its engine may be reconnecting".to_string(),
                    };
                    return Err(refuse(format!("{who}, {seen}"), "if that engine is gone,"));
                }
            }
        }
    };
    // The holder before us, and why it counts as gone (`None`: it is alive,
    // and we took over).
    let previous = previous.map(|h| {
        let h = Holder { elsewhere: !here_, ..h };
        let why = match (take_over && live, here_, seen, age) {
            (true, _, _, _) => None,
            (false, true, _, _) => Some("no longer running".to_string()),
            (false, false, false, Some(a)) => Some(format!("not seen for {}s", a.max(0.0).round() as u64)),
            (false, false, _, _) => Some("no longer connected".to_string()),
        };
        (h, why)
    });
    // Taken from a live engine: it was told, and stops (its steps in flight
    // too); nothing of this session runs before it let go, unless it does
    // not within three beats.
    let mut got = got;
    if take_over && !got {
        let until = tokio::time::Instant::now() + ttl();
        while !got && tokio::time::Instant::now() < until {
            tokio::time::sleep(RETRY).await;
            let params: [&(dyn ToSql + Sync); 1] = [&key];
            let q = client.query_one("SELECT pg_try_advisory_lock($1)", &params);
            got = matches!(patience.bound(wait(), q).await, Some(Ok(r)) if r.get::<_, bool>(0));
        }
    }
    let shared = Arc::new(Shared::new(runbook, env, token, me));
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(watch(target, client, notes, shared.clone(), got, stopped, patience));
    Ok(((shared, previous, stop), then))
}

enum Bumped {
    Sql(tokio_postgres::Error),
    NoAnswer,
}

/// Take the lock of a holder of this machine that died: the row gets our
/// token if it still has `prev` (`None`: someone took it meanwhile).
#[allow(clippy::too_many_arguments)]
async fn bump(
    client: &Client,
    patience: &Patience,
    runbook: &str,
    env: &str,
    prev: i64,
    holder: &str,
    here: &str,
    ttl: f64,
) -> std::result::Result<Option<i64>, Bumped> {
    let params: [(&(dyn ToSql + Sync), Type); 6] = [
        (&runbook, Type::TEXT),
        (&env, Type::TEXT),
        (&prev, Type::INT8),
        (&holder, Type::TEXT),
        (&here, Type::TEXT),
        (&ttl, Type::FLOAT8),
    ];
    let q = client.query_typed(
        "UPDATE runbook_locks SET token = token + 1, holder = $4, beat = now(), ttl = make_interval(secs => $6),
             machine = $5
         WHERE runbook = $1 AND env = $2 AND token = $3 RETURNING token",
        &params,
    );
    let rows = patience.bound(wait(), q).await.ok_or(Bumped::NoAnswer)?.map_err(Bumped::Sql)?;
    Ok(rows.first().map(|r| r.get(0)))
}

fn no_answer(t: &Target) -> Error {
    t.unreachable(&format!("no answer within {}s", wait().as_secs_f64()))
}

fn sql_missing(name: &str) -> Error {
    Error::Other(anyhow::anyhow!("state database {name}: lock: the lock row was not written"))
}

/// How often a taker-over tries for the advisory lock its predecessor
/// still holds, and how often a lost connection is tried again.
const RETRY: Duration = Duration::from_millis(250);

/// What a look at the lock row found.
enum Look {
    /// Still ours (beat recorded); whether we hold the advisory lock now.
    Ours { advisory: bool },
    /// Someone else's token: why we lost it.
    Lost(String),
    /// No answer.
    Unknown,
}

/// Beat, and see whether the row is still ours; `take`: and try for the
/// advisory lock if it is (one statement).
async fn look(client: &Client, shared: &Shared, take: bool, patience: &Patience, limit: Duration) -> Look {
    let params: [(&(dyn ToSql + Sync), Type); 5] = [
        (&shared.key, Type::INT8),
        (&shared.runbook, Type::TEXT),
        (&shared.env, Type::TEXT),
        (&shared.token, Type::INT8),
        (&take, Type::BOOL),
    ];
    let q = client.query_typed(
        "WITH b AS (UPDATE runbook_locks SET beat = now() WHERE runbook = $2 AND env = $3 AND token = $4 RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM b),
                (SELECT holder FROM runbook_locks WHERE runbook = $2 AND env = $3),
                CASE WHEN $5 AND EXISTS (SELECT 1 FROM b) THEN pg_try_advisory_lock($1) ELSE false END",
        &params,
    );
    match patience.bound(limit, q).await {
        Some(Ok(rows)) => match rows.first() {
            Some(r) if r.get::<_, bool>(0) => Look::Ours { advisory: r.get(2) },
            r => {
                let who = r
                    .and_then(|r| r.get::<_, Option<String>>(1))
                    .and_then(|h| serde_json::from_str::<Holder>(&h).ok())
                    .map_or_else(|| "another engine".into(), |h| describe(&h));
                Look::Lost(taken_by(&who))
            }
        },
        Some(Err(e)) => {
            tracing::debug!("lease: {e}");
            Look::Unknown
        }
        None => Look::Unknown,
    }
}

/// Keeps the lease: beats, reacts to take-overs, reconnects after the
/// database restarted (the advisory lock taken again at once, same token),
/// takes the advisory lock once a taken-over engine lets go.
async fn watch(
    target: Target,
    mut client: Arc<Client>,
    mut notes: Notes,
    shared: Arc<Shared>,
    mut advisory: bool,
    mut stop: oneshot::Receiver<oneshot::Sender<()>>,
    patience: Patience,
) {
    let every = beat_every();
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let done = loop {
        let looked = tokio::select! {
            d = &mut stop => break d.ok(),
            n = notes.recv() => match n {
                Some(k) if k == shared.key.to_string() => look(&client, &shared, !advisory, &patience, wait()).await,
                Some(_) => continue,
                None => {
                    // The connection is gone: open it again (at once, then
                    // every RETRY) and take the lock again.
                    let mut first = true;
                    loop {
                        if !first {
                            tokio::select! {
                                d = &mut stop => return finish(None, &shared, d.ok(), &patience).await,
                                _ = tokio::time::sleep(RETRY) => {}
                            }
                        }
                        first = false;
                        let opened = tokio::select! {
                            d = &mut stop => return finish(None, &shared, d.ok(), &patience).await,
                            o = open(&target, true) => o,
                        };
                        let Ok((c, n)) = opened else { continue };
                        client = Arc::new(c);
                        notes = n;
                        advisory = false;
                        break;
                    }
                    look(&client, &shared, true, &patience, wait()).await
                }
            },
            _ = beat.tick() => look(&client, &shared, !advisory, &patience, every).await,
            _ = tokio::time::sleep(RETRY), if !advisory => look(&client, &shared, true, &patience, every).await,
        };
        match looked {
            Look::Ours { advisory: got } => advisory |= got,
            Look::Lost(why) => {
                shared.lose(why);
                // Let the new holder have the advisory lock once we are gone.
                break stop.await.ok();
            }
            Look::Unknown => {}
        }
    };
    finish(Some(&client), &shared, done, &patience).await
}

/// A clean end: the row no longer names us (only a crashed holder is
/// named), and the advisory lock is let go before the lease's drop returns.
async fn finish(client: Option<&Client>, shared: &Shared, done: Option<oneshot::Sender<()>>, patience: &Patience) {
    if let Some(c) = client {
        // Both sent at once (one round trip), in this order. Let go now, not
        // when the server notices the connection closed: a play started
        // right after this one ends is not refused.
        let params: [(&(dyn ToSql + Sync), Type); 3] =
            [(&shared.runbook, Type::TEXT), (&shared.env, Type::TEXT), (&shared.token, Type::INT8)];
        let both = async {
            tokio::join!(
                c.execute_typed(
                    "UPDATE runbook_locks SET holder = '' WHERE runbook = $1 AND env = $2 AND token = $3",
                    &params
                ),
                c.batch_execute("SELECT pg_advisory_unlock_all()")
            )
        };
        let _ = patience.bound(wait(), both).await;
    }
    if let Some(d) = done {
        let _ = d.send(());
    }
}

/// The lease as the play holds it.
pub struct PgLease {
    pub shared: Arc<Shared>,
    pub previous: Previous,
    pub handle: tokio::runtime::Handle,
    pub conns: super::conns::Conns,
    pub stop: Option<oneshot::Sender<oneshot::Sender<()>>>,
    /// Said once the lease is taken (spools set aside).
    pub notes: Vec<String>,
}

impl Lease for PgLease {
    fn took_over(&self) -> Option<&Holder> {
        self.previous.as_ref().map(|(h, _)| h)
    }

    fn gone(&self) -> Option<String> {
        self.previous.as_ref().and_then(|(_, why)| why.clone())
    }

    fn notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn set_run(&mut self, run: &str) {
        let holder = {
            let mut me = self.shared.me.lock().unwrap_or_else(|p| p.into_inner());
            me.run = run.to_string();
            serde_json::to_string(&*me).unwrap_or_default()
        };
        // Not waited for: on the engine's connection, it is written before
        // anything the play sends next (the run's first commit included).
        let (conns, s) = (self.conns.clone(), self.shared.clone());
        self.handle.spawn(async move {
            let r = match conns.get().await {
                Ok(c) => c
                    .execute_typed(
                        "UPDATE runbook_locks SET holder = $4 WHERE runbook = $1 AND env = $2 AND token = $3",
                        &[
                            (&s.runbook, Type::TEXT),
                            (&s.env, Type::TEXT),
                            (&s.token, Type::INT8),
                            (&holder, Type::TEXT),
                        ],
                    )
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = r {
                tracing::warn!("cannot name the run in the lock: {e}");
            }
        });
    }

    fn lost(&self) -> Option<String> {
        self.shared.lost()
    }
}

impl Drop for PgLease {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let patience = self.conns.patience.clone();
            let _ = super::runtime::call(&self.handle, async move {
                let (tx, rx) = oneshot::channel();
                if stop.send(tx).is_ok() {
                    let _ = patience.bound(wait(), rx).await;
                }
            });
        }
    }
}

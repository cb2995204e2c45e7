//! The lock of a runbook@env in the shared store: a row of `runbook_locks`
//! (the holder, for refusals, and the fencing token) plus a session advisory
//! lock held by the engine's connection ([`super::conns`]; liveness: the
//! database frees it as soon as it notices that connection is gone,
//! `kill -9` included).
//!
//! Taking the lock bumps the row's token; every append carries it and the
//! store refuses an append whose token is not the row's ([`super::writer`]),
//! so two engines can never both write a run. `--take-over` bumps the token
//! while the first engine lives and notifies it (`NOTIFY runbook_lock`): it
//! stops starting steps and says who took over, and lets go of its advisory
//! lock when its play ends; the new holder takes it then.
//!
//! The lease's connection is watched: when it drops (the database
//! restarted), it is opened again and the advisory lock taken again; if
//! someone else took the lock meanwhile, the lease is lost.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::poll_fn;
use sha2::Digest;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::Type;
use tokio_postgres::{AsyncMessage, Client};

use super::connect::Target;
use crate::error::{Error, Result};
use crate::store::{Holder, Lease};

/// What the lease, the writer and the watcher share.
pub struct Shared {
    pub runbook: String,
    pub env: String,
    pub key: i64,
    pub token: i64,
    /// Why the lock was lost, once it is.
    pub lost: Mutex<Option<String>>,
    /// The holder as the row names it (run set once known).
    pub me: Mutex<Holder>,
}

impl Shared {
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn lose(&self, why: String) {
        let mut l = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        if l.is_none() {
            tracing::warn!("{why}");
            *l = Some(why);
        }
    }
}

/// The advisory lock key of runbook@env.
pub fn key(runbook: &str, env: &str) -> i64 {
    let d = sha2::Sha256::digest(format!("{runbook}@{env}").as_bytes());
    i64::from_be_bytes(d[..8].try_into().unwrap_or_default())
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

/// The lease taken: what it shares, the holder before us (if the row named
/// one), and how to end it.
pub type Taken = (Arc<Shared>, Option<Holder>, oneshot::Sender<oneshot::Sender<()>>);

/// Take the lock (or, with `take_over`, take it from a live holder).
/// `then` is sent along on the lease's connection, in the same round trip:
/// the server runs it after the lock statement, so once the lock is ours it
/// has read under the lock (its result is only for a lock taken).
pub async fn acquire<T, F: Future<Output = T>>(
    target: Target,
    spare: Option<Spare>,
    want: Want,
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
    let sql = |e: tokio_postgres::Error| Error::Other(anyhow::anyhow!("state database {name}: lock: {e}"));
    let key = key(&runbook, &env);
    let holder = serde_json::to_string(&me).map_err(anyhow::Error::from)?;
    let notice = key.to_string();
    let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 6] = [
        (&key, Type::INT8),
        (&runbook, Type::TEXT),
        (&env, Type::TEXT),
        (&holder, Type::TEXT),
        (&notice, Type::TEXT),
        (&take_over, Type::BOOL),
    ];
    // One typed statement, one round trip: try the advisory lock; if we got
    // it (or take over), bump the row's token; when taking over, notify the
    // live holder; and read the holder before us (the statement's snapshot:
    // before the bump). A holder that lost its connection finds the new
    // token when it reconnects, and its appends are refused meanwhile.
    // The LISTEN goes first, in the same round trip (pipelined): take-overs
    // are heard from the moment the lock is ours.
    // `join!` polls in order, and a statement is queued on its connection
    // when first polled: the LISTEN, the lock, then `then`.
    let (listen, row, then) = tokio::join!(
        client.batch_execute(LISTEN),
        client.query_typed(
            "WITH l AS MATERIALIZED (SELECT pg_try_advisory_lock($1) AS got),
             up AS (
                 INSERT INTO runbook_locks (runbook, env, token, holder)
                 SELECT $2, $3, 1, $4 FROM l WHERE l.got OR $6
                 ON CONFLICT (runbook, env) DO UPDATE SET token = runbook_locks.token + 1, holder = EXCLUDED.holder
                 RETURNING token),
             n AS MATERIALIZED (SELECT pg_notify('runbook_lock', $5) FROM up WHERE $6)
             SELECT l.got,
                    (SELECT holder FROM runbook_locks WHERE runbook = $2 AND env = $3),
                    (SELECT token FROM up),
                    (SELECT count(*) FROM n)
             FROM l",
            &params,
        ),
        then(client.clone())
    );
    listen.map_err(sql)?;
    let row = row.map_err(sql)?;
    let row = row.first().ok_or_else(|| sql_missing(&name))?;
    let got = row.get::<_, bool>(0);
    let previous: Option<Holder> = row.get::<_, Option<String>>(1).and_then(|h| serde_json::from_str(&h).ok());
    if !got && !take_over {
        let who = previous.as_ref().map_or_else(|| "another engine".to_string(), describe);
        return Err(Error::Refused(format!(
            "another play of {runbook}@{env} is running: the lock in {name} is held by {who}\n  hint: wait for it to finish; to continue its run from here, `runbook play {runbook}{} --take-over` (asks first)",
            if env == crate::config::LOCAL_ENV { String::new() } else { format!(" --env {env}") }
        )));
    }
    let token: i64 = row.get::<_, Option<i64>>(2).ok_or_else(|| sql_missing(&name))?;
    let shared = Arc::new(Shared { runbook, env, key, token, lost: Mutex::new(None), me: Mutex::new(me) });
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(watch(target, client, notes, shared.clone(), got, stopped));
    Ok(((shared, previous, stop), then))
}

fn sql_missing(name: &str) -> Error {
    Error::Other(anyhow::anyhow!("state database {name}: lock: the lock row was not written"))
}

/// How often a taker-over tries for the advisory lock its predecessor
/// still holds, and how often a lost connection is tried again.
const RETRY: Duration = Duration::from_millis(250);

/// Keeps the lease: reacts to take-overs, reconnects after the database
/// restarted, takes the advisory lock once a taken-over engine lets go.
async fn watch(
    target: Target,
    mut client: Arc<Client>,
    mut notes: Notes,
    shared: Arc<Shared>,
    mut advisory: bool,
    mut stop: oneshot::Receiver<oneshot::Sender<()>>,
) {
    let key = shared.key.to_string();
    let done = loop {
        tokio::select! {
            d = &mut stop => break d.ok(),
            n = notes.recv() => match n {
                Some(k) if k == key => {
                    if let Some(why) = check(&client, &shared).await {
                        shared.lose(why);
                        // Let the new holder have the advisory lock once we are gone.
                        break stop.await.ok();
                    }
                }
                Some(_) => {}
                None => {
                    // The connection is gone: open it again and take the lock again.
                    loop {
                        tokio::select! {
                            d = &mut stop => return finish(None, &shared, d.ok()).await,
                            _ = tokio::time::sleep(RETRY) => {}
                        }
                        let Ok((c, n)) = open(&target, true).await else { continue };
                        client = Arc::new(c);
                        notes = n;
                        advisory = false;
                        break;
                    }
                    if let Some(why) = check(&client, &shared).await {
                        shared.lose(why);
                        break stop.await.ok();
                    }
                }
            },
            _ = tokio::time::sleep(RETRY), if !advisory => {
                match client.query_one("SELECT pg_try_advisory_lock($1)", &[&shared.key]).await {
                    Ok(r) => advisory = r.get(0),
                    Err(e) => tracing::debug!("lease: {e}"),
                }
            }
        }
    };
    finish(Some(&client), &shared, done).await
}

/// Is the row still ours? `Some(why)` when it is not.
async fn check(client: &Client, shared: &Shared) -> Option<String> {
    let row = client
        .query_opt(
            "SELECT token, holder FROM runbook_locks WHERE runbook = $1 AND env = $2",
            &[&shared.runbook, &shared.env],
        )
        .await
        .ok()?;
    let (token, holder): (i64, String) = row.map(|r| (r.get(0), r.get(1)))?;
    if token == shared.token {
        return None;
    }
    let who = serde_json::from_str::<Holder>(&holder).map_or_else(|_| "another engine".into(), |h| describe(&h));
    Some(format!("the run was taken over by {who}: this engine starts no more steps"))
}

/// A clean end: the row no longer names us (only a crashed holder is
/// named), and the advisory lock is let go before the lease's drop returns.
async fn finish(client: Option<&Client>, shared: &Shared, done: Option<oneshot::Sender<()>>) {
    if let Some(c) = client {
        // Both sent at once (one round trip), in this order. Let go now, not
        // when the server notices the connection closed: a play started
        // right after this one ends is not refused.
        let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 3] =
            [(&shared.runbook, Type::TEXT), (&shared.env, Type::TEXT), (&shared.token, Type::INT8)];
        let _ = tokio::join!(
            c.execute_typed(
                "UPDATE runbook_locks SET holder = '' WHERE runbook = $1 AND env = $2 AND token = $3",
                &params
            ),
            c.batch_execute("SELECT pg_advisory_unlock_all()")
        );
    }
    if let Some(d) = done {
        let _ = d.send(());
    }
}

/// The lease as the play holds it.
pub struct PgLease {
    pub shared: Arc<Shared>,
    pub previous: Option<Holder>,
    pub handle: tokio::runtime::Handle,
    pub conns: super::conns::Conns,
    pub stop: Option<oneshot::Sender<oneshot::Sender<()>>>,
}

impl Lease for PgLease {
    fn took_over(&self) -> Option<&Holder> {
        self.previous.as_ref()
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
            let _ = super::runtime::call(&self.handle, async move {
                let (tx, rx) = oneshot::channel();
                if stop.send(tx).is_ok() {
                    let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
                }
            });
        }
    }
}

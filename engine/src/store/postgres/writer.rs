//! Appending a run's events to the shared store.
//!
//! [`Writer::append`] queues the event and returns: a task of the store's
//! runtime writes everything queued in one statement (group commit). Every
//! batch carries the lease's fencing token and is written only while the
//! lock row still has it (`FOR SHARE` on the row, so a take-over waits for
//! the batch or the batch sees the new token): a session that lost the lock
//! can never write. A step starts once [`Writer::durable`] says its
//! `step-start` is committed, and with it the step's `spawned` (its
//! process, waiting for its body, was started before the wait:
//! [`Writer::waits`]).
//!
//! Only a start is waited for (and a retry's `spawned`). Nobody waits for
//! the rest (a step's end, notes): when the play goes idle they linger for
//! `RUNBOOK_PG_LINGER` milliseconds (default 10) before they are written,
//! so that the next step's start, decided meanwhile, takes them along: one
//! round trip and one WAL flush per trivial step. A `stop`, the run's end and
//! [`Writer::sync`] (the end of a play, before its lock is let go) are
//! written at once. Events are committed in order, so the store always
//! holds a prefix of the run: an engine killed before its last step's end
//! was committed leaves that step in flight, run again on resume as any
//! interrupted step (docs/team-mode.md).
//!
//! A write the server refuses for a reason waiting does not fix (a
//! privilege revoked, a primary turned standby: `said::refuses_writes`) is
//! kept the same way, but whoever waits is told at once, with what to
//! grant, rather than at the bound of an outage.
//!
//! When the database goes away, the queue is kept: written to this
//! machine's spool ([`super::spool`]) at once, retried until the database
//! returns. No step starts meanwhile (its start cannot be durable); a step
//! in flight finishes and its end waits in the queue. Waiting is bounded by
//! `RUNBOOK_PG_WAIT` (seconds, default 30): then the play stops (exit 1,
//! resumable) and the spool is written by the next session on this machine.
//! Having waited that long once, the end of the play does not wait again:
//! its last waits share `RUNBOOK_PG_SLACK` ([`super::patience`]), and an
//! interrupt ends them within it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use super::conns::Conns;
use super::fenced::{Outcome, Ready, fault_kill_connections, insert, kill_connections};
use super::lease::Shared as LeaseShared;
use super::patience::{Patience, wait};
use crate::error::{Error, Result};
use crate::run::{Entry, Event};
use crate::store::logs::{LogSender, Logs};
use crate::store::{Durable, Lost, Writer};

struct Queue {
    /// Appended, not yet committed: `(seq, json)`.
    pending: Vec<(i64, String)>,
    /// The last seq appended.
    last: u64,
    /// The store refuses this session (fenced): every later append fails.
    fatal: Option<String>,
    /// The database is unreachable now (why).
    outage: Option<String>,
    /// The database refuses our writes for a reason waiting does not fix
    /// (a privilege revoked): the message for whoever waits.
    denied: Option<String>,
    /// The pending events are in the spool file.
    spooled: bool,
    /// The last seq someone waits for (a start, a stop, the end of a play):
    /// written at once, not after lingering.
    want: u64,
    /// The commit loop knows events are pending (it lingers or writes):
    /// the play going idle need not tell it again.
    noticed: bool,
    /// Fault injection: the database connections are killed before the
    /// next batch is written.
    kill_connections: bool,
}

/// What the writer did, for the engine's log (where the time goes).
#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    events: AtomicU64,
    /// Time steps waited for their start to be committed, in microseconds.
    waited_us: AtomicU64,
    waits: AtomicU64,
}

pub struct Shared {
    q: Mutex<Queue>,
    wake: Notify,
    /// The last committed seq (changes also wake waiters on a fatal error).
    committed: watch::Sender<u64>,
    run: String,
    spool: PathBuf,
    /// The session's token, the spool's header.
    token: i64,
    /// `host:port` of the database, and the engine's role, for messages.
    address: String,
    role: String,
    patience: Patience,
    stats: Stats,
}

impl Shared {
    fn q(&self) -> MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct PgWriter {
    shared: Arc<Shared>,
    lease: Arc<LeaseShared>,
    handle: tokio::runtime::Handle,
    task: tokio::task::JoinHandle<()>,
    logs: Logs,
}

/// How long events nobody waits for stay queued once the play is idle
/// (`RUNBOOK_PG_LINGER`, milliseconds; 0: written as soon as it is idle).
fn linger() -> Duration {
    std::env::var("RUNBOOK_PG_LINGER")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(Duration::from_millis(10), |ms| Duration::from_secs_f64(ms.max(0.0) / 1e3))
}

impl PgWriter {
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        handle: &tokio::runtime::Handle,
        conns: Conns,
        conn: Ready,
        lease: Arc<LeaseShared>,
        run: &str,
        spool: PathBuf,
        logs: Logs,
        last: u64,
        (address, role): (String, String),
    ) -> PgWriter {
        let shared = Arc::new(Shared {
            q: Mutex::new(Queue {
                pending: Vec::new(),
                last,
                fatal: None,
                outage: None,
                denied: None,
                spooled: false,
                want: 0,
                noticed: false,
                kill_connections: false,
            }),
            wake: Notify::new(),
            committed: watch::channel(last).0,
            run: run.to_string(),
            spool,
            token: lease.token,
            address,
            role,
            patience: conns.patience.clone(),
            stats: Stats::default(),
        });
        let task = handle.spawn(commit_loop(conns, conn, lease.clone(), shared.clone()));
        PgWriter { shared, lease, handle: handle.clone(), task, logs }
    }

    /// Ask for everything appended so far to be written now; its last seq.
    fn urge(&self) -> u64 {
        let target = {
            let mut q = self.shared.q();
            q.want = q.want.max(q.last);
            q.last
        };
        self.shared.wake.notify_one();
        target
    }

    /// Wait until `target` is committed, the store refuses us, `wait()`
    /// passed, or waits are cut short (gave up before, an interrupt).
    fn waiter(&self, target: u64) -> impl std::future::Future<Output = Result<()>> + Send + 'static {
        let s = self.shared.clone();
        let mut rx = s.committed.subscribe();
        async move {
            let limit = wait();
            let t0 = Instant::now();
            let r = s
                .patience
                .bound(limit, async {
                    loop {
                        let stop = {
                            let q = s.q();
                            q.fatal.clone().or_else(|| q.denied.clone())
                        };
                        if let Some(f) = stop {
                            return Err(f);
                        }
                        if *rx.borrow_and_update() >= target {
                            return Ok(());
                        }
                        if rx.changed().await.is_err() {
                            return Err("the writer stopped".to_string());
                        }
                    }
                })
                .await;
            s.stats.waited_us.fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
            s.stats.waits.fetch_add(1, Ordering::Relaxed);
            match r {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(Error::Other(anyhow::anyhow!("{e}"))),
                None => {
                    let interrupted = s.patience.interrupted();
                    s.patience.gave_up();
                    // Kept on this machine (the writer may still be trying).
                    keep(&s);
                    let why = s.q().outage.clone().map(|w| format!(" ({w})")).unwrap_or_default();
                    let kept = format!(
                        "the run's last events are kept in {} and written when it is back (resume the run then)",
                        s.spool.display()
                    );
                    Err(Error::Other(anyhow::anyhow!(if interrupted {
                        format!("interrupted while waiting for the state database at {}; {kept}", s.address)
                    } else {
                        format!(
                            "the state database at {} did not answer within {}s{why}; {kept}",
                            s.address,
                            limit.as_secs_f64()
                        )
                    })))
                }
            }
        }
    }
}

/// Write what is pending to the spool, if it is not there already.
fn keep(s: &Shared) {
    let mut q = s.q();
    if !q.pending.is_empty() && q.fatal.is_none() && !q.spooled {
        q.spooled = super::spool::write(&s.spool, s.token, &q.pending).is_ok();
    }
}

impl Writer for PgWriter {
    fn append(&mut self, e: &Entry) -> Result<()> {
        if let Some(why) = self.lease.lost() {
            return Err(Error::Other(anyhow::anyhow!("{why}")));
        }
        let json = serde_json::to_string(e).map_err(anyhow::Error::from)?;
        let mut q = self.shared.q();
        if let Some(f) = &q.fatal {
            return Err(Error::Other(anyhow::anyhow!("{f}")));
        }
        q.pending.push((e.seq as i64, json));
        q.last = e.seq;
        if q.spooled {
            // Still out: the spool holds everything not yet committed.
            let _ = super::spool::write(&self.shared.spool, self.shared.token, &q.pending);
        }
        if let Event::StepEnd(end) = &e.event
            && fault_kill_connections(&end.step)
        {
            q.kill_connections = true;
        }
        let now = matches!(e.event, Event::Stop(_) | Event::RunEnd(_));
        drop(q);
        // Committed when someone waits for it, or after lingering once the
        // play goes idle ([`Writer::idle`]); a stop and the run's end at once.
        if now {
            self.urge();
        }
        Ok(())
    }

    fn durable(&mut self) -> Durable {
        let target = self.urge();
        Box::pin(self.waiter(target))
    }

    fn waits(&self) -> bool {
        true
    }

    fn logs(&self) -> LogSender {
        self.logs.sender()
    }

    fn idle(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        let s = self.shared.clone();
        Some(Box::new(move || {
            let mut q = s.q();
            if !q.pending.is_empty() && !q.noticed {
                q.noticed = true;
                drop(q);
                s.wake.notify_one();
            }
        }))
    }

    fn sync(&mut self) -> Result<()> {
        let target = self.urge();
        if *self.shared.committed.borrow() >= target {
            return Ok(());
        }
        super::runtime::call(&self.handle, self.waiter(target))?
    }

    fn synced(&mut self) -> Durable {
        self.durable()
    }

    fn lost(&self) -> Lost {
        Box::pin(self.lease.on_lost())
    }

    fn interrupt(&self) {
        self.shared.patience.interrupt();
    }
}

impl Drop for PgWriter {
    /// What was never committed stays in the spool for the next session.
    fn drop(&mut self) {
        self.task.abort();
        let st = &self.shared.stats;
        let waits = st.waits.load(Ordering::Relaxed).max(1);
        tracing::info!(
            "state database: {} events in {} commits; a wait for a commit took {:.2} ms on average ({} waits)",
            st.events.load(Ordering::Relaxed),
            st.commits.load(Ordering::Relaxed),
            st.waited_us.load(Ordering::Relaxed) as f64 / waits as f64 / 1e3,
            st.waits.load(Ordering::Relaxed),
        );
        // A session that lost the lock keeps nothing: its events can never
        // be written (the run went on with another engine).
        if self.lease.lost().is_none() {
            keep(&self.shared);
        }
    }
}

async fn commit_loop(conns: Conns, conn: Ready, lease: Arc<LeaseShared>, s: Arc<Shared>) {
    // The engine's connection while it works; one of the pool once it broke.
    let mut conn = Some(conn);
    let mut backoff = Duration::from_millis(50);
    let linger = linger();
    // When the events nobody waits for are written, if nobody asks first.
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let (queued, urgent) = {
            let mut q = s.q();
            q.noticed = !q.pending.is_empty();
            (q.pending.len(), q.want > *s.committed.borrow())
        };
        if queued == 0 {
            deadline = None;
            s.wake.notified().await;
            continue;
        }
        if !urgent && !linger.is_zero() {
            let d = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + linger);
            tokio::select! {
                _ = tokio::time::sleep_until(d) => {}
                // Someone may wait now: look again (same deadline otherwise).
                _ = s.wake.notified() => continue,
            }
        }
        deadline = None;
        let kill = std::mem::take(&mut s.q().kill_connections);
        if kill {
            kill_connections(&conns).await;
        }
        let batch: Vec<(i64, String)> = s.q().pending.clone();
        let out = insert(&conns, &mut conn, &lease, &s.run, &batch).await;
        let denied = matches!(out, Outcome::Denied(_));
        match out {
            Outcome::Committed => {
                s.stats.commits.fetch_add(1, Ordering::Relaxed);
                s.stats.events.fetch_add(batch.len() as u64, Ordering::Relaxed);
                backoff = Duration::from_millis(50);
                let mut q = s.q();
                q.pending.drain(..batch.len());
                q.outage = None;
                q.denied = None;
                if q.spooled && q.pending.is_empty() {
                    q.spooled = false;
                    let _ = std::fs::remove_file(&s.spool);
                } else if q.spooled {
                    let _ = super::spool::write(&s.spool, s.token, &q.pending);
                }
                drop(q);
                s.patience.answered();
                let last = batch.last().map_or(0, |b| b.0 as u64);
                s.committed.send_replace(last);
            }
            Outcome::Fenced(why) => {
                lease.lose(why.clone());
                s.q().fatal = Some(why);
                s.committed.send_modify(|_| {});
                return;
            }
            Outcome::Down(why) | Outcome::Denied(why) => {
                {
                    let mut q = s.q();
                    if denied && q.denied.is_none() {
                        tracing::warn!("the state database refuses this session's writes: {why}");
                        q.denied = Some(format!(
                            "the state database at {} refuses this session's writes: {why}; the run's last events are kept in {} and written when it takes them (resume the run then). {}",
                            s.address,
                            s.spool.display(),
                            super::said::refused_write_hint(&s.role, &why),
                        ));
                    }
                    if q.outage.is_none() {
                        tracing::warn!("the state database is unreachable: {why}; retrying");
                    }
                    q.outage = Some(why);
                    if !q.spooled {
                        q.spooled = super::spool::write(&s.spool, s.token, &q.pending).is_ok();
                    }
                }
                if denied {
                    // Whoever waits gives up now rather than at the outage's bound.
                    s.committed.send_modify(|_| {});
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

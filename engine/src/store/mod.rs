//! Where runs live (SPEC §6): each run's events, its step logs, and the lock
//! of each runbook@env. [`local`] keeps them under `.runbook/` (the embedded
//! default); a `postgres://` state shares them with the team. Every store
//! holds the same events ([`crate::run`]), so every command reads a run the
//! same way whatever the store.
//!
//! A play takes the [`Lease`] of its runbook@env, then appends to its run
//! through a [`Writer`]: an event is appended in order, and a step starts
//! only once its `step-start` is [`Writer::durable`]. Step output goes to the
//! store's log writer ([`logs`]) in chunks, off the step's path.

pub mod lent;
pub mod local;
pub mod logs;
pub mod machine;
pub mod operator;
pub mod postgres;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::run::{Entry, RunState};

pub use local::LocalStore;

/// Who holds (or held) a lock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub since: String,
    #[serde(default)]
    pub run: String,
    /// When its process started ([`machine::start_time`]): a pid reused
    /// after a crash is not the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
    /// Known to be on another machine ([`machine::here`]; the shared store
    /// says): what its steps left running is out of this engine's reach.
    #[serde(skip)]
    pub elsewhere: bool,
}

impl Holder {
    /// This process, now.
    pub fn me() -> Holder {
        let (user, host) = operator();
        let pid = std::process::id();
        let start = machine::start_time(pid);
        Holder { user, host, pid, since: crate::time::now_rfc3339(), run: String::new(), start, elsewhere: false }
    }

    pub fn operator(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }

    /// `user@host (pid N, since T, run R)`, as refusals name a holder.
    pub fn describe(&self) -> String {
        let run = if self.run.is_empty() { String::new() } else { format!(", run {}", self.run) };
        format!("{}@{} (pid {}, since {}{run})", self.user, self.host, self.pid, self.since)
    }
}

/// `user`, `host` of this process: who plays ([`operator::name`]), where.
pub fn operator() -> (String, String) {
    let user = operator::name(|k| std::env::var(k).ok(), &operator::account());
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown".into());
    (user, host)
}

/// The latest run of a runbook@env, found even when its events cannot be read.
pub struct Latest {
    pub id: String,
    pub events: Result<Vec<Entry>>,
}

/// What `runs --prune` removes: runs started before `older_than` ago, and
/// beyond the newest `keep`; with both, a run must be both. A run being
/// played is never removed: the run its runbook@env's lock names (every run
/// of that runbook@env while the lock names none yet, the moment between
/// taking the lock and choosing the run), in both stores. Nor is the run an
/// incident may still resume, unless `older_than` covers its last event
/// ([`to_prune`]).
#[derive(Debug, Clone, Default)]
pub struct Prune {
    pub older_than: Option<Duration>,
    pub keep: Option<usize>,
    pub now: Option<SystemTime>,
}

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub removed: Vec<String>,
    /// Runs it would have removed, kept because they are being played.
    pub playing: Vec<String>,
    /// Runs it would have removed, kept because `--resume` continues them.
    pub resumable: Vec<Resumable>,
    /// What engines killed while creating a run left (the local store's
    /// `.new-PID-N` directories), removed.
    pub leftovers: Vec<String>,
}

/// A run a prune keeps for `--resume`: the latest run of its runbook@env,
/// not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumable {
    pub id: String,
    pub runbook: String,
    pub env: String,
    /// How it stopped ([`RunState::status_name`]): `unfinished` (its engine
    /// died), `failed`, `interrupted`…
    pub status: String,
    /// When its last event was written (`None`: no event says).
    pub last: Option<SystemTime>,
}

/// A play's lock, as a prune sees it: its runbook@env and the run it names
/// (empty: not chosen yet).
pub struct Playing {
    pub runbook: String,
    pub env: String,
    pub run: String,
}

impl Playing {
    /// Is `run` (of `runbook`@`env`) this play's?
    pub fn plays(&self, run: &str, runbook: &str, env: &str) -> bool {
        if self.run.is_empty() { self.runbook == runbook && self.env == env } else { self.run == run }
    }
}

/// Split what a prune would remove into what it removes and what is being
/// played; `of` gives a run's runbook@env.
pub fn spare(doomed: Vec<String>, playing: &[Playing], of: impl Fn(&str) -> Option<(String, String)>) -> Pruned {
    let mut out = Pruned::default();
    for id in doomed {
        if played(&id, playing, &of) { out.playing.push(id) } else { out.removed.push(id) }
    }
    out
}

/// Is run `id` being played? `of` gives a run's runbook@env.
fn played(id: &str, playing: &[Playing], of: impl Fn(&str) -> Option<(String, String)>) -> bool {
    playing.iter().any(|p| p.run == id || (p.run.is_empty() && of(id).is_some_and(|(rb, env)| p.plays(id, &rb, &env))))
}

/// What a prune of `ids` (oldest first) removes: [`prunable`], less the
/// runs being played ([`spare`]) and the runs `--resume` would continue
/// ([`resumable_runs`]); those take none of `keep`'s places (README, Team
/// mode: retention). `of`: a run's runbook@env; `latest`: [`Store::latest`].
pub fn to_prune(
    ids: &[String],
    p: &Prune,
    playing: &[Playing],
    of: impl Fn(&str) -> Option<(String, String)>,
    latest: impl Fn(&str, &str) -> Result<Option<Latest>>,
) -> Result<Pruned> {
    let naive = prunable(ids, p);
    if naive.is_empty() {
        return Ok(Pruned::default());
    }
    let mut spared = resumable_runs(ids, p, &of, latest)?;
    spared.retain(|r| !played(&r.id, playing, &of));
    let rest: Vec<String> = ids.iter().filter(|id| !spared.iter().any(|r| r.id == **id)).cloned().collect();
    let mut pruned = spare(prunable(&rest, p), playing, &of);
    pruned.resumable = spared.into_iter().filter(|r| naive.contains(&r.id)).collect();
    Ok(pruned)
}

/// The latest run of each runbook@env among `ids` that `--resume` would
/// continue: [`Store::latest`] as `latest` (the run `--resume` finds) and
/// [`RunState::resumable`] (what it continues: a run whose engine died, that
/// failed, was interrupted…), unless `older_than` covers its last event (a
/// run started long ago and resumed yesterday is recent). `of`: a run's
/// runbook@env.
fn resumable_runs(
    ids: &[String],
    p: &Prune,
    of: impl Fn(&str) -> Option<(String, String)>,
    latest: impl Fn(&str, &str) -> Result<Option<Latest>>,
) -> Result<Vec<Resumable>> {
    let now = p.now.unwrap_or_else(SystemTime::now);
    let mut asked = std::collections::HashSet::new();
    let mut kept = Vec::new();
    for id in ids {
        let Some((runbook, env)) = of(id) else { continue };
        if !asked.insert((runbook.clone(), env.clone())) {
            continue;
        }
        let Some(Latest { id, events: Ok(events) }) = latest(&runbook, &env)? else { continue };
        let st = RunState::from_entries(&events);
        if !ids.contains(&id) || !st.resumable() {
            continue;
        }
        let last = events.iter().rev().find_map(|e| crate::time::parse(&e.at));
        let old = |age| last.is_some_and(|t| now.duration_since(t).unwrap_or_default() >= age);
        if !p.older_than.is_some_and(old) {
            kept.push(Resumable { id, runbook, env, status: st.status_name().to_string(), last });
        }
    }
    kept.sort_by(|a, b| natord::compare(&a.id, &b.id));
    Ok(kept)
}

/// The end of a step's log ([`Store::log_tail`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTail {
    /// The whole log's length, in bytes.
    pub len: u64,
    /// Where `bytes` start in the log.
    pub from: u64,
    pub bytes: Vec<u8>,
}

impl LogTail {
    /// Where a tail of a `len`-byte log starts: at `since`, or `max_bytes`
    /// before the end, whichever is later (`since` past the end: a log
    /// that was replaced, read as new).
    pub fn start(len: u64, since: u64, max_bytes: u64) -> u64 {
        let last = len.saturating_sub(max_bytes);
        if since > len { last } else { since.max(last) }
    }

    /// The tail of a whole log.
    pub fn cut(all: &[u8], since: u64, max_bytes: u64) -> LogTail {
        let len = all.len() as u64;
        let from = Self::start(len, since, max_bytes);
        LogTail { len, from, bytes: all[from as usize..].to_vec() }
    }
}

/// Resolves once what was appended is durable enough for a step to start.
pub type Durable = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// Resolves once the lock is lost to another engine, with the line that
/// says so ([`Writer::lost`]).
pub type Lost = Pin<Box<dyn Future<Output = String> + Send>>;

pub trait Store: Send + Sync {
    /// How messages name the store (never with a password).
    fn name(&self) -> String;

    /// What the store's connection holds that no output may show (the
    /// database's password: a step can print its environment, and
    /// `RUNBOOK_STATE` or `PGPASSWORD` may be in it). Masked as secrets are.
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }

    /// Take the lock of runbook@env, or refuse (exit 3) naming its holder.
    fn lock(&self, runbook: &str, env: &str, me: &Holder) -> Result<Box<dyn Lease>>;

    /// `--take-over`: the lock of runbook@env, taken from a live holder
    /// once `confirm` agrees (the holder then stops starting steps). With
    /// no live holder it is [`Store::lock`] without asking: continuing a
    /// dead engine's run is a resume. A store whose lock cannot be taken
    /// from a live engine (the local store: its holder runs on this
    /// machine) refuses, exit 3, naming the holder's pid.
    fn take_over(
        &self,
        runbook: &str,
        env: &str,
        me: &Holder,
        confirm: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Box<dyn Lease>>;

    /// Who holds the lock of runbook@env now, where the store can tell.
    fn holder(&self, _runbook: &str, _env: &str) -> Result<Option<Holder>> {
        Ok(None)
    }

    /// Every run id, oldest first.
    fn runs(&self) -> Result<Vec<String>>;

    /// The runs being played now, on any machine, where the store can tell
    /// (`None`: ask the run's engine pid on this host).
    fn playing(&self) -> Result<Option<Vec<String>>> {
        Ok(None)
    }

    /// A run's events, in order; an unreadable run is an error naming where.
    fn events(&self, run: &str) -> Result<Vec<Entry>>;

    /// The events after `seq` (the live view's follow-up reads).
    fn events_after(&self, run: &str, seq: u64) -> Result<Vec<Entry>> {
        Ok(self.events(run)?.into_iter().filter(|e| e.seq > seq).collect())
    }

    /// The latest run of runbook@env, if any.
    fn latest(&self, runbook: &str, env: &str) -> Result<Option<Latest>>;

    /// A new run with an id made from `base`, unique in the store, holding
    /// its first event (`first(id)`) from the moment it exists: a run is never
    /// seen without its `run-start`, so an empty journal is always damage.
    fn create(&self, base: &str, first: &mut dyn FnMut(&str) -> Entry) -> Result<String>;

    /// Append to `run` under `lease`. `durable`: survive a power loss (a
    /// rehearsal's store does not need to).
    fn writer(&self, run: &str, lease: &dyn Lease, durable: bool) -> Result<Box<dyn Writer>>;

    /// A step's logged output, if any.
    fn log(&self, run: &str, step: &str) -> Result<Option<Vec<u8>>>;

    /// The end of a step's log without reading the rest (a page shows the
    /// tail of a big log; the live view reads only what was added): the
    /// bytes from `since` (what the reader has), or its last `max_bytes`,
    /// whichever starts later. `None`: the step has no log.
    fn log_tail(&self, run: &str, step: &str, since: u64, max_bytes: u64) -> Result<Option<LogTail>> {
        Ok(self.log(run, step)?.map(|all| LogTail::cut(&all, since, max_bytes)))
    }

    /// The events after `seq`, for a reader that comes back for more: `mark`
    /// is the store's own place in the run (the local store: the journal's
    /// byte offset), 0 at first, moved past what was read.
    fn events_follow(&self, run: &str, seq: u64, mark: &mut u64) -> Result<Vec<Entry>> {
        let _ = mark;
        self.events_after(run, seq)
    }

    /// Remove old runs, sparing those being played and those `--resume`
    /// continues ([`Prune`]).
    fn prune(&self, p: &Prune) -> Result<Pruned>;

    /// What a run's step processes carry as `RUNBOOK_RUN_DIR`: unique on
    /// this machine, it finds their leftovers after a crash.
    fn run_key(&self, run: &str) -> String;

    /// A directory of this machine for the run's own files (the engine's
    /// log), where the store has one.
    fn local_dir(&self, run: &str) -> Option<PathBuf>;

    /// The store's own runtime, for a play to run on ([`lent`]); `None`: the
    /// play builds its own.
    fn lend(&self) -> Option<lent::Lent> {
        None
    }

    /// What Ctrl-C calls to make the store stop waiting, now and from then
    /// on (what could not be written stays where the store keeps it for the
    /// next session); `None`: the store never waits for long.
    fn interrupter(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        None
    }
}

/// The lock of a runbook@env, held until dropped.
pub trait Lease: Send {
    /// The holder before us, who died holding it (named when taking over).
    fn took_over(&self) -> Option<&Holder>;
    /// Why that holder counts as gone (`None`: `--take-over` of a live one).
    fn gone(&self) -> Option<String> {
        Some("no longer running".into())
    }
    /// Was the lock taken from an engine that still ran (`--take-over` of a
    /// live holder)? Else the session is a resume, whatever was typed.
    fn taken_from_live(&self) -> bool {
        self.took_over().is_some() && self.gone().is_none()
    }
    /// What taking the lock has to tell the operator (once).
    fn notes(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// Name the run in the lock once its id is known.
    fn set_run(&mut self, run: &str);
    /// Why the lock was lost, if it was: the play stops starting steps.
    fn lost(&self) -> Option<String> {
        None
    }
}

/// Appends a run's events and logs.
pub trait Writer: Send {
    /// Append (in order). Fails when the store cannot take it: the play then
    /// stops starting steps (never run what cannot be recorded).
    fn append(&mut self, e: &Entry) -> Result<()>;
    /// Everything appended so far, durable enough for a step to start.
    fn durable(&mut self) -> Durable;
    /// Does [`Writer::durable`] wait for the store (a commit), rather than
    /// find what was appended durable already? Then a step's process is
    /// started before its start is durable, so that its process group is
    /// committed with the start (`runner::step::ready`).
    fn waits(&self) -> bool {
        false
    }
    /// The step logs' sender.
    fn logs(&self) -> logs::LogSender;
    /// Called when the play's loop goes idle (group commit).
    fn idle(&self) -> Option<Box<dyn Fn() + Send + Sync>>;
    /// Wait until everything appended is durable (the end of a play).
    fn sync(&mut self) -> Result<()>;
    /// [`Writer::sync`] as a future, for the end of a play on its own
    /// runtime (a writer whose work runs there cannot be waited for by
    /// blocking it).
    fn synced(&mut self) -> Durable {
        Box::pin(std::future::ready(self.sync()))
    }
    /// Resolves once another engine took the lock (never, for a store
    /// whose lock cannot be taken from a live engine).
    fn lost(&self) -> Lost {
        Box::pin(std::future::pending())
    }
    /// Ctrl-C: stop waiting for the store ([`Store::interrupter`]).
    fn interrupt(&self) {}
}

/// The store of a project for a play: `RUNBOOK_STATE`, else `state` of
/// runbook.toml. A shared store's schema is created or migrated.
pub fn open(config: &crate::config::Config) -> Result<Box<dyn Store>> {
    open_as(config, postgres::Access::Play)
}

/// The store of a project for a command that only reads runs (`runs`,
/// `report`, `serve`, and `runs --prune`, which removes rows only): a shared
/// store's schema is never created nor migrated. Without one there are no
/// runs, as in an empty state directory.
pub fn open_read(config: &crate::config::Config) -> Result<Box<dyn Store>> {
    open_as(config, postgres::Access::Read)
}

fn open_as(config: &crate::config::Config, access: postgres::Access) -> Result<Box<dyn Store>> {
    match &config.shared_state {
        Some(shared) => {
            Ok(Box::new(postgres::PgStore::open_as(&shared.url, config.state.clone(), access, locate(shared))?))
        }
        None => Ok(Box::new(LocalStore::new(config.state.clone()))),
    }
}

/// Errors about the shared store, located where it was set.
fn locate(shared: &crate::config::SharedState) -> postgres::Locate {
    let shared = shared.clone();
    std::sync::Arc::new(move |e| shared.locate(e))
}

/// [`open`] on a thread of its own, while the caller does other work: a
/// play parses and checks its runbook while the shared store connects
/// (milliseconds: a backend started, a password exchange). The local store
/// opens at once.
pub enum Opening {
    Done(Result<Box<dyn Store>>),
    Connecting(std::thread::JoinHandle<Result<Box<dyn Store>>>),
}

impl Opening {
    pub fn start(config: &crate::config::Config) -> Opening {
        let Some(shared) = config.shared_state.clone() else { return Opening::Done(open(config)) };
        let local = config.state.clone();
        let connect = move || {
            postgres::PgStore::open_as(&shared.url, local, postgres::Access::Play, locate(&shared))
                .map(|s| Box::new(s) as Box<dyn Store>)
        };
        match std::thread::Builder::new().name("store-open".into()).spawn(connect) {
            Ok(t) => Opening::Connecting(t),
            Err(_) => Opening::Done(open(config)),
        }
    }

    pub fn wait(self) -> Result<Box<dyn Store>> {
        match self {
            Opening::Done(r) => r,
            Opening::Connecting(t) => t.join().map_err(|_| {
                crate::error::Error::Other(anyhow::anyhow!("internal error: opening the state store panicked"))
            })?,
        }
    }
}

/// Run ids oldest first, as [`Store::runs`] lists them. An id names the
/// second its run started (`20261203T213200Z-…`); runs of one second are
/// ordered by when each started (`start`, asked only for those: the
/// millisecond of the first event), then by id (`-2` before `-10`). By id
/// alone, `alpha` sorted before `zeta` of the same second whichever
/// started last, and `report latest` showed the older run.
pub fn oldest_first(ids: &mut [String], start: impl Fn(&str) -> Option<String>) {
    ids.sort_by(|a, b| natord::compare(a, b));
    let second = |id: &str| id.get(..16).map(str::to_string);
    let mut i = 0;
    while i < ids.len() {
        let s = second(&ids[i]);
        let n = ids[i..].iter().take_while(|id| s.is_some() && second(id) == s).count().max(1);
        if n > 1 {
            let tie = &mut ids[i..i + n];
            let mut keyed: Vec<(Option<String>, String)> = tie.iter().map(|id| (start(id), id.clone())).collect();
            keyed.sort_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| natord::compare(a, b)));
            for (slot, (_, id)) in tie.iter_mut().zip(keyed) {
                *slot = id;
            }
        }
        i += n;
    }
}

/// Which of `ids` (oldest first; their names start with the UTC time they
/// started) a prune removes, before the store spares running ones.
pub fn prunable(ids: &[String], p: &Prune) -> Vec<String> {
    let now = p.now.unwrap_or_else(SystemTime::now);
    let keep_from = p.keep.map_or(ids.len(), |k| ids.len().saturating_sub(k));
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if i >= keep_from {
            continue;
        }
        if let Some(age) = p.older_than {
            // A name without a time is not ours to judge: kept.
            let Some(t) = id.get(..16).and_then(crate::time::parse_compact) else { continue };
            if now.duration_since(t).unwrap_or_default() < age {
                continue;
            }
        }
        out.push(id.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_one_second_are_ordered_by_their_start_then_by_number() {
        let mut ids: Vec<String> = [
            "20261203T213201Z-a-local",
            "20261203T213200Z-zeta-local",
            "20261203T213200Z-alpha-local",
            "20261203T213200Z-alpha-local-10",
            "20261203T213200Z-alpha-local-2",
            "odd",
        ]
        .map(String::from)
        .to_vec();
        let start = |id: &str| {
            Some(String::from(match id {
                "20261203T213200Z-zeta-local" => "2026-12-03T21:32:00.100Z",
                "20261203T213200Z-alpha-local" => "2026-12-03T21:32:00.500Z",
                _ => "2026-12-03T21:32:00.900Z",
            }))
        };
        oldest_first(&mut ids, start);
        assert_eq!(
            ids,
            [
                "20261203T213200Z-zeta-local",
                "20261203T213200Z-alpha-local",
                "20261203T213200Z-alpha-local-2",
                "20261203T213200Z-alpha-local-10",
                "20261203T213201Z-a-local",
                "odd",
            ]
        );
    }

    #[test]
    fn a_prune_spares_the_run_being_played_and_every_run_of_a_play_that_has_not_chosen_one() {
        let doomed: Vec<String> = ["r1", "r2", "r3"].map(String::from).to_vec();
        let play = |run: &str| Playing { runbook: "a".into(), env: "local".into(), run: run.into() };
        let both = |removed: &[&str], playing: &[&str]| Pruned {
            removed: removed.iter().map(|s| s.to_string()).collect(),
            playing: playing.iter().map(|s| s.to_string()).collect(),
            ..Pruned::default()
        };
        assert_eq!(spare(doomed.clone(), &[play("r2")], |_| None), both(&["r1", "r3"], &["r2"]));
        let of = |id: &str| Some((if id == "r3" { "b" } else { "a" }.to_string(), "local".to_string()));
        assert_eq!(spare(doomed.clone(), &[play("")], of), both(&["r3"], &["r1", "r2"]));
        assert_eq!(spare(doomed, &[], of), both(&["r1", "r2", "r3"], &[]));
    }

    /// `a` and `b`: each a passed run, then a run that failed (its last
    /// event 10 days before `now`); `c`: a run whose engine died 334 days
    /// before. All started 334 days before `now`, in this order.
    #[test]
    fn a_prune_keeps_the_latest_resumable_run_of_each_runbook_and_env_until_older_than_covers_its_last_event() {
        use crate::run::Event;
        use crate::run::event::{RunEnd, RunStart, RunStatus};
        let now = crate::time::parse("2026-12-01T00:00:00Z").unwrap();
        let entry = |seq, at: &str, event| Entry { seq, at: at.into(), event };
        let id = |n: u32, rb: &str| format!("20260101T00000{n}Z-{rb}");
        let rb_of = |id: &str| id[17..].to_string();
        let run = |id: &str, status: Option<RunStatus>| {
            let mut ev = vec![entry(1, "2026-01-01T00:00:00Z", Event::RunStart(RunStart::example(id, &rb_of(id))))];
            if let Some(status) = status {
                let end = RunEnd { status, rolled_back: false, message: None };
                ev.push(entry(2, "2026-11-21T00:00:00Z", Event::RunEnd(end)));
            }
            ev
        };
        let runs = [
            (id(1, "a"), run(&id(1, "a"), Some(RunStatus::Passed))),
            (id(2, "a"), run(&id(2, "a"), Some(RunStatus::Failed))),
            (id(3, "b"), run(&id(3, "b"), Some(RunStatus::Passed))),
            (id(4, "b"), run(&id(4, "b"), Some(RunStatus::Failed))),
            (id(5, "c"), run(&id(5, "c"), None)),
        ];
        let ids: Vec<String> = runs.iter().map(|(id, _)| id.clone()).collect();
        let of = |id: &str| Some((rb_of(id), "local".to_string()));
        let latest = |rb: &str, _: &str| {
            let (id, ev) = runs.iter().rev().find(|(id, _)| rb_of(id) == rb).unwrap();
            Ok(Some(Latest { id: id.to_string(), events: Ok(ev.clone()) }))
        };
        let prune = |older: Option<u64>, keep: Option<usize>| {
            let p = Prune { older_than: older.map(|d| Duration::from_secs(86_400 * d)), keep, now: Some(now) };
            let pruned = to_prune(&ids, &p, &[], of, latest).unwrap();
            let removed: Vec<String> = pruned.removed.iter().map(|r| rb_of(r) + &r[14..15]).collect();
            let kept: Vec<(String, String)> =
                pruned.resumable.iter().map(|r| (rb_of(&r.id) + &r.id[14..15], r.status.clone())).collect();
            (removed, kept)
        };
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let kept = |k: &[(&str, &str)]| k.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        assert_eq!(
            prune(None, Some(0)),
            (names(&["a1", "b3"]), kept(&[("a2", "failed"), ("b4", "failed"), ("c5", "unfinished")]))
        );
        // A run whose last event is older than --older-than goes; one whose
        // last event is newer stays, however long ago it started.
        assert_eq!(prune(Some(9), None), (names(&["a1", "a2", "b3", "b4", "c5"]), kept(&[])));
        assert_eq!(prune(Some(11), None), (names(&["a1", "b3", "c5"]), kept(&[("a2", "failed"), ("b4", "failed")])));
        // Started less than 400 days ago: nothing to prune, nothing named.
        assert_eq!(prune(Some(400), None), (names(&[]), kept(&[])));
        // A resumable run takes none of --keep's places; one --keep keeps
        // anyway is not named.
        assert_eq!(prune(None, Some(1)), (names(&["a1"]), kept(&[("a2", "failed"), ("b4", "failed")])));
        assert_eq!(prune(None, Some(2)), (names(&[]), kept(&[("a2", "failed")])));
        assert_eq!(prune(None, Some(3)), (names(&[]), kept(&[("a2", "failed")])));
        assert_eq!(prune(None, Some(4)), (names(&[]), kept(&[])));
    }

    #[test]
    fn prune_takes_runs_both_old_and_beyond_the_newest_kept() {
        let ids: Vec<String> =
            ["20260101T000000Z-a-local", "20260601T000000Z-a-local", "20261201T000000Z-a-local", "x"]
                .map(String::from)
                .to_vec();
        let now = crate::time::parse_compact("20261202T000000Z");
        let day = Duration::from_secs(86_400);
        let p = |older: Option<u64>, keep| Prune { older_than: older.map(|d| day * d as u32), keep, now };
        assert_eq!(prunable(&ids, &p(Some(90), None)), ids[..2]);
        assert_eq!(prunable(&ids, &p(None, Some(1))), ids[..3]);
        assert_eq!(prunable(&ids, &p(Some(90), Some(3))), ids[..1]);
        assert!(prunable(&ids, &p(Some(365), None)).is_empty());
    }
}

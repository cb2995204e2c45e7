//! The embedded store: a directory (`.runbook/` by default) on this machine.
//!
//! ```text
//! runs/<run-id>/journal.jsonl     the run's events (journal.rs)
//! runs/<run-id>/<step>.log        each step's output
//! runs/<run-id>/_engine.log      the engine's own log (no step id starts with `_`)
//! runs/.new-<pid>-<n>/            a run being created (leftovers.rs)
//! locks/<runbook>@<env>.lock      one play at a time (lock.rs)
//! ```
//!
//! Directories are created 0700 and files 0600: a run's output is the
//! operator's business. Run ids start with the UTC time, so the directory
//! names sort as the runs started (`-2`, `-3`… numerically).

mod follow;
pub mod journal;
mod leftovers;
pub mod lock;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::logs::{Chunks, LogSender, Logs};
use super::{Durable, Holder, Latest, Lease, Playing, Prune, Pruned, Store, Writer};
use crate::error::{Error, Result};
use crate::run::{Entry, Event};

pub struct LocalStore {
    pub root: PathBuf,
}

impl LocalStore {
    pub fn new(root: PathBuf) -> Self {
        LocalStore { root }
    }

    pub fn run_dir(&self, run: &str) -> PathBuf {
        self.root.join("runs").join(run)
    }

    /// Run directories, oldest first (`-10` after `-9`).
    fn dirs(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.root.join("runs")) else { return Vec::new() };
        let mut v: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            // A run being created (`.new-…`, renamed into place with its
            // first event) is not a run yet: never listed (a prune sweeps
            // those of killed engines, leftovers.rs).
            .filter(|name| !name.starts_with('.'))
            .filter(|name| self.root.join("runs").join(name).is_dir())
            .collect();
        super::oldest_first(&mut v, |id| journal::first_at(&self.run_dir(id).join(journal::FILE)));
        v
    }
}

/// `mkdir -p` with mode 0700 for what it creates.
pub fn make_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| fault("cannot create", dir, &e))
}

/// A path of the state directory that cannot be used (a directory where a
/// file belongs, a full disk): exit 2 naming the path, what is wrong and the
/// fix, not exit 1, which says a step failed.
pub fn fault(what: &str, path: &Path, e: &std::io::Error) -> Error {
    let hint = fix(path, e);
    let p = path.display();
    Error::invalid(crate::error::Diagnostic::error("state-dir", format!("{what} {p}: {e}")).hint(hint))
}

/// How to mend a path of the state directory that `e` says cannot be used.
pub fn fix(path: &Path, e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    const ELSEWHERE: &str = "set `state = \"DIR\"` in runbook.toml or RUNBOOK_STATE=DIR (a team shares `postgres://…`)";
    let p = path.display();
    match e.kind() {
        K::IsADirectory => format!("it must be a file: move the directory away (`mv {p} {p}.bad`), or {ELSEWHERE}"),
        K::NotADirectory | K::AlreadyExists => {
            format!("it and the directories above it must be directories: move the file in the way, or {ELSEWHERE}")
        }
        K::StorageFull | K::QuotaExceeded => {
            format!("the disk of the state directory is full: free space, or {ELSEWHERE}")
        }
        _ => format!("the runs, logs and locks need a writable directory: {ELSEWHERE}"),
    }
}

/// Does this run id name a run of runbook@env (`<time>-<runbook>-<env>`,
/// then `-N` for runs of the same second)? Found by name, a run whose journal
/// is damaged is still found.
pub fn id_matches(id: &str, runbook: &str, env: &str) -> bool {
    let Some(rest) = id.get(17..).filter(|_| id.as_bytes().get(16) == Some(&b'-')) else { return false };
    let Some(tail) = rest.strip_prefix(runbook).and_then(|r| r.strip_prefix('-')).and_then(|r| r.strip_prefix(env))
    else {
        return false;
    };
    tail.is_empty() || tail.strip_prefix('-').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl Store for LocalStore {
    fn name(&self) -> String {
        self.root.display().to_string()
    }

    fn lock(&self, runbook: &str, env: &str, me: &Holder) -> Result<Box<dyn Lease>> {
        let path = lock::path(&self.root, runbook, env);
        Ok(Box::new(LocalLease { lock: lock::acquire(&path, me)?, me: me.clone() }))
    }

    /// A live holder of a local lock is an engine of this machine: it is
    /// stopped there, not taken from ([`lock::take_over_refused`]). With
    /// none, the lock is taken as a play takes it (a resume).
    fn take_over(
        &self,
        runbook: &str,
        env: &str,
        me: &Holder,
        _confirm: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Box<dyn Lease>> {
        let path = lock::path(&self.root, runbook, env);
        match lock::try_acquire(&path, me)? {
            Ok(lock) => Ok(Box::new(LocalLease { lock, me: me.clone() })),
            Err(busy) => Err(lock::take_over_refused(&path, &busy, me, runbook, env)),
        }
    }

    fn runs(&self) -> Result<Vec<String>> {
        Ok(self.dirs())
    }

    fn events(&self, run: &str) -> Result<Vec<Entry>> {
        journal::read(&self.run_dir(run).join(journal::FILE))
    }

    fn events_after(&self, run: &str, seq: u64) -> Result<Vec<Entry>> {
        journal::read_after(&self.run_dir(run).join(journal::FILE), seq)
    }

    fn events_follow(&self, run: &str, seq: u64, mark: &mut u64) -> Result<Vec<Entry>> {
        follow::events(&self.run_dir(run).join(journal::FILE), seq, mark)
    }

    fn latest(&self, runbook: &str, env: &str) -> Result<Option<Latest>> {
        Ok(self.latest_of(&self.dirs(), |id| self.whose(id), runbook, env))
    }

    fn create(&self, base: &str, first: &mut dyn FnMut(&str) -> Entry) -> Result<String> {
        let runs = self.root.join("runs");
        make_dir(&runs)?;
        let err = |what: &Path, e: std::io::Error| fault("cannot create", what, &e);
        for n in 1.. {
            let id = if n == 1 { base.to_string() } else { format!("{base}-{n}") };
            let dir = runs.join(&id);
            if dir.exists() {
                continue;
            }
            // Written aside, then renamed into place: the run appears with
            // its first event, or not at all.
            let tmp = runs.join(format!(".new-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::DirBuilder::new().mode(0o700).create(&tmp).map_err(|e| err(&tmp, e))?;
            let mut line = serde_json::to_string(&first(&id)).map_err(anyhow::Error::from)?;
            line.push('\n');
            let file = tmp.join(journal::FILE);
            OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(&file)
                .and_then(|mut f| f.write_all(line.as_bytes()))
                .map_err(|e| err(&file, e))?;
            match std::fs::rename(&tmp, &dir) {
                Ok(()) => return Ok(id),
                // Another play took the id meanwhile.
                Err(e) if dir.exists() => {
                    let _ = std::fs::remove_dir_all(&tmp);
                    tracing::debug!("run id {id} taken: {e}");
                    continue;
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&tmp);
                    return Err(err(&dir, e));
                }
            }
        }
        unreachable!("the loop returns")
    }

    fn writer(&self, run: &str, _lease: &dyn Lease, durable: bool) -> Result<Box<dyn Writer>> {
        let dir = self.run_dir(run);
        make_dir(&dir)?;
        let journal = journal::Journal::open(&dir.join(journal::FILE), durable)?;
        let logs = Logs::start(Box::new(Files::new(&dir)), log_sizes(&dir))
            .map_err(|e| anyhow::anyhow!("cannot start the step log writer: {e}"))?;
        Ok(Box::new(LocalWriter { journal, logs }))
    }

    fn log(&self, run: &str, step: &str) -> Result<Option<Vec<u8>>> {
        match std::fs::read(self.run_dir(run).join(format!("{step}.log"))) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("cannot read the log of `{step}` in run {run}: {e}").into()),
        }
    }

    fn log_tail(&self, run: &str, step: &str, since: u64, max_bytes: u64) -> Result<Option<super::LogTail>> {
        follow::log_tail(&self.run_dir(run).join(format!("{step}.log")), since, max_bytes)
    }

    fn prune(&self, p: &Prune) -> Result<Pruned> {
        let ids = self.dirs();
        let doomed = crate::store::prunable(&ids, p);
        let playing = self.plays();
        // Each run's first line read once: the latest run of a runbook@env
        // is looked for as many times as there are runbook@envs.
        let whose: HashMap<&str, Option<(String, String)>> = if doomed.is_empty() {
            HashMap::new()
        } else {
            ids.iter().map(|id| (id.as_str(), self.whose(id))).collect()
        };
        let of = |id: &str| whose.get(id).cloned().flatten();
        let mut pruned =
            crate::store::to_prune(&ids, p, &playing, of, |rb, env| Ok(self.latest_of(&ids, of, rb, env)))?;
        for id in &pruned.removed {
            let dir = self.run_dir(id);
            std::fs::remove_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", dir.display()))?;
        }
        pruned.leftovers = leftovers::sweep(&self.root.join("runs"));
        Ok(pruned)
    }

    fn run_key(&self, run: &str) -> String {
        let dir = self.run_dir(run);
        std::fs::canonicalize(&dir).unwrap_or(dir).display().to_string()
    }

    fn local_dir(&self, run: &str) -> Option<PathBuf> {
        Some(self.run_dir(run))
    }
}

impl LocalStore {
    /// Whose run `id` is: the runbook@env of its first event (its first
    /// line only: a journal can be long), if it can be read.
    fn whose(&self, id: &str) -> Option<(String, String)> {
        let f = File::open(self.run_dir(id).join(journal::FILE)).ok()?;
        let mut first = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(f), &mut first).ok()?;
        match serde_json::from_str::<Entry>(&first) {
            Ok(Entry { event: Event::RunStart(r), .. }) => Some((r.runbook, r.env)),
            _ => None,
        }
    }

    /// The latest run of runbook@env among `ids` (oldest first): the newest
    /// whose first event says so or, damaged, empty or missing, whose name
    /// does ([`id_matches`]). `whose` is asked newest first, only until the
    /// run is found: a state directory collects thousands.
    fn latest_of(
        &self,
        ids: &[String],
        whose: impl Fn(&str) -> Option<(String, String)>,
        runbook: &str,
        env: &str,
    ) -> Option<Latest> {
        let id = ids.iter().rev().find(|id| match whose(id) {
            Some((rb, e)) => rb == runbook && e == env,
            None => id_matches(id, runbook, env),
        })?;
        let file = self.run_dir(id).join(journal::FILE);
        let events = if file.exists() {
            journal::read(&file)
        } else {
            Err(journal::corrupt(&file, 1, "the journal is missing"))
        };
        Some(Latest { id: id.clone(), events })
    }

    /// The plays going on now: the held locks, and the run each names.
    fn plays(&self) -> Vec<Playing> {
        let Ok(rd) = std::fs::read_dir(self.root.join("locks")) else { return Vec::new() };
        rd.filter_map(|e| e.ok())
            .filter_map(|e| {
                let path = e.path();
                let name = path.file_name()?.to_str()?.strip_suffix(".lock")?.to_string();
                let (runbook, env) = name.rsplit_once('@')?;
                let holder = lock::holder_if_held(&path)?;
                Some(Playing { runbook: runbook.to_string(), env: env.to_string(), run: holder.run })
            })
            .collect()
    }
}

struct LocalLease {
    lock: lock::PlayLock,
    me: Holder,
}

impl Lease for LocalLease {
    fn took_over(&self) -> Option<&Holder> {
        self.lock.took_over.as_ref()
    }

    fn set_run(&mut self, run: &str) {
        self.lock.set_run(&self.me, run);
    }
}

struct LocalWriter {
    journal: journal::Journal,
    logs: Logs,
}

impl Writer for LocalWriter {
    fn append(&mut self, e: &Entry) -> Result<()> {
        self.journal.append(e)
    }

    /// Written is enough: the kernel has it whatever happens to the engine
    /// (the power-loss window is in [`journal`]).
    fn durable(&mut self) -> Durable {
        Box::pin(std::future::ready(Ok(())))
    }

    fn logs(&self) -> LogSender {
        self.logs.sender()
    }

    fn idle(&self) -> Option<Box<dyn Fn() + Send + Sync>> {
        self.journal.kicker().map(|k| Box::new(move || k.kick()) as Box<dyn Fn() + Send + Sync>)
    }

    fn sync(&mut self) -> Result<()> {
        self.journal.sync()
    }
}

/// How long each step's log in `dir` is (`<step>.log`): where a later
/// session's output of the step begins.
fn log_sizes(dir: &Path) -> HashMap<String, u64> {
    let Ok(rd) = std::fs::read_dir(dir) else { return HashMap::new() };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let step = name.strip_suffix(".log")?.to_string();
            Some((step, e.metadata().ok()?.len()))
        })
        .collect()
}

/// Step logs as files of the run directory: `<step>.log`, 0600.
pub struct Files {
    dir: PathBuf,
    /// `None`: the file could not be opened or written; the step's later
    /// output is dropped, said once ([`Chunks::lost`]).
    open: HashMap<String, Option<File>>,
    /// What could not be written since last asked.
    lost: Option<String>,
}

impl Files {
    pub fn new(dir: &Path) -> Self {
        Files { dir: dir.to_path_buf(), open: HashMap::new(), lost: None }
    }
}

/// Output of `step` that could not be written to `path`: what is lost and
/// the fix.
pub fn output_lost(step: &str, path: &Path, e: &std::io::Error) -> String {
    format!("the output of step `{step}` could not be written to {}: {e}: {}", path.display(), fix(path, e))
}

impl Chunks for Files {
    fn write(&mut self, step: &str, data: &[u8], last: bool) {
        let path = self.dir.join(format!("{step}.log"));
        let mut failed = None;
        let f = self.open.entry(step.to_string()).or_insert_with(|| {
            OpenOptions::new().create(true).append(true).mode(0o600).open(&path).map_err(|e| failed = Some(e)).ok()
        });
        if let Some(file) = f
            && !data.is_empty()
            && let Err(e) = file.write_all(data)
        {
            failed = Some(e);
            *f = None;
        }
        if let Some(e) = failed {
            self.lost.get_or_insert_with(|| output_lost(step, &path, &e));
        }
        if last {
            self.open.remove(step);
        }
    }

    fn lost(&mut self) -> Option<String> {
        self.lost.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_the_same_second_sort_by_their_number() {
        let state = tempfile::tempdir().unwrap();
        let ids = [
            "20261130T034244Z-a-local-10",
            "20261130T034244Z-a-local",
            "20261130T034244Z-a-local-9",
            "20261130T034244Z-a-local-2",
            "20261130T034245Z-a-local",
        ];
        for id in ids {
            let d = state.path().join("runs").join(id);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(journal::FILE), "{}\n").unwrap();
        }
        let got = LocalStore::new(state.path().to_path_buf()).runs().unwrap();
        assert_eq!(
            got,
            [
                "20261130T034244Z-a-local",
                "20261130T034244Z-a-local-2",
                "20261130T034244Z-a-local-9",
                "20261130T034244Z-a-local-10",
                "20261130T034245Z-a-local"
            ]
        );
    }

    #[test]
    fn runs_of_the_same_second_of_other_runbooks_sort_by_when_they_started() {
        let state = tempfile::tempdir().unwrap();
        for (id, at) in [("20261203T213200Z-zeta-local", "00.100"), ("20261203T213200Z-alpha-local", "00.900")] {
            let d = state.path().join("runs").join(id);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(journal::FILE), format!("{{\"seq\":1,\"at\":\"2026-12-03T21:32:{at}Z\"}}\n"))
                .unwrap();
        }
        let got = LocalStore::new(state.path().to_path_buf()).runs().unwrap();
        assert_eq!(got, ["20261203T213200Z-zeta-local", "20261203T213200Z-alpha-local"]);
    }

    #[test]
    fn a_concurrent_lister_never_sees_a_run_being_created() {
        let state = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(LocalStore::new(state.path().to_path_buf()));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let lister = {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                let mut looks = 0u64;
                while !done.load(std::sync::atomic::Ordering::Relaxed) || looks == 0 {
                    for id in store.runs().unwrap() {
                        assert!(!id.starts_with('.'), "listed a run being created: {id}");
                        // What is listed is a run: it holds its first event.
                        assert!(!store.events(&id).unwrap().is_empty(), "{id} listed without its run-start");
                    }
                    looks += 1;
                }
                looks
            })
        };
        for _ in 0..200 {
            store.create("20261130T034244Z-a-local", &mut |id| first(id)).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(lister.join().unwrap() > 0);
        assert_eq!(store.runs().unwrap().len(), 200);
    }

    fn first(id: &str) -> Entry {
        Entry { seq: 1, at: String::new(), event: Event::RunStart(crate::run::event::RunStart::example(id, "a")) }
    }

    #[test]
    fn a_run_is_found_by_its_name() {
        assert!(id_matches("20261130T034244Z-2.1-head-stall-devnet", "2.1-head-stall", "devnet"));
        assert!(id_matches("20261130T034244Z-2.1-head-stall-devnet-12", "2.1-head-stall", "devnet"));
        assert!(!id_matches("20261130T034244Z-2.1-head-stall-devnet-x", "2.1-head-stall", "devnet"));
        assert!(!id_matches("20261130T034244Z-2.1-head-stall-prod", "2.1-head-stall", "devnet"));
        assert!(!id_matches("20261130T034244Z-2.1-head-devnet", "2.1-head-stall", "devnet"));
    }
}

//! Running one step to its end: attempts (`retry`/`delay`), `timeout`,
//! cancellation, `expect`, `budget`, leftovers, output pumps.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use regex::Regex;
use tokio::sync::watch;

use super::StepStatus;
use super::events::{Sink, Stream};
use super::origin::ScriptOrigin;
use super::output::{Pump, StepOutput};
use super::process::{self, Spec};
use crate::model::StepKind;
use crate::redact::Redactor;
use crate::store::logs::{LogFile, LogSender};

/// Delay between attempts when `retry` has no `delay`.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(1);
/// How long a step's output pipes are left unwatched after it starts, at
/// most: until the next tick of the play's [`QuietClock`], which ticks this
/// often. Watching them means a wake-up of the engine for every write of
/// the step and another for each pipe's end, each one preempting the step's
/// own process on its CPU; a step that is over by then is read in one go
/// after its exit instead (what it printed waits in the pipe, 64 KiB of it;
/// a step printing more waits for the reader at most this long, once). The
/// operator sees a longer step's first output up to this much later.
pub const QUIET: Duration = Duration::from_millis(20);

/// The clock that ends quiet starts: one timer for the whole play instead
/// of one per step. A new timer due before every other one wakes the
/// runtime's driver (a write to its eventfd and one more poll): two system
/// calls per trivial step, a few percent of its cost. Dropping the clock
/// stops it.
pub struct QuietClock {
    tick: Arc<tokio::sync::Notify>,
    task: tokio::task::AbortHandle,
}

impl QuietClock {
    /// Starts ticking on the current runtime.
    pub fn start() -> QuietClock {
        let tick = Arc::new(tokio::sync::Notify::new());
        let t = tick.clone();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(QUIET);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                every.tick().await;
                t.notify_waiters();
            }
        })
        .abort_handle();
        QuietClock { tick, task }
    }

    /// What a [`Job`] waits on.
    pub fn tick(&self) -> Arc<tokio::sync::Notify> {
        self.tick.clone()
    }
}

impl Drop for QuietClock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct Job {
    pub id: String,
    pub kind: StepKind,
    /// The rendered body (not redacted: it runs).
    pub body: String,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    /// Start from the engine's environment (`PlayEnv::inherit_env`).
    pub inherit_env: bool,
    pub path_prefix: Option<PathBuf>,
    /// Namespaces to enter (see `PlayEnv::enter`).
    pub enter: Vec<std::os::fd::RawFd>,
    pub interactive: bool,
    pub timeout: Option<Duration>,
    pub retry: u32,
    pub delay: Duration,
    pub expect: Option<(Regex, String)>,
    pub budget: Option<Duration>,
    pub escalate: Option<String>,
    /// `capture=NAME` with a secret NAME: stdout is kept, never shown.
    pub secret_capture: Option<String>,
    /// The name of the step's log in the store (the step id, or `guard`).
    pub log: String,
    /// The play's log writer (see `runner::logs`).
    pub logs: LogSender,
    pub sink: Arc<Sink>,
    pub redactor: Arc<RwLock<Redactor>>,
    pub cancel: watch::Receiver<bool>,
    /// Ends the quiet start (see [`QuietClock`]).
    pub quiet: Arc<tokio::sync::Notify>,
    /// promql/logql/http: run by `runner::query`, not a process.
    pub query: Option<Arc<super::query::QueryJob>>,
    /// The next attempt's process, started before its start was durable and
    /// waiting for its body, its process group recorded already ([`ready`]).
    pub ready: Option<process::Proc>,
    /// Where to record the process group of each attempt (`spawned`).
    pub recorder: Option<Arc<super::record::Recorder>>,
    /// Where the body came from, for the messages the interpreter prints
    /// about its script (a step's, not the guard's).
    pub origin: Option<Arc<ScriptOrigin>>,
    /// A rehearsal's clock: waits are skipped and counted there.
    pub clock: Option<super::rehearsed::StepClock>,
}

impl Job {
    /// Something the play should know about this step: recorded (journal,
    /// report), or only shown where there is no run to record it in.
    fn note(&self, text: String) {
        (self.notes())(text)
    }

    fn notes(&self) -> impl Fn(String) + Send + 'static {
        let (rec, sink, id) = (self.recorder.clone(), self.sink.clone(), self.id.clone());
        move |text: String| match &rec {
            Some(r) => r.note(Some(&id), text),
            None => sink.output(&id, Stream::Stderr, format!("({text})")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct JobResult {
    pub status: StepStatus,
    pub exit: Option<i32>,
    pub reason: Option<String>,
    pub duration: Duration,
    pub tail: String,
    /// Kept stdout, unredacted (captures, `steps.<id>.stdout`).
    pub stdout: String,
    /// `stdout` is only the first [`super::output::KEEP_STDOUT`] bytes of
    /// what the last attempt printed.
    pub stdout_cut: bool,
    pub attempts: u32,
    /// Each attempt's exit, in order.
    pub exits: Vec<Option<i32>>,
    pub origin: Option<Arc<ScriptOrigin>>,
}

struct Attempt {
    status: StepStatus,
    exit: Option<i32>,
    reason: Option<String>,
}

pub async fn run(mut job: Job) -> JobResult {
    let started = Instant::now();
    let log = LogFile::new(&job.logs, &job.log);
    let mut out = StepOutput::new(&job.id, job.sink.clone(), job.redactor.clone(), Some(log));
    out.origin = job.origin.clone();
    if let Some(name) = &job.secret_capture {
        out.hide_stdout = true;
        let text = format!("stdout is captured into the secret `{name}`: not shown, not logged");
        out.log_line(&format!("({text})"));
        job.note(text);
    }
    let out = Arc::new(out);
    // Said once: by the timer, or in a rehearsal as soon as a skipped wait
    // takes the step over it (`over_budget`).
    let budget_said = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let say_budget = job.budget.map(|b| {
        let note = job.notes();
        let hint = job.escalate.clone();
        let said = budget_said.clone();
        Arc::new(move || {
            if said.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let mut text = format!("over its budget of {}", humantime::format_duration(b));
            if let Some(h) = &hint {
                text.push_str(&format!(" — escalate: {h}"));
            }
            note(text);
        })
    });
    let budget = job.budget.zip(say_budget.clone()).map(|(b, say)| {
        let clock = job.clock.clone();
        tokio::spawn(async move {
            over_budget(b, clock).await;
            say();
        })
    });
    let total = job.retry.saturating_add(1);
    let mut attempts = 0;
    let mut exits = Vec::new();
    let mut last = Attempt { status: StepStatus::Failed, exit: None, reason: None };
    for attempt in 1..=total {
        attempts = attempt;
        if attempt > 1 {
            // In the tail too: the report shows where each attempt's output begins.
            out.marker(&format!("--- attempt {attempt} of {total} ---"));
            out.clear_stdout();
        }
        if attempt > 1
            && let Err(a) = ahead(&mut job).await
        {
            last = a;
            break;
        }
        last = once(&mut job, &out, attempt).await;
        exits.push(last.exit);
        out.hold_secret();
        let stop_now = *job.cancel.borrow();
        if last.status != StepStatus::Failed || attempt == total || stop_now {
            break;
        }
        let waited = if job.clock.is_some() { " (rehearsed: not waited, counted)" } else { "" };
        job.note(format!(
            "attempt {attempt} of {total} failed ({}); retrying in {}{waited}",
            last.reason.as_deref().unwrap_or("failed"),
            humantime::format_duration(job.delay)
        ));
        let mut cancel = job.cancel.clone();
        tokio::select! {
            _ = wait(job.clock.as_ref(), job.delay) => {
                if let (Some(b), Some(c), Some(say)) = (job.budget, &job.clock, &say_budget)
                    && started.elapsed().saturating_add(c.own()) >= b
                {
                    say();
                }
            }
            _ = super::timing::cancelled(&mut cancel) => {
                // Between attempts: no process ran to give the end an exit
                // (each attempt's is in `exits`).
                last = Attempt { status: StepStatus::Interrupted, exit: None, reason: Some("interrupted".into()) };
                break;
            }
        }
    }
    if let Some(b) = budget {
        b.abort();
    }
    // Stderr of a secret capture, masked now that the secret is known.
    out.release_held();
    out.flush();
    JobResult {
        status: last.status,
        exit: last.exit,
        reason: last.reason,
        duration: started.elapsed(),
        tail: out.tail(),
        stdout: out.stdout_text(),
        stdout_cut: out.stdout_truncated.load(std::sync::atomic::Ordering::Relaxed),
        attempts,
        exits,
        origin: job.origin.clone(),
    }
}

/// A wait of the step: slept in a play; in a rehearsal, counted at once,
/// or for ever once the play's timeout has passed in rehearsed time (the
/// play then stops the step, as it would during a real wait).
pub(super) async fn wait(clock: Option<&super::rehearsed::StepClock>, d: Duration) {
    match clock {
        None => tokio::time::sleep(d).await,
        Some(c) if c.clock.skip(c.step, d) => std::future::pending().await,
        Some(_) => {}
    }
}

/// Resolves once the step is over its budget: real time since now, and in
/// a rehearsal what the step itself skipped too.
async fn over_budget(b: Duration, clock: Option<super::rehearsed::StepClock>) {
    let deadline = tokio::time::Instant::now() + b;
    let Some(c) = clock else { return tokio::time::sleep_until(deadline).await };
    let mut rx = c.clock.watch();
    loop {
        rx.borrow_and_update();
        let at = deadline.checked_sub(c.own()).unwrap_or_else(tokio::time::Instant::now);
        tokio::select! {
            _ = tokio::time::sleep_until(at) => return,
            r = rx.changed() => if r.is_err() { return tokio::time::sleep_until(at).await },
        }
    }
}

/// What the step's process is started with.
fn spec(job: &Job) -> Spec<'_> {
    Spec {
        kind: job.kind,
        body: &job.body,
        cwd: &job.cwd,
        env: &job.env,
        inherit_env: job.inherit_env,
        path_prefix: job.path_prefix.as_deref(),
        enter: &job.enter,
        interactive: job.interactive,
    }
}

/// The step's markers in its environment: its run's directory and its id
/// (see [`process::end_marked`]).
fn marker(job: &Job) -> Option<(&str, &str)> {
    let get = |k: &str| job.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    Some((get("RUNBOOK_RUN_DIR")?, get("RUNBOOK_STEP")?))
}

/// The engine kills itself where the tests ask (`kill-before-spawned`):
/// the step's process exists, its group is not recorded yet.
fn fault_before_spawned(id: &str) {
    if super::fault::at("kill-before-spawned", id) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    }
}

/// Does a `$BASH_ENV` (a start-up file bash runs before its script) reach
/// the step's process?
fn bash_env(job: &Job) -> bool {
    let set = |v: &std::ffi::OsStr| !v.is_empty();
    job.env.iter().any(|(k, v)| k == "BASH_ENV" && set(v.as_ref()))
        || (job.inherit_env && std::env::var_os("BASH_ENV").is_some_and(|v| set(&v)))
}

/// The step's process, before its start is durable: the warm interpreter
/// `warm`, or, on a store that commits later ([`Writer::waits`]: the shared
/// one), one started now on an empty pipe; waiting for its body either way,
/// its process group recorded (`spawned`) right away, so that the group is
/// committed with the start (docs/team-mode.md). It runs nothing until
/// [`once`] feeds it, after the start is durable; one that never gets its
/// body is [`process::discard`]ed. `None` where the step starts its process
/// as it runs ([`once`], held at the gate until its group is recorded): on
/// the local store, which writes the group at once (the body stays in a
/// memfd, read in blocks), and for a query step (no process), an
/// interactive one (in the engine's process group: nothing to record), a
/// python one (from a pipe, python's tracebacks would lose the script's
/// lines: it reads a memfd it can read again), one a `$BASH_ENV` reaches
/// (bash would run it before the start is durable), a job that records
/// nothing (the env guard), and a spawn that failed (the step's own spawn
/// says why).
///
/// [`Writer::waits`]: crate::store::Writer::waits
pub fn ready(job: &Job, warm: Option<process::Proc>) -> Option<process::Proc> {
    let rec = job.recorder.as_ref()?;
    let p = match warm {
        Some(p) => p,
        None if !rec.waits()
            || job.query.is_some()
            || job.interactive
            || job.kind == StepKind::Python
            || bash_env(job) =>
        {
            return None;
        }
        None => process::spawn_waiting(&spec(job)).ok()?,
    };
    fault_before_spawned(&job.id);
    if let Some(g) = p.pgid {
        rec.spawned(&job.id, g, p.born_ms);
    }
    Some(p)
}

/// Attempt 2 and later, on a store that commits later: as the first, the
/// process is started and its group recorded before it runs, and it runs
/// once that is durable (one wait for the store per retry). The attempt
/// that cannot wait so ends, its process killed, having run nothing.
async fn ahead(job: &mut Job) -> Result<(), Attempt> {
    let Some(rec) = job.recorder.clone() else { return Ok(()) };
    let Some(p) = ready(job, None) else { return Ok(()) };
    let durable = rec.durable();
    let mut cancel = job.cancel.clone();
    let waited = tokio::select! {
        biased;
        _ = super::timing::cancelled(&mut cancel) => Err((StepStatus::Interrupted, "interrupted".to_string())),
        d = durable => d.map_err(|e| (StepStatus::Failed, format!("not run again: cannot record its process: {e}"))),
    };
    match waited {
        Ok(()) => {
            job.ready = Some(p);
            Ok(())
        }
        Err((status, why)) => {
            process::discard(p).await;
            Err(Attempt { status, exit: None, reason: Some(why) })
        }
    }
}

async fn once(job: &mut Job, out: &Arc<StepOutput>, attempt: u32) -> Attempt {
    if let Some(q) = job.query.clone() {
        let (status, reason) = super::query::once(&job.body, &job.cancel, out, &q, job.clock.as_ref()).await;
        return Attempt { status, exit: None, reason };
    }
    let ready = job.ready.take();
    let spec = spec(job);
    // The process group is in the journal before the step runs anything:
    // an engine killed in between leaves a process that has run nothing,
    // rather than one the resume may not find (a step that resets its
    // environment, as `sudo` does, is found by its group alone). A process
    // from [`ready`] was recorded as it started and gets its body now; one
    // started here (see [`ready`] for which) is held before its `execve`
    // until then (`runner::launch`, the gate).
    let started = |pgid: Option<i32>, born_ms: u64| {
        fault_before_spawned(&job.id);
        if let (Some(r), Some(g)) = (&job.recorder, pgid) {
            r.spawned(&job.id, g, born_ms);
        }
    };
    let spawned = match ready {
        Some(mut p) => p.feed(job.body.as_bytes()).map(|()| p),
        None => process::spawn(&spec, &started),
    };
    let mut p = match spawned {
        Ok(p) => {
            let fault = if attempt == 1 { "kill-after-spawn" } else { "kill-after-retry" };
            if super::fault::at(fault, &job.id) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
            }
            if let Some(o) = &job.origin {
                o.set_fd(p.script_fd);
            }
            p
        }
        // Checked only now: a stat per step for an error that is rare.
        Err(_) if !job.cwd.is_dir() => {
            let reason = format!("working directory {} does not exist", job.cwd.display());
            return Attempt { status: StepStatus::Failed, exit: None, reason: Some(reason) };
        }
        Err(e) => {
            let (interp, _) = process::interpreter(job.kind);
            let mut reason = format!("cannot start {} in {}: {e}", interp.display(), job.cwd.display());
            if let Some(why) = (!job.enter.is_empty() && e.kind() == std::io::ErrorKind::NotFound)
                .then(|| crate::rehearse::contain::hidden_by_home(&interp))
                .flatten()
            {
                reason.push_str(&format!(": {why}"));
            }
            return Attempt { status: StepStatus::Failed, exit: None, reason: Some(reason) };
        }
    };
    // A timeout too far away to be represented is no timeout.
    let deadline_at = job.timeout.and_then(|t| tokio::time::Instant::now().checked_add(t));
    let deadline = async {
        match deadline_at {
            Some(t) => tokio::time::sleep_until(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let mut cancel = job.cancel.clone();
    // A quiet start: the pipes are not watched during the step's first
    // moments (see QUIET). Their contents wait in the pipe meanwhile.
    // A deadline passed already must not be polled again (a completed
    // future panics, as with `timeout=1ms`).
    let mut expired = false;
    tokio::select! {
        biased;
        _ = p.child.wait() => {}
        _ = job.quiet.notified() => {}
        _ = &mut deadline => expired = true,
        _ = super::timing::cancelled(&mut cancel) => {}
    }
    let mut pumps = Vec::new();
    let streams = [(p.child.stdout.take(), Stream::Stdout), (p.child.stderr.take(), Stream::Stderr)];
    for (fd, stream) in streams {
        let Some(fd) = fd else { continue };
        let mut pump = Pump::new(fd, stream, out.clone());
        if !pump.drain() {
            pumps.push(tokio::spawn(pump.run()));
        }
    }
    let mut timed_out = false;
    let mut was_cancelled = false;
    let mut at_terminal = false;
    let status = tokio::select! {
        s = p.child.wait() => s.ok(),
        _ = process::stopped_at_terminal(p.pgid) => {
            at_terminal = true;
            process::terminate_stopped(&mut p).await
        }
        _ = async {}, if expired => {
            timed_out = true;
            process::terminate(&mut p).await
        }
        _ = &mut deadline, if !expired => {
            timed_out = true;
            process::terminate(&mut p).await
        }
        _ = super::timing::cancelled(&mut cancel) => {
            was_cancelled = true;
            process::terminate(&mut p).await
        }
    };
    if let Some(g) = p.pgid
        && !timed_out
        && !was_cancelled
        && !at_terminal
        && process::kill_leftovers(g).await
    {
        job.note("terminated processes the step left running in the background".into());
    }
    // Stopped by the engine: what the step started in process groups of
    // its own ends with it too.
    if (timed_out || was_cancelled || at_terminal)
        && let Some((run, step)) = marker(job)
        && process::end_marked(run, step).await > 0
    {
        job.note("terminated processes the step had started in process groups of their own".into());
    }
    if drain_pumps(pumps, super::timing::drain()).await {
        job.note("output still held open by a detached process; not waiting for it".into());
    }
    let exit = status.and_then(|s| s.code());
    let signal = status.and_then(|s| s.signal());
    if was_cancelled {
        return Attempt { status: StepStatus::Interrupted, exit, reason: Some("interrupted".into()) };
    }
    if at_terminal {
        let why = format!(
            "step `{}` tried to use the terminal (read it, or change its settings), which only an `interactive` step can: mark it `interactive`",
            job.id
        );
        return Attempt { status: StepStatus::Failed, exit, reason: Some(why) };
    }
    if timed_out {
        let t = job.timeout.map(|t| humantime::format_duration(t).to_string()).unwrap_or_default();
        return Attempt { status: StepStatus::Failed, exit, reason: Some(format!("timed out after {t}")) };
    }
    match (exit, signal) {
        (Some(0), _) => {}
        (Some(c), _) => return Attempt { status: StepStatus::Failed, exit, reason: Some(format!("exit {c}")) },
        (None, Some(s)) => {
            let name = nix::sys::signal::Signal::try_from(s).map(|s| s.as_str().to_string()).unwrap_or(s.to_string());
            return Attempt { status: StepStatus::Failed, exit, reason: Some(format!("killed by {name}")) };
        }
        (None, None) => {
            return Attempt { status: StepStatus::Failed, exit, reason: Some("lost track of the process".into()) };
        }
    }
    if let Some((re, src)) = &job.expect
        && !re.is_match(&out.stdout_text())
    {
        let mut reason = format!("stdout does not match expect /{src}/");
        if out.stdout_truncated.load(std::sync::atomic::Ordering::Relaxed) {
            reason.push_str(" (only the first MiB of stdout is kept)");
        }
        return Attempt { status: StepStatus::Failed, exit, reason: Some(reason) };
    }
    Attempt { status: StepStatus::Passed, exit, reason: None }
}

/// Wait for the output pumps up to `within` for all of them together, not
/// each in turn (a detached process usually holds both streams): `true`
/// when one was still held open, and stopped.
async fn drain_pumps<T>(pumps: Vec<tokio::task::JoinHandle<T>>, within: Duration) -> bool {
    let drained = tokio::time::Instant::now() + within;
    let mut held = false;
    for h in pumps {
        let abort = h.abort_handle();
        if tokio::time::timeout_at(drained, h).await.is_err() {
            abort.abort();
            held = true;
        }
    }
    held
}

#[cfg(test)]
mod drain_tests {
    use super::*;

    /// Two streams held open: one wait of `within` in all (the clock is
    /// tokio's paused one: exact, whatever the machine does).
    #[tokio::test(start_paused = true)]
    async fn streams_held_open_are_waited_for_once_not_once_each() {
        let held = || tokio::spawn(std::future::pending::<()>());
        let start = tokio::time::Instant::now();
        assert!(drain_pumps(vec![held(), held()], Duration::from_secs(2)).await);
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        let start = tokio::time::Instant::now();
        let done = || tokio::spawn(async {});
        assert!(!drain_pumps(vec![done(), done()], Duration::from_secs(2)).await);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}

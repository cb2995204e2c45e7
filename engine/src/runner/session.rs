//! Everything before the first step of a session: env checks, `requires`,
//! the lock, which run this is (a new one, or the resume or continuation of
//! the latest), its mode, its variables, and its first event.
//!
//! - **Resume** (`--resume`, or yes to the question): the latest run of this
//!   runbook@env goes on if it did not pass and was not rolled back. A run
//!   that had not finished resumes; one that failed continues (one incident,
//!   one run). Without a flag, only an unfinished run is asked about (off a
//!   terminal: exit 3 naming `--resume`/`--fresh`).
//! - **A run never widens.** A session keeps the run's filters and mode; a
//!   flag may narrow them (`--from` a later step, `--read-only`), never
//!   widen them: that is a new run (`--fresh`).
//! - **A damaged journal** is never silently started over: `--resume`
//!   refuses, naming `--fresh`; `--fresh` (or a new run over an unfinished
//!   one) first kills what is left of the old run's processes. A journal
//!   written by a newer runbook is refused unless `--fresh` asks for a new run.
//! - **Variables** given to the run (`--set`, alerts, prompts) come back
//!   unless given again; secret ones were journaled as `***` and must be
//!   given again (asked without echo on a terminal, else exit 2 naming them).

use std::collections::{BTreeMap, BTreeSet};

use super::env::PlayEnv;
use super::{Answers, PlayOptions, ResumeMode, prompt};
use crate::error::{Diagnostic, Error, Result};
use crate::model::Runbook;
use crate::plan::Dag;
use crate::run::event::{Answer, Answering, How, Mode, Question, Reply, RunStart, Session, SessionKind, VarRecord};
use crate::run::{Event, RunState, RunStatus};
use crate::store::{Holder, Latest, Lease};
use crate::vars::{Origin, Resolved};

pub use crate::config::LOCAL_ENV;

pub struct Prepared {
    pub run_id: String,
    pub env_name: String,
    pub lease: Box<dyn Lease>,
    /// The run so far (empty for a new run).
    pub state: RunState,
    /// The session's first event.
    pub first: First,
    pub kind: Option<SessionKind>,
    pub operator: String,
    /// Things to tell the operator once reporting starts.
    pub notes: Vec<String>,
}

/// A session's first event: a new run's `run-start`, written when the store
/// created the run, or a later session's `session`, to record.
pub enum First {
    /// With the answer that declined resuming the unfinished run, recorded
    /// after it.
    Written(crate::run::Entry, Vec<Event>),
    /// With the answers that chose this session (the resume question,
    /// `--take-over`), recorded after it.
    Record(Event, Vec<Event>),
}

pub fn env_name(opts: &PlayOptions) -> String {
    opts.env.as_ref().map(|e| e.name.clone()).unwrap_or_else(|| LOCAL_ENV.to_string())
}

pub fn answering(opts: &PlayOptions, tty: bool) -> Answering {
    match &opts.answers {
        Answers::Yes => Answering::Yes,
        Answers::Scripted(_) => Answering::Scenario,
        Answers::Interactive if tty => Answering::Ask,
        _ => Answering::Refuse,
    }
}

/// The command that resumes this run, with its mode spelled out.
pub fn resume_hint(rb: &Runbook, env: Option<&str>, mode: &Mode) -> String {
    let mut c = format!("runbook play {}", rb.id);
    if let Some(e) = env {
        c.push_str(&format!(" --env {e}"));
    }
    if mode.read_only {
        c.push_str(" --read-only");
    }
    if let Some(o) = &mode.only {
        c.push_str(&format!(" --only {o}"));
    }
    if let Some(f) = &mode.from {
        c.push_str(&format!(" --from {f}"));
    }
    c.push_str(" --resume");
    c
}

pub fn prepare(rb: &Runbook, dag: &Dag, env: &PlayEnv, opts: &mut PlayOptions, tty: bool) -> Result<Prepared> {
    let env_name = env_name(opts);
    crate::preview::check_env_allowed(rb, opts.env.as_ref())?;
    check_selectors(rb, dag, &opts.mode)?;
    check_requires(rb, env)?;
    let me = Holder::me();
    let operator = me.operator();
    let mut notes = Vec::new();
    let now = || if env.clock { crate::time::now_rfc3339() } else { String::new() };
    // How the take-over was confirmed, and when it was asked.
    let mut confirmed: Option<(How, String)> = None;
    let lease = if opts.take_over {
        let mut confirm = || {
            let asked = now();
            confirm_take_over(rb, env, &env_name, opts, tty).map(|how| confirmed = Some((how, asked)))
        };
        env.store.take_over(&rb.id, &env_name, &me, &mut confirm)
    } else {
        env.store.lock(&rb.id, &env_name, &me)
    };
    let mut lease = lease.map_err(|e| super::elsewhere::refusal(env.store.as_ref(), &rb.id, &env_name, e))?;
    // Only a run taken from a live engine is a take-over; else a resume.
    let taken = lease.taken_from_live();
    notes.extend(lease.notes());
    if opts.take_over && !taken {
        notes.push("no engine was playing this runbook and env: --take-over goes on as --resume".into());
    }
    match lease.took_over() {
        Some(h) if taken => notes.push(format!("took the run over from {}", h.describe())),
        Some(h) => {
            let why = lease.gone().unwrap_or_else(|| "no longer running".into());
            notes.push(format!("took over the lock of {}@{} (pid {}, {why})", h.user, h.host, h.pid))
        }
        None => {}
    }
    let latest = env.store.latest(&rb.id, &env_name)?;
    let mut resume_asked = None;
    let previous = pick(rb, env, opts, latest, tty, &mut notes, &mut resume_asked)?;
    let answer = |question, reply, asked: String| {
        Event::Answer(Answer {
            step: None,
            question,
            reply,
            how: How::Prompt,
            by: operator.clone(),
            asked,
            confirm: None,
            run: None,
            var: None,
        })
    };
    let mut answers: Vec<Event> = Vec::new();
    if let Some(r) = resume_asked {
        let mut a = answer(Question::Resume, r.reply, r.at);
        if let Event::Answer(a) = &mut a {
            a.run = r.declined;
        }
        answers.push(a);
    }
    if let (true, Some((how, asked))) = (taken, confirmed) {
        let mut a = answer(Question::TakeOver, Reply::Yes, asked);
        if let Event::Answer(a) = &mut a {
            a.how = how;
        }
        answers.push(a);
    }
    let kind = previous.as_ref().map(|(_, st)| if taken { SessionKind::TakeOver } else { next_kind(rb, dag, st) });
    let mode = match &previous {
        Some((_, st)) => narrow(rb, &st.mode, &opts.mode, &env_name)?,
        None => opts.mode.clone(),
    };
    opts.mode = mode.clone();
    let (spared, vars_asked) = settle_vars(rb, dag, env, opts, previous.as_ref().map(|(_, s)| s), &mut notes, tty)?;
    // Each value typed at a prompt is an answer too: who, how and when it
    // was asked (the value itself is the session's `vars`).
    for (name, asked) in vars_asked {
        let mut a = answer(Question::Variable, Reply::Given, asked);
        if let Event::Answer(a) = &mut a {
            a.var = Some(name);
        }
        answers.push(a);
    }
    let mut checked = opts.vars.clone();
    // What only steps that stand read need not render: it has no value.
    for n in spared {
        if checked.vars.get(&n).is_none_or(|v| v.is_null()) {
            checked.insert(n, crate::model::Value::String(String::new()), Origin::Prompt);
        }
    }
    crate::preview::preflight(rb, &checked, opts.env.as_ref())?;
    let answering = answering(opts, tty);
    let vars = var_records(rb, opts);
    let (run_id, state, first) = match previous {
        Some((id, st)) => {
            if st.hash != rb.hash {
                notes.push("the runbook changed since this run started: steps whose command changed run again".into());
            }
            let far = super::elsewhere::notes(lease.took_over(), &id, &st);
            // A process group recorded on another machine names nothing here.
            let here = far.is_empty();
            notes.extend(far);
            let key = env.store.run_key(&id);
            for step in st.in_flight() {
                let recorded = if here { reap_recorded(&st, step) } else { 0 };
                let n = super::process::reap_orphans(&key, Some(step)) + recorded;
                if n > 0 {
                    notes.push(format!("killed {n} leftover process(es) of step `{step}` from the interrupted run"));
                }
            }
            let first = Event::Session(Session {
                v: crate::run::event::FORMAT,
                n: st.session() + 1,
                run: id.clone(),
                runbook: rb.id.clone(),
                env: env_name.clone(),
                kind: kind.unwrap_or_default(),
                operator: operator.clone(),
                pid: std::process::id(),
                hash: rb.hash.clone(),
                vars,
                mode: (mode != st.mode).then(|| mode.clone()),
                answering,
                step_mode: opts.step_mode,
                plan: (st.hash != rb.hash || st.plan.is_empty()).then(|| plan(rb, dag)),
            });
            (id, st, First::Record(first, answers))
        }
        None => {
            let base = format!("{}-{}-{}", crate::time::compact(std::time::SystemTime::now()), rb.id, env_name);
            let mut entry = None;
            let mut first = |id: &str| {
                let e = crate::run::Entry {
                    seq: 1,
                    at: if env.clock { crate::time::now_rfc3339() } else { String::new() },
                    event: Event::RunStart(RunStart {
                        v: crate::run::event::FORMAT,
                        run: id.to_string(),
                        runbook: rb.id.clone(),
                        path: rb.path.display().to_string(),
                        hash: rb.hash.clone(),
                        env: env_name.clone(),
                        vars: vars.clone(),
                        operator: operator.clone(),
                        pid: std::process::id(),
                        mode: mode.clone(),
                        answering,
                        step_mode: opts.step_mode,
                        plan: plan(rb, dag),
                    }),
                };
                entry = Some(e.clone());
                e
            };
            let id = env.store.create(&base, &mut first)?;
            let first = entry.ok_or_else(|| anyhow::anyhow!("the store created run {id} without its first event"))?;
            (id, RunState::default(), First::Written(first, answers))
        }
    };
    lease.set_run(&run_id);
    Ok(Prepared { run_id, env_name, lease, state, first, kind, operator, notes })
}

/// The kind of the session that goes on with `st` (not taken over): a run
/// that failed is continued (its failed steps offered again), one that had
/// not finished resumed. A run whose engine died once the play had decided
/// to end failed (a stopping failure, no rollback to run, nothing in
/// flight nor lost in flight by an earlier session, which a resume runs
/// again: only the `run-end` is missing) failed all the same: the session
/// continues it, as it would have had the engine lived (SPEC §6).
pub(crate) fn next_kind(rb: &Runbook, dag: &Dag, st: &RunState) -> SessionKind {
    match &st.end {
        Some(e) if e.status == RunStatus::Failed => SessionKind::Continue,
        Some(_) => SessionKind::Resume,
        None if decided_to_fail(rb, dag, st) => SessionKind::Continue,
        None => SessionKind::Resume,
    }
}

/// The play of `st` had nothing left to do but write its failed end.
fn decided_to_fail(rb: &Runbook, dag: &Dag, st: &RunState) -> bool {
    let Some(stop) = &st.stop else { return false };
    let undo = |id: &String| rb.step_index(id).is_some_and(|i| dag.rollback.get(i).is_some_and(Option::is_some));
    let rolls_back = !st.mode.no_rollback && st.passed_order.iter().any(undo);
    stop.kind == crate::run::event::StopKind::Failed
        && !stop.roll_back
        && !stop.cancel
        && st.rollback.is_none()
        && st.rollback_cut.is_none()
        && !rolls_back
        && st.in_flight().is_empty()
        && !st.steps.values().any(|s| s.lost)
}

/// `--take-over` asks first: the holder stops starting steps. Off a
/// terminal only `--yes` says yes (else exit 3 naming the holder). How it
/// was confirmed.
fn confirm_take_over(rb: &Runbook, env: &PlayEnv, env_name: &str, opts: &PlayOptions, tty: bool) -> Result<How> {
    let who = env.store.holder(&rb.id, env_name)?.map_or_else(|| "no engine now".to_string(), |h| h.describe());
    let what = format!("take over the run of {}@{env_name} from {who}? Its engine starts no more steps", rb.id);
    match opts.answers {
        Answers::Yes => Ok(How::Yes),
        _ if tty => {
            let signals = prompt::SignalFlag::install();
            match prompt::choose(&format!("{what}. [y/N] "), &['y', 'n'], Some('n'), signals.flag()) {
                Some('y') => Ok(How::Prompt),
                Some(_) => Err(Error::Refused(format!("--take-over declined: the run stays with {who}"))),
                // Nobody answered: no "no" (docs/decisions.md, "End of input at a question").
                None => Err(Error::Interrupted(signals.unanswered("the take-over question"))),
            }
        }
        _ => Err(Error::Refused(format!("--take-over: {what}\n  hint: confirm with --yes"))),
    }
}

/// The runbook's steps in plan order, then its undo blocks.
fn plan(rb: &Runbook, dag: &Dag) -> Vec<crate::run::event::Planned> {
    let undo = (0..rb.steps.len()).filter(|&i| rb.steps[i].attrs.undo);
    dag.order
        .iter()
        .copied()
        .chain(undo)
        .map(|i| {
            let s = &rb.steps[i];
            crate::run::event::Planned {
                id: s.id.clone(),
                needs: s.attrs.needs.clone().unwrap_or_default(),
                undo: s.attrs.undo,
                read: s.attrs.read,
            }
        })
        .collect()
}

/// The operator's answer to the resume question.
struct ResumeAnswer {
    /// When it was asked.
    at: String,
    reply: Reply,
    /// The unfinished run, when the answer declined it: the answer is
    /// recorded in the new run, and names the run it did not resume.
    declined: Option<String>,
}

/// Which earlier run this session goes on with, if any.
fn pick(
    rb: &Runbook,
    env: &PlayEnv,
    opts: &PlayOptions,
    latest: Option<Latest>,
    tty: bool,
    notes: &mut Vec<String>,
    asked: &mut Option<ResumeAnswer>,
) -> Result<Option<(String, RunState)>> {
    let env_flag = opts.env.as_ref().map(|e| format!(" --env {}", e.name)).unwrap_or_default();
    let Some(Latest { id, events }) = latest else {
        // Nothing to resume is said, never played over: an engineer who
        // typed `--resume` on the wrong machine or env must not replay the
        // incident's writes from the first step.
        if opts.resume == ResumeMode::Resume {
            let env_name = opts.env.as_ref().map_or(LOCAL_ENV, |e| e.name.as_str());
            return Err(Error::Refused(no_run_to_resume(rb, &env.store.name(), env_name, &env_flag)));
        }
        return Ok(None);
    };
    let st = match events {
        Ok(ev) => RunState::from_entries(&ev),
        // A resume never starts over silently: the damaged run's steps may
        // still run. A new run (asked for, or a plain play) first kills them.
        Err(e) if opts.resume == ResumeMode::Resume => return Err(e),
        // Written by a newer runbook, which may resume it: a new run over it
        // is asked for (`--fresh`), never started unasked.
        Err(Error::Invalid(mut d)) if opts.resume == ResumeMode::Ask && newer(&d) => {
            for x in d.iter_mut().filter(|x| x.code == "journal-version") {
                let hint = x.hint.as_deref().unwrap_or_default();
                x.hint =
                    Some(format!("{hint}\n  or start a new run: `runbook play {}{env_flag} --fresh`", rb.id).into());
            }
            return Err(Error::Invalid(d));
        }
        Err(_) => {
            reap_damaged(env, &id, notes);
            notes.push(format!("the latest run of this runbook and env, {id}, cannot be read: starting a new run"));
            return Ok(None);
        }
    };
    let unfinished = st.end.as_ref().is_none_or(|e| matches!(e.status, RunStatus::Interrupted | RunStatus::Refused))
        && st.resumable();
    match opts.resume {
        ResumeMode::Fresh => {
            reap_unfinished(env, &id, &st, notes);
            Ok(None)
        }
        ResumeMode::Resume if st.resumable() => Ok(Some((id, st))),
        ResumeMode::Resume => Err(Error::Refused(nothing_to_resume(rb, &id, &st, &env_flag))),
        ResumeMode::Ask if unfinished => {
            let at = if env.clock { crate::time::now_rfc3339() } else { String::new() };
            // Answered at the prompt: recorded in the run the play goes on
            // with, the resumed one or the new one (which names the other).
            if ask_resume(&id, &st, opts, tty, &env_flag, rb)? {
                *asked = Some(ResumeAnswer { at, reply: Reply::Yes, declined: None });
                Ok(Some((id, st)))
            } else {
                reap_unfinished(env, &id, &st, notes);
                *asked = Some(ResumeAnswer { at, reply: Reply::No, declined: Some(id) });
                Ok(None)
            }
        }
        ResumeMode::Ask => Ok(None),
    }
}

/// Is this run's journal (partly) written by a newer runbook?
fn newer(d: &[Diagnostic]) -> bool {
    d.iter().any(|d| d.code == "journal-version")
}

/// The session's mode: the run's, narrowed by this session's flags, never
/// widened.
fn narrow(rb: &Runbook, run: &Mode, asked: &Mode, env: &str) -> Result<Mode> {
    let widen = |what: String| {
        Error::Refused(format!(
            "--resume: {what}: a resume never widens a run\n  hint: start a new run for it: `runbook play {} --env {env} --fresh …`",
            rb.id
        ))
    };
    let mut m = run.clone();
    if let Some(o) = &asked.only {
        if run.only.as_ref().is_some_and(|r| r != o) {
            return Err(widen(format!("the run was started with --only {}", run.only.as_deref().unwrap_or(""))));
        }
        if run.read_only && rb.step(o).is_some_and(|s| !s.attrs.read) {
            return Err(widen(format!("the run is read-only (--read-only) and `{o}` changes the system")));
        }
        m.only = Some(o.clone());
    }
    if let Some(f) = &asked.from {
        if let Some(r) = &run.from
            && rb.step_index(f) < rb.step_index(r)
        {
            return Err(widen(format!("the run was started --from {r}, which is after `{f}`")));
        }
        m.from = Some(f.clone());
    }
    // On the command line the two exclude each other; a resume must not
    // combine them either (`--from` past the one step `--only` chose would
    // skip it and call the run passed).
    if let (Some(o), Some(f)) = (&m.only, &m.from) {
        let (started, asked_for) = if run.only.is_some() {
            (format!("--only {o}"), format!("--from {f}"))
        } else {
            (format!("--from {f}"), format!("--only {o}"))
        };
        return Err(Error::invalid(
            Diagnostic::error(
                "usage",
                format!("--resume {asked_for}: the run was started with {started}, and the two cannot be combined"),
            )
            .hint(format!(
                "resume it as it was started: `runbook play {} --env {env} --resume`, or start a new run: `runbook play {} --env {env} --fresh {asked_for}`",
                rb.id, rb.id
            )),
        ));
    }
    m.read_only |= asked.read_only;
    m.no_rollback |= asked.no_rollback;
    if asked.jobs > 0 {
        m.jobs = asked.jobs;
    }
    Ok(m)
}

/// Why `--resume` has nothing to resume, and the ways on.
fn no_run_to_resume(rb: &Runbook, store: &str, env: &str, env_flag: &str) -> String {
    format!(
        "--resume: {}@{env} has no run in {store}: there is nothing to resume\n  start a new run: `runbook play {}{env_flag}`\n  a run started on another machine is in that machine's state (a team shares runs with `state = \"postgres://…\"`)",
        rb.id, rb.id
    )
}

fn nothing_to_resume(rb: &Runbook, id: &str, st: &RunState, env_flag: &str) -> String {
    let again = format!("runbook play {}{env_flag}", rb.id);
    let mut m = format!("--resume: the latest run, {id}, {}", st.status_name());
    if st.end.as_ref().is_some_and(|e| e.rolled_back) {
        m.push_str(" and was rolled back");
    }
    m.push_str(": it is finished, there is nothing to resume");
    m.push_str(&format!("\n  start a new run: `{again} --fresh`"));
    m.push_str(&format!("\n  see what ran: `runbook report {id}`"));
    m
}

fn ask_resume(id: &str, st: &RunState, opts: &PlayOptions, tty: bool, env_flag: &str, rb: &Runbook) -> Result<bool> {
    let passed = st.steps.values().filter(|s| s.passed() && !s.undo).count();
    let flight = st.in_flight();
    let mut what = format!("{passed} step(s) passed");
    if !flight.is_empty() {
        what.push_str(&format!(", in flight: {}", flight.join(", ")));
    }
    let status = st.end.as_ref().map_or("did not finish", |e| e.status.name());
    let operator = st.sessions.first().map(|s| s.operator.as_str()).unwrap_or("");
    if matches!(opts.answers, Answers::Interactive) && tty {
        let q = format!(
            "An unfinished run {id} ({status}, {what}; started {} by {operator}).\nResume it? [Y]es / [n]o, start a fresh run / [q]uit: ",
            st.started
        );
        let signals = prompt::SignalFlag::install();
        return match prompt::choose(&q, &['y', 'n', 'f', 'q'], Some('y'), signals.flag()) {
            Some('y') => Ok(true),
            Some('n') | Some('f') => Ok(false),
            Some(_) => Err(Error::Refused("no answer: nothing was run".into())),
            // Nobody answered: neither a resume nor a new run.
            None => Err(Error::Interrupted(signals.unanswered("the resume question"))),
        };
    }
    Err(Error::Refused(format!(
        "an unfinished run of this runbook and env exists: {id} ({status}, {what})\n  hint: `runbook play {}{env_flag} --resume` continues it, `--fresh` starts a new run",
        rb.id
    )))
}

/// A new run over an unfinished one: what still runs of the old run's steps
/// in flight is killed, as a resume would, so the new run does not overlap it.
fn reap_unfinished(env: &PlayEnv, id: &str, st: &RunState, notes: &mut Vec<String>) {
    if st.end.is_some() {
        return;
    }
    let key = env.store.run_key(id);
    for step in st.in_flight() {
        let n = super::process::reap_orphans(&key, Some(step)) + reap_recorded(st, step);
        if n > 0 {
            notes.push(format!("killed {n} leftover process(es) of step `{step}` from the unfinished run {id}"));
        }
    }
}

/// A new run over a run whose journal cannot be read: whatever of it still
/// runs is killed, whichever step it belonged to.
fn reap_damaged(env: &PlayEnv, id: &str, notes: &mut Vec<String>) {
    let n = super::process::reap_orphans(&env.store.run_key(id), None);
    if n > 0 {
        notes.push(format!("killed {n} leftover process(es) of the damaged run {id}"));
    }
}

/// What is left of the process group the journal recorded for a step in
/// flight (processes whose environment was reset escape `reap_orphans`).
fn reap_recorded(st: &RunState, step: &str) -> usize {
    match st.step(step) {
        Some(s) => s.pgid.map_or(0, |g| super::process::reap_group(g, s.born_ms)),
        None => 0,
    }
}

/// A variable asked for at a prompt, and when it was asked.
type Asked = (String, String);

/// Restore the resumed run's variables, then make sure every variable the
/// templates of steps still to run read has a value: ask on a terminal,
/// else exit 2 naming them. Returns the variables left without one because
/// only steps that stand read them ([`spared`]), and each variable asked
/// for with when it was asked.
fn settle_vars(
    rb: &Runbook,
    dag: &Dag,
    env: &PlayEnv,
    opts: &mut PlayOptions,
    previous: Option<&RunState>,
    notes: &mut Vec<String>,
    tty: bool,
) -> Result<(Vec<String>, Vec<Asked>)> {
    let mut again = Vec::new();
    if let Some(p) = previous {
        let (restored, secrets) = restore(rb, &mut opts.vars, &p.vars);
        if !restored.is_empty() {
            notes.push(format!("variables restored from run {}: {}", p.run, restored.join(" ")));
        }
        again = secrets;
    }
    if !env.ask_missing {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut missing = crate::vars::missing(rb, &opts.vars);
    let left = left_out_only(rb, dag, &opts.mode, &mut missing);
    if !left.is_empty() {
        notes.push(format!(
            "not asked for {}: only steps this play leaves out read {} (a play that runs them asks)",
            left.join(", "),
            if left.len() == 1 { "it" } else { "them" }
        ));
    }
    let mut spared = Vec::new();
    if let Some(p) = previous {
        let unread = self::spared(rb, dag, env, opts, p);
        let mut spare = |n: &String| {
            let hit = unread.contains(n);
            if hit && !spared.contains(n) {
                spared.push(n.clone());
            }
            !hit
        };
        again.retain(&mut spare);
        missing.retain(|m| spare(&m.name));
    }
    if !spared.is_empty() {
        let n = spared.len();
        notes.push(format!(
            "not asked for {}: only steps that passed before and stand read {}",
            spared.join(", "),
            if n == 1 { "it" } else { "them" }
        ));
    }
    spared.extend(left);
    for name in &again {
        if !missing.iter().any(|m| &m.name == name) {
            missing.push(crate::vars::Missing {
                name: name.clone(),
                used_by: Vec::new(),
                secret: true,
                declared: rb.vars.contains_key(name),
                file: rb.path.clone(),
                line: rb.front_matter_line.unwrap_or(1),
            });
        }
    }
    if missing.is_empty() {
        return Ok((spared, Vec::new()));
    }
    let run = previous.map(|p| p.run.as_str()).unwrap_or_default();
    if !(matches!(opts.answers, Answers::Interactive) && tty) {
        return Err(Error::Invalid(missing.iter().map(|m| unset(m, again.contains(&m.name), run)).collect()));
    }
    let n = missing.len();
    crate::errln!(
        "{n} variable{} not set; answers are recorded in the run's journal (secrets as ***):",
        if n == 1 { " is" } else { "s are" }
    );
    let signals = prompt::SignalFlag::install();
    let mut asked = Vec::new();
    for m in &missing {
        let mut why = Vec::new();
        let given_before = again.contains(&m.name);
        if given_before {
            why.push(format!("given to run {run}: the journal keeps it redacted; not echoed"));
        } else if m.secret {
            why.push("secret, not echoed".to_string());
        }
        if !m.used_by.is_empty() {
            why.push(format!("used by {}", m.used_by.join(", ")));
        }
        let q = format!("  {} ({}): ", m.name, why.join("; "));
        let at = if env.clock { crate::time::now_rfc3339() } else { String::new() };
        let value = loop {
            match prompt::value(&q, m.secret || given_before, signals.flag()) {
                prompt::Reply::Line(v) if v.is_empty() => continue,
                prompt::Reply::Line(v) => break v,
                // Nobody answered: no value, not even an empty one.
                prompt::Reply::Cancelled | prompt::Reply::Eof | prompt::Reply::Timeout => {
                    let at = format!("the question for variable `{}`", m.name);
                    return Err(Error::Interrupted(signals.unanswered(&at)));
                }
            }
        };
        opts.vars.insert(m.name.clone(), crate::model::Value::String(value), Origin::Prompt);
        asked.push((m.name.clone(), at));
    }
    Ok((spared, asked))
}

/// The variables in `missing` that only steps `mode` leaves out (and their
/// undo blocks) read: taken out of `missing` and returned. The others keep
/// only the steps that run in `used_by`. A required variable no template
/// reads stays required.
fn left_out_only(rb: &Runbook, dag: &Dag, mode: &Mode, missing: &mut Vec<crate::vars::Missing>) -> Vec<String> {
    let mut runs = vec![false; rb.steps.len()];
    for &i in &dag.order {
        if super::dispatch::left_out(rb, dag, mode, i).is_none() {
            runs[i] = true;
            if let Some(Some(u)) = dag.rollback.get(i) {
                runs[*u] = true;
            }
        }
    }
    let runs = |id: &String| rb.step_index(id).is_none_or(|i| runs[i]);
    let mut out = Vec::new();
    missing.retain_mut(|m| {
        if m.used_by.is_empty() || m.used_by.iter().any(runs) {
            m.used_by.retain(runs);
            return true;
        }
        out.push(m.name.clone());
        false
    });
    out
}

/// The names only steps that stand read, in a new session over run `st`
/// ([`super::dispatch::spare`]): decided from its restored captures and
/// outputs and the values given so far.
fn spared(rb: &Runbook, dag: &Dag, env: &PlayEnv, opts: &PlayOptions, st: &RunState) -> BTreeSet<String> {
    let mut secrets = Vec::new();
    for v in crate::template::secret_values(rb, &opts.vars.vars).iter().chain(env.store.secrets().iter()) {
        super::add_secret(&mut secrets, v);
    }
    let red = crate::redact::Redactor::new(secrets);
    let base = crate::template::Context {
        vars: opts.vars.vars.clone(),
        env: opts.env.as_ref().map(|e| e.name.clone()),
        ..Default::default()
    };
    let ctx = super::run_context(rb, st, base);
    super::dispatch::spare::read_only_by_kept(rb, dag, st, &ctx, &red)
}

/// The diagnostic for a variable that has no value and cannot be asked for
/// (a secret's hint never says `--set`: see `template::how_to_give`).
fn unset(m: &crate::vars::Missing, redacted: bool, run: &str) -> Diagnostic {
    let n = &m.name;
    let how = crate::template::how_to_give(n, m.secret);
    let ask = "or play on a terminal without --yes to be asked";
    let (msg, hint) = if redacted {
        let msg = format!("variable `{n}` was given to run {run}, whose journal keeps it redacted: give it again");
        (msg, format!("pass {how}, {ask}"))
    } else {
        let mut msg = format!("{} `{n}`", if m.declared { "required variable" } else { "undefined variable" });
        if m.declared {
            msg.push_str(" has no value");
        }
        if let Some(first) = m.used_by.first() {
            msg.push_str(&format!(" in step `{first}`"));
        }
        if m.used_by.len() > 1 {
            msg.push_str(&format!(" (also used by {})", m.used_by[1..].join(", ")));
        }
        let hint = if m.declared {
            format!("give it a value with {how}, {ask}")
        } else if m.secret {
            format!("pass {how}, {ask}")
        } else {
            format!("pass {how} (or define it in front matter `vars` or the env profile), {ask}")
        };
        (msg, hint)
    };
    Diagnostic::error("undefined-variable", msg).at(&m.file, m.line).about(n).hint(hint)
}

/// Take over the `--set`, alert and prompt values a run was given (non-secret
/// ones; a new `--set` or alert wins). Returns the restored `name=value`s and
/// the names that must be given again (secret, or journaled redacted).
fn restore(rb: &Runbook, vars: &mut Resolved, recorded: &BTreeMap<String, VarRecord>) -> (Vec<String>, Vec<String>) {
    let mut restored = Vec::new();
    let mut again = Vec::new();
    for (k, r) in recorded {
        let given = crate::vars::Channel::from_origin(&r.origin);
        let origin = match r.origin.as_str() {
            _ if given.is_some() => Origin::Set,
            "alert" => Origin::Alert,
            "prompt" => Origin::Prompt,
            _ => continue,
        };
        if matches!(vars.origin.get(k), Some(Origin::Set | Origin::Alert | Origin::Prompt)) {
            continue;
        }
        // A value that held a secret was journaled redacted: restoring the
        // `***` would run with a wrong value.
        if r.secret || rb.is_secret(k) || r.text().contains(crate::redact::MASK) {
            again.push(k.clone());
            continue;
        }
        match given {
            Some(c) => vars.insert_given(k.clone(), r.value.clone(), c),
            None => vars.insert(k.clone(), r.value.clone(), origin),
        }
        restored.push(format!("{k}={}", r.text()));
    }
    (restored, again)
}

fn var_records(rb: &Runbook, opts: &PlayOptions) -> BTreeMap<String, VarRecord> {
    let red = crate::preview::secret_redactor(rb, &opts.vars);
    opts.vars
        .vars
        .iter()
        .map(|(k, v)| {
            let secret = rb.is_secret(k);
            let value = if secret {
                serde_json::Value::String(crate::redact::MASK.to_string())
            } else {
                match &rb.shown(k, v) {
                    serde_json::Value::String(s) => serde_json::Value::String(red.redact(s).into_owned()),
                    other => {
                        let text = other.to_string();
                        let shown = red.redact(&text);
                        if shown == text { other.clone() } else { serde_json::Value::String(shown.into_owned()) }
                    }
                }
            };
            let origin = opts.vars.origin_name(k).to_string();
            (k.clone(), VarRecord { value, origin, secret })
        })
        .collect()
}

/// The steps `--from` and `--only` name must be steps of the play's order,
/// and `--read-only --only` must name a `read` step (exit 2 otherwise).
pub fn check_selectors(rb: &Runbook, dag: &Dag, mode: &Mode) -> Result<()> {
    for (flag, v) in [("--from", &mode.from), ("--only", &mode.only)] {
        let Some(id) = v else { continue };
        let ok = rb.step_index(id).is_some_and(|i| dag.order.contains(&i));
        if let Some(u) = rb.step_index(id).filter(|&u| rb.steps[u].attrs.undo) {
            // It exists: it is an undo block, outside the play's order.
            let of = dag.rollback.iter().position(|r| *r == Some(u)).map(|i| rb.steps[i].id.as_str());
            let (what, hint) = match of {
                Some(s) => (
                    format!("the undo block of `{s}`"),
                    format!("it runs when a play that passed `{s}` rolls back; to run `{s}` itself: `{flag} {s}`"),
                ),
                None => ("an undo block no step names (`rollback=`)".to_string(), "it never runs".to_string()),
            };
            return Err(Error::usage(format!("{flag} {id}: `{id}` is {what}, outside the play's order"), hint));
        }
        if !ok {
            let ids: Vec<&str> = dag.order.iter().map(|&i| rb.steps[i].id.as_str()).collect();
            let hint = match crate::error::did_you_mean(id, ids.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("steps: {}", ids.join(", ")),
            };
            return Err(Error::usage(format!("{flag} {id}: no such step in `{}`", rb.id), hint));
        }
    }
    // The one step chosen is one --read-only leaves out: nothing would run.
    if let Some(id) = mode.only.as_deref().filter(|_| mode.read_only)
        && let Some(i) = rb.step_index(id).filter(|&i| !rb.steps[i].attrs.read)
    {
        let at = format!("{}:{}", rb.path.display(), rb.steps[i].line);
        return Err(Error::usage(
            format!(
                "--only {id} with --read-only: `{id}` ({at}) is a write step (not marked `read`) and --read-only skips every write step, so nothing would run"
            ),
            format!("drop --read-only to run `{id}`, or name a `read` step with --only"),
        ));
    }
    Ok(())
}

/// Every tool of `requires` must be on the `PATH` the steps get: the
/// engine's with the stubs first, or the one `step_env` sets (an
/// uncontained rehearsal's: the stubs, the step interpreters and the local
/// tools only, docs/decisions.md). Each one missing is named at its line of
/// the front matter, and nothing runs (exit 3, as any play refused before
/// it starts).
fn check_requires(rb: &Runbook, env: &PlayEnv) -> Result<()> {
    let confined = env.step_env.iter().rev().find(|(k, _)| k == "PATH").map(|(_, v)| std::ffi::OsString::from(v));
    let path = confined.clone().unwrap_or_else(|| super::process::path_with(env.path_prefix.as_deref()));
    let missing: Vec<&str> =
        rb.requires.iter().filter(|t| super::process::which(t, Some(&path)).is_none()).map(String::as_str).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&rb.path).unwrap_or_default();
    let fm = rb.front_matter_line.unwrap_or(1);
    // One error per line of `requires` (a flow list `[a, b]` is one line).
    let mut lines: Vec<(usize, Vec<&str>)> = Vec::new();
    for tool in missing {
        let line = crate::parse::requires_line(&text, tool).unwrap_or(fm);
        match lines.iter_mut().find(|(l, _)| *l == line) {
            Some((_, tools)) => tools.push(tool),
            None => lines.push((line, vec![tool])),
        }
    }
    let found: Vec<String> = lines
        .into_iter()
        .map(|(line, tools)| {
            let (what, it, dirs) = match tools.len() {
                1 => ("a tool that is", "it", "the directory that holds it"),
                _ => ("tools that are", "them", "the directories that hold them"),
            };
            let engine_has = |t: &&str| super::process::which(t, Some(&super::process::path_with(None))).is_some();
            let (msg, hint) = match &confined {
                Some(_) if tools.iter().all(engine_has) => (
                    format!(
                        "runbook `{}` requires {what} installed here but not on the PATH of an uncontained \
                         rehearsal's steps (the stubs, the step interpreters and the local tools): {}; nothing was run",
                        rb.id,
                        tools.join(", ")
                    ),
                    format!(
                        "stub {it} (a [[scenario.stub]] of the fixture, or runbook.toml `[rehearse] stub`), or allow \
                         {it} as a local tool (runbook.toml `[rehearse] local`, for tools that reach no other machine)"
                    ),
                ),
                _ => {
                    let rehearsal = if env.recorded {
                        ""
                    } else {
                        ", or stub {it} for rehearsals (runbook.toml `[rehearse] stub`)"
                    };
                    (
                        format!(
                            "runbook `{}` requires {what} not on PATH: {}; nothing was run",
                            rb.id,
                            tools.join(", ")
                        ),
                        format!(
                            "install {it}, or add {dirs} to PATH{}; front matter `requires` lists the tools the steps \
                             call",
                            rehearsal.replace("{it}", it)
                        ),
                    )
                }
            };
            Diagnostic::error("requires", msg).at(&rb.path, line).hint(hint).to_string()
        })
        .collect();
    Err(Error::Refused(found.join("\n")))
}

/// The engine's own log in a run's directory: a name no step log
/// (`<step>.log`) can have, since a step id starts with `[a-z0-9]`.
pub const ENGINE_LOG: &str = "_engine.log";

/// `runs/<id>/_engine.log` ([`ENGINE_LOG`]): the engine's own log (level
/// from `RUNBOOK_LOG`, default `info`). Once per process; later plays in the
/// same process keep the first file.
pub fn init_tracing(dir: &std::path::Path) {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        use std::os::unix::fs::OpenOptionsExt;
        let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(dir.join(ENGINE_LOG))
        else {
            return;
        };
        let filter = tracing_subscriber::EnvFilter::try_from_env("RUNBOOK_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init();
    });
}

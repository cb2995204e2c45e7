//! Query steps (`promql`, `logql`, `http`) in a play: what `step::once`
//! does instead of spawning a process (docs/observability.md).
//!
//! The request runs on a blocking thread (bounded by the step's `timeout`,
//! 30 s by default, per request). Its rendered result is the step's output
//! and what `capture` stores becomes the kept stdout; `expect` is judged
//! with the observe grammar. `soak=` repeats the evaluation every `delay`
//! (30 s by default) for that long and fails at the first false `expect`;
//! in a rehearsal the soak does not wait: it evaluates `soak / delay` times
//! back to back (at most 100), answered by the fixture's `sequence`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::StepStatus;
use super::events::Stream;
use super::output::{LineBuf, StepOutput};
use crate::model::Step;
use crate::observe::{self, Backend, QueryKind, Servers, expect::Expect};
use tokio::sync::watch;

/// Interval of a soak without `delay=`.
pub const SOAK_INTERVAL: Duration = Duration::from_secs(30);
/// Evaluations of a soak in a rehearsal, at most.
const REHEARSAL_SOAK_MAX: u64 = 100;

pub struct QueryJob {
    pub kind: QueryKind,
    pub expect: Option<Expect>,
    pub servers: Servers,
    pub backend: Arc<dyn Backend>,
    pub range: Option<Duration>,
    pub step: Option<Duration>,
    pub soak: Option<Duration>,
    pub interval: Duration,
    pub timeout: Duration,
    pub rehearsal: bool,
    /// `file:line` of the query in the runbook, for server errors.
    pub location: String,
}

/// The query part of a step's job; `None` for process steps. `location`
/// is `file:line` of the query in the runbook.
pub(super) fn job(
    env: &super::env::PlayEnv,
    vars: &crate::vars::Resolved,
    location: String,
    s: &Step,
    expect_src: Option<&str>,
) -> Option<Arc<QueryJob>> {
    let kind = s.kind.query()?;
    Some(Arc::new(QueryJob {
        kind,
        expect: expect_src.and_then(|x| observe::expect::parse(x, kind.target()).ok()),
        servers: Servers::resolve(vars, &|k| std::env::var(k).ok()),
        backend: env.queries.clone(),
        range: s.attrs.range,
        step: s.attrs.step,
        soak: s.attrs.soak,
        interval: s.attrs.delay.unwrap_or(SOAK_INTERVAL),
        timeout: s.attrs.timeout.unwrap_or(observe::DEFAULT_TIMEOUT),
        rehearsal: !env.waits,
        location,
    }))
}

fn show(out: &Arc<StepOutput>, stream: Stream, text: &str) {
    let red = out.redactor.read().unwrap_or_else(|p| p.into_inner()).clone();
    let mut lines = LineBuf::default();
    lines.push(text.as_bytes(), &red, &mut |l| out.line(stream, l));
    lines.finish(&red, &mut |l| out.line(stream, l));
}

/// One attempt of a query step: `(status, reason)`.
/// `body`: the rendered query; `cancel` fires when the play stops its steps.
pub(super) async fn once(
    body: &str,
    cancel: &watch::Receiver<bool>,
    out: &Arc<StepOutput>,
    q: &Arc<QueryJob>,
    clock: Option<&super::rehearsed::StepClock>,
) -> (StepStatus, Option<String>) {
    let started = Instant::now();
    let evaluations = match (q.soak, q.rehearsal) {
        (None, _) => 1,
        (Some(s), true) => (s.as_millis() / q.interval.as_millis().max(1)) as u64 + 1,
        (Some(_), false) => u64::MAX,
    }
    .min(if q.rehearsal { REHEARSAL_SOAK_MAX } else { u64::MAX });
    let mut n = 0;
    loop {
        n += 1;
        if q.soak.is_some() {
            out.log_line(&format!("--- soak: evaluation {n} ---"));
        }
        let (qj, text) = (q.clone(), body.to_string());
        let handle = tokio::task::spawn_blocking(move || {
            let spec =
                observe::Spec { kind: qj.kind, text: &text, range: qj.range, step: qj.step, timeout: qj.timeout };
            observe::run(&*qj.backend, &qj.servers, &spec)
        });
        let mut cancel = cancel.clone();
        let answer = tokio::select! {
            r = handle => r,
            _ = super::timing::cancelled(&mut cancel) => return (StepStatus::Interrupted, Some("interrupted".into())),
        };
        let answer = match answer {
            Ok(Ok(a)) => a,
            Ok(Err(why)) => {
                return (StepStatus::Failed, Some(soaked(q, n, format!("{why} (query at {})", q.location))));
            }
            Err(e) => return (StepStatus::Failed, Some(format!("the query could not run: {e}"))),
        };
        show(out, Stream::Stdout, &answer.output);
        *out.stdout.lock().unwrap_or_else(|p| p.into_inner()) = answer.capture.clone().into_bytes();
        match observe::judge(q.kind, q.expect.as_ref(), &answer) {
            Err(why) => return (StepStatus::Failed, Some(soaked(q, n, why))),
            Ok(note) if !note.is_empty() => show(out, Stream::Stderr, &note),
            Ok(_) => {}
        }
        let Some(soak) = q.soak else { return (StepStatus::Passed, None) };
        let elapsed = started.elapsed();
        if n >= evaluations || (!q.rehearsal && elapsed >= soak) {
            let text = format!("held for {} ({n} evaluations)", humantime::format_duration(soak));
            show(out, Stream::Stderr, &text);
            return (StepStatus::Passed, None);
        }
        // A rehearsal counts the wait on its clock instead (`step::wait`).
        let elapsed = if q.rehearsal { q.interval.saturating_mul(n as u32 - 1) } else { elapsed };
        {
            let wait = q.interval.min(soak.saturating_sub(elapsed));
            let mut cancel = cancel.clone();
            tokio::select! {
                _ = super::step::wait(clock.filter(|_| q.rehearsal), wait) => {}
                _ = super::timing::cancelled(&mut cancel) => return (StepStatus::Interrupted, Some("interrupted".into())),
            }
        }
    }
}

fn soaked(q: &QueryJob, n: u64, why: String) -> String {
    match q.soak {
        Some(s) if n > 1 => {
            format!("{why} — at evaluation {n} of the {} soak", humantime::format_duration(s))
        }
        _ => why,
    }
}

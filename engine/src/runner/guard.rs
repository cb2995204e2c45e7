//! The env guard (`runbook.toml` `[env.X] guard = { run, expect }`): before
//! the first step that changes the system, its command's stdout must match
//! its regex, or nothing is changed (is this the right cluster?).
//!
//! It runs as a step does (its own process group, `RUNBOOK_GUARD_TIMEOUT`,
//! default 60s), under the play's signals: SIGINT, SIGTERM, SIGHUP or
//! SIGQUIT while it runs kill its group and end the play as interrupted
//! (resumable), as a signal at a question before the first step does.

use regex::Regex;

use super::StepStatus;
use super::execute::Executor;
use super::signals::Signals;
use super::step;
use crate::config::Guard as GuardConfig;
use crate::run::Event;
use crate::run::event::{Guard, Stop, StopKind};

/// Run the guard: the events that say what came of it (its result, and the
/// refusal when it does not hold, or the stop a signal asked for while it
/// ran).
pub async fn run(exec: &Executor<'_>, g: &GuardConfig, env: &str, signals: &mut Signals) -> Vec<Event> {
    let refuse = |why: String| Event::Stop(Stop { kind: StopKind::Refused, why, roll_back: false, cancel: false });
    let re = match Regex::new(&g.expect) {
        Ok(r) => r,
        Err(e) => {
            let why = format!("the guard of env `{env}`: its expect is not a regex: {e}");
            return vec![result(g, false, String::new(), Some(why.clone())), refuse(why)];
        }
    };
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let mut job = exec.guard_job(&g.run);
    job.cancel = cancelled;
    let guard = step::run(job);
    tokio::pin!(guard);
    let r = tokio::select! {
        r = &mut guard => r,
        sig = signals.recv() => {
            exec.recorder.interrupt();
            let _ = cancel.send(true);
            // Its process group terminated (SIGTERM, grace, SIGKILL).
            guard.await;
            let why = format!("interrupted by {sig} while the guard of env `{env}` ran");
            return vec![Event::Stop(Stop { kind: StopKind::Interrupted, why, roll_back: false, cancel: true })];
        }
    };
    let out = exec.redact(r.stdout.trim());
    if r.status != StepStatus::Passed {
        let why = format!(
            "the guard of env `{env}` (`{}`) failed ({}): refusing to run write steps",
            g.run,
            r.reason.unwrap_or_default()
        );
        return vec![result(g, false, out, Some(why.clone())), refuse(why)];
    }
    if !re.is_match(r.stdout.trim()) {
        let why = format!(
            "the guard of env `{env}`: `{}` printed `{out}`, which does not match `{}`: is this the right target? Nothing was changed",
            g.run, g.expect
        );
        return vec![result(g, false, out, Some(why.clone())), refuse(why)];
    }
    vec![result(g, true, out, None)]
}

pub fn result(g: &GuardConfig, passed: bool, output: String, reason: Option<String>) -> Event {
    Event::Guard(Guard { passed, command: g.run.clone(), expect: g.expect.clone(), output, reason })
}

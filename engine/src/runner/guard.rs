//! The env guard (`runbook.toml` `[env.X] guard = { run, expect }`): before
//! the first step that changes the system, its command's stdout must match
//! its regex, or nothing is changed (is this the right cluster?).

use regex::Regex;

use super::StepStatus;
use super::execute::Executor;
use super::step;
use crate::config::Guard as GuardConfig;
use crate::run::Event;
use crate::run::event::{Guard, Stop, StopKind};

/// Run the guard: the events that say what came of it (its result, and the
/// refusal when it does not hold).
pub async fn run(exec: &Executor<'_>, g: &GuardConfig, env: &str) -> Vec<Event> {
    let refuse = |why: String| Event::Stop(Stop { kind: StopKind::Refused, why, roll_back: false, cancel: false });
    let re = match Regex::new(&g.expect) {
        Ok(r) => r,
        Err(e) => {
            let why = format!("the guard of env `{env}`: its expect is not a regex: {e}");
            return vec![result(g, false, String::new(), Some(why.clone())), refuse(why)];
        }
    };
    let r = step::run(exec.guard_job(&g.run)).await;
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

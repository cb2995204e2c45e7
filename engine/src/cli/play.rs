//! `runbook play ID`: resolve the runbook, env and variables, check every
//! template renders (nothing runs if one cannot), then hand over to
//! [`crate::runner::play`] and map its outcome to the exit code.
//!
//! A variable nothing defines is not an error here: a resumed run may bring
//! it back, or the operator is asked for it (`runner::setup`). The check
//! renders with a placeholder for it, so every other problem still shows
//! before anything is asked.

use super::args::PlayArgs;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Error, Exit, Result};
use crate::model::Runbook;
use crate::plan::Dag;
use crate::runner::{self, Answers, PlayOptions, ResumeMode, RunStatus};
use crate::template::Templater;
use crate::{preview, vars};

pub fn run(config: &Config, mut a: PlayArgs) -> Result<Exit> {
    let (id, alert) = super::alert::input(config, &a.id, a.from_alert.as_deref())?;
    a.id = id;
    if a.dry_run {
        return crate::rehearse::play::dry_run(config, &a, &alert);
    }
    let sets = vars::parse_sets(&a.set)?;
    let profile = config.env(a.env.as_deref())?.cloned();
    let rb = Catalog::find(config, &a.id)?;
    let dag = Dag::build(&rb)?;
    let resolved = vars::resolve(&rb, profile.as_ref(), &alert, &sets);
    let mut checked = resolved.clone();
    for m in vars::missing(&rb, &resolved) {
        checked.insert(m.name, crate::model::Value::String(String::new()), vars::Origin::Prompt);
    }
    preflight(&rb, &checked, profile.as_ref())?;
    let answers = if a.yes {
        Answers::Yes
    } else if runner::on_terminal() {
        Answers::Interactive
    } else {
        Answers::Refuse
    };
    let mut opts = PlayOptions::new(resolved);
    opts.env = profile;
    opts.answers = answers;
    opts.step_mode = a.step;
    opts.read_only = a.read_only;
    opts.from = a.from;
    opts.only = a.only;
    opts.resume = if a.resume {
        ResumeMode::Resume
    } else if a.fresh {
        ResumeMode::Fresh
    } else {
        ResumeMode::Ask
    };
    opts.no_rollback = a.no_rollback;
    opts.jobs = a.jobs.max(1);
    let outcome = runner::play(&rb, &dag, config, opts, vec![runner::reporter::for_stdout()])?;
    let msg = outcome.message.clone().unwrap_or_default();
    match outcome.status {
        RunStatus::Passed => Ok(Exit::Success),
        RunStatus::Failed => {
            if !msg.is_empty() {
                crate::errln!("{msg}");
            }
            crate::errln!("report: runbook report {}", outcome.run_id);
            Err(Error::Failed(String::new()))
        }
        RunStatus::Interrupted => {
            crate::errln!("{msg}");
            Ok(Exit::Interrupted)
        }
        RunStatus::Refused => Err(Error::Refused(msg)),
    }
}

/// Every template must render before anything runs (undefined variables,
/// syntax), in the plan-time context: captures and step results are
/// placeholders.
fn preflight(rb: &Runbook, vars: &vars::Resolved, env: Option<&crate::config::EnvProfile>) -> Result<()> {
    let t = Templater::new(rb);
    let ctx = preview::plan_context(rb, vars, env);
    let mut errors = Vec::new();
    for s in &rb.steps {
        for w in preview::quote_warnings(rb, s) {
            crate::errln!("{w}");
        }
        if let Err(d) = t.body(s, &ctx) {
            errors.push(d);
        }
        for (a, v) in [("expect", &s.attrs.expect), ("cwd", &s.attrs.cwd)] {
            if let Some(v) = v
                && let Err(d) = t.attr(s, a, v, &ctx)
            {
                errors.push(d);
            }
        }
        if let Err(d) = t.when(s, &ctx) {
            errors.push(d);
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
}

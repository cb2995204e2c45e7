//! `runbook play ID`: resolve the runbook, env and variables, check every
//! template renders (nothing runs if one cannot), then hand over to
//! [`crate::runner::play`] and map its outcome to the exit code. The play's
//! closing screen has said what happened and what to type next.
//!
//! A variable nothing defines is not an error here: a resumed run may bring
//! it back, or the operator is asked for it (`runner::session`). The check
//! renders with a placeholder for it, so every other problem still shows
//! before anything is asked.

use super::args::PlayArgs;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Exit, Result};
use crate::model::Runbook;
use crate::plan::Dag;
use crate::run::event::Mode;
use crate::runner::{self, Answers, PlayEnv, PlayOptions, ResumeMode, RunStatus};
use crate::{preview, vars};

/// The mode the flags ask for (`jobs` 0: not given).
pub fn mode(a: &PlayArgs) -> Mode {
    Mode {
        read_only: a.read_only,
        only: a.only.clone(),
        from: a.from.clone(),
        jobs: a.jobs.unwrap_or(0),
        no_rollback: a.no_rollback,
    }
}

pub fn run(config: &Config, mut a: PlayArgs) -> Result<Exit> {
    dry_run_flags(&a)?;
    // A play's store connects while its runbook is read; a rehearsal's is
    // never opened.
    let opening = (!a.dry_run).then(|| crate::store::Opening::start(config));
    let (id, alert) = super::alert::input(config, &a.id, a.from_alert.as_deref())?;
    a.id = id;
    let profile = config.env(a.env.as_deref())?.cloned();
    let rb = Catalog::find(config, &a.id)?;
    if !a.dry_run {
        crate::preview::check_env_chosen(&rb, config, a.env.as_deref())?;
    }
    let dag = Dag::build(&rb)?;
    super::front_matter_warnings(config, &rb);
    let (sets, unread) = vars::sort_given(&rb, &a.given);
    for w in unread {
        crate::errln!("{w}");
    }
    let mut resolved = vars::resolve(&rb, profile.as_ref(), &alert, &sets);
    resolved.given_through(&a.given);
    let mut checked = resolved.clone();
    for m in vars::missing(&rb, &resolved) {
        checked.insert(m.name, crate::model::Value::String(String::new()), vars::Origin::Prompt);
    }
    preflight(&rb, &checked, profile.as_ref())?;
    if a.dry_run {
        return crate::rehearse::play::dry_run(config, &a, &sets, &alert);
    }
    let answers = if a.yes {
        Answers::Yes
    } else if runner::on_terminal() {
        Answers::Interactive
    } else {
        Answers::Refuse
    };
    let recorded_vars = resolved.clone();
    let mut opts = PlayOptions::new(resolved);
    opts.env = profile;
    opts.answers = answers;
    opts.step_mode = a.step;
    opts.mode = mode(&a);
    opts.take_over = a.take_over;
    opts.resume = if a.resume || a.take_over {
        ResumeMode::Resume
    } else if a.fresh {
        ResumeMode::Fresh
    } else {
        ResumeMode::Ask
    };
    let store = opening.map_or_else(|| crate::store::open(config), crate::store::Opening::wait)?;
    let mut env = PlayEnv::live_on(config, store);
    let recording = match &a.record_fixture {
        Some(_) => Some(crate::rehearse::record::Recording::start(config)?),
        None => None,
    };
    if let Some(r) = &recording {
        env.path_prefix = Some(r.bin.clone());
        env.step_env.extend(r.env());
        env.queries = r.queries.clone();
    }
    let outcome = runner::play(&rb, &dag, config, &env, opts, vec![runner::reporter::for_stdout(true)])?;
    if let (Some(r), Some(name)) = (recording, &a.record_fixture) {
        let env_name = a.env.as_deref().or(config.default_env.as_deref());
        let answers = crate::rehearse::record::answers_given(env.store.as_ref(), &outcome.run_id);
        let played = crate::rehearse::record::Played { vars: &recorded_vars, sets: &sets, outcome: &outcome, answers };
        let (path, put, n) = r.finish(config, &rb, name, env_name, played)?;
        let how = match put {
            crate::rehearse::write::Put::Replaced => "replaced",
            _ => "recorded",
        };
        crate::outln!(
            "{how} scenario `{name}` in {} ({n} calls, outcome {}): replay it with `runbook play {} --dry-run --scenario {name}`",
            crate::catalog::display_path(&path, &config.root).display(),
            outcome.status.name(),
            rb.id
        );
    }
    Ok(match outcome.status {
        RunStatus::Passed => Exit::Success,
        RunStatus::Failed => Exit::Failure,
        RunStatus::Interrupted => Exit::Interrupted,
        RunStatus::Refused => Exit::Refused,
    })
}

/// Every template must render before anything runs (undefined variables,
/// syntax), in the plan-time context; quoting warnings are printed.
fn preflight(rb: &Runbook, vars: &vars::Resolved, env: Option<&crate::config::EnvProfile>) -> Result<()> {
    for s in &rb.steps {
        for w in preview::quote_warnings(rb, s) {
            crate::errln!("{w}");
        }
    }
    preview::preflight(rb, vars, env)
}

/// A rehearsal always plays from its first step (or `--from`) in a sandbox
/// of its own: it has no run to resume or take over, and ignoring such a
/// flag would rehearse something else than asked. `--fresh` (start anew)
/// is what a rehearsal does anyway: taken as said.
fn dry_run_flags(a: &PlayArgs) -> Result<()> {
    let flag =
        [(a.resume, "--resume"), (a.take_over, "--take-over")].into_iter().find_map(|(set, name)| set.then_some(name));
    match flag {
        Some(name) if a.dry_run => Err(crate::error::Error::invalid(
            crate::error::Diagnostic::error(
                "dry-run-flag",
                format!(
                    "{name} does not go with --dry-run: a rehearsal keeps no run, it always plays from the first step"
                ),
            )
            .hint("drop it to rehearse the whole play, or use --from STEP to rehearse from a step"),
        )),
        _ => Ok(()),
    }
}

//! `runbook play ID --dry-run [--scenario NAME]`: rehearse a runbook's
//! scenarios with the output of a real play, under a REHEARSAL banner, and
//! say which expectation failed. Exit 0 when every scenario's expectations
//! hold, 1 otherwise, 2 for a missing or invalid fixture (a scenario that
//! gives no value to a required variable included: the others still play).

use std::io::Write;

use crate::catalog::Catalog;
use crate::cli::args::PlayArgs;
use crate::config::Config;
use crate::error::{Diagnostic, Error, Exit, Result};
use crate::plan::Dag;
use crate::runner;

use super::{Options, load_fixture};

/// The banner's second line, contained.
const CONTAINED: &str =
    "real bash, stubbed tools, contained: writes vanish with the scenario, no network, no process outlives it";
/// The banner's second line where containment is refused: what still holds
/// and what does not.
const UNCONTAINED: &str = "real bash, stubbed tools, NOT contained: what a step writes outside its temporary \
     directory stays; only the stubs, the step interpreters and local tools are on PATH, but a program called by \
     absolute path and the network (/dev/tcp) are real";

/// `sets`: the values given from outside that the runbook reads; `alert`:
/// the variables of `--from-alert` (the runbook was picked by it).
pub fn dry_run(config: &Config, a: &PlayArgs, sets: &[(String, String)], alert: &[(String, String)]) -> Result<Exit> {
    let rb = Catalog::find(config, &a.id)?;
    let dag = Dag::build(&rb)?;
    let Some(fx) = load_fixture(&rb, config)? else {
        let f = super::fixture::Fixture::path_for(config, &rb.id);
        return Err(Error::invalid(
            Diagnostic::error("no-fixture", format!("runbook `{}` has no fixture to rehearse", rb.id))
                .at(&rb.path, rb.front_matter_line.unwrap_or(1))
                .hint(format!(
                    "start one with `runbook fixture new {}`, or write {} with a [[scenario]] and its [[scenario.stub]] answers (SPEC §5)",
                    rb.id,
                    crate::catalog::display_path(&f, &config.root).display()
                )),
        ));
    };
    let scenarios: Vec<&super::fixture::Scenario> = match &a.scenario {
        None => fx.scenarios.iter().collect(),
        Some(name) => match fx.scenarios.iter().find(|s| &s.name == name) {
            Some(s) => vec![s],
            None => {
                let names: Vec<&str> = fx.scenarios.iter().map(|s| s.name.as_str()).collect();
                let mut hint = format!("scenarios in {}: {}", fx.path.display(), names.join(", "));
                if let Some(m) = crate::error::did_you_mean(name, names.iter().copied()) {
                    hint = format!("did you mean `{m}`? {hint}");
                }
                return Err(Error::invalid(
                    Diagnostic::error("unknown-scenario", format!("no scenario `{name}` for `{}`", rb.id))
                        .in_file(&fx.path)
                        .hint(hint),
                ));
            }
        },
    };
    // A scenario without a value for a required variable is the fixture's
    // mistake, said as `check` says it; the other scenarios still rehearse.
    let given = super::scenario_vars::Given { env: a.env.as_deref(), alert, sets };
    let (unplayable, broken) = super::scenario_vars::missing_errors(&rb, &fx, scenarios.iter().copied(), config, given);
    for d in &unplayable {
        crate::errln!("{d}");
    }
    let scenarios: Vec<_> = scenarios.into_iter().filter(|s| !broken.contains(&s.name)).collect();
    let opts = Options {
        jobs: a.jobs.unwrap_or(runner::DEFAULT_JOBS).max(1),
        mode: crate::cli::play::mode(a),
        env: a.env.clone(),
        sets: sets.to_vec(),
        alert: alert.to_vec(),
        ..Options::default()
    };
    let mut failed = Vec::new();
    let stopping = runner::signals::Stopping::watch();
    let refused = std::cell::RefCell::new(super::contain::probe());
    if let (Some(why), true) = (refused.borrow().as_ref(), a.contained) {
        crate::errln!("play --dry-run --contained: rehearsals cannot be contained here: {why}");
        return Err(Error::Reported(Exit::Refused));
    }
    match (refused.borrow().as_ref(), runner::scope::unscoped()) {
        (Some(why), _) => crate::outln!("=== not contained: {why}"),
        (None, Some(why)) => crate::outln!("=== {}", super::contain::unscoped_line(&why)),
        (None, None) => {}
    }
    let opts = Options { contained_only: a.contained, ..opts };
    for sc in &scenarios {
        let given = given_line(a, sets, alert, sc);
        if stopping.stopped() {
            break;
        }
        let env = opts.env.as_deref().or(sc.env.as_ref().map(|(e, _)| e.as_str())).or(config.default_env.as_deref());
        // Printed once the scenario's mode is known: a container that could
        // not be set up after the probe said yes is said first.
        let banner = |not_contained: Option<&str>| {
            let mut o = std::io::stdout().lock();
            let mut r = refused.borrow_mut();
            if let (Some(why), None) = (not_contained, r.as_ref()) {
                let _ = writeln!(o, "=== not contained: {why}");
                *r = Some(why.to_string());
            }
            let _ = writeln!(
                o,
                "=== REHEARSAL of {} — scenario {} (env {}) — {}:{}\n=== {}",
                rb.id,
                sc.name,
                env.unwrap_or(crate::config::LOCAL_ENV),
                fx.path.display(),
                sc.line,
                if not_contained.is_some() { UNCONTAINED } else { CONTAINED }
            );
            if let Some(g) = &given {
                let _ = writeln!(o, "=== {g}");
            }
        };
        let run = super::run_scenario_with(
            &rb,
            &dag,
            config,
            &fx,
            sc,
            &opts,
            vec![runner::reporter::for_stdout(false)],
            &banner,
        )?;
        let mut o = std::io::stdout().lock();
        if let Some(n) = &run.stand_in {
            let _ = writeln!(o, "=== {n}");
        }
        for w in &run.withheld {
            let _ = writeln!(o, "=== not run here: {w}");
        }
        if run.passed {
            let _ = writeln!(o, "=== REHEARSAL passed: scenario {} holds its expectations\n", sc.name);
        } else if stopping.stopped() && run.outcome.as_deref() == Some("interrupted") {
            // Cut short by the signal: its expectations were never reached.
            let _ = writeln!(
                o,
                "=== REHEARSAL interrupted: scenario {} was cut short: neither passed nor failed\n",
                sc.name
            );
        } else {
            let _ = writeln!(o, "=== REHEARSAL FAILED: scenario {}", sc.name);
            for f in &run.failures {
                let _ = writeln!(o, "  - {}", f.replace('\n', "\n      "));
            }
            if let Some(d) = &run.diff {
                let _ = write!(o, "{d}");
            }
            for n in &run.notes {
                let _ = writeln!(o, "  note: {n}");
            }
            let _ = writeln!(o);
            failed.push(sc.name.clone());
        }
    }
    if stopping.stopped() {
        crate::errln!(
            "rehearsal of `{}` interrupted: the scenario in play was cut short, later ones not played",
            rb.id
        );
        Err(Error::Reported(Exit::Interrupted))
    } else if !broken.is_empty() {
        if !failed.is_empty() {
            crate::errln!("rehearsal of `{}` failed: {}", rb.id, failed.join(", "));
        }
        let names: Vec<&str> = broken.iter().map(String::as_str).collect();
        crate::errln!("not rehearsed (the fixture gives no value to a required variable): {}", names.join(", "));
        Err(Error::Reported(Exit::Invalid))
    } else if failed.is_empty() {
        Ok(Exit::Success)
    } else {
        crate::errln!("rehearsal of `{}` failed: {}", rb.id, failed.join(", "));
        Err(Error::Reported(Exit::Failure))
    }
}

/// The values a scenario is played with that this command gave and not its
/// fixture, and where each came from (`ns (RUNBOOK_VAR_ns)`): the caller's
/// environment changes what a rehearsal plays, and `runbook check` takes
/// none of them. `None` when there are none. Names only, never values.
fn given_line(
    a: &PlayArgs,
    sets: &[(String, String)],
    alert: &[(String, String)],
    sc: &super::fixture::Scenario,
) -> Option<String> {
    let mut from: Vec<(String, String)> = Vec::new();
    let mut note = |name: &str, how: String| match from.iter_mut().find(|(n, _)| n == name) {
        Some(seen) => seen.1 = how,
        None => from.push((name.to_string(), how)),
    };
    let in_scenario = |k: &str| sc.vars.iter().any(|(n, _)| n == k);
    for (k, _) in alert.iter().filter(|(k, _)| !in_scenario(k)) {
        note(k, "--from-alert".into());
    }
    for (k, _) in sets {
        let how = a.given.iter().rev().find(|g| &g.name == k).map_or_else(|| format!("--set {k}"), |g| g.label());
        note(k, if in_scenario(k) { format!("{how}, over the scenario's value") } else { how });
    }
    if from.is_empty() {
        return None;
    }
    let named: Vec<String> = from.iter().map(|(n, how)| format!("{n} ({how})")).collect();
    Some(format!(
        "vars given by this command, not by the fixture: {}; `runbook check` takes none of them",
        named.join(", ")
    ))
}

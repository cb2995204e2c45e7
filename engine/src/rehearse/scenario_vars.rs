//! The variables of each fixture scenario against what its runbook reads:
//! a required variable (null default) the scenario leaves without a value
//! is the scenario's mistake, said at the fixture with a did-you-mean from
//! the names it does give (its rehearsal would only fail on the runbook's
//! line, telling the author to `--set` it); a scenario variable the runbook
//! reads nowhere is a warning, as `--set` of it is in a play. `check` and
//! `play --dry-run` both say it from here.

use std::collections::BTreeSet;

use super::fixture::{Fixture, Scenario};
use crate::config::Config;
use crate::error::{Diagnostic, did_you_mean};
use crate::model::Runbook;

/// What the command gives a scenario besides its fixture: `play --dry-run`'s
/// `--env`, `--from-alert` and `--set` (`check` gives nothing).
#[derive(Debug, Default, Clone, Copy)]
pub struct Given<'a> {
    pub env: Option<&'a str>,
    pub alert: &'a [(String, String)],
    pub sets: &'a [(String, String)],
}

/// The findings of every scenario of `fx`, and the names of the scenarios
/// that cannot be rehearsed for them.
pub fn lint(rb: &Runbook, fx: &Fixture, config: &Config) -> (Vec<Diagnostic>, BTreeSet<String>) {
    lint_scenarios(rb, fx, fx.scenarios.iter(), config, Given::default())
}

/// The errors alone (a required variable without a value) of the scenarios
/// `play --dry-run` is about to rehearse, with what the command gives them,
/// and the names of those scenarios.
pub fn missing_errors<'s>(
    rb: &Runbook,
    fx: &Fixture,
    scenarios: impl Iterator<Item = &'s Scenario>,
    config: &Config,
    given: Given<'_>,
) -> (Vec<Diagnostic>, BTreeSet<String>) {
    let (found, broken) = lint_scenarios(rb, fx, scenarios, config, given);
    (found.into_iter().filter(|d| d.code == "scenario-variable").collect(), broken)
}

fn lint_scenarios<'s>(
    rb: &Runbook,
    fx: &Fixture,
    scenarios: impl Iterator<Item = &'s Scenario>,
    config: &Config,
    given: Given<'_>,
) -> (Vec<Diagnostic>, BTreeSet<String>) {
    let read = crate::vars::reads(rb);
    let mut out = Vec::new();
    let mut broken = BTreeSet::new();
    for sc in scenarios {
        let extra: Vec<&str> = sc.vars.iter().map(|(k, _)| k.as_str()).filter(|k| !read.contains(*k)).collect();
        // The keys taken for a misspelt required variable: said with it.
        let mut meant = BTreeSet::new();
        for m in missing(rb, sc, config, given) {
            broken.insert(sc.name.clone());
            let near = did_you_mean(&m.name, extra.iter().copied());
            meant.extend(near);
            let given = near.map(|near| format!("`{near}`"));
            let steps = match m.used_by.as_slice() {
                [] => String::new(),
                [one] => format!(" (read by step `{one}`)"),
                many => {
                    format!(" (read by steps {})", many.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))
                }
            };
            let hint = match &given {
                Some(near) => format!("the scenario gives {near}: did you mean `{}`?", m.name),
                None => format!("add `{} = \"…\"` to the scenario's `vars`", m.name),
            };
            out.push(
                Diagnostic::error(
                    "scenario-variable",
                    format!(
                        "scenario `{}` gives no value to `{}`, which runbook `{}` requires{steps}",
                        sc.name, m.name, rb.id
                    ),
                )
                .at(&fx.path, given_line(sc, &m.name, &extra))
                .hint(hint),
            );
        }
        for k in extra.iter().filter(|k| !meant.contains(*k)) {
            let mut d = Diagnostic::warning(
                "unread-variable",
                format!("scenario `{}`: runbook `{}` reads no variable `{k}`; it is ignored", sc.name, rb.id),
            )
            .at(&fx.path, sc.var_lines.get(*k).copied().or(sc.vars_line).unwrap_or(sc.line));
            if let Some(near) = did_you_mean(k, read.iter().map(String::as_str)) {
                d = d.hint(format!("did you mean `{near}`?"));
            }
            out.push(d);
        }
    }
    (out, broken)
}

/// The required variables (declared with a null default) a step reads that
/// neither the scenario's env nor its `vars` give a value (rendering that
/// step fails the rehearsal; one no step reads fails nothing). An undeclared name nothing
/// defines is the runbook's mistake (`undefined-variable`), not the
/// scenario's; an env the config lacks is reported by the fixture's own
/// validation.
fn missing(rb: &Runbook, sc: &Scenario, config: &Config, given: Given<'_>) -> Vec<crate::vars::Missing> {
    let env = given.env.or(sc.env.as_ref().map(|(e, _)| e.as_str()));
    let Ok(profile) = config.env(env) else { return Vec::new() };
    let sets: Vec<(String, String)> = sc.vars.iter().chain(given.sets).cloned().collect();
    let vars = crate::vars::resolve(rb, profile, given.alert, &sets);
    crate::vars::missing(rb, &vars).into_iter().filter(|m| m.declared && !m.used_by.is_empty()).collect()
}

/// Where to point at a missing variable: the near-miss key that was meant
/// for it, else the scenario's `vars`, else the scenario.
fn given_line(sc: &Scenario, name: &str, extra: &[&str]) -> usize {
    did_you_mean(name, extra.iter().copied())
        .and_then(|k| sc.var_lines.get(k).copied())
        .or(sc.vars_line)
        .unwrap_or(sc.line)
}

//! What `runbook play` (and `plan`, and `check`) refuses, the wiki does not
//! show as a command: a misspelt variable (`{{ namespce }}` in a runbook
//! that declares `namespace`) would read as a placeholder nobody can fill, a
//! value quoting cannot protect (`shell-value`) as a template or as a
//! command the play never runs. The book build refuses such a step as
//! `check` does, by the same lints and in the same words. A documentation
//! block is never played: a variable nothing defines there is a warning.

use std::collections::BTreeSet;

use crate::check::lints;
use crate::config::Config;
use crate::error::{Diagnostic, Severity};
use crate::model::Runbook;
use crate::plan::Dag;
use crate::rehearse::fixture::{self, Fixture};
use crate::template::{BUILTINS, Templater};

/// The steps' undefined variables that `runbook check` calls errors, and
/// what `plan` refuses in some env ([`lints::plan_refusals`]).
pub fn in_steps(rb: &Runbook, dag: &Dag, config: &Config) -> Vec<Diagnostic> {
    let scenario_vars = scenario_vars(rb, config);
    let mut out: Vec<Diagnostic> = lints::undefined_vars(rb, Some(dag), config, &scenario_vars)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    out.extend(lints::plan_refusals(rb, dag, config));
    out
}

/// The variables of a documentation block that nothing defines: not a
/// variable of the front matter, nor of any env the runbook may run in,
/// nor captured by a step, nor a builtin. A block shown as written (someone
/// else's template) is not read.
pub fn in_docs(rb: &Runbook, config: &Config) -> Vec<Diagnostic> {
    let t = Templater::new(rb);
    let captured: BTreeSet<&str> = rb.steps.iter().filter_map(|s| s.attrs.capture.as_deref()).collect();
    let env_has = |name: &str| {
        config
            .envs
            .values()
            .filter(|p| rb.envs.is_empty() || rb.envs.contains(&p.name))
            .any(|p| p.vars.contains_key(name))
    };
    let mut out = Vec::new();
    for d in rb.doc_blocks.iter().filter(|d| !d.unclosed && !crate::doc_blocks::is_foreign(rb, d)) {
        let step = crate::doc_blocks::as_step(d);
        for name in t.names_used(&step) {
            if BUILTINS.contains(&name.as_str())
                || rb.vars.contains_key(&name)
                || captured.contains(name.as_str())
                || t.calls_global(&step, &name)
                || env_has(&name)
            {
                continue;
            }
            let line = t.line_of_name(&step, crate::template::Source::Body, &name).unwrap_or(d.line);
            out.push(
                Diagnostic::warning(
                    "undefined-variable",
                    format!("undefined variable `{name}` in a documentation block: the wiki shows it as <{name}>"),
                )
                .at(&rb.path, line)
                .hint(format!(
                    "a misspelling? define `{name}` in front matter `vars` or in the [env] profile, or write the value"
                )),
            );
        }
    }
    out
}

/// The variables the runbook's fixture sets: `check` only warns about a
/// variable one of its scenarios gives. A fixture that does not load sets
/// none (`check` reports it).
fn scenario_vars(rb: &Runbook, config: &Config) -> BTreeSet<String> {
    let path = Fixture::path_for(config, &rb.id);
    let Ok(fx) = std::fs::read_to_string(&path).map_err(|_| ()).and_then(|t| fixture::parse(&path, &t).map_err(|_| ()))
    else {
        return BTreeSet::new();
    };
    fx.scenarios.iter().flat_map(|s| s.vars.iter().map(|(k, _)| k.clone())).collect()
}

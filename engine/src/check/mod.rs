//! `runbook check` (SPEC §5): lint every markdown page, runbook or plain, and
//! rehearse every scenario of every runbook's fixture, for CI.
//!
//! Findings are [`Diagnostic`]s with `file:line`, a severity, a stable code
//! and a one-line hint. On a pool of `--jobs` threads: every scenario (a
//! play with its own sandbox), the lints of each page, and the shell checks
//! of batches of pages (`bash.rs`: a few processes per batch; `python.rs`:
//! one per batch with `python` steps). The verdict:
//! invalid fixture or config input → exit 2; any error finding or failed
//! scenario → 1 (warnings too with `--deny-warnings`); else 0.
//!
//! Severity decisions: a runbook without a fixture, a stub its scenario
//! never calls, plain-HTTP downloads, `<placeholder>`s in documentation,
//! misspelt-looking front-matter keys, a prompting `sudo`, a documentation
//! block whose `{{ }}` is another tool's template and shellcheck
//! warnings are warnings, and so is everything found in a plain page but
//! its syntax; everything else is an error (`page.rs`). A page that does
//! not parse is linted on what did parse ([`lint_partial`]), so one run
//! reports every problem. A step whose `needs` can never all pass is an
//! error ([`exclusive`]).

pub mod bash;
pub mod exclusive;
pub mod format;
pub mod hazards;
pub mod lints;
pub mod missing;
pub mod page;
pub mod placeholders;
pub mod python;
mod run;
pub mod security;
pub mod shell;
pub mod shell_state;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Diagnostic, Exit, Severity};
use crate::model::Runbook;
use crate::parse::Page;
use crate::plan::Dag;
use crate::rehearse::ScenarioRun;
use crate::rehearse::fixture::Fixture;

pub use run::run;

#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub bless: bool,
    pub deny_warnings: bool,
}

/// The findings and scenarios of one runbook (or of a fixture whose runbook
/// does not exist: then `id` is `None` and `path` is the fixture), or the
/// findings of a plain page (`id` `None`, listed only when it has some).
#[derive(Debug, Serialize)]
pub struct RunbookReport {
    pub id: Option<String>,
    pub path: PathBuf,
    pub findings: Vec<Diagnostic>,
    pub scenarios: Vec<ScenarioRun>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub runbooks: Vec<RunbookReport>,
    pub summary: Summary,
    /// A fixture or the config was invalid (exit 2).
    #[serde(skip)]
    pub invalid_input: bool,
    /// `--deny-warnings`: a warning fails the runbook's lint too (and the
    /// check: every format says so).
    pub deny_warnings: bool,
    /// A signal stopped the check: scenarios were cut short or not started.
    pub interrupted: bool,
    /// The syntax checks not made for want of an interpreter (told on
    /// stderr, once per run).
    #[serde(skip)]
    pub unchecked: missing::Unchecked,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub runbooks: usize,
    /// Markdown pages without steps whose shell blocks were linted.
    pub pages: usize,
    pub errors: usize,
    pub warnings: usize,
    pub scenarios: usize,
    pub scenarios_failed: usize,
    /// Cut short by the signal that stopped the check: not failed.
    pub scenarios_interrupted: usize,
    pub shellcheck: bool,
}

impl Report {
    /// After a signal stopped the check: a scenario that did not pass
    /// because it was cut short is interrupted, not failed (CI must not read
    /// a cancelled job as a failed scenario).
    pub fn mark_interrupted(&mut self) {
        if !self.interrupted {
            return;
        }
        for s in self.runbooks.iter_mut().flat_map(|r| &mut r.scenarios) {
            if !s.passed && s.outcome.as_deref() == Some("interrupted") {
                s.interrupted = true;
                // Not expectations that failed: the play never got to them.
                s.failures.clear();
                s.diff = None;
                self.summary.scenarios_failed -= 1;
                self.summary.scenarios_interrupted += 1;
            }
        }
    }

    /// Warnings were found and `--deny-warnings` makes them fail the check.
    pub fn warnings_denied(&self) -> bool {
        self.deny_warnings && self.summary.warnings > 0
    }

    /// Errors, failed scenarios or denied warnings.
    pub fn failed(&self) -> bool {
        self.summary.errors > 0 || self.summary.scenarios_failed > 0 || self.warnings_denied()
    }

    pub fn exit(&self, deny_warnings: bool) -> Exit {
        let s = &self.summary;
        if self.interrupted {
            Exit::Interrupted
        } else if self.invalid_input {
            Exit::Invalid
        } else if s.errors > 0 || s.scenarios_failed > 0 || (deny_warnings && s.warnings > 0) {
            Exit::Failure
        } else {
            Exit::Success
        }
    }
}

/// The lints of one parsed runbook that need no shell (those are batched
/// over many pages: [`bash::check`]), and whether the runbook is invalid
/// input: what `plan` refuses with exit 2 too (a DAG that does not build, a
/// template that does not compile, a variable with no value in some env,
/// a capture or a step's state read by a step that does not come after
/// that step,
/// and whatever else `plan` refuses in some env: [`lints::plan_refusals`]).
/// `text` is the file's text.
pub fn lint(rb: &Runbook, config: &Config, fx: Option<&Fixture>, text: &str) -> (Vec<Diagnostic>, bool) {
    let mut out = Vec::new();
    let dag = match Dag::build(rb) {
        Ok(d) => Some(d),
        Err(e) => {
            out.extend(lints::from_error(e, &rb.path));
            None
        }
    };
    let scenario_vars: BTreeSet<String> = fx
        .map(|f| f.scenarios.iter().flat_map(|s| s.vars.iter().map(|(k, _)| k.clone())).collect())
        .unwrap_or_default();
    let syntax = lints::templates(rb);
    let vars = lints::undefined_vars(rb, dag.as_ref(), config, &scenario_vars);
    let refused = dag.as_ref().map(|d| lints::plan_refusals(rb, d, config)).unwrap_or_default();
    let read_early = dag.as_ref().map(|d| crate::preview::steps_read_out_of_order(rb, d)).unwrap_or_default();
    let invalid = dag.is_none()
        || !syntax.is_empty()
        || !refused.is_empty()
        || !read_early.is_empty()
        || vars
            .iter()
            .any(|d| ["undefined-variable", "capture-order"].contains(&d.code) && d.severity == Severity::Error);
    out.extend(syntax);
    out.extend(vars);
    out.extend(read_early);
    out.extend(refused);
    out.extend(lints::quotes(rb));
    out.extend(lints::unknown_step_refs(rb));
    out.extend(dag.as_ref().map(|d| exclusive::lint(rb, d)).unwrap_or_default());
    out.extend(dag.as_ref().map(|d| lints::orphan_undos(rb, d)).unwrap_or_default());
    out.extend(lints::unknown_envs(rb, config, text));
    out.extend(page::placeholders(rb));
    out.extend(page::hazards(rb, false));
    out.extend(shell_state::lint(rb));
    out.extend(page::front_matter_keys(rb, text));
    out.extend(lints::unclosed_docs(rb));
    out.extend(lints::foreign_docs(rb));
    out.extend(lints::short_secrets(rb, config, text));
    out.extend(lints::absolute_tools(rb, config));
    out.extend(crate::observe::check::lint(rb));
    out.extend(security::lint(&rb.path, &lints::blocks(rb)));
    out.extend(crate::vars::untyped_comparisons(rb));
    out.extend(lints::missing_fixture(rb, config));
    (out, invalid)
}

/// The lints of a page that did not parse, on what did ([`Page`]'s
/// partial form, `text` its file's): those that read one block at a time
/// (template syntax, quotes, placeholders, hazards, security smells,
/// unclosed documentation), so that one `check` shows them beside the parse
/// errors. Those that need the whole runbook (the DAG, variables, envs, the
/// fixture) would take what is missing for a mistake, and wait.
pub fn lint_partial(parsed: &Page, text: &str) -> Vec<Diagnostic> {
    let rb = match parsed {
        Page::Plain(rb) => return page::lint_plain(rb, text),
        Page::Runbook(rb) => rb,
    };
    let mut out = lints::templates(rb);
    out.extend(lints::quotes(rb));
    out.extend(page::placeholders(rb));
    out.extend(page::hazards(rb, false));
    out.extend(lints::unclosed_docs(rb));
    out.extend(lints::foreign_docs(rb));
    out.extend(security::lint(&rb.path, &lints::blocks(rb)));
    out
}

//! `runbook check` (SPEC §5): lint every runbook and rehearse every scenario
//! of its fixture, for CI.
//!
//! Findings are [`Diagnostic`]s with `file:line`, a severity, a stable code
//! and a one-line hint. Runbooks are linted in parallel, then every scenario
//! is rehearsed on a pool of `--jobs` threads (each scenario is a play with
//! its own sandbox). The verdict: invalid fixture or config input → exit 2;
//! any error finding or failed scenario → 1 (warnings too with
//! `--deny-warnings`); else 0.
//!
//! Severity decisions: a runbook without a fixture, a stub its scenario
//! never calls, plain-HTTP downloads, `<placeholder>`s in documentation and
//! shellcheck warnings are warnings; everything else is an error.

pub mod bash;
pub mod format;
pub mod lints;
pub mod security;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::catalog::{self, Catalog};
use crate::config::Config;
use crate::error::{Diagnostic, Error, Exit, Result, Severity};
use crate::model::Runbook;
use crate::parse;
use crate::plan::Dag;
use crate::rehearse::fixture::{self, Fixture};
use crate::rehearse::{self, ScenarioRun};

#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub bless: bool,
    pub deny_warnings: bool,
}

/// The findings and scenarios of one runbook (or of a fixture whose runbook
/// does not exist: then `id` is `None` and `path` is the fixture).
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
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub runbooks: usize,
    pub errors: usize,
    pub warnings: usize,
    pub scenarios: usize,
    pub scenarios_failed: usize,
    pub shellcheck: bool,
}

impl Report {
    pub fn exit(&self, deny_warnings: bool) -> Exit {
        let s = &self.summary;
        if self.invalid_input {
            Exit::Invalid
        } else if s.errors > 0 || s.scenarios_failed > 0 || (deny_warnings && s.warnings > 0) {
            Exit::Failure
        } else {
            Exit::Success
        }
    }
}

/// What to check: runbook files and fixture files.
struct Inputs {
    runbooks: Vec<PathBuf>,
    fixtures: Vec<PathBuf>,
}

fn collect(config: &Config, paths: &[PathBuf]) -> Result<Inputs> {
    let mut inputs = Inputs { runbooks: Vec::new(), fixtures: Vec::new() };
    let looks = |p: &Path| std::fs::read_to_string(p).map(|t| parse::looks_like_runbook(&t)).unwrap_or(true);
    let tomls = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "toml"))
            .filter(|e| e.file_name() != crate::config::FILE_NAME)
            .map(|e| e.into_path())
            .collect();
        v.sort();
        v
    };
    if paths.is_empty() {
        if !config.runbooks.is_dir() {
            Catalog::load(config)?;
        }
        inputs.runbooks = catalog::markdown_files(&config.runbooks).into_iter().filter(|p| looks(p)).collect();
        if config.fixtures.is_dir() {
            inputs.fixtures = tomls(&config.fixtures);
        }
        return Ok(inputs);
    }
    for p in paths {
        if p.is_dir() {
            inputs.runbooks.extend(catalog::markdown_files(p).into_iter().filter(|p| looks(p)));
            inputs.fixtures.extend(tomls(p));
        } else if p.is_file() {
            match p.extension().and_then(|x| x.to_str()) {
                Some("toml") => inputs.fixtures.push(p.clone()),
                _ => inputs.runbooks.push(p.clone()),
            }
        } else {
            return Err(Error::usage(
                format!("no such file or directory: {}", p.display()),
                "give runbook files, fixture files or directories; without a PATH, check checks the whole config",
            ));
        }
    }
    Ok(inputs)
}

struct Parsed {
    shown: PathBuf,
    rb: std::result::Result<Runbook, Vec<Diagnostic>>,
    /// The file's text when it did not parse (to find its id all the same).
    source: String,
}

pub fn run(config: &Config, paths: &[PathBuf], opts: &Options) -> Result<Report> {
    let inputs = collect(config, paths)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the check pool: {e}"))?;
    let mut report = pool.install(|| run_in_pool(config, inputs, opts))?;
    if paths.is_empty() {
        security::report_command_lines(config, &mut report);
    }
    Ok(report)
}

fn run_in_pool(config: &Config, inputs: Inputs, opts: &Options) -> Result<Report> {
    let mut seen = BTreeSet::new();
    let runbook_files: Vec<PathBuf> =
        inputs.runbooks.into_iter().filter(|p| seen.insert(std::fs::canonicalize(p).unwrap_or(p.clone()))).collect();
    let mut parsed: Vec<Parsed> = runbook_files
        .par_iter()
        .map(|p| {
            let shown = catalog::display_path(p, &config.root);
            let mut source = String::new();
            let rb = match std::fs::read(p) {
                Ok(bytes) => parse::parse_bytes(&shown, &bytes).map_err(|e| {
                    source = String::from_utf8_lossy(&bytes).into_owned();
                    lints::from_error(e, &shown)
                }),
                Err(e) => Err(vec![Diagnostic::error("io", format!("cannot read runbook: {e}")).in_file(&shown)]),
            };
            Parsed { shown, rb, source }
        })
        .collect();
    // Wiki pages the quick test let through: not runbooks, nothing to check.
    parsed.retain(|p| !matches!(&p.rb, Err(d) if parse::only_no_steps(d)));

    // Fixtures: those given, and the one of every runbook checked.
    let mut fixture_files: BTreeSet<PathBuf> = inputs.fixtures.into_iter().collect();
    for p in &parsed {
        if let Ok(rb) = &p.rb {
            let f = Fixture::path_for(config, &rb.id);
            if f.is_file() {
                fixture_files.insert(f);
            }
        }
    }
    // A fixture given on its own: its runbook is checked too.
    let ids: BTreeSet<String> = parsed.iter().filter_map(|p| p.rb.as_ref().ok().map(|r| r.id.clone())).collect();
    let wanted: Vec<String> = fixture_files
        .iter()
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|id| !ids.contains(id))
        .collect();
    if !wanted.is_empty() && config.runbooks.is_dir() {
        let cat = Catalog::load(config)?;
        for rb in cat.runbooks.into_iter().filter(|r| wanted.contains(&r.id)) {
            parsed.push(Parsed { shown: rb.path.clone(), rb: Ok(rb), source: String::new() });
        }
    }

    let mut invalid_input = false;
    let mut reports: BTreeMap<PathBuf, RunbookReport> = BTreeMap::new();
    let mut fixtures: BTreeMap<String, Fixture> = BTreeMap::new();
    let by_id: BTreeMap<String, &Runbook> =
        parsed.iter().filter_map(|p| p.rb.as_ref().ok().map(|r| (r.id.clone(), r))).collect();
    // Runbooks that do not parse still own their fixtures: those are not
    // checked (against what?), and not reported as orphans either.
    let unparsed: BTreeSet<String> =
        parsed.iter().filter(|p| p.rb.is_err()).flat_map(|p| parse::possible_ids(&p.shown, &p.source)).collect();
    for f in &fixture_files {
        let shown = catalog::display_path(f, &config.root);
        let id = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if !by_id.contains_key(&id) && unparsed.contains(&id) {
            continue;
        }
        let loaded = std::fs::read_to_string(f)
            .map_err(|e| {
                Error::invalid(Diagnostic::error("fixture", format!("cannot read fixture: {e}")).in_file(&shown))
            })
            .and_then(|text| fixture::parse(&shown, &text));
        let (diags, fx) = match loaded {
            Err(e) => (lints::from_error(e, &shown), None),
            Ok(mut fx) => {
                fx.file = f.clone();
                match by_id.get(&id) {
                    Some(rb) => (fx.validate(rb, config), Some(fx)),
                    None => {
                        let d =
                            Diagnostic::error("fixture", format!("fixture for a runbook that does not exist: `{id}`"))
                                .at(&shown, 1)
                                .hint(format!(
                                    "name the file after a runbook id (`runbook list`), in {}",
                                    catalog::display_path(&config.fixtures, &config.root).display()
                                ));
                        (vec![d], None)
                    }
                }
            }
        };
        if !diags.is_empty() {
            invalid_input = true;
        }
        let owner = match by_id.get(&id) {
            Some(rb) => rb.path.clone(),
            None => shown.clone(),
        };
        let rep = reports.entry(owner.clone()).or_insert_with(|| RunbookReport {
            id: by_id.get(&id).map(|r| r.id.clone()),
            path: owner,
            findings: Vec::new(),
            scenarios: Vec::new(),
        });
        rep.findings.extend(diags.clone());
        if diags.is_empty()
            && let Some(fx) = fx
        {
            fixtures.insert(id, fx);
        }
    }

    // Lints and scenarios on one pool, so that the two overlap: scenarios
    // (the long tasks) first. A scenario needs the DAG, which is cheap.
    let dags: BTreeMap<String, Dag> =
        by_id.iter().filter_map(|(id, rb)| Dag::build(rb).ok().map(|d| (id.clone(), d))).collect();
    enum Task<'a> {
        Lint(&'a Parsed),
        Scenario(&'a Runbook, &'a Dag, &'a Fixture, usize),
    }
    enum Done {
        Lint(PathBuf, Option<String>, Vec<Diagnostic>),
        Scenario(PathBuf, Box<std::result::Result<ScenarioRun, Vec<Diagnostic>>>),
    }
    let tasks: Vec<Task> = fixtures
        .iter()
        .filter_map(|(id, fx)| Some((by_id.get(id).copied()?, dags.get(id)?, fx)))
        .flat_map(|(rb, dag, fx)| (0..fx.scenarios.len()).map(move |i| Task::Scenario(rb, dag, fx, i)))
        .chain(parsed.iter().map(Task::Lint))
        .collect();
    let ropts = rehearse::Options { bless: opts.bless, ..rehearse::Options::default() };
    let done: Vec<Done> = tasks
        .par_iter()
        .with_max_len(1)
        .map(|t| match t {
            Task::Lint(p) => match &p.rb {
                Err(d) => Done::Lint(p.shown.clone(), None, d.clone()),
                Ok(rb) => Done::Lint(rb.path.clone(), Some(rb.id.clone()), lint(rb, config, fixtures.get(&rb.id)).0),
            },
            Task::Scenario(rb, dag, fx, i) => {
                let r = rehearse::run_scenario(rb, dag, config, fx, &fx.scenarios[*i], &ropts, Vec::new());
                Done::Scenario(rb.path.clone(), Box::new(r.map_err(|e| lints::from_error(e, &fx.path))))
            }
        })
        .collect();
    let mut runs = Vec::new();
    for d in done {
        match d {
            Done::Lint(path, id, findings) => {
                let rep = reports.entry(path.clone()).or_insert_with(|| RunbookReport {
                    id,
                    path,
                    findings: Vec::new(),
                    scenarios: Vec::new(),
                });
                rep.findings.extend(findings);
            }
            Done::Scenario(path, r) => runs.push((path, *r)),
        }
    }
    for (path, r) in runs {
        let Some(rep) = reports.get_mut(&path) else { continue };
        match r {
            Ok(run) => {
                let unused = [
                    (
                        "unused-stub",
                        "stub",
                        "is never called",
                        "remove it, or fix its glob so that it matches the call (`runbook play ID --dry-run`)",
                        &run.unused_stubs,
                    ),
                    (
                        "unused-query",
                        "query fixture",
                        "is never asked for",
                        "remove it, or fix its `match` so that it matches the step's query (whitespace runs count as one space)",
                        &run.unused_queries,
                    ),
                ];
                // A failed scenario stops early: what it never called is a
                // consequence, and would bury the failure.
                for (code, what, never, hint, list) in unused.into_iter().filter(|_| run.passed) {
                    for u in list {
                        rep.findings.push(
                            Diagnostic::warning(
                                code,
                                format!("{what} `{}` {never} by scenario `{}`", u.cmd, run.scenario),
                            )
                            .at(&run.fixture, u.line)
                            .hint(hint),
                        );
                    }
                }
                rep.scenarios.push(run);
            }
            Err(d) => {
                invalid_input = true;
                rep.findings.extend(d);
            }
        }
    }

    let mut runbooks: Vec<RunbookReport> = reports.into_values().collect();
    for r in &mut runbooks {
        r.findings.sort_by(|a, b| (&a.file, a.line, a.code).cmp(&(&b.file, b.line, b.code)));
        r.findings.dedup();
    }
    let mut summary =
        Summary { runbooks: runbooks.len(), shellcheck: bash::shellcheck_available(), ..Summary::default() };
    for r in &runbooks {
        summary.errors += r.findings.iter().filter(|d| d.severity == Severity::Error).count();
        summary.warnings += r.findings.iter().filter(|d| d.severity == Severity::Warning).count();
        summary.scenarios += r.scenarios.len();
        summary.scenarios_failed += r.scenarios.iter().filter(|s| !s.passed).count();
    }
    Ok(Report { runbooks, summary, invalid_input })
}

/// Every lint of one parsed runbook, and its DAG when it builds.
pub fn lint(rb: &Runbook, config: &Config, fx: Option<&Fixture>) -> (Vec<Diagnostic>, Option<Dag>) {
    let mut out = Vec::new();
    let dag = match Dag::build(rb) {
        Ok(d) => Some(d),
        Err(e) => {
            out.extend(lints::from_error(e, &rb.path));
            None
        }
    };
    out.extend(lints::templates(rb));
    out.extend(lints::unknown_envs(rb, config));
    let scenario_vars: BTreeSet<String> = fx
        .map(|f| f.scenarios.iter().flat_map(|s| s.vars.iter().map(|(k, _)| k.clone())).collect())
        .unwrap_or_default();
    out.extend(lints::undefined_vars(rb, dag.as_ref(), config, &scenario_vars));
    out.extend(lints::quotes(rb));
    out.extend(lints::placeholders(rb));
    out.extend(lints::unclosed_docs(rb));
    out.extend(lints::short_secrets(rb, config));
    out.extend(lints::absolute_tools(rb, config));
    out.extend(crate::observe::check::lint(rb));
    let blocks = lints::blocks(rb);
    let (syntax, parses) = bash::syntax_findings(&rb.path, &blocks);
    out.extend(syntax);
    out.extend(bash::shellcheck(&rb.path, &blocks, &parses));
    out.extend(security::lint(&rb.path, &blocks));
    out.extend(crate::vars::untyped_comparisons(rb));
    out.extend(lints::missing_fixture(rb, config));
    (out, dag)
}

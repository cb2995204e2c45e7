//! The orchestration of `check`: which files, parsing them, the fixtures
//! of the runbooks, and one pool for the scenarios, the lints of each page
//! and the shell checks of batches of pages. Each pool has `--jobs` threads,
//! or fewer when it has fewer tasks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::missing::Unchecked;
use super::{Options, Report, RunbookReport, Summary, bash, lint, lint_partial, lints, page, python, security};
use crate::catalog::{self, Catalog};
use crate::config::Config;
use crate::error::{Diagnostic, Error, Result, Severity};
use crate::model::Runbook;
use crate::parse::{self, Page};
use crate::plan::Dag;
use crate::rehearse::fixture::{self, Fixture};
use crate::rehearse::{self, ScenarioRun};
use crate::runner::signals::Stopping;

/// What to check: markdown files and fixture files.
struct Inputs {
    runbooks: Vec<PathBuf>,
    fixtures: Vec<PathBuf>,
}

fn collect(config: &Config, paths: &[PathBuf]) -> Result<Inputs> {
    let mut inputs = Inputs { runbooks: Vec::new(), fixtures: Vec::new() };
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
        inputs.runbooks = catalog::markdown_files(&config.runbooks);
        if config.fixtures.is_dir() {
            inputs.fixtures = tomls(&config.fixtures);
        }
        return Ok(inputs);
    }
    for p in paths {
        if p.is_dir() {
            inputs.runbooks.extend(catalog::markdown_files(p));
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

/// What a linted page is, for the exit code: a runbook that does not parse,
/// plan or compile is invalid input (exit 2, as `plan` says of it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Runbook,
    Invalid,
}

struct Parsed {
    shown: PathBuf,
    /// The page, or what of it parsed when `errors` is not empty; `None`
    /// when it has no text to parse (unreadable, not UTF-8).
    page: Option<Page>,
    /// Its parse errors: a page with some is invalid input, and only its
    /// blocks are linted ([`super::lint_partial`]).
    errors: Vec<Diagnostic>,
    /// A page without steps and without errors: its blocks are linted, it
    /// has no fixture.
    plain: bool,
    /// The file's text (to find the id of one that does not parse, and the
    /// lines of front-matter keys).
    source: String,
}

impl Parsed {
    /// The page, if it parsed without an error.
    fn valid(&self) -> Option<&Runbook> {
        self.page.as_ref().filter(|_| self.errors.is_empty()).map(Page::runbook)
    }
}

pub fn run(config: &Config, paths: &[PathBuf], opts: &Options) -> Result<Report> {
    let inputs = collect(config, paths)?;
    let stopping = crate::runner::signals::Stopping::watch();
    let mut report = run_pools(config, inputs, opts, &stopping)?;
    report.interrupted = stopping.stopped();
    report.mark_interrupted();
    if paths.is_empty() {
        security::report_command_lines(config, &mut report);
    }
    Ok(report)
}

/// A pool of `--jobs` threads, but no more than `tasks` (`--jobs 100000`
/// on a project of ten pages starts ten): a thread without a task only
/// costs. On the main thread's stack size (8 MiB), not rayon's 2 MiB:
/// parsing YAML nested to serde-saphyr's limit overflowed a debug build's
/// 2 MiB.
fn pool(jobs: usize, tasks: usize) -> Result<rayon::ThreadPool> {
    let n = jobs.min(tasks).max(1);
    Ok(rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .stack_size(8 << 20)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the check pool ({n} threads): {e}"))?)
}

fn run_pools(config: &Config, inputs: Inputs, opts: &Options, stopping: &Stopping) -> Result<Report> {
    let mut seen = BTreeSet::new();
    let runbook_files: Vec<PathBuf> =
        inputs.runbooks.into_iter().filter(|p| seen.insert(std::fs::canonicalize(p).unwrap_or(p.clone()))).collect();
    let parsing = pool(opts.jobs, runbook_files.len())?;
    let mut parsed: Vec<Parsed> = parsing.install(|| parse_all(config, &runbook_files));
    let duplicates = catalog::duplicate_ids(parsed.iter().filter(|p| !p.plain).filter_map(Parsed::valid));
    for (path, d) in duplicates {
        if let Some(p) = parsed.iter_mut().find(|p| p.shown == path) {
            p.errors.push(d);
        }
    }

    // Fixtures: those given, and the one of every runbook checked.
    let mut fixture_files: BTreeSet<PathBuf> = inputs.fixtures.into_iter().collect();
    for p in parsed.iter().filter(|p| !p.plain) {
        if let Some(rb) = p.valid() {
            let f = Fixture::path_for(config, &rb.id);
            if f.is_file() {
                fixture_files.insert(f);
            }
        }
    }
    // A fixture given on its own: its runbook is checked too.
    let ids: BTreeSet<String> =
        parsed.iter().filter(|p| !p.plain).filter_map(|p| p.valid().map(|r| r.id.clone())).collect();
    let wanted: Vec<String> = fixture_files
        .iter()
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|id| !ids.contains(id))
        .collect();
    if !wanted.is_empty() && config.runbooks.is_dir() {
        let cat = parsing.install(|| Catalog::load(config))?;
        for rb in cat.runbooks.into_iter().filter(|r| wanted.contains(&r.id)) {
            let source = std::fs::read_to_string(config.root.join(&rb.path)).unwrap_or_default();
            parsed.push(Parsed {
                shown: rb.path.clone(),
                page: Some(Page::Runbook(rb)),
                errors: Vec::new(),
                plain: false,
                source,
            });
        }
    }

    let mut invalid_input = false;
    let mut reports: BTreeMap<PathBuf, RunbookReport> = BTreeMap::new();
    let mut fixtures: BTreeMap<String, Fixture> = BTreeMap::new();
    let by_id: BTreeMap<String, &Runbook> =
        parsed.iter().filter(|p| !p.plain).filter_map(|p| p.valid().map(|r| (r.id.clone(), r))).collect();
    // Runbooks that do not parse still own their fixtures: those are not
    // checked (against what?), and not reported as orphans either.
    let unparsed: BTreeSet<String> =
        parsed.iter().filter(|p| p.valid().is_none()).flat_map(|p| parse::possible_ids(&p.shown, &p.source)).collect();
    for f in &fixture_files {
        let shown = catalog::display_path(f, &config.root);
        let mut rep_findings = Vec::new();
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
                    Some(rb) => {
                        let (found, broken) = crate::rehearse::scenario_vars::lint(rb, &fx, config);
                        rep_findings.extend(found);
                        // The others are still rehearsed.
                        fx.scenarios.retain(|s| !broken.contains(&s.name));
                        invalid_input |= !broken.is_empty();
                        (fx.validate(rb, config), Some(fx))
                    }
                    None => {
                        let mut hint = format!(
                            "name the file after a runbook id (`runbook list`), in {}",
                            catalog::display_path(&config.fixtures, &config.root).display()
                        );
                        if let Some(near) = crate::error::did_you_mean(&id, by_id.keys().map(String::as_str)) {
                            hint = format!("did you mean `{near}` ({near}.toml)? {hint}");
                        }
                        let d =
                            Diagnostic::error("fixture", format!("fixture for a runbook that does not exist: `{id}`"))
                                .at(&shown, 1)
                                .hint(hint);
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
        rep.findings.extend(rep_findings);
        if diags.is_empty()
            && let Some(fx) = fx
        {
            fixtures.insert(id, fx);
        }
    }

    // Scenarios, lints and shell checks on one pool, so that they overlap:
    // scenarios (the long tasks) first, then the shell batches (a few
    // processes each), then the lints. A scenario needs the DAG, which is cheap.
    let dags: BTreeMap<String, Dag> =
        by_id.iter().filter_map(|(id, rb)| Dag::build(rb).ok().map(|d| (id.clone(), d))).collect();
    enum Task<'a> {
        Lint(&'a Parsed),
        Shell(&'a [Parsed]),
        Scenario(&'a Runbook, &'a Dag, &'a Fixture, usize),
    }
    enum Done {
        Lint(PathBuf, Option<String>, Kind, Vec<Diagnostic>),
        Shell(Vec<Diagnostic>, Unchecked),
        Scenario(PathBuf, Box<std::result::Result<ScenarioRun, Vec<Diagnostic>>>),
        /// Not started: a signal stopped the check.
        NotRun,
    }
    // Two shell batches a thread, of the threads the other tasks can use.
    let scenarios: usize = fixtures.values().map(|f| f.scenarios.len()).sum();
    let batch = parsed.len().div_ceil(2 * opts.jobs.min(scenarios + parsed.len()).max(1)).max(1);
    // shellcheck's findings are kept in the state directory (not in a shared store).
    let shellcheck_cache =
        (!config.state.to_string_lossy().contains("://")).then(|| config.state.join("cache/shellcheck"));
    let tasks: Vec<Task> = fixtures
        .iter()
        .filter_map(|(id, fx)| Some((by_id.get(id).copied()?, dags.get(id)?, fx)))
        .flat_map(|(rb, dag, fx)| (0..fx.scenarios.len()).map(move |i| Task::Scenario(rb, dag, fx, i)))
        .chain(parsed.chunks(batch).map(Task::Shell))
        .chain(parsed.iter().map(Task::Lint))
        .collect();
    let ropts = rehearse::Options { bless: opts.bless, ..rehearse::Options::default() };
    let done: Vec<Done> = pool(opts.jobs, tasks.len())?.install(|| {
        tasks
            .par_iter()
            .with_max_len(1)
            .map(|t| match t {
                Task::Lint(p) if !p.errors.is_empty() => {
                    let mut findings = p.errors.clone();
                    findings.extend(p.page.as_ref().map(|pg| lint_partial(pg, &p.source)).unwrap_or_default());
                    Done::Lint(p.shown.clone(), None, Kind::Invalid, findings)
                }
                Task::Lint(p) => match p.page.as_ref().map(Page::runbook) {
                    None => Done::Lint(p.shown.clone(), None, Kind::Invalid, Vec::new()),
                    Some(rb) if p.plain => {
                        Done::Lint(rb.path.clone(), None, Kind::Plain, page::lint_plain(rb, &p.source))
                    }
                    Some(rb) => {
                        let (findings, invalid) = lint(rb, config, fixtures.get(&rb.id), &p.source);
                        let kind = if invalid { Kind::Invalid } else { Kind::Runbook };
                        Done::Lint(rb.path.clone(), Some(rb.id.clone()), kind, findings)
                    }
                },
                Task::Shell(pages) => {
                    let pages: Vec<(&Runbook, BTreeSet<String>)> = pages
                        .iter()
                        .filter_map(|p| p.page.as_ref().map(Page::runbook))
                        .map(|rb| (rb, bash::list_vars(rb, config)))
                        .collect();
                    let all: Vec<(&Path, lints::Block, &BTreeSet<String>)> = pages
                        .iter()
                        .flat_map(|(rb, l)| lints::blocks(rb).into_iter().map(move |b| (rb.path.as_path(), b, l)))
                        .collect();
                    let mut unchecked = Unchecked::default();
                    let py: Vec<(&Path, lints::Block)> = all.iter().map(|(f, b, _)| (*f, b.clone())).collect();
                    let mut found = python::check(&py, &mut unchecked);
                    let blocks: Vec<bash::ShellBlock> =
                        all.into_iter().filter_map(|(f, b, l)| bash::ShellBlock::new(f, b, l)).collect();
                    found.extend(bash::check(&blocks, true, shellcheck_cache.as_deref(), &mut unchecked));
                    Done::Shell(found, unchecked)
                }
                Task::Scenario(..) if stopping.stopped() => Done::NotRun,
                Task::Scenario(rb, dag, fx, i) => {
                    let r = rehearse::run_scenario(rb, dag, config, fx, &fx.scenarios[*i], &ropts, Vec::new());
                    Done::Scenario(rb.path.clone(), Box::new(r.map_err(|e| lints::from_error(e, &fx.path))))
                }
            })
            .collect()
    });
    let mut runs = Vec::new();
    let mut shell = Vec::new();
    let mut unchecked = Unchecked::default();
    for d in done {
        match d {
            // A plain page is reported only when something is found.
            Done::Lint(_, _, Kind::Plain, findings) if findings.is_empty() => {}
            Done::Lint(path, id, kind, findings) => {
                invalid_input |= kind == Kind::Invalid;
                let rep = reports.entry(path.clone()).or_insert_with(|| RunbookReport {
                    id,
                    path,
                    findings: Vec::new(),
                    scenarios: Vec::new(),
                });
                rep.findings.extend(findings);
            }
            Done::Shell(findings, u) => {
                shell.extend(findings);
                unchecked.merge(u);
            }
            Done::Scenario(path, r) => runs.push((path, *r)),
            Done::NotRun => {}
        }
    }
    for d in shell {
        let Some(path) = d.file.clone() else { continue };
        let rep = reports.entry(path.clone()).or_insert_with(|| RunbookReport {
            id: None,
            path,
            findings: Vec::new(),
            scenarios: Vec::new(),
        });
        rep.findings.push(d);
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
                // A failed scenario has them as notes beside its failures
                // (`ScenarioRun::notes`): information, not a warning that
                // `--deny-warnings` would make a second failure.
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
    let plain: BTreeSet<&Path> = parsed.iter().filter(|p| p.plain).map(|p| p.shown.as_path()).collect();
    let mut summary = Summary {
        runbooks: runbooks.iter().filter(|r| !plain.contains(r.path.as_path())).count(),
        pages: plain.len(),
        shellcheck: bash::shellcheck_available(),
        ..Summary::default()
    };
    for r in &runbooks {
        summary.errors += r.findings.iter().filter(|d| d.severity == Severity::Error).count();
        summary.warnings += r.findings.iter().filter(|d| d.severity == Severity::Warning).count();
        summary.scenarios += r.scenarios.len();
        summary.scenarios_failed += r.scenarios.iter().filter(|s| !s.passed).count();
    }
    Ok(Report { runbooks, summary, invalid_input, deny_warnings: opts.deny_warnings, interrupted: false, unchecked })
}

/// Read and parse each page (on the current pool).
fn parse_all(config: &Config, files: &[PathBuf]) -> Vec<Parsed> {
    files
        .par_iter()
        .map(|p| {
            let shown = catalog::display_path(p, &config.root);
            let (page, errors, source) = match std::fs::read(p) {
                Ok(bytes) => {
                    let (page, mut errors) = parse::parse_page_bytes_partial(&shown, &bytes);
                    for d in errors.iter_mut().filter(|d| d.file.is_none()) {
                        d.file = Some(shown.clone());
                    }
                    (page, errors, String::from_utf8_lossy(&bytes).into_owned())
                }
                Err(e) => (
                    None,
                    vec![Diagnostic::error("io", format!("cannot read page: {e}")).in_file(&shown)],
                    String::new(),
                ),
            };
            // A page with errors is reported as a runbook is (not as a plain page).
            let plain = errors.is_empty() && page.as_ref().is_some_and(Page::is_plain);
            Parsed { shown, page, errors, plain, source }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pool_has_no_more_threads_than_tasks() {
        assert_eq!(super::pool(64, 3).unwrap().current_num_threads(), 3);
        assert_eq!(super::pool(2, 30).unwrap().current_num_threads(), 2);
        assert_eq!(super::pool(8, 0).unwrap().current_num_threads(), 1);
    }
}

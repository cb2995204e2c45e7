//! `runbook check [PATH]...`: lint runbooks and rehearse their fixtures, for CI.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::check::{self, format::Format};
use crate::config::Config;
use crate::error::{Error, Exit, Result, Severity};

/// Invalid input found before any page is checked (a broken `runbook.toml`,
/// a missing runbooks directory): in a machine format, also said on stdout
/// as a report of its own, so that the JSON parses and the annotation shows
/// (file relative to `cwd` where known). The error still goes to stderr
/// (exit 2).
pub fn invalid_input(e: Error, format: Format, cwd: &Path) -> Error {
    let Error::Invalid(diags) = &e else { return e };
    if format == Format::Human {
        return e;
    }
    let findings: Vec<_> = diags
        .iter()
        .cloned()
        .map(|mut d| {
            if let Some(rel) = d.file.as_deref().and_then(|f| f.strip_prefix(cwd).ok()) {
                d.file = Some(rel.to_path_buf());
            }
            d
        })
        .collect();
    let path = findings.iter().find_map(|d| d.file.clone()).unwrap_or_else(|| crate::config::FILE_NAME.into());
    let summary = check::Summary {
        errors: findings.iter().filter(|d| d.severity == Severity::Error).count(),
        warnings: findings.iter().filter(|d| d.severity == Severity::Warning).count(),
        shellcheck: check::bash::shellcheck_available(),
        ..check::Summary::default()
    };
    let report = check::Report {
        runbooks: vec![check::RunbookReport { id: None, path, findings, scenarios: Vec::new() }],
        summary,
        invalid_input: true,
        deny_warnings: false,
        interrupted: false,
        unchecked: Default::default(),
    };
    super::out(&check::format::render(&report, format, false));
    e
}

pub fn run(
    config: &Config,
    paths: &[PathBuf],
    format: Format,
    bless: bool,
    jobs: Option<usize>,
    deny_warnings: bool,
    contained: bool,
) -> Result<Exit> {
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let opts = check::Options { jobs, bless, deny_warnings };
    let report = check::run(config, paths, &opts)?;
    let color = format == Format::Human && std::io::stdout().is_terminal() && crate::stdout::colour_allowed();
    // Said first: every rehearsal below ran on this machine unprotected.
    let scenarios = report.runbooks.iter().flat_map(|r| &r.scenarios);
    let mut refused = scenarios.clone().find_map(|s| s.not_contained.clone());
    if refused.is_none() && contained && scenarios.clone().next().is_none() {
        refused = crate::rehearse::contain::probe();
    }
    let line = match (&refused, crate::runner::scope::unscoped()) {
        (Some(why), _) => Some(format!("=== not contained: {why}")),
        (None, Some(why)) if scenarios.clone().next().is_some() => {
            Some(format!("=== {}", crate::rehearse::contain::unscoped_line(&why)))
        }
        _ => None,
    };
    if let Some(line) = line {
        match format {
            Format::Human => super::out(&format!("{line}\n")),
            _ => crate::errln!("{line}"),
        }
    }
    super::out(&check::format::render(&report, format, color));
    for notice in report.unchecked.notices("check") {
        crate::errln!("{notice}");
    }
    if report.interrupted {
        crate::errln!("check interrupted: scenarios in play were cut short, later ones not played");
        return Ok(Exit::Interrupted);
    }
    if let (true, Some(why)) = (contained, &refused) {
        crate::errln!("check --contained: rehearsals could not be contained: {why}");
        crate::errln!("  hint: run where user namespaces are allowed (Linux, `unshare -Urmn true` succeeds)");
        return Ok(match report.exit(deny_warnings) {
            Exit::Success => Exit::Failure,
            e => e,
        });
    }
    Ok(report.exit(deny_warnings))
}

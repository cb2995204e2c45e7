//! `runbook check [PATH]...`: lint runbooks and rehearse their fixtures, for CI.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::check::{self, format::Format};
use crate::config::Config;
use crate::error::{Exit, Result};

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
    let color = format == Format::Human && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
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
    for notice in report.unchecked.notices() {
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

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
) -> Result<Exit> {
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let opts = check::Options { jobs, bless, deny_warnings };
    let report = check::run(config, paths, &opts)?;
    let color = format == Format::Human && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    super::out(&check::format::render(&report, format, color));
    Ok(report.exit(deny_warnings))
}

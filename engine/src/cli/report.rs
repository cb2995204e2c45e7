//! `runbook report RUN_ID`: the incident timeline of a run.

use super::args::ReportFormat;
use crate::config::Config;
use crate::error::{Exit, Result};
use crate::report;

pub fn run(config: &Config, run_id: &str, format: ReportFormat) -> Result<Exit> {
    let dir = report::find(&config.state, run_id)?;
    let r = report::load(&dir)?;
    match format {
        ReportFormat::Md => super::out(&report::markdown(&r)),
        ReportFormat::Json => super::out(&(serde_json::to_string_pretty(&r).map_err(anyhow::Error::from)? + "\n")),
    }
    Ok(Exit::Success)
}

//! `runbook report RUN_ID`: the incident timeline of a run.

use super::args::ReportFormat;
use crate::config::Config;
use crate::error::{Exit, Result};
use crate::report;

pub fn run(config: &Config, run_id: &str, format: ReportFormat) -> Result<Exit> {
    let store = crate::store::open_read(config)?;
    let id = report::find(store.as_ref(), run_id)?;
    let r = report::load(store.as_ref(), &id, Some(&config.root))?;
    match format {
        ReportFormat::Md => super::out(&report::markdown(&r)),
        ReportFormat::Json => super::out(&(serde_json::to_string_pretty(&r).map_err(anyhow::Error::from)? + "\n")),
    }
    Ok(Exit::Success)
}

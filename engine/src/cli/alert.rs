//! `--from-alert FILE|-` of `play` and `plan`: read an Alertmanager payload,
//! pick the runbook (the given id, else `[alerts.runbooks]` by alertname) and
//! the variables its labels map to (`[alerts.labels]`), saying so on stderr.

use crate::config::Config;
use crate::error::{Diagnostic, Error, Result};
use crate::observe::alert;

/// The runbook id to use and the alert's variables (empty without an alert).
pub fn input(config: &Config, id: &str, from_alert: Option<&str>) -> Result<(String, Vec<(String, String)>)> {
    let Some(path) = from_alert else {
        if id.is_empty() {
            return Err(Error::usage(
                "no runbook ID given",
                "runbook play ID (or --from-alert FILE to pick it by alertname)",
            ));
        }
        return Ok((id.to_string(), Vec::new()));
    };
    let shown = if path == "-" { "stdin" } else { path };
    let text = alert::read(path).map_err(|e| {
        Error::invalid(Diagnostic::error("alert", format!("cannot read the alert payload from {shown}: {e}")))
    })?;
    let a = alert::parse(&text)
        .map_err(|(m, h)| Error::invalid(Diagnostic::error("alert", format!("{shown}: {m}")).hint(h)))?;
    let id = if id.is_empty() {
        let picked =
            a.runbook(&config.alerts).map_err(|(m, h)| Error::invalid(Diagnostic::error("alert", m).hint(h)))?;
        picked.to_string()
    } else {
        id.to_string()
    };
    let (vars, notes) = a.vars(&config.alerts);
    let shown_vars: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    crate::errln!(
        "alert {} ({}): {}",
        a.alertname.as_deref().unwrap_or("(no alertname)"),
        a.status,
        if shown_vars.is_empty() { "no variables".to_string() } else { shown_vars.join(" ") }
    );
    for n in notes {
        crate::errln!("  note: {n}");
    }
    Ok((id, vars))
}

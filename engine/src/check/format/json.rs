//! `check --format json`: one document, `{ "runbooks": [...], "summary": {...} }`;
//! each runbook has `findings` (Diagnostics) and `scenarios` (rehearsals).

use super::super::Report;

pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

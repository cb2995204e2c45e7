//! `check --format json`: one document, `{ "runbooks": [...], "summary": {...} }`;
//! each runbook has `findings` (Diagnostics) and `scenarios` (rehearsals).
//! `summary.failed` is the verdict (errors, failed scenarios, or warnings
//! under `deny_warnings`), so that a reader need not redo it.

use super::super::Report;

pub fn render(report: &Report) -> String {
    let doc = serde_json::to_value(report).map(|mut v| {
        if let Some(summary) = v.get_mut("summary").and_then(|s| s.as_object_mut()) {
            summary.insert("failed".into(), report.failed().into());
        }
        v
    });
    let mut s =
        doc.and_then(|v| serde_json::to_string_pretty(&v)).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

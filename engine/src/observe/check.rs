//! What `check` verifies statically in promql, logql and http steps: the
//! `expect` grammar (a mistake is caught at file:line before any play) and
//! the shape of an http request.

use crate::error::Diagnostic;
use crate::model::Runbook;

/// Findings for the query steps of a runbook.
pub fn lint(rb: &Runbook) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for s in &rb.steps {
        let Some(kind) = s.kind.query() else { continue };
        for (off, msg, hint) in super::lint(kind, &s.body, s.attrs.expect.as_deref()) {
            let line = off.map(|o| s.body_line + o).unwrap_or(s.line);
            let code = if off.is_none() { "expect-syntax" } else { "query" };
            out.push(Diagnostic::error(code, format!("step `{}`: {msg}", s.id)).at(&rb.path, line).hint(hint));
        }
    }
    out
}

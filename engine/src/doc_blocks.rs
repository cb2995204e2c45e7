//! A documentation block's `{{ … }}`: a runbook template, or someone else's
//! (a Go or Helm template: `{{ .Values.x }}`, `{{range .items}}`). The wiki
//! shows a foreign one as written and `check` warns about it, so both ask
//! here, below them.

use crate::model::{Attrs, DocBlock, Runbook, Step, StepKind};
use crate::template::Templater;

/// A documentation block as the step a template engine reads: its body,
/// lines and language, no attributes.
pub fn as_step(d: &DocBlock) -> Step {
    let kind = StepKind::from_lang(&d.lang).unwrap_or(StepKind::Manual);
    let kind = if d.is_shell() { StepKind::Bash } else { kind };
    Step {
        id: "doc".into(),
        line: d.line,
        body_line: d.body_line,
        lang: d.lang.clone(),
        kind,
        attrs: Attrs::default(),
        body: d.body.clone(),
        section: None,
    }
}

/// Does a documentation block's `{{ … }}` not compile as a runbook
/// template? Then it is someone else's template, to be shown as written.
pub fn is_foreign(rb: &Runbook, d: &DocBlock) -> bool {
    !Templater::new(rb).check_syntax(&as_step(d)).is_empty()
}

//! Short human descriptions of steps, shared by `show`, `plan` and the wiki.

use crate::model::{OnFail, Step};

/// Tags describing a step's attributes: `read`, `confirm`, `timeout 30s`, …
pub fn tags(s: &Step) -> Vec<String> {
    tags_of(s, s.attrs.confirm.as_deref(), "interactive")
}

/// [`tags`] as `plan` shows them: the `confirm` text rendered (`confirm`:
/// that text, secrets masked), and what an `interactive` step needs.
pub fn plan_tags(s: &Step, confirm: Option<&str>) -> Vec<String> {
    tags_of(s, confirm, "interactive: needs a terminal")
}

fn tags_of(s: &Step, confirm: Option<&str>, interactive: &str) -> Vec<String> {
    let a = &s.attrs;
    let mut t = Vec::new();
    if a.undo {
        t.push("undo".to_string());
    }
    t.push(if a.read { "read" } else { "write" }.to_string());
    if let Some(c) = confirm {
        t.push(if c.is_empty() { "confirm".into() } else { format!("confirm \"{c}\"") });
    }
    if a.interactive {
        t.push(interactive.into());
    }
    if let Some(n) = &a.needs {
        t.push(if n.is_empty() { "root".into() } else { format!("needs {}", n.join(",")) });
    }
    if let Some(w) = &a.when {
        t.push(format!("when {w}"));
    }
    if let Some(d) = a.timeout {
        t.push(format!("timeout {}", humantime::format_duration(d)));
    }
    if a.retry > 0 {
        let delay = a.delay.map(|d| format!(" every {}", humantime::format_duration(d))).unwrap_or_default();
        t.push(format!("retry {}{delay}", a.retry));
    }
    if let Some(e) = &a.expect {
        t.push(format!("expect /{e}/"));
    }
    if let Some(c) = &a.capture {
        t.push(format!("capture {c}"));
    }
    if a.on_fail == OnFail::Continue {
        t.push("on-fail continue".into());
    }
    if let Some(c) = &a.cwd {
        t.push(format!("cwd {c}"));
    }
    if let Some(b) = a.budget {
        t.push(format!("budget {}", humantime::format_duration(b)));
    }
    if let Some(r) = &a.rollback {
        t.push(format!("rollback {r}"));
    }
    t
}

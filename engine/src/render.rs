//! Short human descriptions of steps, shared by `show`, `plan` and the wiki.

use crate::model::{OnFail, Step};

/// The templated attributes of a step as a tag shows them: as written
/// (`show`), or rendered for a play (`plan`).
#[derive(Default)]
pub struct Texts<'a> {
    pub confirm: Option<&'a str>,
    pub expect: Option<&'a str>,
    pub cwd: Option<&'a str>,
    pub escalate: Option<&'a str>,
}

/// Tags describing a step's attributes: `read`, `confirm`, `timeout 30s`, …
pub fn tags(s: &Step) -> Vec<String> {
    let a = &s.attrs;
    let texts = Texts {
        confirm: a.confirm.as_deref(),
        expect: a.expect.as_deref(),
        cwd: a.cwd.as_deref(),
        escalate: a.escalate.as_deref(),
    };
    tags_of(s, &texts, "interactive")
}

/// [`tags`] as `plan` shows them: `confirm`, `expect`, `cwd` and
/// `escalate` rendered as the play would (secrets masked), and what an
/// `interactive` step needs.
pub fn plan_tags(s: &Step, texts: &Texts<'_>) -> Vec<String> {
    tags_of(s, texts, "interactive: needs a terminal")
}

fn tags_of(s: &Step, texts: &Texts<'_>, interactive: &str) -> Vec<String> {
    let a = &s.attrs;
    let mut t = Vec::new();
    if a.undo {
        t.push("undo".to_string());
    }
    t.push(if a.read { "read" } else { "write" }.to_string());
    if let Some(c) = texts.confirm {
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
    if let Some(e) = texts.expect {
        t.push(format!("expect /{e}/"));
    }
    if let Some(c) = &a.capture {
        t.push(format!("capture {c}"));
    }
    if a.on_fail == OnFail::Continue {
        t.push("on-fail continue".into());
    }
    if let Some(c) = texts.cwd {
        t.push(format!("cwd {c}"));
    }
    if let Some(b) = a.budget {
        t.push(format!("budget {}", humantime::format_duration(b)));
    }
    if let Some(e) = texts.escalate {
        t.push(format!("escalate \"{e}\""));
    }
    if let Some(r) = &a.rollback {
        t.push(format!("rollback {r}"));
    }
    t
}

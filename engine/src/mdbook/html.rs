//! The HTML the wiki shows around a runbook: the overview under the title
//! (what the runbook is, its variables, its plan) and the one-line header
//! above each step.
//!
//! It is HTML, not markdown, so that every value is escaped exactly once and
//! nothing a runbook author writes in an attribute can turn into markup. Each
//! fragment is one HTML block without blank lines (a blank line would end the
//! block in CommonMark), balanced, so mdBook 0.5's HTML tree accepts it.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::model::{OnFail, Runbook, Step, StepKind};
use crate::plan::{Dag, EdgeKind};
use crate::template::{BUILTINS, Templater};

/// Escape text for HTML content and attribute values; newlines become spaces
/// so a fragment stays on its lines.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\r' => {}
            '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

fn code(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

/// The HTML anchor of a step, so the plan and headers can link to it.
pub fn anchor(id: &str) -> String {
    format!("step-{id}")
}

fn step_link(id: &str) -> String {
    format!("<a href=\"#{}\"><code>{}</code></a>", esc(&anchor(id)), esc(id))
}

fn links(ids: &[&str]) -> String {
    ids.iter().map(|i| step_link(i)).collect::<Vec<_>>().join(", ")
}

fn dur(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The step header: id, kind, read or write, and every attribute that changes
/// how it runs, in words.
pub fn step_header(rb: &Runbook, s: &Step) -> String {
    let a = &s.attrs;
    let mut parts: Vec<String> = Vec::new();
    let mut title = format!("<strong>Step {}</strong>", code(&s.id));
    if a.undo {
        title = format!("<strong>Undo {}</strong>", code(&s.id));
    }
    parts.push(title);
    parts.push(format!("<span class=\"runbook-kind\">{}</span>", s.kind.name()));
    parts.push(if a.read {
        "<span class=\"runbook-read\">read-only</span>".into()
    } else {
        "<span class=\"runbook-write\">changes the system</span>".into()
    });
    if a.undo {
        let of: Vec<&str> =
            rb.steps.iter().filter(|o| o.attrs.rollback.as_deref() == Some(&s.id)).map(|o| o.id.as_str()).collect();
        if of.is_empty() {
            parts.push("undo block, runs only as a rollback".into());
        } else {
            parts.push(format!("runs only as the rollback of {}", links(&of)));
        }
    }
    match &a.needs {
        Some(n) if n.is_empty() => parts.push("no dependencies".into()),
        Some(n) => {
            let ids: Vec<&str> = n.iter().map(String::as_str).collect();
            parts.push(format!("needs {}", links(&ids)));
        }
        None => {}
    }
    if let Some(w) = &a.when {
        parts.push(format!("only when {}", code(w)));
    }
    if let Some(c) = &a.confirm {
        parts.push(if c.is_empty() {
            "<span class=\"runbook-confirm\">asks before running</span>".into()
        } else {
            format!("<span class=\"runbook-confirm\">asks: “{}”</span>", esc(c))
        });
    }
    if a.interactive {
        parts.push("interactive (uses the terminal)".into());
    }
    if s.kind == StepKind::Manual {
        parts.push("done by hand, the operator confirms".into());
    }
    if let Some(t) = a.timeout {
        parts.push(format!("timeout {}", dur(t)));
    }
    if a.retry > 0 {
        let every = a.delay.map(|d| format!(" every {}", dur(d))).unwrap_or_default();
        parts.push(format!("retried up to {}×{every}", a.retry));
    }
    if let Some(e) = &a.expect {
        if s.kind.query().is_some() {
            parts.push(format!("passes when {}", code(e)));
        } else {
            parts.push(format!("output must match {}", code(e)));
        }
    }
    if let Some(r) = a.range {
        let res = a.step.map(|st| format!(" at {} resolution", dur(st))).unwrap_or_default();
        parts.push(format!("over the last {}{res}", dur(r)));
    }
    if let Some(soak) = a.soak {
        let every = a.delay.map(|d| format!(", every {}", dur(d))).unwrap_or_default();
        parts.push(format!("re-checked for {}{every}; fails the moment it is false", dur(soak)));
    }
    if let Some(c) = &a.capture {
        parts.push(format!("output saved as {}", code(c)));
    }
    if a.on_fail == OnFail::Continue {
        parts.push("a failure does not stop the play".into());
    }
    if let Some(c) = &a.cwd {
        parts.push(format!("runs in {}", code(c)));
    }
    match (a.budget, &a.escalate) {
        (Some(b), Some(e)) => parts.push(format!("budget {}, then: {}", dur(b), esc(e))),
        (Some(b), None) => parts.push(format!("budget {}", dur(b))),
        (None, Some(e)) => parts.push(format!("escalate: {}", esc(e))),
        (None, None) => {}
    }
    if let Some(r) = &a.rollback {
        parts.push(format!("undone by {}", step_link(r)));
    }
    format!(
        "<div class=\"runbook-step\" id=\"{}\"><p>{}</p></div>",
        esc(&anchor(&s.id)),
        parts.join(" <span class=\"runbook-sep\">·</span> ")
    )
}

/// A variable a runbook reads, and where its value can come from.
struct VarRow {
    name: String,
    default: Option<String>,
    /// `(env, value)` for each profile of runbook.toml that sets it.
    envs: Vec<(String, String)>,
    captured_by: Option<String>,
    used_by: Vec<String>,
    secret: bool,
}

fn variables(rb: &Runbook, config: &Config) -> Vec<VarRow> {
    let t = Templater::new(rb);
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &rb.steps {
        for n in t.names_used(s) {
            if !BUILTINS.contains(&n.as_str()) {
                used.entry(n).or_default().push(s.id.clone());
            }
        }
    }
    for k in rb.vars.keys() {
        used.entry(k.clone()).or_default();
    }
    let shown = |name: &str, v: &crate::model::Value| {
        if rb.is_secret(name) { crate::redact::MASK.to_string() } else { crate::vars::as_text(v) }
    };
    used.into_iter()
        .map(|(name, used_by)| VarRow {
            default: rb.vars.get(&name).map(|v| shown(&name, v)),
            envs: config
                .envs
                .values()
                .filter_map(|e| e.vars.get(&name).map(|v| (e.name.clone(), shown(&name, v))))
                .collect(),
            captured_by: rb.steps.iter().find(|s| s.attrs.capture.as_deref() == Some(&name)).map(|s| s.id.clone()),
            secret: rb.is_secret(&name),
            used_by,
            name,
        })
        .collect()
}

/// The overview under the title: how to play it, its variables, its plan.
pub fn overview(rb: &Runbook, dag: &Dag, config: &Config) -> String {
    let mut o = String::from("<div class=\"runbook-overview\">\n");
    let graph: Vec<&Step> = dag.order.iter().map(|&i| &rb.steps[i]).collect();
    let reads = graph.iter().filter(|s| s.attrs.read).count();
    let mut meta = vec![
        format!("<strong>Runbook</strong> {}", code(&rb.id)),
        format!("{} steps ({} read-only, {} changing the system)", graph.len(), reads, graph.len() - reads),
    ];
    meta.push(if rb.envs.is_empty() {
        "any environment".into()
    } else {
        format!("environments: {}", rb.envs.iter().map(|e| code(e)).collect::<Vec<_>>().join(", "))
    });
    if !rb.requires.is_empty() {
        meta.push(format!("requires {}", rb.requires.iter().map(|r| code(r)).collect::<Vec<_>>().join(", ")));
    }
    if let Some(t) = rb.timeout {
        meta.push(format!("time limit {}", dur(t)));
    }
    o.push_str(&format!("<p class=\"runbook-meta\">{}<br>\n", meta.join(" · ")));
    o.push_str(&format!(
        "Play it with {}; triage only with {}; rehearse with {}.</p>\n",
        code(&format!("runbook play {}", rb.id)),
        code("--read-only"),
        code("--dry-run")
    ));

    let vars = variables(rb, config);
    if !vars.is_empty() {
        o.push_str(
            "<p><strong>Variables</strong></p>\n<div class=\"table-wrapper\">\n<table class=\"runbook-vars\">\n",
        );
        o.push_str("<thead><tr><th>variable</th><th>value comes from</th><th>used by</th></tr></thead>\n<tbody>\n");
        for v in &vars {
            let name = if v.secret { format!("{} (secret)", code(&v.name)) } else { code(&v.name) };
            // Sources in precedence order, lowest first (SPEC §2.3).
            let mut from = Vec::new();
            if let Some(d) = &v.default {
                from.push(format!("default {}", code(d)));
            }
            if !v.envs.is_empty() {
                from.push(env_values(&v.envs));
            }
            if let Some(c) = &v.captured_by {
                from.push(format!("captured by {}", step_link(c)));
            }
            if from.is_empty() {
                from.push(format!("required: {}", code(&format!("--set {}=…", v.name))));
            }
            let used = links(&ids(&v.used_by));
            o.push_str(&format!("<tr><td>{name}</td><td>{}</td><td>{used}</td></tr>\n", from.join("<br>")));
        }
        o.push_str("</tbody>\n</table>\n</div>\n");
    }

    o.push_str(
        "<p><strong>Plan</strong> (the order <code>runbook play</code> follows)</p>\n<ol class=\"runbook-plan\">\n",
    );
    for (k, &i) in dag.order.iter().enumerate() {
        let s = &rb.steps[i];
        let mut bits = vec![format!(
            "{} <span class=\"runbook-kind\">{} · {}</span>",
            step_link(&s.id),
            s.kind.name(),
            if s.attrs.read { "read-only" } else { "changes the system" }
        )];
        let needs: Vec<&str> =
            dag.deps(i).iter().filter(|e| e.kind == EdgeKind::Needs).map(|e| rb.steps[e.from].id.as_str()).collect();
        if !needs.is_empty() {
            bits.push(format!("needs {}", links(&needs)));
        }
        let prev = k.checked_sub(1).map(|p| dag.order[p]);
        if let Some(e) = dag.deps(i).iter().find(|e| e.kind == EdgeKind::After)
            && Some(e.from) != prev
        {
            bits.push(format!("after {}", step_link(&rb.steps[e.from].id)));
        }
        if s.attrs.needs.as_ref().is_some_and(Vec::is_empty) {
            bits.push("no dependencies".into());
        }
        if let Some(w) = &s.attrs.when {
            bits.push(format!("only when {}", code(w)));
        }
        if s.attrs.confirm.is_some() {
            bits.push("asks first".into());
        }
        if let Some(r) = &s.attrs.rollback {
            bits.push(format!("undone by {}", step_link(r)));
        }
        if let Some(sec) = &s.section {
            bits.push(format!("<em>{}</em>", esc(sec)));
        }
        o.push_str(&format!("<li>{}</li>\n", bits.join(" — ")));
    }
    o.push_str("</ol>\n");
    let undos: Vec<&Step> = rb.steps.iter().filter(|s| s.attrs.undo).collect();
    if !undos.is_empty() {
        o.push_str("<p><strong>Rollbacks</strong> (run only when a play fails or is rolled back, newest first)</p>\n<ul class=\"runbook-rollbacks\">\n");
        for u in undos {
            let of: Vec<&str> =
                rb.steps.iter().filter(|o| o.attrs.rollback.as_deref() == Some(&u.id)).map(|o| o.id.as_str()).collect();
            let of = if of.is_empty() { "no step names it".to_string() } else { format!("undoes {}", links(&of)) };
            o.push_str(&format!("<li>{} — {of}</li>\n", step_link(&u.id)));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</div>\n");
    o
}

fn ids(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `devnet: a<br>prod: b`, or `devnet, prod: a` when they agree.
fn env_values(envs: &[(String, String)]) -> String {
    let mut groups: Vec<(Vec<&str>, &str)> = Vec::new();
    for (e, v) in envs {
        match groups.iter_mut().find(|(_, gv)| *gv == v) {
            Some((names, _)) => names.push(e),
            None => groups.push((vec![e], v)),
        }
    }
    groups.iter().map(|(names, v)| format!("{}: {}", esc(&names.join(", ")), code(v))).collect::<Vec<_>>().join("<br>")
}

//! The HTML the wiki shows on a runbook page: the header above each step,
//! its code as it runs in each env, and the pieces shared with the overview.
//!
//! It is HTML, not markdown, so that every value is escaped exactly once and
//! nothing a runbook author writes in an attribute can turn into markup. Each
//! fragment is balanced, so mdBook 0.5's HTML tree accepts it. What differs
//! between envs is emitted once per distinct rendering, tagged
//! `data-runbook-env="devnet prod"`; all but the default env's are `hidden`,
//! so the page reads right with scripts off (docs/wiki/runbook.js switches).

use super::views::{Ph, Rendered, Seg, View};
use super::{gate, when};
use crate::config::Config;
use crate::model::{OnFail, Runbook, Step, StepKind};
use crate::plan::Dag;

/// Escape text for HTML content and attribute values; newlines become spaces
/// so a fragment stays on its lines.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => o.push(' '),
            '\r' => {}
            c => push_escaped(&mut o, c),
        }
    }
    o
}

fn push_escaped(o: &mut String, c: char) {
    match c {
        '&' => o.push_str("&amp;"),
        '<' => o.push_str("&lt;"),
        '>' => o.push_str("&gt;"),
        '"' => o.push_str("&quot;"),
        c => o.push(c),
    }
}

/// Escape code, keeping its lines.
fn esc_code(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    s.chars().filter(|c| *c != '\r').for_each(|c| push_escaped(&mut o, c));
    o
}

pub fn code(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

/// The HTML anchor of a step, so the plan and headers can link to it.
pub fn anchor(id: &str) -> String {
    format!("step-{id}")
}

pub fn step_link(id: &str) -> String {
    format!("<a href=\"#{}\"><code>{}</code></a>", esc(&anchor(id)), esc(id))
}

pub fn links(ids: &[&str]) -> String {
    ids.iter().map(|i| step_link(i)).collect::<Vec<_>>().join(", ")
}

pub fn dur(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A placeholder, marked: `<image_tag>` in a styled span that says why.
fn placeholder(ph: &Ph, env: &str) -> String {
    format!("<span class=\"runbook-ph\" title=\"{}\">{}</span>", esc(&ph.title(env)), esc(&ph.text()))
}

/// Rendered text as HTML: code keeps its lines, inline text does not.
pub fn segs(r: &Rendered, env: &str, keep_lines: bool) -> String {
    r.segs
        .iter()
        .map(|s| match s {
            Seg::Text(t) if keep_lines => esc_code(t),
            Seg::Text(t) => esc(t),
            Seg::Ph(p) => placeholder(p, env),
        })
        .collect()
}

/// A runbook page being rendered: the runbook, its plan and its views (the
/// default env first).
pub struct Page<'a> {
    pub rb: &'a Runbook,
    pub config: &'a Config,
    pub dag: &'a Dag,
    pub views: Vec<View<'a>>,
    pub ids: Vec<&'a str>,
}

impl<'a> Page<'a> {
    pub fn new(rb: &'a Runbook, dag: &'a Dag, config: &'a Config) -> Self {
        let views = super::views::views(rb, config);
        Page { rb, config, dag, views, ids: rb.steps.iter().map(|s| s.id.as_str()).collect() }
    }

    /// One fragment per distinct rendering, in view order: the envs that
    /// share it, and the fragment.
    pub fn groups(&self, f: impl Fn(&View) -> String) -> Vec<(Vec<&str>, String)> {
        let mut out: Vec<(Vec<&str>, String)> = Vec::new();
        for v in &self.views {
            let s = f(v);
            match out.iter_mut().find(|(_, o)| *o == s) {
                Some((keys, _)) => keys.push(&v.key),
                None => out.push((vec![&v.key], s)),
            }
        }
        out
    }

    /// `f` for each env; wrapped in `<tag data-runbook-env>` only when the
    /// envs differ. `tag` is `span` or `div`.
    pub fn per_env(&self, tag: &str, class: &str, f: impl Fn(&View) -> String) -> String {
        let groups = self.groups(f);
        if groups.len() == 1 {
            return groups.into_iter().next().map(|(_, s)| s).unwrap_or_default();
        }
        groups
            .iter()
            .enumerate()
            .map(|(i, (keys, s))| format!("<{tag} class=\"{class}\"{}>{s}</{tag}>", env_attrs(keys, i == 0)))
            .collect()
    }

    /// A step's (or documentation block's) code for each env: one `<pre
    /// class="{class}">` per distinct rendering, each line after the first
    /// prefixed with `cont` so it stays in the container (list item, quote)
    /// of the fence.
    pub fn code_blocks(&self, lang: &str, cont: &str, class: &str, render: impl Fn(&View) -> Rendered) -> String {
        let lang_class = if lang.is_empty() { String::new() } else { format!(" class=\"language-{}\"", esc(lang)) };
        let groups = self.groups(|v| {
            let r = render(v);
            let text = segs(&r, &v.key, true);
            text.strip_suffix('\n').unwrap_or(&text).to_string()
        });
        let many = groups.len() > 1;
        let mut out = String::new();
        for (i, (keys, body)) in groups.iter().enumerate() {
            let attrs = if many { env_attrs(keys, i == 0) } else { String::new() };
            let html = format!("<pre class=\"{class}\"{attrs}><code{lang_class}>{body}</code></pre>");
            for (n, line) in html.split('\n').enumerate() {
                if n > 0 || i > 0 {
                    out.push_str(if line.is_empty() { cont.trim_end() } else { cont });
                }
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// A step's `when` for each env, with what the envs decide; "skipped in
    /// every env" once when it is false in all of them.
    pub fn when_per_env(&self, s: &Step) -> String {
        let every = self.views.len() > 1 && self.views.iter().all(|v| v.when(self.rb, s) == Some(false));
        if !every {
            return self.per_env("span", "runbook-env", |v| self.when_html(s, v).unwrap_or_default());
        }
        let words = self.per_env("span", "runbook-env", |v| self.when_words(s, v).unwrap_or_default());
        let by_env = self.views.iter().all(|v| self.ruled_out_by_env(s, v));
        let why = if by_env { String::new() } else { self.with_the_defaults(s) };
        format!("{words} <span class=\"runbook-skip\">(skipped in every env{why})</span>")
    }

    /// `when` in words for one env, the expression on hover; with what the
    /// env decides: "skipped in prod" when its env tests rule it out, "skipped
    /// in prod with the defaults" (and the `--set` that enables it) when the
    /// values of its variables there do.
    pub fn when_html(&self, s: &Step, v: &View) -> Option<String> {
        let mut html = self.when_words(s, v)?;
        if v.when(self.rb, s) == Some(false) {
            let why = if self.ruled_out_by_env(s, v) { String::new() } else { self.with_the_defaults(s) };
            html.push_str(&format!(" <span class=\"runbook-skip\">(skipped in {}{why})</span>", esc(v.label())));
        }
        Some(html)
    }

    fn when_words(&self, s: &Step, v: &View) -> Option<String> {
        let w = s.attrs.when.as_deref()?;
        Some(match when::words(w, &self.ids, &|n| v.known(self.rb, n)) {
            Some(words) => format!("<span class=\"runbook-when\" title=\"when: {}\">{words}</span>", esc(w)),
            None => format!("only when {}", code(w)),
        })
    }

    fn ruled_out_by_env(&self, s: &Step, v: &View) -> bool {
        let w = s.attrs.when.as_deref().unwrap_or_default();
        when::env_rules_out(w, &self.ids, v.env.map(|e| e.name.as_str()).unwrap_or_default())
    }

    /// " with the defaults; to run it: `--set action=rollback`": a step
    /// skipped by the values of its variables runs when they are set.
    fn with_the_defaults(&self, s: &Step) -> String {
        let w = s.attrs.when.as_deref().unwrap_or_default();
        let captured = |n: &str| self.rb.steps.iter().any(|o| o.attrs.capture.as_deref() == Some(n));
        let sets = when::enabling_sets(w, &self.ids, &|n| !captured(n));
        if sets.is_empty() {
            return " with the defaults".into();
        }
        let sets: Vec<String> = sets.iter().map(|x| format!("--set {x}")).collect();
        format!(" with the defaults; to run it: {}", code(&sets.join(" ")))
    }

    /// `expect` in words for one env, the expression on hover.
    pub fn expect_html(&self, s: &Step, v: &View) -> Option<String> {
        let e = s.attrs.expect.as_deref()?;
        let r = v.attr(self.rb, s, "expect", e);
        let body = v.body(self.rb, s).plain();
        let words = (!r.has_placeholders() && !r.as_written).then(|| gate::words(s, &r.plain(), &body)).flatten();
        let shown = r.plain();
        Some(match words {
            Some(w) => {
                format!("<span class=\"runbook-expect\" title=\"expect: {}\">passes when {w}</span>", esc(&shown))
            }
            None if s.kind.query().is_some() => format!("passes when <code>{}</code>", segs(&r, &v.key, false)),
            None => format!("output must match <code>{}</code>", segs(&r, &v.key, false)),
        })
    }

    /// A text attribute (`confirm`, `escalate`) as it reads in each env, as
    /// `runbook plan` shows it: `<span class="runbook-confirm">`, one per
    /// distinct rendering, tagged with its envs when they differ (so
    /// scripts/build-book checks the default env's for leftover templates).
    fn text_attr(&self, s: &Step, name: &'static str, text: &str, wrap: impl Fn(&str) -> String) -> String {
        let groups = self.groups(|v| wrap(&segs(&v.attr(self.rb, s, name, text), &v.key, false)));
        let many = groups.len() > 1;
        groups
            .iter()
            .enumerate()
            .map(|(i, (keys, t))| {
                let attrs = if many { env_attrs(keys, i == 0) } else { String::new() };
                format!("<span class=\"runbook-{name}\"{attrs}>{t}</span>")
            })
            .collect()
    }

    /// The step header: id, kind, read or write, and every attribute that
    /// changes how it runs, in words.
    pub fn step_header(&self, s: &Step) -> String {
        let rb = self.rb;
        let a = &s.attrs;
        let mut parts: Vec<String> = Vec::new();
        parts.push(format!("<strong>{} {}</strong>", if a.undo { "Undo" } else { "Step" }, code(&s.id)));
        parts.push(format!("<span class=\"runbook-kind\">{}</span>", s.kind.name()));
        parts.push(if a.read {
            "<span class=\"runbook-read\">read-only</span>".into()
        } else {
            "<span class=\"runbook-write\">changes the system</span>".into()
        });
        if a.undo {
            let of: Vec<&str> =
                rb.steps.iter().filter(|o| o.attrs.rollback.as_deref() == Some(&s.id)).map(|o| o.id.as_str()).collect();
            parts.push(if of.is_empty() {
                "undo block, runs only as a rollback".into()
            } else {
                format!("runs only as the rollback of {}", links(&of))
            });
        }
        match &a.needs {
            Some(n) if n.is_empty() => parts.push("no dependencies".into()),
            Some(n) => parts.push(format!("needs {}", links(&n.iter().map(String::as_str).collect::<Vec<_>>()))),
            None => {}
        }
        if a.when.is_some() {
            parts.push(self.when_per_env(s));
        }
        if let Some(c) = &a.confirm {
            parts.push(if c.is_empty() {
                "<span class=\"runbook-confirm\">asks before running</span>".into()
            } else {
                self.text_attr(s, "confirm", c, |t| format!("asks: “{t}”"))
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
        if a.expect.is_some() {
            parts.push(self.per_env("span", "runbook-env", |v| self.expect_html(s, v).unwrap_or_default()));
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
            parts.push(self.per_env("span", "runbook-env", |v| {
                format!("runs in <code>{}</code>", segs(&v.attr(rb, s, "cwd", c), &v.key, false))
            }));
        }
        let escalate = a.escalate.as_deref().map(|e| self.text_attr(s, "escalate", e, |t| t.to_string()));
        match (a.budget, escalate) {
            (Some(b), Some(e)) => parts.push(format!("budget {}, then: {e}", dur(b))),
            (Some(b), None) => parts.push(format!("budget {}", dur(b))),
            (None, Some(e)) => parts.push(format!("escalate: {e}")),
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
}

/// ` data-runbook-env="devnet prod"`, and ` hidden` unless it is the default env's.
pub fn env_attrs(keys: &[&str], default: bool) -> String {
    let hidden = if default { "" } else { " hidden" };
    format!(" data-runbook-env=\"{}\"{hidden}", esc(&keys.join(" ")))
}

//! Templating of step bodies and attributes (SPEC §2.3), with minijinja.
//!
//! Substituted values are escaped for where they land: shell-quoted in
//! `bash`/`sh` bodies (so `x; rm -rf /` stays one argument), Python string
//! literals in `python` bodies, verbatim in `manual` checklists, in
//! `expect`/`cwd` and in `confirm` texts (prose for a human). `{{ v | safe }}` opts out. Undefined variables are errors,
//! located at the runbook's line, not the block's.

pub mod bounds;
mod context;
mod json;
use context::longest_id;
pub use context::{Capture, Context, StepState, rewrite_step_refs};
mod derived;
pub use derived::secret_values;
mod found;
mod guard;
#[cfg(test)]
mod guard_prop;
pub mod lines;
pub mod mark;
mod names;
pub use names::{required, required_expr, undeclared, undeclared_expr};
pub mod query;
mod query_role;
pub mod quotes;
mod regions;
pub mod request;
mod shell;
mod sum;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use minijinja::value::Value as JValue;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, escape_formatter};

use crate::error::Diagnostic;
use crate::model::{Runbook, Step, StepKind};

/// Names every template sees besides the variables.
pub const BUILTINS: &[&str] = crate::model::BUILTINS;

/// How a hint tells the user to give variable `name` a value from the
/// command line. `--set` puts the value in argv, which `ps` shows every
/// user, so a secret is given through a file or the environment (README,
/// Security).
pub fn how_to_give(name: &str, secret: bool) -> String {
    if secret { format!("`--set-file {name}=FILE` or `RUNBOOK_VAR_{name}=…`") } else { format!("`--set {name}=…`") }
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("tojson", json::tojson);
    env.add_filter("sum", sum::sum);
    // The Python string, list and dict methods Jinja2 templates use
    // (`ver.startswith('v1')`, `name.split('-')`, `labels.get('app')`).
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_fuel(Some(bounds::FUEL));
    let mut syntax = minijinja::syntax::SyntaxConfig::builder();
    syntax.keep_trailing_newline(true);
    // Bash's `${#array[@]}` would open a Jinja comment `{#`: template
    // comments are `{## … ##}` instead.
    syntax.comment_delimiters("{##", "##}");
    env.set_syntax(syntax.build().expect("valid delimiters"));
    env.set_auto_escape_callback(|name| match name.split(':').next() {
        Some("shell") => AutoEscape::Custom("shell".into()),
        Some("python") => AutoEscape::Custom("python".into()),
        Some("query") => AutoEscape::Custom("query".into()),
        Some("request") => AutoEscape::Custom("request".into()),
        _ => AutoEscape::None,
    });
    env.set_formatter(|out, state, value| {
        bounds::fits(value)?;
        // minijinja displays a boolean as Python does (`True`); outside a
        // `python` body it is written as the front matter and `--set` write
        // it, and as shell idioms test it: `true`/`false`
        // (docs/decisions.md, "Booleans in templates").
        let python = matches!(state.auto_escape(), AutoEscape::Custom(k) if k == "python");
        if !python && let Some(b) = as_bool(value) {
            return out.write_str(if b { "true" } else { "false" }).map_err(minijinja::Error::from);
        }
        let AutoEscape::Custom(kind) = state.auto_escape() else {
            if json::is_map(value) {
                return out.write_str(&json::to_json(value, None)?).map_err(minijinja::Error::from);
            }
            return escape_formatter(out, state, value);
        };
        if value.is_safe() {
            return escape_formatter(out, state, value);
        }
        let text = match kind.as_ref() {
            "shell" => shell_quote(value)?,
            "query" | "request" => mark::mark(&text_of(value)?),
            _ => python_literal(value)?,
        };
        out.write_str(&text).map_err(minijinja::Error::from)
    });
    env
});

/// minijinja's global functions (`range`, `dict`, `namespace`, …).
static GLOBALS: LazyLock<BTreeSet<String>> = LazyLock::new(|| ENV.globals().map(|(n, _)| n.to_string()).collect());

/// How many times `text` calls the global function `name` (`range(3)`), or
/// `None` when it also uses `name` another way (`{{ namespace }}`). A
/// global only called needs no variable; a bare use without a variable of
/// that name is an undefined variable, and a variable shadows the function.
fn global_calls(text: &str, name: &str, expr: bool) -> Option<usize> {
    if !GLOBALS.contains(name) {
        return None;
    }
    calls(text, name, expr)
}

/// How many times `text` calls `name`, or `None` when it also uses `name`
/// another way.
fn calls(text: &str, name: &str, expr: bool) -> Option<usize> {
    let regions = if expr { vec![text] } else { template_regions(text) };
    let mut calls = 0;
    for r in regions {
        for (i, _) in r.match_indices(name) {
            let before = r[..i].chars().next_back();
            let rest = &r[i + name.len()..];
            let word = |c: char| c.is_alphanumeric() || c == '_';
            if before.is_some_and(|c| word(c) || c == '.') || rest.starts_with(word) {
                continue;
            }
            if !rest.trim_start().starts_with('(') {
                return None;
            }
            calls += 1;
        }
    }
    Some(calls)
}

fn shell_quote(value: &JValue) -> Result<String, minijinja::Error> {
    let one = |s: &str| {
        crate::quote::shell_word(s).ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "a value contains a NUL byte, which no shell argument can hold",
            )
        })
    };
    if value.is_none() || value.is_undefined() {
        return Ok("''".into());
    }
    // Each value is marked: [`shell::place`] writes it as a word where
    // the rendered body shows bash reads one.
    let marked = |s: &str| one(s).map(|_| mark::mark(s));
    // A list is a word per item; an item that is itself a list or a map
    // is one word of JSON.
    if matches!(value.kind(), minijinja::value::ValueKind::Seq) {
        let mut words = String::new();
        for v in value.try_iter()? {
            let word = match as_bool(&v) {
                Some(b) => b.to_string(),
                None if v.kind() == minijinja::value::ValueKind::Seq => marked(&json::to_json(&v, None)?)?,
                None => marked(&text_of(&v)?)?,
            };
            if !words.is_empty() {
                words.push(' ');
            }
            words.push_str(&word);
            if words.len() > bounds::MAX_RENDERED {
                return Err(bounds::too_large());
            }
        }
        return Ok(words);
    }
    marked(&text_of(value)?)
}

/// The text a value is written as: a map as JSON ([`json`]), anything else
/// as minijinja displays it.
fn text_of(value: &JValue) -> Result<String, minijinja::Error> {
    if json::is_map(value) { json::to_json(value, None) } else { bounds::display(value) }
}

/// `value` as a boolean, when it is one.
fn as_bool(value: &JValue) -> Option<bool> {
    matches!(value.kind(), minijinja::value::ValueKind::Bool).then(|| value.is_true())
}

fn python_literal(value: &JValue) -> Result<String, minijinja::Error> {
    if let Some(b) = as_bool(value) {
        return Ok(if b { "True" } else { "False" }.into());
    }
    if value.is_number() {
        return Ok(value.to_string());
    }
    Ok(crate::quote::python_str(&text_of(value)?))
}

/// Where a template came from, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Body,
    Attr(&'static str),
}

impl Source {
    /// Where in `step` the template is, as every diagnostic names it:
    /// "step `a`" for the body, "`when` of step `a`" for an attribute.
    pub fn describe(self, step: &Step) -> String {
        match self {
            Source::Body => format!("step `{}`", step.id),
            Source::Attr(a) => format!("`{a}` of step `{}`", step.id),
        }
    }
}

/// The one wording of an undefined variable, for `plan`, `play` and
/// `check` alike: "undefined variable `x` in `when` of step `a`", then
/// `scope` (" in env prod", or empty). Callers add the place and the hint.
pub fn undefined_variable(name: &str, step: &Step, src: Source, scope: &str) -> Diagnostic {
    Diagnostic::error("undefined-variable", format!("undefined variable `{name}` in {}{scope}", src.describe(step)))
        .about(name)
}

/// The one wording of a call of a function there is none of.
pub fn unknown_function(name: &str, step: &Step, src: Source) -> Diagnostic {
    let known: Vec<&str> = GLOBALS.iter().map(String::as_str).collect();
    Diagnostic::error("unknown-function", format!("unknown function `{name}` in {}", src.describe(step)))
        .about(name)
        .hint(format!("the functions a template can call are {}; do other work in the step's code", known.join(", ")))
}

/// The renderer for one runbook.
pub struct Templater<'r> {
    rb: &'r Runbook,
    /// The step ids, sorted, for binary search.
    ids: Vec<&'r str>,
}

impl<'r> Templater<'r> {
    pub fn new(rb: &'r Runbook) -> Self {
        let mut ids: Vec<&str> = rb.steps.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        Templater { rb, ids }
    }

    fn locate(&self, step: &Step, src: Source, e: &minijinja::Error, text: &str) -> Diagnostic {
        let line = match src {
            Source::Body => step.body_line + e.line().unwrap_or(1).saturating_sub(1),
            Source::Attr(_) => step.line,
        };
        let what = src.describe(step);
        let _ = text;
        let mut detail = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
        if e.kind() == minijinja::ErrorKind::UndefinedError {
            // Top-level names were checked before rendering: this is a missing key.
            detail = "undefined value (a missing key, or a step that has not run)".into();
        }
        if e.kind() == minijinja::ErrorKind::OutOfFuel {
            let why = format!("does more work than a template may (minijinja's fuel of {})", bounds::FUEL);
            return Diagnostic::error("template-too-much-work", format!("{what}: {why}"))
                .at(&self.rb.path, line)
                .hint("split the work into steps, or compute it in the step's shell code");
        }
        let code = if e.kind() == minijinja::ErrorKind::SyntaxError { "template-syntax" } else { "template" };
        Diagnostic::error(code, format!("{what}: {detail}"))
            .at(&self.rb.path, line)
            .hint("see https://docs.rs/minijinja for the template syntax; `{{ name }}` inserts a variable")
    }

    /// Is `name` captured by a step (a capture, not a variable, when it is read)?
    fn captured(&self, name: &str) -> bool {
        self.rb.steps.iter().any(|s| s.attrs.capture.as_deref() == Some(name))
    }

    /// 1-based runbook line where `name` first appears in a template of the step.
    pub fn line_of_name(&self, step: &Step, src: Source, name: &str) -> Option<usize> {
        if let Source::Attr(_) = src {
            return Some(step.line);
        }
        step.body
            .lines()
            .position(|l| { l.contains("{{") || l.contains("{%") } && contains_word(l, name))
            .map(|i| step.body_line + i)
    }

    /// Render a step body for execution or display.
    pub fn body(&self, step: &Step, ctx: &Context) -> Result<String, Diagnostic> {
        self.body_as(step, ctx, false)
    }

    /// The step's body rendered with each secret as a placeholder naming it
    /// ([`Runbook::placeheld`]), given or not: its hash tells a resume
    /// whether the step changed without the secrets' values
    /// (`runner::dispatch::hash`).
    pub fn body_masked(&self, step: &Step, ctx: &Context) -> Result<String, Diagnostic> {
        self.body_as(step, ctx, true)
    }

    fn body_as(&self, step: &Step, ctx: &Context, mask: bool) -> Result<String, Diagnostic> {
        let name = match step.kind {
            StepKind::Bash | StepKind::Sh => "shell:body",
            StepKind::Python => "python:body",
            // A value in a query or a request is data: escaped for where it
            // lands, or refused (`query`, `request`).
            StepKind::Promql | StepKind::Logql => "query:body",
            StepKind::Http => "request:body",
            // A checklist is prose: values go in verbatim.
            StepKind::Manual => "text:body",
        };
        let text = self.render(step, Source::Body, name, &step.body, ctx, mask)?;
        let (placed, code, asks, hint) = match name {
            "shell:body" => (shell::place(&text, !mask), "shell-value", "the command", ""),
            "query:body" => (
                query::place(&text),
                "query-value",
                "what the query asks",
                "put the value inside a string (`{pod=\"{{ pod }}\"}`), or write `{{ value | safe }}` when it is meant as query text",
            ),
            "request:body" => (
                request::place(&text),
                "request-value",
                "what the request sends",
                "a value in a URL's path, query or a form body is percent-encoded and in a JSON string JSON-escaped; a whole base URL is `http(s)://host[:port][/path]`; write `{{ value | safe }}` when it is meant as request text (docs/observability.md)",
            ),
            _ => return Ok(text),
        };
        placed.map_err(|m| {
            let line = step.body_line + m.line - 1;
            let kind = step.kind.name();
            let what = match code {
                "query-value" => format!("its {kind} query"),
                "shell-value" => "its body".to_string(),
                _ => "its request".to_string(),
            };
            let what = format!("step `{}`, {what}: {}; it could change {asks}", step.id, m.why);
            let hint = if code == "shell-value" { shell::hint(&m) } else { hint };
            Diagnostic::error(code, what).at(&self.rb.path, line).hint(hint)
        })
    }

    /// The step's `confirm` text rendered (verbatim: it is prose, not
    /// shell); `None` without one, `Some("")` for a bare `confirm`.
    pub fn confirm(&self, step: &Step, ctx: &Context) -> Result<Option<String>, Diagnostic> {
        match &step.attrs.confirm {
            None => Ok(None),
            Some(c) => self.attr(step, "confirm", c, ctx).map(Some),
        }
    }

    /// The step's `escalate` text rendered (verbatim, as `confirm`); `None`
    /// without one.
    pub fn escalate(&self, step: &Step, ctx: &Context) -> Result<Option<String>, Diagnostic> {
        match &step.attrs.escalate {
            None => Ok(None),
            Some(e) => self.attr(step, "escalate", e, ctx).map(Some),
        }
    }

    /// Render an attribute (`expect`, `cwd`, `confirm`, `escalate`) verbatim.
    pub fn attr(&self, step: &Step, attr: &'static str, text: &str, ctx: &Context) -> Result<String, Diagnostic> {
        self.render(step, Source::Attr(attr), "text:attr", text, ctx, false)
    }

    /// A template beyond [`bounds`], as a diagnostic at the step.
    fn bounded(&self, step: &Step, src: Source, text: &str, expr: bool) -> Result<(), Diagnostic> {
        bounds::check(text, expr).map_err(|why| self.too_much(step, src, "template-too-large", why))
    }

    /// `code`: `template-too-large` (the template's own text, a lint of
    /// `check`), `rendered-too-large` (what it renders to, with a play's
    /// values) or `template-too-much-work` (out of fuel).
    fn too_much(&self, step: &Step, src: Source, code: &'static str, why: String) -> Diagnostic {
        let what = src.describe(step);
        Diagnostic::error(code, format!("{what}: {why}"))
            .at(&self.rb.path, step.line)
            .hint("split the work into steps, or compute it in the step's shell code")
    }

    /// `mask`: as [`Templater::body_masked`].
    fn render(
        &self,
        step: &Step,
        src: Source,
        name: &str,
        text: &str,
        ctx: &Context,
        mask: bool,
    ) -> Result<String, Diagnostic> {
        let text = rewrite_step_refs(text, &self.ids);
        // No template syntax: the text is its own rendering (most bodies).
        if !["{{", "{%", "{#"].iter().any(|t| text.contains(t)) {
            return Ok(text);
        }
        self.bounded(step, src, &text, false)?;
        let tmpl = ENV.template_from_named_str(name, &text).map_err(|e| self.locate(step, src, &e, &text))?;
        let names = undeclared(&text);
        let mask = mask.then_some(self.rb);
        // A secret is masked given or not: only the other names must be
        // defined, and of those only the ones not tested for (`is defined`).
        let read: BTreeSet<String> = required(&text)
            .into_iter()
            .filter(|n| mask.is_none_or(|rb| !rb.is_secret(n) || self.captured(n)))
            .collect();
        if let Some(d) = self.missing(step, src, &read, ctx, &text) {
            return Err(d);
        }
        let ids = self.steps_read(&text, &names);
        let out = match bounds::render(&tmpl, ctx.view(Some(&names), ids.as_ref(), mask)) {
            // Should a name escape the analysis, render against everything.
            Err(e) if e.kind() == minijinja::ErrorKind::UndefinedError => {
                bounds::render(&tmpl, ctx.view(None, None, mask))
            }
            r => r,
        };
        let out = match out {
            Err(e) if e.kind() == minijinja::ErrorKind::WriteFailure => {
                let why = format!("renders to more than {} bytes", bounds::MAX_RENDERED);
                return Err(self.too_much(step, src, "rendered-too-large", why));
            }
            out => out.map_err(|e| self.values_read(self.locate(step, src, &e, &text), &e, &names, ctx, "template"))?,
        };
        if mask.is_none()
            && let Some(piece) = self.unmaskable_piece(&text, &names, ctx)
        {
            return Err(self.secret_piece(step, src, &names, ctx, &piece));
        }
        Ok(out)
    }

    /// The refusal of a template that writes a piece of a secret too short
    /// to mask ([`Templater::unmaskable_piece`]); the piece itself is not
    /// shown.
    fn secret_piece(
        &self,
        step: &Step,
        src: Source,
        names: &BTreeSet<String>,
        ctx: &Context,
        piece: &str,
    ) -> Diagnostic {
        let holds = |n: &String| self.rb.is_secret(n) || ctx.vars.get(n).is_some_and(|v| self.rb.holds_secret(n, v));
        let which = names.iter().find(|n| holds(n)).map_or_else(String::new, |n| format!(" `{n}`"));
        let line = names.iter().find(|n| holds(n)).and_then(|n| self.line_of_name(step, src, n)).unwrap_or(step.line);
        let n = piece.chars().count();
        let what = format!(
            "{} writes a piece of secret{which} ({n} character{}) too short to be masked: it would show in the journal, the log and the report",
            src.describe(step),
            if n == 1 { "" } else { "s" }
        );
        Diagnostic::error("secret-piece", what).at(&self.rb.path, line).hint(
            "write the secret whole (`{{ name }}`, masked as `***`), or take it apart in the step's own code, from an environment variable",
        )
    }

    fn missing(
        &self,
        step: &Step,
        src: Source,
        names: &BTreeSet<String>,
        ctx: &Context,
        text: &str,
    ) -> Option<Diagnostic> {
        let expr = src == Source::Attr("when");
        let n = names.iter().find(|n| !ctx.defines(n) && global_calls(text, n, expr).is_none_or(|c| c == 0))?.clone();
        let what = src.describe(step);
        let line = self.line_of_name(step, src, &n).unwrap_or(step.line);
        if calls(text, &n, expr).is_some_and(|c| c > 0) {
            return Some(unknown_function(&n, step, src).at(&self.rb.path, line));
        }
        let secret = self.rb.is_secret(&n);
        let how = how_to_give(&n, secret);
        if ctx.vars.get(&n).is_some_and(|v| v.is_null()) {
            let hint = if secret {
                format!("its default is null (required): give it a value with {how}")
            } else {
                format!("its default is null (required): give it a value with {how} or in the env profile")
            };
            return Some(
                Diagnostic::error("undefined-variable", format!("required variable `{n}` has no value in {what}"))
                    .at(&self.rb.path, line)
                    .about(n.as_str())
                    .hint(hint),
            );
        }
        let hint = if secret {
            format!("give it a value with {how}")
        } else {
            format!("define `{n}` in front matter `vars`, the env profile, or pass {how}")
        };
        Some(undefined_variable(&n, step, src, "").at(&self.rb.path, line).hint(hint))
    }

    /// The step ids a template (after [`rewrite_step_refs`]) reads, when
    /// every use of `steps` names one (`steps.a`, `steps["a-b"]`); `None`
    /// when it may read any (`for s in steps`). Converting only those keeps
    /// a render's cost independent of the number of steps.
    fn steps_read<'t>(&'t self, text: &str, names: &BTreeSet<String>) -> Option<BTreeSet<&'t str>> {
        if !names.contains("steps") {
            return Some(BTreeSet::new());
        }
        let mut ids = BTreeSet::new();
        for (pos, _) in text.match_indices("steps") {
            let before = text[..pos].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let after = &text[pos + 5..];
            if after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let id = if let Some(r) = after.strip_prefix("[\"") {
                r.split('"').next()
            } else if let Some(r) = after.strip_prefix('.') {
                let end = r.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(r.len());
                Some(&r[..end])
            } else {
                None
            }?;
            ids.insert(self.ids[self.ids.binary_search(&id).ok()?]);
        }
        Some(ids)
    }

    /// Evaluate `when`: `Ok(Some(b))`, or `Ok(None)` when it depends on
    /// something only known at run time (captures, step results) and the
    /// context holds placeholders.
    pub fn when(&self, step: &Step, ctx: &Context) -> Result<Option<bool>, Diagnostic> {
        let Some(expr) = &step.attrs.when else { return Ok(Some(true)) };
        let expr = rewrite_step_refs(expr, &self.ids);
        let src = Source::Attr("when");
        self.bounded(step, src, &expr, true)?;
        let compiled = ENV.compile_expression(&expr).map_err(|e| {
            let d = self.locate(step, src, &e, &expr);
            // `when="{{ force }}"`: a template where an expression goes.
            match expr.trim().strip_prefix("{{").and_then(|x| x.strip_suffix("}}")) {
                Some(inner) => {
                    d.hint(format!("`when` is an expression, not a template: write `when=\"{}\"`", inner.trim()))
                }
                None => d,
            }
        })?;
        let names = undeclared_expr(&expr);
        if let Some(d) = self.missing(step, src, &required_expr(&expr), ctx, &expr) {
            return Err(d);
        }
        let ids = self.steps_read(&expr, &names);
        let placeholder = |k: &str| ctx.steps.get(k).is_none_or(|s| s.placeholder);
        let runtime = names.iter().any(|n| {
            (n == "steps"
                && (ctx.steps.is_empty()
                    || match &ids {
                        Some(ids) => ids.iter().any(|k| placeholder(k)),
                        None => ctx.steps.values().any(|s| s.placeholder),
                    }))
                || matches!(ctx.captures.get(n), Some(Capture::Placeholder { .. } | Capture::Unset))
        });
        if runtime {
            return Ok(None);
        }
        let v = match compiled.eval(ctx.view(Some(&names), ids.as_ref(), None)) {
            Err(e) if e.kind() == minijinja::ErrorKind::UndefinedError => compiled.eval(ctx.to_value(None)),
            r => r,
        };
        let v = v.map_err(|e| self.values_read(self.locate(step, src, &e, &expr), &e, &names, ctx, "expression"))?;
        Ok(Some(v.is_true()))
    }

    /// A template that compiled failed on what it read (`n + 1` with
    /// `n = "abc"`): `d` says which values it read (never a secret's) and
    /// where to give others.
    fn values_read(
        &self,
        d: Diagnostic,
        e: &minijinja::Error,
        names: &BTreeSet<String>,
        ctx: &Context,
        what: &str,
    ) -> Diagnostic {
        let read: Vec<String> = names
            .iter()
            .filter(|n| !self.rb.is_secret(n))
            .filter_map(|n| match (ctx.vars.get(n), ctx.captures.get(n)) {
                // A capture is the value a template reads (it shadows a default).
                (_, Some(Capture::Value(c))) => {
                    Some(format!("{n} = {}", shown(&crate::model::Value::String(c.clone()))))
                }
                (Some(v), _) => Some(format!("{n} = {}", shown(&self.rb.shown(n, v)))),
                _ => None,
            })
            .collect();
        if read.is_empty() || matches!(e.kind(), minijinja::ErrorKind::SyntaxError | minijinja::ErrorKind::OutOfFuel) {
            return d;
        }
        Diagnostic { message: format!("{} (it read {})", d.message, read.join(", ")), ..d }.hint(format!(
            "a value it read is not what the {what} expects: give another (`--set NAME=…`, the env profile, front matter `vars`)"
        ))
    }

    /// `steps.<id>` references of the step's templates to no step, with the
    /// attribute they are in (`None`: the body). Inside the body, `cwd` and
    /// `expect` only what is between template delimiters counts; `when` is
    /// an expression throughout.
    pub fn unknown_step_refs(&self, step: &Step) -> Vec<(String, Option<&'static str>)> {
        self.step_refs_of(step, false)
    }

    /// The ids of the steps `step` reads as `steps.<id>`, each once, with
    /// the attribute that reads it first (`None`: its body).
    pub fn known_step_refs(&self, step: &Step) -> Vec<(String, Option<&'static str>)> {
        self.step_refs_of(step, true)
    }

    /// The `steps.<id>` references of `step` to a step of this runbook
    /// (`known`) or to none (the first part of what follows `steps.`).
    fn step_refs_of(&self, step: &Step, known: bool) -> Vec<(String, Option<&'static str>)> {
        let mut out = Vec::new();
        let mut scan = |text: &str, attr: Option<&'static str>| {
            for id in step_refs(text) {
                let k = longest_id(&self.ids, &id).filter(|k| id == *k || id[k.len()..].starts_with('.'));
                let shown = match k {
                    Some(k) if known => k.to_string(),
                    None if !known => id.split('.').next().unwrap_or(&id).to_string(),
                    _ => continue,
                };
                if !out.iter().any(|(o, _)| *o == shown) {
                    out.push((shown, attr));
                }
            }
        };
        for (text, attr) in [(&step.body, None), (step.attrs.cwd.as_ref().unwrap_or(&String::new()), Some("cwd"))] {
            for region in template_regions(text) {
                scan(region, attr);
            }
        }
        for (a, v) in
            [("expect", &step.attrs.expect), ("confirm", &step.attrs.confirm), ("escalate", &step.attrs.escalate)]
        {
            for region in v.iter().flat_map(|x| template_regions(x)) {
                scan(region, Some(a));
            }
        }
        if let Some(w) = &step.attrs.when {
            scan(w, Some("when"));
        }
        out
    }

    /// [`Templater::unknown_step_refs`] as errors at the step's line, with a
    /// did-you-mean: what `check`, `plan` and `play` report (a template
    /// reading `steps.cuont.status` would read an undefined value).
    pub fn unknown_step_ref_errors(&self, step: &Step) -> Vec<Diagnostic> {
        let rb = self.rb;
        self.unknown_step_refs(step)
            .into_iter()
            .map(|(id, attr)| {
                let others = rb.steps.iter().map(|s| s.id.as_str()).filter(|s| *s != step.id);
                let hint = match crate::error::did_you_mean(&id, others) {
                    Some(m) => format!("did you mean `steps.{m}`?"),
                    None => {
                        "`steps.<id>` takes the id of a step of this runbook (`runbook show` lists them)".to_string()
                    }
                };
                let place = attr.map_or("its body".to_string(), |a| format!("`{a}`"));
                Diagnostic::error(
                    "unknown-step-ref",
                    format!("step `{}` refers to `steps.{id}` in {place}, but no step has the id `{id}`", step.id),
                )
                .at(&rb.path, step.line)
                .hint(hint)
            })
            .collect()
    }

    /// Compile every template of the step without rendering (syntax check).
    pub fn check_syntax(&self, step: &Step) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let body = rewrite_step_refs(&step.body, &self.ids);
        if let Err(d) = self.bounded(step, Source::Body, &body, false) {
            out.push(d);
        } else if let Err(e) = ENV.template_from_named_str("shell:body", &body) {
            out.push(self.locate(step, Source::Body, &e, &body));
        }
        for (a, v) in [
            ("expect", &step.attrs.expect),
            ("cwd", &step.attrs.cwd),
            ("confirm", &step.attrs.confirm),
            ("escalate", &step.attrs.escalate),
        ] {
            let Some(v) = v else { continue };
            if let Err(d) = self.bounded(step, Source::Attr(a), v, false) {
                out.push(d);
            } else if let Err(e) = ENV.template_from_named_str("text:attr", v) {
                out.push(self.locate(step, Source::Attr(a), &e, v));
            }
        }
        if let Some(w) = &step.attrs.when {
            let w = rewrite_step_refs(w, &self.ids);
            if let Err(d) = self.bounded(step, Source::Attr("when"), &w, true) {
                out.push(d);
            } else if let Err(e) = ENV.compile_expression(&w) {
                out.push(self.locate(step, Source::Attr("when"), &e, &w));
            }
        }
        out
    }

    /// Whether the step's templates use `name` only to call the global
    /// function of that name (`range(3)`), so it needs no variable.
    pub fn calls_global(&self, step: &Step, name: &str) -> bool {
        GLOBALS.contains(name) && self.only_calls(step, name)
    }

    /// Whether the step's templates use `name` only to call a function
    /// there is none of (`lipsum(2)`, Jinja2's): no variable can be it.
    pub fn calls_unknown(&self, step: &Step, name: &str) -> bool {
        !GLOBALS.contains(name) && self.only_calls(step, name)
    }

    fn only_calls(&self, step: &Step, name: &str) -> bool {
        let mut n = 0;
        for (text, expr) in self.templates(step) {
            match calls(&text, name, expr) {
                Some(c) => n += c,
                None => return false,
            }
        }
        n > 0
    }

    /// Each template of the step, its references to steps rewritten
    /// ([`rewrite_step_refs`]), and whether it is an expression (`when`).
    fn templates(&self, step: &Step) -> Vec<(String, bool)> {
        let a = &step.attrs;
        let texts = [Some(&step.body), a.expect.as_ref(), a.cwd.as_ref(), a.confirm.as_ref(), a.escalate.as_ref()];
        let mut out: Vec<(String, bool)> =
            texts.into_iter().flatten().map(|t| (rewrite_step_refs(t, &self.ids), false)).collect();
        out.extend(a.when.iter().map(|w| (rewrite_step_refs(w, &self.ids), true)));
        out
    }

    /// The first template of the step that reads `name`, in the order a
    /// plan renders them (body, `when`, `expect`, `cwd`, `confirm`): where
    /// an undefined `name` is reported.
    pub fn first_use(&self, step: &Step, name: &str) -> Option<Source> {
        let reads = |t: &str| undeclared(&rewrite_step_refs(t, &self.ids)).contains(name);
        if reads(&step.body) {
            return Some(Source::Body);
        }
        if step.attrs.when.as_ref().is_some_and(|w| undeclared_expr(&rewrite_step_refs(w, &self.ids)).contains(name)) {
            return Some(Source::Attr("when"));
        }
        [
            ("expect", &step.attrs.expect),
            ("cwd", &step.attrs.cwd),
            ("confirm", &step.attrs.confirm),
            ("escalate", &step.attrs.escalate),
        ]
        .into_iter()
        .find(|(_, t)| t.as_deref().is_some_and(reads))
        .map(|(a, _)| Source::Attr(a))
    }

    /// The variables each template of a step reads (top-level names only).
    pub fn names_used(&self, step: &Step) -> BTreeSet<String> {
        self.names(step, undeclared, undeclared_expr)
    }

    /// [`Templater::names_used`] less those only tested for (`is defined`)
    /// or defaulted: the variables the step cannot render without.
    pub fn names_required(&self, step: &Step) -> BTreeSet<String> {
        let mut names = self.names(step, required, required_expr);
        if let Some(w) = &step.attrs.when {
            // The step runs only with them: it reads them only then.
            for n in guard::defined_by_when(w) {
                names.remove(&n);
            }
        }
        names
    }

    /// A name the step's `when` needs defined (`when="tag is defined"`)
    /// that `ctx` does not define: the step does not run, and none of its
    /// templates, which may read that name, is rendered.
    pub fn unmet_guard(&self, step: &Step, ctx: &Context) -> Option<String> {
        let w = step.attrs.when.as_deref()?;
        guard::defined_by_when(w).into_iter().find(|n| !ctx.defines(n))
    }

    fn names(
        &self,
        step: &Step,
        template: fn(&str) -> BTreeSet<String>,
        expr: fn(&str) -> BTreeSet<String>,
    ) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (t, is_expr) in self.templates(step) {
            let names = if is_expr { expr(&t) } else { template(&t) };
            // A global function only called (`range(3)`) is no variable.
            out.extend(names.into_iter().filter(|n| global_calls(&t, n, is_expr).is_none_or(|c| c == 0)));
        }
        out
    }
}

/// The text inside `{{ … }}` and `{% … %}` of a template.
fn template_regions(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start + 1..];
        let close = match after.as_bytes().first() {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let inner = &after[1..];
        let Some(end) = inner.find(close) else { break };
        out.push(&inner[..end]);
        rest = &inner[end + 2..];
    }
    out
}

/// The `<id>` (with what follows it, dots included) of each `steps.<id>` in
/// an expression.
fn step_refs(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (pos, _) in expr.match_indices("steps.") {
        let boundary = pos == 0 || !expr[..pos].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.');
        let token: String =
            expr[pos + 6..].chars().take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')).collect();
        if boundary && !token.is_empty() {
            out.push(token);
        }
    }
    out
}

fn contains_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// A variable's value in a message: as JSON (a string quoted), cut short.
fn shown(v: &crate::model::Value) -> String {
    let text = serde_json::to_string(v).unwrap_or_default();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite() {
        let ids = ["a.b", "miner-logs", "pods"];
        assert_eq!(
            rewrite_step_refs("'X' in steps.miner-logs.stdout and steps.pods.exit", &ids),
            "'X' in steps[\"miner-logs\"].stdout and steps.pods.exit"
        );
        assert_eq!(rewrite_step_refs("mysteps.a.b", &ids), "mysteps.a.b");
        assert_eq!(rewrite_step_refs("steps.a.b.stdout", &ids), "steps[\"a.b\"].stdout");
        // Not the known `miner-logs`: an unknown step, still one name.
        assert_eq!(rewrite_step_refs("steps.miner-logsx", &ids), "steps[\"miner-logsx\"]");
        assert_eq!(rewrite_step_refs("steps.get-revv.stdout", &ids), "steps[\"get-revv\"].stdout");
        assert_eq!(rewrite_step_refs("steps.pods.exit-1", &ids), "steps.pods.exit-1");
    }

    #[test]
    fn quotes_hostile_values() {
        let v = JValue::from("x; rm -rf / $(touch pwned) `id` \"q\" 'q'\nnl");
        let q = shell::place(&shell_quote(&v).unwrap(), true).unwrap();
        assert_eq!(shlex::split(&q).unwrap(), vec![v.as_str().unwrap().to_string()]);
    }
}

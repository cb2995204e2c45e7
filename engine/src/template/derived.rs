//! Values derived from a secret are secret: `{{ tok | upper }}`,
//! `{{ tok[:6] }}` or `{{ tok | replace('-', '') }}` render text that is
//! none of the secret's forms, so redaction, which masks known values in
//! output text, must know those renderings too. Every `{{ … }}` expression
//! of the runbook whose value changes when the secrets it reads are
//! replaced by placeholders renders a secret: its value joins the masked
//! values, whatever filter made it. A value a statement derives
//! (`{% set t = tok | upper %}{{ t }}`, a `{% for %}` loop's variable, a
//! macro's argument) is read by no expression as a secret: a template with
//! statements is rendered whole, with the secrets and with their
//! placeholders, and each value it writes only with the secrets joins the
//! masked values.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::LazyLock;

use minijinja::value::{Value as JValue, ValueKind};
use minijinja::{AutoEscape, Environment};

use crate::model::{Runbook, Vars};
use crate::redact::Redactor;

use super::{Capture, Context, ENV, Templater, bounds, rewrite_step_refs, undeclared, undeclared_expr};

thread_local! {
    /// What [`WRITER`]'s renders on this thread wrote, value by value.
    static WRITTEN: RefCell<Vec<JValue>> = const { RefCell::new(Vec::new()) };
}

/// The templates' environment, but its formatter writes nothing and keeps
/// each value written, `| safe` or not, in [`WRITTEN`].
static WRITER: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = ENV.clone();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(|_, _, value| {
        WRITTEN.with(|w| w.borrow_mut().push(value.clone()));
        Ok(())
    });
    env
});

/// Each value `text` writes rendered against `ctx`, or `None` if it fails.
fn written(text: &str, ctx: JValue) -> Option<Vec<JValue>> {
    WRITTEN.with(|w| w.borrow_mut().clear());
    let ok = WRITER.render_str(text, ctx).is_ok();
    let values = WRITTEN.with(|w| std::mem::take(&mut *w.borrow_mut()));
    ok.then_some(values)
}

impl Templater<'_> {
    /// Every value to mask given this context: each secret's value
    /// ([`crate::model::Runbook::secret_values`]) and what each template
    /// expression of the runbook that reads a secret renders from it
    /// ([`Templater::derived_secrets`]).
    pub fn secret_values(&self, ctx: &Context) -> Vec<String> {
        let mut out = self.rb.secret_values(&ctx.vars);
        out.extend(self.derived_secrets(ctx));
        out
    }

    /// What each `{{ … }}` expression of a step body or attribute renders
    /// when it depends on a secret's value: it renders otherwise with each
    /// secret as its placeholder (or fails so). An expression that cannot be
    /// evaluated yet (a capture, a step's output not known) gives nothing; a
    /// boolean or none gives nothing (`true` is no secret), nor a value
    /// that shows a secret as it is (`{{ "Bearer " ~ tok }}`, a map with a
    /// secret part): masking that secret masks it.
    pub fn derived_secrets(&self, ctx: &Context) -> Vec<String> {
        let mut known = self.rb.secret_values(&ctx.vars);
        for (n, c) in &ctx.captures {
            if let (true, Capture::Value(v)) = (self.rb.is_secret(n), c) {
                known.push(v.clone());
            }
        }
        let known = Redactor::new(known);
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for s in &self.rb.steps {
            let a = &s.attrs;
            let texts = [Some(&s.body), a.confirm.as_ref(), a.escalate.as_ref(), a.expect.as_ref(), a.cwd.as_ref()];
            for text in texts.into_iter().flatten() {
                let text = rewrite_step_refs(text, &self.ids);
                let mut new = Vec::new();
                for e in expressions(&text) {
                    if !seen.contains(e) {
                        seen.insert(e.to_string());
                        new.extend(self.derived(e, ctx));
                    }
                }
                if text.contains("{%") && seen.insert(text.clone()) {
                    new.extend(self.written_derived(&text, ctx));
                }
                // What shows a secret as it is is masked already, and the
                // rest of it (`{'password': …, 'user': 'bot'}`) is no secret.
                out.extend(new.into_iter().filter(|v| known.redact(v) == v.as_str()));
            }
        }
        out
    }

    /// Whether `names` holds a secret or a variable holding one.
    fn reads_secret(&self, names: &BTreeSet<String>, ctx: &Context) -> bool {
        names.iter().any(|n| self.rb.is_secret(n) || ctx.vars.get(n).is_some_and(|v| self.rb.holds_secret(n, v)))
    }

    /// `ctx` with each secret capture as its placeholder; [`Context::view`]
    /// with the runbook puts the secret variables' placeholders in.
    fn placeheld(&self, ctx: &Context) -> Context {
        let mut placeheld = ctx.clone();
        for (n, c) in placeheld.captures.iter_mut().filter(|(n, _)| self.rb.is_secret(n)) {
            *c = Capture::Value(crate::model::placeholder(n));
        }
        placeheld
    }

    /// What template `text` writes, rendered whole, that it does not write
    /// with each secret as its placeholder (or nothing if either render
    /// fails: a capture or a step's output not known yet).
    fn written_derived(&self, text: &str, ctx: &Context) -> Vec<String> {
        if bounds::check(text, false).is_err() {
            return Vec::new();
        }
        let names = undeclared(text);
        if !self.reads_secret(&names, ctx) {
            return Vec::new();
        }
        let real = ctx.view(Some(&names), None, None);
        let held = self.placeheld(ctx).view(Some(&names), None, Some(self.rb));
        super::found::found("text", text, &real, &held, || written_apart(text, real.clone(), held.clone()))
    }

    /// A piece of a secret that template `text` writes and no redactor can
    /// mask: a value that depends on a secret's value (it differs where the
    /// secrets are placeholders), is not a secret's whole value, and is
    /// shorter than [`crate::redact::MIN_LEN`]: a character of a `{% for %}`
    /// over the secret, a slice (`{{ tok[:3] }}`), the last part of a split.
    /// Masking a one-letter text everywhere is not possible, so such a
    /// template is refused rather than shown. A number computed from a
    /// secret (its length) is not its text, and is written. `names`: the
    /// names `text` reads.
    pub(super) fn unmaskable_piece(&self, text: &str, names: &BTreeSet<String>, ctx: &Context) -> Option<String> {
        if !self.reads_secret(names, ctx) {
            return None;
        }
        let whole: BTreeSet<String> = self.rb.secret_values(&ctx.vars).into_iter().collect();
        let short = |v: &JValue| {
            let t = v.to_string();
            let n = t.chars().count();
            (matches!(v.kind(), ValueKind::String | ValueKind::Seq | ValueKind::Map)
                && n > 0
                && n < crate::redact::MIN_LEN
                && !whole.contains(&t))
            .then_some(t)
        };
        if text.contains("{%") {
            let real = written(text, ctx.view(Some(names), None, None))?;
            let held = written(text, self.placeheld(ctx).view(Some(names), None, Some(self.rb)))?;
            return real.iter().enumerate().filter(|(i, v)| held.get(*i) != Some(*v)).find_map(|(_, v)| short(v));
        }
        for e in expressions(text) {
            let Ok(compiled) = ENV.compile_expression(e) else { continue };
            let Ok(real) = compiled.eval(ctx.view(Some(names), None, None)) else { continue };
            let held = compiled.eval(self.placeheld(ctx).view(Some(names), None, Some(self.rb)));
            if held.as_ref().is_ok_and(|h| *h == real) {
                continue;
            }
            if let Some(t) = short(&real) {
                return Some(t);
            }
        }
        None
    }

    fn derived(&self, expr: &str, ctx: &Context) -> Vec<String> {
        if bounds::check(expr, true).is_err() {
            return Vec::new();
        }
        let names = undeclared_expr(expr);
        if !self.reads_secret(&names, ctx) {
            return Vec::new();
        }
        let real = ctx.view(Some(&names), None, None);
        let held = self.placeheld(ctx).view(Some(&names), None, Some(self.rb));
        super::found::found("expr", expr, &real, &held, || evaluated_apart(expr, real.clone(), held.clone()))
    }
}

/// The texts of what `expr` evaluates to against `real` when that is not
/// what it evaluates to against `held`, nor a boolean or none.
fn evaluated_apart(expr: &str, real: JValue, held: JValue) -> Vec<String> {
    let Ok(compiled) = ENV.compile_expression(expr) else { return Vec::new() };
    let Ok(real) = compiled.eval(real) else { return Vec::new() };
    if matches!(real.kind(), ValueKind::Bool | ValueKind::None | ValueKind::Undefined) {
        return Vec::new();
    }
    if compiled.eval(held).is_ok_and(|h| h == real) {
        return Vec::new();
    }
    texts(&real)
}

/// The texts of each value template `text` writes against `real` that it
/// does not write against `held` (nothing if either render fails), but a
/// boolean or none.
fn written_apart(text: &str, real: JValue, held: JValue) -> Vec<String> {
    let Some(real) = written(text, real) else { return Vec::new() };
    let Some(held) = written(text, held) else { return Vec::new() };
    // Sets: a line may write a value tens of thousands of times, and
    // each is made into its texts once.
    let held: std::collections::HashSet<&JValue> = held.iter().collect();
    let mut kept = std::collections::HashSet::new();
    real.iter()
        .filter(|v| !matches!(v.kind(), ValueKind::Bool | ValueKind::None | ValueKind::Undefined))
        .filter(|v| !held.contains(v) && kept.insert(*v))
        .flat_map(texts)
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect()
}

/// [`Templater::secret_values`] with these variables alone (no capture,
/// no step output known).
pub fn secret_values(rb: &Runbook, vars: &Vars) -> Vec<String> {
    Templater::new(rb).secret_values(&Context { vars: vars.clone(), ..Default::default() })
}

/// A rendered value as the redactor is given a secret: its text, and a list
/// or map as its JSON text too (each leaf of it is masked).
fn texts(v: &JValue) -> Vec<String> {
    let mut out = vec![v.to_string()];
    if matches!(v.kind(), ValueKind::Seq | ValueKind::Map | ValueKind::Iterable)
        && let Ok(json) = serde_json::to_string(v)
    {
        out.push(json);
    }
    out
}

/// The expression inside each `{{ … }}` of a template, without its
/// whitespace control (`{{- x -}}`).
fn expressions(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let inner = &rest[start + 2..];
        let Some(end) = inner.find("}}") else { break };
        let e = inner[..end].trim();
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        let e = e.strip_suffix(['-', '+']).unwrap_or(e);
        out.push(e.trim());
        rest = &inner[end + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_without_whitespace_control() {
        assert_eq!(expressions("a {{- tok | upper -}} b {{x}} {% if y %}"), ["tok | upper", "x"]);
    }
}

//! A value given for a variable that only chooses between branches
//! (`when="action == 'rollback'"`) and chooses none of them.
//!
//! `--set action=rolback` on a runbook whose steps run `when="action ==
//! 'upgrade'"` or `when="action == 'rollback'"` would skip every one of
//! them, and the play would pass having done nothing. The runbook names
//! the values it knows in its conditions, so no new front matter is
//! needed to know a typo: a given value is refused (exit 2, with
//! did-you-mean) when all of this holds:
//!
//! - it came from outside the runbook (`--set`, `--set-file`,
//!   `RUNBOOK_VAR_`, the env profile, an alert), and is text;
//! - the runbook reads the variable only in `when` conditions, each
//!   decided before the play (none reads a capture or a step's result);
//! - with it, every one of those conditions is false, as it is for a value
//!   the runbook never names, and some value the conditions name (a string
//!   literal in them) makes one true.
//!
//! A condition that an unnamed value makes true (`mode != 'safe'`) means
//! that other values are meant: then nothing is refused.

use crate::error::Diagnostic;
use crate::model::{Runbook, Step, Value};
use crate::template::{Context, Templater, undeclared};

use super::{Origin, Resolved};

/// A value no literal of a runbook is: what "a value the runbook never
/// names" does to its conditions.
const UNNAMED: &str = "\u{1}runbook: no value the runbook names";

/// One error for each given value that turns on none of the conditions
/// that read its variable, where a value the runbook names would.
pub fn unmatched(rb: &Runbook, vars: &Resolved, ctx: &Context) -> Vec<Diagnostic> {
    let t = Templater::new(rb);
    let mut out = Vec::new();
    for (name, value) in &vars.vars {
        let Value::String(given) = value else { continue };
        if !matches!(vars.origin.get(name), Some(Origin::Set | Origin::Env | Origin::Alert)) {
            continue;
        }
        let Some(gating) = gating_steps(rb, name) else { continue };
        let holds = |v: &str| -> Option<bool> {
            let mut c = ctx.clone();
            c.vars.insert(name.clone(), Value::String(v.to_string()));
            gating.iter().try_fold(false, |any, s| Some(any | t.when(s, &c).ok()??))
        };
        if holds(given) != Some(false) || holds(UNNAMED) != Some(false) {
            continue;
        }
        let mut known: Vec<String> = Vec::new();
        for s in &gating {
            for lit in literals(s.attrs.when.as_deref().unwrap_or_default()) {
                if !known.contains(&lit) && holds(&lit) == Some(true) {
                    known.push(lit);
                }
            }
        }
        if known.is_empty() {
            continue;
        }
        out.push(refusal(rb, name, given, vars.origin.get(name), &known, &gating));
    }
    out
}

/// The steps whose `when` reads `name`, when nothing else of the runbook
/// reads it (a body, `expect`, `cwd`, a `confirm` text); `None` otherwise,
/// or when no `when` does.
fn gating_steps<'r>(rb: &'r Runbook, name: &str) -> Option<Vec<&'r Step>> {
    let mut gating = Vec::new();
    for s in &rb.steps {
        let texts = [Some(&s.body), s.attrs.expect.as_ref(), s.attrs.cwd.as_ref(), s.attrs.confirm.as_ref()];
        if texts.into_iter().flatten().any(|t| undeclared(t).contains(name)) {
            return None;
        }
        if s.attrs.when.as_deref().is_some_and(|w| crate::template::undeclared_expr(w).contains(name)) {
            gating.push(s);
        }
    }
    (!gating.is_empty()).then_some(gating)
}

fn refusal(
    rb: &Runbook,
    name: &str,
    given: &str,
    origin: Option<&Origin>,
    known: &[String],
    gating: &[&Step],
) -> Diagnostic {
    let from = match origin {
        Some(Origin::Env) => " (from the env profile)",
        Some(Origin::Alert) => " (from the alert)",
        _ => "",
    };
    let ids: Vec<String> = gating.iter().map(|s| format!("`{}` (line {})", s.id, s.line)).collect();
    let values: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    let mean = crate::error::did_you_mean(given, known.iter().map(String::as_str))
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    Diagnostic::error(
        "unknown-value",
        format!(
            "{name} = \"{}\"{from} turns on none of the steps that depend on it: {}; the play would skip them all",
            given.escape_debug(),
            ids.join(", ")
        ),
    )
    .at(&rb.path, gating[0].line)
    .hint(format!("{mean}the runbook's conditions name {}", values.join(", ")))
}

/// The string literals of an expression (`'rollback'`, `"up"`), unescaped.
fn literals(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        if c != '\'' && c != '"' {
            continue;
        }
        let mut lit = String::new();
        let mut closed = false;
        while let Some(d) = chars.next() {
            match d {
                '\\' => lit.extend(chars.next()),
                d if d == c => {
                    closed = true;
                    break;
                }
                d => lit.push(d),
            }
        }
        if closed {
            out.push(lit);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_read_with_either_quote_and_escapes() {
        assert_eq!(literals(r#"a == 'up' or a in ["x\"y", 'it\'s']"#), ["up", "x\"y", "it's"]);
        assert_eq!(literals("a == 'open"), Vec::<String>::new());
    }
}

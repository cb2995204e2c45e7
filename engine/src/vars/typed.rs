//! Values from outside the runbook take the type of the declared default
//! (SPEC §2.1), and `check` warns where a `when` would compare text with a
//! number.
//!
//! What "reads as that type" means:
//!
//! | default | a text value becomes | otherwise |
//! |---|---|---|
//! | integer (`0`) | an integer when it is one (`7`, `-2`) | text (`1e3`, `0.5`, `v41`) |
//! | float (`1.5`) | a float when it is a number (`0.5`, `1e3`; `1` is `1.0`) | text |
//! | boolean | `true`/`false`, any case | text (`yes`) |
//! | list | a YAML/JSON flow list (`[a, b]`); any other text is a one-item list; items take the type of the default's first item | — |
//! | map | a YAML/JSON flow map (`{a: 1}`) | text |
//! | text | text (a number or boolean from a TOML profile becomes its text) | — |
//! | null (required) or none | as given | — |
//!
//! A number never becomes a number of another type: `--set n=1e3` against
//! `n: 0` is the text `1e3`, not the float `1000.0` (which `{{ n }}` would
//! render as `1000.0`). A TOML integer of an env profile against a float
//! default is that float; a TOML float against an integer default stays as
//! written. What does not read as the default's type is used as given, as
//! the SPEC's "when it parses as that type" says, and `play` and `plan` warn
//! about a value from the command line that does not ([`mismatch`]): an
//! alert's label or an env profile that cannot be typed is not a reason to
//! refuse a play (docs/decisions.md).

use crate::error::Diagnostic;
use crate::model::{Runbook, Value};

/// `v` in the type of `default`, when it reads as one.
pub fn typed(default: Option<&Value>, v: Value) -> Value {
    let Some(d) = default else { return v };
    match (d, v) {
        (Value::Number(d), Value::String(s)) => number(&s, d.is_f64()).map_or(Value::String(s), Value::Number),
        (Value::Number(d), Value::Number(n)) if d.is_f64() && !n.is_f64() => {
            n.as_f64().and_then(serde_json::Number::from_f64).map_or(Value::Number(n), Value::Number)
        }
        (Value::Bool(_), Value::String(s)) => boolean(&s).map_or(Value::String(s), Value::Bool),
        (Value::String(_), v @ (Value::Number(_) | Value::Bool(_))) => Value::String(v.to_string()),
        (Value::Array(items), Value::String(s)) => {
            let list = match flow(&s, '[', ']') {
                Some(Value::Array(l)) => l,
                _ => vec![Value::String(s)],
            };
            Value::Array(list.into_iter().map(|x| typed(items.first(), x)).collect())
        }
        (Value::Object(_), Value::String(s)) => match flow(&s, '{', '}') {
            Some(m @ Value::Object(_)) => m,
            _ => Value::String(s),
        },
        (_, v) => v,
    }
}

/// `s` as an integer, or as a float when `float` (any number: `1` is `1.0`).
fn number(s: &str, float: bool) -> Option<serde_json::Number> {
    let t = s.trim();
    if float {
        // JSON's grammar: no `inf`, `NaN`, `.5` or `1.`.
        let n = serde_json::from_str::<serde_json::Number>(t).ok()?;
        return n.as_f64().and_then(serde_json::Number::from_f64);
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(i.into());
    }
    t.parse::<u64>().ok().map(Into::into)
}

/// What a text value for a variable with this default should have been, when it does
/// not read as the default's type (`a whole number`), for a warning. Lists,
/// maps and text take any text.
pub fn mismatch(default: Option<&Value>, text: &str) -> Option<&'static str> {
    match default? {
        Value::Number(d) if number(text, d.is_f64()).is_none() => {
            Some(if d.is_f64() { "a number" } else { "a whole number" })
        }
        Value::Bool(_) if boolean(text).is_none() => Some("true or false"),
        _ => None,
    }
}

fn boolean(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A YAML flow collection (JSON is one) between `open` and `close`.
fn flow(s: &str, open: char, close: char) -> Option<Value> {
    let t = s.trim();
    if !(t.starts_with(open) && t.ends_with(close)) {
        return None;
    }
    serde_saphyr::from_str::<Value>(t).ok()
}

/// A token of a `when` expression, as far as comparisons matter.
#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Num,
    Op(&'a str),
    Other(char),
}

fn tokens(expr: &str) -> Vec<Tok<'_>> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b'\'' | b'"' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push(Tok::Other('s'));
                continue;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Tok::Ident(&expr[start..i]));
                continue;
            }
            b'0'..=b'9' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                    i += 1;
                }
                out.push(Tok::Num);
                continue;
            }
            b'=' | b'!' | b'<' | b'>' => {
                i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 };
                out.push(Tok::Op(&expr[start..i]));
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            c if c.is_ascii() => out.push(Tok::Other(c as char)),
            _ => out.push(Tok::Other('?')),
        }
        i += 1;
    }
    out
}

/// Names of a `when` compared with a number literal (`revision == 0`,
/// `3 < replicas`), bare: not an attribute (`steps.a.exit`), not filtered
/// (`x | int`), not called.
fn compared_with_numbers(expr: &str) -> Vec<&str> {
    const KEYWORDS: &[&str] = &["and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "loop"];
    let t = tokens(expr);
    let mut out = Vec::new();
    for i in 0..t.len() {
        let Tok::Op(op) = t[i] else { continue };
        if !matches!(op, "==" | "!=" | "<" | ">" | "<=" | ">=") {
            continue;
        }
        let num_right = matches!(t.get(i + 1), Some(Tok::Num))
            || (t.get(i + 1) == Some(&Tok::Other('-')) && matches!(t.get(i + 2), Some(Tok::Num)));
        let num_left = i > 0 && t[i - 1] == Tok::Num;
        let left = match i.checked_sub(1).map(|j| &t[j]) {
            Some(Tok::Ident(n)) if !matches!(i.checked_sub(2).map(|j| &t[j]), Some(Tok::Other('.' | '|'))) => Some(*n),
            _ => None,
        };
        let right = match t.get(i + 1) {
            Some(Tok::Ident(n)) if !matches!(t.get(i + 2), Some(Tok::Other('.' | '[' | '(' | '|'))) => Some(*n),
            _ => None,
        };
        let name = match (left, right) {
            (Some(n), _) if num_right => n,
            (_, Some(n)) if num_left => n,
            _ => continue,
        };
        if !KEYWORDS.contains(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// `when` conditions that compare a variable with a number although the
/// variable has no number default: a value from `--set`, the env or an
/// alert is then text, and `"0" == 0` is false. A captured value is text
/// too.
pub fn untyped_comparisons(rb: &Runbook) -> Vec<Diagnostic> {
    let captured = |n: &str| rb.steps.iter().any(|s| s.attrs.capture.as_deref() == Some(n));
    let mut out = Vec::new();
    for s in &rb.steps {
        let Some(w) = &s.attrs.when else { continue };
        for name in compared_with_numbers(w) {
            if crate::template::BUILTINS.contains(&name) || matches!(rb.vars.get(name), Some(Value::Number(_))) {
                continue;
            }
            let (why, hint) = if captured(name) {
                (
                    format!("`{name}` is captured, and a captured value is text"),
                    format!("compare `{name} | int` (or `| float`)"),
                )
            } else {
                (
                    format!(
                        "`{name}` has no number default, so a value from --set, the env or an alert is text, and \"0\" == 0 is false"
                    ),
                    format!(
                        "give `{name}` a number default in front matter `vars` (values then take its type), or compare `{name} | int`"
                    ),
                )
            };
            out.push(
                Diagnostic::warning(
                    "untyped-comparison",
                    format!("`when` of step `{}` compares `{name}` with a number: {why}", s.id),
                )
                .at(&rb.path, s.line)
                .hint(hint),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(default: Value, given: &str) -> Value {
        typed(Some(&default), Value::String(given.into()))
    }

    #[test]
    fn text_takes_the_default_type() {
        assert_eq!(t(json!(0), "0"), json!(0));
        assert_eq!(t(json!(0), " 41 "), json!(41));
        assert_eq!(t(json!(1.5), "0.25"), json!(0.25));
        assert_eq!(t(json!(0), "-3"), json!(-3));
        assert_eq!(t(json!(0), "18446744073709551615"), json!(u64::MAX));
        assert_eq!(t(json!(0), "v41"), json!("v41"));
        assert_eq!(t(json!(0), "NaN"), json!("NaN"));
        assert_eq!(t(json!(false), "TRUE"), json!(true));
        assert_eq!(t(json!(false), "yes"), json!("yes"));
        assert_eq!(t(json!("x"), "0"), json!("0"));
        assert_eq!(typed(Some(&json!("x")), json!(7)), json!("7"));
        assert_eq!(t(json!(["a"]), "[b, c]"), json!(["b", "c"]));
        assert_eq!(t(json!(["a"]), "b,c"), json!(["b,c"]));
        assert_eq!(t(json!([80]), "[8080, 443]"), json!([8080, 443]));
        assert_eq!(t(json!([80]), "8080"), json!([8080]));
        assert_eq!(t(json!({"a": 1}), "{a: 2}"), json!({"a": 2}));
        assert_eq!(t(json!({"a": 1}), "a=2"), json!("a=2"));
        assert_eq!(t(Value::Null, "0"), json!("0"));
        assert_eq!(typed(None, json!("0")), json!("0"));
    }

    #[test]
    fn a_number_never_becomes_a_number_of_another_type() {
        // What does not read as an integer is text, not a float.
        assert_eq!(t(json!(0), "1e3"), json!("1e3"));
        assert_eq!(t(json!(0), "0.5"), json!("0.5"));
        assert_eq!(t(json!(0), "1.0"), json!("1.0"));
        // A float default takes any number, as a float.
        assert_eq!(t(json!(0.5), "1e3"), json!(1000.0));
        assert_eq!(t(json!(0.5), "1"), json!(1.0));
        assert_eq!(t(json!(0.5), "abc"), json!("abc"));
        assert_eq!(t(json!(0.5), "inf"), json!("inf"));
        // TOML numbers of an env profile.
        assert_eq!(typed(Some(&json!(0.5)), json!(2)), json!(2.0));
        assert_eq!(typed(Some(&json!(0)), json!(2.5)), json!(2.5));
        assert_eq!(typed(Some(&json!(0)), json!(7)), json!(7));
        for (default, given, expected) in [
            (json!(0), "1e3", Some("a whole number")),
            (json!(0), "41", None),
            (json!(0.5), "1e3", None),
            (json!(0.5), "x", Some("a number")),
            (json!(false), "yes", Some("true or false")),
            (json!(false), "True", None),
            (json!("x"), "1e3", None),
            (json!(["a"]), "b", None),
        ] {
            assert_eq!(mismatch(Some(&default), given), expected, "{default} {given}");
        }
        assert_eq!(mismatch(None, "x"), None);
    }

    #[test]
    fn finds_comparisons_with_numbers() {
        assert_eq!(compared_with_numbers("revision == 0"), ["revision"]);
        assert_eq!(compared_with_numbers("3 < replicas and x == 'a'"), ["replicas"]);
        assert_eq!(compared_with_numbers("lag >= -1"), ["lag"]);
        assert!(compared_with_numbers("steps.a.exit == 0").is_empty());
        assert!(compared_with_numbers("revision | int == 0").is_empty());
        assert!(compared_with_numbers("'a == 0' in x").is_empty());
        assert!(compared_with_numbers("len(x) > 2").is_empty());
        assert!(compared_with_numbers("x[0] == 1").is_empty());
    }
}

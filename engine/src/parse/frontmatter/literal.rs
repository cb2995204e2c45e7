//! Numbers and dates kept as their author wrote them.
//!
//! A value's text in a command is its rendering, and a YAML or TOML number
//! loses its spelling once read: `1.10` renders `1.1`, `1e3` `1000.0`, an
//! integer beyond 64 bits becomes a float with other digits, a TOML date a
//! serde wrapper. Front matter and runbook.toml keep such a value as text,
//! exactly as written (docs/decisions.md, "Numbers as written").

use crate::model::Value;

/// `value`, read from the literal `text`, if it renders as `text` both in a
/// template and in `plan`; otherwise `text` itself, as a string.
pub fn as_written(text: &str, value: Value) -> Value {
    if renders_as(&value, text) { value } else { Value::String(text.to_string()) }
}

fn renders_as(value: &Value, text: &str) -> bool {
    let Value::Number(n) = value else { return false };
    if n.to_string() != text {
        return false;
    }
    // A template renders a float with a `.0` when whole (minijinja).
    n.as_f64().filter(|_| n.is_f64()).is_none_or(|x| {
        let mut s = x.to_string();
        if !s.contains('.') {
            s.push_str(".0");
        }
        s == text
    })
}

/// A TOML value as a variable's value: dates and datetimes as written
/// (their RFC 3339 text), floats that would not render as written as their
/// text. `literal` is the value's text in the file, when known.
pub fn from_toml(v: toml::Value, literal: Option<&str>) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Float(x) => {
            let text = literal.map_or_else(|| toml::Value::Float(x).to_string(), str::to_string);
            match serde_json::Number::from_f64(x) {
                Some(n) => as_written(&text, Value::Number(n)),
                None => Value::String(text),
            }
        }
        toml::Value::Array(a) => Value::Array(a.into_iter().map(|v| from_toml(v, None)).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, from_toml(v, None))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_numbers_that_render_as_written() {
        for (text, v) in [("42", Value::from(42)), ("2.5", Value::from(2.5)), ("1000.0", Value::from(1000.0))] {
            assert_eq!(as_written(text, v.clone()), v, "{text}");
        }
    }

    #[test]
    fn keeps_the_text_of_numbers_that_would_not() {
        for (text, v) in [("1.10", 1.1), ("1e3", 1000.0), ("99999999999999999999999999999", 1e29), (".5", 0.5)] {
            assert_eq!(as_written(text, Value::from(v)), Value::String(text.into()), "{text}");
        }
    }
}

//! Maps as text: a map (`patch: {spec: {replicas: 3}}`) is written as JSON
//! wherever a template writes it, as `kubectl patch -p` and `curl -d` read
//! it, and `{{ x | tojson }}` writes any value so. minijinja's own display
//! of a map is a Python-like repr no tool reads, and its `tojson` filter
//! returns text marked safe, which a shell body would write unquoted.
//!
//! The JSON is compact (`{"a":1}`), keys sorted. It is ordinary text to the
//! formatters: in a shell body one quoted word, placed as any value is
//! (refused inside quotes it could end), in a Python body a string literal.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// `value` as JSON: compact, or with `indent` spaces per level.
pub fn to_json(value: &Value, indent: Option<usize>) -> Result<String, Error> {
    let cannot = |e: serde_json::Error| {
        Error::new(ErrorKind::InvalidOperation, format!("the value cannot be written as JSON: {e}"))
    };
    let tree = serde_json::to_value(value).map_err(cannot)?;
    let Some(n) = indent else { return serde_json::to_string(&tree).map_err(cannot) };
    let pad = vec![b' '; n];
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(&pad);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&tree, &mut ser).map_err(cannot)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// Is `value` written as JSON when a template writes it bare (a map)?
pub fn is_map(value: &Value) -> bool {
    value.kind() == ValueKind::Map && !value.is_safe()
}

/// The `tojson` filter: `{{ x | tojson }}`, `{{ x | tojson(indent=2) }}`
/// (or `tojson(2)`, `tojson(true)` for 2). The result is text the
/// formatter escapes as any value.
pub fn tojson(value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let indent = match indent {
        Some(i) => Some(i),
        None => kwargs.get::<Option<Value>>("indent")?,
    };
    kwargs.assert_all_used()?;
    let indent = match indent {
        None => None,
        Some(v) if v.kind() == ValueKind::Bool => v.is_true().then_some(2),
        Some(v) => Some(usize::try_from(v).map_err(|_| {
            Error::new(ErrorKind::InvalidOperation, "tojson: `indent` is a number of spaces or true/false")
        })?),
    };
    to_json(value, indent).map(Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_is_compact_json_with_sorted_keys() {
        let v = Value::from(minijinja::value::Serde(
            serde_json::json!({"spec": {"replicas": 3}, "a": [true, null, "it's"]}),
        ));
        assert_eq!(to_json(&v, None).unwrap(), r#"{"a":[true,null,"it's"],"spec":{"replicas":3}}"#);
        assert_eq!(to_json(&v, Some(1)).unwrap().lines().nth(1), Some(r#" "a": ["#));
    }
}

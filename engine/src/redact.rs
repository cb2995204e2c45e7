//! Secret redaction (SPEC §2.1, §6).
//!
//! A variable is secret when the runbook lists it under `secrets` or when its
//! name says so; so is a part of a list or map variable under a key whose
//! name says so ([`secret_parts`]). Its value is replaced by `***`
//! everywhere the engine writes: journal, step logs, terminal, transcripts
//! and reports — even when a step echoes it, which is why redaction works on
//! output text, not on variables.

use std::borrow::Cow;

use serde_json::Value;

const SECRET_WORDS: &[&str] = &["secret", "password", "token", "key", "credential"];

pub const MASK: &str = "***";

/// Values shorter than this are not masked: a variable named `key_id = 7`
/// would otherwise turn every `7` of every output into `***`, and a 3-character
/// value protects nothing. `check` warns about such secrets.
pub const MIN_LEN: usize = 4;

pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// The secret parts of variable `name`'s value, each by its path
/// (`registry.password`, `hosts[0].api_key`): all of it when the variable is
/// secret (`secret`: listed, or by its name), else each value, at any depth
/// of maps and lists, under a map key that is secret by its name.
pub fn secret_parts<'v>(name: &str, value: &'v Value, secret: bool) -> Vec<(String, &'v Value)> {
    let mut out = Vec::new();
    if secret {
        out.push((name.to_string(), value));
    } else {
        parts(name.to_string(), value, &mut out);
    }
    out
}

fn parts<'v>(path: String, v: &'v Value, out: &mut Vec<(String, &'v Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let at = format!("{path}.{k}");
                if is_secret_name(k) { out.push((at, x)) } else { parts(at, x, out) }
            }
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, x)| parts(format!("{path}[{i}]"), x, out)),
        _ => {}
    }
}

/// The value with each of its secret parts ([`secret_parts`]) replaced by
/// `by(path)`.
pub fn replace_secret_parts(name: &str, value: &Value, secret: bool, by: &mut dyn FnMut(&str) -> Value) -> Value {
    if secret {
        return by(name);
    }
    replace(name, value, by)
}

fn replace(path: &str, v: &Value, by: &mut dyn FnMut(&str) -> Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let at = format!("{path}.{k}");
                    let x = if is_secret_name(k) { by(&at) } else { replace(&at, x, by) };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().enumerate().map(|(i, x)| replace(&format!("{path}[{i}]"), x, by)).collect())
        }
        other => other.clone(),
    }
}

/// A secret part as text, for a [`Redactor`]: a string as it is, a list or
/// map as its JSON text (every leaf of it is masked), nothing for null.
pub fn part_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Replaces known secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so that a secret containing another is masked whole.
    values: Vec<String>,
}

impl Redactor {
    /// A redactor for these secret values, each as text (a list or map
    /// variable as its JSON text, see [`forms`]).
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        // Each value once: a template writing a secret 40,000 times derives
        // it as often, and its forms cost a percent-encoding each.
        let given: std::collections::BTreeSet<String> = values.into_iter().collect();
        let mut values: Vec<String> = given.into_iter().flat_map(|v| forms(&v)).collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Redactor { values }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.values.iter().all(|v| !text.contains(v.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut s = text.to_string();
        for v in &self.values {
            if s.contains(v.as_str()) {
                s = s.replace(v.as_str(), MASK);
            }
        }
        Cow::Owned(s)
    }

    /// The longest secret, in bytes: a streaming redactor must hold back this
    /// much minus one so that a secret split across two reads is still caught.
    pub fn max_len(&self) -> usize {
        self.values.first().map_or(0, |v| v.len())
    }
}

/// Every form of a secret value that can reach a sink, at least
/// [`MIN_LEN`] characters each:
///
/// - the value itself;
/// - each line of a multi-line value (output is masked line by line);
/// - each leaf of a list or map, given as its JSON text (`["aaaa1111zz",
///   "bbbb2222zz"]`: `{{ keys }}` in a shell step prints the items one by
///   one, `{{ cfg.pass }}` only the leaf): every leaf of a secret is secret;
/// - the forms a query gives each of those (escaped for a regex, a
///   `label_replace` replacement, a LogQL template; in a string literal):
///   `a.b+c` is `a\.b\+c` in `{pod=~"…"}`;
/// - the escaped forms the templates give each of those (shell word,
///   Python literal: a quote or a backslash makes them differ; percent-
///   encoded, as a query is in a link).
pub fn forms(value: &str) -> Vec<String> {
    let mut plain = Vec::new();
    expand(value, &mut plain, 0);
    let query: Vec<String> = plain.iter().flat_map(|v| crate::quote::query_forms(v)).collect();
    plain.extend(query);
    let quoted: Vec<String> = plain.iter().flat_map(|v| crate::quote::forms(v)).collect();
    plain.extend(quoted);
    plain.retain(|v| v.chars().count() >= MIN_LEN);
    plain
}

fn expand(v: &str, out: &mut Vec<String>, depth: usize) {
    out.push(v.to_string());
    if v.contains('\n') {
        out.extend(v.lines().map(str::trim).filter(|l| !l.is_empty() && *l != v).map(str::to_string));
    }
    let t = v.trim_start();
    // serde_json refuses nesting past 128 levels; `depth` bounds JSON text
    // inside JSON strings.
    if depth < 4
        && (t.starts_with('[') || t.starts_with('{'))
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(v)
    {
        leaves(&json, out, depth + 1);
    }
}

fn leaves(v: &serde_json::Value, out: &mut Vec<String>, depth: usize) {
    match v {
        serde_json::Value::String(s) => expand(s, out, depth),
        serde_json::Value::Array(items) => items.iter().for_each(|x| leaves(x, out, depth)),
        serde_json::Value::Object(m) => m.values().for_each(|x| leaves(x, out, depth)),
        serde_json::Value::Null => {}
        other => out.push(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_secret_name("api_key"));
        assert!(is_secret_name("DB_PASSWORD"));
        assert!(!is_secret_name("namespace"));
    }

    #[test]
    fn a_part_under_a_secret_key_is_secret_at_any_depth() {
        let v = serde_json::json!({
            "user": "bot",
            "password": "pw-1",
            "hosts": [{"name": "a", "api_key": "k-1"}, "plain"],
            "tls": {"cert": "c", "credentials": {"a": 1}},
        });
        let mut paths: Vec<String> = secret_parts("reg", &v, false).into_iter().map(|(p, _)| p).collect();
        paths.sort();
        assert_eq!(paths, ["reg.hosts[0].api_key", "reg.password", "reg.tls.credentials"]);
        assert_eq!(secret_parts("reg", &v, true).len(), 1);
        let masked = replace_secret_parts("reg", &v, false, &mut |_| Value::String(MASK.into()));
        assert_eq!(
            masked,
            serde_json::json!({
                "user": "bot",
                "password": "***",
                "hosts": [{"name": "a", "api_key": "***"}, "plain"],
                "tls": {"cert": "c", "credentials": "***"},
            })
        );
        assert_eq!(part_text(&serde_json::json!({"a": 1})).as_deref(), Some("{\"a\":1}"));
        assert_eq!(part_text(&Value::Null), None);
    }

    #[test]
    fn short_values_are_not_masked() {
        let r = Redactor::new(["7".to_string(), "abc".to_string(), "s3cr3t".to_string()]);
        assert_eq!(r.redact("id 7 abc s3cr3t"), "id 7 abc ***");
    }

    #[test]
    fn every_leaf_of_a_list_or_map_is_secret() {
        let r = Redactor::new([serde_json::json!(["aaaa1111zz", "bbbb2222zz", 7]).to_string()]);
        assert_eq!(r.redact("k1=aaaa1111zz k2=bbbb2222zz 7"), "k1=*** k2=*** 7");
        let r =
            Redactor::new([serde_json::json!({"user": "ab", "pass": "hunter2x", "db": {"pw": 12345678}}).to_string()]);
        assert_eq!(r.redact("pass hunter2x pw 12345678 user ab"), "pass *** pw *** user ab");
        let r = Redactor::new(["line-one-secret\n  line-two-secret\n".to_string()]);
        assert_eq!(r.redact("line-two-secret"), "***");
        let r = Redactor::new([serde_json::json!(["it's-a\"quote"]).to_string()]);
        assert_eq!(r.redact("x = \"it's-a\\\"quote\""), "x = ***");
    }

    #[test]
    fn a_secret_as_a_query_writes_it_is_masked() {
        let r = Redactor::new(["a.b+c$d{e".to_string()]);
        let query = r#"up{pod=~"a\\.b\\+c\\$d\\{e"} or label_replace(up, "d", "a.b+c$$d{e", "s", "x")"#;
        assert_eq!(r.redact(query), r#"up{pod=~***} or label_replace(up, "d", "***", "s", "x")"#);
        let logql = r#"{a="b"} |~ `a\.b\+c\$d\{e` | line_format "a.b+c$d{{\"{\"}}e""#;
        assert_eq!(r.redact(logql), r#"{a="b"} |~ `***` | line_format ***"#);
    }

    #[test]
    fn deep_json_is_not_a_problem() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let r = Redactor::new([deep.clone()]);
        assert_eq!(r.redact(&deep), "***");
    }

    #[test]
    fn redacts_longest_first() {
        let r = Redactor::new(["abcd".to_string(), "abcdefgh".to_string()]);
        assert_eq!(r.redact("x abcdefgh y abcd"), "x *** y ***");
    }
}

//! Secret redaction (SPEC §2.1, §6).
//!
//! A variable is secret when the runbook lists it under `secrets` or when its
//! name says so. Its value is replaced by `***` everywhere the engine writes:
//! journal, step logs, terminal, transcripts and reports — even when a step
//! echoes it, which is why redaction works on output text, not on variables.

use std::borrow::Cow;

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
        let mut values: Vec<String> = values.into_iter().flat_map(|v| forms(&v)).collect();
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
/// - the escaped forms the templates give each of those (shell word,
///   Python literal: a quote or a backslash makes them differ).
pub fn forms(value: &str) -> Vec<String> {
    let mut plain = Vec::new();
    expand(value, &mut plain, 0);
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

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
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| v.chars().count() >= MIN_LEN).collect();
        // The escaped forms a template gives a value: a quote or a backslash
        // in a secret makes them differ from the value itself.
        let quoted: Vec<String> = values.iter().flat_map(|v| crate::quote::forms(v)).collect();
        values.extend(quoted);
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
    fn redacts_longest_first() {
        let r = Redactor::new(["abcd".to_string(), "abcdefgh".to_string()]);
        assert_eq!(r.redact("x abcdefgh y abcd"), "x *** y ***");
    }
}

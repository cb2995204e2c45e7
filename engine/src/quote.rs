//! How a text value is written into a step body: a shell word, a Python
//! (or JSON) string literal, a percent-encoded URL component.
//!
//! A leaf module (it imports nothing of the crate) because two layers need
//! the same answer: templating writes values this way, and redaction must
//! mask a secret in exactly the forms templating gives it (`Qw"Er\Ty` shows
//! as `"Qw\"Er\\Ty"` in a python body).

/// `s` as one shell word (`x; rm -rf /` → `'x; rm -rf /'`), or `None` when
/// no shell word can hold it (a NUL byte).
pub fn shell_word(s: &str) -> Option<String> {
    shlex::try_quote(s).ok().map(|q| q.into_owned())
}

/// `s` as a Python string literal (JSON's escapes are Python's).
pub fn python_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `s` inside a JSON string literal, without the quotes.
pub fn json_inner(s: &str) -> String {
    let q = python_str(s);
    q[1..q.len() - 1].to_string()
}

/// `s` percent-encoded as one URL path segment, query component or form
/// value: every byte but the unreserved `A-Z a-z 0-9 - . _ ~` as `%XX`.
pub fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every form a text value can take in a rendered body besides itself,
/// without the forms that contain the value unchanged (masking the value
/// masks those already).
pub fn forms(s: &str) -> Vec<String> {
    let mut out: Vec<String> = shell_word(s)
        .into_iter()
        .chain([python_str(s), json_inner(s), percent(s)])
        .filter(|q| !q.contains(s))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_word_round_trips() {
        let v = "x; rm -rf / $(touch pwned) `id` \"q\" 'q'\nnl";
        assert_eq!(shlex::split(&shell_word(v).unwrap()).unwrap(), vec![v.to_string()]);
        assert_eq!(shell_word("a\0b"), None);
    }

    #[test]
    fn forms_are_only_the_differing_ones() {
        assert!(forms("plain1234").is_empty());
        // shlex and JSON write this one alike.
        assert_eq!(forms("Qw\"Er\\Ty"), ["\"Qw\\\"Er\\\\Ty\"", "Qw%22Er%5CTy", "Qw\\\"Er\\\\Ty"]);
        assert_eq!(forms("tab\there"), ["\"tab\\there\"", "tab%09here", "tab\\there"]);
        assert_eq!(percent("a/../b?c=d&e#f +é"), "a%2F..%2Fb%3Fc%3Dd%26e%23f%20%2B%C3%A9");
        assert_eq!(json_inner("a\"b\n"), "a\\\"b\\n");
    }
}

//! How a text value is written into a step body: a shell word, a Python
//! (or JSON) string literal, a percent-encoded URL component, a query's
//! string literal and the languages inside one (a regex, a replacement, a
//! Go template).
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

/// `s` with RE2's metacharacters `\ . + * ? ( ) | [ ] { } ^ $` escaped: a
/// regex that matches `s` and nothing else.
pub fn regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` in a Go `Regexp.Expand` template (the replacement of PromQL's and
/// LogQL's `label_replace`): each `$` as `$$`, Go's literal `$`.
pub fn expand_literal(s: &str) -> String {
    s.replace('$', "$$")
}

/// `s` as text of a Go `text/template` (LogQL's `line_format`,
/// `label_format`): each `{` as the action `{{"{"}}`, so none opens one.
pub fn go_template_text(s: &str) -> String {
    s.replace('{', "{{\"{\"}}")
}

/// `s` inside a PromQL/LogQL string literal quoted by `q` (`"` or `'`),
/// without the quotes.
pub fn query_str(s: &str, q: char) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Every form a text value can take in a query besides itself: escaped
/// for a regex, a replacement or a Go template, and each of those (and the
/// value) inside a string literal; without the forms that contain the value
/// unchanged.
pub fn query_forms(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in [s.to_string(), regex(s), expand_literal(s), go_template_text(s)] {
        out.extend([query_str(&l, '"'), query_str(&l, '\''), l]);
    }
    out.retain(|f| !f.contains(s));
    out.sort();
    out.dedup();
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

    #[test]
    fn query_forms_are_each_language_then_each_literal() {
        assert!(query_forms("plain1234").is_empty());
        // `$$a{` and `$a{{"{"}}` hold the value: masking it masks them.
        assert_eq!(query_forms("$a{"), [r"\$a\{", r"\\$a\\{"]);
        assert_eq!(query_forms("a{b"), [r"a\\{b", r"a\{b", r#"a{{"{"}}b"#, r#"a{{\"{\"}}b"#]);
        assert_eq!(
            query_forms("a.b$"),
            [r"a\.b\$", r"a\\.b\\$"].map(String::from),
            "a regex and its string literal; a replacement `a.b$$` holds the value"
        );
    }
}

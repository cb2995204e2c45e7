//! Bounds on templates, checked before minijinja sees them.
//!
//! minijinja parses a chain of binary operators (`a ~ a ~ a …`) or unary
//! ones (`not not …`) into a tree as deep as the chain is long, and walks it
//! recursively: 30,000 terms overflow the stack, which aborts the process
//! (no error, no unwinding). Every operator adds at most one level, so
//! bounding the operators of each expression bounds the depth. The limits
//! are far above what a runbook writes (a `when` has a handful) and far
//! below what a 2 MiB thread stack holds in a debug build (~800 terms).
//!
//! Work and memory while rendering are bounded by minijinja's fuel
//! ([`FUEL`]), and the rendered text by [`MAX_RENDERED`].

/// Operators (and attribute, index, call and filter steps) in one
/// expression: one `{{ … }}`, one `{% … %}`, or a whole `when`.
pub const MAX_OPERATORS: usize = 256;

/// Fuel of one render or evaluation: about this many VM instructions, or
/// 64 times as many bytes allocated (minijinja's unit).
pub const FUEL: u64 = 1_000_000;

/// The longest rendered body or attribute, in bytes.
pub const MAX_RENDERED: usize = 4 << 20;

/// Is `text` within the bounds? `expr`: it is one expression (a `when`),
/// not a template. The error says what is too much.
pub fn check(text: &str, expr: bool) -> Result<(), String> {
    let b = text.as_bytes();
    let mut i = 0;
    if expr {
        return count(b, 0, None).map(|_| ());
    }
    while let Some(off) = memchr::memchr(b'{', &b[i..]) {
        let at = i + off;
        let close = match b.get(at + 1) {
            Some(b'{') => b"}}",
            Some(b'%') => b"%}",
            _ => {
                i = at + 1;
                continue;
            }
        };
        i = count(b, at + 2, Some(close))?;
    }
    Ok(())
}

/// Count the operators from `start` to `close` (or the end), skipping
/// string literals; the index after `close`.
fn count(b: &[u8], start: usize, close: Option<&[u8; 2]>) -> Result<usize, String> {
    let mut n = 0;
    let mut i = start;
    let mut prev_word = false;
    while i < b.len() {
        let c = b[i];
        if let Some(cl) = close
            && c == cl[0]
            && b.get(i + 1) == Some(&cl[1])
        {
            return Ok(i + 2);
        }
        match c {
            b'\'' | b'"' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                prev_word = false;
            }
            b'~' | b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'.' | b'[' | b'(' | b'<' | b'>' | b'=' | b'!' => {
                n += 1;
                prev_word = false;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let s = i;
                while i + 1 < b.len() && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] == b'_') {
                    i += 1;
                }
                let w = &b[s..=i];
                if matches!(w, b"not" | b"and" | b"or" | b"is" | b"in" | b"if" | b"else") {
                    n += 1;
                } else if prev_word {
                    // `x y`: a word after a word is a test or a keyword.
                    n += 1;
                }
                prev_word = true;
            }
            c if c.is_ascii_whitespace() => {}
            _ => prev_word = false,
        }
        if n > MAX_OPERATORS {
            return Err(format!(
                "an expression with more than {MAX_OPERATORS} operators (minijinja would nest them that deep)"
            ));
        }
        i += 1;
    }
    // An escape at the very end of an unclosed string steps past it.
    Ok(i.min(b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_templates_pass() {
        assert!(check("kubectl get pods -n {{ namespace }} {% if x == 1 %}-w{% endif %}", false).is_ok());
        assert!(check("'WorkExpired' in steps.a.stdout and revision | int == 0", true).is_ok());
        assert!(check(&"{{ a ~ b }} ".repeat(10_000), false).is_ok(), "many small tags are fine");
        assert!(check("echo ${#arr[@]} { not a tag }", false).is_ok());
    }

    #[test]
    fn long_chains_are_refused() {
        let tilde = format!("{{{{ {} }}}}", vec!["'a'"; 30_000].join(" ~ "));
        assert!(check(&tilde, false).is_err());
        assert!(check(&("not ".repeat(100_000) + "true"), true).is_err());
        assert!(check(&format!("{{% if {}x %}}{{% endif %}}", "not ".repeat(300)), false).is_err());
        let strings = format!("{{{{ '{}' }}}}", "~".repeat(10_000));
        assert!(check(&strings, false).is_ok(), "operators inside a string do not count");
    }

    #[test]
    fn an_unclosed_string_ending_in_a_backslash_is_no_panic() {
        // A backslash at the very end must not step past it.
        for t in ["{{ '\\", "{{ \"ab\\", "x {% '\\", "{{ '\\ }} {{ '"] {
            assert!(check(t, false).is_ok(), "{t:?}");
        }
        assert!(check("'\\", true).is_ok());
    }
}

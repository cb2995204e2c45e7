//! Text the engine itself shows on a terminal (its lines, questions,
//! errors, `plan` and `show`) carries values from outside: an alert's
//! labels, `--set`, captures. A value's control characters must not drive
//! the terminal: a `\r` and an erase-line escape in a label would overwrite
//! a confirm question with one about another pod. So they are shown as
//! escapes (`\r`, `\x1b`), never written raw; newlines and tabs, which the
//! engine's own multi-line messages use, stay. Step output is cleaned
//! apart, by `runner::output::clean` (escapes dropped, as a terminal
//! would show them); the engine's own colours are added after this.

use std::borrow::Cow;

/// `s` with every control character but `\n` and `\t` shown as an escape.
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n' || c == '\t')
}

/// `s` on one line: newlines and tabs shown as escapes too (a value in a
/// `vars:` line).
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// Characters a terminal acts on rather than shows: C0, DEL, C1, and the
/// bidirectional overrides and isolates, which reorder what is shown.
fn acts(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| acts(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !acts(c) || keep(c) => out.push(c),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_as_escapes() {
        let label = "prod-db-0\r\x1b[2Kconfirm: delete pod web-canary-1";
        assert_eq!(text(label), "prod-db-0\\r\\x1b[2Kconfirm: delete pod web-canary-1");
        assert_eq!(text("a\u{7}b\u{7f}c\u{9b}d\u{202e}e"), "a\\x07b\\x7fc\\u{9b}d\\u{202e}e");
        assert_eq!(text("two\nlines\tand a tab"), "two\nlines\tand a tab");
        assert_eq!(line("two\nlines\tand a tab"), "two\\nlines\\tand a tab");
        assert!(matches!(text("plain — ünïcode"), Cow::Borrowed(_)));
    }
}

//! Values in `promql` and `logql` queries. A value from outside (an alert's
//! label, `--set`) goes into a query as data, never as query: inside a
//! string literal it is escaped for that literal, outside one it must be a
//! plain word (a duration, a number, a name). Otherwise a label such as
//! `x"} or vector(1) #` would turn a gate's condition into "always".
//!
//! In a regex (`{pod=~"…"}`, `!~`, LogQL's `|~ "…"`) the value's regex
//! metacharacters are escaped first: a label `.*` matches itself, not every
//! series, so it cannot change what a gate counts.
//!
//! Rendering cannot know where a value lands, so the formatter writes each
//! value as a mark ([`super::mark`]) and [`place`] reads the rendered query as the
//! query language's lexer does (strings in `"`, `'` and backticks, `#`
//! comments) and puts each value in its place.

pub use super::mark::Misplaced;
use super::mark::{OPEN, take};

#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    Query,
    /// In a string literal opened by this quote; a regex when `true`.
    Str(char, bool),
    Comment,
}

/// Does a string opened after `before` hold a regex: a matcher `=~`/`!~`
/// (PromQL, LogQL label filters) or a LogQL line filter `|~`/`!~`?
fn regex_follows(before: &str) -> bool {
    let b = before.trim_end();
    b.ends_with("=~") || b.ends_with("!~") || b.ends_with("|~")
}

/// Is `v` a plain word: letters, digits, `_ : . / -`?
fn plain(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "_:./-".contains(c))
}

/// `v` with RE2's metacharacters `\ . + * ? ( ) | [ ] { } ^ $` escaped.
fn regex_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Each mark of `rendered` replaced by its value, escaped for where it lands.
pub fn place(rendered: &str) -> Result<String, Misplaced> {
    if !rendered.contains(OPEN) {
        return Ok(rendered.to_string());
    }
    let mut out = String::with_capacity(rendered.len());
    let mut at = At::Query;
    let mut line = 1;
    let mut chars = rendered.chars().peekable();
    while let Some(c) = chars.next() {
        if c == OPEN {
            let v = take(&mut chars);
            let misplaced = |why| Err(Misplaced { line, why });
            let v = match at {
                At::Str(_, true) => regex_escape(&v),
                _ => v,
            };
            match at {
                At::Str('`', _) if v.contains('`') => {
                    return misplaced("a value with a backtick is inside a raw string (`…`)");
                }
                At::Str('`', _) => out.push_str(&v),
                At::Str(q, _) => {
                    for c in v.chars() {
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
                }
                At::Query | At::Comment if plain(&v) => out.push_str(&v),
                At::Query | At::Comment => {
                    return misplaced("a value outside a string is not a plain word (letters, digits, `_ : . / -`)");
                }
            }
            continue;
        }
        let regex = at == At::Query && regex_follows(&out);
        out.push(c);
        at = match (at, c) {
            (At::Comment, '\n') => At::Query,
            (At::Query, '"' | '\'' | '`') => At::Str(c, regex),
            (At::Query, '#') => At::Comment,
            // An escaped character does not end the string. A value is
            // never escaped by the template: the backslash would escape
            // the value's own escape (`\"` of a `"`) and the value would
            // end the string.
            (At::Str(q, _), '\\') if q != '`' => {
                if chars.peek() == Some(&OPEN) {
                    return Err(Misplaced { line, why: "a value right after a backslash in a string" });
                }
                if let Some(n) = chars.next() {
                    out.push(n);
                    line += usize::from(n == '\n');
                }
                at
            }
            (At::Str(q, _), c) if c == q => At::Query,
            _ => at,
        };
        line += usize::from(c == '\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::mark::mark;
    use super::*;

    fn q(template: &str, values: &[&str]) -> Result<String, Misplaced> {
        let mut s = template.to_string();
        for v in values {
            s = s.replacen("{}", &mark(v), 1);
        }
        place(&s)
    }

    #[test]
    fn a_value_in_a_string_is_escaped_for_it_and_cannot_end_it() {
        assert_eq!(q(r#"up{pod="{}"} == 1"#, &["web-1"]).unwrap(), r#"up{pod="web-1"} == 1"#);
        assert_eq!(
            q(r#"up{pod="{}"} == 1"#, &[r#"x"} or vector(1) #"#]).unwrap(),
            r#"up{pod="x\"} or vector(1) #"} == 1"#
        );
        assert_eq!(q(r#"up{pod="{}"}"#, &[r"a\.b"]).unwrap(), r#"up{pod="a\\.b"}"#);
        assert_eq!(q("up{pod='{}'}", &["it's"]).unwrap(), r"up{pod='it\'s'}");
        assert_eq!(q("up{pod=\"{}\"}", &["a\nb"]).unwrap(), "up{pod=\"a\\nb\"}");
        assert_eq!(q(r#"x{a="\"{}"}"#, &["v"]).unwrap(), r#"x{a="\"v"}"#, "an escaped quote does not end the string");
        assert_eq!(q("x{a=`{}`}", &[r"a\b"]).unwrap(), r"x{a=`a\b`}");
        assert_eq!(q("x{a=`{}`}", &["a`b"]).unwrap_err().line, 1);
    }

    #[test]
    fn a_value_right_after_a_backslash_is_refused() {
        // The template's backslash would escape the value's own escape.
        assert!(q(r#"x{a="\{}"}"#, &[r#""} or vector(1) #"#]).is_err());
        assert!(q(r#"x{a='\{}'}"#, &["v"]).is_err());
        assert_eq!(q(r#"x{a="\\{}"}"#, &["v"]).unwrap(), r#"x{a="\\v"}"#, "an escaped backslash escapes nothing");
        assert_eq!(q(r"x{a=`\{}`}", &["v"]).unwrap(), r"x{a=`\v`}", "no escapes in a raw string");
    }

    #[test]
    fn a_value_in_a_regex_matches_itself_only() {
        assert_eq!(q(r#"up{pod=~"{}"}"#, &[".*"]).unwrap(), r#"up{pod=~"\\.\\*"}"#);
        assert_eq!(q(r#"up{pod=~"{}"}"#, &[r"a\.b"]).unwrap(), r#"up{pod=~"a\\\\\\.b"}"#);
        assert_eq!(q(r#"up{pod!~ "web-{}|db"}"#, &["(1)"]).unwrap(), r#"up{pod!~ "web-\\(1\\)|db"}"#);
        assert_eq!(q("{app=\"a\"} |~ `{}`", &["x+"]).unwrap(), r#"{app="a"} |~ `x\+`"#);
        assert_eq!(q(r#"{app="a"} != "{}" !~ '{}'"#, &["a.b", "^$"]).unwrap(), r#"{app="a"} != "a.b" !~ '\\^\\$'"#);
        assert_eq!(q(r#"up{pod=~"{}",ns="{}"}"#, &["a|b", "a|b"]).unwrap(), r#"up{pod=~"a\\|b",ns="a|b"}"#);
    }

    #[test]
    fn a_value_outside_a_string_must_be_a_plain_word() {
        assert_eq!(q("rate(x[{}]) > {}", &["5m", "0.5"]).unwrap(), "rate(x[5m]) > 0.5");
        let bad = q("sum(x)\n  > {}", &["1 or vector(1)"]).unwrap_err();
        assert_eq!(bad.line, 2);
        assert!(q("rate(x[{}])", &["5m]) or vector(1) #"]).is_err());
        assert!(q("x # {}", &["a\nor vector(1)"]).is_err(), "a newline would end the comment");
        assert!(q("x > {}", &[""]).is_err());
        assert_eq!(q("x{a=\"b\"} # {}", &["ok"]).unwrap(), "x{a=\"b\"} # ok");
    }

    /// A double-quoted PromQL string's text, as the lexer reads it.
    fn unquote(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            out.push(match (c, c == '\\') {
                (_, true) => match chars.next().unwrap() {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    e => e,
                },
                (c, false) => c,
            });
        }
        out
    }

    proptest! {
        #[test]
        fn a_regex_value_matches_itself_and_nothing_else(v in any::<String>()) {
            let placed = q(r#"up{pod=~"{}"}"#, &[&v]).unwrap();
            let literal = placed.strip_prefix("up{pod=~\"").unwrap().strip_suffix("\"}").unwrap();
            let re = regex::Regex::new(&format!("^(?:{})$", unquote(literal))).unwrap();
            prop_assert!(re.is_match(&v));
            let longer = format!("{v}x");
            prop_assert!(!re.is_match(&longer));
            prop_assert!(v.is_empty() || !re.is_match(""));
        }
    }
}

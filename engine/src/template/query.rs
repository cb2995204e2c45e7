//! Values in `promql` and `logql` queries. A value from outside (an alert's
//! label, `--set`) goes into a query as data, never as query: inside a
//! string literal it is escaped for that literal, outside one it must be a
//! plain word (a duration, a number, a name). Otherwise a label such as
//! `x"} or vector(1) #` would turn a gate's condition into "always".
//!
//! Some strings are a language of their own ([`Role`]), and a value in one
//! is escaped for that language first, so it means itself there too: in a
//! regex (`{pod=~"…"}`, `!~`, LogQL's `|~ "…"` and `| regexp "…"`,
//! `label_replace`'s regex) its regex metacharacters are escaped, so a
//! label `.*` matches itself, not every series, and cannot change what a
//! gate counts; in `label_replace`'s replacement a `$` is `$$`, so it
//! refers to no group; in a LogQL `line_format`/`label_format` template a
//! `{` is written `{{"{"}}`, so it opens no action (a value inside an
//! action is refused); in a LogQL pattern, which has no escape, a `<` or
//! `>` is refused.
//!
//! Rendering cannot know where a value lands, so the formatter writes each
//! value as a mark ([`super::mark`]) and [`place`] reads the rendered query as the
//! query language's lexer does (strings in `"`, `'` and backticks, `#`
//! comments) and puts each value in its place.

pub use super::mark::Misplaced;
use super::mark::{OPEN, take};
use super::query_role::{Reader, Role};
use crate::quote;

#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    Query,
    /// In a string literal opened by this quote, in this language.
    Str(char, Role),
    Comment,
}

/// Is `v` a plain word: letters, digits, `_ : . / -`?
fn plain(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "_:./-".contains(c))
}

/// `v` for a string in `role`, before the string's own escaping; `text` is
/// the string so far (a Go template's actions).
fn for_role(v: String, role: Role, text: &str) -> Result<String, &'static str> {
    Ok(match role {
        Role::Text => v,
        Role::Regex => quote::regex(&v),
        Role::Replacement => quote::expand_literal(&v),
        Role::Pattern if v.contains(['<', '>']) => {
            return Err("a value with `<` or `>` is inside a LogQL pattern (a pattern has no escape)");
        }
        Role::Pattern => v,
        Role::GoTemplate if text.rfind("{{") > text.rfind("}}") => {
            return Err("a value is inside a `{{ … }}` action of a LogQL line_format/label_format template");
        }
        Role::GoTemplate => quote::go_template_text(&v),
    })
}

/// Each mark of `rendered` replaced by its value, escaped for where it lands.
pub fn place(rendered: &str) -> Result<String, Misplaced> {
    if !rendered.contains(OPEN) {
        return Ok(rendered.to_string());
    }
    let mut out = String::with_capacity(rendered.len());
    let mut at = At::Query;
    let mut reader = Reader::default();
    // Where the current string's text starts in `out`.
    let mut text_start = 0;
    let mut line = 1;
    let mut chars = rendered.chars().peekable();
    while let Some(c) = chars.next() {
        if c == OPEN {
            let v = take(&mut chars);
            let misplaced = |why| Err(Misplaced { line, why });
            let v = match at {
                At::Str(_, role) => match for_role(v, role, &out[text_start..]) {
                    Ok(v) => v,
                    Err(why) => return misplaced(why),
                },
                _ => v,
            };
            match at {
                At::Str('`', _) if v.contains('`') => {
                    return misplaced("a value with a backtick is inside a raw string (`…`)");
                }
                At::Str('`', _) => out.push_str(&v),
                At::Str(q, _) => out.push_str(&quote::query_str(&v, q)),
                At::Query if plain(&v) => {
                    v.chars().for_each(|c| reader.push(c));
                    out.push_str(&v);
                }
                At::Comment if plain(&v) => out.push_str(&v),
                At::Query | At::Comment => {
                    return misplaced("a value outside a string is not a plain word (letters, digits, `_ : . / -`)");
                }
            }
            continue;
        }
        out.push(c);
        at = match (at, c) {
            (At::Comment, '\n') => At::Query,
            (At::Query, '"' | '\'' | '`') => {
                text_start = out.len();
                At::Str(c, reader.string())
            }
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
            (At::Query, c) => {
                reader.push(c);
                at
            }
            _ => at,
        };
        line += usize::from(c == '\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::mark::marked;
    use super::*;

    fn q(template: &str, values: &[&str]) -> Result<String, Misplaced> {
        place(&marked(template, values))
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
    fn a_value_in_label_replace_means_itself() {
        let lr = r#"label_replace(up{job="j"}, "{}", "{}-$1", "{}", "{}-(.*)")"#;
        assert_eq!(
            q(lr, &["d$1", "$1${2}$x", "s$1", "a.b"]).unwrap(),
            r#"label_replace(up{job="j"}, "d$1", "$$1$${2}$$x-$1", "s$1", "a\\.b-(.*)")"#
        );
        assert_eq!(
            q(r#"sum by (a) (label_replace(rate(x{a=~"{}"}[5m]), "d", "r", "s", "{}"))"#, &["x|y", "(z)"]).unwrap(),
            r#"sum by (a) (label_replace(rate(x{a=~"x\\|y"}[5m]), "d", "r", "s", "\\(z\\)"))"#
        );
        assert_eq!(q(r#"label_join(up, "d", "{}", "a")"#, &["$1|"]).unwrap(), r#"label_join(up, "d", "$1|", "a")"#);
        assert_eq!(
            q("label_replace(up, `d`, `{}`, `s`, `{}`)", &["$a", "a+"]).unwrap(),
            r"label_replace(up, `d`, `$$a`, `s`, `a\+`)"
        );
    }

    #[test]
    fn a_value_in_a_logql_parser_or_template_means_itself() {
        assert_eq!(
            q(r#"{app="a"} | regexp "{} (?P<x>\\S+)""#, &["(?P<y>.*)"]).unwrap(),
            r#"{app="a"} | regexp "\\(\\?P<y>\\.\\*\\) (?P<x>\\S+)""#
        );
        assert_eq!(
            q(r#"{app="a"} |regexp `{}` |= "{}""#, &["a.b", "a.b"]).unwrap(),
            r#"{app="a"} |regexp `a\.b` |= "a.b""#
        );
        assert_eq!(
            q(r#"{app="a"} | line_format "{{.msg}} {}" | label_format x="{}-{{.y}}""#, &["{{.secret}}", "{x}"])
                .unwrap(),
            r#"{app="a"} | line_format "{{.msg}} {{\"{\"}}{{\"{\"}}.secret}}" | label_format x="{{\"{\"}}x}-{{.y}}""#
        );
        assert_eq!(
            q(r#"{app="a"} | label_format x="{}", y=z"#, &["v"]).unwrap(),
            r#"{app="a"} | label_format x="v", y=z"#
        );
        let action = q(r#"{app="a"} | line_format "{{ printf \"%s\" \"{}\" }}""#, &["v"]).unwrap_err();
        assert!(action.why.contains("action"), "{}", action.why);
        assert_eq!(
            q(r#"{app="a"} | pattern "<ip> {} <_>""#, &["GET /x"]).unwrap(),
            r#"{app="a"} | pattern "<ip> GET /x <_>""#
        );
        assert!(q(r#"{app="a"} | pattern "<ip> {}""#, &["<path>"]).unwrap_err().why.contains("pattern"));
        assert!(q(r#"{app="a"} |> "{} <_>""#, &["<_>"]).is_err());
        assert_eq!(
            q(r#"{app="a"} | json x="{}" | y="{}""#, &["a.b", "<{$"]).unwrap(),
            r#"{app="a"} | json x="a.b" | y="<{$""#
        );
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

    /// A regex a value is rendered into, as `(before, after)` the value.
    const REGEXES: &[(&str, &str)] = &[
        ("up{pod=~\"", "\"}"),
        ("label_replace(up, \"d\", \"$1\", \"s\", \"", "\")"),
        ("{app=\"a\"} | regexp \"", "\""),
    ];

    /// The text Go's `text/template` writes for a template without
    /// actions but `{{"{"}}`, or `None` if it holds another action.
    fn go_template_text(t: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = t;
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            rest = rest[i..].strip_prefix("{{\"{\"}}")?;
            out.push('{');
        }
        out.push_str(rest);
        Some(out)
    }

    proptest! {
        #[test]
        fn a_regex_value_matches_itself_and_nothing_else(v in any::<String>(), at in prop::sample::select(REGEXES)) {
            let (before, after) = at;
            let placed = q(&format!("{before}{{}}{after}"), &[&v]).unwrap();
            let literal = placed.strip_prefix(before).unwrap().strip_suffix(after).unwrap();
            let re = regex::Regex::new(&format!("^(?:{})$", unquote(literal))).unwrap();
            prop_assert!(re.is_match(&v));
            let longer = format!("{v}x");
            prop_assert!(!re.is_match(&longer));
            prop_assert!(v.is_empty() || !re.is_match(""));
        }

        #[test]
        fn a_replacement_value_expands_to_itself(v in any::<String>()) {
            let placed = q(r#"label_replace(up, "d", "{}", "s", "(.*)")"#, &[&v]).unwrap();
            let literal = placed.strip_prefix(r#"label_replace(up, "d", ""#).unwrap().strip_suffix(r#"", "s", "(.*)")"#).unwrap();
            let re = regex::Regex::new("(?P<x>.*)").unwrap();
            let mut expanded = String::new();
            re.captures("group").unwrap().expand(&unquote(literal), &mut expanded);
            prop_assert_eq!(expanded, v);
        }

        #[test]
        fn a_go_template_value_writes_itself(v in any::<String>()) {
            let placed = q(r#"{a="b"} | line_format "x {} y""#, &[&v]).unwrap();
            let literal = placed.strip_prefix(r#"{a="b"} | line_format ""#).unwrap().strip_suffix('"').unwrap();
            prop_assert_eq!(go_template_text(&unquote(literal)), Some(format!("x {v} y")));
        }
    }
}

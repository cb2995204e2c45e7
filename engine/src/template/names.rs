//! The top-level names a template or an expression reads: what a plan asks
//! for, `check` reports undefined, redaction knows a secret is read by, and
//! what a value given under a name the runbook reads nowhere is dropped by.
//!
//! minijinja's `undeclared_variables` does not visit a slice's target: a
//! template reading `tok` only as `{{ tok[:6] }}` reads no `tok` to it. So
//! the names are read from a copy in which each slice `x[a:b:c]` is the
//! subscript `x[(a, b, c)]` (an empty part `none`), which it visits whole.

use std::collections::BTreeSet;

use super::{ENV, bounds, guard};

/// Top-level names a template reads (empty if it does not compile).
pub fn undeclared(text: &str) -> BTreeSet<String> {
    names_of(text).unwrap_or_default()
}

/// Top-level names a template cannot render without: [`undeclared`] less
/// those only tested for (`is defined`) or defaulted ([`guard`]).
pub fn required(text: &str) -> BTreeSet<String> {
    names_of(&guard::unguard_template(text)).unwrap_or_else(|| undeclared(text))
}

fn names_of(text: &str) -> Option<BTreeSet<String>> {
    if !text.contains("{{") && !text.contains("{%") || bounds::check(text, false).is_err() {
        return Some(BTreeSet::new());
    }
    let read = || {
        let names = |t: &str| ENV.template_from_str(t).map(|t| t.undeclared_variables(false));
        names(&unslice_template(text)).or_else(|_| names(text)).ok().map(|n| n.into_iter().collect())
    };
    if text.len() < MEMO_FROM {
        return read();
    }
    remembered(text, read)
}

/// Templates at least this long have their names remembered: `check` asks
/// for a step's names once per scenario, and compiling a long template is
/// what its names cost.
const MEMO_FROM: usize = 4096;

/// `read()`'s answer for `text`, from the memo of the last few long
/// templates (by digest) when it is there.
fn remembered(text: &str, read: impl FnOnce() -> Option<BTreeSet<String>>) -> Option<BTreeSet<String>> {
    use sha2::{Digest, Sha256};
    type Memo = std::collections::HashMap<[u8; 32], Option<BTreeSet<String>>>;
    static MEMO: std::sync::Mutex<Option<Memo>> = std::sync::Mutex::new(None);
    let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let lock = || MEMO.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(hit) = lock().as_ref().and_then(|m| m.get(&key)) {
        return hit.clone();
    }
    let names = read();
    let mut memo = lock();
    let memo = memo.get_or_insert_with(Memo::new);
    if memo.len() >= 256 {
        memo.clear();
    }
    memo.insert(key, names.clone());
    names
}

/// Top-level names an expression reads (empty if it does not compile).
pub fn undeclared_expr(expr: &str) -> BTreeSet<String> {
    names_of_expr(expr).unwrap_or_default()
}

/// [`required`] of an expression.
pub fn required_expr(expr: &str) -> BTreeSet<String> {
    names_of_expr(&guard::unguard_expr(expr)).unwrap_or_else(|| undeclared_expr(expr))
}

fn names_of_expr(expr: &str) -> Option<BTreeSet<String>> {
    if bounds::check(expr, true).is_err() {
        return Some(BTreeSet::new());
    }
    let names = |e: &str| ENV.compile_expression(e).map(|e| e.undeclared_variables(false));
    names(&unslice(expr)).or_else(|_| names(expr)).ok().map(|n| n.into_iter().collect())
}

/// `text` with [`unslice`] applied inside each `{{ … }}` and `{% … %}`.
fn unslice_template(text: &str) -> String {
    super::regions::rewrite(text, |_, inside| unslice(inside))
}

/// An expression with each slice `x[a:b:c]` written `x[(a, b, c)]`.
fn unslice(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    group(&chars, &mut i, None).concat()
}

/// The text up to `close` (read, not returned) or the end, split at each
/// `:` directly inside when `close` is `]`.
fn group(c: &[char], i: &mut usize, close: Option<char>) -> Vec<String> {
    let mut parts = vec![String::new()];
    while let Some(&ch) = c.get(*i) {
        *i += 1;
        if Some(ch) == close {
            return parts;
        }
        let last = parts.last_mut().expect("never empty");
        match ch {
            '"' | '\'' => {
                last.push(ch);
                while let Some(&s) = c.get(*i) {
                    *i += 1;
                    last.push(s);
                    if s == '\\' {
                        if let Some(&e) = c.get(*i) {
                            *i += 1;
                            last.push(e);
                        }
                    } else if s == ch {
                        break;
                    }
                }
            }
            '[' => {
                let inside = group(c, i, Some(']'));
                if inside.len() > 1 {
                    let parts: Vec<&str> =
                        inside.iter().map(|p| if p.trim().is_empty() { "none" } else { p.as_str() }).collect();
                    last.push_str(&format!("[({})]", parts.join(",")));
                } else {
                    last.push_str(&format!("[{}]", inside.concat()));
                }
            }
            '(' | '{' => {
                let end = if ch == '(' { ')' } else { '}' };
                last.push(ch);
                last.push_str(&group(c, i, Some(end)).concat());
                last.push(end);
            }
            ':' if close == Some(']') => parts.push(String::new()),
            ch => last.push(ch),
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_long_template_read_again_has_its_own_names() {
        let long = |last: &str| format!("{}{{{{ {last} }}}}", "{{ x }} ".repeat(MEMO_FROM / 8));
        for _ in 0..2 {
            assert_eq!(undeclared(&long("y")), names(&["x", "y"]));
            assert_eq!(undeclared(&long("z")), names(&["x", "z"]));
            assert_eq!(required(&long("z | default(1)")), names(&["x"]));
            assert_eq!(undeclared(&long("{% if")), names(&[]), "does not compile");
        }
    }

    #[test]
    fn a_slice_is_a_subscript_to_the_reader() {
        assert_eq!(unslice("tok[:6]"), "tok[(none,6)]");
        assert_eq!(unslice("a[b:c:-1] ~ d[1] ~ e[::2]"), "a[(b,c,-1)] ~ d[1] ~ e[(none,none,2)]");
        assert_eq!(unslice(r#"x["a:b"] ~ {'k': y[1:]}['k']"#), r#"x["a:b"] ~ {'k': y[(1,none)]}['k']"#);
        assert_eq!(unslice("f(a[n:])[0]"), "f(a[(n,none)])[0]");
    }

    #[test]
    fn a_name_read_only_through_a_slice_is_read() {
        assert_eq!(undeclared("echo {{ tok[:6] }}"), names(&["tok"]));
        assert_eq!(undeclared("{% for x in items[1:] %}{{ x[n:] }}{% endfor %}"), names(&["items", "n"]));
        assert_eq!(undeclared("{% set t = tok[2:] %}{{ t }} ${a[@]:1} {{ '[:]' }}"), names(&["tok"]));
        assert_eq!(undeclared_expr("tok[:6] == 'abc'"), names(&["tok"]));
        assert_eq!(undeclared("{{ tok[ }}"), names(&[]), "does not compile");
    }
}

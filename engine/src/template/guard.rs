//! Names a template reads only where it tests whether they are defined: an
//! optional variable. `{% if tag is defined %}--tag {{ tag }}{% endif %}`,
//! `{{ tag | default("latest") }}` and `when="tag is defined"` render
//! without `tag`, so a play neither asks for it nor refuses to run. A step
//! whose `when` needs `tag` defined reads `tag` only when it runs
//! ([`defined_by_when`]).
//!
//! The names are read from a copy of the template in which each guarded use
//! is `none`: `NAME is [not] defined|undefined`, `NAME | default(…)` (or
//! `d`), and inside the branch of an `{% if %}` that runs only when `NAME`
//! is defined. A name the copy still reads is required. The copy is only
//! read for names, never rendered.

use std::collections::BTreeSet;

/// `text` with every guarded use of a name as `none`.
pub fn unguard_template(text: &str) -> String {
    // Each open block: the name it guards in the branch being read.
    let mut stack: Vec<Frame> = Vec::new();
    super::regions::rewrite(text, |close, region| {
        let tag = close == "%}";
        let body = region.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let (keyword, cond) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
        // An `elif`'s condition is read where the branch before it ended.
        if tag && keyword == "elif" {
            let negative = stack.last().is_some_and(|f| f.name.is_some() && !f.then_defined);
            if let Some(f) = stack.last_mut() {
                f.branch = if negative { Branch::Defined } else { Branch::Other };
            }
        }
        let guarded: BTreeSet<String> = stack.iter().filter_map(Frame::guards).map(str::to_string).collect();
        let rewritten = match (tag, keyword) {
            (true, "if") => {
                let (frame, cond) = Frame::open(cond);
                stack.push(frame);
                format!("if {}", unguard_names(&cond, &guarded))
            }
            (true, "elif") => format!("elif {}", unguard_names(cond, &guarded)),
            (true, "else") => {
                if let Some(f) = stack.last_mut() {
                    f.branch = if f.then_defined { Branch::Other } else { Branch::Defined };
                }
                "else".to_string()
            }
            (true, k) if k.starts_with("end") => {
                stack.pop();
                k.to_string()
            }
            (true, k) if opens_block(k, cond) => {
                stack.push(Frame::plain());
                unguard_names(body, &guarded)
            }
            _ => unguard_names(body, &guarded),
        };
        format!(" {rewritten} ")
    })
}

/// `expr` (a `when`) with every guarded use of a name as `none`.
pub fn unguard_expr(expr: &str) -> String {
    Frame::open(expr).1
}

/// The names a `when` can only be true with: `a is defined`, or a chain
/// `a is defined and b is defined and …` (each link a test or anything
/// else), with no `or`, `not` or `if … else` that could make it true
/// without them. A step whose `when` names `x` so reads `x` only when it is
/// defined.
pub fn defined_by_when(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    // Strings emptied: what they hold is no operator.
    let mut bare = String::with_capacity(expr.len());
    let mut quote = None;
    for c in expr.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => continue,
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {}
        }
        bare.push(c);
    }
    // `not` of a test (`is not defined`) is part of the test; any other
    // negates what follows.
    let plain = bare.replace("is not ", "is ");
    let mut words = plain.split(|c: char| c.is_whitespace() || c == '(' || c == ')');
    if quote.is_some() || words.any(|w| matches!(w, "or" | "not" | "if" | "else")) {
        return out;
    }
    for link in bare.split(" and ") {
        if let Some((name, true, rest)) = test_of(link)
            && rest.trim().is_empty()
        {
            out.insert(name.to_string());
        }
    }
    out
}

/// Does a tag with `keyword` open a block its `end…` tag closes?
fn opens_block(keyword: &str, rest: &str) -> bool {
    match keyword {
        "for" | "macro" | "call" | "filter" | "with" | "block" | "autoescape" | "raw" => true,
        // `{% set x %}…{% endset %}`, not `{% set x = 1 %}`.
        "set" => !rest.contains('='),
        _ => false,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Branch {
    /// The `if`'s first branch.
    Then,
    /// A branch that runs only when the guarded name is defined.
    Defined,
    Other,
}

struct Frame {
    /// The name the `if` tests, when its condition starts with a test.
    name: Option<String>,
    /// Its first branch runs when the name is defined (`is defined`), else
    /// when it is not (`is undefined`, `is not defined`).
    then_defined: bool,
    branch: Branch,
}

impl Frame {
    fn plain() -> Frame {
        Frame { name: None, then_defined: false, branch: Branch::Other }
    }

    /// The frame of `{% if cond %}`, and `cond` with its guarded names as
    /// `none` (the rest of `x is defined and …` reads `x` only when defined).
    fn open(cond: &str) -> (Frame, String) {
        let Some((name, defined, rest)) = test_of(cond) else {
            return (Frame::plain(), unguard_names(cond, &BTreeSet::new()));
        };
        let rest_t = rest.trim_start();
        // `x is defined and a or b` is `(x is defined and a) or b`: `b` is
        // read, and the branch may run, without `x`; so is an `if … else`
        // around the whole. (`x is undefined or a and b` keeps its guard:
        // `and` binds tighter.)
        let loose = top_level_words(rest).any(|w| matches!(w, "if" | "else") || (defined && w == "or"));
        let short_circuit = !loose && if defined { rest_t.starts_with("and ") } else { rest_t.starts_with("or ") };
        let guarded: BTreeSet<String> = if short_circuit { [name.to_string()].into() } else { BTreeSet::new() };
        let cond = format!("none is defined {}", unguard_names(rest, &guarded));
        // `x is defined or …` may run its first branch without `x`.
        let whole = rest_t.is_empty() || short_circuit;
        let frame = Frame { name: whole.then(|| name.to_string()), then_defined: defined, branch: Branch::Then };
        (frame, cond)
    }

    fn guards(&self) -> Option<&str> {
        let defined = match self.branch {
            Branch::Then => self.then_defined,
            Branch::Defined => true,
            Branch::Other => false,
        };
        self.name.as_deref().filter(|_| defined)
    }
}

/// `NAME is [not] defined|undefined REST` as (NAME, whether it holds when
/// NAME is defined, REST).
fn test_of(cond: &str) -> Option<(&str, bool, &str)> {
    let cond = cond.trim_start();
    let end = cond.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    let name = &cond[..end];
    let mut words = cond[end..].trim_start().strip_prefix("is ")?.trim_start();
    let not = words.starts_with("not ");
    if not {
        words = words[4..].trim_start();
    }
    let (defined, rest) =
        if let Some(r) = words.strip_prefix("defined") { (true, r) } else { (false, words.strip_prefix("undefined")?) };
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) || rest.starts_with(char::is_alphanumeric) {
        return None;
    }
    Some((name, defined != not, rest))
}

/// The words of `expr` outside strings and brackets.
fn top_level_words(expr: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0usize;
    let mut quote = None;
    expr.split(move |c: char| {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, _) => return depth > 0 || c.is_whitespace(),
        }
        true
    })
    .filter(|w| !w.is_empty())
}

/// `expr` with each use of a name of `guarded`, and each name tested
/// (`x is defined`) or given a default (`x | default(…)`), as `none`.
fn unguard_names(expr: &str, guarded: &BTreeSet<String>) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut i = 0;
    let bytes = expr.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < expr.len() {
        let c = bytes[i];
        if c == b'"' || c == b'\'' {
            let close = expr[i + 1..].find(c as char).map_or(expr.len(), |j| i + 2 + j);
            out.push_str(&expr[i..close]);
            i = close;
            continue;
        }
        let starts = word(c) && !c.is_ascii_digit() && (i == 0 || !(word(bytes[i - 1]) || bytes[i - 1] == b'.'));
        if !starts {
            let len = expr[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&expr[i..i + len]);
            i += len;
            continue;
        }
        let end = expr[i..].find(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(expr.len(), |j| i + j);
        let name = &expr[i..end];
        let after = expr[end..].trim_start();
        let tested = test_of(&expr[i..]).is_some();
        let defaulted = after.strip_prefix('|').map(str::trim_start).is_some_and(|f| {
            ["default", "d"].iter().any(|d| f.strip_prefix(d).is_some_and(|r| !r.starts_with(|c: char| word(c as u8))))
        });
        out.push_str(if guarded.contains(name) || tested || defaulted { "none" } else { name });
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{undeclared, undeclared_expr};

    fn required(text: &str) -> Vec<String> {
        undeclared(&unguard_template(text)).into_iter().collect()
    }

    #[test]
    fn a_name_only_tested_or_defaulted_is_not_required() {
        assert_eq!(required("{% if tag is defined %}--tag {{ tag }}{% endif %} {{ ns }}"), ["ns"]);
        assert_eq!(required("{%- if tag is undefined -%}x{% else %}{{ tag.a }}{% endif %}"), Vec::<String>::new());
        assert_eq!(required("{{ tag | default('latest') }} {{ n|d(1) }}"), Vec::<String>::new());
        assert_eq!(required("{% if tag is defined and tag != 'x' %}{{ tag }}{% endif %}"), Vec::<String>::new());
        assert_eq!(
            required(
                "{% if t is not defined %}{% for i in l %}{% else %}{{ t }}{% endfor %}{% else %}{{ t }}{% endif %}"
            ),
            ["l", "t"]
        );
        assert!(undeclared_expr(&unguard_expr("tag is defined and tag == 'a'")).is_empty());
    }

    #[test]
    fn a_when_that_needs_a_name_defined_guards_the_step() {
        let names = |w: &str| defined_by_when(w).into_iter().collect::<Vec<_>>();
        assert_eq!(names("tag is defined"), ["tag"]);
        assert_eq!(names("a is defined and n > 1 and b is not undefined"), ["a", "b"]);
        assert!(names("a is defined or b").is_empty(), "true without a");
        assert!(names("not a is defined").is_empty());
        assert!(names("a is undefined").is_empty());
        assert!(names("a is defined and (b or c)").is_empty());
        assert!(names("a is defined if c else true").is_empty());
        assert_eq!(names("a is defined and b == 'x or y' and a.startswith(\"v\")"), ["a"]);
        assert_eq!(names("a is defined and b == ' and c is defined'"), ["a"], "a string is no link");
        assert!(names("a is defined and b == 'open").is_empty(), "an open string: not judged");
    }

    #[test]
    fn a_use_outside_the_guard_is_required() {
        assert_eq!(required("{% if tag is defined %}a{% else %}{{ tag }}{% endif %}"), ["tag"]);
        assert_eq!(required("{% if tag is defined or x %}{{ tag }}{% endif %}"), ["tag", "x"]);
        assert_eq!(required("{% if tag is defined %}a{% endif %}{{ tag }}"), ["tag"]);
        assert_eq!(required("{% if tag is defined %}a{% elif b %}{{ tag }}{% endif %}"), ["b", "tag"]);
        assert_eq!(required("{{ tag | upper }} {{ 'tag is defined' }}"), ["tag"]);
        assert_eq!(undeclared_expr(&unguard_expr("tag is defined or tag == 'a'")).len(), 1);
        // `and` binds tighter than `or`: `z` alone opens the branch, and
        // `x.a` after the `or` is read when `x` is not defined.
        assert_eq!(required("{% if x is defined and y or z %}{{ x }}{% endif %}"), ["x", "y", "z"]);
        assert_eq!(required("{% if x is defined and y or x.a %}{% endif %}"), ["x", "y"]);
        // (An `{% if %}` takes no `… if … else …`; a `when` does.)
        let when = |e: &str| undeclared_expr(&unguard_expr(e)).into_iter().collect::<Vec<_>>();
        assert_eq!(when("x is defined and x.a if z else x.b"), ["x", "z"]);
        assert_eq!(when("x is undefined or x.a if z else w"), ["w", "x", "z"]);
        assert_eq!(when("x is defined and x.a"), Vec::<String>::new());
        // Inside brackets or a string, an `or` is the operand's own.
        assert_eq!(required("{% if x is defined and (y or z) %}{{ x }}{% endif %}"), ["y", "z"]);
        assert_eq!(required("{% if x is defined and y == 'a or b' %}{{ x }}{% endif %}"), ["y"]);
        assert_eq!(required("{% if x is undefined or y and x.a %}{% else %}{{ x }}{% endif %}"), ["y"]);
    }
}

//! The `expect=` of a shell or Python step: a regex (the `regex` crate's
//! syntax), matched line by line as grep matches (`^ok$` matches `echo ok`).
//!
//! One compile function for every place that reads it: `check` (file:line
//! before any play), `plan` and `play`'s preflight (after rendering, before
//! anything runs) and the step itself, so that what they accept is the same.
//! A query step's `expect` has its own grammar (`observe::expect`).

use regex::{Regex, RegexBuilder};

/// Why an `expect` is not a regex: the regex crate's reason in one line,
/// where in the pattern, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub reason: String,
    /// 1-based character of the pattern where the mistake is, when known.
    pub column: Option<usize>,
    pub hint: String,
}

impl Invalid {
    /// `unclosed group at character 15 of `(failed|ok``.
    pub fn message(&self, pattern: &str) -> String {
        match self.column {
            Some(c) => format!("`expect` is not a regex: {} at character {c} of `{pattern}`", self.reason),
            None => format!("`expect` is not a regex: {} in `{pattern}`", self.reason),
        }
    }
}

/// The regex of a rendered `expect`.
pub fn compile(pattern: &str) -> Result<Regex, Invalid> {
    RegexBuilder::new(pattern).multi_line(true).build().map_err(|e| invalid(&e))
}

fn invalid(e: &regex::Error) -> Invalid {
    let (reason, column) = match e {
        // The syntax error's text: `regex parse error:`, the pattern
        // indented by 4, a `^` line under the mistake, `error: REASON`.
        regex::Error::Syntax(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let reason = lines.iter().rev().find_map(|l| l.strip_prefix("error: ")).unwrap_or(text.as_str());
            let caret = if lines.len() == 4 { lines[2].find('^').map(|i| i.saturating_sub(3)) } else { None };
            (reason.trim().to_string(), caret)
        }
        regex::Error::CompiledTooBig(_) => ("it is too big once compiled".to_string(), None),
        other => (other.to_string(), None),
    };
    let hint = if reason.contains("look-around") || reason.contains("backreference") {
        format!(
            "{} not supported in `expect` (Rust regex syntax): rewrite the pattern without it, \
             e.g. `(?<=a)b` as `ab`, or check the line in the step itself (`grep -P`)",
            if reason.contains("look-around") { "look-around is" } else { "backreferences are" }
        )
    } else if reason.contains("group") {
        "close each `(` with `)`, or write a literal parenthesis as `\\(` or `\\)`".to_string()
    } else if reason.contains("too big") {
        "make the pattern shorter (fewer or smaller counted repetitions)".to_string()
    } else {
        "`expect` is a regex (Rust regex syntax, https://docs.rs/regex/#syntax): escape a literal \
         metacharacter with `\\`"
            .to_string()
    };
    Invalid { reason, column, hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistake_is_one_line_with_where_and_how_to_fix() {
        let e = compile("error: [0-9]+ (failed|ok").unwrap_err();
        assert_eq!(e.reason, "unclosed group");
        assert_eq!(e.column, Some(15));
        assert_eq!(
            e.message("error: [0-9]+ (failed|ok"),
            "`expect` is not a regex: unclosed group at character 15 of `error: [0-9]+ (failed|ok`"
        );
        assert!(e.hint.contains("`\\(`"), "{}", e.hint);
        let e = compile("(?<=a)b").unwrap_err();
        assert_eq!(e.reason, "look-around, including look-ahead and look-behind, is not supported");
        assert_eq!(e.column, Some(1));
        assert!(e.hint.starts_with("look-around is not supported"), "{}", e.hint);
        let e = compile(r"(a)\1").unwrap_err();
        assert!(e.hint.starts_with("backreferences are not supported"), "{}", e.hint);
    }

    #[test]
    fn matches_line_by_line() {
        assert!(compile("^ok$").unwrap().is_match("starting\nok\ndone"));
    }
}

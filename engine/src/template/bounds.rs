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
//! ([`FUEL`]), and the rendered text by [`MAX_RENDERED`], as it is written
//! ([`render`]): writing one value costs one instruction of fuel however
//! long its text is (`{{ [1] * 100000000 }}`, minutes of work).

/// Operators (and attribute, index, call and filter steps) in one
/// expression: one `{{ … }}`, one `{% … %}`, or a whole `when`.
pub const MAX_OPERATORS: usize = 256;

/// Fuel of one render or evaluation: about this many VM instructions, or
/// 64 times as many bytes allocated (minijinja's unit).
pub const FUEL: u64 = 1_000_000;

/// The longest rendered body or attribute, in bytes.
pub const MAX_RENDERED: usize = 4 << 20;

/// Render `tmpl`, stopping at the first byte past [`MAX_RENDERED`], or at
/// a value longer than that ([`display`]): then a
/// [`minijinja::ErrorKind::WriteFailure`].
pub fn render(tmpl: &minijinja::Template<'_, '_>, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
    let mut out = Capped(Vec::new());
    tmpl.render_captured_to(ctx, &mut out)?;
    Ok(out.text())
}

/// A value's text as minijinja displays it, refused past [`MAX_RENDERED`]
/// bytes as it is written (a sequence of millions of items stops there).
pub fn display(value: &minijinja::Value) -> Result<String, minijinja::Error> {
    use std::fmt::Write;
    fits(value)?;
    let mut out = Capped(Vec::new());
    write!(out, "{value}").map_err(|_| too_large())?;
    Ok(out.text())
}

/// Refuses a value that cannot be written within [`MAX_RENDERED`] bytes,
/// before it is written: minijinja writes a sequence's items through
/// `debug_list`, which goes on iterating after a write failed.
pub fn fits(value: &minijinja::Value) -> Result<(), minijinja::Error> {
    match at_least(value, MAX_RENDERED) {
        Some(_) => Ok(()),
        None => Err(too_large()),
    }
}

/// The fewest bytes `value` is displayed in, if no more than `budget`
/// (`None` past it): a string its length, a sequence or a map two bytes
/// per item at least, and its items'. Its work stops with the budget.
fn at_least(value: &minijinja::Value, budget: usize) -> Option<usize> {
    use minijinja::value::ValueKind;
    let cost = match value.kind() {
        ValueKind::String | ValueKind::Bytes => value.len().unwrap_or(0),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            if value.len().is_some_and(|n| n.saturating_mul(2) > budget) {
                return None;
            }
            let mut cost = 2;
            let Ok(items) = value.try_iter() else { return (cost <= budget).then_some(cost) };
            for item in items {
                cost += 2 + at_least(&item, budget.checked_sub(cost)?)?;
                if value.kind() == ValueKind::Map
                    && let Ok(v) = value.get_item(&item)
                {
                    cost += at_least(&v, budget.checked_sub(cost)?)?;
                }
                if cost > budget {
                    return None;
                }
            }
            cost
        }
        _ => 1,
    };
    (cost <= budget).then_some(cost)
}

/// The error of a value past [`MAX_RENDERED`] bytes: a write that failed,
/// as the rendering's own past it.
pub fn too_large() -> minijinja::Error {
    minijinja::Error::new(
        minijinja::ErrorKind::WriteFailure,
        format!("a value is longer than {MAX_RENDERED} bytes, the most a rendered body or attribute may be"),
    )
}

/// Text written so far, refused past [`MAX_RENDERED`] bytes.
struct Capped(Vec<u8>);

impl Capped {
    fn push(&mut self, b: &[u8]) -> bool {
        let fits = self.0.len() + b.len() <= MAX_RENDERED;
        if fits {
            self.0.extend_from_slice(b);
        }
        fits
    }

    /// Only whole `str`s are written: the bytes are UTF-8.
    fn text(self) -> String {
        String::from_utf8(self.0).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

impl std::io::Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if !self.push(b) {
            return Err(std::io::Error::other("the rendered text is too large"));
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.push(s.as_bytes()) { Ok(()) } else { Err(std::fmt::Error) }
    }
}

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

    /// A sequence of 50 million items, counting the items taken from it.
    fn counted() -> (minijinja::Value, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let taken = std::sync::Arc::new(AtomicUsize::new(0));
        let t = taken.clone();
        let seq = minijinja::Value::make_object_iterable((), move |_| {
            let t = t.clone();
            Box::new((0..50_000_000u32).map(move |i| {
                t.fetch_add(1, Ordering::Relaxed);
                minijinja::Value::from(i % 10)
            }))
        });
        (seq, taken)
    }

    #[test]
    fn a_value_too_long_to_write_is_refused_without_being_walked_to_its_end() {
        let (seq, taken) = counted();
        let e = display(&seq).unwrap_err();
        assert_eq!(e.kind(), minijinja::ErrorKind::WriteFailure);
        // Two bytes an item at least: the budget ends the walk.
        let n = taken.load(std::sync::atomic::Ordering::Relaxed);
        assert!(n <= MAX_RENDERED / 2 + 1, "{n} items taken");
        let nested = minijinja::Value::from(vec![counted().0]);
        assert_eq!(display(&nested).unwrap_err().kind(), minijinja::ErrorKind::WriteFailure);
        assert_eq!(display(&minijinja::Value::from(vec![1, 2])).unwrap(), "[1, 2]");
        let map = minijinja::Value::from_iter([("a", minijinja::Value::from("x".repeat(MAX_RENDERED)))]);
        assert!(display(&map).is_err());
    }

    #[test]
    fn a_rendering_stops_at_the_bound() {
        let env = minijinja::Environment::new();
        let t = env.template_from_str("{% for i in range(3000) %}{{ 'x' * 2000 }}{% endfor %}").unwrap();
        assert_eq!(render(&t, minijinja::Value::UNDEFINED).unwrap_err().kind(), minijinja::ErrorKind::WriteFailure);
        let t = env.template_from_str("{{ 'x' * 20 }}").unwrap();
        assert_eq!(render(&t, minijinja::Value::UNDEFINED).unwrap(), "x".repeat(20));
    }
}

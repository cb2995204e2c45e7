//! The attribute grammar of a step's info string (SPEC §2.2).
//!
//! ```text
//! bash {#pods read needs=a,b when="env == 'devnet'" timeout=30s}
//! ```
//!
//! Pandoc style: `#id`, `key=value`, `key="quoted value"` (or single quotes),
//! bare `flag`. Tokenising is separate from typing so that errors can say
//! precisely which token is wrong.

use std::borrow::Cow;
use std::time::Duration;

use crate::model::{Attrs, OnFail, QueryKind, StepKind};

/// Every attribute key the engine knows, for errors and `check`.
pub const KNOWN_KEYS: &[&str] = &[
    "id",
    "needs",
    "when",
    "read",
    "confirm",
    "timeout",
    "retry",
    "delay",
    "expect",
    "capture",
    "on-fail",
    "cwd",
    "interactive",
    "budget",
    "escalate",
    "rollback",
    "undo",
    "soak",
    "range",
    "step",
];

// `build` keeps the keys it has seen as bits of a u32.
const _: () = assert!(KNOWN_KEYS.len() <= 32);

const FLAGS: &[&str] = &["read", "confirm", "interactive", "undo"];

/// One `key[=value]` token, borrowed from the info string (a quoted value
/// is copied only when it holds escapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttr<'a> {
    pub key: &'a str,
    pub value: Option<Cow<'a, str>>,
}

/// An attribute problem; the parser adds file:line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrError {
    pub message: String,
    pub hint: String,
}

fn err(message: impl Into<String>, hint: impl Into<String>) -> AttrError {
    AttrError { message: message.into(), hint: hint.into() }
}

/// Split the inside of `{…}` into tokens. Works on byte offsets: every
/// delimiter is ASCII, so slicing at them keeps UTF-8 intact.
pub fn tokenize(src: &str) -> Result<Vec<RawAttr<'_>>, AttrError> {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(8);
    let mut i = 0;
    let word_end = |from: usize| b[from..].iter().position(|c| c.is_ascii_whitespace()).map_or(b.len(), |n| from + n);
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let first = b[i];
        if matches!(first, b'"' | b'\'' | b'=') {
            return Err(err(
                format!("unexpected `{}` in attributes `{{{src}}}`", first as char),
                "attributes are `#id`, `key=value`, `key=\"quoted value\"` or a bare `flag`",
            ));
        }
        if first == b'#' {
            let end = word_end(i + 1);
            if end == i + 1 {
                return Err(err("`#` without an id", "write the step id right after `#`: `{#pods read}`"));
            }
            out.push(RawAttr { key: "id", value: Some(Cow::Borrowed(&src[i + 1..end])) });
            i = end;
            continue;
        }
        let key_end = b[i..].iter().position(|c| c.is_ascii_whitespace() || *c == b'=').map_or(b.len(), |n| i + n);
        let key = &src[i..key_end];
        if let Some(q) = key.find(['"', '\'']) {
            return Err(err(
                format!("quote inside attribute name `{}…`", &key[..=q]),
                "quote only values: `key=\"quoted value\"`",
            ));
        }
        i = key_end;
        if i == b.len() || b[i] != b'=' {
            out.push(RawAttr { key, value: None });
            continue;
        }
        i += 1;
        let value = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let start = i + 1;
                // Most values hold no escape: a slice of the source.
                let stop = b[start..].iter().position(|&c| c == q || (c == b'\\' && q == b'"')).map(|n| start + n);
                let (v, close) = match stop {
                    Some(j) if b[j] == q => (Cow::Borrowed(&src[start..j]), j),
                    _ => match unescape(src, start, q) {
                        Ok((v, j)) => (Cow::Owned(v), j),
                        Err(v) => {
                            let q = q as char;
                            return Err(err(
                                format!("unterminated quote in `{key}={q}{v}`"),
                                format!("close the value with {q}, and escape an inner {q} as \\{q}"),
                            ));
                        }
                    },
                };
                i = close + 1;
                if i < b.len() && !b[i].is_ascii_whitespace() {
                    // An inner quote not escaped: escaping it, or the
                    // other quote, works.
                    let other = if q == b'"' { '\'' } else { '"' };
                    let q = q as char;
                    return Err(err(
                        format!("text right after the closing quote of `{key}`"),
                        format!(
                            "separate attributes with spaces; a value that holds {q} is quoted with {other}: \
                             `{key}={other}say {q}ok{q}{other}`"
                        ),
                    ));
                }
                v
            }
            _ => {
                let end = word_end(i);
                let v = &src[i..end];
                i = end;
                Cow::Borrowed(v)
            }
        };
        out.push(RawAttr { key, value: Some(value) });
    }
    Ok(out)
}

/// A quoted value with escapes, from `start` (after the opening quote `q`):
/// the value and the index of the closing quote, or what was read when the
/// quote is not closed. In double quotes `\"` and `\\` are escapes and any
/// other backslash stays; in single quotes a backslash is literal.
fn unescape(src: &str, start: usize, q: u8) -> Result<(String, usize), String> {
    let b = src.as_bytes();
    let mut v = String::new();
    let mut j = start;
    while j < b.len() {
        let c = b[j];
        if c == b'\\' && q == b'"' && j + 1 < b.len() {
            let n = b[j + 1];
            if n != b'"' && n != b'\\' {
                v.push('\\');
            }
            j += 1;
            let ch_len = src[j..].chars().next().map_or(1, char::len_utf8);
            v.push_str(&src[j..j + ch_len]);
            j += ch_len;
            continue;
        }
        if c == q {
            return Ok((v, j));
        }
        if c == b'\\' {
            // A backslash in single quotes, or the last byte: literal.
            v.push('\\');
            j += 1;
            continue;
        }
        let run = b[j..].iter().position(|c| *c == q || *c == b'\\').map_or(b.len(), |n| j + n);
        v.push_str(&src[j..run]);
        j = run;
    }
    Err(v)
}

/// Is this a valid step id (`[a-z0-9][a-z0-9._-]*`)?
pub fn valid_id(id: &str) -> bool {
    let mut c = id.chars();
    matches!(c.next(), Some('a'..='z' | '0'..='9')) && c.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
}

/// Is this a valid variable name for `capture=`?
pub fn valid_var(name: &str) -> bool {
    let mut c = name.chars();
    matches!(c.next(), Some('a'..='z' | 'A'..='Z' | '_')) && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The longest duration a runbook may give (`timeout`, `delay`, `budget`,
/// `soak`, `range`, `step`, front matter `timeout`): 30 days. Longer ones are
/// typos, and a clock plus an unbounded duration overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The most extra attempts `retry=` may ask for.
pub const MAX_RETRY: u32 = 10_000;

/// A duration value: humantime's syntax, at most [`MAX_DURATION`], and not
/// zero unless `key` is `delay` (a timeout, budget, window or soak of
/// nothing is a mistake).
pub fn parse_duration(key: &str, v: &str) -> Result<Duration, AttrError> {
    let d = read_duration(key, v)?;
    let example = match key {
        "budget" | "soak" => "10m",
        "range" => "1h",
        "step" => "1m",
        _ => "30s",
    };
    if d > MAX_DURATION {
        return Err(err(
            format!("`{key}={v}` is longer than the 30 days a duration may be"),
            format!("write a duration of at most 30d, like `{key}={example}`"),
        ));
    }
    if d.is_zero() && key != "delay" {
        return Err(err(format!("`{key}={v}` is zero"), format!("give it a length, like `{key}={example}`")));
    }
    if !d.is_zero() && d < Duration::from_millis(1) {
        return Err(err(
            format!("`{key}={v}` is shorter than a millisecond, the shortest a duration may be"),
            format!("give it a length, like `{key}={example}`"),
        ));
    }
    Ok(d)
}

fn read_duration(key: &str, v: &str) -> Result<Duration, AttrError> {
    // `30s`, `5m`, `2h`: most durations, read without humantime's general parser.
    if let Some((n, unit)) = v.len().checked_sub(1).map(|i| v.split_at(i))
        && (1..=9).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_digit())
        && let Some(scale) = match unit {
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3600),
            _ => None,
        }
    {
        return Ok(Duration::from_secs(n.parse::<u64>().unwrap_or(0) * scale));
    }
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            format!("`{key}={v}` has no unit"),
            format!("write `{key}={v}s` (or m, h, d: `{key}=5m`, `{key}=1h30m`)"),
        ));
    }
    humantime::parse_duration(v).map_err(|e| {
        err(
            format!("`{key}={v}` is not a duration: {e}"),
            format!("write a duration like `{key}=30s`, `{key}=5m` or `{key}=1h30m`"),
        )
    })
}

/// An attribute set another tool wrote (Docusaurus `{1,3}`, Pandoc
/// `{.numberLines}`, `{title="app.js"}`, `{showLineNumbers}`): no step id
/// (`#id`, `id=`) and no key runbook knows or would name in a did-you-mean
/// (of 3+ characters). Such a block is documentation; a set with an id or
/// a near miss (`{#pods reed}`, `{reed}`) is runbook's, and its errors stand.
pub fn foreign(raw: &[RawAttr<'_>]) -> bool {
    let ours = |key: &str| {
        key == "id"
            || KNOWN_KEYS.contains(&key)
            || (key.len() >= 3 && crate::error::did_you_mean(key, KNOWN_KEYS.iter().copied()).is_some())
    };
    !raw.is_empty() && !raw.iter().any(|a| ours(a.key))
}

/// One error per attribute key runbook does not know, in the order given,
/// each with its did-you-mean: a fence with several typos says them all at
/// once rather than one per run.
pub fn unknown(raw: &[RawAttr<'_>]) -> Vec<AttrError> {
    raw.iter().filter(|a| !KNOWN_KEYS.contains(&a.key)).map(|a| unknown_key(a.key)).collect()
}

/// The known key an unknown one was meant for: the usual did-you-mean, or
/// one that reads much the same (`retires` for `retry`: keys are short, so
/// a few edits are most of one).
fn meant(key: &str) -> Option<&'static str> {
    crate::error::did_you_mean(key, KNOWN_KEYS.iter().copied()).or_else(|| {
        KNOWN_KEYS
            .iter()
            .map(|k| (strsim::jaro_winkler(key, k), *k))
            .filter(|(s, _)| *s >= 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k)
    })
}

fn unknown_key(key: &str) -> AttrError {
    let hint = match meant(key) {
        Some(k) => format!("did you mean `{k}`? known attributes: {}", KNOWN_KEYS.join(", ")),
        None => format!("known attributes: {}", KNOWN_KEYS.join(", ")),
    };
    err(format!("unknown attribute `{key}`"), hint)
}

/// Type the tokens into [`Attrs`] and the step id.
pub fn build(raw: Vec<RawAttr<'_>>) -> Result<(Option<String>, Attrs), AttrError> {
    let mut a = Attrs::default();
    let mut id = None;
    // Bit i: KNOWN_KEYS[i] was given.
    let mut seen = 0u32;
    for RawAttr { key, value } in raw {
        let Some(slot) = KNOWN_KEYS.iter().position(|k| *k == key) else {
            return Err(unknown_key(key));
        };
        let known = KNOWN_KEYS[slot];
        if seen & (1 << slot) != 0 {
            return Err(err(format!("attribute `{key}` given twice"), "keep one of them"));
        }
        seen |= 1 << slot;
        let flag = FLAGS.contains(&known);
        let value = match value {
            None if flag => None,
            None => {
                return Err(err(format!("attribute `{key}` needs a value"), format!("write `{key}=…`")));
            }
            Some(v) if flag && known != "confirm" => {
                return Err(err(
                    format!("`{key}` is a flag and takes no value (got `{key}={v}`)"),
                    format!("write just `{key}`"),
                ));
            }
            Some(v) => Some(v),
        };
        let v = value.unwrap_or_default();
        match known {
            "id" => id = Some(v.into_owned()),
            "needs" => {
                a.needs = Some(v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
            }
            "when" => a.when = Some(v.into_owned()),
            "read" => a.read = true,
            "confirm" => a.confirm = Some(v.into_owned()),
            "timeout" => a.timeout = Some(parse_duration(key, &v)?),
            "retry" => {
                a.retry = v.parse().ok().filter(|n| *n <= MAX_RETRY).ok_or_else(|| {
                    err(
                        format!("`retry={v}` is not a whole number from 0 to {MAX_RETRY}"),
                        "write the number of extra attempts: `retry=3 delay=5s`",
                    )
                })?
            }
            "delay" => a.delay = Some(parse_duration(key, &v)?),
            "expect" => a.expect = Some(v.into_owned()),
            "capture" => {
                if !valid_var(&v) {
                    return Err(err(
                        format!("`capture={v}` is not a variable name"),
                        "use letters, digits and `_`, starting with a letter: `capture=current_rev`",
                    ));
                }
                if crate::model::BUILTINS.contains(&&*v) {
                    return Err(err(
                        format!("`capture={v}`: `{v}` is a name templates already define"),
                        "pick another name: `env` is the env's name and `steps` the steps' results",
                    ));
                }
                a.capture = Some(v.into_owned())
            }
            "on-fail" => {
                a.on_fail = match &*v {
                    "stop" => OnFail::Stop,
                    "continue" => OnFail::Continue,
                    _ => {
                        return Err(err(
                            format!("`on-fail={v}` is not `stop` or `continue`"),
                            "write `on-fail=continue` to record the failure and go on",
                        ));
                    }
                }
            }
            "cwd" => a.cwd = Some(v.into_owned()),
            "interactive" => a.interactive = true,
            "budget" => a.budget = Some(parse_duration(key, &v)?),
            "escalate" => a.escalate = Some(v.into_owned()),
            "rollback" => a.rollback = Some(v.into_owned()),
            "undo" => a.undo = true,
            "soak" => a.soak = Some(parse_duration(key, &v)?),
            "range" => a.range = Some(parse_duration(key, &v)?),
            "step" => a.step = Some(parse_duration(key, &v)?),
            _ => unreachable!("every known key is handled"),
        }
    }
    if a.delay.is_some() && a.retry == 0 && a.soak.is_none() {
        return Err(err(
            "`delay=` without `retry=` or `soak=`",
            "add `retry=N` (or `soak=5m` on a query step) or drop `delay`",
        ));
    }
    if a.escalate.is_some() && a.budget.is_none() {
        return Err(err("`escalate=` without `budget=`", "add `budget=10m` (when to escalate)"));
    }
    Ok((id, a))
}

/// An attribute that makes no sense on this kind of step, with a hint
/// (`soak` on a bash step, `range` on an http step, an interactive query).
pub fn misplaced(kind: StepKind, a: &Attrs) -> Option<(&'static str, String)> {
    let q = kind.query();
    let given = |set: bool, name: &'static str| set.then_some(name);
    // What reads a step's output has none to read: a rehearsal, which
    // captures it, would pass what a play cannot.
    let reads_output = given(a.capture.is_some(), "capture").or(given(a.expect.is_some(), "expect"));
    if let Some(attr) = reads_output {
        if kind == StepKind::Manual {
            return Some((
                attr,
                format!(
                    "a `manual` step prints nothing for `{attr}=` to read: drop it, or read the result in a step of its own"
                ),
            ));
        }
        if a.interactive {
            return Some((
                attr,
                format!(
                    "an `interactive` step's output goes to the terminal, not to runbook, so `{attr}=` would read nothing: drop one of them, or read the result in a step of its own"
                ),
            ));
        }
    }
    if q.is_none() {
        let attr = given(a.soak.is_some(), "soak")
            .or(given(a.range.is_some(), "range"))
            .or(given(a.step.is_some(), "step"))?;
        return Some((attr, format!("`{attr}=` is for promql, logql and http steps (docs/observability.md)")));
    }
    if q == Some(QueryKind::Http) {
        let attr = given(a.range.is_some(), "range").or(given(a.step.is_some(), "step"));
        if let Some(attr) = attr {
            return Some((attr, format!("`{attr}=` is the window of a promql or logql query; an http step has none")));
        }
    }
    if a.step.is_some() && a.range.is_none() {
        return Some(("step", "`step=` is the resolution of a range query: add `range=1h`".into()));
    }
    if a.interactive {
        return Some(("interactive", "a query step does not use the terminal: drop `interactive`".into()));
    }
    if a.cwd.is_some() {
        return Some(("cwd", "a query step runs no process: drop `cwd`".into()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_tools_sets_are_foreign_and_ours_are_not() {
        let foreign_set = |s: &str| foreign(&tokenize(s).unwrap());
        for s in ["1,3", "2-3", ".numberLines", "showLineNumbers", "title=\"app.js\"", "2-3 title=x", "r, echo=FALSE"] {
            assert!(foreign_set(s), "{s}");
        }
        for s in ["", "#pods reed", "id=x", "reed", "read", "timout=5m", "1,3 needs=a"] {
            assert!(!foreign_set(s), "{s}");
        }
    }

    #[test]
    fn tokens() {
        let t = tokenize(r#"#pods read when="env == 'devnet'" timeout=30s confirm='go on'"#).unwrap();
        assert_eq!(t.len(), 5);
        assert_eq!(t[0], RawAttr { key: "id", value: Some("pods".into()) });
        assert_eq!(t[2].value.as_deref(), Some("env == 'devnet'"));
        assert_eq!(t[4].value.as_deref(), Some("go on"));
    }

    #[test]
    fn escaped_quote() {
        let t = tokenize(r#"expect="say \"hi\"""#).unwrap();
        assert_eq!(t[0].value.as_deref(), Some(r#"say "hi""#));
    }

    #[test]
    fn backslashes() {
        let t = tokenize(r#"a="x\ny" b='c\d' c="end\"#).unwrap_err();
        assert!(t.message.contains("unterminated"), "{}", t.message);
        let t = tokenize(r#"a="x\ny" b='c\d' é="ü\"ß""#).unwrap();
        assert_eq!(t[0].value.as_deref(), Some(r"x\ny"));
        assert_eq!(t[1].value.as_deref(), Some(r"c\d"));
        assert_eq!(t[2].value.as_deref(), Some("ü\"ß"));
    }

    #[test]
    fn unterminated() {
        assert!(tokenize(r#"#a when="x"#).unwrap_err().message.contains("unterminated"));
    }

    #[test]
    fn ids() {
        assert!(valid_id("2.1-head_stall"));
        assert!(!valid_id("Pods"));
        assert!(!valid_id("-x"));
        assert!(!valid_id(""));
    }

    #[test]
    fn durations_read_like_humantime() {
        for v in ["30s", "5m", "2h", "0s", "999999999h", "1h30m", "1500ms", "10 s", "s", "7d", "1.5s", "٣s"] {
            let ours = read_duration("timeout", v).ok();
            assert_eq!(ours, humantime::parse_duration(v).ok(), "{v}");
        }
    }

    #[test]
    fn durations_are_bounded_and_not_zero() {
        for v in ["9999999999999999999s", "9223372036854775807s", "999999999h", "31d", "30d 1s", "720h1s"] {
            let e = parse_duration("timeout", v).unwrap_err();
            assert!(e.message.contains("30 days"), "{v}: {}", e.message);
        }
        assert_eq!(parse_duration("budget", "30d").unwrap(), MAX_DURATION);
        for key in ["timeout", "budget", "soak", "range", "step"] {
            assert!(parse_duration(key, "0s").unwrap_err().message.contains("is zero"), "{key}");
        }
        assert_eq!(parse_duration("delay", "0s").unwrap(), Duration::ZERO);
        let e = build(vec![RawAttr { key: "retry", value: Some("4294967295".into()) }]).unwrap_err();
        assert!(e.message.contains("from 0 to"), "{}", e.message);
    }

    #[test]
    fn unknown_key_suggests() {
        let e = build(vec![RawAttr { key: "timout", value: Some("3s".into()) }]).unwrap_err();
        assert!(e.hint.contains("did you mean `timeout`"), "{}", e.hint);
    }
}

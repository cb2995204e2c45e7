//! The common shape of front matter, read without a YAML parser.
//!
//! Every YAML crate we measured costs 1.2–4 µs per document before it reads a
//! byte of a three-line front matter (serde-saphyr 4.2 µs, the bare event
//! parsers of granit, saphyr and yaml-rust2 1.2–2.2 µs): as much as
//! pulldown-cmark spends on a whole 4 KB runbook. Nearly every front matter is
//! the SPEC §2.1 example's shape: `key: value` lines, a `vars:` block of
//! `name: value` lines, one-line `[a, b]` lists or `- item` lists; wiki keys
//! (`tags: [db]`, `owner: sre`) have it too and become metadata.
//!
//! This reader accepts only that shape and only values whose meaning no YAML
//! resolver can dispute: quoted text without escapes, plain text that cannot
//! be a number, boolean or null, and plain decimal integers. On anything else
//! (a tag, an anchor, a block scalar, an escape, a duplicate key, `yes`,
//! `0x1f`, `1e3`, a tab…) it returns `None` and serde-saphyr parses the
//! whole front matter, errors and their lines included. So the result never
//! differs from serde-saphyr's: a unit test compares both on every runbook of
//! the repository and on thousands of generated front matters.

use serde_json::{Map, Value};

use super::FrontMatter;

/// Read `yaml` if it has the plain shape; `None` means "ask serde-saphyr".
pub fn parse(yaml: &str) -> Option<FrontMatter> {
    if yaml.contains(['\t', '\r']) {
        return None;
    }
    let lines: Vec<Line> = yaml.lines().filter_map(Line::new).collect();
    let mut fm = FrontMatter::default();
    let mut seen = [false; 7];
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if line.indent != 0 {
            return None;
        }
        let (key, rest) = key_value(line.text)?;
        i += 1;
        let Some(slot) = super::KEYS.iter().position(|k| *k == key) else {
            // Metadata: any value of the plain shape.
            let value = if rest.is_empty() {
                let (v, next) = block(&lines, i, 0)?;
                i = next;
                v
            } else if rest.starts_with('[') {
                Value::Array(flow(rest)?)
            } else {
                scalar(rest, false)?
            };
            if fm.meta.insert(key.to_string(), value).is_some() {
                return None;
            }
            continue;
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
        if rest.is_empty() {
            // A nested block: `vars:` mapping or a `- item` list.
            let (value, next) = block(&lines, i, 0)?;
            i = next;
            match (slot, value) {
                (2, Value::Object(m)) => fm.vars = m.into_iter().collect(),
                (3..=5, Value::Array(items)) => *list_field(&mut fm, slot) = strings(items)?,
                _ => return None,
            }
            continue;
        }
        match slot {
            0 | 1 | 6 => {
                let Value::String(s) = scalar(rest, false)? else { return None };
                let field = match slot {
                    0 => &mut fm.id,
                    1 => &mut fm.title,
                    _ => &mut fm.timeout,
                };
                *field = Some(s);
            }
            3..=5 => *list_field(&mut fm, slot) = strings(flow(rest)?)?,
            _ => return None,
        }
    }
    Some(fm)
}

fn list_field(fm: &mut FrontMatter, slot: usize) -> &mut Vec<String> {
    match slot {
        3 => &mut fm.secrets,
        4 => &mut fm.envs,
        _ => &mut fm.requires,
    }
}

fn strings(items: Vec<Value>) -> Option<Vec<String>> {
    items.into_iter().map(|v| if let Value::String(s) = v { Some(s) } else { None }).collect()
}

/// A line that carries content: its indent and its text without the indent.
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

impl<'a> Line<'a> {
    fn new(raw: &'a str) -> Option<Self> {
        let text = raw.trim_start_matches(' ');
        let text = text.trim_end_matches(' ');
        if text.is_empty() || text.starts_with('#') {
            return None;
        }
        Some(Line { indent: raw.len() - raw.trim_start_matches(' ').len(), text })
    }
}

/// The block nested under a key at `parent` indent, starting at `lines[i]`:
/// a mapping or a sequence. Returns the value and the first line after it.
fn block(lines: &[Line], i: usize, parent: usize) -> Option<(Value, usize)> {
    let first = lines.get(i)?;
    if first.text == "-" || first.text.starts_with("- ") {
        // YAML lets a list sit at its key's own indent.
        let indent = first.indent;
        if indent < parent {
            return None;
        }
        let mut items = Vec::new();
        let mut i = i;
        while let Some(l) = lines.get(i).filter(|l| l.indent == indent && (l.text == "-" || l.text.starts_with("- "))) {
            let item = l.text.strip_prefix("- ")?.trim_start_matches(' ');
            items.push(scalar(item, false)?);
            i += 1;
        }
        return end_of_block(lines, i, parent).then_some((Value::Array(items), i));
    }
    let indent = first.indent;
    if indent <= parent {
        return None;
    }
    let mut map = Map::new();
    let mut i = i;
    while let Some(l) = lines.get(i).filter(|l| l.indent == indent) {
        let (key, rest) = key_value(l.text)?;
        i += 1;
        let value = if rest.is_empty() {
            let (v, next) = block(lines, i, indent)?;
            i = next;
            v
        } else if rest.starts_with('[') {
            Value::Array(flow(rest)?)
        } else {
            scalar(rest, false)?
        };
        if map.insert(key.to_string(), value).is_some() {
            return None;
        }
    }
    end_of_block(lines, i, parent).then_some((Value::Object(map), i))
}

/// A block ends where a line goes back to its parent's indent or less.
fn end_of_block(lines: &[Line], i: usize, parent: usize) -> bool {
    lines.get(i).is_none_or(|l| l.indent <= parent)
}

/// `key: rest` with a plain key that reads the same in every YAML.
fn key_value(text: &str) -> Option<(&str, &str)> {
    let colon = text.find(':')?;
    let (key, rest) = (&text[..colon], &text[colon + 1..]);
    let plain = key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !reserved(key);
    if !plain || !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let rest = rest.trim_start_matches(' ');
    Some((key, if rest.starts_with('#') { "" } else { rest }))
}

/// A one-line `[a, "b", c]` list, with an optional comment after it.
fn flow(text: &str) -> Option<Vec<Value>> {
    let inner = text.strip_prefix('[')?;
    let close = inner.find(']')?;
    let after = inner[close + 1..].trim_start_matches(' ');
    if !(after.is_empty() || (after.starts_with('#') && inner[close + 1..].starts_with(' '))) {
        return None;
    }
    let inner = inner[..close].trim_matches(' ');
    if inner.contains('#') {
        return None;
    }
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner
        .split(',')
        .map(|item| {
            let item = item.trim_matches(' ');
            scalar(item, true)
        })
        .collect()
}

/// A scalar value, with an optional ` # comment` after it. In a flow list
/// (`flow`), `,[]{}` and `:` belong to the list's syntax.
fn scalar(text: &str, flow: bool) -> Option<Value> {
    let quote = text.bytes().next()?;
    if quote == b'"' || quote == b'\'' {
        let inner = &text[1..];
        let close = inner.find(quote as char)?;
        let (content, after) = (&inner[..close], &inner[close + 1..]);
        let escaped = if quote == b'"' { content.contains('\\') } else { after.starts_with('\'') };
        let rest = after.trim_start_matches(' ');
        let after_ok = rest.is_empty() || (rest.starts_with('#') && after.starts_with(' '));
        return (!escaped && after_ok).then(|| Value::String(content.to_string()));
    }
    let value = match text.find(" #") {
        Some(c) => text[..c].trim_end_matches(' '),
        None => text,
    };
    if let Some(n) = integer(value) {
        return Some(Value::from(n));
    }
    if let Some(x) = decimal(value) {
        // `1.10` is kept as written where serde-saphyr reads it (a variable).
        let n = Value::from(x);
        return (super::as_written(value, n.clone()) == n).then_some(n);
    }
    plain_text(value, flow).then(|| Value::String(value.to_string()))
}

/// A decimal integer every resolver reads alike: no sign but `-`, no leading
/// zero, no `_`, and small enough for an `i64`.
fn integer(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    (canonical_digits(digits) && digits.len() <= 18 && s != "-0").then(|| s.parse().ok()).flatten()
}

/// `0.01`, `-2.5`: a fraction without exponent, read as an `f64`.
fn decimal(s: &str) -> Option<f64> {
    let (whole, frac) = s.strip_prefix('-').unwrap_or(s).split_once('.')?;
    let ok =
        canonical_digits(whole) && !frac.is_empty() && frac.len() <= 15 && frac.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse().ok()).flatten()
}

fn canonical_digits(d: &str) -> bool {
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && (d == "0" || !d.starts_with('0'))
}

/// Plain text that cannot resolve to anything but a string: it starts like a
/// word, holds no `: ` (a mapping) and no control character, and has a letter
/// no number can contain.
fn plain_text(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else { return false };
    let starts_well = first.is_ascii_alphanumeric() || matches!(first, '/' | '_' | '.' | '(') || !first.is_ascii();
    let chars_ok = s.chars().all(|c| {
        if c.is_ascii() {
            (c.is_ascii_graphic() || c == ' ') && !(flow && matches!(c, ',' | '[' | ']' | '{' | '}' | ':' | '#'))
        } else {
            !c.is_whitespace() && !c.is_control() && !matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{85}')
        }
    });
    // Hex digits, `x`, `o` and the exponent `e` all appear in YAML numbers.
    let wordy =
        s.chars().any(|c| (c.is_ascii_alphabetic() && !c.is_ascii_hexdigit() && !"xXoO".contains(c)) || !c.is_ascii());
    starts_well && chars_ok && wordy && !s.contains(": ") && !s.ends_with(':') && !reserved(s)
}

/// Words that YAML 1.1 or 1.2 resolve to booleans, nulls or special floats.
fn reserved(s: &str) -> bool {
    const WORDS: [&str; 13] =
        ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf", ".nan", ".inf"];
    let s = s.trim_start_matches(['+', '-']);
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saphyr(yaml: &str) -> Option<FrontMatter> {
        super::super::parse_yaml(yaml).ok()
    }

    /// Where the plain reader answers, serde-saphyr must answer the same.
    fn agrees(yaml: &str) -> bool {
        match parse(yaml) {
            Some(fm) => {
                assert_eq!(Some(&fm), saphyr(yaml).as_ref(), "plain reader differs on:\n{yaml}");
                true
            }
            None => false,
        }
    }

    const VALUES: [&str; 86] = [
        "x",
        "a",
        "devnet",
        "2.1-head-stall",
        "30m",
        "200",
        "-7",
        "0",
        "-0",
        "012",
        "+5",
        "1_000",
        "1.5",
        "1e3",
        ".inf",
        "-.inf",
        ".NaN",
        "inf",
        "yes",
        "No",
        "ON",
        "off",
        "y",
        "N",
        "null",
        "Null",
        "~",
        "true",
        "False",
        "0x1F",
        "0o17",
        "0b101",
        "2024-01-01",
        "12:30",
        "Head not advancing",
        "a #b",
        "a#b",
        "a: b",
        "'q'",
        "'it''s'",
        "\"d\"",
        "\"d\\n\"",
        "\"a # b\" # c",
        "é",
        "naïve café",
        "a  b",
        "/var/lib/x",
        "deadbeef",
        "0.01",
        "0.5",
        "1.50",
        "-2.5",
        "00.5",
        "1.",
        ".5",
        "http://x:9090",
        "a:b",
        "a:",
        "x, y",
        "a &b",
        "&a",
        "*a",
        "!t x",
        "a!",
        "[a]",
        "{a: b}",
        "a|b",
        "?x",
        "%x",
        "@x",
        "`x`",
        "2001-12-14t21:59:43.10-05:00",
        "12:30:00",
        "(TL;DR) x",
        "Inf",
        "-.Inf",
        "NaN",
        "NULL",
        "TRUE",
        "E5",
        "1E5",
        "0.1e3",
        "\"\"",
        "''",
        "9223372036854775807",
        "0.30000000000000004",
    ];

    /// Each value in each place a value can stand.
    #[test]
    fn agrees_with_serde_saphyr_on_every_value() {
        let mut plain = 0;
        for v in VALUES {
            for yaml in [
                format!("vars:\n  k: {v}\n"),
                format!("vars:\n  k: {v}   # c\n"),
                format!("title: {v}\n"),
                format!("timeout: {v} # c\n"),
                format!("envs: [{v}]\n"),
                format!("envs: [x, {v}] # c\n"),
                format!("vars:\n  k: [{v}, y]\n"),
                format!("requires:\n  - {v}\n"),
                format!("requires:\n- {v}\nid: x\n"),
            ] {
                plain += usize::from(agrees(&yaml));
            }
        }
        assert!(plain >= 100, "plain reader answered {plain} times");
    }

    #[test]
    fn reads_the_spec_example() {
        let yaml = "id: 2.1-head-stall          # default: the file stem\ntitle: Head not advancing\nvars:                        # defaults\n  namespace: animica-devnet\n  tail: 200\nsecrets: [api_key]\n   # a comment\nenvs: [devnet, prod]\nrequires:\n  - kubectl\n  - \"helm\"\ntimeout: 30m\n";
        let fm = parse(yaml).expect("plain shape");
        assert_eq!(fm.id.as_deref(), Some("2.1-head-stall"));
        assert_eq!(fm.vars["tail"], Value::from(200));
        assert_eq!(fm.requires, ["kubectl", "helm"]);
        assert!(agrees(yaml));
    }

    #[test]
    fn reads_wiki_keys_as_metadata() {
        let yaml = "title: Redis failover\ntags: [redis, database]\nowner: team-sre\nseverity: P1\nlinks:\n  dashboard: https://grafana.example/d/x\nreviewers:\n  - ana\n";
        let fm = parse(yaml).expect("plain shape");
        assert_eq!(fm.meta.keys().collect::<Vec<_>>(), ["tags", "owner", "severity", "links", "reviewers"]);
        assert_eq!(fm.meta["tags"], serde_json::json!(["redis", "database"]));
        assert_eq!(fm.meta["links"]["dashboard"], "https://grafana.example/d/x");
        assert!(agrees(yaml));
    }

    #[test]
    fn leaves_the_rest_to_serde_saphyr() {
        for yaml in [
            "id: yes\n",
            "vars:\n  a: 0x1f\n",
            "vars:\n  a: 1e3\n",
            "vars:\n  a: 012\n",
            "vars:\n  a: deadbeef\n",
            "vars:\n  a: \"x\\ty\"\n",
            "vars:\n  a: 'it''s'\n",
            "vars:\n  a: &x b\n",
            "vars:\n  a: |\n    b\n",
            "vars:\n  a: b\n  a: c\n",
            "title: Head not\n  advancing\n",
            "title: a: b\n",
            "unknown: yes\n",
            "tags: [a]\ntags: [b]\n",
            "id: x\nid: y\n",
            "vars:\n\ta: b\n",
            "timeout:\nid: x\n",
        ] {
            assert!(parse(yaml).is_none(), "should defer:\n{yaml}");
        }
    }

    #[test]
    fn agrees_with_serde_saphyr_on_every_runbook() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
        let mut n = 0;
        for entry in walkdir::WalkDir::new(dir).into_iter().filter_map(|e| e.ok()) {
            if entry.path().extension().is_none_or(|e| e != "md") {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            if let Some(yaml) = super::super::split(&text).yaml {
                assert!(agrees(yaml), "{} is not read by the plain reader", entry.path().display());
                n += 1;
            }
        }
        assert!(n >= 10, "only {n} runbooks with front matter found");
    }

    /// Random front matters from pieces YAML resolvers disagree on.
    #[test]
    fn agrees_with_serde_saphyr_on_generated_front_matter() {
        const KEYS: [&str; 15] = [
            "id", "title", "vars", "secrets", "envs", "requires", "timeout", "vars", "title", "envs", "other", "Id",
            "tags", "owner", "var",
        ];
        let mut next = crate::parse::picker(0x9e37_79b9_7f4a_7c15);
        let (mut plain, mut valid) = (0, 0);
        for _ in 0..4000 {
            let mut yaml = String::new();
            for _ in 0..1 + next(4) {
                let key = KEYS[next(KEYS.len())];
                match next(6) {
                    0 => {
                        yaml.push_str(&format!("{key}:\n"));
                        let indent = [" ", "  ", "    ", ""][next(4)];
                        for _ in 0..1 + next(3) {
                            let v = VALUES[next(VALUES.len())];
                            yaml.push_str(&format!("{indent}{}: {v}\n", VALUES[next(8)]));
                        }
                    }
                    1 => {
                        yaml.push_str(&format!("{key}:\n"));
                        let indent = ["  ", ""][next(2)];
                        for _ in 0..1 + next(3) {
                            yaml.push_str(&format!("{indent}- {}\n", VALUES[next(VALUES.len())]));
                        }
                    }
                    2 => {
                        let items: Vec<_> = (0..next(4)).map(|_| VALUES[next(VALUES.len())]).collect();
                        yaml.push_str(&format!("{key}: [{}]\n", items.join(", ")));
                    }
                    3 => yaml.push_str(&format!("{key}: {}   # note\n", VALUES[next(VALUES.len())])),
                    4 => yaml.push_str("# a comment\n\n"),
                    _ => yaml.push_str(&format!("{key}: {}\n", VALUES[next(VALUES.len())])),
                }
            }
            valid += usize::from(saphyr(&yaml).is_some());
            plain += usize::from(agrees(&yaml));
            // The same text with a few characters YAML cares about thrown in.
            let mut mutated: Vec<char> = yaml.chars().collect();
            for _ in 0..1 + next(3) {
                let at = next(mutated.len() + 1);
                mutated.insert(at, [' ', '\n', ':', '-', '#', '\'', '"', '[', ']', ',', 'é', '\t'][next(12)]);
            }
            agrees(&mutated.into_iter().collect::<String>());
        }
        // The comparison means something only if the plain reader answered often.
        assert!(plain * 5 > valid, "plain reader answered {plain} of {valid} valid front matters");
    }
}

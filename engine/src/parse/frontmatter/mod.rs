//! YAML front matter, accepted only at byte 0 (SPEC §2.1).
//!
//! pulldown-cmark would report a `---` metadata block anywhere in a document,
//! so the front matter is split off here, before markdown parsing, and the
//! markdown parser is told how many lines it skipped.
//!
//! Keys the engine does not know (`tags`, `owner`, `severity`, … written for
//! a wiki) are kept as metadata ([`FrontMatter::meta`]); [`near_misses`] names
//! the ones that look like a misspelt runbook key (`var:` for `vars:`).

mod de;
mod literal;
mod plain;

pub use literal::{as_written, from_toml};

use crate::error::Diagnostic;
use crate::model::{Meta, Runbook, Value, Vars};

#[derive(Debug, Default, PartialEq)]
pub struct FrontMatter {
    pub id: Option<String>,
    pub title: Option<String>,
    pub vars: Vars,
    pub secrets: Vec<String>,
    pub envs: Vec<String>,
    pub requires: Vec<String>,
    pub timeout: Option<String>,
    /// Every other key, in the order written.
    pub meta: Meta,
}

/// The keys the engine reads, in the order of SPEC §2.1.
pub const KEYS: [&str; 7] = ["id", "title", "vars", "secrets", "envs", "requires", "timeout"];

pub const KNOWN_KEYS: &str = "id, title, vars, secrets, envs, requires, timeout";

/// Metadata keys that look like a misspelt runbook key, with that key:
/// another case (`Title`), a missing or extra letter or two letters swapped
/// (`var`, `timout`, `titel`), or a usual synonym (`variables`). Wiki keys
/// (`tags`, `owner`, `type`, `severity`) are none of these.
pub fn near_misses(meta: &Meta) -> Vec<(&str, &'static str)> {
    meta.keys().filter_map(|k| Some((k.as_str(), runbook_key(k)?))).collect()
}

/// A warning for each front-matter key that looks like a misspelt runbook
/// key (`var:`, `secret:`), at its line of `text` (the runbook's file): it
/// is kept as metadata, so the runbook silently lacks what it meant. `check`
/// lists them; `plan` and `play` say them too, since a `secret:` meant as
/// `secrets:` leaves its values in clear.
pub fn key_warnings(rb: &Runbook, text: &str) -> Vec<Diagnostic> {
    let yaml = split(text.strip_prefix('\u{feff}').unwrap_or(text)).yaml.unwrap_or("");
    near_misses(&rb.meta)
        .into_iter()
        .map(|(key, known)| {
            let line = 1 + key_line(yaml, key).unwrap_or(0);
            Diagnostic::warning(
                "front-matter-key",
                format!("front matter key `{key}` is not a runbook key: it is kept as metadata, and the runbook has no `{known}`"),
            )
            .at(&rb.path, line)
            .hint(format!("did you mean `{known}`? (runbook keys: {})", KNOWN_KEYS))
        })
        .collect()
}

/// The runbook key `key` is, or is a near miss of (see [`near_misses`]).
pub fn runbook_key(key: &str) -> Option<&'static str> {
    const SYNONYMS: [(&str, &str); 6] = [
        ("variables", "vars"),
        ("variable", "vars"),
        ("environments", "envs"),
        ("environment", "envs"),
        ("requirements", "requires"),
        ("secret_vars", "secrets"),
    ];
    let norm = key.to_lowercase().replace('-', "_");
    SYNONYMS.iter().find(|(s, _)| *s == norm).map(|(_, k)| *k).or_else(|| {
        KEYS.iter()
            .copied()
            .find(|known| norm == *known || (norm.len() >= 3 && strsim::osa_distance(&norm, known) == 1))
    })
}

/// The 1-based line (within the YAML) of a top-level key written plainly.
pub fn key_line(yaml: &str, key: &str) -> Option<usize> {
    let at = |l: &str| l.strip_prefix(key).is_some_and(|rest| rest.trim_start_matches(' ').starts_with(':'));
    yaml.lines().position(at).map(|i| i + 1)
}

/// The last flow-style `[` or `{` that `yaml` opens before its line
/// `before` (1-based) and does not close by then, as its line (1-based)
/// and bracket: what a YAML error further down most likely comes from.
/// Quoted text and comments are skipped.
pub fn unclosed_bracket(yaml: &str, before: usize) -> Option<(usize, char)> {
    let mut open: Vec<(usize, char)> = Vec::new();
    for (n, l) in yaml.lines().enumerate().take(before.saturating_sub(1)) {
        let mut quote = None;
        let mut prev = ' ';
        for c in l.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '#') if prev.is_whitespace() => break,
                (None, '[' | '{') => open.push((n + 1, c)),
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
            prev = c;
        }
    }
    open.pop()
}

/// The 1-based line of runbook `text` where its front matter writes
/// top-level `key` plainly; `None` without it.
pub fn top_key_line(text: &str, key: &str) -> Option<usize> {
    // The YAML starts on the line after the opening `---`.
    Some(1 + key_line(split(text).yaml?, key)?)
}

/// The 1-based line of runbook `text` where front matter `requires` lists
/// `tool`: its own line in a block list (`- kubectl`), else the line of the
/// key (`requires: [kubectl, helm]`); `None` without the key.
pub fn requires_line(text: &str, tool: &str) -> Option<usize> {
    let yaml = split(text).yaml?;
    let key = key_line(yaml, "requires")?;
    let word = |l: &str| {
        let l = l.split(" #").next().unwrap_or(l);
        l.split(|c: char| c.is_whitespace() || "[],'\"".contains(c)).any(|w| w == tool)
    };
    // The key's value: its line, then the indented or `-` lines under it.
    let at = yaml
        .lines()
        .skip(key - 1)
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with([' ', '\t', '-']) || l.trim().is_empty())
        .find(|(i, l)| word(if *i == 0 { l.split_once(':').map_or(*l, |(_, v)| v) } else { l }))
        .map_or(0, |(i, _)| i);
    // The YAML starts on the line after the opening `---`.
    Some(1 + key + at)
}

/// The front matter block: its YAML text and where the markdown starts.
pub struct Split<'a> {
    pub yaml: Option<&'a str>,
    /// Byte offset where the markdown body starts.
    pub body_start: usize,
    /// The front matter's closing fence is missing.
    pub unclosed: bool,
}

/// Split `---\n…\n---\n` off the start of `text`.
///
/// A `---` first line is also how markdown writes a horizontal rule, so it
/// opens front matter only when what follows looks like it: closed by a
/// `---`/`...` line, front matter unless a blank line follows the `---` and
/// the first line written is not a `key:` line; never closed, the
/// front matter an author forgot to close (`unclosed`) only when that first
/// line is a runbook key's (`title:`, `vars:`, or a near miss). Anything
/// else is a rule, and the whole text is markdown.
pub fn split(text: &str) -> Split<'_> {
    let markdown = Split { yaml: None, body_start: 0, unclosed: false };
    let first_nl = text.find('\n');
    let first = first_nl.map_or(text, |n| &text[..n]).trim_end_matches('\r');
    if first != "---" {
        return markdown;
    }
    let yaml_start = first_nl.map_or(text.len(), |n| n + 1);
    let blank_after = text[yaml_start..].lines().next().is_some_and(|l| l.trim().is_empty());
    let mut pos = yaml_start;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |n| pos + n);
        let line = text[pos..end].trim_end_matches('\r');
        if line == "---" || line == "..." {
            let yaml = &text[yaml_start..pos];
            if blank_after && first_key(yaml).is_none() {
                return markdown;
            }
            return Split { yaml: Some(yaml), body_start: (end + 1).min(text.len()), unclosed: false };
        }
        pos = end + 1;
    }
    let yaml = &text[yaml_start..];
    if first_key(yaml).and_then(runbook_key).is_none() {
        return markdown;
    }
    Split { yaml: Some(yaml), body_start: text.len(), unclosed: true }
}

/// The key of the first non-blank line when it is a top-level YAML
/// `key: value` (or `key:`) line.
fn first_key(yaml: &str) -> Option<&str> {
    let line = yaml.lines().find(|l| !l.trim().is_empty())?.trim_end_matches('\r');
    let (key, rest) = line.split_once(':')?;
    let key = key.trim_end_matches(' ');
    let word = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (word && (rest.is_empty() || rest.starts_with([' ', '\t']))).then_some(key)
}

/// Parse the YAML; on error, the 1-based line within the YAML and the message.
pub fn parse(yaml: &str) -> Result<FrontMatter, (Option<usize>, String)> {
    if yaml.trim().is_empty() {
        return Ok(FrontMatter::default());
    }
    if let Some(fm) = plain::parse(yaml) {
        return Ok(fm);
    }
    parse_yaml(yaml)
}

/// The whole of YAML, through serde-saphyr.
fn parse_yaml(yaml: &str) -> Result<FrontMatter, (Option<usize>, String)> {
    // Front matter is a few lines the author wrote: the resource budget (meant
    // for untrusted documents) only costs time here.
    let mut options = serde_saphyr::Options::default();
    options.budget = None;
    // Comments are validated either way; nothing here reads their text.
    options.emit_comments = false;
    // …but aliases that expand to millions of values (a "billion laughs")
    // would cost seconds and hundreds of megabytes.
    options.alias_limits.max_total_replayed_events = MAX_REPLAYED;
    // `mode: 0755`, `shard: 007`: a file mode or a zero-padded id, meant as
    // written, never as 755.0 (docs/decisions.md, "Leading zeros").
    options.leading_zero_numbers_as_strings = true;
    // `region: no` (Norway), `confirm_with: y`: YAML 1.1 read these as
    // booleans; only `true`/`false` are (YAML 1.2, as `--set` reads them).
    options.strict_booleans = true;
    let read = serde_saphyr::from_str_with_options::<de::Read>(yaml, options).map_err(|e| {
        let line = e.location().map(|l| l.line() as usize).filter(|l| *l > 0);
        let msg = e.without_snippet().to_string();
        // The rendered message repeats the location; keep its first line.
        let msg = msg.lines().next().unwrap_or("invalid YAML").to_string();
        // …and ends with the YAML's own `at line N, column M`, one line off the
        // file's (the `---` comes first): the caller gives the file's line.
        let msg = match msg.rsplit_once(" at line ").and_then(|(head, at)| Some((head, at.split_once(", column ")?))) {
            Some((head, (l, col))) if l.bytes().all(|b| b.is_ascii_digit()) => format!("{head} (column {col})"),
            _ => msg,
        };
        let msg = in_words(&msg, yaml, line);
        // "while scanning a plain scalar, found a tab": the scanner names
        // where the scalar began, lines above the tab; the tab is the news.
        if msg.contains("found a tab")
            && let Some((tab_line, col)) = first_tab(yaml, line.unwrap_or(1))
        {
            let head = msg.rsplit_once(" (column ").map_or(msg.as_str(), |(h, _)| h);
            return (Some(tab_line), format!("{head} (column {col}): indent with spaces"));
        }
        (line, msg)
    })?;
    let mut fm = read.fm;
    for (k, span) in read.spans {
        if let (Some(v @ Value::Number(_)), Some(text)) = (fm.vars.get_mut(&k), yaml.get(span)) {
            *v = as_written(text, v.take());
        }
    }
    Ok(fm)
}

/// Values aliases may expand to in front matter, which is a few lines.
const MAX_REPLAYED: usize = 10_000;

/// The parser's words for a mistake an author makes, in the author's
/// terms: which key wants what, with an example (`envs: prod` is "expected
/// sequence start" to the parser).
fn in_words(msg: &str, yaml: &str, line: Option<usize>) -> String {
    let key = line
        .and_then(|l| yaml.lines().nth(l - 1))
        .and_then(|l| l.split_once(':'))
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('-'));
    let (head, at) = match msg.rsplit_once(" (column ") {
        Some((h, c)) => (h, format!(" (column {c}")),
        None => (msg, String::new()),
    };
    let wanted = match head {
        "expected sequence start" => "a list",
        "expected mapping start" => "a map",
        "expected string scalar" => "text",
        _ => {
            if let Some(k) = head.strip_prefix("duplicate mapping key: ") {
                let k = k.split(", set DuplicateKeyPolicy").next().unwrap_or(k);
                return format!("`{k}` is given twice: give each key once{at}");
            }
            if head.starts_with("alias replay limit exceeded") {
                return format!(
                    "its aliases (`*name`) expand to more than {MAX_REPLAYED} values: write the values out"
                );
            }
            return msg.to_string();
        }
    };
    let example = match key {
        Some("envs") => " such as `envs: [devnet, prod]`",
        Some("secrets") => " such as `secrets: [api_key]`",
        Some("requires") => " such as `requires: [kubectl, helm]`",
        Some("vars") => ": `vars:`, then one indented `name: value` line each",
        Some("timeout") => " such as `timeout: 30m`",
        Some("id" | "title") => " on one line",
        _ => "",
    };
    match key {
        Some(k) => format!("`{k}` must be {wanted}{example}{at}"),
        None => format!("expected {wanted}{at}"),
    }
}

/// The first tab at or after line `from` (1-based): its line and column.
fn first_tab(yaml: &str, from: usize) -> Option<(usize, usize)> {
    yaml.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find_map(|(i, l)| l.find('\t').map(|b| (i + 1, l[..b].chars().count() + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiki_keys_are_metadata_and_only_near_misses_are_named() {
        let fm = parse_yaml(
            "title: T\ntags: [a, b]\nowner: sre\nseverity: 2\ntype: runbook\nvar:\n  x: 1\nSecrets: [k]\ntimout: 5m\nvariables: {}\ndate: 2024-01-01\n",
        )
        .unwrap();
        assert_eq!(fm.title.as_deref(), Some("T"));
        assert!(fm.vars.is_empty());
        let misses = near_misses(&fm.meta);
        assert_eq!(misses, [("var", "vars"), ("Secrets", "secrets"), ("timout", "timeout"), ("variables", "vars")]);
        assert_eq!(fm.meta.len(), 9);
    }

    #[test]
    fn a_wrong_shape_says_what_the_key_wants_in_the_authors_terms() {
        for (yaml, want) in [
            ("envs: prod\n", "`envs` must be a list such as `envs: [devnet, prod]` (column 7)"),
            ("id: x\nrequires: kubectl\n", "`requires` must be a list such as `requires: [kubectl, helm]` (column 11)"),
            ("vars: [a]\n", "`vars` must be a map: `vars:`, then one indented `name: value` line each (column 7)"),
            ("timeout: [1]\n", "`timeout` must be text such as `timeout: 30m` (column 10)"),
        ] {
            assert_eq!(parse_yaml(yaml).unwrap_err().1, want, "{yaml}");
        }
    }

    #[test]
    fn aliases_that_expand_to_millions_of_values_are_refused_at_once() {
        let mut yaml = String::from("meta:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            yaml.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
        }
        let (_, msg) = parse_yaml(&yaml).unwrap_err();
        assert!(msg.contains("expand to more than 10000 values"), "{msg}");
        // A real use of anchors stays well within.
        assert!(parse_yaml("vars:\n  base: &b {ns: x}\n  other: *b\n").is_ok());
    }

    #[test]
    fn a_wrong_type_is_reported_at_its_line() {
        let (line, msg) = parse_yaml("id: x\ntags: [a]\nrequires: 5\n").unwrap_err();
        assert_eq!(line, Some(3), "{msg}");
        let (_, msg) = parse_yaml("tags: [a]\ntags: [b]\n").unwrap_err();
        assert!(msg.contains("`tags` is given twice"), "{msg}");
        let (_, msg) = parse_yaml("id: x\nid: y\n").unwrap_err();
        assert_eq!(msg, "`id` is given twice: give each key once (column 1)");
    }

    #[test]
    fn a_tab_is_reported_where_it_is_not_where_its_scalar_began() {
        let (line, msg) = parse_yaml("id: t\n\ttitle: T\n").unwrap_err();
        assert_eq!(
            (line, msg.as_str()),
            (Some(2), "while scanning a plain scalar, found a tab (column 1): indent with spaces")
        );
        let (line, _) = parse_yaml("id: t\ntitle: T\nvars:\n  x: 1\n\ty: 2\n").unwrap_err();
        assert_eq!(line, Some(5));
    }

    #[test]
    fn a_leading_rule_is_markdown_unless_front_matter_follows() {
        fn fm(t: &str) -> (Option<&str>, bool) {
            let s = split(t);
            (s.yaml, s.unclosed)
        }
        for rule in [
            "---\n",
            "---",
            "---\n\n# Page\n",
            "---\n# Page\n",
            "---\nNote: x\n",
            "---\n\n# P\n\n---\n",
            "---\n\ntags: [a]\n",
        ] {
            assert_eq!(fm(rule), (None, false), "{rule:?}");
        }
        assert_eq!(fm("---\ntitle: T\n\n# T\n"), (Some("title: T\n\n# T\n"), true));
        assert_eq!(fm("---\n\nvar:\n  x: 1\n"), (Some("\nvar:\n  x: 1\n"), true));
        assert_eq!(fm("---\n---\n# T\n"), (Some(""), false));
        assert_eq!(fm("---\ntags: [a]\n---\n"), (Some("tags: [a]\n"), false));
        assert_eq!(fm("---\n\ntags: [a]\n...\n"), (Some("\ntags: [a]\n"), false));
        assert_eq!(fm("---\n# comment\ntitle: T\n---\n"), (Some("# comment\ntitle: T\n"), false));
    }

    #[test]
    fn requires_lines() {
        let block =
            "---\ntitle: T\nrequires:\n  - bash\n  - \"no-such-x\"   # the CLI\n- jq\nvars:\n  jq: 1\n---\n# T\n";
        assert_eq!(requires_line(block, "bash"), Some(4));
        assert_eq!(requires_line(block, "no-such-x"), Some(5));
        assert_eq!(requires_line(block, "jq"), Some(6));
        assert_eq!(requires_line(block, "such"), Some(3), "a tool not found as a word: the key's line");
        let flow = "---\nid: a\nrequires: [bash, no-such-x]\n---\n";
        assert_eq!(requires_line(flow, "no-such-x"), Some(3));
        let wrapped = "---\nrequires: [bash,\n  no-such-x]\n---\n";
        assert_eq!(requires_line(wrapped, "no-such-x"), Some(3));
        assert_eq!(requires_line("---\nid: a\n---\n", "bash"), None);
    }

    #[test]
    fn an_unclosed_bracket_is_found_above_the_error() {
        let yaml = "id: fm\nvars:\n  a: [1, 2\n  b: 3\n";
        assert_eq!(unclosed_bracket(yaml, 4), Some((3, '[')));
        assert_eq!(unclosed_bracket("a: [1, 2]\nb: {c: '['}  # [\nd: :\n", 3), None);
        assert_eq!(unclosed_bracket("a: {b: [1]\nc: 2\n", 2), Some((1, '{')));
    }

    #[test]
    fn key_lines() {
        assert_eq!(key_line("id: x\nvar :\n  a: 1\n", "var"), Some(2));
        assert_eq!(key_line("variables: 1\n", "var"), None);
    }
}

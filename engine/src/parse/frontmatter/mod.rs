//! YAML front matter, accepted only at byte 0 (SPEC §2.1).
//!
//! pulldown-cmark would report a `---` metadata block anywhere in a document,
//! so the front matter is split off here, before markdown parsing, and the
//! markdown parser is told how many lines it skipped.

mod plain;

use serde::Deserialize;

use crate::model::Vars;

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub id: Option<String>,
    pub title: Option<String>,
    #[serde(default)]
    pub vars: Vars,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    #[serde(default)]
    pub requires: Vec<String>,
    pub timeout: Option<String>,
}

pub const KNOWN_KEYS: &str = "id, title, vars, secrets, envs, requires, timeout";

/// The front matter block: its YAML text and where the markdown starts.
pub struct Split<'a> {
    pub yaml: Option<&'a str>,
    /// Byte offset where the markdown body starts.
    pub body_start: usize,
    /// The front matter's closing fence is missing.
    pub unclosed: bool,
}

/// Split `---\n…\n---\n` off the start of `text`.
pub fn split(text: &str) -> Split<'_> {
    let first_nl = text.find('\n');
    let first = first_nl.map_or(text, |n| &text[..n]).trim_end_matches('\r');
    if first != "---" {
        return Split { yaml: None, body_start: 0, unclosed: false };
    }
    let yaml_start = first_nl.map_or(text.len(), |n| n + 1);
    let mut pos = yaml_start;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |n| pos + n);
        let line = text[pos..end].trim_end_matches('\r');
        if line == "---" || line == "..." {
            return Split {
                yaml: Some(&text[yaml_start..pos]),
                body_start: (end + 1).min(text.len()),
                unclosed: false,
            };
        }
        pos = end + 1;
    }
    Split { yaml: Some(&text[yaml_start..]), body_start: text.len(), unclosed: true }
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
    serde_saphyr::from_str_with_options::<FrontMatter>(yaml, options).map_err(|e| {
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
        (line, msg)
    })
}

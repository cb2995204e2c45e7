//! Markdown → [`Runbook`].
//!
//! Steps are fenced code blocks whose info string carries `{…}` attributes
//! after the language. Everything else is prose and never runs. Errors are
//! collected (not just the first) so that one `check` shows all of them, each
//! with the runbook's `file:line`.

pub mod attrs;
mod block;
mod fence;
pub mod frontmatter;

pub use attrs::{valid_id, valid_var};
pub use frontmatter::{from_toml, requires_line, top_key_line};

use std::path::Path;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use sha2::{Digest, Sha256};

use crate::error::{Diagnostic, Error, Result};
use crate::model::{DocBlock, Runbook, Step};
use block::{classify, has_attrs};
use fence::{Closing, OpenBlock, closing_fence, opening_fence, opening_inside, raw_info, starts_line, top_level_body};

/// Byte offset → 1-based line.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
}

/// Read and parse a runbook file. Non-UTF-8 and empty files are errors.
pub fn parse_file(path: &Path) -> Result<Runbook> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::invalid(
            Diagnostic::error("io", format!("cannot read runbook: {e}"))
                .in_file(path)
                .hint("check the path and its permissions"),
        )
    })?;
    parse_bytes(path, &bytes)
}

/// The largest runbook or page read, in bytes: the Animica runbooks are
/// under 20 KB, and parsing costs a few times a file's size in memory (a
/// 300 MB file took another 500 MB).
pub const MAX_FILE: usize = 16 << 20;

/// The text of a runbook or page read as `bytes`: at most [`MAX_FILE`],
/// UTF-8 (else the line of the first bad byte).
pub fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str> {
    if bytes.len() > MAX_FILE {
        return Err(Error::invalid(
            Diagnostic::error("too-large", "larger than 16 MiB: a runbook is at most 16 MiB")
                .at(path, 1)
                .hint("split it into several runbooks; generated data belongs in a file a step reads"),
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        Error::invalid(
            Diagnostic::error("not-utf8", format!("not valid UTF-8 (byte {})", e.valid_up_to()))
                .at(path, line)
                .hint("save the file as UTF-8"),
        )
    })
}

pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Runbook> {
    let text = utf8(path, bytes)?;
    if text.trim().is_empty() {
        return Err(Error::invalid(
            Diagnostic::error("empty", "empty file: a runbook needs at least one step")
                .at(path, 1)
                .hint("add a step such as ```bash {#first read}, or remove the file"),
        ));
    }
    let hash = format!("{:x}", Sha256::digest(bytes));
    parse_str(path, text, hash)
}

/// Runbook ids name files and locks (`<id>@<env>.lock`): no separators, no
/// leading dot.
pub fn valid_runbook_id(id: &str) -> bool {
    let mut c = id.chars();
    c.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && c.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Quick test used by the catalog: could this markdown page be a runbook
/// (at least one fence with `{` in its info; front matter alone may be a
/// wiki's, so the page is parsed to know)?
pub fn looks_like_runbook(text: &str) -> bool {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.starts_with("---\n") || text.starts_with("---\r") {
        return true;
    }
    text.split(['\n', '\r']).any(|l| {
        let t = l
            .trim_start_matches([' ', '>', '-', '*', '\t'])
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        let t = t.trim_start();
        (t.starts_with("```") || t.starts_with("~~~")) && t.contains('{')
    })
}

/// A page the quick test let through (a fence with `{` somewhere) that
/// turned out to have no step: a wiki page (SPEC §3),
/// e.g. one that shows step syntax inside a ````markdown example.
pub fn is_wiki_page(e: &Error) -> bool {
    matches!(e, Error::Invalid(d) if only_no_steps(d))
}

/// The parse's findings say only "no steps" (see [`is_wiki_page`]).
pub fn only_no_steps(d: &[Diagnostic]) -> bool {
    d.len() == 1 && d[0].code == "no-steps"
}

/// Is this page a runbook (a fenced block carries attributes, or front
/// matter configures a run)?
pub fn is_runbook(text: &str) -> bool {
    looks_like_runbook(text)
        && !matches!(parse_str(Path::new("page.md"), text, String::new()), Err(e) if is_wiki_page(&e))
}

/// The ids a file that does not parse may have meant: its stem, and an
/// `id:` line of its front matter (read as plain text: the YAML may be what
/// is broken).
pub fn possible_ids(path: &Path, text: &str) -> Vec<String> {
    let mut ids: Vec<String> = path.file_stem().map(|s| s.to_string_lossy().into_owned()).into_iter().collect();
    let split = frontmatter::split(text.strip_prefix('\u{feff}').unwrap_or(text));
    if let Some(yaml) = split.yaml
        && let Some(v) = yaml.lines().find_map(|l| l.strip_prefix("id:"))
    {
        ids.push(v.trim().trim_matches(['"', '\'']).to_string());
    }
    ids
}

/// A lone `\r` (not before `\n`) anywhere in the text: the classic Mac
/// line ending, which CommonMark reads as a line ending too.
fn lone_cr(text: &str) -> bool {
    memchr::memchr_iter(b'\r', text.as_bytes()).any(|i| text.as_bytes().get(i + 1) != Some(&b'\n'))
}

/// A markdown page: a runbook, or a plain page (no fenced block carries
/// attributes, and front matter, if any, holds only `title` and wiki keys),
/// whose shell blocks `check` still lints and `import` converts.
/// A plain page is a [`Runbook`] without steps: title, front matter and
/// documentation blocks.
#[derive(Debug, Clone)]
pub enum Page {
    Runbook(Runbook),
    Plain(Runbook),
}

impl Page {
    pub fn runbook(&self) -> &Runbook {
        match self {
            Page::Runbook(r) | Page::Plain(r) => r,
        }
    }

    pub fn is_plain(&self) -> bool {
        matches!(self, Page::Plain(_))
    }
}

/// Parse any markdown page (an empty file is a plain page).
pub fn parse_page_bytes(path: &Path, bytes: &[u8]) -> Result<Page> {
    let text = utf8(path, bytes)?;
    parse_page(path, text, format!("{:x}", Sha256::digest(bytes)))
}

/// Parse a runbook: a plain page is an error (`no-steps`).
pub fn parse_str(path: &Path, text: &str, hash: String) -> Result<Runbook> {
    match parse_page(path, text, hash)? {
        Page::Runbook(rb) => Ok(rb),
        Page::Plain(_) => Err(Error::invalid(
            Diagnostic::error("no-steps", "no steps: no fenced block carries `{…}` attributes")
                .at(path, 1)
                .hint("annotate a block after its language (```bash {#pods read}), or convert the page: `runbook import FILE`"),
        )),
    }
}

pub fn parse_page(path: &Path, text: &str, hash: String) -> Result<Page> {
    let (page, errors) = parse_page_partial(path, text, hash);
    if errors.is_empty() { Ok(page) } else { Err(Error::Invalid(errors)) }
}

/// What [`parse_page_partial`] makes of a page's bytes: `None` when there is
/// no text to read (too large, not UTF-8), with why.
pub fn parse_page_bytes_partial(path: &Path, bytes: &[u8]) -> (Option<Page>, Vec<Diagnostic>) {
    match utf8(path, bytes) {
        Ok(text) => {
            let (page, errors) = parse_page_partial(path, text, format!("{:x}", Sha256::digest(bytes)));
            (Some(page), errors)
        }
        Err(e) => (None, vec_of(e)),
    }
}

fn vec_of(e: Error) -> Vec<Diagnostic> {
    match e {
        Error::Invalid(d) => d,
        other => vec![Diagnostic::error("io", other.to_string())],
    }
}

/// A page and every error found in it: with errors, the page holds what
/// did parse (the steps and documentation blocks without an error, the
/// front matter if it is valid, else none), for `check` to lint further so
/// that one run shows every problem. Only [`parse_page`]'s `Ok` is a
/// runbook to plan or run.
pub fn parse_page_partial(path: &Path, text: &str, hash: String) -> (Page, Vec<Diagnostic>) {
    // Lone CRs become LFs, so that every line count and body below sees
    // the lines an editor shows (the hash stays that of the file's bytes).
    let normalised;
    let text = if memchr::memchr(b'\r', text.as_bytes()).is_some() && lone_cr(text) {
        normalised = text.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        text
    };
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut lines = LineCounter { text: text.as_bytes(), pos: 0, line: 1 };
    let mut errors: Vec<Diagnostic> = Vec::new();
    let split = frontmatter::split(&text[bom..]);
    let body_start = bom + split.body_start;
    let mut fm = frontmatter::FrontMatter::default();
    let mut fm_line = None;
    if let Some(yaml) = split.yaml {
        fm_line = Some(1);
        if split.unclosed {
            errors.push(
                Diagnostic::error("front-matter", "front matter is not closed")
                    .at(path, 1)
                    .hint("end the front matter with a line `---`"),
            );
        } else {
            match frontmatter::parse(yaml) {
                Ok(f) => fm = f,
                Err((line, msg)) => {
                    let keys = format!("front matter is YAML with the keys {}", frontmatter::KNOWN_KEYS);
                    let hint = match frontmatter::unclosed_bracket(yaml, line.unwrap_or(usize::MAX)) {
                        Some((at, open)) => format!("the `{open}` on line {} is not closed; {keys}", 1 + at),
                        None => keys,
                    };
                    errors.push(
                        Diagnostic::error("front-matter", format!("front matter: {msg}"))
                            .at(path, 1 + line.unwrap_or(0))
                            .hint(hint),
                    )
                }
            }
        }
    }
    for name in fm.vars.keys() {
        let why = if crate::model::BUILTINS.contains(&name.as_str()) {
            "not `env` or `steps`, which templates define (the env's name, the steps' results)"
        } else if !attrs::valid_var(name) {
            "letters, digits and `_`, starting with a letter"
        } else {
            continue;
        };
        let declares = |l: &str| {
            let l = l.trim_start().trim_start_matches(['"', '\'']);
            l.strip_prefix(name.as_str())
                .is_some_and(|r| r.trim_start_matches(['"', '\'']).trim_start().starts_with(':'))
        };
        let line = split.yaml.and_then(|y| y.lines().position(declares)).map_or(1, |i| i + 2);
        errors.push(
            Diagnostic::error(
                "front-matter",
                format!("front matter `vars`: `{}` is not a variable name", name.escape_debug()),
            )
            .at(path, line)
            .hint(format!("rename it: variable names are {why}")),
        );
    }
    let timeout = match &fm.timeout {
        Some(t) => match attrs::parse_duration("timeout", t) {
            Ok(d) => Some(d),
            Err(e) => {
                let message = e.message.replace(&format!("`timeout={t}`"), &format!("`timeout: {t}`"));
                let line =
                    split.yaml.and_then(|y| y.lines().position(|l| l.starts_with("timeout:"))).map_or(1, |i| i + 2);
                errors.push(
                    Diagnostic::error("front-matter", format!("front matter {message}"))
                        .at(path, line)
                        .hint("write a duration like `timeout: 30m` (at most 30d)"),
                );
                None
            }
        },
        None => None,
    };

    // Room for a typical runbook's steps: a Step is large, and growing the
    // vector copies every step already in it.
    let mut steps: Vec<Step> = Vec::with_capacity(16);
    let mut doc_blocks: Vec<DocBlock> = Vec::new();
    let mut h1: Option<String> = None;
    let mut section: Option<std::sync::Arc<str>> = None;
    // The level of the heading being read, and its text so far (one buffer
    // for all headings).
    let mut heading: Option<HeadingLevel> = None;
    let mut heading_text = String::new();
    let mut block: Option<OpenBlock<'_>> = None;
    // A fence carries attributes: the page is meant as a runbook.
    let mut annotated = false;

    let md = &text[body_start..];
    let parser = Parser::new_ext(md, Options::empty());
    for (event, range) in parser.into_offset_iter() {
        let range = (range.start + body_start)..(range.end + body_start);
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                heading_text.clear();
                heading = Some(level);
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(level) = heading.take() {
                    let t: std::sync::Arc<str> = std::sync::Arc::from(heading_text.trim());
                    if level == HeadingLevel::H1 && h1.is_none() {
                        h1 = Some(t.to_string());
                    }
                    section = Some(t);
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let line = lines.line(range.start);
                let top_level = starts_line(text, &range);
                let src = &text[range.clone()];
                let closing = closing_fence(src, top_level);
                let body = if top_level { top_level_body(src, closing) } else { None };
                let sliced = body.is_some();
                let state = match closing {
                    None => Closing::Missing,
                    Some(_) if top_level => Closing::Found,
                    Some(at) => Closing::Line(memchr::memchr_iter(b'\n', &src.as_bytes()[..at]).count()),
                };
                // The info string as written: CommonMark takes the
                // backslash out of `\.` and decodes `&amp;` in it, which
                // would change an attribute's value (`expect="^\[OK\]$"`)
                // without a word.
                let info = match raw_info(src) {
                    Some(raw) if raw != &*info => pulldown_cmark::CowStr::from(raw.to_string()),
                    _ => info,
                };
                block = Some(OpenBlock {
                    info,
                    line,
                    fence: opening_fence(src),
                    closing: state,
                    body: body.unwrap_or_default(),
                    sliced,
                });
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(b) = block.as_mut() {
                    if !b.sliced {
                        b.body.push_str(&t);
                    }
                } else if heading.is_some() {
                    heading_text.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(OpenBlock { info, line, fence: (ch, n), closing, body, .. }) = block.take() {
                    let body = if body.contains('\r') { body.replace("\r\n", "\n") } else { body };
                    let unclosed = match closing {
                        Closing::Missing => true,
                        Closing::Found => false,
                        // pulldown-cmark took the fence-like line for content
                        // (over-indented in its list item, say): the block
                        // runs on to its container's end.
                        Closing::Line(k) => memchr::memchr_iter(b'\n', body.as_bytes()).count() >= k,
                    };
                    let step = has_attrs(&info);
                    annotated |= step;
                    let swallows = opening_inside(&body, ch, n, !step);
                    if let Some(k) = swallows {
                        let fence = format!("{n} {}", if ch == b'~' { "tildes" } else { "backticks" });
                        let what = if step { "step" } else { "code block" };
                        errors.push(
                            Diagnostic::error(
                                "unclosed-fence",
                                format!(
                                    "the {what} opened at line {line} runs on into this line, which opens another block"
                                ),
                            )
                            .at(path, line + 1 + k)
                            .hint(format!(
                                "add the {what}'s closing fence (a line of {fence}) where it ends, above this line"
                            )),
                        );
                    }
                    let kept = (steps.len(), doc_blocks.len());
                    classify(
                        path,
                        &info,
                        line,
                        body,
                        unclosed,
                        section.clone(),
                        &mut steps,
                        &mut doc_blocks,
                        &mut errors,
                    );
                    // Its body holds the blocks it swallowed: no lint of a
                    // partial page reads it (it is an error anyway).
                    if swallows.is_some() {
                        steps.truncate(kept.0);
                        doc_blocks.truncate(kept.1);
                    }
                }
            }
            _ => {}
        }
    }

    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("runbook").to_string();
    let id = fm.id.clone().unwrap_or(stem);
    if !valid_runbook_id(&id) {
        let (line, hint) = match &fm.id {
            Some(_) => (2, "runbook ids are letters, digits, `.`, `_` and `-`, starting with a letter or digit"),
            None => {
                (1, "rename the file, or give the runbook an `id:` in front matter (letters, digits, `.`, `_`, `-`)")
            }
        };
        errors.push(Diagnostic::error("invalid-id", format!("invalid runbook id `{id}`")).at(path, line).hint(hint));
    }
    // A runbook: a step (or a fence meant as one), or front matter that
    // configures a run. `title` and wiki keys (`tags`, `owner`) do not.
    let runbook = annotated
        || fm.id.is_some()
        || !fm.vars.is_empty()
        || !fm.secrets.is_empty()
        || !fm.envs.is_empty()
        || !fm.requires.is_empty()
        || fm.timeout.is_some();
    if !runbook {
        // A plain page: its file name need not be a runbook id.
        errors.retain(|d| d.code != "invalid-id");
    }
    let page = Runbook {
        title: fm.title.or(h1).unwrap_or_else(|| id.clone()),
        id,
        path: path.to_path_buf(),
        hash,
        vars: fm.vars,
        secrets: fm.secrets,
        envs: fm.envs,
        requires: fm.requires,
        timeout,
        front_matter_line: fm_line,
        meta: fm.meta,
        steps,
        doc_blocks,
        index: Default::default(),
    };
    (if runbook { Page::Runbook(page) } else { Page::Plain(page) }, errors)
}

/// Byte offset → 1-based line, for offsets that only grow (the parser's
/// events come in document order): each byte is scanned once.
struct LineCounter<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

impl LineCounter<'_> {
    fn line(&mut self, offset: usize) -> usize {
        if offset < self.pos {
            (self.pos, self.line) = (0, 1);
        }
        self.line += memchr::memchr_iter(b'\n', &self.text[self.pos..offset]).count();
        self.pos = offset;
        self.line
    }
}

/// A deterministic pick in `0..n` for the generated-input tests
/// (xorshift64: the same documents on every run).
#[cfg(test)]
pub(crate) fn picker(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counter_restarts_when_going_back() {
        let t = "a\nb\nc\n";
        let mut c = LineCounter { text: t.as_bytes(), pos: 0, line: 1 };
        assert_eq!((c.line(0), c.line(2), c.line(4), c.line(2)), (1, 2, 3, 2));
    }

    fn parse(md: &str) -> Result<Runbook> {
        parse_str(Path::new("t.md"), md, String::new())
    }

    #[test]
    fn lines_in_lists_and_quotes() {
        let md = "# T\n\n1. one\n   ```bash {#a read}\n   echo a\n   ```\n\n> ```sh {#b}\n> echo b\n> ```\n\n~~~bash {#c}\necho c\n~~~\n";
        let rb = parse(md).unwrap();
        let lines: Vec<_> = rb.steps.iter().map(|s| (s.id.as_str(), s.line)).collect();
        assert_eq!(lines, [("a", 4), ("b", 8), ("c", 12)]);
        assert_eq!(rb.steps[0].body, "echo a\n");
        assert_eq!(rb.title, "T");
    }

    /// Bodies cut from the source are what pulldown-cmark's own text events
    /// would have given.
    #[test]
    fn bodies_match_pulldown() {
        let mut docs: Vec<String> = vec![
            "```bash {#a}\necho a\n  b\n```\n".into(),
            "  ```bash {#a}\n  echo a\n    b\n  ```\n".into(),
            " ```bash {#a}\necho a\n ```\n".into(),
            "```bash {#a}\n```\n".into(),
            "```bash {#a}\n\n\necho\n\n```\n\n\n".into(),
            "````bash {#a}\n```\nx\n````\n".into(),
            "~~~bash {#a}\necho\n~~~~~\n".into(),
            "```bash {#a}\r\necho a\r\n```\r\n".into(),
            "- item\n\n  ```bash {#a}\n  echo\n  ```\n".into(),
            "> ```bash {#a}\n> echo\n> ```\n".into(),
            "```bash {#a}\necho\n```\n\n```\nunclosed doc\n".into(),
            "```bash {#a}\necho\n```\n\n```\nstill open\n    ```\n".into(),
            "```bash {#a}\necho\n```\n\n```\nstill open\n\t```\n".into(),
            "```bash {#a}\necho\n```\n\n```\nclosed\n   ```\n".into(),
            "```bash {#a}\necho\n```\n\n```\nunclosed\n  ".into(),
        ];
        // Generated: documentation blocks (never an error) of every shape
        // after a step, so that every document parses.
        let opens = ["```", "````", "~~~", " ```", "   ```", "    ```", "> ```", "- ```", "1. ```", "\t```"];
        let lines = ["echo a", "", "  x", "```", "~~~", "````", "    ```", "\t```", "> y", "   ```", "- z"];
        let mut next = picker(0x2545_f491_4f6c_dd1d);
        for _ in 0..500 {
            let mut md = String::from("```bash {#a}\necho\n```\n\n");
            for _ in 0..1 + next(3) {
                md.push_str(opens[next(opens.len())]);
                md.push_str(["\n", "sh\n", "text\r\n"][next(3)]);
                for _ in 0..next(4) {
                    md.push_str(lines[next(lines.len())]);
                    md.push('\n');
                }
                if next(4) > 0 {
                    md.push_str(lines[3 + next(3)]);
                    md.push('\n');
                }
                md.push('\n');
            }
            docs.push(md);
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
        for e in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            if looks_like_runbook(&text) {
                docs.push(text);
            }
        }
        let (n, mut compared) = (docs.len(), 0);
        for md in docs {
            let mut expected = Vec::new();
            let mut open = None;
            for ev in Parser::new_ext(&md, Options::empty()) {
                match ev {
                    Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => open = Some(String::new()),
                    Event::Text(t) => {
                        if let Some(b) = open.as_mut() {
                            b.push_str(&t)
                        }
                    }
                    Event::End(TagEnd::CodeBlock) => expected.extend(open.take().map(|b| b.replace("\r\n", "\n"))),
                    _ => {}
                }
            }
            let rb = parse(&md).unwrap();
            compared += 1;
            let mut got: Vec<(usize, String)> = rb.steps.iter().map(|s| (s.line, s.body.clone())).collect();
            got.extend(rb.doc_blocks.iter().map(|d| (d.line, d.body.clone())));
            got.sort();
            let got: Vec<String> = got.into_iter().map(|(_, b)| b).collect();
            if md.starts_with("---") {
                // Front matter is not markdown: compare the blocks after it.
                assert_eq!(got, expected[expected.len() - got.len()..], "in:\n{md}");
            } else {
                assert_eq!(got, expected, "in:\n{md}");
            }
        }
        assert_eq!(compared, n);
    }

    #[test]
    fn files_over_the_bound_are_refused_at_line_1() {
        // A file over the bound is refused before it is read whole: a 300 MB
        // runbook would not fit in 1 GiB of address space.
        let big = format!("```bash {{#a}}\n{}```\n", "echo x\n".repeat(MAX_FILE / 7 + 1));
        let e = parse_bytes(Path::new("big.md"), big.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("big.md:1") && e.contains("at most 16 MiB"), "{e}");
        assert!(parse_page_bytes(Path::new("big.md"), big.as_bytes()).is_err());
    }

    #[test]
    fn lone_cr_line_endings_are_line_endings() {
        let md =
            "---\rvars:\r  ns: a\r---\r# T\r\r```bash {#a read}\recho {{ ns }}\rdate\r```\r\r```sh {#b}\recho b\r```\r";
        assert!(looks_like_runbook(md));
        let rb = parse(md).unwrap();
        let got: Vec<(&str, usize, &str)> = rb.steps.iter().map(|s| (s.id.as_str(), s.line, s.body.as_str())).collect();
        assert_eq!(got, [("a", 7, "echo {{ ns }}\ndate\n"), ("b", 12, "echo b\n")]);
        assert_eq!(rb.vars["ns"], "a");
        let mixed = parse("# T\r\n\r\n```bash {#a}\recho a\r\n```\n").unwrap();
        assert_eq!(mixed.steps[0].body, "echo a\n");
    }

    #[test]
    fn reserved_and_invalid_var_names() {
        for (fm, name) in [("env: x", "env"), ("steps: 1", "steps"), ("\"a-b\": 1", "a-b")] {
            let e = parse(&format!("---\nvars:\n  {fm}\n---\n```bash {{#a}}\necho\n```\n")).unwrap_err();
            let Error::Invalid(d) = e else { panic!() };
            assert!(d[0].message.contains(&format!("`{name}` is not a variable name")), "{}", d[0].message);
            assert_eq!(d[0].line, Some(3));
        }
    }

    #[test]
    fn front_matter_durations_are_bounded() {
        let e = parse("---\ntitle: x\ntimeout: 9223372036854775807s\n---\n```bash {#a}\necho\n```\n").unwrap_err();
        let Error::Invalid(d) = e else { panic!() };
        assert!(d[0].message.contains("30 days"), "{}", d[0].message);
        assert_eq!(d[0].line, Some(3));
        assert!(parse("---\ntimeout: 0s\n---\n```bash {#a}\necho\n```\n").is_err());
    }

    #[test]
    fn crlf() {
        let rb = parse("---\r\nid: x\r\n---\r\n# T\r\n\r\n```bash {#a}\r\necho a\r\n```\r\n").unwrap();
        assert_eq!(rb.id, "x");
        assert_eq!(rb.steps[0].line, 6);
        assert_eq!(rb.steps[0].body, "echo a\n");
    }

    #[test]
    fn front_matter_only_at_start() {
        let rb = parse("# T\n\n---\nid: y\n---\n\n```bash {#a}\necho\n```\n").unwrap();
        assert_eq!(rb.id, "t");
    }

    #[test]
    fn fences_in_lists_and_quotes() {
        let ok = |md: &str| parse(md).map(|rb| rb.steps[0].body.clone()).map_err(|e| e.to_string());
        assert_eq!(
            ok("# T\n\n- item\n\n  ```bash {#a}\n  echo hi\n\n  echo two\n  ```\n").unwrap(),
            "echo hi\n\necho two\n"
        );
        assert_eq!(ok("# T\n\n> ```bash {#a}\n> echo hi\n> ```\n").unwrap(), "echo hi\n");
        assert_eq!(ok("# T\n\n1. x\n   ```bash {#a}\n   echo\n   ```\n2. y\n").unwrap(), "echo\n");
        for md in [
            // Indented 4 past the item's content: code, not a fence.
            "# T\n\n- item\n\n  ```bash {#a}\n  echo hi\n      ```\n",
            "# T\n\n- item\n\n  ```bash {#a}\n  echo hi\n      ```\n\nafter\n",
            // The quote ends before any fence.
            "# T\n\n> ```bash {#a}\n> echo hi\n\ntext\n",
            "# T\n\n> - x\n>   ```bash {#a}\n>   echo\n>         ```\n",
        ] {
            let e = ok(md).unwrap_err();
            assert!(e.contains("not closed"), "{md:?}: {e}");
        }
    }

    #[test]
    fn a_missing_closing_fence_is_found_where_the_next_block_opens() {
        let err = |md: &str| parse(md).unwrap_err().to_string();
        // A manual step's closing fence deleted: it swallows the next step.
        let e = err("# T\n\n```manual {#look}\n- [ ] look\n\n```bash {#next}\necho\n```\n");
        assert!(e.contains("t.md:6") && e.contains("the step opened at line 3 runs on"), "{e}");
        // A prose block's: the step after it vanishes.
        let e = err("# T\n\n```text\nexample\n\n```bash {#gone}\necho\n```\n\n```bash {#a}\ntrue\n```\n");
        assert!(e.contains("t.md:6") && e.contains("the code block opened at line 3"), "{e}");
        // In a list item too.
        let e = err("# T\n\n- x\n\n  ```bash {#a}\n  echo\n\n  ```bash {#b}\n  echo\n  ```\n");
        assert!(e.contains("t.md:8"), "{e}");
        // Not: a longer fence around an example, a prose block showing a
        // fence without attributes, a line of backticks with backticks after.
        for md in [
            "# T\n\n````manual {#m}\n```bash {#x}\necho\n```\n````\n",
            "# T\n\n```text\n```python\n```\n\n```bash {#a}\ntrue\n```\n",
            "# T\n\n```bash {#a}\necho '```x``` is inline code'\n```\n",
            "# T\n\n~~~bash {#a}\ncat <<'EOF'\n```bash {#not-a-step}\nEOF\n~~~\n",
        ] {
            assert!(parse(md).is_ok(), "{md:?}: {:?}", parse(md).err().map(|e| e.to_string()));
        }
    }

    #[test]
    fn unclosed_fence() {
        let e = parse("# T\n\n```bash {#a}\necho\n").unwrap_err().to_string();
        assert!(e.contains("t.md:3") && e.contains("not closed"), "{e}");
    }
}

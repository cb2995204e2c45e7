//! The mdBook 0.5 preprocessor: runbooks as wiki pages.
//!
//! mdBook turns every token of a fence's info string into a CSS class and
//! renders YAML front matter as text, so a runbook page needs rewriting before
//! mdBook sees it: the front matter goes, each step fence keeps only its
//! language, and what the attributes said is shown to a human instead — a
//! header line above each step, and an overview (variables, plan) under the
//! title. `manual` steps become the checklist they are.
//!
//! The transform is pure ([`render_page`], [`render_book`]); the stdin/stdout
//! JSON glue is in `cli/mdbook.rs`. A runbook that does not parse fails the
//! whole book with its `file:line` diagnostics, so a broken page never ships.

pub mod html;

use std::path::Path;

use mdbook_preprocessor::book::{Book, BookItem};
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::config::Config;
use crate::error::{Diagnostic, Error, Result};
use crate::model::{Runbook, StepKind};
use crate::parse::{self, LineIndex, frontmatter};
use crate::plan::Dag;

/// Is this page a runbook (the same test the catalog uses)? Other pages pass
/// through the preprocessor unchanged.
pub fn is_runbook(text: &str) -> bool {
    parse::is_runbook(text)
}

/// Rewrite every runbook chapter of a book. `src` is the book's source
/// directory as it should appear in diagnostics (e.g. `runbooks`).
pub fn render_book(mut book: Book, src: &Path, config: &Config) -> Result<Book> {
    let mut errors: Vec<Diagnostic> = Vec::new();
    book.for_each_mut(|item| {
        let BookItem::Chapter(ch) = item else { return };
        let Some(rel) = ch.source_path.as_ref().or(ch.path.as_ref()) else { return };
        if !is_runbook(&ch.content) {
            return;
        }
        match render_page(&src.join(rel), &ch.content, config) {
            Ok(page) => ch.content = page,
            Err(Error::Invalid(d)) => errors.extend(d),
            Err(e) => errors.push(Diagnostic::error("mdbook", e.to_string()).in_file(src.join(rel))),
        }
    });
    if errors.is_empty() { Ok(book) } else { Err(Error::Invalid(errors)) }
}

/// Where a fenced block sits in the page, by 0-based line.
struct Fence {
    open: usize,
    close: usize,
}

/// Rewrite one runbook page for the wiki. Errors are the parser's and the
/// planner's diagnostics, located at `path`.
pub fn render_page(path: &Path, text: &str, config: &Config) -> Result<String> {
    let rb = parse::parse_str(path, text, String::new())?;
    let dag = Dag::build(&rb)?;
    Ok(rewrite(&rb, &dag, text, config))
}

fn rewrite(rb: &Runbook, dag: &Dag, text: &str, config: &Config) -> String {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let split = frontmatter::split(&text[bom..]);
    let body_start = bom + if split.yaml.is_some() { split.body_start } else { 0 };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut skip_lines = text[..body_start].matches('\n').count();
    while body_start > 0 && lines.get(skip_lines).is_some_and(|l| l.trim().is_empty()) {
        skip_lines += 1;
    }

    // Fences and the first H1, located by line in the whole text.
    let index = LineIndex::new(text);
    let mut fences: Vec<Fence> = Vec::new();
    let mut h1_end: Option<usize> = None;
    let opts = Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH;
    for (event, range) in Parser::new_ext(&text[body_start..], opts).into_offset_iter() {
        let (start, end) = (range.start + body_start, range.end + body_start);
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
                let last = end.saturating_sub(1).max(start);
                fences.push(Fence { open: index.line(start) - 1, close: index.line(last) - 1 });
            }
            Event::End(TagEnd::Heading(HeadingLevel::H1)) if h1_end.is_none() => {
                h1_end = Some(index.line(end.saturating_sub(1).max(start)) - 1);
            }
            _ => {}
        }
    }

    let overview = html::overview(rb, dag, config);
    let mut out = String::with_capacity(text.len() + overview.len() + rb.steps.len() * 200);
    if h1_end.is_none() {
        out.push_str(&format!("# {}\n\n{overview}\n", rb.title));
    }
    let mut i = skip_lines;
    while i < lines.len() {
        let line = lines[i];
        let step = rb.steps.iter().find(|s| s.line == i + 1);
        let fence = fences.iter().find(|f| f.open == i);
        match (step, fence) {
            (Some(s), Some(f)) => {
                let (prefix, fence_str, lang) = split_fence_line(line);
                let cont = continuation(prefix);
                out.push_str(prefix);
                out.push_str(&html::step_header(rb, s));
                out.push('\n');
                out.push_str(cont.trim_end());
                out.push('\n');
                if s.kind == StepKind::Manual {
                    push_manual(&mut out, &cont, fence_str, &s.body);
                    i = f.close + 1;
                    continue;
                }
                out.push_str(&cont);
                out.push_str(fence_str);
                out.push_str(lang);
                out.push('\n');
            }
            _ => {
                out.push_str(line);
                if !line.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        if h1_end == Some(i) {
            out.push('\n');
            out.push_str(&overview);
            out.push('\n');
        }
        i += 1;
    }
    out
}

/// `> 1. ```bash {#a}` → (`> 1. `, "```", "bash").
fn split_fence_line(line: &str) -> (&str, &str, &str) {
    let line = line.trim_end_matches(['\n', '\r']);
    let at = [line.find("```"), line.find("~~~")].into_iter().flatten().min().unwrap_or(0);
    let (prefix, rest) = line.split_at(at);
    let ch = rest.chars().next().unwrap_or('`');
    let n = rest.chars().take_while(|c| *c == ch).count();
    let (fence, info) = rest.split_at(n);
    let info = info.trim_start();
    let lang_end = info.find(|c: char| c.is_whitespace() || c == '{').unwrap_or(info.len());
    (prefix, fence, &info[..lang_end])
}

/// The prefix of the lines that continue a fence's container: quote markers
/// kept, list markers turned into indentation.
fn continuation(prefix: &str) -> String {
    prefix.chars().map(|c| if c == '>' || c == '\t' { c } else { ' ' }).collect()
}

/// A `manual` step is a checklist for a human: show it as one (a markdown
/// task list) when it is a list, else as plain text.
fn push_manual(out: &mut String, cont: &str, fence: &str, body: &str) {
    let is_list = body.lines().filter(|l| !l.trim().is_empty()).all(|l| {
        let t = l.trim_start();
        t.starts_with("- ") || t.starts_with("* ") || t.starts_with("+ ") || {
            let digits = t.chars().take_while(char::is_ascii_digit).count();
            digits > 0 && (t[digits..].starts_with(". ") || t[digits..].starts_with(") "))
        }
    });
    let fence = if fence.starts_with('~') { fence.to_string() } else { "`".repeat(fence.len().max(3)) };
    if !is_list {
        out.push_str(&format!("{cont}{fence}text\n"));
    }
    for l in body.lines() {
        out.push_str(if l.is_empty() { cont.trim_end() } else { cont });
        out.push_str(l);
        out.push('\n');
    }
    if is_list {
        // Ends the list: a markdown list right after the step (same bullet,
        // one blank line apart) would otherwise join the checklist.
        out.push_str(cont.trim_end());
        out.push('\n');
        out.push_str(&format!("{cont}<!-- end of step -->\n"));
    } else {
        out.push_str(&format!("{cont}{fence}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(md: &str) -> String {
        render_page(Path::new("runbooks/t.md"), md, &Config::defaults(Path::new("."))).unwrap()
    }

    #[test]
    fn strips_attributes_and_front_matter() {
        let out =
            page("---\nid: t\nvars:\n  tail: 5\n---\n# T\n\n```bash {#a read timeout=30s}\necho {{ tail }}\n```\n");
        assert!(!out.contains("{#"), "{out}");
        assert!(!out.contains("id: t"), "{out}");
        assert!(out.starts_with("# T\n"), "{out}");
        assert!(out.contains("\n```bash\necho {{ tail }}\n```\n"), "{out}");
        assert!(out.contains("id=\"step-a\""), "{out}");
        assert!(out.contains("timeout 30s"), "{out}");
    }

    #[test]
    fn header_stays_in_its_container() {
        let out = page("# T\n\n1. one\n   ```bash {#a}\n   echo a\n   ```\n\n> ```sh {#b}\n> echo b\n> ```\n");
        assert!(out.contains("   <div class=\"runbook-step\" id=\"step-a\">"), "{out}");
        assert!(out.contains("\n\n   ```bash\n   echo a\n"), "{out}");
        assert!(out.contains("> <div class=\"runbook-step\" id=\"step-b\">"), "{out}");
        assert!(out.contains(">\n> ```sh\n> echo b\n"), "{out}");
    }

    #[test]
    fn list_marker_on_the_fence_line() {
        let out = page("# T\n\n- ```bash {#a}\n  echo a\n  ```\n");
        assert!(out.contains("- <div class=\"runbook-step\""), "{out}");
        assert!(out.contains("\n  ```bash\n  echo a\n"), "{out}");
    }

    #[test]
    fn manual_checklist_becomes_a_task_list() {
        let out = page("# T\n\n```manual {#m}\n- [ ] look\n- [ ] act\n```\n\n```manual {#p}\nlook around\n```\n");
        assert!(out.contains("\n- [ ] look\n- [ ] act\n"), "{out}");
        assert!(!out.contains("```manual"), "{out}");
        assert!(out.contains("```text\nlook around\n```"), "{out}");
    }

    #[test]
    fn no_h1_gets_the_title() {
        let out = page("---\ntitle: Hello\n---\n```bash {#a}\necho\n```\n");
        assert!(out.starts_with("# Hello\n\n<div class=\"runbook-overview\">"), "{out}");
    }

    #[test]
    fn values_are_escaped() {
        let out = page("# T\n\n```bash {#a confirm=\"<b>sure</b> & go\"}\necho\n```\n");
        assert!(out.contains("asks: “&lt;b&gt;sure&lt;/b&gt; &amp; go”"), "{out}");
    }

    #[test]
    fn parse_errors_carry_the_location() {
        let e = render_page(
            Path::new("runbooks/t.md"),
            "# T\n\n```bash {#a nope}\n:\n```\n",
            &Config::defaults(Path::new(".")),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("runbooks/t.md:3"), "{e}");
    }
}

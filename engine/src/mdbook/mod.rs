//! The mdBook 0.5 preprocessor: runbooks as wiki pages for the responder.
//!
//! mdBook turns every token of a fence's info string into a CSS class and
//! renders YAML front matter as text, so a runbook page needs rewriting before
//! mdBook sees it. The front matter goes; under the title comes a summary
//! line (what the runbook does, how to play it, the env selector); the
//! machinery (variables, plan, rollbacks) is folded after the symptoms; each
//! step gets a header that says in words what its attributes do, and its
//! code as it runs in each env of runbook.toml (`views`), the default env's
//! shown, the others hidden twins that docs/wiki/runbook.js switches to.
//! `manual` steps become the checklist they are.
//!
//! Every page, runbook or not, is cleaned last ([`crate::prose`]): mdBook
//! passes raw HTML through, and a page is anyone's pull request while the
//! wiki is everyone's origin.
//!
//! The transform is pure ([`render_page`], [`render_book`]); the stdin/stdout
//! JSON glue is in `cli/mdbook.rs`. A runbook that does not parse fails the
//! whole book with its `file:line` diagnostics, so a broken page never ships.

mod gate;
pub mod html;
mod overview;
mod refused;
pub mod views;
pub mod when;

use std::path::Path;

use mdbook_preprocessor::book::{Book, BookItem};
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::config::Config;
use crate::error::{Diagnostic, Error, Result};
use crate::model::StepKind;
use crate::parse::{self, LineIndex, frontmatter};
use crate::plan::Dag;
use html::Page;
use views::{Rendered, Seg};

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
            // A wiki page's own front matter (tags, owner…) is not for readers.
            let split = parse::frontmatter::split(&ch.content);
            if split.yaml.is_some() && !split.unclosed {
                ch.content = ch.content[split.body_start..].to_string();
            }
            ch.content = crate::prose::clean_markdown(&ch.content);
            return;
        }
        // mdBook's `{{#include}}` has been expanded: the file on disk is what
        // `runbook play` reads.
        let path = src.join(rel);
        let source = std::fs::read_to_string(config.root.join(&path))
            .ok()
            .filter(|s| s.contains("{{#include") && *s != ch.content);
        let rendered =
            check_play(&path, source.as_deref().unwrap_or(&ch.content), config).and_then(|()| match &source {
                Some(source) => render_with_includes(&path, &ch.content, source, config),
                None => render_page(&path, &ch.content, config),
            });
        match rendered {
            Ok(page) => ch.content = crate::prose::clean_markdown(&page),
            Err(Error::Invalid(d)) => errors.extend(d),
            Err(e) => errors.push(Diagnostic::error("mdbook", e.to_string()).in_file(src.join(rel))),
        }
    });
    if errors.is_empty() { Ok(book) } else { Err(Error::Invalid(errors)) }
}

/// A step `runbook check` refuses for its variables or `plan` refuses in
/// some env fails the book ([`refused`]); a variable nothing defines in a
/// documentation block is a warning. `text` is the page as `runbook play`
/// reads it.
fn check_play(path: &Path, text: &str, config: &Config) -> Result<()> {
    let rb = parse::parse_str(path, text, String::new())?;
    let dag = Dag::build(&rb)?;
    for w in refused::in_docs(&rb, config) {
        crate::errln!("{w}");
    }
    let errors = refused::in_steps(&rb, &dag, config);
    if errors.is_empty() { Ok(()) } else { Err(Error::Invalid(errors)) }
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
    Ok(rewrite(&Page::new(&rb, &dag, config), text, None))
}

/// Rewrite a page whose `{{#include}}`s mdBook has expanded (`text`) from
/// its file as written (`source`, what `runbook play` reads). The plan and
/// the summary are the file's own steps; an included step is shown with its
/// header, marked as not played with this runbook.
pub fn render_with_includes(path: &Path, text: &str, source: &str, config: &Config) -> Result<String> {
    let full = parse::parse_str(path, text, String::new())?;
    let own = parse::parse_str(path, source, String::new())?;
    let mut shown = full.clone();
    shown.steps.retain(|s| own.steps.iter().any(|o| o.id == s.id));
    if shown.steps.len() == full.steps.len() {
        return render_page(path, text, config);
    }
    let dag = Dag::build(&shown)?;
    let full_dag = Dag::build(&full)?;
    let full_page = Page::new(&full, &full_dag, config);
    let dir = config.root.join(path).parent().map(Path::to_path_buf).unwrap_or_default();
    let included = Included { page: &full_page, from: include_sources(source, &dir) };
    Ok(rewrite(&Page::new(&shown, &dag, config), text, Some(&included)))
}

/// The steps a page shows from other pages (`{{#include}}`), which its own
/// play does not run.
struct Included<'a> {
    page: &'a Page<'a>,
    /// Each `{{#include}}` path as written, and the text of its file.
    from: Vec<(String, String)>,
}

impl Included<'_> {
    /// The header of an included step: "included from `common/ctx.md`, not
    /// played with this runbook".
    fn header(&self, s: &crate::model::Step) -> String {
        let marker = format!("{{#{}", s.id);
        let from = self.from.iter().find(|(_, text)| text.contains(&marker));
        let from = from.map(|(p, _)| html::code(p)).unwrap_or_else(|| "another page".into());
        let note = format!(
            " <span class=\"runbook-sep\">·</span> <span class=\"runbook-included\">included from {from}, not played with this runbook</span></p></div>"
        );
        let h = self.page.step_header(s);
        match h.strip_suffix("</p></div>") {
            Some(head) => format!("{head}{note}"),
            None => h,
        }
    }
}

/// The `{{#include path…}}` directives of a page and their files' text
/// (empty when unreadable), paths relative to the page's directory.
fn include_sources(source: &str, dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, _) in source.match_indices("{{#include") {
        let rest = source[at + "{{#include".len()..].trim_start();
        let end = rest.find(|c: char| c.is_whitespace() || c == ':' || c == '}').unwrap_or(rest.len());
        let p = &rest[..end];
        if p.is_empty() || out.iter().any(|(q, _)| q == p) {
            continue;
        }
        out.push((p.to_string(), std::fs::read_to_string(dir.join(p)).unwrap_or_default()));
    }
    out
}

/// The page's layout, by 0-based line: the fences, the end of the first H1,
/// and where the folded machinery goes — before the first top-level heading
/// after the H1 that is not the symptoms, or the first top-level step,
/// whichever comes first, so that a responder reads the symptoms first. A
/// documentation block is not a step: it stays with the paragraph that
/// introduces it. Nor is a step parted from its lead-in: a top-level
/// paragraph ending in `:` right before it (blank lines apart) comes after
/// the machinery, with the step.
struct Layout {
    fences: Vec<Fence>,
    h1_end: Option<usize>,
    machinery_at: Option<usize>,
}

fn layout(text: &str, body_start: usize, lines: &[&str], is_step: impl Fn(usize) -> bool) -> Layout {
    let index = LineIndex::new(text);
    let mut fences: Vec<Fence> = Vec::new();
    let mut h1_end: Option<usize> = None;
    let mut heading: Option<(usize, String)> = None;
    let mut machinery_at: Option<usize> = None;
    // Containers open (lists, quotes), and the last top-level paragraph:
    // its first and last line, and whether it ends in `:`.
    let mut depth = 0usize;
    let mut para: Option<(usize, usize, bool)> = None;
    let mut para_text = String::new();
    let opts = Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH;
    for (event, range) in Parser::new_ext(&text[body_start..], opts).into_offset_iter() {
        let (start, end) = (range.start + body_start, range.end + body_start);
        let line = index.line(start) - 1;
        let last_line = index.line(end.saturating_sub(1).max(start)) - 1;
        match event {
            Event::Start(Tag::BlockQuote(_) | Tag::List(_) | Tag::Item | Tag::FootnoteDefinition(_)) => depth += 1,
            Event::End(TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item | TagEnd::FootnoteDefinition) => {
                depth = depth.saturating_sub(1)
            }
            Event::Start(Tag::Paragraph) if depth == 0 => para_text.clear(),
            Event::End(TagEnd::Paragraph) if depth == 0 => {
                para = Some((line, last_line, para_text.trim_end().ends_with(':')));
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
                fences.push(Fence { open: line, close: last_line });
                let top = lines.get(line).is_some_and(|l| l.starts_with("```") || l.starts_with("~~~"));
                if top && is_step(line) && h1_end.is_some() && machinery_at.is_none() {
                    let blank_between =
                        |from: usize| (from..line).all(|l| lines.get(l).is_none_or(|t| t.trim().is_empty()));
                    machinery_at = match para {
                        Some((first, last, true)) if h1_end.is_some_and(|h| first > h) && blank_between(last + 1) => {
                            Some(first)
                        }
                        _ => Some(line),
                    };
                }
            }
            Event::End(TagEnd::Heading(HeadingLevel::H1)) if h1_end.is_none() => {
                h1_end = Some(index.line(end.saturating_sub(1).max(start)) - 1);
            }
            Event::Start(Tag::Heading { level, .. }) if level != HeadingLevel::H1 => {
                heading = Some((line, String::new()))
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&t);
                }
                para_text.push_str(&t);
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((line, h)) = heading.take()
                    && !h.trim().to_lowercase().starts_with("symptom")
                    && lines.get(line).is_some_and(|l| l.starts_with('#'))
                    && machinery_at.is_none()
                {
                    machinery_at = Some(line);
                }
            }
            _ => {}
        }
    }
    Layout { fences, h1_end, machinery_at }
}

fn rewrite(page: &Page, text: &str, included: Option<&Included>) -> String {
    let rb = page.rb;
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let split = frontmatter::split(&text[bom..]);
    let body_start = bom + if split.yaml.is_some() { split.body_start } else { 0 };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut skip_lines = text[..body_start].matches('\n').count();
    while body_start > 0 && lines.get(skip_lines).is_some_and(|l| l.trim().is_empty()) {
        skip_lines += 1;
    }
    let is_step = |line: usize| rb.steps.iter().any(|s| s.line == line + 1);
    let Layout { fences, h1_end, mut machinery_at } = layout(text, body_start, &lines, is_step);

    let summary = page.summary();
    let machinery = page.machinery();
    let mut out = String::with_capacity(text.len() * 2 + summary.len() + machinery.len());
    if h1_end.is_none() {
        out.push_str(&format!("# {}\n\n{summary}\n", rb.title));
        machinery_at = machinery_at.or(Some(skip_lines));
    }
    let mut i = skip_lines;
    while i < lines.len() {
        let line = lines[i];
        if machinery_at == Some(i) {
            out.push_str(&format!("\n{machinery}\n"));
        }
        let fence = fences.iter().find(|f| f.open == i);
        let own = rb.steps.iter().find(|s| s.line == i + 1);
        let other = || included.and_then(|inc| inc.page.rb.steps.iter().find(|s| s.line == i + 1).map(|s| (inc, s)));
        // An included step renders with the views of the page as expanded.
        let (page, step, header) = match (own, other()) {
            (Some(s), _) => (page, Some(s), page.step_header(s)),
            (None, Some((inc, s))) => (inc.page, Some(s), inc.header(s)),
            (None, None) => (page, None, String::new()),
        };
        let doc = rb.doc_blocks.iter().find(|d| d.line == i + 1 && !d.unclosed && has_template(&d.body));
        match (step, doc, fence) {
            (Some(s), _, Some(f)) => {
                let (prefix, fence_str, lang) = split_fence_line(line);
                let cont = continuation(prefix);
                out.push_str(prefix);
                out.push_str(&header);
                out.push('\n');
                out.push_str(cont.trim_end());
                out.push('\n');
                if s.kind == StepKind::Manual {
                    push_manual_views(page, &mut out, &cont, fence_str, |v| v.body(page.rb, s));
                } else {
                    out.push_str(&cont);
                    out.push_str(&page.code_blocks(lang, &cont, "runbook-code", |v| v.body(page.rb, s)));
                }
                i = f.close + 1;
                continue;
            }
            (None, Some(d), Some(f)) => {
                let (prefix, _, lang) = split_fence_line(line);
                let cont = continuation(prefix);
                out.push_str(prefix);
                let mut class = "runbook-code runbook-doc";
                if crate::doc_blocks::is_foreign(rb, d) {
                    // scripts/build-book warns about it instead of failing on its `{{`.
                    class = "runbook-code runbook-doc runbook-as-written";
                    out.push_str(FOREIGN_NOTE);
                    out.push('\n');
                    out.push_str(cont.trim_end());
                    out.push('\n');
                    out.push_str(&cont);
                }
                out.push_str(&page.code_blocks(lang, &cont, class, |v| v.doc(rb, d)));
                i = f.close + 1;
                continue;
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
            out.push_str(&summary);
            out.push('\n');
        }
        i += 1;
    }
    if machinery_at.is_none_or(|m| m >= lines.len()) {
        out.push_str(&format!("\n{machinery}"));
    }
    out
}

/// Above a documentation block whose `{{ … }}` is not a runbook template.
const FOREIGN_NOTE: &str = "<p class=\"runbook-note\">Shown as written: its <code>{{ … }}</code> is not a runbook template (a Go or Helm template?), so no env's values are filled in.</p>";

fn has_template(body: &str) -> bool {
    body.contains("{{") || body.contains("{%")
}

/// A manual step's checklist for each env: one list when the envs agree,
/// else one per env in a `<div data-runbook-env>`.
fn push_manual_views(
    page: &Page,
    out: &mut String,
    cont: &str,
    fence: &str,
    render: impl Fn(&views::View) -> Rendered,
) {
    let groups = page.groups(|v| manual_text(&render(v), &v.key));
    if groups.len() == 1 {
        push_manual(out, cont, fence, &groups[0].1);
        return;
    }
    for (n, (keys, body)) in groups.iter().enumerate() {
        out.push_str(&format!("{cont}<div class=\"runbook-env\"{}>\n", html::env_attrs(keys, n == 0)));
        out.push_str(cont.trim_end());
        out.push('\n');
        push_manual(out, cont, fence, body);
        out.push_str(cont.trim_end());
        out.push('\n');
        out.push_str(&format!("{cont}</div>\n"));
        out.push_str(cont.trim_end());
        out.push('\n');
    }
}

/// A checklist's markdown with its placeholders as inline HTML.
fn manual_text(r: &Rendered, env: &str) -> String {
    r.segs
        .iter()
        .map(|s| match s {
            Seg::Text(t) => t.clone(),
            Seg::Ph(_) => html::segs(&Rendered { segs: vec![s.clone()], as_written: false }, env, false),
        })
        .collect()
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
        assert!(
            out.contains("\n<pre class=\"runbook-code\"><code class=\"language-bash\">echo 5</code></pre>\n"),
            "{out}"
        );
        assert!(out.contains("id=\"step-a\""), "{out}");
        assert!(out.contains("timeout 30s"), "{out}");
    }

    #[test]
    fn header_stays_in_its_container() {
        let out =
            page("# T\n\n1. one\n   ```bash {#a}\n   echo a\n\n   echo c\n   ```\n\n> ```sh {#b}\n> echo b\n> ```\n");
        assert!(out.contains("   <div class=\"runbook-step\" id=\"step-a\">"), "{out}");
        let pre = "\n\n   <pre class=\"runbook-code\"><code class=\"language-bash\">echo a\n\n   echo c</code></pre>\n";
        assert!(out.contains(pre), "{out}");
        assert!(out.contains("> <div class=\"runbook-step\" id=\"step-b\">"), "{out}");
        assert!(
            out.contains(">\n> <pre class=\"runbook-code\"><code class=\"language-sh\">echo b</code></pre>\n"),
            "{out}"
        );
    }

    #[test]
    fn list_marker_on_the_fence_line() {
        let out = page("# T\n\n- ```bash {#a}\n  echo a\n  ```\n");
        assert!(out.contains("- <div class=\"runbook-step\""), "{out}");
        assert!(
            out.contains("\n  <pre class=\"runbook-code\"><code class=\"language-bash\">echo a</code></pre>\n"),
            "{out}"
        );
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
        assert!(out.starts_with("# Hello\n\n<div class=\"runbook-summary\""), "{out}");
    }

    #[test]
    fn values_are_escaped() {
        let out = page("# T\n\n```bash {#a confirm=\"<b>sure</b> & go\"}\necho\n```\n");
        assert!(out.contains("asks: “&lt;b&gt;sure&lt;/b&gt; &amp; go”"), "{out}");
    }

    /// The machinery goes before the first step, not before the first
    /// documentation block, and not between a step and its lead-in.
    #[test]
    fn machinery_before_the_first_step_and_its_lead_in() {
        let md = "# T\n\nTo see what runs:\n\n```bash\nps\n```\n\nThe pods, as they are:\n\n```bash {#a read}\nkubectl get pods\n```\n";
        let out = page(md);
        let (doc, plan, lead) =
            (out.find("ps\n```").unwrap(), out.find("<details").unwrap(), out.find("The pods, as").unwrap());
        assert!(doc < plan && plan < lead, "{out}");
        let md = "# T\n\nThe pods.\n\n```bash {#a read}\nkubectl get pods\n```\n";
        let out = page(md);
        assert!(out.find("The pods.").unwrap() < out.find("<details").unwrap(), "{out}");
    }

    /// A step skipped by a variable's default is not "skipped in prod": the
    /// page says it is the defaults, and how to run it; once for every env.
    #[test]
    fn skipped_with_the_defaults_names_the_set() {
        let toml = "default_env = \"devnet\"\n[env.devnet]\n[env.prod]\n";
        let config = Config::from_str(Path::new("runbook.toml"), toml).unwrap();
        let md = "---\nvars:\n  action: upgrade\n---\n# T\n\n```bash {#a when=\"action == 'rollback'\"}\n:\n```\n\n```bash {#b when=\"env == 'prod'\"}\n:\n```\n";
        let out = render_page(Path::new("runbooks/t.md"), md, &config).unwrap();
        let every = "<span class=\"runbook-skip\">(skipped in every env with the defaults; to run it: <code>--set action=rollback</code>)</span>";
        assert_eq!(out.matches(every).count(), 2, "header and plan:\n{out}");
        assert!(!out.contains("(skipped in prod with") && !out.contains("(skipped in devnet with"), "{out}");
        assert!(out.contains("<span class=\"runbook-skip\">(skipped in devnet)</span>"), "{out}");
    }

    /// "Play it:" names the variables a play needs (`--set node=…`); counts
    /// agree in number.
    #[test]
    fn play_it_names_the_required_sets() {
        let md = "---\nvars:\n  node: ~\n  tail: 5\n---\n# T\n\n```bash {#a read}\nkubectl drain {{ node }} --tail {{ tail }} {{ db_password }}\n```\n";
        let out = page(md);
        assert!(out.contains("<code>runbook play t --set node=…</code>"), "{out}");
        assert!(out.contains("The plan (1 step)") && out.contains("· 1 step (1 read-only"), "{out}");
    }

    /// `confirm` and `escalate` read as `runbook plan` shows them: values
    /// in, a secret as its placeholder, never its value.
    #[test]
    fn confirm_and_escalate_are_rendered() {
        let md = "---\nvars:\n  n: 4\n  db_password: hunter2\n---\n# T\n\n```bash {#a confirm=\"scale to {{ n }} with {{ db_password }}\" budget=1m escalate=\"page {{ n }} people\"}\necho\n```\n";
        let out = page(md);
        let secret =
            "<span class=\"runbook-ph\" title=\"a secret: never shown in the wiki\">&lt;db_password: secret&gt;</span>";
        assert!(
            out.contains(&format!("<span class=\"runbook-confirm\">asks: “scale to 4 with {secret}”</span>")),
            "{out}"
        );
        assert!(out.contains("budget 1m, then: <span class=\"runbook-escalate\">page 4 people</span>"), "{out}");
        assert!(!out.contains("hunter2") && !out.contains("{{"), "{out}");
    }

    /// Every `when` and `expect` of the Animica runbooks reads as words, in
    /// every env of the project's runbook.toml.
    #[test]
    fn every_condition_of_the_runbooks_reads_as_words() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = Config::load(&root.join("runbook.toml")).unwrap();
        let rbs = crate::catalog::Catalog::load(&config).unwrap();
        let (mut whens, mut expects) = (0, 0);
        for rb in rbs.runbooks.iter() {
            let dag = Dag::build(rb).unwrap();
            let page = Page::new(rb, &dag, &config);
            for s in &rb.steps {
                for v in &page.views {
                    if let Some(w) = &s.attrs.when {
                        let html = page.when_html(s, v).unwrap();
                        assert!(html.contains("class=\"runbook-when\""), "{}: `{w}` in {}: {html}", rb.id, v.key);
                        whens += 1;
                    }
                    if let Some(e) = &s.attrs.expect {
                        let html = page.expect_html(s, v).unwrap();
                        assert!(html.contains("class=\"runbook-expect\""), "{}: `{e}` in {}: {html}", rb.id, v.key);
                        assert!(!html.contains("{{"), "{html}");
                        expects += 1;
                    }
                }
            }
        }
        assert!(whens > 50 && expects > 30, "{whens} whens, {expects} expects: the runbooks were not all read");
    }

    /// The cleaning takes nothing from the wiki as the project writes it:
    /// every page of runbooks/, as the preprocessor hands it on, is the same
    /// cleaned.
    #[test]
    fn the_projects_pages_are_clean_already() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = Config::load(&root.join("runbook.toml")).unwrap();
        let mut pages = 0;
        for e in walkdir::WalkDir::new(root.join("runbooks")) {
            let path = e.unwrap().into_path();
            if path.extension().is_none_or(|x| x != "md") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let page = if is_runbook(&text) { render_page(&path, &text, &config).unwrap() } else { text };
            let cleaned = crate::prose::clean_markdown(&page);
            if cleaned != page {
                let diff = similar::TextDiff::from_lines(&page, &cleaned);
                panic!("{}:\n{}", path.display(), diff.unified_diff());
            }
            pages += 1;
        }
        assert!(pages > 10, "{pages} pages: runbooks/ was not read");
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

//! A wiki page's markdown cleaned before mdBook renders it. mdBook passes
//! raw HTML through and writes any link's URL and any heading attribute
//! (`# Title {onclick=…}`) as it is, so each of these is rewritten in the
//! markdown, where it is written, and everything else stays byte for byte:
//! - raw HTML (a block's lines, an inline tag) goes through [`super::tags`];
//! - a link or an image whose URL the allow-list refuses (`javascript:`,
//!   `data:`) becomes its text;
//! - a heading with an attribute the allow-list refuses keeps its text, its
//!   `#id` and its classes only.
//!
//! A rewrite can change how the page parses (an HTML block whose first tag
//! went may read as a paragraph), so the page is cleaned again until
//! nothing changes: what mdBook reads is what was last checked.

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::tags::{Cleaner, url_allowed};

/// The options mdBook 0.5 parses a chapter with (`new_cmark_parser`).
const MDBOOK: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_FOOTNOTES)
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_TASKLISTS)
    .union(Options::ENABLE_HEADING_ATTRIBUTES)
    .union(Options::ENABLE_SMART_PUNCTUATION)
    .union(Options::ENABLE_DEFINITION_LIST);

/// The page with its raw HTML, its unsafe links and heading attributes
/// cleaned (see the module doc).
pub fn clean_markdown(md: &str) -> String {
    let mut page = md.to_string();
    // Each round only removes; a page settles in a round or two. The bound
    // is for a page built to keep it busy: it is then shown as code, where
    // markdown makes nothing of it.
    for _ in 0..8 {
        let next = once(&page);
        if next == page {
            return page;
        }
        page = next;
    }
    as_code(&page)
}

/// The page as one fenced block, its fence longer than any backtick run in it.
fn as_code(page: &str) -> String {
    let longest = page.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}text\n{page}\n{fence}\n")
}

/// One round: every rewrite of the page as it parses now.
fn once(md: &str) -> String {
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut events = Parser::new_ext(md, MDBOOK).into_offset_iter().peekable();
    let mut done = 0;
    while let Some((event, range)) = events.next() {
        if range.start < done {
            continue;
        }
        match event {
            Event::Start(Tag::HtmlBlock) => {
                let mut c = Cleaner::default();
                for (e, r) in events.by_ref() {
                    match e {
                        Event::Html(t) | Event::Text(t) => edits.push((r, c.piece(&t))),
                        Event::End(TagEnd::HtmlBlock) => break,
                        _ => {}
                    }
                }
                if let Some(last) = edits.last_mut() {
                    last.1.push_str(&c.finish());
                }
            }
            Event::InlineHtml(t) | Event::Html(t) => {
                let mut c = Cleaner::default();
                let out = c.piece(&t) + &c.finish();
                edits.push((range, out));
            }
            Event::Start(Tag::Link { dest_url, .. }) if !url_allowed(&dest_url) => {
                let text = plain_text(&mut events, |e| matches!(e, TagEnd::Link));
                edits.push((range.clone(), escape(&text)));
                done = range.end;
            }
            Event::Start(Tag::Image { dest_url, .. }) if !url_allowed(&dest_url) => {
                let text = plain_text(&mut events, |e| matches!(e, TagEnd::Image));
                edits.push((range.clone(), escape(&text)));
                done = range.end;
            }
            Event::Start(Tag::Heading { level, id, classes, attrs })
                if attrs.iter().any(|(k, v)| !heading_attr(level, k, v.as_deref())) =>
            {
                let text = plain_text(&mut events, |e| matches!(e, TagEnd::Heading(_)));
                let mut h = format!("{} {}", "#".repeat(level as usize), escape(&text));
                let mut block: Vec<String> = id.iter().map(|i| format!("#{i}")).collect();
                block.extend(classes.iter().map(|c| format!(".{c}")));
                block.extend(attrs.iter().filter(|(k, v)| heading_attr(level, k, v.as_deref())).map(
                    |(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k.to_string(),
                    },
                ));
                if !block.is_empty() {
                    h.push_str(&format!(" {{{}}}", block.join(" ")));
                }
                if md[range.clone()].ends_with('\n') {
                    h.push('\n');
                }
                edits.push((range.clone(), h));
                done = range.end;
            }
            _ => {}
        }
    }
    let mut out = String::with_capacity(md.len());
    let mut at = 0;
    for (r, text) in edits {
        if r.start < at {
            continue;
        }
        out.push_str(&md[at..r.start]);
        out.push_str(&text);
        at = r.end;
    }
    out.push_str(&md[at..]);
    out
}

/// May a heading carry this attribute (`{key=value}`)? As an HTML one would.
fn heading_attr(level: HeadingLevel, key: &str, value: Option<&str>) -> bool {
    let tag = level.to_string();
    super::tags::attr_allowed(&tag, &key.to_ascii_lowercase(), value.unwrap_or(""))
        && !key.contains(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// The text inside a link, an image or a heading, up to the end `is_end`
/// names (the events are consumed).
fn plain_text<'a>(
    events: &mut impl Iterator<Item = (Event<'a>, Range<usize>)>,
    is_end: impl Fn(&TagEnd) -> bool,
) -> String {
    let mut text = String::new();
    let mut depth = 0;
    for (e, _) in events.by_ref() {
        match e {
            Event::Start(_) => depth += 1,
            Event::End(end) if depth == 0 && is_end(&end) => break,
            Event::End(_) => depth -= 1,
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            _ => {}
        }
    }
    text
}

/// Text that markdown reads as text: every ASCII punctuation character
/// backslash-escaped, line ends as spaces.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_bad_links_and_heading_handlers_go() {
        let md = "# T\n\n<script>\nalert(1)\n</script>\n\nText <img src=\"x\" onerror=\"alert(1)\"> and \
                  [go](javascript:alert(1)) and <javascript:alert(2)> and ![i](data:text/html,x).\n\n\
                  <iframe src=\"https://evil.example\"></iframe>\n\n## Fix {#fix .c onclick=alert(3)}\n";
        assert_eq!(
            clean_markdown(md),
            "# T\n\n\n\nText <img src=\"x\"> and go and javascript\\:alert\\(2\\) and i.\n\n\n\n## Fix {#fix .c}\n"
        );
    }

    #[test]
    fn a_tag_that_went_cannot_let_markdown_in_a_block_through() {
        // Without its `<iframe>`, the block's next line is a paragraph, and
        // its link a link: the second round cleans it.
        let md = "<iframe>\n[x](javascript:alert(1))\n</iframe>\n";
        let out = clean_markdown(md);
        assert!(!out.contains("javascript:"), "{out}");
    }

    #[test]
    fn a_page_shown_as_code_is_code_whatever_it_holds() {
        let out = as_code("````\n<script>x</script>\n");
        assert_eq!(out, "`````text\n````\n<script>x</script>\n\n`````\n");
        let events: Vec<_> = Parser::new_ext(&out, MDBOOK).collect();
        assert!(!events.iter().any(|e| matches!(e, Event::Html(_) | Event::InlineHtml(_))), "{events:?}");
    }

    #[test]
    fn what_markdown_and_mdbook_authors_use_stays() {
        for md in [
            "# Title {#t .c}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
            "See [doc](https://example.com/a?b=1), [page](other.md#x), <https://example.com>, <ops@example.com>.\n",
            "<details>\n<summary>More</summary>\n\n- **bold** item\n\n</details>\n",
            "```bash\necho '<script>'\n```\n\n`<img onerror=x>`\n",
            "> <kbd>Ctrl</kbd>+<kbd>C</kbd> stops it.<br>\n",
            "- [ ] look\n- [x] act\n\n<!-- end of step -->\n",
        ] {
            assert_eq!(clean_markdown(md), md);
        }
    }
}

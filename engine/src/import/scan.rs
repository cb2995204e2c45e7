//! Where the fenced blocks of a page are, byte for byte, and what names
//! them: the heading above, the text of the list item around them.
//!
//! pulldown-cmark hands a code block's lines as text events that are
//! verbatim slices of the page (without list indentation, `>` markers or a
//! CRLF's `\r`), so an edit at an offset of the body maps to one place in
//! the page, and everything else stays byte for byte.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// One fenced block of a page.
#[derive(Debug, Clone)]
pub struct Fenced {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// Byte range in the page of the info string (after the fence), trimmed;
    /// empty at its end when there is none.
    pub info: Range<usize>,
    /// The body as pulldown-cmark gives it, and for each of its pieces the
    /// offset in the body and the byte range in the page.
    pub body: String,
    pub pieces: Vec<(usize, Range<usize>)>,
    /// Every piece was a verbatim slice of the page (else the block is not edited).
    pub verbatim: bool,
    /// The nearest heading above, and whether a block came under it before this one.
    pub heading: Option<String>,
    pub heading_taken: bool,
    /// The text of the list item the block is in, before the block.
    pub item: Option<String>,
}

impl Fenced {
    /// The page offset of a body offset. At the end of a piece (a line's
    /// end, where a CRLF page has its `\r`), `after` says which side: the
    /// end of this line's text (`false`) or the start of the next piece.
    pub fn page_offset(&self, at: usize, after: bool) -> Option<usize> {
        let k = self.pieces.partition_point(|(start, _)| *start <= at).checked_sub(1)?;
        let k = if !after && k > 0 && self.pieces[k].0 == at { k - 1 } else { k };
        let (start, range) = &self.pieces[k];
        let off = range.start + (at - start);
        (off <= range.end).then_some(off)
    }
}

/// The page's fenced blocks and its first H1. `text` is the whole page;
/// markdown starts at `body_start` (after the front matter).
pub fn scan(text: &str, body_start: usize) -> (Vec<Fenced>, Option<String>) {
    let md = &text[body_start..];
    let index = crate::parse::LineIndex::new(text);
    let mut out: Vec<Fenced> = Vec::new();
    let mut h1 = None;
    let mut heading: Option<(HeadingLevel, String)> = None;
    let mut section: Option<String> = None;
    let mut section_used = false;
    // The list items open around the current point: the text read so far in each.
    let mut items: Vec<String> = Vec::new();
    let mut open: Option<Fenced> = None;
    for (ev, r) in Parser::new_ext(md, Options::empty()).into_offset_iter() {
        let r = r.start + body_start..r.end + body_start;
        match ev {
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level, String::new())),
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, t)) = heading.take() {
                    let t = t.trim().to_string();
                    if level == HeadingLevel::H1 && h1.is_none() {
                        h1 = Some(t.clone());
                    }
                    section = Some(t);
                    section_used = false;
                }
            }
            Event::Start(Tag::Item) => items.push(String::new()),
            Event::End(TagEnd::Item) => {
                items.pop();
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
                let line_end = text[r.start..].find('\n').map_or(text.len(), |n| r.start + n);
                let fence_line = &text[r.start..line_end];
                let ch = if fence_line.trim_start().starts_with('~') { '~' } else { '`' };
                let fence_len = fence_line.trim_start().chars().take_while(|c| *c == ch).count();
                let after = r.start + (fence_line.len() - fence_line.trim_start().len()) + fence_len;
                let info_text = &text[after..line_end];
                let lead = info_text.len() - info_text.trim_start().len();
                let info = after + lead..after + lead + info_text.trim().len();
                let item = items.last().map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
                open = Some(Fenced {
                    line: index.line(r.start),
                    info,
                    body: String::new(),
                    pieces: Vec::new(),
                    verbatim: true,
                    heading: section.clone(),
                    heading_taken: section_used,
                    item,
                });
                section_used = true;
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(b) = open.as_mut() {
                    b.verbatim &= text.get(r.clone()) == Some(t.as_ref());
                    b.pieces.push((b.body.len(), r));
                    b.body.push_str(&t);
                } else if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&t);
                } else if let Some(i) = items.last_mut() {
                    i.push_str(&t);
                    i.push(' ');
                }
            }
            Event::End(TagEnd::CodeBlock) => out.extend(open.take()),
            _ => {}
        }
    }
    (out, h1)
}

/// A step id from a label: lowercase words joined by `-`, leading section
/// numbers (`1.1`, `2)`) dropped, at most five words and 40 characters.
pub fn slug(label: &str) -> Option<String> {
    let words: Vec<String> = label
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .filter(|w| w.is_ascii())
        .collect();
    let first_word = words.iter().position(|w| !w.chars().all(|c| c.is_ascii_digit())).unwrap_or(words.len());
    let mut s = String::new();
    for w in words.iter().skip(first_word).take(5) {
        if s.len() + w.len() + 1 > 40 {
            break;
        }
        if !s.is_empty() {
            s.push('-');
        }
        s.push_str(w);
    }
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_with_their_labels() {
        let md = "# T\n\n## 1.1 Roll out a build\n\n1. Apply:\n   ```bash\n   helm upgrade x\n   ```\n\n```sh\nb\n```\n\n> ~~~bash {#x}\n> c\n> ~~~\n";
        let (blocks, h1) = scan(md, 0);
        assert_eq!(h1.as_deref(), Some("T"));
        assert_eq!(blocks.len(), 3);
        assert_eq!(
            (blocks[0].line, &md[blocks[0].info.clone()], blocks[0].item.as_deref()),
            (6, "bash", Some("Apply:"))
        );
        assert_eq!((blocks[0].heading.as_deref(), blocks[0].heading_taken), (Some("1.1 Roll out a build"), false));
        assert!(blocks[1].heading_taken && blocks[1].item.is_none());
        assert_eq!(&md[blocks[2].info.clone()], "bash {#x}");
        for b in &blocks {
            assert!(b.verbatim);
            for at in 0..b.body.len() {
                let off = b.page_offset(at, true).unwrap();
                assert_eq!(md.as_bytes()[off], b.body.as_bytes()[at]);
            }
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("1.1 Roll out a new node build (Kubernetes via Helm)").as_deref(), Some("roll-out-a-new-node"));
        assert_eq!(slug("Apply base + devnet overlay:").as_deref(), Some("apply-base-devnet-overlay"));
        assert_eq!(slug("2) 3").as_deref(), None);
        assert_eq!(slug("Θ!").as_deref(), None);
    }
}

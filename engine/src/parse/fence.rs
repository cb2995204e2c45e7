//! Fence lines: where a fenced block's closing fence is, and whether it
//! swallowed the next block. pulldown-cmark closes an unclosed fence at its
//! container's end without saying so; these read the source to tell.

use super::block::has_attrs;

/// Where the closing fence line of a block's source starts, if it has one:
/// its last non-blank line, not the opening one, made of the opening's fence
/// character, at least as many. A block whose fence starts a line
/// (`top_level`) is in no container: its closing fence is indented less than
/// 4 columns, and a `>` before it is text. Elsewhere blockquote markers and
/// indentation are skipped.
pub(super) fn closing_fence(src: &str, top_level: bool) -> Option<usize> {
    fn strip(l: &str, top_level: bool) -> &str {
        let l = l.trim_end();
        if top_level {
            let t = l.trim_start_matches(' ');
            if l.len() - t.len() >= 4 || t.starts_with('\t') { "" } else { t }
        } else {
            l.trim_start_matches(['>', ' ', '\t'])
        }
    }
    let first_end = memchr::memchr(b'\n', src.as_bytes())?;
    let open = strip(&src[..first_end], top_level);
    let ch = if open.starts_with('~') { b'~' } else { b'`' };
    let n = open.bytes().take_while(|&b| b == ch).count();
    let body = first_end + 1;
    let mut end = src.len();
    loop {
        let start = memchr::memrchr(b'\n', &src.as_bytes()[body..end]).map_or(body, |i| body + i + 1);
        let line = &src[start..end];
        if !line.trim().is_empty() {
            let l = strip(line, top_level);
            return (n > 0 && l.len() >= n && l.bytes().all(|b| b == ch)).then_some(start);
        }
        if start == body {
            return None;
        }
        end = start - 1;
    }
}

/// The fenced block being read.
pub(super) struct OpenBlock<'a> {
    pub(super) info: pulldown_cmark::CowStr<'a>,
    pub(super) line: usize,
    /// Its opening fence: character and length.
    pub(super) fence: (u8, usize),
    pub(super) closing: Closing,
    pub(super) body: String,
    /// The body was cut from the source: Text events are skipped.
    pub(super) sliced: bool,
}

/// The character and length of the fence that opens the block at the start
/// of `src` (after any list or quote markers).
pub(super) fn opening_fence(src: &str) -> (u8, usize) {
    let first = src.lines().next().unwrap_or("");
    let Some(at) = first.find(['`', '~']) else { return (b'`', 3) };
    let ch = first.as_bytes()[at];
    (ch, first[at..].bytes().take_while(|&b| b == ch).count())
}

/// The info string of the block at the start of `src` as the source spells
/// it (after any list or quote markers and the fence), without
/// CommonMark's backslash escapes and entities applied; `None` when the
/// opening line holds no fence.
pub(super) fn raw_info(src: &str) -> Option<&str> {
    let first = src.lines().next()?;
    let at = first.find(['`', '~'])?;
    let ch = first.as_bytes()[at];
    let run = first[at..].bytes().take_while(|&b| b == ch).count();
    Some(first[at + run..].trim())
}

/// A line of a block's body that looks like the opening of another block:
/// the block's own fence character, at least as many, and an info string
/// (with `{` attributes, when `steps_only`). It cannot be content anyone
/// meant: no closing fence can follow it inside this block without closing
/// this block instead. So the block's own closing fence is missing above
/// it, and the block swallowed what came after (a step, often). Its index
/// among the body's lines.
pub(super) fn opening_inside(body: &str, ch: u8, n: usize, steps_only: bool) -> Option<usize> {
    // Most bodies hold no fence at all: one fast search rules them out.
    let fence = [ch; 3];
    memchr::memmem::find(body.as_bytes(), &fence[..n.min(3)])?;
    body.lines().position(|l| {
        let t = l.trim_start();
        let run = t.bytes().take_while(|&b| b == ch).count();
        let info = t[run..].trim();
        run >= n && !info.is_empty() && (!steps_only || has_attrs(info)) && (ch == b'~' || !info.contains('`'))
    })
}

/// What the source says of a block's closing fence.
#[derive(Clone, Copy)]
pub(super) enum Closing {
    /// Its last non-blank line is no closing fence.
    Missing,
    /// A top-level block's closing fence.
    Found,
    /// In a list or quote, whose markers and indentation [`closing_fence`]
    /// skips without knowing the container's indentation: the fence-like
    /// line, at this line index within the block (the opening is 0), closes
    /// it only if the body pulldown-cmark gives has fewer lines than that.
    Line(usize),
}

/// Does the block at `range` start a line (no list or quote around it)?
pub(super) fn starts_line(text: &str, range: &std::ops::Range<usize>) -> bool {
    range.start == 0 || text.as_bytes()[range.start - 1] == b'\n'
}

/// The body of a closed top-level block, cut from the source: pulldown-cmark
/// would hand over exactly the lines between its fences. `None` for any other
/// block (an unclosed block's trailing blank lines are dropped, for one).
pub(super) fn top_level_body(src: &str, closing: Option<usize>) -> Option<String> {
    let body = memchr::memchr(b'\n', src.as_bytes())? + 1;
    Some(src[body..closing?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence_closed(src: &str) -> bool {
        closing_fence(src, false).is_some()
    }

    #[test]
    fn raw_info_strings_keep_their_backslashes_and_entities() {
        assert_eq!(raw_info("```bash {#a expect=\"^\\[OK\\]$\"}\nx\n```\n"), Some("bash {#a expect=\"^\\[OK\\]$\"}"));
        assert_eq!(raw_info("> ~~~~sh {#b} \n> x\n"), Some("sh {#b}"));
        assert_eq!(raw_info("- ```bash {#c expect=a&amp;b}\n"), Some("bash {#c expect=a&amp;b}"));
        assert_eq!(raw_info("no fence\n"), None);
    }

    #[test]
    fn fence_closing_lines() {
        assert!(fence_closed("```bash\necho\n```\n"));
        assert!(fence_closed("````bash\necho\n`````\n\n"));
        assert!(fence_closed("> ~~~sh\n> echo\n> ~~~\n"));
        assert!(!fence_closed("````bash\necho\n```\n"), "shorter than the opening");
        assert!(!fence_closed("```bash\necho\n~~~\n"), "other character");
        assert!(!fence_closed("```\n\n  \n"), "only the opening line");
        assert!(!fence_closed("```bash"));
        assert_eq!(closing_fence("```bash\necho\n```\n\n", true), Some(13));
        assert_eq!(closing_fence("```\n```", true), Some(4));
        assert_eq!(closing_fence("```\nx\n> ```\n", true), None, "a `>` is text at top level");
        assert_eq!(closing_fence("```\nx\n    ```\n", true), None, "indented 4: code");
        assert_eq!(closing_fence("```\nx\n   ```  \n", true), Some(6));
    }
}

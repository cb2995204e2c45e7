//! Marks: how the formatter hands a value to a placer ([`super::query`],
//! [`super::request`]). Rendering cannot know where a value lands, so the
//! formatter writes each value as a mark and the placer, reading the
//! rendered text as the target language's lexer does, replaces each mark by
//! the value escaped for its place (or refuses it).
//!
//! A mark holds the value's bytes in hex, so a value can never look like
//! the text around it (no quote, no newline, no space).

/// Opens and closes a value's mark (private-use characters).
pub const OPEN: char = '\u{E000}';
pub const CLOSE: char = '\u{E001}';

/// A value as its mark: its bytes in hex, between [`OPEN`] and [`CLOSE`].
pub fn mark(value: &str) -> String {
    let mut s = String::with_capacity(value.len() * 2 + 6);
    s.push(OPEN);
    for b in value.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s.push(CLOSE);
    s
}

/// The value of the mark whose [`OPEN`] `chars` just read: reads up to and
/// including its [`CLOSE`].
pub fn take(chars: &mut impl Iterator<Item = char>) -> String {
    let hex: String = chars.take_while(|&c| c != CLOSE).collect();
    let bytes: Vec<u8> =
        (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A piece of marked text: a character of the template, or a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Char(char),
    Value(String),
}

/// `text` as its pieces.
pub fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(if c == OPEN { Piece::Value(take(&mut chars)) } else { Piece::Char(c) });
    }
    out
}

/// Where a value could not be placed: the 1-based line of the rendered
/// text, and why (never the value: it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    pub line: usize,
    pub why: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_reads_back_as_its_value_and_holds_no_text_of_it() {
        for v in ["", "a\"b\n\\c", "é\u{E001}x"] {
            let m = mark(v);
            assert!(!m[OPEN.len_utf8()..].contains(['"', '\n', ' ', OPEN]));
            assert_eq!(pieces(&format!("a{m}b")), [Piece::Char('a'), Piece::Value(v.into()), Piece::Char('b')]);
        }
    }
}

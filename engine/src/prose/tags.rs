//! Raw HTML cleaned tag by tag, for markdown that mdBook renders later: an
//! HTML block or an inline tag is a piece of a page, not a document, so it
//! cannot go through ammonia's DOM (`<details>` in one block and
//! `</details>` three paragraphs later would each be closed or dropped).
//! Each piece is read as tokens (tags, comments, text) and written anew from
//! them: a tag of the allow-list with its allowed attributes (the policy of
//! [`super::cleaner`], read from it), an end tag of the allow-list, an empty
//! comment, text with its `<` and `>` escaped. Nothing else is written, so
//! whatever a browser makes of the input, the output holds no other markup.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// The allow-list of [`super::cleaner`], as sets.
struct Policy {
    tags: HashSet<&'static str>,
    /// Tags dropped with their content (`script`, `style`).
    drop_content: HashSet<&'static str>,
    generic: HashSet<&'static str>,
    prefixes: HashSet<&'static str>,
    tag_attrs: HashMap<&'static str, HashSet<&'static str>>,
    tag_values: HashMap<&'static str, HashMap<&'static str, HashSet<&'static str>>>,
    schemes: HashSet<&'static str>,
}

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| {
        let b = super::cleaner();
        Policy {
            tags: b.clone_tags(),
            drop_content: b.clone_clean_content_tags(),
            generic: b.clone_generic_attributes(),
            prefixes: b.clone_generic_attribute_prefixes().unwrap_or_default(),
            tag_attrs: b.clone_tag_attributes(),
            tag_values: b.clone_tag_attribute_values(),
            schemes: b.clone_url_schemes(),
        }
    })
}

/// May this URL stay in an attribute (`href`, `src`)? The test ammonia
/// applies: a URL with a scheme only with an allowed one, a relative one
/// always, anything that is neither never.
pub fn url_allowed(url: &str) -> bool {
    match ammonia::url::Url::parse(url) {
        Ok(u) => policy().schemes.contains(u.scheme()),
        Err(e) => e == ammonia::url::ParseError::RelativeUrlWithoutBase,
    }
}

/// An attribute ammonia would keep on this tag (its URL checked).
pub fn attr_allowed(tag: &str, name: &str, value: &str) -> bool {
    let p = policy();
    let listed = p.generic.contains(name)
        || p.prefixes.iter().any(|x| name.starts_with(x))
        || p.tag_attrs.get(tag).is_some_and(|a| a.contains(name))
        || p.tag_values
            .get(tag)
            .and_then(|a| a.get(name))
            .is_some_and(|vs| vs.iter().any(|v| v.eq_ignore_ascii_case(value)));
    let url = matches!(name, "href" | "src" | "xlink:href")
        || (tag == "form" && name == "action")
        || (tag == "object" && name == "data")
        || (matches!(tag, "button" | "input") && name == "formaction")
        || (tag == "a" && name == "ping")
        || (tag == "video" && name == "poster");
    listed && (!url || url_allowed(value))
}

/// Cleans the pieces of one run of raw HTML (an HTML block's lines, one
/// inline tag), carrying what spans pieces: a tag cut by a line end, the
/// content of a `<script>` being dropped.
#[derive(Default)]
pub struct Cleaner {
    /// An unfinished tag or comment from the previous piece.
    carry: String,
    /// Inside a dropped `<script>`/`<style>`: its name.
    dropping: Option<String>,
}

impl Cleaner {
    /// The piece cleaned. What cannot be finished in it (a tag cut by the
    /// line end) is written with the piece that finishes it.
    pub fn piece(&mut self, piece: &str) -> String {
        let text = std::mem::take(&mut self.carry) + piece;
        let mut out = String::new();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let Some(lt) = rest.find('<') else {
                self.text(&mut out, rest);
                break;
            };
            self.text(&mut out, &rest[..lt]);
            rest = &rest[lt..];
            match token(rest) {
                Token::Incomplete => {
                    self.carry = rest.to_string();
                    break;
                }
                Token::Text(n) => {
                    self.text(&mut out, &rest[..n]);
                    rest = &rest[n..];
                }
                Token::Comment(n) => {
                    if self.dropping.is_none() {
                        out.push_str(comment(&rest[..n]));
                    }
                    rest = &rest[n..];
                }
                Token::Tag(tag, n) => {
                    self.tag(&mut out, &tag);
                    rest = &rest[n..];
                }
            }
        }
        out
    }

    /// What is left when the run ends: an unfinished tag is dropped (a
    /// browser drops a tag cut by the end of the input too).
    pub fn finish(&mut self) -> String {
        self.carry.clear();
        String::new()
    }

    fn text(&self, out: &mut String, t: &str) {
        if self.dropping.is_none() {
            out.push_str(&t.replace('<', "&lt;").replace('>', "&gt;"));
        }
    }

    fn tag(&mut self, out: &mut String, tag: &Tag) {
        if let Some(d) = &self.dropping {
            if tag.end && tag.name == *d {
                self.dropping = None;
            }
            return;
        }
        let p = policy();
        if tag.end {
            if p.tags.contains(tag.name.as_str()) {
                out.push_str(&format!("</{}>", tag.name));
            }
            return;
        }
        if p.drop_content.contains(tag.name.as_str()) {
            self.dropping = Some(tag.name.clone());
            return;
        }
        if !p.tags.contains(tag.name.as_str()) {
            return;
        }
        out.push('<');
        out.push_str(&tag.name);
        let mut seen = HashSet::new();
        for (k, v) in &tag.attrs {
            if !seen.insert(k.as_str()) || !attr_allowed(&tag.name, k, v.as_deref().unwrap_or("")) {
                continue;
            }
            match v {
                Some(v) => out.push_str(&format!(" {k}=\"{}\"", attr_escape(v))),
                None => out.push_str(&format!(" {k}")),
            }
        }
        out.push('>');
    }
}

/// A comment as written back: as it was when it is plainly one (a note of
/// words, `<!-- end of step -->`), else empty.
fn comment(c: &str) -> &str {
    let plain = |body: &str| !body.contains(['<', '>', '-', '!', '&']);
    match c.strip_prefix("<!--").and_then(|b| b.strip_suffix("-->")) {
        Some(body) if plain(body) => c,
        _ => "<!---->",
    }
}

/// An attribute value as written back: the value checked is the value a
/// browser reads, so `&` is escaped too (`&#106;avascript:` stays text).
fn attr_escape(v: &str) -> String {
    v.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

struct Tag {
    name: String,
    end: bool,
    /// Each attribute, its value `None` when it has none (`hidden`).
    attrs: Vec<(String, Option<String>)>,
}

enum Token {
    /// A tag, and its length in bytes.
    Tag(Tag, usize),
    /// A comment, a doctype, a processing instruction: its length.
    Comment(usize),
    /// A `<` that starts nothing: its length.
    Text(usize),
    /// Cut by the end of the piece.
    Incomplete,
}

/// The token at the start of `s` (which starts with `<`), as the HTML
/// tokenizer reads it in its data state.
fn token(s: &str) -> Token {
    let b = s.as_bytes();
    let at = |i: usize| b.get(i).copied();
    match at(1) {
        Some(c) if c.is_ascii_alphabetic() => tag(s, 1, false),
        Some(b'/') => match at(2) {
            Some(c) if c.is_ascii_alphabetic() => tag(s, 2, true),
            Some(b'>') => Token::Comment(3),
            Some(_) => bogus(s),
            None => Token::Incomplete,
        },
        Some(b'!') if s.starts_with("<!--") => {
            let body = &s[4..];
            if body.starts_with('>') {
                return Token::Comment(5);
            }
            if body.starts_with("->") {
                return Token::Comment(6);
            }
            match [body.find("-->").map(|i| i + 3), body.find("--!>").map(|i| i + 4)].into_iter().flatten().min() {
                Some(n) => Token::Comment(4 + n),
                None => Token::Incomplete,
            }
        }
        Some(b'!') | Some(b'?') => bogus(s),
        None if s.len() == 1 => Token::Incomplete,
        _ => Token::Text(1),
    }
}

/// `<!…>`, `<?…>`, `</1…>`: a comment up to the next `>`.
fn bogus(s: &str) -> Token {
    s.find('>').map_or(Token::Incomplete, |n| Token::Comment(n + 1))
}

fn tag(s: &str, name_at: usize, end: bool) -> Token {
    let stop = |c: char| c.is_ascii_whitespace() || c == '/' || c == '>';
    let name_end = s[name_at..].find(stop).map_or(s.len(), |n| name_at + n);
    let name = s[name_at..name_end].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut i = name_end;
    loop {
        let rest = &s[i..];
        let skip = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/').len();
        i += skip;
        let rest = &s[i..];
        if rest.is_empty() {
            return Token::Incomplete;
        }
        if rest.starts_with('>') {
            return Token::Tag(Tag { name, end, attrs }, i + 1);
        }
        // An attribute name may start with `=`; it ends at space, `/`, `>`, `=`.
        let first = rest.chars().next().map_or(0, char::len_utf8);
        let n = rest[first..].find(|c: char| stop(c) || c == '=').map_or(rest.len(), |n| n + first);
        let key = rest[..n].to_ascii_lowercase();
        i += n;
        let after = &s[i..];
        let ws = after.len() - after.trim_start_matches(|c: char| c.is_ascii_whitespace()).len();
        let mut value = None;
        if after[ws..].starts_with('=') {
            i += ws + 1;
            let v = &s[i..];
            let ws = v.len() - v.trim_start_matches(|c: char| c.is_ascii_whitespace()).len();
            i += ws;
            let v = &s[i..];
            match v.chars().next() {
                None => return Token::Incomplete,
                Some(q @ ('"' | '\'')) => match v[1..].find(q) {
                    Some(e) => {
                        value = Some(decode(&v[1..1 + e]));
                        i += e + 2;
                    }
                    None => return Token::Incomplete,
                },
                Some(_) => {
                    let e = v.find(|c: char| c.is_ascii_whitespace() || c == '>').unwrap_or(v.len());
                    value = Some(decode(&v[..e]));
                    i += e;
                }
            }
        }
        attrs.push((key, value));
    }
}

/// An attribute value with the character references a browser would
/// resolve: the common named ones and every numeric one. Any other named
/// reference stays as written, and is written back escaped (text, not a
/// character), so the value checked is never less than the value used.
fn decode(v: &str) -> String {
    if !v.contains('&') {
        return v.to_string();
    }
    let mut out = String::new();
    let mut rest = v;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let (c, n) = reference(rest).unwrap_or(('&', 1));
        out.push(c);
        rest = &rest[n..];
    }
    out.push_str(rest);
    out
}

/// The character `&…;` stands for and its length, for the references
/// [`decode`] resolves.
fn reference(s: &str) -> Option<(char, usize)> {
    for (name, c) in [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&quot;", '"'), ("&apos;", '\'')] {
        if s.starts_with(name) {
            return Some((c, name.len()));
        }
    }
    let body = s.strip_prefix("&#")?;
    let (digits, radix, skip) = match body.strip_prefix(['x', 'X']) {
        Some(h) => (h, 16, 3),
        None => (body, 10, 2),
    };
    let n = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    if n == 0 {
        return None;
    }
    let code = u32::from_str_radix(&digits[..n.min(8)], radix).ok()?;
    let semi = usize::from(digits[n..].starts_with(';'));
    Some((char::from_u32(code).filter(|c| *c != '\0').unwrap_or('\u{fffd}'), skip + n + semi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(pieces: &[&str]) -> String {
        let mut c = Cleaner::default();
        let mut out: String = pieces.iter().map(|p| c.piece(p)).collect();
        out.push_str(&c.finish());
        out
    }

    #[test]
    fn handlers_scripts_frames_and_bad_urls_go() {
        assert_eq!(clean(&["<img src=\"x\" onerror=\"alert(1)\">"]), "<img src=\"x\">");
        assert_eq!(clean(&["<script>alert(1)</script>after"]), "after");
        assert_eq!(clean(&["<script>\n", "alert(1)\n", "</script>\n"]), "\n");
        assert_eq!(clean(&["<iframe src=\"https://evil.example\"></iframe>"]), "");
        assert_eq!(clean(&["<a href=\"javascript:alert(1)\">"]), "<a>");
        assert_eq!(clean(&["<a href=\"&#106;avascript:alert(1)\">"]), "<a>");
        assert_eq!(clean(&["<a href=\"java&#x09;script:alert(1)\">"]), "<a>");
        assert_eq!(clean(&["<a href=' JAVASCRIPT:alert(1)'>"]), "<a>");
        assert_eq!(clean(&["<a title=\"x>y\" onclick=x>"]), "<a title=\"x&gt;y\">");
        assert_eq!(clean(&["<p style=\"color:red\" ONCLICK=\"x()\">"]), "<p>");
        assert_eq!(clean(&["<svg><a xlink:href=\"javascript:x\">"]), "<a>");
        assert_eq!(clean(&["<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">"]), "");
        assert_eq!(clean(&["<input type=\"text\" value=\"x\"><form action=\"/x\">y</form>"]), "<input>y");
    }

    #[test]
    fn a_named_reference_in_a_url_is_checked_as_written() {
        // `&colon;` is not resolved here: the value is written back with
        // its `&` escaped, so a browser reads `javascript&colon;…`, a
        // relative URL, not a script.
        assert_eq!(clean(&["<a href=\"javascript&colon;alert(1)\">"]), "<a href=\"javascript&amp;colon;alert(1)\">");
    }

    #[test]
    fn a_tag_cut_by_a_line_end_is_cleaned_whole() {
        assert_eq!(clean(&["<img src=\"x\"\n", "  onerror=\"alert(1)\">\n"]), "<img src=\"x\">\n");
        assert_eq!(clean(&["<img src=\"x\" onerror=\"alert(1)"]), "");
    }

    #[test]
    fn text_comments_and_stray_angles_cannot_open_a_tag() {
        assert_eq!(clean(&["a < b > c"]), "a &lt; b &gt; c");
        assert_eq!(clean(&["<!-- <img src=x onerror=alert(1)> -->"]), "<!---->");
        assert_eq!(clean(&["<!--> <b>x</b>"]), "<!----> <b>x</b>");
        assert_eq!(clean(&["<!doctype html><?php x ?></1 x>"]), "<!----><!----><!---->");
        assert_eq!(clean(&["<!-- end of step -->"]), "<!-- end of step -->");
        assert_eq!(clean(&["&lt;script&gt; &amp; &copy;"]), "&lt;script&gt; &amp; &copy;");
    }

    #[test]
    fn harmless_markup_is_written_back_as_it_was() {
        for html in [
            "<details class=\"runbook-machinery\">\n",
            "<summary>The plan</summary>\n",
            "</details>\n",
            "<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>",
            "<div class=\"runbook-summary\" data-runbook-envs=\"devnet prod\" data-runbook-default=\"devnet\">",
            "<a href=\"https://example.com/a?b=1&amp;c=2\">doc</a>",
            "<a href=\"other.md#x\">",
            "<pre class=\"runbook-code\" data-runbook-env=\"prod\" hidden=\"\"><code class=\"language-bash\">echo &lt;b&gt;</code></pre>",
            "<span class=\"runbook-ph\" title=\"ns\">x</span><kbd>Ctrl</kbd><br>",
        ] {
            assert_eq!(clean(&[html]), html);
        }
    }
}

//! Where quoting cannot protect a substituted value (SPEC §2.3).
//!
//! `{{ v }}` renders as one shell word, but only outside shell quotes: inside
//! `"…"` bash still expands a `$(…)` in the value, and inside `'…'` or a
//! heredoc the quotes themselves become literal text. This scanner walks a
//! shell body with a small quote-context stack (command substitution opens a
//! fresh context even inside double quotes) and reports each `{{` that sits
//! inside a quoted string or a heredoc.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Double,
    Single,
    /// `$(` … `)`: a fresh word context, possibly inside double quotes.
    Subst,
    /// `$((` or `((` … `))`: arithmetic, where `<<` is a shift.
    Arith,
    /// `(` … `)` inside arithmetic.
    Paren,
}

/// A `{{` inside quotes: the 0-based line of the body and the quote kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotedTemplate {
    pub line: usize,
    pub quote: &'static str,
}

/// Where bash reads a spot of a shell body: what quoting a value written
/// there can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A word of a command (also inside `$(…)` and arithmetic): a quoted
    /// value stays one argument.
    Word,
    Double,
    Single,
    Heredoc,
    /// After an unquoted `#`: the rest of the line.
    Comment,
}

impl Place {
    /// How a message names it (`inside {}`).
    pub fn name(self) -> &'static str {
        match self {
            Place::Word => "a command",
            Place::Double => "double quotes",
            Place::Single => "single quotes",
            Place::Heredoc => "a heredoc",
            Place::Comment => "a comment",
        }
    }
}

/// A template tag's `{{`, or a value's mark ([`super::mark`]), where bash
/// reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spot {
    /// 0-based line of the body.
    pub line: usize,
    /// Byte offset in the body.
    pub at: usize,
    pub place: Place,
    /// A value's mark (else a `{{`).
    pub mark: bool,
}

/// Works on bytes: every character that matters is ASCII, so the scan is
/// linear in the body (a line of 100,000 tags included).
pub fn find(body: &str) -> Vec<QuotedTemplate> {
    let mut out: Vec<QuotedTemplate> = Vec::new();
    walk(body, true, |spot| {
        let quote = match spot.place {
            Place::Word | Place::Comment => return,
            p => p.name(),
        };
        // A heredoc's line is reported once.
        if spot.place == Place::Heredoc && out.last().is_some_and(|q| q.line == spot.line && q.quote == quote) {
            return;
        }
        if !spot.mark {
            out.push(QuotedTemplate { line: spot.line, quote });
        }
    });
    out
}

/// Walks a shell body as bash reads its quotes, heredocs and comments, with
/// a small quote-context stack (command substitution opens a fresh context
/// even inside double quotes), and calls `spot` for each `{{` and each
/// value mark, in order; `tags`: a template (else rendered text, whose `{{`
/// is text).
pub fn walk(body: &str, tags: bool, mut spot: impl FnMut(Spot)) {
    let open = super::mark::OPEN.to_string();
    let open = open.as_bytes();
    let mut stack = vec![Ctx::Top];
    let mut heredoc: Option<(String, bool)> = None; // (terminator, strip tabs)
    let mut pending_heredoc: Option<(String, bool)> = None;
    let mut start = 0;
    for (ln, raw) in body.split_inclusive('\n').enumerate() {
        let line_start = start;
        start += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let b = line.as_bytes();
        if let Some((term, strip)) = &heredoc {
            let l = if *strip { line.trim_start_matches('\t') } else { line };
            if l == term {
                heredoc = None;
            } else {
                rest_of_line(b, 0, (ln, line_start), (Place::Heredoc, tags), &mut spot);
            }
            continue;
        }
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let top = *stack.last().unwrap_or(&Ctx::Top);
            let place = match top {
                Ctx::Double => Place::Double,
                Ctx::Single => Place::Single,
                _ => Place::Word,
            };
            if b[i..].starts_with(open) {
                spot(Spot { line: ln, at: line_start + i, place, mark: true });
                i += open.len();
                continue;
            }
            if tags && c == b'{' && b.get(i + 1) == Some(&b'{') {
                spot(Spot { line: ln, at: line_start + i, place, mark: false });
                // Skip to the closing `}}` so that quotes inside the tag are not shell quotes.
                match memchr::memmem::find(&b[i + 2..], b"}}") {
                    Some(end) => {
                        i += 2 + end + 2;
                        continue;
                    }
                    None => break,
                }
            }
            match (top, c) {
                (Ctx::Single, b'\'') => {
                    stack.pop();
                }
                (Ctx::Single, _) => {}
                (_, b'\\') => i += 1,
                (Ctx::Double, b'"') => {
                    stack.pop();
                }
                (_, b'$') if b.get(i + 1) == Some(&b'(') && b.get(i + 2) == Some(&b'(') => {
                    stack.push(Ctx::Arith);
                    i += 2;
                }
                (_, b'$') if b.get(i + 1) == Some(&b'(') => {
                    stack.push(Ctx::Subst);
                    i += 1;
                }
                (Ctx::Subst | Ctx::Paren, b')') => {
                    stack.pop();
                }
                (Ctx::Arith, b')') if b.get(i + 1) == Some(&b')') => {
                    stack.pop();
                    i += 1;
                }
                (Ctx::Arith | Ctx::Paren, b'(') => stack.push(Ctx::Paren),
                (Ctx::Top | Ctx::Subst, b'(') if b.get(i + 1) == Some(&b'(') && command_start(b, i) => {
                    stack.push(Ctx::Arith);
                    i += 1;
                }
                (Ctx::Double, _) => {}
                (_, b'"') => stack.push(Ctx::Double),
                (_, b'\'') => stack.push(Ctx::Single),
                (Ctx::Arith | Ctx::Paren, _) => {}
                (_, b'#') if i == 0 || b[i - 1].is_ascii_whitespace() => {
                    rest_of_line(b, i, (ln, line_start), (Place::Comment, tags), &mut spot);
                    break;
                }
                // A here-string: one word, no body.
                (_, b'<') if b[i..].starts_with(b"<<<") => i += 2,
                (_, b'<') if b.get(i + 1) == Some(&b'<') => {
                    let mut j = i + 2;
                    let strip = b.get(j) == Some(&b'-');
                    if strip {
                        j += 1;
                    }
                    while b.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
                        j += 1;
                    }
                    let k = j + b[j..]
                        .iter()
                        .position(|c| c.is_ascii_whitespace() || matches!(c, b';' | b'|' | b'&' | b')'))
                        .unwrap_or(b.len() - j);
                    let term = line[j..k].trim_matches(|c| c == '\'' || c == '"').to_string();
                    if !term.is_empty() {
                        pending_heredoc = Some((term, strip));
                    }
                    i = k;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        // A line ending inside double quotes continues on the next line.
        if !matches!(stack.last(), Some(Ctx::Double | Ctx::Single)) {
            heredoc = pending_heredoc.take();
        }
        // An unclosed `$(` on a line of its own cannot grow the stack for ever.
        if stack.len() > 1024 {
            stack.truncate(1);
        }
    }
}

/// Each `{{` (with `tags`) and mark of line `b` from `from` on, all in one
/// place (the line's number and offset in `at`).
fn rest_of_line(b: &[u8], from: usize, at: (usize, usize), (place, tags): (Place, bool), spot: &mut impl FnMut(Spot)) {
    let open = super::mark::OPEN.to_string();
    let mut i = from;
    while i < b.len() {
        let tag = tags && b[i..].starts_with(b"{{");
        if tag || b[i..].starts_with(open.as_bytes()) {
            spot(Spot { line: at.0, at: at.1 + i, place, mark: !tag });
            i += 2;
        } else {
            i += 1;
        }
    }
}

/// Whether `((` at `i` opens an arithmetic command: it starts a command
/// (the line, or after an operator or a reserved word such as `if`), so
/// `<<` inside it is a shift, not a heredoc.
pub fn command_start(b: &[u8], i: usize) -> bool {
    let before = &b[..i];
    let end = before.iter().rposition(|c| !matches!(c, b' ' | b'\t')).map_or(0, |k| k + 1);
    let before = &before[..end];
    if before.is_empty() || matches!(before[end - 1], b';' | b'&' | b'|' | b'(' | b'\n' | b'{') {
        return true;
    }
    let word_start =
        before.iter().rposition(|c| c.is_ascii_whitespace() || matches!(c, b';' | b'&' | b'|')).map_or(0, |k| k + 1);
    matches!(&before[word_start..], b"if" | b"then" | b"else" | b"elif" | b"do" | b"while" | b"until" | b"!")
}

/// A `{{` inside a Python string literal (`"…"`, `'…'`, or tripled), the
/// 0-based line of the body, once per line: a value renders as a Python
/// string literal of its own, which ends the string around it (`"hello
/// "ns""`). Comments (`#` outside a string) are skipped.
pub fn find_python(body: &str) -> Vec<QuotedTemplate> {
    let b = body.as_bytes();
    let mut out: Vec<QuotedTemplate> = Vec::new();
    let mut line = 0;
    let mut i = 0;
    // The quote of the string open here, and whether it is tripled.
    let mut open: Option<(u8, bool)> = None;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            if let Some((_, false)) = open {
                open = None;
            }
            i += 1;
            continue;
        }
        if c == b'{' && b.get(i + 1) == Some(&b'{') {
            if open.is_some() && out.last().is_none_or(|q| q.line != line) {
                out.push(QuotedTemplate { line, quote: "a Python string" });
            }
            let Some(end) = memchr::memmem::find(&b[i + 2..], b"}}") else { break };
            line += memchr::memchr_iter(b'\n', &b[i + 2..i + 2 + end]).count();
            i += 2 + end + 2;
            continue;
        }
        let tripled = |q: u8| b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
        match open {
            None if c == b'#' => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
                continue;
            }
            None if c == b'"' || c == b'\'' => {
                let t = tripled(c);
                open = Some((c, t));
                i += if t { 3 } else { 1 };
                continue;
            }
            Some(_) if c == b'\\' => {
                if b.get(i + 1) == Some(&b'\n') {
                    line += 1;
                }
                i += 2;
                continue;
            }
            Some((q, t)) if c == q && (!t || tripled(q)) => {
                open = None;
                i += if t { 3 } else { 1 };
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The body with the text of its `{% raw %}…{% endraw %}` spans blanked
/// (newlines kept), or `None` when it has none.
pub fn without_raw(body: &str) -> Option<String> {
    if !body.contains("{% raw %}") {
        return None;
    }
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(k) = rest.find("{% raw %}") {
        out.push_str(&rest[..k]);
        let end = rest[k..].find("{% endraw %}").map_or(rest.len(), |e| k + e);
        out.extend(rest[k..end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
        rest = &rest[end..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(b: &str) -> Vec<usize> {
        find(b).into_iter().map(|q| q.line).collect()
    }

    #[test]
    fn python_strings_of_every_quote_but_not_comments_or_code() {
        let py = |b: &str| find_python(b).into_iter().map(|q| q.line).collect::<Vec<_>>();
        let body = concat!(
            "x = {{ a }}\n",                   // 0: code, a literal of its own
            "print(\"hi {{ a }} {{ b }}\")\n", // 1: once per line
            "# \"{{ a }}\" in a comment\n",    // 2
            "s = '''\n",                       // 3
            "{{ a }}\n",                       // 4: in a triple-quoted string
            "'''\n",                           // 5
            "t = 'it\\'s {{ a }}'\n",          // 6: an escaped quote does not close it
            "u = \"\" + {{ a }}\n",            // 7: an empty string before it
        );
        assert_eq!(py(body), [1, 4, 6]);
    }

    #[test]
    fn flags_double_and_single() {
        assert_eq!(lines("echo \"prepare {{ ns }}\"\necho '{{ x }}'\n"), [0, 1]);
    }

    #[test]
    fn allows_bare_and_concatenated() {
        assert!(lines("echo prepare {{ ns }}\necho \"prepare \"{{ ns }}\n").is_empty());
    }

    #[test]
    fn subst_inside_double_is_fresh() {
        assert!(lines("echo \"$(kubectl get pods -n {{ ns }})\"\n").is_empty());
    }

    #[test]
    fn heredoc() {
        assert_eq!(lines("cat <<EOF\nns={{ ns }}\nEOF\necho {{ ns }}\n"), [1]);
    }

    #[test]
    fn here_strings_shifts_and_heredocs() {
        // (body, lines flagged)
        let table: &[(&str, &[usize])] = &[
            ("grep -c foo <<< \"$HOME\"\nkubectl get pods -n {{ ns }}\n", &[]),
            ("grep -c foo <<<\"$HOME\"\necho {{ ns }}\n", &[]),
            ("cat <<< {{ pw }}\necho {{ ns }}\n", &[]),
            ("echo \"x $(cat <<< {{ pw }})\"\necho {{ ns }}\n", &[]),
            ("echo $(( 1 << 2 ))\necho {{ ns }}\n", &[]),
            ("echo $((1<<2)) $(( (1 << 2) + 1 ))\necho {{ ns }}\n", &[]),
            ("(( x = 1 << 2 ))\necho {{ ns }}\n", &[]),
            ("if (( x << 1 > 4 )); then echo {{ ns }}; fi\necho {{ ns }}\n", &[]),
            ("echo $(( {{ n }} << 1 )) \"{{ ns }}\"\n", &[0]),
            ("cat <<EOF\n{{ ns }}\nEOF\n", &[1]),
            ("cat <<-EOF\n\t{{ ns }}\n\tEOF\necho {{ ns }}\n", &[1]),
            ("cat <<'EOF'\n{{ ns }}\nEOF\n", &[1]),
            ("echo $(( 1 << 2 )); cat <<EOF\n{{ ns }}\nEOF\n", &[1]),
            ("cat <<< x; cat <<EOF\n{{ ns }}\nEOF\necho {{ ns }}\n", &[1]),
            ("x=1; ( (echo a) ) <<EOF\n{{ ns }}\nEOF\n", &[1]),
        ];
        for (body, want) in table {
            assert_eq!(lines(body), *want, "{body:?}");
        }
    }

    proptest::proptest! {
        /// Lines made of words, quoted strings, here-strings, shifts and
        /// substitutions, then a tag bare or quoted: the tag is flagged
        /// exactly when it is quoted, whatever came before.
        #[test]
        fn flags_a_tag_exactly_when_quoted(
            before in proptest::collection::vec(0usize..10, 0..6),
            quote in 0usize..4,
        ) {
            const PIECES: [&str; 10] = [
                "echo a", "\"b c\"", "'d e'", "<<< \"$HOME\"", "<<<x", "$(( 1 << 2 ))",
                "$(( (1<<2) + 3 ))", "\"$(cat <<< y)\"", "$(echo \"z\")", "; (( n <<= 1 ));",
            ];
            let mut body = String::from("grep -c x");
            for p in &before {
                body.push(' ');
                body.push_str(PIECES[*p]);
            }
            let tag = ["{{ v }}", "\"{{ v }}\"", "'{{ v }}'", "\"a $(echo {{ v }})\""][quote];
            body.push_str(&format!("\necho {tag}\necho {{{{ v }}}}\n"));
            let want: &[usize] = if quote == 1 || quote == 2 { &[1] } else { &[] };
            proptest::prop_assert_eq!(lines(&body), want, "{:?}", body);
        }
    }

    #[test]
    fn quotes_inside_tag_are_not_shell_quotes() {
        assert!(lines("echo {{ steps[\"a\"].stdout }} done\n").is_empty());
    }

    #[test]
    fn multibyte_text_around_tags() {
        assert_eq!(lines("echo \"é {{ x }} ü\" '{{ y }}' ß {{ z }}\n"), [0, 0]);
        assert!(lines("echo é{{ x }}ü\n").is_empty());
    }

    #[test]
    fn comment() {
        assert!(lines("# say \"{{ ns }}\n").is_empty());
    }
}

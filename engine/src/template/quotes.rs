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
}

/// A `{{` inside quotes: the 0-based line of the body and the quote kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotedTemplate {
    pub line: usize,
    pub quote: &'static str,
}

pub fn find(body: &str) -> Vec<QuotedTemplate> {
    let mut out = Vec::new();
    let mut stack = vec![Ctx::Top];
    let mut heredoc: Option<(String, bool)> = None; // (terminator, strip tabs)
    let mut pending_heredoc: Option<(String, bool)> = None;
    for (ln, line) in body.lines().enumerate() {
        if let Some((term, strip)) = &heredoc {
            let l = if *strip { line.trim_start_matches('\t') } else { line };
            if l == term {
                heredoc = None;
            } else if line.contains("{{") {
                out.push(QuotedTemplate { line: ln, quote: "a heredoc" });
            }
            continue;
        }
        let b: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let top = *stack.last().unwrap_or(&Ctx::Top);
            if c == '{' && b.get(i + 1) == Some(&'{') {
                match top {
                    Ctx::Double => out.push(QuotedTemplate { line: ln, quote: "double quotes" }),
                    Ctx::Single => out.push(QuotedTemplate { line: ln, quote: "single quotes" }),
                    _ => {}
                }
                // Skip to the closing `}}` so that quotes inside the tag are not shell quotes.
                match line[char_offset(line, i)..].find("}}") {
                    Some(end) => {
                        let byte = char_offset(line, i) + end + 2;
                        i = line[..byte].chars().count();
                        continue;
                    }
                    None => break,
                }
            }
            match (top, c) {
                (Ctx::Single, '\'') => {
                    stack.pop();
                }
                (Ctx::Single, _) => {}
                (_, '\\') => i += 1,
                (Ctx::Double, '"') => {
                    stack.pop();
                }
                (_, '$') if b.get(i + 1) == Some(&'(') => {
                    stack.push(Ctx::Subst);
                    i += 1;
                }
                (Ctx::Subst, ')') => {
                    stack.pop();
                }
                (Ctx::Double, _) => {}
                (_, '"') => stack.push(Ctx::Double),
                (_, '\'') => stack.push(Ctx::Single),
                (_, '#') if i == 0 || b[i - 1].is_whitespace() => break,
                (_, '<') if b.get(i + 1) == Some(&'<') && b.get(i + 2) != Some(&'<') => {
                    let mut j = i + 2;
                    let strip = b.get(j) == Some(&'-');
                    if strip {
                        j += 1;
                    }
                    while b.get(j).is_some_and(|c| c.is_whitespace()) {
                        j += 1;
                    }
                    let word: String = b[j..]
                        .iter()
                        .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '|' | '&' | ')'))
                        .collect();
                    let term = word.trim_matches(|c| c == '\'' || c == '"').to_string();
                    if !term.is_empty() {
                        pending_heredoc = Some((term, strip));
                    }
                    i = j + word.chars().count();
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
    }
    out
}

fn char_offset(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(b: &str) -> Vec<usize> {
        find(b).into_iter().map(|q| q.line).collect()
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
    fn quotes_inside_tag_are_not_shell_quotes() {
        assert!(lines("echo {{ steps[\"a\"].stdout }} done\n").is_empty());
    }

    #[test]
    fn comment() {
        assert!(lines("# say \"{{ ns }}\n").is_empty());
    }
}

//! Which line of the runbook a line of a rendered body came from: bash names
//! the line of the script it read (`/dev/fd/13: line 2: …`), and the
//! operator needs the line of the markdown.
//!
//! The answer is only given when it is certain: rendered line M is the
//! body's line M when no template construct can have added, dropped or
//! joined a line. A block tag (`{% if %}`, `{% for %}`), a comment (`{##
//! ##}`) or whitespace control (`{{-`, `-}}`) can; an expression `{{ … }}`
//! that opens and closes on one line renders to that line plus the line
//! breaks of its value, never fewer. So when every expression is on one
//! line and the rendered body has as many line breaks as the source, no
//! value held one, and every line is where it was.

/// Is each line of `rendered` the line of `source` (a step body) at the same index?
pub fn same_lines(source: &str, rendered: &str) -> bool {
    if source == rendered {
        return true;
    }
    if ["{%", "{##", "{{-", "-}}"].iter().any(|t| source.contains(t)) {
        return false;
    }
    source.lines().all(one_line_expressions) && source.matches('\n').count() == rendered.matches('\n').count()
}

/// Does every `{{` of `line` close on it, with no `}}` left outside an
/// expression (a string holding `}}` would end it early here: not sure)?
fn one_line_expressions(line: &str) -> bool {
    let mut rest = line;
    loop {
        let open = rest.find("{{");
        let close = rest.find("}}");
        match (open, close) {
            (None, None) => return true,
            (Some(o), Some(c)) if o < c => match rest[o + 2..].find("}}") {
                Some(end) => rest = &rest[o + 2 + end + 2..],
                None => return false,
            },
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_where_they_were_only_when_nothing_moved_them() {
        let src = "echo {{ ns }}\nkubctl get pods -n {{ ns }} {{ extra }}\n";
        assert!(same_lines(src, "echo prod\nkubctl get pods -n prod ''\n"));
        assert!(same_lines("echo hi\nkubctl\n", "echo hi\nkubctl\n"));
        // A value with a line break moves every line after it.
        assert!(!same_lines(src, "echo 'a\nb'\nkubctl get pods -n 'a\nb' ''\n"));
        // Block tags, comments and whitespace control can drop or join lines.
        for src in [
            "{% if x %}\necho a\n{% endif %}\nkubctl\n",
            "{## note\n##}\nkubctl\n",
            "echo {{- x }}\nkubctl\n",
            "echo {{ x -}}\nkubctl\n",
        ] {
            assert!(!same_lines(src, "echo a\nkubctl\n\n"), "{src}");
        }
        // An expression over two lines renders to fewer lines than it spans;
        // a value with a line break elsewhere could make the count even.
        assert!(!same_lines("echo {{ a ~\n b }}\necho {{ c }}\nkubctl\n", "echo ab\necho 'x\ny'\nkubctl\n"));
        // A `}}` that is not an expression's end: not sure.
        assert!(!same_lines("echo {{ \"}}\" ~ x }}\nkubctl\n", "echo '}}x'\nkubctl\n"));
        assert!(!same_lines("echo }} {{ x }}\nkubctl\n", "echo }} y\nkubctl\n"));
    }
}

//! Placing values in a shell body (SPEC §2.3). The formatter writes each
//! value as a mark ([`super::mark`]); reading the rendered body as bash
//! reads its quotes ([`super::quotes::walk`]), each mark becomes the value
//! as one shell word where bash reads words. Inside quotes or a heredoc no
//! quoting protects a value: there it is written as it is when nothing in
//! it can end the quotes or expand (the text the author meant), and
//! refused otherwise; in a comment a line break is refused. `check` reports
//! every `{{ }}` in those places; a value from an alert or `--set` must
//! never end them and run as a command.

use super::mark::{self, Misplaced};
use super::quotes::{self, Place};

/// `rendered` with each mark replaced by its value, or where one could not
/// be placed. `strict`: refuse as above (else, for a rendering with secrets
/// as placeholders, write such a value as a word).
pub fn place(rendered: &str, strict: bool) -> Result<String, Misplaced> {
    if !rendered.contains(mark::OPEN) {
        return Ok(rendered.to_string());
    }
    let mut spots = Vec::new();
    quotes::walk(rendered, false, |s| spots.push(s));
    let mut out = String::with_capacity(rendered.len());
    let mut last = 0;
    for s in spots {
        let inner = s.at + mark::OPEN.len_utf8();
        let close = rendered[inner..].find(mark::CLOSE).map_or(rendered.len(), |i| inner + i);
        let value = mark::take(&mut rendered[inner..close].chars());
        let misplaced = |why| Misplaced { line: s.line + 1, why };
        let word = crate::quote::shell_word(&value)
            .ok_or_else(|| misplaced("a value holds a NUL byte, which no shell argument can hold"))?;
        out.push_str(&rendered[last..s.at]);
        match unsafe_in(s.place, &value) {
            None if s.place == Place::Word || s.place == Place::Comment => out.push_str(&word),
            None => out.push_str(&value),
            Some(why) if strict => return Err(misplaced(why)),
            Some(_) => out.push_str(&word),
        }
        last = (close + mark::CLOSE.len_utf8()).min(rendered.len());
    }
    out.push_str(&rendered[last..]);
    Ok(out)
}

/// Why `value` cannot be written at `place`: what in it would end the
/// quotes, the heredoc or the comment, or expand.
fn unsafe_in(place: Place, value: &str) -> Option<&'static str> {
    let has = |cs: &[char]| value.contains(cs);
    match place {
        Place::Word => None,
        Place::Comment if has(&['\n', '\r']) => {
            Some("a value with a line break is inside a comment, where the break would end the comment")
        }
        Place::Comment => None,
        Place::Single if has(&['\'']) => Some("a value with a `'` is inside single quotes, where it would end them"),
        Place::Double if has(&['"', '$', '`', '\\']) => Some(
            "a value with a `\"`, `$`, backtick or backslash is inside double quotes, where quoting cannot protect it",
        ),
        Place::Heredoc if has(&['$', '`', '\\', '\n', '\r']) => Some(
            "a value with a line break, `$`, backtick or backslash is inside a heredoc, where quoting cannot protect it",
        ),
        Place::Single | Place::Double | Place::Heredoc => None,
    }
}

/// How to fix the body a value could not be placed in.
pub fn hint(m: &Misplaced) -> &'static str {
    if m.why.contains("comment") {
        "move the `{{ }}` out of the comment, or give a value without a line break"
    } else if m.why.contains("NUL") {
        "give a value without a NUL byte"
    } else {
        "move the `{{ }}` out of the quotes: `echo prepare {{ ns }}` or `echo \"prepare \"{{ ns }}` (for a heredoc, pass the value as an argument or a variable)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::mark::marked;

    fn placed(template: &str, values: &[&str]) -> Result<String, &'static str> {
        place(&marked(template, values), true).map_err(|m| m.why)
    }

    #[test]
    fn a_value_is_one_word_where_bash_reads_words() {
        assert_eq!(placed("echo {} done", &["x; rm -rf /"]).unwrap(), "echo 'x; rm -rf /' done");
        assert_eq!(placed("echo $(cat {})", &["a b"]).unwrap(), "echo $(cat 'a b')");
        assert_eq!(placed("echo \"$(cat {})\"", &["a b"]).unwrap(), "echo \"$(cat 'a b')\"");
        assert_eq!(placed("echo {} # about {}", &["a b", "c d"]).unwrap(), "echo 'a b' # about 'c d'");
    }

    #[test]
    fn a_value_that_cannot_end_its_quotes_is_written_as_it_is() {
        assert_eq!(
            placed("echo \"to {}\" '{}'\n# {}", &["web 1", "a \"b\" $c", "v2.1"]).unwrap(),
            "echo \"to web 1\" 'a \"b\" $c'\n# v2.1"
        );
        assert_eq!(
            placed("curl -d '{\"text\": \"{}\"}'", &["scaled to 4"]).unwrap(),
            "curl -d '{\"text\": \"scaled to 4\"}'"
        );
        assert_eq!(placed("echo \"[{}]\" '[{}]'", &["", ""]).unwrap(), "echo \"[]\" '[]'");
        assert_eq!(
            placed("cat <<EOF\nns={}\nEOF\necho {}", &["prod x", "a b"]).unwrap(),
            "cat <<EOF\nns=prod x\nEOF\necho 'a b'"
        );
    }

    #[test]
    fn a_value_that_could_end_its_quotes_or_comment_is_refused() {
        let refused = |t: &str, v: &str| placed(t, &[v]).unwrap_err();
        assert!(refused("echo \"hi {}\"", "\";touch pwned;\"").contains("double quotes"));
        assert!(refused("echo \"hi {}\"", "$(touch pwned)").contains("double quotes"));
        assert!(refused("echo 'hi {}'", "x' ; touch pwned '").contains("single quotes"));
        assert!(refused("cat <<EOF\n{}\nEOF", "x\nEOF\ntouch pwned #").contains("heredoc"));
        assert!(refused("cat <<EOF\n{}\nEOF", "$(touch pwned)").contains("heredoc"));
        assert!(refused("echo checking  # the pod {}", "x\ntouch pwned #").contains("comment"));
        assert!(refused("# about {}", "x\rtouch").contains("comment"));
        assert!(refused("echo {}", "a\0b").contains("NUL"));
    }

    #[test]
    fn not_strict_a_value_that_could_end_its_quotes_is_a_word() {
        assert_eq!(place(&marked("echo \"{}\"", &["$x"]), false).unwrap(), "echo \"'$x'\"");
    }

    #[test]
    fn text_outside_marks_is_kept_byte_for_byte() {
        let t = "é {{.Status}} {} '{{x}}' \"ü\"\n";
        assert_eq!(placed(t, &["a"]).unwrap(), "é {{.Status}} a '{{x}}' \"ü\"\n");
    }
}

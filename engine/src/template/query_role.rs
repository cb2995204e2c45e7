//! What a string literal of a `promql`/`logql` query is to the query
//! engine: plain text, or a language of its own in which a value's
//! characters could mean something. [`super::query`] escapes a value for
//! the string it lands in; this module says which language that string is,
//! from the query text before it (the operator, the function and argument,
//! the LogQL pipeline stage).

/// The language of a string literal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// A label value, a line filter's text, a label name.
    Text,
    /// An RE2 regex: after `=~`, `!~`, `|~`; LogQL's `| regexp "…"`; the
    /// 5th argument of `label_replace`.
    Regex,
    /// The 3rd argument of `label_replace`: Go's `Regexp.Expand` template,
    /// where `$1`, `${1}`, `$name` are references and `$$` is a `$`.
    Replacement,
    /// LogQL's `| pattern "…"` and the pattern line filters `|>`, `!>`:
    /// `<name>` and `<_>` capture, everything else is literal, and there is
    /// no escape.
    Pattern,
    /// LogQL's `| line_format "…"` and `| label_format dst="…"`: a Go
    /// `text/template`, where `{{` opens an action.
    GoTemplate,
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Tok {
    Word(String),
    Op(String),
    Punct(char),
    Str,
}

/// A parenthesised (or braced, bracketed) part of the query: the function
/// it calls, which of its arguments is being read, and the LogQL pipeline
/// stage in it.
#[derive(Default)]
struct Frame {
    func: Option<String>,
    arg: usize,
    stage: Option<String>,
}

/// Reads a query's characters outside strings and comments, as the
/// query's lexer and parser would, far enough to tell each string's role.
pub struct Reader {
    building: Option<Tok>,
    last: Vec<Tok>,
    frames: Vec<Frame>,
}

impl Default for Reader {
    fn default() -> Self {
        Self { building: None, last: Vec::new(), frames: vec![Frame::default()] }
    }
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || "_:.".contains(c)
}

fn op_char(c: char) -> bool {
    "=!~|<>".contains(c)
}

impl Reader {
    /// Reads `c`, a character of the query outside any string or comment.
    pub fn push(&mut self, c: char) {
        match (&mut self.building, c) {
            (Some(Tok::Word(w)), c) if word_char(c) => return w.push(c),
            (Some(Tok::Op(o)), c) if op_char(c) => return o.push(c),
            _ => self.flush(),
        }
        if word_char(c) {
            self.building = Some(Tok::Word(c.to_string()));
            return;
        }
        if op_char(c) {
            self.building = Some(Tok::Op(c.to_string()));
            return;
        }
        if c.is_whitespace() {
            return;
        }
        match c {
            '(' => {
                let func = match self.last.last() {
                    Some(Tok::Word(w)) => Some(w.clone()),
                    _ => None,
                };
                self.frames.push(Frame { func, ..Frame::default() });
            }
            '{' | '[' => self.frames.push(Frame::default()),
            ')' | '}' | ']' if self.frames.len() > 1 => {
                self.frames.pop();
            }
            ',' => self.top().arg += 1,
            _ => {}
        }
        self.done(Tok::Punct(c));
    }

    /// A string opens here: its role.
    pub fn string(&mut self) -> Role {
        self.flush();
        let op = match self.last.last() {
            Some(Tok::Op(o)) => o.as_str(),
            _ => "",
        };
        let top = self.frames.last().expect("the query's frame is never popped");
        let role = match (op, top.stage.as_deref(), top.func.as_deref(), top.arg) {
            ("=~" | "!~" | "|~", ..) => Role::Regex,
            ("|>" | "!>", ..) => Role::Pattern,
            (_, _, Some("label_replace"), 2) => Role::Replacement,
            (_, _, Some("label_replace"), 4) => Role::Regex,
            (_, Some("regexp"), ..) => Role::Regex,
            (_, Some("pattern"), ..) => Role::Pattern,
            (_, Some("line_format"), ..) => Role::GoTemplate,
            ("=", Some("label_format"), ..) => Role::GoTemplate,
            _ => Role::Text,
        };
        self.done(Tok::Str);
        role
    }

    fn top(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("the query's frame is never popped")
    }

    fn flush(&mut self) {
        if let Some(t) = self.building.take() {
            self.done(t);
        }
    }

    fn done(&mut self, t: Tok) {
        match (&t, self.last.last()) {
            // A LogQL pipeline stage begins at `|` (`|=`, `|~` … are line
            // filters: a stage of their own) and is named by its first word.
            (Tok::Op(o), _) if o.starts_with('|') => self.top().stage = None,
            (Tok::Word(w), Some(Tok::Op(o))) if o == "|" => self.top().stage = Some(w.clone()),
            _ => {}
        }
        if self.last.len() == 2 {
            self.last.remove(0);
        }
        self.last.push(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The role of each string of `query` (strings in `"` without escapes).
    fn roles(query: &str) -> Vec<Role> {
        let mut r = Reader::default();
        let mut out = Vec::new();
        let mut in_str = false;
        for c in query.chars() {
            match (in_str, c) {
                (false, '"') => {
                    out.push(r.string());
                    in_str = true;
                }
                (true, '"') => in_str = false,
                (false, c) => r.push(c),
                (true, _) => {}
            }
        }
        out
    }

    use Role::*;

    #[test]
    fn each_string_has_the_role_its_place_gives_it() {
        let cases: &[(&str, &[Role])] = &[
            (r#"up{pod="a",ns=~"b"}"#, &[Text, Regex]),
            (r#"label_replace(up{job="j"}, "dst", "$1", "src", "(.*)")"#, &[Text, Text, Replacement, Text, Regex]),
            (
                r#"sum by (a) (label_replace ( rate(x{a=~"r"}[5m]), "d", "r", "s", "e" ))"#,
                &[Regex, Text, Replacement, Text, Regex],
            ),
            (r#"label_join(up, "d", ",", "a", "b")"#, &[Text, Text, Text, Text]),
            (r#"{app="a"} |= "x" != "y" |~ "z" !~ "w""#, &[Text, Text, Text, Regex, Regex]),
            (r#"{app="a"} | regexp "(?P<x>.*)" | line="l""#, &[Text, Regex, Text]),
            (r#"{app="a"} |regexp "r" |= "t""#, &[Text, Regex, Text]),
            (r#"{app="a"} | pattern "<ip> <_>" |> "<_> x" !> "y""#, &[Text, Pattern, Pattern, Pattern]),
            (
                r#"{app="a"} | line_format "{{.x}}" | label_format a="{{.y}}", b=c, d="e""#,
                &[Text, GoTemplate, GoTemplate, GoTemplate],
            ),
            (r#"{app="a"} | json x="a.b" | status=~"5..""#, &[Text, Text, Regex]),
            (
                r#"label_replace(rate({a="b"} | regexp "r" [5m]), "d", "$1", "s", "x")"#,
                &[Text, Regex, Text, Replacement, Text, Regex],
            ),
        ];
        for (query, want) in cases {
            assert_eq!(roles(query), *want, "{query}");
        }
    }
}

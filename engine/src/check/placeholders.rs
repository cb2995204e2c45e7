//! `<placeholder>` tokens of plain runbooks (`kubectl logs <pod> -n <ns>`):
//! for a human, a value to fill in; for bash, a redirection or a syntax
//! error. `check` reports them (and checks the syntax with each replaced by
//! a neutral word, so that a real syntax error on the line is not hidden);
//! `import` turns them into variables.
//!
//! A placeholder is `<name>` with a name of letters, digits, `_`, `-` and
//! `.` starting with a letter, standing as a word or inside one: quoted
//! (`"<change-description>"`), with a prefix or a suffix (`pod/<pod>`,
//! `<service>-pdb`, `--rev=<REV>`). Not: heredocs (`<<EOF`), process
//! substitutions (`<(…)`), redirections from a file (`< file`), markup in a
//! word (`List<String>`), comment lines, and a quoted word that programs
//! print between angle brackets ([`PRINTED`]: kubectl's `<none>`) in the
//! argument of a pattern or a comparison (`grep -v '<none>'`, `awk '$4 !=
//! "<none>"'`, `[ "$ip" = "<pending>" ]`): there it is matched literally.
//! `grep "<pod>"` is still a placeholder: a pod to fill in.

/// One placeholder of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// 0-based line of the body.
    pub line: usize,
    /// Byte range of `<name>` in the body.
    pub range: std::ops::Range<usize>,
    /// The name as written (`pod-name`).
    pub name: String,
    pub ctx: Ctx,
}

/// What surrounds a placeholder in the shell body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// A shell word (also inside `$(…)` within double quotes).
    Word,
    /// Inside a quoted string opened at this offset by this quote.
    Quoted(usize, char),
    /// In a heredoc body: the body line of its command, and whether it expands.
    Heredoc { command_line: usize, expands: bool },
    /// In a comment: text for a human.
    Comment,
}

/// Characters a placeholder may follow or precede (besides a line's ends).
fn boundary_before(c: char) -> bool {
    c.is_whitespace() || "=:/\"',@([{-_.".contains(c)
}

fn boundary_after(c: char) -> bool {
    c.is_whitespace() || ";|&)/:,.\"'-_]}=@".contains(c)
}

/// Every placeholder of a shell body outside comments, in order.
pub fn find(body: &str) -> Vec<Placeholder> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (n, line) in body.split_inclusive('\n').enumerate() {
        find_in_line(line, n, offset, &mut out);
        offset += line.len();
    }
    let ctxs = contexts(body, &out);
    let mut keep = Vec::with_capacity(out.len());
    for (p, (c, command)) in out.iter_mut().zip(ctxs) {
        p.ctx = c;
        keep.push(match c {
            Ctx::Comment => false,
            Ctx::Quoted(..) => {
                !(PRINTED.contains(&p.name.as_str()) && FILTERS.contains(&command_name(&body[command..])))
            }
            _ => true,
        });
    }
    let mut keep = keep.into_iter();
    out.retain(|_| keep.next().unwrap_or(true));
    out
}

/// Words programs print between angle brackets: kubectl's `<none>`,
/// `<pending>` (an external IP), `<unknown>`, `<invalid>`, `<unset>`, Go's
/// `<nil>`.
const PRINTED: [&str; 6] = ["none", "pending", "unknown", "invalid", "unset", "nil"];

/// Commands whose quoted arguments are patterns or operands compared with
/// text another command printed.
const FILTERS: [&str; 18] = [
    "grep",
    "egrep",
    "fgrep",
    "zgrep",
    "rg",
    "ag",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "sed",
    "jq",
    "yq",
    "[",
    "[[",
    "test",
    "select-string",
    "findstr",
];

/// The name of the simple command starting `text` (its first word after
/// reserved words and assignments; a path's last part).
fn command_name(text: &str) -> &str {
    for w in text.split(|c: char| c.is_ascii_whitespace()).filter(|w| !w.is_empty()) {
        if matches!(w, "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!" | "{" | "time")
            || crate::check::shell::is_assignment(w)
        {
            continue;
        }
        return w.rsplit('/').next().unwrap_or(w);
    }
    ""
}

fn find_in_line(line: &str, n: usize, offset: usize, out: &mut Vec<Placeholder>) {
    let b = line.as_bytes();
    let mut i = 0;
    while let Some(k) = line[i..].find('<') {
        let at = i + k;
        i = at + 1;
        if at > 0 && !line[..at].chars().next_back().is_some_and(boundary_before) {
            continue;
        }
        let name_len =
            line[at + 1..].bytes().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')).count();
        if name_len == 0 || !b[at + 1].is_ascii_alphabetic() || b.get(at + 1 + name_len) != Some(&b'>') {
            continue;
        }
        let end = at + 2 + name_len;
        if !line[end..].chars().next().is_none_or(boundary_after) {
            continue;
        }
        let name = line[at + 1..at + 1 + name_len].trim_end_matches(['.', '-']).to_string();
        if name.len() != name_len {
            // `<name.>`: not a name.
            continue;
        }
        out.push(Placeholder { line: n, range: offset + at..offset + end, name, ctx: Ctx::Word });
        i = end;
    }
}

/// The context of each placeholder and the offset where its simple command
/// starts, walking the body's quotes, command substitutions, comments and
/// heredocs.
fn contexts(body: &str, found: &[Placeholder]) -> Vec<(Ctx, usize)> {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Top,
        Double(usize),
        Single(usize),
        Subst,
        /// `$((`/`((` … `))` and parentheses inside: `<<` is a shift.
        Arith,
        Paren,
    }
    let mut out = vec![(Ctx::Word, 0); found.len()];
    let mut stack = vec![S::Top];
    // Where the simple command in play starts, one per `$(…)` level.
    let mut starts = vec![0usize];
    let mut pending: Vec<(String, bool, bool)> = Vec::new(); // terminator, strip tabs, expands
    let mut heredoc: Option<(String, bool, bool, usize)> = None;
    let mut next = 0; // the next placeholder to place
    let b = body.as_bytes();
    let mut line = 0;
    let mut i = 0;
    let mut line_begin = 0;
    let mut heredoc_cmd_line = 0;
    while i <= b.len() {
        // A placeholder starting here takes the current context.
        while next < found.len() && found[next].range.start <= i {
            let ctx = match (&heredoc, stack.last().copied().unwrap_or(S::Top)) {
                (Some((_, _, expands, cmd)), _) => Ctx::Heredoc { command_line: *cmd, expands: *expands },
                (None, S::Double(o)) => Ctx::Quoted(o, '"'),
                (None, S::Single(o)) => Ctx::Quoted(o, '\''),
                _ => Ctx::Word,
            };
            out[next] = (ctx, starts.last().copied().unwrap_or(0));
            next += 1;
        }
        if i == b.len() {
            break;
        }
        if let Some((term, strip, _, _)) = &heredoc {
            // Whole lines: the terminator line ends it.
            let end = body[i..].find('\n').map_or(body.len(), |n| i + n);
            let l = body[i..end].trim_end_matches('\r');
            let l = if *strip { l.trim_start_matches('\t') } else { l };
            if l == term {
                heredoc = None;
            }
            // Place the placeholders of this line before moving on.
            while next < found.len() && found[next].range.start < end {
                if let Some((_, _, expands, cmd)) = &heredoc {
                    out[next].0 = Ctx::Heredoc { command_line: *cmd, expands: *expands };
                }
                next += 1;
            }
            i = end + 1;
            line += 1;
            line_begin = i;
            continue;
        }
        let c = b[i];
        let top = stack.last().copied().unwrap_or(S::Top);
        match (top, c) {
            (S::Single(_), b'\'') => {
                stack.pop();
            }
            (S::Single(_), _) => {}
            (_, b'\\') => i += 1,
            (S::Double(_), b'"') => {
                stack.pop();
            }
            (_, b'$') if b.get(i + 1) == Some(&b'(') && b.get(i + 2) == Some(&b'(') => {
                stack.push(S::Arith);
                i += 2;
            }
            (_, b'$') if b.get(i + 1) == Some(&b'(') => {
                stack.push(S::Subst);
                starts.push(i + 2);
                i += 1;
            }
            (S::Subst, b')') => {
                stack.pop();
                starts.pop();
            }
            (S::Paren, b')') => {
                stack.pop();
            }
            (S::Arith, b')') if b.get(i + 1) == Some(&b')') => {
                stack.pop();
                i += 1;
            }
            (S::Arith | S::Paren, b'(') => stack.push(S::Paren),
            (S::Top | S::Subst, b'(')
                if b.get(i + 1) == Some(&b'(') && crate::template::quotes::command_start(b, i) =>
            {
                stack.push(S::Arith);
                i += 1;
            }
            (S::Double(_), _) => {}
            (_, b'"') => stack.push(S::Double(i)),
            (_, b'\'') => stack.push(S::Single(i)),
            (S::Arith | S::Paren, b'\n') => {
                line += 1;
                line_begin = i + 1;
            }
            (S::Arith | S::Paren, _) => {}
            // A here-string: one word, no body.
            (_, b'<') if b[i..].starts_with(b"<<<") => i += 2,
            (_, b'#') if i == line_begin || b[i - 1].is_ascii_whitespace() => {
                // A comment: to the end of the line.
                let end = body[i..].find('\n').map_or(body.len(), |n| i + n);
                while next < found.len() && found[next].range.start < end {
                    out[next].0 = Ctx::Comment;
                    next += 1;
                }
                i = end;
                continue;
            }
            (_, b'<') if b.get(i + 1) == Some(&b'<') => {
                let mut j = i + 2;
                let strip = b.get(j) == Some(&b'-');
                if strip {
                    j += 1;
                }
                while b.get(j).is_some_and(|c| *c == b' ' || *c == b'\t') {
                    j += 1;
                }
                let start = j;
                while b
                    .get(j)
                    .is_some_and(|c| !c.is_ascii_whitespace() && !matches!(c, b';' | b'|' | b'&' | b')' | b'<' | b'>'))
                {
                    j += 1;
                }
                let word = &body[start..j];
                let quoted = word.contains(['\'', '"', '\\']);
                let term: String = word.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect();
                if !term.is_empty() {
                    pending.push((term, strip, !quoted));
                    heredoc_cmd_line = line;
                }
                i = j;
                continue;
            }
            (_, b';' | b'&' | b'|' | b'(' | b')') => {
                if let Some(s) = starts.last_mut() {
                    *s = i + 1;
                }
            }
            (_, b'\n') => {
                if let Some(s) = starts.last_mut() {
                    *s = i + 1;
                }
                line += 1;
                line_begin = i + 1;
                if !matches!(top, S::Double(_) | S::Single(_)) && !pending.is_empty() {
                    let (t, s, e) = pending.remove(0);
                    heredoc = Some((t, s, e, heredoc_cmd_line));
                    // Further heredocs of the same line follow this one: rare, read as text.
                    pending.clear();
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The word a placeholder stands for in syntax checks.
pub const WORD: &str = "RB_PLACEHOLDER";

/// The body with every placeholder replaced by [`WORD`], lines kept.
pub fn neutralize(body: &str) -> String {
    let found = find(body);
    if found.is_empty() {
        return body.to_string();
    }
    let mut out = String::with_capacity(body.len());
    let mut last = 0;
    for p in found {
        out.push_str(&body[last..p.range.start]);
        out.push_str(WORD);
        last = p.range.end;
    }
    out.push_str(&body[last..]);
    out
}

/// Names that mean the same thing in runbooks, and the one they become.
const SYNONYMS: [(&str, &str); 12] = [
    ("ns", "namespace"),
    ("namespace_name", "namespace"),
    ("k8s_namespace", "namespace"),
    ("svc", "service"),
    ("service_name", "service"),
    ("deploy", "deployment"),
    ("deployment_name", "deployment"),
    ("ctx", "context"),
    ("kube_context", "context"),
    ("env", "environment"),
    ("env_name", "environment"),
    ("environment_name", "environment"),
];

/// The variable a placeholder becomes: lowercase, `-` and `.` as `_`,
/// synonyms merged (`<ns>` and `<namespace>` → `namespace`), never a
/// template builtin (`env`, `steps`).
pub fn var_name(placeholder: &str) -> String {
    let v: String =
        placeholder.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let v = SYNONYMS.iter().find(|(s, _)| *s == v).map_or(v, |(_, to)| to.to_string());
    if crate::template::BUILTINS.contains(&v.as_str()) { format!("{v}_value") } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Vec<(usize, String)> {
        find(body).into_iter().map(|p| (p.line, p.name)).collect()
    }

    #[test]
    fn finds_words_quoted_and_affixed() {
        let n = |v: &[(usize, &str)]| v.iter().map(|(l, s)| (*l, s.to_string())).collect::<Vec<_>>();
        assert_eq!(names("kubectl logs <pod> -n <ns>\n"), n(&[(0, "pod"), (0, "ns")]));
        assert_eq!(names("git commit -m \"<change-description>\"\n"), n(&[(0, "change-description")]));
        assert_eq!(names("kubectl get pdb <service>-pdb\n"), n(&[(0, "service")]));
        assert_eq!(
            names("helm rollback r <REV> --x=<y>\nkubectl logs pod/<pod>.\n"),
            n(&[(0, "REV"), (0, "y"), (1, "pod")])
        );
        assert_eq!(names("echo <a>-<b>_<c>\n"), n(&[(0, "a"), (0, "b"), (0, "c")]));
    }

    #[test]
    fn leaves_shell_syntax_alone() {
        for body in [
            "cat <<EOF\nx\nEOF\n",
            "diff <(a) <(b)\n",
            "echo 2>&1\n",
            "sort < in > out\n",
            "echo List<String>\n",
            "# replace <pod>\n",
            "cat <<<x\n",
            "a <b\n",
            "echo <1x>\n",
        ] {
            assert!(find(body).is_empty(), "{body:?}: {:?}", find(body));
        }
    }

    #[test]
    fn here_strings_and_shifts_open_no_heredoc() {
        for body in ["grep -c x <<< \"$HOME\"\nkubectl logs <pod>\n", "echo $(( 1 << 2 ))\nkubectl logs <pod>\n"] {
            assert_eq!(find(body).iter().map(|p| (p.line, p.ctx)).collect::<Vec<_>>(), [(1, Ctx::Word)], "{body:?}");
        }
        let body = "cat <<EOF\n<pod>\nEOF\n";
        assert!(matches!(find(body)[0].ctx, Ctx::Heredoc { .. }));
    }

    #[test]
    fn quoted_patterns_and_comparisons_are_text() {
        // (body, placeholders found)
        let table: &[(&str, &[&str])] = &[
            ("kubectl get pods -n x -o wide | grep -v '<none>'\n", &[]),
            ("kubectl get pods | grep -v \"<none>\"\n", &[]),
            ("kubectl get pods | awk '$4 != \"<none>\"'\n", &[]),
            ("kubectl get svc | sed -n '/<pending>/p'\n", &[]),
            ("if [ \"$ip\" = \"<pending>\" ]; then echo; fi\n", &[]),
            ("x=$(kubectl get pods | LC_ALL=C /usr/bin/grep -c '<none>')\n", &[]),
            ("kubectl get pods | grep -v <none>\n", &["none"]),
            ("grep -q '<none>' f; git commit -m \"<msg>\"\n", &["msg"]),
            ("kubectl get pods | grep \"<pod> \"\n", &["pod"]),
            ("echo '<none>' | grep x\n", &["none"]),
            ("grep -r x \\\n  | xargs echo \"<y>\"\n", &["y"]),
        ];
        for (body, want) in table {
            assert_eq!(find(body).iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), *want, "{body:?}");
        }
    }

    #[test]
    fn neutralize_keeps_lines_and_text_around() {
        assert_eq!(
            neutralize("kubectl logs <pod> \"<x y>\"\necho \"<msg>\"-x\n"),
            "kubectl logs RB_PLACEHOLDER \"<x y>\"\necho \"RB_PLACEHOLDER\"-x\n"
        );
    }

    #[test]
    fn variable_names() {
        assert_eq!(var_name("pod-name"), "pod_name");
        assert_eq!(var_name("REV"), "rev");
        assert_eq!(var_name("ns"), "namespace");
        assert_eq!(var_name("namespace"), "namespace");
        assert_eq!(var_name("peer.id"), "peer_id");
        assert_eq!(var_name("env"), "environment");
        assert_eq!(var_name("steps"), "steps_value");
    }
}

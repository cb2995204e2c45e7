//! The commands of a shell block, as words: what the hazard lints and
//! `import` look at (`kubectl logs -f`, `redis-cli FLUSHALL`), so that a
//! pattern matches a command and its flags, never text in a quote, a
//! comment or a heredoc.
//!
//! A small tokenizer over bash, not a parser: it splits a body into simple
//! commands at newlines, `;`, `&`, `|`, `&&`, `||`, parentheses and the
//! reserved words of compound commands (`if … then`, `do … done`, `case`
//! patterns), unquotes words (`'a b'`, `"a $x"`, `\ `), drops assignments,
//! keeps the files a command's redirections write (`> out`, `2>> log`; not
//! `2>&1`), skips heredoc bodies, and reads the commands inside `$(…)`,
//! backticks and `<(…)` as commands of their own. What it cannot read (an
//! unclosed quote) ends the word at the end of the body; it never fails.

/// One simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// 0-based line of the body where the command starts.
    pub line: usize,
    /// Its words, unquoted; a substitution inside a word is kept as `$(…)`.
    /// Empty for a redirection alone (`> file` truncates it).
    pub words: Vec<String>,
    /// The files its redirections open for writing (`> out`, `>> log`,
    /// `2> err`, `<> f`), unquoted; `>&2` and `2>&1` write no file.
    pub writes: Vec<String>,
}

mod word;

/// Every simple command of a shell body, in order of appearance (a command
/// substitution's commands come before the command that holds them).
pub fn commands(body: &str) -> Vec<Command> {
    let mut lx = Lexer { c: body.chars().collect(), i: 0, line: 0, out: Vec::new(), heredocs: Vec::new(), depth: 0 };
    lx.list(None);
    lx.out
}

struct Lexer {
    c: Vec<char>,
    i: usize,
    line: usize,
    out: Vec<Command>,
    /// Heredoc terminators whose bodies start after the current line.
    heredocs: Vec<(String, bool)>,
    /// Nesting of substitutions: bounded, so that `$($($(…` cannot overflow the stack.
    depth: usize,
}

/// Words that open, continue or close compound commands: the command starts after them.
const RESERVED: [&str; 14] =
    ["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time", "esac"];

impl Lexer {
    fn peek(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let ch = self.peek(0)?;
        self.i += 1;
        if ch == '\n' {
            self.line += 1;
        }
        Some(ch)
    }

    /// Commands until `close` (`)` or a backtick) or the end.
    fn list(&mut self, close: Option<char>) {
        let mut words: Vec<String> = Vec::new();
        let mut writes: Vec<String> = Vec::new();
        let mut start = self.line;
        // `case … in`: words before `)` are a pattern, not a command.
        let mut case_depth = 0usize;
        let mut in_pattern = false;
        // Inside `[[ … ]]` and `(( … ))`, operators belong to the test.
        let mut test_close: Option<&str> = None;
        loop {
            self.blanks();
            let Some(ch) = self.peek(0) else { break };
            if test_close == Some("))") && ch == ')' && self.peek(1) == Some(')') {
                self.bump();
                self.bump();
                test_close = None;
                words.push("))".into());
                continue;
            }
            if Some(ch) == close && test_close.is_none() {
                self.bump();
                break;
            }
            let at_start = words.is_empty();
            match ch {
                '\n' => {
                    self.bump();
                    self.finish(&mut words, &mut writes, start);
                    self.heredoc_bodies();
                    start = self.line;
                }
                '#' => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                ';' | '&' | '|' if test_close.is_none() => {
                    self.bump();
                    let double = self.peek(0) == Some(ch) || (ch == '|' && self.peek(0) == Some('&'));
                    if double {
                        self.bump();
                    }
                    if ch == ';' && double && case_depth > 0 {
                        in_pattern = true;
                    }
                    self.finish(&mut words, &mut writes, start);
                    start = self.line;
                }
                ')' if in_pattern => {
                    self.bump();
                    words.clear();
                    in_pattern = false;
                    start = self.line;
                }
                '(' | ')' if test_close.is_none() => {
                    self.bump();
                    if ch == '(' && !at_start {
                        // `name() {`: a function definition.
                        if self.peek(0) == Some(')') {
                            self.bump();
                        }
                        words.clear();
                    } else if ch == '(' && self.peek(0) == Some('(') {
                        self.bump();
                        test_close = Some("))");
                        words.push("((".into());
                        continue;
                    }
                    self.finish(&mut words, &mut writes, start);
                    start = self.line;
                }
                '<' | '>' if test_close.is_none() => writes.extend(self.redirection()),
                c if c.is_ascii_digit()
                    && test_close.is_none()
                    && self.c[self.i..]
                        .iter()
                        .find(|d| !d.is_ascii_digit())
                        .is_some_and(|d| matches!(d, '<' | '>')) =>
                {
                    while self.peek(0).is_some_and(|d| d.is_ascii_digit()) {
                        self.bump();
                    }
                    writes.extend(self.redirection());
                }
                _ => {
                    let before = self.i;
                    let w = self.word(close);
                    if self.i == before {
                        // An operator inside `[[ … ]]` or `(( … ))`.
                        self.bump();
                        continue;
                    }
                    if let Some(end) = test_close
                        && w == end
                    {
                        test_close = None;
                        words.push(w);
                        continue;
                    }
                    if in_pattern {
                        if w == "esac" {
                            case_depth = case_depth.saturating_sub(1);
                            in_pattern = false;
                        }
                        continue;
                    }
                    if at_start && test_close.is_none() {
                        match w.as_str() {
                            "[[" => test_close = Some("]]"),
                            "case" => {
                                case_depth += 1;
                                self.skip_case_header();
                                in_pattern = true;
                                start = self.line;
                                continue;
                            }
                            "esac" => case_depth = case_depth.saturating_sub(1),
                            "for" | "select" => {
                                self.skip_for_header();
                                start = self.line;
                                continue;
                            }
                            _ => {}
                        }
                        if RESERVED.contains(&w.as_str()) {
                            start = self.line;
                            continue;
                        }
                        // Assignments before the command name.
                        if is_assignment(&w) {
                            continue;
                        }
                    }
                    if words.is_empty() {
                        start = self.line;
                    }
                    words.push(w);
                }
            }
        }
        self.finish(&mut words, &mut writes, start);
    }

    fn finish(&mut self, words: &mut Vec<String>, writes: &mut Vec<String>, line: usize) {
        if !words.is_empty() || !writes.is_empty() {
            self.out.push(Command { line, words: std::mem::take(words), writes: std::mem::take(writes) });
        }
    }

    /// Spaces, tabs and line continuations.
    fn blanks(&mut self) {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(' ' | '\t' | '\r'), _) => {
                    self.bump();
                }
                (Some('\\'), Some('\n')) => {
                    self.bump();
                    self.bump();
                }
                _ => return,
            }
        }
    }

    /// `case WORD in`: up to and including `in`.
    fn skip_case_header(&mut self) {
        loop {
            self.blanks();
            match self.peek(0) {
                None => return,
                Some('\n' | ';') => {
                    self.bump();
                }
                Some(_) => {
                    let before = self.i;
                    if self.word(None) == "in" {
                        return;
                    }
                    if self.i == before {
                        self.bump();
                    }
                }
            }
        }
    }

    /// `for x in a b` up to the `;` or newline before `do` (its words are no command).
    fn skip_for_header(&mut self) {
        loop {
            self.blanks();
            match self.peek(0) {
                None | Some('\n' | ';') => return,
                Some('(') => {
                    // `for ((i = 0; i < 3; i++))`
                    while let Some(c) = self.bump() {
                        if c == ')' && self.peek(0) == Some(')') {
                            self.bump();
                            break;
                        }
                    }
                }
                Some(_) => {
                    let before = self.i;
                    self.word(None);
                    if self.i == before {
                        self.bump();
                    }
                }
            }
        }
    }

    /// A redirection and its target: the file it writes, if it does. A
    /// heredoc's terminator is remembered, `<(…)`/`>(…)` read as commands.
    fn redirection(&mut self) -> Option<String> {
        let op = self.bump().unwrap_or('>');
        let mut writes = op == '>';
        let mut dup = false;
        match (op, self.peek(0)) {
            ('<' | '>', Some('(')) => {
                self.bump();
                self.nested(Some(')'));
                return None;
            }
            ('<', Some('<')) => {
                self.bump();
                if self.peek(0) == Some('<') {
                    self.bump();
                } else {
                    let strip = self.peek(0) == Some('-');
                    if strip {
                        self.bump();
                    }
                    self.blanks();
                    let term = self.word(None);
                    if !term.is_empty() {
                        self.heredocs.push((term, strip));
                    }
                    return None;
                }
            }
            (_, Some(second @ ('>' | '&' | '|'))) => {
                self.bump();
                // `<>`: opened for reading and writing.
                writes |= second == '>';
                dup = second == '&';
            }
            _ => {}
        }
        self.blanks();
        if self.peek(0).is_some_and(|c| !matches!(c, '\n' | ';' | '&' | '|' | ')' | '(' | '<' | '>')) {
            let target = self.word(None);
            // `>&2`, `2>&1`, `>&-`: a descriptor, not a file.
            let descriptor = dup && (target == "-" || target.chars().all(|c| c.is_ascii_digit()));
            if writes && !descriptor {
                return Some(target);
            }
        }
        None
    }

    /// Skip the bodies of the heredocs opened on the line just ended.
    fn heredoc_bodies(&mut self) {
        for (term, strip) in std::mem::take(&mut self.heredocs) {
            while self.peek(0).is_some() {
                let start = self.i;
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.bump();
                }
                let line: String = self.c[start..self.i].iter().collect();
                self.bump();
                let line = line.trim_end_matches('\r');
                let line = if strip { line.trim_start_matches('\t') } else { line };
                if line == term {
                    break;
                }
            }
        }
    }

    /// Commands of a substitution, read as commands of their own.
    fn nested(&mut self, close: Option<char>) {
        if self.depth >= 64 {
            // Absurd nesting: skip to the end rather than recurse further.
            self.i = self.c.len();
            return;
        }
        self.depth += 1;
        let heredocs = std::mem::take(&mut self.heredocs);
        self.list(close);
        self.heredocs = heredocs;
        self.depth -= 1;
    }
}

/// `NAME=value` (or `NAME+=value`, `a[1]=x`) before a command name.
pub fn is_assignment(w: &str) -> bool {
    let Some(eq) = w.find('=') else { return false };
    let name = w[..eq].trim_end_matches('+');
    let name = name.split('[').next().unwrap_or(name);
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests;

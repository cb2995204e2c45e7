//! Words of the tokenizer: quotes, escapes, `$(…)`, `${…}`, `$((…))`,
//! `$'…'` and backticks, unquoted into the word's value.

use super::Lexer;

impl Lexer {
    /// One word, unquoted. Stops at a blank or an operator; a backtick stops
    /// it when it closes the substitution being read (`close`).
    pub(super) fn word(&mut self, close: Option<char>) -> String {
        let mut w = String::new();
        while let Some(ch) = self.peek(0) {
            match ch {
                ' ' | '\t' | '\n' | '\r' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                    // `a=(1 2)`: an array assignment keeps its parentheses.
                    if ch == '(' && w.ends_with('=') {
                        self.bump();
                        w.push('(');
                        while let Some(c) = self.bump() {
                            w.push(c);
                            if c == ')' {
                                break;
                            }
                        }
                        continue;
                    }
                    break;
                }
                '`' if close == Some('`') => break,
                '`' => {
                    self.bump();
                    self.nested(Some('`'));
                    w.push_str("$(…)");
                }
                '\\' => {
                    self.bump();
                    match self.bump() {
                        Some('\n') | None => {}
                        Some(c) => w.push(c),
                    }
                }
                '\'' => {
                    self.bump();
                    while let Some(c) = self.bump() {
                        if c == '\'' {
                            break;
                        }
                        w.push(c);
                    }
                }
                '"' => {
                    self.bump();
                    self.double_quoted(&mut w);
                }
                '$' => self.dollar(&mut w, false),
                _ => {
                    self.bump();
                    w.push(ch);
                }
            }
        }
        w
    }

    fn double_quoted(&mut self, w: &mut String) {
        while let Some(c) = self.peek(0) {
            match c {
                '"' => {
                    self.bump();
                    return;
                }
                '\\' => {
                    self.bump();
                    match self.bump() {
                        Some(n @ ('"' | '\\' | '$' | '`')) => w.push(n),
                        Some('\n') | None => {}
                        Some(n) => {
                            w.push('\\');
                            w.push(n);
                        }
                    }
                }
                '`' => {
                    self.bump();
                    self.nested(Some('`'));
                    w.push_str("$(…)");
                }
                '$' => self.dollar(w, true),
                _ => {
                    self.bump();
                    w.push(c);
                }
            }
        }
    }

    /// `$(…)`, `$((…))`, `${…}`, `$'…'` or a plain `$`.
    fn dollar(&mut self, w: &mut String, quoted: bool) {
        self.bump();
        match self.peek(0) {
            Some('(') if self.peek(1) == Some('(') => {
                // Arithmetic: kept as text, up to the matching `))`.
                let mut depth = 0usize;
                w.push('$');
                while let Some(c) = self.bump() {
                    w.push(c);
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some('(') => {
                self.bump();
                self.nested(Some(')'));
                w.push_str("$(…)");
            }
            Some('{') => {
                w.push('$');
                let mut depth = 0usize;
                while let Some(c) = self.bump() {
                    w.push(c);
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some('\'') if !quoted => {
                self.bump();
                while let Some(c) = self.bump() {
                    match c {
                        '\'' => break,
                        '\\' => {
                            if let Some(n) = self.bump() {
                                w.push(n);
                            }
                        }
                        _ => w.push(c),
                    }
                }
            }
            _ => w.push('$'),
        }
    }
}

//! Tokens of the `expect` grammar, with their column.

use super::{ExpectError, Op};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Num(f64),
    Str(String),
    Op(Op),
    LParen,
    RParen,
}

pub(super) fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ExpectError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |column: usize, message: String| ExpectError { column, message };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '<' | '>' | '=' | '!' | '~' => {
                let (op, n) = match two.as_str() {
                    "<=" => (Op::Le, 2),
                    ">=" => (Op::Ge, 2),
                    "==" => (Op::Eq, 2),
                    "!=" => (Op::Ne, 2),
                    "!~" => (Op::NotMatch, 2),
                    "=~" => (Op::Match, 2),
                    _ if c == '<' => (Op::Lt, 1),
                    _ if c == '>' => (Op::Gt, 1),
                    _ if c == '~' => (Op::Match, 1),
                    _ if c == '=' => return Err(err(start, "`=` is not an operator: write `==`".into())),
                    _ => return Err(err(start, "`!` alone is not an operator: write `!=`, `!~` or `not`".into())),
                };
                i += n;
                Tok::Op(op)
            }
            '"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(err(start, "unterminated string: close it with `\"`".into())),
                        Some('\\') => {
                            match chars.get(i + 1) {
                                Some(&n @ ('"' | '\\')) => s.push(n),
                                Some(&n) => {
                                    s.push('\\');
                                    s.push(n);
                                }
                                None => return Err(err(start, "unterminated string: close it with `\"`".into())),
                            }
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                Tok::Str(s)
            }
            c if c.is_ascii_digit() || ((c == '-' || c == '+' || c == '.') && i + 1 < chars.len()) => {
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+') && (i == start || matches!(chars[i - 1], 'e' | 'E'))))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n: f64 = parse_number(&text).ok_or_else(|| err(start, format!("`{text}` is not a number")))?;
                Tok::Num(n)
            }
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.' || chars[i] == '-')
                {
                    i += 1;
                }
                let w: String = chars[start..i].iter().collect();
                match w.as_str() {
                    "NaN" | "Inf" => Tok::Num(parse_number(&w).expect("NaN/Inf parse")),
                    _ => Tok::Word(w),
                }
            }
            other => return Err(err(start, format!("unexpected `{other}`"))),
        };
        out.push((start, tok));
    }
    Ok(out)
}

/// A number as Prometheus writes it (`1e-06`, `NaN`, `+Inf`) or a person does.
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.chars().any(|c| c == '_') {
        return None;
    }
    t.parse::<f64>().ok()
}

//! The `expect` grammar of `promql`, `logql` and `http` steps.
//!
//! A shell step's `expect` is a regex over stdout; a query step's is a
//! condition over the *result*, because "the error rate is below 1%" is a
//! number comparison, not a text match. The grammar is small and hand-parsed
//! so that `check` can point at the exact column of a mistake
//! (docs/observability.md has the user-facing description):
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | atom
//! atom    := "(" expr ")" | "empty" | QUANT "(" expr ")" | SUBJECT OP LITERAL
//! QUANT   := "all" | "any" | "none"            (row conditions inside)
//! SUBJECT := value | count | min | max | sum | avg | status | body | line | labels.NAME
//! OP      := < <= > >= == != ~ !~              (~ and !~: regex match, strings only)
//! LITERAL := number (1, 0.01, 1e-6, NaN, +Inf) | "string" (\" and \\ escapes)
//! ```
//!
//! Inside `all(…)`/`any(…)`/`none(…)` the subjects are those of one row:
//! `value`, `line`, `labels.NAME`. Outside, `value` and `line` mean the only
//! row: a result with several rows is an error naming `all`/`any`, so that a
//! gate never silently looks at the first series of many.

mod eval;
mod lex;

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;

pub use eval::Verdict;
pub use lex::parse_number;
use lex::{Tok, lex};

/// A parse error at a 0-based character column of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ExpectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column + 1, self.message)
    }
}

/// Which kind of result an expression is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// promql, and logql metric queries: rows with values.
    Query,
    /// logql: rows are log lines (or values for a metric query).
    Logs,
    /// http: status and body.
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Match,
    NotMatch,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Match => "~",
            Op::NotMatch => "!~",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    Value,
    Line,
    Label(String),
    Count,
    Min,
    Max,
    Sum,
    Avg,
    Status,
    Body,
}

impl Subject {
    fn name(&self) -> String {
        match self {
            Subject::Value => "value".into(),
            Subject::Line => "line".into(),
            Subject::Label(l) => format!("labels.{l}"),
            Subject::Count => "count".into(),
            Subject::Min => "min".into(),
            Subject::Max => "max".into(),
            Subject::Sum => "sum".into(),
            Subject::Avg => "avg".into(),
            Subject::Status => "status".into(),
            Subject::Body => "body".into(),
        }
    }

    fn is_text(&self) -> bool {
        matches!(self, Subject::Line | Subject::Label(_) | Subject::Body)
    }

    fn per_row(&self) -> bool {
        matches!(self, Subject::Value | Subject::Line | Subject::Label(_))
    }
}

#[derive(Debug, Clone)]
pub enum Literal {
    Num(f64),
    Str(String),
    Re(Regex),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    All,
    Any,
    None,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Empty,
    Quant(Quant, Box<Expr>),
    Cmp(Subject, Op, Literal),
}

/// A parsed `expect`, with its source for messages.
#[derive(Debug, Clone)]
pub struct Expect {
    pub src: String,
    pub expr: Expr,
}

/// One row of a result: a series sample or a log line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub labels: BTreeMap<String, String>,
    pub value: Option<f64>,
    pub line: Option<String>,
}

/// What an `expect` is evaluated over.
#[derive(Debug, Clone, Default)]
pub struct Data {
    pub rows: Vec<Row>,
    pub status: Option<u16>,
    pub body: Option<String>,
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
    target: Target,
    src: &'a str,
}

const SUBJECTS: &str = "value, count, min, max, sum, avg, line, labels.NAME, status, body, empty";

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map(|(c, _)| *c).unwrap_or(self.end)
    }

    fn err<T>(&self, column: usize, message: impl Into<String>) -> Result<T, ExpectError> {
        Err(ExpectError { column, message: message.into() })
    }

    fn word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self, row: bool) -> Result<Expr, ExpectError> {
        let mut e = self.and(row)?;
        while self.word("or") {
            self.pos += 1;
            let r = self.and(row)?;
            e = Expr::Or(Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn and(&mut self, row: bool) -> Result<Expr, ExpectError> {
        let mut e = self.unary(row)?;
        while self.word("and") {
            self.pos += 1;
            let r = self.unary(row)?;
            e = Expr::And(Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn unary(&mut self, row: bool) -> Result<Expr, ExpectError> {
        if self.word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary(row)?)));
        }
        self.atom(row)
    }

    fn atom(&mut self, row: bool) -> Result<Expr, ExpectError> {
        let col = self.col();
        let Some(tok) = self.peek().cloned() else {
            return self.err(col, format!("expected a condition (one of {SUBJECTS}) but the expression ended"));
        };
        match tok {
            Tok::LParen => {
                self.pos += 1;
                let e = self.or(row)?;
                self.close(col)?;
                Ok(e)
            }
            Tok::Word(w) => match w.as_str() {
                "empty" if row => self.err(col, "`empty` is about the whole result: use it outside all/any/none"),
                "empty" => {
                    self.pos += 1;
                    Ok(Expr::Empty)
                }
                "all" | "any" | "none" => {
                    if row {
                        return self.err(col, format!("`{w}(…)` cannot be nested in another all/any/none"));
                    }
                    if self.target == Target::Http {
                        return self.err(col, format!("`{w}(…)` looks at rows; an http step has `status` and `body`"));
                    }
                    self.pos += 1;
                    if self.peek() != Some(&Tok::LParen) {
                        return self.err(self.col(), format!("expected `(` after `{w}`: `{w}(value > 0)`"));
                    }
                    let open = self.col();
                    self.pos += 1;
                    let inner = self.or(true)?;
                    self.close(open)?;
                    let q = match w.as_str() {
                        "all" => Quant::All,
                        "any" => Quant::Any,
                        _ => Quant::None,
                    };
                    Ok(Expr::Quant(q, Box::new(inner)))
                }
                _ => self.comparison(row),
            },
            Tok::RParen => self.err(col, "unexpected `)`"),
            Tok::Op(op) => self.err(col, format!("expected a subject ({SUBJECTS}) before `{}`", op.text())),
            Tok::Num(_) | Tok::Str(_) => {
                self.err(col, format!("expected a subject ({SUBJECTS}) first: `value < 0.01`, not `0.01 > value`"))
            }
        }
    }

    fn close(&mut self, open: usize) -> Result<(), ExpectError> {
        if self.peek() == Some(&Tok::RParen) {
            self.pos += 1;
            Ok(())
        } else {
            let what = match self.peek() {
                Some(Tok::Word(w)) => format!("`{w}`"),
                Some(_) => "more input".to_string(),
                None => "the end".to_string(),
            };
            self.err(self.col(), format!("expected `)` to close the `(` at column {}, found {what}", open + 1))
        }
    }

    fn comparison(&mut self, row: bool) -> Result<Expr, ExpectError> {
        let col = self.col();
        let Some(Tok::Word(w)) = self.peek().cloned() else { unreachable!("called on a word") };
        let subject = match w.as_str() {
            "value" => Subject::Value,
            "line" => Subject::Line,
            "count" => Subject::Count,
            "min" => Subject::Min,
            "max" => Subject::Max,
            "sum" => Subject::Sum,
            "avg" => Subject::Avg,
            "status" => Subject::Status,
            "body" => Subject::Body,
            l if l.starts_with("labels.") && l.len() > 7 => Subject::Label(l[7..].to_string()),
            _ => {
                let hint = crate::error::did_you_mean(
                    &w,
                    ["value", "count", "min", "max", "sum", "avg", "line", "status", "body", "empty", "all", "any"],
                )
                .map(|m| format!("did you mean `{m}`? "))
                .unwrap_or_default();
                return self.err(col, format!("unknown subject `{w}`: {hint}subjects are {SUBJECTS}"));
            }
        };
        self.allowed(&subject, row, col)?;
        self.pos += 1;
        let op_col = self.col();
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            _ => {
                return self.err(op_col, format!("expected an operator (< <= > >= == != ~ !~) after `{w}`"));
            }
        };
        self.pos += 1;
        let lit_col = self.col();
        let lit = match self.peek().cloned() {
            Some(Tok::Num(n)) => Literal::Num(n),
            Some(Tok::Str(s)) => Literal::Str(s),
            Some(Tok::Word(x)) => {
                return self.err(
                    lit_col,
                    format!("expected a number or a \"quoted string\" after `{}`, found `{x}`", op.text()),
                );
            }
            _ => return self.err(lit_col, format!("expected a number or a \"quoted string\" after `{}`", op.text())),
        };
        self.pos += 1;
        let lit = match (op, lit, subject.is_text()) {
            (Op::Match | Op::NotMatch, Literal::Str(s), true) => match Regex::new(&s) {
                Ok(re) => Literal::Re(re),
                Err(e) => {
                    let first = e.to_string().lines().last().unwrap_or_default().trim().to_string();
                    return self.err(lit_col, format!("not a valid regex: {first}"));
                }
            },
            (Op::Match | Op::NotMatch, _, _) => {
                return self.err(
                    op_col,
                    format!(
                        "`{}` matches a regex against text: use it with line, body or labels.NAME and a \"string\"",
                        op.text()
                    ),
                );
            }
            (_, Literal::Str(_), false) => {
                return self.err(lit_col, format!("`{w}` is a number: compare it with a number, not a string"));
            }
            (Op::Lt | Op::Le | Op::Gt | Op::Ge, _, true) => {
                return self.err(op_col, format!("`{w}` is text: use ==, !=, ~ or !~"));
            }
            (_, Literal::Num(_), true) => {
                return self.err(lit_col, format!("`{w}` is text: compare it with a \"quoted string\""));
            }
            (_, l, _) => l,
        };
        Ok(Expr::Cmp(subject, op, lit))
    }

    fn allowed(&self, s: &Subject, row: bool, col: usize) -> Result<(), ExpectError> {
        let name = s.name();
        if row && !s.per_row() {
            return self.err(
                col,
                format!("`{name}` is about the whole result: inside all/any/none use value, line or labels.NAME"),
            );
        }
        let ok = match self.target {
            Target::Http => matches!(s, Subject::Status | Subject::Body),
            Target::Query => !matches!(s, Subject::Status | Subject::Body | Subject::Line),
            Target::Logs => !matches!(s, Subject::Status | Subject::Body),
        };
        if !ok {
            let what = match self.target {
                Target::Http => "an http step has `status` and `body`",
                Target::Query => "a promql step has value, count, min, max, sum, avg, labels.NAME and empty",
                Target::Logs => "a logql step has count, empty, line, value and labels.NAME",
            };
            return self.err(col, format!("`{name}` does not apply here: {what}"));
        }
        let _ = self.src;
        Ok(())
    }
}

/// Parse an `expect` (already rendered) for a step of the given target.
pub fn parse(src: &str, target: Target) -> Result<Expect, ExpectError> {
    let toks = lex(src)?;
    let end = src.chars().count();
    let mut p = Parser { toks, pos: 0, end, target, src };
    let expr = p.or(false)?;
    if p.pos < p.toks.len() {
        let col = p.col();
        let msg = match p.peek() {
            Some(Tok::RParen) => "unexpected `)`".to_string(),
            Some(Tok::Word(w)) => format!("unexpected `{w}`: join conditions with `and` / `or`"),
            _ => "unexpected input after the condition: join conditions with `and` / `or`".to_string(),
        };
        return Err(ExpectError { column: col, message: msg });
    }
    Ok(Expect { src: src.to_string(), expr })
}

/// Check an `expect` that still holds `{{ … }}` templates (for `check`):
/// each template is replaced by a number padded to the same width, so that
/// columns stay those of the source.
pub fn check_template(src: &str, target: Target) -> Result<(), ExpectError> {
    let mut text = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(open) = rest.find("{{") {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            text.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let tmpl = &rest[open..open + close + 2];
        text.push('1');
        text.extend(std::iter::repeat_n(' ', tmpl.chars().count() - 1));
        rest = &rest[open + close + 2..];
    }
    text.push_str(rest);
    parse(&text, target).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(vals: &[f64]) -> Data {
        Data {
            rows: vals
                .iter()
                .enumerate()
                .map(|(i, v)| Row {
                    labels: [("instance".to_string(), format!("n{i}"))].into_iter().collect(),
                    value: Some(*v),
                    line: None,
                })
                .collect(),
            ..Data::default()
        }
    }

    fn ok(src: &str, d: &Data) -> bool {
        parse(src, Target::Query).unwrap().eval(d).unwrap().ok
    }

    #[test]
    fn grammar_examples() {
        assert!(ok("value < 0.01", &rows(&[0.004])));
        assert!(!ok("value < 0.01", &rows(&[0.02])));
        assert!(ok("value >= 3", &rows(&[3.0])));
        assert!(ok("all(value >= 3)", &rows(&[3.0, 5.0])));
        assert!(!ok("all(value >= 3)", &rows(&[3.0, 1.0])));
        assert!(ok("any(value > 0)", &rows(&[0.0, 1.0])));
        assert!(ok("none(value > 4)", &rows(&[0.0, 1.0])));
        assert!(ok("empty", &rows(&[])));
        assert!(ok("not empty", &rows(&[1.0])));
        assert!(ok("count == 2", &rows(&[1.0, 2.0])));
        assert!(ok("max < 1e-6 and min >= 0", &rows(&[1e-9, 0.0])));
        assert!(ok("empty or value < 1", &rows(&[])));
        assert!(ok("all(labels.instance ~ \"^n\" and value < 10)", &rows(&[1.0, 2.0])));
        assert!(ok("value == NaN or value != 1", &rows(&[2.0])));
    }

    #[test]
    fn all_of_nothing_fails() {
        let v = parse("all(value > 1)", Target::Query).unwrap().eval(&rows(&[])).unwrap();
        assert!(!v.ok && v.seen.contains("no rows"), "{v:?}");
    }

    #[test]
    fn bare_value_on_many_rows_is_an_error() {
        let e = parse("value < 1", Target::Query).unwrap().eval(&rows(&[1.0, 2.0])).unwrap_err();
        assert!(e.contains("2 rows") && e.contains("all("), "{e}");
        let e = parse("value < 1", Target::Query).unwrap().eval(&rows(&[])).unwrap_err();
        assert!(e.contains("no data"), "{e}");
    }

    #[test]
    fn http() {
        let d = Data { status: Some(200), body: Some("{\"ok\":true}".into()), ..Data::default() };
        let e = parse("status == 200 and body ~ \"\\\"ok\\\":\\s*true\"", Target::Http).unwrap();
        assert!(e.eval(&d).unwrap().ok);
        assert!(!parse("status < 300 and body !~ \"ok\"", Target::Http).unwrap().eval(&d).unwrap().ok);
    }

    #[test]
    fn errors_have_columns() {
        let e = |s: &str, t| parse(s, t).unwrap_err();
        assert_eq!(e("value < ", Target::Query).column, 8);
        assert_eq!(e("vaule < 1", Target::Query).column, 0);
        assert!(e("vaule < 1", Target::Query).message.contains("did you mean `value`"));
        assert_eq!(e("value = 1", Target::Query).column, 6);
        assert_eq!(e("all(value > 1", Target::Query).column, 13);
        assert!(e("status == 200", Target::Query).message.contains("does not apply"));
        assert!(e("value < 1", Target::Http).message.contains("does not apply"));
        assert!(e("all(count > 1)", Target::Query).message.contains("whole result"));
        assert!(e("body ~ \"(\"", Target::Http).message.contains("regex"));
        assert!(e("value < \"x\"", Target::Query).message.contains("number"));
        assert!(e("value < 1 value > 2", Target::Query).message.contains("and"));
        assert!(e("body ~ \"x", Target::Http).message.contains("unterminated"));
    }

    #[test]
    fn templates_keep_columns() {
        assert!(check_template("value < {{ 2 * block_interval_seconds }}", Target::Query).is_ok());
        let e = check_template("value << {{ x }}", Target::Query).unwrap_err();
        assert_eq!(e.column, 7);
    }

    #[test]
    fn logs() {
        let d = Data { rows: vec![Row { line: Some("ERROR boom".into()), ..Row::default() }], ..Data::default() };
        assert!(parse("count < 5", Target::Logs).unwrap().eval(&d).unwrap().ok);
        assert!(parse("any(line ~ \"ERROR\")", Target::Logs).unwrap().eval(&d).unwrap().ok);
        assert!(parse("value < 1", Target::Logs).unwrap().eval(&d).is_err());
    }
}

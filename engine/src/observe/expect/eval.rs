//! Evaluating an `expect` over a result.

use std::collections::BTreeMap;

use super::{Data, Expect, Expr, Literal, Op, Quant, Row, Subject};

/// The verdict of an `expect`, with what was seen (for the failure reason).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub ok: bool,
    pub seen: String,
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

fn labels_text(l: &BTreeMap<String, String>) -> String {
    if l.is_empty() {
        return "{}".into();
    }
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn cmp_num(a: f64, op: Op, b: f64) -> bool {
    match op {
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Match | Op::NotMatch => false,
    }
}

fn cmp_text(a: &str, op: Op, lit: &Literal) -> bool {
    match (op, lit) {
        (Op::Eq, Literal::Str(s)) => a == s,
        (Op::Ne, Literal::Str(s)) => a != s,
        (Op::Match, Literal::Re(r)) => r.is_match(a),
        (Op::NotMatch, Literal::Re(r)) => !r.is_match(a),
        _ => false,
    }
}

/// A short form of a text for messages.
fn clip(s: &str) -> String {
    let one = s.replace('\n', "⏎");
    if one.chars().count() > 80 { format!("{}…", one.chars().take(80).collect::<String>()) } else { one }
}

impl Expect {
    /// Evaluate over a result. `Err` when the expression cannot apply to
    /// this result (several rows for a bare `value`, no body, …).
    pub fn eval(&self, d: &Data) -> Result<Verdict, String> {
        let mut seen = Vec::new();
        let ok = eval(&self.expr, d, None, &mut seen)?;
        seen.dedup();
        Ok(Verdict { ok, seen: seen.join(", ") })
    }
}

fn row_value(row: &Row, s: &Subject) -> Result<Option<String>, String> {
    Ok(match s {
        Subject::Line => row.line.clone(),
        Subject::Label(l) => Some(row.labels.get(l).cloned().unwrap_or_default()),
        _ => None,
    })
}

fn eval(e: &Expr, d: &Data, row: Option<&Row>, seen: &mut Vec<String>) -> Result<bool, String> {
    Ok(match e {
        Expr::Or(a, b) => eval(a, d, row, seen)? || eval(b, d, row, seen)?,
        Expr::And(a, b) => eval(a, d, row, seen)? && eval(b, d, row, seen)?,
        Expr::Not(a) => !eval(a, d, row, seen)?,
        Expr::Empty => {
            seen.push(format!("{} row{}", d.rows.len(), if d.rows.len() == 1 { "" } else { "s" }));
            d.rows.is_empty()
        }
        Expr::Quant(q, inner) => {
            let mut failing = Vec::new();
            let mut passing = 0;
            for r in &d.rows {
                let mut sub = Vec::new();
                if eval(inner, d, Some(r), &mut sub)? {
                    passing += 1;
                } else {
                    failing.push(format!("{} {}", labels_text(&r.labels), sub.join(" ")));
                }
            }
            let n = d.rows.len();
            match q {
                Quant::All => {
                    if n == 0 {
                        seen.push("no rows (all() of nothing is false: no data is not a pass)".into());
                        return Ok(false);
                    }
                    if failing.is_empty() {
                        seen.push(format!("{n} of {n} rows match"));
                    } else {
                        let shown: Vec<String> = failing.iter().take(5).cloned().collect();
                        seen.push(format!("{} of {n} rows fail: {}", failing.len(), shown.join("; ")));
                    }
                    failing.is_empty()
                }
                Quant::Any => {
                    seen.push(format!("{passing} of {n} rows match"));
                    passing > 0
                }
                Quant::None => {
                    seen.push(format!("{passing} of {n} rows match"));
                    passing == 0
                }
            }
        }
        Expr::Cmp(s, op, lit) => {
            if s.is_text() {
                let text = match s {
                    Subject::Body => d.body.clone().ok_or("the result has no body")?,
                    _ => {
                        let r = match row {
                            Some(r) => r,
                            None => single(d, s)?,
                        };
                        row_value(r, s)?.ok_or_else(|| format!("`{}`: the result has no log lines", s.name()))?
                    }
                };
                seen.push(format!("{} = {:?}", s.name(), clip(&text)));
                return Ok(cmp_text(&text, *op, lit));
            }
            let Literal::Num(b) = lit else { return Err("internal: number compared with text".into()) };
            let a = match s {
                Subject::Value => {
                    let r = match row {
                        Some(r) => r,
                        None => single(d, s)?,
                    };
                    r.value.ok_or("`value`: the result holds log lines, not values; use count or line")?
                }
                Subject::Count => d.rows.len() as f64,
                Subject::Status => d.status.ok_or("the result has no HTTP status")? as f64,
                Subject::Min | Subject::Max | Subject::Sum | Subject::Avg => {
                    let vals: Vec<f64> = d.rows.iter().filter_map(|r| r.value).collect();
                    if vals.is_empty() {
                        return Err(format!("`{}` of an empty result (no data)", s.name()));
                    }
                    match s {
                        Subject::Min => vals.iter().copied().fold(f64::INFINITY, f64::min),
                        Subject::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        Subject::Sum => vals.iter().sum(),
                        _ => vals.iter().sum::<f64>() / vals.len() as f64,
                    }
                }
                _ => return Err(format!("internal: `{}` is not a number", s.name())),
            };
            seen.push(format!("{} = {}", s.name(), fmt_num(a)));
            cmp_num(a, *op, *b)
        }
    })
}

/// The only row, for a bare `value`/`line`.
fn single<'d>(d: &'d Data, s: &Subject) -> Result<&'d Row, String> {
    match d.rows.len() {
        1 => Ok(&d.rows[0]),
        0 => Err(format!("`{}`: the result is empty (no data)", s.name())),
        n => Err(format!(
            "`{}`: the result has {n} rows; say which: all({} …), any({} …), or aggregate in the query (sum, max)",
            s.name(),
            s.name(),
            s.name()
        )),
    }
}

//! `expect` in words: "passes when the p99 rpc request duration is below 0.5 s".
//!
//! A query step's `expect` is the observe grammar (`observe::expect`), parsed
//! here with the same parser the play uses, after its `{{ … }}` are rendered
//! for the env, and read back as a sentence. What it is a condition *on* comes
//! from the query: a quantile (`histogram_quantile(0.99, …)` is "the p99"),
//! the metric's name without its namespace and unit, and the unit
//! (`_seconds` → s). A shell step's `expect` is a regex over the output: a
//! plain word reads as "contains". Anything else returns `None` and the
//! caller shows the expression.

use super::html::{code, esc};
use crate::model::{Step, StepKind};
use crate::observe::expect::{self, Expr, Literal, Op, Quant, Subject, Target};

/// The `expect` of a step in words (escaped HTML, without "passes when"),
/// given its rendered text and the step's rendered body.
pub fn words(step: &Step, rendered: &str, body: &str) -> Option<String> {
    match step.kind.query() {
        Some(q) => {
            let target = q.target();
            let parsed = expect::parse(rendered, target).ok()?;
            let about = if step.kind == StepKind::Promql { About::of_promql(body) } else { About::default() };
            Some(Gate { target, about: &about }.expr(&parsed.expr, true))
        }
        None => Some(regex_words(rendered)),
    }
}

/// What a query's value is.
#[derive(Debug, Default, PartialEq)]
struct About {
    /// "the p95 head lag"; `None`: "the value".
    noun: Option<String>,
    /// " s"
    unit: &'static str,
}

/// Keywords and aggregation operators (which may come before their `(`).
const PROMQL_WORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
];

impl About {
    fn of_promql(q: &str) -> About {
        let metrics = metric_names(q);
        let [metric] = metrics.as_slice() else { return About::default() };
        let unit = if metric.ends_with("_seconds") { " s" } else { "" };
        let quantile = ["histogram_quantile(", "quantile_over_time("]
            .iter()
            .find_map(|f| q.find(f).map(|i| &q[i + f.len()..]))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.trim().parse::<f64>().ok());
        // Arithmetic between series (a ratio, a difference) is no longer the metric.
        if top_level_arithmetic(q) {
            return About::default();
        }
        let name = noun(metric);
        let noun = match quantile {
            Some(p) => format!("the p{} {name}", fmt_num((p * 100_000.0).round() / 1000.0)),
            None if q.contains("increase(") => {
                return About { noun: Some(format!("the increase of {name}")), unit: "" };
            }
            None if q.contains("rate(") => return About { noun: Some(format!("the rate of {name}")), unit: "" },
            None => format!("the {name}"),
        };
        About { noun: Some(noun), unit }
    }
}

/// `animica_rpc_request_duration_seconds_bucket` → "rpc request duration".
fn noun(metric: &str) -> String {
    let mut parts: Vec<&str> = metric.split('_').filter(|p| !p.is_empty()).collect();
    while parts.len() > 1
        && ["bucket", "sum", "count", "total", "seconds", "bytes", "ratio"].contains(parts.last().unwrap())
    {
        parts.pop();
    }
    if parts.len() > 2 {
        parts.remove(0); // the namespace
    }
    parts.join(" ")
}

/// The distinct metric names of a PromQL query (labels, functions, keywords
/// and durations left out), without `_bucket`/`_sum`/`_count`.
fn metric_names(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut braces = 0usize;
    let mut after_by = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '{' => braces += 1,
            '}' => braces = braces.saturating_sub(1),
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            '[' => {
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
            }
            c if (c.is_ascii_alphabetic() || c == '_' || c == ':') && braces == 0 => {
                let start = i;
                let in_number = i > 0 && (chars[i - 1].is_ascii_digit() || chars[i - 1] == '.');
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                let is_call = next == Some(&'(');
                let label_list = after_by;
                after_by = ["by", "without", "on", "ignoring", "group_left", "group_right"].contains(&word.as_str());
                if !is_call && !label_list && !in_number && !PROMQL_WORDS.contains(&word.to_lowercase().as_str()) {
                    let base = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| word.strip_suffix(s))
                        .unwrap_or(&word)
                        .to_string();
                    if !out.contains(&base) {
                        out.push(base);
                    }
                }
                continue;
            }
            '(' | ')' | ' ' | '\t' | '\n' => {}
            _ => after_by = false,
        }
        if c == ')' {
            after_by = false;
        }
        i += 1;
    }
    out
}

/// `a / b`, `a - b` outside any parentheses: the value is a computation.
fn top_level_arithmetic(q: &str) -> bool {
    let mut depth = 0i32;
    let mut prev = ' ';
    for c in q.chars() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            '/' | '-' | '+' | '*' | '%' | '^' if depth == 0 && prev.is_whitespace() => return true,
            _ => {}
        }
        prev = c;
    }
    false
}

/// Numbers as people write them: 0.5, 4, 1e-6.
pub fn fmt_num(n: f64) -> String {
    if n != 0.0 && n.abs() < 1e-3 {
        let s = format!("{n:e}");
        return s;
    }
    let s = format!("{n}");
    if s.len() > 12 { format!("{n:.6}").trim_end_matches('0').to_string() } else { s }
}

struct Gate<'a> {
    target: Target,
    about: &'a About,
}

impl Gate<'_> {
    fn expr(&self, e: &Expr, top: bool) -> String {
        match e {
            Expr::Or(a, b) => {
                let s = format!("{}, or {}", self.expr(a, false), self.expr(b, false));
                if top { s } else { format!("either {s}") }
            }
            Expr::And(a, b) => format!("{} and {}", self.expr(a, false), self.expr(b, false)),
            Expr::Not(x) => match &**x {
                Expr::Empty => "the result is not empty".into(),
                other => format!("not ({})", self.expr(other, true)),
            },
            Expr::Empty => "the result is empty".into(),
            Expr::Quant(q, inner) => self.quant(*q, inner),
            Expr::Cmp(s, op, lit) => {
                let subject = self.subject(s);
                format!("{subject} {}", self.op_lit(s, *op, lit))
            }
        }
    }

    fn rows(&self) -> &'static str {
        if self.target == Target::Logs { "line" } else { "series" }
    }

    fn quant(&self, q: Quant, inner: &Expr) -> String {
        let who = match q {
            Quant::All => format!("every {}", self.rows()),
            Quant::Any => format!("at least one {}", self.rows()),
            Quant::None => format!("no {}", self.rows()),
        };
        // `all(value > 0)`: "every series is above 0".
        if let Expr::Cmp(s @ (Subject::Value | Subject::Line), op, lit) = inner {
            let _ = s;
            return format!("{who} {}", self.op_lit(s, *op, lit));
        }
        let what = self.expr(inner, true);
        match q {
            Quant::None => format!("for no {}: {what}", self.rows()),
            _ => format!("for {who}: {what}"),
        }
    }

    fn subject(&self, s: &Subject) -> String {
        match s {
            Subject::Value => self.about.noun.clone().unwrap_or_else(|| "the value".into()),
            Subject::Line => "the line".into(),
            Subject::Label(l) => format!("label {}", code(l)),
            Subject::Count => format!("the number of {}", if self.target == Target::Logs { "lines" } else { "series" }),
            Subject::Min => "the lowest value".into(),
            Subject::Max => "the highest value".into(),
            Subject::Sum => "the sum".into(),
            Subject::Avg => "the average".into(),
            Subject::Status => "the HTTP status".into(),
            Subject::Body => "the body".into(),
        }
    }

    fn op_lit(&self, s: &Subject, op: Op, lit: &Literal) -> String {
        let unit = match s {
            Subject::Value | Subject::Min | Subject::Max | Subject::Avg => self.about.unit,
            _ => "",
        };
        let value = match lit {
            Literal::Num(n) => format!("{}{unit}", esc(&fmt_num(*n))),
            Literal::Str(t) => code(t),
            Literal::Re(re) => code(re.as_str()),
        };
        let plain_re = matches!(lit, Literal::Re(re) if is_plain(re.as_str()));
        match op {
            Op::Lt => format!("is below {value}"),
            Op::Le => format!("is at most {value}"),
            Op::Gt => format!("is above {value}"),
            Op::Ge => format!("is at least {value}"),
            Op::Eq => format!("is {value}"),
            Op::Ne => format!("is not {value}"),
            Op::Match if plain_re => format!("contains {value}"),
            Op::Match => format!("matches {value}"),
            Op::NotMatch if plain_re => format!("does not contain {value}"),
            Op::NotMatch => format!("does not match {value}"),
        }
    }
}

/// No regex syntax: the text itself.
fn is_plain(re: &str) -> bool {
    !re.chars().any(|c| r"\^$.|?*+()[]{}".contains(c))
}

/// A shell step's `expect` (a regex over its output, line by line).
fn regex_words(re: &str) -> String {
    let anchored_start = re.strip_prefix('^');
    let anchored_end = re.strip_suffix('$').filter(|r| !r.ends_with('\\'));
    match (anchored_start, anchored_end) {
        (Some(s), _) if s.strip_suffix('$').is_some_and(is_plain) => {
            format!("a line of the output is exactly {}", code(s.strip_suffix('$').unwrap_or(s)))
        }
        (Some(s), _) if is_plain(s) => format!("a line of the output starts with {}", code(s)),
        (_, Some(e)) if is_plain(e) => format!("a line of the output ends with {}", code(e)),
        _ if is_plain(re) => format!("the output contains {}", code(re)),
        _ => format!("the output matches the regex {}", code(re)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(lang: &str, expect: &str, body: &str) -> Step {
        let md = format!("```{lang} {{#s expect='{expect}'}}\n{body}\n```\n");
        let rb = crate::parse::parse_str(std::path::Path::new("t.md"), &md, String::new()).unwrap();
        rb.steps.into_iter().next().unwrap()
    }

    fn say(lang: &str, expect: &str, body: &str) -> String {
        let s = step(lang, expect, body);
        words(&s, expect, body).unwrap_or_else(|| "<fallback>".into())
    }

    #[test]
    fn promql_gates() {
        let q = "histogram_quantile(0.99, sum by (le) (rate(animica_rpc_request_duration_seconds_bucket[5m])))";
        assert_eq!(say("promql", "value < 0.5", q), "the p99 rpc request duration is below 0.5 s");
        let q = "max(quantile_over_time(0.95, animica_head_lag_seconds[15m]))";
        assert_eq!(say("promql", "value < 4", q), "the p95 head lag is below 4 s");
        let q =
            "sum(rate(animica_rpc_requests_total{status=~\"5..\"}[5m])) / sum(rate(animica_rpc_requests_total[5m]))";
        assert_eq!(say("promql", "value < 0.01", q), "the value is below 0.01");
        assert_eq!(
            say("promql", "empty or value == 0", "sum(increase(animica_beacon_rounds_missed_total[1h]))"),
            "the result is empty, or the increase of beacon rounds missed is 0"
        );
        assert_eq!(
            say("promql", "all(value < 1e-6)", "avg_over_time(animica_da_sampling_p_fail[30m])"),
            "every series is below 1e-6"
        );
        assert_eq!(
            say(
                "promql",
                "all(value > 0)",
                "max by (instance) (animica_head_height) - min_over_time(animica_head_height[5m])"
            ),
            "every series is above 0"
        );
        assert_eq!(say("promql", "value >= 3", "animica_p2p_peers"), "the p2p peers is at least 3");
    }

    #[test]
    fn http_and_logs() {
        assert_eq!(say("http", "status == 200", "GET x"), "the HTTP status is 200");
        assert_eq!(
            say("http", "status == 200 and body ~ \"ok|ready\"", "GET x"),
            "the HTTP status is 200 and the body matches <code>ok|ready</code>"
        );
        assert_eq!(
            say("http", "status == 200 and body ~ \"ok\"", "GET x"),
            "the HTTP status is 200 and the body contains <code>ok</code>"
        );
        assert_eq!(
            say("logql", "empty or max <= 5", "{app=\"x\"}"),
            "the result is empty, or the highest value is at most 5"
        );
        assert_eq!(say("logql", "none(line ~ \"panic\")", "{app=\"x\"}"), "no line contains <code>panic</code>");
        assert_eq!(say("logql", "count < 5", "{app=\"x\"}"), "the number of lines is below 5");
    }

    #[test]
    fn shell_regexes() {
        assert_eq!(regex_words("Enabled"), "the output contains <code>Enabled</code>");
        assert_eq!(regex_words("status: finalized"), "the output contains <code>status: finalized</code>");
        assert_eq!(regex_words("^prod-"), "a line of the output starts with <code>prod-</code>");
        assert_eq!(regex_words("^ok$"), "a line of the output is exactly <code>ok</code>");
        assert_eq!(regex_words("ready$"), "a line of the output ends with <code>ready</code>");
        assert_eq!(regex_words("a.*b"), "the output matches the regex <code>a.*b</code>");
    }

    #[test]
    fn a_broken_expect_falls_back() {
        let s = step("promql", "value < 1", "x");
        assert!(words(&s, "value <", "x").is_none());
    }

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(4.0), "4");
        assert_eq!(fmt_num(1e-6), "1e-6");
        assert_eq!(fmt_num(0.005), "0.005");
        assert_eq!(fmt_num(99.0), "99");
    }
}

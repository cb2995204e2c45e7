//! `when` conditions in words, for the responder reading the wiki.
//!
//! `env == 'devnet' and 'WorkExpired' in steps.miner-logs.stdout` is template
//! code; the page says "only on devnet, and only if the miner logs contain
//! `WorkExpired`" instead, and keeps the exact expression on hover. This is a
//! small parser for the shapes runbooks use (comparisons, `in`, `and`/`or`/
//! `not`, `is` tests, `| int`-style filters, list literals, `env`, variables
//! and `steps.<id>.stdout|status|exit`); anything else returns `None`, and the
//! caller shows the expression as written.

mod parse;

use super::html::{code, esc};
use crate::template::rewrite_step_refs;
use parse::{Cmp, Expr, Operand, parse};

/// What a variable is in the environment a page is rendered for.
/// `steps.miner-logs.stdout` → `steps["miner-logs"].stdout`, as the engine
/// reads it (the template's rewrite wants the ids sorted).
fn rewrite(expr: &str, step_ids: &[&str]) -> String {
    let mut ids = step_ids.to_vec();
    ids.sort_unstable();
    rewrite_step_refs(expr, &ids)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// A value (not secret).
    Value(String),
    /// Set by a step's `capture` during the play.
    Captured { step: String },
    /// Secret, or without a value here: named, never shown.
    Name,
}

/// The condition in words, as escaped HTML ("only on devnet, and only if …"),
/// or `None` when the expression is not one of the shapes this understands.
pub fn words(expr: &str, step_ids: &[&str], var: &dyn Fn(&str) -> Known) -> Option<String> {
    let e = parse(&rewrite(expr, step_ids))?;
    let w = Words { var };
    let mut conj = Vec::new();
    flatten_and(e, &mut conj);
    let (envs, rest): (Vec<Expr>, Vec<Expr>) = conj.into_iter().partition(|c| env_test(c).is_some());
    let mut out = Vec::new();
    if !envs.is_empty() {
        let parts: Vec<String> = envs.iter().filter_map(env_test).collect();
        out.push(format!("only {}", parts.join(" and ")));
    }
    if !rest.is_empty() {
        let alone = rest.len() == 1;
        let parts: Vec<String> = rest.iter().map(|c| w.clause(c, alone)).collect::<Option<_>>()?;
        out.push(format!("only if {}", parts.join(" and ")));
    }
    Some(out.join(", and "))
}

/// Does a top-level `and` part test the env and fail for `env`
/// (`env == 'devnet' and …` in prod)? Then the step is skipped there,
/// whatever the rest (decided during the play) says.
pub fn env_rules_out(expr: &str, step_ids: &[&str], env: &str) -> bool {
    let Some(e) = parse(&rewrite(expr, step_ids)) else { return false };
    let mut conj = Vec::new();
    flatten_and(e, &mut conj);
    let is_env = |o: &Operand| matches!(o.plain(), Operand::Path(p) if p.len() == 1 && p[0] == "env");
    conj.iter().any(|c| match c {
        Expr::Cmp(a, Cmp::Eq, Operand::Str(s)) if is_env(a) => s != env,
        Expr::Cmp(a, Cmp::Ne, Operand::Str(s)) if is_env(a) => s == env,
        Expr::In { needle, hay: Operand::List(items), negated } if is_env(needle) => {
            let listed = items.iter().any(|i| matches!(i, Operand::Str(s) if s == env));
            listed == *negated
        }
        _ => false,
    })
}

/// The `--set`s that make a top-level `and` part on a variable true
/// (`action == 'rollback'` → `action=rollback`, `peer_id != ''` →
/// `peer_id=…`), for a step skipped with the defaults. `is_var` tells a
/// variable from a capture. Parts of other shapes name nothing.
pub fn enabling_sets(expr: &str, step_ids: &[&str], is_var: &dyn Fn(&str) -> bool) -> Vec<String> {
    let Some(e) = parse(&rewrite(expr, step_ids)) else { return Vec::new() };
    let mut conj = Vec::new();
    flatten_and(e, &mut conj);
    let var = |o: &Operand| match o.plain() {
        Operand::Path(p) if p.len() == 1 && p[0] != "env" && is_var(&p[0]) => Some(p[0].clone()),
        _ => None,
    };
    let mut out: Vec<String> = Vec::new();
    for c in &conj {
        let set = match c {
            Expr::Cmp(a, Cmp::Eq, Operand::Str(v) | Operand::Num(v)) if !v.is_empty() => {
                var(a).map(|n| format!("{n}={v}"))
            }
            Expr::Cmp(a, Cmp::Ne, Operand::Str(v)) if v.is_empty() => var(a).map(|n| format!("{n}=…")),
            Expr::Truthy(a) => var(a).map(|n| format!("{n}=…")),
            Expr::In { needle, hay: Operand::List(items), negated: false } => match items.first() {
                Some(Operand::Str(v) | Operand::Num(v)) => var(needle).map(|n| format!("{n}={v}")),
                _ => None,
            },
            _ => None,
        };
        out.extend(set.filter(|s| !out.contains(s)));
    }
    out
}

fn flatten_and(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::And(xs) => xs.into_iter().for_each(|x| flatten_and(x, out)),
        x => out.push(x),
    }
}

/// `env == 'devnet'` → "on devnet"; `None` for anything else.
fn env_test(e: &Expr) -> Option<String> {
    let is_env = |o: &Operand| matches!(o.plain(), Operand::Path(p) if p.len() == 1 && p[0] == "env");
    match e {
        Expr::Cmp(a, op @ (Cmp::Eq | Cmp::Ne), Operand::Str(s)) if is_env(a) => {
            Some(if *op == Cmp::Eq { format!("on {}", esc(s)) } else { format!("outside {}", esc(s)) })
        }
        Expr::In { needle, hay: Operand::List(items), negated } if is_env(needle) => {
            let names: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Operand::Str(s) => Some(esc(s)),
                    _ => None,
                })
                .collect::<Option<_>>()?;
            let names = join_or(&names, if *negated { "and" } else { "or" });
            Some(if *negated { format!("outside {names}") } else { format!("on {names}") })
        }
        _ => None,
    }
}

fn join_or(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

struct Words<'a> {
    var: &'a dyn Fn(&str) -> Known,
}

impl Words<'_> {
    /// A condition as a clause ("the miner logs contain `X`"). `top`: directly
    /// under "only if", where an `or` needs no "either".
    fn clause(&self, e: &Expr, top: bool) -> Option<String> {
        Some(match e {
            Expr::And(xs) => xs.iter().map(|x| self.clause(x, false)).collect::<Option<Vec<_>>>()?.join(" and "),
            Expr::Or(xs) => {
                let parts = self.or_parts(xs)?;
                let compound = parts.len() > 2 || xs.iter().any(|x| matches!(x, Expr::And(_)));
                let joined = parts.join(if compound { ", or " } else { " or " });
                if top { joined } else { format!("either {joined}") }
            }
            Expr::Not(x) => match &**x {
                Expr::In { needle, hay, negated } => self.in_clause(needle, hay, !negated)?,
                Expr::Test { operand, test, negated } => self.test_clause(operand, test, !negated)?,
                Expr::Truthy(o) => format!("{} is not set", self.subject(o)?),
                other => format!("not ({})", self.clause(other, true)?),
            },
            Expr::Cmp(a, op, b) => self.cmp_clause(a, *op, b)?,
            Expr::In { needle, hay, negated } => self.in_clause(needle, hay, *negated)?,
            Expr::Test { operand, test, negated } => self.test_clause(operand, test, *negated)?,
            Expr::Truthy(o) => format!("{} is set", self.subject(o)?),
        })
    }

    /// The alternatives of an `or`; `'A' in x or 'B' in x` share one subject:
    /// "x contains `A` or `B`".
    fn or_parts(&self, xs: &[Expr]) -> Option<Vec<String>> {
        let same_hay = match xs.first() {
            Some(Expr::In { hay, negated: false, .. }) => {
                xs.iter().all(|x| matches!(x, Expr::In { hay: h, negated: false, needle: Operand::Str(_) } if h == hay))
            }
            _ => false,
        };
        if same_hay && xs.len() > 1 {
            let Some(Expr::In { hay, .. }) = xs.first() else { return None };
            let needles: Vec<String> = xs
                .iter()
                .filter_map(|x| if let Expr::In { needle, .. } = x { self.value(needle) } else { None })
                .collect();
            let (subject, plural) = self.hay_subject(hay)?;
            let verb = if plural { "contain" } else { "contains" };
            return Some(vec![format!("{subject} {verb} {}", join_or(&needles, "or"))]);
        }
        xs.iter().map(|x| self.clause(x, false)).collect()
    }

    fn cmp_clause(&self, a: &Operand, op: Cmp, b: &Operand) -> Option<String> {
        if let Some(env) = env_test(&Expr::Cmp(a.clone(), op, b.clone())) {
            // Inside a larger clause: "the env is devnet".
            return Some(env.replacen("on ", "the env is ", 1).replacen("outside ", "the env is not ", 1));
        }
        if let Operand::Path(p) = a.plain()
            && p.len() == 3
            && p[0] == "steps"
            && p[2] == "status"
            && let Operand::Str(s) = b
            && matches!(op, Cmp::Eq | Cmp::Ne)
        {
            let id = code(&p[1]);
            let did = match (s.as_str(), op == Cmp::Eq) {
                ("failed", true) => "failed".to_string(),
                ("failed", false) => "did not fail".to_string(),
                ("passed" | "ok", true) => "passed".to_string(),
                ("passed" | "ok", false) => "did not pass".to_string(),
                ("skipped", true) => "was skipped".to_string(),
                ("skipped", false) => "was not skipped".to_string(),
                (other, true) => format!("ended {}", code(other)),
                (other, false) => format!("did not end {}", code(other)),
            };
            return Some(format!("step {id} {did}"));
        }
        let subject = self.subject(a)?;
        if let Operand::Str(s) = b
            && s.is_empty()
        {
            return match op {
                Cmp::Eq => Some(format!("{subject} is empty")),
                Cmp::Ne => Some(format!("{subject} is set")),
                _ => None,
            };
        }
        let verb = match op {
            Cmp::Eq => "is",
            Cmp::Ne => "is not",
            Cmp::Lt => "is below",
            Cmp::Le => "is at most",
            Cmp::Gt => "is above",
            Cmp::Ge => "is at least",
        };
        Some(format!("{subject} {verb} {}", self.value(b)?))
    }

    fn in_clause(&self, needle: &Operand, hay: &Operand, negated: bool) -> Option<String> {
        if let Operand::List(items) = hay.plain() {
            let values: Vec<String> = items.iter().map(|i| self.value(i)).collect::<Option<_>>()?;
            let subject = self.subject(needle)?;
            return Some(if negated {
                format!("{subject} is none of {}", join_or(&values, "or"))
            } else {
                format!("{subject} is {}", join_or(&values, "or"))
            });
        }
        let (subject, plural) = self.hay_subject(hay)?;
        let verb = match (negated, plural) {
            (false, true) => "contain",
            (false, false) => "contains",
            (true, true) => "do not contain",
            (true, false) => "does not contain",
        };
        Some(format!("{subject} {verb} {}", self.value(needle)?))
    }

    fn test_clause(&self, o: &Operand, test: &str, negated: bool) -> Option<String> {
        let subject = self.subject(o)?;
        let not = if negated { " not" } else { "" };
        Some(match test {
            "defined" => format!("{subject} is{not} defined"),
            "none" => format!("{subject} is{not} empty"),
            "true" | "false" | "number" | "string" => format!("{subject} is{not} {test}"),
            _ => return None,
        })
    }

    /// What is searched: "the miner logs" (plural) for a `*-logs` step, else
    /// "the output of `id`", or a variable.
    fn hay_subject(&self, hay: &Operand) -> Option<(String, bool)> {
        if let Operand::Path(p) = hay.plain()
            && p.len() == 3
            && p[0] == "steps"
            && p[2] == "stdout"
        {
            let id = &p[1];
            if let Some(what) = id.strip_suffix("-logs").or_else(|| id.strip_suffix("-log")) {
                return Some((format!("the {} logs", esc(&what.replace(['-', '_', '.'], " "))), true));
            }
            return Some((format!("the output of {}", code(id)), false));
        }
        Some((self.subject(hay)?, false))
    }

    /// An operand as the subject of a clause: a variable by name (and where
    /// a captured one comes from), a step's result.
    fn subject(&self, o: &Operand) -> Option<String> {
        match o {
            Operand::Filtered(inner, f) => match f.as_str() {
                "int" | "float" | "trim" | "lower" | "upper" | "string" => self.subject(inner),
                "length" | "count" => Some(format!("the length of {}", self.subject(inner)?)),
                _ => None,
            },
            Operand::Path(p) if p.len() == 1 => Some(match (self.var)(&p[0]) {
                Known::Captured { step } => format!("{} (captured by {})", code(&p[0]), code(&step)),
                _ => code(&p[0]),
            }),
            Operand::Path(p) if p.len() == 3 && p[0] == "steps" => match p[2].as_str() {
                "stdout" => self.hay_subject(o).map(|(s, _)| s),
                "exit" => Some(format!("the exit code of {}", code(&p[1]))),
                "status" => Some(format!("the status of {}", code(&p[1]))),
                _ => None,
            },
            Operand::Path(p) => Some(code(&p.join("."))),
            Operand::Group(e) => Some(format!("({})", self.clause(e, true)?)),
            Operand::Str(_) | Operand::Num(_) | Operand::List(_) => self.value(o),
        }
    }

    /// An operand as a value compared against: a variable's value where the
    /// env has one.
    fn value(&self, o: &Operand) -> Option<String> {
        match o {
            Operand::Str(s) => Some(code(s)),
            Operand::Num(n) => Some(esc(n)),
            Operand::Filtered(inner, _) => self.value(inner),
            Operand::Path(p) if p.len() == 1 => Some(match (self.var)(&p[0]) {
                Known::Value(v) => code(&v),
                Known::Captured { step } => format!("{} (captured by {})", code(&p[0]), code(&step)),
                Known::Name => code(&p[0]),
            }),
            Operand::List(items) => {
                let v: Vec<String> = items.iter().map(|i| self.value(i)).collect::<Option<_>>()?;
                Some(join_or(&v, "or"))
            }
            _ => self.subject(o),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(expr: &str) -> String {
        let ids = ["miner-logs", "node-logs", "verify-vdf", "catchup", "miner-ready"];
        let var = |n: &str| match n {
            "miner_ready" => Known::Captured { step: "miner-ready".into() },
            "evictions_max" => Known::Value("1000".into()),
            "api_token" => Known::Name,
            _ => Known::Name,
        };
        words(expr, &ids, &var).unwrap_or_else(|| format!("<fallback: {expr}>"))
    }

    #[test]
    fn the_issue_examples() {
        assert_eq!(
            say("env == 'devnet' and 'WorkExpired' in steps.miner-logs.stdout"),
            "only on devnet, and only if the miner logs contain <code>WorkExpired</code>"
        );
        assert_eq!(say("env == 'devnet'"), "only on devnet");
        assert_eq!(say("env != 'devnet'"), "only outside devnet");
    }

    #[test]
    fn shapes() {
        assert_eq!(
            say("miner_ready | int < 1"),
            "only if <code>miner_ready</code> (captured by <code>miner-ready</code>) is below 1"
        );
        assert_eq!(
            say("evictions | int > evictions_max | int"),
            "only if <code>evictions</code> is above <code>1000</code>"
        );
        assert_eq!(say("steps.catchup.status == 'failed'"), "only if step <code>catchup</code> failed");
        assert_eq!(say("proof != ''"), "only if <code>proof</code> is set");
        assert_eq!(say("proof == ''"), "only if <code>proof</code> is empty");
        assert_eq!(
            say("via in ['kustomize', 'helm'] and action == 'up'"),
            "only if <code>via</code> is <code>kustomize</code> or <code>helm</code> and <code>action</code> is <code>up</code>"
        );
        assert_eq!(
            say(
                "env == 'devnet' and ('WorkExpired' in steps.miner-logs.stdout or 'VDF verify' in steps.node-logs.stdout)"
            ),
            "only on devnet, and only if the miner logs contain <code>WorkExpired</code> \
             or the node logs contain <code>VDF verify</code>"
        );
        assert_eq!(
            say("'STALE' in seed_report or 'FAIL' in seed_report or 'exited with' in seed_report"),
            "only if <code>seed_report</code> contains <code>STALE</code>, <code>FAIL</code> or <code>exited with</code>"
        );
        assert_eq!(
            say("'X' in steps.verify-vdf.stdout"),
            "only if the output of <code>verify-vdf</code> contains <code>X</code>"
        );
        assert_eq!(say("env in ['devnet', 'staging']"), "only on devnet or staging");
        assert_eq!(say("not 'x' in y"), "only if <code>y</code> does not contain <code>x</code>");
        assert_eq!(say("flag"), "only if <code>flag</code> is set");
        assert_eq!(say("x is defined"), "only if <code>x</code> is defined");
    }

    #[test]
    fn nested_or_of_ands() {
        assert_eq!(
            say("(env == 'devnet' and 'a' in x) or (y != 'finalized' and 'b' in z)"),
            "only if the env is devnet and <code>x</code> contains <code>a</code>, \
             or <code>y</code> is not <code>finalized</code> and <code>z</code> contains <code>b</code>"
        );
    }

    #[test]
    fn unknown_shapes_fall_back() {
        for e in ["x + 1 > 2", "range(3)", "'a' ~ b", "x(", "foo(1) == 2", "x is divisibleby(3)", "a[0] == 1"] {
            assert!(words(e, &[], &|_| Known::Name).is_none(), "{e}");
        }
    }

    #[test]
    fn env_parts_decide_before_the_play() {
        let ids = ["miner-logs"];
        let w = "env == 'devnet' and 'X' in steps.miner-logs.stdout";
        assert!(env_rules_out(w, &ids, "prod"));
        assert!(!env_rules_out(w, &ids, "devnet"));
        assert!(env_rules_out("env != 'devnet' and x", &ids, "devnet"));
        assert!(env_rules_out("env in ['a', 'b']", &ids, "c"));
        assert!(!env_rules_out("env == 'devnet' or x", &ids, "prod"), "an `or` is decided by the rest");
    }

    #[test]
    fn the_sets_that_enable_a_step() {
        let ids = ["miner-logs"];
        let var = |n: &str| n != "miner_ready";
        let sets = |w: &str| enabling_sets(w, &ids, &var);
        assert_eq!(sets("action == 'rollback'"), ["action=rollback"]);
        assert_eq!(sets("incident == 'p2p-abuse' and peer_id != ''"), ["incident=p2p-abuse", "peer_id=…"]);
        assert_eq!(sets("env == 'prod' and via in ['helm', 'kustomize']"), ["via=helm"]);
        assert!(sets("miner_ready | int < 1 or x").is_empty());
        assert!(sets("miner_ready == '0' and 'X' in steps.miner-logs.stdout").is_empty());
    }

    #[test]
    fn values_are_escaped() {
        let w = words("x == '<b>'", &[], &|_| Known::Name).unwrap();
        assert_eq!(w, "only if <code>x</code> is <code>&lt;b&gt;</code>");
    }

    proptest::proptest! {
        /// Any text: words or `None`, never a panic, and nothing it quotes
        /// becomes markup.
        #[test]
        fn any_expression_is_words_or_none(expr in "[ -~]{0,60}") {
            if let Some(w) = words(&expr, &["a-b"], &|_| Known::Value("<x>".into())) {
                let stripped = w.replace("<code>", "").replace("</code>", "");
                let stripped = stripped.split("<span").next().unwrap_or_default().to_string();
                proptest::prop_assert!(!stripped.contains('<'), "{}", w);
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let e = format!("{}x{}", "(".repeat(5000), ")".repeat(5000));
        assert!(words(&e, &[], &|_| Known::Name).is_none());
    }
}

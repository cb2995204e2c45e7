//! `needs` on branches that exclude each other: a step runs only when every
//! step it `needs` passed (SPEC §2, `runner/dispatch/step.rs`), and a step
//! whose `when` is false is skipped, so `verify {needs=restart,rollback}`
//! after `restart {when="action == 'restart'"}` and `rollback
//! {when="action == 'rollback'"}` is skipped in every play.
//!
//! Sound, never a guess: a `when` is read only when it is made of `and`,
//! `or`, `not`, parentheses, `VAR == LITERAL`, `VAR != LITERAL` and bare
//! `VAR`, where VAR is a variable fixed for the play (no step captures it;
//! not `steps`); any other `when` is a condition that may be anything. A
//! step is reported when the `when` of itself and of the steps it needs
//! (and of theirs, and so on) cannot all be true for any values, while
//! each of these alone can: the step where the branches meet, not those
//! after it. Literals of different kinds (`1`, `'1'`, `true`) are never
//! taken to differ: minijinja may compare them equal.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Diagnostic;
use crate::model::{BUILTINS, Runbook};
use crate::plan::{Dag, EdgeKind};

/// A literal of a `when`.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
}

impl Lit {
    /// Equal: `Some` only when both are of one kind.
    fn equals(&self, o: &Lit) -> Option<bool> {
        match (self, o) {
            (Lit::Str(a), Lit::Str(b)) => Some(a == b),
            (Lit::Int(a), Lit::Int(b)) => Some(a == b),
            (Lit::Bool(a), Lit::Bool(b)) => Some(a == b),
            (Lit::None, Lit::None) => Some(true),
            _ => None,
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Lit::Str(s) => !s.is_empty(),
            Lit::Int(i) => *i != 0,
            Lit::Bool(b) => *b,
            Lit::None => false,
        }
    }
}

/// A `when` as far as it is read.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    /// Anything: a condition not read.
    Free,
    Const(bool),
    Truthy(String),
    Eq(String, Lit),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Lit(Lit),
    Eq,
    Ne,
    Open,
    Close,
}

/// The tokens of an expression, `None` at anything this lint does not read.
fn tokens(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' | b')' => {
                out.push(if c == b'(' { Tok::Open } else { Tok::Close });
                i += 1;
            }
            b'=' | b'!' if b.get(i + 1) == Some(&b'=') => {
                out.push(if c == b'=' { Tok::Eq } else { Tok::Ne });
                i += 2;
            }
            b'\'' | b'"' => {
                let end = s[i + 1..].find(c as char)? + i + 1;
                let text = &s[i + 1..end];
                // An escape may mean anything minijinja makes of it.
                if text.contains('\\') {
                    return None;
                }
                out.push(Tok::Lit(Lit::Str(text.to_string())));
                i = end + 1;
            }
            b'0'..=b'9' => {
                let end = b[i..].iter().position(|c| !c.is_ascii_alphanumeric() && *c != b'_' && *c != b'.');
                let end = end.map_or(b.len(), |e| i + e);
                let n: i64 = s[i..end].parse().ok()?;
                out.push(Tok::Lit(Lit::Int(n)));
                i = end;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = b[i..].iter().position(|c| !c.is_ascii_alphanumeric() && *c != b'_');
                let end = end.map_or(b.len(), |e| i + e);
                let w = &s[i..end];
                out.push(match w {
                    "true" | "True" => Tok::Lit(Lit::Bool(true)),
                    "false" | "False" => Tok::Lit(Lit::Bool(false)),
                    "none" | "None" => Tok::Lit(Lit::None),
                    _ => Tok::Word(w.to_string()),
                });
                i = end;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Recursive descent over [`Tok`]s: `or` < `and` < `not` < comparison, as
/// in minijinja (`not a == b` is `not (a == b)`).
struct Reader<'a> {
    toks: &'a [Tok],
    at: usize,
    fixed: &'a dyn Fn(&str) -> bool,
}

impl Reader<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn word(&mut self, w: &str) -> bool {
        let hit = matches!(self.peek(), Some(Tok::Word(x)) if x == w);
        self.at += usize::from(hit);
        hit
    }

    fn or(&mut self) -> Option<Cond> {
        let mut c = self.and()?;
        while self.word("or") {
            c = Cond::Or(Box::new(c), Box::new(self.and()?));
        }
        Some(c)
    }

    fn and(&mut self) -> Option<Cond> {
        let mut c = self.not()?;
        while self.word("and") {
            c = Cond::And(Box::new(c), Box::new(self.not()?));
        }
        Some(c)
    }

    fn not(&mut self) -> Option<Cond> {
        if self.word("not") {
            return Some(Cond::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Option<Cond> {
        let left = self.operand()?;
        let negate = match self.peek() {
            Some(Tok::Eq) => false,
            Some(Tok::Ne) => true,
            _ => {
                return match left {
                    Operand::Var(v) => Some(Cond::Truthy(v)),
                    Operand::Lit(l) => Some(Cond::Const(l.truthy())),
                    Operand::Group(c) => Some(c),
                };
            }
        };
        self.at += 1;
        let right = self.operand()?;
        let eq = match (left, right) {
            (Operand::Var(v), Operand::Lit(l)) | (Operand::Lit(l), Operand::Var(v)) => Cond::Eq(v, l),
            (Operand::Lit(a), Operand::Lit(b)) => match a.equals(&b) {
                Some(e) => Cond::Const(e),
                None => Cond::Free,
            },
            _ => Cond::Free,
        };
        // `a == b == c` chains in minijinja: not read.
        if matches!(self.peek(), Some(Tok::Eq | Tok::Ne)) {
            return None;
        }
        Some(if negate { Cond::Not(Box::new(eq)) } else { eq })
    }

    fn operand(&mut self) -> Option<Operand> {
        let t = self.peek()?.clone();
        self.at += 1;
        match t {
            Tok::Lit(l) => Some(Operand::Lit(l)),
            Tok::Word(w) if matches!(w.as_str(), "and" | "or" | "not" | "is" | "in" | "if" | "else") => None,
            // A name not fixed for the play: its `==` may be anything.
            Tok::Word(w) if !(self.fixed)(&w) => Some(Operand::Group(Cond::Free)),
            Tok::Word(w) => Some(Operand::Var(w)),
            Tok::Open => {
                let c = self.or()?;
                (self.peek() == Some(&Tok::Close)).then(|| self.at += 1)?;
                Some(Operand::Group(c))
            }
            _ => None,
        }
    }
}

enum Operand {
    Var(String),
    Lit(Lit),
    Group(Cond),
}

/// What this lint reads of a `when`: [`Cond::Free`] unless all of it is read.
fn read(expr: &str, fixed: &dyn Fn(&str) -> bool) -> Cond {
    let Some(toks) = tokens(expr) else { return Cond::Free };
    let mut r = Reader { toks: &toks, at: 0, fixed };
    match r.or() {
        Some(c) if r.at == toks.len() => c,
        _ => Cond::Free,
    }
}

/// Three-valued truth: `None` is "either".
type Tv = Option<bool>;

/// A value a variable may hold, as far as the conditions can tell: one of
/// their literals, or something equal to none of them, true or false.
#[derive(Clone)]
enum Val<'l> {
    Is(&'l Lit),
    Other(bool),
}

fn eval(c: &Cond, at: &BTreeMap<&str, Val>) -> Tv {
    match c {
        Cond::Free => None,
        Cond::Const(b) => Some(*b),
        Cond::Truthy(v) => match at.get(v.as_str()) {
            Some(Val::Is(l)) => Some(l.truthy()),
            Some(Val::Other(t)) => Some(*t),
            None => None,
        },
        Cond::Eq(v, lit) => match at.get(v.as_str()) {
            Some(Val::Is(l)) => l.equals(lit),
            Some(Val::Other(_)) => Some(false),
            None => None,
        },
        Cond::Not(c) => eval(c, at).map(|b| !b),
        Cond::And(a, b) => match (eval(a, at), eval(b, at)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Cond::Or(a, b) => match (eval(a, at), eval(b, at)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
    }
}

fn collect<'c>(c: &'c Cond, out: &mut BTreeMap<&'c str, Vec<&'c Lit>>) {
    match c {
        Cond::Free | Cond::Const(_) => {}
        Cond::Truthy(v) => {
            out.entry(v.as_str()).or_default();
        }
        Cond::Eq(v, l) => {
            let lits = out.entry(v.as_str()).or_default();
            if !lits.contains(&l) {
                lits.push(l);
            }
        }
        Cond::Not(c) => collect(c, out),
        Cond::And(a, b) | Cond::Or(a, b) => {
            collect(a, out);
            collect(b, out);
        }
    }
}

/// The most value combinations tried, and the most conditions read
/// together: past them, the conditions are taken as satisfiable (never a
/// finding by giving up).
const MAX_TRIES: usize = 4096;
const MAX_CONDS: usize = 64;

/// Can all of `conds` be true at once, for some values of the variables?
/// Every value a variable may hold behaves, in these conditions, as one of
/// its literals, or as none of them and true, or false: trying those is
/// trying all (a comparison across kinds of literal is left undecided).
fn satisfiable(conds: &[&Cond]) -> bool {
    if conds.len() > MAX_CONDS {
        return true;
    }
    let mut vars: BTreeMap<&str, Vec<&Lit>> = BTreeMap::new();
    for c in conds {
        collect(c, &mut vars);
    }
    let choices: Vec<(&str, Vec<Val>)> = vars
        .into_iter()
        .map(|(v, lits)| (v, lits.into_iter().map(Val::Is).chain([Val::Other(true), Val::Other(false)]).collect()))
        .collect();
    let total = choices.iter().try_fold(1usize, |n, (_, c)| n.checked_mul(c.len()).filter(|n| *n <= MAX_TRIES));
    let Some(total) = total else { return true };
    (0..total).any(|mut k| {
        let at: BTreeMap<&str, Val> = choices
            .iter()
            .map(|(v, c)| {
                let pick = c[k % c.len()].clone();
                k /= c.len();
                (*v, pick)
            })
            .collect();
        conds.iter().all(|c| eval(c, &at) != Some(false))
    })
}

/// The steps whose `needs` (with their own `when`) can never all pass.
pub fn lint(rb: &Runbook, dag: &Dag) -> Vec<Diagnostic> {
    let captured: BTreeSet<&str> = rb.steps.iter().filter_map(|s| s.attrs.capture.as_deref()).collect();
    let fixed = |v: &str| !captured.contains(v) && (v == "env" || !BUILTINS.contains(&v));
    let conds: Vec<Cond> =
        rb.steps.iter().map(|s| s.attrs.when.as_deref().map_or(Cond::Const(true), |w| read(w, &fixed))).collect();
    let needs =
        |i: usize| -> Vec<usize> { dag.deps(i).iter().filter(|e| e.kind == EdgeKind::Needs).map(|e| e.from).collect() };
    // What must hold for each step to pass: its `when` and those of the
    // steps it needs, transitively; in the DAG's order. Only the conditions
    // that may be false count (a step without `when`, or one not read, adds
    // nothing), and only those are kept: a long `needs` chain without
    // `when`s keeps empty sets, not every ancestor of every step.
    let may_fail = |k: usize| !matches!(conds[k], Cond::Free | Cond::Const(true));
    let mut must: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); rb.steps.len()];
    let mut dead = vec![false; rb.steps.len()];
    let mut known: BTreeMap<Vec<usize>, bool> = BTreeMap::new();
    let mut out = Vec::new();
    for i in dag.levels().into_iter().flatten() {
        let direct = needs(i);
        let mut set: BTreeSet<usize> = may_fail(i).then_some(i).into_iter().collect();
        for &n in &direct {
            set.extend(must[n].iter().copied());
        }
        // Many steps share a set.
        let key: Vec<usize> = set.iter().copied().collect();
        let runs = *known
            .entry(key)
            .or_insert_with_key(|key| satisfiable(&key.iter().map(|&k| &conds[k]).collect::<Vec<_>>()));
        // Reported where the branches meet: not after a step that never
        // runs, nor for a `when` that is false on its own.
        let inherited = direct.iter().any(|&n| dead[n]) || !satisfiable(&[&conds[i]]);
        if !runs && !inherited {
            out.push(finding(rb, i, &direct, &conds, &must));
        }
        dead[i] = !runs;
        must[i] = set;
    }
    out.sort_by_key(|d| d.line);
    out
}

/// The finding at step `i`, naming the fewest of its `needs` that cannot
/// all pass: two of them, or one and its own `when`, when that is enough.
fn finding(rb: &Runbook, i: usize, needs: &[usize], conds: &[Cond], must: &[BTreeSet<usize>]) -> Diagnostic {
    let unsat = |steps: &[usize], own: bool| {
        let mut all: BTreeSet<usize> = steps.iter().flat_map(|&k| must[k].iter().copied()).collect();
        if own {
            all.insert(i);
        }
        !satisfiable(&all.iter().map(|&k| &conds[k]).collect::<Vec<_>>())
    };
    let s = &rb.steps[i];
    let named = |k: usize| {
        let n = &rb.steps[k];
        match &n.attrs.when {
            Some(w) => format!("`{}` (when=\"{w}\")", n.id),
            None => format!("`{}`", n.id),
        }
    };
    let own = s.attrs.when.as_deref().unwrap_or_default();
    let pair = needs.iter().enumerate().flat_map(|(a, &x)| needs[a + 1..].iter().map(move |&y| (x, y)));
    let id = |k: usize| rb.steps[k].id.as_str();
    let (why, hint) = if let Some((x, y)) = pair.clone().find(|&(x, y)| unsat(&[x, y], false)) {
        (
            format!("it needs {} and {}, which never both pass in one play", named(x), named(y)),
            format!(
                "`needs` is all-of and the format has no any-of: give each branch its own step (one with `needs={}`, one with `needs={}`), or drop one of them from `needs`",
                id(x),
                id(y)
            ),
        )
    } else if let Some(&x) = needs.iter().find(|&&x| unsat(&[x], true)) {
        (
            format!("its when=\"{own}\" is false whenever {}, which it needs, passed", named(x)),
            format!("drop `{}` from its `needs`, or change its `when`", id(x)),
        )
    } else {
        let list: Vec<String> = needs.iter().map(|&k| named(k)).collect();
        let with = if own.is_empty() { String::new() } else { format!(" with its own when=\"{own}\"") };
        (
            format!("it needs {}, which never all pass in one play{with}", list.join(", ")),
            "`needs` is all-of and the format has no any-of: give each branch its own step, or drop from `needs` (or change the `when` of) what cannot pass with the rest".to_string(),
        )
    };
    Diagnostic::error(
        "needs-exclusive",
        format!("step `{}` can never run: {why}, and a step runs only when every step it needs passed", s.id),
    )
    .at(&rb.path, s.line)
    .hint(hint)
}

#[cfg(test)]
mod tests;

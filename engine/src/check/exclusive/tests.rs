use std::path::Path;

use super::*;
use crate::parse::{parse_str, picker};

fn runbook(md: &str) -> Runbook {
    parse_str(Path::new("t.md"), md, String::new()).unwrap()
}

/// (line, message) of each finding.
fn found(md: &str) -> Vec<(usize, String)> {
    let rb = runbook(md);
    let dag = Dag::build(&rb).unwrap();
    lint(&rb, &dag).into_iter().map(|d| (d.line.unwrap(), d.message)).collect()
}

/// Steps `a`, `b` with these `when`s (none for ""), and `v` needing both.
fn two(a: &str, b: &str) -> String {
    let when = |w: &str| match w {
        "" => String::new(),
        w if w.contains('"') => format!(" when='{w}'"),
        w => format!(" when=\"{w}\""),
    };
    format!(
        "---\nvars: {{action: x, n: 1, flag: true}}\n---\n# T\n\n```bash {{#a needs={}}}\n:\n```\n\n```bash {{#b needs={}}}\n:\n```\n\n```bash {{#v needs=a,b}}\n:\n```\n",
        when(a),
        when(b)
    )
}

#[test]
fn exclusive_branches_are_found_at_the_step_that_needs_them() {
    let md = two("action == 'restart'", "action == 'rollback'");
    assert_eq!(
        found(&md),
        [(
            14,
            "step `v` can never run: it needs `a` (when=\"action == 'restart'\") and `b` (when=\"action == 'rollback'\"), \
             which never both pass in one play, and a step runs only when every step it needs passed"
                .to_string()
        )]
    );
}

/// (when of `a`, when of `b`, whether `v` is reported).
const TABLE: &[(&str, &str, bool)] = &[
    ("action == 'restart'", "action == 'rollback'", true),
    ("action == 'restart'", "'rollback' == action", true),
    ("action == \"restart\"", "action == 'rollback'", true),
    ("flag", "not flag", true),
    ("not (action == 'a')", "action == 'a'", true),
    ("action != 'a'", "action == 'a'", true),
    ("action == 'a' and n == 1", "action == 'b' or action == 'c'", true),
    ("n == 1", "n == 2", true),
    ("flag == true", "flag == false", true),
    ("action == ''", "action", true),
    ("(action == 'a') and flag", "not flag", true),
    // Can both be true, or cannot be told: never reported.
    ("action == 'restart'", "action == 'restart'", false),
    ("action == 'a' or action == 'b'", "action == 'b'", false),
    ("action != 'a'", "action != 'b'", false),
    ("action == 'a'", "n == 1", false),
    ("action == 'a'", "", false),
    ("flag", "flag", false),
    ("action", "action != 'a'", false),
    ("action == 'a'", "not flag", false),
    // Literals of different kinds may compare equal.
    ("n == 1", "n == true", false),
    ("n == 1", "n == '1'", false),
    ("n == 1", "n == none", false),
    // What is not read may be anything.
    ("action | lower == 'a'", "action == 'b'", false),
    ("action == 'a'", "action in ['b']", false),
    ("action == 'a'", "action is defined and action == 'b' or true", false),
    ("action == 'a\\'b'", "action == 'c'", false),
    ("n == 1.0", "n == 2", false),
    ("n == 0x1", "n == 2", false),
    ("action == other", "action == 'b'", false),
    ("steps.x.status == 'passed'", "steps.x.status == 'failed'", false),
    ("action == 'a' == true", "action == 'b'", false),
    ("not action == 'a'", "not action != 'a'", true),
];

#[test]
fn only_what_is_provable_is_reported() {
    for (a, b, want) in TABLE {
        let got = found(&two(a, b));
        assert_eq!(!got.is_empty(), *want, "a: {a}\nb: {b}\n{got:?}");
    }
}

#[test]
fn a_captured_name_may_change_between_the_two_whens() {
    let md = "# T\n\n```bash {#c capture=mode}\necho a\n```\n\n```bash {#a when=\"mode == 'a'\"}\n:\n```\n\n\
              ```bash {#d capture=mode}\necho b\n```\n\n```bash {#b when=\"mode == 'b'\"}\n:\n```\n\n```bash {#v needs=a,b}\n:\n```\n";
    assert_eq!(found(md), []);
}

#[test]
fn its_own_when_and_transitive_needs_count_and_only_where_branches_meet() {
    let md = "---\nvars: {action: x}\n---\n# T\n\n```bash {#a when=\"action == 'a'\"}\n:\n```\n\n\
              ```bash {#a2 needs=a}\n:\n```\n\n```bash {#b needs= when=\"action == 'b'\"}\n:\n```\n\n\
              ```bash {#v needs=a2,b}\n:\n```\n\n```bash {#w needs=v}\n:\n```\n\n\
              ```bash {#x needs=a2 when=\"action == 'b'\"}\n:\n```\n";
    let got = found(md);
    assert_eq!(got.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [18, 26], "{got:?}");
    assert!(got[0].1.starts_with("step `v` can never run: it needs `a2` and `b` (when=\"action == 'b'\")"), "{got:?}");
    assert_eq!(
        got[1].1,
        "step `x` can never run: its when=\"action == 'b'\" is false whenever `a2`, which it needs, passed, \
         and a step runs only when every step it needs passed"
    );
    // A `when` false on its own is not about `needs`.
    assert_eq!(found(&two("flag and not flag", "")), []);
}

/// No false positive, against minijinja itself: random conditions over
/// three variables, and for every step reported, no values of a small
/// domain (every literal the conditions use, and others) make the `when`s
/// it depends on all true.
#[test]
fn no_finding_is_contradicted_by_minijinja() {
    let mut pick = picker(0x5eed_cafe);
    let atoms = [
        "x == 'a'",
        "x == 'b'",
        "x != 'a'",
        "x",
        "not x",
        "x == ''",
        "y == 1",
        "y == 0",
        "y != 1",
        "y == true",
        "y",
        "z == false",
        "z",
        "z == none",
        "x == y",
        "y == '1'",
        "x | length > 1",
    ];
    let values = ["'a'", "'b'", "''", "'c'", "0", "1", "2", "true", "false", "none", "'1'"];
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let mut reported = 0;
    for _ in 0..400 {
        let cond = |pick: &mut dyn FnMut(usize) -> usize| -> String {
            let mut c = atoms[pick(atoms.len())].to_string();
            for _ in 0..pick(3) {
                let a = atoms[pick(atoms.len())];
                c = match pick(4) {
                    0 => format!("{c} and {a}"),
                    1 => format!("{c} or {a}"),
                    2 => format!("not ({c}) and {a}"),
                    _ => format!("({c}) or not {a}"),
                };
            }
            c
        };
        let n = 4;
        let mut md = String::from("# T\n");
        let mut whens = Vec::new();
        let mut needs: Vec<Vec<usize>> = Vec::new();
        for i in 0..n {
            let when = if pick(4) == 0 { None } else { Some(cond(&mut pick)) };
            let ns: Vec<usize> = (0..i).filter(|_| pick(2) == 0).collect();
            let ids: Vec<String> = ns.iter().map(|k| format!("s{k}")).collect();
            let w = when.as_ref().map(|w| format!(" when=\"{w}\"")).unwrap_or_default();
            md.push_str(&format!("\n```bash {{#s{i} needs={}{w}}}\n:\n```\n", ids.join(",")));
            whens.push(when);
            needs.push(ns);
        }
        let rb = runbook(&md);
        let dag = Dag::build(&rb).unwrap();
        for d in lint(&rb, &dag) {
            reported += 1;
            let i = rb.steps.iter().position(|s| s.line == d.line.unwrap()).unwrap();
            let mut all = BTreeSet::from([i]);
            let mut stack = vec![i];
            while let Some(k) = stack.pop() {
                for &m in &needs[k] {
                    if all.insert(m) {
                        stack.push(m);
                    }
                }
            }
            let exprs: Vec<_> = all
                .iter()
                .filter_map(|&k| whens[k].as_deref())
                .map(|w| (w, env.compile_expression(w).unwrap()))
                .collect();
            for x in values {
                for y in values {
                    for z in values {
                        let ctx = minijinja::context! {
                            x => env.compile_expression(x).unwrap().eval(()).unwrap(),
                            y => env.compile_expression(y).unwrap().eval(()).unwrap(),
                            z => env.compile_expression(z).unwrap().eval(()).unwrap(),
                        };
                        let all_true =
                            exprs.iter().all(|(_, e)| e.eval(&ctx).is_ok_and(|v: minijinja::Value| v.is_true()));
                        assert!(!all_true, "{}\nfalse positive at x={x} y={y} z={z}:\n{md}", d.message);
                    }
                }
            }
        }
    }
    // The property is not vacuous.
    assert!(reported > 20, "only {reported} findings");
}

//! The guard's promise as a property: a name the guard lets a template (or
//! a `when`) go without is one it renders without, whatever the other
//! values; and a `when` that guards its step is never true without its
//! name. Conditions are drawn from tests of `x`, reads of `x`, other
//! names, `not`, `and`, `or` and brackets, and rendered by minijinja as
//! the engine does (undefined names are errors).

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, Value};
use proptest::prelude::*;

use super::guard::{defined_by_when, unguard_expr, unguard_template};
use super::{undeclared, undeclared_expr};

fn condition() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("x is defined"),
        Just("x is undefined"),
        Just("x is not defined"),
        Just("x.a"),
        Just("x"),
        Just("x | default(false)"),
        Just("y"),
        Just("z"),
        Just("y == 'x or z'"),
    ]
    .prop_map(str::to_string);
    atom.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| format!("not {a}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} or {b}")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

/// A condition, often one that starts with a test of `x` (the guard's
/// cases: a random condition mostly just reads `x`).
fn guarding() -> impl Strategy<Value = String> {
    (0..4u8, condition()).prop_map(|(k, c)| match k {
        0 => format!("x is defined and {c}"),
        1 => format!("x is undefined or {c}"),
        2 => format!("x is not defined or {c}"),
        _ => c,
    })
}

/// A chain of `and`, one of its links `x is defined`.
fn chain() -> impl Strategy<Value = String> {
    let link = prop_oneof![3 => condition().prop_filter("short", |c| c.len() < 20), 1 => condition()];
    (proptest::collection::vec(link, 0..4), any::<prop::sample::Index>()).prop_map(|(mut links, at)| {
        links.insert(at.index(links.len() + 1), "x is defined".to_string());
        links.join(" and ")
    })
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Every context without `x`: `y` and `z` true or false.
fn without_x() -> impl Iterator<Item = BTreeMap<&'static str, Value>> {
    [(false, false), (false, true), (true, false), (true, true)]
        .into_iter()
        .map(|(y, z)| BTreeMap::from([("y", Value::from(y)), ("z", Value::from(z))]))
}

/// A branch's body: reads `x`, or not.
fn body(reads: bool) -> &'static str {
    if reads { "{{ x }}" } else { "-" }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_global_rejects: 20_000, ..ProptestConfig::default() })]

    #[test]
    fn a_template_renders_without_what_it_does_not_require(
        c in guarding(),
        d in guarding(),
        reads in any::<[bool; 3]>(),
    ) {
        let text = format!(
            "{{% if {c} %}}{}{{% elif {d} %}}{}{{% else %}}{}{{% endif %}}",
            body(reads[0]), body(reads[1]), body(reads[2])
        );
        prop_assume!(!undeclared(&unguard_template(&text)).contains("x"));
        let env = env();
        for ctx in without_x() {
            let r = env.render_str(&text, &ctx);
            prop_assert!(r.is_ok(), "{text} with {ctx:?}: {r:?}");
        }
    }

    #[test]
    fn a_when_evaluates_without_what_it_does_not_require(c in guarding()) {
        prop_assume!(!undeclared_expr(&unguard_expr(&c)).contains("x"));
        let env = env();
        let expr = env.compile_expression(&c).expect("a valid expression");
        for ctx in without_x() {
            let r = expr.eval(&ctx);
            prop_assert!(r.is_ok(), "{c} with {ctx:?}: {r:?}");
        }
    }

    #[test]
    fn a_when_that_guards_its_step_is_never_true_without_the_name(c in chain()) {
        prop_assume!(defined_by_when(&c).contains("x"));
        let env = env();
        let expr = env.compile_expression(&c).expect("a valid expression");
        for ctx in without_x() {
            let r = expr.eval(&ctx);
            prop_assert!(!r.as_ref().is_ok_and(Value::is_true), "{c} with {ctx:?}: {r:?}");
        }
    }
}

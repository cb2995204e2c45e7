//! What the search for derived secrets ([`super::derived`]) found, kept by
//! what it depends on. Finding them renders each template that reads a
//! secret twice, with the secrets and with their placeholders, and the
//! renders are a pure function of the template and those two views of the
//! context. A `check` makes the same renders for every scenario, and a
//! play or a rehearsal for each of its starts: kept, a runbook with
//! thousands of tags reading a large value is rendered once, not once per
//! scenario.
//!
//! A wrong hit would leave a secret unmasked, so the key is exact: a
//! SHA-256 of the template and of every part of both views, each with its
//! kind (`1` and `1.0`, a safe string and a plain one, differ). A value
//! whose kind it cannot spell (an engine object) is not kept. Per thread,
//! and bounded: when full, the memo starts again empty.

use std::cell::RefCell;
use std::collections::HashMap;

use minijinja::value::{Value as JValue, ValueKind};
use sha2::{Digest, Sha256};

/// At most this many results kept, and this many bytes of them.
const ENTRIES: usize = 4096;
const BYTES: usize = 32 << 20;

#[derive(Default)]
struct Memo {
    found: HashMap<[u8; 32], Vec<String>>,
    bytes: usize,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// What a search of `what` (`expr` or `text`) in `template` found against
/// the views `real` (with the secrets) and `held` (with placeholders):
/// kept, or `find()` and kept.
pub(super) fn found(
    what: &str,
    template: &str,
    real: &JValue,
    held: &JValue,
    find: impl FnOnce() -> Vec<String>,
) -> Vec<String> {
    let Some(key) = key(what, template, real, held) else { return find() };
    if let Some(hit) = MEMO.with(|m| m.borrow().found.get(&key).cloned()) {
        return hit;
    }
    let out = find();
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        let size = out.iter().map(String::len).sum::<usize>();
        if m.found.len() >= ENTRIES || m.bytes + size > BYTES {
            *m = Memo::default();
        }
        if size <= BYTES {
            m.bytes += size;
            m.found.insert(key, out.clone());
        }
    });
    out
}

/// The exact key, or `None` when a view holds a value [`spell`] cannot
/// spell.
fn key(what: &str, template: &str, real: &JValue, held: &JValue) -> Option<[u8; 32]> {
    let mut h = Sha256::new();
    part(&mut h, what.as_bytes());
    part(&mut h, template.as_bytes());
    spell(&mut h, real)?;
    spell(&mut h, held)?;
    Some(h.finalize().into())
}

/// A length-prefixed part: no two sequences of parts hash alike.
fn part(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// `v` into the hash with its kind, whole: every item of a list, every
/// key and value of a map, in their order (a `for` loop sees it).
pub(super) fn spell(h: &mut Sha256, v: &JValue) -> Option<()> {
    match v.kind() {
        ValueKind::Undefined => h.update([0]),
        ValueKind::None => h.update([1]),
        ValueKind::Bool => h.update([2, u8::from(v.is_true())]),
        // Debug keeps the number's kind: `1`, `1.0`.
        ValueKind::Number => {
            h.update([3]);
            part(h, format!("{v:?}").as_bytes());
        }
        ValueKind::String => {
            h.update([4, u8::from(v.is_safe())]);
            part(h, v.as_str()?.as_bytes());
        }
        ValueKind::Bytes => {
            h.update([5]);
            part(h, v.as_bytes()?);
        }
        ValueKind::Seq => {
            h.update([6]);
            let items = v.try_iter().ok()?;
            let mut n = 0u64;
            for item in items {
                spell(h, &item)?;
                n += 1;
            }
            h.update(n.to_le_bytes());
        }
        ValueKind::Map => {
            h.update([7]);
            let pairs = v.as_object()?.try_iter_pairs()?;
            let mut n = 0u64;
            for (k, item) in pairs {
                spell(h, &k)?;
                spell(h, &item)?;
                n += 1;
            }
            h.update(n.to_le_bytes());
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(v: &JValue) -> Option<[u8; 32]> {
        let mut h = Sha256::new();
        spell(&mut h, v)?;
        Some(h.finalize().into())
    }

    #[test]
    fn values_that_compare_equal_but_render_apart_are_spelled_apart() {
        let pairs = [
            (JValue::from(1), JValue::from(1.0)),
            (JValue::from("a"), JValue::from_safe_string("a".into())),
            (JValue::from(true), JValue::from(1)),
            (JValue::from(()), JValue::UNDEFINED),
            (JValue::from(vec![JValue::from("ab")]), JValue::from(vec![JValue::from("a"), JValue::from("b")])),
            (JValue::from("1"), JValue::from(1)),
        ];
        for (a, b) in pairs {
            assert_ne!(spelled(&a), spelled(&b), "{a:?} and {b:?}");
        }
        let map = |pairs: &[(&str, i64)]| {
            JValue::from(minijinja::value::Serde(pairs.iter().copied().collect::<indexmap::IndexMap<_, _>>()))
        };
        let seq = |items: &[&str]| JValue::from(items.iter().map(|s| JValue::from(*s)).collect::<Vec<_>>());
        assert_ne!(spelled(&seq(&["a", "b"])), spelled(&seq(&["b", "a"])), "order counts");
        assert_ne!(spelled(&map(&[("a", 1)])), spelled(&map(&[("a", 1), ("b", 2)])));
        assert_ne!(spelled(&map(&[("a", 12)])), spelled(&map(&[("a1", 2)])));
        assert_eq!(spelled(&map(&[("a", 1)])), spelled(&map(&[("a", 1)])));
    }

    #[test]
    fn an_object_of_the_engine_is_not_kept() {
        #[derive(Debug)]
        struct Opaque;
        impl minijinja::value::Object for Opaque {
            fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
                minijinja::value::ObjectRepr::Plain
            }
        }
        assert_eq!(spelled(&JValue::from_object(Opaque)), None);
        let mut runs = 0;
        for _ in 0..2 {
            found("expr", "x", &JValue::from_object(Opaque), &JValue::from(1), || {
                runs += 1;
                vec![]
            });
        }
        assert_eq!(runs, 2);
    }

    #[test]
    fn a_search_is_made_once_per_exact_key() {
        let mut runs = 0;
        let mut find = |real: JValue| {
            found("expr", "tok ~ n", &real, &JValue::from(0), || {
                runs += 1;
                vec![real.to_string()]
            })
        };
        assert_eq!(find(JValue::from(1)), ["1"]);
        assert_eq!(find(JValue::from(1.0)), ["1.0"]);
        assert_eq!(find(JValue::from(1)), ["1"]);
        assert_eq!(runs, 2);
    }
}

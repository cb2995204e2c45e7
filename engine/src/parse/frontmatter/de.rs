//! Front matter from YAML, key by key: the engine's keys into their fields
//! (so that a wrong type is reported at its own line), every other key into
//! [`FrontMatter::meta`]. serde's `flatten` would do the same but buffers the
//! values first, which loses their locations.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::FrontMatter;
use crate::model::Value;

/// Front matter, with where each of its variables' values was written (a
/// byte range of the YAML), so that a number can be kept as written.
pub struct Read {
    pub fm: FrontMatter,
    pub spans: Vec<(String, std::ops::Range<usize>)>,
}

impl<'de> Deserialize<'de> for Read {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FrontMatterVisitor)
    }
}

struct FrontMatterVisitor;

impl<'de> Visitor<'de> for FrontMatterVisitor {
    type Value = Read;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of front-matter keys")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read, A::Error> {
        let mut fm = FrontMatter::default();
        let mut spans = Vec::new();
        let mut seen = [false; super::KEYS.len()];
        while let Some(key) = map.next_key::<String>()? {
            let Some(slot) = super::KEYS.iter().position(|k| *k == key) else {
                let value: Value = map.next_value()?;
                if fm.meta.insert(key.clone(), value).is_some() {
                    return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
                }
                continue;
            };
            if std::mem::replace(&mut seen[slot], true) {
                return Err(de::Error::duplicate_field(super::KEYS[slot]));
            }
            match slot {
                0 => fm.id = map.next_value()?,
                1 => fm.title = map.next_value()?,
                2 => {
                    let vars: BTreeMap<String, Spanned<Value>> = map.next_value()?;
                    for (k, v) in vars {
                        let span = v.defined.span();
                        if let (Some(at), Some(len)) = (span.byte_offset(), span.byte_len()) {
                            spans.push((k.clone(), at as usize..(at + len) as usize));
                        }
                        fm.vars.insert(k, v.value);
                    }
                }
                3 => fm.secrets = map.next_value()?,
                4 => fm.envs = map.next_value()?,
                5 => fm.requires = map.next_value()?,
                _ => fm.timeout = map.next_value()?,
            }
        }
        Ok(Read { fm, spans })
    }
}

//! The command hash the journal keeps with each step start, which tells a
//! resume whether a step that passed changed since (SPEC §6) — without the
//! secrets' values, so that a resume does not ask for a secret only steps
//! that stand read ([`super::spare`]).
//!
//! - **The hash** is of the step's body rendered with each secret as a
//!   placeholder naming it (`@secret:tok@`, [`crate::model::placeholder`]),
//!   redacted as the journaled command is: it changes with the runbook's
//!   text, a non-secret value, or which secret a step reads, never with a
//!   secret's value. A body that renders only with the values (a template
//!   computing with a secret) is hashed as it is journaled, secrets masked:
//!   a resume then needs them to compare.
//! - **Earlier engines** hashed the command as journaled (each secret's
//!   value masked as `***`). A resume matches such a hash from the
//!   placeholder rendering with each placeholder masked as `***` (or
//!   `'***'`, a value the shell word had to quote): a secret inserted as it
//!   is, the usual case; else from the command rendered with the secrets'
//!   values, which it then asks for. No step is taken for edited because an
//!   older engine wrote its journal.

use sha2::{Digest, Sha256};

use crate::model::{Runbook, Step};
use crate::redact::{MASK, Redactor};
use crate::run::StepState;
use crate::template::{Context, Templater};

pub fn hash(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// Step `s`'s body rendered with placeholders for the secrets, redacted;
/// `None` when it does not render so.
fn masked(t: &Templater, s: &Step, ctx: &Context, red: &Redactor) -> Option<String> {
    t.body_masked(s, ctx).ok().map(|b| red.redact(&b).into_owned())
}

/// The hash journaled with a start of step `s`, whose command as journaled
/// is `display`.
pub fn journaled(t: &Templater, s: &Step, ctx: &Context, red: &Redactor, display: &str) -> String {
    hash(masked(t, s, ctx, red).as_deref().unwrap_or(display))
}

/// Whether `p`'s hash is that of step `s`'s command now, as far as can be
/// told without the secrets' values: `false` may still be the hash of an
/// earlier engine that only the values give ([`super::step`] then renders
/// the command with them).
pub fn unchanged(t: &Templater, rb: &Runbook, s: &Step, p: &StepState, ctx: &Context, red: &Redactor) -> bool {
    let Some(stored) = p.command_hash.as_deref() else { return false };
    let Some(text) = masked(t, s, ctx, red) else { return false };
    if hash(&text) == stored {
        return true;
    }
    // An earlier engine's hash: the secrets masked as it masked them, a
    // value a shell word as it is, or one it had to quote.
    let placeholders = placeholders(rb, s, t, ctx);
    !placeholders.is_empty()
        && [MASK.to_string(), format!("'{MASK}'")].iter().any(|mask| {
            let text = placeholders.iter().fold(text.clone(), |text, p| text.replace(p.as_str(), mask));
            hash(&text) == stored
        })
}

/// The placeholders a masked rendering of step `s` can hold: one for each
/// secret part of a variable, and for each secret it reads that has no value.
fn placeholders(rb: &Runbook, s: &Step, t: &Templater, ctx: &Context) -> Vec<String> {
    let read = t.names_used(s);
    let vars = ctx.vars.iter().filter(|(k, _)| read.contains(*k));
    let mut out: Vec<String> =
        rb.secret_parts(vars).into_iter().map(|(path, _)| crate::model::placeholder(&path)).collect();
    out.extend(
        read.iter().filter(|n| rb.is_secret(n) && !ctx.vars.contains_key(*n)).map(|n| crate::model::placeholder(n)),
    );
    out
}

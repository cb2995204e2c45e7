//! Incident hazards (SPEC §5): commands that break a play, in one table.
//!
//! Each [`RULES`] row names a [`Hazard`], the pattern it matches (for the
//! message), a detector over a command's words and the fix hint:
//!
//! - **never-ending** commands (`kubectl logs -f`, `get -w`, `watch`,
//!   `tail -f`, `port-forward`) hold the play until killed: a step needs
//!   `timeout=`;
//! - **needs-terminal** commands (`exec -it`, `kubectl edit`, editors,
//!   REPLs) fail without one: a step needs `interactive`;
//! - **write-in-read** commands change the system (`delete`, `scale`,
//!   `FLUSHALL`, `rm`, a `POST`): never in a `read` step, which
//!   `--read-only` triage runs without asking;
//! - **sudo-prompt**: `sudo` may ask for a password: a step needs
//!   `interactive` (or `sudo -n`).
//!
//! The same table decides what `runbook import` writes ([`effect`]: a block
//! of reads only becomes `read`; a write asks first; a never-ending command
//! gets a `timeout`). Commands are words from [`super::shell`], never raw
//! text: `echo "kubectl delete"` deletes nothing. A `--dry-run` changes
//! nothing, and a command under `timeout 60` ends.
//!
//! A wrapper is judged by what it runs ([`wrappers`]): `ssh n1 sudo reboot`
//! reboots, `watch "ssh n1 df -h"` reads. What is not known to only read
//! ([`reads`]) is not `read`: when in doubt, `import` asks first.

mod awk;
mod call;
mod cloud;
mod files;
mod forms;
mod http;
mod opts;
mod reads;
mod redis;
mod rules;
mod sql;
mod ssh;
mod wrappers;

pub use call::Call;
pub use rules::RULES;
pub use wrappers::calls;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hazard {
    NeverEnding,
    NeedsTerminal,
    ChangesSystem,
    Sudo,
}

impl Hazard {
    /// The finding's code.
    pub fn code(self) -> &'static str {
        match self {
            Hazard::NeverEnding => "never-ending",
            Hazard::NeedsTerminal => "needs-terminal",
            Hazard::ChangesSystem => "write-in-read",
            Hazard::Sudo => "sudo-prompt",
        }
    }
}

pub struct Rule {
    pub hazard: Hazard,
    /// What it matches, as a reader would write it.
    pub pattern: &'static str,
    pub detect: fn(&Call) -> bool,
    pub hint: &'static str,
}

/// What a command does to the system, for `import`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Only reads (diagnosis).
    Read,
    /// Changes the system: the pattern that says so.
    Write(&'static str),
    /// Not known either way (a script, an unknown tool): treated as a write.
    Unknown(String),
}

/// The effect of one command. A wrapper's own call (`watch`, `ssh HOST`)
/// reads: the calls it runs follow it, each judged.
pub fn effect(c: &Call) -> Effect {
    if let Some(r) = RULES.iter().find(|r| r.hazard == Hazard::ChangesSystem && (r.detect)(c)) {
        return Effect::Write(r.pattern);
    }
    if c.wraps || reads::reads(c) {
        return Effect::Read;
    }
    Effect::Unknown(c.program.clone())
}

/// The hazards of one command: the first matching row of each kind.
pub fn hazards(c: &Call) -> Vec<&'static Rule> {
    let mut out: Vec<&'static Rule> = Vec::new();
    for r in RULES {
        if out.iter().any(|o| o.hazard == r.hazard) || !(r.detect)(c) {
            continue;
        }
        if r.hazard == Hazard::NeverEnding && c.bounded {
            continue;
        }
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests;

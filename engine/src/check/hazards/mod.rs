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

mod call;
mod rules;

pub use call::{Call, calls};
pub use rules::RULES;

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

/// Programs that only read, with the subcommands that do (`*`: any; the
/// write rules above are checked first, so `kubectl rollout` here means
/// `status` and `history`).
#[rustfmt::skip]
const READS: &[(&str, &str)] = &[
    ("kubectl", "get describe logs top explain api-resources api-versions version cluster-info events wait diff port-forward proxy auth config rollout"),
    ("oc", "get describe logs status whoami"),
    ("helm", "list ls status history get show inspect template lint search version env diff dependency repo plugin verify"),
    ("docker", "ps logs inspect images stats top version info events port diff history search system image container volume network compose context"),
    ("docker-compose", "ps logs config top images version port"),
    ("systemctl", "status is-active is-enabled is-failed list-units list-unit-files list-timers show cat"),
    ("git", "status log diff show branch remote fetch rev-parse describe blame"),
    ("etcdctl", "get member endpoint version alarm"),
    ("promtool", "*"), ("logcli", "*"), ("journalctl", "*"), ("redis-cli", "*"), ("curl", "*"), ("wget", "*"),
    ("psql", "*"), ("mysql", "*"), ("stern", "*"), ("kubetail", "*"), ("watch", "*"), ("openssl", "*"),
    ("aws", "*"), ("gcloud", "*"), ("az", "*"), ("doctl", "*"), ("nc", "*"), ("ssh", "*"),
];

/// Text tools and probes that read whatever they are given.
#[rustfmt::skip]
const NEUTRAL: &[&str] = &[
    "echo", "printf", "cat", "tac", "head", "tail", "grep", "egrep", "fgrep", "zgrep", "rg", "awk", "gawk", "sed",
    "jq", "yq", "cut", "sort", "uniq", "wc", "tr", "column", "fold", "nl", "paste", "join", "comm", "diff", "cmp",
    "sleep", "true", "false", "test", "[", "[[", "((", ":", "date", "uptime", "hostname", "whoami", "id", "uname",
    "env", "printenv", "pwd", "ls", "stat", "file", "du", "df", "free", "vmstat", "iostat", "mpstat", "sar", "ps",
    "pgrep", "pidof", "lsof", "ss", "netstat", "dig", "nslookup", "host", "ping", "traceroute", "tracepath", "base64",
    "sha256sum", "sha1sum", "md5sum", "xxd", "od", "strings", "which", "type", "export", "local", "declare",
    "readonly", "set", "shift", "cd", "pushd", "popd", "exit", "return", "seq", "bc", "expr", "basename", "dirname",
    "realpath", "readlink", "tee", "getent", "nproc", "lscpu", "lsblk", "findmnt", "dmesg", "top", "htop", "less",
    "more", "find", "unset", "wait", "read", "numfmt", "timeout", "nslookup", "curlie", "http", "kubectl-neat",
];

/// The effect of one command.
pub fn effect(c: &Call) -> Effect {
    if let Some(r) = RULES.iter().find(|r| r.hazard == Hazard::ChangesSystem && (r.detect)(c)) {
        return Effect::Write(r.pattern);
    }
    if NEUTRAL.contains(&c.program.as_str()) || (matches!(c.program.as_str(), "kubectl" | "helm") && c.dry_run()) {
        return Effect::Read;
    }
    if let Some((_, subs)) = READS.iter().find(|(p, _)| *p == c.program) {
        let sub = if c.docker() { c.docker_sub() } else { c.sub(0) };
        if *subs == "*" || sub.is_some_and(|s| subs.split(' ').any(|x| x == s)) {
            return Effect::Read;
        }
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

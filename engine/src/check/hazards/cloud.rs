//! Cloud CLIs (`aws`, `gcloud`, `az`, `doctl`): a command reads when its
//! verb does (`describe-instances`, `list`, `get-caller-identity`), and
//! changes something when any of its words names a verb that does
//! (`delete`, `send-command`, `change-resource-record-sets`, `ssh`,
//! `get-credentials`, which rewrites kubeconfig). A verb known as neither
//! (`aws lambda invoke`… `gcloud app browse`) is not known to only read.

use super::Call;

/// Verbs (a command's first word, before `-`) that read.
#[rustfmt::skip]
const READ: &[&str] = &[
    "describe", "list", "get", "show", "ls", "read", "tail", "print", "info", "version", "help", "search", "wait",
    "logs", "log", "query", "scan", "lookup", "filter", "check", "validate", "simulate", "estimate", "decode",
    "presign", "select", "head", "exists", "view",
];

/// Verbs, and words of verbs, that change something.
#[rustfmt::skip]
const WRITE: &[&str] = &[
    "delete", "terminate", "create", "update", "put", "modify", "stop", "start", "reboot", "run", "attach", "detach",
    "set", "remove", "add", "deploy", "scale", "restart", "resize", "reset", "rm", "cp", "mv", "sync", "send",
    "invoke", "execute", "exec", "publish", "ssh", "scp", "submit", "change", "enable", "disable", "revoke",
    "authorize", "associate", "disassociate", "register", "deregister", "import", "restore", "copy", "promote",
    "failover", "swap", "regenerate", "rotate", "purge", "cancel", "suspend", "resume", "patch", "apply", "replace",
    "approve", "reject", "renew", "release", "allocate", "assign", "unassign", "install", "uninstall", "upgrade",
    "rollback", "undelete", "tag", "untag", "connect", "login", "logout", "init", "activate", "upload", "write",
    "edit", "mb", "rb", "power", "shutdown", "rebuild", "snapshot", "migrate", "abort", "schedule", "recreate",
    "signal", "complete", "accept", "decline", "merge", "move", "rename", "clear", "flush", "truncate", "drop",
    "kill", "save", "call", "increase", "decrease", "receive", "purchase", "reserve", "transfer", "reload",
    "repair", "reimage", "redeploy", "generalize", "capture", "convert", "grant", "unlock", "lock",
    "clone", "fork", "pause", "unpause", "trigger", "retry", "failback", "switch", "archive", "unarchive", "expire",
];

/// Global options of `aws` that take a value (`aws --region x s3 ls`).
#[rustfmt::skip]
const AWS_VALUE: &[&str] = &[
    "--region", "--profile", "--output", "--query", "--endpoint-url", "--ca-bundle", "--cli-read-timeout",
    "--cli-connect-timeout", "--color", "--cli-binary-format",
];

/// Verbs that read by their first word but write: `get-credentials` makes
/// the cluster kubeconfig's current context.
const NOT_READ: &[&str] = &["get-credentials"];

fn parts(w: &str) -> impl Iterator<Item = &str> {
    w.split('-')
}

fn is_cloud(c: &Call) -> bool {
    matches!(c.program.as_str(), "aws" | "gcloud" | "az" | "doctl")
}

/// Does the command change something? Any of its words is (or has) a verb that does.
pub fn writes(c: &Call) -> bool {
    is_cloud(c) && c.positional(&[]).iter().any(|w| NOT_READ.contains(w) || parts(w).any(|p| WRITE.contains(&p)))
}

/// Does the command only read? Its verb reads: `aws SERVICE VERB`; for the
/// others, the first word after the command group that is a verb.
pub fn reads(c: &Call) -> bool {
    if !is_cloud(c) {
        return false;
    }
    let verb = if c.is("aws") {
        c.positional(AWS_VALUE).get(1).copied()
    } else {
        let words = c.positional(&[]);
        let stage = words.iter().take_while(|w| matches!(**w, "alpha" | "beta" | "preview")).count();
        // The group (`gcloud run services list`: `run` names Cloud Run), unless it is all there is (`gcloud version`).
        let skip = if words.len() > stage + 1 { stage + 1 } else { stage };
        words.into_iter().skip(skip).find(|w| parts(w).next().is_some_and(|p| READ.contains(&p) || WRITE.contains(&p)))
    };
    verb.is_some_and(|v| {
        !NOT_READ.contains(&v) && (v.starts_with("batch-get-") || parts(v).next().is_some_and(|p| READ.contains(&p)))
    })
}

//! What is known to only read: diagnosis tools with the subcommands that
//! read, text tools and probes, and for some the forms that read (`psql -c`,
//! not `psql` running what its stdin says; `nc -z`, not `nc` sending it).
//! The write rows of [`super::RULES`] are checked first, so `kubectl
//! rollout` here means `status` and `history`, and `journalctl` anything
//! but `--vacuum-size` and its kin. A wrapper is never here: what it runs
//! is judged ([`super::wrappers`]). Anything else is not known to only read.

use super::awk::AWK;
use super::http::CURL;
use super::opts::Spec;
use super::rules::DOCKER_VALUE;
use super::sql::{MYSQL, PSQL};
use super::{Call, cloud, redis, ssh};

/// Programs that only read, with the subcommands that do (`*`: any).
#[rustfmt::skip]
const READS: &[(&str, &str)] = &[
    ("kubectl", "get describe logs top explain api-resources api-versions version cluster-info events wait diff port-forward proxy auth config rollout"),
    ("oc", "get describe logs status whoami"),
    ("helm", "list ls status history get show inspect template lint search version env diff dependency repo plugin verify"),
    ("systemctl", "status is-active is-enabled is-failed list-units list-unit-files list-timers show cat"),
    ("git", "status log diff show branch remote fetch rev-parse describe blame"),
    ("etcdctl", "get member endpoint version alarm"),
    ("promtool", "check query test debug tsdb"),
    ("logcli", "query instant-query labels series stats volume volume_range detected-fields fmt version help"),
    ("openssl", "s_client x509 verify version ciphers crl asn1parse dgst sess_id errstr list"),
    ("journalctl", "*"), ("stern", "*"), ("kubetail", "*"), ("curl", "*"), ("curlie", "*"), ("http", "*"),
    ("https", "*"), ("wget", "*"),
];

/// Text tools and probes that read whatever they are given (their writing
/// forms, `sed -i` or `tee FILE`, are rows of the table).
#[rustfmt::skip]
const NEUTRAL: &[&str] = &[
    "echo", "printf", "cat", "tac", "head", "tail", "grep", "egrep", "fgrep", "zgrep", "rg", "awk", "gawk", "sed",
    "jq", "yq", "cut", "sort", "uniq", "wc", "tr", "column", "fold", "nl", "paste", "join", "comm", "diff", "cmp",
    "sleep", "true", "false", "test", "[", "[[", "((", ":", "date", "uptime", "hostname", "whoami", "id", "uname",
    "env", "printenv", "pwd", "ls", "stat", "file", "du", "df", "free", "vmstat", "iostat", "mpstat", "sar", "ps",
    "pgrep", "pidof", "lsof", "ss", "netstat", "dig", "nslookup", "host", "ping", "traceroute", "tracepath", "base64",
    "sha256sum", "sha1sum", "md5sum", "xxd", "od", "strings", "which", "type", "command", "export", "local",
    "declare", "readonly", "set", "shift", "cd", "pushd", "popd", "exit", "return", "seq", "bc", "expr", "basename",
    "dirname", "realpath", "readlink", "tee", "getent", "nproc", "lscpu", "lsblk", "findmnt", "dmesg", "top", "htop",
    "less", "more", "find", "unset", "wait", "read", "numfmt", "kubectl-neat",
];

/// `docker` subcommands that read; `docker image ls` and its kin below.
const DOCKER: &str = "ps logs inspect images stats top version info events port diff history search";
/// `docker compose` (and `docker-compose`) subcommands that read.
const COMPOSE: &str = "ps logs config top images version port ls events";

/// Does the call only read?
pub fn reads(c: &Call) -> bool {
    let p = c.program.as_str();
    if NEUTRAL.contains(&p) {
        // `awk -f prog.awk`, `sed -f script.sed`: a program not seen here.
        return match p {
            "awk" | "gawk" => !c.opts(&AWK).has('f', "file") && !c.opts(&AWK).has('E', "exec"),
            "sed" => !c.opts(&SED).has('f', "file"),
            _ => true,
        };
    }
    match p {
        "kubectl" | "helm" if c.dry_run() => true,
        "docker" | "docker-compose" => docker(c),
        "psql" => {
            let o = c.opts(&PSQL);
            (o.has('c', "command") || o.has('l', "list") || o.has('V', "version")) && !o.has('f', "file")
        }
        "mysql" | "mariadb" => {
            let o = c.opts(&MYSQL);
            o.has('e', "execute") || o.has('V', "version")
        }
        // Anything else sends its stdin (`echo FLUSHALL | nc redis 6379`).
        "nc" | "ncat" | "netcat" => c.opts(&NC).has('z', ""),
        // `curl -K FILE` reads its options from a file not seen here.
        "curl" | "curlie" if c.opts(&CURL).has('K', "config") => false,
        // A tunnel or a query; with a command, the command is judged.
        "ssh" => ssh::parse(&c.args).no_command,
        // What sudo does alone: list, validate, forget (not `-i`, `-s`: a shell).
        "sudo" => {
            let o = c.opts(&SUDO_ALONE);
            !o.has('i', "login")
                && !o.has('s', "shell")
                && [('l', "list"), ('v', "validate"), ('k', "reset-timestamp"), ('K', "remove-timestamp")]
                    .into_iter()
                    .chain([('V', "version"), ('h', "help")])
                    .any(|(s, l)| o.has(s, l))
        }
        "doas" => {
            let o = c.opts(&Spec { short: "aCu", ..Spec::default() });
            o.has('L', "") || o.has('C', "")
        }
        "redis-cli" => redis::reads(c),
        "aws" | "gcloud" | "az" | "doctl" => cloud::reads(c),
        _ => READS
            .iter()
            .find(|(name, _)| *name == p)
            .is_some_and(|(_, subs)| *subs == "*" || c.sub(0).is_some_and(|s| subs.split(' ').any(|x| x == s))),
    }
}

/// `docker ps`, `docker image ls`, `docker compose logs`.
fn docker(c: &Call) -> bool {
    let pos = c.positional(DOCKER_VALUE);
    let sub_compose = pos.first() == Some(&"compose");
    let pos = &pos[usize::from(sub_compose)..];
    let (first, second) = (pos.first().copied(), pos.get(1).copied());
    let Some(first) = first else { return false };
    if sub_compose || c.is("docker-compose") {
        return COMPOSE.split(' ').any(|s| s == first);
    }
    match first {
        "system" => matches!(second, Some("df" | "info" | "events")),
        "image" => matches!(second, Some("ls" | "list" | "inspect" | "history")),
        "container" => {
            matches!(second, Some("ls" | "list" | "ps" | "inspect" | "logs" | "top" | "stats" | "port" | "diff"))
        }
        "volume" | "network" | "context" => matches!(second, Some("ls" | "list" | "inspect" | "show")),
        _ => DOCKER.split(' ').any(|s| s == first),
    }
}

const SED: Spec =
    Spec { short: "efl", attached: "i", long: &["--expression", "--file", "--line-length"], posix: false };
const NC: Spec = Spec { short: "IiMmOPpqsTVwXx", attached: "", long: &[], posix: false };
const SUDO_ALONE: Spec = Spec { short: "aCcDgpRrTtUu", attached: "h", long: &["--user", "--group"], posix: false };

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

use super::shell;

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

/// A simple command with its wrappers (`sudo`, `timeout 60`, `env X=1`,
/// `xargs`, `watch`, `kubectl exec … --`) peeled off.
#[derive(Debug, Clone)]
pub struct Call {
    /// 0-based line in the body.
    pub line: usize,
    /// The program's base name (`/usr/bin/kubectl` → `kubectl`).
    pub program: String,
    pub args: Vec<String>,
    /// Under a `sudo` that may prompt (no `-n`).
    pub sudo: bool,
    /// Under `timeout`: it ends.
    pub bounded: bool,
}

pub struct Rule {
    pub hazard: Hazard,
    /// What it matches, as a reader would write it.
    pub pattern: &'static str,
    pub detect: fn(&Call) -> bool,
    pub hint: &'static str,
}

const TIMEOUT_HINT: &str =
    "give the step `timeout=5m` (and `on-fail=continue`), or keep it as documentation to run in a second terminal";

/// The incident-hazard table. The first row that matches a command names it.
pub static RULES: &[Rule] = &[
    Rule {
        hazard: Hazard::NeverEnding,
        pattern: "kubectl logs -f",
        detect: |c| c.is("kubectl") && c.sub(0) == Some("logs") && c.flag("f", &["--follow"]),
        hint: "read a bounded tail instead (`kubectl logs --tail=200`), or give the step `timeout=5m`",
    },
    Rule {
        hazard: Hazard::NeverEnding,
        pattern: "kubectl get -w",
        detect: |c| c.is("kubectl") && c.flag("w", &["--watch", "--watch-only"]),
        hint: "drop `-w` and poll with `retry=N delay=5s expect=\"…\"`, or give the step `timeout=`",
    },
    Rule {
        hazard: Hazard::NeverEnding,
        pattern: "kubectl port-forward",
        detect: |c| c.is("kubectl") && matches!(c.sub(0), Some("port-forward" | "proxy" | "attach")),
        hint: TIMEOUT_HINT,
    },
    Rule {
        hazard: Hazard::NeverEnding,
        pattern: "watch",
        detect: |c| c.is("watch"),
        hint: "run the command once (drop `watch`), or poll with `retry=N delay=5s expect=\"…\"`",
    },
    Rule {
        hazard: Hazard::NeverEnding,
        pattern: "tail -f",
        detect: |c| c.is("tail") && c.flag("fF", &["--follow"]),
        hint: "read the last lines instead (`tail -n 200`), or give the step `timeout=`",
    },
    Rule {
        hazard: Hazard::NeverEnding,
        pattern: "logs -f",
        detect: |c| {
            (c.is("journalctl") && c.flag("f", &["--follow"]))
                || (c.docker() && c.docker_sub() == Some("logs") && c.flag("f", &["--follow"]))
                || c.is("stern")
                || c.is("kubetail")
        },
        hint: "read a bounded tail instead (`--tail=200`, `journalctl -n 200`), or give the step `timeout=`",
    },
    Rule {
        hazard: Hazard::NeverEnding,
        pattern: "a stream (`docker stats`, `docker events`, `ping`, `dmesg -w`, `redis-cli monitor`)",
        detect: |c| {
            (c.docker() && c.docker_sub() == Some("stats") && !c.flag("", &["--no-stream"]))
                || (c.docker() && c.docker_sub() == Some("events"))
                || (c.is("ping") && !c.flag("cw", &["--count"]))
                || (c.is("dmesg") && c.flag("w", &["--follow"]))
                || (c.is("redis-cli") && c.redis_cmd().is_some_and(|r| r == "monitor" || r == "subscribe"))
                || (c.is("sleep") && c.args.first().is_some_and(|a| a == "infinity"))
        },
        hint: "bound it (`docker stats --no-stream`, `ping -c 3`), or give the step `timeout=`",
    },
    Rule {
        hazard: Hazard::NeedsTerminal,
        pattern: "exec -it",
        detect: |c| {
            let tty = c.flag("t", &["--tty"]) || c.flag_cluster("it");
            (c.is("kubectl") && matches!(c.sub(0), Some("exec" | "run" | "attach" | "debug")) && tty)
                || (c.docker() && matches!(c.docker_sub(), Some("exec" | "run")) && tty)
        },
        hint: "give the step `interactive` (it attaches the terminal), or drop `-it` and pass the command after `--`",
    },
    Rule {
        hazard: Hazard::NeedsTerminal,
        pattern: "kubectl edit",
        detect: |c| c.is("kubectl") && c.sub(0) == Some("edit"),
        hint: "give the step `interactive` (it opens an editor), or change the object with `kubectl patch` / `kubectl set`",
    },
    Rule {
        hazard: Hazard::NeedsTerminal,
        pattern: "an editor, pager or console (`vi`, `less`, `top`, `psql` without `-c`)",
        detect: |c| {
            matches!(
                c.program.as_str(),
                "vi" | "vim" | "nvim" | "nano" | "emacs" | "less" | "more" | "htop" | "k9s" | "mc"
            ) || (c.is("top") && !c.flag("b", &["--batch"]))
                || (c.is("psql") && !c.flag("cfl", &["--command", "--file", "--list"]))
                || (c.is("mysql") && !c.flag("e", &["--execute"]))
                || (c.is("redis-cli")
                    && c.redis_cmd().is_none()
                    && !c.flag("", &["--bigkeys", "--latency", "--stat", "--scan"]))
                || (c.is("ssh") && c.positional(SSH_VALUE).len() < 2)
        },
        hint: "give the step `interactive` (it attaches the terminal), or pass the command (`psql -c`, `top -b -n 1`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "kubectl delete/apply/scale/…",
        detect: |c| c.is("kubectl") && !c.dry_run() && kubectl_writes(c),
        hint: "drop `read` from the step (and ask first with `confirm`), or move the write into a step of its own",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "helm install/upgrade/rollback/uninstall",
        detect: |c| {
            c.is("helm")
                && !c.dry_run()
                && matches!(c.sub(0), Some("install" | "upgrade" | "uninstall" | "delete" | "rollback" | "push"))
        },
        hint: "drop `read` from the step (and ask first with `confirm`), or use `helm diff` / `--dry-run` to look",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "docker rm/stop/run/compose up/…",
        detect: |c| c.docker() && docker_writes(c),
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "redis-cli FLUSHALL/DEL/SET/…",
        detect: |c| {
            c.is("redis-cli")
                && c.redis_cmd().is_some_and(|r| {
                    matches!(
                        r.as_str(),
                        "flushall"
                            | "flushdb"
                            | "del"
                            | "unlink"
                            | "set"
                            | "setex"
                            | "mset"
                            | "expire"
                            | "shutdown"
                            | "hset"
                            | "hdel"
                            | "lpush"
                            | "rpush"
                            | "sadd"
                            | "srem"
                            | "zadd"
                            | "zrem"
                            | "incr"
                            | "decr"
                            | "rename"
                            | "swapdb"
                            | "failover"
                            | "replicaof"
                            | "slaveof"
                            | "restore"
                    ) || (r == "config"
                        && c.positional(REDIS_VALUE).get(1).is_some_and(|s| s.eq_ignore_ascii_case("set")))
                })
        },
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "systemctl restart/stop/…",
        detect: |c| {
            (c.is("systemctl")
                && matches!(
                    c.sub(0),
                    Some(
                        "start"
                            | "stop"
                            | "restart"
                            | "reload"
                            | "try-restart"
                            | "reload-or-restart"
                            | "enable"
                            | "disable"
                            | "kill"
                            | "mask"
                            | "unmask"
                            | "daemon-reload"
                            | "isolate"
                            | "reboot"
                            | "poweroff"
                    )
                ))
                || (c.is("service") && matches!(c.sub(1), Some("start" | "stop" | "restart" | "reload")))
        },
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "rm/mv/kill/reboot/…",
        detect: |c| {
            matches!(
                c.program.as_str(),
                "rm" | "rmdir"
                    | "mv"
                    | "dd"
                    | "shred"
                    | "truncate"
                    | "kill"
                    | "pkill"
                    | "killall"
                    | "reboot"
                    | "shutdown"
                    | "halt"
                    | "poweroff"
                    | "chmod"
                    | "chown"
                    | "chgrp"
                    | "useradd"
                    | "userdel"
                    | "usermod"
                    | "fdisk"
                    | "parted"
                    | "wipefs"
                    | "kubectx"
                    | "kubens"
            ) || c.program.starts_with("mkfs")
                || (matches!(c.program.as_str(), "sed" | "perl") && c.flag("i", &["--in-place"]))
                || (c.is("find") && c.args.iter().any(|a| a == "-delete"))
                || (c.is("iptables")
                    && c.args.iter().any(|a| matches!(a.as_str(), "-A" | "-D" | "-I" | "-F" | "-X" | "-P" | "-R")))
                || (matches!(c.program.as_str(), "apt" | "apt-get" | "yum" | "dnf" | "pip" | "pip3")
                    && matches!(c.sub(0), Some("install" | "remove" | "purge" | "upgrade" | "uninstall")))
                || (c.is("git")
                    && matches!(
                        c.sub(0),
                        Some("push" | "commit" | "reset" | "merge" | "rebase" | "clean" | "checkout")
                    ))
                || (c.is("terraform") && matches!(c.sub(0), Some("apply" | "destroy" | "import" | "taint" | "state")))
                || (c.is("etcdctl") && matches!(c.sub(0), Some("put" | "del" | "defrag" | "compact" | "snapshot")))
        },
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "an HTTP POST/PUT/PATCH/DELETE",
        detect: |c| {
            (c.is("curl")
                && (c.args.iter().any(|a| {
                    matches!(a.as_str(), "-d" | "-F" | "-T" | "--form" | "--upload-file" | "--json")
                        || a.starts_with("--data")
                        || (a.starts_with("-d") && a.len() > 2)
                }) || c
                    .value_of(&["-X", "--request"])
                    .is_some_and(|m| !m.eq_ignore_ascii_case("GET") && !m.eq_ignore_ascii_case("HEAD"))))
                || (c.is("wget") && c.args.iter().any(|a| a.starts_with("--post-") || a.starts_with("--method")))
        },
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "SQL that writes (`psql -c \"DELETE …\"`)",
        detect: |c| {
            let sql = match c.program.as_str() {
                "psql" => c.value_of(&["-c", "--command"]),
                "mysql" => c.value_of(&["-e", "--execute"]),
                _ => None,
            };
            sql.is_some_and(|q| {
                q.split(|ch: char| !ch.is_ascii_alphabetic()).any(|w| {
                    ["insert", "update", "delete", "drop", "truncate", "alter", "create", "grant", "revoke", "vacuum"]
                        .iter()
                        .any(|k| w.eq_ignore_ascii_case(k))
                })
            })
        },
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "a cloud CLI that creates, changes or deletes",
        detect: |c| {
            matches!(c.program.as_str(), "aws" | "gcloud" | "az" | "doctl")
                && c.positional(&[]).iter().any(|w| {
                    w.split('-').any(|p| {
                        matches!(
                            p,
                            "delete"
                                | "terminate"
                                | "create"
                                | "update"
                                | "put"
                                | "modify"
                                | "stop"
                                | "start"
                                | "reboot"
                                | "run"
                                | "attach"
                                | "detach"
                                | "set"
                                | "remove"
                                | "add"
                                | "deploy"
                                | "scale"
                                | "restart"
                                | "resize"
                                | "reset"
                                | "rm"
                                | "cp"
                                | "mv"
                                | "sync"
                        )
                    })
                })
        },
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::Sudo,
        pattern: "sudo",
        detect: |c| c.sudo,
        hint: "give the step `interactive` (sudo may ask for a password on the terminal), or use `sudo -n` where no password is needed",
    },
];

const KUBECTL_VALUE: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "--kubeconfig",
    "--cluster",
    "--user",
    "-s",
    "--server",
    "--as",
    "--as-group",
    "--token",
    "--request-timeout",
    "-l",
    "--selector",
    "-o",
    "--output",
    "-c",
    "--container",
    "-f",
    "--filename",
    "--field-selector",
    "--sort-by",
    "--since",
    "--tail",
    "--timeout",
    "--replicas",
    "-p",
    "--patch",
    "--type",
];
const HELM_VALUE: &[&str] =
    &["-n", "--namespace", "--kube-context", "--kubeconfig", "-f", "--values", "--set", "-o", "--output"];
const DOCKER_VALUE: &[&str] = &[
    "-H",
    "--host",
    "--context",
    "-c",
    "--config",
    "-f",
    "--file",
    "-p",
    "--project-name",
    "--profile",
    "--env-file",
    "--project-directory",
    "--log-level",
];
const REDIS_VALUE: &[&str] =
    &["-h", "-p", "-a", "-n", "-u", "--user", "--pass", "-s", "--tls-cert", "--cacert", "-r", "-i"];
const SSH_VALUE: &[&str] = &["-i", "-p", "-l", "-o", "-F", "-J", "-L", "-R", "-D", "-E", "-c", "-b", "-S", "-W", "-w"];

fn kubectl_writes(c: &Call) -> bool {
    match c.sub(0) {
        Some(
            "delete" | "apply" | "create" | "replace" | "patch" | "edit" | "scale" | "set" | "label" | "annotate"
            | "taint" | "cordon" | "uncordon" | "drain" | "autoscale" | "expose" | "run" | "cp",
        ) => true,
        Some("rollout") => matches!(c.sub(1), Some("restart" | "undo" | "pause" | "resume")),
        Some("config") => matches!(
            c.sub(1),
            Some(
                "use-context" | "set-context" | "set" | "unset" | "delete-context" | "set-cluster" | "set-credentials"
            )
        ),
        _ => false,
    }
}

fn docker_writes(c: &Call) -> bool {
    let pos = c.positional(DOCKER_VALUE);
    let sub_compose = pos.first().is_some_and(|p| *p == "compose");
    let compose = sub_compose || c.is("docker-compose");
    let pos = &pos[usize::from(sub_compose)..];
    let (first, second) = (pos.first().copied(), pos.get(1).copied());
    if compose {
        return matches!(
            first,
            Some(
                "up" | "down"
                    | "restart"
                    | "rm"
                    | "stop"
                    | "start"
                    | "pull"
                    | "build"
                    | "kill"
                    | "create"
                    | "run"
                    | "push"
                    | "pause"
            )
        );
    }
    match first {
        Some(
            "rm" | "rmi" | "kill" | "stop" | "restart" | "start" | "run" | "create" | "pull" | "push" | "build" | "tag"
            | "pause" | "update" | "load" | "import" | "commit",
        ) => true,
        Some("system" | "image" | "container" | "volume" | "network" | "builder") => {
            matches!(
                second,
                Some("prune" | "rm" | "remove" | "create" | "stop" | "kill" | "restart" | "start" | "pull" | "push")
            )
        }
        Some("service" | "stack" | "swarm" | "node") => !matches!(second, Some("ls" | "ps" | "inspect" | "logs")),
        _ => false,
    }
}

impl Call {
    pub fn is(&self, program: &str) -> bool {
        self.program == program
    }

    fn docker(&self) -> bool {
        matches!(self.program.as_str(), "docker" | "docker-compose" | "podman")
    }

    /// `docker logs` → `logs`; `docker compose logs` → `logs`.
    fn docker_sub(&self) -> Option<&str> {
        let pos = self.positional(DOCKER_VALUE);
        let i = usize::from(pos.first().is_some_and(|p| *p == "compose"));
        pos.get(i).copied()
    }

    /// The n-th word that is not a flag (nor a flag's value), for the tool's value flags.
    pub fn sub(&self, n: usize) -> Option<&str> {
        let value: &[&str] = match self.program.as_str() {
            "kubectl" | "oc" => KUBECTL_VALUE,
            "helm" => HELM_VALUE,
            "docker" | "docker-compose" | "podman" => DOCKER_VALUE,
            _ => &[],
        };
        self.positional(value).get(n).copied()
    }

    /// Words that are not flags nor flags' values, up to `--`.
    pub fn positional(&self, value_flags: &[&str]) -> Vec<&str> {
        let mut out = Vec::new();
        let mut skip = false;
        for a in &self.args {
            if skip {
                skip = false;
                continue;
            }
            if a == "--" {
                break;
            }
            if a.starts_with('-') && a.len() > 1 {
                skip = value_flags.contains(&a.as_str());
                continue;
            }
            out.push(a.as_str());
        }
        out
    }

    /// The arguments before `--`.
    fn flags(&self) -> impl Iterator<Item = &str> {
        self.args.iter().map(String::as_str).take_while(|a| *a != "--")
    }

    /// A short flag (any letter of `short`, alone or in a short cluster such
    /// as `-fn` or `-bn1`) or a long one (`--follow`, `--follow=true`).
    pub fn flag(&self, short: &str, long: &[&str]) -> bool {
        self.flags().any(|a| {
            if let Some(l) = a.strip_prefix("--") {
                return long.iter().any(|f| {
                    let f = &f[2..];
                    l == f || l.strip_prefix(f).and_then(|v| v.strip_prefix('=')).is_some_and(|v| v != "false")
                });
            }
            let Some(cluster) = a.strip_prefix('-') else { return false };
            cluster.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic())
                && cluster.len() <= 4
                && cluster.chars().all(|ch| ch.is_ascii_alphanumeric())
                && cluster.chars().any(|ch| short.contains(ch))
        })
    }

    /// Every letter of `letters` among the short flags (`-it`, `-ti`, `-i -t`).
    fn flag_cluster(&self, letters: &str) -> bool {
        letters.chars().all(|l| {
            self.flags().any(|a| {
                a.strip_prefix('-').is_some_and(|c| {
                    !c.starts_with('-') && c.chars().all(|ch| ch.is_ascii_alphabetic()) && c.contains(l)
                })
            })
        })
    }

    /// The value of a flag: `-X POST`, `-XPOST`, `--request=POST`.
    pub fn value_of(&self, names: &[&str]) -> Option<&str> {
        let args: Vec<&str> = self.flags().collect();
        for (i, a) in args.iter().enumerate() {
            for n in names {
                if a == n {
                    return args.get(i + 1).copied();
                }
                if let Some(v) = a.strip_prefix(n) {
                    if n.starts_with("--") {
                        if let Some(v) = v.strip_prefix('=') {
                            return Some(v);
                        }
                    } else if !v.is_empty() {
                        return Some(v);
                    }
                }
            }
        }
        None
    }

    fn dry_run(&self) -> bool {
        self.flags().any(|a| a == "--dry-run" || a.strip_prefix("--dry-run=").is_some_and(|v| v != "none"))
    }

    /// The redis command, lowercased (`redis-cli -n 0 FLUSHDB` → `flushdb`).
    fn redis_cmd(&self) -> Option<String> {
        self.positional(REDIS_VALUE).first().map(|s| s.to_lowercase())
    }
}

/// Peel the wrappers off every command of a body.
pub fn calls(body: &str) -> Vec<Call> {
    let mut out = Vec::new();
    for c in shell::commands(body) {
        peel(c.line, &c.words, false, false, &mut out, 0);
    }
    out
}

fn peel(line: usize, words: &[String], sudo: bool, bounded: bool, out: &mut Vec<Call>, depth: usize) {
    let Some(first) = words.first() else { return };
    if depth > 8 {
        return;
    }
    let program = first.rsplit('/').next().unwrap_or(first).to_string();
    let rest = &words[1..];
    // Options of a wrapper, then the wrapped command.
    let after = |value_flags: &[&str], positional_args: usize| -> usize {
        let mut i = 0;
        let mut pos = 0;
        while i < rest.len() {
            let a = rest[i].as_str();
            if a == "--" {
                return i + 1;
            }
            if a.starts_with('-') && a.len() > 1 {
                i += if value_flags.contains(&a) { 2 } else { 1 };
                continue;
            }
            if shell::is_assignment(a) && program == "env" {
                i += 1;
                continue;
            }
            if pos < positional_args {
                pos += 1;
                i += 1;
                continue;
            }
            break;
        }
        i.min(rest.len())
    };
    match program.as_str() {
        "sudo" | "doas" => {
            let prompts = !rest.iter().take_while(|a| a.starts_with('-')).any(|a| {
                a == "-n"
                    || a == "--non-interactive"
                    || (a.starts_with('-') && !a.starts_with("--") && a.contains('n') && a.len() <= 4)
            });
            let i = after(&["-u", "--user", "-g", "--group", "-C", "-D", "-h", "-p", "-r", "-t", "-U"], 0);
            peel(line, &rest[i..], sudo || prompts, bounded, out, depth + 1);
        }
        "env" | "nice" | "nohup" | "time" | "exec" | "command" | "stdbuf" | "ionice" | "chrt" | "setsid" => {
            let i = after(&["-n", "-u", "-c", "-C", "-S", "-i", "-o", "-e"], 0);
            peel(line, &rest[i..], sudo, bounded, out, depth + 1);
        }
        "timeout" => {
            let i = after(&["-s", "--signal", "-k", "--kill-after"], 1);
            peel(line, &rest[i..], sudo, true, out, depth + 1);
        }
        "xargs" => {
            let i = after(&["-I", "-n", "-P", "-L", "-d", "-s", "-a", "-E"], 0);
            peel(line, &rest[i..], sudo, bounded, out, depth + 1);
        }
        "watch" => {
            out.push(Call { line, program: program.clone(), args: rest.to_vec(), sudo, bounded });
            let i = after(&["-n", "--interval", "-d", "--differences", "-g"], 0);
            peel(line, &rest[i..], sudo, bounded, out, depth + 1);
        }
        "bash" | "sh" | "zsh" | "dash" if rest.iter().any(|a| a == "-c") => {
            let script = rest.iter().skip_while(|a| *a != "-c").nth(1);
            if let Some(s) = script {
                for c in shell::commands(s) {
                    peel(line, &c.words, sudo, bounded, out, depth + 1);
                }
            }
        }
        _ => {
            out.push(Call { line, program: program.clone(), args: rest.to_vec(), sudo, bounded });
            // `kubectl exec POD -- cmd`: the command runs too.
            let exec = (program == "kubectl" || program == "oc")
                && rest.iter().take_while(|a| *a != "--").any(|a| a == "exec");
            if exec && let Some(i) = rest.iter().position(|a| a == "--") {
                peel(line, &rest[i + 1..], false, bounded, out, depth + 1);
            }
        }
    }
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
const READS: &[(&str, &str)] = &[
    (
        "kubectl",
        "get describe logs top explain api-resources api-versions version cluster-info events wait diff port-forward proxy auth config rollout",
    ),
    ("oc", "get describe logs status whoami"),
    (
        "helm",
        "list ls status history get show inspect template lint search version env diff dependency repo plugin verify",
    ),
    (
        "docker",
        "ps logs inspect images stats top version info events port diff history search system image container volume network compose context",
    ),
    ("docker-compose", "ps logs config top images version port"),
    ("systemctl", "status is-active is-enabled is-failed list-units list-unit-files list-timers show cat"),
    ("git", "status log diff show branch remote fetch rev-parse describe blame"),
    ("etcdctl", "get member endpoint version alarm"),
    ("promtool", "*"),
    ("logcli", "*"),
    ("journalctl", "*"),
    ("redis-cli", "*"),
    ("curl", "*"),
    ("wget", "*"),
    ("psql", "*"),
    ("mysql", "*"),
    ("stern", "*"),
    ("kubetail", "*"),
    ("watch", "*"),
    ("openssl", "*"),
    ("aws", "*"),
    ("gcloud", "*"),
    ("az", "*"),
    ("doctl", "*"),
    ("nc", "*"),
    ("ssh", "*"),
];

/// Text tools and probes that read whatever they are given.
const NEUTRAL: &[&str] = &[
    "echo",
    "printf",
    "cat",
    "tac",
    "head",
    "tail",
    "grep",
    "egrep",
    "fgrep",
    "zgrep",
    "rg",
    "awk",
    "gawk",
    "sed",
    "jq",
    "yq",
    "cut",
    "sort",
    "uniq",
    "wc",
    "tr",
    "column",
    "fold",
    "nl",
    "paste",
    "join",
    "comm",
    "diff",
    "cmp",
    "sleep",
    "true",
    "false",
    "test",
    "[",
    "[[",
    "((",
    ":",
    "date",
    "uptime",
    "hostname",
    "whoami",
    "id",
    "uname",
    "env",
    "printenv",
    "pwd",
    "ls",
    "stat",
    "file",
    "du",
    "df",
    "free",
    "vmstat",
    "iostat",
    "mpstat",
    "sar",
    "ps",
    "pgrep",
    "pidof",
    "lsof",
    "ss",
    "netstat",
    "dig",
    "nslookup",
    "host",
    "ping",
    "traceroute",
    "tracepath",
    "base64",
    "sha256sum",
    "sha1sum",
    "md5sum",
    "xxd",
    "od",
    "strings",
    "which",
    "type",
    "export",
    "local",
    "declare",
    "readonly",
    "set",
    "shift",
    "cd",
    "pushd",
    "popd",
    "exit",
    "return",
    "seq",
    "bc",
    "expr",
    "basename",
    "dirname",
    "realpath",
    "readlink",
    "tee",
    "getent",
    "nproc",
    "lscpu",
    "lsblk",
    "findmnt",
    "dmesg",
    "top",
    "htop",
    "less",
    "more",
    "find",
    "unset",
    "wait",
    "read",
    "numfmt",
    "timeout",
    "nslookup",
    "curlie",
    "http",
    "kubectl-neat",
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

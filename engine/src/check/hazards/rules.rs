//! The rows of the incident-hazard table, and the value flags of the tools
//! they read (`kubectl -n NS` takes a value, `kubectl logs -f` does not).
//! The detectors of tools with more to say than a row are files of their
//! own (`sql.rs`, `http.rs`, `files.rs`…).

use super::{Call, Hazard, Rule, awk, cloud, files, forms, http, redis, sql, ssh};

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
        // `rollout status` watches by default and ends with the rollout.
        detect: |c| c.is("kubectl") && c.sub(0) != Some("rollout") && c.flag("w", &["--watch", "--watch-only"]),
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
        pattern: "ssh -N",
        detect: |c| c.is("ssh") && ssh::parse(&c.args).tunnel,
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
                "vi" | "vim" | "nvim" | "nano" | "emacs" | "less" | "more" | "htop" | "k9s" | "mc" | "sudoedit"
            ) || (c.is("top") && !c.flag("b", &["--batch"]))
                || (c.is("psql") && !c.flag("cfl", &["--command", "--file", "--list"]))
                || (c.is("mysql") && !c.flag("e", &["--execute"]))
                || redis::prompt(c)
                || (c.is("ssh") && !c.wraps && {
                    let s = ssh::parse(&c.args);
                    s.command.is_empty() && !s.no_command
                })
                // `sudo -i`, `sudo -s`, `doas -s`: a shell.
                || (matches!(c.program.as_str(), "sudo" | "doas")
                    && c.args.iter().any(|a| matches!(a.as_str(), "-i" | "-s" | "--login" | "--shell")))
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
                && (matches!(c.sub(0), Some("install" | "upgrade" | "uninstall" | "delete" | "rollback" | "push"))
                    || match c.sub(0) {
                        Some("repo") => matches!(c.sub(1), Some("add" | "remove" | "rm" | "update" | "up" | "index")),
                        Some("plugin") => matches!(
                            c.sub(1),
                            Some("install" | "uninstall" | "update" | "add" | "remove" | "rm" | "up")
                        ),
                        Some("dependency" | "dep" | "dependencies") => {
                            matches!(c.sub(1), Some("update" | "up" | "build"))
                        }
                        _ => false,
                    })
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
        detect: redis::writes,
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
                            | "halt"
                            | "suspend"
                            | "hibernate"
                            | "rescue"
                            | "emergency"
                            | "set-default"
                            | "set-property"
                            | "set-environment"
                            | "unset-environment"
                            | "edit"
                            | "revert"
                            | "preset"
                            | "link"
                            | "reset-failed"
                            | "freeze"
                            | "thaw"
                            | "clean"
                    )
                ))
                || (c.is("service") && matches!(c.sub(1), Some("start" | "stop" | "restart" | "reload")))
        },
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "journalctl --vacuum-*/--rotate/--flush/…",
        detect: forms::journalctl,
        hint: "drop `read` from the step (and ask first with `confirm`): it deletes or moves journal files",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "a file written: `> FILE`, `tee FILE`, `curl -o FILE`, `wget URL`…",
        detect: files::writes,
        hint: "drop `read` from the step (and ask first with `confirm`), or keep the output off disk (`wget -O -`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "awk system()/pipe/`print > FILE`",
        detect: awk::writes,
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
                    | "cp"
                    | "ln"
                    | "mkdir"
                    | "touch"
                    | "install"
                    | "renice"
                    | "mount"
                    | "umount"
                    | "swapoff"
                    | "swapon"
                    | "modprobe"
                    | "rmmod"
                    | "insmod"
                    | "sudoedit"
            ) || c.program.starts_with("mkfs")
                || forms::writes(c)
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
        detect: http::writes,
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "SQL that writes (`psql -c \"DELETE …\"`)",
        detect: sql::writes,
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::ChangesSystem,
        pattern: "a cloud CLI that creates, changes or deletes",
        detect: cloud::writes,
        hint: "drop `read` from the step (and ask first with `confirm`)",
    },
    Rule {
        hazard: Hazard::Sudo,
        pattern: "sudo",
        detect: |c| c.sudo,
        hint: "give the step `interactive` (sudo may ask for a password on the terminal), or use `sudo -n` where no password is needed",
    },
];

#[rustfmt::skip]
pub(crate) const KUBECTL_VALUE: &[&str] = &[
    "-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server", "--as", "--as-group",
    "--token", "--request-timeout", "-l", "--selector", "-o", "--output", "-c", "--container", "-f", "--filename",
    "--field-selector", "--sort-by", "--since", "--tail", "--timeout", "--replicas", "-p", "--patch", "--type",
];
#[rustfmt::skip]
pub(crate) const HELM_VALUE: &[&str] = &[
    "-n", "--namespace", "--kube-context", "--kubeconfig", "-f", "--values", "--set", "-o", "--output",
];
#[rustfmt::skip]
pub(crate) const DOCKER_VALUE: &[&str] = &[
    "-H", "--host", "--context", "-c", "--config", "-f", "--file", "-p", "--project-name", "--profile", "--env-file",
    "--project-directory", "--log-level",
];
#[rustfmt::skip]
pub(crate) const REDIS_VALUE: &[&str] = &[
    "-h", "-p", "-a", "-n", "-u", "--user", "--pass", "-s", "--tls-cert", "--cacert", "-r", "-i", "-d", "-D", "-t",
    "--sni", "--cacertdir", "--cert", "--key", "--tls-ciphers", "--tls-ciphersuites", "--pattern", "--quoted-pattern",
    "--count", "--memkeys-samples", "--intrinsic-latency", "--rdb", "--functions-rdb", "--eval", "--cluster",
    "--show-pushes", "--lru-test", "--cluster-replicas", "--cluster-from", "--cluster-to", "--cluster-slots",
    "--cluster-timeout", "--cluster-pipeline", "--cluster-weight", "--top", "--cursor",
];

fn kubectl_writes(c: &Call) -> bool {
    match c.sub(0) {
        Some(
            "delete" | "apply" | "create" | "replace" | "patch" | "edit" | "scale" | "set" | "label" | "annotate"
            | "taint" | "cordon" | "uncordon" | "drain" | "autoscale" | "expose" | "run" | "cp",
        ) => true,
        Some("auth") => c.sub(1) == Some("reconcile"),
        Some("rollout") => matches!(c.sub(1), Some("restart" | "undo" | "pause" | "resume")),
        Some("config") => matches!(
            c.sub(1),
            Some(
                "use-context"
                    | "set-context"
                    | "set"
                    | "unset"
                    | "delete-context"
                    | "set-cluster"
                    | "set-credentials"
                    | "rename-context"
                    | "delete-cluster"
                    | "delete-user"
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
                    | "unpause"
                    | "scale"
                    | "cp"
            )
        );
    }
    match first {
        Some(
            "rm" | "rmi" | "kill" | "stop" | "restart" | "start" | "run" | "create" | "pull" | "push" | "build" | "tag"
            | "pause" | "update" | "load" | "import" | "commit" | "cp" | "rename" | "unpause",
        ) => true,
        // `docker save -o FILE`, `docker export -o FILE`: a file written.
        Some("save" | "export") => c.flag("o", &["--output"]),
        Some("system" | "image" | "container" | "volume" | "network" | "builder" | "context") => {
            matches!(
                second,
                Some(
                    "prune"
                        | "rm"
                        | "remove"
                        | "create"
                        | "stop"
                        | "kill"
                        | "restart"
                        | "start"
                        | "pull"
                        | "push"
                        | "run"
                        | "update"
                        | "rename"
                        | "pause"
                        | "unpause"
                        | "commit"
                        | "cp"
                        | "connect"
                        | "disconnect"
                        | "use"
                        | "tag"
                        | "load"
                        | "import"
                        | "build"
                )
            )
        }
        Some("service" | "stack" | "swarm" | "node") => !matches!(second, Some("ls" | "ps" | "inspect" | "logs")),
        _ => false,
    }
}

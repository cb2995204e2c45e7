//! A command as the hazard table sees it: a simple command of the tokenizer
//! with its wrappers peeled off (`sudo`, `timeout 60`, `env X=1`, `xargs`,
//! `watch`, `bash -c '…'`, and the command after `kubectl exec … --`), and
//! questions about its words (subcommand, flags, values).

use super::super::shell;
use super::rules::{DOCKER_VALUE, HELM_VALUE, KUBECTL_VALUE, REDIS_VALUE};

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

impl Call {
    pub fn is(&self, program: &str) -> bool {
        self.program == program
    }

    pub(crate) fn docker(&self) -> bool {
        matches!(self.program.as_str(), "docker" | "docker-compose" | "podman")
    }

    /// `docker logs` → `logs`; `docker compose logs` → `logs`.
    pub(crate) fn docker_sub(&self) -> Option<&str> {
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
    pub(crate) fn flags(&self) -> impl Iterator<Item = &str> {
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
    pub(crate) fn flag_cluster(&self, letters: &str) -> bool {
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

    pub(crate) fn dry_run(&self) -> bool {
        self.flags().any(|a| a == "--dry-run" || a.strip_prefix("--dry-run=").is_some_and(|v| v != "none"))
    }

    /// The redis command, lowercased (`redis-cli -n 0 FLUSHDB` → `flushdb`).
    pub(crate) fn redis_cmd(&self) -> Option<String> {
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

//! A command as the hazard table sees it: a simple command of the tokenizer
//! with its wrappers peeled off ([`super::wrappers`]), and questions about
//! its words (subcommand, flags, values).

use super::opts::{self, Parsed, Spec};
use super::rules::{DOCKER_VALUE, HELM_VALUE, KUBECTL_VALUE, REDIS_VALUE};

/// A simple command with its wrappers (`sudo`, `timeout 60`, `env X=1`,
/// `xargs`, `ssh HOST`, `kubectl exec … --`) peeled off.
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
    /// Only runs the calls after it (`watch CMD`, `ssh HOST CMD`): what it
    /// does is what they do.
    pub wraps: bool,
}

impl Call {
    pub fn is(&self, program: &str) -> bool {
        self.program == program
    }

    /// Its arguments read as getopt would, for the tool's [`Spec`].
    pub fn opts(&self, spec: &Spec) -> Parsed<'_> {
        opts::parse(&self.args, spec)
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

    pub(crate) fn dry_run(&self) -> bool {
        self.flags().any(|a| a == "--dry-run" || a.strip_prefix("--dry-run=").is_some_and(|v| v != "none"))
    }

    /// The redis command, lowercased (`redis-cli -n 0 FLUSHDB` → `flushdb`).
    pub(crate) fn redis_cmd(&self) -> Option<String> {
        self.positional(REDIS_VALUE).first().map(|s| s.to_lowercase())
    }
}

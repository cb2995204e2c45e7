//! Commands that run another command, and what they run: the hazard table
//! judges the command that runs, never the wrapper alone.
//!
//! - `sudo`, `doas`, `env`, `nice`, `nohup`, `timeout 60`, `xargs`,
//!   `stdbuf`, `ionice`, `setsid`, `chrt`, `taskset`, `exec`, `command` run
//!   the words after their options as a command;
//! - `watch` and `ssh HOST` join them with spaces for a shell to split again
//!   (`watch "ssh n1 df -h"`, `ssh n1 "sudo reboot"`), so they are split
//!   again here and each command judged;
//! - `bash -c SCRIPT` runs its script; `kubectl exec … -- CMD`, `docker exec
//!   CTR CMD` and `find -exec CMD ;` run a command besides their own work;
//! - a wrapper with nothing to run is a call of its own (`sudo -i` opens a
//!   shell, `env` prints the environment, `ionice -p PID` changes a
//!   process): it is judged as such.

use super::super::shell;
use super::opts::{self, Spec};
use super::{Call, files, ssh};

/// Peel the wrappers off every command of a body.
pub fn calls(body: &str) -> Vec<Call> {
    let mut out = Vec::new();
    for c in shell::commands(body) {
        let at = At { line: c.line, sudo: false, bounded: false, depth: 0 };
        command(at, &c, &mut out);
    }
    out
}

/// A command of a shell, and the files its redirections write: a call `>`
/// of their own (`/dev/null` and the like are no file).
fn command(at: At, c: &shell::Command, out: &mut Vec<Call>) {
    peel(at, &c.words, out);
    let files: Vec<String> = c.writes.iter().filter(|f| !files::harmless(f)).cloned().collect();
    if !files.is_empty() {
        out.push(At { sudo: false, ..at }.call(">", &files));
    }
}

/// Where a command runs: its line, and the wrappers around it.
#[derive(Clone, Copy)]
struct At {
    line: usize,
    sudo: bool,
    bounded: bool,
    depth: usize,
}

impl At {
    fn call(self, program: &str, args: &[String]) -> Call {
        Call {
            line: self.line,
            program: program.to_string(),
            args: args.to_vec(),
            sudo: self.sudo,
            bounded: self.bounded,
            wraps: false,
        }
    }

    fn inner(self) -> At {
        At { depth: self.depth + 1, ..self }
    }
}

/// How deep wrappers may nest (`sudo timeout 5 ssh n1 bash -c '…'`).
const MAX_DEPTH: usize = 8;

/// A wrapper that runs its operands as a command.
struct Wrapper {
    name: &'static str,
    spec: Spec,
    /// Operands before the command (`timeout DURATION CMD`, `chrt PRIO CMD`).
    skip: usize,
    /// Short options with which it runs nothing but acts itself (`ionice -p PID`, `command -v`).
    acts: &'static str,
}

const fn posix(short: &'static str, long: &'static [&'static str]) -> Spec {
    Spec { short, attached: "", long, posix: true }
}

#[rustfmt::skip]
const WRAPPERS: &[Wrapper] = &[
    Wrapper { name: "nice", spec: posix("n", &["--adjustment"]), skip: 0, acts: "" },
    Wrapper { name: "nohup", spec: posix("", &[]), skip: 0, acts: "" },
    Wrapper { name: "time", spec: posix("fo", &["--format", "--output"]), skip: 0, acts: "" },
    Wrapper { name: "exec", spec: posix("a", &[]), skip: 0, acts: "" },
    Wrapper { name: "command", spec: posix("", &[]), skip: 0, acts: "vV" },
    Wrapper { name: "stdbuf", spec: posix("ioe", &["--input", "--output", "--error"]), skip: 0, acts: "" },
    Wrapper {
        name: "ionice",
        spec: posix("cnpPu", &["--class", "--classdata", "--pid", "--pgid", "--uid"]),
        skip: 0,
        acts: "pPu",
    },
    Wrapper { name: "setsid", spec: posix("", &[]), skip: 0, acts: "" },
    Wrapper {
        name: "chrt",
        spec: posix("TPD", &["--sched-runtime", "--sched-period", "--sched-deadline"]),
        skip: 1,
        acts: "p",
    },
    Wrapper { name: "taskset", spec: posix("", &[]), skip: 1, acts: "p" },
    Wrapper { name: "timeout", spec: posix("ks", &["--kill-after", "--signal"]), skip: 1, acts: "" },
    Wrapper {
        name: "xargs",
        spec: Spec {
            short: "adEILnPs",
            attached: "eil",
            long: &[
                "--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars", "--max-lines",
                "--process-slot-var",
            ],
            posix: true,
        },
        skip: 0,
        acts: "",
    },
];

/// `sudo`'s options that take a value (`-u root`), and `doas`'s.
const SUDO: Spec = Spec {
    short: "aCcDgpRrTtUu",
    attached: "h",
    long: &[
        "--close-from",
        "--login-class",
        "--chdir",
        "--group",
        "--prompt",
        "--chroot",
        "--role",
        "--command-timeout",
        "--type",
        "--other-user",
        "--user",
    ],
    posix: true,
};
const DOAS: Spec = posix("aCu", &[]);
const ENV: Spec = posix("CSua", &["--chdir", "--split-string", "--unset", "--argv0"]);
const WATCH: Spec = Spec { short: "nq", attached: "d", long: &["--interval", "--equexit"], posix: true };
/// `docker exec`'s and `docker compose exec`'s options that take a value.
const DOCKER_EXEC: Spec = posix("euw", &["--env", "--env-file", "--user", "--workdir", "--detach-keys", "--index"]);

fn peel(at: At, words: &[String], out: &mut Vec<Call>) {
    let Some(first) = words.first() else { return };
    // A word with blanks is no program's path (`sudo "rm -rf x"` runs nothing by that name).
    let program = if first.contains(char::is_whitespace) { first } else { first.rsplit('/').next().unwrap_or(first) };
    let rest = &words[1..];
    if at.depth > MAX_DEPTH {
        // Nested deeper than read: what runs is not known.
        out.push(at.call(&format!("{program}…"), rest));
        return;
    }
    if let Some(w) = WRAPPERS.iter().find(|w| w.name == program) {
        let p = opts::parse(rest, &w.spec);
        let at = if program == "timeout" { At { bounded: true, ..at } } else { at };
        let cmd = &rest[(p.end + w.skip).min(rest.len())..];
        if w.acts.chars().any(|c| p.has(c, "")) || (cmd.is_empty() && program != "xargs") {
            out.push(at.call(program, rest));
        } else {
            // `xargs` without a command runs `echo`.
            peel(at.inner(), cmd, out);
        }
        return;
    }
    match program {
        "sudo" | "doas" | "sudoedit" => {
            let p = opts::parse(rest, if program == "doas" { &DOAS } else { &SUDO });
            let sudo = at.sudo || !(p.has('n', "non-interactive"));
            let at = At { sudo, ..at };
            let cmd = &rest[p.end..];
            if program == "sudoedit" || (program == "sudo" && p.has('e', "edit")) {
                out.push(at.call("sudoedit", cmd));
            } else if cmd.is_empty() || p.has('l', "list") || (program == "doas" && p.has('C', "")) {
                // A shell (`-i`, `-s`), a listing (`-l`), or sudo's own work (`-v`, `-k`).
                out.push(at.call(program, rest));
            } else {
                peel(at.inner(), cmd, out);
            }
        }
        "env" => {
            let p = opts::parse(rest, &ENV);
            let mut cmd: Vec<String> = Vec::new();
            if let Some(s) = p.get('S', "split-string") {
                cmd.extend(shell::commands(s).into_iter().flat_map(|c| c.words));
            }
            cmd.extend(rest[p.end..].iter().skip_while(|w| *w == "-" || shell::is_assignment(w)).cloned());
            if cmd.is_empty() {
                out.push(at.call(program, rest));
            } else {
                peel(at.inner(), &cmd, out);
            }
        }
        "watch" => {
            let p = opts::parse(rest, &WATCH);
            let cmd = &rest[p.end..];
            let mut call = at.call(program, rest);
            call.wraps = !cmd.is_empty();
            out.push(call);
            if p.has('x', "exec") {
                peel(at.inner(), cmd, out);
            } else {
                shell_words(at.inner(), &cmd.join(" "), out);
            }
        }
        "ssh" => {
            let s = ssh::parse(rest);
            let mut call = at.call(program, rest);
            call.wraps = !s.command.is_empty() && !s.subsystem;
            let wraps = call.wraps;
            out.push(call);
            if wraps {
                // The remote shell's own `sudo`, not ours.
                shell_words(At { sudo: false, ..at.inner() }, &s.command.join(" "), out);
            }
        }
        "bash" | "sh" | "zsh" | "dash" | "ksh" | "ash" | "mksh" => match shell_script(rest) {
            Some(script) => shell_words(at.inner(), script, out),
            None => out.push(at.call(program, rest)),
        },
        _ => {
            out.push(at.call(program, rest));
            if let Some(cmd) = runs_inside(program, rest) {
                // Inside a pod or a container: its own `sudo`, not ours.
                peel(At { sudo: false, ..at.inner() }, cmd, out);
            }
            if program == "find" {
                for cmd in find_exec(rest) {
                    peel(at.inner(), cmd, out);
                }
            }
        }
    }
}

/// The commands of a shell string (a `bash -c` script, `watch`'s or `ssh`'s joined words).
fn shell_words(at: At, script: &str, out: &mut Vec<Call>) {
    for c in shell::commands(script) {
        command(at, &c, out);
    }
}

/// The script of `bash -c SCRIPT` (also `-ec`, `-o pipefail -c`); none when
/// the shell reads a file or stdin.
fn shell_script(args: &[String]) -> Option<&str> {
    let mut c = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if a == "--" || a == "-" {
            i += 1;
            break;
        }
        if matches!(a.as_str(), "--rcfile" | "--init-file") {
            i += 2;
            continue;
        }
        if a.starts_with("--") {
            i += 1;
            continue;
        }
        let Some(cluster) = a.strip_prefix('-').or_else(|| a.strip_prefix('+')).filter(|c| !c.is_empty()) else {
            break;
        };
        c |= a.starts_with('-') && cluster.contains('c');
        // `-o pipefail`, `-eo pipefail`, `+O extglob`: the option's name follows.
        i += if cluster.ends_with(['o', 'O']) { 2 } else { 1 };
    }
    if c { args.get(i).map(String::as_str) } else { None }
}

/// The command run in a pod or a container: `kubectl exec POD -- CMD`,
/// `docker exec CTR CMD`, `docker compose exec SVC CMD`.
fn runs_inside<'a>(program: &str, args: &'a [String]) -> Option<&'a [String]> {
    match program {
        "kubectl" | "oc" if args.iter().take_while(|a| *a != "--").any(|a| a == "exec") => {
            args.iter().position(|a| a == "--").map(|i| &args[i + 1..])
        }
        "docker" | "podman" | "docker-compose" => {
            // The first word that is no option: `exec`, or `compose`/`container` then `exec`.
            let mut i = 0;
            loop {
                let a = args.get(i)?.as_str();
                if a.starts_with('-') {
                    i += if super::rules::DOCKER_VALUE.contains(&a) { 2 } else { 1 };
                } else if matches!(a, "compose" | "container") {
                    i += 1;
                } else if a == "exec" {
                    break;
                } else {
                    return None;
                }
            }
            let rest = &args[i + 1..];
            let p = opts::parse(rest, &DOCKER_EXEC);
            rest.get(p.end + 1..)
        }
        _ => None,
    }
}

/// The commands of `find … -exec CMD {} ;` (also `-execdir`, `-ok`, `-okdir`, `+`).
fn find_exec(args: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if matches!(args[i].as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
            let start = i + 1;
            let mut end = start;
            while end < args.len() && args[end] != ";" && !(args[end] == "+" && args[end - 1] == "{}") {
                end += 1;
            }
            out.push(&args[start..end]);
            i = end;
        }
        i += 1;
    }
    out
}

//! Shell completion that knows the project: runbook ids, env names, the
//! step ids of the runbook being typed (`play 2.1 --from <TAB>`) and its
//! scenario names, read from the runbook.toml found from the current
//! directory (or `--config`). clap_complete's dynamic completion runs the
//! binary at each TAB with the words typed so far (`COMPLETE=bash runbook --
//! runbook play …`); `runbook completions SHELL` prints the shell's hook.
//! Hidden subcommands (`__shim`) are never offered.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::plan::Dag;

/// The command as completion sees it: without hidden subcommands (clap
/// would offer one when nothing else matches, as `__shim` for `__`).
pub fn command() -> clap::Command {
    let full = super::Cli::command();
    let visible: Vec<clap::Command> = full.get_subcommands().filter(|s| !s.is_hide_set()).cloned().collect();
    let mut c = clap::Command::new("runbook")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(visible);
    c.build();
    c
}

/// Answer a completion request (`COMPLETE` set) and exit; else return.
pub fn answer_and_exit() {
    clap_complete::CompleteEnv::with_factory(command).bin("runbook").complete();
}

/// The hook a shell sources to complete `runbook` (`runbook completions bash`).
pub fn registration(shell: clap_complete::Shell, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let Some(sh) = shells.completer(&name) else {
        // A shell without dynamic completion: the static script.
        clap_complete::generate(shell, &mut command(), "runbook", out);
        return Ok(());
    };
    let completer = std::env::args().next().filter(|a| !a.contains('/')).unwrap_or_else(|| "runbook".to_string());
    sh.write_registration("COMPLETE", "runbook", "runbook", &completer, out)
}

/// The words typed so far (after the `--` of the completion call), without the program name.
fn typed() -> Vec<String> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let start = args.iter().position(|a| a == "--").map_or(1, |i| i + 2);
    args.iter().skip(start).map(|a| a.to_string_lossy().into_owned()).collect()
}

/// Flags that take a value, whose value is no positional argument.
const VALUE_FLAGS: [&str; 13] = [
    "--env",
    "-e",
    "--set",
    "--from",
    "--only",
    "--jobs",
    "-j",
    "--scenario",
    "--from-alert",
    "--config",
    "--format",
    "--record-fixture",
    "-o",
];

fn config() -> Option<Config> {
    let words = typed();
    let explicit = words
        .iter()
        .position(|w| w == "--config")
        .and_then(|i| words.get(i + 1))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("RUNBOOK_CONFIG").map(PathBuf::from));
    Config::discover(explicit.as_deref(), &std::env::current_dir().ok()?).ok()
}

/// The runbook id typed after the subcommand (`play 2.1 --from` → `2.1`).
fn typed_runbook() -> Option<String> {
    let words = typed();
    let sub = words.iter().position(|w| matches!(w.as_str(), "play" | "plan" | "show" | "graph"))?;
    let mut i = sub + 1;
    // The last word is the one being completed.
    while i + 1 < words.len() {
        let w = &words[i];
        if VALUE_FLAGS.contains(&w.as_str()) {
            i += 2;
            continue;
        }
        if !w.starts_with('-') && !w.is_empty() {
            return Some(w.clone());
        }
        i += 1;
    }
    None
}

pub fn runbook_ids() -> Vec<CompletionCandidate> {
    let Some(config) = config() else { return Vec::new() };
    let Ok(cat) = Catalog::load(&config) else { return Vec::new() };
    cat.runbooks.iter().map(|r| CompletionCandidate::new(&r.id).help(Some(r.title.clone().into()))).collect()
}

pub fn env_names() -> Vec<CompletionCandidate> {
    let Some(config) = config() else { return Vec::new() };
    config
        .envs
        .values()
        .map(|e| {
            let help = match e.confirm {
                crate::config::ConfirmPolicy::Marked => None,
                _ => Some("asks before writes".into()),
            };
            CompletionCandidate::new(&e.name).help(help)
        })
        .collect()
}

/// The steps of the runbook typed, in play order.
pub fn step_ids() -> Vec<CompletionCandidate> {
    let (Some(config), Some(id)) = (config(), typed_runbook()) else { return Vec::new() };
    let Ok(rb) = Catalog::find(&config, &id) else { return Vec::new() };
    let Ok(dag) = Dag::build(&rb) else { return Vec::new() };
    dag.order
        .iter()
        .map(|&i| &rb.steps[i])
        .map(|s| {
            let what = if s.attrs.read { "read" } else { "write" };
            CompletionCandidate::new(&s.id).help(Some(format!("{} {what}", s.kind.name()).into()))
        })
        .collect()
}

/// The scenarios of the typed runbook's fixture.
pub fn scenario_names() -> Vec<CompletionCandidate> {
    let (Some(config), Some(id)) = (config(), typed_runbook()) else { return Vec::new() };
    let Ok(rb) = Catalog::find(&config, &id) else { return Vec::new() };
    let path = crate::rehearse::fixture::Fixture::path_for(&config, &rb.id);
    let Ok(text) = std::fs::read_to_string(&path) else { return Vec::new() };
    let Ok(fx) = crate::rehearse::fixture::parse(&path, &text) else { return Vec::new() };
    fx.scenarios.iter().map(|s| CompletionCandidate::new(&s.name)).collect()
}

/// `latest` and the recorded runs of the project's store, newest first
/// (`report RUN_ID`). A shared store is not asked: completing a word does
/// not reach for the network.
pub fn run_ids() -> Vec<CompletionCandidate> {
    let mut out = vec![CompletionCandidate::new("latest").help(Some("the newest run".into()))];
    let Some(config) = config() else { return out };
    if config.shared_state.is_some() {
        return out;
    }
    let store = crate::store::LocalStore::new(config.state.clone());
    let Ok(rows) = crate::report::list(&store) else { return out };
    out.extend(
        rows.iter().rev().map(|r| {
            CompletionCandidate::new(&r.run).help(Some(format!("{} {}@{}", r.status, r.runbook, r.env).into()))
        }),
    );
    out
}

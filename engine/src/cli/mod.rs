//! Subcommands: each file turns parsed arguments into calls on the library
//! and prints the result. `main.rs` maps the returned [`Exit`] or error to the
//! process status.

mod alert;
pub mod args;
mod check;
pub mod complete;
mod env_hint;
pub mod fixture;
mod graph;
mod import;
mod init;
mod list;
mod mdbook;
mod plan;
pub mod play;
mod report;
mod runs;
mod serve;
mod shim;
mod show;

use std::io::Write;

use crate::config::Config;
use crate::error::{Exit, Result};
pub use args::Cli;
use args::Command;

pub fn run(cli: Cli) -> Result<Exit> {
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let config = || Config::discover(cli.config.as_deref(), &cwd);
    match cli.command {
        Command::List { json, all } => list::run(&config()?, json, all),
        Command::Show { id, json } => show::run(&config()?, &id, json),
        Command::Plan { id, env, from_alert, set, set_file, read_only, from, only, json } => {
            let config = config()?;
            let given = crate::vars::command_line(&set, &set_file, std::env::vars_os())?;
            let (id, alert) = alert::input(&config, &id, from_alert.as_deref())?;
            let mode = crate::run::event::Mode { read_only, only, from, ..Default::default() };
            plan::run(&config, &id, env.as_deref(), &alert, &given, &mode, json)
                .map_err(|e| env_hint::add(&config, env.as_deref(), e))
        }
        Command::Graph { id, format } => graph::run(&config()?, &id, format),
        Command::Play(mut a) => {
            a.given = crate::vars::command_line(&a.set, &a.set_file, std::env::vars_os())?;
            let (config, env) = (config()?, a.env.clone());
            play::run(&config, a).map_err(|e| env_hint::add(&config, env.as_deref(), e))
        }
        Command::Runs { json, prune: false, .. } => runs::run(&config()?, json),
        Command::Runs { prune: true, older_than, keep, .. } => runs::prune(&config()?, older_than, keep),
        Command::Report { run_id, format } => report::run(&config()?, &run_id, format),
        Command::Serve { listen, token } => serve::run(&config()?, listen, token),
        Command::Mdbook { command: Some(args::MdbookCommand::Supports { renderer }) } => mdbook::supports(&renderer),
        Command::Mdbook { command: None } => mdbook::run(cli.config.as_deref()),
        Command::Check { paths, format, bless, jobs, deny_warnings, contained } => {
            let config = config().map_err(|e| check::invalid_input(e, format, &cwd))?;
            check::run(&config, &paths, format, bless, jobs, deny_warnings, contained)
                .map_err(|e| check::invalid_input(e, format, &cwd))
        }
        Command::Fixture { command } => {
            let config = config()?;
            let fixture::FixtureCommand::New { env, .. } = &command;
            let env = env.clone();
            fixture::run(&config, command).map_err(|e| env_hint::add(&config, env.as_deref(), e))
        }
        Command::Import { file, output } => import::run(&file, output.as_deref()),
        Command::Init { wiki } => init::run(&cwd, wiki),
        Command::Shim { name, args } => shim::run(&name, &args),
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            complete::registration(shell, &mut out).map_err(anyhow::Error::from)?;
            out.flush().ok();
            Ok(Exit::Success)
        }
    }
}

/// Say the runbook's front-matter keys that look misspelt (`secret:`), as
/// `check` does: a play would otherwise run without what they meant.
pub fn front_matter_warnings(config: &crate::config::Config, rb: &crate::model::Runbook) {
    if !crate::parse::frontmatter::near_misses(&rb.meta).is_empty() {
        let file = if rb.path.is_absolute() { rb.path.clone() } else { config.root.join(&rb.path) };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for w in crate::parse::frontmatter::key_warnings(rb, &text) {
            crate::errln!("{w}");
        }
    }
}

/// Print to stdout, ignoring a closed pipe (`runbook list | head`); any
/// other failure is kept for the exit code ([`crate::stdout`]).
pub fn out(text: &str) {
    crate::stdout::write(text);
}

//! `runbook fixture new ID [--scenario NAME] [--env E] [--set k=v]`: scaffold a fixture
//! scenario from the plan (see [`crate::rehearse::scaffold`]). A fixture is
//! committed: a secret given with `--set` is written as `--record-fixture`
//! writes it, never its value; one not given is written the same way, so
//! a scaffold needs no secret.

use clap::Subcommand;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::error::{Diagnostic, Error, Exit, Result};
use crate::plan::Dag;
use crate::rehearse::fixture::Fixture;
use crate::rehearse::write::{self, Put};

#[derive(Debug, Subcommand)]
pub enum FixtureCommand {
    /// Write a scenario with one stub per stubbed call of the plan, outputs marked TODO.
    #[command(
        after_help = "Examples:\n  runbook fixture new 2.1-head-stall\n  runbook fixture new 2.1 --scenario prod-stall --env prod"
    )]
    New {
        /// Runbook id or unique prefix.
        id: String,
        /// Name of the scenario (default: `scaffold`).
        #[arg(long, default_value = "scaffold", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        scenario: String,
        /// Environment the plan is rendered for (and the scenario's `env`).
        #[arg(long)]
        env: Option<String>,
        /// Variables, as for `plan` (`--set k=v`); `RUNBOOK_VAR_<KEY>` sets one too. A secret's value is
        /// never written.
        #[arg(long, value_name = "K=V")]
        set: Vec<String>,
        /// Set a variable to a file's content (a secret stays out of argv); repeatable.
        #[arg(long = "set-file", value_name = "KEY=PATH")]
        set_file: Vec<String>,
    },
}

pub fn run(config: &Config, cmd: FixtureCommand) -> Result<Exit> {
    let FixtureCommand::New { id, scenario, env, set, set_file } = cmd;
    let given = crate::vars::command_line(&set, &set_file, std::env::vars_os())?;
    let profile = config.env(env.as_deref())?;
    let rb = Catalog::find(config, &id)?;
    let dag = Dag::build(&rb)?;
    // A name the runbook reads nowhere is dropped, as `play` drops it: a
    // misspelt secret (`api_tokn`) is not secret by its name.
    let (sets, unread) = crate::vars::sort_given(&rb, &given);
    for w in unread {
        crate::errln!("{w}");
    }
    let mut resolved = crate::vars::resolve(&rb, profile, &[], &sets);
    // A secret is never written, given or not: its stand-in is all a
    // scaffold needs (and what it writes in the scenario's vars).
    for m in crate::vars::missing(&rb, &resolved).into_iter().filter(|m| m.secret) {
        let stand_in = crate::model::Value::String(crate::rehearse::record::STAND_IN.into());
        resolved.insert(m.name, stand_in, crate::vars::Origin::Prompt);
    }
    // A scenario's values are the author's to give: each one nothing gives
    // is named, with the command that gives them all. One an env profile
    // sets is left to `preview::build`, which names those envs.
    let missing: Vec<_> = crate::vars::missing(&rb, &resolved)
        .into_iter()
        .filter(|m| !config.envs.values().any(|p| p.vars.contains_key(&m.name)))
        .collect();
    if !missing.is_empty() {
        let sets: Vec<String> = missing.iter().map(|m| format!("--set {}=…", m.name)).collect();
        let env = env.as_deref().map(|e| format!(" --env {e}")).unwrap_or_default();
        return Err(Error::Invalid(
            missing
                .iter()
                .map(|m| {
                    Diagnostic::error(
                        "required-variable",
                        format!(
                            "required variable `{}` has no value (read by step `{}`)",
                            m.name,
                            m.used_by.join("`, `")
                        ),
                    )
                    .at(&m.file, m.line)
                    .hint(format!(
                        "give the scenario its values: `runbook fixture new {}{env} {}` (written in its `vars`)",
                        rb.id,
                        sets.join(" ")
                    ))
                })
                .collect(),
        ));
    }
    let preview = crate::preview::build(&rb, &dag, &resolved, profile, false)?;
    let (mut sc, warnings) = crate::rehearse::scaffold::scenario(config, &rb, &preview, &scenario, env.as_deref());
    for w in &warnings {
        crate::errln!("{w}");
    }
    sc.vars = crate::rehearse::record::scenario_vars(&rb, &sets, &resolved);
    let holds = |k: &String| rb.is_secret(k) || resolved.vars.get(k).is_some_and(|v| rb.holds_secret(k, v));
    let masked: Vec<&str> = sc.vars.iter().filter(|(k, _)| holds(k)).map(|(k, _)| k.as_str()).collect();
    let path = Fixture::path_for(config, &rb.id);
    let shown = crate::catalog::display_path(&path, &config.root);
    match write::put(&path, &sc, false).map_err(Error::Other)? {
        None => Err(Error::invalid(
            Diagnostic::error("fixture", format!("scenario `{scenario}` already exists"))
                .in_file(&shown)
                .hint("choose another name with --scenario (a scaffold never overwrites a scenario)"),
        )),
        Some(done) => {
            let how = match done {
                Put::Created => "wrote",
                _ => "added to",
            };
            crate::outln!(
                "{how} {}: scenario `{scenario}` with {} stubs and {} queries, outputs marked TODO",
                shown.display(),
                sc.stubs.len(),
                sc.queries.len()
            );
            if !masked.is_empty() {
                crate::outln!(
                    "secrets not written: {} = \"{}\" in the scenario's vars, `*` in the stubs (as --record-fixture writes them)",
                    masked.join(", "),
                    crate::rehearse::record::STAND_IN
                );
            }
            crate::outln!(
                "next: fill in the TODOs (a rehearsal fails while one is left), then `runbook play {} --dry-run --scenario {scenario}`",
                rb.id
            );
            Ok(Exit::Success)
        }
    }
}

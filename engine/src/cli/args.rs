//! The command line (SPEC §4), declared with clap derive.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  runbook list                              every runbook, with its steps count
  runbook show 2.1                          a runbook by unique id prefix
  runbook plan 2.1-head-stall --env devnet  the order and the rendered commands; runs nothing
  runbook plan 4.2 --set rev=41 --json      the same, as JSON
  runbook graph 2.1 --format mermaid        the step DAG
";

#[derive(Debug, Parser)]
#[command(name = "runbook", version, about = "Executable markdown runbooks: plan, play, rehearse and check them", after_help = EXAMPLES)]
pub struct Cli {
    /// Use this runbook.toml instead of searching upwards from the current directory.
    #[arg(long, global = true, value_name = "FILE", env = "RUNBOOK_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the runbooks.
    #[command(after_help = "Example:\n  runbook list --json | jq '.[].id'")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a runbook: its variables, environments and steps.
    #[command(after_help = "Example:\n  runbook show 2.1")]
    Show {
        /// Runbook id, unique prefix, or path to a .md file.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Show the order, dependencies and rendered commands of a play; runs nothing.
    #[command(
        after_help = "Examples:\n  runbook plan 2.1-head-stall --env devnet\n  runbook plan 4.2 --set rev=41 --json"
    )]
    Plan {
        id: String,
        /// Environment profile from runbook.toml.
        #[arg(long, short)]
        env: Option<String>,
        /// Set a variable (highest precedence); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print the step DAG as Graphviz dot or mermaid.
    #[command(
        after_help = "Examples:\n  runbook graph 2.1 | dot -Tsvg > 2.1.svg\n  runbook graph 2.1 --format mermaid"
    )]
    Graph {
        id: String,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  runbook completions bash > /etc/bash_completion.d/runbook")]
    Completions { shell: clap_complete::Shell },
}

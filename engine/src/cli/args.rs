//! The command line (SPEC §4), declared with clap derive.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;

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
    /// List the runbooks (with --all, the plain markdown pages too).
    #[command(
        after_help = "Examples:\n  runbook list --json | jq '.[].id'\n  runbook list --all        pages without steps too (`runbook import` converts them)"
    )]
    List {
        /// Print JSON (an array of the runbooks) instead of text
        #[arg(long)]
        json: bool,
        /// Also list plain pages: markdown without steps, whose shell blocks `check` lints.
        #[arg(long)]
        all: bool,
    },
    /// Show a runbook: its variables, environments and steps.
    #[command(after_help = "Example:\n  runbook show 2.1")]
    Show {
        /// Runbook id, unique prefix, or path to a .md file.
        #[arg(add = ArgValueCandidates::new(super::complete::runbook_ids))]
        id: String,
        /// Print JSON (the parsed runbook and its variables) instead of text
        #[arg(long)]
        json: bool,
    },
    /// Show the order, dependencies and rendered commands of a play; runs nothing.
    #[command(
        after_help = "Examples:\n  runbook plan 2.1-head-stall --env devnet\n  runbook plan 2.1 --read-only          what a triage play runs\n  runbook plan 4.2 --set rev=41 --json"
    )]
    Plan {
        /// Runbook id or unique prefix (with --from-alert: default from [alerts.runbooks]).
        #[arg(default_value = "", hide_default_value = true, add = ArgValueCandidates::new(super::complete::runbook_ids))]
        id: String,
        /// Environment profile from runbook.toml.
        #[arg(long, short, add = ArgValueCandidates::new(super::complete::env_names))]
        env: Option<String>,
        /// Take variables from an Alertmanager webhook payload (a file, or - for stdin).
        #[arg(long, value_name = "FILE|-")]
        from_alert: Option<String>,
        /// Set a variable (highest precedence); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Set a variable to a file's content (a secret stays out of argv); repeatable.
        #[arg(long = "set-file", value_name = "KEY=PATH")]
        set_file: Vec<String>,
        /// Plan `play --read-only`: only `read` steps.
        #[arg(long)]
        read_only: bool,
        /// Plan `play --from STEP`: earlier steps are left out.
        #[arg(long, value_name = "STEP", conflicts_with = "only", add = ArgValueCandidates::new(super::complete::step_ids))]
        from: Option<String>,
        /// Plan `play --only STEP`: only this step.
        #[arg(long, value_name = "STEP", add = ArgValueCandidates::new(super::complete::step_ids))]
        only: Option<String>,
        /// Print JSON (the plan, step by step) instead of text
        #[arg(long)]
        json: bool,
    },
    /// Print the step DAG as Graphviz dot or mermaid.
    #[command(
        after_help = "Examples:\n  runbook graph 2.1 | dot -Tsvg > 2.1.svg\n  runbook graph 2.1 --format mermaid"
    )]
    Graph {
        #[arg(add = ArgValueCandidates::new(super::complete::runbook_ids))]
        id: String,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Run a runbook: the DAG in parallel, checkpointed, resumable.
    #[command(
        after_help = "Examples:\n  runbook play 2.1-head-stall --env devnet\n  runbook play 2.1 --read-only          triage: only `read` steps\n  runbook play 4.2 --env prod --set rev=41 --step\n  runbook play 2.1 --resume             continue an interrupted run\n  runbook play 2.1 --dry-run            rehearse against the fixtures"
    )]
    Play(PlayArgs),
    /// List the recorded runs (newest last).
    #[command(
        after_help = "Examples:\n  runbook runs --json | jq '.[-1].run'\n  runbook runs --prune --older-than 90d --keep 20"
    )]
    Runs {
        /// Print JSON (one object per run) instead of text
        #[arg(long)]
        json: bool,
        /// Remove old runs (their events and logs) from the store; a running run is kept, and so is a resumable one.
        #[arg(long)]
        prune: bool,
        /// With --prune: runs started longer ago than this (e.g. 90d, 12h).
        #[arg(long, requires = "prune", value_name = "AGE", value_parser = age)]
        older_than: Option<std::time::Duration>,
        /// With --prune: keep the newest N runs whatever their age (and every run --resume continues).
        #[arg(long, requires = "prune", value_name = "N")]
        keep: Option<usize>,
    },
    /// The incident timeline of a run, as markdown (paste it into the incident doc) or JSON.
    #[command(after_help = "Examples:\n  runbook report latest\n  runbook report 20261128T0315 --format json")]
    Report {
        /// Run id, a unique prefix of one, or `latest`.
        #[arg(add = ArgValueCandidates::new(super::complete::run_ids))]
        run_id: String,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
    },
    /// A live, read-only web view of the runs (and the runbooks) of the project's store.
    #[command(
        after_help = "Examples:\n  runbook serve                                  http://127.0.0.1:8089/\n  export RUNBOOK_SERVE_TOKEN=$(openssl rand -hex 16)   (readers open the URL once with ?token=…)\n  runbook serve --listen 0.0.0.0:8089\n\nA token given with --token is visible to other users in `ps`: prefer RUNBOOK_SERVE_TOKEN."
    )]
    Serve {
        /// Where to listen (host:port). Off loopback, a token is required.
        #[arg(long, default_value = "127.0.0.1:8089")]
        listen: String,
        /// Require this token: `Authorization: Bearer T`, or open the URL once with `?token=T`.
        #[arg(long, env = "RUNBOOK_SERVE_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// The mdBook 0.5 preprocessor entry point (book.toml: [preprocessor.runbook]).
    ///
    /// mdBook runs it with [context, book] as JSON on stdin and reads the book back
    /// on stdout: runbook pages lose their front matter and step attributes and gain
    /// step headers, a variables table and the plan. Not meant to be run by hand.
    #[command(
        after_help = "Example (book.toml):\n  [preprocessor.runbook]\n  command = \"target/release/runbook mdbook\""
    )]
    Mdbook {
        #[command(subcommand)]
        command: Option<MdbookCommand>,
    },
    /// Lint runbooks and rehearse every scenario of their fixtures (for CI).
    ///
    /// Without PATH, checks every runbook and fixture of runbook.toml. Exit 0: clean
    /// (warnings allowed), 1: an error finding or a failed scenario, 2: invalid
    /// input: a runbook `plan` refuses (a cycle, an undefined variable, a
    /// capture read by a step that does not need its step), or an invalid
    /// fixture or config.
    #[command(
        after_help = "Examples:\n  runbook check\n  runbook check runbooks/2.1-head-stall.md --format github\n  runbook check --bless                    rewrite the golden transcripts"
    )]
    Check {
        /// Runbook files, fixture files or directories (default: the whole config).
        paths: Vec<std::path::PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: crate::check::format::Format,
        /// Rewrite golden transcripts instead of comparing them.
        #[arg(long)]
        bless: bool,
        /// Scenarios rehearsed in parallel (default: the number of CPUs).
        #[arg(long, short, value_parser = at_least_one())]
        jobs: Option<usize>,
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        deny_warnings: bool,
        /// Fail (exit 1) when a scenario could not be rehearsed contained (CI).
        #[arg(long)]
        contained: bool,
    },
    /// Turn a plain markdown runbook into an executable one (on stdout, or into OUT).
    ///
    /// Every unannotated shell block becomes a step: `<placeholders>` become variables,
    /// diagnosis blocks `read`, the others ask first (`confirm`), never-ending commands get
    /// a `timeout`, terminal-needing ones `interactive`. Prose stays byte for byte; what was
    /// decided is printed on stderr.
    #[command(
        after_help = "Examples:\n  runbook import wiki/redis-failover.md                 print the executable page\n  runbook import wiki/redis-failover.md -o runbooks/redis-failover.md"
    )]
    Import {
        /// The markdown page to convert.
        file: PathBuf,
        /// Write here instead of stdout (never over another existing file; FILE itself converts in place).
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Start a project here: runbook.toml, an example runbook and its fixture, a CI workflow.
    #[command(
        after_help = "Examples:\n  runbook init\n  runbook init --wiki         also book.toml and runbooks/SUMMARY.md for an mdBook wiki"
    )]
    Init {
        /// Also write book.toml and runbooks/SUMMARY.md (an mdBook wiki of the runbooks).
        #[arg(long)]
        wiki: bool,
    },
    /// Write fixture scenarios: `runbook fixture new ID` scaffolds one from the plan.
    Fixture {
        #[command(subcommand)]
        command: crate::cli::fixture::FixtureCommand,
    },
    /// Answer as a rehearsal stub (used by the sandbox's path stubs).
    #[command(name = "__shim", hide = true)]
    Shim {
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print the shell hook that completes runbook ids, envs, steps and scenarios of the project.
    #[command(
        after_help = "Examples:\n  runbook completions bash > /etc/bash_completion.d/runbook\n  source <(COMPLETE=bash runbook)        the same hook, without this subcommand"
    )]
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Md,
    Json,
}

/// `runbook play` (SPEC §4).
#[derive(Debug, Clone, clap::Args)]
pub struct PlayArgs {
    /// Runbook id, unique prefix, or path to a .md file (with --from-alert: default from [alerts.runbooks]).
    #[arg(default_value = "", hide_default_value = true, add = ArgValueCandidates::new(super::complete::runbook_ids))]
    pub id: String,
    /// Take variables from an Alertmanager webhook payload (a file, or - for stdin): its labels map to
    /// variables per [alerts.labels] of runbook.toml, below --set.
    #[arg(long, value_name = "FILE|-")]
    pub from_alert: Option<String>,
    /// Environment profile from runbook.toml.
    #[arg(long, short, add = ArgValueCandidates::new(super::complete::env_names))]
    pub env: Option<String>,
    /// Set a variable (highest precedence); repeatable. `RUNBOOK_VAR_<KEY>` in the environment sets one too.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Set a variable to a file's content, without its last newline (a secret stays out of argv,
    /// which `ps` shows); repeatable.
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    pub set_file: Vec<String>,
    /// What `RUNBOOK_VAR_<KEY>`, `--set-file` and `--set` gave, in that order
    /// (filled by `cli::run` from the three).
    #[arg(skip)]
    pub given: Vec<crate::vars::Given>,
    /// Answer yes to every question (confirm, manual steps).
    #[arg(long, short)]
    pub yes: bool,
    /// Ask before every step: continue, skip or quit.
    #[arg(long)]
    pub step: bool,
    /// Run only `read` steps (triage).
    #[arg(long)]
    pub read_only: bool,
    /// Start at this step (earlier steps are skipped).
    #[arg(long, value_name = "STEP", conflicts_with = "only", add = ArgValueCandidates::new(super::complete::step_ids))]
    pub from: Option<String>,
    /// Run only this step.
    #[arg(long, value_name = "STEP", add = ArgValueCandidates::new(super::complete::step_ids))]
    pub only: Option<String>,
    /// Continue the unfinished run of this runbook and env, without asking.
    #[arg(long, conflicts_with = "fresh")]
    pub resume: bool,
    /// Start a new run even if an unfinished one exists.
    #[arg(long)]
    pub fresh: bool,
    /// Continue the run another engine holds (shared store): asks first (--yes off a terminal); that
    /// engine starts no more steps and says who took over.
    #[arg(long, conflicts_with = "fresh")]
    pub take_over: bool,
    /// Do not run `undo` blocks when the play fails.
    #[arg(long)]
    pub no_rollback: bool,
    /// Steps run in parallel at most [default: 4; a resume keeps the run's].
    #[arg(long, short, value_parser = at_least_one())]
    pub jobs: Option<usize>,
    /// Rehearse against the runbook's fixtures: real bash, fake external tools.
    /// Contained on Linux (writes vanish, no network); where namespaces are
    /// refused, the first line says `=== not contained` and only the stubs and
    /// local tools run, but what a step writes stays (docs/containment.md).
    #[arg(long)]
    pub dry_run: bool,
    /// The fixture scenario to rehearse (default: every scenario).
    #[arg(long, requires = "dry_run", value_name = "NAME", add = ArgValueCandidates::new(super::complete::scenario_names))]
    pub scenario: Option<String>,
    /// With --dry-run: refuse (exit 3) rather than rehearse uncontained.
    #[arg(long, requires = "dry_run")]
    pub contained: bool,
    /// Play for real and record every stubbed program's calls and answers into
    /// `fixtures/<id>.toml` as scenario NAME (replacing only a scenario of that name).
    #[arg(long, value_name = "NAME", conflicts_with = "dry_run", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub record_fixture: Option<String>,
}

/// `runbook mdbook supports RENDERER`, mdBook's capability query.
#[derive(Debug, Subcommand)]
pub enum MdbookCommand {
    /// Answer mdBook whether this preprocessor supports a renderer (always yes: exit 0).
    Supports { renderer: String },
}

/// `--jobs`: a whole number from 1 (0 would run nothing, for ever).
fn at_least_one() -> fn(&str) -> Result<usize, String> {
    |v| match v.parse::<usize>() {
        Ok(0) => Err("0 would run nothing: give 1 or more (1 runs one at a time)".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{v}` is not a whole number: give 1 or more")),
    }
}

/// `--older-than AGE`: humantime's syntax, and a bare number named as such.
fn age(v: &str) -> Result<std::time::Duration, String> {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{v}` has no unit: write {v}d for days (or s, m, h, w)"));
    }
    humantime::parse_duration(v).map_err(|e| e.to_string())
}

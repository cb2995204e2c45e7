//! Where a play happens: the live world ([`PlayEnv::live`]) or a rehearsal's
//! sandbox (built by `crate::rehearse`). One type, each difference a field,
//! so that the play itself never asks whether it is rehearsing: a rehearsal
//! honours every filter and checks every template exactly as a play does.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::error::Result;
use crate::observe::Backend;
use crate::store::Store;

pub struct PlayEnv {
    /// Where the run is recorded and the lock taken.
    pub store: Box<dyn Store>,
    /// Base of every step's `cwd`: the repository root, or its stand-in.
    pub root: PathBuf,
    /// First on `PATH` for steps, the guard and `requires` (the stubs).
    pub path_prefix: Option<PathBuf>,
    /// Extra environment of step processes.
    pub step_env: Vec<(String, String)>,
    /// Step processes start from the engine's environment (a play), or get
    /// only `PATH`, the play's `RUNBOOK_*` and `step_env` (a rehearsal,
    /// whose sandbox passes an allow-list: `crate::rehearse::sandbox`).
    pub inherit_env: bool,
    /// Namespace descriptors every step process enters before its `execve`
    /// (a contained rehearsal: `crate::rehearse::contain`); kept open by
    /// whoever built this for as long as the play runs.
    pub enter: Vec<std::os::fd::RawFd>,
    /// Times in events (a rehearsal's transcript has none).
    pub clock: bool,
    /// Answers promql/logql/http steps: the servers, or a scenario's fixtures.
    pub queries: Arc<dyn Backend>,
    /// The journal survives a power loss (a rehearsal's need not).
    pub durable: bool,
    /// Retry delays and a soak's intervals are waited (a play), or skipped
    /// and counted towards the play's `timeout` and the steps' `budget`
    /// on the rehearsed clock (a rehearsal: `runner::rehearsed`).
    pub waits: bool,
    /// Ready steps start one at a time, in plan order, whatever `--jobs`
    /// (a rehearsal: its decisions must not depend on which of two
    /// parallel steps calls a shared `sequence` stub first).
    pub one_at_a_time: bool,
    /// Variables nothing defines are asked for on a terminal (a rehearsal's
    /// scenario is its whole input).
    pub ask_missing: bool,
    /// The engine's own log (`_engine.log`) in the run's directory.
    pub engine_log: bool,
    /// The run is kept: `report` and `--resume` find it (a rehearsal's
    /// vanishes with its sandbox, so its closing screen offers neither).
    pub recorded: bool,
}

impl PlayEnv {
    /// A real play: the project's store, its root, the real tools.
    pub fn live(config: &Config) -> Result<PlayEnv> {
        Ok(PlayEnv::live_on(config, crate::store::open(config)?))
    }

    /// The live world with a store opened already ([`crate::store::Opening`]).
    pub fn live_on(config: &Config, store: Box<dyn crate::store::Store>) -> PlayEnv {
        PlayEnv {
            store,
            root: config.root.clone(),
            path_prefix: None,
            step_env: Vec::new(),
            inherit_env: true,
            enter: Vec::new(),
            clock: true,
            queries: Arc::new(crate::observe::Live),
            durable: true,
            waits: true,
            one_at_a_time: false,
            ask_missing: true,
            recorded: true,
            engine_log: true,
        }
    }
}

//! `runbook serve`: the live incident view of the project's store.

use crate::config::Config;
use crate::error::{Exit, Result};
use crate::serve::{self, Options};

pub fn run(config: &Config, listen: String, token: Option<String>) -> Result<Exit> {
    serve::serve(config, &Options { listen, token })
}

//! `runbook serve`: the live incident view of the project's store.

use crate::config::Config;
use crate::error::{Exit, Result};
use crate::serve::{self, Options};

pub fn run(config: &Config, listen: String, token: Option<String>) -> Result<Exit> {
    // clap takes `--token` over the environment: a token that is not the
    // environment's came from the command line.
    let token_in_argv = token.is_some() && std::env::var(serve::TOKEN_ENV).ok() != token;
    serve::serve(config, &Options { listen, token, token_in_argv })
}

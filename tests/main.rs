//! The integration tests: one binary, one module per feature.

mod common;

mod check;
mod cli;
mod complete;
mod import;
mod init;
mod mdbook;
mod observe;
mod observe_play;
mod parse;
mod plan;
mod play;
mod rehearse;
mod resume;
mod tty;
mod tty_vars;
mod warm;

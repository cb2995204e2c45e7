//! The integration tests: one binary, one module per feature.

mod common;

mod check;
mod cli;
mod complete;
mod contain;
mod faults;
mod fixtures_gen;
mod fuzz;
mod hardening;
mod import;
mod init;
mod interactive;
mod layering;
mod local_store;
mod mdbook;
mod observe;
mod observe_play;
mod parse;
mod plan;
mod play;
mod postgres;
mod rehearse;
mod report;
mod resume;
mod resume_prop;
mod run_log;
mod secrets;
mod serve;
mod serve_browser;
mod serve_reads;
mod state_setting;
mod tty;
mod tty_vars;
mod warm;
mod wiki_browser;

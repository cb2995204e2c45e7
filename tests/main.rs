//! The integration tests: one binary, one module per feature.

mod common;

mod cli;
mod parse;
mod plan;

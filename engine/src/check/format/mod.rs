//! Output formats of `check`: `human` (default), `json` (one document),
//! `junit` (for CI test reports) and `github` (workflow annotations).

pub mod github;
pub mod human;
pub mod json;
pub mod junit;

use super::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Junit,
    Github,
}

pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(report, color),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Github => github::render(report),
    }
}

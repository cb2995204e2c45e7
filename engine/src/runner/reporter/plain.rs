//! Plain lines, for pipes, CI logs and `tee`: every line says which step it
//! belongs to, so parallel output stays readable.

use std::io::Write;

use super::super::{Event, Reporter, StepStatus};
use crate::runner::time;

pub struct Plain<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> Plain<W> {
    pub fn new(out: W) -> Self {
        Plain { out }
    }
}

fn first_line(cmd: &str) -> String {
    let mut lines = cmd.trim().lines();
    let first = lines.next().unwrap_or("").to_string();
    if lines.next().is_some() { format!("{first} …") } else { first }
}

pub fn render(e: &Event) -> Vec<String> {
    match e {
        Event::RunStart { run_id, runbook, env, vars, resumed, .. } => {
            let mut v =
                vec![format!("{} {runbook} @ {env} (run {run_id})", if *resumed { "resuming" } else { "playing" })];
            if !vars.is_empty() {
                let kv: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
                v.push(format!("vars: {}", kv.join(" ")));
            }
            v
        }
        Event::StepStart { id, command, undo, .. } => {
            let what = if *undo { format!("undo {id}") } else { id.clone() };
            vec![format!("==> {what}: {}", first_line(command))]
        }
        Event::Output { id, line, .. } => vec![format!("[{id}] {line}")],
        Event::StepEnd { id, status, exit, duration, reason } => {
            let mut s = match status {
                StepStatus::Skipped | StepStatus::NotRun => format!("--- {id}: {}", status.name()),
                _ => format!("<== {id}: {}", status.name()),
            };
            if let (Some(c), StepStatus::Failed) = (exit, status) {
                s.push_str(&format!(", exit {c}"));
            }
            if let Some(d) = duration {
                s.push_str(&format!(" ({})", time::short(*d)));
            }
            if let Some(r) = reason
                && !matches!(status, StepStatus::Failed if r.starts_with("exit "))
            {
                s.push_str(&format!(": {r}"));
            }
            vec![s]
        }
        Event::Note { id: Some(id), text } => vec![format!("note [{id}]: {text}")],
        Event::Note { id: None, text } => vec![format!("note: {text}")],
        Event::RunEnd { outcome } => super::summary(outcome),
    }
}

impl<W: Write + Send> Reporter for Plain<W> {
    fn event(&mut self, e: &Event) {
        for l in render(e) {
            let _ = writeln!(self.out, "{l}");
        }
        if !matches!(e, Event::Output { .. }) {
            let _ = self.out.flush();
        }
    }
}

//! The terminal: a spinner with elapsed time per running step, the steps'
//! output above the spinners, colour unless `NO_COLOR` is set.
//!
//! An `interactive` step gets no spinner: it owns the terminal (an editor, a
//! shell, a `read`), and a spinner redrawn every 100 ms would write over
//! what it shows. It runs alone, so nothing else draws meanwhile.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::super::{Event, Reporter, StepStatus};
use crate::runner::time;

pub struct Term {
    mp: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    color: bool,
}

impl Term {
    pub fn new(color: bool) -> Self {
        Term { mp: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()), bars: HashMap::new(), color }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }

    fn print(&self, line: String) {
        if self.mp.println(&line).is_err() {
            println!("{line}");
        }
    }
}

impl Reporter for Term {
    fn event(&mut self, e: &Event) {
        match e {
            Event::StepStart { id, command, undo, interactive: true, .. } => {
                let what = if *undo { format!("undo {id}") } else { id.clone() };
                let first = command.trim().lines().next().unwrap_or("").to_string();
                let arrow = self.paint("36", ">");
                self.print(format!("{arrow} {what} (interactive: the terminal is the step's until it ends): {first}"));
            }
            Event::StepStart { id, command, undo, .. } => {
                let style = ProgressStyle::with_template(if self.color {
                    "{spinner:.cyan} {prefix:.bold} {elapsed:.dim} {msg:.dim}"
                } else {
                    "{spinner} {prefix} {elapsed} {msg}"
                })
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let pb = self.mp.add(ProgressBar::new_spinner().with_style(style));
                pb.set_prefix(if *undo { format!("undo {id}") } else { id.clone() });
                let first = command.trim().lines().next().unwrap_or("").to_string();
                pb.set_message(first);
                pb.enable_steady_tick(Duration::from_millis(100));
                self.bars.insert(id.clone(), pb);
            }
            Event::Output { id, line, .. } => {
                let p = self.paint("2", &format!("[{id}]"));
                self.print(format!("{p} {line}"));
            }
            Event::StepEnd { id, status, exit, duration, reason } => {
                if let Some(pb) = self.bars.remove(id) {
                    pb.finish_and_clear();
                    self.mp.remove(&pb);
                }
                let (mark, code) = match status {
                    StepStatus::Passed => ("✓", "32"),
                    StepStatus::Failed => ("✗", "31"),
                    StepStatus::Interrupted => ("!", "33"),
                    StepStatus::Skipped | StepStatus::NotRun => ("-", "2"),
                };
                let mut s = format!("{} {id} {}", self.paint(code, mark), status.name());
                if let (Some(c), StepStatus::Failed) = (exit, status) {
                    s.push_str(&format!(", exit {c}"));
                }
                if let Some(d) = duration {
                    s.push_str(&format!(" ({})", time::short(*d)));
                }
                if let Some(r) = reason
                    && !r.starts_with("exit ")
                {
                    s.push_str(&format!(": {r}"));
                }
                self.print(s);
            }
            other => {
                for l in super::plain::render(other) {
                    let l = match other {
                        Event::Note { .. } => self.paint("33", &l),
                        Event::RunEnd { outcome } if outcome.status != crate::runner::RunStatus::Passed => {
                            self.paint("1", &l)
                        }
                        _ => l,
                    };
                    self.print(l);
                }
            }
        }
    }

    fn suspend(&mut self, f: &mut dyn FnMut()) {
        self.mp.suspend(f)
    }
}

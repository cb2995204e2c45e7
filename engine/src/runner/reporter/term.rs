//! The terminal: a spinner with elapsed time per running step, the steps'
//! output above the spinners, colour unless `NO_COLOR` is set.
//!
//! An `interactive` step gets no spinner: it owns the terminal (an editor, a
//! shell, a `read`), and a spinner redrawn every 100 ms would write over
//! what it shows. It runs alone, so nothing else draws meanwhile.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::super::prompt::{LocalFlags, TermFlags};
use super::super::{Event, Reporter, StepStatus};
use crate::runner::time;

pub struct Term {
    mp: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    color: bool,
    /// The terminal does not echo `^C` while spinners are drawn (see
    /// [`Term::quiet_ctrl_c`]); `None` while a question or an interactive
    /// step has the terminal.
    echoctl: Option<TermFlags>,
}

impl Term {
    pub fn new(color: bool) -> Self {
        let mut t = Term {
            mp: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            bars: HashMap::new(),
            color,
            echoctl: None,
        };
        t.quiet_ctrl_c(true);
        t
    }

    /// indicatif pads each line to the terminal's width and leaves the
    /// cursor in the last column, so the `^C` a terminal echoes on Ctrl-C
    /// wraps onto a line of its own, below the lines indicatif knows it drew:
    /// clearing the spinners for the Ctrl-C question then left a stale
    /// spinner line on the screen. So the echo of control characters
    /// (`ECHOCTL`) is off while spinners may be drawn, and back on for
    /// questions and interactive steps, and when the play ends.
    fn quiet_ctrl_c(&mut self, quiet: bool) {
        self.echoctl = None;
        if quiet {
            // The terminal the spinners are drawn on (stdin may be redirected).
            let out = std::io::stdout();
            self.echoctl = Some(TermFlags::remove_on(out.as_fd(), LocalFlags::ECHOCTL, LocalFlags::empty()));
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }

    fn print(&self, line: String) {
        if self.mp.println(&line).is_err() {
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "{line}");
        }
    }
}

impl Reporter for Term {
    fn event(&mut self, e: &Event) {
        match e {
            Event::StepStart { id, command, undo, interactive: true, .. } => {
                self.quiet_ctrl_c(false);
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
                // An interactive step runs alone: the terminal is ours again.
                if self.echoctl.is_none() {
                    self.quiet_ctrl_c(true);
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
        let quiet = self.echoctl.is_some();
        self.quiet_ctrl_c(false);
        self.mp.suspend(f);
        self.quiet_ctrl_c(quiet);
    }
}

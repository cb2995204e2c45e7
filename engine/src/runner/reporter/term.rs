//! The terminal: a spinner with elapsed time per running step, the steps'
//! output above the spinners, colour unless `NO_COLOR` is set. They are
//! drawn on a [`super::screen::Screen`], whose writes never fail.
//!
//! An `interactive` step gets no spinner: it owns the terminal (an editor, a
//! shell, a `read`), and a spinner redrawn every 100 ms would write over
//! what it shows. It runs alone, so nothing else draws meanwhile.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::super::prompt::{LocalFlags, TermFlags};
use super::super::{PlayEvent, Reporter, StepStatus};
use crate::run::Event;

pub struct Term {
    mp: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    color: bool,
    /// The run is kept (else its id is not shown).
    recorded: bool,
    /// The terminal does not echo `^C` while spinners are drawn (see
    /// [`Term::quiet_ctrl_c`]); `None` while a question or an interactive
    /// step has the terminal.
    echoctl: Option<TermFlags>,
}

impl Term {
    /// For a play whose run is not kept (a rehearsal's): no run id to quote.
    pub fn not_recorded(self) -> Self {
        Term { recorded: false, ..self }
    }

    pub fn new(color: bool) -> Self {
        let mut t = Term {
            mp: MultiProgress::with_draw_target(super::screen::Screen::stdout()),
            bars: HashMap::new(),
            color,
            recorded: true,
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

    /// An engine line with its colour: the text's own control characters
    /// are shown as escapes first ([`crate::visible`]), so only the
    /// engine's colours reach the terminal.
    fn painted(&self, code: Option<&str>, s: &str) -> String {
        let s = crate::visible::text(s);
        match code {
            Some(code) => self.paint(code, &s),
            None => s.into_owned(),
        }
    }

    /// A line above the spinners, ended by a newline: indicatif's own
    /// `println` pads a line with blanks to the terminal's width instead,
    /// so a copied line, a `script` recording or a resized window would
    /// get one long line of everything.
    fn print(&self, line: String) {
        use std::io::Write as _;
        self.mp.suspend(|| {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        });
    }
}

impl Reporter for Term {
    fn event(&mut self, e: &PlayEvent) {
        match e {
            PlayEvent::Recorded(entry) => match &entry.event {
                Event::StepStart(s) if s.interactive => {
                    self.quiet_ctrl_c(false);
                    let what = if s.undo { format!("undo {}", s.step) } else { s.step.clone() };
                    let arrow = self.paint("36", ">");
                    let first = crate::visible::text(&super::plain::first_line(&s.command)).into_owned();
                    self.print(format!(
                        "{arrow} {what} (interactive: the terminal is the step's until it ends): {first}"
                    ));
                }
                // A manual step is a question: no spinner over it.
                Event::StepStart(s) if s.lang.as_deref() == Some("manual") => {}
                Event::StepStart(s) => {
                    let style = ProgressStyle::with_template(if self.color {
                        "{spinner:.cyan} {prefix:.bold} {elapsed:.dim} {msg:.dim}"
                    } else {
                        "{spinner} {prefix} {elapsed} {msg}"
                    })
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                    let pb = self.mp.add(ProgressBar::new_spinner().with_style(style));
                    pb.set_prefix(if s.undo { format!("undo {}", s.step) } else { s.step.clone() });
                    pb.set_message(crate::visible::text(&super::plain::first_line(&s.command)).into_owned());
                    pb.enable_steady_tick(Duration::from_millis(100));
                    self.bars.insert(s.step.clone(), pb);
                }
                Event::StepEnd(end) => {
                    if let Some(pb) = self.bars.remove(&end.step) {
                        pb.finish_and_clear();
                        self.mp.remove(&pb);
                    }
                    // An interactive step runs alone: the terminal is ours again.
                    if self.echoctl.is_none() {
                        self.quiet_ctrl_c(true);
                    }
                    let (mark, code) = match end.status {
                        StepStatus::Passed => ("✓", "32"),
                        StepStatus::Failed => ("✗", "31"),
                        StepStatus::Interrupted => ("!", "33"),
                        StepStatus::Skipped | StepStatus::NotRun => ("-", "2"),
                    };
                    let what = if end.undo { format!("undo {}", end.step) } else { end.step.clone() };
                    let mut s = String::new();
                    if let (Some(c), StepStatus::Failed) = (end.exit, end.status) {
                        s.push_str(&format!(", exit {c}"));
                    }
                    if let Some(d) = end.duration_ms {
                        s.push_str(&format!(" ({})", crate::time::short(Duration::from_millis(d))));
                    }
                    if let Some(r) = super::plain::reason(end) {
                        s.push_str(&format!(": {r}"));
                    }
                    let rest = self.painted(None, &format!("{what} {}{s}", end.status.name()));
                    self.print(format!("{} {rest}", self.paint(code, mark)));
                }
                other => {
                    let note = matches!(other, Event::Note(_) | Event::Stop(_) | Event::Answer(_));
                    for l in super::plain::render(e, self.recorded) {
                        let l = self.painted(note.then_some("33"), &l);
                        self.print(l);
                    }
                }
            },
            PlayEvent::Output { step, line, .. } => {
                let p = self.paint("2", &format!("[{step}]"));
                self.print(format!("{p} {}", crate::visible::text(line)));
            }
            PlayEvent::Finished(o) => {
                // A step whose end was not recorded (the run was taken
                // over) leaves no spinner behind.
                for (_, pb) in self.bars.drain() {
                    pb.finish_and_clear();
                    self.mp.remove(&pb);
                }
                for (n, l) in super::summary(o).into_iter().enumerate() {
                    let bold = n == 0 && o.status != crate::runner::RunStatus::Passed;
                    let l = self.painted(bold.then_some("1"), &l);
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

//! The screen the spinners are drawn on: the terminal of stdout, which can
//! go away under a play (the window closed, the SSH session dropped): the
//! kernel hangs it up and every write to it fails (EIO). indicatif unwraps
//! some of its writes, so one failed write would panic the engine while it
//! records the interruption. Here a failed write is dropped and the screen
//! is marked gone: nothing more is drawn on it.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use console::Term;
use indicatif::{ProgressDrawTarget, TermLike};

#[derive(Debug)]
pub struct Screen {
    term: Term,
    /// A write failed: the terminal is gone.
    gone: AtomicBool,
}

impl Screen {
    /// The draw target for stdout: hidden off a terminal or with
    /// `TERM=dumb`, as indicatif's own.
    pub fn stdout() -> ProgressDrawTarget {
        let term = Term::buffered_stdout();
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        if !term.is_term() || dumb {
            return ProgressDrawTarget::hidden();
        }
        ProgressDrawTarget::term_like_with_hz(Box::new(Screen { term, gone: AtomicBool::new(false) }), 20)
    }

    fn write(&self, f: impl FnOnce(&Term) -> io::Result<()>) -> io::Result<()> {
        if !self.gone.load(Ordering::SeqCst) && f(&self.term).is_err() {
            self.gone.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}

impl TermLike for Screen {
    fn width(&self) -> u16 {
        self.term.size().1
    }

    fn height(&self) -> u16 {
        self.term.size().0
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.write(|t| t.move_cursor_up(n))
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.write(|t| t.move_cursor_down(n))
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.write(|t| t.move_cursor_right(n))
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.write(|t| t.move_cursor_left(n))
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write(|t| t.write_line(s))
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.write(|t| t.write_str(s))
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write(|t| t.clear_line())
    }

    fn flush(&self) -> io::Result<()> {
        self.write(|t| t.flush())
    }
}

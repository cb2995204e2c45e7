//! A step that is not `interactive` runs out of the terminal's foreground
//! process group: reading the terminal stops it (SIGTTIN). On a real pty,
//! the step fails saying so, its group killed, rather than wait for ever.

use crate::common::*;
use crate::play::{alive, journal};
use crate::tty::Tty;

#[test]
fn a_step_that_reads_the_terminal_fails_saying_to_mark_it_interactive() {
    let t = Test::new().runbook(
        "s",
        r#"
        ```bash {#asks read}
        echo asking
        sleep 104404 &
        echo $! > bg.pid
        read -r pw < /dev/tty
        echo "read $pw"
        ```

        ```bash {#after read}
        echo after
        ```
        "#,
    );
    let dir = t.path().to_path_buf();
    let mut tty = Tty::spawn(&dir, &["play", "s"]);
    tty.expect("asking");
    let seen = tty.done(1);
    let why = "step `asks` tried to use the terminal (read it, or change its settings), which only an `interactive` step can: mark it `interactive`";
    assert!(seen.contains(why), "{seen}");
    assert!(!seen.contains("==> after"), "{seen}");
    let bg: i32 = std::fs::read_to_string(dir.join("bg.pid")).unwrap().trim().parse().unwrap();
    assert!(!alive(bg), "the step's group outlived it");
    assert!(journal(&dir).contains(why));
}

//! The play's waiting periods, in one place and settable (and the wait for
//! its cancel): a test (or an
//! operator with unusual needs) sets them through the environment instead of
//! sleeping through them. Values are humantime durations (`50ms`, `3s`).
//!
//! | variable | default | what |
//! |---|---|---|
//! | `RUNBOOK_GRACE` | 3s | between SIGTERM and SIGKILL of a step's process group |
//! | `RUNBOOK_SETTLE` | 250ms | for a step's group to empty by itself after its main process exited |
//! | `RUNBOOK_DRAIN` | 2s | for output still held open by a detached process |
//! | `RUNBOOK_CTRLC_WAIT` | 10s | before the Ctrl-C question quits by default |
//! | `RUNBOOK_GUARD_TIMEOUT` | 60s | for the env guard's command (then it fails: nothing is changed) |

use std::sync::OnceLock;
use std::time::Duration;

fn setting(var: &str, default: Duration, cell: &'static OnceLock<Duration>) -> Duration {
    *cell.get_or_init(|| {
        std::env::var(var).ok().and_then(|v| humantime::parse_duration(v.trim()).ok()).unwrap_or(default)
    })
}

pub fn grace() -> Duration {
    static C: OnceLock<Duration> = OnceLock::new();
    setting("RUNBOOK_GRACE", Duration::from_secs(3), &C)
}

pub fn settle() -> Duration {
    static C: OnceLock<Duration> = OnceLock::new();
    setting("RUNBOOK_SETTLE", Duration::from_millis(250), &C)
}

pub fn drain() -> Duration {
    static C: OnceLock<Duration> = OnceLock::new();
    setting("RUNBOOK_DRAIN", Duration::from_secs(2), &C)
}

pub fn ctrl_c_wait() -> Duration {
    static C: OnceLock<Duration> = OnceLock::new();
    setting("RUNBOOK_CTRLC_WAIT", Duration::from_secs(10), &C)
}

pub fn guard_timeout() -> Duration {
    static C: OnceLock<Duration> = OnceLock::new();
    setting("RUNBOOK_GUARD_TIMEOUT", Duration::from_secs(60), &C)
}

/// Resolves when the play cancels its steps (never if the sender is gone).
pub async fn cancelled(rx: &mut tokio::sync::watch::Receiver<bool>) {
    if rx.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

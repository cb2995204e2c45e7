//! The store's own async runtime, on a thread of its own: the [`Store`]
//! trait is synchronous, and its callers may be inside a runtime of their
//! own (where blocking on another runtime would panic). Work is spawned here
//! and waited for with a plain channel, which is safe from any thread but
//! one: a play's, while the runtime is lent to it ([`Rt::lend`]), where such
//! a wait is refused rather than left to wait for itself.
//!
//! [`Store`]: crate::store::Store

use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::error::{Error, Result};
use crate::store::lent::{IdleSlot, Lent};

/// What the store's thread is asked to do.
enum Ctl {
    /// Leave the runtime (send it over `.0`) until `.1` says it is back.
    Lend(SyncSender<Arc<tokio::runtime::Runtime>>, Receiver<()>),
}

pub struct Rt {
    handle: tokio::runtime::Handle,
    /// Dropped to stop the thread.
    ctl: Option<tokio::sync::mpsc::UnboundedSender<Ctl>>,
    idle: IdleSlot,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Rt {
    pub fn start() -> Result<Rt> {
        let idle: IdleSlot = Arc::default();
        let hook = idle.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(move || {
                if let Ok(h) = hook.try_lock()
                    && let Some(h) = h.as_ref()
                {
                    h();
                }
            })
            .build()
            .map_err(|e| anyhow::anyhow!("cannot start the store's runtime: {e}"))?;
        let handle = rt.handle().clone();
        let (ctl, mut rx) = tokio::sync::mpsc::unbounded_channel::<Ctl>();
        let thread = std::thread::Builder::new()
            .name("pg-store".into())
            .spawn(move || {
                let rt = Arc::new(rt);
                // The runtime is driven here, except while it is lent.
                while let Some(Ctl::Lend(lend, back)) = rt.block_on(rx.recv()) {
                    if lend.send(rt.clone()).is_ok() {
                        let _ = back.recv();
                    }
                }
            })
            .map_err(|e| anyhow::anyhow!("cannot start the store's thread: {e}"))?;
        Ok(Rt { handle, ctl: Some(ctl), idle, thread: Some(thread) })
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Run `f` on the store's runtime and wait for it.
    pub fn call<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> Result<T> {
        call(&self.handle, f)
    }

    /// The runtime, for a play to run on ([`Lent`]); `None` if the store's
    /// thread is gone.
    pub fn lend(&self) -> Option<Lent> {
        let (lend, rt) = sync_channel(1);
        let (back, wait) = sync_channel(1);
        self.ctl.as_ref()?.send(Ctl::Lend(lend, wait)).ok()?;
        let rt = rt.recv().ok()?;
        Some(Lent::new(rt, self.idle.clone(), back))
    }
}

/// Run `f` on `handle`'s runtime and wait for it, from any thread.
pub fn call<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T> {
    if crate::store::lent::on_lent_thread() {
        return Err(Error::Other(anyhow::anyhow!(
            "internal error: a blocking call to the state database from the play's own thread (please report it)"
        )));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().map_err(|_| Error::Other(anyhow::anyhow!("the state database's runtime has stopped")))
}

impl Drop for Rt {
    fn drop(&mut self) {
        self.ctl = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocking_call_from_the_thread_it_is_lent_to_is_refused_not_left_waiting_for_itself() {
        let rt = Rt::start().unwrap();
        let lent = rt.lend().expect("the store's thread lends its runtime");
        let handle = rt.handle().clone();
        let (inside, spawned) = lent.block_on(async move {
            let inside = call(&handle, async { 1 });
            // Work spawned on it runs on the play's thread meanwhile.
            let spawned = handle.spawn(async { 2 }).await.unwrap();
            (inside.is_err(), spawned)
        });
        assert!(inside, "refused while lent");
        assert_eq!(spawned, 2);
        drop(lent);
        assert_eq!(rt.call(async { 3 }).unwrap(), 3, "given back, the store's thread drives it again");
        let again = rt.lend().expect("lent again");
        assert_eq!(again.block_on(async { 4 }), 4);
    }
}

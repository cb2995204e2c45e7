//! The store's own async runtime, on a thread of its own: the [`Store`]
//! trait is synchronous, and a play calls it from inside its own runtime
//! (where blocking on another runtime would panic). Work is spawned here
//! and waited for with a plain channel, which is safe from any thread.
//!
//! [`Store`]: crate::store::Store

use std::future::Future;

use crate::error::{Error, Result};

pub struct Rt {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Rt {
    pub fn start() -> Result<Rt> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("cannot start the store's runtime: {e}"))?;
        let handle = rt.handle().clone();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("pg-store".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = rx.await;
                });
            })
            .map_err(|e| anyhow::anyhow!("cannot start the store's thread: {e}"))?;
        Ok(Rt { handle, stop: Some(stop), thread: Some(thread) })
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Run `f` on the store's runtime and wait for it.
    pub fn call<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> Result<T> {
        call(&self.handle, f)
    }
}

/// Run `f` on `handle`'s runtime and wait for it, from any thread.
pub fn call<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().map_err(|_| Error::Other(anyhow::anyhow!("the state database's runtime has stopped")))
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

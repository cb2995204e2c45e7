//! A store's own runtime, lent to a play ([`crate::store::Store::lend`]).
//!
//! The shared store does its database work on a runtime of its own. A play
//! that ran on another runtime would wake the store's thread for each of its
//! steps' commits and be woken back: two thread hand-overs per step, each
//! waiting for a CPU the steps keep busy. Lent, the store's runtime runs the
//! play's loop and the database work on one thread: a step's start is sent
//! to the database from the play's thread and its answer wakes that thread.
//!
//! While it is lent, nothing on the play's thread may block on the store:
//! the store's work only progresses when that thread polls it. What ends a
//! play (closing the writer, its last log chunks) runs after the lend is
//! given back.

use std::future::Future;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

/// What a runtime calls each time its thread is about to park.
pub type IdleSlot = Arc<Mutex<Option<Box<dyn Fn() + Send + Sync>>>>;

/// The store's runtime while a play runs on it. Dropping it gives the
/// runtime back to the store's thread.
pub struct Lent {
    // Dropped first (fields drop in order): the store's thread holds the
    // last reference once it is given back, so the runtime is dropped
    // there, never in a caller's async context.
    rt: Arc<tokio::runtime::Runtime>,
    give_back: GiveBack,
}

struct GiveBack {
    idle: IdleSlot,
    back: SyncSender<()>,
}

impl Drop for GiveBack {
    fn drop(&mut self) {
        *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let _ = self.back.send(());
    }
}

impl Lent {
    /// `rt` was built with an `on_thread_park` that calls `idle`'s hook;
    /// `back` is signalled when the lend ends.
    pub fn new(rt: Arc<tokio::runtime::Runtime>, idle: IdleSlot, back: SyncSender<()>) -> Lent {
        Lent { rt, give_back: GiveBack { idle, back } }
    }

    /// Called whenever the play's loop is idle (the writer's group commit).
    pub fn on_idle(&self, hook: Option<Box<dyn Fn() + Send + Sync>>) {
        *self.give_back.idle.lock().unwrap_or_else(|p| p.into_inner()) = hook;
    }

    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                ON_LENT.set(self.0);
            }
        }
        let _reset = Reset(ON_LENT.replace(true));
        self.rt.block_on(f)
    }
}

thread_local! {
    static ON_LENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Is this thread running a play on a lent runtime? A blocking call into
/// the store from here would wait for itself.
pub fn on_lent_thread() -> bool {
    ON_LENT.get()
}

//! The engine's connections to the shared store. One is opened with the
//! store, and it does everything of a play: the schema check, the lock (its
//! session holds the advisory lock, and hears take-overs), the reads, and
//! the writer's fenced inserts. A connection is a backend process of the
//! team's server: starting one costs the server several milliseconds of
//! CPU, which a play on a busy machine waits for. The pool is there for
//! when that connection broke (a database restart): then every query takes
//! one of its connections, and the lease opens one of its own.
//!
//! Step logs go over it too ([`super::logs`]): a play is one backend.
//! Every wait on them is bounded by their [`Patience`].

use std::ops::Deref;
use std::sync::Arc;

use tokio_postgres::Client;

use super::patience::Patience;

/// A connection to query on: the engine's own, or one of the pool.
pub enum Conn {
    Main(Arc<Client>),
    Pooled(Box<deadpool_postgres::Object>),
}

impl Deref for Conn {
    type Target = Client;

    fn deref(&self) -> &Client {
        match self {
            Conn::Main(c) => c,
            Conn::Pooled(o) => o,
        }
    }
}

#[derive(Clone)]
pub struct Conns {
    pub main: Arc<Client>,
    pub pool: deadpool_postgres::Pool,
    pub patience: Patience,
}

impl Conns {
    /// The engine's connection while it works, else one of the pool.
    pub async fn get(&self) -> Result<Conn, deadpool_postgres::PoolError> {
        if !self.main.is_closed() {
            return Ok(Conn::Main(self.main.clone()));
        }
        self.pool.get().await.map(|o| Conn::Pooled(Box::new(o)))
    }
}

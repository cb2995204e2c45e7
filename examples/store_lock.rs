//! Lock acquisition time of a store (scripts/bench, section `store`): N
//! times, open the store as a play does, then time taking the lock of one
//! runbook@env (and let it go); print the median and the 95th percentile.
//! `store_lock STATE [N]`, STATE a directory or a `postgres://` URL.

use std::time::Instant;

use runbook::store::{Holder, LocalStore, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let state = args.next().ok_or("usage: store_lock STATE [N]")?;
    let n: usize = args.next().map_or(Ok(50), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let me = Holder::me();
    let mut ms = Vec::with_capacity(n);
    let mut name = String::new();
    for _ in 0..n {
        let store: Box<dyn Store> = if state.starts_with("postgres") {
            Box::new(runbook::store::postgres::PgStore::open(&state, dir.path().to_path_buf())?)
        } else {
            Box::new(LocalStore::new(state.clone().into()))
        };
        name = store.name();
        let t = Instant::now();
        let lease = store.lock("bench-lock", "local", &me)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(lease);
    }
    ms.sort_by(f64::total_cmp);
    let p95 = ms[(ms.len() * 95 / 100).min(ms.len() - 1)];
    println!("lock {name}: median {:.2} ms, p95 {p95:.2} ms over {n} (target < 10 ms)", ms[ms.len() / 2]);
    Ok(())
}

-- The lock's heartbeat (lease.rs): while it plays, the holder sets `beat`
-- every few seconds and counts as alive for `ttl` after it, or after the
-- server started if that is later, even when its advisory lock is gone (a
-- restart frees every advisory lock, a live holder's too). `machine` says
-- where the holder runs: a taker on the same machine asks its process.
ALTER TABLE runbook_locks
    ADD COLUMN beat timestamptz,
    ADD COLUMN ttl interval,
    ADD COLUMN machine text NOT NULL DEFAULT '';

-- Each event names the session that made it (its lock token): a spool is
-- written back only where its session left off (spool.rs).
ALTER TABLE runbook_events ADD COLUMN token bigint;

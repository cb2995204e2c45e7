-- A run's events and logs go with it when `runs --prune` deletes it, in the
-- same statement (mod.rs, prune), rather than through foreign keys: checking
-- the key took about a sixth of the server's time for each commit of a
-- step's start, which a play waits for.
ALTER TABLE runbook_events DROP CONSTRAINT IF EXISTS runbook_events_run_fkey;
ALTER TABLE runbook_logs DROP CONSTRAINT IF EXISTS runbook_logs_run_fkey;

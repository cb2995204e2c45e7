-- The shared store (SPEC §6): runs, their events and step logs, and one lock row per runbook@env.
CREATE TABLE runbook_runs (
    id       text PRIMARY KEY,
    runbook  text NOT NULL,
    env      text NOT NULL,
    created  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runbook_runs_by_runbook ON runbook_runs (runbook, env);

CREATE TABLE runbook_events (
    run   text NOT NULL REFERENCES runbook_runs (id) ON DELETE CASCADE,
    seq   bigint NOT NULL,
    body  text NOT NULL,
    PRIMARY KEY (run, seq)
);

CREATE TABLE runbook_logs (
    run   text NOT NULL REFERENCES runbook_runs (id) ON DELETE CASCADE,
    step  text NOT NULL,
    n     integer NOT NULL,
    data  bytea NOT NULL,
    PRIMARY KEY (run, step, n)
);

CREATE TABLE runbook_locks (
    runbook  text NOT NULL,
    env      text NOT NULL,
    token    bigint NOT NULL,
    holder   text NOT NULL DEFAULT '',
    PRIMARY KEY (runbook, env)
);

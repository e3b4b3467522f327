-- esg-sync state, version 7 (postgres): several replicas on one store, and alerts.
-- A lease carries a fencing token that grows with each acquisition and is never reset (a
-- released lease keeps its row, expired); every state write of a run carries its token and is
-- refused once another process took the lease.
ALTER TABLE pipeline_leases ADD COLUMN token BIGINT NOT NULL DEFAULT 0;
-- The replica that ran each run.
ALTER TABLE runs ADD COLUMN holder TEXT;
-- Each tick of a schedule is claimed by exactly one replica; the others skip it.
CREATE TABLE schedule_claims (
    pipeline TEXT NOT NULL,
    tick TEXT NOT NULL,
    holder TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (pipeline, tick)
);
-- Claims older than a week are dropped by when they were claimed.
CREATE INDEX schedule_claims_age ON schedule_claims (pipeline, claimed_at);
-- Conditions an alert was sent for and that have not cleared (a stale pipeline): one alert
-- until it recovers, whichever replica notices.
CREATE TABLE alert_conditions (
    pipeline TEXT NOT NULL,
    event TEXT NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (pipeline, event)
);
-- Every alert delivery and its outcome.
CREATE TABLE alert_deliveries (
    id BIGSERIAL PRIMARY KEY,
    alert TEXT NOT NULL,
    event TEXT NOT NULL,
    pipeline TEXT,
    run_id BIGINT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    http_status BIGINT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

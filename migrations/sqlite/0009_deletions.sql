-- esg-sync state, version 9: deletions. A mirror-mode deletion is recorded, through the
-- run's fence, before it is sent (pending), and confirmed (deleted) in the transaction that
-- counts its values in the run; one left pending by a stop becomes unconfirmed.
CREATE TABLE deletions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id BIGINT NOT NULL,
    pipeline TEXT NOT NULL,
    program_id TEXT NOT NULL,
    metric_id TEXT NOT NULL,
    value_count BIGINT NOT NULL,
    ids TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX deletions_open ON deletions (pipeline, status);
CREATE INDEX deletions_run ON deletions (run_id);

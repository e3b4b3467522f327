-- esg-sync state, version 3 (sqlite): who is running each pipeline. A run holds its
-- pipeline's lease and renews it; another process (a second daemon on the same store, a
-- run-now backfill) finds it held and does not start. A lease whose holder died expires.
CREATE TABLE pipeline_leases (
    pipeline TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

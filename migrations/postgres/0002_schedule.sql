-- esg-sync state, version 2 (postgres): the daemon's schedule. The last tick each pipeline's
-- schedule handled (ran, or skipped because the pipeline was still running), so that after
-- downtime the catch-up policy knows which ticks were missed.
CREATE TABLE schedule_ticks (
    pipeline TEXT PRIMARY KEY,
    last_tick TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

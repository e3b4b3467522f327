-- esg-sync state, version 1 (postgres). Timestamps are RFC 3339 text so one set of queries serves
-- SQLite and Postgres alike.

-- Names resolved in Workiva, cached: a program, metric or dimension by name -> its id.
CREATE TABLE mappings (
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    workiva_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, scope, name)
);

-- One row per run of a pipeline.
CREATE TABLE runs (
    id BIGSERIAL PRIMARY KEY,
    pipeline TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    rows_read BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    deleted BIGINT NOT NULL DEFAULT 0,
    locked BIGINT NOT NULL DEFAULT 0,
    message TEXT
);
CREATE INDEX runs_pipeline ON runs (pipeline, id);

-- Every batch, recorded before it is sent; its operation URL as soon as Workiva gives one.
CREATE TABLE batches (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL,
    pipeline TEXT NOT NULL,
    program_id TEXT NOT NULL,
    metric_id TEXT NOT NULL,
    value_count BIGINT NOT NULL,
    body BYTEA NOT NULL,
    status TEXT NOT NULL,
    operation_url TEXT,
    detail TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX batches_open ON batches (pipeline, status);
CREATE INDEX batches_run ON batches (run_id);

-- Rows that could not go, with the reason.
CREATE TABLE rejects (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL,
    pipeline TEXT NOT NULL,
    source_file TEXT NOT NULL,
    source_row BIGINT NOT NULL,
    field TEXT NOT NULL,
    reason TEXT NOT NULL,
    metric_key TEXT,
    period TEXT,
    value TEXT
);
CREATE INDEX rejects_run ON rejects (run_id);

-- esg-sync state, version 12: hand edits. Each value a run found edited by a person in
-- Workiva since esg-sync last wrote it (by the ledger), which the lake would change again:
-- kept (on_hand_edit = "keep") or overwritten. `runs` counts the kept ones, the status page
-- lists them, and `edit` (the SHA-256 of the value's key and of what the person entered)
-- tells an edit already found by an earlier run from a new one, so its alert goes out once.
-- Retention drops them with their run.
CREATE TABLE hand_edits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id BIGINT NOT NULL,
    pipeline TEXT NOT NULL,
    metric TEXT NOT NULL,
    metric_key TEXT NOT NULL,
    period TEXT NOT NULL,
    coordinates TEXT NOT NULL,
    value_id TEXT,
    written_value TEXT,
    written_notes TEXT,
    found_value TEXT,
    found_notes TEXT,
    lake_value TEXT,
    since_run BIGINT NOT NULL,
    kept BIGINT NOT NULL,
    edit TEXT NOT NULL
);
CREATE INDEX hand_edits_run ON hand_edits (run_id);
CREATE INDEX hand_edits_edit ON hand_edits (pipeline, edit);

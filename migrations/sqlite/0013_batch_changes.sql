-- esg-sync state, version 13: what a batch will record in the ledger once confirmed is kept
-- in a table of its own, `batch_changes`, one row per batch, no longer in `batches.changes`.
-- A batch's row is updated as it goes (sent, completed); on SQLite an UPDATE rewrites the
-- whole row, so a megabyte of changes in it was copied twice per batch while every other
-- write waited. Retention drops a batch's changes with its body, and with its run.
CREATE TABLE batch_changes (
    batch_id BIGINT PRIMARY KEY,
    changes TEXT NOT NULL
);
INSERT INTO batch_changes (batch_id, changes) SELECT id, changes FROM batches WHERE changes IS NOT NULL;
UPDATE batches SET changes = NULL WHERE changes IS NOT NULL;

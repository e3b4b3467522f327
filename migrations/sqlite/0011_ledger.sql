-- esg-sync state, version 11: the value ledger. One entry per value change Workiva confirmed,
-- appended in the transaction that confirms it; each entry holds the SHA-256 of its own
-- canonical content chained to the entry before it, and the database refuses to change or
-- remove one. What a batch or deletion will record once confirmed is kept with it (`changes`,
-- written with the batch before it is sent), so a run resumed after a crash records each change
-- once, and a batch that fails records nothing; retention drops them with the batch's body.
-- Besides the content, an entry keeps only the columns it is looked up by, each checked
-- against the content by `esg-sync ledger verify`.
CREATE TABLE ledger (
    seq BIGINT PRIMARY KEY,
    program_id TEXT NOT NULL,
    metric_id TEXT NOT NULL,
    year BIGINT NOT NULL,
    coordinates TEXT NOT NULL,
    action TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    content TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX ledger_value ON ledger (program_id, metric_id, year, coordinates);
CREATE INDEX ledger_run ON ledger (run_id);
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: its entries are never changed');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: its entries are never removed');
END;
ALTER TABLE batches ADD COLUMN changes TEXT;
ALTER TABLE deletions ADD COLUMN changes TEXT;

-- esg-sync state, version 8: retention. A batch's body (up to 10 MB) is kept only for
-- [store] keep_batch_bodies_days once it has an outcome; its SHA-256 and size stay.
ALTER TABLE batches ADD COLUMN body_sha256 TEXT;
ALTER TABLE batches ADD COLUMN body_bytes BIGINT;
CREATE INDEX batches_age ON batches (updated_at);
CREATE INDEX runs_age ON runs (finished_at);

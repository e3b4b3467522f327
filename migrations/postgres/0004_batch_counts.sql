-- How many values of each batch are creates and updates, so the run that sees a batch's
-- operation complete counts its values at once: a run killed later still shows what its
-- completed batches wrote, and the run that resumes a batch counts it.
ALTER TABLE batches ADD COLUMN creates BIGINT NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN updates BIGINT NOT NULL DEFAULT 0

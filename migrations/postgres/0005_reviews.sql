-- Threshold review ([pipeline.review]): each value a run wrote that the review judged, with
-- the prior year's value, the change and the reason, so `review report` can list the
-- flagged ones and `runs` can count both kinds.
CREATE TABLE reviews (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL,
    pipeline TEXT NOT NULL,
    metric TEXT NOT NULL,
    period TEXT NOT NULL,
    coordinates TEXT NOT NULL,
    value TEXT NOT NULL,
    prior TEXT,
    delta TEXT,
    delta_percent TEXT,
    flagged BIGINT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX reviews_run ON reviews (run_id)

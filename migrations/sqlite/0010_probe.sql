-- esg-sync state, version 10: the readiness probe's row. `/readyz` commits a write here (each
-- replica its own row), so a store that refuses writes (read-only, full, locked) is not ready.
CREATE TABLE store_probe (
    replica TEXT PRIMARY KEY,
    probed_at TEXT NOT NULL
);

//! What a run produces and the sync-state store records: a run's counts and the rows it
//! rejected. Plain data at the bottom of the house, so the sync engine that makes them and the
//! store that keeps them both stand on it (the engine re-exports them as `sync::Counts` and
//! `sync::Reject`).

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub read: i64,
    pub rejected: i64,
    pub unchanged: i64,
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
    pub locked: i64,
}

/// A rejected source row: where it came from, the field at fault and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reject {
    pub source_file: String,
    pub source_row: i64,
    pub field: String,
    pub reason: String,
    pub metric_key: Option<String>,
    pub period: Option<String>,
    pub value: Option<String>,
}

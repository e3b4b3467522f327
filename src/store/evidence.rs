//! What an evidence pack reads from the state store for one program and year: the ledger's
//! entries with their hashes, the chain's head, and the year's rejects, threshold reviews
//! and final-reviewer decisions. Reads only.

use sqlx::Row;

use super::decisions::Decision;
use super::{Result, Store, q};
use crate::ledger::Stored;
use crate::outcome::{Reject, Reviewed};

/// A reject with the run that found it.
pub type RunReject = (i64, Reject);

/// A threshold review with the run that made it.
pub type RunReview = (i64, Reviewed);

/// Entries as stored, from rows of the ledger's ten columns in order.
pub(super) fn stored(rows: &[sqlx::any::AnyRow]) -> Vec<Stored> {
    rows.iter()
        .map(|r| Stored {
            seq: r.get(0),
            program_id: r.get(1),
            metric_id: r.get(2),
            year: r.get(3),
            coordinates: r.get(4),
            action: r.get(5),
            run_id: r.get(6),
            content: r.get(7),
            prev_hash: r.get(8),
            hash: r.get(9),
        })
        .collect()
}

/// The label pattern of a year's periods: `2025` itself, or `2025-…`.
fn year_like(year: i64) -> (String, String) {
    (year.to_string(), format!("{year}-%"))
}

impl Store {
    /// Every ledger entry of `program` in `year`, in order, as stored (content and hashes).
    pub async fn ledger_of_year(&self, program: &str, year: i64) -> Result<Vec<Stored>> {
        let rows = sqlx::query(
            "SELECT seq, program_id, metric_id, year, coordinates, action, run_id, content, prev_hash, hash \
             FROM ledger WHERE program_id = $1 AND year = $2 ORDER BY seq",
        )
        .bind(program)
        .bind(year)
        .fetch_all(&self.reads)
        .await
        .map_err(q("read a year's ledger entries"))?;
        Ok(stored(&rows))
    }

    /// The entries run `run_id` appended, in order, as stored (the status page's download).
    pub async fn ledger_stored_of_run(&self, run_id: i64) -> Result<Vec<Stored>> {
        let rows = sqlx::query(
            "SELECT seq, program_id, metric_id, year, coordinates, action, run_id, content, prev_hash, hash \
             FROM ledger WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(&self.reads)
        .await
        .map_err(q("read a run's ledger entries"))?;
        Ok(stored(&rows))
    }

    /// The chain's last entry: its number and hash (none while the ledger is empty).
    pub async fn ledger_head(&self) -> Result<Option<(i64, String)>> {
        let row = sqlx::query("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.reads)
            .await
            .map_err(q("read the ledger's last entry"))?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// The rejects of `pipelines`' runs whose period is in `year`, in the order recorded. A
    /// row rejected before its period was known (no period) belongs to no year.
    pub async fn rejects_of_year(&self, pipelines: &[String], year: i64) -> Result<Vec<RunReject>> {
        let (exact, like) = year_like(year);
        let mut out = Vec::new();
        for p in pipelines {
            let rows = sqlx::query(
                "SELECT source_file, source_row, field, reason, metric_key, period, value, id, run_id FROM rejects \
                 WHERE pipeline = $1 AND (period = $2 OR period LIKE $3) ORDER BY id",
            )
            .bind(p.as_str())
            .bind(exact.as_str())
            .bind(like.as_str())
            .fetch_all(&self.reads)
            .await
            .map_err(q("list a year's rejects"))?;
            out.extend(
                rows.iter()
                    .map(|r| (r.get::<i64, _>(8), super::rejects::reject_from_row(r))),
            );
        }
        Ok(out)
    }

    /// The threshold reviews of `pipelines`' runs whose period is in `year`, in order.
    pub async fn reviews_of_year(&self, pipelines: &[String], year: i64) -> Result<Vec<RunReview>> {
        let (exact, like) = year_like(year);
        let mut out = Vec::new();
        for p in pipelines {
            let rows = sqlx::query(
                "SELECT metric, period, coordinates, value, prior, delta, delta_percent, flagged, reason, run_id \
                 FROM reviews WHERE pipeline = $1 AND (period = $2 OR period LIKE $3) ORDER BY id",
            )
            .bind(p.as_str())
            .bind(exact.as_str())
            .bind(like.as_str())
            .fetch_all(&self.reads)
            .await
            .map_err(q("list a year's reviews"))?;
            out.extend(rows.iter().map(|r| {
                (
                    r.get::<i64, _>("run_id"),
                    super::reviews::review_from_row(r),
                )
            }));
        }
        Ok(out)
    }

    /// The final reviewers' decisions on `program`'s tasks, oldest first.
    pub async fn decisions_of_program(&self, program: &str) -> Result<Vec<Decision>> {
        let rows = sqlx::query("SELECT * FROM decisions WHERE program_id = $1 ORDER BY id")
            .bind(program)
            .fetch_all(&self.reads)
            .await
            .map_err(q("list a program's decisions"))?;
        rows.iter().map(Self::decision_from_row).collect()
    }
}

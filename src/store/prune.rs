//! Retention: the state store stays small. A batch's body is dropped once the batch has an
//! outcome and is older than `[store] keep_batch_bodies_days` (its SHA-256 and size stay);
//! runs finished before `[store] keep_runs_days`, with their batches, rejects and reviews, are
//! deleted, except each pipeline's newest run. Open batches (`pending`, `sent`) are never
//! touched: a resuming run needs them.

use chrono::{DateTime, Utc};

use super::{Result, Store, q, stamp};

/// What a prune removed (or, dry, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// Batch bodies dropped.
    pub bodies: u64,
    /// Bytes of the bodies dropped.
    pub body_bytes: u64,
    /// Runs deleted, with their batches, rejects and reviews.
    pub runs: u64,
}

/// The runs old enough to go: finished before `$1`, and not their pipeline's newest.
const OLD_RUNS: &str = "SELECT r.id FROM runs r WHERE r.finished_at IS NOT NULL AND r.finished_at < $1 \
     AND r.id < (SELECT MAX(n.id) FROM runs n WHERE n.pipeline = r.pipeline) \
     AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.run_id = r.id AND b.status IN ('pending', 'sent')) \
     AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.run_id = r.id AND d.status = 'pending')";

/// Batch bodies old enough to go: with an outcome, last changed before `$1`, not yet empty.
const OLD_BODIES: &str = "FROM batches WHERE status NOT IN ('pending', 'sent') AND updated_at < $1 AND body_bytes IS NOT NULL AND length(body) > 0";

impl Store {
    /// Drops batch bodies last changed before `bodies_before` and runs finished before
    /// `runs_before` (none when `None`); with `dry`, only counts what would go.
    pub async fn prune(
        &self,
        bodies_before: DateTime<Utc>,
        runs_before: Option<DateTime<Utc>>,
        dry: bool,
    ) -> Result<Pruned> {
        let cut = stamp(bodies_before);
        let row: (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(body_bytes), 0) AS BIGINT) {OLD_BODIES}"
        )))
        .bind(cut.clone())
        .fetch_one(&self.pool)
        .await
        .map_err(q("count old batch bodies"))?;
        let mut out = Pruned {
            bodies: row.0 as u64,
            body_bytes: row.1 as u64,
            runs: 0,
        };
        if let Some(before) = runs_before {
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM ({OLD_RUNS}) old"
            )))
            .bind(stamp(before))
            .fetch_one(&self.pool)
            .await
            .map_err(q("count old runs"))?;
            out.runs = n as u64;
        }
        if dry {
            return Ok(out);
        }
        let empty: Vec<u8> = Vec::new();
        self.ride("drop old batch bodies", || async {
            let mut tx = self.write("drop old batch bodies").await?;
            // The ledger's changes go with the body (first, while the body still marks the
            // batch): a batch with an outcome has recorded them (or never will).
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM batch_changes WHERE batch_id IN (SELECT id {OLD_BODIES})"
            )))
            .bind(cut.clone())
            .execute(&mut *tx)
            .await
            .map_err(q("drop old batch changes"))?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE batches SET body = $2 WHERE id IN (SELECT id {OLD_BODIES})"
            )))
            .bind(cut.clone())
            .bind(empty.clone())
            .execute(&mut *tx)
            .await
            .map_err(q("drop old batch bodies"))?;
            tx.commit().await.map_err(q("drop old batch bodies"))
        })
        .await?;
        if let Some(before) = runs_before {
            let t = stamp(before);
            self.ride("delete old runs", || self.delete_runs_before(t.clone()))
                .await?;
        }
        Ok(out)
    }

    async fn delete_runs_before(&self, t: String) -> Result<()> {
        let mut tx = self.write("delete old runs").await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM batch_changes WHERE batch_id IN (SELECT id FROM batches WHERE run_id IN ({OLD_RUNS}))"
        )))
        .bind(t.clone())
        .execute(&mut *tx)
        .await
        .map_err(q("delete old runs"))?;
        for table in ["rejects", "reviews", "hand_edits", "batches", "deletions"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE run_id IN ({OLD_RUNS})"
            )))
            .bind(t.clone())
            .execute(&mut *tx)
            .await
            .map_err(q("delete old runs"))?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM runs WHERE id IN ({OLD_RUNS})"
        )))
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(q("delete old runs"))?;
        tx.commit().await.map_err(q("delete old runs"))
    }
}

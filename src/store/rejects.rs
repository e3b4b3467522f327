//! Rejected rows of each run.

use sqlx::Row;

use super::{Reject, Result, Store, q};

/// Rejects written per transaction: a run with a million rejects never holds the store's
/// write lock for long, and lease renewals and other writes get in between.
const CHUNK: usize = 500;

impl Store {
    /// Records a run's rejects, [`CHUNK`] to a transaction, each riding out an outage.
    pub async fn rejects_insert(
        &self,
        run_id: i64,
        pipeline: &str,
        rejects: &[Reject],
    ) -> Result<()> {
        for part in rejects.chunks(CHUNK) {
            self.ride("record rejects", || {
                self.rejects_insert_once(run_id, pipeline, part)
            })
            .await?;
        }
        Ok(())
    }

    async fn rejects_insert_once(
        &self,
        run_id: i64,
        pipeline: &str,
        rejects: &[Reject],
    ) -> Result<()> {
        let mut tx = self.write("begin recording rejects").await?;
        for r in rejects {
            sqlx::query(
                "INSERT INTO rejects (run_id, pipeline, source_file, source_row, field, reason, metric_key, period, value) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(run_id)
            .bind(pipeline)
            .bind(r.source_file.clone())
            .bind(r.source_row)
            .bind(r.field.clone())
            .bind(r.reason.clone())
            .bind(r.metric_key.clone())
            .bind(r.period.clone())
            .bind(r.value.clone())
            .execute(&mut *tx)
            .await
            .map_err(q("record a reject"))?;
        }
        tx.commit().await.map_err(q("commit rejects"))?;
        Ok(())
    }

    pub async fn rejects(&self, run_id: i64) -> Result<Vec<Reject>> {
        let rows = sqlx::query(
            "SELECT source_file, source_row, field, reason, metric_key, period, value FROM rejects WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list rejects"))?;
        Ok(rows.iter().map(reject_from_row).collect())
    }

    /// The first `limit` rejects of run `run_id`, and how many it has in all.
    pub async fn rejects_first(&self, run_id: i64, limit: i64) -> Result<(Vec<Reject>, i64)> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM rejects WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await
            .map_err(q("count rejects"))?
            .get(0);
        let rows = sqlx::query(
            "SELECT source_file, source_row, field, reason, metric_key, period, value FROM rejects WHERE run_id = $1 ORDER BY id LIMIT $2",
        )
        .bind(run_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list rejects"))?;
        Ok((rows.iter().map(reject_from_row).collect(), total))
    }
}

fn reject_from_row(r: &sqlx::any::AnyRow) -> Reject {
    Reject {
        source_file: r.get(0),
        source_row: r.get(1),
        field: r.get(2),
        reason: r.get(3),
        metric_key: r.get(4),
        period: r.get(5),
        value: r.get(6),
    }
}

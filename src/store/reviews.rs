//! Reviews: the values a run's threshold review judged, for `review report` and the counts of
//! `runs`.

use sqlx::Row;

use super::{Result, Store, q};
use crate::outcome::Reviewed;

impl Store {
    pub async fn reviews_insert(
        &self,
        run_id: i64,
        pipeline: &str,
        items: &[Reviewed],
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut tx = self.write("begin recording reviews").await?;
        for r in items {
            sqlx::query(
                "INSERT INTO reviews (run_id, pipeline, metric, period, coordinates, value, prior, delta, delta_percent, flagged, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(run_id)
            .bind(pipeline)
            .bind(r.metric.clone())
            .bind(r.period.clone())
            .bind(r.coordinates.clone())
            .bind(r.value.clone())
            .bind(r.prior.clone())
            .bind(r.delta.clone())
            .bind(r.delta_percent.clone())
            .bind(r.flagged as i64)
            .bind(r.reason.clone())
            .execute(&mut *tx)
            .await
            .map_err(q("record a review"))?;
        }
        tx.commit().await.map_err(q("commit reviews"))?;
        Ok(())
    }

    /// The values run `run_id` reviewed, in order; only the flagged ones with `flagged_only`.
    pub async fn reviews(&self, run_id: i64, flagged_only: bool) -> Result<Vec<Reviewed>> {
        let rows = sqlx::query(
            "SELECT metric, period, coordinates, value, prior, delta, delta_percent, flagged, reason \
             FROM reviews WHERE run_id = $1 AND flagged >= $2 ORDER BY id",
        )
        .bind(run_id)
        .bind(flagged_only as i64)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list reviews"))?;
        Ok(rows.iter().map(review_from_row).collect())
    }

    /// How many values run `run_id` auto-completed and flagged.
    pub async fn review_counts(&self, run_id: i64) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT CAST(COALESCE(SUM(1 - flagged), 0) AS BIGINT) AS ok, \
             CAST(COALESCE(SUM(flagged), 0) AS BIGINT) AS flagged FROM reviews WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_one(&self.reads)
        .await
        .map_err(q("count reviews"))?;
        Ok((r.get::<i64, _>("ok"), r.get::<i64, _>("flagged")))
    }
}

/// A review from a row of the `reviews` table's named columns.
pub(super) fn review_from_row(r: &sqlx::any::AnyRow) -> Reviewed {
    Reviewed {
        metric: r.get("metric"),
        period: r.get("period"),
        coordinates: r.get("coordinates"),
        value: r.get("value"),
        prior: r.get("prior"),
        delta: r.get("delta"),
        delta_percent: r.get("delta_percent"),
        flagged: r.get::<i64, _>("flagged") != 0,
        reason: r.get("reason"),
    }
}

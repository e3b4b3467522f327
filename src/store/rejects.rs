//! Rejected rows of each run.

use sqlx::Row;

use super::{Reject, Result, Store, q};

/// Rejects written per transaction: a run with a million rejects never holds the store's
/// write lock for long, and lease renewals and other writes get in between.
const CHUNK: usize = 500;

/// Rejects read per query by [`Store::rejects_page`].
const PAGE: i64 = 2_000;

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

    /// Every reject of run `run_id`, in the order recorded (read a page at a time).
    pub async fn rejects(&self, run_id: i64) -> Result<Vec<Reject>> {
        let mut all = Vec::new();
        let mut after = 0;
        while let Some((page, last)) = self.rejects_page(run_id, after).await? {
            all.extend(page);
            after = last;
        }
        Ok(all)
    }

    /// The next [`PAGE`] rejects of run `run_id` after reject id `after` (0: from the start)
    /// and the last one's id, or none when no more are left. Each page is one short read on
    /// the reader pool, so a download held open by a slow client holds no connection.
    pub async fn rejects_page(
        &self,
        run_id: i64,
        after: i64,
    ) -> Result<Option<(Vec<Reject>, i64)>> {
        let rows = sqlx::query(
            "SELECT source_file, source_row, field, reason, metric_key, period, value, id FROM rejects \
             WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(run_id)
        .bind(after)
        .bind(PAGE)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list rejects"))?;
        let Some(last) = rows.last().map(|r| r.get::<i64, _>(7)) else {
            return Ok(None);
        };
        Ok(Some((rows.iter().map(reject_from_row).collect(), last)))
    }

    /// The first `limit` rejects of run `run_id`, and how many it has in all.
    pub async fn rejects_first(&self, run_id: i64, limit: i64) -> Result<(Vec<Reject>, i64)> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM rejects WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&self.reads)
            .await
            .map_err(q("count rejects"))?
            .get(0);
        let rows = sqlx::query(
            "SELECT source_file, source_row, field, reason, metric_key, period, value FROM rejects WHERE run_id = $1 ORDER BY id LIMIT $2",
        )
        .bind(run_id)
        .bind(limit)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list rejects"))?;
        Ok((rows.iter().map(reject_from_row).collect(), total))
    }
}

pub(super) fn reject_from_row(r: &sqlx::any::AnyRow) -> Reject {
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

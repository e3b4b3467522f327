//! Batches: recorded before they are sent, their operation URL as soon as Workiva gives it,
//! their outcome when it is known; the open ones are what a resuming run polls or resends.

use sqlx::Row;

use super::{BatchRecord, Result, Store, now, q};

impl Store {
    /// Records a batch before it is sent.
    pub async fn batch_insert(
        &self,
        run_id: i64,
        pipeline: &str,
        program: &str,
        metric: &str,
        value_count: usize,
        body: &[u8],
    ) -> Result<i64> {
        let t = now();
        let row = sqlx::query(
            "INSERT INTO batches (run_id, pipeline, program_id, metric_id, value_count, body, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) RETURNING id",
        )
        .bind(run_id)
        .bind(pipeline)
        .bind(program)
        .bind(metric)
        .bind(value_count as i64)
        .bind(body.to_vec())
        .bind(t.clone())
        .bind(t)
        .fetch_one(&self.pool)
        .await
        .map_err(q("record a batch"))?;
        Ok(row.get::<i64, _>(0))
    }

    /// Records the operation URL as soon as Workiva gives it.
    pub async fn batch_sent(&self, id: i64, operation_url: &str) -> Result<()> {
        sqlx::query(
            "UPDATE batches SET status = 'sent', operation_url = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(operation_url)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("record an operation URL"))?;
        Ok(())
    }

    /// `completed`, `failed` or `split` (a failed batch divided into smaller ones).
    pub async fn batch_done(&self, id: i64, status: &str, detail: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE batches SET status = $1, detail = $2, updated_at = $3 WHERE id = $4")
            .bind(status)
            .bind(detail.map(str::to_string))
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(q("record a batch outcome"))?;
        Ok(())
    }

    /// Batches of `pipeline` that never reached an outcome: `pending` (no operation URL) or
    /// `sent` (an operation to poll).
    pub async fn open_batches(&self, pipeline: &str) -> Result<Vec<BatchRecord>> {
        let rows = sqlx::query(
            "SELECT id, run_id, program_id, metric_id, value_count, body, status, operation_url FROM batches \
             WHERE pipeline = $1 AND status IN ('pending', 'sent') ORDER BY id",
        )
        .bind(pipeline)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list open batches"))?;
        Ok(rows
            .iter()
            .map(|r| BatchRecord {
                id: r.get("id"),
                run_id: r.get("run_id"),
                program_id: r.get("program_id"),
                metric_id: r.get("metric_id"),
                value_count: r.get("value_count"),
                body: r.get("body"),
                status: r.get("status"),
                operation_url: r.get("operation_url"),
            })
            .collect())
    }

    /// Batches of a run: (status, value count, operation URL).
    pub async fn batches_of_run(&self, run_id: i64) -> Result<Vec<(String, i64, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT status, value_count, operation_url FROM batches WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list a run's batches"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}

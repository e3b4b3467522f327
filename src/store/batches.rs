//! Batches: recorded before they are sent, their operation URL as soon as Workiva gives it,
//! their outcome when it is known; the open ones are what a resuming run polls or resends.

use sqlx::Row;

use super::{BatchRecord, BatchStatus, Result, Store, now, q};

/// A body's SHA-256 as lower-case hex, kept when the body itself is pruned.
fn sha256_hex(body: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Records a batch before it is sent: `creates` and `updates` values, and the `changes`
    /// the ledger records once Workiva confirms the batch.
    #[allow(clippy::too_many_arguments)]
    pub async fn batch_insert(
        &self,
        run_id: i64,
        pipeline: &str,
        program: &str,
        metric: &str,
        creates: usize,
        updates: usize,
        body: &[u8],
        changes: &[crate::ledger::Change],
    ) -> Result<i64> {
        let row = (run_id, pipeline, program, metric, creates, updates);
        let changes = super::ledger::changes_text(changes);
        self.ride("record a batch", || {
            self.batch_insert_once(row, body, changes.clone())
        })
        .await
    }

    async fn batch_insert_once(
        &self,
        (run_id, pipeline, program, metric, creates, updates): (
            i64,
            &str,
            &str,
            &str,
            usize,
            usize,
        ),
        body: &[u8],
        changes: Option<String>,
    ) -> Result<i64> {
        let t = now();
        let mut tx = self.write("record a batch").await?;
        let row = sqlx::query(
            "INSERT INTO batches (run_id, pipeline, program_id, metric_id, value_count, creates, updates, body, status, created_at, updated_at, body_sha256, body_bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11, $12) RETURNING id",
        )
        .bind(run_id)
        .bind(pipeline)
        .bind(program)
        .bind(metric)
        .bind((creates + updates) as i64)
        .bind(creates as i64)
        .bind(updates as i64)
        .bind(body.to_vec())
        .bind(t.clone())
        .bind(t)
        .bind(sha256_hex(body))
        .bind(body.len() as i64)
        .fetch_one(&mut *tx)
        .await
        .map_err(q("record a batch"))?;
        let id = row.get::<i64, _>(0);
        // In a table of its own: the batch's row is updated as it goes, and on SQLite an
        // UPDATE rewrites the whole row.
        if let Some(changes) = changes {
            sqlx::query("INSERT INTO batch_changes (batch_id, changes) VALUES ($1, $2)")
                .bind(id)
                .bind(changes)
                .execute(&mut *tx)
                .await
                .map_err(q("record a batch's changes"))?;
        }
        tx.commit().await.map_err(q("record a batch"))?;
        Ok(id)
    }

    /// Records the operation URL as soon as Workiva gives it.
    pub async fn batch_sent(&self, id: i64, operation_url: &str) -> Result<()> {
        self.ride("record an operation URL", || {
            self.batch_sent_once(id, operation_url)
        })
        .await
    }

    async fn batch_sent_once(&self, id: i64, operation_url: &str) -> Result<()> {
        let mut tx = self.write("record an operation URL").await?;
        sqlx::query(
            "UPDATE batches SET status = 'sent', operation_url = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(operation_url)
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(q("record an operation URL"))?;
        tx.commit().await.map_err(q("record an operation URL"))
    }

    /// `completed`, `failed`, `split` (a failed batch divided into smaller ones) or
    /// `unconfirmed`.
    pub async fn batch_done(
        &self,
        id: i64,
        status: BatchStatus,
        detail: Option<&str>,
    ) -> Result<()> {
        self.ride("record a batch outcome", || {
            self.batch_done_once(id, status, detail)
        })
        .await
    }

    async fn batch_done_once(
        &self,
        id: i64,
        status: BatchStatus,
        detail: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.write("record a batch outcome").await?;
        sqlx::query("UPDATE batches SET status = $1, detail = $2, updated_at = $3 WHERE id = $4")
            .bind(status.as_str())
            .bind(detail.map(str::to_string))
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(q("record a batch outcome"))?;
        tx.commit().await.map_err(q("record a batch outcome"))
    }

    /// Records that a batch's operation completed, and counts its values in `run_id` (the run
    /// that saw it complete), in one transaction: every value a completed batch wrote is
    /// counted in exactly one run.
    pub async fn batch_completed(&self, id: i64, run_id: i64, detail: Option<&str>) -> Result<()> {
        self.ride("record a completed batch", || {
            self.batch_completed_once(id, run_id, detail)
        })
        .await
    }

    async fn batch_completed_once(&self, id: i64, run_id: i64, detail: Option<&str>) -> Result<()> {
        let mut tx = self.write("begin recording a batch").await?;
        let done = sqlx::query(
            "UPDATE batches SET status = 'completed', detail = $1, updated_at = $2 WHERE id = $3 AND status <> 'completed'",
        )
        .bind(detail.map(str::to_string))
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(q("record a completed batch"))?;
        if done.rows_affected() == 1 {
            sqlx::query(
                "UPDATE runs SET created = created + (SELECT creates FROM batches WHERE id = $1), \
                 updated = updated + (SELECT updates FROM batches WHERE id = $1) WHERE id = $2",
            )
            .bind(id)
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(q("count a completed batch"))?;
            // The ledger's entries, in the transaction that confirms them.
            self.ledger_append(&mut tx, super::ledger::Confirmed::Batch(id), run_id)
                .await?;
        }
        tx.commit().await.map_err(q("commit a completed batch"))
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
        rows.iter()
            .map(|r| {
                let id: i64 = r.get("id");
                Ok(BatchRecord {
                    id,
                    run_id: r.get("run_id"),
                    program_id: r.get("program_id"),
                    metric_id: r.get("metric_id"),
                    value_count: r.get("value_count"),
                    body: r.get("body"),
                    status: BatchStatus::of_row("batches", id, "status", r.get("status"))?,
                    operation_url: r.get("operation_url"),
                })
            })
            .collect()
    }

    /// Batches of a run: (status, value count, operation URL).
    pub async fn batches_of_run(
        &self,
        run_id: i64,
    ) -> Result<Vec<(BatchStatus, i64, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT status, value_count, operation_url, id FROM batches WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list a run's batches"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    BatchStatus::of_row("batches", r.get(3), "status", r.get(0))?,
                    r.get(1),
                    r.get(2),
                ))
            })
            .collect()
    }
}

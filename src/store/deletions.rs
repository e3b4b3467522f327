//! Deletions (mirror mode): recorded through the run's fence before they are sent, so a
//! replica whose lease was taken deletes nothing, and confirmed in the transaction that
//! counts their values in the run. One a stop left `pending` is marked `unconfirmed` when the
//! pipeline next runs: the plan that follows deletes whatever of it is still there.

use sqlx::Row;

use super::{DeletionStatus, Result, Store, now, q};

/// One deletion request as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionRecord {
    pub id: i64,
    pub run_id: i64,
    pub metric_id: String,
    /// The value ids it asked Workiva to delete.
    pub ids: Vec<String>,
    pub status: DeletionStatus,
}

impl Store {
    /// Records a deletion of `ids` before it is sent, with the `changes` the ledger records
    /// once Workiva confirms it; on a fenced store, refused (and nothing recorded) once another
    /// process holds the pipeline's lease.
    pub async fn deletion_insert(
        &self,
        run_id: i64,
        pipeline: &str,
        program: &str,
        metric: &str,
        ids: &[String],
        changes: &[crate::ledger::Change],
    ) -> Result<i64> {
        let list = serde_json::to_string(ids).unwrap_or_default();
        let changes = super::ledger::changes_text(changes);
        let row = (run_id, pipeline, program, metric);
        self.ride("record a deletion", || {
            self.deletion_insert_once(row, ids.len(), &list, changes.as_deref())
        })
        .await
    }

    async fn deletion_insert_once(
        &self,
        (run_id, pipeline, program, metric): (i64, &str, &str, &str),
        count: usize,
        list: &str,
        changes: Option<&str>,
    ) -> Result<i64> {
        let t = now();
        let mut tx = self.write("record a deletion").await?;
        let row = sqlx::query(
            "INSERT INTO deletions (run_id, pipeline, program_id, metric_id, value_count, ids, status, created_at, updated_at, changes) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9) RETURNING id",
        )
        .bind(run_id)
        .bind(pipeline)
        .bind(program)
        .bind(metric)
        .bind(count as i64)
        .bind(list)
        .bind(t.clone())
        .bind(t)
        .bind(changes.map(str::to_string))
        .fetch_one(&mut *tx)
        .await
        .map_err(q("record a deletion"))?;
        tx.commit().await.map_err(q("record a deletion"))?;
        Ok(row.get::<i64, _>(0))
    }

    /// Records the outcome of deletion `id`: when Workiva confirmed it, its values are counted
    /// in run `run_id` in the same transaction; otherwise it is `failed` with `detail`.
    pub async fn deletion_done(&self, id: i64, run_id: i64, detail: Option<&str>) -> Result<()> {
        self.ride("record a deletion's outcome", || {
            self.deletion_done_once(id, run_id, detail)
        })
        .await
    }

    async fn deletion_done_once(&self, id: i64, run_id: i64, detail: Option<&str>) -> Result<()> {
        let status = if detail.is_none() {
            DeletionStatus::Deleted
        } else {
            DeletionStatus::Failed
        };
        let mut tx = self.write("record a deletion's outcome").await?;
        let done = sqlx::query(
            "UPDATE deletions SET status = $1, detail = $2, updated_at = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(detail.map(str::to_string))
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(q("record a deletion's outcome"))?;
        if done.rows_affected() == 1 && detail.is_none() {
            sqlx::query(
                "UPDATE runs SET deleted = deleted + (SELECT value_count FROM deletions WHERE id = $1) WHERE id = $2",
            )
            .bind(id)
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(q("count deleted values"))?;
            // The ledger's entries, in the transaction that confirms them.
            self.ledger_append(&mut tx, super::ledger::Confirmed::Deletion(id), run_id)
                .await?;
        }
        tx.commit().await.map_err(q("record a deletion's outcome"))
    }

    /// Marks the deletions of `pipeline` a stop left `pending` as `unconfirmed` (whether
    /// Workiva did them is unknown; the next plan deletes what is still there); returns how
    /// many.
    pub async fn deletions_unconfirm(&self, pipeline: &str) -> Result<u64> {
        self.ride("mark deletions unconfirmed", || async {
            let mut tx = self.write("mark deletions unconfirmed").await?;
            let n = sqlx::query(
                "UPDATE deletions SET status = 'unconfirmed', updated_at = $1 WHERE pipeline = $2 AND status = 'pending'",
            )
            .bind(now())
            .bind(pipeline)
            .execute(&mut *tx)
            .await
            .map_err(q("mark deletions unconfirmed"))?
            .rows_affected();
            tx.commit().await.map_err(q("mark deletions unconfirmed"))?;
            Ok(n)
        })
        .await
    }

    /// The deletions of run `run_id`, in the order recorded.
    pub async fn deletions_of_run(&self, run_id: i64) -> Result<Vec<DeletionRecord>> {
        let rows = sqlx::query(
            "SELECT id, run_id, metric_id, ids, status FROM deletions WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list a run's deletions"))?;
        rows.iter()
            .map(|r| {
                let (id, text): (i64, String) = (r.get(0), r.get(4));
                Ok(DeletionRecord {
                    id,
                    run_id: r.get(1),
                    metric_id: r.get(2),
                    ids: serde_json::from_str(&r.get::<String, _>(3)).unwrap_or_default(),
                    status: DeletionStatus::of_row("deletions", id, "status", text)?,
                })
            })
            .collect()
    }
}

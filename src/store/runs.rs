//! Runs: started, finished with their counts, marked interrupted, listed.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Counts, Result, RunRecord, RunStatus, Store, now, parse_time, q};

/// A query of whole run rows (see `run_from_row`), with its `WHERE`/`ORDER BY` tail.
macro_rules! select_runs {
    ($tail:literal) => {
        concat!(
            "SELECT id, pipeline, started_at, finished_at, status, rows_read, rejected, unchanged, \
             created, updated, deleted, locked, message, holder, \
             (SELECT COUNT(*) FROM reviews v WHERE v.run_id = runs.id AND v.flagged = 0) AS auto_completed, \
             (SELECT COUNT(*) FROM reviews v WHERE v.run_id = runs.id AND v.flagged = 1) AS flagged, \
             (SELECT COUNT(*) FROM hand_edits h WHERE h.run_id = runs.id AND h.kept = 1) AS hand_edited FROM runs ",
            $tail
        )
    };
}

impl Store {
    /// Records a new run of `pipeline`, `running`, with the replica that runs it (the fence's
    /// holder, on a run's fenced store).
    pub async fn run_start(&self, pipeline: &str) -> Result<i64> {
        let mut tx = self.write("start a run").await?;
        let row = sqlx::query("INSERT INTO runs (pipeline, started_at, status, holder) VALUES ($1, $2, 'running', $3) RETURNING id")
            .bind(pipeline)
            .bind(now())
            .bind(self.fence().map(|f| f.holder.clone()))
            .fetch_one(&mut *tx)
            .await
            .map_err(q("start a run"))?;
        tx.commit().await.map_err(q("start a run"))?;
        Ok(row.get::<i64, _>(0))
    }

    /// Records the end of a run: its status, message and the counts known at the end (read,
    /// rejected, unchanged, locked). Created, updated and deleted are not written here: they
    /// were counted as each batch completed ([`Store::batch_completed`],
    /// [`Store::deletion_done`]). Returns the run's counts as recorded.
    pub async fn run_finish(
        &self,
        id: i64,
        status: RunStatus,
        c: &Counts,
        message: Option<&str>,
    ) -> Result<Counts> {
        self.ride("finish a run", || {
            self.run_finish_once(id, status, c, message)
        })
        .await?;
        Ok(self.run(id).await?.map(|r| r.counts).unwrap_or(*c))
    }

    async fn run_finish_once(
        &self,
        id: i64,
        status: RunStatus,
        c: &Counts,
        message: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.write("finish a run").await?;
        sqlx::query(
            "UPDATE runs SET finished_at = $1, status = $2, rows_read = $3, rejected = $4, unchanged = $5, \
             locked = $6, message = $7 WHERE id = $8",
        )
        .bind(now())
        .bind(status.as_str())
        .bind(c.read)
        .bind(c.rejected)
        .bind(c.unchanged)
        .bind(c.locked)
        // A driver's error can quote a URL: nothing secret is ever stored.
        .bind(message.map(crate::redact::text))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(q("finish a run"))?;
        tx.commit().await.map_err(q("finish a run"))
    }

    /// Marks runs of `pipeline` still `running` as `failed` with `message`; returns their ids.
    pub async fn fail_running(&self, pipeline: &str, message: &str) -> Result<Vec<i64>> {
        self.mark_running(pipeline, None, None, RunStatus::Failed, message)
            .await
    }

    /// Marks runs of `pipeline` still `running`, other than `current`, as `interrupted`;
    /// returns their ids.
    pub async fn mark_interrupted(&self, pipeline: &str, current: i64) -> Result<Vec<i64>> {
        let message = format!(
            "stopped before it finished; its recorded batches were resumed by run {current}"
        );
        self.mark_running(
            pipeline,
            Some(current),
            None,
            RunStatus::Interrupted,
            &message,
        )
        .await
    }

    /// Marks runs of `pipeline` that replica `holder` left `running` as `interrupted` with
    /// `message` (another replica's runs go on); returns their ids.
    pub async fn mark_interrupted_because(
        &self,
        pipeline: &str,
        holder: &str,
        message: &str,
    ) -> Result<Vec<i64>> {
        self.mark_running(
            pipeline,
            None,
            Some(holder),
            RunStatus::Interrupted,
            message,
        )
        .await
    }

    /// Marks runs of `pipeline` still `running` (but `except`; only `holder`'s when given) as
    /// `status`; returns their ids.
    async fn mark_running(
        &self,
        pipeline: &str,
        except: Option<i64>,
        holder: Option<&str>,
        status: RunStatus,
        message: &str,
    ) -> Result<Vec<i64>> {
        let mut tx = self.write("mark a run ended").await?;
        let ids: Vec<i64> = sqlx::query(
            "SELECT id FROM runs WHERE pipeline = $1 AND status = 'running' AND id <> $2 \
             AND ($3 = '' OR holder = $3) ORDER BY id",
        )
        .bind(pipeline)
        .bind(except.unwrap_or(-1))
        .bind(holder.unwrap_or("").to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(q("find running runs"))?
        .into_iter()
        .map(|r| r.get::<i64, _>(0))
        .collect();
        for id in &ids {
            sqlx::query(
                "UPDATE runs SET status = $1, finished_at = $2, message = $3 WHERE id = $4",
            )
            .bind(status.as_str())
            .bind(now())
            .bind(crate::redact::text(message))
            .bind(*id)
            .execute(&mut *tx)
            .await
            .map_err(q("mark a run ended"))?;
        }
        tx.commit().await.map_err(q("mark a run ended"))?;
        Ok(ids)
    }

    fn run_from_row(r: &sqlx::any::AnyRow) -> Result<RunRecord> {
        let text: String = r.get("status");
        let id: i64 = r.get("id");
        let status = RunStatus::of_row("runs", id, "status", text)?;
        Ok(RunRecord {
            id,
            pipeline: r.get("pipeline"),
            started_at: super::time_of_row("runs", id, "started_at", r.get("started_at"))?,
            finished_at: r
                .get::<Option<String>, _>("finished_at")
                .map(|t| super::time_of_row("runs", id, "finished_at", t))
                .transpose()?,
            status,
            counts: Counts {
                read: r.get("rows_read"),
                rejected: r.get("rejected"),
                unchanged: r.get("unchanged"),
                created: r.get("created"),
                updated: r.get("updated"),
                deleted: r.get("deleted"),
                locked: r.get("locked"),
                hand_edited: r.get("hand_edited"),
            },
            // Rows written before redaction covered query parameters are masked as read.
            message: r
                .get::<Option<String>, _>("message")
                .map(|m| crate::redact::text(&m)),
            holder: r.get("holder"),
            auto_completed: r.get("auto_completed"),
            flagged: r.get("flagged"),
        })
    }

    /// The most recent runs, newest first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(select_runs!("ORDER BY id DESC LIMIT $1"))
            .bind(limit)
            .fetch_all(&self.reads)
            .await
            .map_err(q("list runs"))?;
        rows.iter().map(Self::run_from_row).collect()
    }

    /// The newest `limit` runs of `pipeline`, newest first.
    pub async fn runs_of(&self, pipeline: &str, limit: i64) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(select_runs!(
            "WHERE pipeline = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(pipeline)
        .bind(limit)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list a pipeline's runs"))?;
        rows.iter().map(Self::run_from_row).collect()
    }

    /// The newest run of `pipeline`.
    pub async fn last_run(&self, pipeline: &str) -> Result<Option<RunRecord>> {
        let row = sqlx::query(select_runs!("WHERE pipeline = $1 ORDER BY id DESC LIMIT 1"))
            .bind(pipeline)
            .fetch_optional(&self.reads)
            .await
            .map_err(q("read the last run"))?;
        row.as_ref().map(Self::run_from_row).transpose()
    }

    /// When the newest run of `pipeline` that landed its values (`succeeded` or `partial`)
    /// finished.
    pub async fn last_success(&self, pipeline: &str) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT finished_at FROM runs WHERE pipeline = $1 AND status IN ('succeeded', 'partial') \
             AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(pipeline)
        .fetch_optional(&self.reads)
        .await
        .map_err(q("read the last success"))?;
        Ok(row
            .and_then(|r| r.get::<Option<String>, _>(0))
            .and_then(|t| parse_time(&t)))
    }

    /// Checks that the database takes a write: `replica`'s probe row is written and committed,
    /// so a read-only, full or locked database (or file) fails it.
    pub async fn ping_write(&self, replica: &str) -> Result<()> {
        let what = "check that the store takes writes";
        let mut tx = self.pool.begin().await.map_err(q(what))?;
        sqlx::query(
            "INSERT INTO store_probe (replica, probed_at) VALUES ($1, $2) \
             ON CONFLICT (replica) DO UPDATE SET probed_at = excluded.probed_at",
        )
        .bind(replica)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(q(what))?;
        // Replicas that have not probed for a day are gone (each start is a new replica).
        sqlx::query("DELETE FROM store_probe WHERE probed_at < $1")
            .bind(super::stamp(Utc::now() - chrono::Duration::days(1)))
            .execute(&mut *tx)
            .await
            .map_err(q(what))?;
        tx.commit().await.map_err(q(what))?;
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .map_err(q("check the connection"))?;
        Ok(())
    }

    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        let row = sqlx::query(select_runs!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.reads)
            .await
            .map_err(q("read a run"))?;
        row.as_ref().map(Self::run_from_row).transpose()
    }
}

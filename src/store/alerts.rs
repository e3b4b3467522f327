//! Alerts: every delivery and its outcome, and the conditions an alert was sent for that have
//! not cleared yet (so a stale pipeline gives one alert until it recovers, whichever replica
//! notices it).

use sqlx::Row;

use super::{DeliveryStatus, Result, Store, now, q};

/// One alert delivery as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub id: i64,
    pub alert: String,
    pub event: String,
    pub pipeline: Option<String>,
    pub run_id: Option<i64>,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    #[serde(serialize_with = "super::serialize_time")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(serialize_with = "super::serialize_time")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// Records a delivery about to be attempted; returns its id.
    pub async fn delivery_start(
        &self,
        alert: &str,
        event: &str,
        pipeline: Option<&str>,
        run_id: Option<i64>,
    ) -> Result<i64> {
        let t = now();
        let row = sqlx::query(
            "INSERT INTO alert_deliveries (alert, event, pipeline, run_id, status, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6) RETURNING id",
        )
        .bind(alert)
        .bind(event)
        .bind(pipeline.map(str::to_string))
        .bind(run_id)
        .bind(t.clone())
        .bind(t)
        .fetch_one(&self.pool)
        .await
        .map_err(q("record an alert delivery"))?;
        Ok(row.get(0))
    }

    /// Records how delivery `id` stands after `attempts` attempts.
    pub async fn delivery_update(
        &self,
        id: i64,
        status: DeliveryStatus,
        attempts: u32,
        http_status: Option<u16>,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE alert_deliveries SET status = $1, attempts = $2, http_status = $3, error = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(status.as_str())
        .bind(attempts as i64)
        .bind(http_status.map(i64::from))
        .bind(error.map(str::to_string))
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("record an alert delivery's outcome"))?;
        Ok(())
    }

    /// The newest deliveries, newest first.
    pub async fn deliveries(&self, limit: i64) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT id, alert, event, pipeline, run_id, status, attempts, http_status, error, created_at, updated_at \
             FROM alert_deliveries ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list alert deliveries"))?;
        rows.iter()
            .map(|r| {
                let id = r.get(0);
                Ok(Delivery {
                    id,
                    alert: r.get(1),
                    event: r.get(2),
                    pipeline: r.get(3),
                    run_id: r.get(4),
                    status: DeliveryStatus::of_row("alert_deliveries", id, "status", r.get(5))?,
                    attempts: r.get(6),
                    http_status: r.get(7),
                    error: r.get(8),
                    created_at: super::time_of_row("alert_deliveries", id, "created_at", r.get(9))?,
                    updated_at: super::time_of_row(
                        "alert_deliveries",
                        id,
                        "updated_at",
                        r.get(10),
                    )?,
                })
            })
            .collect()
    }

    /// Opens condition `event` of `pipeline` (a stale pipeline): true for the one caller that
    /// opens it, false while it is open already.
    pub async fn condition_open(&self, pipeline: &str, event: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO alert_conditions (pipeline, event, since) VALUES ($1, $2, $3) \
             ON CONFLICT (pipeline, event) DO NOTHING",
        )
        .bind(pipeline)
        .bind(event)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(q("open an alert condition"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Clears condition `event` of `pipeline` (it recovered); true when it was open.
    pub async fn condition_clear(&self, pipeline: &str, event: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM alert_conditions WHERE pipeline = $1 AND event = $2")
            .bind(pipeline)
            .bind(event)
            .execute(&self.pool)
            .await
            .map_err(q("clear an alert condition"))?;
        Ok(done.rows_affected() == 1)
    }
}

//! The daemon's schedule: the last tick each pipeline's schedule handled.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Result, Store, now, parse_time, q, stamp};

impl Store {
    /// The last tick the schedule of `pipeline` handled.
    pub async fn last_tick(&self, pipeline: &str) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT last_tick FROM schedule_ticks WHERE pipeline = $1")
            .bind(pipeline)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read the last schedule tick"))?;
        Ok(row
            .map(|r| r.get::<String, _>(0))
            .and_then(|t| parse_time(&t)))
    }

    /// Records that the schedule of `pipeline` handled `tick`.
    pub async fn set_last_tick(&self, pipeline: &str, tick: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO schedule_ticks (pipeline, last_tick, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (pipeline) DO UPDATE SET last_tick = excluded.last_tick, updated_at = excluded.updated_at",
        )
        .bind(pipeline)
        .bind(stamp(tick))
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(q("record a schedule tick"))?;
        Ok(())
    }
}

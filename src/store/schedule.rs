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

    /// Claims `tick` of the schedule of `pipeline` for `holder`: true for the one replica
    /// that claims it first, false for every other. Claims older than a week are dropped.
    pub async fn claim_tick(
        &self,
        pipeline: &str,
        tick: DateTime<Utc>,
        holder: &str,
    ) -> Result<bool> {
        // Ridden out like a run's writes: a store restart at the tick's moment runs the tick
        // late, not never. A retry after a claim whose answer was lost finds its own claim.
        self.ride("claim a schedule tick", || {
            self.claim_tick_once(pipeline, tick, holder)
        })
        .await
    }

    async fn claim_tick_once(
        &self,
        pipeline: &str,
        tick: DateTime<Utc>,
        holder: &str,
    ) -> Result<bool> {
        // With the lease statements' lock timeout: a claim never waits long on a row another
        // session holds.
        let mut tx = self.lease_tx("claim a schedule tick").await?;
        let claimed = sqlx::query(
            "INSERT INTO schedule_claims (pipeline, tick, holder, claimed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (pipeline, tick) DO NOTHING",
        )
        .bind(pipeline)
        .bind(stamp(tick))
        .bind(holder)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(q("claim a schedule tick"))?;
        // By when they were claimed, not by tick: a catch-up claims a tick that may be weeks
        // old, and that claim must stand. `schedule_claims_age` indexes it, so this is a range,
        // not a scan of every claim (an every-second schedule makes 600,000 a week).
        sqlx::query("DELETE FROM schedule_claims WHERE pipeline = $1 AND claimed_at < $2")
            .bind(pipeline)
            .bind(stamp(Utc::now() - chrono::Duration::days(7)))
            .execute(&mut *tx)
            .await
            .map_err(q("drop old schedule claims"))?;
        if claimed.rows_affected() == 1 {
            tx.commit().await.map_err(q("claim a schedule tick"))?;
            return Ok(true);
        }
        let mine =
            sqlx::query("SELECT holder FROM schedule_claims WHERE pipeline = $1 AND tick = $2")
                .bind(pipeline)
                .bind(stamp(tick))
                .fetch_optional(&mut *tx)
                .await
                .map_err(q("read a schedule claim"))?
                .is_some_and(|r| r.get::<String, _>(0) == holder);
        tx.commit().await.map_err(q("claim a schedule tick"))?;
        Ok(mine)
    }

    /// Who claimed each tick of `pipeline` (tick, holder), oldest first.
    pub async fn tick_claims(&self, pipeline: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT tick, holder FROM schedule_claims WHERE pipeline = $1 ORDER BY tick",
        )
        .bind(pipeline)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list schedule claims"))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

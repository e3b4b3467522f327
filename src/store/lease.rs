//! Pipeline leases: one run of a pipeline at a time, across processes.

use chrono::Utc;
use sqlx::Row;

use super::{Result, Store, q, stamp};

impl Store {
    /// Takes the lease of `pipeline` for `holder` until `ttl` from now, if it is free, expired,
    /// already `holder`'s, or held by a holder `is_dead` says is gone. Returns the holder that
    /// keeps it otherwise, with when its lease ends.
    pub async fn lease_acquire(
        &self,
        pipeline: &str,
        holder: &str,
        ttl: std::time::Duration,
        is_dead: impl Fn(&str) -> bool,
    ) -> Result<std::result::Result<(), (String, String)>> {
        let now_t = Utc::now();
        let until = stamp(now_t + chrono::Duration::from_std(ttl).unwrap_or_default());
        // Taken when free, expired, ours already, or held by `dead` (replaced by name, so a
        // live holder that took it meanwhile keeps it). One statement in the usual case.
        let take = |dead: &str| {
            sqlx::query(
                "INSERT INTO pipeline_leases (pipeline, holder, acquired_at, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (pipeline) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, \
                 expires_at = excluded.expires_at \
                 WHERE pipeline_leases.holder = $2 OR pipeline_leases.expires_at < $3 OR pipeline_leases.holder = $5 \
                 RETURNING holder",
            )
            .bind(pipeline.to_string())
            .bind(holder.to_string())
            .bind(stamp(now_t))
            .bind(until.clone())
            .bind(dead.to_string())
            .fetch_optional(&self.pool)
        };
        if take("")
            .await
            .map_err(q("take a pipeline lease"))?
            .is_some()
        {
            return Ok(Ok(()));
        }
        let row = sqlx::query("SELECT holder, expires_at FROM pipeline_leases WHERE pipeline = $1")
            .bind(pipeline)
            .fetch_one(&self.pool)
            .await
            .map_err(q("read a pipeline lease"))?;
        let (other, other_until): (String, String) = (row.get(0), row.get(1));
        if is_dead(&other)
            && take(&other)
                .await
                .map_err(q("take a pipeline lease"))?
                .is_some()
        {
            return Ok(Ok(()));
        }
        Ok(Err((other, other_until)))
    }

    /// Extends `holder`'s lease of `pipeline`; false when it is no longer `holder`'s.
    pub async fn lease_renew(
        &self,
        pipeline: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool> {
        let until = stamp(Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default());
        let done = sqlx::query(
            "UPDATE pipeline_leases SET expires_at = $1 WHERE pipeline = $2 AND holder = $3",
        )
        .bind(until)
        .bind(pipeline)
        .bind(holder)
        .execute(&self.pool)
        .await
        .map_err(q("renew a pipeline lease"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease back.
    pub async fn lease_release(&self, pipeline: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM pipeline_leases WHERE pipeline = $1 AND holder = $2")
            .bind(pipeline)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(q("release a pipeline lease"))?;
        Ok(())
    }
}

//! Pipeline leases: one run of a pipeline at a time, across processes. Each acquisition
//! raises the lease's fencing token, which the run's writes are checked against
//! ([`Store::fenced`]); a released lease keeps its row (expired), so the token never goes back.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Result, Store, q, time_of_row};

/// A pipeline's lease as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub pipeline: String,
    pub holder: String,
    pub token: i64,
    /// By the database's clock, which every replica's lease is reckoned by.
    pub expires_at: DateTime<Utc>,
}

impl LeaseRow {
    /// Whether it is held at `now` (released and lapsed leases are not).
    pub fn is_held(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }
}

/// What a released lease's expiry is set to: long past.
const RELEASED: &str = "1970-01-01T00:00:00.000Z";

impl Store {
    /// Takes the lease of `pipeline` for `holder` until `ttl` from now, if it is free, expired,
    /// already `holder`'s, or held by a holder `is_dead` says is gone, and returns its new
    /// fencing token. Returns the holder that keeps it otherwise, with when its lease ends.
    pub async fn lease_acquire(
        &self,
        pipeline: &str,
        holder: &str,
        ttl: std::time::Duration,
        is_dead: impl Fn(&str) -> bool,
    ) -> Result<std::result::Result<i64, (String, DateTime<Utc>)>> {
        let (now, until) = (self.db_now(), self.db_later("$4"));
        // Taken when free, expired, ours already, or held by `dead` (replaced by name, so a
        // live holder that took it meanwhile keeps it). One statement in the usual case. Times
        // are the database's, read when the row is locked: replicas' clocks do not matter, and
        // a takeover that waited on the row compares with the time after the wait.
        let sql = format!(
            "INSERT INTO pipeline_leases (pipeline, holder, acquired_at, expires_at, token) VALUES ($1, $2, {now}, {until}, 1) \
             ON CONFLICT (pipeline) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, \
             expires_at = excluded.expires_at, token = pipeline_leases.token + 1 \
             WHERE pipeline_leases.holder = $2 OR pipeline_leases.expires_at < {now} OR pipeline_leases.holder = $3 \
             RETURNING token"
        );
        let take = |dead: String| {
            let sql = sql.clone();
            async move {
                let mut tx = self.lease_tx("take a pipeline lease").await?;
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(pipeline.to_string())
                    .bind(holder.to_string())
                    .bind(dead)
                    .bind(ttl.as_secs_f64())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(q("take a pipeline lease"))?;
                tx.commit().await.map_err(q("take a pipeline lease"))?;
                Ok::<_, super::StoreError>(row)
            }
        };
        if let Some(row) = take(String::new()).await? {
            return Ok(Ok(row.get::<i64, _>(0)));
        }
        let row = sqlx::query("SELECT holder, expires_at FROM pipeline_leases WHERE pipeline = $1")
            .bind(pipeline)
            .fetch_one(&self.pool)
            .await
            .map_err(q("read a pipeline lease"))?;
        let other: String = row.get(0);
        let other_until = time_of_row(
            "pipeline_leases",
            format!("`{pipeline}`"),
            "expires_at",
            row.get(1),
        )?;
        if is_dead(&other)
            && let Some(row) = take(other.clone()).await?
        {
            return Ok(Ok(row.get::<i64, _>(0)));
        }
        Ok(Err((other, other_until)))
    }

    /// Extends `holder`'s lease of `pipeline` to `ttl` from now by the database's clock; false
    /// when it is no longer `holder`'s.
    pub async fn lease_renew(
        &self,
        pipeline: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE pipeline_leases SET expires_at = {} WHERE pipeline = $2 AND holder = $3",
            self.db_later("$1")
        );
        let mut tx = self.lease_tx("renew a pipeline lease").await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ttl.as_secs_f64())
            .bind(pipeline)
            .bind(holder)
            .execute(&mut *tx)
            .await
            .map_err(q("renew a pipeline lease"))?;
        tx.commit().await.map_err(q("renew a pipeline lease"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease back: it expires now, and keeps its token for the next holder to raise.
    pub async fn lease_release(&self, pipeline: &str, holder: &str) -> Result<()> {
        sqlx::query(
            "UPDATE pipeline_leases SET expires_at = $1 WHERE pipeline = $2 AND holder = $3",
        )
        .bind(RELEASED)
        .bind(pipeline)
        .bind(holder)
        .execute(&self.pool)
        .await
        .map_err(q("release a pipeline lease"))?;
        Ok(())
    }

    /// Every pipeline's lease row (held or not), by pipeline.
    pub async fn leases(&self) -> Result<Vec<LeaseRow>> {
        let rows = sqlx::query(
            "SELECT pipeline, holder, token, expires_at FROM pipeline_leases ORDER BY pipeline",
        )
        .fetch_all(&self.reads)
        .await
        .map_err(q("list pipeline leases"))?;
        rows.iter()
            .map(|r| {
                let pipeline: String = r.get(0);
                Ok(LeaseRow {
                    expires_at: time_of_row(
                        "pipeline_leases",
                        format!("`{pipeline}`"),
                        "expires_at",
                        r.get(3),
                    )?,
                    pipeline,
                    holder: r.get(1),
                    token: r.get(2),
                })
            })
            .collect()
    }
}

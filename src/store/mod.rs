//! The mapping store and the sync-state store, on SQLite (default) or Postgres, through sqlx's
//! Any driver: one set of queries with `$1` placeholders serves both, and every query is tested
//! on both. Migrations live in `migrations/sqlite` and `migrations/postgres`, are embedded in
//! the binary and applied at connect, each once, in order.

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_schedule.sql")),
    (3, include_str!("../../migrations/sqlite/0003_leases.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_schedule.sql"),
    ),
    (3, include_str!("../../migrations/postgres/0003_leases.sql")),
];
/// The Postgres advisory lock key that serializes migrations ("esgsync" in ASCII).
const MIGRATION_LOCK: i64 = 0x0065_7367_7379_6e63;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the state store {url}: {source}. Check [store] url; a SQLite file's folder must be writable"
    )]
    Connect { url: String, source: sqlx::Error },
    #[error("state store migration {version} failed: {source}")]
    Migrate { version: i64, source: sqlx::Error },
    #[error("state store query failed ({what}): {source}")]
    Query {
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("[store] url `{0}` is neither sqlite:// nor postgres://")]
    Scheme(String),
}

impl StoreError {
    /// A database that went away may come back; a bad URL or schema will not.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Self::Query {
                source: sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed,
                ..
            }
        )
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A query of whole run rows (see [`Store::run_from_row`]), with its `WHERE`/`ORDER BY` tail.
macro_rules! select_runs {
    ($tail:literal) => {
        concat!(
            "SELECT id, pipeline, started_at, finished_at, status, rows_read, rejected, unchanged, \
             created, updated, deleted, locked, message FROM runs ",
            $tail
        )
    };
}

/// Timestamps are stored as RFC 3339 text in UTC with milliseconds, which sorts as time does.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now() -> String {
    stamp(Utc::now())
}

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub read: i64,
    pub rejected: i64,
    pub unchanged: i64,
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
    pub locked: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub pipeline: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub counts: Counts,
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BatchRecord {
    pub id: i64,
    pub run_id: i64,
    pub program_id: String,
    pub metric_id: String,
    pub value_count: i64,
    pub body: Vec<u8>,
    pub status: String,
    pub operation_url: Option<String>,
}

/// A rejected source row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reject {
    pub source_file: String,
    pub source_row: i64,
    pub field: String,
    pub reason: String,
    pub metric_key: Option<String>,
    pub period: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    pub backend: Backend,
}

impl Store {
    /// Opens the store (creating a SQLite file and its folder if needed) and migrates it.
    pub async fn connect(url: &str) -> Result<Self> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Scheme(url.to_string()));
        };
        let mut conn_url = url.to_string();
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or("");
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                let _ = std::fs::create_dir_all(dir);
            }
            if !conn_url.contains('?') && path != ":memory:" {
                conn_url.push_str("?mode=rwc");
            }
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 1 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(&conn_url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact(url),
                source,
            })?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations that are not applied yet, in one transaction that
    /// holds the database's write lock (SQLite: `BEGIN IMMEDIATE`; Postgres: an advisory
    /// lock), so two processes that start at once on a new database (a daemon and a
    /// `run-now`, say) apply each migration once: the second waits, then finds them done.
    async fn migrate(&self) -> Result<()> {
        let err = |version: i64| move |source| StoreError::Migrate { version, source };
        let list = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        // Most starts find every migration applied: a read says so without the write lock,
        // which a daemon on the same database would otherwise feel at each `status` call.
        let applied: Option<i64> = sqlx::query("SELECT COUNT(*) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .ok()
            .map(|r| r.get(0));
        if applied == Some(list.len() as i64) {
            return Ok(());
        }
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(err(0))?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(err(0))?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(err(0))?;
        for (version, sql) in list {
            let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err(*version))?
                .is_some();
            if done {
                continue;
            }
            // Comments go first, so a `;` inside one does not split a statement.
            let code: String = sql
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            for stmt in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(sqlx::AssertSqlSafe(stmt.to_string()))
                    .execute(&mut *tx)
                    .await
                    .map_err(err(*version))?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(now())
                .execute(&mut *tx)
                .await
                .map_err(err(*version))?;
        }
        tx.commit().await.map_err(err(0))
    }

    // ---- mappings ----

    pub async fn mapping_get(&self, kind: &str, scope: &str, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query(
            "SELECT workiva_id FROM mappings WHERE kind = $1 AND scope = $2 AND name = $3",
        )
        .bind(kind)
        .bind(scope)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("read a mapping"))?
        .map(|r| r.get::<String, _>(0)))
    }

    pub async fn mapping_put(&self, kind: &str, scope: &str, name: &str, id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO mappings (kind, scope, name, workiva_id, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, scope, name) DO UPDATE SET workiva_id = excluded.workiva_id, updated_at = excluded.updated_at",
        )
        .bind(kind)
        .bind(scope)
        .bind(name)
        .bind(id)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(q("write a mapping"))?;
        Ok(())
    }

    pub async fn mapping_drop(&self, kind: &str, scope: &str, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM mappings WHERE kind = $1 AND scope = $2 AND name = $3")
            .bind(kind)
            .bind(scope)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(q("drop a mapping"))?;
        Ok(())
    }

    // ---- runs ----

    pub async fn run_start(&self, pipeline: &str) -> Result<i64> {
        let row = sqlx::query("INSERT INTO runs (pipeline, started_at, status) VALUES ($1, $2, 'running') RETURNING id")
            .bind(pipeline)
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .map_err(q("start a run"))?;
        Ok(row.get::<i64, _>(0))
    }

    pub async fn run_finish(
        &self,
        id: i64,
        status: &str,
        c: &Counts,
        message: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE runs SET finished_at = $1, status = $2, rows_read = $3, rejected = $4, unchanged = $5, created = $6, \
             updated = $7, deleted = $8, locked = $9, message = $10 WHERE id = $11",
        )
        .bind(now())
        .bind(status)
        .bind(c.read)
        .bind(c.rejected)
        .bind(c.unchanged)
        .bind(c.created)
        .bind(c.updated)
        .bind(c.deleted)
        .bind(c.locked)
        .bind(message.map(str::to_string))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("finish a run"))?;
        Ok(())
    }

    /// Marks runs of `pipeline` still `running` as `interrupted`; returns their ids.
    pub async fn mark_interrupted(&self, pipeline: &str) -> Result<Vec<i64>> {
        self.mark_interrupted_because(
            pipeline,
            "stopped before it finished; its recorded batches were resumed by the next run",
        )
        .await
    }

    /// As [`Store::mark_interrupted`], with the message to record.
    pub async fn mark_interrupted_because(
        &self,
        pipeline: &str,
        message: &str,
    ) -> Result<Vec<i64>> {
        let ids: Vec<i64> = sqlx::query(
            "SELECT id FROM runs WHERE pipeline = $1 AND status = 'running' ORDER BY id",
        )
        .bind(pipeline)
        .fetch_all(&self.pool)
        .await
        .map_err(q("find interrupted runs"))?
        .into_iter()
        .map(|r| r.get::<i64, _>(0))
        .collect();
        for id in &ids {
            sqlx::query("UPDATE runs SET status = 'interrupted', finished_at = $1, message = $2 WHERE id = $3")
                .bind(now())
                .bind(message)
                .bind(*id)
                .execute(&self.pool)
                .await
                .map_err(q("mark a run interrupted"))?;
        }
        Ok(ids)
    }

    fn run_from_row(r: &sqlx::any::AnyRow) -> RunRecord {
        RunRecord {
            id: r.get("id"),
            pipeline: r.get("pipeline"),
            started_at: r.get("started_at"),
            finished_at: r.get("finished_at"),
            status: r.get("status"),
            counts: Counts {
                read: r.get("rows_read"),
                rejected: r.get("rejected"),
                unchanged: r.get("unchanged"),
                created: r.get("created"),
                updated: r.get("updated"),
                deleted: r.get("deleted"),
                locked: r.get("locked"),
            },
            message: r.get("message"),
        }
    }

    /// The most recent runs, newest first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query(select_runs!("ORDER BY id DESC LIMIT $1"))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(q("list runs"))?;
        Ok(rows.iter().map(Self::run_from_row).collect())
    }

    /// The newest run of `pipeline`.
    pub async fn last_run(&self, pipeline: &str) -> Result<Option<RunRecord>> {
        let row = sqlx::query(select_runs!("WHERE pipeline = $1 ORDER BY id DESC LIMIT 1"))
            .bind(pipeline)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read the last run"))?;
        Ok(row.as_ref().map(Self::run_from_row))
    }

    /// When the newest run of `pipeline` that landed its values (`succeeded` or `partial`)
    /// finished.
    pub async fn last_success(&self, pipeline: &str) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT finished_at FROM runs WHERE pipeline = $1 AND status IN ('succeeded', 'partial') \
             AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(pipeline)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("read the last success"))?;
        Ok(row
            .and_then(|r| r.get::<Option<String>, _>(0))
            .and_then(|t| parse_time(&t)))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .fetch_one(&self.pool)
            .await
            .map_err(q("check the connection"))?;
        Ok(())
    }

    // ---- pipeline leases: one run of a pipeline at a time, across processes ----

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

    // ---- the daemon's schedule ----

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

    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        let row = sqlx::query(select_runs!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read a run"))?;
        Ok(row.as_ref().map(Self::run_from_row))
    }

    // ---- batches ----

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

    // ---- rejects ----

    pub async fn rejects_insert(
        &self,
        run_id: i64,
        pipeline: &str,
        rejects: &[Reject],
    ) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(q("begin recording rejects"))?;
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

    pub async fn rejects(&self, run_id: i64) -> Result<Vec<Reject>> {
        let rows = sqlx::query(
            "SELECT source_file, source_row, field, reason, metric_key, period, value FROM rejects WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list rejects"))?;
        Ok(rows
            .iter()
            .map(|r| Reject {
                source_file: r.get(0),
                source_row: r.get(1),
                field: r.get(2),
                reason: r.get(3),
                metric_key: r.get(4),
                period: r.get(5),
                value: r.get(6),
            })
            .collect())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((cred, host)) => match cred.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => url.to_string(),
            },
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    /// Every migration file is embedded, in order, for both backends.
    #[test]
    fn every_migration_file_is_embedded() {
        for (dir, list) in [
            ("sqlite", super::SQLITE_MIGRATIONS),
            ("postgres", super::POSTGRES_MIGRATIONS),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dir);
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            files.sort();
            assert_eq!(files.len(), list.len(), "{dir}: {files:?}");
            for (i, (f, (v, sql))) in files.iter().zip(list.iter()).enumerate() {
                assert_eq!(*v, i as i64 + 1);
                assert_eq!(
                    std::fs::read_to_string(path.join(f)).unwrap(),
                    *sql,
                    "{dir}/{f} is migration {v}"
                );
            }
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://app:hunter2@db:5432/esg"),
            "postgres://app:***@db:5432/esg"
        );
        assert_eq!(super::redact("sqlite://state.db"), "sqlite://state.db");
    }
}

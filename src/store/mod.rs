//! The mapping store and the sync-state store, on SQLite (default) or Postgres, through sqlx's
//! Any driver: one set of queries with `$1` placeholders serves both, and every query is tested
//! on both. Migrations live in `migrations/sqlite` and `migrations/postgres`, are embedded in
//! the binary and applied at connect, each once, in order.

use chrono::Utc;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

const SQLITE_MIGRATIONS: &[(i64, &str)] =
    &[(1, include_str!("../../migrations/sqlite/0001_init.sql"))];
const POSTGRES_MIGRATIONS: &[(i64, &str)] =
    &[(1, include_str!("../../migrations/postgres/0001_init.sql"))];

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

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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

    async fn migrate(&self) -> Result<()> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")
            .execute(&self.pool)
            .await
            .map_err(|source| StoreError::Migrate { version: 0, source })?;
        let list = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        for (version, sql) in list {
            let done: Option<i64> =
                sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(*version)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|source| StoreError::Migrate {
                        version: *version,
                        source,
                    })?
                    .map(|r| r.get::<i64, _>(0));
            if done.is_some() {
                continue;
            }
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(|source| StoreError::Migrate {
                    version: *version,
                    source,
                })?;
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
                    .map_err(|source| StoreError::Migrate {
                        version: *version,
                        source,
                    })?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(now())
                .execute(&mut *tx)
                .await
                .map_err(|source| StoreError::Migrate {
                    version: *version,
                    source,
                })?;
            tx.commit().await.map_err(|source| StoreError::Migrate {
                version: *version,
                source,
            })?;
        }
        Ok(())
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
                .bind("stopped before it finished; its recorded batches were resumed by the next run")
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
        let rows = sqlx::query(
            "SELECT id, pipeline, started_at, finished_at, status, rows_read, rejected, unchanged, created, updated, deleted, locked, message \
             FROM runs ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list runs"))?;
        Ok(rows.iter().map(Self::run_from_row).collect())
    }

    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        let row = sqlx::query(
            "SELECT id, pipeline, started_at, finished_at, status, rows_read, rejected, unchanged, created, updated, deleted, locked, message \
             FROM runs WHERE id = $1",
        )
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
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://app:hunter2@db:5432/esg"),
            "postgres://app:***@db:5432/esg"
        );
        assert_eq!(super::redact("sqlite://state.db"), "sqlite://state.db");
    }
}

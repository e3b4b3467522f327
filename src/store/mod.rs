//! The mapping store and the sync-state store, on SQLite (default) or Postgres, through sqlx's
//! Any driver: one set of queries with `$1` placeholders serves both, and every query is tested
//! on both. Migrations live in `migrations/sqlite` and `migrations/postgres`, are embedded in
//! the binary and applied at connect, each once, in order. One file per table group: `migrate`,
//! `mapping`, `runs`, `batches`, `deletions`, `rejects`, `lease`, `schedule`.

mod alerts;
mod batches;
mod decisions;
mod deletions;
mod evidence;
mod hand_edits;
mod lease;
mod ledger;
mod mapping;
mod migrate;
mod prune;
mod rejects;
mod reviews;
mod ride;
mod runs;
mod schedule;
mod status;

use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};

pub use crate::outcome::DecisionAction;
pub use alerts::Delivery;
pub use decisions::Decision;
pub use deletions::DeletionRecord;
pub use evidence::{RunReject, RunReview};
pub use lease::LeaseRow;
pub use mapping::MappingKind;
pub use prune::Pruned;
pub use status::{BatchStatus, DecisionState, DeletionStatus, DeliveryStatus, RunStatus};

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
    (
        4,
        include_str!("../../migrations/sqlite/0004_batch_counts.sql"),
    ),
    (5, include_str!("../../migrations/sqlite/0005_reviews.sql")),
    (
        6,
        include_str!("../../migrations/sqlite/0006_decisions.sql"),
    ),
    (7, include_str!("../../migrations/sqlite/0007_replicas.sql")),
    (
        8,
        include_str!("../../migrations/sqlite/0008_retention.sql"),
    ),
    (
        9,
        include_str!("../../migrations/sqlite/0009_deletions.sql"),
    ),
    (10, include_str!("../../migrations/sqlite/0010_probe.sql")),
    (11, include_str!("../../migrations/sqlite/0011_ledger.sql")),
    (
        12,
        include_str!("../../migrations/sqlite/0012_hand_edits.sql"),
    ),
    (
        13,
        include_str!("../../migrations/sqlite/0013_batch_changes.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_schedule.sql"),
    ),
    (3, include_str!("../../migrations/postgres/0003_leases.sql")),
    (
        4,
        include_str!("../../migrations/postgres/0004_batch_counts.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_reviews.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_decisions.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_replicas.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_retention.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_deletions.sql"),
    ),
    (10, include_str!("../../migrations/postgres/0010_probe.sql")),
    (
        11,
        include_str!("../../migrations/postgres/0011_ledger.sql"),
    ),
    (
        12,
        include_str!("../../migrations/postgres/0012_hand_edits.sql"),
    ),
    (
        13,
        include_str!("../../migrations/postgres/0013_batch_changes.sql"),
    ),
];
/// The Postgres advisory lock key that serializes migrations ("esgsync" in ASCII).
const MIGRATION_LOCK: i64 = 0x0065_7367_7379_6e63;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the state store {url}: {}. Check [store] url; a SQLite file's folder must be writable",
        crate::redact::text(&source.to_string())
    )]
    Connect { url: String, source: sqlx::Error },
    #[error("state store migration {version} failed: {source}")]
    Migrate { version: i64, source: sqlx::Error },
    #[error("state store query failed ({what}): {source}")]
    Query {
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("[store] url `{}` is neither sqlite:// nor postgres://", crate::redact::url(.0))]
    Scheme(String),
    /// A write of a run whose lease another process has taken since (its fencing token is
    /// no longer the lease's): refused, so two holders never both write a pipeline's state.
    #[error(
        "the lease of pipeline `{pipeline}` was taken over by another process (this run's fencing token {token} is stale); the write was refused and the holder of the lease resumes the run"
    )]
    Fenced { pipeline: String, token: i64 },
    /// A row in a state no version of esg-sync writes: the database was changed by hand.
    #[error(
        "the state store's {table} row {id} has {column} `{status}`, which esg-sync never writes; restore it from a backup or correct the row"
    )]
    Corrupt {
        table: &'static str,
        id: i64,
        /// `status`, or `action` for a reviewer's decision.
        column: &'static str,
        status: String,
    },
    /// A timestamp no version of esg-sync writes: the database was changed by hand.
    #[error(
        "the state store's {table} row {id} has {column} `{text}`, which is not an RFC 3339 time; restore it from a backup or correct the row"
    )]
    BadTime {
        table: &'static str,
        /// The row's id, or its key where the table has no id (a lease's pipeline).
        id: String,
        column: &'static str,
        text: String,
    },
}

impl StoreError {
    /// A database that went away may come back; a bad URL or schema will not.
    /// A fenced write is retriable too: the lease's holder goes on with the pipeline.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Self::Query {
                source: sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed,
                ..
            } | Self::Fenced { .. }
        )
    }

    /// Whether the write was refused because another process took the run's lease.
    pub fn is_fenced(&self) -> bool {
        matches!(self, Self::Fenced { .. })
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

/// Timestamps are stored as RFC 3339 text in UTC with milliseconds, which sorts as time does.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now() -> String {
    stamp(Utc::now())
}

/// A timestamp as the store keeps it (RFC 3339, UTC, milliseconds): how tables and JSON
/// show the times of records.
pub fn shown(t: &DateTime<Utc>) -> String {
    stamp(*t)
}

/// Serializes a record's time as [`shown`] writes it.
fn serialize_time<S: serde::Serializer>(
    t: &DateTime<Utc>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&stamp(*t))
}

/// Serializes a record's optional time as [`shown`] writes it.
fn serialize_opt_time<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&stamp(*t)),
        None => s.serialize_none(),
    }
}

/// Column `column` of row `id` of `table` as a time, or the error that names the row.
fn time_of_row(
    table: &'static str,
    id: impl std::fmt::Display,
    column: &'static str,
    text: String,
) -> Result<DateTime<Utc>> {
    parse_time(&text).ok_or_else(|| StoreError::BadTime {
        table,
        id: id.to_string(),
        column,
        text,
    })
}

pub use crate::outcome::Counts;

#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub pipeline: String,
    #[serde(serialize_with = "serialize_time")]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_opt_time")]
    pub finished_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub counts: Counts,
    pub message: Option<String>,
    /// The replica that ran it (`host/pid/tag`); none for runs recorded before replicas.
    pub holder: Option<String>,
    /// `[pipeline.review]`: values the run auto-completed and flagged for review.
    pub auto_completed: i64,
    pub flagged: i64,
}

#[derive(Debug, Clone)]
pub struct BatchRecord {
    pub id: i64,
    pub run_id: i64,
    pub program_id: String,
    pub metric_id: String,
    pub value_count: i64,
    pub body: Vec<u8>,
    pub status: BatchStatus,
    pub operation_url: Option<String>,
}

pub use crate::outcome::Reject;

#[derive(Debug, Clone)]
pub struct Store {
    /// The writer: every write and every read a run acts on. One connection on SQLite.
    pool: AnyPool,
    /// What operators read (`esg-sync runs`, the status page, a run's rejects): on a SQLite
    /// file, a pool of its own, so these reads never wait for the writer nor it for them
    /// (the write-ahead log lets both go on); on Postgres and in memory, the writer's pool.
    reads: AnyPool,
    pub backend: Backend,
    /// Set on the store a run writes through ([`Store::fenced`]): its pipeline's lease and the
    /// fencing token it was acquired with.
    fence: Option<std::sync::Arc<Fence>>,
    /// How long a write is tried again while the store fails transiently ([`Store::ride`]).
    outage: std::time::Duration,
}

/// `[store] outage_secs` by default.
pub const DEFAULT_OUTAGE: std::time::Duration = std::time::Duration::from_secs(120);

/// A run's claim on its pipeline's state: the lease's fencing token when it was acquired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub pipeline: String,
    pub token: i64,
    /// The process holding the lease (`host/pid/tag`), recorded with the run.
    pub holder: String,
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
        let mut conn_url = crate::dburl::secure(url);
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or("");
            if path != ":memory:" && !path.is_empty() {
                // The lake's figures and notes live here: readable by this user only.
                let _ = crate::outcome::private_file(std::path::Path::new(path));
            }
            if !conn_url.contains('?') && path != ":memory:" {
                conn_url.push_str("?mode=rwc");
            }
        }
        let memory = conn_url.contains(":memory:");
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 1 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(10))
            .after_connect(move |conn, _| Box::pin(session(conn, backend, memory)))
            .connect(&conn_url)
            .await
            .map_err(|source| StoreError::Connect {
                url: crate::redact::url(url),
                source,
            })?;
        let mut store = Self {
            reads: pool.clone(),
            pool,
            backend,
            fence: None,
            outage: DEFAULT_OUTAGE,
        };
        store.migrate().await?;
        if backend == Backend::Sqlite && !memory {
            store.reads = AnyPoolOptions::new()
                .max_connections(READERS)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .after_connect(|conn, _| Box::pin(reader_session(conn)))
                .connect(&conn_url)
                .await
                .map_err(|source| StoreError::Connect {
                    url: crate::redact::url(url),
                    source,
                })?;
        }
        Ok(store)
    }

    /// Opens the store `[store]` describes, riding out outages of up to its `outage_secs`.
    pub async fn open(cfg: &crate::config::StoreConfig) -> Result<Self> {
        let store = Self::connect(cfg.url.expose()).await?;
        Ok(store.with_outage(std::time::Duration::from_secs(cfg.outage_secs)))
    }

    /// This store, with every write checked against `fence`: a write made after another
    /// process took the pipeline's lease fails with [`StoreError::Fenced`] and changes nothing.
    pub fn fenced(&self, fence: Fence) -> Self {
        Self {
            fence: Some(std::sync::Arc::new(fence)),
            ..self.clone()
        }
    }

    /// The fence this store's writes are checked against, if any.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_deref()
    }

    /// Begins a write transaction; on a fenced store its first statement checks the fencing
    /// token. That statement writes the lease row, so it holds the row's lock (Postgres) or
    /// the database's write lock (SQLite) until the commit: a takeover waits for the
    /// transaction, and a transaction that comes after a takeover is refused.
    async fn write(&self, what: &'static str) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.pool.begin().await.map_err(q(what))?;
        if let Some(f) = &self.fence {
            let held = sqlx::query(
                "UPDATE pipeline_leases SET token = token WHERE pipeline = $1 AND token = $2",
            )
            .bind(f.pipeline.clone())
            .bind(f.token)
            .execute(&mut *tx)
            .await
            .map_err(q(what))?;
            if held.rows_affected() != 1 {
                return Err(StoreError::Fenced {
                    pipeline: f.pipeline.clone(),
                    token: f.token,
                });
            }
        }
        Ok(tx)
    }

    /// The database's time now, as an SQL expression in the store's timestamp format (read
    /// when evaluated: after any lock the statement waited for).
    fn db_now(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            Backend::Postgres => {
                "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            }
        }
    }

    /// The database's time plus the seconds in parameter `secs` (a float), as [`Store::db_now`].
    fn db_later(&self, secs: &str) -> String {
        match self.backend {
            Backend::Sqlite => {
                format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || {secs} || ' seconds')")
            }
            Backend::Postgres => format!(
                "to_char((clock_timestamp() + make_interval(secs => {secs})) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            ),
        }
    }

    /// A transaction for a lease or claim statement: on Postgres it waits at most
    /// [`LOCK_TIMEOUT`] for a row another session holds (a paused replica's), then fails
    /// transiently instead of blocking the takeover.
    async fn lease_tx(&self, what: &'static str) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.pool.begin().await.map_err(q(what))?;
        if self.backend == Backend::Postgres {
            sqlx::query(LOCK_TIMEOUT)
                .execute(&mut *tx)
                .await
                .map_err(q(what))?;
        }
        Ok(tx)
    }

    pub async fn close(&self) {
        self.reads.close().await;
        self.pool.close().await;
    }
}

/// How long a lease statement waits for a row lock on Postgres.
const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '5s'";

/// Each connection's settings. Postgres: a session idle inside a transaction for 10 s (a
/// replica paused with `SIGSTOP`, cut off mid-transaction) is ended by the server, so the
/// lease row it locked is free again. SQLite: a write-ahead log (readers do not block the
/// writer), a busy timeout of 5 s, and full syncs, so a commit that returned is on disk.
async fn session(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    memory: bool,
) -> std::result::Result<(), sqlx::Error> {
    let statements: &[&str] = match backend {
        Backend::Postgres => &["SET idle_in_transaction_session_timeout = '10s'"],
        Backend::Sqlite if memory => &["PRAGMA busy_timeout = 5000"],
        Backend::Sqlite => &[
            "PRAGMA journal_mode = WAL",
            "PRAGMA busy_timeout = 5000",
            "PRAGMA synchronous = FULL",
        ],
    };
    for sql in statements {
        sqlx::query(*sql).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Connections of a SQLite store's reader pool.
const READERS: u32 = 4;

/// A SQLite reader: it can only read, and waits up to 5 s for a checkpoint's lock.
async fn reader_session(conn: &mut sqlx::AnyConnection) -> std::result::Result<(), sqlx::Error> {
    for sql in ["PRAGMA busy_timeout = 5000", "PRAGMA query_only = ON"] {
        sqlx::query(sql).execute(&mut *conn).await?;
    }
    Ok(())
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
}

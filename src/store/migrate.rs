//! Migrations: the embedded SQL of each backend, applied at connect, each once, in order, in
//! one transaction that holds the database's write lock.

use sqlx::Row;

use super::{
    Backend, MIGRATION_LOCK, POSTGRES_MIGRATIONS, Result, SQLITE_MIGRATIONS, Store, StoreError, now,
};

impl Store {
    /// Applies the embedded migrations that are not applied yet, in one transaction that
    /// holds the database's write lock (SQLite: `BEGIN IMMEDIATE`; Postgres: an advisory
    /// lock), so two processes that start at once on a new database (a daemon and a
    /// `run-now`, say) apply each migration once: the second waits, then finds them done.
    pub(super) async fn migrate(&self) -> Result<()> {
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
}

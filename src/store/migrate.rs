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
            for stmt in statements(sql) {
                sqlx::query(sqlx::AssertSqlSafe(stmt))
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

/// A migration's statements: split at each `;` that ends one, not at those inside a quoted
/// string, a dollar-quoted function body (Postgres) or a trigger's `BEGIN ... END` (SQLite).
/// Comment lines go first, so a `;` inside one splits nothing.
fn statements(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    let (mut out, mut cur) = (Vec::new(), String::new());
    let (mut quoted, mut dollar, mut block) = (false, false, 0usize);
    let mut word = String::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            if !quoted && !dollar {
                block = match word.to_ascii_uppercase().as_str() {
                    "BEGIN" => block + 1,
                    "END" => block.saturating_sub(1),
                    _ => block,
                };
            }
            word.clear();
        }
        match c {
            '\'' if !dollar => quoted = !quoted,
            '$' if !quoted && chars.peek() == Some(&'$') => {
                chars.next();
                cur.push('$');
                dollar = !dollar;
            }
            ';' if !quoted && !dollar && block == 0 => {
                let stmt = cur.trim();
                if !stmt.is_empty() {
                    out.push(stmt.to_string());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    let stmt = cur.trim();
    if !stmt.is_empty() {
        out.push(stmt.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn statements_split_where_they_end_and_nowhere_else() {
        let sql = "-- a comment; not a statement\nCREATE TABLE t (a TEXT DEFAULT 'x;y');\n\
                   CREATE TRIGGER t_ro BEFORE UPDATE ON t BEGIN SELECT RAISE(ABORT, 'no; never'); END;\n\
                   CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no'; END; $$ LANGUAGE plpgsql;\n\
                   INSERT INTO t VALUES ('begin'); INSERT INTO t VALUES ('end')";
        assert_eq!(
            statements(sql),
            vec![
                "CREATE TABLE t (a TEXT DEFAULT 'x;y')",
                "CREATE TRIGGER t_ro BEFORE UPDATE ON t BEGIN SELECT RAISE(ABORT, 'no; never'); END",
                "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no'; END; $$ LANGUAGE plpgsql",
                "INSERT INTO t VALUES ('begin')",
                "INSERT INTO t VALUES ('end')",
            ]
        );
    }

    #[test]
    fn every_shipped_migration_splits_as_before() {
        // Before triggers, a migration was split at every `;`: the shipped ones still are.
        for (_, sql) in super::SQLITE_MIGRATIONS
            .iter()
            .chain(super::POSTGRES_MIGRATIONS)
        {
            if sql.contains("TRIGGER") {
                continue;
            }
            let code: String = sql
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            let naive: Vec<String> = code
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            assert_eq!(statements(sql), naive);
        }
    }
}

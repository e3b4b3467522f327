//! SQL sources: one query against PostgreSQL, MySQL/MariaDB or SQLite, streamed row by row
//! (sqlx `fetch`, never `fetch_all`) in a read-only transaction with a statement time limit.
//! Each mapped column becomes a [`Cell`] by its SQL type: NUMERIC/DECIMAL exactly (never
//! through f64), REAL/FLOAT4 by f32's shortest text, DOUBLE/FLOAT8 by f64's, integers, DATE,
//! TIMESTAMP (its date), text, booleans and NULL. Rows are numbered from 1 in the result's
//! order, and named `postgres query of pipeline NAME`, so a reject points at its row.

use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Column, Connection, Executor, Row, Statement, TypeInfo, ValueRef};

use super::parquet::{BATCH_ROWS, roles};
use super::{Cell, SourceRow};
use crate::config::{Columns, SqlKind, SqlSource};

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("{source_name}: {reason}")]
    Url {
        source_name: String,
        reason: crate::config::source::UrlError,
    },
    #[error(
        "{source_name}: cannot connect to {url}: {reason}. Check the URL and that the database is reachable"
    )]
    Connect {
        source_name: String,
        url: String,
        reason: String,
    },
    #[error("{source_name}: the query failed: {reason}")]
    Query { source_name: String, reason: String },
    #[error(
        "{source_name}: the query took longer than {secs} s (source.statement_timeout_secs); narrow it, or raise the limit"
    )]
    Timeout { source_name: String, secs: u64 },
    #[error(
        "{source_name}: the query has no column `{column}` (mapped as {role}); its columns are: {available}"
    )]
    MissingColumn {
        source_name: String,
        column: String,
        role: String,
        available: String,
    },
    #[error(
        "{source_name}: column `{column}` has type {type_name}, which esg-sync cannot read; cast it in the query to text, an integer, a float, a decimal, a date or a boolean"
    )]
    UnsupportedType {
        source_name: String,
        column: String,
        type_name: String,
    },
}

/// The SQL types each database may hand over, by sqlx's name for them.
fn supported(kind: SqlKind, type_name: &str) -> bool {
    let t = type_name.to_ascii_uppercase();
    let t = t.trim_end_matches(" UNSIGNED");
    match kind {
        SqlKind::Postgres => matches!(
            t,
            "BOOL"
                | "INT2"
                | "INT4"
                | "INT8"
                | "FLOAT4"
                | "FLOAT8"
                | "NUMERIC"
                | "TEXT"
                | "VARCHAR"
                | "BPCHAR"
                | "CHAR"
                | "NAME"
                | "UNKNOWN"
                | "DATE"
                | "TIMESTAMP"
                | "TIMESTAMPTZ"
        ),
        SqlKind::Mysql => matches!(
            t,
            "BOOLEAN"
                | "TINYINT"
                | "SMALLINT"
                | "MEDIUMINT"
                | "INT"
                | "BIGINT"
                | "FLOAT"
                | "DOUBLE"
                | "DECIMAL"
                | "VARCHAR"
                | "CHAR"
                | "TEXT"
                | "TINYTEXT"
                | "MEDIUMTEXT"
                | "LONGTEXT"
                | "DATE"
                | "DATETIME"
                | "TIMESTAMP"
                | "NULL"
                | "YEAR"
        ),
        // SQLite types values, not columns: an expression's column has no declared type.
        SqlKind::Sqlite => matches!(
            t,
            "NULL"
                | "INTEGER"
                | "INT"
                | "BIGINT"
                | "REAL"
                | "FLOAT"
                | "DOUBLE"
                | "TEXT"
                | "VARCHAR"
                | "NUMERIC"
                | "DECIMAL"
                | "BOOLEAN"
                | "DATE"
                | "DATETIME"
        ),
    }
}

fn days(d: chrono::NaiveDate) -> Cell {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    i32::try_from((d - epoch).num_days())
        .map(Cell::Date)
        .unwrap_or_else(|_| Cell::Text(d.to_string()))
}

/// An exact decimal: scaled when it fits, else its text (which stays exact).
fn decimal(d: sqlx::types::BigDecimal) -> Cell {
    let (digits, exp) = d.as_bigint_and_exponent();
    match (digits.to_string().parse::<i128>(), i8::try_from(exp)) {
        (Ok(value), Ok(scale)) => Cell::Decimal { value, scale },
        _ => Cell::Text(d.to_string()),
    }
}

fn pg_cell(row: &sqlx::postgres::PgRow, i: usize) -> Result<Cell, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let name = raw.type_info().name().to_string();
    Ok(match name.as_str() {
        "BOOL" => Cell::Bool(row.try_get(i)?),
        "INT2" => Cell::Int(row.try_get::<i16, _>(i)?.into()),
        "INT4" => Cell::Int(row.try_get::<i32, _>(i)?.into()),
        "INT8" => Cell::Int(row.try_get(i)?),
        "FLOAT4" => Cell::Float(super::cell::widen_f32(row.try_get(i)?)),
        "FLOAT8" => Cell::Float(row.try_get(i)?),
        "NUMERIC" => decimal(row.try_get(i)?),
        "DATE" => days(row.try_get(i)?),
        "TIMESTAMP" => days(row.try_get::<chrono::NaiveDateTime, _>(i)?.date()),
        "TIMESTAMPTZ" => days(
            row.try_get::<chrono::DateTime<chrono::Utc>, _>(i)?
                .date_naive(),
        ),
        _ => Cell::Text(row.try_get(i)?),
    })
}

fn mysql_cell(row: &sqlx::mysql::MySqlRow, i: usize) -> Result<Cell, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let name = raw.type_info().name().to_ascii_uppercase();
    Ok(match name.as_str() {
        "BOOLEAN" => Cell::Bool(row.try_get(i)?),
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
            Cell::Int(row.try_get(i)?)
        }
        n if n.ends_with(" UNSIGNED") => {
            let v: u64 = row.try_get(i)?;
            i64::try_from(v).map(Cell::Int).unwrap_or(Cell::Decimal {
                value: v.into(),
                scale: 0,
            })
        }
        "FLOAT" => Cell::Float(super::cell::widen_f32(row.try_get(i)?)),
        "DOUBLE" => Cell::Float(row.try_get(i)?),
        "DECIMAL" => decimal(row.try_get(i)?),
        "DATE" => days(row.try_get(i)?),
        "DATETIME" => days(row.try_get::<chrono::NaiveDateTime, _>(i)?.date()),
        "TIMESTAMP" => days(
            row.try_get::<chrono::DateTime<chrono::Utc>, _>(i)?
                .date_naive(),
        ),
        _ => Cell::Text(row.try_get(i)?),
    })
}

fn sqlite_cell(row: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Cell, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    // The value's own storage class, whatever the column was declared as.
    let name = raw.type_info().name().to_ascii_uppercase();
    Ok(match name.as_str() {
        "INTEGER" | "INT" | "BIGINT" | "BOOLEAN" => Cell::Int(row.try_get(i)?),
        "REAL" | "FLOAT" | "DOUBLE" => Cell::Float(row.try_get(i)?),
        _ => Cell::Text(row.try_get(i)?),
    })
}

/// Where each role's column sits in the result.
struct Layout {
    metric: Option<usize>,
    period: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    value: usize,
    notes: Option<usize>,
    status: Option<usize>,
    dims: Vec<usize>,
}

/// Finds each mapped column among the result's: exactly, else ignoring case (PostgreSQL folds
/// unquoted names to lower case).
fn layout(names: &[String], c: &Columns, source_name: &str) -> Result<Layout, SqlError> {
    let find = |col: &str, role: &str| -> Result<usize, SqlError> {
        names
            .iter()
            .position(|n| n == col)
            .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(col)))
            .ok_or_else(|| SqlError::MissingColumn {
                source_name: source_name.into(),
                column: col.into(),
                role: role.into(),
                available: names.join(", "),
            })
    };
    let opt = |col: &Option<String>, role: &str| col.as_deref().map(|x| find(x, role)).transpose();
    Ok(Layout {
        metric: opt(&c.metric, "metric")?,
        period: opt(&c.period.clone().or_else(|| c.year.clone()), "period")?,
        start: opt(&c.start_month, "start_month")?,
        end: opt(&c.end_month, "end_month")?,
        value: find(&c.value, "value")?,
        notes: opt(&c.notes, "notes")?,
        status: opt(&c.status, "status")?,
        dims: c
            .dimensions
            .iter()
            .map(|(col, dim)| find(col, &format!("dimension {dim}")))
            .collect::<Result<_, _>>()?,
    })
}

/// One result row as a source row.
fn source_row<R>(
    row: &R,
    n: u64,
    l: &Layout,
    name: &Arc<str>,
    cell: fn(&R, usize) -> Result<Cell, sqlx::Error>,
) -> Result<SourceRow, sqlx::Error> {
    let get = |i: Option<usize>| {
        i.map(|i| cell(row, i))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(SourceRow {
        file: name.clone(),
        row: n,
        metric: get(l.metric)?,
        period: get(l.period)?,
        start_month: get(l.start)?,
        end_month: get(l.end)?,
        dims: l
            .dims
            .iter()
            .map(|i| cell(row, *i))
            .collect::<Result<_, _>>()?,
        value: cell(row, l.value)?,
        notes: get(l.notes)?,
        status: get(l.status)?,
    })
}

/// Reads the query's rows, handing them to `each` in chunks of at most [`BATCH_ROWS`] as they
/// arrive; `each` returns false to stop early. Returns the number of rows read. `pipeline`
/// names the source in rejects and errors.
pub async fn read<F, Fut>(
    s: &SqlSource,
    c: &Columns,
    pipeline: &str,
    each: F,
) -> Result<u64, SqlError>
where
    F: FnMut(Vec<SourceRow>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let name: Arc<str> = Arc::from(s.name(pipeline));
    let limit = Duration::from_secs(s.statement_timeout_secs);
    // The database's own limit ends the statement; this one also covers connecting and a
    // database that has none (SQLite).
    match tokio::time::timeout(
        limit + Duration::from_secs(5),
        read_inner(s, c, &name, each),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(SqlError::Timeout {
            source_name: name.to_string(),
            secs: s.statement_timeout_secs,
        }),
    }
}

/// The database a source reaches: its URL, how it is shown in messages (never with its
/// password), and the source's name; and the errors that name them.
struct Target<'a> {
    url: String,
    shown: String,
    name: &'a str,
}

impl<'a> Target<'a> {
    fn of(s: &SqlSource, name: &'a str) -> Result<Self, SqlError> {
        let url = s.url().map_err(|reason| SqlError::Url {
            source_name: name.into(),
            reason,
        })?;
        Ok(Self {
            shown: crate::redact::url(&url),
            url: crate::dburl::secure(&url),
            name,
        })
    }

    fn connect(&self, e: sqlx::Error) -> SqlError {
        SqlError::Connect {
            source_name: self.name.to_string(),
            url: self.shown.clone(),
            reason: crate::redact::text(&e.to_string()),
        }
    }

    fn query(&self, e: sqlx::Error) -> SqlError {
        SqlError::Query {
            source_name: self.name.to_string(),
            reason: crate::redact::text(&e.to_string()),
        }
    }
}

macro_rules! stream_rows {
    ($tx:expr, $s:expr, $c:expr, $name:expr, $cell:expr, $query_err:expr, $each:expr) => {{
        let query_err = $query_err;
        let mut rows = sqlx::query(sqlx::AssertSqlSafe($s.query.clone())).fetch(&mut *$tx);
        let mut chunk = Vec::with_capacity(BATCH_ROWS);
        let mut layout_of = None;
        let mut n = 0u64;
        let mut going = true;
        while let Some(row) = rows.try_next().await.map_err(query_err)? {
            n += 1;
            if layout_of.is_none() {
                let names: Vec<String> =
                    row.columns().iter().map(|c| c.name().to_string()).collect();
                layout_of = Some(layout(&names, $c, $name)?);
            }
            let l = layout_of.as_ref().expect("set above");
            chunk.push(source_row(&row, n, l, $name, $cell).map_err(query_err)?);
            if chunk.len() == BATCH_ROWS {
                going = $each(std::mem::replace(
                    &mut chunk,
                    Vec::with_capacity(BATCH_ROWS),
                ))
                .await;
                if !going {
                    break;
                }
            }
        }
        drop(rows);
        if going && !chunk.is_empty() {
            $each(chunk).await;
        }
        n
    }};
}

async fn read_inner<F, Fut>(
    s: &SqlSource,
    c: &Columns,
    name: &Arc<str>,
    mut each: F,
) -> Result<u64, SqlError>
where
    F: FnMut(Vec<SourceRow>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Target::of(s, name)?;
    let (connect_err, query_err) = (|e| t.connect(e), |e| t.query(e));
    let ms = s.statement_timeout_secs * 1000;
    match s.kind {
        SqlKind::Postgres => {
            let mut conn = PgConnection::connect(&t.url).await.map_err(connect_err)?;
            let mut tx = conn
                .begin_with("BEGIN READ ONLY")
                .await
                .map_err(query_err)?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SET LOCAL statement_timeout = {ms}"
            )))
            .execute(&mut *tx)
            .await
            .map_err(query_err)?;
            let rows = stream_rows!(tx, s, c, name, pg_cell, query_err, each);
            tx.rollback().await.map_err(query_err)?;
            Ok(rows)
        }
        SqlKind::Mysql => {
            let mut conn = MySqlConnection::connect(&t.url)
                .await
                .map_err(connect_err)?;
            // MariaDB counts seconds, MySQL milliseconds; each refuses the other's name.
            let mariadb = format!(
                "SET SESSION max_statement_time = {}",
                s.statement_timeout_secs
            );
            if conn.execute(sqlx::AssertSqlSafe(mariadb)).await.is_err() {
                let mysql = format!("SET SESSION max_execution_time = {ms}");
                conn.execute(sqlx::AssertSqlSafe(mysql))
                    .await
                    .map_err(query_err)?;
            }
            let mut tx = conn
                .begin_with("START TRANSACTION READ ONLY")
                .await
                .map_err(query_err)?;
            let rows = stream_rows!(tx, s, c, name, mysql_cell, query_err, each);
            tx.rollback().await.map_err(query_err)?;
            Ok(rows)
        }
        SqlKind::Sqlite => {
            let ro = if t.url.contains('?') {
                format!("{}&mode=ro", t.url)
            } else {
                format!("{}?mode=ro", t.url)
            };
            let mut conn = SqliteConnection::connect(&ro).await.map_err(connect_err)?;
            let mut tx = conn.begin().await.map_err(query_err)?;
            let rows = stream_rows!(tx, s, c, name, sqlite_cell, query_err, each);
            tx.rollback().await.map_err(query_err)?;
            Ok(rows)
        }
    }
}

/// Checks the source without running the query: the database answers, the query prepares
/// (a prepared statement, never executed),
/// and each mapped column is in its result with a type esg-sync reads. Every problem is
/// returned.
pub async fn check(s: &SqlSource, c: &Columns, pipeline: &str) -> Vec<SqlError> {
    let name = s.name(pipeline);
    match check_inner(s, c, &name).await {
        Ok(problems) => problems,
        Err(e) => vec![e],
    }
}

async fn check_inner(s: &SqlSource, c: &Columns, name: &str) -> Result<Vec<SqlError>, SqlError> {
    let t = Target::of(s, name)?;
    let (connect_err, query_err) = (|e| t.connect(e), |e| t.query(e));
    let q = sqlx::AssertSqlSafe(s.query.clone());
    use sqlx::SqlSafeStr;
    let columns: Vec<(String, String)> = match s.kind {
        SqlKind::Postgres => {
            let mut conn = PgConnection::connect(&t.url).await.map_err(connect_err)?;
            let d = Executor::prepare(&mut conn, q.into_sql_str())
                .await
                .map_err(query_err)?;
            d.columns()
                .iter()
                .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
                .collect()
        }
        SqlKind::Mysql => {
            let mut conn = MySqlConnection::connect(&t.url)
                .await
                .map_err(connect_err)?;
            let d = Executor::prepare(&mut conn, q.into_sql_str())
                .await
                .map_err(query_err)?;
            d.columns()
                .iter()
                .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
                .collect()
        }
        SqlKind::Sqlite => {
            let mut conn = SqliteConnection::connect(&t.url)
                .await
                .map_err(connect_err)?;
            let d = Executor::prepare(&mut conn, q.into_sql_str())
                .await
                .map_err(query_err)?;
            d.columns()
                .iter()
                .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
                .collect()
        }
    };
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    let mut problems = Vec::new();
    for (role, col) in roles(c) {
        let at = names
            .iter()
            .position(|n| n == &col)
            .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(&col)));
        match at {
            None => problems.push(SqlError::MissingColumn {
                source_name: name.into(),
                column: col,
                role,
                available: names.join(", "),
            }),
            Some(i) if !supported(s.kind, &columns[i].1) => {
                problems.push(SqlError::UnsupportedType {
                    source_name: name.into(),
                    column: col,
                    type_name: columns[i].1.clone(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(problems)
}

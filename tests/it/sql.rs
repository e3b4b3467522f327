//! SQL sources. The same small lake, as a table in SQLite, PostgreSQL and MariaDB,
//! syncs into the emulator value for value: exact decimals (`NUMERIC(18,4)` 512.8700 lands as
//! 512.87), a `REAL` 0.1 as 0.1, dates, nulls; rejects name the query and the row; `validate`
//! finds a missing column or an unreadable type without running the query; a password never
//! shows. PostgreSQL and MariaDB tests read their server's URL from
//! `ESG_SYNC_TEST_POSTGRES_URL` and `ESG_SYNC_TEST_MYSQL_URL` (`.ci/run` sets both) and skip,
//! saying so, when it is unset.

use std::path::{Path, PathBuf};

use esg_sync::config::{PipelineConfig, Source};
use esg_sync::sync::{RunOptions, Status};
use serde_json::json;
use sqlx::Connection;

use crate::support::db::fresh_db;
use crate::support::env::{SyncEnv, sync_env};
use crate::support::pipeline::PipelineToml;

/// A lake row: metric, period, facility, value (as SQL text), notes.
type LakeRow = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
);

/// The lake's rows.
const ROWS: &[LakeRow] = &[
    ("ghg", "2025-Q1", Some("A"), "512.8700", Some("audited")),
    ("ghg", "2025-Q2", Some("B"), "0.1", None),
    ("ghg", "2024", None, "-12.5000", None),
    ("share", "2025", None, "45.5", None),
    ("nox", "2025", Some("A"), "1", None),
];

/// The database URL in a file of the test's own (as a mounted secret would hold it), so the
/// test sets no environment variable in its multi-threaded process.
pub(crate) fn url_file(e: &SyncEnv, url: &str) -> PathBuf {
    let path = e.file("lake.url");
    std::fs::write(&path, url).unwrap();
    path
}

pub(crate) fn pipeline(kind: &str, url_file: &Path, query: &str) -> PipelineConfig {
    let source = format!(
        "[pipeline.source]\nkind = {kind:?}\nurl_file = {:?}\nquery = {query:?}\nstatement_timeout_secs = 30",
        url_file.display().to_string()
    );
    PipelineToml::without_source("test", "Test Program")
        .extra(&source)
        .column("notes", "notes")
        .metrics(&[("ghg", "Num"), ("share", "Share")])
        .config()
}

/// Syncs the lake and checks Workiva holds it exactly, the bad row rejected by its row number.
async fn sync_and_check(e: &SyncEnv, p: &PipelineConfig, kind: &str) {
    let r = e.run(p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created, r.counts.rejected),
        (Status::Partial, 4, 1),
        "{r:?}"
    );
    let rj = &r.rejects[0];
    assert_eq!(
        (rj.source_file.as_str(), rj.source_row, rj.field.as_str()),
        (
            format!("{kind} query of pipeline test").as_str(),
            5,
            "metric"
        ),
        "{rj:?}"
    );
    // Each change's origin: the query by its text's SHA-256, and the row's number in the result.
    let esg_sync::config::Source::Sql(sql) = &p.source else {
        panic!("a SQL source")
    };
    let entries = e.store.ledger_of_run(r.run_id.unwrap()).await.unwrap();
    let mut rows: Vec<u64> = entries.iter().map(|c| c.change.origin.row).collect();
    rows.sort();
    assert_eq!(rows, vec![1, 2, 3, 4], "the result's good rows, by number");
    for c in &entries {
        let o = &c.change.origin;
        assert_eq!(o.source, format!("{kind} query of pipeline test"));
        assert_eq!(
            o.version,
            Some(esg_sync::source::Version::of_query(&sql.query))
        );
    }
    let f = &e.env.ids.facility;
    let num: Vec<_> = e
        .workiva(&e.env.ids.num)
        .await
        .into_iter()
        .map(|v| (v.year, v.start, v.coordinates, v.value, v.notes))
        .collect();
    assert_eq!(
        num,
        vec![
            (2024, 1, json!({}), "-12.5".to_string(), String::new()),
            (
                2025,
                1,
                json!({f: "A"}),
                "512.87".to_string(),
                "audited".to_string()
            ),
            (2025, 4, json!({f: "B"}), "0.1".to_string(), String::new()),
        ]
    );
    assert_eq!(e.workiva(&e.env.ids.share).await[0].value, "45.5");
    // A rerun sends nothing.
    let before = e.upsertions();
    let r = e.run(p, RunOptions::default()).await;
    assert_eq!((r.counts.unchanged, e.upsertions()), (4, before), "{r:?}");
}

#[tokio::test]
async fn a_sqlite_query_syncs_value_for_value() {
    let e = sync_env().await;
    let db = e.file("lake.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TABLE emissions (metric_code TEXT, period TEXT, site TEXT, value TEXT, notes TEXT)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    for (m, per, site, v, n) in ROWS {
        sqlx::query("INSERT INTO emissions VALUES ($1, $2, $3, $4, $5)")
            .bind(m)
            .bind(per)
            .bind(site)
            .bind(v)
            .bind(n)
            .execute(&mut c)
            .await
            .unwrap();
    }
    c.close().await.unwrap();
    let var = &url_file(&e, &format!("sqlite://{}", db.display()));
    let p = pipeline(
        "sqlite",
        var,
        "SELECT metric_code AS metric, period, site AS facility, value, notes FROM emissions ORDER BY rowid",
    );
    sync_and_check(&e, &p, "sqlite").await;
}

#[tokio::test]
async fn a_postgres_query_syncs_exact_decimals_and_floats() {
    let Some(db) = fresh_db("ESG_SYNC_TEST_POSTGRES_URL", true).await else {
        return;
    };
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(
        "CREATE SCHEMA reporting;
         CREATE TABLE reporting.emissions (id serial, metric_code text, period text, site text,
             value numeric(18,4), approx real, notes text, day date)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    for (m, per, site, v, n) in ROWS {
        sqlx::query(
            "INSERT INTO reporting.emissions (metric_code, period, site, value, approx, notes, day) \
             VALUES ($1, $2, $3, $4::numeric, $4::real, $5, DATE '2025-01-31')",
        )
        .bind(m)
        .bind(per)
        .bind(site)
        .bind(v)
        .bind(n)
        .execute(&mut c)
        .await
        .unwrap();
    }
    let e = sync_env().await;
    let var = &url_file(&e, &db.url);
    let p = pipeline(
        "postgres",
        var,
        "SELECT metric_code AS metric, period, site AS facility, \
         CASE WHEN period = '2025-Q2' THEN NULL ELSE value END AS value_exact, approx, notes \
         FROM reporting.emissions ORDER BY id",
    );
    // The query above names its columns differently: `validate` finds that without running it.
    let Source::Sql(s) = &p.source else { panic!() };
    let problems = esg_sync::source::sql::check(s, &p.columns, "test").await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].to_string().contains("no column `value`"),
        "{}",
        problems[0]
    );
    let p = pipeline(
        "postgres",
        var,
        "SELECT metric_code AS metric, period, site AS facility, value, notes FROM reporting.emissions ORDER BY id",
    );
    let Source::Sql(s) = &p.source else { panic!() };
    assert!(
        esg_sync::source::sql::check(s, &p.columns, "test")
            .await
            .is_empty()
    );
    sync_and_check(&e, &p, "postgres").await;
    // REAL itself, straight: 0.1 lands as 0.1, not 0.10000000149011612.
    let p = pipeline(
        "postgres",
        var,
        "SELECT 'ghg' AS metric, '2023' AS period, NULL::text AS facility, approx AS value, NULL::text AS notes \
         FROM reporting.emissions WHERE period = '2025-Q2'",
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.counts.created, 1, "{r:?}");
    let v = e.workiva(&e.env.ids.num).await;
    assert!(
        v.iter().any(|x| x.year == 2023 && x.value == "0.1"),
        "{v:?}"
    );
    // An unreadable type is found before any row is read.
    let p = pipeline(
        "postgres",
        var,
        "SELECT metric_code AS metric, period, site AS facility, '{}'::jsonb AS value, notes FROM reporting.emissions",
    );
    let Source::Sql(s) = &p.source else { panic!() };
    let problems = esg_sync::source::sql::check(s, &p.columns, "test").await;
    assert!(
        problems
            .iter()
            .any(|e| e.to_string().contains("column `value` has type JSONB")),
        "{problems:?}"
    );
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_mariadb_query_syncs_exact_decimals_and_floats() {
    let Some(db) = fresh_db("ESG_SYNC_TEST_MYSQL_URL", false).await else {
        return;
    };
    let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE emissions (id INT AUTO_INCREMENT PRIMARY KEY, metric_code VARCHAR(20),
             period VARCHAR(20), site VARCHAR(20), value DECIMAL(18,4), approx FLOAT, notes TEXT)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    for (m, per, site, v, n) in ROWS {
        sqlx::query(
            "INSERT INTO emissions (metric_code, period, site, value, approx, notes) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(m)
        .bind(per)
        .bind(site)
        .bind(v)
        .bind(v.parse::<f32>().unwrap())
        .bind(n)
        .execute(&mut c)
        .await
        .unwrap();
    }
    let e = sync_env().await;
    let var = &url_file(&e, &db.url);
    let p = pipeline(
        "mysql",
        var,
        "SELECT metric_code AS metric, period, site AS facility, value, notes FROM emissions ORDER BY id",
    );
    let Source::Sql(s) = &p.source else { panic!() };
    assert!(
        esg_sync::source::sql::check(s, &p.columns, "test")
            .await
            .is_empty()
    );
    sync_and_check(&e, &p, "mysql").await;
    // FLOAT alone: 0.1 lands as 0.1.
    let p = pipeline(
        "mysql",
        var,
        "SELECT 'ghg' AS metric, '2023' AS period, NULL AS facility, approx AS value, NULL AS notes FROM emissions WHERE period = '2025-Q2'",
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.counts.created, 1, "{r:?}");
    assert!(
        e.workiva(&e.env.ids.num)
            .await
            .iter()
            .any(|x| x.year == 2023 && x.value == "0.1")
    );
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_database_password_never_shows_and_a_password_in_the_file_is_refused() {
    let e = sync_env().await;
    let var = &url_file(&e, "postgres://app:hunter2-secret@127.0.0.1:1/lake");
    let p = pipeline("postgres", var, "SELECT 1");
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.status, Status::Failed);
    let m = r.message().unwrap();
    assert!(
        m.contains("cannot connect to postgres://app:***@127.0.0.1:1/lake"),
        "{m}"
    );
    assert!(
        !m.contains("hunter2") && !format!("{p:?}").contains("hunter2"),
        "{m}"
    );
    let stored = serde_json::to_string(&e.store.runs(10).await.unwrap()).unwrap();
    assert!(!stored.contains("hunter2"), "{stored}");
    let mut bad = p.clone();
    let Source::Sql(s) = &mut bad.source else {
        panic!()
    };
    s.url_file = None;
    s.url = Some("postgres://app:hunter2-secret@db/lake".into());
    let problems = bad.problems().join("; ");
    assert!(
        problems.contains("holds a password") && !problems.contains("hunter2"),
        "{problems}"
    );
}

#[tokio::test]
async fn in_mirror_mode_a_querys_result_is_the_whole_scope() {
    let e = sync_env().await;
    let db = e.file("mirror.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE v (metric TEXT, period TEXT, facility TEXT, value TEXT, notes TEXT);
         INSERT INTO v VALUES ('ghg', '2025-01', 'A', '1', NULL), ('ghg', '2025-02', 'A', '2', NULL),
                              ('ghg', '2025-03', 'A', '3', NULL), ('ghg', '2025-04', 'A', '4', NULL);",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let var = &url_file(&e, &format!("sqlite://{}", db.display()));
    let mut p = pipeline("sqlite", var, "SELECT * FROM v WHERE value <> 'gone'");
    p.mode = esg_sync::config::Mode::Mirror;
    p.max_delete_fraction = 0.5;
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 4),
        "{r:?}"
    );
    // The query no longer returns one row: its value is deleted from Workiva.
    sqlx::query("UPDATE v SET value = 'gone' WHERE period = '2025-02'")
        .execute(&mut c)
        .await
        .unwrap();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.deleted, r.counts.unchanged),
        (Status::Succeeded, 1, 3),
        "{r:?}"
    );
    let months: Vec<u64> = e
        .workiva(&e.env.ids.num)
        .await
        .iter()
        .map(|v| v.start)
        .collect();
    assert_eq!(months, vec![1, 3, 4]);
    c.close().await.unwrap();
}

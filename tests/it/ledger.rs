//! The value ledger, on SQLite and PostgreSQL: one entry per change Workiva confirmed, with
//! what it was before, what it became and the row it came from; nothing for an unchanged
//! rerun; entries only for what landed when a batch fails in part; `UPDATE` and `DELETE`
//! refused by the database; and `esg-sync ledger verify` naming an entry altered behind its
//! back.

use esg_sync::ledger::Action;
use esg_sync::source::Version;
use esg_sync::store::Store;
use esg_sync::sync::{RunOptions, Status};

use crate::support::db::fresh_db;
use crate::support::env::{SyncEnv, sync_env, write_rows};

/// Creates, updates and an unchanged rerun, each run's entries checked.
async fn changes_are_recorded_once_with_their_origin(e: &SyncEnv) {
    let data = e.file("data.parquet");
    write_rows(
        &data,
        &[
            ("ghg", "2024", "A", "X", "10.5", "audited"),
            ("ghg", "2024", "B", "", "7", ""),
            ("share", "2024", "", "Y", "45", ""),
        ],
    );
    let p = e.pipeline("");
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 3),
        "{r:?}"
    );
    let first = e.store.ledger_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(first.len(), 3, "{first:?}");
    let mut rows: Vec<u64> = first.iter().map(|c| c.change.origin.row).collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![1, 2, 3],
        "each row by its number, as rejects count them"
    );
    for c in &first {
        let ch = &c.change;
        assert_eq!(ch.action, Action::Create);
        assert!(ch.before.is_none());
        assert_eq!(ch.origin.pipeline, "test");
        assert_eq!(ch.origin.source, data.display().to_string());
        assert_eq!(ch.year, 2024);
        assert_eq!(c.confirmed.run_id, r.run_id.unwrap());
        assert!(c.confirmed.batch_id.is_some() && c.confirmed.operation.is_some());
        assert_eq!(ch.config.len(), 64, "the configuration's SHA-256");
        assert_eq!(
            ch.origin.version,
            Some(file_version(&data)),
            "the file as read"
        );
    }
    let a = first
        .iter()
        .find(|c| c.change.metric_key == "ghg" && c.change.origin.row == 1)
        .unwrap();
    let after = a.change.after.as_ref().unwrap();
    assert_eq!(
        (after.value.as_deref(), after.notes.as_deref()),
        (Some("10.5"), Some("audited"))
    );

    // One value changes: one entry, with what Workiva held before.
    write_rows(
        &data,
        &[
            ("ghg", "2024", "A", "X", "11", "audited"),
            ("ghg", "2024", "B", "", "7", ""),
            ("share", "2024", "", "Y", "45", ""),
        ],
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.counts.updated, 1, "{r:?}");
    let second = e.store.ledger_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(second.len(), 1, "{second:?}");
    let u = &second[0];
    assert_eq!(u.change.action, Action::Update);
    assert_eq!(
        u.change.before.as_ref().unwrap().value.as_deref(),
        Some("10.5")
    );
    assert_eq!(
        u.change.after.as_ref().unwrap().value.as_deref(),
        Some("11")
    );
    assert!(
        u.change.value_id.is_some(),
        "an update names the value it changed"
    );
    assert_eq!(u.seq, 4, "appended after the first run's three");
    assert_eq!(u.change.origin.version, Some(file_version(&data)));
    assert_ne!(
        u.change.origin.version, first[0].change.origin.version,
        "the file changed: another version"
    );

    // Unchanged: nothing sent, nothing recorded.
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.counts.unchanged, 3, "{r:?}");
    assert!(
        e.store
            .ledger_of_run(r.run_id.unwrap())
            .await
            .unwrap()
            .is_empty()
    );

    // Mirror mode deletes what the lake no longer has: one entry, with what Workiva held.
    write_rows(
        &data,
        &[
            ("ghg", "2024", "A", "X", "11", "audited"),
            ("share", "2024", "", "Y", "45", ""),
        ],
    );
    let mirror = e.pipeline("mode = \"mirror\"\nmax_delete_fraction = 0.5");
    let r = e.run(&mirror, RunOptions::default()).await;
    assert_eq!(r.counts.deleted, 1, "{r:?}");
    let third = e.store.ledger_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(third.len(), 1, "{third:?}");
    let d = &third[0];
    assert_eq!((d.change.action, d.seq), (Action::Delete, 5));
    assert_eq!(d.change.metric_key, "ghg");
    assert_eq!(
        d.change.before.as_ref().unwrap().value.as_deref(),
        Some("7")
    );
    assert!(d.change.after.is_none() && d.confirmed.deletion_id.is_some());
    assert_eq!(chain(&e.store).await, Ok(5));
}

/// A local file's version as the ledger should record it: its size, time and SHA-256.
fn file_version(path: &std::path::Path) -> Version {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap();
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    Version::File {
        size: bytes.len() as u64,
        modified: Some(
            chrono::DateTime::<chrono::Utc>::from(modified)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
        sha256: esg_sync::ledger::hex(&sha2::Sha256::digest(&bytes)),
    }
}

/// The chain as `ledger verify` walks it.
async fn chain(s: &Store) -> Result<u64, esg_sync::ledger::Broken> {
    let mut seen = Vec::new();
    s.ledger_walk(|e| {
        seen.push(e);
        true
    })
    .await
    .unwrap();
    esg_sync::ledger::verify(seen)
}

/// The database itself refuses to change or remove an entry.
async fn entries_cannot_be_changed(s: &Store, url: &str) {
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(url).await.unwrap();
    let update = sqlx::query("UPDATE ledger SET content = 'x' WHERE seq = 1")
        .execute(&raw)
        .await;
    let delete = sqlx::query("DELETE FROM ledger WHERE seq = 1")
        .execute(&raw)
        .await;
    let mut refused = vec![("UPDATE", update), ("DELETE", delete)];
    if url.starts_with("postgres") {
        refused.push((
            "TRUNCATE",
            sqlx::query("TRUNCATE ledger").execute(&raw).await,
        ));
    }
    for (what, r) in refused {
        let e = r.expect_err(what).to_string();
        assert!(e.contains("append-only"), "{what}: {e}");
    }
    raw.close().await;
    assert_eq!(chain(s).await, Ok(5));
}

#[tokio::test]
async fn the_ledger_on_sqlite() {
    let e = sync_env().await;
    changes_are_recorded_once_with_their_origin(&e).await;
    let url = format!("sqlite://{}", e.dir.path().join("state.db").display());
    entries_cannot_be_changed(&e.store, &url).await;
}

#[tokio::test]
async fn the_ledger_on_postgres() {
    let Some(db) = fresh_db("ESG_SYNC_TEST_POSTGRES_URL", true).await else {
        return;
    };
    let mut e = sync_env().await;
    e.store = Store::connect(&db.url).await.unwrap();
    changes_are_recorded_once_with_their_origin(&e).await;
    entries_cannot_be_changed(&e.store, &db.url).await;
    e.store.close().await;
}

/// A copy of the database with the trigger dropped and one entry altered: `ledger verify`
/// exits 1 naming it; the original still verifies.
#[tokio::test]
async fn ledger_verify_names_the_entry_altered_behind_its_back() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2024", "A", "X", "1", ""),
            ("ghg", "2024", "B", "", "2", ""),
            ("share", "2024", "", "Y", "3", ""),
        ],
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!(r.counts.created, 3, "{r:?}");
    e.store.close().await;
    let (good, bad) = (e.file("state.db"), e.file("copy.db"));
    std::fs::copy(&good, &bad).unwrap();
    let url = format!("sqlite://{}", bad.display());
    {
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        for sql in [
            "DROP TRIGGER ledger_no_update",
            "UPDATE ledger SET content = replace(content, '\"year\":2024', '\"year\":2023') WHERE seq = 2",
        ] {
            sqlx::query(sql).execute(&raw).await.unwrap();
        }
        raw.close().await;
    }
    let verify = |db: &std::path::Path| {
        let cfg = crate::support::pipeline::ConfigToml::new(
            &e.env.emu.base_url(),
            &format!("sqlite://{}", db.display()),
        )
        .write(e.file(&format!(
            "{}.toml",
            db.file_stem().unwrap().to_string_lossy()
        )));
        crate::support::run_esg(
            vec![
                "ledger".into(),
                "verify".into(),
                "--config".into(),
                cfg.display().to_string(),
            ],
            vec![("ESG_SYNC_TEST_SECRET", "demo-secret".to_string())],
        )
    };
    let ok = verify(&good).await;
    assert_eq!(ok.code, Some(0), "{}\n{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("3 entries"), "{}", ok.stdout);
    let broken = verify(&bad).await;
    assert_eq!(broken.code, Some(1), "{}\n{}", broken.stdout, broken.stderr);
    assert!(
        broken
            .stderr
            .contains("ledger entry 2 was changed after it was written"),
        "{}",
        broken.stderr
    );
}

/// A SQL source whose URL holds a password (PostgreSQL's trust login ignores it): the
/// ledger records the changes and, nowhere in the state store's file, the password.
#[tokio::test]
async fn no_database_password_reaches_the_ledger() {
    use sqlx::Connection;
    const PASSWORD: &str = "ledger-pw-never-stored";
    let Some(db) = fresh_db("ESG_SYNC_TEST_POSTGRES_URL", true).await else {
        return;
    };
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE lake (metric text, period text, facility text, value text, notes text); \
         INSERT INTO lake VALUES ('ghg', '2025', 'A', '1.5', NULL), ('share', '2025', NULL, '2', 'n')",
    )
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    let e = sync_env().await;
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_password(Some(PASSWORD)).unwrap();
    url.query_pairs_mut().append_pair("password", PASSWORD);
    let file = crate::sql::url_file(&e, url.as_str());
    let p = crate::sql::pipeline(
        "postgres",
        &file,
        "SELECT metric, period, facility, value, notes FROM lake",
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 2),
        "{r:?}"
    );
    let entries = e.store.ledger_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[0].change.origin.source,
        "postgres query of pipeline test"
    );
    e.store.close().await;
    let stored = std::fs::read(e.file("state.db")).unwrap();
    let wal = std::fs::read(e.file("state.db-wal")).unwrap_or_default();
    for bytes in [&stored, &wal] {
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "the password is in the state store"
        );
    }
}

/// Replicas confirming batches at once on one PostgreSQL store take turns at the chain's end:
/// every entry follows the one before, none is lost or numbered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn confirmations_at_once_on_postgres_keep_one_chain() {
    let Some(db) = fresh_db("ESG_SYNC_TEST_POSTGRES_URL", true).await else {
        return;
    };
    let replicas = [
        Store::connect(&db.url).await.unwrap(),
        Store::connect(&db.url).await.unwrap(),
    ];
    let change = |i: usize| esg_sync::ledger::Change {
        program_id: "P".into(),
        metric_id: "M".into(),
        metric_key: "ghg".into(),
        year: 2025,
        period: "2025".into(),
        coordinates: [("F".to_string(), format!("S{i}"))].into(),
        value_id: None,
        action: Action::Create,
        before: None,
        after: None,
        hand_edit: false,
        origin: esg_sync::ledger::Origin {
            pipeline: "p".into(),
            source: "lake.parquet".into(),
            row: i as u64,
            version: None,
        },
        config: "c".into(),
    };
    let mut jobs = Vec::new();
    for (r, s) in replicas.iter().enumerate() {
        for b in 0..8 {
            let (s, changes): (Store, Vec<_>) = (
                s.clone(),
                (0..50).map(|i| change(r * 1000 + b * 50 + i)).collect(),
            );
            jobs.push(tokio::spawn(async move {
                let run = s.run_start("p").await.unwrap();
                let id = s
                    .batch_insert(run, "p", "P", "M", 50, 0, b"{}", &changes)
                    .await
                    .unwrap();
                s.batch_sent(id, "https://w/op").await.unwrap();
                s.batch_completed(id, run, None).await.unwrap();
            }));
        }
    }
    for j in jobs {
        j.await.unwrap();
    }
    assert_eq!(chain(&replicas[0]).await, Ok(800));
    for s in &replicas {
        s.close().await;
    }
}

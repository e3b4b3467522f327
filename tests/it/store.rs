//! Every state-store query, on SQLite and on Postgres. Postgres is reached through
//! ESG_SYNC_TEST_POSTGRES_URL (CI sets it); each test creates its own database and drops it.

use esg_sync::store::{BatchStatus, Counts, MappingKind, Reject, RunStatus, Store};

/// Connects four times at once to a new database, as a daemon and a `run-now` started
/// together would: every connection succeeds and each migration is applied once.
async fn connect_at_once(url: &str) -> Store {
    let all = futures_util::future::join_all((0..4).map(|_| Store::connect(url))).await;
    let mut stores = Vec::new();
    for s in all {
        stores.push(s.expect("a concurrent first start migrates once and connects"));
    }
    let first = stores.remove(0);
    for s in stores {
        s.close().await;
    }
    first
}

async fn exercise(s: &Store) {
    // mappings
    assert_eq!(
        s.mapping_get(MappingKind::Program, "", "P").await.unwrap(),
        None
    );
    s.mapping_put(MappingKind::Program, "", "P", "id-1")
        .await
        .unwrap();
    s.mapping_put(MappingKind::Program, "", "P", "id-2")
        .await
        .unwrap();
    assert_eq!(
        s.mapping_get(MappingKind::Program, "", "P")
            .await
            .unwrap()
            .as_deref(),
        Some("id-2")
    );
    s.mapping_put(MappingKind::Metric, "id-2", "M", "m-1")
        .await
        .unwrap();
    s.mapping_drop(MappingKind::Program, "", "P").await.unwrap();
    assert_eq!(
        s.mapping_get(MappingKind::Program, "", "P").await.unwrap(),
        None
    );
    assert_eq!(
        s.mapping_get(MappingKind::Metric, "id-2", "M")
            .await
            .unwrap()
            .as_deref(),
        Some("m-1")
    );
    // runs
    let r1 = s.run_start("pipe").await.unwrap();
    let r2 = s.run_start("pipe").await.unwrap();
    assert!(r2 > r1);
    let c = Counts {
        read: 10,
        rejected: 1,
        unchanged: 2,
        created: 0,
        updated: 0,
        deleted: 0,
        locked: 0,
        hand_edited: 0,
    };
    // Created, updated and deleted are counted as batches land, not at the end.
    let recorded = s
        .run_finish(
            r2,
            RunStatus::Partial,
            &Counts { created: 3, ..c },
            Some("one reject"),
        )
        .await
        .unwrap();
    assert_eq!(
        recorded, c,
        "run_finish leaves created/updated/deleted as counted"
    );
    let runs = s.runs(10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (runs[0].id, runs[0].status.as_str(), runs[0].counts),
        (r2, "partial", c)
    );
    assert_eq!(runs[0].message.as_deref(), Some("one reject"));
    assert_eq!(s.run(r1).await.unwrap().unwrap().status, "running");
    assert!(s.run(99_999).await.unwrap().is_none());
    // batches
    let body = br#"{"data":[{"value":"1"}]}"#;
    let b1 = s
        .batch_insert(r1, "pipe", "prog", "met", 1, 0, body, &[])
        .await
        .unwrap();
    let b2 = s
        .batch_insert(r1, "pipe", "prog", "met", 0, 2, body, &[])
        .await
        .unwrap();
    let b3 = s
        .batch_insert(r1, "pipe", "prog", "met", 1, 2, body, &[])
        .await
        .unwrap();
    s.batch_sent(b2, "http://x/operations/2").await.unwrap();
    s.batch_sent(b3, "http://x/operations/3").await.unwrap();
    // A completed batch counts its values in the run that saw it complete, once.
    s.batch_completed(b3, r2, None).await.unwrap();
    s.batch_completed(b3, r2, None).await.unwrap();
    // A deletion counts its values in its run when Workiva confirmed it, once; a failed one
    // counts nothing, and one a stop left pending is unconfirmed when the pipeline resumes.
    let ids: Vec<String> = (0..5).map(|i| format!("v{i}")).collect();
    let d1 = s
        .deletion_insert(r2, "pipe", "prog", "met", &ids, &[])
        .await
        .unwrap();
    s.deletion_done(d1, r2, None).await.unwrap();
    s.deletion_done(d1, r2, None).await.unwrap();
    let d2 = s
        .deletion_insert(r2, "pipe", "prog", "met", &ids[..2], &[])
        .await
        .unwrap();
    s.deletion_done(d2, r2, Some("Workiva answered 500"))
        .await
        .unwrap();
    s.deletion_insert(r2, "pipe", "prog", "met", &ids[..1], &[])
        .await
        .unwrap();
    assert_eq!(s.deletions_unconfirm("pipe").await.unwrap(), 1);
    let statuses: Vec<String> = s
        .deletions_of_run(r2)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.status.to_string())
        .collect();
    assert_eq!(statuses, ["deleted", "failed", "unconfirmed"]);
    assert_eq!(
        s.run(r2).await.unwrap().unwrap().counts,
        Counts {
            created: 1,
            updated: 2,
            deleted: 5,
            ..c
        }
    );
    let open = s.open_batches("pipe").await.unwrap();
    assert_eq!(
        open.iter()
            .map(|b| (b.id, b.status.as_str(), b.operation_url.as_deref()))
            .collect::<Vec<_>>(),
        vec![
            (b1, "pending", None),
            (b2, "sent", Some("http://x/operations/2"))
        ]
    );
    assert_eq!(
        open[0].body,
        body.to_vec(),
        "the exact body is kept for a resend"
    );
    assert_eq!(
        (
            open[0].run_id,
            open[0].value_count,
            open[0].program_id.as_str(),
            open[0].metric_id.as_str()
        ),
        (r1, 1, "prog", "met")
    );
    assert_eq!(s.batches_of_run(r1).await.unwrap().len(), 3);
    // rejects
    let rj = Reject {
        source_file: "data/x.parquet".into(),
        source_row: 7,
        field: "value".into(),
        reason: "`abc` is not a number, \"really\"".into(),
        metric_key: Some("ghg".into()),
        period: Some("2025-Q1".into()),
        value: None,
    };
    s.rejects_insert(
        r2,
        "pipe",
        &[
            rj.clone(),
            Reject {
                source_row: 8,
                ..rj.clone()
            },
        ],
    )
    .await
    .unwrap();
    let got = s.rejects(r2).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], rj);
    assert!(s.rejects(r1).await.unwrap().is_empty());
    // interrupted runs: every running run but the current one
    let current = s.run_start("pipe").await.unwrap();
    assert_eq!(s.mark_interrupted("pipe", current).await.unwrap(), vec![r1]);
    assert_eq!(s.run(r1).await.unwrap().unwrap().status, "interrupted");
    assert_eq!(s.run(current).await.unwrap().unwrap().status, "running");
    assert!(
        s.mark_interrupted("pipe", current)
            .await
            .unwrap()
            .is_empty()
    );
    s.run_finish(current, RunStatus::Succeeded, &Counts::default(), None)
        .await
        .unwrap();
    // the daemon's queries
    s.ping().await.unwrap();
    assert_eq!(s.last_run("pipe").await.unwrap().unwrap().id, current);
    assert!(s.last_run("other").await.unwrap().is_none());
    let landed = s.last_success("pipe").await.unwrap().unwrap();
    assert!((chrono::Utc::now() - landed).num_seconds().abs() < 60);
    assert!(s.last_success("other").await.unwrap().is_none());
    assert_eq!(s.last_tick("pipe").await.unwrap(), None);
    let t1 = chrono::DateTime::parse_from_rfc3339("2026-03-29T01:00:00Z")
        .unwrap()
        .to_utc();
    s.set_last_tick("pipe", t1).await.unwrap();
    assert_eq!(s.last_tick("pipe").await.unwrap(), Some(t1));
    let t2 = t1 + chrono::Duration::hours(24);
    s.set_last_tick("pipe", t2).await.unwrap();
    assert_eq!(s.last_tick("pipe").await.unwrap(), Some(t2));
    assert_eq!(s.last_tick("other").await.unwrap(), None);
    // schedule claims: each tick once, whoever claims it first
    let at = |h: u32| {
        chrono::DateTime::parse_from_rfc3339("2026-03-29T00:00:00Z")
            .unwrap()
            .to_utc()
            + chrono::Duration::hours(h.into())
    };
    assert!(s.claim_tick("pipe", at(1), "a").await.unwrap());
    assert!(!s.claim_tick("pipe", at(1), "b").await.unwrap());
    assert!(s.claim_tick("pipe", at(2), "b").await.unwrap());
    assert!(s.claim_tick("other", at(1), "b").await.unwrap());
    assert_eq!(
        s.tick_claims("pipe").await.unwrap(),
        vec![
            ("2026-03-29T01:00:00.000Z".to_string(), "a".to_string()),
            ("2026-03-29T02:00:00.000Z".to_string(), "b".to_string())
        ]
    );
    // A tick long past (a catch-up's) keeps its claim: claims age by when they were made.
    assert!(!s.claim_tick("pipe", at(1), "c").await.unwrap());
    // leases: each acquisition raises the fencing token, which never goes back
    let ttl = std::time::Duration::from_secs(60);
    let alive = |_: &str| false;
    assert_eq!(
        s.lease_acquire("pipe", "a", ttl, alive).await.unwrap(),
        Ok(1)
    );
    assert_eq!(
        s.lease_acquire("pipe", "a", ttl, alive).await.unwrap(),
        Ok(2),
        "the holder may take it again"
    );
    let held = s.lease_acquire("pipe", "b", ttl, alive).await.unwrap();
    assert_eq!(held.as_ref().unwrap_err().0, "a", "{held:?}");
    assert_eq!(
        s.lease_acquire("other", "b", ttl, alive).await.unwrap(),
        Ok(1),
        "leases are per pipeline"
    );
    assert!(s.lease_renew("pipe", "a", ttl).await.unwrap());
    assert!(!s.lease_renew("pipe", "b", ttl).await.unwrap());
    assert_eq!(
        s.lease_acquire("pipe", "b", ttl, |h| h == "a")
            .await
            .unwrap(),
        Ok(3),
        "a dead holder's lease is taken over"
    );
    s.lease_release("pipe", "a").await.unwrap();
    assert!(
        s.lease_acquire("pipe", "c", ttl, alive)
            .await
            .unwrap()
            .is_err(),
        "only the holder gives it back"
    );
    s.lease_release("pipe", "b").await.unwrap();
    let row = |rows: Vec<esg_sync::store::LeaseRow>| {
        rows.into_iter().find(|l| l.pipeline == "pipe").unwrap()
    };
    let released = row(s.leases().await.unwrap());
    assert!(!released.is_held(chrono::Utc::now()), "{released:?}");
    assert_eq!(released.token, 3, "a released lease keeps its token");
    assert_eq!(
        s.lease_acquire("pipe", "c", std::time::Duration::ZERO, alive)
            .await
            .unwrap(),
        Ok(4)
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        s.lease_acquire("pipe", "d", ttl, alive).await.unwrap(),
        Ok(5),
        "an expired lease is free"
    );
    assert!(row(s.leases().await.unwrap()).is_held(chrono::Utc::now()));
    fencing(s).await;
    reviews_and_decisions(s).await;
}

fn reject() -> Reject {
    Reject {
        source_file: "data/x.parquet".into(),
        source_row: 1,
        field: "value".into(),
        reason: "not a number".into(),
        metric_key: None,
        period: None,
        value: None,
    }
}

/// A run's writes carry its lease's fencing token: once another process has taken the lease,
/// every write of the old holder is refused and changes nothing; the new holder's land.
async fn fencing(s: &Store) {
    use esg_sync::store::Fence;
    let ttl = std::time::Duration::from_secs(60);
    let t1 = s
        .lease_acquire("fenced", "h1", ttl, |_| false)
        .await
        .unwrap()
        .unwrap();
    let old = s.fenced(Fence {
        pipeline: "fenced".into(),
        token: t1,
        holder: "h1".into(),
    });
    let run = old.run_start("fenced").await.unwrap();
    assert_eq!(
        s.run(run).await.unwrap().unwrap().holder.as_deref(),
        Some("h1"),
        "a run records the replica that runs it"
    );
    let batch = old
        .batch_insert(run, "fenced", "prog", "met", 1, 0, b"{}", &[])
        .await
        .unwrap();
    let deletion = old
        .deletion_insert(run, "fenced", "prog", "met", &["v1".into()], &[])
        .await
        .unwrap();
    // h1 stalls; its lease is taken over.
    let t2 = s
        .lease_acquire("fenced", "h2", ttl, |h| h == "h1")
        .await
        .unwrap()
        .unwrap();
    assert!(t2 > t1);
    let refused = [
        old.batch_sent(batch, "http://127.0.0.1:1/operations/1")
            .await
            .unwrap_err(),
        old.batch_done(batch, BatchStatus::Failed, None)
            .await
            .unwrap_err(),
        old.batch_completed(batch, run, None).await.unwrap_err(),
        old.batch_insert(run, "fenced", "prog", "met", 1, 0, b"{}", &[])
            .await
            .unwrap_err(),
        old.run_finish(run, RunStatus::Succeeded, &Counts::default(), None)
            .await
            .unwrap_err(),
        old.deletion_insert(run, "fenced", "prog", "met", &["v2".into()], &[])
            .await
            .unwrap_err(),
        old.deletion_done(deletion, run, None).await.unwrap_err(),
        old.deletions_unconfirm("fenced").await.unwrap_err(),
        old.run_start("fenced").await.unwrap_err(),
        old.fail_running("fenced", "x").await.unwrap_err(),
        old.mark_interrupted("fenced", run).await.unwrap_err(),
        old.rejects_insert(run, "fenced", &[reject()])
            .await
            .unwrap_err(),
        old.mapping_put(MappingKind::Metric, "prog", "m", "id")
            .await
            .unwrap_err(),
    ];
    for e in &refused {
        assert!(e.is_fenced(), "{e}");
        assert!(e.to_string().contains("taken over"), "{e}");
    }
    let r = s.run(run).await.unwrap().unwrap();
    assert_eq!(r.status, "running", "nothing of the stale holder's landed");
    assert_eq!(r.counts.deleted, 0);
    let deletions = s.deletions_of_run(run).await.unwrap();
    assert_eq!(
        deletions.len(),
        1,
        "a refused deletion is not recorded: {deletions:?}"
    );
    assert_eq!(
        (deletions[0].status.as_str(), deletions[0].ids.as_slice()),
        ("pending", ["v1".to_string()].as_slice())
    );
    let open = s.open_batches("fenced").await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].status, "pending");
    assert!(s.rejects(run).await.unwrap().is_empty());
    assert!(
        s.mapping_get(MappingKind::Metric, "prog", "m")
            .await
            .unwrap()
            .is_none()
    );
    // The new holder resumes: its writes land.
    let new = s.fenced(Fence {
        pipeline: "fenced".into(),
        token: t2,
        holder: "h2".into(),
    });
    let run2 = new.run_start("fenced").await.unwrap();
    assert_eq!(
        new.mark_interrupted("fenced", run2).await.unwrap(),
        vec![run]
    );
    new.batch_sent(batch, "http://127.0.0.1:1/operations/1")
        .await
        .unwrap();
    // A replica's shutdown marks only its own runs interrupted.
    assert!(
        s.mark_interrupted_because("fenced", "h1", "by a shutdown")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.mark_interrupted_because("fenced", "h2", "by a shutdown")
            .await
            .unwrap(),
        vec![run2]
    );
    assert_eq!(
        s.run(run2).await.unwrap().unwrap().message.as_deref(),
        Some("by a shutdown")
    );
    // Alerts: each delivery recorded; a condition opened once until it clears.
    let d = s
        .delivery_start("team", "run_failed", Some("fenced"), Some(run))
        .await
        .unwrap();
    s.delivery_update(
        d,
        esg_sync::store::DeliveryStatus::Delivered,
        2,
        Some(200),
        None,
    )
    .await
    .unwrap();
    let list = s.deliveries(10).await.unwrap();
    assert_eq!(list[0].id, d);
    assert_eq!(
        (
            list[0].status.as_str(),
            list[0].attempts,
            list[0].http_status
        ),
        ("delivered", 2, Some(200))
    );
    assert_eq!(list[0].run_id, Some(run));
    assert!(s.condition_open("fenced", "stale").await.unwrap());
    assert!(!s.condition_open("fenced", "stale").await.unwrap());
    assert!(s.condition_clear("fenced", "stale").await.unwrap());
    assert!(!s.condition_clear("fenced", "stale").await.unwrap());
    assert!(s.condition_open("fenced", "stale").await.unwrap());
}

/// The threshold review's records and the final reviewer's decisions.
async fn reviews_and_decisions(s: &Store) {
    let run = s.run_start("reviewed").await.unwrap();
    let item = |flagged: bool| esg_sync::outcome::Reviewed {
        metric: "Scope 1".into(),
        period: "2025-Q1".into(),
        coordinates: "Facility=A".into(),
        value: "512.87".into(),
        prior: Some("502.35".into()),
        delta: Some("10.52".into()),
        delta_percent: Some("2.1".into()),
        flagged,
        reason: "why".into(),
    };
    s.reviews_insert(run, "reviewed", &[item(false), item(true), item(true)])
        .await
        .unwrap();
    assert_eq!(s.review_counts(run).await.unwrap(), (1, 2));
    assert_eq!(
        s.reviews(run, true).await.unwrap(),
        vec![item(true), item(true)]
    );
    assert_eq!(s.reviews(run, false).await.unwrap().len(), 3);
    let listed = s.runs(10).await.unwrap();
    let r = listed.iter().find(|r| r.id == run).unwrap();
    assert_eq!((r.auto_completed, r.flagged), (1, 2));
    let d = decision();
    let first = s.decision_record(&d).await.unwrap();
    let again = s.decision_record(&d).await.unwrap();
    assert_eq!(first.id, again.id, "one decision per round");
    assert_eq!(s.decisions_unconfirmed("final").await.unwrap().len(), 1);
    s.decision_set_state(first.id, esg_sync::store::DecisionState::Submitted)
        .await
        .unwrap();
    assert!(s.decisions_unconfirmed("final").await.unwrap().is_empty());
    assert_eq!(
        s.decisions(Some("final"), 10).await.unwrap()[0].state,
        "submitted"
    );
    assert_eq!(s.decisions(None, 10).await.unwrap().len(), 1);
    assert!(s.decisions(Some("other"), 10).await.unwrap().is_empty());
}

/// A final reviewer's approval of task `T1`'s first step, as recorded before it is sent.
fn decision() -> esg_sync::store::Decision {
    esg_sync::store::Decision {
        id: 0,
        reviewer: "final".into(),
        program_id: "P".into(),
        task_id: "T1".into(),
        task_title: "Review".into(),
        step: 1,
        seen_modified: "2026-01-01T00:00:00Z".into(),
        action: esg_sync::store::DecisionAction::Approve,
        comment: "ok".into(),
        state: esg_sync::store::DecisionState::Recorded,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    }
}

async fn run_ids(s: &Store, pipeline: &str) -> Vec<i64> {
    let runs = s.runs_of(pipeline, 10).await.unwrap();
    runs.iter().map(|r| r.id).collect()
}

/// Retention: bodies of batches with an outcome go (counted first by a dry prune), open
/// batches and their runs stay, each pipeline's newest run stays, older runs go whole.
async fn retention(s: &Store) {
    let later = chrono::Utc::now() + chrono::Duration::days(1);
    let r1 = s.run_start("ret").await.unwrap();
    let done = s
        .batch_insert(r1, "ret", "p", "m", 1, 0, &[b'x'; 100], &[])
        .await
        .unwrap();
    s.batch_sent(done, "https://w/op/1").await.unwrap();
    s.batch_completed(done, r1, None).await.unwrap();
    let open = s
        .batch_insert(r1, "ret", "p", "m", 1, 0, &[b'y'; 50], &[])
        .await
        .unwrap();
    s.run_finish(r1, RunStatus::Interrupted, &Counts::default(), None)
        .await
        .unwrap();
    let r2 = s.run_start("ret").await.unwrap();
    s.run_finish(r2, RunStatus::Succeeded, &Counts::default(), None)
        .await
        .unwrap();
    let dry = s.prune(later, Some(later), true).await.unwrap();
    assert!(dry.bodies >= 1 && dry.body_bytes >= 100, "{dry:?}");
    let wet = s.prune(later, Some(later), false).await.unwrap();
    assert_eq!((wet.bodies, wet.body_bytes), (dry.bodies, dry.body_bytes));
    assert_eq!(s.prune(later, None, true).await.unwrap().bodies, 0, "gone");
    let left = s.open_batches("ret").await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].id, left[0].body.len()),
        (open, 50),
        "an open batch keeps its body"
    );
    let runs = run_ids(s, "ret").await;
    assert_eq!(
        runs,
        vec![r2, r1],
        "a run with an open batch, and the newest, stay"
    );
    s.batch_done(open, BatchStatus::Failed, None).await.unwrap();
    s.prune(later, Some(later), false).await.unwrap();
    let runs = run_ids(s, "ret").await;
    assert_eq!(runs, vec![r2], "the older run went, with its batches");
    assert!(s.batches_of_run(r1).await.unwrap().is_empty());
}

#[tokio::test]
async fn every_query_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nested/dir/state.db", dir.path().display());
    let s = connect_at_once(&url).await;
    exercise(&s).await;
    s.close().await;
    // Reopening migrates nothing twice and keeps the data.
    let s = Store::connect(&url).await.unwrap();
    assert_eq!(s.runs(10).await.unwrap().len(), 6);
    retention(&s).await;
}

#[tokio::test]
async fn every_query_on_postgres() {
    let Ok(admin_url) = std::env::var("ESG_SYNC_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped: set ESG_SYNC_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run the store tests on Postgres"
        );
        return;
    };
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!("esg_sync_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(&admin_url)
        .await
        .expect("connect to ESG_SYNC_TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    let s = connect_at_once(url.as_str()).await;
    exercise(&s).await;
    s.close().await;
    let s = Store::connect(url.as_str()).await.unwrap();
    assert_eq!(s.runs(10).await.unwrap().len(), 6);
    retention(&s).await;
    s.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bad_url_is_a_clear_error() {
    let e = Store::connect("mysql://x").await.unwrap_err().to_string();
    assert!(e.contains("neither sqlite:// nor postgres://"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "x").unwrap();
    let e = Store::connect(&format!("sqlite://{}/file/state.db", dir.path().display()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot open the state store") && e.contains("writable"),
        "{e}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_state_database_is_private_to_its_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new/dir/state.db");
    let s = Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    s.run_start("p").await.unwrap();
    s.close().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&dir.path().join("new/dir")), 0o700);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
}

/// Operators' reads (here: eight downloads of a run's 20,000 rejects, page after page) use the
/// SQLite store's reader pool, so a run's writes go on beside them: every write lands, and
/// the writes' latencies are printed (figures, not a timed assertion).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_beside_a_sqlite_run_do_not_hold_up_its_writes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/state.db", dir.path().display());
    let s = connect_at_once(&url).await;
    let big = s.run_start("big").await.unwrap();
    let many: Vec<Reject> = (0..20_000)
        .map(|i| Reject {
            source_row: i,
            ..reject()
        })
        .collect();
    s.rejects_insert(big, "big", &many).await.unwrap();
    let got = s.rejects(big).await.unwrap();
    assert_eq!(got.len(), 20_000, "every page is read");
    assert!(
        got.windows(2).all(|w| w[0].source_row < w[1].source_row),
        "in order"
    );

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (s, done, reads) = (s.clone(), done.clone(), reads.clone());
            tokio::spawn(async move {
                let mut after = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    after = match s.rejects_page(big, after).await.unwrap() {
                        Some((_, last)) => last,
                        None => 0,
                    };
                    reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let run = s.run_start("busy").await.unwrap();
    let reads_before = reads.load(std::sync::atomic::Ordering::Relaxed);
    let mut took = Vec::new();
    for _ in 0..100 {
        let t = std::time::Instant::now();
        let b = s
            .batch_insert(run, "busy", "prog", "met", 1, 0, b"{}", &[])
            .await
            .unwrap();
        s.batch_completed(b, run, None).await.unwrap();
        took.push(t.elapsed());
    }
    let reads_during = reads.load(std::sync::atomic::Ordering::Relaxed) - reads_before;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    took.sort();
    println!(
        "100 batch writes beside 8 readers ({reads_during} pages of 2,000 read meanwhile): p50 {:?}, p99 {:?}, max {:?}",
        took[50], took[98], took[99]
    );
    assert_eq!(s.run(run).await.unwrap().unwrap().counts.created, 100);
}

/// A run row in a state esg-sync never writes (changed by hand) is an error naming the table,
/// the row and the state, not a guess.
#[tokio::test]
async fn a_state_no_version_writes_is_an_error_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/state.db", dir.path().display());
    let s = connect_at_once(&url).await;
    let run = s.run_start("hand").await.unwrap();
    assert_eq!(
        s.run(run).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE runs SET status = 'done-ish' WHERE id = $1")
        .bind(run)
        .execute(&raw)
        .await
        .unwrap();
    let e = s.run(run).await.unwrap_err().to_string();
    assert!(
        e.contains("runs row") && e.contains(&run.to_string()) && e.contains("`done-ish`"),
        "{e}"
    );
    // A time that is not one: the same, naming the column.
    sqlx::query("UPDATE runs SET status = 'running', started_at = 'yesterday' WHERE id = $1")
        .bind(run)
        .execute(&raw)
        .await
        .unwrap();
    let e = s.run(run).await.unwrap_err().to_string();
    assert!(
        e.contains("runs row") && e.contains("started_at `yesterday`"),
        "{e}"
    );
    // A final reviewer's action no version writes is an error, never read as a rejection.
    let d = decision();
    let recorded = s.decision_record(&d).await.unwrap();
    sqlx::query("UPDATE decisions SET action = 'MAYBE' WHERE id = $1")
        .bind(recorded.id)
        .execute(&raw)
        .await
        .unwrap();
    let e = s
        .decisions_unconfirmed("final")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("decisions row")
            && e.contains(&recorded.id.to_string())
            && e.contains("`MAYBE`"),
        "{e}"
    );
    // A lease's expiry changed by hand: the error names the pipeline.
    let ttl = std::time::Duration::from_secs(60);
    s.lease_acquire("leased", "a", ttl, |_| false)
        .await
        .unwrap()
        .unwrap();
    sqlx::query("UPDATE pipeline_leases SET expires_at = 'soon' WHERE pipeline = 'leased'")
        .execute(&raw)
        .await
        .unwrap();
    let e = s.leases().await.unwrap_err().to_string();
    assert!(
        e.contains("pipeline_leases row `leased`") && e.contains("expires_at `soon`"),
        "{e}"
    );
    raw.close().await;
}

/// Migration 13 moves what a batch in flight will record in the ledger out of its row: a
/// batch recorded before it (its changes in `batches.changes`) is confirmed after it with
/// its entries, and its row keeps no copy.
#[tokio::test]
async fn migration_13_keeps_the_changes_of_a_batch_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let s = Store::connect(&url).await.unwrap();
    let change = esg_sync::ledger::Change {
        program_id: "P".into(),
        metric_id: "M".into(),
        metric_key: "ghg".into(),
        year: 2025,
        period: "2025".into(),
        coordinates: [("F".to_string(), "A".to_string())].into(),
        value_id: None,
        action: esg_sync::ledger::Action::Create,
        before: None,
        after: None,
        hand_edit: false,
        origin: esg_sync::ledger::Origin {
            pipeline: "p".into(),
            source: "lake.parquet".into(),
            row: 1,
            version: None,
        },
        config: "c".into(),
    };
    let run = s.run_start("p").await.unwrap();
    let id = s
        .batch_insert(
            run,
            "p",
            "P",
            "M",
            1,
            0,
            b"{}",
            std::slice::from_ref(&change),
        )
        .await
        .unwrap();
    // As a store of version 12 held it: the changes in the batch's row.
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&url).await.unwrap();
    for sql in [
        "UPDATE batches SET changes = (SELECT changes FROM batch_changes WHERE batch_id = batches.id)",
        "DROP TABLE batch_changes",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
    }
    sqlx::raw_sql(include_str!(
        "../../migrations/sqlite/0013_batch_changes.sql"
    ))
    .execute(&raw)
    .await
    .unwrap();
    let left: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM batches WHERE changes IS NOT NULL")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(left.0, 0, "the row keeps no copy");
    raw.close().await;
    s.batch_sent(id, "https://w/op").await.unwrap();
    s.batch_completed(id, run, None).await.unwrap();
    let entries = s.ledger_of_run(run).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].change, change);
    s.close().await;
}

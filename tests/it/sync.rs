//! The sync engine against the emulator.

use esg_sync::config::PipelineConfig;
use esg_sync::store::MappingKind;
use esg_sync::sync::{RunOptions, Status};
use serde_json::{Value, json};

use crate::support::env::{Landed, R, SyncEnv, sync_env, write_rows};
use crate::support::*;

const GOOD: &[R] = &[
    ("ghg", "2025-Q1", "Site A", "X", "1024.550", "lake"),
    ("ghg", "2025-Q2", "Site A", "X", "987.32", "lake"),
    ("ghg", "2025-Q1", "B", "", "1155.8", ""),
    ("ghg", "2024", "C", "Y", "1e3", "audited"),
    ("share", "2025-H1", "", "X", "45.50", ""),
    ("share", "2025-H1", "", "Y", "-0", ""),
];

#[tokio::test]
async fn a_fresh_sync_lands_every_value_exactly_and_a_second_sends_nothing() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), GOOD);
    let p = e.pipeline("");
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.status, Status::Succeeded, "{r:?}");
    assert_eq!(
        (r.counts.read, r.counts.created, r.counts.rejected),
        (6, 6, 0)
    );
    let (f, bu) = (&e.env.ids.facility, &e.env.ids.bu);
    let num = e.workiva(&e.env.ids.num).await;
    assert_eq!(num.len(), 4);
    assert!(
        num.contains(&Landed {
            year: 2025,
            start: 1,
            end: 3,
            coordinates: json!({f: "A", bu: "X"}),
            value: "1024.55".into(),
            status: "notStarted".into(),
            notes: "lake".into(),
        }),
        "{num:?}"
    );
    assert!(
        num.contains(&Landed {
            year: 2025,
            start: 1,
            end: 3,
            coordinates: json!({f: "B"}),
            value: "1155.8".into(),
            status: "notStarted".into(),
            notes: "".into(),
        }),
        "{num:?}"
    );
    assert!(
        num.contains(&Landed {
            year: 2024,
            start: 1,
            end: 12,
            coordinates: json!({f: "C", bu: "Y"}),
            value: "1000".into(),
            status: "notStarted".into(),
            notes: "audited".into(),
        }),
        "{num:?}"
    );
    let share = e.workiva(&e.env.ids.share).await;
    assert_eq!(
        share.iter().map(|v| v.value.as_str()).collect::<Vec<_>>(),
        vec!["45.5", "0"]
    );
    let runs = e.store.runs(10).await.unwrap();
    assert_eq!(runs[0].status, "succeeded");
    assert_eq!(runs[0].counts.created, 6);
    let batches = e.store.batches_of_run(runs[0].id).await.unwrap();
    assert_eq!(batches.len(), 2, "one batch per metric");
    assert!(batches.iter().all(|(s, _, url)| s == "completed"
        && url.as_deref().is_some_and(|u| u.contains("/operations/"))));

    let before = e.upsertions();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.status, Status::Succeeded);
    assert_eq!(
        (r.counts.unchanged, r.counts.created, r.counts.updated),
        (6, 0, 0)
    );
    assert_eq!(e.upsertions(), before, "the second run sends no upsertion");
}

#[tokio::test]
async fn one_changed_row_sends_one_value() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), GOOD);
    let p = e.pipeline("");
    e.run(&p, RunOptions::default()).await;
    let mut rows = GOOD.to_vec();
    rows[1].4 = "990";
    write_rows(&e.file("data.parquet"), &rows);
    let before = e.upsertions();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.counts.updated, r.counts.unchanged), (1, 5), "{r:?}");
    assert_eq!(e.upsertions(), before + 1);
    let batches = e.store.batches_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(
        batches,
        vec![(
            esg_sync::store::BatchStatus::Completed,
            1,
            batches[0].2.clone()
        )],
        "one batch of one value"
    );
    assert!(
        e.workiva(&e.env.ids.num)
            .await
            .iter()
            .any(|v| v.year == 2025 && v.start == 4 && v.value == "990")
    );
}

#[tokio::test]
async fn bad_rows_are_rejected_with_file_row_and_field_while_the_rest_land() {
    let e = sync_env().await;
    let rows: Vec<R> = vec![
        ("ghg", "2025-Q1", "Site A", "X", "10", ""),
        ("nope", "2025-Q1", "A", "", "1", ""),
        ("ghg", "2025-Q7", "A", "", "1", ""),
        ("ghg", "2025-Q2", "Ames", "", "1", ""),
        ("ghg", "2025-Q3", "A", "", "12 tons", ""),
        ("ghg", "2025-Q4", "A", "", "4", ""),
        ("ghg", "2025-Q4", "A", "", "5", ""),
        ("share", "2025", "A", "", "1", ""),
        ("ghg", "2026", "OLD", "", "3", ""),
        ("", "2025", "B", "", "3", ""),
    ];
    write_rows(&e.file("data.parquet"), &rows);
    let p = e.pipeline("");
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.status, Status::Partial, "{r:?}");
    assert_eq!(
        (r.counts.read, r.counts.created, r.counts.rejected),
        (10, 1, 9)
    );
    let file = e.file("data.parquet").display().to_string();
    let rejects = e.store.rejects(r.run_id.unwrap()).await.unwrap();
    let mut by_row: Vec<(i64, String, String)> = rejects
        .iter()
        .map(|x| (x.source_row, x.field.clone(), x.reason.clone()))
        .collect();
    by_row.sort();
    assert!(rejects.iter().all(|x| x.source_file == file));
    let fields: Vec<(i64, &str)> = by_row.iter().map(|(r, f, _)| (*r, f.as_str())).collect();
    assert_eq!(
        fields,
        vec![
            (2, "metric"),
            (3, "period"),
            (4, "facility"),
            (5, "value"),
            (6, "key"),
            (7, "key"),
            (8, "facility"),
            (9, "coordinates"),
            (10, "metric")
        ]
    );
    let reason = |row: i64| by_row.iter().find(|x| x.0 == row).unwrap().2.clone();
    assert!(
        reason(2).contains("`nope` is not in [pipeline.metrics]"),
        "{}",
        reason(2)
    );
    assert!(reason(3).contains("2025-Q7"), "{}", reason(3));
    assert!(
        reason(4).contains("`Ames` is not a value of dimension `Facility`"),
        "{}",
        reason(4)
    );
    assert!(reason(5).contains("not a number"), "{}", reason(5));
    assert!(
        reason(6).contains("ambiguous") && reason(6).contains("row 7"),
        "{}",
        reason(6)
    );
    assert!(
        reason(8).contains("does not allow dimension `Facility`"),
        "{}",
        reason(8)
    );
    assert!(reason(9).contains("inactive"), "{}", reason(9));
    assert_eq!(
        e.workiva(&e.env.ids.num).await.len(),
        1,
        "the good row landed"
    );
}

#[tokio::test]
async fn a_failed_batch_is_narrowed_down_and_the_rest_lands() {
    let e = sync_env().await;
    let rows: Vec<R> = (1..=12)
        .map(|m| {
            (
                "ghg",
                Box::leak(format!("2025-{m:02}").into_boxed_str()) as &str,
                "A",
                "",
                Box::leak(format!("{m}00").into_boxed_str()) as &str,
                "",
            )
        })
        .collect();
    write_rows(&e.file("data.parquet"), &rows);
    let p = e.pipeline("");
    // Workiva names the bad values: they are rejected with its words, the rest resent once.
    let mut st = e.env.emu.settings();
    st.faults.refuse_values = vec!["300".into(), "900".into()];
    e.env.emu.set_settings(st.clone()).unwrap();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.status, Status::Partial);
    assert_eq!((r.counts.created, r.counts.rejected), (10, 2), "{r:?}");
    let rejects = e.store.rejects(r.run_id.unwrap()).await.unwrap();
    assert!(
        rejects
            .iter()
            .all(|x| x.reason.contains("refused by this program's rules")),
        "{rejects:?}"
    );
    assert_eq!(
        rejects.iter().map(|x| x.source_row).collect::<Vec<_>>(),
        vec![3, 9]
    );
    let batches = e.store.batches_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(
        batches
            .iter()
            .map(|b| (b.0.as_str(), b.1))
            .collect::<Vec<_>>(),
        vec![("failed", 12), ("completed", 10)]
    );
    // The ledger holds what landed, once each: not the refused values, nor the failed batch.
    let landed = ledger_rows(&e, r.run_id.unwrap()).await;
    assert_eq!(landed, vec![1, 2, 4, 5, 6, 7, 8, 10, 11, 12]);

    // Workiva names nothing: tried once more whole, then bisected until the bad value is alone.
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), &rows);
    st.faults.refuse_values = vec!["700".into()];
    st.faults.refuse_values_unnamed = true;
    e.env.emu.set_settings(st).unwrap();
    let r = e.run(&p_of(&e), RunOptions::default()).await;
    assert_eq!((r.counts.created, r.counts.rejected), (11, 1), "{r:?}");
    let rejects = e.store.rejects(r.run_id.unwrap()).await.unwrap();
    assert_eq!(rejects[0].source_row, 7);
    assert_eq!(e.workiva(&e.env.ids.num).await.len(), 11);
    let landed = ledger_rows(&e, r.run_id.unwrap()).await;
    assert_eq!(
        landed,
        vec![1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12],
        "the bisected halves that landed"
    );

    // A server fault without details: the whole batch once more, and everything lands.
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), &rows);
    let mut st = e.env.emu.settings();
    st.faults.plan = vec![esg_sync::emulator::config::PlannedFault {
        endpoint: "POST /programs/{programId}/metrics/{metricId}/values/batchUpsertion".into(),
        fault: "fail_operation".parse().unwrap(),
        times: 1,
        retry_after_secs: None,
    }];
    e.env.emu.set_settings(st).unwrap();
    let r = e.run(&p_of(&e), RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created, r.counts.rejected),
        (Status::Succeeded, 12, 0),
        "{r:?}"
    );
}

/// The source rows of the ledger's entries for a run, sorted.
async fn ledger_rows(e: &SyncEnv, run: i64) -> Vec<u64> {
    let entries = e.store.ledger_of_run(run).await.unwrap();
    let mut rows: Vec<u64> = entries.iter().map(|c| c.change.origin.row).collect();
    rows.sort();
    rows
}

fn p_of(e: &SyncEnv) -> PipelineConfig {
    e.pipeline("")
}

#[tokio::test]
async fn locked_and_complete_values_follow_the_status_policy() {
    let e = sync_env().await;
    let (f, p) = (e.env.ids.facility.clone(), e.env.ids.program.clone());
    let num = e.env.ids.num.clone();
    e.env.api.upsert(&p, &num, json!([
        {"reportingPeriod": {"year": 2025, "start": 1, "end": 3}, "coordinates": {&f: "A"}, "value": "1", "status": "complete"},
        {"reportingPeriod": {"year": 2025, "start": 4, "end": 6}, "coordinates": {&f: "A"}, "value": "2", "status": "complete"},
        {"reportingPeriod": {"year": 2025, "start": 7, "end": 9}, "coordinates": {&f: "A"}, "value": "3"},
    ])).await;
    let vid = e.workiva(&num).await;
    assert_eq!(vid.len(), 3);
    let q3 = e
        .env
        .api
        .values(&p, &num)
        .await
        .into_iter()
        .find(|v| v["reportingPeriod"]["start"] == 7)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, _) = admin(
        &e.env.api,
        reqwest::Method::POST,
        "/_emulator/tasks",
        Some(json!({"title": "Review", "program": p, "values": [{"metric": num, "id": q3}]})),
    )
    .await;
    assert_eq!(code, 201);
    let rows: Vec<R> = vec![
        ("ghg", "2025-Q1", "A", "", "1.0", ""),
        ("ghg", "2025-Q2", "A", "", "2.5", ""),
        ("ghg", "2025-Q3", "A", "", "3.5", ""),
        ("ghg", "2025-Q4", "A", "", "4", ""),
    ];
    write_rows(&e.file("data.parquet"), &rows);
    // skip: the changed complete value is left and reported; the value in review is locked.
    let r = e
        .run(
            &e.pipeline("status = { on_complete_changed = \"skip\", new = \"complete\" }"),
            RunOptions::default(),
        )
        .await;
    assert_eq!(
        r.status,
        Status::Partial,
        "locked values that differ make the run partial"
    );
    assert_eq!(
        (r.counts.unchanged, r.counts.locked, r.counts.created),
        (1, 2, 1),
        "{r:?}"
    );
    let w = e.workiva(&num).await;
    assert_eq!(
        (w[0].value.as_str(), w[0].status.as_str()),
        ("1", "complete"),
        "an approved value whose figure did not change is never reset"
    );
    assert_eq!(
        (w[1].value.as_str(), w[1].status.as_str()),
        ("2", "complete")
    );
    assert_eq!(
        (w[2].value.as_str(), w[2].status.as_str()),
        ("3", "inProgress")
    );
    assert_eq!(
        (w[3].value.as_str(), w[3].status.as_str()),
        ("4", "complete"),
        "new values get the policy's status"
    );
    // reopen (the default): the changed figure goes back to notStarted for review.
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!((r.counts.updated, r.counts.locked), (1, 1), "{r:?}");
    let w = e.workiva(&num).await;
    assert_eq!(
        (w[1].value.as_str(), w[1].status.as_str()),
        ("2.5", "notStarted")
    );
    assert_eq!(w[0].status, "complete");
}

#[tokio::test]
async fn mirror_deletes_what_the_source_dropped_within_its_guard() {
    let e = sync_env().await;
    let rows: Vec<R> = (1..=10)
        .map(|m| {
            (
                "ghg",
                Box::leak(format!("2025-{m:02}").into_boxed_str()) as &str,
                "A",
                "",
                "1",
                "",
            )
        })
        .collect();
    write_rows(&e.file("data.parquet"), &rows);
    let mirror = e.pipeline("mode = \"mirror\"\nmax_delete_fraction = 0.25");
    assert_eq!(
        e.run(&mirror, RunOptions::default()).await.counts.created,
        10
    );
    // Another year is out of scope and never touched.
    e.env
        .api
        .upsert(
            &e.env.ids.program,
            &e.env.ids.num,
            json!([val(2019, json!({&e.env.ids.facility: "B"}), "7")]),
        )
        .await;
    let ids_of = |vals: Vec<Value>| -> std::collections::BTreeSet<String> {
        vals.iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    };
    let before = ids_of(e.env.api.values(&e.env.ids.program, &e.env.ids.num).await);
    write_rows(&e.file("data.parquet"), &rows[..8]);
    let r = e.run(&mirror, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.deleted),
        (Status::Succeeded, 2),
        "{r:?}"
    );
    assert_eq!(e.workiva(&e.env.ids.num).await.len(), 9);
    // Each deletion was recorded with its ids before it was sent, and confirmed.
    let after = ids_of(e.env.api.values(&e.env.ids.program, &e.env.ids.num).await);
    let recorded = e.store.deletions_of_run(r.run_id.unwrap()).await.unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].status, "deleted");
    let gone: std::collections::BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(
        recorded[0]
            .ids
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        gone
    );
    // Dropping 5 of 8 is over the 25% guard: refused, nothing changed, unless forced.
    write_rows(&e.file("data.parquet"), &rows[..3]);
    let r = e.run(&mirror, RunOptions::default()).await;
    assert_eq!(r.status, Status::Failed);
    assert!(
        r.message().unwrap().contains("max_delete_fraction"),
        "{r:?}"
    );
    assert_eq!(e.workiva(&e.env.ids.num).await.len(), 9);
    let r = e
        .run(
            &mirror,
            RunOptions {
                force: true,
                ..RunOptions::default()
            },
        )
        .await;
    assert_eq!(r.counts.deleted, 5);
    assert_eq!(
        e.workiva(&e.env.ids.num).await.len(),
        4,
        "three from the source and the 2019 value"
    );
    // Upsert mode never deletes.
    write_rows(&e.file("data.parquet"), &rows[..1]);
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!(r.counts.deleted, 0);
}

#[tokio::test]
async fn plan_and_dry_run_write_nothing_and_record_nothing() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), GOOD);
    let before = e.env.emu.requests().len();
    let r = e
        .run(
            &e.pipeline(""),
            RunOptions {
                dry_run: true,
                ..RunOptions::default()
            },
        )
        .await;
    assert_eq!(r.status, Status::Planned);
    assert_eq!(r.counts.created, 6);
    assert!(r.run_id.is_none());
    let log: Vec<_> = e.env.emu.requests().into_iter().skip(before).collect();
    assert!(
        log.iter()
            .all(|x| x.method == "GET" || x.path == "/oauth2/token"),
        "{:?}",
        log.iter().map(|x| &x.endpoint).collect::<Vec<_>>()
    );
    assert!(e.store.runs(10).await.unwrap().is_empty());
    assert!(e.workiva(&e.env.ids.num).await.is_empty());
}

#[tokio::test]
async fn a_cached_program_id_that_is_gone_is_looked_up_again() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), GOOD);
    let p = e.pipeline("");
    e.run(&p, RunOptions::default()).await;
    assert_eq!(
        e.store
            .mapping_get(MappingKind::Program, "", "Test Program")
            .await
            .unwrap()
            .as_deref(),
        Some(e.env.ids.program.as_str())
    );
    // The tenant is rebuilt: same names, new ids.
    e.env.emu.reset();
    let summary = e.env.emu.seed(&test_seed()).unwrap();
    let new_id = summary["programs"][0]["id"].as_str().unwrap().to_string();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 6),
        "{r:?}"
    );
    assert_eq!(
        e.store
            .mapping_get(MappingKind::Program, "", "Test Program")
            .await
            .unwrap(),
        Some(new_id)
    );
}

#[tokio::test]
async fn years_limit_the_scope() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), GOOD);
    let r = e
        .run(
            &e.pipeline(""),
            RunOptions {
                years: Some((2024, 2024)),
                ..RunOptions::default()
            },
        )
        .await;
    assert_eq!(r.counts.created, 1);
    assert_eq!(e.workiva(&e.env.ids.num).await.len(), 1);
}

#[tokio::test]
async fn a_value_too_large_for_any_batch_is_a_rejected_row() {
    let e = sync_env().await;
    let long = "n".repeat(1500);
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025-Q1", "A", "", "1", &long),
            ("ghg", "2025-Q2", "A", "", "2", "short"),
        ],
    );
    let r = e
        .run(&e.pipeline("batch_bytes = 1000"), RunOptions::default())
        .await;
    assert_eq!(
        (r.status, r.counts.created, r.counts.rejected),
        (Status::Partial, 1, 1),
        "{r:?}"
    );
    let rejects = e.store.rejects(r.run_id.unwrap()).await.unwrap();
    assert_eq!(rejects[0].source_row, 1);
    assert!(
        rejects[0]
            .reason
            .contains("more than fits in one request of 1000 bytes"),
        "{rejects:?}"
    );
}

//! Every row safe. Each bad row is rejected with its file, row, field and reason,
//! and never stops the good rows from landing; values land exactly; `plan` tells the truth.

use esg_sync::store::MappingKind;
use esg_sync::sync::{RunOptions, Status};
use serde_json::json;

use crate::support::env::{Landed, SyncEnv, sync_env, write_rows};
use crate::support::pq::{Col, raw, s, write};

/// Writes `data.parquet` with the standard columns, the facility column as given.
fn write_with(e: &SyncEnv, metric: &[&str], period: &[&str], facility: Col, value: Col) {
    let n = metric.len();
    write(
        &e.file("data.parquet"),
        vec![
            ("metric", s(metric)),
            ("period", s(period)),
            ("facility", facility),
            ("bu", s(&vec![""; n])),
            ("value", value),
            ("notes", s(&vec![""; n])),
        ],
    );
}

/// One rejected row of a report: its row in the file, the field at fault, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Why {
    row: i64,
    field: String,
    reason: String,
}

/// A report's rejects, sorted by row, then field, then reason.
fn reasons(r: &esg_sync::sync::Report) -> Vec<Why> {
    let mut v: Vec<_> = r
        .rejects
        .iter()
        .map(|x| Why {
            row: x.source_row,
            field: x.field.clone(),
            reason: x.reason.clone(),
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_multi_byte_period_label_is_a_reject_not_a_crash() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "Q1–2025", "B", "", "1", ""),
            ("ghg", "202–Q1", "B", "", "2", ""),
            ("ghg", "2025-Q1", "B", "", "3", ""),
        ],
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!((r.status, r.counts.created), (Status::Partial, 1), "{r:?}");
    let why = reasons(&r);
    assert_eq!(why.len(), 2, "{why:?}");
    for Why { row, field, reason } in &why {
        assert!([1, 2].contains(row));
        assert_eq!(field, "period");
        assert!(reason.contains("is not a period label"), "{reason}");
    }
}

#[tokio::test]
async fn an_extreme_exponent_is_a_reject_not_an_abort() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025-Q1", "B", "", "1e-9223372036854775808", ""),
            ("ghg", "2025-Q2", "B", "", "1e9223372036854775807", ""),
            ("ghg", "2025-Q3", "B", "", "2.5e2", ""),
        ],
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!((r.status, r.counts.created), (Status::Partial, 1), "{r:?}");
    let why = reasons(&r);
    assert_eq!(
        why.iter()
            .map(|w| (w.row, w.field.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "value"), (2, "value")]
    );
    assert!(why[0].reason.contains("not a number"), "{why:?}");
    let num = e.workiva(&e.env.ids.num).await;
    assert_eq!(num.len(), 1);
    assert_eq!(num[0].value, "250");
}

#[tokio::test]
async fn a_float32_column_lands_by_its_own_shortest_text() {
    let e = sync_env().await;
    write_with(
        &e,
        &["ghg", "ghg", "ghg"],
        &["2025-Q1", "2025-Q2", "2025-Q3"],
        s(&["B", "B", "B"]),
        Col::F32(vec![Some(0.1), Some(1024.55), Some(-3.4028235e38)]),
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 3),
        "{r:?}"
    );
    let got: Vec<String> = e
        .workiva(&e.env.ids.num)
        .await
        .into_iter()
        .map(|v| v.value)
        .collect();
    assert_eq!(
        got,
        vec![
            "0.1".to_string(),
            "1024.55".into(),
            "-340282350000000000000000000000000000000".into()
        ]
    );
    // Read back the same: a rerun sends nothing.
    let before = e.upsertions();
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!((r.counts.unchanged, e.upsertions()), (3, before), "{r:?}");
}

#[tokio::test]
async fn an_empty_value_is_rejected_unless_the_pipeline_clears_with_it() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025-Q1", "B", "", "5", ""),
            ("ghg", "2025-Q2", "B", "", "6", ""),
        ],
    );
    e.run(&e.pipeline(""), RunOptions::default()).await;
    // Q1 becomes null, Q2 blank text, Q3 null with nothing in Workiva.
    write_with(
        &e,
        &["ghg", "ghg", "ghg"],
        &["2025-Q1", "2025-Q2", "2025-Q3"],
        s(&["B", "B", "B"]),
        raw(&[None, Some("  "), None]),
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!((r.status, r.counts.updated), (Status::Partial, 0), "{r:?}");
    let why = reasons(&r);
    assert_eq!(why.len(), 3, "{why:?}");
    assert!(
        why.iter()
            .all(|w| w.field == "value" && w.reason.starts_with("the value is empty"))
    );
    let held = |v: &Vec<Landed>| v.iter().map(|x| x.value.clone()).collect::<Vec<_>>();
    assert_eq!(held(&e.workiva(&e.env.ids.num).await), vec!["5", "6"]);
    // With `empty_values = "clear"` the values are cleared explicitly, and nothing is created.
    let clear = e.pipeline("empty_values = \"clear\"");
    let plan = esg_sync::sync::build_plan(&e.client, &e.store, &clear, None)
        .await
        .unwrap();
    let bodies: Vec<String> = plan
        .metrics
        .iter()
        .flat_map(|m| m.writes.iter())
        .map(|w| String::from_utf8(w.json()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    for b in &bodies {
        assert!(b.contains("\"fieldsToClear\":[\"value\"]"), "{b}");
        assert!(!b.contains("\"value\":"), "never an empty string: {b}");
    }
    let r = e.run(&clear, RunOptions::default()).await;
    assert_eq!(
        (
            r.status,
            r.counts.updated,
            r.counts.created,
            r.counts.unchanged
        ),
        (Status::Succeeded, 2, 0, 1),
        "{r:?}"
    );
    let vals = e.env.api.values(&e.env.ids.program, &e.env.ids.num).await;
    assert_eq!(vals.len(), 2);
    assert!(
        vals.iter()
            .all(|v| v["value"].is_null() || v["value"] == json!("")),
        "{vals:?}"
    );
}

#[tokio::test]
async fn a_blank_dimension_cell_is_a_reject_and_only_null_means_no_coordinate() {
    let e = sync_env().await;
    write_with(
        &e,
        &["ghg", "ghg", "ghg"],
        &["2025-Q1", "2025-Q2", "2025-Q3"],
        raw(&[Some(""), Some("  "), None]),
        s(&["1", "2", "3"]),
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!((r.status, r.counts.created), (Status::Partial, 1), "{r:?}");
    let why = reasons(&r);
    assert_eq!(
        why.iter()
            .map(|w| (w.row, w.field.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "facility"), (2, "facility")]
    );
    assert!(why[0].reason.contains("blank"), "{why:?}");
    let num = e.workiva(&e.env.ids.num).await;
    assert_eq!(num.len(), 1);
    assert_eq!(
        (num[0].coordinates.clone(), num[0].value.as_str()),
        (json!({}), "3")
    );
}

#[tokio::test]
async fn plan_applies_the_mirror_guard_with_the_runs_message() {
    let e = sync_env().await;
    let rows: Vec<crate::support::env::R> = (1..=10)
        .map(|m| {
            (
                "ghg",
                Box::leak(format!("2025-{m:02}").into_boxed_str()) as &str,
                "B",
                "",
                "1",
                "",
            )
        })
        .collect();
    write_rows(&e.file("data.parquet"), &rows);
    let mirror = e.pipeline("mode = \"mirror\"\nmax_delete_fraction = 0.25");
    e.run(&mirror, RunOptions::default()).await;
    write_rows(&e.file("data.parquet"), &rows[..3]);
    let dry = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let planned = e.run(&mirror, dry.clone()).await;
    let ran = e.run(&mirror, RunOptions::default()).await;
    assert_eq!(
        (planned.status, ran.status),
        (Status::Failed, Status::Failed)
    );
    assert_eq!(planned.message(), ran.message());
    assert!(planned.message().unwrap().contains("max_delete_fraction"));
    assert_eq!(e.workiva(&e.env.ids.num).await.len(), 10, "nothing deleted");
    // Forced, the plan passes and shows the deletes.
    let forced = e.run(&mirror, RunOptions { force: true, ..dry }).await;
    assert_eq!(
        (forced.status, forced.counts.deleted),
        (Status::Planned, 7),
        "{forced:?}"
    );
}

#[tokio::test]
async fn plan_writes_nothing_to_the_mapping_store() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[("ghg", "2025-Q1", "B", "", "1", "")],
    );
    let p = e.pipeline("");
    let dry = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let r = e.run(&p, dry.clone()).await;
    assert_eq!(r.status, Status::Planned, "{r:?}");
    let program = e
        .store
        .mapping_get(MappingKind::Program, "", "Test Program")
        .await
        .unwrap();
    let metric = e
        .store
        .mapping_get(MappingKind::Metric, &e.env.ids.program, "Num")
        .await
        .unwrap();
    assert_eq!((program, metric), (None, None), "a dry run caches nothing");
    assert!(
        e.store.runs(10).await.unwrap().is_empty(),
        "and records no run"
    );
    // A stale cached id is not dropped by a plan either.
    e.store
        .mapping_put(MappingKind::Program, "", "Test Program", "stale-id")
        .await
        .unwrap();
    let r = e.run(&p, dry).await;
    assert_eq!(r.status, Status::Planned, "{r:?}");
    assert_eq!(
        e.store
            .mapping_get(MappingKind::Program, "", "Test Program")
            .await
            .unwrap()
            .as_deref(),
        Some("stale-id")
    );
    // A run records what it learnt.
    e.run(&p, RunOptions::default()).await;
    assert_eq!(
        e.store
            .mapping_get(MappingKind::Program, "", "Test Program")
            .await
            .unwrap(),
        Some(e.env.ids.program.clone())
    );
}

#[tokio::test]
async fn a_file_that_fails_part_way_gives_none_of_its_rows_and_the_others_land() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let e = sync_env().await;
    write_rows(
        &e.file("good.parquet"),
        &[("ghg", "2025-Q1", "B", "", "1", "")],
    );
    // 30,000 rows in three row groups; the third's `value` data is then overwritten, so the
    // reader hands over the first two groups' rows (several chunks) before it fails.
    let n = 30_000;
    let period: Vec<String> = (0..n)
        .map(|i| format!("{}-{:02}", 2000 + i / 12, 1 + i % 12))
        .collect();
    let rows: Vec<crate::support::env::R> = period
        .iter()
        .map(|p| ("ghg", p.as_str(), "A", "", "7", ""))
        .collect();
    let half = e.file("half.parquet");
    {
        use arrow_array::{ArrayRef, RecordBatch, StringArray};
        // Empty cells are nulls, as `write_rows` writes them.
        let col = |f: for<'a> fn(&'a crate::support::env::R<'a>) -> &'a str| -> ArrayRef {
            std::sync::Arc::new(StringArray::from(
                rows.iter()
                    .map(|r| Some(f(r)).filter(|c| !c.is_empty()))
                    .collect::<Vec<_>>(),
            ))
        };
        let batch = RecordBatch::try_from_iter([
            ("metric", col(|r| r.0)),
            ("period", col(|r| r.1)),
            ("facility", col(|r| r.2)),
            ("bu", col(|r| r.3)),
            ("value", col(|r| r.4)),
            ("notes", col(|r| r.5)),
        ])
        .unwrap();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(10_000))
            .build();
        let f = std::fs::File::create(&half).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    let reader = SerializedFileReader::new(std::fs::File::open(&half).unwrap()).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 3);
    let (start, len) = reader.metadata().row_group(2).column(4).byte_range();
    drop(reader);
    let mut bytes = std::fs::read(&half).unwrap();
    for b in &mut bytes[start as usize..(start + len) as usize] {
        *b = 0xA5;
    }
    std::fs::write(&half, bytes).unwrap();

    let mut p = e.pipeline("");
    p.source = vec![format!("{}/*.parquet", e.dir.path().display())].into();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.status, r.counts.created), (Status::Partial, 1), "{r:?}");
    assert_eq!(r.rejects.len(), 1, "{:?}", r.rejects);
    assert!(r.rejects[0].source_file.ends_with("half.parquet"));
    assert!(
        r.rejects[0].reason.contains("the whole file was skipped"),
        "{:?}",
        r.rejects[0]
    );
    assert_eq!(
        e.workiva(&e.env.ids.num).await.len(),
        1,
        "none of the rows read before the failure landed"
    );
}

#[tokio::test]
async fn every_unreadable_file_is_named_at_once_and_the_readable_ones_land() {
    let e = sync_env().await;
    write_rows(
        &e.file("good.parquet"),
        &[("ghg", "2025-Q1", "B", "", "1", "")],
    );
    std::fs::write(e.file("broken-1.parquet"), b"not parquet").unwrap();
    std::fs::write(e.file("broken-2.parquet"), b"PAR1 nor this").unwrap();
    let mut p = e.pipeline("");
    let good = format!("{}/*.parquet", e.dir.path().display());
    p.source = vec![
        good.clone(),
        "/no/such/dir/*.parquet".into(),
        "/no/such/file.parquet".into(),
    ]
    .into();
    // A pattern that matches nothing is a configuration problem: every one is named.
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(r.status, Status::Failed);
    let m = r.message().unwrap();
    assert!(m.starts_with("2 source problems"), "{m}");
    assert!(
        m.contains("/no/such/dir/*.parquet") && m.contains("/no/such/file.parquet"),
        "{m}"
    );
    // Unreadable files are rejects naming each; the readable file's rows land.
    p.source = vec![good].into();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.status, r.counts.created), (Status::Partial, 1), "{r:?}");
    let mut files: Vec<(&str, i64, &str)> = r
        .rejects
        .iter()
        .map(|x| {
            (
                x.source_file.rsplit('/').next().unwrap(),
                x.source_row,
                x.field.as_str(),
            )
        })
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            ("broken-1.parquet", 0, "file"),
            ("broken-2.parquet", 0, "file")
        ]
    );
    assert!(
        r.rejects[0].reason.contains("the whole file was skipped"),
        "{:?}",
        r.rejects
    );
    // In mirror mode the source's scope is unknown: nothing may be deleted, the run refuses.
    let mut mirror = e.pipeline("mode = \"mirror\"");
    mirror.source = p.source.clone();
    let r = e.run(&mirror, RunOptions::default()).await;
    assert_eq!(r.status, Status::Failed);
    let m = r.message().unwrap();
    assert!(
        m.contains("broken-1.parquet") && m.contains("broken-2.parquet"),
        "{m}"
    );
}

#[tokio::test]
async fn a_panic_inside_a_run_is_a_recorded_failed_run_and_the_next_run_goes_on() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), crate::support::env::ROWS);
    let cfg = crate::support::pipeline::config_with(&e, "", "");
    let ran = crate::support::run_binary(cfg.clone(), Some("panic:run_started")).await;
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stdout.contains("internal error"), "{}", ran.stdout);
    let store = esg_sync::store::Store::connect(&format!(
        "sqlite://{}/cli-state.db",
        e.dir.path().display()
    ))
    .await
    .unwrap();
    let runs = store.runs(10).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, "failed");
    assert!(
        runs[0]
            .message
            .as_deref()
            .unwrap()
            .contains("planned panic"),
        "{runs:?}"
    );
    // The lease was given back: the next run starts at once and lands everything.
    let ran = crate::support::run_binary(cfg, None).await;
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    crate::support::env::assert_equal_to_source(&e).await;
}

#[tokio::test]
async fn a_run_that_loses_its_lease_stops_sending_and_ends_interrupted() {
    let e = std::sync::Arc::new(sync_env().await);
    let mut s = e.env.emu.settings();
    s.operations = esg_sync::emulator::config::OperationTiming {
        queued_ms: 0,
        base_ms: 300,
        per_value_us: 0,
        retry_after_secs: 0,
    };
    e.env.emu.set_settings(s).unwrap();
    let rows: Vec<crate::support::env::R> = (0..120)
        .map(|i| {
            let period = format!("{}-{:02}", 2015 + i / 12, 1 + i % 12);
            (
                "ghg",
                Box::leak(period.into_boxed_str()) as &str,
                "B",
                "",
                "1",
                "",
            )
        })
        .collect();
    write_rows(&e.file("data.parquet"), &rows);
    // Small batches (about eight values each), sent one after the other.
    let p = e.pipeline("batch_bytes = 1000\nconcurrency = 1");
    let opts = RunOptions {
        lease_ttl: Some(std::time::Duration::from_millis(400)),
        ..RunOptions::default()
    };
    let upserts = |e: &SyncEnv| {
        e.env
            .emu
            .requests()
            .iter()
            .filter(|q| q.endpoint.ends_with("/batchUpsertion"))
            .count()
    };
    let run = {
        let e = e.clone();
        tokio::spawn(async move { e.run(&p, opts).await })
    };
    assert!(crate::support::eventually(|| async { upserts(&e) >= 2 }).await);
    // Another process takes the lease over while the second batch's operation runs.
    let taken = e
        .store
        .lease_acquire(
            "test",
            "elsewhere/1/thief",
            std::time::Duration::from_secs(60),
            |_| true,
        )
        .await
        .unwrap();
    assert!(taken.is_ok());
    let sent_at_steal = upserts(&e);
    let r = run.await.unwrap();
    assert_eq!(r.status, Status::Interrupted, "{r:?}");
    assert!(r.message().unwrap().contains("lease"), "{r:?}");
    assert_eq!(
        upserts(&e),
        sent_at_steal,
        "no batch after the lease was taken"
    );
    let landed = e.workiva(&e.env.ids.num).await.len();
    assert!(landed > 0 && landed < 120, "{landed}");
    // The batch in flight at the steal was polled to its end and landed, but the stale run
    // could not record it: its writes carry a fencing token the store now refuses. It stays
    // open, with its operation URL, for the lease's holder to resume and count.
    assert!(
        (r.counts.created as usize) < landed,
        "{} recorded, {landed} landed",
        r.counts.created
    );
    let open = e.store.open_batches("test").await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].status, "sent");
    let recorded = e.store.run(r.run_id.unwrap()).await.unwrap().unwrap();
    assert_eq!(
        recorded.status, "running",
        "the stale run cannot even record its end"
    );
    // The lease stays with the process that took it.
    let again = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!(again.status, Status::Busy, "{again:?}");
    // The holder (here: a run once the thief gives the lease back) resumes the run: the open
    // batch is polled, not resent, the rest is sent, and every value is counted once.
    e.store
        .lease_release("test", "elsewhere/1/thief")
        .await
        .unwrap();
    let sent_before = upserts(&e);
    let next = e
        .run(
            &e.pipeline("batch_bytes = 1000\nconcurrency = 1"),
            RunOptions::default(),
        )
        .await;
    assert_eq!(next.status, Status::Succeeded, "{next:?}");
    assert_eq!(next.resumed_batches, 1);
    let stale = e.store.run(r.run_id.unwrap()).await.unwrap().unwrap();
    assert_eq!(stale.status, "interrupted", "{stale:?}");
    assert_eq!(e.workiva(&e.env.ids.num).await.len(), 120);
    assert_eq!(
        stale.counts.created + next.counts.created,
        120,
        "each value counted in exactly one run"
    );
    assert!(upserts(&e) > sent_before, "the unsent values were sent");
}

//! Threshold review against the prior year, in a pipeline, against the emulator.

use esg_sync::sync::{RunOptions, Status};
use serde_json::json;

use crate::support::env::{sync_env, write_rows};

const REVIEW: &str = r#"
[pipeline.review]
compare = "prior_year"
max_change_percent = 10.0
max_change_abs = 10000
within = "complete"
beyond = "notStarted"
no_prior = "notStarted"
notes = "append"
"#;

#[tokio::test]
async fn values_within_the_limits_are_completed_the_rest_flagged_with_notes_that_say_why() {
    let e = sync_env().await;
    // Last year's figures, loaded without review.
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2024-Q1", "A", "X", "502.35", ""),
            ("ghg", "2024-Q1", "B", "", "973.44", ""),
            ("ghg", "2024-Q1", "C", "", "0", ""),
        ],
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!(r.counts.created, 3, "{r:?}");
    // This year's: within, beyond, no prior, and a prior of 0.
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025-Q1", "A", "X", "512.87", "audited"),
            ("ghg", "2025-Q1", "B", "", "1155.80", ""),
            ("ghg", "2025-Q2", "A", "X", "7", ""),
            ("ghg", "2025-Q1", "C", "", "5", ""),
        ],
    );
    let p = e.pipeline(REVIEW);
    // plan: counts, nothing sent.
    let before = e.upsertions();
    let planned = e
        .run(
            &p,
            RunOptions {
                dry_run: true,
                ..Default::default()
            },
        )
        .await;
    let t = planned.review.unwrap();
    assert_eq!((t.auto_completed, t.flagged), (1, 3), "{planned:?}");
    assert!(
        esg_sync::sync::render(&planned)
            .contains("review: 1 values would be auto-completed, 3 would be flagged for review")
    );
    assert_eq!(e.upsertions(), before);

    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 4),
        "{r:?}"
    );
    let (f, bu) = (&e.env.ids.facility, &e.env.ids.bu);
    let got: Vec<_> = e
        .workiva(&e.env.ids.num)
        .await
        .into_iter()
        .filter(|v| v.year == 2025)
        .map(|v| (v.start, v.coordinates, v.status, v.notes))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                1,
                json!({f: "A", bu: "X"}),
                "complete".to_string(),
                "audited\nAuto-approved: delta from prior year is 2.1% (10.52)".to_string()
            ),
            (
                1,
                json!({f: "B"}),
                "notStarted".to_string(),
                "REVIEW REQUIRED: delta from prior year is 18.7% (182.36). Prior year value: 973.44"
                    .to_string()
            ),
            (
                1,
                json!({f: "C"}),
                "notStarted".to_string(),
                "REVIEW REQUIRED: prior year value is 0, so the change (5.00) has no percentage"
                    .to_string()
            ),
            (
                4,
                json!({f: "A", bu: "X"}),
                "notStarted".to_string(),
                "REVIEW REQUIRED: no prior year value".to_string()
            ),
        ]
    );
    // The run's record counts them, and the flagged ones are listed with their numbers.
    let id = r.run_id.unwrap();
    assert_eq!(e.store.review_counts(id).await.unwrap(), (1, 3));
    let flagged = e.store.reviews(id, true).await.unwrap();
    assert_eq!(flagged.len(), 3);
    let b = flagged
        .iter()
        .find(|x| x.coordinates == "Facility=B")
        .unwrap();
    assert_eq!(
        (
            b.metric.as_str(),
            b.period.as_str(),
            b.value.as_str(),
            b.prior.as_deref(),
            b.delta.as_deref(),
            b.delta_percent.as_deref()
        ),
        (
            "Num",
            "2025-Q1",
            "1155.8",
            Some("973.44"),
            Some("182.36"),
            Some("18.7")
        )
    );
    // A rerun sends nothing: unchanged values keep their status and note.
    let before = e.upsertions();
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.counts.unchanged, e.upsertions()), (4, before), "{r:?}");
    assert_eq!(
        r.review.unwrap().auto_completed + r.review.unwrap().flagged,
        0
    );
}

#[tokio::test]
async fn a_changed_complete_value_is_reviewed_again_and_locked_ones_are_left_alone() {
    let e = sync_env().await;
    // The prior year comes from Workiva as it was before the run: loaded first.
    write_rows(
        &e.file("data.parquet"),
        &[("ghg", "2024", "A", "", "100", "")],
    );
    e.run(&e.pipeline(""), RunOptions::default()).await;
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2024", "A", "", "100", ""),
            ("ghg", "2025", "A", "", "101", ""),
        ],
    );
    let p = e.pipeline(REVIEW);
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.counts.created, r.counts.unchanged), (1, 1), "{r:?}");
    let num = e.workiva(&e.env.ids.num).await;
    assert_eq!(num[1].status, "complete", "{num:?}");
    // The 2025 figure is corrected beyond the limit: reopened and flagged.
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2024", "A", "", "100", ""),
            ("ghg", "2025", "A", "", "150", ""),
        ],
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.counts.updated, r.counts.unchanged), (1, 1), "{r:?}");
    let num = e.workiva(&e.env.ids.num).await;
    assert_eq!(num[1].status, "notStarted");
    assert!(
        num[1]
            .notes
            .starts_with("REVIEW REQUIRED: delta from prior year is 50.0% (50.00)")
    );
    // With on_complete_changed = "skip", a complete value is not touched at all.
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2024", "A", "", "100", ""),
            ("ghg", "2025", "A", "", "102", ""),
        ],
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        e.workiva(&e.env.ids.num).await[1].status,
        "complete",
        "{r:?}"
    );
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2024", "A", "", "100", ""),
            ("ghg", "2025", "A", "", "103", ""),
        ],
    );
    let skip = e.pipeline(&format!(
        "status = {{ on_complete_changed = \"skip\" }}\n{REVIEW}"
    ));
    let r = e.run(&skip, RunOptions::default()).await;
    assert_eq!(r.counts.locked, 1, "{r:?}");
    assert_eq!(e.workiva(&e.env.ids.num).await[1].value, "102");
}

#[tokio::test]
async fn review_report_and_runs_list_what_the_review_decided() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025", "A", "", "5", ""),
            ("ghg", "2025", "B", "", "6", ""),
        ],
    );
    let review = REVIEW;
    let cfg = crate::support::pipeline::config_with(&e, "", review)
        .display()
        .to_string();
    let env = || vec![("ESG_SYNC_TEST_SECRET", "demo-secret".to_string())];
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let r = crate::support::run_esg(args(&["run-now", "--config", &cfg]), env()).await;
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "review: 0 values auto-completed, 2 flagged for review (esg-sync review report --run 1)"
        ),
        "{}",
        r.stdout
    );
    let r = crate::support::run_esg(args(&["review", "report", "--config", &cfg]), env()).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "run,metric,period,coordinates,value,prior,delta,delta_percent,reason"
    );
    assert_eq!(
        lines[1],
        "1,Num,2025,Facility=A,5,,,,REVIEW REQUIRED: no prior year value"
    );
    assert_eq!(lines.len(), 3);
    let r = crate::support::run_esg(args(&["runs", "--config", &cfg]), env()).await;
    assert!(
        r.stdout.contains("review: 0 auto-completed, 2 flagged"),
        "{}",
        r.stdout
    );
    let r =
        crate::support::run_esg(args(&["runs", "--config", &cfg, "--output", "json"]), env()).await;
    let runs: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(runs[0]["flagged"], 2);
}

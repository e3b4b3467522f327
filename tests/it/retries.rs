//! Retries said in words that match the settings, routine retries kept out
//! of the warnings, and a batch whose answer was lost never sent twice.

use esg_sync::emulator::config::{OperationTiming, PlannedFault};
use esg_sync::sync::{RunOptions, Status};
use esg_sync::workiva::{ListOptions, WorkivaClient};

use crate::support::client::{capture_logs, client_config};
use crate::support::env::{sync_env, write_rows};

const UPSERT: &str = "POST /programs/{programId}/metrics/{metricId}/values/batchUpsertion";

fn fault(endpoint: &str, fault: &str, times: u32) -> PlannedFault {
    PlannedFault {
        endpoint: endpoint.into(),
        fault: fault.parse().unwrap(),
        times,
        retry_after_secs: Some(0),
    }
}

/// The answers to every batch upsertion so far.
fn upsert_statuses(e: &crate::support::env::SyncEnv) -> Vec<u16> {
    e.env
        .emu
        .requests()
        .iter()
        .filter(|q| q.endpoint == UPSERT)
        .map(|q| q.status)
        .collect()
}

#[tokio::test]
async fn a_lost_answer_to_a_batch_polls_the_running_operation_instead_of_resending() {
    let e = sync_env().await;
    let mut s = e.env.emu.settings();
    // The first operation is still running when the client tries again.
    s.operations = OperationTiming {
        queued_ms: 0,
        base_ms: 800,
        per_value_us: 0,
        retry_after_secs: 0,
    };
    s.faults.plan = vec![fault(UPSERT, "lost_response", 1)];
    e.env.emu.set_settings(s).unwrap();
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025-Q1", "B", "", "1", ""),
            ("ghg", "2025-Q2", "B", "", "2", ""),
        ],
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 2),
        "{r:?}"
    );
    let upserts = upsert_statuses(&e);
    assert_eq!(
        upserts,
        vec![504, 409],
        "the lost batch is polled, not sent a second time"
    );
    assert_eq!(e.workiva(&e.env.ids.num).await.len(), 2);
    // The run counted what the operation wrote, and a rerun sends nothing.
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!((r.counts.unchanged, r.batches), (2, 0), "{r:?}");
}

#[tokio::test]
async fn a_busy_metric_without_a_lost_answer_waits_and_sends() {
    let e = sync_env().await;
    let mut s = e.env.emu.settings();
    s.operations = OperationTiming {
        queued_ms: 0,
        base_ms: 500,
        per_value_us: 0,
        retry_after_secs: 0,
    };
    e.env.emu.set_settings(s).unwrap();
    // Another writer's batch holds the metric: a 409 on a first attempt is waited out and the
    // batch sent once the metric is free.
    let (p, m) = (&e.env.ids.program, &e.env.ids.num);
    let other = e
        .env
        .api
        .post(
            &format!("/programs/{p}/metrics/{m}/values/batchUpsertion"),
            serde_json::json!({"data": [{"reportingPeriod": {"year": 2020, "start": 1, "end": 12},
                "coordinates": {&e.env.ids.facility: "A"}, "value": "9"}]}),
        )
        .await;
    assert_eq!(other.status, 202);
    write_rows(
        &e.file("data.parquet"),
        &[("ghg", "2025-Q1", "B", "", "1", "")],
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!(
        (r.status, r.counts.created),
        (Status::Succeeded, 1),
        "{r:?}"
    );
    let upserts = upsert_statuses(&e);
    assert_eq!(upserts.first(), Some(&202));
    assert_eq!(upserts.last(), Some(&202));
    assert!(upserts.contains(&409), "{upserts:?}");
    assert_eq!(e.workiva(m).await.len(), 2);
}

#[tokio::test]
async fn messages_count_attempts_as_the_settings_do() {
    let env = crate::support::start().await;
    let mut cfg = client_config(&env);
    cfg.max_attempts = 2;
    let c = WorkivaClient::new(cfg).unwrap();
    let mut s = env.emu.settings();
    s.faults.plan = vec![
        fault("GET /programs", "429", 3),
        fault("GET /programs", "500", 2),
    ];
    env.emu.set_settings(s).unwrap();
    let err = c
        .programs(&ListOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("gave up after 2 attempts and 3 more after waits the server asked for"),
        "{err}"
    );
}

#[tokio::test]
async fn routine_retries_are_debug_lines_and_the_run_sums_them_up_once() {
    let e = sync_env().await;
    let (logs, _guard) = capture_logs();
    let mut s = e.env.emu.settings();
    s.faults.plan = vec![fault(UPSERT, "429", 2), fault(UPSERT, "503", 1)];
    e.env.emu.set_settings(s).unwrap();
    write_rows(
        &e.file("data.parquet"),
        &[("ghg", "2025-Q1", "B", "", "1", "")],
    );
    let r = e.run(&e.pipeline(""), RunOptions::default()).await;
    assert_eq!(r.status, Status::Succeeded, "{r:?}");
    let text = logs.text();
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains(" WARN ")).collect();
    assert!(
        warnings.is_empty(),
        "no warning for routine retries: {warnings:#?}"
    );
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Requests were retried during the run."))
        .collect();
    assert_eq!(summary.len(), 1, "{text}");
    assert!(
        summary[0].contains(" INFO ")
            && summary[0].contains("retried=3")
            && summary[0].contains("2 rate-limited (429)")
            && summary[0].contains("1 server errors (408, 5xx)"),
        "{}",
        summary[0]
    );
    assert!(!text.contains("gave up after"), "nothing gave up: {text}");
}

//! The daemon as a child process against the emulator: SIGTERM mid-run (a clean stop, exit 0,
//! the run recorded as interrupted, the next start finishing it with Workiva equal to the
//! source), a grace period that runs out, a second signal, and the figures of `/metrics` and
//! `/readyz` after a run.

use std::sync::Mutex;
use std::time::Duration;

use crate::support::daemon::Daemon;
use crate::support::env::{ROWS, assert_equal_to_source, posts};
use crate::support::env::{SyncEnv, sync_env, write_rows};
use crate::support::eventually;
use crate::support::pipeline::config_with;

/// GET `path` of the daemon at `addr`.
async fn get(addr: &str, path: &str) -> reqwest::Response {
    reqwest::get(format!("http://{addr}{path}")).await.unwrap()
}

/// The value of the first series of a Prometheus text that starts with `prefix`.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()
}

fn state_url(e: &SyncEnv) -> String {
    format!("sqlite://{}/cli-state.db", e.dir.path().display())
}

/// Waits until `check` holds for the runs and batches of the state store.
async fn until(
    e: &SyncEnv,
    what: &str,
    d: &Daemon,
    check: impl Fn(&[esg_sync::store::RunRecord], &[esg_sync::store::BatchRecord]) -> bool,
) {
    let ok = eventually(|| async {
        let Ok(store) = esg_sync::store::Store::connect(&state_url(e)).await else {
            return false;
        };
        let runs = store.runs(100).await.unwrap_or_default();
        let open = store.open_batches("crash").await.unwrap_or_default();
        store.close().await;
        check(&runs, &open)
    })
    .await;
    assert!(ok, "waited in vain for {what}:\n{}", d.log());
}

fn slow_operations(e: &SyncEnv, ms: u64) {
    let mut s = e.env.emu.settings();
    s.operations.base_ms = ms;
    e.env.emu.set_settings(s).unwrap();
}

const EVERY_SECOND: &str = "schedule = \"* * * * * *\"\nstale_after_secs = 30";

async fn runs(e: &SyncEnv) -> Vec<esg_sync::store::RunRecord> {
    let store = esg_sync::store::Store::connect(&state_url(e))
        .await
        .unwrap();
    let mut r = store.runs(1000).await.unwrap();
    store.close().await;
    r.reverse();
    r
}

/// A daemon with this grace period (or `run-now`, for None) started over the standard rows, with
/// operations taking `op_ms`, once its first batch's operation URL is recorded.
async fn mid_run(grace_secs: Option<u64>, op_ms: u64) -> (SyncEnv, std::path::PathBuf, Daemon) {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), ROWS);
    let (command, cfg) = match grace_secs {
        Some(g) => (
            "daemon",
            config_with(
                &e,
                &format!(
                    "[daemon]\nlisten = \"127.0.0.1:0\"\ngrace_period_secs = {g}\nwatch_interval_secs = 1"
                ),
                EVERY_SECOND,
            ),
        ),
        None => ("run-now", config_with(&e, "", "")),
    };
    slow_operations(&e, op_ms);
    let d = Daemon::spawn(command, &cfg, "demo-secret");
    until(&e, "the first operation URL", &d, |_, open| {
        open.iter().any(|b| b.status == "sent")
    })
    .await;
    assert_eq!(posts(&e), 1);
    (e, cfg, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_stops_cleanly_and_the_next_start_finishes_the_run() {
    // Two metrics, one batch in flight at a time; operations take 1.5 s.
    let (e, cfg, mut d) = mid_run(Some(30), 1500).await;
    assert_eq!(posts(&e), 1);
    d.signal("-TERM");
    assert_eq!(
        d.exit(Duration::from_secs(20)).await,
        Some(0),
        "a clean stop exits 0:\n{}",
        d.log()
    );
    let log = d.log();
    assert!(log.contains("Stopping: no new runs or batches"), "{log}");
    assert_eq!(
        posts(&e),
        1,
        "no new batch after the signal: the second metric waits for the next start"
    );
    let first = runs(&e).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].status, "interrupted", "{first:?}");
    assert!(
        first[0]
            .message
            .as_deref()
            .unwrap()
            .contains("stopped by a shutdown"),
        "{first:?}"
    );
    let store = esg_sync::store::Store::connect(&state_url(&e))
        .await
        .unwrap();
    assert!(
        store.open_batches("crash").await.unwrap().is_empty(),
        "the batch in flight was polled to its end within the grace period"
    );
    assert_eq!(
        store.batches_of_run(first[0].id).await.unwrap()[0].0,
        "completed"
    );
    store.close().await;

    // The next start finishes the run before anything else; Workiva throttles one poll and
    // fails one listing on the way, for the metrics to show.
    slow_operations(&e, 10);
    let mut s = e.env.emu.settings();
    s.faults.plan = [
        ("GET /operations/{operationId}", "429"),
        ("GET /programs/{programId}/metrics", "503"),
    ]
    .into_iter()
    .map(
        |(endpoint, fault)| esg_sync::emulator::config::PlannedFault {
            endpoint: endpoint.into(),
            fault: fault.parse().unwrap(),
            times: 1,
            retry_after_secs: Some(1),
        },
    )
    .collect();
    e.env.emu.set_settings(s).unwrap();
    let mut d = Daemon::start(&cfg);
    until(&e, "a succeeded run", &d, |runs, _| {
        runs.iter().any(|r| r.status == "succeeded")
    })
    .await;
    assert_equal_to_source(&e).await;
    assert_eq!(posts(&e), 2, "only the unsent metric's batch was sent");
    let all = runs(&e).await;
    assert_eq!(all[0].status, "interrupted");
    assert_eq!(all[1].status, "succeeded", "{all:?}");
    assert_eq!(
        (all[1].counts.created, all[1].counts.unchanged),
        (2, 3),
        "the resumed run sends what the stop left and finds the rest landed"
    );
    assert!(d.log().contains("resuming it before anything else"));

    // /readyz and /metrics after the run.
    let addr = d.addr().await;
    let ready = get(&addr, "/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true, "{body}");
    assert_eq!(body["store"]["ok"], true);
    // Freshness, the token and the holders are in /status.
    let body: serde_json::Value = get(&addr, "/status").await.json().await.unwrap();
    assert_eq!(body["fresh"], true, "{body}");
    assert_eq!(body["token"]["ok"], true);
    // The page links the run to its ledger entries, which download with their hashes.
    let page = get(&addr, "/").await.text().await.unwrap();
    let link = format!("/runs/{}/ledger.csv", all[1].id);
    assert!(page.contains(&link), "{page}");
    let csv = get(&addr, &link).await;
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    let rows = esg_sync::evidence::csv::parse(&csv).unwrap();
    assert_eq!(rows.len(), 3, "a header and the run's two entries: {csv}");
    assert_eq!(&rows[0][..3], ["seq", "confirmed_at", "action"]);
    assert!(rows[1..].iter().all(|r| r[2] == "create"), "{csv}");
    assert_eq!(get(&addr, "/runs/999999/ledger.csv").await.status(), 404);
    assert_eq!(body["pipelines"]["crash"]["ok"], true);
    assert!(body["pipelines"]["crash"]["last_success"].is_string());
    let health = get(&addr, "/healthz").await;
    assert_eq!(health.status(), 200);
    let m = get(&addr, "/metrics").await;
    assert_eq!(m.status(), 200);
    assert!(
        m.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = m.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        metric(&text, prefix).unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
    };
    assert!(value(r#"esg_sync_runs_total{pipeline="crash",status="succeeded"}"#) >= 1.0);
    assert_eq!(
        value(r#"esg_sync_values_total{pipeline="crash",outcome="created"}"#),
        2.0
    );
    assert_eq!(value(r#"esg_sync_batches_total{pipeline="crash"}"#), 1.0);
    assert!(value(r#"esg_sync_batch_bytes_total{pipeline="crash"}"#) > 100.0);
    assert!(
        value(
            r#"esg_sync_api_requests_total{method="POST",endpoint="/programs/{programId}/metrics/{metricId}/values/batchUpsertion",status_class="2xx"}"#
        ) == 1.0
    );
    assert!(
        value(
            r#"esg_sync_api_requests_total{method="POST",endpoint="/oauth2/token",status_class="2xx"}"#
        ) >= 1.0
    );
    assert_eq!(
        value(r#"esg_sync_operation_wait_seconds_count{outcome="completed"}"#),
        1.0
    );
    assert_eq!(
        value(r#"esg_sync_api_throttled_total{endpoint="/operations/{operationId}"}"#),
        1.0
    );
    assert_eq!(
        value(
            r#"esg_sync_api_requests_total{method="GET",endpoint="/programs/{programId}/metrics",status_class="5xx"}"#
        ),
        1.0
    );
    assert!(value(r#"esg_sync_api_retries_total{endpoint="/operations/{operationId}"}"#) >= 1.0);
    assert!(
        value(r#"esg_sync_api_retries_total{endpoint="/programs/{programId}/metrics"}"#) >= 1.0
    );
    let last = value(r#"esg_sync_last_success_timestamp_seconds{pipeline="crash"}"#);
    assert!((chrono::Utc::now().timestamp() as f64 - last).abs() < 60.0);
    let running = value(r#"esg_sync_pipeline_running{pipeline="crash"}"#);
    assert!(running == 0.0 || running == 1.0, "{running}");
    assert!(text.contains("# HELP esg_sync_runs_total"));
    for id in [&e.env.ids.program, &e.env.ids.num, &e.env.ids.share] {
        assert!(!text.contains(id.as_str()), "an id in a label: {id}");
    }
    // The container health check asks /healthz.
    let healthcheck = || {
        crate::support::run_esg(
            vec![
                "healthcheck".into(),
                "--url".into(),
                format!("http://{addr}/healthz"),
            ],
            vec![],
        )
    };
    let hc = healthcheck().await;
    assert_eq!(hc.code, Some(0), "{}", hc.stdout);

    d.signal("-INT");
    assert_eq!(d.exit(Duration::from_secs(20)).await, Some(0));
    let hc = healthcheck().await;
    assert_eq!(hc.code, Some(1), "nobody answers now: {}", hc.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_resent_when_resuming_is_counted_like_any_other() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), ROWS);
    let cfg = config_with(
        &e,
        "[daemon]\nlisten = \"127.0.0.1:0\"",
        "schedule = \"0 3 1 1 *\"",
    );
    // A run-now that died after recording its first batch, before sending it.
    let out = crate::support::run_binary(cfg.clone(), Some("batch_recorded")).await;
    assert_ne!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(posts(&e), 0);
    // The daemon resumes it at start: the recorded batch is sent, then the rest.
    let d = Daemon::start(&cfg);
    let addr = d.addr().await;
    until(&e, "the resumed run", &d, |runs, _| {
        runs.iter().any(|r| r.status == "succeeded")
    })
    .await;
    assert_equal_to_source(&e).await;
    let text = get(&addr, "/metrics").await.text().await.unwrap();
    assert_eq!(posts(&e), 2, "the recorded batch, then the other metric's");
    assert_eq!(
        metric(&text, r#"esg_sync_batches_total{pipeline="crash"}"#),
        Some(2.0),
        "every batch upsertion sent is counted, the resent one too:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grace_period_that_runs_out_records_the_run_interrupted_and_the_next_start_polls_it() {
    let (e, cfg, mut d) = mid_run(Some(1), 6000).await;
    // The run outlasts the next ticks of its every-second schedule: they are skipped and
    // counted, and no second run starts.
    let addr = d.addr().await;
    let overlap = r#"esg_sync_schedule_ticks_skipped_total{pipeline="crash",reason="overlap"}"#;
    let text = Mutex::new(String::new());
    eventually(|| async {
        let t = get(&addr, "/metrics").await.text().await.unwrap();
        let seen = metric(&t, overlap).is_some_and(|n| n >= 1.0);
        *text.lock().unwrap() = t;
        seen
    })
    .await;
    let text = text.into_inner().unwrap();
    assert!(metric(&text, overlap).is_some_and(|n| n >= 1.0), "{text}");
    assert_eq!(
        metric(&text, r#"esg_sync_pipeline_running{pipeline="crash"}"#),
        Some(1.0)
    );
    // The log line is read from the child's stderr by a thread of its own: it may come a
    // moment after the metric.
    let logged = eventually(|| async { d.log().contains("this tick is skipped") }).await;
    assert!(logged, "{}", d.log());
    assert_eq!(runs(&e).await.len(), 1, "one run, however many ticks");
    // This replica holds the pipeline while its run goes: the gauge, /readyz and the run's
    // record say so.
    let leader = r#"esg_sync_pipeline_leader{pipeline="crash"}"#;
    let leads = eventually(|| async {
        let t = get(&addr, "/metrics").await.text().await.unwrap();
        metric(&t, leader) == Some(1.0)
    })
    .await;
    assert!(
        leads,
        "{}",
        get(&addr, "/metrics").await.text().await.unwrap()
    );
    let ready: serde_json::Value = get(&addr, "/status").await.json().await.unwrap();
    let me = ready["replica"].as_str().unwrap().to_string();
    assert!(me.contains(&format!("/{}/", d.child.id())), "{ready}");
    assert_eq!(
        ready["pipelines"]["crash"]["held_by"],
        me.as_str(),
        "{ready}"
    );
    assert_eq!(ready["pipelines"]["crash"]["leader"], true, "{ready}");
    assert_eq!(runs(&e).await[0].holder.as_deref(), Some(me.as_str()));
    d.signal("-TERM");
    assert_eq!(
        d.exit(Duration::from_secs(10)).await,
        Some(0),
        "{}",
        d.log()
    );
    assert!(d.log().contains("grace period ended"), "{}", d.log());
    let r = runs(&e).await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, "interrupted");
    assert!(
        r[0].message.as_deref().unwrap().contains("grace period"),
        "{r:?}"
    );
    slow_operations(&e, 10);
    let _d = Daemon::start(&cfg);
    until(&e, "a succeeded run", &_d, |runs, _| {
        runs.iter().any(|r| r.status == "succeeded")
    })
    .await;
    assert_equal_to_source(&e).await;
    assert_eq!(
        posts(&e),
        2,
        "the operation in flight at the stop was polled after the restart, not sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let (_e, _cfg, mut d) = mid_run(Some(600), 60_000).await;
    d.signal("-TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "still in its grace period"
    );
    d.signal("-TERM");
    assert_eq!(
        d.exit(Duration::from_secs(5)).await,
        Some(esg_sync::daemon::FORCED_EXIT as i32)
    );
    assert!(d.log().contains("Second signal"), "{}", d.log());
}

#[tokio::test]
async fn the_daemon_refuses_a_configuration_without_schedules_or_with_a_bad_one() {
    let e = sync_env().await;
    let cfg = config_with(&e, "", "");
    let out = crate::support::run_esg(
        vec![
            "daemon".into(),
            "--config".into(),
            cfg.display().to_string(),
        ],
        vec![],
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("no [[pipeline]] (or [[reviewer]]) has a schedule"),
        "{}",
        out.stderr
    );
    let cfg = config_with(
        &e,
        "",
        "schedule = \"0 3 * *\"\ntimezone = \"Mars/Olympus\"",
    );
    let out =
        crate::support::run_esg(vec!["--config".into(), cfg.display().to_string()], vec![]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("pipeline `crash`: schedule `0 3 * *` has 4 fields"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Mars/Olympus"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_pipeline_leaves_readyz_ready_and_status_names_it_and_a_token_it_cannot_get() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), ROWS);
    let cfg = config_with(
        &e,
        "[daemon]\nlisten = \"127.0.0.1:0\"",
        "schedule = \"0 3 1 1 *\"\nstale_after_secs = 1",
    );
    let mut d = Daemon::start(&cfg);
    let addr = d.addr().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Stale data is no reason to take this replica out of service.
    let r = get(&addr, "/readyz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["store"]["ok"], true, "{body}");
    assert!(body.get("pipelines").is_none(), "{body}");
    let r = get(&addr, "/status").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (body["ready"].as_bool(), body["fresh"].as_bool()),
        (Some(true), Some(false)),
        "{body}"
    );
    assert_eq!(body["token"]["ok"], true, "{body}");
    assert_eq!(body["pipelines"]["crash"]["ok"], false, "{body}");
    assert!(body["pipelines"]["crash"]["last_success"].is_null());
    // With a wrong secret no token can be had.
    d.signal("-TERM");
    assert_eq!(d.exit(Duration::from_secs(10)).await, Some(0));
    let mut d = Daemon::start_tracing(&cfg, "wrong-secret");
    let addr = d.addr().await;
    let token_fetches_before = e.env.emu.requests().len();
    for _ in 0..3 {
        assert_eq!(get(&addr, "/readyz").await.status(), 200);
    }
    assert_eq!(
        e.env.emu.requests().len(),
        token_fetches_before,
        "/readyz asks Workiva for nothing"
    );
    let body: serde_json::Value = get(&addr, "/status").await.json().await.unwrap();
    assert_eq!(body["token"]["ok"], false, "{body}");
    let why = body["token"]["error"].as_str().unwrap();
    assert!(
        why.contains("invalid_client") || why.contains("401"),
        "{why}"
    );
    assert!(
        !why.contains("wrong-secret"),
        "the secret never shows: {why}"
    );
    let log = d.log();
    assert!(
        log.contains("Serving /healthz") && log.lines().count() > 20,
        "traced:\n{log}"
    );
    assert!(
        !log.contains("wrong-secret"),
        "the secret is in no log line, even at TRACE"
    );
    let h = get(&addr, "/healthz").await;
    assert_eq!(h.status(), 200, "alive all the same");
    d.signal("-TERM");
    assert_eq!(d.exit(Duration::from_secs(10)).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_stops_cleanly_on_the_first_signal_too() {
    let (e, cfg, mut p) = mid_run(None, 1500).await;
    p.signal("-INT");
    assert_eq!(
        p.exit(Duration::from_secs(20)).await,
        Some(1),
        "interrupted is not done:\n{}",
        p.log()
    );
    assert_eq!(posts(&e), 1);
    let r = runs(&e).await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, "interrupted", "{r:?}");
    assert!(
        r[0].message
            .as_deref()
            .unwrap()
            .contains("values were not sent")
    );
    slow_operations(&e, 10);
    let out = crate::support::run_esg(
        vec![
            "run-now".into(),
            "--config".into(),
            cfg.display().to_string(),
        ],
        vec![("ESG_SYNC_TEST_SECRET", "demo-secret".into())],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_equal_to_source(&e).await;
    assert_eq!(posts(&e), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_another_process_is_running_is_not_started() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), ROWS);
    let cfg = config_with(&e, "", "");
    let store = esg_sync::store::Store::connect(&state_url(&e))
        .await
        .unwrap();
    // A daemon on another host holds the lease.
    let other = "other-host/4242/cafebabe";
    assert!(
        store
            .lease_acquire("crash", other, Duration::from_secs(60), |_| false)
            .await
            .unwrap()
            .is_ok()
    );
    let run = || {
        crate::support::run_esg(
            vec![
                "run-now".into(),
                "--config".into(),
                cfg.display().to_string(),
            ],
            vec![("ESG_SYNC_TEST_SECRET", "demo-secret".into())],
        )
    };
    let out = run().await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("pipeline crash: busy"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("is being run by another esg-sync (other-host/4242/cafebabe"),
        "{}",
        out.stdout
    );
    assert_eq!(posts(&e), 0, "nothing was sent");
    assert!(
        runs(&e).await.is_empty(),
        "no run was recorded, and none marked interrupted"
    );
    // Given back, the pipeline runs; the run gives its own lease back at the end.
    store.lease_release("crash", other).await.unwrap();
    let out = run().await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        store
            .lease_acquire("crash", other, Duration::from_secs(60), |_| false)
            .await
            .unwrap()
            .is_ok()
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catch_up_policy_reads_the_last_tick_from_the_state_store() {
    for (policy, runs_at_start) in [("once", 1), ("skip", 0)] {
        let e = sync_env().await;
        write_rows(&e.file("data.parquet"), ROWS);
        let cfg = config_with(
            &e,
            "[daemon]\nlisten = \"127.0.0.1:0\"",
            &format!("schedule = \"0 3 * * *\"\ncatch_up = \"{policy}\""),
        );
        // The daemon last handled the 03:00 tick three days ago, then was down.
        let store = esg_sync::store::Store::connect(&state_url(&e))
            .await
            .unwrap();
        let three_days_ago = chrono::Utc::now() - chrono::Duration::days(3);
        store.set_last_tick("crash", three_days_ago).await.unwrap();
        let mut d = Daemon::start(&cfg);
        let addr = d.addr().await;
        if runs_at_start == 1 {
            until(&e, "the catch-up run", &d, |runs, _| {
                runs.iter().any(|r| r.status == "succeeded")
            })
            .await;
            assert_equal_to_source(&e).await;
        } else {
            // Wait until the start-up has been handled (the missed ticks are counted).
            let counted = eventually(|| async {
                get(&addr, "/metrics").await.text().await.unwrap().contains(
                    r#"esg_sync_schedule_ticks_skipped_total{pipeline="crash",reason="missed"} 3"#,
                )
            })
            .await;
            assert!(counted, "{}", d.log());
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(
                runs(&e).await.is_empty(),
                "skip: nothing runs before the next tick"
            );
            assert!(
                d.log().contains("skipped (catch_up = \\\"skip\\\")"),
                "{}",
                d.log()
            );
        }
        let last = store.last_tick("crash").await.unwrap().unwrap();
        assert!(
            chrono::Utc::now() - last < chrono::Duration::minutes(1),
            "{policy}: the start-up is the handled tick now"
        );
        store.close().await;
        d.signal("-TERM");
        assert_eq!(d.exit(Duration::from_secs(20)).await, Some(0), "{policy}");
    }
}

#[tokio::test]
async fn readyz_fails_when_the_store_is_unreachable_and_while_stopping() {
    let e = sync_env().await;
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let health = esg_sync::server::Health {
        store: e.store.clone(),
        client: e.client.clone(),
        limits: vec![("crash".into(), None)],
        started: chrono::Utc::now(),
        stopping: tokio_util::sync::CancellationToken::new(),
        timeout: Duration::from_secs(2),
        metrics: recorder.handle(),
        schedules: Vec::new(),
    };
    let (ok, body) = esg_sync::server::readiness(&health).await;
    assert!(ok, "{body}");
    // The probe committed a write: this replica's row is in the store.
    let raw = sqlx::AnyPool::connect(&format!("sqlite://{}/state.db", e.dir.path().display()))
        .await
        .unwrap();
    let probed: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM store_probe WHERE replica = $1")
            .bind(esg_sync::sync::lease::holder_id())
            .fetch_one(&raw)
            .await
            .unwrap(),
        0,
    );
    assert_eq!(probed, 1, "the readiness probe commits a write");
    raw.close().await;
    health.stopping.cancel();
    let (ok, body) = esg_sync::server::readiness(&health).await;
    assert!(!ok, "not ready while stopping");
    assert_eq!(body["stopping"], true);
    let health = esg_sync::server::Health {
        stopping: tokio_util::sync::CancellationToken::new(),
        ..health
    };
    // The database goes away.
    e.store.close().await;
    let (ok, body) = esg_sync::server::readiness(&health).await;
    assert!(!ok, "{body}");
    assert_eq!(body["store"]["ok"], false, "{body}");
    assert!(
        body["store"]["error"]
            .as_str()
            .unwrap()
            .contains("state store"),
        "{body}"
    );
    assert_eq!(body["config"]["ok"], true, "{body}");
    assert!(
        body.get("token").is_none(),
        "readiness asks Workiva nothing: {body}"
    );
    let status = esg_sync::server::status(&health).await;
    assert_eq!(
        status["token"]["ok"], true,
        "the other checks still answer: {status}"
    );
}

#[tokio::test]
async fn the_daemon_applies_the_catalog_before_each_run() {
    let e = sync_env().await;
    write_rows(&e.file("data.parquet"), ROWS);
    let catalog = e.file("catalog.toml");
    std::fs::write(
        &catalog,
        "[program]\nname = \"Test Program\"\n\n[[topic]]\nname = \"Water\"\n",
    )
    .unwrap();
    let cfg = config_with(
        &e,
        &format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\n\n[catalog]\nfile = \"{}\"\napply = \"before_runs\"",
            catalog.display()
        ),
        "schedule = \"0 3 * * *\"\ncatch_up = \"once\"",
    );
    let store = esg_sync::store::Store::connect(&state_url(&e))
        .await
        .unwrap();
    let three_days_ago = chrono::Utc::now() - chrono::Duration::days(3);
    store.set_last_tick("crash", three_days_ago).await.unwrap();
    store.close().await;
    let mut d = Daemon::start(&cfg);
    let addr = d.addr().await;
    until(&e, "the catch-up run", &d, |runs, _| {
        runs.iter().any(|r| r.status == "succeeded")
    })
    .await;
    let topics = e.client.topics(&e.env.ids.program).await.unwrap();
    assert!(topics.iter().any(|t| t.name == "Water"), "{}", d.log());
    let text = get(&addr, "/metrics").await.text().await.unwrap();
    assert_eq!(
        metric(
            &text,
            r#"esg_sync_catalog_applies_total{outcome="applied"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        d.log().contains("Applied the catalog before the run."),
        "{}",
        d.log()
    );
    d.signal("-TERM");
    assert_eq!(d.exit(Duration::from_secs(20)).await, Some(0));
}

#[tokio::test]
async fn the_daemon_runs_a_scheduled_reviewer() {
    let e = sync_env().await;
    let (good, bad, _) = crate::support::review::setup(&e).await;
    let cfg = config_with(
        &e,
        "[daemon]\nlisten = \"127.0.0.1:0\"\n\n[[reviewer]]\nname = \"final-review\"\nprogram = \"Review Program\"\nprincipal = \"U-bot\"\nschedule = \"* * * * * *\"\n",
        "",
    );
    let mut d = Daemon::start(&cfg);
    let addr = d.addr().await;
    let status = |id: String| {
        let e = &e;
        async move { e.env.api.get(&format!("/tasks/{id}")).await.body["status"].clone() }
    };
    let done = eventually(|| async {
        status(good.clone()).await == "Approved" && status(bad.clone()).await == "Returned"
    })
    .await;
    assert!(done, "{}", d.log());
    let text = get(&addr, "/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            r#"esg_sync_reviewer_decisions_total{reviewer="final-review",action="APPROVE"} 1"#
        ),
        "{text}"
    );
    d.signal("-TERM");
    assert_eq!(d.exit(Duration::from_secs(20)).await, Some(0));
}

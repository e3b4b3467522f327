//! Alerts reach a receiver. A local receiver (axum on port 0) checks each delivery's
//! signature (HMAC-SHA256 of `timestamp.delivery.body` under the shared secret) the way
//! docs/operations.md (Alerts) shows, answers the first delivery 500 (it is retried, and the retry lands), and counts the
//! `stale` alerts of a pipeline that never lands a run: one, however many checks see it
//! stale. `esg-sync alerts test` sends a signed test event, and says when it was refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};

use crate::support::env::{sync_env, write_rows};
use crate::support::eventually;
use crate::support::pipeline::{ConfigToml, PipelineToml};

const SECRET: &str = "whsec_test-alert-secret-0123456789abcdef";

#[derive(Clone, Debug)]
struct Received {
    delivery: String,
    event: String,
    timestamp: String,
    signature: String,
    raw: String,
    body: serde_json::Value,
    signed: bool,
    fresh: bool,
    arrived: std::time::Instant,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answers these first deliveries' attempts with 500.
    fail_first: Arc<Mutex<usize>>,
    /// Answers these first attempts with 429 and `Retry-After: 2`.
    throttle_first: Arc<Mutex<usize>>,
    /// Answers every request with this status instead (a receiver that refuses).
    refuse: Option<u16>,
}

/// What a receiver does: recompute the signature over `timestamp.delivery.body`, compare,
/// and refuse old timestamps.
fn verify(headers: &HeaderMap, body: &[u8]) -> (bool, bool) {
    let ts = headers
        .get("X-Esg-Sync-Timestamp")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let sig = headers
        .get("X-Esg-Sync-Signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let delivery = headers
        .get("X-Esg-Sync-Delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(delivery.as_bytes());
    mac.update(b".");
    mac.update(body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let signed = sig == format!("sha256={want}");
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    (signed, fresh)
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (signed, fresh) = verify(&headers, &body);
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    r.got.lock().unwrap().push(Received {
        delivery: header("X-Esg-Sync-Delivery"),
        event: header("X-Esg-Sync-Event"),
        timestamp: header("X-Esg-Sync-Timestamp"),
        signature: header("X-Esg-Sync-Signature"),
        raw: String::from_utf8_lossy(&body).to_string(),
        body: serde_json::from_slice(&body).unwrap_or_default(),
        signed,
        fresh,
        arrived: std::time::Instant::now(),
    });
    if let Some(code) = r.refuse {
        return StatusCode::from_u16(code).unwrap().into_response();
    }
    let mut throttled = r.throttle_first.lock().unwrap();
    if *throttled > 0 {
        *throttled -= 1;
        return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "2")]).into_response();
    }
    let mut left = r.fail_first.lock().unwrap();
    if *left > 0 {
        *left -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::OK.into_response()
}

async fn serve(r: Receiver) -> String {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

fn config(e: &crate::support::env::SyncEnv, hook: &str) -> std::path::PathBuf {
    let data = e.file("data.parquet");
    ConfigToml::new(
        &e.env.emu.base_url(),
        &format!("sqlite://{}/alerts-state.db", e.dir.path().display()),
    )
    .workiva("poll_min_ms", "5")
    .workiva("poll_max_ms", "100")
    .workiva("backoff_base_ms", "5")
    .table("[daemon]\nlisten = \"127.0.0.1:0\"\nwatch_interval_secs = 1")
    .table(&format!(
        r#"[[alert]]
name = "team"
url = "{hook}"
secret_env = "ESG_SYNC_TEST_ALERT_SECRET"
events = ["run_partial", "stale", "run_failed"]"#
    ))
    .pipeline(PipelineToml::new("partial", "Test Program", &data).schedule("*/2 * * * * *"))
    .pipeline(
        PipelineToml::new("never-lands", "No Such Program", &data)
            .schedule("0 0 1 1 *")
            .stale_after(1)
            .dimensions(&[]),
    )
    .write(e.file("alerts.toml"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_signed_retried_after_a_500_and_stale_is_sent_once() {
    let e = sync_env().await;
    // One good row, one that is rejected: each run is partial.
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025-01", "A", "", "10", ""),
            ("ghg", "2025-02", "A", "", "not a number", ""),
        ],
    );
    let receiver = Receiver {
        fail_first: Arc::new(Mutex::new(1)),
        ..Receiver::default()
    };
    let hook = serve(receiver.clone()).await;
    let cfg = config(&e, &hook);
    let mut d = crate::support::daemon::Daemon::spawn_with(
        "daemon",
        &cfg,
        "trace",
        &[
            ("ESG_SYNC_TEST_SECRET", "demo-secret"),
            ("ESG_SYNC_TEST_ALERT_SECRET", SECRET),
        ],
    );
    let got = || receiver.got.lock().unwrap().clone();
    let enough = eventually(|| async {
        let g = got();
        g.iter().filter(|r| r.event == "run_partial").count() >= 3
            && g.iter().any(|r| r.event == "stale")
    })
    .await;
    assert!(enough, "{:#?}", got());
    // A few more seconds of checks (one a second) that still find the pipeline stale.
    tokio::time::sleep(Duration::from_secs(4)).await;
    d.signal("-TERM");
    assert_eq!(d.exit(Duration::from_secs(30)).await, Some(0));
    let log = d.log();

    let g = got();
    assert!(
        g.iter().all(|r| r.signed),
        "every delivery is signed: {g:#?}"
    );
    assert!(g.iter().all(|r| r.fresh), "with a current timestamp");
    // The first delivery was refused with a 500 and came again, under the same delivery id.
    let attempts = |id: &str| g.iter().filter(|r| r.delivery == id).count();
    assert_eq!(attempts(&g[0].delivery), 2, "{g:#?}");
    assert!(
        g.iter()
            .all(|r| r.delivery == g[0].delivery || attempts(&r.delivery) == 1),
        "the others landed at once: {g:#?}"
    );
    let stale: Vec<_> = g.iter().filter(|r| r.event == "stale").collect();
    let stale_ids: std::collections::BTreeSet<_> = stale.iter().map(|r| &r.delivery).collect();
    assert_eq!(
        stale_ids.len(),
        1,
        "one stale alert until it recovers: {g:#?}"
    );
    assert_eq!(stale[0].body["pipeline"], "never-lands");
    let partial = g.iter().find(|r| r.event == "run_partial").unwrap();
    let b = &partial.body;
    assert_eq!(b["pipeline"], "partial");
    assert_eq!(b["status"], "partial");
    assert!(b["run_id"].as_i64().is_some(), "{b}");
    assert_eq!(b["counts"]["rejected"], 1, "{b}");
    assert_eq!(
        b["rejects"][0]["row"], 2,
        "the second row, counted from 1: {b}"
    );
    assert_eq!(b["rejects"][0]["field"], "value", "{b}");
    assert!(b["summary"].as_str().unwrap().contains("1 rejected"), "{b}");
    assert!(b["replica"].as_str().is_some());
    assert!(
        !g.iter().any(|r| r.event == "run_failed"),
        "the pipeline that never lands has no run in this window"
    );
    // Every delivery is recorded with its outcome.
    let store = esg_sync::store::Store::connect(&format!(
        "sqlite://{}/alerts-state.db",
        e.dir.path().display()
    ))
    .await
    .unwrap();
    let recorded = store.deliveries(100).await.unwrap();
    let first = recorded
        .iter()
        .find(|d| d.id.to_string() == g[0].delivery)
        .unwrap();
    assert_eq!(
        (first.status.as_str(), first.attempts, first.http_status),
        ("delivered", 2, Some(200)),
        "{recorded:#?}"
    );
    assert!(
        recorded.iter().all(|d| d.status == "delivered"),
        "{recorded:#?}"
    );
    store.close().await;
    // The secret never reaches a log line, even at trace.
    assert!(!log.contains(SECRET), "the alert secret is in the log");
    assert!(log.contains("Alert delivered."), "{log}");
    documented_verification_refuses_replays(&g[g.len() - 1]);
}

/// The Python verification in docs/operations.md (Alerts), run on a delivery as it arrived:
/// it accepts it once, then refuses it sent again, sent again under a new delivery id, and
/// tampered with.
fn documented_verification_refuses_replays(got: &Received) {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md"))
        .unwrap();
    let after = &page[page
        .find("**Signatures.**")
        .expect("docs/operations.md explains signatures")..];
    let start = after.find("```python\n").expect("a Python snippet") + "```python\n".len();
    let snippet = &after[start..start + after[start..].find("```").unwrap()];
    let case = serde_json::json!({
        "X-Esg-Sync-Timestamp": got.timestamp,
        "X-Esg-Sync-Delivery": got.delivery,
        "X-Esg-Sync-Signature": got.signature,
        "body": got.raw,
    });
    let driver = format!(
        r#"{snippet}
import json, sys
case = json.loads(sys.argv[1])
body = case.pop("body").encode()
secret = {secret:?}.encode()
seen = set()
out = [verify(secret, case, body, seen)]
seen.add(case["X-Esg-Sync-Delivery"])
out.append(verify(secret, case, body, seen))
replayed = dict(case, **{{"X-Esg-Sync-Delivery": "999999"}})
out.append(verify(secret, replayed, body, seen))
out.append(verify(secret, replayed, body, set()))
out.append(verify(secret, case, body + b" ", set()))
print(json.dumps(out))
"#,
        secret = SECRET
    );
    let ran = std::process::Command::new("python3")
        .args(["-c", &driver, &case.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "[true, false, false, false, false]",
        "genuine once; then a replay, a replay under a new id (with or without the id seen before) and a changed body are all refused"
    );
}

#[tokio::test]
async fn alerts_test_sends_a_signed_test_event_and_says_when_it_was_refused() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[("ghg", "2025-01", "A", "", "1", "")],
    );
    let receiver = Receiver::default();
    let hook = serve(receiver.clone()).await;
    let cfg = config(&e, &hook);
    let run = |name: &str| {
        crate::support::run_esg(
            vec![
                "alerts".into(),
                "test".into(),
                "--config".into(),
                cfg.display().to_string(),
                "--name".into(),
                name.into(),
            ],
            vec![("ESG_SYNC_TEST_ALERT_SECRET", SECRET.into())],
        )
    };
    let out = run("team").await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("delivered"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("/hook"),
        "the URL's path is never shown"
    );
    let g = receiver.got.lock().unwrap().clone();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].event, "test");
    assert!(g[0].signed && g[0].fresh);
    assert_eq!(g[0].body["event"], "test");

    // `validate` checks that each alert's secret can be read.
    let out = crate::support::run_esg(
        vec![
            "validate".into(),
            "--config".into(),
            cfg.display().to_string(),
        ],
        vec![("ESG_SYNC_TEST_SECRET", "demo-secret".into())],
    )
    .await;
    let said = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, Some(1), "{said}");
    assert!(
        said.contains(
            "alert `team`.secret_env names the environment variable ESG_SYNC_TEST_ALERT_SECRET, which is not set"
        ),
        "{said}"
    );

    let out = run("nobody").await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("no [[alert]] is named `nobody`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("team"), "{}", out.stderr);

    // A receiver that refuses (404) is not retried: one attempt, exit 1, the status named.
    let refusing = Receiver {
        refuse: Some(404),
        ..Receiver::default()
    };
    let hook = serve(refusing.clone()).await;
    let cfg = config(&e, &hook);
    let out = crate::support::run_esg(
        vec![
            "alerts".into(),
            "test".into(),
            "--config".into(),
            cfg.display().to_string(),
            "--name".into(),
            "team".into(),
        ],
        vec![("ESG_SYNC_TEST_ALERT_SECRET", SECRET.into())],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("404"), "{}", out.stdout);
    assert_eq!(
        refusing.got.lock().unwrap().len(),
        1,
        "a 404 is not retried"
    );
}

#[test]
fn an_alert_refuses_plain_http_to_another_host_and_a_json_alert_needs_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        "[[alert]]\nname = \"a\"\nurl = \"http://hooks.example.com/x/secret-path\"\n",
    )
    .unwrap();
    let err = esg_sync::config::Settings::load_with_env(Some(&f), vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("plain http to another host"), "{err}");
    assert!(err.contains("needs secret_env or secret_file"), "{err}");
    assert!(
        !err.contains("secret-path"),
        "the URL's path is never shown: {err}"
    );
}

/// A run that a fault stops part way (Workiva answering 503, then a token refused) is
/// recorded `failed` with the fault as its message, and raises `run_failed`: it is not a
/// shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_a_fault_stops_part_way_is_failed_with_its_cause_and_raises_run_failed() {
    use esg_sync::emulator::config::PlannedFault;
    let e = sync_env().await;
    let rows = |generation: &str| -> Vec<crate::support::env::R<'static>> {
        let value: &'static str = Box::leak(generation.to_string().into_boxed_str());
        (0..24)
            .map(|i| {
                let p: &'static str =
                    Box::leak(format!("{}-{:02}", 2020 + i / 12, i % 12 + 1).into_boxed_str());
                ("ghg", p, "A", "", value, "")
            })
            .collect()
    };
    write_rows(&e.file("data.parquet"), &rows("1"));
    let receiver = Receiver::default();
    let hook = serve(receiver.clone()).await;
    let cfg = config(&e, &hook);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(
            "backoff_base_ms = 5",
            "backoff_base_ms = 5\nmax_attempts = 2",
        )
        .replace(
            "schedule = \"*/2 * * * * *\"",
            "schedule = \"*/2 * * * * *\"\nbatch_bytes = 1000",
        );
    std::fs::write(&cfg, text).unwrap();
    let mut s = e.env.emu.settings();
    s.operations.base_ms = 500;
    e.env.emu.set_settings(s).unwrap();
    let d = crate::support::daemon::Daemon::spawn_with(
        "daemon",
        &cfg,
        "info",
        &[
            ("ESG_SYNC_TEST_SECRET", "demo-secret"),
            ("ESG_SYNC_TEST_ALERT_SECRET", SECRET),
        ],
    );
    let store = esg_sync::store::Store::connect(&format!(
        "sqlite://{}/alerts-state.db",
        e.dir.path().display()
    ))
    .await
    .unwrap();
    let upserts = || {
        e.env
            .emu
            .requests()
            .iter()
            .filter(|r| r.endpoint.ends_with("/batchUpsertion") && r.status == 202)
            .count()
    };
    let failed = |n: usize| {
        let got = receiver.got.clone();
        move || {
            let got = got.clone();
            async move {
                got.lock()
                    .unwrap()
                    .iter()
                    .filter(|r| r.event == "run_failed")
                    .count()
                    >= n
            }
        }
    };
    let plan = |faults: Vec<PlannedFault>| {
        let mut s = e.env.emu.settings();
        s.faults.plan = faults;
        e.env.emu.set_settings(s).unwrap();
    };
    let fault = |endpoint: &str, fault: &str| PlannedFault {
        endpoint: endpoint.into(),
        fault: fault.parse().unwrap(),
        times: 10_000,
        retry_after_secs: None,
    };
    const UPSERT: &str = "POST /programs/{programId}/metrics/{metricId}/values/batchUpsertion";
    for (n, (faults, cause)) in [
        (vec![fault(UPSERT, "503")], "503"),
        (
            vec![
                PlannedFault {
                    times: 1,
                    ..fault(UPSERT, "401")
                },
                fault("POST /oauth2/token", "401"),
            ],
            "token",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        // The lake changes; once the run has landed its first batch, the fault begins.
        let seen = upserts();
        write_rows(&e.file("data.parquet"), &rows(&format!("{}", n + 2)));
        assert!(
            eventually(|| async { upserts() > seen }).await,
            "a run began sending\n{}",
            d.log()
        );
        plan(faults);
        assert!(
            eventually(failed(n + 1)).await,
            "run_failed #{}\n{}",
            n + 1,
            d.log()
        );
        plan(Vec::new());
        let g = receiver.got.lock().unwrap().clone();
        let alert = g.iter().filter(|r| r.event == "run_failed").nth(n).unwrap();
        assert_eq!(alert.body["pipeline"], "partial", "{}", alert.raw);
        assert_eq!(alert.body["status"], "failed", "{}", alert.raw);
        let run = store
            .run(alert.body["run_id"].as_i64().unwrap())
            .await
            .unwrap()
            .unwrap();
        let message = run.message.clone().unwrap_or_default();
        assert_eq!(run.status, "failed", "{run:?}");
        assert!(message.contains(cause), "the cause is named: {message}");
        assert!(!message.contains("shutdown"), "{message}");
        let landed = run.counts.created + run.counts.updated;
        assert!(landed > 0 && landed < 24, "it failed part way: {run:?}");
    }
    store.close().await;
}

/// A receiver's `Retry-After` is honoured: after a 429 asking for 2 s, the next attempt comes
/// no sooner (the backoff alone would wait at most 0.5 s), and the delivery lands.
#[tokio::test]
async fn a_receivers_retry_after_is_waited_for() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[("ghg", "2025-01", "A", "", "1", "")],
    );
    let receiver = Receiver {
        throttle_first: Arc::new(Mutex::new(1)),
        ..Receiver::default()
    };
    let hook = serve(receiver.clone()).await;
    let cfg = config(&e, &hook);
    let out = crate::support::run_esg(
        vec![
            "alerts".into(),
            "test".into(),
            "--config".into(),
            cfg.display().to_string(),
            "--name".into(),
            "team".into(),
        ],
        vec![("ESG_SYNC_TEST_ALERT_SECRET", SECRET.into())],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let g = receiver.got.lock().unwrap().clone();
    assert_eq!(g.len(), 2, "throttled once, then delivered: {g:#?}");
    assert_eq!(g[0].delivery, g[1].delivery, "the same delivery");
    let waited = g[1].arrived - g[0].arrived;
    assert!(waited >= Duration::from_secs(2), "waited only {waited:?}");
}

/// The daemon's watch on a virtual clock: hours of staleness pass at once. A pipeline past
/// its `stale_after_secs` gets one `stale` alert however many checks see it stale; once it
/// lands a run it is clear, and a second spell of staleness gets a second alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_on_a_virtual_clock_alerts_stale_once_until_the_pipeline_recovers() {
    use chrono::{TimeZone, Utc};
    use esg_sync::scheduler::Clock;
    let dir = tempfile::tempdir().unwrap();
    let store =
        esg_sync::store::Store::connect(&format!("sqlite://{}/watch.db", dir.path().display()))
            .await
            .unwrap();
    let receiver = Receiver::default();
    let hook = serve(receiver.clone()).await;
    let secret = dir.path().join("alert-secret");
    std::fs::write(&secret, SECRET).unwrap();
    let alert: esg_sync::config::alert::AlertConfig = toml::from_str(&format!(
        "name = \"team\"\nurl = \"{hook}\"\nsecret_file = \"{}\"\nevents = [\"stale\"]",
        secret.display()
    ))
    .unwrap();
    let alerter = esg_sync::alerts::Alerter::start(&[alert], store.clone()).unwrap();
    let started = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let hour = chrono::Duration::hours(1);
    let mut watch = esg_sync::daemon::Watch {
        store: store.clone(),
        limits: vec![("p".into(), Some(Duration::from_secs(3600)))],
        started,
        alerter: alerter.clone(),
        clock: Clock::starting_at(started + hour / 2),
    };
    let stale = || {
        receiver
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.event == "stale")
            .cloned()
            .collect::<Vec<_>>()
    };
    watch.check().await;
    alerter.flush(Duration::from_secs(5)).await;
    assert!(stale().is_empty(), "half an hour in, the pipeline is fresh");
    // Two hours in, and three: stale, one alert.
    for at in [2, 3] {
        watch.clock = Clock::starting_at(started + hour * at);
        watch.check().await;
        watch.check().await;
    }
    alerter.flush(Duration::from_secs(5)).await;
    let first = stale();
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(first[0].body["pipeline"], "p");
    let summary = first[0].body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("for 120 min"), "{summary}");
    assert!(summary.contains("last success: never"), "{summary}");
    // It lands a run (now, on the system clock); a check then finds it fresh and clears it.
    let run = store.run_start("p").await.unwrap();
    store
        .run_finish(
            run,
            esg_sync::store::RunStatus::Succeeded,
            &Default::default(),
            None,
        )
        .await
        .unwrap();
    let landed = store.last_success("p").await.unwrap().unwrap();
    watch.clock = Clock::starting_at(landed + hour / 2);
    watch.check().await;
    // Stale again, two hours after that run: a second alert.
    watch.clock = Clock::starting_at(landed + hour * 2);
    watch.check().await;
    watch.check().await;
    alerter.flush(Duration::from_secs(5)).await;
    let both = stale();
    assert_eq!(both.len(), 2, "{both:#?}");
    assert!(both.iter().all(|r| r.signed));
    store.close().await;
}

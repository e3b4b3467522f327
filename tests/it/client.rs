//! The Workiva client against the in-process emulator.

use std::time::Duration;

use esg_sync::emulator::config::PlannedFault;
use esg_sync::emulator::{LoggedRequest, Settings};
use esg_sync::workiva::models::{
    Dimension, DimensionValue, Metric, MetricValue, ReportingPeriod, Topic, ValueStatus,
};
use esg_sync::workiva::{ListOptions, OperationRef, WorkivaClient, WorkivaError};
use serde_json::json;

use crate::support::client::{capture_logs, client, client_config};
use crate::support::*;

fn plan(env: &Env, faults: Vec<(&str, &str, u32)>) {
    let mut s = env.emu.settings();
    s.faults.plan = faults
        .into_iter()
        .map(|(endpoint, fault, times)| PlannedFault {
            endpoint: endpoint.into(),
            fault: fault.parse().unwrap(),
            times,
            retry_after_secs: Some(1),
        })
        .collect();
    env.emu.set_settings(s).unwrap();
}

/// API requests after the test's setup (the helper's own login excluded).
fn log_since(env: &Env, from: usize) -> Vec<LoggedRequest> {
    env.emu.requests().into_iter().skip(from).collect()
}

fn endpoints(log: &[LoggedRequest]) -> Vec<String> {
    log.iter()
        .map(|e| format!("{} {}", e.endpoint, e.status))
        .collect()
}

#[tokio::test]
async fn token_is_cached_refreshed_early_and_fetched_once_under_concurrency() {
    let mut cfg = test_config();
    cfg.token_ttl_secs = 2;
    let env = start_with(cfg).await;
    let c = client(&env);
    let none = ListOptions::default();
    let calls: Vec<_> = (0..20).map(|_| c.programs(&none)).collect();
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(r.unwrap().len(), 1);
    }
    assert_eq!(
        c.token_fetches(),
        1,
        "twenty concurrent requests share one token request"
    );
    // Past 80% of the 2 s lifetime the token is replaced before it can expire.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    c.programs(&ListOptions::default()).await.unwrap();
    assert_eq!(c.token_fetches(), 2);
    assert!(
        env.emu.requests().iter().all(|e| e.status != 401),
        "no request ever used an expired token"
    );
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries_once() {
    let env = start().await;
    let c = client(&env);
    c.programs(&ListOptions::default()).await.unwrap();
    env.emu.revoke_tokens();
    let from = env.emu.requests().len();
    c.programs(&ListOptions::default()).await.unwrap();
    assert_eq!(
        endpoints(&log_since(&env, from)),
        vec![
            "GET /programs 401",
            "POST /oauth2/token 200",
            "GET /programs 200"
        ]
    );
    plan(&env, vec![("GET /programs", "401", 5)]);
    let from = env.emu.requests().len();
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(
        endpoints(&log_since(&env, from)),
        vec![
            "GET /programs 401",
            "POST /oauth2/token 200",
            "GET /programs 401"
        ],
        "one refresh, one retry, then the error"
    );
}

#[tokio::test]
async fn every_request_carries_x_version_and_user_agent() {
    let env = start().await;
    let from = env.emu.requests().len();
    let c = client(&env);
    let p = c.programs(&ListOptions::default()).await.unwrap();
    c.metrics(&p[0].id, &ListOptions::default()).await.unwrap();
    c.tasks(&ListOptions::default()).await.unwrap();
    let log = log_since(&env, from);
    assert!(log.iter().any(|e| e.path == "/oauth2/token"));
    for e in &log {
        assert_eq!(
            e.x_version.as_deref(),
            Some("2026-01-01"),
            "{} lacks X-Version",
            e.path
        );
        assert_eq!(
            e.user_agent.as_deref(),
            Some(concat!("esg-sync/", env!("CARGO_PKG_VERSION"))),
            "{}",
            e.path
        );
    }
}

#[tokio::test]
async fn retries_follow_the_policy() {
    let env = start().await;
    let mut cfg = client_config(&env);
    cfg.max_attempts = 3;
    let c = WorkivaClient::new(cfg).unwrap();
    c.programs(&ListOptions::default()).await.unwrap();
    // 5xx and 408-like failures are retried with backoff until the attempts run out.
    plan(&env, vec![("GET /programs", "503", 2)]);
    let from = env.emu.requests().len();
    c.programs(&ListOptions::default()).await.unwrap();
    assert_eq!(
        endpoints(&log_since(&env, from)),
        vec![
            "GET /programs 503",
            "GET /programs 503",
            "GET /programs 200"
        ]
    );
    plan(&env, vec![("GET /programs", "500", 3)]);
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(
        matches!(e, WorkivaError::RetriesExhausted { attempts: 3, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("gave up after 3 attempts"), "{e}");
    // Waits the server asks for with Retry-After do not use up attempts.
    plan(&env, vec![("GET /programs", "429", 4)]);
    let from = env.emu.requests().len();
    let mut s = env.emu.settings();
    for p in &mut s.faults.plan {
        p.retry_after_secs = Some(0);
    }
    s.faults.plan[0].times = 3;
    s.faults.plan.push(PlannedFault {
        endpoint: "GET /programs".into(),
        fault: "429".parse().unwrap(),
        times: 1,
        retry_after_secs: Some(1),
    });
    env.emu.set_settings(s).unwrap();
    c.programs(&ListOptions::default()).await.unwrap();
    let log = log_since(&env, from);
    assert_eq!(
        log.iter().filter(|e| e.status == 429).count(),
        4,
        "four 429s and still a success with max_attempts 3"
    );
    let (last429, ok) = (&log[3], &log[4]);
    assert!(
        ok.elapsed_ms >= last429.elapsed_ms + 990,
        "Retry-After: 1 was honoured ({} -> {})",
        last429.elapsed_ms,
        ok.elapsed_ms
    );
    // Other 4xx are never retried.
    let from = env.emu.requests().len();
    let e = c
        .program("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert_eq!(log_since(&env, from).len(), 1);
    let e = c.create_program("Test Program").await.unwrap_err();
    assert_eq!(e.status(), Some(409));
    // A cut-off answer is retried.
    plan(&env, vec![("GET /programs", "drop", 1)]);
    assert_eq!(c.programs(&ListOptions::default()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn creates_are_looked_for_before_they_are_sent_again() {
    let env = start().await;
    let c = client(&env);
    c.programs(&ListOptions::default()).await.unwrap();
    let pid = env.ids.program.clone();
    // Processed, answer lost (a gateway 504): the probe finds it, no second POST.
    plan(&env, vec![("POST /programs", "lost_response", 1)]);
    let from = env.emu.requests().len();
    let p = c.create_program("Created Once").await.unwrap();
    assert_eq!(p.name, "Created Once");
    assert_eq!(
        endpoints(&log_since(&env, from)),
        vec!["POST /programs 504", "GET /programs 200"]
    );
    assert_eq!(
        c.programs(&ListOptions::default())
            .await
            .unwrap()
            .iter()
            .filter(|x| x.name == "Created Once")
            .count(),
        1
    );
    // Failed before processing (500): the probe finds nothing, the create is sent again.
    plan(&env, vec![("POST /programs/{programId}/metrics", "500", 1)]);
    let from = env.emu.requests().len();
    let m = c
        .create_metric(
            &pid,
            &Metric {
                name: "Scope 3".into(),
                data_type: esg_sync::workiva::models::DataType::Number,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(m.str_code.as_deref(), Some("M5"));
    assert_eq!(
        endpoints(&log_since(&env, from)),
        vec![
            "POST /programs/{programId}/metrics 500",
            "GET /programs/{programId}/metrics 200",
            "POST /programs/{programId}/metrics 201"
        ]
    );
    // A 429 means the request was not processed: no probe, just the retry.
    plan(&env, vec![("POST /programs/{programId}/topics", "429", 1)]);
    let mut s = env.emu.settings();
    s.faults.plan[0].retry_after_secs = Some(0);
    env.emu.set_settings(s).unwrap();
    let from = env.emu.requests().len();
    c.create_topic(
        &pid,
        &Topic {
            name: "Water".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        endpoints(&log_since(&env, from)),
        vec![
            "POST /programs/{programId}/topics 429",
            "POST /programs/{programId}/topics 201"
        ]
    );
    // Dimensions and values too.
    plan(
        &env,
        vec![
            ("POST /programs/{programId}/dimensions", "lost_response", 1),
            (
                "POST /programs/{programId}/metrics/{metricId}/values",
                "lost_response",
                1,
            ),
        ],
    );
    let d = c
        .create_dimension(
            &pid,
            &Dimension {
                name: Some("Region".into()),
                values: Some(vec![DimensionValue {
                    id: "EU".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(d.values.unwrap()[0].id, "EU");
    let v = MetricValue {
        value: Some("4.5".into()),
        reporting_period: Some(ReportingPeriod {
            year: 2025,
            start: 1,
            end: 12,
        }),
        coordinates: Some([(env.ids.facility.clone(), "A".to_string())].into()),
        ..Default::default()
    };
    let created = c.create_value(&pid, &env.ids.num, &v).await.unwrap();
    assert_eq!(created.value.as_deref(), Some("4.5"));
    assert_eq!(
        c.values(&pid, &env.ids.num, &ListOptions::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.dimensions(&pid, &ListOptions::default())
            .await
            .unwrap()
            .iter()
            .filter(|x| x.name.as_deref() == Some("Region"))
            .count(),
        1
    );
}

#[tokio::test]
async fn client_side_rate_and_concurrency_limits() {
    let env = start().await;
    let mut cfg = client_config(&env);
    cfg.requests_per_second = 10.0;
    let c = WorkivaClient::new(cfg).unwrap();
    c.programs(&ListOptions::default()).await.unwrap();
    let from = env.emu.requests().len();
    for _ in 0..15 {
        c.programs(&ListOptions::default()).await.unwrap();
    }
    let log = log_since(&env, from);
    let span = log.last().unwrap().elapsed_ms - log.first().unwrap().elapsed_ms;
    assert!(
        span >= 400,
        "15 requests at 10/s with a burst of 10 take at least ~0.5 s, took {span} ms"
    );

    let mut cfg = client_config(&env);
    cfg.max_concurrent_requests = 2;
    let c = WorkivaClient::new(cfg).unwrap();
    c.programs(&ListOptions::default()).await.unwrap();
    let mut s = env.emu.settings();
    s.faults.latency = 1.0;
    s.faults.latency_ms = 150;
    env.emu.set_settings(s).unwrap();
    let from = env.emu.requests().len();
    let none = ListOptions::default();
    let calls: Vec<_> = (0..6).map(|_| c.programs(&none)).collect();
    futures_util::future::join_all(calls).await;
    let log = log_since(&env, from);
    // Timestamps are whole milliseconds, and the next request may reach the server within a
    // millisecond of the previous answer: each request counts as in flight from 2 ms after it
    // arrived to 2 ms before it ended. A real third request in flight would overlap for the
    // whole 150 ms of latency.
    let mut most = 0;
    for e in &log {
        let t = e.elapsed_ms + 2;
        let at_once = log
            .iter()
            .filter(|o| o.elapsed_ms + 2 <= t && t + 2 < o.elapsed_ms + o.duration_ms)
            .count();
        most = most.max(at_once);
    }
    assert!(most <= 2, "at most 2 requests in flight, saw {most}");
}

#[tokio::test]
async fn lists_follow_next_link_to_the_end() {
    let env = start().await;
    let data: Vec<serde_json::Value> = (0..50)
        .map(|i| val(1900 + i, json!({&env.ids.facility: "A"}), "1"))
        .collect();
    env.api
        .upsert(
            &env.ids.program,
            &env.ids.num,
            serde_json::Value::Array(data),
        )
        .await;
    let mut cfg = client_config(&env);
    cfg.page_size = 7;
    let c = WorkivaClient::new(cfg).unwrap();
    let from = env.emu.requests().len();
    let all = c
        .values(&env.ids.program, &env.ids.num, &ListOptions::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 50);
    let years: std::collections::BTreeSet<u16> = all
        .iter()
        .map(|v| v.reporting_period.unwrap().year)
        .collect();
    assert_eq!(years.len(), 50);
    let pages = log_since(&env, from)
        .iter()
        .filter(|e| e.endpoint.ends_with("/values"))
        .count();
    assert_eq!(pages, 8, "ceil(50 / 7) pages");
    let some = c
        .values(
            &env.ids.program,
            &env.ids.num,
            &ListOptions::filter("reportingPeriod.year ge 1940"),
        )
        .await
        .unwrap();
    assert_eq!(some.len(), 10, "the filter holds across pages");
}

#[tokio::test]
async fn operations_are_polled_to_their_outcome() {
    let env = start().await;
    let c = client(&env);
    let (p, m, f) = (&env.ids.program, &env.ids.num, &env.ids.facility);
    let values: Vec<MetricValue> = (0..1500)
        .map(|i| MetricValue {
            value: Some(format!("{i}")),
            reporting_period: Some(ReportingPeriod {
                year: 1000 + i,
                start: 1,
                end: 12,
            }),
            coordinates: Some([(f.clone(), "A".to_string())].into()),
            status: Some(ValueStatus::NotStarted),
            ..Default::default()
        })
        .collect();
    let op = c.upsert_and_wait(p, m, &values).await.unwrap();
    assert_eq!(op.status, "completed");
    let from = env.emu.requests().len();
    let results = c.operation_results(&op).await.unwrap();
    assert_eq!(results.len(), 1500);
    assert_eq!(
        log_since(&env, from).len(),
        2,
        "results are paged: 1000 + 500"
    );
    // A failed operation carries Workiva's details.
    let bad = vec![MetricValue {
        value: Some("1".into()),
        reporting_period: Some(ReportingPeriod {
            year: 2025,
            start: 1,
            end: 12,
        }),
        coordinates: Some([(f.clone(), "NOPE".to_string())].into()),
        ..Default::default()
    }];
    match c.upsert_and_wait(p, m, &bad).await.unwrap_err() {
        WorkivaError::OperationFailed { url, details } => {
            assert!(url.contains("/operations/"));
            assert_eq!(details[0].target.as_deref(), Some("data[0].coordinates"));
        }
        other => panic!("expected OperationFailed, got {other}"),
    }
    // Giving up keeps the URL; the operation can be resumed later.
    let mut s = env.emu.settings();
    s.operations.base_ms = 2500;
    s.operations.retry_after_secs = 1;
    env.emu.set_settings(s).unwrap();
    let mut cfg = client_config(&env);
    cfg.operation_timeout_secs = 1;
    let impatient = WorkivaClient::new(cfg).unwrap();
    let op = impatient.batch_upsert(p, m, &values[..1]).await.unwrap();
    assert_eq!(op.retry_after, Some(Duration::from_secs(1)));
    let from = env.emu.requests().len();
    let url = match impatient.wait_operation(&op).await.unwrap_err() {
        WorkivaError::OperationTimeout { url, status, .. } => {
            assert_eq!(status, "started");
            url
        }
        other => panic!("expected OperationTimeout, got {other}"),
    };
    let polls = log_since(&env, from).len();
    assert!(
        (2..=6).contains(&polls),
        "Retry-After 1 s clamped to 200 ms: a handful of polls, not a storm ({polls})"
    );
    let done = c
        .wait_operation(&OperationRef {
            url,
            retry_after: None,
        })
        .await
        .unwrap();
    assert_eq!(done.status, "completed");
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_sending() {
    let env = start().await;
    let c = client(&env);
    let from = env.emu.requests().len();
    let body = vec![b' '; 10_485_761];
    let e = c
        .batch_upsert_raw(&env.ids.program, &env.ids.num, body)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            WorkivaError::BodyTooLarge {
                size: 10_485_761,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("nothing was sent"));
    assert!(
        log_since(&env, from)
            .iter()
            .all(|r| !r.endpoint.contains("batchUpsertion"))
    );
}

#[tokio::test]
async fn errors_are_typed_and_say_what_to_do() {
    let env = start().await;
    let c = client(&env);
    let e = c
        .metric(&env.ids.program, "00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("GET /programs/{programId}/metrics/{metricId} failed with HTTP 404 404NotFound"),
        "{s}"
    );
    assert!(!e.is_retriable());
    let e = c
        .create_dimension(
            &env.ids.program,
            &Dimension {
                name: Some("Bad".into()),
                values: Some(vec![DimensionValue {
                    id: "Ames, Iowa, USA 50010".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    match &e {
        WorkivaError::Api(a) => {
            assert_eq!(a.status, 400);
            assert_eq!(a.target.as_deref(), Some("values[0].id"));
            assert_eq!(a.method, "POST");
            assert_eq!(a.path, "/programs/{programId}/dimensions");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("21 characters"), "{e}");
}

#[tokio::test]
async fn deprecated_path_warns_at_start_and_once_per_endpoint() {
    let env = start().await;
    let (logs, _guard) = capture_logs();
    let mut cfg = client_config(&env);
    cfg.api_version = "2022-01-01".into();
    let c = WorkivaClient::new(cfg).unwrap();
    for year in [2024, 2025] {
        let v = MetricValue {
            value: Some("1".into()),
            reporting_period: Some(ReportingPeriod {
                year,
                start: 1,
                end: 12,
            }),
            coordinates: Some([(env.ids.facility.clone(), "A".to_string())].into()),
            ..Default::default()
        };
        assert_eq!(
            c.upsert_and_wait(&env.ids.program, &env.ids.num, &[v])
                .await
                .unwrap()
                .status,
            "completed"
        );
    }
    let text = logs.text();
    let days = esg_sync::workiva::config::days_to_legacy_sunset(chrono::Utc::now().date_naive());
    assert!(
        text.contains("retires on 2027-01-31") && text.contains(&format!("({days} days left)")),
        "{text}"
    );
    assert_eq!(
        text.matches("as deprecated since 2026-02-12; it stops working on 2027-01-31")
            .count(),
        1,
        "{text}"
    );
    let legacy = env
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/prototype/"))
        .collect::<Vec<_>>();
    assert_eq!(legacy.len(), 2);
    assert!(
        legacy
            .iter()
            .all(|r| r.x_version.as_deref() == Some("2022-01-01"))
    );
}

#[tokio::test]
async fn logs_and_debug_output_never_show_the_token_or_secret() {
    let mut cfg = test_config();
    cfg.clients.push(esg_sync::emulator::ClientConfig {
        id: "vault".into(),
        secret: "s3cret-xyz-123".into(),
        ..Default::default()
    });
    let env = start_with(cfg).await;
    let (logs, _guard) = capture_logs();
    let mut wc = client_config(&env);
    wc.client_id = "vault".into();
    wc.client_secret = Some("s3cret-xyz-123".into());
    let c = WorkivaClient::new(wc.clone()).unwrap();
    c.programs(&ListOptions::default()).await.unwrap();
    let mut tokens = env.emu.issued_tokens();
    env.emu.revoke_tokens();
    c.programs(&ListOptions::default()).await.unwrap();
    plan(&env, vec![("GET /programs", "503", 1)]);
    c.programs(&ListOptions::default()).await.unwrap();
    tokens.extend(env.emu.issued_tokens());
    assert!(!tokens.is_empty());
    let text = logs.text();
    assert!(
        text.contains("Workiva answered."),
        "per-request events were captured: {text}"
    );
    assert!(
        text.contains("path=\"/programs\"")
            && text.contains("status=200")
            && text.contains("latency_ms=")
            && text.contains("attempt="),
        "{text}"
    );
    let debug = format!("{c:?} {wc:?}");
    for secret in tokens.iter().map(String::as_str).chain(["s3cret-xyz-123"]) {
        assert!(!text.contains(secret), "a secret reached the logs");
        assert!(
            !debug.contains(secret),
            "a secret reached Debug output: {debug}"
        );
    }
    assert!(debug.contains("REDACTED"));
}

#[tokio::test]
async fn survives_429_and_503_storms_with_exact_data() {
    let env = start().await;
    let (p, m, f) = (
        env.ids.program.clone(),
        env.ids.num.clone(),
        env.ids.facility.clone(),
    );
    let seed: Vec<serde_json::Value> = (0..5000)
        .map(|i| {
            val(
                1000 + (i % 2500) as u16,
                json!({&f: if i < 2500 { "A" } else { "B" }}),
                &format!("{i}.5"),
            )
        })
        .collect();
    assert_eq!(
        env.api.upsert(&p, &m, serde_json::Value::Array(seed)).await["status"],
        "completed"
    );
    let mut s: Settings = env.emu.settings();
    s.faults.error_429 = 0.3;
    s.faults.retry_after_429_secs = 1;
    s.faults.error_503 = 0.1;
    s.faults.seed = Some(7);
    env.emu.set_settings(s).unwrap();
    let mut cfg = client_config(&env);
    cfg.max_attempts = 20;
    let c = WorkivaClient::new(cfg).unwrap();
    let from = env.emu.requests().len();
    let listed = c.values(&p, &m, &ListOptions::default()).await.unwrap();
    assert_eq!(listed.len(), 5000);
    let mut got: Vec<String> = listed.iter().map(|v| v.value.clone().unwrap()).collect();
    got.sort();
    let mut want: Vec<String> = (0..5000).map(|i| format!("{i}.5")).collect();
    want.sort();
    assert_eq!(got, want, "every value exactly once");
    // A batch upsertion through the same storm lands exactly.
    let changes: Vec<MetricValue> = listed
        .iter()
        .take(2000)
        .map(|v| MetricValue {
            id: v.id.clone(),
            value: Some(format!("{}1", v.value.clone().unwrap())),
            ..Default::default()
        })
        .collect();
    let op = c.upsert_and_wait(&p, &m, &changes).await.unwrap();
    assert_eq!(op.status, "completed");
    let log = log_since(&env, from);
    let n429 = log.iter().filter(|e| e.status == 429).count();
    let n503 = log.iter().filter(|e| e.status == 503).count();
    assert!(
        n429 > 0 && n503 > 0,
        "the storm happened: {n429} 429s, {n503} 503s"
    );
    // Every 429 asked for 1 s; the next request came no sooner.
    for (i, e) in log.iter().enumerate() {
        if e.status == 429
            && let Some(next) = log[i + 1..].iter().find(|n| n.client_id == e.client_id)
        {
            assert!(
                next.elapsed_ms + 5 >= e.elapsed_ms + 1000,
                "request after a 429 came {} ms later",
                next.elapsed_ms - e.elapsed_ms
            );
        }
    }
    env.emu
        .set_settings(Settings {
            operations: fast_timing(),
            ..Settings::default()
        })
        .unwrap();
    let after = env.api.values(&p, &m).await;
    let changed_ids: std::collections::HashSet<String> =
        changes.iter().map(|c| c.id.clone().unwrap()).collect();
    for v in &after {
        let id = v["id"].as_str().unwrap();
        let value = v["value"].as_str().unwrap();
        assert_eq!(
            changed_ids.contains(id),
            value.ends_with(".51"),
            "{id}: {value}"
        );
    }
    assert_eq!(after.len(), 5000, "nothing duplicated");
}

#[tokio::test]
async fn basic_client_auth_and_the_plain_text_secret_warning() {
    let env = start().await;
    let (logs, _guard) = capture_logs();
    let mut cfg = client_config(&env);
    cfg.client_auth = esg_sync::workiva::ClientAuth::Basic;
    let c = WorkivaClient::new(cfg).unwrap();
    assert_eq!(c.programs(&ListOptions::default()).await.unwrap().len(), 1);
    assert!(
        logs.text()
            .contains("written in plain text in the config file"),
        "{}",
        logs.text()
    );
    assert_eq!(
        logs.text()
            .matches("written in plain text in the config file")
            .count(),
        1,
        "one warning per client, however often the secret is checked"
    );
    let mut cfg = client_config(&env);
    cfg.client_secret = Some("wrong".into());
    let e = WorkivaClient::new(cfg)
        .unwrap()
        .programs(&ListOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, WorkivaError::Auth { status: 401, .. }), "{e}");
    assert!(
        e.to_string().contains("invalid_client") && e.to_string().contains("client_id"),
        "{e}"
    );
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let env = start().await;
    let mut cfg = client_config(&env);
    cfg.request_timeout_secs = 1;
    cfg.max_attempts = 2;
    let c = WorkivaClient::new(cfg).unwrap();
    c.programs(&ListOptions::default()).await.unwrap();
    let mut s = env.emu.settings();
    s.faults.latency = 1.0;
    s.faults.latency_ms = 1300;
    env.emu.set_settings(s).unwrap();
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    match &e {
        WorkivaError::RetriesExhausted {
            attempts: 2, last, ..
        } => {
            assert!(
                matches!(
                    **last,
                    WorkivaError::Transport {
                        timed_out: true,
                        reached_server: true,
                        ..
                    }
                ),
                "{last}"
            );
        }
        other => panic!("expected two timed-out attempts, got {other}"),
    }
    assert!(e.to_string().contains("timed out"), "{e}");
}

//! Rate limits and injected faults, at start and at run time.

use std::time::{Duration, Instant};

use esg_sync::emulator::Settings;
use esg_sync::emulator::config::Fault;
use esg_sync::emulator::gateway::LoggedFault;
use reqwest::Method;
use serde_json::json;

use crate::support::*;

fn with(f: impl FnOnce(&mut Settings)) -> Settings {
    let mut s = Settings {
        operations: fast_timing(),
        ..Settings::default()
    };
    f(&mut s);
    s
}

#[tokio::test]
async fn faults_are_off_by_default() {
    let env = start().await;
    for _ in 0..50 {
        assert_eq!(env.api.get("/programs").await.status, 200);
    }
}

#[tokio::test]
async fn per_client_rate_limit_answers_429_with_retry_after() {
    let mut cfg = test_config();
    cfg.settings.rate_limit.requests_per_second = Some(1.0);
    cfg.settings.rate_limit.burst = Some(3);
    let env = start_with(cfg).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = env.api.get("/programs").await;
        statuses.push(r.status);
        if r.status == 429 {
            assert!(r.retry_after().unwrap() >= 1);
            assert_eq!(r.body["code"], "429TooManyRequests");
        }
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    // Another client has its own budget.
    let mut reader = env.api.clone();
    reader.login("reader", "reader-secret").await;
    assert_eq!(reader.get("/programs").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        env.api.get("/programs").await.status,
        200,
        "the bucket refills"
    );
}

#[tokio::test]
async fn polling_sooner_than_retry_after_is_a_429() {
    let env = start().await;
    env.emu
        .set_settings(with(|s| {
            s.rate_limit.enforce_poll_interval = true;
            s.operations.retry_after_secs = 1;
            s.operations.base_ms = 3000;
        }))
        .unwrap();
    let ids = &env.ids;
    let r = env
        .api
        .post(
            &format!(
                "/programs/{}/metrics/{}/values/batchUpsertion",
                ids.program, ids.num
            ),
            json!({"data": [val(2025, json!({&ids.facility: "A"}), "1")]}),
        )
        .await;
    let loc = r.body["operationLocation"].as_str().unwrap().to_string();
    assert_eq!(env.api.get(&loc).await.status, 200);
    let early = env.api.get(&loc).await;
    assert_eq!(early.status, 429);
    assert_eq!(early.retry_after(), Some(1));
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        env.api.get(&loc).await.status,
        200,
        "polling after Retry-After is welcome"
    );
}

#[tokio::test]
async fn injected_error_statuses() {
    let env = start().await;
    for (status, set) in [
        (500u16, with(|s| s.faults.error_500 = 1.0)),
        (503, with(|s| s.faults.error_503 = 1.0)),
        (504, with(|s| s.faults.error_504 = 1.0)),
        (
            429,
            with(|s| {
                s.faults.error_429 = 1.0;
                s.faults.retry_after_429_secs = 7;
            }),
        ),
    ] {
        let (code, _) = admin(
            &env.api,
            Method::PUT,
            "/_emulator/faults",
            Some(serde_json::to_value(&set).unwrap()),
        )
        .await;
        assert_eq!(code, 200);
        let r = env.api.get("/programs").await;
        assert_eq!(r.status, status);
        if status == 429 {
            assert_eq!(r.retry_after(), Some(7));
        }
        // Token requests are spared unless asked for.
        let mut fresh = env.api.clone();
        fresh.login("demo", "demo-secret").await;
    }
    let (code, _) = admin(&env.api, Method::PUT, "/_emulator/faults", Some(json!({}))).await;
    assert_eq!(code, 200);
    assert_eq!(
        env.api.get("/programs").await.status,
        200,
        "faults switch off at run time"
    );
}

#[tokio::test]
async fn probabilities_mix_and_are_repeatable_with_a_seed() {
    let env = start().await;
    let run = || async {
        env.emu
            .set_settings(with(|s| {
                s.faults.error_503 = 0.3;
                s.faults.error_500 = 0.2;
                s.faults.seed = Some(42);
            }))
            .unwrap();
        let mut v = Vec::new();
        for _ in 0..200 {
            v.push(env.api.get("/programs").await.status);
        }
        v
    };
    let a = run().await;
    let b = run().await;
    assert_eq!(a, b, "a fixed seed repeats the same faults");
    let n503 = a.iter().filter(|s| **s == 503).count();
    let n500 = a.iter().filter(|s| **s == 500).count();
    assert!((30..=90).contains(&n503), "about 30% 503s, got {n503}");
    assert!((15..=70).contains(&n500), "about 20% 500s, got {n500}");
}

#[tokio::test]
async fn dropped_connections_and_latency() {
    let env = start().await;
    env.emu
        .set_settings(with(|s| s.faults.drop_connection = 1.0))
        .unwrap();
    let err = env
        .api
        .http
        .get(format!("{}/programs", env.api.base))
        .bearer_auth(env.api.token.as_ref().unwrap())
        .header("X-Version", "2026-01-01")
        .send()
        .await;
    let failed = match err {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(failed, "the connection is dropped before a complete answer");
    env.emu
        .set_settings(with(|s| {
            s.faults.latency = 1.0;
            s.faults.latency_ms = 300;
        }))
        .unwrap();
    let t = Instant::now();
    assert_eq!(env.api.get("/programs").await.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "the injected delay was added"
    );
    let log = env.emu.requests();
    assert!(
        log.iter()
            .any(|e| e.fault == Some(LoggedFault::Injected(Fault::Drop)))
    );
}

#[tokio::test]
async fn operations_can_fail_with_a_server_error_and_store_nothing() {
    let mut cfg = test_config();
    cfg.settings.faults.operation_failure = 1.0;
    let env = start_with(cfg).await;
    let ids = &env.ids;
    let op = env
        .api
        .upsert(
            &ids.program,
            &ids.num,
            json!([val(2025, json!({&ids.facility: "A"}), "1")]),
        )
        .await;
    assert_eq!(op["status"], "failed");
    assert_eq!(op["details"][0]["code"], "500InternalServerError");
    assert!(env.api.values(&ids.program, &ids.num).await.is_empty());
}

#[tokio::test]
async fn bad_fault_settings_are_refused() {
    let env = start().await;
    let (code, body) = admin(
        &env.api,
        Method::PUT,
        "/_emulator/faults",
        Some(json!({"faults": {"error_500": 1.5}})),
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("between 0 and 1")
    );
    let (code, _) = admin(
        &env.api,
        Method::PUT,
        "/_emulator/faults",
        Some(json!({"faults": {"eror_500": 0.5}})),
    )
    .await;
    assert_eq!(code, 400, "unknown keys are refused, not ignored");
}

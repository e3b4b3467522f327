//! The few client cases the emulator cannot produce, against wiremock: an HTTP-date
//! `Retry-After`, a 200 whose body is not JSON, and a server that repeats its `@nextLink`.

use std::time::{Duration, Instant, SystemTime};

use esg_sync::workiva::{ListOptions, WorkivaClient, WorkivaConfig, WorkivaError};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server() -> (MockServer, WorkivaClient) {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "t", "expires_in": 600, "scope": "file:read", "token_type": "Bearer"})))
        .mount(&s)
        .await;
    let c = WorkivaClient::new(WorkivaConfig {
        base_url: Some(s.uri()),
        client_id: "x".into(),
        client_secret: Some("y".into()),
        backoff_base_ms: 5,
        backoff_max_ms: 20,
        requests_per_second: 0.0,
        ..WorkivaConfig::default()
    })
    .unwrap();
    (s, c)
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let (s, c) = server().await;
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    Mock::given(method("GET"))
        .and(path("/programs"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", when.as_str())
                .set_body_json(json!({"code": "429TooManyRequests", "message": "slow down"})),
        )
        .up_to_n_times(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/programs"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": "p", "name": "P"}]})),
        )
        .mount(&s)
        .await;
    let t = Instant::now();
    let got = c.programs(&ListOptions::default()).await.unwrap();
    assert_eq!(got.len(), 1);
    // The date has whole seconds, so the wait is between 1 and 2 s.
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "waited until the date: {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_and_not_retried() {
    let (s, c) = server().await;
    Mock::given(method("GET"))
        .and(path("/programs"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"data\": [{\"id\": "))
        .expect(1)
        .mount(&s)
        .await;
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(matches!(e, WorkivaError::Decode { status: 200, .. }), "{e}");
    assert!(
        e.to_string()
            .contains("GET /programs answered HTTP 200 with a body that is not the expected JSON"),
        "{e}"
    );
    assert!(!e.is_retriable());
}

#[tokio::test]
async fn a_repeated_next_link_is_an_error_not_a_loop() {
    let (s, c) = server().await;
    let again = format!("{}/programs?$next=same", s.uri());
    Mock::given(method("GET"))
        .and(path("/programs"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"id": "p", "name": "P"}], "@nextLink": again})),
        )
        .mount(&s)
        .await;
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(matches!(e, WorkivaError::PaginationLoop { .. }), "{e}");
    assert!(e.to_string().contains("twice"));
    assert_eq!(
        s.received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/programs")
            .count(),
        2
    );
}

//! The client trusts no server. A hostile server on 127.0.0.1 port 0 stands in for
//! Workiva and sends back what a proxy, a compromised gateway or a bug could: links and
//! redirects to another origin, huge answers, oversized pages, endless pages, absurd numbers.
//! A second server is "another origin": it must never be reached.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use esg_sync::workiva::{ListOptions, WorkivaClient, WorkivaConfig, WorkivaError};
use serde_json::json;

/// What the hostile server does with API requests.
#[derive(Clone)]
enum Mode {
    /// Lists answer with an @nextLink to `other`.
    LinkElsewhere(String),
    /// A batch upsertion is accepted with an operationLocation on `other`.
    OperationElsewhere(String),
    /// Every request is redirected (307) to `other`.
    RedirectElsewhere(String),
    /// A GET is redirected once within this origin, then answered.
    RedirectHere,
    /// 200 with a body of this many bytes.
    Huge(usize),
    /// A page with this many items.
    Items(usize),
    /// Every page links to a new page.
    Endless,
    /// 503 with `Retry-After: 0`, for ever.
    Storm,
    /// 429 with `Retry-After: 3600`.
    WaitAnHour,
}

#[derive(Clone)]
struct Hostile {
    mode: Arc<Mutex<Mode>>,
    /// (method, path, carried a bearer token)
    hits: Arc<Mutex<Vec<(String, String, bool)>>>,
    expires_in: u64,
    /// The access token the token endpoint hands out.
    token: Arc<Mutex<String>>,
}

async fn handle(State(h): State<Hostile>, req: Request) -> Response {
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let auth = req.headers().contains_key("authorization");
    h.hits
        .lock()
        .unwrap()
        .push((method.clone(), path.clone(), auth));
    if path == "/oauth2/token" {
        let token = h.token.lock().unwrap().clone();
        return axum::Json(
            json!({"access_token": token, "token_type": "Bearer", "expires_in": h.expires_in}),
        )
        .into_response();
    }
    let mode = h.mode.lock().unwrap().clone();
    let page = |data: serde_json::Value, next: Option<String>| {
        let mut v = json!({"data": data});
        if let Some(n) = next {
            v["@nextLink"] = json!(n);
        }
        axum::Json(v).into_response()
    };
    match mode {
        Mode::LinkElsewhere(other) => page(json!([]), Some(format!("{other}/programs?page=2"))),
        Mode::OperationElsewhere(other) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"operationLocation": format!("{other}/operations/abc")})),
        )
            .into_response(),
        Mode::RedirectElsewhere(other) => {
            let mut hm = HeaderMap::new();
            hm.insert("location", format!("{other}{path}").parse().unwrap());
            (StatusCode::TEMPORARY_REDIRECT, hm).into_response()
        }
        Mode::RedirectHere if path == "/programs" => {
            let mut hm = HeaderMap::new();
            hm.insert("location", "/programs-moved".parse().unwrap());
            (StatusCode::TEMPORARY_REDIRECT, hm).into_response()
        }
        Mode::RedirectHere => page(json!([{"id": "p1", "name": "P"}]), None),
        Mode::Huge(n) => {
            let mut body = b"{\"data\":[".to_vec();
            body.resize(n, b' ');
            Response::new(Body::from(body))
        }
        Mode::Items(n) => page(
            json!(
                (0..n)
                    .map(|i| json!({"id": format!("p{i}"), "name": "P"}))
                    .collect::<Vec<_>>()
            ),
            None,
        ),
        Mode::Endless => {
            let n = h.hits.lock().unwrap().len();
            page(
                json!([]),
                Some(format!(
                    "http://{}/programs?page={n}",
                    req.headers()["host"].to_str().unwrap()
                )),
            )
        }
        Mode::Storm => {
            let mut hm = HeaderMap::new();
            hm.insert("retry-after", "0".parse().unwrap());
            (StatusCode::SERVICE_UNAVAILABLE, hm).into_response()
        }
        Mode::WaitAnHour => {
            let mut hm = HeaderMap::new();
            hm.insert("retry-after", "3600".parse().unwrap());
            (StatusCode::TOO_MANY_REQUESTS, hm).into_response()
        }
    }
}

/// Starts a hostile server; returns it and its base URL.
async fn serve(mode: Mode, expires_in: u64) -> (Hostile, String) {
    let h = Hostile {
        mode: Arc::new(Mutex::new(mode)),
        hits: Arc::new(Mutex::new(Vec::new())),
        expires_in,
        token: Arc::new(Mutex::new("tok".into())),
    };
    let app = Router::new().fallback(handle).with_state(h.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (h, format!("http://{addr}"))
}

fn config(base: &str) -> WorkivaConfig {
    WorkivaConfig {
        base_url: Some(base.into()),
        client_id: "demo".into(),
        client_secret: Some("demo-secret".into()),
        requests_per_second: 0.0,
        backoff_base_ms: 5,
        backoff_max_ms: 20,
        max_attempts: 3,
        max_server_waits: 5,
        max_retry_secs: 30,
        poll_min_ms: 5,
        ..WorkivaConfig::default()
    }
}

fn api_hits(h: &Hostile) -> Vec<(String, String, bool)> {
    h.hits
        .lock()
        .unwrap()
        .iter()
        .filter(|x| x.1 != "/oauth2/token")
        .cloned()
        .collect()
}

#[tokio::test]
async fn links_and_operations_on_another_origin_are_not_followed_and_get_no_token() {
    let (other, other_url) = serve(Mode::Storm, 600).await;
    let (h, base) = serve(Mode::LinkElsewhere(other_url.clone()), 600).await;
    let c = WorkivaClient::new(config(&base)).unwrap();
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(matches!(e, WorkivaError::ForeignUrl { .. }), "{e}");
    let m = e.to_string();
    assert!(
        m.contains("@nextLink") && m.contains(&other_url) && m.contains(&base),
        "{m}"
    );
    *h.mode.lock().unwrap() = Mode::OperationElsewhere(other_url.clone());
    let e = c
        .batch_upsert_raw("p", "m", b"{\"data\":[]}".to_vec())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("operationLocation"), "{e}");
    // A relative link is no link to follow either.
    *h.mode.lock().unwrap() = Mode::LinkElsewhere(String::new());
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(matches!(e, WorkivaError::ForeignUrl { .. }), "{e}");
    assert!(
        other.hits.lock().unwrap().is_empty(),
        "the other origin was never reached"
    );
    assert_eq!(
        api_hits(&h).len(),
        3,
        "and nothing was retried: {:?}",
        api_hits(&h)
    );
}

#[tokio::test]
async fn redirects_are_followed_only_for_gets_within_the_origin() {
    let (other, other_url) = serve(Mode::RedirectHere, 600).await;
    let (h, base) = serve(Mode::RedirectElsewhere(other_url.clone()), 600).await;
    let c = WorkivaClient::new(config(&base)).unwrap();
    let e = c
        .batch_upsert_raw("p", "m", b"{\"data\":[]}".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(e, WorkivaError::Redirect { .. }), "{e}");
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(e.to_string().contains("was redirected (HTTP 307)"), "{e}");
    assert!(
        other.hits.lock().unwrap().is_empty(),
        "the batch body went nowhere else"
    );
    // Within the origin, a GET follows.
    *h.mode.lock().unwrap() = Mode::RedirectHere;
    let got = c.programs(&ListOptions::default()).await.unwrap();
    assert_eq!(got.len(), 1);
}

#[tokio::test]
async fn answers_are_bounded_in_bytes_and_items() {
    let (h, base) = serve(Mode::Huge(50 * 1024 * 1024), 600).await;
    let mut cfg = config(&base);
    cfg.max_response_bytes = 1024 * 1024;
    cfg.page_size = 10;
    let c = WorkivaClient::new(cfg).unwrap();
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(matches!(e, WorkivaError::ResponseTooLarge { .. }), "{e}");
    assert!(e.to_string().contains("1048576"), "{e}");
    *h.mode.lock().unwrap() = Mode::Items(11);
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("a page holds 11 items although $maxpagesize was 10"),
        "{e}"
    );
    *h.mode.lock().unwrap() = Mode::Items(10);
    assert_eq!(c.programs(&ListOptions::default()).await.unwrap().len(), 10);
}

#[tokio::test]
async fn an_endless_chain_of_pages_stops_at_the_cap_naming_the_link() {
    let (_h, base) = serve(Mode::Endless, 600).await;
    let mut cfg = config(&base);
    cfg.max_pages = 50;
    let c = WorkivaClient::new(cfg).unwrap();
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(
        matches!(e, WorkivaError::ListTooLong { pages: 50, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("the next @nextLink was `http://127.0.0.1"),
        "{e}"
    );
}

#[tokio::test]
async fn a_huge_token_lifetime_is_clamped_not_a_panic() {
    let (_h, base) = serve(Mode::Items(1), u64::MAX).await;
    let c = WorkivaClient::new(config(&base)).unwrap();
    assert_eq!(c.programs(&ListOptions::default()).await.unwrap().len(), 1);
    assert_eq!(c.programs(&ListOptions::default()).await.unwrap().len(), 1);
    assert_eq!(c.token_fetches(), 1, "the clamped token is cached");
}

#[tokio::test]
async fn retry_after_zero_is_no_storm_and_a_wait_beyond_the_budget_ends_at_once() {
    let (h, base) = serve(Mode::Storm, 600).await;
    let mut cfg = config(&base);
    cfg.backoff_base_ms = 20;
    let c = WorkivaClient::new(cfg).unwrap();
    let t = Instant::now();
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    let n = api_hits(&h).len();
    assert_eq!(n, 6, "one attempt and max_server_waits (5) more: {e}");
    assert!(
        t.elapsed() >= Duration::from_millis(100),
        "each wait at least the backoff floor"
    );
    assert!(
        e.to_string()
            .contains("5 more after waits the server asked for"),
        "{e}"
    );
    *h.mode.lock().unwrap() = Mode::WaitAnHour;
    let t = Instant::now();
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(matches!(e, WorkivaError::WaitTooLong { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5), "ended at once");
    assert!(e.to_string().contains("asked to wait 3600 s"), "{e}");
}

#[tokio::test]
async fn a_connection_failure_names_the_host_and_is_not_taken_for_a_lost_answer() {
    // Nothing listens on port 1.
    let mut cfg = config("http://127.0.0.1:1");
    cfg.max_attempts = 1;
    let c = WorkivaClient::new(cfg).unwrap();
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    let m = e.to_string();
    assert!(m.contains("127.0.0.1"), "{m}");
    assert!(
        !e.may_have_reached_server() && !m.contains("may have reached"),
        "{m}"
    );
}

#[tokio::test]
async fn a_token_a_header_cannot_carry_is_refused_not_retried() {
    let (h, base) = serve(Mode::Items(1), 600).await;
    *h.token.lock().unwrap() = "tok\r\nX-Injected: 1".into();
    let c = WorkivaClient::new(config(&base)).unwrap();
    let e = c.programs(&ListOptions::default()).await.unwrap_err();
    assert!(e.to_string().contains("a header cannot carry"), "{e}");
    assert!(!e.is_retriable());
    let token_requests = h
        .hits
        .lock()
        .unwrap()
        .iter()
        .filter(|x| x.1 == "/oauth2/token")
        .count();
    assert_eq!(token_requests, 1, "asked once, not retried");
    assert!(api_hits(&h).is_empty(), "no API request carried it");
}

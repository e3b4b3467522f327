//! Authentication and API versions.

use std::time::Duration;

use base64::Engine;
use serde_json::Value;

use crate::support::*;

async fn token_req(
    api: &Api,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    version: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut rb = api.http.post(format!("{}{path}", api.base)).form(form);
    if let Some((id, secret)) = basic {
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        rb = rb.header("Authorization", format!("Basic {enc}"));
    }
    if let Some(v) = version {
        rb = rb.header("X-Version", v);
    }
    let r = rb.send().await.expect("token request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body: Value = r.json().await.expect("json");
    if path == "/oauth2/token" {
        crate::support::spec::validate("POST", path, status, &body)
            .expect("token answers match the spec");
    }
    (status, body, headers)
}

#[tokio::test]
async fn token_from_form_body_or_basic_header() {
    let env = start().await;
    let api = &env.api;
    let (s, b, h) = token_req(
        api,
        "/oauth2/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "demo"),
            ("client_secret", "demo-secret"),
        ],
        None,
        Some("2026-01-01"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 600);
    assert_eq!(b["scope"], "file:read file:write task:read task:write");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    let (s, b, _) = token_req(
        api,
        "/oauth2/token",
        &[("grant_type", "client_credentials")],
        Some(("demo", "demo-secret")),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Both at once is ambiguous and refused (RFC 6749 2.3).
    let (s, b, _) = token_req(
        api,
        "/oauth2/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "demo"),
            ("client_secret", "demo-secret"),
        ],
        Some(("demo", "demo-secret")),
        None,
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
}

#[tokio::test]
async fn token_errors_are_iam_style() {
    let env = start().await;
    let api = &env.api;
    let (s, b, _) = token_req(
        api,
        "/oauth2/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "demo"),
            ("client_secret", "nope"),
        ],
        None,
        None,
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("Client authentication failed")
    );
    assert!(!b.to_string().contains("demo-secret"));
    let (s, b, _) = token_req(
        api,
        "/oauth2/token",
        &[("client_id", "demo"), ("client_secret", "demo-secret")],
        None,
        None,
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    let (s, b, _) = token_req(
        api,
        "/oauth2/token",
        &[("grant_type", "password")],
        Some(("demo", "demo-secret")),
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (s, b, _) = token_req(
        api,
        "/oauth2/token",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "file:read graph:write"),
        ],
        Some(("demo", "demo-secret")),
        None,
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_scope")));
    let (s, b, _) = token_req(
        api,
        "/oauth2/token",
        &[("grant_type", "client_credentials"), ("scope", "file:read")],
        Some(("demo", "demo-secret")),
        None,
    )
    .await;
    assert_eq!((s, b["scope"].as_str()), (200, Some("file:read")));
}

#[tokio::test]
async fn deprecated_iam_token_path() {
    let env = start().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "demo"),
        ("client_secret", "demo-secret"),
    ];
    let (s, _, _) = token_req(&env.api, "/iam/v1/oauth2/token", &form, None, None).await;
    assert_eq!(s, 200);
    // Reported behaviour: the IAM path answers 404 when sent X-Version: 2026-01-01.
    let (s, _, _) = token_req(
        &env.api,
        "/iam/v1/oauth2/token",
        &form,
        None,
        Some("2026-01-01"),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn endpoints_need_a_valid_unexpired_token() {
    let mut cfg = test_config();
    cfg.token_ttl_secs = 1;
    let env = start_with(cfg).await;
    let mut anon = env.api.clone();
    anon.token = None;
    let r = anon.get("/programs").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["code"], "401Unauthorized");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    anon.token = Some("not-a-token".into());
    assert_eq!(anon.get("/programs").await.status, 401);
    assert_eq!(anon.get(&format!("/operations/{}", "x")).await.status, 401);
    assert_eq!(env.api.get("/programs").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        env.api.get("/programs").await.status,
        401,
        "the token expired"
    );
}

#[tokio::test]
async fn scopes_are_enforced_per_endpoint() {
    let env = start().await;
    let mut reader = env.api.clone();
    reader.login("reader", "reader-secret").await;
    let p = &env.ids.program;
    // The reader may read the program (permissions are tested in permissions.rs).
    let grant = env
        .api
        .post(
            &format!("/programs/{p}/permissions/modification"),
            serde_json::json!({"toAssign": [{"permission": "228d55c7-10d0-4ac3-85a3-1ac30ae97ac1", "principal": "U-reader"}]}),
        )
        .await;
    assert_eq!(grant.status, 204, "{}", grant.body);
    assert_eq!(reader.get("/programs").await.status, 200);
    assert_eq!(
        reader.get(&format!("/programs/{p}/metrics")).await.status,
        200
    );
    let r = reader
        .post("/programs", serde_json::json!({"name": "X"}))
        .await;
    assert_eq!(r.status, 403);
    assert!(r.message().contains("file:write"), "{}", r.message());
    assert_eq!(reader.get("/tasks").await.status, 200);
    assert_eq!(
        reader
            .post(
                "/tasks/T1/actionSubmission",
                serde_json::json!({"action": "SUBMIT"})
            )
            .await
            .status,
        403
    );
    // A token limited to file:read cannot read tasks.
    let (s, b, _) = token_req(
        &env.api,
        "/oauth2/token",
        &[("grant_type", "client_credentials"), ("scope", "file:read")],
        Some(("demo", "demo-secret")),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let mut narrow = env.api.clone();
    narrow.token = Some(b["access_token"].as_str().unwrap().to_string());
    assert_eq!(narrow.get("/tasks").await.status, 403);
    assert_eq!(narrow.get(&format!("/programs/{p}")).await.status, 200);
    // Operations need only a valid token.
    assert_eq!(narrow.get("/operations/unknown").await.status, 404);
}

#[tokio::test]
async fn x_version_is_required_on_2026_paths() {
    let env = start().await;
    let mut api = env.api.clone();
    api.version = None;
    let r = api.get("/programs").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.target(), "X-Version");
    assert!(r.message().contains("X-Version: 2026-01-01"));
    api.version = Some("2022-01-01".into());
    assert_eq!(api.get("/programs").await.status, 400);
    api.version = Some("2025-06-01".into());
    let r = api.get("/programs").await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("2025-06-01"));
    api.version = Some("2026-01-01".into());
    assert_eq!(api.get("/programs").await.status, 200);
}

#[tokio::test]
async fn deprecated_batch_upsertion_works_on_2022_with_sunset_headers() {
    let env = start().await;
    let (p, m, f) = (&env.ids.program, &env.ids.num, &env.ids.facility);
    let path = format!("/prototype/platform/programs/{p}/metrics/{m}/values/batchUpsertion");
    let body = serde_json::json!({"data": [val(2025, serde_json::json!({f: "A"}), "12.5")]});
    for version in [Some("2022-01-01"), None] {
        let mut api = env.api.clone();
        api.version = version.map(str::to_string);
        let r = api.post(&path, body.clone()).await;
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(
            r.header("deprecation"),
            Some("@1770854400"),
            "2026-02-12 as an RFC 9745 date"
        );
        assert_eq!(r.header("sunset"), Some("Sun, 31 Jan 2027 00:00:00 GMT"));
        assert!(r.retry_after().is_some());
        let loc = r.header("location").expect("Location").to_string();
        assert!(loc.starts_with(&env.api.base));
        let op = api.wait(&loc).await;
        assert_eq!(op["status"], "completed");
    }
    let r = env.api.post(&path, body).await;
    assert_eq!(
        r.status, 400,
        "the prototype path is not a 2026-01-01 endpoint"
    );
    assert_eq!(r.header("sunset"), Some("Sun, 31 Jan 2027 00:00:00 GMT"));
    let vals = env.api.values(p, m).await;
    assert_eq!(vals.len(), 1);
    assert_eq!(vals[0]["value"], "12.5");
}

//! Starting the emulator on port 0 and talking to it; every response the API client sees is
//! validated against Workiva's OpenAPI spec.

use std::time::{Duration, Instant};

use esg_sync::emulator::config::OperationTiming;
use esg_sync::emulator::{ClientConfig, Emulator, EmulatorConfig, Seed, StartOptions};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::spec;

/// A fast operation timing for tests: a few milliseconds, `Retry-After: 0`.
pub fn fast_timing() -> OperationTiming {
    OperationTiming {
        queued_ms: 5,
        base_ms: 10,
        per_value_us: 0,
        retry_after_secs: 0,
    }
}

pub fn test_config() -> EmulatorConfig {
    let mut c = EmulatorConfig::default();
    c.settings.operations = fast_timing();
    c.clients.push(ClientConfig {
        id: "reader".into(),
        secret: "reader-secret".into(),
        scopes: vec!["file:read".into(), "task:read".into()],
        principal: Some("U-reader".into()),
        workspace_admin: false,
    });
    c.clients.push(ClientConfig {
        id: "outsider".into(),
        secret: "outsider-secret".into(),
        scopes: esg_sync::emulator::config::ALL_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        principal: Some("U-outsider".into()),
        workspace_admin: false,
    });
    c.clients.push(ClientConfig {
        id: "lead".into(),
        secret: "lead-secret".into(),
        scopes: esg_sync::emulator::config::ALL_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        principal: Some("U-lead".into()),
        workspace_admin: false,
    });
    // A second replica's own sign-in, so the request log tells two replicas apart.
    c.clients.push(ClientConfig {
        id: "second".into(),
        secret: "second-secret".into(),
        ..ClientConfig::default()
    });
    c
}

/// The standard test tenant.
pub fn test_seed() -> Seed {
    serde_json::from_value(json!({
        "principals": [{"id": "U-lead"}, {"id": "U-other"}, {"id": "G-team", "type": "group"}],
        "programs": [{
            "name": "Test Program",
            "topics": [{"name": "Climate"}, {"name": "Emissions", "parent": "Climate"}],
            "dimensions": [
                {"name": "Facility", "values": [
                    {"id": "A"}, {"id": "B"}, {"id": "C", "name": "Site C"},
                    {"id": "OLD", "active": false}
                ]},
                {"name": "BU", "values": [{"id": "X"}, {"id": "Y"}]},
                {"name": "Other", "values": [{"id": "O1"}]}
            ],
            "metrics": [
                {"name": "Num", "dataType": "number", "unit": "t", "topic": "Emissions", "allowedDimensions": ["Facility", "BU"]},
                {"name": "Txt", "dataType": "text"},
                {"name": "When", "dataType": "date", "allowedDimensions": ["Facility"]},
                {"name": "Share", "dataType": "percent", "allowedDimensions": ["BU"]}
            ],
            "permissions": [{"permission": "Owner", "principal": "U-lead"}]
        }]
    }))
    .expect("the test seed parses")
}

/// Ids of the test tenant.
pub struct Ids {
    pub program: String,
    pub facility: String,
    pub bu: String,
    pub other_dim: String,
    pub num: String,
    pub txt: String,
    pub date: String,
    pub share: String,
    pub climate: String,
    pub emissions: String,
}

pub struct Env {
    pub emu: Emulator,
    pub api: Api,
    pub ids: Ids,
}

pub async fn start() -> Env {
    start_with(test_config()).await
}

pub async fn start_with(config: EmulatorConfig) -> Env {
    let emu = Emulator::start(config, StartOptions::default())
        .await
        .expect("emulator starts");
    let summary = emu.seed(&test_seed()).expect("seed loads");
    let p = &summary["programs"][0];
    let s = |v: &Value| v.as_str().expect("id").to_string();
    let ids = Ids {
        program: s(&p["id"]),
        facility: s(&p["dimensions"]["Facility"]),
        bu: s(&p["dimensions"]["BU"]),
        other_dim: s(&p["dimensions"]["Other"]),
        num: s(&p["metrics"]["Num"]),
        txt: s(&p["metrics"]["Txt"]),
        date: s(&p["metrics"]["When"]),
        share: s(&p["metrics"]["Share"]),
        climate: s(&p["topics"]["Climate"]),
        emissions: s(&p["topics"]["Emissions"]),
    };
    let mut api = Api::new(&emu.base_url());
    api.login("demo", "demo-secret").await;
    Env { emu, api, ids }
}

/// A response: status, headers, and the body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn retry_after(&self) -> Option<u64> {
        self.header("retry-after").and_then(|s| s.parse().ok())
    }
    pub fn target(&self) -> &str {
        self.body["target"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
    /// The X-Version header; `None` sends none.
    pub version: Option<String>,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.to_string(),
            token: None,
            version: Some("2026-01-01".into()),
        }
    }

    pub async fn login(&mut self, id: &str, secret: &str) {
        let r = self
            .http
            .post(format!("{}/oauth2/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), 200, "login as {id}");
        let v: Value = r.json().await.expect("token json");
        self.token = Some(v["access_token"].as_str().expect("token").to_string());
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// Sends a request and validates the answer against the spec.
    pub async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Resp {
        let url = self.url(path);
        let mut rb = self.http.request(method.clone(), &url);
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(v) = &self.version {
            rb = rb.header("X-Version", v);
        }
        if let Some(b) = body {
            rb = rb.header("Content-Type", "application/json").body(b);
        }
        let r = rb
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body");
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{method} {url} answered non-JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        let path_only = reqwest::Url::parse(&url).expect("url").path().to_string();
        if let Err(e) = spec::validate(method.as_str(), &path_only, status, &body) {
            panic!("response does not match the OpenAPI spec: {e}\nbody: {body}");
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(
            Method::POST,
            path,
            Some(serde_json::to_vec(&body).expect("json")),
        )
        .await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(
            Method::PATCH,
            path,
            Some(serde_json::to_vec(&body).expect("json")),
        )
        .await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }

    /// Follows `@nextLink` to the end and returns every item.
    pub async fn list_all(&self, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(p) = next {
            let r = self.get(&p).await;
            assert_eq!(r.status, 200, "{p}: {}", r.body);
            out.extend(r.body["data"].as_array().expect("data").iter().cloned());
            next = r.body["@nextLink"].as_str().map(str::to_string);
        }
        out
    }

    /// Polls an operation until it is completed or failed.
    pub async fn wait(&self, location: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self.get(location).await;
            assert_eq!(r.status, 200, "poll {location}: {}", r.body);
            assert!(
                r.retry_after().is_some(),
                "every poll answer carries Retry-After"
            );
            let s = r.body["status"].as_str().unwrap_or("").to_string();
            if s == "completed" || s == "failed" {
                return r.body;
            }
            assert!(
                Instant::now() < deadline,
                "operation {location} did not finish"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Submits a batch upsertion and waits for its outcome.
    pub async fn upsert(&self, program: &str, metric: &str, data: Value) -> Value {
        let r = self
            .post(
                &format!("/programs/{program}/metrics/{metric}/values/batchUpsertion"),
                json!({ "data": data }),
            )
            .await;
        assert_eq!(r.status, 202, "upsertion accepted: {}", r.body);
        let loc = r.body["operationLocation"]
            .as_str()
            .expect("operationLocation")
            .to_string();
        self.wait(&loc).await
    }

    pub async fn values(&self, program: &str, metric: &str) -> Vec<Value> {
        self.list_all(&format!("/programs/{program}/metrics/{metric}/values"))
            .await
    }
}

/// A value item for batch bodies.
pub fn val(year: u16, coords: Value, value: &str) -> Value {
    json!({"reportingPeriod": {"year": year, "start": 1, "end": 12}, "coordinates": coords, "value": value})
}

/// Finds the one value with this year and coordinates.
pub fn find<'a>(values: &'a [Value], year: u16, coords: &Value) -> Option<&'a Value> {
    values
        .iter()
        .find(|v| v["reportingPeriod"]["year"] == year && &v["coordinates"] == coords)
}

/// The admin API, as raw HTTP (it is not part of the spec).
pub async fn admin(api: &Api, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut rb = api.http.request(method, format!("{}{}", api.base, path));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("admin request");
    let status = r.status().as_u16();
    let bytes = r.bytes().await.expect("body");
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("admin json")
    };
    (status, v)
}

/// Percent-encodes `s` for a query string (RFC 3986 unreserved characters stay as they are).
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

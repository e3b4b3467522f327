//! Alerts: events that need a person (a failed or partial run, a stale pipeline, a lost
//! lease, a task the final reviewer rejected) sent to webhooks in the background.
//!
//! Each delivery is a POST of one JSON document (or Slack's `{"text": ...}`), signed the way
//! Stripe signs its webhooks: `X-Esg-Sync-Timestamp` carries the Unix time of the attempt and
//! `X-Esg-Sync-Signature` is `sha256=` and the hex HMAC-SHA256, under the alert's secret, of
//! the timestamp, a `.`, the delivery id (`X-Esg-Sync-Delivery`), a `.` and the raw body. A
//! receiver recomputes it, compares in constant time, refuses a timestamp older than a few
//! minutes and a delivery id it has already seen, so a captured request can be replayed
//! neither later nor under a new id. A delivery is retried on a connection failure, a
//! timeout, 408, 429 or 5xx by the API client's retry policy (full-jitter backoff, the
//! receiver's `Retry-After`); every delivery and its outcome is recorded in the state store. An alert never blocks
//! or fails a run: events wait in a bounded queue, and one that finds it full is dropped with
//! a warning.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::config::alert::{AlertConfig, AlertEvent, AlertFormat};
use crate::outcome::{Counts, Reject};
use crate::store::{DeliveryStatus, Store};
use crate::telemetry::{AlertSent, Event as _};
use crate::workiva::retry::{Failure, RetryAction, RetryPolicy, Tries};

/// Attempts per delivery (waits a receiver asks for with `Retry-After` not counted).
pub const MAX_ATTEMPTS: u32 = 6;

/// The client's retry policy, with a delivery's bounds: full-jitter backoff from 0.5 s,
/// doubling up to 60 s, at most [`MAX_ATTEMPTS`] attempts and 5 minutes in all, a receiver's
/// `Retry-After` honoured up to three times.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: MAX_ATTEMPTS,
        max_elapsed: Duration::from_secs(300),
        base: Duration::from_millis(500),
        cap: Duration::from_secs(60),
        max_server_waits: 3,
    }
}

/// A failed attempt, as the retry policy judges it.
struct Refused {
    retriable: bool,
    retry_after: Option<Duration>,
}

impl Failure for Refused {
    fn is_retriable(&self) -> bool {
        self.retriable
    }
    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}
/// Time allowed for one attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Events waiting to be delivered; beyond this they are dropped with a warning.
const QUEUE: usize = 1024;
/// Rejects an event carries (the status page and `esg-sync rejects` have them all).
pub const FIRST_REJECTS: usize = 10;

/// Something that happened, in plain data.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: AlertEvent,
    pub pipeline: Option<String>,
    pub run_id: Option<i64>,
    pub status: Option<String>,
    pub counts: Option<Counts>,
    /// The first [`FIRST_REJECTS`] rejected rows.
    pub rejects: Vec<Reject>,
    pub message: Option<String>,
    /// One plain sentence a person reads in a chat channel; no links.
    pub summary: String,
    /// `hand_edit`: the value, what esg-sync wrote, what the person entered, the lake's value.
    pub hand_edit: Option<crate::outcome::HandEdit>,
}

impl Event {
    /// An event with only a summary (and the pipeline, if any).
    pub fn new(kind: AlertEvent, pipeline: Option<&str>, summary: impl Into<String>) -> Self {
        Self {
            kind,
            pipeline: pipeline.map(str::to_string),
            run_id: None,
            status: None,
            counts: None,
            rejects: Vec::new(),
            message: None,
            summary: summary.into(),
            hand_edit: None,
        }
    }

    /// The JSON document of a `format = "json"` alert.
    pub fn document(&self, alert: &str, at: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
        json!({
            "event": self.kind.as_str(),
            "alert": alert,
            "pipeline": self.pipeline,
            "run_id": self.run_id,
            "status": self.status,
            "counts": self.counts,
            "rejects": self.rejects.iter().take(FIRST_REJECTS).map(|r| json!({
                "file": r.source_file,
                "row": r.source_row,
                "field": r.field,
                "reason": r.reason,
                "metric": r.metric_key,
                "period": r.period,
            })).collect::<Vec<_>>(),
            "message": self.message.as_deref().map(crate::redact::text),
            "summary": crate::redact::text(&self.summary),
            "hand_edit": self.hand_edit,
            "replica": crate::sync::lease::holder_id(),
            "occurred_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
    }

    /// The body for `format`.
    pub fn body(&self, alert: &str, format: AlertFormat) -> Vec<u8> {
        let v = match format {
            AlertFormat::Json => self.document(alert, chrono::Utc::now()),
            AlertFormat::Slack => {
                json!({ "text": format!("esg-sync: {}", crate::redact::text(&self.summary)) })
            }
        };
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

/// `sha256=<hex>`: HMAC-SHA256 under `secret` of `timestamp`, `.`, `delivery`, `.` and `body`.
pub fn signature(secret: &str, timestamp: i64, delivery: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(delivery.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// One alert, ready to send.
struct Target {
    config: AlertConfig,
    secret: Option<SecretString>,
}

/// Sends events to the configured alerts in the background. Cloning shares the queue.
#[derive(Clone)]
pub struct Alerter {
    tx: Option<tokio::sync::mpsc::Sender<Event>>,
    in_flight: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Alerter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerter")
            .field("enabled", &self.tx.is_some())
            .finish()
    }
}

/// The HTTP client of alerts: no redirects (a signed body goes only where it was configured
/// to), a time limit per attempt.
fn http() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent(concat!("esg-sync/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

impl Alerter {
    /// An alerter that sends nothing (no `[[alert]]` configured).
    pub fn none() -> Self {
        Self {
            tx: None,
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Reads each alert's secret and starts the background sender. Fails when a secret cannot
    /// be read, naming the alert.
    pub fn start(alerts: &[AlertConfig], store: Store) -> anyhow::Result<Self> {
        if alerts.is_empty() {
            return Ok(Self::none());
        }
        let targets = alerts
            .iter()
            .map(|a| {
                Ok(Arc::new(Target {
                    config: a.clone(),
                    secret: a.secret()?,
                }))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let http = http()?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(QUEUE);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counting = in_flight.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                for t in targets
                    .iter()
                    .filter(|t| t.config.events.contains(&ev.kind))
                {
                    let (t, ev, http, store, n) = (
                        t.clone(),
                        ev.clone(),
                        http.clone(),
                        store.clone(),
                        counting.clone(),
                    );
                    n.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let _ = deliver(&http, &store, &t.config, t.secret.as_ref(), &ev).await;
                        n.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                counting.fetch_sub(1, Ordering::SeqCst);
            }
        });
        Ok(Self {
            tx: Some(tx),
            in_flight,
        })
    }

    /// Queues `ev` for every alert subscribed to its kind; never waits.
    pub fn emit(&self, ev: Event) {
        let Some(tx) = &self.tx else { return };
        // Counted per delivery when the sender fans it out; one for the queued event itself.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let kind = ev.kind;
        if tx.try_send(ev).is_err() {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(
                event = kind.as_str(),
                "The alert queue is full; this event is dropped."
            );
        }
    }

    /// Waits up to `limit` for queued and running deliveries to end (at shutdown).
    pub async fn flush(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.in_flight.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether any alert is configured.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }
}

/// What one delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub id: Option<i64>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// Whether an answer is worth another attempt.
fn retriable(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429
}

/// One signed attempt of a delivery, its answer written in `out`; the failure when it was not
/// delivered.
async fn attempt(
    http: &reqwest::Client,
    alert: &AlertConfig,
    secret: Option<&SecretString>,
    ev: &Event,
    delivery: &str,
    body: &[u8],
    out: &mut Delivered,
) -> Option<Refused> {
    let ts = chrono::Utc::now().timestamp();
    let mut req = http
        .post(alert.url.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Esg-Sync-Event", ev.kind.as_str())
        .header("X-Esg-Sync-Timestamp", ts.to_string())
        .header("X-Esg-Sync-Delivery", delivery)
        .body(body.to_vec());
    if let Some(s) = secret {
        req = req.header(
            "X-Esg-Sync-Signature",
            signature(s.expose_secret(), ts, delivery, body),
        );
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => {
            out.status = DeliveryStatus::Delivered;
            out.http_status = Some(r.status().as_u16());
            out.error = None;
            None
        }
        Ok(r) => {
            out.http_status = Some(r.status().as_u16());
            out.error = Some(format!("the receiver answered {}", r.status()));
            Some(Refused {
                retriable: retriable(r.status()),
                retry_after: r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(crate::workiva::retry::parse_retry_after),
            })
        }
        Err(e) => {
            out.http_status = None;
            // Never the URL: its path may be the receiver's secret.
            out.error = Some(if e.is_timeout() {
                format!("no answer within {ATTEMPT_TIMEOUT:?}")
            } else {
                "cannot connect to the receiver".to_string()
            });
            Some(Refused {
                retriable: true,
                retry_after: None,
            })
        }
    }
}

/// Delivers `ev` to one alert, retrying with backoff, and records each step in the store (a
/// store that cannot record does not stop the delivery).
async fn deliver(
    http: &reqwest::Client,
    store: &Store,
    alert: &AlertConfig,
    secret: Option<&SecretString>,
    ev: &Event,
) -> Delivered {
    let id = match store
        .delivery_start(
            &alert.name,
            ev.kind.as_str(),
            ev.pipeline.as_deref(),
            ev.run_id,
        )
        .await
    {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(alert = %alert.name, error = %e, "Cannot record the alert delivery; sending it anyway.");
            None
        }
    };
    let body = ev.body(&alert.name, alert.format);
    // The delivery id is signed: a receiver that keeps the ids it has seen refuses a captured
    // request sent again, whatever id it is given. Unrecorded, it is a fresh UUID.
    let delivery = id
        .map(|i| i.to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (policy, mut tries) = (policy(), Tries::start());
    let mut out = Delivered {
        id,
        status: DeliveryStatus::Failed,
        attempts: 0,
        http_status: None,
        error: None,
    };
    loop {
        out.attempts += 1;
        let n = out.attempts;
        let Some(failure) = attempt(http, alert, secret, ev, &delivery, &body, &mut out).await
        else {
            break;
        };
        if let Some(id) = id {
            let _ = store
                .delivery_update(
                    id,
                    DeliveryStatus::Pending,
                    n,
                    out.http_status,
                    out.error.as_deref(),
                )
                .await;
        }
        let delay = match tries.next(&policy, &failure) {
            RetryAction::Retry { delay, .. } => delay,
            RetryAction::Stop | RetryAction::WaitTooLong { .. } => break,
        };
        tracing::debug!(alert = %alert.name, attempt = n, error = out.error.as_deref().unwrap_or(""), "Alert delivery failed; trying again.");
        tokio::time::sleep(delay).await;
    }
    recorded(store, alert, ev, &out).await;
    out
}

/// Records a delivery's outcome, logs and counts it.
async fn recorded(store: &Store, alert: &AlertConfig, ev: &Event, out: &Delivered) {
    if let Some(id) = out.id
        && let Err(e) = store
            .delivery_update(
                id,
                out.status,
                out.attempts,
                out.http_status,
                out.error.as_deref(),
            )
            .await
    {
        tracing::warn!(alert = %alert.name, error = %e, "Cannot record the alert delivery's outcome.");
    }
    match out.status {
        DeliveryStatus::Delivered => {
            tracing::info!(alert = %alert.name, event = ev.kind.as_str(), attempts = out.attempts, "Alert delivered.")
        }
        _ => {
            tracing::error!(alert = %alert.name, event = ev.kind.as_str(), receiver = %alert.shown_url(), attempts = out.attempts, error = out.error.as_deref().unwrap_or(""), "Alert not delivered.")
        }
    }
    AlertSent {
        alert: &alert.name,
        delivered: out.status == DeliveryStatus::Delivered,
    }
    .emit();
}

/// `esg-sync alerts test --name NAME`: sends a test event to one alert now and says how it
/// went.
pub async fn send_test(alert: &AlertConfig, store: &Store) -> anyhow::Result<Delivered> {
    let secret = alert.secret()?;
    let ev = Event::new(
        AlertEvent::Test,
        None,
        format!(
            "a test alert from esg-sync to `{}`; if you can read this, alerts reach you",
            alert.name
        ),
    );
    Ok(deliver(&http()?, store, alert, secret.as_ref(), &ev).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_delivery_and_body() {
        // The same as Python's hmac.new(b"whsec_test_0123456789abcdef012345",
        // b'1700000000.42.{"a":1}', hashlib.sha256).hexdigest().
        let k = "whsec_test_0123456789abcdef012345";
        let s = signature(k, 1_700_000_000, "42", br#"{"a":1}"#);
        assert_eq!(
            s,
            "sha256=c2531dfda37e8d7bd9fa66ba0601db2d81ba2e9269bd898772f108cf1c07a138"
        );
        assert_ne!(s, signature(k, 1_700_000_001, "42", br#"{"a":1}"#));
        assert_ne!(s, signature(k, 1_700_000_000, "43", br#"{"a":1}"#));
        assert_ne!(s, signature(k, 1_700_000_000, "42", br#"{"a":2}"#));
        assert_ne!(
            s,
            signature(
                "whsec_tesT_0123456789abcdef012345",
                1_700_000_000,
                "42",
                br#"{"a":1}"#
            )
        );
    }

    #[test]
    fn a_slack_alert_is_its_summary_and_a_json_one_the_whole_event() {
        let mut ev = Event::new(
            AlertEvent::RunFailed,
            Some("emissions"),
            "pipeline `emissions` run 7 failed",
        );
        ev.run_id = Some(7);
        ev.status = Some("failed".into());
        ev.rejects = (0..15)
            .map(|i| Reject {
                source_file: "lake.parquet".into(),
                source_row: i,
                field: "value".into(),
                reason: "not a number".into(),
                metric_key: None,
                period: None,
                value: None,
            })
            .collect();
        let slack: serde_json::Value =
            serde_json::from_slice(&ev.body("team", AlertFormat::Slack)).unwrap();
        assert_eq!(
            slack,
            json!({"text": "esg-sync: pipeline `emissions` run 7 failed"})
        );
        let doc: serde_json::Value =
            serde_json::from_slice(&ev.body("team", AlertFormat::Json)).unwrap();
        assert_eq!(doc["event"], "run_failed");
        assert_eq!(doc["alert"], "team");
        assert_eq!(doc["pipeline"], "emissions");
        assert_eq!(doc["run_id"], 7);
        assert_eq!(doc["rejects"].as_array().unwrap().len(), FIRST_REJECTS);
        assert!(doc["occurred_at"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn only_transient_answers_are_retried() {
        for (code, again) in [
            (500, true),
            (503, true),
            (408, true),
            (429, true),
            (400, false),
            (401, false),
            (404, false),
            (410, false),
        ] {
            assert_eq!(
                retriable(reqwest::StatusCode::from_u16(code).unwrap()),
                again,
                "{code}"
            );
        }
    }
}

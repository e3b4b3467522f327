//! [`WorkivaClient`]: a typed method for every endpoint the emulator serves, lists as streams
//! that follow `@nextLink` to the end, and batch operations polled to their outcome.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{Stream, TryStreamExt};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::config::{
    API_VERSION, LEGACY_SUNSET, LEGACY_VERSION, WorkivaConfig, days_to_legacy_sunset,
};
use super::error::{Result, WorkivaError};
use super::http::{Probe, Request, Response, Transport};
use super::models::*;
use super::pages::Pages;

/// Filter and order for a list request.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `$filter`, e.g. `reportingPeriod.year ge 2024`.
    pub filter: Option<String>,
    /// `$orderBy`, e.g. `name desc`.
    pub order_by: Option<String>,
}

impl ListOptions {
    pub fn filter(f: impl Into<String>) -> Self {
        Self {
            filter: Some(f.into()),
            order_by: None,
        }
    }
}

/// Quotes a string for `$filter` (a double quote is doubled).
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// An accepted batch upsertion: where to poll, and how long the server asked us to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRef {
    pub url: String,
    pub retry_after: Option<Duration>,
}

#[derive(Clone)]
pub struct WorkivaClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) cfg: WorkivaConfig,
    pub(super) base: reqwest::Url,
    pub(super) transport: Transport,
}

impl std::fmt::Debug for WorkivaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkivaClient")
            .field("config", &self.inner.cfg)
            .field("transport", &self.inner.transport)
            .finish()
    }
}

pub(super) fn decode<T: DeserializeOwned>(req: &Request, resp: &Response) -> Result<T> {
    serde_json::from_slice(&resp.body).map_err(|e| WorkivaError::Decode {
        method: req.method.to_string(),
        path: req.template.to_string(),
        status: resp.status,
        reason: e.to_string(),
    })
}

fn to_body<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("models serialise")
}

/// The deprecated batch upsertion endpoint.
const LEGACY_UPSERT: &str =
    "/prototype/platform/programs/{programId}/metrics/{metricId}/values/batchUpsertion";

impl WorkivaClient {
    /// Builds a client; checks the settings and reads the secret first.
    pub fn new(cfg: WorkivaConfig) -> Result<Self> {
        let transport = Transport::new(&cfg)?;
        let base = reqwest::Url::parse(&cfg.base_url())
            .map_err(|e| WorkivaError::Config(format!("workiva.base_url: {e}")))?;
        if cfg.legacy_batch_path() {
            let days = days_to_legacy_sunset(chrono::Utc::now().date_naive());
            tracing::warn!(
                sunset = LEGACY_SUNSET,
                days_left = days,
                "Batch upsertions will use the deprecated {LEGACY_VERSION} path /prototype/platform/..., which Workiva retires on {LEGACY_SUNSET} ({days} days left); set workiva.api_version = \"{API_VERSION}\"."
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                base,
                transport,
            }),
        })
    }

    pub fn config(&self) -> &WorkivaConfig {
        &self.inner.cfg
    }

    /// Obtains an access token (the cached one while it is fresh): proves the token endpoint
    /// and the credentials work.
    pub async fn check_token(&self) -> Result<()> {
        self.inner.transport.tokens.token().await.map(|_| ())
    }

    /// How many access tokens were fetched so far.
    pub fn token_fetches(&self) -> u64 {
        self.inner.transport.tokens.fetches()
    }

    /// The adaptive concurrency limit now: requests the client lets be in flight at once.
    pub fn concurrency_limit(&self) -> usize {
        self.inner.transport.limiter.limit()
    }

    /// An absolute URL from path segments (each percent-encoded).
    /// The URL of the endpoint `template` (`/programs/{programId}`) with its placeholders
    /// filled by `ids`, in order, each percent-encoded as one path segment: every endpoint
    /// states its path once, and the request log and metrics name it by the same template.
    fn url(&self, template: &'static str, ids: &[&str]) -> String {
        let mut u = self.inner.base.clone();
        {
            let mut p = u.path_segments_mut().expect("http(s) URLs have paths");
            p.pop_if_empty();
            let mut ids = ids.iter();
            for seg in template.trim_start_matches('/').split('/') {
                if seg.starts_with('{') {
                    p.push(ids.next().copied().unwrap_or_default());
                } else {
                    p.push(seg);
                }
            }
            debug_assert!(ids.next().is_none(), "more ids than {template} has places");
        }
        u.to_string()
    }

    fn req(
        &self,
        method: Method,
        template: &'static str,
        ids: &[&str],
        body: Option<Vec<u8>>,
    ) -> Request {
        Request {
            method,
            url: self.url(template, ids),
            template,
            query: Vec::new(),
            body,
            version: API_VERSION,
        }
    }

    async fn call<T: DeserializeOwned>(&self, req: Request) -> Result<T> {
        let resp = self.inner.transport.send(&req, None).await?;
        decode(&req, &resp)
    }

    async fn call_empty(&self, req: Request) -> Result<()> {
        self.inner.transport.send(&req, None).await.map(|_| ())
    }

    /// A create: if a failed attempt may have reached Workiva, `find` looks for the object
    /// before the next attempt, so a retry never makes a duplicate.
    async fn create<T, F, Fut>(&self, req: Request, find: F) -> Result<T>
    where
        T: DeserializeOwned + Serialize,
        F: Fn() -> Fut + Send + Sync,
        Fut: std::future::Future<Output = Result<Option<T>>> + Send,
    {
        let probe: Probe<'_> = Box::new(move || {
            let fut = find();
            Box::pin(async move { Ok(fut.await?.map(|t| bytes::Bytes::from(to_body(&t)))) })
        });
        let resp = self.inner.transport.send(&req, Some(probe)).await?;
        decode(&req, &resp)
    }

    /// A JSON Patch of one `replace`.
    async fn patch<T: DeserializeOwned>(
        &self,
        template: &'static str,
        segments: &[&str],
        path: &str,
        value: Value,
    ) -> Result<T> {
        let op = json!({"op": "replace", "path": path, "value": value});
        self.patch_ops(template, segments, vec![op]).await
    }

    /// A JSON Patch document of these operations, in order.
    async fn patch_ops<T: DeserializeOwned>(
        &self,
        template: &'static str,
        segments: &[&str],
        ops: Vec<Value>,
    ) -> Result<T> {
        let body = to_body(&ops);
        self.call(self.req(Method::PATCH, template, segments, Some(body)))
            .await
    }

    // ---- lists ----

    /// Every item of a list, following `@nextLink` exactly, to the end. A `@nextLink` seen
    /// twice is an error, never a loop.
    pub fn stream<'a, T: DeserializeOwned + Send + 'a>(
        &'a self,
        template: &'static str,
        url: String,
        opts: &ListOptions,
    ) -> impl Stream<Item = Result<T>> + Send + 'a {
        let mut query = vec![("$maxpagesize", self.inner.cfg.page_size.to_string())];
        if let Some(f) = &opts.filter {
            query.push(("$filter", f.clone()));
        }
        if let Some(o) = &opts.order_by {
            query.push(("$orderBy", o.clone()));
        }
        let first = Request {
            method: Method::GET,
            url,
            template,
            query,
            body: None,
            version: API_VERSION,
        };
        let pages = Pages::new(
            &self.inner.transport,
            &self.inner.cfg,
            template,
            Some(self.inner.cfg.page_size),
        );
        let state = (Some(first), pages, VecDeque::<T>::new());
        futures_util::stream::try_unfold(state, move |(mut next, mut pages, mut buf)| async move {
            loop {
                if let Some(item) = buf.pop_front() {
                    return Ok(Some((item, (next, pages, buf))));
                }
                let Some(req) = next.take() else {
                    return Ok(None);
                };
                let resp = self.inner.transport.send(&req, None).await?;
                let page: Page<T> = decode(&req, &resp)?;
                let link = pages.follow(page.data.len(), page.next_link)?;
                buf.extend(page.data);
                if let Some(link) = link {
                    next = Some(Request {
                        url: link,
                        query: Vec::new(),
                        ..req
                    });
                }
            }
        })
    }

    /// Collects a whole list.
    pub async fn list<T: DeserializeOwned + Send>(
        &self,
        template: &'static str,
        ids: &[&str],
        opts: &ListOptions,
    ) -> Result<Vec<T>> {
        self.stream(template, self.url(template, ids), opts)
            .try_collect()
            .await
    }

    // ---- programs ----

    pub async fn programs(&self, opts: &ListOptions) -> Result<Vec<Program>> {
        self.list("/programs", &[], opts).await
    }

    pub async fn program(&self, id: &str) -> Result<Program> {
        self.call(self.req(Method::GET, "/programs/{programId}", &[id], None))
            .await
    }

    /// The program with exactly this name, if any.
    pub async fn find_program(&self, name: &str) -> Result<Option<Program>> {
        let found = self
            .programs(&ListOptions::filter(format!("name eq {}", quote(name))))
            .await?;
        Ok(found.into_iter().find(|p| p.name == name))
    }

    pub async fn create_program(&self, name: &str) -> Result<Program> {
        let body = to_body(&json!({ "name": name }));
        self.create(self.req(Method::POST, "/programs", &[], Some(body)), || {
            self.find_program(name)
        })
        .await
    }

    pub async fn rename_program(&self, id: &str, name: &str) -> Result<Program> {
        self.patch("/programs/{programId}", &[id], "/name", json!(name))
            .await
    }

    // ---- topics ----

    pub async fn topics(&self, program: &str) -> Result<Vec<Topic>> {
        self.list(
            "/programs/{programId}/topics",
            &[program],
            &ListOptions::default(),
        )
        .await
    }

    pub async fn topic(&self, program: &str, id: &str) -> Result<Topic> {
        self.call(self.req(
            Method::GET,
            "/programs/{programId}/topics/{topicId}",
            &[program, id],
            None,
        ))
        .await
    }

    pub async fn create_topic(&self, program: &str, topic: &Topic) -> Result<Topic> {
        let req = self.req(
            Method::POST,
            "/programs/{programId}/topics",
            &[program],
            Some(to_body(topic)),
        );
        self.create(req, || async {
            Ok(self
                .topics(program)
                .await?
                .into_iter()
                .find(|t| t.name == topic.name && t.parent == topic.parent))
        })
        .await
    }

    /// Replaces one property (`/name`, `/index` or `/parent`).
    pub async fn patch_topic(
        &self,
        program: &str,
        id: &str,
        path: &str,
        value: Value,
    ) -> Result<Topic> {
        self.patch(
            "/programs/{programId}/topics/{topicId}",
            &[program, id],
            path,
            value,
        )
        .await
    }

    pub async fn delete_topic(&self, program: &str, id: &str) -> Result<()> {
        self.call_empty(self.req(
            Method::DELETE,
            "/programs/{programId}/topics/{topicId}",
            &[program, id],
            None,
        ))
        .await
    }

    // ---- dimensions ----

    /// Dimensions without their values (Workiva lists them with `values: null`).
    pub async fn dimensions(&self, program: &str, opts: &ListOptions) -> Result<Vec<Dimension>> {
        self.list("/programs/{programId}/dimensions", &[program], opts)
            .await
    }

    /// One dimension with its values.
    pub async fn dimension(&self, program: &str, id: &str) -> Result<Dimension> {
        self.call(self.req(
            Method::GET,
            "/programs/{programId}/dimensions/{dimensionId}",
            &[program, id],
            None,
        ))
        .await
    }

    pub async fn create_dimension(
        &self,
        program: &str,
        dimension: &Dimension,
    ) -> Result<Dimension> {
        let req = self.req(
            Method::POST,
            "/programs/{programId}/dimensions",
            &[program],
            Some(to_body(dimension)),
        );
        let name = dimension.name.clone().unwrap_or_default();
        self.create(req, || async {
            let found = self
                .dimensions(
                    program,
                    &ListOptions::filter(format!("name eq {}", quote(&name))),
                )
                .await?;
            match found
                .into_iter()
                .find(|d| d.name.as_deref() == Some(name.as_str()))
            {
                Some(d) => self.dimension(program, &d.id).await.map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    /// Replaces one property (`/active`, `/name` or `/values`).
    pub async fn patch_dimension(
        &self,
        program: &str,
        id: &str,
        path: &str,
        value: Value,
    ) -> Result<Dimension> {
        self.patch(
            "/programs/{programId}/dimensions/{dimensionId}",
            &[program, id],
            path,
            value,
        )
        .await
    }

    /// Replaces a dimension's `/values` with `new` only if they are still `expected` (a
    /// `test` then a `replace` in one patch, applied atomically): when another writer changed
    /// them since they were read, the answer is a 409 and nothing changes.
    pub async fn patch_dimension_values_tested(
        &self,
        program: &str,
        id: &str,
        expected: Value,
        new: Value,
    ) -> Result<Dimension> {
        self.patch_ops(
            "/programs/{programId}/dimensions/{dimensionId}",
            &[program, id],
            vec![
                json!({"op": "test", "path": "/values", "value": expected}),
                json!({"op": "replace", "path": "/values", "value": new}),
            ],
        )
        .await
    }

    // ---- metrics ----

    pub async fn metrics(&self, program: &str, opts: &ListOptions) -> Result<Vec<Metric>> {
        self.list("/programs/{programId}/metrics", &[program], opts)
            .await
    }

    pub async fn metric(&self, program: &str, id: &str) -> Result<Metric> {
        self.call(self.req(
            Method::GET,
            "/programs/{programId}/metrics/{metricId}",
            &[program, id],
            None,
        ))
        .await
    }

    /// The metric with exactly this name, if any.
    pub async fn find_metric(&self, program: &str, name: &str) -> Result<Option<Metric>> {
        let found = self
            .metrics(
                program,
                &ListOptions::filter(format!("name eq {}", quote(name))),
            )
            .await?;
        Ok(found.into_iter().find(|m| m.name == name))
    }

    pub async fn create_metric(&self, program: &str, metric: &Metric) -> Result<Metric> {
        let req = self.req(
            Method::POST,
            "/programs/{programId}/metrics",
            &[program],
            Some(to_body(metric)),
        );
        self.create(req, || self.find_metric(program, &metric.name))
            .await
    }

    /// Replaces one property (`/name`, `/unit`, `/datatype`, ...).
    pub async fn patch_metric(
        &self,
        program: &str,
        id: &str,
        path: &str,
        value: Value,
    ) -> Result<Metric> {
        self.patch(
            "/programs/{programId}/metrics/{metricId}",
            &[program, id],
            path,
            value,
        )
        .await
    }

    pub async fn delete_metric(&self, program: &str, id: &str) -> Result<()> {
        self.call_empty(self.req(
            Method::DELETE,
            "/programs/{programId}/metrics/{metricId}",
            &[program, id],
            None,
        ))
        .await
    }

    // ---- metric values ----

    pub fn values_stream<'a>(
        &'a self,
        program: &str,
        metric: &str,
        opts: &ListOptions,
    ) -> impl Stream<Item = Result<MetricValue>> + Send + 'a {
        self.stream(
            "/programs/{programId}/metrics/{metricId}/values",
            self.url(
                "/programs/{programId}/metrics/{metricId}/values",
                &[program, metric],
            ),
            opts,
        )
    }

    pub async fn values(
        &self,
        program: &str,
        metric: &str,
        opts: &ListOptions,
    ) -> Result<Vec<MetricValue>> {
        self.values_stream(program, metric, opts)
            .try_collect()
            .await
    }

    /// A metric's values in the compact form the sync's diff reads ([`ListedValue`]).
    pub async fn listed_values(
        &self,
        program: &str,
        metric: &str,
        opts: &ListOptions,
    ) -> Result<Vec<ListedValue>> {
        self.list(
            "/programs/{programId}/metrics/{metricId}/values",
            &[program, metric],
            opts,
        )
        .await
    }

    pub async fn value(&self, program: &str, metric: &str, id: &str) -> Result<MetricValue> {
        self.call(self.req(
            Method::GET,
            "/programs/{programId}/metrics/{metricId}/values/{metricValueId}",
            &[program, metric, id],
            None,
        ))
        .await
    }

    pub async fn create_value(
        &self,
        program: &str,
        metric: &str,
        value: &MetricValue,
    ) -> Result<MetricValue> {
        let req = self.req(
            Method::POST,
            "/programs/{programId}/metrics/{metricId}/values",
            &[program, metric],
            Some(to_body(value)),
        );
        self.create(req, || async {
            let Some(p) = value.reporting_period else { return Ok(None) };
            let filter = format!("reportingPeriod.year eq {} and reportingPeriod.start eq {} and reportingPeriod.end eq {}", p.year, p.start, p.end);
            let coords = value.coordinates.clone().unwrap_or_default();
            Ok(self
                .values(program, metric, &ListOptions::filter(filter))
                .await?
                .into_iter()
                .find(|v| v.coordinates.clone().unwrap_or_default() == coords))
        })
        .await
    }

    /// Replaces `/value` or `/notes` of one value.
    pub async fn patch_value(
        &self,
        program: &str,
        metric: &str,
        id: &str,
        path: &str,
        value: Value,
    ) -> Result<MetricValue> {
        self.patch(
            "/programs/{programId}/metrics/{metricId}/values/{metricValueId}",
            &[program, metric, id],
            path,
            value,
        )
        .await
    }

    pub async fn delete_value(&self, program: &str, metric: &str, id: &str) -> Result<()> {
        self.call_empty(self.req(
            Method::DELETE,
            "/programs/{programId}/metrics/{metricId}/values/{metricValueId}",
            &[program, metric, id],
            None,
        ))
        .await
    }

    /// Sends a batch upsertion and returns the operation to poll. The body must stay within
    /// 10,485,760 bytes (else [`WorkivaError::BodyTooLarge`], nothing sent). Upsertion by key is
    /// idempotent, so a retried batch is safe; a 409 (an upsertion of this metric still in
    /// flight, possibly our own earlier attempt) is waited out with backoff.
    pub async fn batch_upsert(
        &self,
        program: &str,
        metric: &str,
        values: &[MetricValue],
    ) -> Result<OperationRef> {
        let body = to_body(&json!({ "data": values }));
        self.batch_upsert_raw(program, metric, body).await
    }

    /// The batch upsertion's request: the current path, or the deprecated one when
    /// `api_version = "2022-01-01"`.
    fn upsert_request(&self, program: &str, metric: &str, body: Vec<u8>) -> Request {
        if self.inner.cfg.legacy_batch_path() {
            return Request {
                method: Method::POST,
                url: self.url(LEGACY_UPSERT, &[program, metric]),
                template: LEGACY_UPSERT,
                query: Vec::new(),
                body: Some(body),
                version: LEGACY_VERSION,
            };
        }
        self.req(
            Method::POST,
            "/programs/{programId}/metrics/{metricId}/values/batchUpsertion",
            &[program, metric],
            Some(body),
        )
    }

    /// As [`Self::batch_upsert`], with a body already serialised as `{"data": [...]}`.
    pub async fn batch_upsert_raw(
        &self,
        program: &str,
        metric: &str,
        body: Vec<u8>,
    ) -> Result<OperationRef> {
        let req = self.upsert_request(program, metric, body);
        let started = Instant::now();
        let mut waits = 0u32;
        let resp = loop {
            match self.inner.transport.send(&req, None).await {
                Ok(r) => break r,
                Err(e) if e.status() == Some(409) => {
                    // An earlier attempt of this very request lost its answer, and the metric
                    // now has an operation running: that operation is this batch. It is
                    // polled, never sent twice; if it failed, the caller narrows it down.
                    if let WorkivaError::RetriesExhausted {
                        earlier_may_have_reached: true,
                        last,
                        ..
                    } = &e
                        && let Some(op) = running_operation(last)
                    {
                        tracing::info!(path = req.template, operation = %op, "The answer to a batch upsertion was lost and the metric's operation is running: polling it instead of sending the batch again.");
                        return Ok(OperationRef {
                            url: self.url("/operations/{operationId}", &[&op]),
                            retry_after: None,
                        });
                    }
                    if started.elapsed()
                        >= Duration::from_secs(self.inner.cfg.operation_timeout_secs)
                    {
                        return Err(e);
                    }
                    waits += 1;
                    super::tally::add(&e);
                    let delay = self
                        .inner
                        .transport
                        .policy
                        .backoff(waits.min(8), 0.5 + fastrand::f64() / 2.0)
                        .max(Duration::from_millis(self.inner.cfg.poll_min_ms));
                    tracing::debug!(path = req.template, delay_ms = delay.as_millis() as u64, reason = %e.last(), "Another upsertion of this metric is in flight; waiting before sending the batch.");
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        };
        self.operation_of(&req, &resp)
    }

    /// Where a 202 says its operation is: `operationLocation` in the body, else `Location`,
    /// checked to be the API's.
    fn operation_of(&self, req: &Request, resp: &Response) -> Result<OperationRef> {
        let from_body = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| {
                v.get("operationLocation")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        let (what, url) = match from_body {
            Some(u) => ("operationLocation", Some(u)),
            None => ("Location", resp.header("location").map(str::to_string)),
        };
        let url = url.ok_or_else(|| WorkivaError::Decode {
            method: "POST".into(),
            path: req.template.into(),
            status: resp.status,
            reason: "the 202 answer has neither operationLocation nor Location".into(),
        })?;
        self.inner.transport.check_origin(what, &url)?;
        Ok(OperationRef {
            url,
            retry_after: resp.retry_after(),
        })
    }

    /// Deletes values by id or by period and coordinates (immediate; 204).
    pub async fn batch_delete(
        &self,
        program: &str,
        metric: &str,
        ids: &[ValueIdentifier],
    ) -> Result<()> {
        let body = to_body(&json!({ "data": ids }));
        self.call_empty(self.req(
            Method::POST,
            "/programs/{programId}/metrics/{metricId}/values/batchDeletion",
            &[program, metric],
            Some(body),
        ))
        .await
    }

    // ---- permissions ----

    /// The workspace's permission definitions (Editor, Viewer, Owner, ...).
    pub async fn permissions(&self) -> Result<Vec<Permission>> {
        self.list("/permissions", &[], &ListOptions::default())
            .await
    }

    pub async fn program_permissions(
        &self,
        program: &str,
        opts: &ListOptions,
    ) -> Result<Vec<ResourcePermission>> {
        self.list("/programs/{programId}/permissions", &[program], opts)
            .await
    }

    /// Assigns and revokes in one all-or-nothing request.
    pub async fn modify_program_permissions(
        &self,
        program: &str,
        assign: &[ResourcePermission],
        revoke: &[ResourcePermission],
    ) -> Result<()> {
        let body = to_body(&json!({ "toAssign": assign, "toRevoke": revoke }));
        self.call_empty(self.req(
            Method::POST,
            "/programs/{programId}/permissions/modification",
            &[program],
            Some(body),
        ))
        .await
    }

    // ---- tasks ----

    pub async fn tasks(&self, opts: &ListOptions) -> Result<Vec<Task>> {
        self.list("/tasks", &[], opts).await
    }

    pub async fn task(&self, id: &str) -> Result<Task> {
        self.call(self.req(Method::GET, "/tasks/{taskId}", &[id], None))
            .await
    }

    pub async fn task_action(
        &self,
        id: &str,
        action: TaskAction,
        comment: Option<&str>,
    ) -> Result<Task> {
        let body = to_body(&json!({ "action": action, "comment": comment }));
        self.call(self.req(
            Method::POST,
            "/tasks/{taskId}/actionSubmission",
            &[id],
            Some(body),
        ))
        .await
    }
}

/// The operation a 409 for a busy metric names (`Operation `ID` is still upserting ...`), when
/// it names one in a form we can use.
fn running_operation(e: &WorkivaError) -> Option<String> {
    let WorkivaError::Api(a) = e else {
        return None;
    };
    let rest = a.message.split_once("Operation `")?.1;
    let id = rest.split('`').next()?;
    (!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then(|| id.to_string())
}

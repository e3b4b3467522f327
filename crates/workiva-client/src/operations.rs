//! Asynchronous operations: polled on their `Retry-After` (clamped to the configured bounds)
//! until completed, failed or timed out, and the values a completed batch upsertion wrote.

use std::time::{Duration, Instant};

use reqwest::Method;

use super::client::{OperationRef, WorkivaClient, decode};
use super::config::API_VERSION;
use super::error::{Result, WorkivaError};
use super::http::Request;
use super::models::*;
use super::pages::Pages;
use super::telemetry::{Event, OperationOutcome, OperationWaited};

impl WorkivaClient {
    async fn poll(&self, url: &str) -> Result<(Operation, Option<Duration>)> {
        let req = Request {
            method: Method::GET,
            url: url.to_string(),
            template: "/operations/{operationId}",
            query: Vec::new(),
            body: None,
            version: API_VERSION,
        };
        let resp = self.inner.transport.send(&req, None).await?;
        Ok((decode(&req, &resp)?, resp.retry_after()))
    }

    /// The operation now.
    pub async fn operation(&self, url: &str) -> Result<Operation> {
        Ok(self.poll(url).await?.0)
    }

    /// Polls until the operation is completed (Ok), failed or cancelled
    /// ([`WorkivaError::OperationFailed`] with Workiva's details), or the configured time
    /// runs out ([`WorkivaError::OperationTimeout`], which keeps the URL to resume with). Each
    /// wait is the server's `Retry-After`, clamped to `poll_min_ms..=poll_max_ms`.
    pub async fn wait_operation(&self, op: &OperationRef) -> Result<Operation> {
        let cfg = &self.inner.cfg;
        let (min, max) = (
            Duration::from_millis(cfg.poll_min_ms),
            Duration::from_millis(cfg.poll_max_ms),
        );
        let limit = Duration::from_secs(cfg.operation_timeout_secs);
        let started = Instant::now();
        let mut wait = op.retry_after.unwrap_or(min).clamp(min, max);
        let mut status = "accepted".to_string();
        loop {
            if started.elapsed() + wait > limit {
                OperationWaited {
                    outcome: OperationOutcome::Timeout,
                    waited: started.elapsed(),
                }
                .emit();
                return Err(WorkivaError::OperationTimeout {
                    url: op.url.clone(),
                    status,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(wait).await;
            let (o, retry_after) = self.poll(&op.url).await?;
            match o.status.as_str() {
                "completed" => {
                    OperationWaited {
                        outcome: OperationOutcome::Completed,
                        waited: started.elapsed(),
                    }
                    .emit();
                    return Ok(o);
                }
                "failed" | "cancelled" => {
                    OperationWaited {
                        outcome: OperationOutcome::Failed,
                        waited: started.elapsed(),
                    }
                    .emit();
                    return Err(WorkivaError::OperationFailed {
                        url: op.url.clone(),
                        details: o.details.unwrap_or_default(),
                    });
                }
                _ => {}
            }
            status = o.status;
            wait = retry_after.unwrap_or(min).clamp(min, max);
        }
    }

    /// The values a completed batch upsertion wrote, from its `resourceUrl`, every page.
    pub async fn operation_results(&self, op: &Operation) -> Result<Vec<MetricValue>> {
        let Some(url) = &op.resource_url else {
            return Ok(Vec::new());
        };
        let first = Request {
            method: Method::GET,
            url: url.clone(),
            template: "/operations/{operationId}/metricValuesBatchUpsertionResults",
            query: Vec::new(),
            body: None,
            version: API_VERSION,
        };
        self.inner.transport.check_origin("resourceUrl", url)?;
        let mut out = Vec::new();
        let mut pages = Pages::new(&self.inner.transport, &self.inner.cfg, first.template, None);
        let mut next = Some(first);
        while let Some(req) = next.take() {
            let resp = self.inner.transport.send(&req, None).await?;
            let page: Page<MetricValue> = decode(&req, &resp)?;
            let link = pages.follow(page.data.len(), page.next_link)?;
            out.extend(page.data);
            if let Some(link) = link {
                next = Some(Request { url: link, ..req });
            }
        }
        Ok(out)
    }

    /// Upserts one batch and waits for it: the usual way to write values.
    pub async fn upsert_and_wait(
        &self,
        program: &str,
        metric: &str,
        values: &[MetricValue],
    ) -> Result<Operation> {
        let op = self.batch_upsert(program, metric, values).await?;
        self.wait_operation(&op).await
    }
}

//! Asynchronous operations: batch upsertions queued per metric, advanced as time passes, their
//! results kept.

use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use super::Store;
use crate::config::OperationTiming;
use crate::error::{ApiError, ApiResult, Detail};
use crate::model::*;

impl Store {
    /// Queues a batch upsertion. A second one for a metric with one in flight is a 409.
    pub fn submit_upsertion(
        &mut self,
        program: &str,
        metric: &str,
        items: Vec<UpsertItem>,
        timing: &OperationTiming,
        inject_failure: bool,
        now: Instant,
    ) -> ApiResult<String> {
        let (pid, mid) = self.metric_ids(program, metric)?;
        if let Some(op) = self.in_flight.get(&mid) {
            return Err(ApiError::conflict(format!(
                "Operation `{op}` is still upserting values of this metric; wait until it completes before sending the next batch"
            ))
            .with_target("metricId"));
        }
        let queued_until = now + Duration::from_millis(timing.queued_ms);
        let work = timing.base_ms * 1000 + timing.per_value_us * items.len() as u64;
        let complete_at = queued_until + Duration::from_micros(work);
        let id = Uuid::new_v4().simple().to_string();
        let t = Utc::now();
        self.operations.insert(
            id.clone(),
            Operation {
                id: id.clone(),
                created: t,
                updated: t,
                original_request: Uuid::new_v4(),
                program: pid,
                metric: mid,
                items,
                queued_until,
                complete_at,
                status: OpStatus::Queued,
                details: Vec::new(),
                results: Vec::new(),
                inject_failure,
                refuse: (Vec::new(), false),
            },
        );
        self.pending.push(id.clone());
        self.in_flight.insert(mid, id.clone());
        Ok(id)
    }

    /// Moves operations along their timeline; those that are due are applied now.
    pub fn advance(&mut self, now: Instant) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut still = Vec::with_capacity(pending.len());
        for id in pending {
            let Some(op) = self.operations.get_mut(&id) else {
                continue;
            };
            if now < op.queued_until {
                still.push(id);
                continue;
            }
            if now < op.complete_at {
                if op.status == OpStatus::Queued {
                    op.status = OpStatus::Started;
                    op.updated = Utc::now();
                }
                still.push(id);
                continue;
            }
            let items = std::mem::take(&mut op.items);
            let (program, metric, inject) = (op.program, op.metric, op.inject_failure);
            let (refuse, unnamed) = std::mem::take(&mut op.refuse);
            let refused: Vec<Detail> = items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.value.as_ref().is_some_and(|v| refuse.contains(v)))
                .map(|(i, it)| {
                    Detail::new(
                        "InvalidValue",
                        if unnamed {
                            "data".to_string()
                        } else {
                            format!("data[{i}].value")
                        },
                        format!(
                            "Value `{}` is refused by this program's rules",
                            it.value.clone().unwrap_or_default()
                        ),
                    )
                })
                .collect();
            let outcome = if !refused.is_empty() {
                Err(refused)
            } else if inject {
                Err(vec![Detail::new(
                    "500InternalServerError",
                    "operation",
                    "The server encountered an unexpected condition while processing the batch; nothing was stored. Send the batch again.",
                )])
            } else {
                self.upsert_all(program, metric, &items, "data")
            };
            let op = self.operations.get_mut(&id).expect("present");
            op.updated = Utc::now();
            match outcome {
                Ok(ids) => {
                    op.status = OpStatus::Completed;
                    op.results = ids;
                }
                Err(details) => {
                    op.status = OpStatus::Failed;
                    op.details = details;
                }
            }
            if self.in_flight.get(&metric) == Some(&id) {
                self.in_flight.remove(&metric);
            }
        }
        still.append(&mut self.pending);
        self.pending = still;
    }

    /// When the operation will next change, for `Retry-After`.
    pub fn next_change(&self, op: &Operation, now: Instant) -> Duration {
        if now < op.queued_until {
            op.queued_until - now
        } else {
            op.complete_at.saturating_duration_since(now)
        }
    }
}

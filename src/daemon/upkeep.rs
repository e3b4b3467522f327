//! The daemon's background tasks: the watch (leadership gauges and `stale` alerts) and the
//! state store's retention.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::alerts::{Alerter, Event};
use crate::config::alert::AlertEvent;
use crate::scheduler::Clock;
use crate::server;
use crate::store::Store;
use crate::telemetry::{Event as _, Leader};

/// Prunes the store as `[store]` says once an hour, the first a minute after start (every
/// replica does; a prune that finds nothing to do costs two counts).
pub fn spawn_prune(store: Store, cfg: crate::config::StoreConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        loop {
            let (bodies, runs) = cfg.cutoffs();
            match store.prune(bodies, runs, false).await {
                Ok(p) if p.bodies + p.runs > 0 => {
                    tracing::info!(
                        bodies = p.bodies,
                        body_bytes = p.body_bytes,
                        runs = p.runs,
                        "Pruned the state store."
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot prune the state store; trying again in an hour.")
                }
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    })
}

/// Which pipelines this replica leads (`esg_sync_pipeline_leader`), and which are stale: a
/// `stale` alert the first time a pipeline is past its `stale_after_secs`, none again until
/// it has recovered (the condition is kept in the store, so replicas share it). Time comes
/// from `clock`, so tests live through hours of staleness at once.
pub struct Watch {
    pub store: Store,
    /// Each pipeline and its `stale_after_secs`.
    pub limits: Vec<(String, Option<Duration>)>,
    /// When the daemon started: a pipeline that never landed a run is as old as this.
    pub started: DateTime<Utc>,
    pub alerter: Alerter,
    pub clock: Clock,
}

impl Watch {
    /// Checks every `interval` until aborted.
    pub fn spawn(self, interval: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                self.check().await;
                tokio::time::sleep(interval).await;
            }
        })
    }

    /// One look: the leadership gauges, then staleness (what `/readyz` reports; watched here
    /// for alerts only).
    pub async fn check(&self) {
        let me = crate::sync::lease::holder_id();
        if let Ok(rows) = self.store.leases().await {
            // Leases run on the database's clock, which the wall clock follows (not the
            // watch's clock, which tests make virtual).
            let now = chrono::Utc::now();
            for (name, _) in &self.limits {
                let lead = rows
                    .iter()
                    .any(|l| &l.pipeline == name && l.holder == me && l.is_held(now));
                Leader {
                    pipeline: name,
                    on: lead,
                }
                .emit();
            }
        }
        if !self.alerter.enabled() {
            return;
        }
        for (name, limit) in &self.limits {
            if let Some(limit) = limit {
                self.check_stale(name, *limit).await;
            }
        }
    }

    async fn check_stale(&self, name: &str, limit: Duration) {
        let Ok(last) = self.store.last_success(name).await else {
            return;
        };
        let age = server::age(last, self.started, self.clock.now());
        if age <= limit {
            if self
                .store
                .condition_clear(name, "stale")
                .await
                .unwrap_or(false)
            {
                tracing::info!(pipeline = %name, "The pipeline is no longer stale.");
            }
            return;
        }
        if self
            .store
            .condition_open(name, "stale")
            .await
            .unwrap_or(false)
        {
            self.alerter.emit(Event::new(
                AlertEvent::Stale,
                Some(name),
                format!(
                    "pipeline `{name}` has not landed a run for {} min (stale_after_secs is {}); last success: {}",
                    age.as_secs() / 60,
                    limit.as_secs(),
                    last.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into())
                ),
            ));
        }
    }
}

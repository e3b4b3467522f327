//! What a tick runs: a pipeline (the catalog applied first when `[catalog] apply =
//! "before_runs"`, then the run, its metrics, its log line and its alert), or one pass of a
//! final reviewer (each decision logged, a rejection alerted).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::alerts::{Alerter, Event};
use crate::app::App;
use crate::config::PipelineConfig;
use crate::config::alert::AlertEvent;
use crate::config::review::ReviewerConfig;
use crate::outcome::DecisionAction;
use crate::reviewer::ReviewState;
use crate::scheduler::{JobKind, Runner};
use crate::store::Store;
use crate::sync::{self, RunOptions, Status};
use crate::telemetry::{CatalogApplied, CatalogOutcome, Event as _, RunFinished, Running};
use crate::workiva::WorkivaClient;

/// The runners the daemon's jobs start: one for pipelines, one for reviewers.
pub struct Runners {
    pub pipeline: Runner,
    pub reviewer: Runner,
}

impl Runners {
    pub fn new(
        app: &App,
        scheduled: &[PipelineConfig],
        reviewers: &[ReviewerConfig],
        client: &WorkivaClient,
        store: &Store,
        alerter: &Alerter,
    ) -> Self {
        let settings = app.settings();
        let by_name: Arc<HashMap<String, PipelineConfig>> = Arc::new(
            scheduled
                .iter()
                .map(|p| (p.name.clone(), p.clone()))
                .collect(),
        );
        let catalog = (settings.catalog.apply == crate::config::CatalogApply::BeforeRuns)
            .then(|| settings.catalog.file.clone())
            .flatten();
        let lease_ttl = Duration::from_secs(settings.daemon.lease_ttl_secs);
        Self {
            pipeline: runner(
                client.clone(),
                store.clone(),
                by_name,
                catalog,
                alerter.clone(),
                lease_ttl,
            ),
            reviewer: reviewer_runner(client.clone(), store.clone(), reviewers, alerter.clone()),
        }
    }
}

/// `[catalog] apply = "before_runs"`: applies the catalog file (read again each time, so an
/// edit takes effect at the next run) before a scheduled run. A failure is logged and counted;
/// the run still goes, against the program as it is.
async fn apply_catalog(client: &WorkivaClient, store: &Store, file: &std::path::Path, name: &str) {
    let applied = match crate::catalog::load_or_explain(file) {
        Ok(c) => crate::catalog::apply_catalog(client, store, &c, false).await,
        Err(e) => Err(e),
    };
    match applied {
        Ok((_, done)) if done.requests == 0 => CatalogApplied {
            outcome: CatalogOutcome::Unchanged,
        }
        .emit(),
        Ok((_, done)) => {
            CatalogApplied {
                outcome: CatalogOutcome::Applied,
            }
            .emit();
            tracing::info!(pipeline = %name, catalog = %file.display(), created = done.created, updated = done.updated, requests = done.requests, "Applied the catalog before the run.");
        }
        Err(e) => {
            CatalogApplied {
                outcome: CatalogOutcome::Failed,
            }
            .emit();
            tracing::error!(pipeline = %name, catalog = %file.display(), error = %format!("{:#}", anyhow::Error::from(e)), "Cannot apply the catalog; the run goes on against the program as it is.");
        }
    }
}

/// Runs one pass of a reviewer, logging each decision.
fn reviewer_runner(
    client: WorkivaClient,
    store: Store,
    reviewers: &[ReviewerConfig],
    alerter: Alerter,
) -> Runner {
    let by_name: Arc<HashMap<String, ReviewerConfig>> = Arc::new(
        reviewers
            .iter()
            .map(|r| (r.name.clone(), r.clone()))
            .collect(),
    );
    Arc::new(move |job: JobKind, _stop: CancellationToken| {
        let (client, store, by_name) = (client.clone(), store.clone(), by_name.clone());
        let alerter = alerter.clone();
        Box::pin(async move {
            let JobKind::Reviewer(name) = job else {
                return;
            };
            let Some(r) = by_name.get(&name) else {
                return;
            };
            match crate::reviewer::run_once(&client, &store, r, false).await {
                Ok(outcomes) => {
                    for o in outcomes.iter().filter(|o| o.state != ReviewState::Skipped) {
                        tracing::info!(reviewer = %r.name, task = %o.task_id, title = %o.title, action = o.action.map_or("-", DecisionAction::as_str), state = %o.state, note = o.note.as_deref().unwrap_or(""), "Reviewed a task.");
                        if o.action == Some(DecisionAction::Reject)
                            && matches!(o.state, ReviewState::Submitted | ReviewState::Resumed)
                        {
                            let mut ev = Event::new(
                                AlertEvent::ReviewerRejected,
                                None,
                                format!(
                                    "reviewer `{}` rejected task `{}`: {}",
                                    r.name,
                                    o.title,
                                    o.problems.join("; ")
                                ),
                            );
                            ev.message = o.comment.clone();
                            alerter.emit(ev);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(reviewer = %r.name, error = %e, "The reviewer's pass failed; the next tick tries again.")
                }
            }
        })
    })
}

/// Runs one pipeline, with metrics and a log line of its outcome.
fn runner(
    client: WorkivaClient,
    store: Store,
    pipelines: Arc<HashMap<String, PipelineConfig>>,
    catalog: Option<std::path::PathBuf>,
    alerter: Alerter,
    lease_ttl: Duration,
) -> Runner {
    Arc::new(move |job: JobKind, stop: CancellationToken| {
        let (client, store, pipelines) = (client.clone(), store.clone(), pipelines.clone());
        let (catalog, alerter) = (catalog.clone(), alerter.clone());
        Box::pin(async move {
            let JobKind::Pipeline(name) = job else {
                return;
            };
            let Some(p) = pipelines.get(&name) else {
                return;
            };
            if let Some(file) = &catalog {
                apply_catalog(&client, &store, file, &name).await;
            }
            Running {
                pipeline: &name,
                on: true,
            }
            .emit();
            let t = Instant::now();
            let opts = RunOptions {
                stop,
                lease_ttl: Some(lease_ttl),
                ..RunOptions::default()
            };
            let r = sync::run_pipeline(&client, &store, p, &opts).await;
            if let Some(ev) = run_event(&r) {
                alerter.emit(ev);
            }
            for ev in hand_edit_events(&r) {
                alerter.emit(ev);
            }
            RunFinished {
                pipeline: &name,
                status: r.status.as_str(),
                landed: r.status.landed(),
                counts: &r.counts,
                took: t.elapsed(),
            }
            .emit();
            Running {
                pipeline: &name,
                on: false,
            }
            .emit();
            let c = &r.counts;
            match r.status {
                Status::Failed => {
                    let retriable = r.error.as_ref().is_some_and(|e| e.is_retriable());
                    tracing::error!(pipeline = %name, run = r.run_id, error = r.message().unwrap_or_default(), retriable, "Run failed.")
                }
                Status::Busy => {
                    tracing::warn!(pipeline = %name, reason = r.message().unwrap_or_default(), "Run not started.")
                }
                Status::Interrupted => {
                    tracing::warn!(pipeline = %name, run = r.run_id, message = r.message().unwrap_or_default(), "Run interrupted.")
                }
                _ => {
                    tracing::info!(pipeline = %name, run = r.run_id, status = r.status.as_str(), read = c.read, created = c.created, updated = c.updated, deleted = c.deleted, unchanged = c.unchanged, rejected = c.rejected, locked = c.locked, batches = r.batches, resumed_batches = r.resumed_batches, secs = t.elapsed().as_secs_f64(), "Run finished.")
                }
            }
        })
    })
}

/// A `hand_edit` alert for each hand edit the run found first (a later run finding the same
/// edit sends none).
fn hand_edit_events(r: &sync::Report) -> Vec<Event> {
    r.hand_edits
        .iter()
        .filter(|e| e.first_seen)
        .map(|e| {
            let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "nothing".into());
            let mut ev = Event::new(
                AlertEvent::HandEdit,
                Some(&r.pipeline),
                format!(
                    "pipeline `{}`: {} {} {} was edited by hand in Workiva (it holds {}, esg-sync wrote {} in run {}); the lake says {}, {}",
                    r.pipeline,
                    e.metric,
                    e.period,
                    e.coordinates,
                    or_none(&e.found_value),
                    or_none(&e.written_value),
                    e.since_run,
                    or_none(&e.lake_value),
                    if e.kept { "so the person's value was kept" } else { "which overwrote it" },
                ),
            );
            ev.run_id = r.run_id;
            ev.hand_edit = Some(e.clone());
            ev
        })
        .collect()
}

/// The alert a run's report calls for, if any: a failed or partial run, or a lost lease.
fn run_event(r: &sync::Report) -> Option<Event> {
    let lost = r.error.as_ref().is_some_and(|e| e.is_lease_loss());
    let (kind, what) = match r.status {
        Status::Failed => (AlertEvent::RunFailed, "failed"),
        Status::Partial => (AlertEvent::RunPartial, "landed only in part"),
        Status::Interrupted if lost => (AlertEvent::LeaseLost, "lost its lease to another process"),
        _ => return None,
    };
    let c = &r.counts;
    let mut ev = Event::new(
        kind,
        Some(&r.pipeline),
        format!(
            "pipeline `{}` run {} {what}: {} read, {} created, {} updated, {} deleted, {} rejected, {} locked{}",
            r.pipeline,
            r.run_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into()),
            c.read,
            c.created,
            c.updated,
            c.deleted,
            c.rejected,
            c.locked,
            r.message().map(|m| format!(". {m}")).unwrap_or_default()
        ),
    );
    ev.run_id = r.run_id;
    ev.status = Some(r.status.as_str().to_string());
    ev.counts = Some(r.counts);
    ev.rejects = r
        .rejects
        .iter()
        .take(crate::alerts::FIRST_REJECTS)
        .cloned()
        .collect();
    ev.message = r.message();
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{Report, RunError};

    fn incomplete(unsent: usize, lease_lost: bool) -> RunError {
        RunError::Incomplete {
            failures: Vec::new(),
            unsent,
            abandoned: 0,
            recording: None,
            lease_lost,
        }
    }

    #[test]
    fn which_runs_raise_which_alert() {
        let lost = Report::from_error("p", Some(3), incomplete(5, true));
        assert_eq!(lost.status, Status::Interrupted);
        let ev = run_event(&lost).expect("a lost lease is an alert");
        assert_eq!(ev.kind, AlertEvent::LeaseLost);
        assert_eq!((ev.run_id, ev.pipeline.as_deref()), (Some(3), Some("p")));
        assert!(ev.summary.contains("lost its lease"), "{}", ev.summary);
        // A shutdown's interruption is no alert; a failure is; a busy pipeline is not.
        let stopped = Report::from_error("p", Some(4), RunError::StoppedBeforeSending);
        assert!(run_event(&stopped).is_none());
        let failed = Report::from_error("p", Some(5), RunError::Panicked("boom".into()));
        assert_eq!(run_event(&failed).unwrap().kind, AlertEvent::RunFailed);
        // A fault part way (Workiva, the store, a refused token) fails the run and alerts.
        let faulted = RunError::Incomplete {
            failures: vec![crate::sync::error::MetricFailure {
                metric: "m".into(),
                error: crate::sync::error::ExecError::Store(crate::store::StoreError::Query {
                    what: "record a batch",
                    source: sqlx::Error::PoolTimedOut,
                }),
            }],
            unsent: 0,
            abandoned: 9,
            recording: None,
            lease_lost: false,
        };
        let faulted = Report::from_error("p", Some(7), faulted);
        assert_eq!(faulted.status, Status::Failed);
        assert_eq!(run_event(&faulted).unwrap().kind, AlertEvent::RunFailed);
        let busy = Report::from_error(
            "p",
            None,
            RunError::Busy {
                pipeline: "p".into(),
                holder: "h".into(),
                until: chrono::Utc::now(),
            },
        );
        assert!(run_event(&busy).is_none());
        let mut partial = Report::from_error("p", Some(6), RunError::Panicked("x".into()));
        partial.status = Status::Partial;
        assert_eq!(run_event(&partial).unwrap().kind, AlertEvent::RunPartial);
        partial.status = Status::Succeeded;
        assert!(run_event(&partial).is_none());
    }

    #[test]
    fn a_hand_edit_alerts_once_with_what_each_side_holds() {
        let edit = |first_seen: bool, found: &str| crate::outcome::HandEdit {
            metric: "Scope 1".into(),
            metric_key: "ghg".into(),
            period: "2025".into(),
            coordinates: "Facility=AMES".into(),
            value_id: Some("v1".into()),
            written_value: Some("10".into()),
            written_notes: None,
            found_value: Some(found.into()),
            found_notes: None,
            lake_value: Some("11".into()),
            since_run: 4,
            kept: true,
            first_seen,
        };
        let mut r = Report::from_error("p", Some(9), RunError::Panicked("x".into()));
        r.hand_edits = vec![edit(true, "12"), edit(false, "13")];
        let events = hand_edit_events(&r);
        assert_eq!(events.len(), 1, "the edit found before sends nothing");
        let ev = &events[0];
        assert_eq!((ev.kind, ev.run_id), (AlertEvent::HandEdit, Some(9)));
        for part in [
            "Scope 1 2025 Facility=AMES",
            "holds 12",
            "wrote 10 in run 4",
            "says 11",
            "kept",
        ] {
            assert!(ev.summary.contains(part), "{part}: {}", ev.summary);
        }
        assert_eq!(
            ev.hand_edit.as_ref().unwrap().found_value.as_deref(),
            Some("12")
        );
    }
}

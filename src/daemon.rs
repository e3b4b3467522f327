//! `esg-sync daemon`: every scheduled pipeline on its cron schedule, the HTTP endpoints, and a
//! clean stop.
//!
//! Start: runs that a shutdown or a crash interrupted are resumed first (their recorded
//! operations polled, their unsent values sent), then the catch-up policy applies, then the
//! schedule. Stop: the first SIGTERM or SIGINT stops new runs and new batches; batches in
//! flight are polled to their end for up to `daemon.grace_period_secs`; runs still going then
//! are recorded as interrupted; the process exits 0. A second signal exits at once.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::alerts::{Alerter, Event};
use crate::config::alert::AlertEvent;
use crate::config::{PipelineConfig, Settings};
use crate::scheduler::{self, Clock, Job, Runner, Schedule};
use crate::server::{self, Health};
use crate::store::Store;
use crate::sync::{self, RunOptions, Status};
use crate::workiva::WorkivaClient;

pub use crate::signals::FORCED_EXIT;

/// Runs the daemon until a signal stops it.
pub async fn run(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(config)?;
    let scheduled: Vec<PipelineConfig> = settings
        .pipelines
        .iter()
        .filter(|p| p.schedule.is_some())
        .cloned()
        .collect();
    let reviewers: Vec<crate::config::review::ReviewerConfig> = settings
        .reviewers
        .iter()
        .filter(|r| r.schedule.is_some())
        .cloned()
        .collect();
    if scheduled.is_empty() && reviewers.is_empty() {
        anyhow::bail!(
            "no [[pipeline]] (or [[reviewer]]) has a schedule, so the daemon would have nothing to do; add one, e.g. schedule = \"0 3 * * *\", or use `esg-sync run-now` for a one-off run"
        );
    }
    let metrics = crate::telemetry::install_recorder()?;
    let embedded = crate::commands::embedded_emulator(&mut settings).await?;
    let client = WorkivaClient::new(settings.workiva.clone())?;
    let store = Store::open(&settings.store).await?;
    let listen = settings.daemon.listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on daemon.listen `{listen}`: {e}"))?;
    let addr = listener.local_addr()?;

    let stop = CancellationToken::new();
    tracing::info!(
        grace_secs = settings.daemon.grace_period_secs,
        "A first SIGTERM or SIGINT stops new runs and lets batches in flight finish; a second exits at once."
    );
    crate::signals::stop_on_signals(
        stop.clone(),
        "Stopping: no new runs or batches; batches in flight are polled to their end. Send the signal again to exit at once.",
    );
    let upkeep = crate::telemetry::spawn_upkeep(metrics.clone());
    let alerter = Alerter::start(&settings.alerts, store.clone())?;

    let started = chrono::Utc::now();
    let mut limits = Vec::new();
    for p in &scheduled {
        crate::telemetry::running(&p.name, false);
        if let Ok(Some(t)) = store.last_success(&p.name).await {
            crate::telemetry::last_success(&p.name, t);
        }
        limits.push((p.name.clone(), p.stale_after_secs.map(Duration::from_secs)));
    }
    let health = Health {
        store: store.clone(),
        client: client.clone(),
        limits,
        started,
        stopping: stop.clone(),
        timeout: Duration::from_secs(settings.daemon.readiness_timeout_secs.max(1)),
        metrics,
        schedules: scheduled
            .iter()
            .filter_map(|p| {
                Schedule::parse(p.schedule.as_deref()?, &p.timezone)
                    .ok()
                    .map(|s| (p.name.clone(), s))
            })
            .collect(),
    };
    let watch = spawn_watch(
        store.clone(),
        health.limits.clone(),
        started,
        alerter.clone(),
        Duration::from_secs(settings.daemon.watch_interval_secs.max(1)),
    );
    let prune = spawn_prune(store.clone(), settings.store.clone());
    let guard = endpoint_guard(&settings.daemon, addr)?;
    let limits = server::Limits {
        header_read_timeout: Duration::from_secs(settings.daemon.header_read_timeout_secs),
        idle_timeout: Duration::from_secs(settings.daemon.idle_timeout_secs),
        max_connections: settings.daemon.max_connections,
    };
    // The server stops accepting at the first signal and drops what is left at teardown.
    let server_stop = CancellationToken::new();
    let server = tokio::spawn(server::serve(
        listener,
        server::router(health, guard),
        limits,
        stop.clone(),
        server_stop.clone(),
    ));
    tracing::info!(addr = %addr, key = settings.daemon.auth.is_some(), "Serving /healthz, /readyz, /metrics, /status and the status page.");

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
    let runner = runner(
        client.clone(),
        store.clone(),
        by_name,
        catalog,
        alerter.clone(),
        lease_ttl,
    );
    let review_runner = reviewer_runner(client.clone(), store.clone(), &reviewers, alerter.clone());
    let ticks = Arc::new(AlertedTicks {
        store: store.clone(),
        alerter: alerter.clone(),
    });
    let mut jobs = Vec::new();
    for p in &scheduled {
        let schedule = Schedule::parse(p.schedule.as_deref().unwrap_or_default(), &p.timezone)
            .map_err(|e| anyhow::anyhow!("pipeline `{}`: {e}", p.name))?;
        let resume_first = match store.last_run(&p.name).await {
            Ok(Some(r)) => matches!(
                r.status,
                crate::store::RunStatus::Running | crate::store::RunStatus::Interrupted
            ),
            Ok(None) => false,
            Err(e) => {
                tracing::error!(pipeline = %p.name, error = %e, "Cannot read the last run; it is resumed at its next tick if it was interrupted.");
                false
            }
        };
        if resume_first {
            tracing::info!(pipeline = %p.name, "The last run was interrupted; resuming it before anything else.");
        }
        tracing::info!(pipeline = %p.name, schedule = schedule.pattern(), timezone = %schedule.timezone(), next = ?schedule.next_after(chrono::Utc::now()).map(|t| t.to_rfc3339()), "Scheduled.");
        let job = Job {
            pipeline: p.name.clone(),
            schedule,
            jitter: Duration::from_secs(p.jitter_secs),
            catch_up: p.catch_up,
            resume_first,
        };
        jobs.push(tokio::spawn(scheduler::run_job(
            job,
            Clock::System,
            ticks.clone(),
            runner.clone(),
            stop.clone(),
            None,
        )));
    }

    for r in &reviewers {
        let schedule = Schedule::parse(r.schedule.as_deref().unwrap_or_default(), &r.timezone)
            .map_err(|e| anyhow::anyhow!("reviewer `{}`: {e}", r.name))?;
        tracing::info!(reviewer = %r.name, schedule = schedule.pattern(), "Scheduled the reviewer.");
        let job = Job {
            pipeline: format!("{REVIEWER_JOB}{}", r.name),
            schedule,
            jitter: Duration::ZERO,
            catch_up: crate::config::CatchUp::Skip,
            resume_first: false,
        };
        jobs.push(tokio::spawn(scheduler::run_job(
            job,
            Clock::System,
            ticks.clone(),
            review_runner.clone(),
            stop.clone(),
            None,
        )));
    }

    stop.cancelled().await;
    let grace = Duration::from_secs(settings.daemon.grace_period_secs);
    let waiting = futures_util::future::join_all(jobs.iter_mut());
    if tokio::time::timeout(grace, waiting).await.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "The grace period ended with runs still going; they are recorded as interrupted and resumed at the next start."
        );
        for j in &jobs {
            j.abort();
        }
        for j in jobs {
            let _ = j.await;
        }
        let me = crate::sync::lease::holder_id();
        for p in &scheduled {
            // Only this replica's runs: another replica's run of the pipeline goes on.
            let marked = store
                .mark_interrupted_because(
                    &p.name,
                    me,
                    "stopped by a shutdown when the grace period ended; the next start polls its recorded operations and sends the rest",
                )
                .await;
            // The cut-off runs' leases, given back so the next start need not wait them out.
            let _ = store.lease_release(&p.name, me).await;
            match marked {
                Ok(ids) if !ids.is_empty() => {
                    tracing::warn!(pipeline = %p.name, runs = ?ids, "Recorded as interrupted.")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(pipeline = %p.name, error = %e, "Cannot record the run as interrupted; the next start finds it running and resumes it all the same.")
                }
            }
        }
    }
    upkeep.abort();
    watch.abort();
    prune.abort();
    for p in &scheduled {
        crate::telemetry::leader(&p.name, false);
    }
    // Alerts of the last runs still on their way get a little time.
    alerter.flush(Duration::from_secs(5)).await;
    server_stop.cancel();
    let _ = server.await;
    store.close().await;
    if let Some(e) = embedded {
        e.save().await?;
    }
    tracing::info!("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// The guard of the endpoints: the token read now (so a missing or short one stops the
/// start), the `Host` names allowed.
fn endpoint_guard(
    d: &crate::config::DaemonConfig,
    addr: std::net::SocketAddr,
) -> anyhow::Result<server::Guard> {
    let token = d.auth.as_ref().map(|a| a.token()).transpose()?;
    Ok(server::Guard::new(
        addr,
        &d.allowed_hosts,
        token.as_ref(),
        d.auth.as_ref().is_some_and(|a| a.metrics_auth),
    ))
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
        Ok((_, done)) if done.requests == 0 => crate::telemetry::catalog_applied("unchanged"),
        Ok((_, done)) => {
            crate::telemetry::catalog_applied("applied");
            tracing::info!(pipeline = %name, catalog = %file.display(), created = done.created, updated = done.updated, requests = done.requests, "Applied the catalog before the run.");
        }
        Err(e) => {
            crate::telemetry::catalog_applied("failed");
            tracing::error!(pipeline = %name, catalog = %file.display(), error = %format!("{:#}", anyhow::Error::from(e)), "Cannot apply the catalog; the run goes on against the program as it is.");
        }
    }
}

/// A reviewer's job name in the scheduler (and its tick record in the store).
const REVIEWER_JOB: &str = "reviewer:";

/// Runs one pass of a reviewer, logging each decision.
fn reviewer_runner(
    client: WorkivaClient,
    store: Store,
    reviewers: &[crate::config::review::ReviewerConfig],
    alerter: Alerter,
) -> Runner {
    let by_name: Arc<HashMap<String, crate::config::review::ReviewerConfig>> = Arc::new(
        reviewers
            .iter()
            .map(|r| (format!("{REVIEWER_JOB}{}", r.name), r.clone()))
            .collect(),
    );
    Arc::new(move |name: String, _stop: CancellationToken| {
        let (client, store, by_name) = (client.clone(), store.clone(), by_name.clone());
        let alerter = alerter.clone();
        Box::pin(async move {
            let Some(r) = by_name.get(&name) else {
                return;
            };
            match crate::reviewer::run_once(&client, &store, r, false).await {
                Ok(outcomes) => {
                    for o in outcomes.iter().filter(|o| o.state != "skipped") {
                        tracing::info!(reviewer = %r.name, task = %o.task_id, title = %o.title, action = o.action.as_deref().unwrap_or("-"), state = %o.state, note = o.note.as_deref().unwrap_or(""), "Reviewed a task.");
                        if o.action.as_deref() == Some("REJECT")
                            && matches!(o.state.as_str(), "submitted" | "resumed")
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
    Arc::new(move |name: String, stop: CancellationToken| {
        let (client, store, pipelines) = (client.clone(), store.clone(), pipelines.clone());
        let (catalog, alerter) = (catalog.clone(), alerter.clone());
        Box::pin(async move {
            let Some(p) = pipelines.get(&name) else {
                return;
            };
            if let Some(file) = &catalog {
                apply_catalog(&client, &store, file, &name).await;
            }
            crate::telemetry::running(&name, true);
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
            crate::telemetry::run_finished(
                &name,
                r.status.as_str(),
                r.status.landed(),
                &r.counts,
                t.elapsed(),
            );
            crate::telemetry::running(&name, false);
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

/// Every `interval`: which pipelines this replica leads (`esg_sync_pipeline_leader`), and
/// which are stale: a `stale` alert the first time a pipeline is past its
/// `stale_after_secs`, none again until it has recovered (the condition is kept in the store,
/// so replicas share it).
/// The daemon's schedule ticks: the store's, with a `tick_missed` alert for a tick whose
/// claim could not be recorded.
struct AlertedTicks {
    store: Store,
    alerter: Alerter,
}

impl scheduler::TickStore for AlertedTicks {
    async fn last_tick(&self, pipeline: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        scheduler::TickStore::last_tick(&self.store, pipeline).await
    }

    async fn set_last_tick(&self, pipeline: &str, tick: chrono::DateTime<chrono::Utc>) {
        scheduler::TickStore::set_last_tick(&self.store, pipeline, tick).await
    }

    async fn claim(&self, pipeline: &str, tick: chrono::DateTime<chrono::Utc>) -> bool {
        let me = crate::sync::lease::holder_id();
        match self.store.claim_tick(pipeline, tick, me).await {
            Ok(claimed) => claimed,
            Err(e) => {
                scheduler::missed(pipeline, tick, &e);
                self.alerter.emit(Event::new(
                    AlertEvent::TickMissed,
                    Some(pipeline),
                    format!(
                        "the {} run of pipeline `{pipeline}` was missed: the state store could not record its claim ({e}); the next tick runs as usual",
                        tick.to_rfc3339()
                    ),
                ));
                false
            }
        }
    }
}

/// Prunes the store as `[store]` says once an hour, the first a minute after start (every
/// replica does; a prune that finds nothing to do costs two counts).
fn spawn_prune(store: Store, cfg: crate::config::StoreConfig) -> tokio::task::JoinHandle<()> {
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

fn spawn_watch(
    store: Store,
    limits: Vec<(String, Option<Duration>)>,
    started: chrono::DateTime<chrono::Utc>,
    alerter: Alerter,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let me = crate::sync::lease::holder_id();
        loop {
            if let Ok(rows) = store.leases().await {
                for (name, _) in &limits {
                    let lead = rows
                        .iter()
                        .any(|l| &l.pipeline == name && l.holder == me && l.is_held());
                    crate::telemetry::leader(name, lead);
                }
            }
            // Staleness is what `/readyz` reports; it is watched here for alerts only.
            for (name, limit) in limits.iter().filter(|_| alerter.enabled()) {
                let Some(limit) = limit else { continue };
                let Ok(last) = store.last_success(name).await else {
                    continue;
                };
                let age = server::age(last, started, chrono::Utc::now());
                if age > *limit {
                    if store.condition_open(name, "stale").await.unwrap_or(false) {
                        alerter.emit(Event::new(
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
                } else if store.condition_clear(name, "stale").await.unwrap_or(false) {
                    tracing::info!(pipeline = %name, "The pipeline is no longer stale.");
                }
            }
            tokio::time::sleep(interval).await;
        }
    })
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
                until: "t".into(),
            },
        );
        assert!(run_event(&busy).is_none());
        let mut partial = Report::from_error("p", Some(6), RunError::Panicked("x".into()));
        partial.status = Status::Partial;
        assert_eq!(run_event(&partial).unwrap().kind, AlertEvent::RunPartial);
        partial.status = Status::Succeeded;
        assert!(run_event(&partial).is_none());
    }
}

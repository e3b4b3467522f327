//! `esg-sync daemon`: every scheduled pipeline and reviewer on its cron schedule, the HTTP
//! endpoints, and a clean stop, in three steps: [`Daemon::build`], [`Daemon::run`],
//! [`Daemon::shutdown`].
//!
//! Start: runs that a shutdown or a crash interrupted are resumed first (their recorded
//! operations polled, their unsent values sent), then the catch-up policy applies, then the
//! schedule. Stop: the first SIGTERM or SIGINT stops new runs and new batches; batches in
//! flight are polled to their end for up to `daemon.grace_period_secs`; runs still going then
//! are recorded as interrupted; the process exits 0. A second signal exits at once.
//!
//! - `jobs`: what a tick runs (a pipeline, with its catalog and alerts; a reviewer's pass).
//! - `ticks`: the schedule's tick records, with an alert for a tick that could not be claimed.
//! - `upkeep`: the background tasks (leadership and staleness watch, retention).

mod jobs;
mod ticks;
mod upkeep;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alerts::Alerter;
use crate::app::App;
use crate::config::PipelineConfig;
use crate::config::review::ReviewerConfig;
use crate::scheduler::{self, Job, JobKind, Runner, Schedule};
use crate::server::{self, Health};
use crate::store::Store;
use crate::telemetry::{Event as _, LastSuccess, Leader, Running};

pub use crate::signals::FORCED_EXIT;
pub use upkeep::Watch;

/// Runs the daemon until a signal stops it.
pub async fn run(app: &App) -> anyhow::Result<ExitCode> {
    let stop = CancellationToken::new();
    tracing::info!(
        grace_secs = app.settings().daemon.grace_period_secs,
        "A first SIGTERM or SIGINT stops new runs and lets batches in flight finish; a second exits at once."
    );
    crate::signals::stop_on_signals(
        stop.clone(),
        "Stopping: no new runs or batches; batches in flight are polled to their end. Send the signal again to exit at once.",
    );
    let daemon = Daemon::build(app, stop).await?;
    daemon.run().await.shutdown().await;
    tracing::info!("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// What [`Daemon::build`] started and [`Daemon::shutdown`] stops.
pub struct Daemon {
    stop: CancellationToken,
    grace: Duration,
    store: Store,
    alerter: Alerter,
    /// The scheduled pipelines' names.
    pipelines: Vec<String>,
    jobs: Vec<JoinHandle<()>>,
    /// Metrics upkeep, the watch, retention: aborted at shutdown.
    background: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
    /// Drops the connections left at teardown (the first signal stops accepting).
    server_stop: CancellationToken,
}

impl Daemon {
    /// Starts everything on `app`: the metrics recorder, the endpoints on `daemon.listen`,
    /// the alerter, the background tasks and a job per schedule. `stop` ends it.
    pub async fn build(app: &App, stop: CancellationToken) -> anyhow::Result<Self> {
        let settings = app.settings();
        let (scheduled, reviewers) = scheduled(app)?;
        let metrics = crate::telemetry::install_recorder()?;
        let client = app.client().await?.clone();
        let store = app.store().await?.clone();
        let listen = settings.daemon.listen.clone();
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on daemon.listen `{listen}`: {e}"))?;
        let alerter = Alerter::start(&settings.alerts, store.clone())?;
        let started = app.clock().now();
        let mut health = health(
            app,
            &scheduled,
            client.clone(),
            store.clone(),
            metrics.clone(),
            stop.clone(),
        )
        .await;
        health.started = started;
        let watch = Watch {
            store: store.clone(),
            limits: health.limits.clone(),
            started,
            alerter: alerter.clone(),
            clock: app.clock().clone(),
        };
        let interval = Duration::from_secs(settings.daemon.watch_interval_secs.max(1));
        let background = vec![
            crate::telemetry::spawn_upkeep(metrics),
            watch.spawn(interval),
            upkeep::spawn_prune(store.clone(), settings.store.clone()),
        ];
        let server_stop = CancellationToken::new();
        let server = serve(app, listener, health, stop.clone(), server_stop.clone())?;
        let runners = jobs::Runners::new(app, &scheduled, &reviewers, &client, &store, &alerter);
        let ticks = Arc::new(ticks::AlertedTicks {
            store: store.clone(),
            alerter: alerter.clone(),
        });
        let mut jobs = Vec::new();
        for job in schedule_jobs(&store, &scheduled, &reviewers).await? {
            let runner: Runner = match &job.kind {
                JobKind::Pipeline(_) => runners.pipeline.clone(),
                JobKind::Reviewer(_) => runners.reviewer.clone(),
            };
            jobs.push(tokio::spawn(scheduler::run_job(
                job,
                app.clock().clone(),
                ticks.clone(),
                runner,
                stop.clone(),
                None,
            )));
        }
        Ok(Self {
            stop,
            grace: Duration::from_secs(settings.daemon.grace_period_secs),
            store,
            alerter,
            pipelines: scheduled.iter().map(|p| p.name.clone()).collect(),
            jobs,
            background,
            server,
            server_stop,
        })
    }

    /// Runs until `stop`, then gives the runs going the grace period to end; those still
    /// going then are cut off and recorded as interrupted.
    pub async fn run(mut self) -> Self {
        self.stop.cancelled().await;
        let waiting = futures_util::future::join_all(self.jobs.iter_mut());
        if tokio::time::timeout(self.grace, waiting).await.is_err() {
            tracing::warn!(
                grace_secs = self.grace.as_secs(),
                "The grace period ended with runs still going; they are recorded as interrupted and resumed at the next start."
            );
            for j in &self.jobs {
                j.abort();
            }
            for j in self.jobs.drain(..) {
                let _ = j.await;
            }
            self.record_interrupted().await;
        }
        self
    }

    /// This replica's runs cut off by the grace period, recorded as interrupted (another
    /// replica's run of the pipeline goes on), their leases given back so the next start need
    /// not wait them out.
    async fn record_interrupted(&self) {
        let me = crate::sync::lease::holder_id();
        for p in &self.pipelines {
            let marked = self
                .store
                .mark_interrupted_because(
                    p,
                    me,
                    "stopped by a shutdown when the grace period ended; the next start polls its recorded operations and sends the rest",
                )
                .await;
            let _ = self.store.lease_release(p, me).await;
            match marked {
                Ok(ids) if !ids.is_empty() => {
                    tracing::warn!(pipeline = %p, runs = ?ids, "Recorded as interrupted.")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(pipeline = %p, error = %e, "Cannot record the run as interrupted; the next start finds it running and resumes it all the same.")
                }
            }
        }
    }

    /// Stops the background tasks, gives the last alerts a little time, and closes the
    /// endpoints. The application closes the store and the embedded emulator after.
    pub async fn shutdown(self) {
        for b in &self.background {
            b.abort();
        }
        for p in &self.pipelines {
            Leader {
                pipeline: p,
                on: false,
            }
            .emit();
        }
        self.alerter.flush(Duration::from_secs(5)).await;
        self.server_stop.cancel();
        let _ = self.server.await;
    }
}

/// The pipelines and reviewers that have a schedule; an error when there is none.
fn scheduled(app: &App) -> anyhow::Result<(Vec<PipelineConfig>, Vec<ReviewerConfig>)> {
    let s = app.settings();
    let pipelines: Vec<_> = s
        .pipelines
        .iter()
        .filter(|p| p.schedule.is_some())
        .cloned()
        .collect();
    let reviewers: Vec<_> = s
        .reviewers
        .iter()
        .filter(|r| r.schedule.is_some())
        .cloned()
        .collect();
    if pipelines.is_empty() && reviewers.is_empty() {
        anyhow::bail!(
            "no [[pipeline]] (or [[reviewer]]) has a schedule, so the daemon would have nothing to do; add one, e.g. schedule = \"0 3 * * *\", or use `esg-sync run-now` for a one-off run"
        );
    }
    Ok((pipelines, reviewers))
}

/// What the endpoints report from: the store, the client, each pipeline's staleness limit
/// and schedule, the metrics. The gauges start at what the store knows.
async fn health(
    app: &App,
    scheduled: &[PipelineConfig],
    client: crate::workiva::WorkivaClient,
    store: Store,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    stopping: CancellationToken,
) -> Health {
    let mut limits = Vec::new();
    for p in scheduled {
        Running {
            pipeline: &p.name,
            on: false,
        }
        .emit();
        if let Ok(Some(at)) = store.last_success(&p.name).await {
            LastSuccess {
                pipeline: &p.name,
                at,
            }
            .emit();
        }
        limits.push((p.name.clone(), p.stale_after_secs.map(Duration::from_secs)));
    }
    let schedules = scheduled
        .iter()
        .filter_map(|p| {
            Schedule::parse(p.schedule.as_deref()?, &p.timezone)
                .ok()
                .map(|s| (p.name.clone(), s))
        })
        .collect();
    Health {
        store,
        client,
        limits,
        started: app.clock().now(),
        stopping,
        timeout: Duration::from_secs(app.settings().daemon.readiness_timeout_secs.max(1)),
        metrics,
        schedules,
    }
}

/// Serves `/healthz`, `/readyz`, `/metrics`, `/status` and the status page behind the guard;
/// it stops accepting at `stop` and drops what is left at `server_stop`.
fn serve(
    app: &App,
    listener: tokio::net::TcpListener,
    health: Health,
    stop: CancellationToken,
    server_stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let d = &app.settings().daemon;
    let addr = listener.local_addr()?;
    let guard = endpoint_guard(d, addr)?;
    let limits = server::Limits {
        header_read_timeout: Duration::from_secs(d.header_read_timeout_secs),
        idle_timeout: Duration::from_secs(d.idle_timeout_secs),
        max_connections: d.max_connections,
    };
    let server = tokio::spawn(server::serve(
        listener,
        server::router(health, guard),
        limits,
        stop,
        server_stop,
    ));
    tracing::info!(addr = %addr, key = d.auth.is_some(), "Serving /healthz, /readyz, /metrics, /status and the status page.");
    Ok(server)
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

/// A job per schedule: each pipeline's (resumed first when its last run was interrupted),
/// then each reviewer's.
async fn schedule_jobs(
    store: &Store,
    scheduled: &[PipelineConfig],
    reviewers: &[ReviewerConfig],
) -> anyhow::Result<Vec<Job>> {
    let mut jobs = Vec::new();
    for p in scheduled {
        let schedule = Schedule::parse(p.schedule.as_deref().unwrap_or_default(), &p.timezone)
            .map_err(|e| anyhow::anyhow!("pipeline `{}`: {e}", p.name))?;
        let resume_first = interrupted(store, &p.name).await;
        tracing::info!(pipeline = %p.name, schedule = schedule.pattern(), timezone = %schedule.timezone(), next = ?schedule.next_after(chrono::Utc::now()).map(|t| t.to_rfc3339()), "Scheduled.");
        jobs.push(Job {
            kind: JobKind::Pipeline(p.name.clone()),
            schedule,
            jitter: Duration::from_secs(p.jitter_secs),
            catch_up: p.catch_up,
            resume_first,
        });
    }
    for r in reviewers {
        let schedule = Schedule::parse(r.schedule.as_deref().unwrap_or_default(), &r.timezone)
            .map_err(|e| anyhow::anyhow!("reviewer `{}`: {e}", r.name))?;
        tracing::info!(reviewer = %r.name, schedule = schedule.pattern(), "Scheduled the reviewer.");
        jobs.push(Job {
            kind: JobKind::Reviewer(r.name.clone()),
            schedule,
            jitter: Duration::ZERO,
            catch_up: crate::config::CatchUp::Skip,
            resume_first: false,
        });
    }
    Ok(jobs)
}

/// Whether the pipeline's last run was cut off (running or interrupted), so the job starts
/// by resuming it.
async fn interrupted(store: &Store, pipeline: &str) -> bool {
    use crate::store::RunStatus;
    match store.last_run(pipeline).await {
        Ok(Some(r)) if matches!(r.status, RunStatus::Running | RunStatus::Interrupted) => {
            tracing::info!(pipeline = %pipeline, "The last run was interrupted; resuming it before anything else.");
            true
        }
        Ok(_) => false,
        Err(e) => {
            tracing::error!(pipeline = %pipeline, error = %e, "Cannot read the last run; it is resumed at its next tick if it was interrupted.");
            false
        }
    }
}

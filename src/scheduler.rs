//! The daemon's schedule: croner computes next times (DST-correct, in the pipeline's IANA
//! time zone); this loop adds what a scheduler of sync jobs needs on top: never two runs of one
//! pipeline at once (a tick that finds the last run going is skipped, logged and counted),
//! random jitter, a catch-up policy for ticks missed while the daemon was down (the last
//! handled tick is kept in the sync-state store), each tick claimed once across the replicas
//! that share the store (the first to claim it runs it; the others skip it quietly), and a
//! clean stop.
//!
//! Time comes from a [`Clock`]: the system's, or a virtual one driven by tokio's paused clock,
//! so tests can live through a DST day in milliseconds.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::config::CatchUp;
use crate::telemetry::{Event as _, NextRun, SkipReason, TickMissed, TicksSkipped};

pub use crate::config::schedule::{Schedule, parse_timezone};

/// Where "now" comes from.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The system's wall clock.
    System,
    /// `base` at `at`, advancing with tokio's clock (which tests pause and advance).
    Virtual {
        base: DateTime<Utc>,
        at: tokio::time::Instant,
    },
}

/// A sleep is cut into pieces of at most this, so a wall clock that jumps (NTP, a suspended
/// host) is noticed within a minute.
const MAX_NAP: Duration = Duration::from_secs(60);

impl Clock {
    /// A virtual clock that reads `base` now.
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        Self::Virtual {
            base,
            at: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Virtual { base, at } => {
                *base + chrono::Duration::from_std(at.elapsed()).unwrap_or_default()
            }
        }
    }

    /// Returns once `now() >= t`.
    pub async fn sleep_until(&self, t: DateTime<Utc>) {
        loop {
            let now = self.now();
            if now >= t {
                return;
            }
            let left = (t - now).to_std().unwrap_or_default();
            tokio::time::sleep(left.min(MAX_NAP)).await;
        }
    }
}

/// Where the last handled tick of each pipeline is kept: the sync-state store, or memory.
pub trait TickStore: Send + Sync + 'static {
    fn last_tick(&self, pipeline: &str) -> impl Future<Output = Option<DateTime<Utc>>> + Send;
    fn set_last_tick(&self, pipeline: &str, tick: DateTime<Utc>)
    -> impl Future<Output = ()> + Send;
    /// Claims `tick` of `pipeline` for this process: true for exactly one of the replicas that
    /// share the store, so each tick runs once however many daemons there are.
    fn claim(&self, pipeline: &str, tick: DateTime<Utc>) -> impl Future<Output = bool> + Send;
}

/// A tick whose claim could not be recorded: not run (unclaimed, it could run on two
/// replicas, and the run needs the store anyway), counted and logged. The claim was retried
/// for the store's outage bound first.
pub fn missed(pipeline: &str, tick: DateTime<Utc>, e: &crate::store::StoreError) {
    TickMissed {
        pipeline,
        tick,
        error: e,
    }
    .emit();
}

impl TickStore for crate::store::Store {
    async fn last_tick(&self, pipeline: &str) -> Option<DateTime<Utc>> {
        match crate::store::Store::last_tick(self, pipeline).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(pipeline, error = %e, "Cannot read the last schedule tick; treating the pipeline as never scheduled.");
                None
            }
        }
    }

    async fn set_last_tick(&self, pipeline: &str, tick: DateTime<Utc>) {
        if let Err(e) = crate::store::Store::set_last_tick(self, pipeline, tick).await {
            tracing::error!(pipeline, error = %e, "Cannot record the schedule tick; after a restart it may count as missed.");
        }
    }

    async fn claim(&self, pipeline: &str, tick: DateTime<Utc>) -> bool {
        match self
            .claim_tick(pipeline, tick, crate::sync::lease::holder_id())
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                missed(pipeline, tick, &e);
                false
            }
        }
    }
}

/// Ticks (and their claims) in memory, for tests of the schedule on a virtual clock.
#[derive(Debug, Default)]
pub struct MemoryTicks(
    Mutex<std::collections::HashMap<String, DateTime<Utc>>>,
    Mutex<std::collections::HashSet<(String, DateTime<Utc>)>>,
);

impl MemoryTicks {
    pub fn with(pipeline: &str, tick: DateTime<Utc>) -> Self {
        let m = Self::default();
        m.0.lock().unwrap().insert(pipeline.to_string(), tick);
        m
    }
}

impl TickStore for MemoryTicks {
    async fn last_tick(&self, pipeline: &str) -> Option<DateTime<Utc>> {
        self.0.lock().unwrap().get(pipeline).copied()
    }
    async fn set_last_tick(&self, pipeline: &str, tick: DateTime<Utc>) {
        self.0.lock().unwrap().insert(pipeline.to_string(), tick);
    }
    async fn claim(&self, pipeline: &str, tick: DateTime<Utc>) -> bool {
        self.1.lock().unwrap().insert((pipeline.to_string(), tick))
    }
}

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Its tick came.
    Tick,
    /// At start, because ticks were missed while the daemon was down (`catch_up = "once"`).
    CatchUp,
    /// At start, because the last run was interrupted: its recorded operations are resumed and
    /// the rest is sent.
    Resume,
}

/// What the schedule did, in order: tests read it from a [`Journal`]; operators read the logs
/// and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Started {
        tick: DateTime<Utc>,
        at: DateTime<Utc>,
        reason: Reason,
    },
    /// A tick found the last run still going.
    SkippedOverlap { tick: DateTime<Utc> },
    /// At start: `missed` ticks passed while the daemon was down and `catch_up = "skip"`.
    SkippedMissed { missed: u64 },
}

/// What a job runs: a pipeline, or a final reviewer's pass.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobKind {
    Pipeline(String),
    Reviewer(String),
}

impl JobKind {
    /// The job's name in the logs and in the store's tick records: the pipeline's name, or
    /// `reviewer:` and the reviewer's.
    pub fn key(&self) -> String {
        match self {
            Self::Pipeline(name) => name.clone(),
            Self::Reviewer(name) => format!("reviewer:{name}"),
        }
    }
}

/// Starts one run of a job; the future ends when the run does. The token is cancelled when
/// a shutdown begins.
pub type Runner = Arc<dyn Fn(JobKind, CancellationToken) -> BoxFuture<'static, ()> + Send + Sync>;

/// One job's schedule.
pub struct Job {
    pub kind: JobKind,
    pub schedule: Schedule,
    pub jitter: Duration,
    pub catch_up: CatchUp,
    /// Start with a run, because the last one was interrupted.
    pub resume_first: bool,
}

/// The history of one job, for tests. The daemon keeps none: a job runs for months, and
/// its logs and metrics already tell what happened.
#[derive(Debug, Default)]
pub struct Journal(Mutex<Vec<Event>>);

impl Journal {
    fn push(&self, e: Event) {
        self.0.lock().unwrap().push(e);
    }
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
    /// When runs started.
    pub fn starts(&self) -> Vec<DateTime<Utc>> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Started { at, .. } => Some(at),
                _ => None,
            })
            .collect()
    }
}

/// Aborts the task when dropped, so an abandoned job takes its run with it.
struct Running(tokio::task::JoinHandle<()>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How many ticks of `s` fall in `(after, upto]` (stops counting at 10,000).
fn ticks_between(s: &Schedule, after: DateTime<Utc>, upto: DateTime<Utc>) -> u64 {
    let mut n = 0;
    let mut t = after;
    while let Some(next) = s.next_after(t) {
        if next > upto || n >= 10_000 {
            break;
        }
        n += 1;
        t = next;
    }
    n
}

/// Runs one job's schedule until `stop` is cancelled, then waits for its run (if one is
/// going) to end. The caller bounds that wait with the grace period. Events go to `journal`
/// when there is one.
pub async fn run_job<T: TickStore>(
    job: Job,
    clock: Clock,
    ticks: Arc<T>,
    runner: Runner,
    stop: CancellationToken,
    journal: Option<Arc<Journal>>,
) {
    let mut j = Going {
        name: job.kind.key(),
        job,
        clock,
        runner,
        stop,
        journal,
        current: None,
    };
    let now = j.clock.now();
    j.begin(ticks.as_ref(), now).await;
    j.follow(ticks.as_ref(), now).await;
    if let Some(mut r) = j.current.take()
        && !r.0.is_finished()
    {
        tracing::info!(pipeline = %j.name, "Waiting for the run to finish the batches it sent.");
        let _ = (&mut r.0).await;
    }
}

/// A job as it goes: its run, if one is going.
struct Going {
    name: String,
    job: Job,
    clock: Clock,
    runner: Runner,
    stop: CancellationToken,
    journal: Option<Arc<Journal>>,
    current: Option<Running>,
}

impl Going {
    fn note(&self, e: Event) {
        if let Some(j) = &self.journal {
            j.push(e);
        }
    }

    fn start(&mut self, tick: DateTime<Utc>, reason: Reason) {
        let at = self.clock.now();
        tracing::info!(pipeline = %self.name, tick = %tick.to_rfc3339(), ?reason, "Starting a run.");
        self.note(Event::Started { tick, at, reason });
        let run = (self.runner)(self.job.kind.clone(), self.stop.clone());
        self.current = Some(Running(tokio::spawn(run)));
    }

    /// At start: the interrupted run resumed first, or the ticks missed while the daemon was
    /// down caught up once or skipped, as `catch_up` says.
    async fn begin<T: TickStore>(&mut self, ticks: &T, now: DateTime<Utc>) {
        let name = self.name.clone();
        if self.job.resume_first {
            self.start(now, Reason::Resume);
            ticks.set_last_tick(&name, now).await;
            return;
        }
        let Some(last) = ticks.last_tick(&name).await else {
            return;
        };
        let missed = ticks_between(&self.job.schedule, last, now);
        if missed == 0 {
            return;
        }
        match self.job.catch_up {
            CatchUp::Once => {
                // Claimed as the first missed tick, which every replica computes alike.
                let first = self.job.schedule.next_after(last).unwrap_or(now);
                if ticks.claim(&name, first).await {
                    tracing::info!(pipeline = %name, missed, last_tick = %last, "Ticks passed while the daemon was down; running once to catch up.");
                    self.start(now, Reason::CatchUp);
                } else {
                    tracing::debug!(pipeline = %name, "Another replica catches up on the missed ticks.");
                }
            }
            CatchUp::Skip => {
                TicksSkipped {
                    pipeline: &name,
                    reason: SkipReason::Missed,
                    n: missed,
                    tick: last,
                }
                .emit();
                self.note(Event::SkippedMissed { missed });
            }
        }
        ticks.set_last_tick(&name, now).await;
    }

    /// Tick after tick from `now`, until `stop`: a tick that finds the last run going is
    /// skipped; one another replica claimed is left to it.
    async fn follow<T: TickStore>(&mut self, ticks: &T, now: DateTime<Utc>) {
        let name = self.name.clone();
        let mut cursor = now;
        loop {
            let Some(tick) = self.job.schedule.next_after(cursor) else {
                tracing::warn!(pipeline = %name, schedule = self.job.schedule.pattern(), "The schedule never fires again.");
                self.stop.cancelled().await;
                return;
            };
            NextRun {
                pipeline: &name,
                at: tick,
            }
            .emit();
            let jitter = if self.job.jitter.is_zero() {
                Duration::ZERO
            } else {
                Duration::from_millis(fastrand::u64(0..=self.job.jitter.as_millis() as u64))
            };
            let jitter = chrono::Duration::from_std(jitter).unwrap_or_default();
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = self.clock.sleep_until(tick + jitter) => {}
            }
            // Woken late (a suspended host, a clock set forward): the ticks passed meanwhile
            // collapse into this one.
            cursor = tick.max(self.clock.now() - jitter);
            if self.current.as_ref().is_some_and(|r| !r.0.is_finished()) {
                TicksSkipped {
                    pipeline: &name,
                    reason: SkipReason::Overlap,
                    n: 1,
                    tick,
                }
                .emit();
                self.note(Event::SkippedOverlap { tick });
                ticks.set_last_tick(&name, tick).await;
                continue;
            }
            ticks.set_last_tick(&name, tick).await;
            if !ticks.claim(&name, tick).await {
                tracing::debug!(pipeline = %name, tick = %tick, "Another replica claimed this tick.");
                continue;
            }
            self.start(tick, Reason::Tick);
        }
    }
}

//! The daemon's schedule, on a virtual clock (tokio's paused time): DST days in Europe/Berlin
//! and America/New_York, no overlapping runs, jitter, both catch-up policies, resuming an
//! interrupted run first, and a stop that waits for the run in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use esg_sync::config::CatchUp;
use esg_sync::scheduler::{
    Clock, Event, Job, JobKind, Journal, MemoryTicks, Reason, Runner, Schedule, run_job,
};
use tokio_util::sync::CancellationToken;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// A runner whose runs take `took` of virtual time (cut short by a stop), and that counts how
/// many run at once.
fn runner(took: Duration, most: Arc<AtomicUsize>) -> Runner {
    let now = Arc::new(AtomicUsize::new(0));
    Arc::new(move |_name, stop: CancellationToken| {
        let (now, most) = (now.clone(), most.clone());
        Box::pin(async move {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(n, Ordering::SeqCst);
            tokio::select! {
                _ = tokio::time::sleep(took) => {}
                _ = stop.cancelled() => {}
            }
            now.fetch_sub(1, Ordering::SeqCst);
        })
    })
}

struct Lived {
    journal: Arc<Journal>,
    most_at_once: usize,
    ticks: Arc<MemoryTicks>,
}

/// Lives `for_` of virtual time from `from` with one job, then stops it.
async fn live(
    cron: &str,
    tz: &str,
    from: &str,
    for_: Duration,
    took: Duration,
    setup: impl FnOnce(&mut Job),
    ticks: MemoryTicks,
) -> Lived {
    let mut job = Job {
        kind: JobKind::Pipeline("p".into()),
        schedule: Schedule::parse(cron, tz).unwrap(),
        jitter: Duration::ZERO,
        catch_up: CatchUp::Once,
        resume_first: false,
    };
    setup(&mut job);
    let journal = Arc::new(Journal::default());
    let most = Arc::new(AtomicUsize::new(0));
    let stop = CancellationToken::new();
    let ticks = Arc::new(ticks);
    let task = tokio::spawn(run_job(
        job,
        Clock::starting_at(utc(from)),
        ticks.clone(),
        runner(took, most.clone()),
        stop.clone(),
        Some(journal.clone()),
    ));
    tokio::time::sleep(for_).await;
    stop.cancel();
    task.await.unwrap();
    Lived {
        journal,
        most_at_once: most.load(Ordering::SeqCst),
        ticks,
    }
}

const DAY: Duration = Duration::from_secs(86_400);
const QUICK: Duration = Duration::from_secs(5);

fn starts(l: &Lived) -> Vec<String> {
    l.journal
        .starts()
        .into_iter()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .collect()
}

/// A daily job across a change of the clocks: its cron and zone, the virtual time it starts
/// at and the days it lives, and the run starts it makes (UTC).
struct DstCase {
    name: &'static str,
    cron: &'static str,
    tz: &'static str,
    from: &'static str,
    days: u32,
    starts: &'static [&'static str],
}

const DST_CASES: &[DstCase] = &[
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    DstCase {
        name: "berlin spring forward",
        cron: "30 2 * * *",
        tz: "Europe/Berlin",
        from: "2026-03-27T12:00:00Z",
        days: 4,
        starts: &[
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-29T01:00:00Z", // 03:00 CEST, the first minute after the gap
            "2026-03-30T00:30:00Z", // 02:30 CEST
            "2026-03-31T00:30:00Z",
        ],
    },
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
    DstCase {
        name: "berlin fall back",
        cron: "30 2 * * *",
        tz: "Europe/Berlin",
        from: "2026-10-23T12:00:00Z",
        days: 4,
        starts: &[
            "2026-10-24T00:30:00Z", // 02:30 CEST
            "2026-10-25T00:30:00Z", // the first 02:30 (CEST) only
            "2026-10-26T01:30:00Z", // 02:30 CET
            "2026-10-27T01:30:00Z",
        ],
    },
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT.
    DstCase {
        name: "new york spring forward",
        cron: "30 2 * * *",
        tz: "America/New_York",
        from: "2026-03-07T12:00:00Z",
        days: 2,
        starts: &[
            "2026-03-08T07:00:00Z", // 03:00 EDT, the first minute after the gap
            "2026-03-09T06:30:00Z", // 02:30 EDT
        ],
    },
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice, the job runs once.
    DstCase {
        name: "new york fall back",
        cron: "30 1 * * *",
        tz: "America/New_York",
        from: "2026-10-31T12:00:00Z",
        days: 2,
        starts: &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
    },
];

/// Lives the case of [`DST_CASES`] named `name` and checks its starts.
async fn dst_case(name: &str) {
    let c = DST_CASES
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"));
    let l = live(
        c.cron,
        c.tz,
        c.from,
        c.days * DAY,
        QUICK,
        |_| {},
        MemoryTicks::default(),
    )
    .await;
    assert_eq!(starts(&l), c.starts, "case `{}`", c.name);
}

#[tokio::test(start_paused = true)]
async fn berlin_spring_forward_runs_the_0230_job_once_right_after_the_gap() {
    dst_case("berlin spring forward").await;
}

#[tokio::test(start_paused = true)]
async fn berlin_fall_back_runs_the_0230_job_once() {
    dst_case("berlin fall back").await;
}

#[tokio::test(start_paused = true)]
async fn an_hourly_job_follows_the_clock_through_both_berlin_changes() {
    // Local days of 23 and 25 hours: every real hour runs once, none twice.
    let spring = live(
        "0 * * * *",
        "Europe/Berlin",
        "2026-03-28T23:00:00Z", // 00:00 CET on the 29th
        DAY - Duration::from_secs(3600) + Duration::from_secs(1),
        QUICK,
        |_| {},
        MemoryTicks::default(),
    )
    .await;
    let s = spring.journal.starts();
    assert_eq!(s.len(), 23, "{:?}", starts(&spring));
    assert!(
        s.windows(2)
            .all(|w| w[1] - w[0] == chrono::Duration::hours(1))
    );
    let fall = live(
        "0 * * * *",
        "Europe/Berlin",
        "2026-10-24T22:00:00Z", // 00:00 CEST on the 25th
        DAY + Duration::from_secs(3600) + Duration::from_secs(1),
        QUICK,
        |_| {},
        MemoryTicks::default(),
    )
    .await;
    let f = fall.journal.starts();
    assert_eq!(f.len(), 25, "{:?}", starts(&fall));
    assert!(
        f.windows(2)
            .all(|w| w[1] - w[0] == chrono::Duration::hours(1))
    );
}

#[tokio::test(start_paused = true)]
async fn new_york_both_changes() {
    dst_case("new york spring forward").await;
    dst_case("new york fall back").await;
}

#[tokio::test(start_paused = true)]
async fn a_tick_that_finds_the_run_still_going_is_skipped() {
    // Every minute, runs of 150 s: the ticks at +2 and +3 find the first run going.
    let l = live(
        "* * * * *",
        "UTC",
        "2026-06-01T00:00:00Z",
        Duration::from_secs(10 * 60 + 1),
        Duration::from_secs(150),
        |_| {},
        MemoryTicks::default(),
    )
    .await;
    assert_eq!(l.most_at_once, 1, "never two runs of one pipeline at once");
    assert_eq!(
        starts(&l),
        vec![
            "2026-06-01T00:01:00Z",
            "2026-06-01T00:04:00Z",
            "2026-06-01T00:07:00Z",
            "2026-06-01T00:10:00Z",
        ]
    );
    let skipped: Vec<_> = l
        .journal
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::SkippedOverlap { .. }))
        .collect();
    assert_eq!(skipped.len(), 6);
    assert_eq!(
        skipped[0],
        Event::SkippedOverlap {
            tick: utc("2026-06-01T00:02:00Z")
        }
    );
    // A skipped tick counts as handled: a restart does not count it as missed.
    assert_eq!(
        esg_sync::scheduler::TickStore::last_tick(&*l.ticks, "p").await,
        Some(utc("2026-06-01T00:10:00Z"))
    );
}

#[tokio::test(start_paused = true)]
async fn jitter_delays_each_run_within_its_bound() {
    let l = live(
        "0 * * * *",
        "UTC",
        "2026-06-01T00:00:00Z",
        Duration::from_secs(10 * 3600 + 601),
        QUICK,
        |j| j.jitter = Duration::from_secs(600),
        MemoryTicks::default(),
    )
    .await;
    let events = l.journal.events();
    assert_eq!(events.len(), 10);
    let mut delays = Vec::new();
    for e in events {
        let Event::Started { tick, at, reason } = e else {
            panic!("{e:?}")
        };
        assert_eq!(reason, Reason::Tick);
        assert_eq!(tick.format("%M:%S").to_string(), "00:00");
        let d = (at - tick).num_seconds();
        assert!((0..=600).contains(&d), "{d}");
        delays.push(d);
    }
    delays.dedup();
    assert!(delays.len() > 1, "the delays vary: {delays:?}");
}

#[tokio::test(start_paused = true)]
async fn catch_up_once_runs_at_start_when_ticks_were_missed() {
    // Daily at 03:00; the daemon was down from the 1st to the 4th at noon.
    let l = live(
        "0 3 * * *",
        "UTC",
        "2026-06-04T12:00:00Z",
        DAY,
        QUICK,
        |j| j.catch_up = CatchUp::Once,
        MemoryTicks::with("p", utc("2026-06-01T03:00:00Z")),
    )
    .await;
    let e = l.journal.events();
    assert_eq!(
        e[0],
        Event::Started {
            tick: utc("2026-06-04T12:00:00Z"),
            at: utc("2026-06-04T12:00:00Z"),
            reason: Reason::CatchUp
        },
        "one run for the three missed ticks"
    );
    assert_eq!(
        starts(&l),
        vec!["2026-06-04T12:00:00Z", "2026-06-05T03:00:00Z"]
    );
}

#[tokio::test(start_paused = true)]
async fn catch_up_skip_waits_for_the_next_tick_and_counts_the_missed_ones() {
    let l = live(
        "0 3 * * *",
        "UTC",
        "2026-06-04T12:00:00Z",
        DAY,
        QUICK,
        |j| j.catch_up = CatchUp::Skip,
        MemoryTicks::with("p", utc("2026-06-01T03:00:00Z")),
    )
    .await;
    assert_eq!(l.journal.events()[0], Event::SkippedMissed { missed: 3 });
    assert_eq!(starts(&l), vec!["2026-06-05T03:00:00Z"]);
}

#[tokio::test(start_paused = true)]
async fn no_catch_up_when_nothing_was_missed_or_on_a_first_start() {
    for last in [Some("2026-06-04T03:00:00Z"), None] {
        let ticks = match last {
            Some(t) => MemoryTicks::with("p", utc(t)),
            None => MemoryTicks::default(),
        };
        let l = live(
            "0 3 * * *",
            "UTC",
            "2026-06-04T12:00:00Z",
            DAY,
            QUICK,
            |_| {},
            ticks,
        )
        .await;
        assert_eq!(starts(&l), vec!["2026-06-05T03:00:00Z"], "{last:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_run_is_resumed_first() {
    let l = live(
        "0 3 * * *",
        "UTC",
        "2026-06-04T12:00:00Z",
        DAY,
        QUICK,
        |j| {
            j.resume_first = true;
            j.catch_up = CatchUp::Skip;
        },
        MemoryTicks::with("p", utc("2026-06-01T03:00:00Z")),
    )
    .await;
    assert!(matches!(
        l.journal.events()[0],
        Event::Started {
            reason: Reason::Resume,
            ..
        }
    ));
    assert_eq!(
        starts(&l),
        vec!["2026-06-04T12:00:00Z", "2026-06-05T03:00:00Z"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_waits_for_the_run_in_flight_and_starts_nothing_new() {
    let journal = Arc::new(Journal::default());
    let stop = CancellationToken::new();
    let ended = Arc::new(AtomicUsize::new(0));
    let e2 = ended.clone();
    let slow: Runner = Arc::new(move |_n, _stop| {
        let e2 = e2.clone();
        // Ignores the stop: the batches it sent must be polled to their end.
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(300)).await;
            e2.fetch_add(1, Ordering::SeqCst);
        })
    });
    let job = Job {
        kind: JobKind::Pipeline("p".into()),
        schedule: Schedule::parse("* * * * *", "UTC").unwrap(),
        jitter: Duration::ZERO,
        catch_up: CatchUp::Once,
        resume_first: false,
    };
    let task = tokio::spawn(run_job(
        job,
        Clock::starting_at(utc("2026-06-01T00:00:30Z")),
        Arc::new(MemoryTicks::default()),
        slow,
        stop.clone(),
        Some(journal.clone()),
    ));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(journal.starts().len(), 1);
    stop.cancel();
    task.await.unwrap();
    assert_eq!(ended.load(Ordering::SeqCst), 1, "the run was let finish");
    assert_eq!(journal.starts().len(), 1, "no new run after the stop");
}

#[test]
fn schedules_are_checked() {
    assert!(Schedule::parse("0 3 * * *", "UTC").is_ok());
    assert!(Schedule::parse("*/10 0 3 * * *", "Europe/Berlin").is_ok());
    let e = Schedule::parse("0 3 * *", "UTC").unwrap_err().to_string();
    assert!(e.contains("4 fields"), "{e}");
    let e = Schedule::parse("0 25 * * *", "UTC")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a cron expression"), "{e}");
    let e = Schedule::parse("0 3 * * *", "Europe/Atlantis")
        .unwrap_err()
        .to_string();
    assert!(e.contains("IANA"), "{e}");
}

/// Three replicas' schedules of one pipeline, sharing one tick store, run each tick
/// once between them, and catch up on missed ticks once between them.
#[tokio::test(start_paused = true)]
async fn replicas_sharing_a_tick_store_run_each_tick_once_and_catch_up_once() {
    let from = utc("2026-06-01T09:30:00Z");
    // Ticks were missed while every replica was down: the last one handled was at 06:00.
    let ticks = Arc::new(MemoryTicks::with("p", utc("2026-06-01T06:00:00Z")));
    let stop = CancellationToken::new();
    let journals: Vec<Arc<Journal>> = (0..3).map(|_| Arc::new(Journal::default())).collect();
    let tasks: Vec<_> = journals
        .iter()
        .map(|j| {
            let job = Job {
                kind: JobKind::Pipeline("p".into()),
                schedule: Schedule::parse("0 * * * *", "UTC").unwrap(),
                jitter: Duration::ZERO,
                catch_up: CatchUp::Once,
                resume_first: false,
            };
            tokio::spawn(run_job(
                job,
                Clock::starting_at(from),
                ticks.clone(),
                runner(Duration::from_secs(60), Arc::new(AtomicUsize::new(0))),
                stop.clone(),
                Some(j.clone()),
            ))
        })
        .collect();
    // 10:00 to 15:00: six ticks.
    tokio::time::sleep(Duration::from_secs(5 * 3600 + 40 * 60)).await;
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    let events: Vec<Event> = journals.iter().flat_map(|j| j.events()).collect();
    let catch_ups = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Started {
                    reason: Reason::CatchUp,
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        catch_ups, 1,
        "one catch-up between the replicas: {events:?}"
    );
    let mut ticked: Vec<DateTime<Utc>> = events
        .iter()
        .filter_map(|e| match e {
            Event::Started {
                tick,
                reason: Reason::Tick,
                ..
            } => Some(*tick),
            _ => None,
        })
        .collect();
    ticked.sort();
    let want: Vec<DateTime<Utc>> = (10..=15)
        .map(|h| utc(&format!("2026-06-01T{h}:00:00Z")))
        .collect();
    assert_eq!(
        ticked, want,
        "each tick started once, on one replica or another"
    );
}

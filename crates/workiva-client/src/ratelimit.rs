//! Client-side limits: adaptive request concurrency (AIMD, as TCP and Vector's adaptive
//! request concurrency do), an optional fixed request rate (token bucket), and a pause while
//! the server's `Retry-After` runs.
//!
//! The concurrency limit starts at [`INITIAL_LIMIT`] requests in flight. Each clean, fast
//! answer raises it: by one per answer until the first cut (slow start), then by one per
//! limit's worth of answers. A 429, 503 or 504, a timeout, or an answer much slower than the
//! running average cuts it (by half for the server's refusals, by a tenth for slowness), at
//! most once per cooling period so one burst of refusals counts once. It never exceeds
//! `max_concurrent_requests` nor falls below 1. The arithmetic ([`Aimd`]) is pure and takes
//! the time as an argument, so it is tested on a virtual clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::telemetry::{ConcurrencyChanged, Event};

/// Requests in flight at first.
pub const INITIAL_LIMIT: f64 = 4.0;
/// An answer slower than this many times the running average is a sign of load ...
const SLOW_FACTOR: f64 = 3.0;
/// ... and slower than the average by at least this much (loopback noise is not load).
const SLOW_MARGIN_MS: f64 = 100.0;

/// What an answer says about the server's load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// An answer (any status but the ones below), and how long it took.
    Answered(Duration),
    /// 429, 503, 504 or a timeout: the server wants less.
    Overloaded,
    /// Says nothing about load (a connection refused, a 500).
    Neutral,
}

/// The additive-increase, multiplicative-decrease arithmetic.
#[derive(Debug, Clone)]
pub struct Aimd {
    limit: f64,
    ceiling: f64,
    slow_start: bool,
    avg_ms: Option<f64>,
    last_cut: Option<Instant>,
    pub raised: u64,
    pub cut: u64,
}

impl Aimd {
    pub fn new(ceiling: usize) -> Self {
        let ceiling = ceiling.max(1) as f64;
        Self {
            limit: INITIAL_LIMIT.min(ceiling),
            ceiling,
            slow_start: true,
            avg_ms: None,
            last_cut: None,
            raised: 0,
            cut: 0,
        }
    }

    /// Requests allowed in flight now.
    pub fn limit(&self) -> usize {
        (self.limit.floor() as usize).max(1)
    }

    /// Cuts are at least this far apart: a little more than one round trip.
    fn cooling(&self) -> Duration {
        Duration::from_secs_f64((self.avg_ms.unwrap_or(50.0) * 2.0).max(50.0) / 1000.0)
    }

    fn cut_by(&mut self, factor: f64, now: Instant) {
        if self
            .last_cut
            .is_some_and(|t| now.duration_since(t) < self.cooling())
        {
            return;
        }
        self.limit = (self.limit * factor).max(1.0);
        self.slow_start = false;
        self.last_cut = Some(now);
        self.cut += 1;
    }

    pub fn feed(&mut self, s: Signal, now: Instant) {
        match s {
            Signal::Neutral => {}
            Signal::Overloaded => self.cut_by(0.5, now),
            Signal::Answered(took) => {
                let ms = took.as_secs_f64() * 1000.0;
                let avg = self.avg_ms.unwrap_or(ms);
                if ms > avg * SLOW_FACTOR && ms > avg + SLOW_MARGIN_MS {
                    self.cut_by(0.9, now);
                } else {
                    let before = self.limit();
                    let step = if self.slow_start {
                        1.0
                    } else {
                        1.0 / self.limit
                    };
                    self.limit = (self.limit + step).min(self.ceiling);
                    if self.limit() > before {
                        self.raised += 1;
                    }
                }
                // A slow answer moves the average a little, so a lasting change is learnt.
                self.avg_ms = Some(avg * 0.9 + ms * 0.1);
            }
        }
    }
}

struct State {
    aimd: Aimd,
    in_flight: usize,
    /// No request starts before this (the server's `Retry-After`).
    paused_until: Option<Instant>,
    /// The fixed rate's token bucket: tokens and when it was last filled.
    bucket: (f64, Instant),
}

/// The limits of one client, shared by its requests.
pub struct Limiter {
    rate: f64,
    state: Mutex<State>,
    wake: Notify,
}

/// A request's place in flight; give [`Slot::feedback`] what its answer said.
pub struct Slot {
    limiter: Arc<Limiter>,
}

impl Limiter {
    /// `rate` requests per second (0: no fixed rate), at most `ceiling` requests at once.
    pub fn new(rate: f64, ceiling: usize) -> Arc<Self> {
        Arc::new(Self {
            rate,
            state: Mutex::new(State {
                aimd: Aimd::new(ceiling),
                in_flight: 0,
                paused_until: None,
                bucket: (rate.max(1.0), Instant::now()),
            }),
            wake: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The concurrency limit now.
    pub fn limit(&self) -> usize {
        self.lock().aimd.limit()
    }

    /// Waits for a place in flight (and a rate token, and the end of a server's pause).
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            let woken = self.wake.notified();
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                let rate_wait = if self.rate > 0.0 {
                    let burst = self.rate.max(1.0);
                    let (tokens, at) = s.bucket;
                    let tokens =
                        (tokens + now.duration_since(at).as_secs_f64() * self.rate).min(burst);
                    s.bucket = (tokens, now);
                    (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.rate))
                } else {
                    None
                };
                let paused = s.paused_until.filter(|t| *t > now).map(|t| t - now);
                match (paused.or(rate_wait), s.in_flight < s.aimd.limit()) {
                    (None, true) => {
                        s.in_flight += 1;
                        if self.rate > 0.0 {
                            s.bucket.0 -= 1.0;
                        }
                        return Slot {
                            limiter: self.clone(),
                        };
                    }
                    (Some(w), _) => Some(w),
                    (None, false) => None,
                }
            };
            match wait {
                Some(w) => tokio::time::sleep(w).await,
                None => woken.await,
            }
        }
    }

    /// The server asked for a pause (`Retry-After`): no request starts before it ends.
    pub fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut s = self.lock();
        if s.paused_until.is_none_or(|t| t < until) {
            s.paused_until = Some(until);
        }
    }
}

impl Slot {
    /// Feeds what the answer said into the limit.
    pub fn feedback(&self, signal: Signal) {
        let (limit, raised, cut) = {
            let mut s = self.limiter.lock();
            let before = (s.aimd.raised, s.aimd.cut);
            s.aimd.feed(signal, Instant::now());
            (
                s.aimd.limit(),
                s.aimd.raised > before.0,
                s.aimd.cut > before.1,
            )
        };
        ConcurrencyChanged { limit, raised, cut }.emit();
        self.limiter.wake.notify_waiters();
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limiter.lock().in_flight -= 1;
        self.limiter.wake.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn clean_fast_answers_raise_the_limit_to_the_ceiling() {
        let t0 = Instant::now();
        let mut a = Aimd::new(64);
        assert_eq!(a.limit(), 4);
        for i in 0..10 {
            a.feed(Signal::Answered(ms(20)), t0 + ms(i * 20));
        }
        assert_eq!(a.limit(), 14, "slow start: one more per answer");
        for i in 0..10_000 {
            a.feed(Signal::Answered(ms(20)), t0 + ms(1000 + i));
        }
        assert_eq!(a.limit(), 64, "never above the ceiling");
    }

    #[test]
    fn refusals_halve_it_once_per_burst_and_it_then_grows_slowly() {
        let t0 = Instant::now();
        let mut a = Aimd::new(64);
        for i in 0..28 {
            a.feed(Signal::Answered(ms(20)), t0 + ms(i));
        }
        assert_eq!(a.limit(), 32);
        // A burst of 429s within one round trip counts once.
        for i in 0..5 {
            a.feed(Signal::Overloaded, t0 + ms(100 + i));
        }
        assert_eq!(a.limit(), 16);
        a.feed(Signal::Overloaded, t0 + ms(300));
        assert_eq!(a.limit(), 8);
        // Congestion avoidance: one more per limit's worth of answers.
        for i in 0..9 {
            a.feed(Signal::Answered(ms(20)), t0 + ms(400 + i));
        }
        assert_eq!(a.limit(), 9);
        // Never below one.
        for i in 0..20 {
            a.feed(Signal::Overloaded, t0 + ms(1000 + i * 1000));
        }
        assert_eq!(a.limit(), 1);
    }

    #[test]
    fn rising_latency_cuts_it_and_neutral_answers_do_nothing() {
        let t0 = Instant::now();
        let mut a = Aimd::new(64);
        for i in 0..20 {
            a.feed(Signal::Answered(ms(20)), t0 + ms(i));
        }
        let before = a.limit();
        a.feed(Signal::Answered(ms(400)), t0 + ms(500));
        assert_eq!(a.limit(), (before as f64 * 0.9) as usize);
        let before = a.limit();
        a.feed(Signal::Neutral, t0 + ms(600));
        assert_eq!(a.limit(), before);
        // Loopback jitter (fast, if a few times the average) is not load.
        a.feed(Signal::Answered(ms(80)), t0 + ms(700));
        assert!(a.limit() >= before);
    }

    #[tokio::test]
    async fn the_limiter_holds_requests_to_the_limit_and_wakes_waiters() {
        let l = Limiter::new(0.0, 2);
        let a = l.acquire().await;
        let _b = l.acquire().await;
        assert!(
            tokio::time::timeout(ms(50), l.acquire()).await.is_err(),
            "the ceiling holds"
        );
        drop(a);
        assert!(tokio::time::timeout(ms(50), l.acquire()).await.is_ok());
    }

    #[tokio::test]
    async fn a_pause_holds_every_new_request() {
        let l = Limiter::new(0.0, 8);
        l.pause(ms(150));
        let t = Instant::now();
        let _s = l.acquire().await;
        assert!(t.elapsed() >= ms(140));
    }
}

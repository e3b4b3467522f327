//! The retry policy, as a type: what to do after a failed attempt. It retries what
//! [`WorkivaError::is_retriable`] says may succeed, waits the server's `Retry-After` when there
//! is one (such waits do not use up attempts), and otherwise backs off exponentially with full
//! jitter, bounded by attempts and by total time.

use std::time::Duration;

use super::config::WorkivaConfig;
use super::error::WorkivaError;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAction {
    /// Wait, then send again. `counts`: whether the attempt budget is used.
    Retry { delay: Duration, counts: bool },
    /// Give up and return the error.
    Stop,
    /// The server asked for a wait longer than the time left: give up now, saying so.
    WaitTooLong { wait: Duration, left: Duration },
}

/// What the policy needs to know of a failed attempt: whether another may succeed, and the
/// wait the server asked for. Workiva's errors are one kind; an alert receiver's answers
/// another.
pub trait Failure {
    fn is_retriable(&self) -> bool;
    fn retry_after(&self) -> Option<Duration>;
}

impl Failure for WorkivaError {
    fn is_retriable(&self) -> bool {
        WorkivaError::is_retriable(self)
    }
    fn retry_after(&self) -> Option<Duration> {
        WorkivaError::retry_after(self)
    }
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Most attempts, the first included; `Retry-After` waits do not count.
    pub max_attempts: u32,
    /// Longest total time spent on one request, waits included.
    pub max_elapsed: Duration,
    /// First backoff step; doubles each attempt.
    pub base: Duration,
    /// Largest backoff step.
    pub cap: Duration,
    /// Most further attempts after waits the server asked for (`Retry-After`).
    pub max_server_waits: u32,
}

impl RetryPolicy {
    pub fn from_config(c: &WorkivaConfig) -> Self {
        Self {
            max_attempts: c.max_attempts.max(1),
            max_elapsed: Duration::from_secs(c.max_retry_secs),
            base: Duration::from_millis(c.backoff_base_ms),
            cap: Duration::from_millis(c.backoff_max_ms.max(c.backoff_base_ms)),
            max_server_waits: c.max_server_waits,
        }
    }

    /// The full-jitter backoff before counted attempt `n + 1` (`n` >= 1 attempts used):
    /// uniformly random between zero and `min(cap, base * 2^(n-1))`.
    pub fn backoff(&self, n: u32, unit: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << (n.saturating_sub(1)).min(20));
        exp.min(self.cap).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Decides after a failure. `counted`: attempts used so far; `elapsed`: time since the
    /// first attempt; `unit`: a random number in [0, 1) for the jitter.
    /// `counted`: attempts so far that used the budget; `server_waits`: retries so far after
    /// a wait the server asked for.
    pub fn decide(
        &self,
        err: &impl Failure,
        counted: u32,
        server_waits: u32,
        elapsed: Duration,
        unit: f64,
    ) -> RetryAction {
        if !err.is_retriable() {
            return RetryAction::Stop;
        }
        if let Some(asked) = err.retry_after() {
            if server_waits >= self.max_server_waits {
                return RetryAction::Stop;
            }
            // `Retry-After: 0` must not turn into a storm of requests.
            let wait = asked.max(self.base);
            let left = self.max_elapsed.saturating_sub(elapsed);
            return if wait > left {
                RetryAction::WaitTooLong { wait, left }
            } else {
                RetryAction::Retry {
                    delay: wait,
                    counts: false,
                }
            };
        }
        if counted >= self.max_attempts {
            return RetryAction::Stop;
        }
        let delay = self.backoff(counted, unit);
        if elapsed + delay > self.max_elapsed {
            return RetryAction::Stop;
        }
        RetryAction::Retry {
            delay,
            counts: true,
        }
    }
}

/// One request's tries so far, as the policy reckons them: the attempts that used the budget
/// (the one that just failed included), the retries after waits the server asked for, and
/// the time since the first attempt. Each caller that retries keeps one.
#[derive(Debug)]
pub struct Tries {
    pub counted: u32,
    pub server_waits: u32,
    started: std::time::Instant,
}

impl Tries {
    /// Before the first attempt.
    pub fn start() -> Self {
        Self {
            counted: 1,
            server_waits: 0,
            started: std::time::Instant::now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// What to do after `err` (jitter drawn here); a retry is counted as the policy says.
    pub fn next(&mut self, policy: &RetryPolicy, err: &impl Failure) -> RetryAction {
        let action = policy.decide(
            err,
            self.counted,
            self.server_waits,
            self.elapsed(),
            fastrand::f64(),
        );
        if let RetryAction::Retry { counts, .. } = action {
            if counts {
                self.counted += 1;
            } else {
                self.server_waits += 1;
            }
        }
        action
    }
}

/// Parses `Retry-After`: whole seconds, or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            max_elapsed: Duration::from_secs(60),
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            max_server_waits: 3,
        }
    }

    fn api(status: u16, retry_after: Option<u64>) -> WorkivaError {
        WorkivaError::Api(Box::new(super::super::error::ApiFailure {
            status,
            code: String::new(),
            message: String::new(),
            target: None,
            details: vec![],
            method: "GET".into(),
            path: "/programs".into(),
            retry_after: retry_after.map(Duration::from_secs),
        }))
    }

    #[test]
    fn full_jitter_grows_and_is_capped() {
        let p = policy();
        assert_eq!(
            p.backoff(1, 0.999_999),
            Duration::from_millis(100).mul_f64(0.999_999)
        );
        assert_eq!(p.backoff(3, 1.0), Duration::from_millis(400));
        assert_eq!(p.backoff(10, 1.0), Duration::from_secs(2), "capped");
        assert_eq!(
            p.backoff(3, 0.0),
            Duration::ZERO,
            "full jitter reaches zero"
        );
        assert_eq!(p.backoff(40, 1.0), Duration::from_secs(2), "no overflow");
    }

    /// Four attempts in the budget, each waited on but the last; a `Retry-After` among them
    /// neither uses the budget nor is forgotten.
    #[test]
    fn tries_count_what_the_policy_counts() {
        let p = policy();
        let mut t = Tries::start();
        let mut actions = Vec::new();
        for err in [
            api(503, None),
            api(429, Some(0)),
            api(503, None),
            api(503, None),
        ] {
            actions.push(t.next(&p, &err));
        }
        assert!(
            actions
                .iter()
                .all(|a| matches!(a, RetryAction::Retry { .. })),
            "{actions:?}"
        );
        assert_eq!((t.counted, t.server_waits), (4, 1));
        assert_eq!(
            t.next(&p, &api(503, None)),
            RetryAction::Stop,
            "the budget is spent"
        );
        assert_eq!((t.counted, t.server_waits), (4, 1), "a stop counts nothing");
    }

    #[test]
    fn decisions() {
        let p = policy();
        assert_eq!(
            p.decide(&api(400, None), 1, 0, Duration::ZERO, 0.5),
            RetryAction::Stop
        );
        assert_eq!(
            p.decide(&api(404, None), 1, 0, Duration::ZERO, 0.5),
            RetryAction::Stop
        );
        assert_eq!(
            p.decide(&api(409, None), 1, 0, Duration::ZERO, 0.5),
            RetryAction::Stop
        );
        assert!(matches!(
            p.decide(&api(503, None), 1, 0, Duration::ZERO, 0.5),
            RetryAction::Retry { counts: true, .. }
        ));
        assert_eq!(
            p.decide(&api(503, None), 4, 0, Duration::ZERO, 0.5),
            RetryAction::Stop,
            "attempts used up"
        );
        // Retry-After: wait exactly that long, without using the attempt budget.
        assert_eq!(
            p.decide(&api(429, Some(7)), 4, 0, Duration::ZERO, 0.5),
            RetryAction::Retry {
                delay: Duration::from_secs(7),
                counts: false
            }
        );
        assert_eq!(
            p.decide(&api(429, Some(7)), 1, 0, Duration::from_secs(55), 0.5),
            RetryAction::WaitTooLong {
                wait: Duration::from_secs(7),
                left: Duration::from_secs(5)
            },
            "a wait beyond the time left ends at once, saying so"
        );
        assert_eq!(
            p.decide(&api(429, Some(7)), 1, 3, Duration::ZERO, 0.5),
            RetryAction::Stop,
            "the server's waits have a cap of their own"
        );
        assert_eq!(
            p.decide(&api(503, Some(0)), 1, 0, Duration::ZERO, 0.5),
            RetryAction::Retry {
                delay: Duration::from_millis(100),
                counts: false
            },
            "Retry-After: 0 is raised to the backoff floor"
        );
        assert!(
            matches!(
                p.decide(&api(429, None), 1, 0, Duration::ZERO, 0.5),
                RetryAction::Retry { counts: true, .. }
            ),
            "429 without Retry-After backs off"
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        let future = std::time::SystemTime::now() + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(future)).unwrap();
        assert!(
            d > Duration::from_secs(28) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}

/// Property tests: any header text, never a panic.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_retry_after_is_a_wait_or_none(s in "\\PC{0,40}") {
            let _ = parse_retry_after(&s);
        }

        #[test]
        fn seconds_read_as_seconds(n in any::<u64>()) {
            prop_assert_eq!(parse_retry_after(&n.to_string()), Some(Duration::from_secs(n)));
        }
    }
}

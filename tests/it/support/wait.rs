//! Waiting for what another process or task does, and the outside servers a test needs.

use std::time::{Duration, Instant};

/// How long a test waits for something another process does. Generous, because CI runs
/// every test at once on two cores; a passing test never waits this long.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The outside server or tool a test needs, from variable `var`: `None` (saying the test was
/// skipped, and `how` it is set) when unset on a developer's machine; with `CI=true` an unset
/// variable fails the test instead, so CI never passes a test it did not run.
pub fn outside(var: &str, how: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{var} is not set, and CI=true: {how}"
            );
            eprintln!("skipped: {var} is not set ({how})");
            None
        }
    }
}

/// Checks `check` every 20 ms until it holds (true) or [`PATIENCE`] runs out (false). A
/// wall-clock deadline, not a count of tries, so a slow machine only makes it slower.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! Planned failure points for crash tests: with `ESG_SYNC_FAILPOINT=NAME` (or `NAME:N` for the
//! Nth time it is reached) the process aborts there, as a `kill -9` would stop it: no
//! destructors, no flushing, nothing recorded after. Unset, a failure point costs one load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static PLAN: OnceLock<Option<(String, usize)>> = OnceLock::new();
static HITS: AtomicUsize = AtomicUsize::new(0);

/// Points: `batch_recorded` (before sending), `operation_recorded` (URL stored, not polled),
/// `batch_completed` (outcome stored), `run_started`.
pub fn hit(name: &str) {
    let plan = PLAN.get_or_init(|| {
        let v = std::env::var("ESG_SYNC_FAILPOINT").ok()?;
        let (n, count) = match v.split_once(':') {
            Some((n, c)) => (n.to_string(), c.parse().unwrap_or(1)),
            None => (v, 1),
        };
        Some((n, count))
    });
    if let Some((n, count)) = plan
        && n == name
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *count
    {
        eprintln!("failure point `{name}` reached: aborting");
        std::process::abort();
    }
}

//! Planned failure points for crash tests: with `ESG_SYNC_FAILPOINT=NAME` (or `NAME:N` for the
//! Nth time it is reached) the process aborts there, as a `kill -9` would stop it: no
//! destructors, no flushing, nothing recorded after. With `panic:NAME` (or `panic:NAME:N`) the
//! run panics there instead, as a bug would. Unset, a failure point costs one load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static PLAN: OnceLock<Option<(String, usize, bool)>> = OnceLock::new();
static HITS: AtomicUsize = AtomicUsize::new(0);

/// Points: `run_recorded` (the run recorded, nothing resumed or read yet), `run_started`
/// (planned), `batch_recorded` (before sending), `operation_recorded` (URL stored, not polled),
/// `batch_completed` (outcome stored).
pub fn hit(name: &str) {
    let plan = PLAN.get_or_init(|| {
        let v = std::env::var("ESG_SYNC_FAILPOINT").ok()?;
        let (v, panics) = match v.strip_prefix("panic:") {
            Some(rest) => (rest.to_string(), true),
            None => (v, false),
        };
        let (n, count) = match v.split_once(':') {
            Some((n, c)) => (n.to_string(), c.parse().unwrap_or(1)),
            None => (v, 1),
        };
        Some((n, count, panics))
    });
    if let Some((n, count, panics)) = plan
        && n == name
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *count
    {
        if *panics {
            panic!("planned panic at failure point `{name}`");
        }
        eprintln!("failure point `{name}` reached: aborting");
        std::process::abort();
    }
}

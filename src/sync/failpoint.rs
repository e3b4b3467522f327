//! Planned failure points for crash tests: with `ESG_SYNC_FAILPOINT=NAME` (or `NAME:N` for the
//! Nth time it is reached) the process aborts there, as a `kill -9` would stop it: no
//! destructors, no flushing, nothing recorded after. With `panic:NAME` (or `panic:NAME:N`) the
//! run panics there instead, as a bug would. Unset, a failure point costs one load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static PLAN: OnceLock<Option<(String, usize, bool)>> = OnceLock::new();
static HITS: AtomicUsize = AtomicUsize::new(0);

/// The failure points, named in `ESG_SYNC_FAILPOINT` as [`Point::name`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// The run recorded, nothing resumed or read yet.
    RunRecorded,
    /// The run planned.
    RunStarted,
    /// A batch recorded, before it is sent.
    BatchRecorded,
    /// A batch's operation URL stored, not polled yet.
    OperationRecorded,
    /// A batch's outcome stored.
    BatchCompleted,
    /// A final reviewer's decision recorded, before it is submitted.
    DecisionRecorded,
}

impl Point {
    /// The name `ESG_SYNC_FAILPOINT` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::RunRecorded => "run_recorded",
            Self::RunStarted => "run_started",
            Self::BatchRecorded => "batch_recorded",
            Self::OperationRecorded => "operation_recorded",
            Self::BatchCompleted => "batch_completed",
            Self::DecisionRecorded => "decision_recorded",
        }
    }
}

/// Aborts (or panics) here when `ESG_SYNC_FAILPOINT` names this point.
pub fn hit(point: Point) {
    let name = point.name();
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

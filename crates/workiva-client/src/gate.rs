//! A run's gate on writes to Workiva: within its scope, every attempt of every request that
//! changes Workiva (anything but GET), retries included, first asks the gate. A run whose
//! lease is lost, or that is stopping, so sends nothing more: not a new batch, and not the
//! next retry of one already going.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

/// What a run checks before each write attempt.
pub trait Gate: Send + Sync {
    /// `None` lets the attempt go; `Some(why)` refuses it.
    fn check(&self) -> BoxFuture<'_, Option<String>>;
}

tokio::task_local! {
    static GATE: Arc<dyn Gate>;
}

/// Runs `f` with `gate` asked before each write attempt made within it.
pub async fn scope<F: Future>(gate: Arc<dyn Gate>, f: F) -> F::Output {
    GATE.scope(gate, f).await
}

/// Why a write attempt may not go now, if it may not (no gate in scope: it may).
pub async fn refusal() -> Option<String> {
    let gate = GATE.try_with(Arc::clone).ok()?;
    gate.check().await
}

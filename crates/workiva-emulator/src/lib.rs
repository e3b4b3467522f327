//! A faithful local emulator of the Workiva Platform API (version 2026-01-01) for
//! sustainability: programs, topics, dimensions, metrics, metric values, batch upsertion and
//! deletion with asynchronous operations, tasks, permissions and OAuth, in memory.
//!
//! Users run it with `esg-sync emulator` to try a pipeline; tests start it in process on port
//! 0 with [`Emulator::start`]. Every behaviour that is our decision rather than Workiva's
//! documented behaviour is listed in `docs/emulator.md`.

pub mod admin;
pub mod auth;
pub mod config;
pub mod error;
pub mod filter;
pub mod gateway;
pub mod input;
pub mod model;
pub mod paging;
pub mod patch;
pub mod routes;
pub mod seed;
pub mod serve;
pub mod store;
pub mod value_input;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{ClientConfig, ConfigError, EmulatorConfig, Settings};
pub use gateway::LoggedRequest;
pub use seed::{Seed, SeedError};

use gateway::{Shared, lock};

/// The routes' state.
type App = Router<Arc<Shared>>;

/// Builds the emulator's router over shared state.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut app = Router::new()
        .merge(token_routes())
        .merge(program_routes())
        .merge(value_routes())
        .merge(operation_routes())
        .merge(permission_routes())
        .merge(task_routes());
    if shared.admin {
        app = app.merge(admin_routes(&shared));
    }
    app.fallback(routes::not_found_fallback)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            gateway::gateway,
        ))
        // The gateway enforces the 10 MB limit itself, with Workiva's 413 body.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// OAuth client credentials, at the current and the deprecated IAM path.
fn token_routes() -> App {
    Router::new()
        .route("/oauth2/token", post(auth::token))
        .route("/iam/v1/oauth2/token", post(auth::token))
}

/// Programs and their topics, dimensions and metrics.
fn program_routes() -> App {
    use routes as r;
    Router::new()
        .route("/programs", get(r::list_programs).post(r::create_program))
        .route(
            "/programs/{programId}",
            get(r::get_program).patch(r::patch_program),
        )
        .route(
            "/programs/{programId}/topics",
            get(r::list_topics).post(r::create_topic),
        )
        .route(
            "/programs/{programId}/topics/{topicId}",
            get(r::get_topic)
                .patch(r::patch_topic)
                .delete(r::delete_topic),
        )
        .route(
            "/programs/{programId}/dimensions",
            get(r::list_dimensions).post(r::create_dimension),
        )
        .route(
            "/programs/{programId}/dimensions/{dimensionId}",
            get(r::get_dimension).patch(r::patch_dimension),
        )
        .route(
            "/programs/{programId}/metrics",
            get(r::list_metrics).post(r::create_metric),
        )
        .route(
            "/programs/{programId}/metrics/{metricId}",
            get(r::get_metric)
                .patch(r::patch_metric)
                .delete(r::delete_metric),
        )
}

/// A metric's values, one by one and in batches (with the deprecated prototype upsertion).
fn value_routes() -> App {
    use routes as r;
    Router::new()
        .route(
            "/programs/{programId}/metrics/{metricId}/values",
            get(r::list_values).post(r::create_value),
        )
        .route(
            "/programs/{programId}/metrics/{metricId}/values/{metricValueId}",
            get(r::get_value)
                .patch(r::patch_value)
                .delete(r::delete_value),
        )
        .route(
            "/programs/{programId}/metrics/{metricId}/values/batchUpsertion",
            post(r::batch_upsertion),
        )
        .route(
            "/programs/{programId}/metrics/{metricId}/values/batchDeletion",
            post(r::batch_deletion),
        )
        .route(
            "/prototype/platform/programs/{programId}/metrics/{metricId}/values/batchUpsertion",
            post(r::legacy_batch_upsertion),
        )
}

/// Asynchronous operations and their results.
fn operation_routes() -> App {
    use routes as r;
    Router::new()
        .route("/operations/{operationId}", get(r::get_operation))
        .route(
            "/operations/{operationId}/metricValuesBatchUpsertionResults",
            get(r::operation_results),
        )
        .route(
            "/operations/{operationId}/results",
            get(r::operation_results),
        )
}

/// The workspace's permission definitions and each program's assignments.
fn permission_routes() -> App {
    use routes as r;
    Router::new()
        .route("/permissions", get(r::list_permission_definitions))
        .route(
            "/permissions/{permissionId}",
            get(r::get_permission_definition),
        )
        .route(
            "/programs/{programId}/permissions",
            get(r::list_program_permissions),
        )
        .route(
            "/programs/{programId}/permissions/modification",
            post(r::modify_program_permissions),
        )
}

/// Tasks and their actions.
fn task_routes() -> App {
    use routes as r;
    Router::new()
        .route("/tasks", get(r::list_tasks))
        .route("/tasks/{taskId}", get(r::get_task))
        .route("/tasks/{taskId}/actionSubmission", post(r::task_action))
}

/// The admin API under `/_emulator/`, behind its own gate (its token, the body limit), which
/// applies to these routes only.
fn admin_routes(shared: &Arc<Shared>) -> App {
    Router::new()
        .route("/_emulator/seed", post(admin::post_seed))
        .route(
            "/_emulator/faults",
            put(admin::put_faults).get(admin::get_faults),
        )
        .route("/_emulator/tasks", post(admin::post_task))
        .route("/_emulator/requests", get(admin::get_requests))
        .route("/_emulator/counters", get(admin::get_counters))
        .route("/_emulator/reset", post(admin::post_reset))
        .route(
            "/_emulator/tokens",
            axum::routing::delete(admin::delete_tokens),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            admin::guarded,
        ))
}

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Serve the admin API under `/_emulator/`.
    pub admin: bool,
    /// The token `/_emulator/*` requires (`Authorization: Bearer TOKEN`); `None` leaves the
    /// admin API open, which only a loopback listener may do.
    pub admin_token: Option<String>,
    /// Seed data loaded before the first request.
    pub seed: Option<Seed>,
}

impl Default for StartOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin: true,
            admin_token: None,
            seed: None,
        }
    }
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator; it serves until [`Emulator::shutdown`] or drop.
    pub async fn start(config: EmulatorConfig, opts: StartOptions) -> anyhow::Result<Self> {
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("emulator config: {e}"))?;
        if opts.admin && opts.admin_token.is_none() && !opts.listen.ip().is_loopback() {
            anyhow::bail!(
                "the emulator's admin API on {} (off loopback) needs an admin token",
                opts.listen
            );
        }
        let mut shared = Shared::new(config, opts.admin);
        shared.admin_token = opts.admin_token.as_deref().map(admin::token_digest);
        let shared = Arc::new(shared);
        if let Some(seed) = &opts.seed {
            seed::load(&mut lock(&shared.store), seed).map_err(|e| anyhow::anyhow!("seed: {e}"))?;
        }
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", opts.listen))?;
        let addr = listener.local_addr()?;
        let app = router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "The emulator stopped serving.");
            }
        });
        Ok(Self {
            shared,
            addr,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        match &self.shared.config.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.addr),
        }
    }

    /// Loads seed data; returns the ids created, by name.
    pub fn seed(&self, seed: &Seed) -> Result<Value, SeedError> {
        seed::load(&mut lock(&self.shared.store), seed)
    }

    /// Replaces the run-time settings (operation timing, rate limits, faults).
    pub fn set_settings(&self, settings: Settings) -> Result<(), ConfigError> {
        settings.validate()?;
        self.shared.set_settings(settings);
        Ok(())
    }

    pub fn settings(&self) -> Settings {
        self.shared.settings()
    }

    /// A copy of the request log.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).entries.iter().cloned().collect()
    }

    /// Values visited by list scans so far (lookups by key or id never add to it).
    pub fn values_scanned(&self) -> u64 {
        lock(&self.shared.store).values_scanned
    }

    /// Runs `f` on the store, after applying the operations that came due: the emulator's
    /// clock moves forward first.
    pub fn with_store_advanced<R>(&self, f: impl FnOnce(&mut store::Store) -> R) -> R {
        let mut st = lock(&self.shared.store);
        st.advance(std::time::Instant::now());
        f(&mut st)
    }

    /// The access tokens issued so far (in process only: tests search logs for them).
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.tokens).keys().cloned().collect()
    }

    /// The tenant as a seed document (see [`seed::export`]).
    pub fn export(&self) -> Seed {
        self.with_store_advanced(|s| seed::export(s))
    }

    /// Revokes every issued access token.
    pub fn revoke_tokens(&self) {
        self.shared.revoke_tokens();
    }

    /// Clears all data, the request log and counters.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops serving and waits for open connections to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

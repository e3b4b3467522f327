//! The emulator's settings: OAuth clients, token lifetime, operation timing, rate limits and
//! injected faults. Read from a TOML file (`--config`), changed at run time through
//! `PUT /_emulator/faults`.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Every scope the emulator knows; the default client holds all of them.
pub const ALL_SCOPES: [&str; 4] = ["file:read", "file:write", "task:read", "task:write"];

/// Largest request body any endpoint accepts (the guide: 10 MiB). The emulator states the
/// API's limits itself, apart from the client's, since it models the API independently.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Why a configuration, or a change of the run-time settings, is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// No OAuth client is configured.
    #[error("at least one [[clients]] entry is needed")]
    NoClients,
    /// A client's id or secret is empty.
    #[error("every client needs a non-empty id and secret")]
    EmptyCredentials,
    /// A client is given a scope the emulator does not know.
    #[error("client `{client}` has unknown scope `{scope}`; known scopes: {known}", known = ALL_SCOPES.join(", "))]
    UnknownScope { client: String, scope: String },
    /// Tokens would expire as they are issued.
    #[error("token_ttl_secs must be at least 1")]
    ZeroTokenTtl,
    /// A rate limit of zero or less.
    #[error("rate_limit.requests_per_second must be above 0")]
    RateNotPositive,
    /// A fault probability outside 0 to 1.
    #[error("faults.{name} is {value}; a probability is between 0 and 1")]
    NotAProbability { name: &'static str, value: f64 },
    /// The answer faults add up to more than 1.
    #[error(
        "the answer faults (error_500 + error_503 + error_504 + error_429 + drop_connection) add up to {0}; at most 1"
    )]
    AnswerFaultsAboveOne(f64),
}

/// The whole emulator configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// OAuth clients accepted by the token endpoints.
    pub clients: Vec<ClientConfig>,
    /// Lifetime of an issued access token, in seconds (Workiva: about 600).
    pub token_ttl_secs: u64,
    /// Base URL written into `@nextLink`, `operationLocation` and `Location`. When unset, the
    /// request's `Host` header is used, so links work on any port.
    pub public_url: Option<String>,
    /// How many request-log entries `GET /_emulator/requests` keeps (oldest dropped first).
    pub request_log_capacity: usize,
    /// Timing of operations, rate limits and faults; all changeable at run time.
    pub settings: Settings,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            clients: vec![ClientConfig::default()],
            token_ttl_secs: 600,
            public_url: None,
            request_log_capacity: 200_000,
            settings: Settings::default(),
        }
    }
}

impl EmulatorConfig {
    /// Reads a TOML configuration file, naming the file in every error.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read emulator config {}: {e}", path.display()))?;
        let cfg: Self = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("emulator config {} is not valid: {e}", path.display()))?;
        cfg.validate()
            .map_err(|e| anyhow::anyhow!("emulator config {}: {e}", path.display()))?;
        Ok(cfg)
    }

    /// Checks the values a TOML parser cannot check.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.clients.is_empty() {
            return Err(ConfigError::NoClients);
        }
        for c in &self.clients {
            if c.id.is_empty() || c.secret.is_empty() {
                return Err(ConfigError::EmptyCredentials);
            }
            if let Some(s) = c.scopes.iter().find(|s| !ALL_SCOPES.contains(&s.as_str())) {
                return Err(ConfigError::UnknownScope {
                    client: c.id.clone(),
                    scope: s.clone(),
                });
            }
        }
        if self.token_ttl_secs == 0 {
            return Err(ConfigError::ZeroTokenTtl);
        }
        self.settings.validate()
    }
}

/// One OAuth client.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// The client id.
    pub id: String,
    /// The client secret (never printed by `Debug`).
    pub secret: String,
    /// Scopes this client may be granted.
    pub scopes: Vec<String>,
    /// The principal (user id) the client acts as in program permissions.
    pub principal: Option<String>,
    /// A workspace administrator may change any program's permissions.
    pub workspace_admin: bool,
}

impl ClientConfig {
    /// The principal this client acts as: its configured one, or its id.
    pub fn principal(&self) -> &str {
        self.principal.as_deref().unwrap_or(&self.id)
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            id: "demo".into(),
            secret: "demo-secret".into(),
            scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
            principal: None,
            workspace_admin: true,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("id", &self.id)
            .field("secret", &"**REDACTED**")
            .field("scopes", &self.scopes)
            .field("principal", &self.principal)
            .field("workspace_admin", &self.workspace_admin)
            .finish()
    }
}

/// Settings that may change while the emulator runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub operations: OperationTiming,
    pub rate_limit: RateLimit,
    pub faults: Faults,
}

impl Settings {
    /// Checks the values a parser cannot check: fault probabilities and the rate limit.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.faults.validate()?;
        if let Some(r) = self.rate_limit.requests_per_second
            && r <= 0.0
        {
            return Err(ConfigError::RateNotPositive);
        }
        Ok(())
    }
}

/// How long a batch operation takes. The total grows with the batch:
/// `queued_ms + base_ms + per_value_us * values / 1000`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OperationTiming {
    /// Time an operation stays `queued`.
    pub queued_ms: u64,
    /// Time an operation stays `started` before its values are applied, plus the per-value part.
    pub base_ms: u64,
    /// Added processing time per value in the batch, in microseconds.
    pub per_value_us: u64,
    /// The `Retry-After` (seconds) sent with a 202 and every poll answer.
    pub retry_after_secs: u64,
}

impl Default for OperationTiming {
    fn default() -> Self {
        Self {
            queued_ms: 100,
            base_ms: 400,
            per_value_us: 20,
            retry_after_secs: 1,
        }
    }
}

/// Request-rate limits; off by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Steady request rate allowed per client; `None` means unlimited.
    pub requests_per_second: Option<f64>,
    /// Requests a client may send at once before the rate applies (default: one second's worth).
    pub burst: Option<u32>,
    /// Answer 429 when an operation is polled sooner than the `Retry-After` last sent for it.
    pub enforce_poll_interval: bool,
}

/// Injected faults, each a probability from 0 to 1; all off by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Probability of answering 500.
    pub error_500: f64,
    /// Probability of answering 503.
    pub error_503: f64,
    /// Probability of answering 504 (as a gateway would).
    pub error_504: f64,
    /// Probability of answering 429 with `Retry-After: retry_after_429_secs`.
    pub error_429: f64,
    /// The `Retry-After` sent with an injected 429, in seconds.
    pub retry_after_429_secs: u64,
    /// Probability of adding `latency_ms` before answering.
    pub latency: f64,
    /// The added latency, in milliseconds.
    pub latency_ms: u64,
    /// Probability of dropping the connection instead of answering.
    pub drop_connection: f64,
    /// Probability that a batch operation fails with a server error and stores nothing.
    pub operation_failure: f64,
    /// Seed of the fault dice, for repeatable runs; random when unset.
    pub seed: Option<u64>,
    /// Faults apply to token requests too (off: token requests never see injected faults).
    pub include_token_endpoint: bool,
    /// Probability that a request is processed and its answer then replaced by a 504, as a
    /// gateway that timed out after the work was done.
    pub lost_response: f64,
    /// Planned faults for the next matching requests, in order; each entry is used up after
    /// `times` matches. Applied before the random faults.
    pub plan: Vec<PlannedFault>,
    /// Values that batch operations refuse, as Workiva's own rules might: the operation fails
    /// with one detail per such value (`target` `data[INDEX].value`).
    pub refuse_values: Vec<String>,
    /// With `refuse_values`: name no index (`target` `data`), so a client must bisect.
    pub refuse_values_unnamed: bool,
}

/// A fault for the next `times` requests to one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlannedFault {
    /// The endpoint as the request log names it: `POST /programs`,
    /// `GET /programs/{programId}/metrics/{metricId}/values`, `POST /oauth2/token`.
    pub endpoint: String,
    /// `500`, `503`, `504`, `429`, `401`, `drop`, `lost_response` or `fail_operation`.
    pub fault: Fault,
    /// How many matching requests get it (default 1).
    #[serde(default = "one")]
    pub times: u32,
    /// `Retry-After` seconds for a planned 429 (default 1).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

fn one() -> u32 {
    1
}

/// An injected fault, by the name a plan (and the request log) gives it. Any other name is
/// refused when the settings are read, naming the known ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// Answer 500.
    #[serde(rename = "500")]
    Error500,
    /// Answer 503.
    #[serde(rename = "503")]
    Error503,
    /// Answer 504, as a gateway would.
    #[serde(rename = "504")]
    Error504,
    /// Answer 429 with a `Retry-After`.
    #[serde(rename = "429")]
    Error429,
    /// Answer 401, as to a refused token.
    #[serde(rename = "401")]
    Error401,
    /// Drop the connection instead of answering.
    #[serde(rename = "drop")]
    Drop,
    /// Process the request, then replace its answer by a gateway's 504.
    #[serde(rename = "lost_response")]
    LostResponse,
    /// The batch operation the request starts fails with a server error.
    #[serde(rename = "fail_operation")]
    FailOperation,
}

impl std::str::FromStr for Fault {
    type Err = serde::de::value::Error;

    /// A fault by its name; an unknown name is refused, naming the known ones.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use serde::de::IntoDeserializer;
        Self::deserialize(s.into_deserializer())
    }
}

impl Faults {
    /// Each probability is between 0 and 1, and the answer faults (one roll picks at most one
    /// of them) add up to at most 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let probs = [
            ("error_500", self.error_500),
            ("error_503", self.error_503),
            ("error_504", self.error_504),
            ("error_429", self.error_429),
            ("latency", self.latency),
            ("drop_connection", self.drop_connection),
            ("operation_failure", self.operation_failure),
            ("lost_response", self.lost_response),
        ];
        for (name, p) in probs {
            if !(0.0..=1.0).contains(&p) {
                return Err(ConfigError::NotAProbability { name, value: p });
            }
        }
        let sum = self.error_500
            + self.error_503
            + self.error_504
            + self.error_429
            + self.drop_connection;
        if sum > 1.0 + 1e-9 {
            return Err(ConfigError::AnswerFaultsAboveOne(sum));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let c = ClientConfig::default();
        let s = format!("{c:?}");
        assert!(!s.contains("demo-secret"), "{s}");
        assert!(s.contains("REDACTED"));
    }

    #[test]
    fn toml_round_trip_and_validation() {
        let cfg: EmulatorConfig = toml::from_str(
            r#"
            token_ttl_secs = 30
            [[clients]]
            id = "reader"
            secret = "s"
            scopes = ["file:read"]
            [settings.faults]
            error_503 = 0.5
            "#,
        )
        .unwrap();
        assert!(cfg.validate().is_ok());
        assert_eq!(cfg.clients[0].scopes, vec!["file:read"]);
        let mut bad = cfg.clone();
        bad.settings.faults.error_500 = 0.7;
        assert!(bad.validate().unwrap_err().to_string().contains("add up"));
        let mut bad = cfg;
        bad.clients[0].scopes.push("root".into());
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("unknown scope")
        );
    }

    #[test]
    fn planned_faults_go_by_their_wire_names() {
        let plan = |fault: &str| {
            serde_json::from_value::<Settings>(serde_json::json!({
                "faults": {"plan": [{"endpoint": "GET /programs", "fault": fault}]}
            }))
        };
        let s = plan("lost_response").unwrap();
        assert_eq!(s.faults.plan[0].fault, Fault::LostResponse);
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["faults"]["plan"][0]["fault"], "lost_response");
        assert_eq!("503".parse::<Fault>().unwrap(), Fault::Error503);
        let e = plan("502").unwrap_err().to_string();
        assert!(
            e.contains("unknown variant `502`") && e.contains("`fail_operation`"),
            "an unknown fault is refused, naming the known ones: {e}"
        );
    }
}

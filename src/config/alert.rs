//! `[[alert]]`: where events that need a person go (a webhook), which events, and the secret
//! each delivery is signed with.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// The shortest signing secret accepted, in bytes (as long as the HMAC-SHA256 key's block
/// needs to be to carry full strength).
pub const MIN_SECRET_BYTES: usize = 32;

/// An event an alert may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    /// A run ended `failed`.
    RunFailed,
    /// A run ended `partial`: some rows rejected or values locked.
    RunPartial,
    /// A pipeline passed its `stale_after_secs` without a run that landed (once until it
    /// recovers).
    Stale,
    /// A run lost its pipeline's lease to another process and stopped sending.
    LeaseLost,
    /// The final reviewer rejected a task.
    ReviewerRejected,
    /// A schedule tick was not run: the state store could not record its claim within
    /// `[store] outage_secs`.
    TickMissed,
    /// A run found a value a person edited in Workiva since esg-sync wrote it, which the lake
    /// would change (once per edit: a later run that finds the same edit sends nothing).
    HandEdit,
    /// `esg-sync alerts test`.
    Test,
}

impl AlertEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunFailed => "run_failed",
            Self::RunPartial => "run_partial",
            Self::Stale => "stale",
            Self::LeaseLost => "lease_lost",
            Self::ReviewerRejected => "reviewer_rejected",
            Self::TickMissed => "tick_missed",
            Self::HandEdit => "hand_edit",
            Self::Test => "test",
        }
    }
}

/// How the body is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertFormat {
    /// esg-sync's own JSON document (default).
    #[default]
    Json,
    /// A Slack incoming webhook's `{"text": ...}`.
    Slack,
}

/// One `[[alert]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// A name of its own (`esg-sync alerts test --name NAME`, the delivery records).
    pub name: String,
    /// The receiver: an `https://` URL (plain `http://` only to a loopback address). Its path
    /// may itself be a secret (Slack's is), so messages and `Debug` name only its host.
    pub url: crate::redact::Sensitive<String, crate::redact::HostOnly>,
    /// An environment variable holding the signing secret ...
    #[serde(default)]
    pub secret_env: Option<String>,
    /// ... or a file holding it. Required for `format = "json"`.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Which events are sent (default: run_failed, run_partial, stale, lease_lost,
    /// reviewer_rejected, tick_missed, hand_edit).
    #[serde(default = "all_events")]
    pub events: Vec<AlertEvent>,
    #[serde(default)]
    pub format: AlertFormat,
}

fn all_events() -> Vec<AlertEvent> {
    vec![
        AlertEvent::RunFailed,
        AlertEvent::RunPartial,
        AlertEvent::Stale,
        AlertEvent::LeaseLost,
        AlertEvent::ReviewerRejected,
        AlertEvent::TickMissed,
        AlertEvent::HandEdit,
    ]
}

impl AlertConfig {
    /// The URL as messages show it: scheme and host only.
    pub fn shown_url(&self) -> String {
        self.url.shown()
    }

    /// Every problem of this alert's settings, each naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let at = format!("alert `{}`", self.name);
        if self.name.trim().is_empty() {
            out.push("an [[alert]] has an empty name; give each a name of its own".into());
        }
        match url::Url::parse(self.url.expose()) {
            Err(_) => out.push(format!(
                "{at}: url is not a URL; give the receiver's https:// address"
            )),
            Ok(u) => match u.scheme() {
                "https" => {}
                "http" if crate::workiva::config::is_loopback(&u) => {}
                "http" => out.push(format!(
                    "{at}: url {} is plain http to another host; alerts carry your pipelines' figures and go over https only (plain http to a loopback address is allowed for tests)",
                    self.shown_url()
                )),
                s => out.push(format!("{at}: url scheme `{s}` is not https")),
            },
        }
        if self.secret_env.is_some() && self.secret_file.is_some() {
            out.push(format!("{at}: set secret_env or secret_file, not both"));
        }
        if self.format == AlertFormat::Json
            && self.secret_env.is_none()
            && self.secret_file.is_none()
        {
            out.push(format!(
                "{at}: a json alert is signed, so it needs secret_env or secret_file naming where the signing secret is"
            ));
        }
        if self.events.is_empty() {
            out.push(format!("{at}: events is empty; list the events to send"));
        }
        out
    }

    /// Reads the signing secret, if one is configured; one shorter than
    /// [`MIN_SECRET_BYTES`] is refused (a short key can be guessed from one signed request).
    pub fn secret(&self) -> anyhow::Result<Option<SecretString>> {
        let kept = crate::config::read_kept(
            &format!("alert `{}`", self.name),
            ("secret_file", self.secret_file.as_deref()),
            ("secret_env", self.secret_env.as_deref()),
        )
        .map_err(anyhow::Error::msg)?;
        if let Some(k) = &kept
            && k.len() < MIN_SECRET_BYTES
        {
            anyhow::bail!(
                "alert `{}`: the signing secret is {} bytes; use at least {MIN_SECRET_BYTES} random bytes (e.g. the output of `openssl rand -hex 32`)",
                self.name,
                k.len()
            );
        }
        Ok(kept.map(SecretString::from))
    }
}

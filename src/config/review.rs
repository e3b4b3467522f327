//! `[pipeline.review]`: threshold review of the values a run writes against the prior year's.

use serde::Deserialize;

/// What the review compares a value with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// The value with the same metric, coordinates and months, one year earlier.
    #[default]
    PriorYear,
}

/// A status the review may give (the two a client may set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum ReviewStatus {
    #[serde(rename = "complete")]
    Complete,
    #[serde(rename = "notStarted")]
    NotStarted,
}

/// How the review's note meets the lake's notes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewNotes {
    /// The lake's notes, then the review's note on a line of its own (default).
    #[default]
    Append,
    /// The review's note only.
    Replace,
    /// The lake's notes only: the review sets statuses, not notes.
    Keep,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewConfig {
    #[serde(default)]
    pub compare: Compare,
    /// A value is auto-completed only when its change from the prior year is at most this
    /// percentage of the prior value's magnitude ...
    #[serde(default)]
    pub max_change_percent: Option<f64>,
    /// ... and at most this much in absolute terms (each limit optional; at least one).
    #[serde(default)]
    pub max_change_abs: Option<f64>,
    #[serde(default = "complete")]
    pub within: ReviewStatus,
    #[serde(default = "not_started")]
    pub beyond: ReviewStatus,
    #[serde(default = "not_started")]
    pub no_prior: ReviewStatus,
    #[serde(default)]
    pub notes: ReviewNotes,
}

fn complete() -> ReviewStatus {
    ReviewStatus::Complete
}

fn not_started() -> ReviewStatus {
    ReviewStatus::NotStarted
}

impl ReviewConfig {
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.max_change_percent.is_none() && self.max_change_abs.is_none() {
            out.push(format!(
                "{at}: review needs max_change_percent, max_change_abs or both"
            ));
        }
        for (key, v) in [
            ("max_change_percent", self.max_change_percent),
            ("max_change_abs", self.max_change_abs),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                out.push(format!(
                    "{at}: review.{key} is {v}; it must be a number of 0 or more"
                ));
            }
        }
        out
    }
}

/// `[[reviewer]]`: an automated final reviewer of a program's tasks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewerConfig {
    /// A unique name (`--reviewer` selects it; the audit trail keys on it).
    pub name: String,
    /// The Workiva program: id or exact name.
    pub program: String,
    /// The reviewer's own principal (the Workiva user its client acts as): it acts only on
    /// tasks whose current approval step lists this principal. The API has no "who am I".
    pub principal: String,
    /// When the daemon runs it (cron, like a pipeline's); `esg-sync review tasks` runs it once.
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA time zone of `schedule` (default `UTC`).
    #[serde(default = "utc")]
    pub timezone: String,
    /// Every value linked to the task has non-empty notes (default true).
    #[serde(default = "yes")]
    pub require_notes: bool,
    /// ... and at least one supporting attachment (default true).
    #[serde(default = "yes")]
    pub require_attachments: bool,
    /// Optional: numeric values must also be within this percentage of the prior year's.
    #[serde(default)]
    pub max_change_percent: Option<f64>,
    /// Decide and report, but submit nothing and record nothing.
    #[serde(default)]
    pub dry_run: bool,
}

fn utc() -> String {
    "UTC".into()
}

fn yes() -> bool {
    true
}

impl ReviewerConfig {
    pub fn problems(&self) -> Vec<String> {
        let at = format!("reviewer `{}`", self.name);
        let mut out = Vec::new();
        if let Some(v) = self.max_change_percent
            && !(v.is_finite() && v >= 0.0)
        {
            out.push(format!(
                "{at}: max_change_percent is {v}; it must be a number of 0 or more"
            ));
        }
        if let Some(s) = &self.schedule
            && let Err(e) = super::schedule::Schedule::parse(s, &self.timezone)
        {
            out.push(format!("{at}: {e}"));
        }
        if self.principal.trim().is_empty() {
            out.push(format!(
                "{at}: principal is empty; give the Workiva user id the reviewer's client acts as"
            ));
        }
        out
    }
}

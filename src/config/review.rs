//! `[pipeline.review]`: threshold review of the values a run writes against the prior year's.

use serde::Deserialize;

/// What the review compares a value with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// The value with the same metric, coordinates and months, one year earlier.
    #[default]
    PriorYear,
}

/// A status the review may give (the two a client may set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ReviewStatus {
    #[serde(rename = "complete")]
    Complete,
    #[serde(rename = "notStarted")]
    NotStarted,
}

/// How the review's note meets the lake's notes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
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

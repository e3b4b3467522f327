//! A pipeline's `schedule` and `timezone`, parsed: croner computes the next times,
//! DST-correct, in the IANA time zone. The daemon's loop (`scheduler`) runs on them.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// Why a `schedule` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "schedule `{pattern}` has {fields} fields; use 5 (minute hour day month weekday) or 6 (seconds first)"
    )]
    Fields { pattern: String, fields: usize },
    #[error("schedule `{pattern}` is not a cron expression: {error}")]
    Cron {
        pattern: String,
        error: croner::errors::CronError,
    },
    #[error(transparent)]
    Timezone(#[from] TimezoneError),
}

/// A `timezone` that is not an IANA time zone name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timezone `{0}` is not an IANA time zone name such as Europe/Berlin or UTC")]
pub struct TimezoneError(pub String);

/// A parsed `schedule` in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
    pattern: String,
}

impl Schedule {
    /// Parses a cron expression of 5 or 6 fields and an IANA time zone name.
    pub fn parse(pattern: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let fields = pattern.split_whitespace().count();
        if !(5..=6).contains(&fields) && !pattern.trim_start().starts_with('@') {
            return Err(ScheduleError::Fields {
                pattern: pattern.to_string(),
                fields,
            });
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(pattern)
            .map_err(|error| ScheduleError::Cron {
                pattern: pattern.to_string(),
                error,
            })?;
        let tz = parse_timezone(timezone)?;
        Ok(Self {
            cron,
            tz,
            pattern: pattern.to_string(),
        })
    }

    /// The first time strictly after `t` at which the schedule fires.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }
}

/// An IANA time zone name, e.g. `Europe/Berlin`.
pub fn parse_timezone(name: &str) -> Result<Tz, TimezoneError> {
    name.parse().map_err(|_| TimezoneError(name.to_string()))
}

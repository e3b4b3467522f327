//! A pipeline's `schedule` and `timezone`, parsed: croner computes the next times,
//! DST-correct, in the IANA time zone. The daemon's loop (`scheduler`) runs on them.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A parsed `schedule` in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
    pattern: String,
}

impl Schedule {
    /// Parses a cron expression of 5 or 6 fields and an IANA time zone name.
    pub fn parse(pattern: &str, timezone: &str) -> Result<Self, String> {
        let fields = pattern.split_whitespace().count();
        if !(5..=6).contains(&fields) && !pattern.trim_start().starts_with('@') {
            return Err(format!(
                "schedule `{pattern}` has {fields} fields; use 5 (minute hour day month weekday) or 6 (seconds first)"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(pattern)
            .map_err(|e| format!("schedule `{pattern}` is not a cron expression: {e}"))?;
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
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.parse().map_err(|_| {
        format!("timezone `{name}` is not an IANA time zone name such as Europe/Berlin or UTC")
    })
}

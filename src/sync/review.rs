//! Review: a value about to be written, judged against the prior year's value on exact
//! decimals (never floats), as the guide's threshold use case does: within both limits it is
//! auto-completed, beyond either (or without a prior value) it is flagged for a person, and a
//! note says which and why, with the numbers. Pure.
//!
//! The change is `value - prior`; its percentage is the change over the prior value's
//! magnitude, times 100. A limit holds when the change's magnitude is at most the limit (the
//! edge is within). Shown figures are rounded half away from zero: the percentage to 1
//! decimal, the change and the prior value to 2 decimals (trailing zeros kept: `10.50`).
//! A prior value of 0 cannot give a percentage: with a percentage limit it counts as no prior.

use std::str::FromStr;

use bigdecimal::{BigDecimal, RoundingMode, Zero};

use crate::config::review::{ReviewConfig, ReviewNotes, ReviewStatus};
use crate::workiva::models::ValueStatus;

/// The first words of the review's notes, by which a later run recognises its own note.
pub const APPROVED: &str = "Auto-approved: ";
pub const FLAGGED: &str = "REVIEW REQUIRED: ";

/// What the review decided for one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: ValueStatus,
    /// The note, e.g. `Auto-approved: delta from prior year is 2.1% (10.52)`.
    pub note: String,
    /// Beyond a limit, or no prior value: a person should look.
    pub flagged: bool,
    /// The prior value as Workiva holds it.
    pub prior: Option<String>,
    /// The change, exact (`value - prior`).
    pub delta: Option<String>,
    /// The change's percentage of the prior value, rounded as shown.
    pub delta_percent: Option<String>,
}

fn status(s: ReviewStatus) -> ValueStatus {
    match s {
        ReviewStatus::Complete => ValueStatus::Complete,
        ReviewStatus::NotStarted => ValueStatus::NotStarted,
    }
}

/// A limit from the configuration as the exact decimal its text says (10.0 is 10).
fn limit(v: Option<f64>) -> Option<BigDecimal> {
    v.and_then(|v| BigDecimal::from_str(&v.to_string()).ok())
}

fn shown(d: &BigDecimal, places: i64) -> String {
    let r = d.with_scale_round(places, RoundingMode::HalfUp);
    if r.is_zero() {
        // A zero prints without its scale: keep the fixed number of places.
        return format!("0.{}", "0".repeat(places as usize));
    }
    r.to_string()
}

/// Judges `value` (a number's canonical text) against `prior` (Workiva's text for the prior
/// year's value, if any).
pub fn judge(cfg: &ReviewConfig, value: &str, prior: Option<&str>) -> Verdict {
    let no_prior = |note: String, prior: Option<String>| Verdict {
        status: status(cfg.no_prior),
        note,
        flagged: cfg.no_prior == ReviewStatus::NotStarted,
        prior,
        delta: None,
        delta_percent: None,
    };
    let parsed = prior.and_then(|p| BigDecimal::from_str(p.trim()).ok());
    let (Some(prior_d), Ok(value_d)) = (parsed, BigDecimal::from_str(value.trim())) else {
        return no_prior(format!("{FLAGGED}no prior year value"), None);
    };
    let prior_text = prior.unwrap_or_default().trim().to_string();
    let delta = &value_d - &prior_d;
    let pct_limit = limit(cfg.max_change_percent);
    let abs_limit = limit(cfg.max_change_abs);
    if prior_d.is_zero() && pct_limit.is_some() {
        return no_prior(
            format!(
                "{FLAGGED}prior year value is 0, so the change ({}) has no percentage",
                shown(&delta, 2)
            ),
            Some(prior_text),
        );
    }
    // Exact: a decimal over a decimal, to far more digits than any limit or display needs.
    let percent = (!prior_d.is_zero()).then(|| &delta * BigDecimal::from(100) / prior_d.abs());
    let within_pct = match (&pct_limit, &percent) {
        (Some(l), Some(p)) => p.abs() <= *l,
        _ => true,
    };
    let within_abs = abs_limit.as_ref().is_none_or(|l| delta.abs() <= *l);
    let within = within_pct && within_abs;
    let change = match &percent {
        Some(p) => format!("{}% ({})", shown(p, 1), shown(&delta, 2)),
        None => shown(&delta, 2),
    };
    let (s, note) = if within {
        (
            cfg.within,
            format!("{APPROVED}delta from prior year is {change}"),
        )
    } else {
        (
            cfg.beyond,
            format!("{FLAGGED}delta from prior year is {change}. Prior year value: {prior_text}"),
        )
    };
    Verdict {
        status: status(s),
        note,
        flagged: !within,
        prior: Some(prior_text),
        delta: Some(delta.normalized().to_string()),
        delta_percent: percent.map(|p| shown(&p, 1)),
    }
}

/// Workiva's notes without a note an earlier review added (its last line), so the lake's own
/// notes can be compared.
pub fn without_review_note(notes: &str) -> &str {
    let (rest, last) = match notes.rfind('\n') {
        Some(i) => (&notes[..i], &notes[i + 1..]),
        None => ("", notes),
    };
    if last.starts_with(APPROVED) || last.starts_with(FLAGGED) {
        rest
    } else {
        notes
    }
}

/// The notes to send: the lake's (`lake`, if mapped) and the review's, as configured.
pub fn notes(cfg: &ReviewConfig, lake: Option<&str>, verdict: &Verdict) -> Option<String> {
    match cfg.notes {
        ReviewNotes::Keep => lake.map(str::to_string),
        ReviewNotes::Replace => Some(verdict.note.clone()),
        ReviewNotes::Append => match lake.filter(|l| !l.is_empty()) {
            Some(l) => Some(format!("{l}\n{}", verdict.note)),
            None => Some(verdict.note.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::review::Compare;

    fn cfg(pct: Option<f64>, abs: Option<f64>) -> ReviewConfig {
        ReviewConfig {
            compare: Compare::PriorYear,
            max_change_percent: pct,
            max_change_abs: abs,
            within: ReviewStatus::Complete,
            beyond: ReviewStatus::NotStarted,
            no_prior: ReviewStatus::NotStarted,
            notes: ReviewNotes::Append,
        }
    }

    #[test]
    fn the_guides_examples() {
        let c = cfg(Some(10.0), Some(10000.0));
        let v = judge(&c, "512.87", Some("502.35"));
        assert_eq!(
            v.note,
            "Auto-approved: delta from prior year is 2.1% (10.52)"
        );
        assert_eq!((v.status, v.flagged), (ValueStatus::Complete, false));
        let v = judge(&c, "1155.80", Some("973.44"));
        assert_eq!(
            v.note,
            "REVIEW REQUIRED: delta from prior year is 18.7% (182.36). Prior year value: 973.44"
        );
        assert_eq!((v.status, v.flagged), (ValueStatus::NotStarted, true));
        assert_eq!(v.delta.as_deref(), Some("182.36"));
        let v = judge(&c, "5", None);
        assert_eq!(v.note, "REVIEW REQUIRED: no prior year value");
        assert!(v.flagged);
    }

    #[test]
    fn limits_hold_at_their_edges_exactly() {
        // 10% of 0.3 is 0.03: a float would make 0.33 - 0.3 = 0.030000000000000027.
        let c = cfg(Some(10.0), None);
        assert!(!judge(&c, "0.33", Some("0.3")).flagged);
        assert!(judge(&c, "0.3300000001", Some("0.3")).flagged);
        let c = cfg(None, Some(10000.0));
        assert!(!judge(&c, "20000", Some("10000")).flagged);
        assert!(judge(&c, "20000.01", Some("10000")).flagged);
        // Both limits must hold.
        let c = cfg(Some(10.0), Some(5.0));
        let v = judge(&c, "106", Some("100"));
        assert!(v.flagged, "6% is within 10%, but 6 is beyond 5");
    }

    #[test]
    fn negative_values_and_decreases() {
        let c = cfg(Some(10.0), None);
        let v = judge(&c, "-110", Some("-100"));
        assert_eq!(
            v.note,
            "Auto-approved: delta from prior year is -10.0% (-10.00)"
        );
        let v = judge(&c, "80", Some("100"));
        assert_eq!(v.delta_percent.as_deref(), Some("-20.0"));
        assert!(v.flagged);
    }

    #[test]
    fn a_prior_value_of_zero() {
        let v = judge(&cfg(Some(10.0), None), "5", Some("0"));
        assert!(v.flagged);
        assert_eq!(
            v.note,
            "REVIEW REQUIRED: prior year value is 0, so the change (5.00) has no percentage"
        );
        // With only an absolute limit, 0 is a prior like any other.
        let v = judge(&cfg(None, Some(10.0)), "5", Some("0"));
        assert_eq!(v.note, "Auto-approved: delta from prior year is 5.00");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        let c = cfg(Some(100.0), None);
        // 0.05% exactly, shown as 0.1%; a change of 0.005 shown as 0.01.
        let v = judge(&c, "10000.005", Some("10000"));
        assert_eq!(v.delta_percent.as_deref(), Some("0.0"));
        let v = judge(&c, "100.05", Some("100"));
        assert_eq!(
            v.note,
            "Auto-approved: delta from prior year is 0.1% (0.05)"
        );
        let v = judge(&c, "1.005", Some("1"));
        assert_eq!(
            v.note,
            "Auto-approved: delta from prior year is 0.5% (0.01)"
        );
    }

    #[test]
    fn a_review_note_is_recognised_and_combined() {
        assert_eq!(
            without_review_note("audited\nAuto-approved: delta 1%"),
            "audited"
        );
        assert_eq!(
            without_review_note("REVIEW REQUIRED: no prior year value"),
            ""
        );
        assert_eq!(without_review_note("audited"), "audited");
        let c = cfg(Some(10.0), None);
        let v = judge(&c, "1", None);
        assert_eq!(
            notes(&c, Some("audited"), &v).as_deref(),
            Some("audited\nREVIEW REQUIRED: no prior year value")
        );
        assert_eq!(notes(&c, None, &v).as_deref(), Some(v.note.as_str()));
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever a lake or Workiva holds, judging never panics and always says something.
        #[test]
        fn judging_never_panics(value in any::<String>(), prior in proptest::option::of(any::<String>())) {
            let v = judge(&cfg(Some(10.0), Some(100.0)), &value, prior.as_deref());
            prop_assert!(!v.note.is_empty());
        }

        /// On integers (cents), the decision equals the exact rational comparison:
        /// |v - p| * 100 <= pct * |p| and |v - p| <= abs.
        #[test]
        fn decisions_match_exact_integer_arithmetic(
            v in -1_000_000_000i64..1_000_000_000,
            p in -1_000_000_000i64..1_000_000_000,
            pct in 0u32..200,
            abs in 0i64..100_000_000,
        ) {
            prop_assume!(p != 0);
            let c = cfg(Some(pct as f64), Some(abs as f64 / 100.0));
            let text = |x: i64| format!("{}{}.{:02}", if x < 0 { "-" } else { "" }, x.unsigned_abs() / 100, x.unsigned_abs() % 100);
            let got = judge(&c, &text(v), Some(&text(p)));
            let d = (v - p).unsigned_abs() as u128;
            let within = d * 100 <= pct as u128 * p.unsigned_abs() as u128 && d <= abs as u128;
            prop_assert_eq!(got.flagged, !within, "{} vs {}", text(v), text(p));
            prop_assert_eq!(got.status == ValueStatus::Complete, within);
        }
    }
}

//! Reporting periods from the source: a label column (`2025`, `2025-Q1`, `2025-H2`,
//! `2025-03`, also `2025Q1` and `FY2025`), or year and month columns.

use crate::source::Cell;
use crate::workiva::models::ReportingPeriod;

/// Why a row's period cannot be read; the text is the reject's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("year {0} is outside 1000-9999")]
    Year(i64),
    #[error("months {0}-{1} are outside 1-12")]
    Months(i64, i64),
    #[error("start month {0} is after end month {1}")]
    StartAfterEnd(i64, i64),
    #[error("`{0}` is not a period label; use 2025, 2025-Q1..Q4, 2025-H1/H2 or 2025-01..12")]
    Label(String),
    #[error("the year is empty or not a whole number")]
    NoYear,
    #[error("the start month is empty or not a whole number")]
    NoStartMonth,
    #[error("the end month is empty or not a whole number")]
    NoEndMonth,
    #[error("the period is empty")]
    Empty,
}

fn int(c: &Cell) -> Option<i64> {
    match c {
        Cell::Int(i) => Some(*i),
        Cell::Text(s) => s.trim().parse().ok(),
        Cell::Float(f) if f.fract() == 0.0 => Some(*f as i64),
        Cell::Decimal { value, scale: 0 } => i64::try_from(*value).ok(),
        _ => None,
    }
}

fn checked(year: i64, start: i64, end: i64) -> Result<ReportingPeriod, PeriodError> {
    if !(1000..=9999).contains(&year) {
        return Err(PeriodError::Year(year));
    }
    if !(1..=12).contains(&start) || !(1..=12).contains(&end) {
        return Err(PeriodError::Months(start, end));
    }
    if start > end {
        return Err(PeriodError::StartAfterEnd(start, end));
    }
    Ok(ReportingPeriod {
        year: year as u16,
        start: start as u8,
        end: end as u8,
    })
}

/// Parses a period label.
pub fn parse_label(label: &str) -> Result<ReportingPeriod, PeriodError> {
    let t = label.trim().to_ascii_uppercase();
    let t = t.strip_prefix("FY").unwrap_or(&t);
    let bad = || PeriodError::Label(label.to_string());
    // `get`, not indexing: a label is lake text, and a multi-byte character (an en dash in
    // `Q1–2025`) must not split.
    let (Some(digits), Some(rest)) = (t.get(..4), t.get(4..)) else {
        return Err(bad());
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let year: i64 = digits.parse().map_err(|_| bad())?;
    let rest = rest.trim_start_matches(['-', ' ', '_', '/']);
    let (start, end) = match rest {
        "" => (1, 12),
        "Q1" => (1, 3),
        "Q2" => (4, 6),
        "Q3" => (7, 9),
        "Q4" => (10, 12),
        "H1" => (1, 6),
        "H2" => (7, 12),
        m if (1..=2).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_digit()) => {
            let m: i64 = m.parse().map_err(|_| bad())?;
            (m, m)
        }
        _ => return Err(bad()),
    };
    checked(year, start, end)
}

/// The period of a row: from a label (or a bare year), or year with start and end months.
pub fn from_cells(
    period_or_year: &Cell,
    start: &Cell,
    end: &Cell,
    has_months: bool,
) -> Result<ReportingPeriod, PeriodError> {
    if has_months {
        let y = int(period_or_year).ok_or(PeriodError::NoYear)?;
        let s = int(start).ok_or(PeriodError::NoStartMonth)?;
        let e = int(end).ok_or(PeriodError::NoEndMonth)?;
        return checked(y, s, e);
    }
    match period_or_year {
        Cell::Null => Err(PeriodError::Empty),
        Cell::Int(y) => checked(*y, 1, 12),
        other => parse_label(&other.text().unwrap_or_default()),
    }
}

/// A period as a short label, for messages and reports.
pub fn label(p: &ReportingPeriod) -> String {
    match (p.start, p.end) {
        (1, 12) => format!("{}", p.year),
        (1, 3) => format!("{}-Q1", p.year),
        (4, 6) => format!("{}-Q2", p.year),
        (7, 9) => format!("{}-Q3", p.year),
        (10, 12) => format!("{}-Q4", p.year),
        (1, 6) => format!("{}-H1", p.year),
        (7, 12) => format!("{}-H2", p.year),
        (s, e) if s == e => format!("{}-{s:02}", p.year),
        (s, e) => format!("{} {s:02}-{e:02}", p.year),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(y: u16, s: u8, e: u8) -> ReportingPeriod {
        ReportingPeriod {
            year: y,
            start: s,
            end: e,
        }
    }

    #[test]
    fn labels() {
        assert_eq!(parse_label("2025").unwrap(), p(2025, 1, 12));
        assert_eq!(parse_label("2025-Q1").unwrap(), p(2025, 1, 3));
        assert_eq!(parse_label("2025q4").unwrap(), p(2025, 10, 12));
        assert_eq!(parse_label("2025-H2").unwrap(), p(2025, 7, 12));
        assert_eq!(parse_label("2025-03").unwrap(), p(2025, 3, 3));
        assert_eq!(parse_label("FY2024").unwrap(), p(2024, 1, 12));
        for bad in [
            "25-Q1",
            "2025-Q5",
            "2025-13",
            "spring",
            "2025-H3",
            "",
            "Q1–2025",
            "202–Q1",
            "–",
            "2025–",
            "ÅÅÅÅ",
            "FYé",
            "2025-Q1–",
        ] {
            assert!(parse_label(bad).is_err(), "{bad}");
        }
        for x in [
            p(2025, 1, 12),
            p(2025, 4, 6),
            p(2025, 7, 12),
            p(2025, 3, 3),
            p(2025, 2, 5),
        ] {
            if x.start != 2 {
                assert_eq!(parse_label(&label(&x)).unwrap(), x);
            }
        }
    }

    #[test]
    fn columns() {
        assert_eq!(
            from_cells(&Cell::Int(2025), &Cell::Int(4), &Cell::Int(6), true).unwrap(),
            p(2025, 4, 6)
        );
        assert!(
            from_cells(&Cell::Int(2025), &Cell::Int(7), &Cell::Int(6), true)
                .unwrap_err()
                .to_string()
                .contains("after")
        );
        assert!(from_cells(&Cell::Int(999), &Cell::Int(1), &Cell::Int(1), true).is_err());
        assert_eq!(
            from_cells(&Cell::Int(2024), &Cell::Null, &Cell::Null, false).unwrap(),
            p(2024, 1, 12)
        );
        assert!(from_cells(&Cell::Null, &Cell::Null, &Cell::Null, false).is_err());
    }
}

/// Property tests: any lake text, never a panic; every label we write reads back.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_text_is_a_period_or_an_error(s in "\\PC{0,24}") {
            let _ = parse_label(&s);
            let _ = from_cells(&Cell::Text(s.clone()), &Cell::Null, &Cell::Null, false);
        }

        #[test]
        fn any_cells_are_a_period_or_an_error(y in any::<i64>(), a in any::<i64>(), b in any::<f64>()) {
            let _ = from_cells(&Cell::Int(y), &Cell::Int(a), &Cell::Float(b), true);
            let _ = from_cells(&Cell::Float(b), &Cell::Int(a), &Cell::Int(y), true);
            let _ = from_cells(&Cell::Decimal { value: y as i128, scale: 0 }, &Cell::Null, &Cell::Null, false);
        }

        #[test]
        fn labels_read_back(year in 1000u16..=9999, start in 1u8..=12, len in 0u8..12) {
            let p = ReportingPeriod { year, start, end: (start + len).min(12) };
            let text = label(&p);
            // A range that no label names (`2025 02-05`) is written for messages only.
            if let Ok(back) = parse_label(&text) {
                prop_assert_eq!(back, p);
                prop_assert_eq!(label(&back), text);
            } else {
                prop_assert!(text.contains(' '));
            }
        }
    }
}

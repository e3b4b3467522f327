//! Canonical value text, by the metric's data type: numbers, currency and percent as plain
//! decimals (no exponent, no trailing zeros, `-0` as `0`, floats by shortest round trip; NaN
//! and infinities refused); dates as `YYYY-MM-DD`; text unchanged. Workiva's stored values are
//! put through the same functions before comparing, so `512.870` equals `512.87`.

use crate::source::Cell;
use crate::workiva::models::DataType;

pub use crate::source::cell::{date_from_days, decimal_from_scaled};

/// The largest exponent decimal text may carry (`1e400`).
pub const MAX_EXPONENT: u64 = 400;

/// Normalises decimal text: `+1.50` -> `1.5`, `1e3` -> `1000`, `.5` -> `0.5`, `-0.0` -> `0`.
/// `None` when the text is not a decimal.
pub fn normalize_decimal(s: &str) -> Option<String> {
    let s = s.trim();
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // `unsigned_abs`: `-9223372036854775808` has no positive i64. Beyond ±400 no figure is
    // meant, and the text would be hundreds of zeros: refused.
    if exp.unsigned_abs() > MAX_EXPONENT {
        return None;
    }
    // All digits, and where the decimal point sits among them.
    let digits: String = format!("{int}{frac}");
    let point = int.len() as i64 + exp;
    let (int_part, frac_part) = if point <= 0 {
        (
            "0".to_string(),
            format!("{}{digits}", "0".repeat((-point) as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let int_part = int_part.trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let frac_part = frac_part.trim_end_matches('0');
    let body = if frac_part.is_empty() {
        int_part.to_string()
    } else {
        format!("{int_part}.{frac_part}")
    };
    Some(if neg && body != "0" {
        format!("-{body}")
    } else {
        body
    })
}

/// Why a cell is not a value of its metric's type; the text is the reject's reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("{0} is not a finite number")]
    NotFinite(f64),
    /// Text that is not a decimal (shown shortened).
    #[error(
        "`{shown}` is not a number; a {} metric takes a decimal such as 1024.55 (exponents within ±{MAX_EXPONENT})",
        dt.as_str()
    )]
    NotNumber { shown: String, dt: DataType },
    #[error("a {} metric takes a number, not {kind}", dt.as_str())]
    NumberOf { dt: DataType, kind: &'static str },
    /// Text that is not a date (shown shortened).
    #[error("`{0}` is not a date; a date metric takes YYYY-MM-DD")]
    NotDate(String),
    #[error("a date metric takes a date, not {0}")]
    DateOf(&'static str),
}

/// The canonical text of a source cell for a metric of `dt`; the error says why not.
pub fn canonical(cell: &Cell, dt: DataType) -> Result<Option<String>, ValueError> {
    match dt {
        DataType::Number | DataType::Currency | DataType::Percent => match cell {
            Cell::Null => Ok(None),
            Cell::Int(i) => Ok(Some(i.to_string())),
            Cell::Float(f) if !f.is_finite() => Err(ValueError::NotFinite(*f)),
            Cell::Float(f) => Ok(Some(
                normalize_decimal(&format!("{f}")).unwrap_or_else(|| f.to_string()),
            )),
            Cell::Decimal { value, scale } => Ok(Some(decimal_from_scaled(*value, *scale))),
            Cell::Text(s) if s.trim().is_empty() => Ok(None),
            Cell::Text(s) => normalize_decimal(s)
                .map(Some)
                .ok_or_else(|| ValueError::NotNumber {
                    shown: preview(s),
                    dt,
                }),
            Cell::Date(_) | Cell::Bool(_) => Err(ValueError::NumberOf {
                dt,
                kind: kind(cell),
            }),
        },
        DataType::Date => match cell {
            Cell::Null => Ok(None),
            Cell::Date(d) => Ok(Some(date_from_days(*d))),
            Cell::Text(s) if s.trim().is_empty() => Ok(None),
            Cell::Text(s) => {
                let t = s.trim();
                let day = t
                    .get(..10)
                    .filter(|_| t.len() == 10 || t[10..].starts_with(['T', ' ']));
                match day.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
                    Some(d) => Ok(Some(d.format("%Y-%m-%d").to_string())),
                    None => Err(ValueError::NotDate(preview(s))),
                }
            }
            other => Err(ValueError::DateOf(kind(other))),
        },
        DataType::Text => Ok(cell.text()),
    }
}

/// Workiva's stored value, canonical for comparison.
pub fn canonical_stored(value: &str, dt: DataType) -> String {
    match dt {
        DataType::Number | DataType::Currency | DataType::Percent => {
            normalize_decimal(value).unwrap_or_else(|| value.to_string())
        }
        _ => value.to_string(),
    }
}

/// Whether two values of a metric of type `dt` are the same value as Workiva compares them
/// (`10.50` is `10.5`).
pub fn same_value(a: &str, b: &str, dt: DataType) -> bool {
    a == b || canonical_stored(a, dt) == canonical_stored(b, dt)
}

fn kind(c: &Cell) -> &'static str {
    match c {
        Cell::Null => "null",
        Cell::Text(_) => "text",
        Cell::Int(_) => "an integer",
        Cell::Float(_) => "a float",
        Cell::Decimal { .. } => "a decimal",
        Cell::Date(_) => "a date",
        Cell::Bool(_) => "a boolean",
    }
}

fn preview(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_plain_and_minimal() {
        for (i, o) in [
            ("512.870", "512.87"),
            ("+1.50", "1.5"),
            ("1e3", "1000"),
            ("1.5E-3", "0.0015"),
            (".5", "0.5"),
            ("-0", "0"),
            ("-0.000", "0"),
            ("007", "7"),
            ("10", "10"),
            ("100.00", "100"),
            ("-12.3400", "-12.34"),
            ("12e-2", "0.12"),
        ] {
            assert_eq!(normalize_decimal(i).as_deref(), Some(o), "{i}");
        }
        for bad in [
            "",
            "-",
            ".",
            "1,5",
            "abc",
            "1e",
            "NaN",
            "inf",
            "1.2.3",
            "1e-9223372036854775808",
            "1e9223372036854775807",
            "1e401",
            "–1",
            "1e4–",
        ] {
            assert_eq!(normalize_decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn cells_by_type() {
        let n = DataType::Number;
        assert_eq!(
            canonical(&Cell::Float(0.1 + 0.2), n).unwrap().as_deref(),
            Some("0.30000000000000004")
        );
        assert_eq!(
            canonical(&Cell::Float(1e21), n).unwrap().as_deref(),
            Some("1000000000000000000000")
        );
        assert_eq!(
            canonical(&Cell::Float(-0.0), n).unwrap().as_deref(),
            Some("0")
        );
        assert_eq!(
            canonical(&Cell::Float(2.50), n).unwrap().as_deref(),
            Some("2.5")
        );
        assert!(canonical(&Cell::Float(f64::NAN), n).is_err());
        assert!(canonical(&Cell::Float(f64::INFINITY), n).is_err());
        assert_eq!(
            canonical(
                &Cell::Decimal {
                    value: 12_340,
                    scale: 3
                },
                n
            )
            .unwrap()
            .as_deref(),
            Some("12.34")
        );
        assert_eq!(
            canonical(
                &Cell::Decimal {
                    value: -5,
                    scale: 2
                },
                n
            )
            .unwrap()
            .as_deref(),
            Some("-0.05")
        );
        assert_eq!(
            canonical(
                &Cell::Decimal {
                    value: 12,
                    scale: -2
                },
                n
            )
            .unwrap()
            .as_deref(),
            Some("1200")
        );
        assert_eq!(
            canonical(&Cell::Int(42), DataType::Currency)
                .unwrap()
                .as_deref(),
            Some("42")
        );
        assert!(
            canonical(&Cell::Text("12 tons".into()), n)
                .unwrap_err()
                .to_string()
                .contains("not a number")
        );
        assert_eq!(
            canonical(&Cell::Date(19_723), DataType::Date)
                .unwrap()
                .as_deref(),
            Some("2024-01-01")
        );
        assert_eq!(
            canonical(&Cell::Text("2025-02-28".into()), DataType::Date)
                .unwrap()
                .as_deref(),
            Some("2025-02-28")
        );
        assert_eq!(
            canonical(&Cell::Text("2025-02-28T00:00:00Z".into()), DataType::Date)
                .unwrap()
                .as_deref(),
            Some("2025-02-28")
        );
        assert!(canonical(&Cell::Text("28/02/2025".into()), DataType::Date).is_err());
        assert_eq!(
            canonical(&Cell::Text(" as is ".into()), DataType::Text)
                .unwrap()
                .as_deref(),
            Some(" as is ")
        );
        assert_eq!(canonical_stored("512.870", n), "512.87");
    }
}

/// Property tests: any text or float, never a panic; canonical text is bounded, idempotent and
/// means the same number as its input.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// Decimal text as lakes and servers write it: sign, digits, point, exponent.
    fn decimal_text() -> impl Strategy<Value = String> {
        (
            prop_oneof![Just(""), Just("-"), Just("+")],
            "[0-9]{0,20}",
            prop::option::of("[0-9]{0,20}"),
            prop::option::of((prop_oneof![Just("e"), Just("E")], -40i64..40)),
        )
            .prop_filter_map("needs a digit", |(sign, int, frac, exp)| {
                if int.is_empty() && frac.as_deref().is_none_or(str::is_empty) {
                    return None;
                }
                let mut s = format!("{sign}{int}");
                if let Some(f) = frac {
                    s.push('.');
                    s.push_str(&f);
                }
                if let Some((e, x)) = exp {
                    s.push_str(&format!("{e}{x}"));
                }
                Some(s)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_text_is_a_decimal_or_none_and_bounded(s in "\\PC{0,64}") {
            if let Some(n) = normalize_decimal(&s) {
                prop_assert!(n.len() <= s.len() + MAX_EXPONENT as usize + 2, "{} -> {} bytes", s, n.len());
                prop_assert_eq!(normalize_decimal(&n), Some(n.clone()));
            }
            for dt in [DataType::Number, DataType::Date, DataType::Text] {
                let _ = canonical(&Cell::Text(s.clone()), dt);
                let _ = canonical_stored(&s, dt);
            }
        }

        #[test]
        fn huge_exponents_are_refused_not_expanded(m in "[0-9]{1,5}", e in any::<i64>()) {
            let s = format!("{m}e{e}");
            match normalize_decimal(&s) {
                Some(n) => prop_assert!(e.unsigned_abs() <= MAX_EXPONENT && n.len() <= 410),
                None => prop_assert!(e.unsigned_abs() > MAX_EXPONENT),
            }
        }

        #[test]
        fn canonical_text_means_the_same_number(s in decimal_text()) {
            let n = normalize_decimal(&s).expect("decimal text");
            prop_assert_eq!(normalize_decimal(&n), Some(n.clone()), "idempotent");
            let (a, b) = (s.parse::<f64>().unwrap(), n.parse::<f64>().unwrap());
            prop_assert_eq!(a, b + 0.0, "{} and {} are one number", s, n);
            prop_assert!(!n.contains(['e', 'E', '+']) && n != "-0");
        }

        #[test]
        fn a_float_reads_back_exactly(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            match canonical(&Cell::Float(f), DataType::Number) {
                Ok(Some(t)) => {
                    prop_assert!(f.is_finite());
                    prop_assert_eq!(t.parse::<f64>().unwrap(), f + 0.0);
                    prop_assert_eq!(canonical_stored(&t, DataType::Number), t);
                }
                Ok(None) => prop_assert!(false, "a float is never empty"),
                Err(_) => prop_assert!(!f.is_finite()),
            }
        }

        #[test]
        fn a_scaled_decimal_is_canonical(v in any::<i128>(), scale in any::<i8>()) {
            let t = decimal_from_scaled(v, scale);
            prop_assert!(t.len() <= 40 + 129);
            prop_assert_eq!(normalize_decimal(&t), Some(t.clone()));
            prop_assert_eq!(Some(t), normalize_decimal(&format!("{v}e{}", -(scale as i64))));
        }
    }
}

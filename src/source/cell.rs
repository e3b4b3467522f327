//! One cell as the source typed it, and its plain text: exact decimals without exponent or
//! padding, dates as `YYYY-MM-DD`.

/// One cell, as the source typed it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cell {
    #[default]
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    /// An exact decimal: `value * 10^-scale`.
    Decimal {
        value: i128,
        scale: i8,
    },
    /// Days since 1970-01-01.
    Date(i32),
    Bool(bool),
}

impl Cell {
    /// The cell as text, for keys and labels; `None` for null or empty text.
    pub fn text(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Text(s) if s.trim().is_empty() => None,
            Cell::Text(s) => Some(s.clone()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(f) => Some(f.to_string()),
            Cell::Decimal { value, scale } => Some(decimal_from_scaled(*value, *scale)),
            Cell::Date(d) => Some(date_from_days(*d)),
            Cell::Bool(b) => Some(b.to_string()),
        }
    }
}

/// A decimal `value * 10^-scale` as plain text: no exponent, no leading or trailing zeros,
/// `0` for zero. At most 39 digits and 128 zeros, whatever the scale.
pub fn decimal_from_scaled(value: i128, scale: i8) -> String {
    let digits = value.unsigned_abs().to_string();
    if value == 0 {
        return "0".into();
    }
    let sign = if value < 0 { "-" } else { "" };
    if scale <= 0 {
        return format!(
            "{sign}{digits}{}",
            "0".repeat(scale.unsigned_abs() as usize)
        );
    }
    let s = scale as usize;
    let padded = if digits.len() <= s {
        format!("{}{digits}", "0".repeat(s - digits.len() + 1))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - s);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// A float32 as the f64 nearest to its own shortest decimal text, so `0.1f32` reads as 0.1,
/// not as `0.10000000149011612` (its exact binary value): a lake that stored 0.1 meant 0.1.
/// Any decimal of at most 9 significant digits round-trips through f64, so the f64's shortest
/// text is the f32's.
pub fn widen_f32(v: f32) -> f64 {
    if !v.is_finite() {
        return v as f64;
    }
    v.to_string().parse().unwrap_or(v as f64)
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (the bare number when out of the calendar's range).
pub fn date_from_days(days: i32) -> String {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::Duration::days(days as i64)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| days.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_decimals_are_plain_and_minimal() {
        for (v, s, want) in [
            (12_340i128, 3i8, "12.34"),
            (-5, 2, "-0.05"),
            (12, -2, "1200"),
            (0, 5, "0"),
            (0, -5, "0"),
            (5_128_700, 4, "512.87"),
            (100, 2, "1"),
            (-100, 2, "-1"),
            (1, 38, "0.00000000000000000000000000000000000001"),
        ] {
            assert_eq!(decimal_from_scaled(v, s), want, "{v}e-{s}");
        }
        assert_eq!(decimal_from_scaled(1, -128).len(), 129);
        assert_eq!(widen_f32(0.1).to_string(), "0.1");
        assert_eq!(
            widen_f32(-3.4028235e38).to_string(),
            (-3.4028235e38f64).to_string()
        );
        assert!(widen_f32(f32::NAN).is_nan());
        assert_eq!(widen_f32(f32::INFINITY), f64::INFINITY);
        // Every f32 keeps its own shortest text.
        for bits in (0..u32::MAX).step_by(9_973) {
            let f = f32::from_bits(bits);
            if f.is_finite() {
                assert_eq!(widen_f32(f).to_string(), f.to_string(), "{f:e}");
            }
        }
        assert_eq!(date_from_days(19_723), "2024-01-01");
        assert_eq!(date_from_days(i32::MAX), i32::MAX.to_string());
    }
}

/// Property tests: every cell has text, bounded, and numbers keep their own shortest text.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn a_float32_keeps_its_shortest_text(bits in any::<u32>()) {
            let f = f32::from_bits(bits);
            let w = widen_f32(f);
            if f.is_finite() {
                prop_assert_eq!(w.to_string(), f.to_string());
                prop_assert_eq!(w as f32, f);
            } else {
                prop_assert_eq!(w.is_nan(), f.is_nan());
            }
        }

        #[test]
        fn a_date_reads_back(days in any::<i32>()) {
            let t = date_from_days(days);
            if let Ok(d) = chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d") {
                let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
                prop_assert_eq!((d - epoch).num_days(), days as i64);
            } else {
                prop_assert_eq!(t, days.to_string());
            }
        }

        #[test]
        fn every_cell_has_bounded_text(v in any::<i128>(), scale in any::<i8>(), i in any::<i64>(), f in any::<f64>()) {
            for c in [Cell::Decimal { value: v, scale }, Cell::Int(i), Cell::Float(f), Cell::Date(i as i32)] {
                prop_assert!(c.text().is_some_and(|t| t.len() <= 400));
            }
        }
    }
}

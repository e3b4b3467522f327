//! A corpus of lake rows as real lakes write them, good and bad, each with its
//! expected outcome. One run lands every good case exactly and rejects every bad one with its
//! file, row, field and reason; a rerun sends nothing.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int64Array,
    RecordBatch, StringArray,
};
use esg_sync::config::PipelineConfig;
use esg_sync::sync::{RunOptions, Status};
use parquet::arrow::ArrowWriter;
use serde_json::{Value, json};

use crate::support::env::sync_env;
use crate::support::pipeline::PipelineToml;

fn write(path: &std::path::Path, cols: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn strs(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

/// What a case must come to.
enum Want {
    /// Lands in this metric (`num`, `share`, `txt`, `when`), period (year, start, end) and
    /// coordinates (facility, bu), with exactly this value text.
    Land(
        &'static str,
        (u64, u64, u64),
        Option<&'static str>,
        Option<&'static str>,
        String,
    ),
    /// Rejected: field, and a piece of the reason.
    Reject(&'static str, &'static str),
}
use Want::*;

/// A value Workiva holds: metric, period, coordinates, value.
type Held = (String, (u64, u64, u64), Value, String);

/// A row of the all-text file: metric, period, facility, bu, value, notes, and its outcome.
type TextRow = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<String>,
    Option<String>,
    Want,
);

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

fn text_rows() -> Vec<TextRow> {
    let long = "x".repeat(32_768);
    vec![
        // Good: numbers in every form a lake writes them.
        (
            Some("ghg"),
            Some("2025-Q1"),
            Some("A"),
            Some("X"),
            s("1024.550"),
            s("lake"),
            Land("num", (2025, 1, 3), Some("A"), Some("X"), "1024.55".into()),
        ),
        (
            Some("ghg"),
            Some("2025-Q2"),
            Some("A"),
            Some("X"),
            s("+1.50"),
            None,
            Land("num", (2025, 4, 6), Some("A"), Some("X"), "1.5".into()),
        ),
        (
            Some("ghg"),
            Some("2025-Q3"),
            Some("A"),
            Some("X"),
            s("1e3"),
            None,
            Land("num", (2025, 7, 9), Some("A"), Some("X"), "1000".into()),
        ),
        (
            Some("ghg"),
            Some("2025-Q4"),
            Some("A"),
            Some("X"),
            s(".5"),
            None,
            Land("num", (2025, 10, 12), Some("A"), Some("X"), "0.5".into()),
        ),
        (
            Some("ghg"),
            Some("2025-01"),
            Some("B"),
            None,
            s("-0.000"),
            None,
            Land("num", (2025, 1, 1), Some("B"), None, "0".into()),
        ),
        (
            Some("ghg"),
            Some("2025-02"),
            Some("B"),
            None,
            s("007"),
            None,
            Land("num", (2025, 2, 2), Some("B"), None, "7".into()),
        ),
        (
            Some("ghg"),
            Some("FY2024"),
            Some("C"),
            Some("Y"),
            s("12e-2"),
            None,
            Land("num", (2024, 1, 12), Some("C"), Some("Y"), "0.12".into()),
        ),
        (
            Some("ghg"),
            Some("2024-H1"),
            Some("C"),
            Some("X"),
            s(" 42 "),
            None,
            Land("num", (2024, 1, 6), Some("C"), Some("X"), "42".into()),
        ),
        (
            Some("ghg"),
            Some("2024q3"),
            Some("B"),
            Some("Y"),
            s("-12.3400"),
            None,
            Land("num", (2024, 7, 9), Some("B"), Some("Y"), "-12.34".into()),
        ),
        (
            Some("ghg"),
            Some("2023"),
            Some("Site A"),
            None,
            s("5"),
            None,
            Land("num", (2023, 1, 12), Some("A"), None, "5".into()),
        ),
        (
            Some("share"),
            Some("2025"),
            None,
            Some("X"),
            s("45.50"),
            None,
            Land("share", (2025, 1, 12), None, Some("X"), "45.5".into()),
        ),
        (
            Some("share"),
            Some("2025-H2"),
            None,
            Some("Y"),
            s("100"),
            None,
            Land("share", (2025, 7, 12), None, Some("Y"), "100".into()),
        ),
        // Good: text as it is, dates in two forms.
        (
            Some("txt"),
            Some("2025"),
            None,
            None,
            s("  as is "),
            None,
            Land("txt", (2025, 1, 12), None, None, "  as is ".into()),
        ),
        (
            Some("txt"),
            Some("2024"),
            None,
            None,
            s("ünïcødé ✓"),
            s("née"),
            Land("txt", (2024, 1, 12), None, None, "ünïcødé ✓".into()),
        ),
        (
            Some("when"),
            Some("2025"),
            Some("A"),
            None,
            s("2025-02-28"),
            None,
            Land("when", (2025, 1, 12), Some("A"), None, "2025-02-28".into()),
        ),
        (
            Some("when"),
            Some("2024"),
            Some("A"),
            None,
            s("2025-02-28T10:00:00Z"),
            None,
            Land("when", (2024, 1, 12), Some("A"), None, "2025-02-28".into()),
        ),
        // Bad: metric.
        (
            Some("nox"),
            Some("2025"),
            Some("A"),
            None,
            s("1"),
            None,
            Reject("metric", "is not in [pipeline.metrics]"),
        ),
        (
            None,
            Some("2025"),
            Some("A"),
            None,
            s("1"),
            None,
            Reject("metric", "the metric key is empty"),
        ),
        // Bad: period.
        (
            Some("ghg"),
            Some("2025-Q5"),
            Some("A"),
            None,
            s("1"),
            None,
            Reject("period", "is not a period label"),
        ),
        (
            Some("ghg"),
            Some("Q1–2025"),
            Some("A"),
            None,
            s("1"),
            None,
            Reject("period", "is not a period label"),
        ),
        (
            Some("ghg"),
            Some("0999"),
            Some("A"),
            None,
            s("1"),
            None,
            Reject("period", "year 999 is outside 1000-9999"),
        ),
        (
            Some("ghg"),
            Some("2025-13"),
            Some("A"),
            None,
            s("1"),
            None,
            Reject("period", "outside 1-12"),
        ),
        (
            Some("ghg"),
            None,
            Some("A"),
            None,
            s("1"),
            None,
            Reject("period", "the period is empty"),
        ),
        // Bad: coordinates.
        (
            Some("ghg"),
            Some("2025"),
            Some("ZZZ"),
            None,
            s("1"),
            None,
            Reject("facility", "is not a value of dimension `Facility`"),
        ),
        (
            Some("ghg"),
            Some("2025"),
            Some("Ámés"),
            None,
            s("1"),
            None,
            Reject("facility", "is not a value of dimension"),
        ),
        (
            Some("ghg"),
            Some("2025"),
            Some("OLD"),
            None,
            s("1"),
            None,
            Reject("coordinates", "is inactive"),
        ),
        (
            Some("txt"),
            Some("2023"),
            Some("A"),
            None,
            s("t"),
            None,
            Reject("facility", "does not allow dimension `Facility`"),
        ),
        (
            Some("share"),
            Some("2024"),
            Some("A"),
            Some("X"),
            s("1"),
            None,
            Reject("facility", "does not allow dimension"),
        ),
        (
            Some("ghg"),
            Some("2025"),
            Some("A"),
            Some(""),
            s("1"),
            None,
            Reject("bu", "the dimension cell is blank"),
        ),
        // Bad: values.
        (
            Some("ghg"),
            Some("2026-Q1"),
            Some("A"),
            None,
            s("12 tons"),
            None,
            Reject("value", "is not a number"),
        ),
        (
            Some("ghg"),
            Some("2026-Q2"),
            Some("A"),
            None,
            s("NaN"),
            None,
            Reject("value", "is not a number"),
        ),
        (
            Some("ghg"),
            Some("2026-Q3"),
            Some("A"),
            None,
            s("inf"),
            None,
            Reject("value", "is not a number"),
        ),
        (
            Some("ghg"),
            Some("2026-Q4"),
            Some("A"),
            None,
            s("1e-9223372036854775808"),
            None,
            Reject("value", "is not a number"),
        ),
        (
            Some("ghg"),
            Some("2026-01"),
            Some("A"),
            None,
            None,
            None,
            Reject("value", "the value is empty"),
        ),
        (
            Some("ghg"),
            Some("2026-02"),
            Some("A"),
            None,
            s("1,5"),
            None,
            Reject("value", "is not a number"),
        ),
        (
            Some("share"),
            Some("2026"),
            None,
            Some("X"),
            s("abc"),
            None,
            Reject("value", "is not a number"),
        ),
        (
            Some("when"),
            Some("2026"),
            Some("A"),
            None,
            s("28/02/2025"),
            None,
            Reject("value", "is not a date"),
        ),
        (
            Some("txt"),
            Some("2026"),
            None,
            None,
            Some(long.clone()),
            None,
            Reject("value", "Workiva allows 32767"),
        ),
        (
            Some("ghg"),
            Some("2026-03"),
            Some("A"),
            Some("X"),
            s("1"),
            Some(long),
            Reject("notes", "longer than 32767"),
        ),
        // Bad: two rows with one key; both go.
        (
            Some("ghg"),
            Some("2022"),
            Some("A"),
            Some("X"),
            s("1"),
            None,
            Reject("key", "ambiguous"),
        ),
        (
            Some("ghg"),
            Some("2022"),
            Some("Site A"),
            Some("X"),
            s("2"),
            None,
            Reject("key", "ambiguous"),
        ),
    ]
}

fn pipeline(dir: &std::path::Path) -> PipelineConfig {
    let source = format!("[{:?}]", format!("{}/*.parquet", dir.display()));
    PipelineToml::without_source("corpus", "Test Program")
        .key("source", &source)
        .column("notes", "notes")
        .dimensions(&[("facility", "Facility"), ("bu", "BU")])
        .metrics(&[
            ("ghg", "Num"),
            ("share", "Share"),
            ("txt", "Txt"),
            ("when", "When"),
        ])
        .dimension_values("Facility", &[("Site A", "A")])
        .config()
}

/// The typed files: one column type each. Rows: (metric, period, facility, value), outcome.
fn typed_file(
    dir: &std::path::Path,
    name: &str,
    metric: &[&str],
    period: ArrayRef,
    facility: &[Option<&str>],
    value: ArrayRef,
) {
    let n = metric.len();
    write(
        &dir.join(name),
        vec![
            (
                "metric",
                strs(&metric.iter().map(|m| Some(*m)).collect::<Vec<_>>()),
            ),
            ("period", period),
            ("facility", strs(facility)),
            ("bu", strs(&vec![None; n])),
            ("value", value),
            ("notes", strs(&vec![None; n])),
        ],
    );
}

fn periods(p: &[&str]) -> ArrayRef {
    strs(&p.iter().map(|x| Some(*x)).collect::<Vec<_>>())
}

#[tokio::test]
async fn a_lake_of_every_kind_of_row_lands_the_good_and_rejects_the_bad_exactly() {
    let e = sync_env().await;
    let dir = e.dir.path().join("lake");
    std::fs::create_dir_all(&dir).unwrap();
    let rows = text_rows();
    let col = |f: &dyn Fn(&TextRow) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    write(
        &dir.join("a-text.parquet"),
        vec![
            ("metric", col(&|r| r.0.map(str::to_string))),
            ("period", col(&|r| r.1.map(str::to_string))),
            ("facility", col(&|r| r.2.map(str::to_string))),
            ("bu", col(&|r| r.3.map(str::to_string))),
            ("value", col(&|r| r.4.clone())),
            ("notes", col(&|r| r.5.clone())),
        ],
    );
    let mut want: Vec<(String, i64, Want)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| ("a-text.parquet".to_string(), i as i64 + 1, r.6))
        .collect();
    let mut add = |file: &str, outcomes: Vec<Want>| {
        for (i, w) in outcomes.into_iter().enumerate() {
            want.push((file.to_string(), i as i64 + 1, w));
        }
    };
    // Float64: shortest round trip; NaN, infinities and nulls refused.
    typed_file(
        &dir,
        "b-f64.parquet",
        &["ghg"; 7],
        periods(&[
            "2021", "2021", "2021", "2021-Q1", "2021-Q2", "2021-Q3", "2021-Q4",
        ]),
        &[
            Some("A"),
            Some("B"),
            Some("C"),
            Some("A"),
            Some("A"),
            Some("A"),
            Some("A"),
        ],
        Arc::new(Float64Array::from(vec![
            Some(0.1 + 0.2),
            Some(1e21),
            Some(-0.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            None,
        ])),
    );
    add(
        "b-f64.parquet",
        vec![
            Land(
                "num",
                (2021, 1, 12),
                Some("A"),
                None,
                "0.30000000000000004".into(),
            ),
            Land(
                "num",
                (2021, 1, 12),
                Some("B"),
                None,
                "1000000000000000000000".into(),
            ),
            Land("num", (2021, 1, 12), Some("C"), None, "0".into()),
            Reject("value", "is not a finite number"),
            Reject("value", "is not a finite number"),
            Reject("value", "is not a finite number"),
            Reject("value", "the value is empty"),
        ],
    );
    // Float32: its own shortest text.
    typed_file(
        &dir,
        "c-f32.parquet",
        &["ghg"; 3],
        periods(&["2020", "2020", "2020"]),
        &[Some("A"), Some("B"), Some("C")],
        Arc::new(Float32Array::from(vec![
            Some(0.1f32),
            Some(1024.55),
            Some(f32::NAN),
        ])),
    );
    add(
        "c-f32.parquet",
        vec![
            Land("num", (2020, 1, 12), Some("A"), None, "0.1".into()),
            Land("num", (2020, 1, 12), Some("B"), None, "1024.55".into()),
            Reject("value", "is not a finite number"),
        ],
    );
    // Decimal(18, 4): exact, never through f64.
    typed_file(
        &dir,
        "d-decimal.parquet",
        &["ghg"; 3],
        periods(&["2019", "2019", "2019"]),
        &[Some("A"), Some("B"), Some("C")],
        Arc::new(
            Decimal128Array::from(vec![Some(5_128_700i128), Some(-50), Some(0)])
                .with_precision_and_scale(18, 4)
                .unwrap(),
        ),
    );
    add(
        "d-decimal.parquet",
        vec![
            Land("num", (2019, 1, 12), Some("A"), None, "512.87".into()),
            Land("num", (2019, 1, 12), Some("B"), None, "-0.005".into()),
            Land("num", (2019, 1, 12), Some("C"), None, "0".into()),
        ],
    );
    // Integers, and a period column of whole years.
    typed_file(
        &dir,
        "e-int.parquet",
        &["ghg"; 3],
        Arc::new(Int64Array::from(vec![2018, 999, 2018])),
        &[Some("A"), Some("A"), Some("B")],
        Arc::new(Int64Array::from(vec![42, 1, i64::MAX])),
    );
    add(
        "e-int.parquet",
        vec![
            Land("num", (2018, 1, 12), Some("A"), None, "42".into()),
            Reject("period", "year 999 is outside 1000-9999"),
            Land(
                "num",
                (2018, 1, 12),
                Some("B"),
                None,
                "9223372036854775807".into(),
            ),
        ],
    );
    // Dates: right for a date metric, wrong for a number metric.
    typed_file(
        &dir,
        "f-dates.parquet",
        &["when", "ghg"],
        periods(&["2017", "2017"]),
        &[Some("A"), Some("A")],
        Arc::new(Date32Array::from(vec![19_723, 19_723])),
    );
    add(
        "f-dates.parquet",
        vec![
            Land("when", (2017, 1, 12), Some("A"), None, "2024-01-01".into()),
            Reject("value", "takes a number, not a date"),
        ],
    );
    // Booleans: no number; text as written.
    typed_file(
        &dir,
        "g-bool.parquet",
        &["ghg", "txt"],
        periods(&["2016", "2016"]),
        &[Some("A"), None],
        Arc::new(BooleanArray::from(vec![true, false])),
    );
    add(
        "g-bool.parquet",
        vec![
            Reject("value", "takes a number, not a boolean"),
            Land("txt", (2016, 1, 12), None, None, "false".into()),
        ],
    );
    // A file without a mapped column, and a file that is not Parquet: the whole file is one
    // reject, the other files land.
    write(
        &dir.join("h-no-notes.parquet"),
        vec![
            ("metric", periods(&["ghg"])),
            ("period", periods(&["2015"])),
            ("facility", periods(&["A"])),
            ("bu", periods(&["X"])),
            ("value", periods(&["1"])),
        ],
    );
    std::fs::write(dir.join("i-broken.parquet"), b"PAR1 this is not Parquet").unwrap();
    want.push((
        "h-no-notes.parquet".into(),
        0,
        Reject("notes", "has no column `notes`"),
    ));
    want.push((
        "i-broken.parquet".into(),
        0,
        Reject("file", "cannot read Parquet file"),
    ));
    assert!(want.len() >= 60, "{} cases", want.len());

    let p = pipeline(&dir);
    let r = e.run(&p, RunOptions::default()).await;
    let lands = want.iter().filter(|w| matches!(w.2, Land(..))).count();
    let rejects = want.len() - lands;
    assert_eq!(r.status, Status::Partial, "{:?}", r.message());
    assert_eq!(
        (r.counts.created as usize, r.counts.rejected as usize),
        (lands, rejects),
        "{:#?}",
        r.rejects
    );
    // Every reject names its file, row, field and why.
    for (file, row, w) in &want {
        if let Reject(field, why) = w {
            let found = r.rejects.iter().find(|x| {
                x.source_file.ends_with(file.as_str()) && x.source_row == *row && x.field == *field
            });
            let found = found.unwrap_or_else(|| {
                panic!(
                    "{file} row {row}: no reject on `{field}` in {:#?}",
                    r.rejects
                )
            });
            assert!(
                found.reason.contains(why),
                "{file} row {row}: `{}` lacks `{why}`",
                found.reason
            );
        }
    }
    // Every good case landed exactly.
    let ids = &e.env.ids;
    let metric_id = |m: &str| match m {
        "num" => &ids.num,
        "share" => &ids.share,
        "txt" => &ids.txt,
        _ => &ids.date,
    };
    let mut held: Vec<Held> = Vec::new();
    for m in ["num", "share", "txt", "when"] {
        for v in e.workiva(metric_id(m)).await {
            held.push((
                m.to_string(),
                (v.year, v.start, v.end),
                v.coordinates,
                v.value,
            ));
        }
    }
    assert_eq!(held.len(), lands, "{held:#?}");
    for (file, row, w) in &want {
        if let Land(m, period, facility, bu, value) = w {
            let mut coords = serde_json::Map::new();
            if let Some(f) = facility {
                coords.insert(ids.facility.clone(), json!(f));
            }
            if let Some(b) = bu {
                coords.insert(ids.bu.clone(), json!(b));
            }
            let expected = (m.to_string(), *period, Value::Object(coords), value.clone());
            assert!(
                held.contains(&expected),
                "{file} row {row}: {expected:?} not in {held:#?}"
            );
        }
    }
    // A rerun sends nothing and rejects the same rows.
    let before = e.upsertions();
    let again = e.run(&p, RunOptions::default()).await;
    assert_eq!(
        (
            again.counts.unchanged as usize,
            again.counts.rejected as usize
        ),
        (lands, rejects),
        "{again:?}"
    );
    assert_eq!(
        (again.batches, e.upsertions()),
        (0, before),
        "the rerun sends nothing"
    );
}

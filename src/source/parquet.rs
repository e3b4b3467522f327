//! Reading Parquet files: globs expanded, each file read by record batch with only the mapped
//! columns projected, cells converted by their Arrow type.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayAccessor, ArrayRef, ArrowPrimitiveType, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{Cell, SourceRow};
use crate::config::Columns;

/// Rows per record batch read from a file (and per chunk handed on by every source).
pub const BATCH_ROWS: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source pattern `{pattern}` is not a valid glob: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error(
        "source `{0}` matches no file; check the path (relative to the working directory) or the glob"
    )]
    NoMatch(String),
    #[error("cannot read Parquet file {file}: {reason}")]
    Read { file: String, reason: String },
    #[error(
        "Parquet file {file} has no column `{column}` (mapped as {role}); its columns are: {available}"
    )]
    MissingColumn {
        file: String,
        column: String,
        role: String,
        available: String,
    },
    #[error(
        "Parquet file {file}, column `{column}` has type {data_type}, which esg-sync cannot read; cast it to a string, integer, float, decimal, date or boolean"
    )]
    UnsupportedType {
        file: String,
        column: String,
        data_type: String,
    },
    /// Every problem of a pipeline's sources, so one round of fixes is enough.
    #[error("{} source problems: {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Several(Vec<SourceError>),
}

impl SourceError {
    /// The file at fault, when one is.
    pub fn file(&self) -> Option<&str> {
        match self {
            Self::Read { file, .. }
            | Self::MissingColumn { file, .. }
            | Self::UnsupportedType { file, .. } => Some(file),
            _ => None,
        }
    }

    /// The column at fault, or `file` when the whole file is.
    pub fn field(&self) -> &str {
        match self {
            Self::MissingColumn { column, .. } | Self::UnsupportedType { column, .. } => column,
            _ => "file",
        }
    }

    /// One error, or all of them when there are several.
    pub fn all(mut errors: Vec<SourceError>) -> Option<SourceError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(SourceError::Several(errors)),
        }
    }
}

/// Expands the pipeline's `source` entries into files, sorted, each once.
pub fn expand(patterns: &[String]) -> Result<Vec<PathBuf>, SourceError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in patterns {
        let mut found = 0;
        let paths = match glob::glob(p) {
            Ok(paths) => paths,
            Err(e) => {
                errors.push(SourceError::Pattern {
                    pattern: p.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        for entry in paths.flatten() {
            if entry.is_file() {
                found += 1;
                out.push(entry);
            }
        }
        if found == 0 {
            errors.push(SourceError::NoMatch(p.clone()));
        }
    }
    if let Some(e) = SourceError::all(errors) {
        return Err(e);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A column's cells, by its Arrow type.
fn cells(file: &str, column: &str, a: &ArrayRef) -> Result<Vec<Cell>, SourceError> {
    let n = a.len();
    Ok(match a.data_type() {
        DataType::Null => vec![Cell::Null; n],
        DataType::Utf8 => texts(a.as_string::<i32>()),
        DataType::LargeUtf8 => texts(a.as_string::<i64>()),
        DataType::Utf8View => texts(a.as_string_view()),
        DataType::Boolean => {
            let arr = a.as_boolean();
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push(if arr.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Bool(arr.value(i))
                });
            }
            out
        }
        DataType::Int8 => prim::<Int8Type>(a, |v| Cell::Int(v as i64)),
        DataType::Int16 => prim::<Int16Type>(a, |v| Cell::Int(v as i64)),
        DataType::Int32 => prim::<Int32Type>(a, |v| Cell::Int(v as i64)),
        DataType::Int64 => prim::<Int64Type>(a, Cell::Int),
        DataType::UInt8 => prim::<UInt8Type>(a, |v| Cell::Int(v as i64)),
        DataType::UInt16 => prim::<UInt16Type>(a, |v| Cell::Int(v as i64)),
        DataType::UInt32 => prim::<UInt32Type>(a, |v| Cell::Int(v as i64)),
        DataType::UInt64 => prim::<UInt64Type>(a, |v| {
            if v <= i64::MAX as u64 {
                Cell::Int(v as i64)
            } else {
                Cell::Decimal {
                    value: v as i128,
                    scale: 0,
                }
            }
        }),
        DataType::Float16 => prim::<Float16Type>(a, |v| Cell::Float(widen_f16(v))),
        DataType::Float32 => prim::<Float32Type>(a, |v| Cell::Float(super::cell::widen_f32(v))),
        DataType::Float64 => prim::<Float64Type>(a, Cell::Float),
        DataType::Decimal128(_, s) => {
            let s = *s;
            prim::<Decimal128Type>(a, |v| Cell::Decimal { value: v, scale: s })
        }
        DataType::Date32 => prim::<Date32Type>(a, Cell::Date),
        DataType::Date64 => prim::<Date64Type>(a, |ms| date_cell(ms, 86_400_000)),
        DataType::Timestamp(unit, _) => timestamps(a, *unit),
        DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8) => {
            let plain = arrow_cast_dictionary(a).ok_or_else(|| SourceError::UnsupportedType {
                file: file.into(),
                column: column.into(),
                data_type: a.data_type().to_string(),
            })?;
            return cells(file, column, &plain);
        }
        other => {
            return Err(SourceError::UnsupportedType {
                file: file.into(),
                column: column.into(),
                data_type: other.to_string(),
            });
        }
    })
}

/// A primitive column's cells, each value through `f` (one copy of the loop per type).
#[inline]
fn prim<T: ArrowPrimitiveType>(a: &ArrayRef, f: impl Fn(T::Native) -> Cell) -> Vec<Cell> {
    let arr = a.as_primitive::<T>();
    let n = arr.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(if arr.is_null(i) {
            Cell::Null
        } else {
            f(arr.value(i))
        });
    }
    out
}

/// A text column's cells (plain, large or view strings).
#[inline]
fn texts<'a>(arr: impl ArrayAccessor<Item = &'a str>) -> Vec<Cell> {
    let n = arr.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(if arr.is_null(i) {
            Cell::Null
        } else {
            Cell::Text(arr.value(i).to_string())
        });
    }
    out
}

/// A timestamp column's cells: the date of each.
#[inline]
fn timestamps(a: &ArrayRef, unit: TimeUnit) -> Vec<Cell> {
    let per_day: i64 = match unit {
        TimeUnit::Second => 86_400,
        TimeUnit::Millisecond => 86_400_000,
        TimeUnit::Microsecond => 86_400_000_000,
        TimeUnit::Nanosecond => 86_400_000_000_000,
    };
    let days = |v: i64| date_cell(v, per_day);
    match unit {
        TimeUnit::Second => prim::<TimestampSecondType>(a, days),
        TimeUnit::Millisecond => prim::<TimestampMillisecondType>(a, days),
        TimeUnit::Microsecond => prim::<TimestampMicrosecondType>(a, days),
        TimeUnit::Nanosecond => prim::<TimestampNanosecondType>(a, days),
    }
}

/// Arrow's half-precision float.
type F16 = <Float16Type as arrow_array::ArrowPrimitiveType>::Native;

/// A float16 as the f64 nearest to its own shortest decimal text (0.1, not 0.0999755859375):
/// the fewest significant digits (at most 5 are ever needed) that read back as the same f16.
fn widen_f16(v: F16) -> f64 {
    let f = v.to_f32();
    if !f.is_finite() {
        return f as f64;
    }
    // Read back through f64, which holds any such short decimal within far less than half an
    // f16 step (and a tie exactly), so its rounding to f16 is the decimal's own.
    for digits in 0..5 {
        let text = format!("{f:.digits$e}");
        if let Ok(x) = text.parse::<f64>()
            && F16::from_f64(x) == v
        {
            return x;
        }
    }
    super::cell::widen_f32(f)
}

/// A timestamp (`v` units since the epoch, `per_day` units a day) as the date it falls on; a
/// day beyond the calendar's range is kept as its number, which a date metric rejects.
fn date_cell(v: i64, per_day: i64) -> Cell {
    i32::try_from(v.div_euclid(per_day))
        .map(Cell::Date)
        .unwrap_or_else(|_| Cell::Text(v.to_string()))
}

/// A dictionary of strings, as plain strings.
fn arrow_cast_dictionary(a: &ArrayRef) -> Option<ArrayRef> {
    let dict = a.as_any_dictionary_opt()?;
    if dict.values().is_empty() {
        // Every key is null (arrow's `normalized_keys` asserts on an empty dictionary).
        return Some(Arc::new(arrow_array::StringArray::new_null(a.len())));
    }
    let keys = dict.normalized_keys();
    let values = dict.values();
    let strings = values.as_string_opt::<i32>()?;
    let out: arrow_array::StringArray = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            if a.is_null(i) {
                None
            } else {
                Some(strings.value(*k))
            }
        })
        .collect();
    Some(Arc::new(out))
}

/// The mapped columns, by role.
pub(crate) fn roles(c: &Columns) -> Vec<(String, String)> {
    let mut r = Vec::new();
    if let Some(m) = &c.metric {
        r.push(("metric".into(), m.clone()));
    }
    if let Some(p) = &c.period {
        r.push(("period".into(), p.clone()));
    }
    if let Some(y) = &c.year {
        r.push(("year".into(), y.clone()));
    }
    if let Some(s) = &c.start_month {
        r.push(("start_month".into(), s.clone()));
    }
    if let Some(e) = &c.end_month {
        r.push(("end_month".into(), e.clone()));
    }
    r.push(("value".into(), c.value.clone()));
    if let Some(n) = &c.notes {
        r.push(("notes".into(), n.clone()));
    }
    if let Some(s) = &c.status {
        r.push(("status".into(), s.clone()));
    }
    for (col, dim) in &c.dimensions {
        r.push((format!("dimension {dim}"), col.clone()));
    }
    r
}

/// The mapped columns a file must have, checked against the columns it has.
pub(crate) fn wanted_columns(
    available: &[String],
    c: &Columns,
    file: &str,
) -> Result<Vec<String>, SourceError> {
    let mut wanted = Vec::new();
    for (role, col) in roles(c) {
        if !available.contains(&col) {
            return Err(SourceError::MissingColumn {
                file: file.to_string(),
                column: col,
                role,
                available: available.join(", "),
            });
        }
        wanted.push(col);
    }
    Ok(wanted)
}

/// Turns one record batch into rows, numbering them on from `row_no`.
pub(crate) fn batch_rows(
    batch: &RecordBatch,
    c: &Columns,
    name: &Arc<str>,
    row_no: &mut u64,
) -> Result<Vec<SourceRow>, SourceError> {
    let err = |reason: String| SourceError::Read {
        file: name.to_string(),
        reason,
    };
    let col = |wanted_col: &Option<String>| -> Result<Option<Vec<Cell>>, SourceError> {
        match wanted_col {
            None => Ok(None),
            Some(n) => {
                let a = batch
                    .column_by_name(n)
                    .ok_or_else(|| err(format!("column `{n}` vanished from a record batch")))?;
                cells(name, n, a).map(Some)
            }
        }
    };
    let n = batch.num_rows();
    let take = |v: &mut Option<Vec<Cell>>, i: usize| {
        v.as_mut()
            .map(|c| std::mem::replace(&mut c[i], Cell::Null))
            .unwrap_or(Cell::Null)
    };
    let mut metric = col(&c.metric)?;
    let mut period = col(&c.period.clone().or_else(|| c.year.clone()))?;
    let mut start = col(&c.start_month)?;
    let mut end = col(&c.end_month)?;
    let mut value = col(&Some(c.value.clone()))?;
    let mut notes = col(&c.notes)?;
    let mut status = col(&c.status)?;
    let mut dims: Vec<Option<Vec<Cell>>> = Vec::new();
    for colname in c.dimensions.keys() {
        dims.push(col(&Some(colname.clone()))?);
    }
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        *row_no += 1;
        rows.push(SourceRow {
            file: name.clone(),
            row: *row_no,
            metric: take(&mut metric, i),
            period: take(&mut period, i),
            start_month: take(&mut start, i),
            end_month: take(&mut end, i),
            dims: dims.iter_mut().map(|d| take(d, i)).collect(),
            value: take(&mut value, i),
            notes: take(&mut notes, i),
            status: take(&mut status, i),
        });
    }
    Ok(rows)
}

/// Opens one file: its footer read and its mapped columns checked, ready to read them.
fn open_file(
    path: &Path,
    c: &Columns,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, SourceError> {
    let name = path.display().to_string();
    let err = |reason: String| SourceError::Read {
        file: name.clone(),
        reason,
    };
    let f = File::open(path).map_err(|e| err(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| err(e.to_string()))?;
    let available: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let wanted = wanted_columns(&available, c, &name)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), wanted.iter().map(String::as_str));
    builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| err(e.to_string()))
}

/// Checks one file without reading its rows: its footer, and its mapped columns.
pub fn check_file(path: &Path, c: &Columns) -> Result<(), SourceError> {
    open_file(path, c).map(|_| ())
}

/// Reads one file's rows, one record batch at a time, handing each batch's rows to `each`;
/// `each` returns false to stop early. Returns the number of rows read.
pub fn read_file(
    path: &Path,
    c: &Columns,
    each: &mut dyn FnMut(Vec<SourceRow>) -> bool,
) -> Result<u64, SourceError> {
    let name: Arc<str> = Arc::from(path.display().to_string());
    let reader = open_file(path, c)?;
    let mut row_no = 0u64;
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| SourceError::Read {
            file: name.to_string(),
            reason: e.to_string(),
        })?;
        if !each(batch_rows(&batch, c, &name, &mut row_no)?) {
            break;
        }
    }
    Ok(row_no)
}

/// Property tests: every Arrow type we accept converts any array without a panic, nulls stay
/// null, and numbers and dates keep their exact meaning.
#[cfg(test)]
mod props {
    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::*;
    use proptest::prelude::*;

    use super::*;

    fn convert(a: ArrayRef) -> Vec<Cell> {
        cells("f.parquet", "c", &a).expect("a type esg-sync reads")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn floats_keep_their_own_shortest_text(v in prop::collection::vec(prop::option::of(any::<u32>()), 0..40)) {
            let f32s: Vec<Option<f32>> = v.iter().map(|b| b.map(f32::from_bits)).collect();
            let out = convert(Arc::new(Float32Array::from(f32s.clone())));
            for (c, f) in out.iter().zip(&f32s) {
                match (c, f) {
                    (Cell::Null, None) => {}
                    (Cell::Float(w), Some(f)) if f.is_finite() => prop_assert_eq!(w.to_string(), f.to_string()),
                    (Cell::Float(w), Some(f)) => prop_assert_eq!(w.is_nan(), f.is_nan()),
                    other => prop_assert!(false, "{:?}", other),
                }
            }
            let f16s: Vec<Option<F16>> = v.iter().map(|b| b.map(|b| F16::from_bits(b as u16))).collect();
            let out = convert(Arc::new(Float16Array::from(f16s.clone())));
            for (c, f) in out.iter().zip(&f16s) {
                match (c, f) {
                    (Cell::Null, None) => {}
                    (Cell::Float(w), Some(f)) if f.is_finite() => {
                        prop_assert_eq!(F16::from_f64(*w), *f);
                        prop_assert!(w.to_string().trim_start_matches(['-', '0', '.']).len() <= 6, "{}", w);
                    }
                    (Cell::Float(w), Some(f)) => prop_assert_eq!(w.is_nan(), f.is_nan()),
                    other => prop_assert!(false, "{:?}", other),
                }
            }
            let f64s: Vec<Option<f64>> = v.iter().map(|b| b.map(|x| f64::from_bits(x as u64 * 0x9E37_79B9))).collect();
            let out = convert(Arc::new(Float64Array::from(f64s.clone())));
            for (c, f) in out.iter().zip(&f64s) {
                match (c, f) {
                    (Cell::Null, None) => {}
                    (Cell::Float(w), Some(f)) => prop_assert_eq!(w.to_bits(), f.to_bits()),
                    other => prop_assert!(false, "{:?}", other),
                }
            }
        }

        #[test]
        fn decimals_of_every_scale_are_exact(v in prop::collection::vec(prop::option::of(-(10i128.pow(38) - 1)..10i128.pow(38)), 0..20), scale in -20i8..=38) {
            let a = Decimal128Array::from(v.clone()).with_precision_and_scale(38, scale).unwrap();
            let out = convert(Arc::new(a));
            for (c, x) in out.iter().zip(&v) {
                match (c, x) {
                    (Cell::Null, None) => {}
                    (Cell::Decimal { value, scale: s }, Some(x)) => prop_assert_eq!((*value, *s), (*x, scale)),
                    other => prop_assert!(false, "{:?}", other),
                }
                let _ = c.text();
            }
        }

        #[test]
        fn dates_and_timestamps_are_days(v in prop::collection::vec(prop::option::of(any::<i64>()), 0..20)) {
            let d32: Vec<Option<i32>> = v.iter().map(|x| x.map(|x| x as i32)).collect();
            for (c, x) in convert(Arc::new(Date32Array::from(d32.clone()))).iter().zip(&d32) {
                prop_assert_eq!(c, &x.map(Cell::Date).unwrap_or(Cell::Null));
            }
            let per = [(86_400i64, 0u8), (86_400_000, 1), (86_400_000_000, 2), (86_400_000_000_000, 3)];
            for (per_day, unit) in per {
                let a: ArrayRef = match unit {
                    0 => Arc::new(TimestampSecondArray::from(v.clone())),
                    1 => Arc::new(TimestampMillisecondArray::from(v.clone())),
                    2 => Arc::new(TimestampMicrosecondArray::from(v.clone())),
                    _ => Arc::new(TimestampNanosecondArray::from(v.clone())),
                };
                for (c, x) in convert(a).iter().zip(&v) {
                    match (c, x) {
                        (Cell::Null, None) => {}
                        (Cell::Date(d), Some(x)) => prop_assert_eq!(*d as i64, x.div_euclid(per_day)),
                        (Cell::Text(t), Some(x)) => prop_assert_eq!(t, &x.to_string()),
                        other => prop_assert!(false, "{:?}", other),
                    }
                }
            }
            for (c, x) in convert(Arc::new(Date64Array::from(v.clone()))).iter().zip(&v) {
                if let (Cell::Date(d), Some(x)) = (c, x) {
                    prop_assert_eq!(*d as i64, x.div_euclid(86_400_000));
                }
            }
        }

        #[test]
        fn every_string_form_reads_alike(v in prop::collection::vec(prop::option::of("\\PC{0,12}"), 0..30)) {
            let want: Vec<Cell> = v.iter().map(|x| x.clone().map(Cell::Text).unwrap_or(Cell::Null)).collect();
            let refs: Vec<Option<&str>> = v.iter().map(|x| x.as_deref()).collect();
            prop_assert_eq!(&convert(Arc::new(StringArray::from(refs.clone()))), &want);
            prop_assert_eq!(&convert(Arc::new(LargeStringArray::from(refs.clone()))), &want);
            prop_assert_eq!(&convert(Arc::new(StringViewArray::from(refs.clone()))), &want);
            let mut dict = StringDictionaryBuilder::<arrow_array::types::Int32Type>::new();
            for x in &refs {
                dict.append_option(*x);
            }
            prop_assert_eq!(&convert(Arc::new(dict.finish())), &want);
        }

        #[test]
        fn integers_of_every_width_are_exact(v in prop::collection::vec(prop::option::of(any::<u64>()), 0..20)) {
            for (c, x) in convert(Arc::new(UInt64Array::from(v.clone()))).iter().zip(&v) {
                match (c, x) {
                    (Cell::Null, None) => {}
                    (Cell::Int(i), Some(x)) => prop_assert_eq!(*i as u64, *x),
                    (Cell::Decimal { value, scale: 0 }, Some(x)) => prop_assert_eq!(*value, *x as i128),
                    other => prop_assert!(false, "{:?}", other),
                }
            }
            let i8s: Vec<Option<i8>> = v.iter().map(|x| x.map(|x| x as i8)).collect();
            for (c, x) in convert(Arc::new(Int8Array::from(i8s.clone()))).iter().zip(&i8s) {
                prop_assert_eq!(c, &x.map(|x| Cell::Int(x as i64)).unwrap_or(Cell::Null));
            }
        }
    }

    #[test]
    fn every_half_float_reads_back_as_itself() {
        let all: Vec<F16> = (0..=u16::MAX).map(F16::from_bits).collect();
        let out = convert(Arc::new(Float16Array::from(all.clone())));
        for (c, f) in out.iter().zip(&all) {
            let Cell::Float(w) = c else { panic!("{c:?}") };
            if f.is_finite() {
                assert_eq!(F16::from_f64(*w), *f, "{f}");
                assert!(
                    w.to_string().trim_start_matches(['-', '0', '.']).len() <= 6,
                    "{w}"
                );
            } else {
                assert_eq!(w.is_nan(), f.is_nan());
            }
        }
    }

    #[test]
    fn half_floats_keep_their_own_shortest_text() {
        for (x, want) in [
            (0.1f32, "0.1"),
            (1024.0, "1024"),
            (-65504.0, "-65500"),
            (0.33325, "0.3333"),
        ] {
            let a: ArrayRef = Arc::new(Float16Array::from(vec![F16::from_f32(x)]));
            match &convert(a)[0] {
                Cell::Float(f) => assert_eq!(f.to_string(), want, "{x}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_unsupported_type_is_an_error_naming_the_column() {
        let a: ArrayRef = Arc::new(BinaryArray::from(vec![b"x".as_ref()]));
        let e = cells("f.parquet", "value", &a).unwrap_err().to_string();
        assert!(
            e.contains("f.parquet") && e.contains("`value`") && e.contains("Binary"),
            "{e}"
        );
    }
}

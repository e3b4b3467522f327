//! Writing Parquet files for tests and for the demo data.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// A column of a test file.
pub enum Col {
    Str(Vec<Option<String>>),
    F64(Vec<Option<f64>>),
    F32(Vec<Option<f32>>),
    I64(Vec<Option<i64>>),
}

/// Strings as given: an empty string stays an empty string (not a null).
pub fn raw(v: &[Option<&str>]) -> Col {
    Col::Str(v.iter().map(|x| x.map(str::to_string)).collect())
}

pub fn s(v: &[&str]) -> Col {
    Col::Str(
        v.iter()
            .map(|x| {
                if x.is_empty() {
                    None
                } else {
                    Some(x.to_string())
                }
            })
            .collect(),
    )
}

/// Writes the columns as one Parquet file (snappy).
pub fn write(path: &Path, cols: Vec<(&str, Col)>) {
    let arrays: Vec<(&str, ArrayRef)> = cols
        .into_iter()
        .map(|(n, c)| {
            let a: ArrayRef = match c {
                Col::Str(v) => Arc::new(StringArray::from(v)),
                Col::F64(v) => Arc::new(Float64Array::from(v)),
                Col::F32(v) => Arc::new(Float32Array::from(v)),
                Col::I64(v) => Arc::new(Int64Array::from(v)),
            };
            (n, a)
        })
        .collect();
    let batch = RecordBatch::try_from_iter(arrays).expect("columns of one length");
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let f = std::fs::File::create(path).expect("create parquet file");
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props)).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
}

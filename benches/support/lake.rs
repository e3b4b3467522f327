//! The lake the pipeline benchmarks read: one Parquet file with a row per metric (`m000`,
//! ...), year (from 2000) and site, in columns `metric`, `period`, `facility` and `value`.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;

pub struct Lake {
    pub metrics: usize,
    pub years: usize,
    pub sites: usize,
    /// The `i`-th site's dimension value.
    pub site: fn(usize) -> String,
    /// Every `changed`-th value is `i + salt`; the others `i + 0.25` (what the tenant holds).
    pub changed: usize,
    pub salt: f64,
}

impl Lake {
    pub fn rows(&self) -> usize {
        self.metrics * self.years * self.sites
    }

    /// Writes the lake to `path` as one Parquet file.
    pub fn write(&self, path: &std::path::Path) {
        let n = self.rows();
        let mut metric = Vec::with_capacity(n);
        let mut period = Vec::with_capacity(n);
        let mut site = Vec::with_capacity(n);
        let mut value = Vec::with_capacity(n);
        for m in 0..self.metrics {
            for i in 0..self.years * self.sites {
                metric.push(format!("m{m:03}"));
                period.push(format!("{}", 2000 + i / self.sites));
                site.push((self.site)(i % self.sites));
                value.push(if i % self.changed == 0 {
                    i as f64 + self.salt
                } else {
                    i as f64 + 0.25
                });
            }
        }
        let cols: Vec<(&str, ArrayRef)> = vec![
            ("metric", Arc::new(StringArray::from(metric))),
            ("period", Arc::new(StringArray::from(period))),
            ("facility", Arc::new(StringArray::from(site))),
            ("value", Arc::new(Float64Array::from(value))),
        ];
        let batch = RecordBatch::try_from_iter(cols).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
}

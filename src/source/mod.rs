//! Sources of rows. Today: Parquet files, read record batch by record batch, only the mapped
//! columns. Every row remembers its file and row number, so a rejection can name them.

pub mod parquet;

use std::sync::Arc;

/// One cell, as the source typed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
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
            Cell::Decimal { value, scale } => {
                Some(crate::sync::canon::decimal_from_scaled(*value, *scale))
            }
            Cell::Date(d) => Some(crate::sync::canon::date_from_days(*d)),
            Cell::Bool(b) => Some(b.to_string()),
        }
    }
}

/// A row from a source, with the mapped columns only.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub file: Arc<str>,
    /// 1-based row number within the file.
    pub row: u64,
    pub metric: Cell,
    /// The period label column, or the year column.
    pub period: Cell,
    pub start_month: Cell,
    pub end_month: Cell,
    /// In the order of `columns.dimensions`.
    pub dims: Vec<Cell>,
    pub value: Cell,
    pub notes: Cell,
    pub status: Cell,
}

//! Sources of rows: `cell` (a typed cell and its plain text), `parquet` (Parquet files, read
//! record batch by record batch, only the mapped columns), `object` (Parquet on object
//! storage, fetched with ranged requests) and `sql` (one query against
//! PostgreSQL, MySQL/MariaDB or SQLite, streamed), and `stream`, the one interface a run reads
//! any of them through, chunk by chunk; `version` says which version of each origin was read. Every row remembers its file and row number, so a
//! rejection can name them.

pub mod cell;
pub mod object;
pub mod parquet;
pub mod sql;
pub mod stream;
pub mod version;

pub use cell::Cell;
pub use version::{Version, Versions};

use std::sync::Arc;

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

//! Writes an evidence pack into a folder: each table as CSV (the values and the ledger also
//! as Parquet), the other files given (the configuration, the catalog), `README.txt`, and
//! last `MANIFEST.sha256`, the SHA-256 of every other file in `sha256sum`'s format.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use sha2::{Digest, Sha256};

use super::tables::Table;

/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST.sha256";

/// A file of the pack besides its tables: its name and bytes.
pub type File = (String, Vec<u8>);

/// Tables also written as Parquet.
const AS_PARQUET: [&str; 2] = ["values", "ledger"];

/// Why a pack could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(
        "{0}: the folder is not empty; name a new or empty folder, so a pack never mixes with other files"
    )]
    NotEmpty(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot write Parquet: {reason}")]
    Parquet { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the pack into `dir` (created if missing; it must be empty) and returns each file's
/// name with its SHA-256, as the manifest lists them.
pub fn write(
    dir: &Path,
    tables: &[Table],
    files: &[File],
    readme: &str,
) -> Result<Vec<(String, String)>, PackError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(PackError::NotEmpty(dir.to_path_buf()));
    }
    let mut out: Vec<File> = Vec::new();
    for t in tables {
        out.push((format!("{}.csv", t.name), csv(t).into_bytes()));
        if AS_PARQUET.contains(&t.name) {
            let name = format!("{}.parquet", t.name);
            let bytes = parquet(t).map_err(|reason| PackError::Parquet {
                path: dir.join(&name),
                reason,
            })?;
            out.push((name, bytes));
        }
    }
    out.extend(files.iter().cloned());
    out.push(("README.txt".into(), readme.as_bytes().to_vec()));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let mut listed = Vec::with_capacity(out.len());
    for (name, bytes) in &out {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        listed.push((name.clone(), crate::ledger::hex(&Sha256::digest(bytes))));
    }
    let manifest: String = listed
        .iter()
        .map(|(name, sha)| format!("{sha}  {name}\n"))
        .collect();
    let path = dir.join(MANIFEST);
    std::fs::write(&path, manifest).map_err(io(&path))?;
    Ok(listed)
}

/// A table as CSV, its header first.
pub fn csv(t: &Table) -> String {
    let header: Vec<Option<String>> = t.header.iter().map(|h| Some(h.to_string())).collect();
    let mut out = super::csv::line(&header);
    for r in &t.rows {
        out.push_str(&super::csv::line(r));
    }
    out
}

/// A table as Parquet: one nullable text column per header, one row group.
fn parquet(t: &Table) -> Result<Vec<u8>, String> {
    let fields: Vec<Field> = t
        .header
        .iter()
        .map(|h| Field::new(*h, DataType::Utf8, true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let columns: Vec<ArrayRef> = (0..t.header.len())
        .map(|i| {
            let cells = t.rows.iter().map(|r| r.get(i).cloned().flatten());
            Arc::new(cells.collect::<StringArray>()) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut bytes, schema, None)
        .map_err(|e| e.to_string())?;
    w.write(&batch).map_err(|e| e.to_string())?;
    w.close().map_err(|e| e.to_string())?;
    Ok(bytes)
}

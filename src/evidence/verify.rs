//! `esg-sync evidence verify DIR`: every file the manifest lists still has its SHA-256 (as
//! `sha256sum -c MANIFEST.sha256` would say), and the ledger entries in `ledger.csv` still
//! hold: each matches its hash, follows the entry before it where the two are consecutive,
//! and its readable columns say what its content says.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::pack::MANIFEST;
use crate::ledger::{Broken, Content, Held, Stored};

/// What a pack that holds was checked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub files: usize,
    pub entries: u64,
    /// Files in the folder the manifest does not list (not part of the pack).
    pub unlisted: Vec<String>,
}

/// Why a pack does not hold.
#[derive(Debug, thiserror::Error)]
pub enum NotVerified {
    #[error("{0}: cannot read it: {1}")]
    Read(String, std::io::Error),
    #[error("MANIFEST.sha256 line {0}: not `<sha256>  <file name>`")]
    ManifestLine(usize),
    #[error(
        "{0} does not match its SHA-256 in MANIFEST.sha256: it was changed after the pack was written"
    )]
    Changed(String),
    #[error("ledger.csv: {0}")]
    Csv(#[from] super::csv::CsvError),
    #[error("ledger.csv: no `{0}` column")]
    Column(&'static str),
    #[error("ledger.csv row {row}: {reason}")]
    Row { row: usize, reason: String },
    #[error("ledger.csv: {0}")]
    Chain(Broken),
}

/// Checks the pack in `dir`.
pub fn verify(dir: &Path) -> Result<Verified, NotVerified> {
    let read = |name: &str| {
        std::fs::read(dir.join(name)).map_err(|e| NotVerified::Read(name.to_string(), e))
    };
    let manifest = String::from_utf8_lossy(&read(MANIFEST)?).into_owned();
    let listed = manifest_lines(&manifest)?;
    for (sha, name) in &listed {
        if crate::ledger::hex(&Sha256::digest(read(name)?)) != *sha {
            return Err(NotVerified::Changed(name.clone()));
        }
    }
    let entries = if listed.iter().any(|(_, n)| n == "ledger.csv") {
        ledger(&String::from_utf8_lossy(&read("ledger.csv")?))?
    } else {
        0
    };
    let mut unlisted: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| NotVerified::Read(dir.display().to_string(), e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != MANIFEST && !listed.iter().any(|(_, l)| l == n))
        .collect();
    unlisted.sort();
    Ok(Verified {
        files: listed.len(),
        entries,
        unlisted,
    })
}

/// The manifest's `(sha256, file name)` lines; a name is a plain file of the folder.
fn manifest_lines(text: &str) -> Result<Vec<(String, String)>, NotVerified> {
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = || NotVerified::ManifestLine(i + 1);
        let (sha, name) = line.split_once(' ').ok_or_else(bad)?;
        // `sha256sum` writes two spaces (text) or a space and `*` (binary) before the name.
        let name = name.strip_prefix([' ', '*']).ok_or_else(bad)?;
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != "..";
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) || !plain {
            return Err(bad());
        }
        out.push((sha.to_ascii_lowercase(), name.to_string()));
    }
    Ok(out)
}

/// Checks `ledger.csv`'s entries; how many held.
fn ledger(text: &str) -> Result<u64, NotVerified> {
    let mut rows = super::csv::parse(text)?.into_iter();
    let header = rows.next().unwrap_or_default();
    let col = |name: &'static str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or(NotVerified::Column(name))
    };
    let (seq, prev, hash, content) = (
        col("seq")?,
        col("prev_hash")?,
        col("hash")?,
        col("content")?,
    );
    let (mut held, mut kept) = (Vec::new(), Vec::new());
    for (i, r) in rows.enumerate() {
        let row = i + 2;
        let cell = |c: usize| r.get(c).cloned().unwrap_or_default();
        let e = Held {
            seq: cell(seq).parse().map_err(|_| NotVerified::Row {
                row,
                reason: format!("seq `{}` is not a number", cell(seq)),
            })?,
            content: cell(content),
            prev_hash: cell(prev),
            hash: cell(hash),
        };
        kept.push((row, r));
        held.push(e);
    }
    // The hashes first: an entry changed is named as such, before its columns.
    let checked = crate::ledger::verify_part(held.clone()).map_err(NotVerified::Chain)?;
    for (e, (row, r)) in held.iter().zip(&kept) {
        readable_columns_hold(&header, r, e, *row)?;
    }
    Ok(checked)
}

/// The row's readable columns are what its content says (a changed column is named).
fn readable_columns_hold(
    header: &[String],
    row: &[String],
    e: &Held,
    at: usize,
) -> Result<(), NotVerified> {
    let Ok(c) = serde_json::from_str::<Content>(&e.content) else {
        // The chain's check names an unreadable content.
        return Ok(());
    };
    let stored = Stored {
        seq: e.seq,
        program_id: String::new(),
        metric_id: String::new(),
        year: 0,
        coordinates: String::new(),
        action: String::new(),
        run_id: 0,
        content: e.content.clone(),
        prev_hash: e.prev_hash.clone(),
        hash: e.hash.clone(),
    };
    let want = super::tables::ledger_row(&stored, &c);
    let written = super::csv::parse(&super::csv::line(&want))?;
    let want = written.into_iter().next().unwrap_or_default();
    for (i, name) in header.iter().enumerate() {
        if want.get(i) != row.get(i) {
            return Err(NotVerified::Row {
                row: at,
                reason: format!(
                    "its `{name}` differs from what its content says (entry {})",
                    e.seq
                ),
            });
        }
    }
    Ok(())
}

//! The evidence pack for an assurance engagement (`esg-sync evidence`): for one program and
//! year, Workiva's values as listed now with the ledger entry behind each, the year's ledger
//! entries, rejects, threshold reviews and final-reviewer decisions, the effective
//! configuration, a manifest of SHA-256s and a README saying how to check it all. The tables
//! and the README are built here from what the command read ([`tables`], pure); [`pack`]
//! writes them and [`verify`] checks a pack.

pub mod csv;
pub mod pack;
pub mod tables;
pub mod verify;

/// What the README says the pack covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    pub program: String,
    pub program_id: String,
    pub year: u16,
    pub pipelines: Vec<String>,
    /// RFC 3339, UTC: when the pack was written.
    pub written_at: String,
    /// The whole ledger's last entry when the pack was written: its number and hash.
    pub head: Option<(i64, String)>,
    pub entries: usize,
    pub values: usize,
    pub catalog: Option<String>,
}

/// The pack's `README.txt`.
pub fn readme(a: &About) -> String {
    let head = match &a.head {
        Some((seq, hash)) => format!("entry {seq}, hash {hash}"),
        None => "empty".to_string(),
    };
    let catalog = match &a.catalog {
        Some(name) => format!(
            "{name}\n    The catalog file the configuration names ([catalog] file), as it was read.\n"
        ),
        None => String::new(),
    };
    format!(
        "esg-sync evidence pack
Program: {} ({})
Year: {}
Pipelines: {}
Written: {}
Ledger entries of the year: {}; values listed: {}
The whole ledger's last entry when this pack was written: {head}

Files
values.csv, values.parquet
    Workiva's values of the year as listed when the pack was written, one row each, with the
    last ledger entry for the value (written_by_esg_sync = yes) or none (no: esg-sync never
    wrote it, and no baseline records it). as_written says whether Workiva still holds the
    value and notes that entry left, or a person edited it in Workiva since.
ledger.csv, ledger.parquet
    Every ledger entry of the year, in order: what Workiva held before each change and what
    it became, the origin (pipeline, source, row, and the version of the file, object or query
    read), the run, batch and Workiva operation that confirmed it, and the fingerprint of the
    pipeline's configuration. content is the entry as hashed; hash = SHA-256(prev_hash, a line
    break, content).
rejects.csv
    The rows of the year that were rejected, with the run, file, row, field and reason (as far
    as the state store's retention keeps runs).
reviews.csv
    The values of the year that a threshold review judged, auto-completed or flagged.
decisions.csv
    The final reviewers' decisions on the program's tasks (all years: a task names no year).
config.toml
    The effective configuration of the pipelines, secrets removed.
{catalog}MANIFEST.sha256
    The SHA-256 of every other file.

How to verify
    sha256sum -c MANIFEST.sha256
        checks that no file changed since the pack was written.
    esg-sync evidence verify DIR
        checks the manifest, and that every ledger entry in ledger.csv matches its hash, follows
        the entry before it where the two are consecutive, and that its columns say what its
        content says.
    esg-sync ledger verify (on the installation)
        walks the whole chain; its last entry should be the one named above, or later.
",
        a.program,
        a.program_id,
        a.year,
        a.pipelines.join(", "),
        a.written_at,
        a.entries,
        a.values,
    )
}

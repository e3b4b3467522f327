//! The value ledger's entries: one value change that Workiva confirmed, in a canonical form
//! whose SHA-256 is chained to the entry before it, so an entry changed afterwards (or one
//! taken out of the middle) no longer matches. Pure: plain data in, text and hashes out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::source::Version;
use crate::workiva::models::ValueStatus;

/// What a change did to a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    /// The value emptied (`empty_values = "clear"`).
    Clear,
    /// Removed (mirror mode).
    Delete,
    /// Only its status moved.
    Status,
    /// Workiva's value as it stood when the ledger began (`esg-sync ledger baseline`).
    Baseline,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Clear => "clear",
            Self::Delete => "delete",
            Self::Status => "status",
            Self::Baseline => "baseline",
        }
    }
}

/// A value as Workiva listed it before a change, or as the change wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub value: Option<String>,
    pub notes: Option<String>,
    pub status: Option<String>,
}

/// A value as Workiva listed it when a change to it was planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Before {
    /// Workiva's id of the value.
    pub id: Option<String>,
    pub snapshot: Snapshot,
}

impl Before {
    pub fn listed(
        id: Option<String>,
        value: Option<String>,
        notes: Option<String>,
        status: Option<ValueStatus>,
    ) -> Self {
        Self {
            id,
            snapshot: Snapshot {
                value,
                notes,
                status: Some(status.unwrap_or_default().as_str().to_string()),
            },
        }
    }
}

/// Where a change came from: the pipeline, its source (a file's path or URI, an object's
/// URI, a SQL source's name), the row within it, numbered as rejects number rows, and which
/// version of the source was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub pipeline: String,
    pub source: String,
    pub row: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
}

/// A change as it is known when its batch (or deletion) is recorded, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub program_id: String,
    pub metric_id: String,
    /// The lake's key for the metric.
    pub metric_key: String,
    pub year: i64,
    /// The period's label (`2025`, `2025-Q3`, `2025-07`).
    pub period: String,
    /// Workiva's dimension id to its value's id.
    pub coordinates: BTreeMap<String, String>,
    /// Workiva's id of the value, where it had one.
    pub value_id: Option<String>,
    pub action: Action,
    pub before: Option<Snapshot>,
    pub after: Option<Snapshot>,
    /// It replaced a value a person had edited in Workiva (`before` holds the edit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hand_edit: bool,
    pub origin: Origin,
    /// The SHA-256 of the pipeline's effective configuration, secrets excluded.
    pub config: String,
}

/// How a change was confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub run_id: i64,
    pub batch_id: Option<i64>,
    pub deletion_id: Option<i64>,
    /// The operation Workiva ran the batch as.
    pub operation: Option<String>,
    /// RFC 3339, UTC, milliseconds.
    pub confirmed_at: String,
}

/// An entry's content: what its hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub seq: i64,
    pub change: Change,
    pub confirmed: Confirmation,
}

impl Content {
    /// The canonical text: JSON with the fields in their declared order and maps sorted, so
    /// the same entry always reads the same.
    pub fn canonical(&self) -> String {
        // Strings, numbers, options and a sorted map: it always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What esg-sync last wrote to a value, by the ledger's latest entry for it (a change or a
/// baseline; a value whose latest entry deletes it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub run_id: i64,
    pub value: Option<String>,
    pub notes: Option<String>,
}

/// A value within one metric as the ledger keys it: its period's label and its coordinates
/// as JSON ([`Change::coordinates_text`]).
pub type LedgerKey = (String, String);

/// What esg-sync last wrote to each value of one metric that the ledger knows.
pub type LastWritten = std::collections::HashMap<LedgerKey, Written>;

/// The part of an entry's content that says what it left a value as.
#[derive(Deserialize)]
struct Peek {
    change: PeekChange,
    confirmed: PeekConfirmed,
}

#[derive(Deserialize)]
struct PeekChange {
    period: String,
    action: Action,
    after: Option<Snapshot>,
}

#[derive(Deserialize)]
struct PeekConfirmed {
    run_id: i64,
}

impl Written {
    /// What an entry's content left its value as: its period and what it holds, or `None`
    /// for what it holds when the entry deleted it. An error when the content is unreadable.
    pub fn of_content(content: &str) -> serde_json::Result<(String, Option<Self>)> {
        let p: Peek = serde_json::from_str(content)?;
        let written = (p.change.action != Action::Delete).then(|| {
            let after = p.change.after.unwrap_or_default();
            Self {
                run_id: p.confirmed.run_id,
                value: after.value,
                notes: after.notes,
            }
        });
        Ok((p.change.period, written))
    }
}

/// What the first entry is chained to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry whose canonical content is `content`, after the entry hashed `prev`.
pub fn chained(prev: &str, content: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(content.as_bytes());
    hex(&h.finalize())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// An entry as the store keeps it: the columns it is looked up by (each checked against the
/// content), and its content and hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub seq: i64,
    pub program_id: String,
    pub metric_id: String,
    pub year: i64,
    /// The content's coordinates as JSON ([`Change::coordinates_text`]).
    pub coordinates: String,
    pub action: String,
    pub run_id: i64,
    pub content: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Stored {
    /// The entry `content` makes after the entry hashed `prev`.
    pub fn chained_after(prev: &str, content: Content) -> Self {
        let text = content.canonical();
        let hash = chained(prev, &text);
        let c = content.change;
        Self {
            seq: content.seq,
            coordinates: Change::coordinates_text(&c.coordinates),
            program_id: c.program_id,
            metric_id: c.metric_id,
            year: c.year,
            action: c.action.as_str().to_string(),
            run_id: content.confirmed.run_id,
            content: text,
            prev_hash: prev.to_string(),
            hash,
        }
    }
}

impl Change {
    /// Coordinates as the ledger's `coordinates` column keeps them (JSON, sorted by id).
    pub fn coordinates_text(c: &BTreeMap<String, String>) -> String {
        serde_json::to_string(c).unwrap_or_default()
    }
}

/// Why an entry does not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("ledger entry {seq} is not the one after entry {after}: an entry is missing")]
    Gap { seq: i64, after: i64 },
    #[error("ledger entry {seq} is not chained to the entry before it (its previous hash differs)")]
    Chain { seq: i64 },
    #[error(
        "ledger entry {seq} was changed after it was written (its content no longer matches its hash)"
    )]
    Content { seq: i64 },
    #[error("ledger entry {seq}'s {column} differs from its content")]
    Column { seq: i64, column: &'static str },
    #[error("ledger entry {seq}'s content cannot be read: {reason}")]
    Unreadable { seq: i64, reason: String },
}

impl Broken {
    pub fn seq(&self) -> i64 {
        match self {
            Self::Gap { seq, .. }
            | Self::Chain { seq }
            | Self::Content { seq }
            | Self::Column { seq, .. }
            | Self::Unreadable { seq, .. } => *seq,
        }
    }
}

/// The chain as walked so far: the last entry's hash and number, and how many held.
#[derive(Debug, Clone)]
pub struct Chain {
    prev: String,
    last: i64,
    pub checked: u64,
}

impl Default for Chain {
    fn default() -> Self {
        Self {
            prev: GENESIS.to_string(),
            last: 0,
            checked: 0,
        }
    }
}

impl Chain {
    /// Checks the next entry, or says why it does not follow.
    pub fn step(&mut self, e: Stored) -> Result<(), Broken> {
        check(&e, &self.prev, self.last)?;
        self.prev = e.hash;
        self.last = e.seq;
        self.checked += 1;
        Ok(())
    }
}

/// Walks the chain in order: `Ok(entries checked)`, or the first entry that does not match.
pub fn verify(entries: impl IntoIterator<Item = Stored>) -> Result<u64, Broken> {
    let mut chain = Chain::default();
    for e in entries {
        chain.step(e)?;
    }
    Ok(chain.checked)
}

/// An entry as an evidence pack holds it: its number, content and the two hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub seq: i64,
    pub content: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Checks a part of the chain (an evidence pack's entries of one year), in order: each entry
/// against its own hash and content; where one entry follows another (or is the first),
/// that it names the hash before it. `Ok(entries checked)`, or the first that does not hold.
pub fn verify_part(entries: impl IntoIterator<Item = Held>) -> Result<u64, Broken> {
    let (mut last, mut checked): (Option<(i64, String)>, u64) = (None, 0);
    for e in entries {
        let seq = e.seq;
        let before = match &last {
            Some((s, _)) if seq <= *s => return Err(Broken::Gap { seq, after: *s }),
            Some((s, h)) if seq == s + 1 => Some(h.as_str()),
            _ if seq == 1 => Some(GENESIS),
            _ => None,
        };
        if before.is_some_and(|h| h != e.prev_hash) {
            return Err(Broken::Chain { seq });
        }
        if chained(&e.prev_hash, &e.content) != e.hash {
            return Err(Broken::Content { seq });
        }
        let c: Content = serde_json::from_str(&e.content).map_err(|err| Broken::Unreadable {
            seq,
            reason: err.to_string(),
        })?;
        if c.seq != seq {
            return Err(Broken::Column { seq, column: "seq" });
        }
        last = Some((seq, e.hash));
        checked += 1;
    }
    Ok(checked)
}

/// One entry after the entry `last` hashed `prev`.
fn check(e: &Stored, prev: &str, last: i64) -> Result<(), Broken> {
    let seq = e.seq;
    if seq != last + 1 {
        return Err(Broken::Gap { seq, after: last });
    }
    if e.prev_hash != prev {
        return Err(Broken::Chain { seq });
    }
    if chained(prev, &e.content) != e.hash {
        return Err(Broken::Content { seq });
    }
    let c: Content = serde_json::from_str(&e.content).map_err(|err| Broken::Unreadable {
        seq,
        reason: err.to_string(),
    })?;
    let column = |column| Err(Broken::Column { seq, column });
    if c.seq != seq {
        return column("seq");
    }
    if c.change.program_id != e.program_id {
        return column("program_id");
    }
    if c.change.metric_id != e.metric_id {
        return column("metric_id");
    }
    if c.change.year != e.year {
        return column("year");
    }
    if c.change.action.as_str() != e.action {
        return column("action");
    }
    if Change::coordinates_text(&c.change.coordinates) != e.coordinates {
        return column("coordinates");
    }
    if c.confirmed.run_id != e.run_id {
        return column("run_id");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn change(value: &str) -> Change {
        Change {
            program_id: "P".into(),
            metric_id: "M".into(),
            metric_key: "ghg".into(),
            year: 2025,
            period: "2025-Q1".into(),
            coordinates: [("F".to_string(), "A".to_string())].into(),
            value_id: None,
            action: Action::Create,
            before: None,
            after: Some(Snapshot {
                value: Some(value.into()),
                ..Snapshot::default()
            }),
            hand_edit: false,
            origin: Origin {
                pipeline: "p".into(),
                source: "data/x.parquet".into(),
                row: 3,
                version: None,
            },
            config: "c".into(),
        }
    }

    /// A chain of entries with these values, as the store would keep it.
    fn chain(values: &[String]) -> Vec<Stored> {
        let mut prev = GENESIS.to_string();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let content = Content {
                    seq: i as i64 + 1,
                    change: change(v),
                    confirmed: Confirmation {
                        run_id: 1,
                        batch_id: Some(1),
                        deletion_id: None,
                        operation: Some("op".into()),
                        confirmed_at: "2026-01-01T00:00:00.000Z".into(),
                    },
                };
                let e = Stored::chained_after(&prev, content);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn a_chain_verifies_and_each_kind_of_tampering_is_named() {
        let values: Vec<String> = ["1", "2", "3"].iter().map(|s| s.to_string()).collect();
        assert_eq!(verify(chain(&values)), Ok(3));
        let mut altered = chain(&values);
        altered[1].content = altered[1].content.replace("\"2\"", "\"9\"");
        assert_eq!(verify(altered), Err(Broken::Content { seq: 2 }));
        let mut gap = chain(&values);
        gap.remove(1);
        assert_eq!(verify(gap), Err(Broken::Gap { seq: 3, after: 1 }));
        let mut moved = chain(&values);
        moved[2].year = 2024;
        assert_eq!(
            verify(moved),
            Err(Broken::Column {
                seq: 3,
                column: "year"
            })
        );
        for (column, alter) in [
            ("run_id", (|e: &mut Stored| e.run_id = 9) as fn(&mut Stored)),
            ("coordinates", |e: &mut Stored| e.coordinates = "{}".into()),
            ("action", |e: &mut Stored| e.action = "delete".into()),
        ] {
            let mut moved = chain(&values);
            alter(&mut moved[0]);
            assert_eq!(verify(moved), Err(Broken::Column { seq: 1, column }));
        }
        let mut rehashed = chain(&values);
        rehashed[0].content = rehashed[0].content.replace("\"1\"", "\"7\"");
        rehashed[0].hash = chained(GENESIS, &rehashed[0].content);
        assert_eq!(
            verify(rehashed),
            Err(Broken::Chain { seq: 2 }),
            "rehashing one entry breaks the next"
        );
    }

    fn held(e: &Stored) -> Held {
        Held {
            seq: e.seq,
            content: e.content.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }

    #[test]
    fn a_part_of_the_chain_verifies_and_names_what_does_not_hold() {
        let values: Vec<String> = ["1", "2", "3", "4"].iter().map(|s| s.to_string()).collect();
        let all: Vec<Held> = chain(&values).iter().map(held).collect();
        // Entries 1, 2 and 4 (3 is another year's): each holds, 2 follows 1.
        let part = vec![all[0].clone(), all[1].clone(), all[3].clone()];
        assert_eq!(verify_part(part.clone()), Ok(3));
        let mut altered = part.clone();
        altered[2].content = altered[2].content.replace("\"4\"", "\"5\"");
        assert_eq!(verify_part(altered), Err(Broken::Content { seq: 4 }));
        let mut relinked = part.clone();
        relinked[1].prev_hash = all[2].hash.clone();
        relinked[1].hash = chained(&relinked[1].prev_hash, &relinked[1].content);
        assert_eq!(verify_part(relinked), Err(Broken::Chain { seq: 2 }));
        let reordered = vec![all[1].clone(), all[0].clone()];
        assert_eq!(
            verify_part(reordered),
            Err(Broken::Gap { seq: 1, after: 2 })
        );
        let mut renumbered = part;
        renumbered[2].seq = 5;
        assert_eq!(
            verify_part(renumbered),
            Err(Broken::Column {
                seq: 5,
                column: "seq"
            })
        );
    }

    proptest! {
        /// Any chain verifies; changing any one byte of any entry's content is found at that
        /// entry, never later, and never panics.
        #[test]
        fn one_changed_byte_is_found_where_it_is(
            values in proptest::collection::vec("[ -~]{0,12}", 1..6),
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            byte in 0x20u8..0x7f,
        ) {
            let good = chain(&values);
            prop_assert_eq!(verify(good.clone()), Ok(values.len() as u64));
            let i = pick.index(good.len());
            let mut bad = good;
            let mut bytes = bad[i].content.clone().into_bytes();
            let j = at.index(bytes.len());
            prop_assume!(bytes[j] != byte);
            bytes[j] = byte;
            bad[i].content = String::from_utf8(bytes).unwrap();
            let err = verify(bad).unwrap_err();
            prop_assert_eq!(err.seq(), i as i64 + 1);
        }
    }
}

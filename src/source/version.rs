//! Which version of an origin the rows were read from, as the ledger records it: for a local
//! file its size, modification time and SHA-256; for an object its size, ETag, last-modified
//! time and the store's version id where it keeps versions; for a SQL source the SHA-256 of
//! the query's text (its rows are numbered in their order in the result).

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One origin's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Version {
    File {
        size: u64,
        /// RFC 3339, UTC; absent where the file system keeps no modification time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        modified: Option<String>,
        sha256: String,
    },
    Object {
        size: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        etag: Option<String>,
        /// RFC 3339, UTC.
        last_modified: String,
        /// The store's version id, on a bucket that keeps versions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
    },
    Query {
        sha256: String,
    },
}

/// Origins' versions by name (a file's path, an object's URI, a SQL source's name).
pub type Versions = std::collections::BTreeMap<std::sync::Arc<str>, Version>;

/// Lower-case hex digits of a digest.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl Version {
    /// A short form for tables: the hash's first 12 digits, or the ETag (else the time).
    pub fn short(&self) -> String {
        let cut = |h: &str| h.chars().take(12).collect::<String>();
        match self {
            Self::File { size, sha256, .. } => format!("sha256 {}, {size} bytes", cut(sha256)),
            Self::Object {
                etag,
                last_modified,
                ..
            } => match etag {
                Some(e) => format!("etag {e}"),
                None => format!("modified {last_modified}"),
            },
            Self::Query { sha256 } => format!("query sha256 {}", cut(sha256)),
        }
    }

    /// A local file's version: its size, modification time and the SHA-256 of its bytes,
    /// read in 256 KiB pieces.
    pub fn of_file(path: &Path) -> std::io::Result<Self> {
        let mut f = std::fs::File::open(path)?;
        let meta = f.metadata()?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let modified = meta
            .modified()
            .ok()
            .map(|t| rfc3339(chrono::DateTime::<chrono::Utc>::from(t)));
        Ok(Self::File {
            size: meta.len(),
            modified,
            sha256: hex(&h.finalize()),
        })
    }

    /// An object's version, from what the store listed.
    pub fn of_object(meta: &object_store::ObjectMeta) -> Self {
        Self::Object {
            size: meta.size,
            etag: meta.e_tag.clone(),
            last_modified: rfc3339(meta.last_modified),
            version: meta.version.clone(),
        }
    }

    /// A SQL source's version: the SHA-256 of its query's text.
    pub fn of_query(query: &str) -> Self {
        Self::Query {
            sha256: hex(&Sha256::digest(query.as_bytes())),
        }
    }
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_known_by_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.parquet");
        std::fs::write(&path, b"abc").unwrap();
        let Version::File {
            size,
            sha256,
            modified,
        } = Version::of_file(&path).unwrap()
        else {
            panic!("a file's version");
        };
        assert_eq!(size, 3);
        assert_eq!(
            sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(modified.is_some_and(|m| m.ends_with('Z')));
    }

    #[test]
    fn a_query_is_known_by_its_text() {
        assert_eq!(
            Version::of_query("abc"),
            Version::Query {
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into()
            }
        );
        assert_ne!(Version::of_query("SELECT 1"), Version::of_query("SELECT 2"));
    }

    #[test]
    fn versions_read_back_as_written() {
        let v = Version::Object {
            size: 10,
            etag: Some("\"e1\"".into()),
            last_modified: "2026-01-02T03:04:05.000Z".into(),
            version: None,
        };
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"object","size":10,"etag":"\"e1\"","last_modified":"2026-01-02T03:04:05.000Z"}"#
        );
        assert_eq!(serde_json::from_str::<Version>(&text).unwrap(), v);
    }
}

//! A pipeline's `source`: Parquet files (a list of paths or globs, or a `[pipeline.source]`
//! table with `kind = "parquet"`), or one SQL query against PostgreSQL, MySQL/MariaDB or
//! SQLite. A database URL comes from an environment variable (`url_env`) or a file
//! (`url_file`); one written in the config file (`url`) is refused if it holds a password.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::redact::Sensitive;

/// Where a pipeline's rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Parquet files or glob patterns: local (relative to the working directory, or
    /// `file://`), or on object storage (`s3://`, `gs://`, `az://`, `abfs://`).
    Parquet {
        paths: Vec<String>,
        store: StoreOptions,
    },
    /// The rows of one SQL query.
    Sql(SqlSource),
}

/// How to reach an object store. Credentials come from the provider's usual chain (`AWS_*`
/// variables, a profile, instance metadata; `GOOGLE_APPLICATION_CREDENTIALS`;
/// `AZURE_STORAGE_*`), never from this file; a program that embeds esg-sync may hand them over
/// in [`StoreOptions::credentials`] instead of changing its own environment.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreOptions {
    /// An S3-compatible endpoint (MinIO, R2, Ceph, a local test server), e.g.
    /// `http://127.0.0.1:9000`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The region, e.g. `eu-central-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// Plain `http://` to the endpoint, allowed only when true and only to a loopback host.
    #[serde(default)]
    pub allow_http: bool,
    /// Credentials given in code, ahead of the provider's chain. Never read from a file.
    #[serde(skip)]
    pub credentials: Option<StoreCredentials>,
}

/// An object store's credentials, given by the program rather than found in its environment;
/// the secret half shown as `**REDACTED**`.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreCredentials {
    /// S3 (and S3-compatible stores): an access key id and its secret.
    S3 {
        access_key_id: String,
        secret_access_key: Sensitive<String>,
    },
    /// Azure Blob Storage: a storage account and its access key.
    Azure {
        account: String,
        access_key: Sensitive<String>,
    },
}

impl StoreOptions {
    fn problems(&self, at: &str) -> Vec<String> {
        let mut p = Vec::new();
        if let Some(e) = &self.endpoint {
            match url::Url::parse(e) {
                Err(err) => p.push(format!("{at}: source.endpoint `{e}` is not a URL: {err}")),
                Ok(u) if u.scheme() == "http" => {
                    let loopback = crate::workiva::config::is_loopback(&u);
                    if !self.allow_http {
                        p.push(format!("{at}: source.endpoint `{e}` is plain http; set allow_http = true (loopback hosts only) or use https"));
                    } else if !loopback {
                        p.push(format!("{at}: source.endpoint `{e}` is plain http to a host that is not loopback; use https"));
                    }
                }
                Ok(_) => {}
            }
        }
        p
    }
}

/// Which database a SQL source queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlKind {
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
    Sqlite,
}

impl SqlKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A SQL source: its database, where its URL comes from, the query and its time limit. Its
/// `Debug` shows the URL with its passwords masked.
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSource {
    #[serde(skip, default = "default_kind")]
    pub kind: SqlKind,
    /// The database URL in the file; refused when it holds a password (use `url_env` or
    /// `url_file`).
    #[serde(default)]
    pub url: Option<Sensitive<String, crate::redact::DbUrl>>,
    /// An environment variable that holds the database URL.
    #[serde(default)]
    pub url_env: Option<String>,
    /// A file that holds the database URL (a Kubernetes secret, a systemd credential).
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// The query; its result is the pipeline's whole scope. It runs in a read-only transaction.
    pub query: String,
    /// The query's time limit, seconds (default 600; 1..86400).
    #[serde(default = "default_timeout")]
    pub statement_timeout_secs: u64,
}

fn default_kind() -> SqlKind {
    SqlKind::Postgres
}
fn default_timeout() -> u64 {
    600
}

/// Why a SQL source's database URL cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error(transparent)]
    Kept(#[from] super::KeptError),
    #[error("set source.url_env (or url_file) to where the database URL is")]
    Missing,
}

impl SqlSource {
    /// What rejects and errors call this source: `postgres query of pipeline emissions`.
    pub fn name(&self, pipeline: &str) -> String {
        format!("{} query of pipeline {pipeline}", self.kind.as_str())
    }

    /// Reads the database URL: from `url_file`, else the variable `url_env` names, else `url`.
    pub fn url(&self) -> Result<String, UrlError> {
        let kept = super::read_kept(
            "source",
            ("url_file", self.url_file.as_deref()),
            ("url_env", self.url_env.as_deref()),
        )?;
        if let Some(url) = kept {
            return Ok(url);
        }
        self.url
            .as_ref()
            .map(|u| u.expose().clone())
            .ok_or(UrlError::Missing)
    }

    /// What is wrong with the source's settings.
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut p = Vec::new();
        let given = [
            self.url.is_some(),
            self.url_env.is_some(),
            self.url_file.is_some(),
        ];
        match given.iter().filter(|g| **g).count() {
            0 => p.push(format!("{at}: source needs url_env or url_file (or url)")),
            1 => {}
            _ => p.push(format!("{at}: set one of source.url, url_env and url_file")),
        }
        if let Some(u) = &self.url
            && crate::redact::holds_secret(u.expose())
        {
            p.push(format!(
                "{at}: source.url holds a password (in its userinfo or a query parameter such as ?password=); move the URL to an environment variable (url_env) or a file (url_file)"
            ));
        }
        if self.query.trim().is_empty() {
            p.push(format!("{at}: source.query is empty"));
        }
        if !(1..=86_400).contains(&self.statement_timeout_secs) {
            p.push(format!(
                "{at}: source.statement_timeout_secs is {}; it must be from 1 to 86400",
                self.statement_timeout_secs
            ));
        }
        p
    }
}

/// Whether a URL carries a password (`scheme://user:password@host`).
impl Source {
    /// The Parquet paths, if the source is Parquet.
    pub fn paths(&self) -> &[String] {
        match self {
            Self::Parquet { paths, .. } => paths,
            Self::Sql(_) => &[],
        }
    }

    /// What is wrong with the source's settings; `at` names the pipeline.
    pub fn problems(&self, at: &str) -> Vec<String> {
        match self {
            Self::Parquet { paths, .. } if paths.is_empty() => {
                vec![format!("{at}: source lists no Parquet files")]
            }
            Self::Parquet { paths, store } => {
                let mut p = store.problems(at);
                for path in paths {
                    if let Some((scheme, _)) = path.split_once("://")
                        && ![
                            "file", "s3", "s3a", "gs", "gcs", "az", "azure", "abfs", "abfss",
                        ]
                        .contains(&scheme)
                    {
                        p.push(format!(
                            "{at}: source `{path}`: `{scheme}://` is not a store esg-sync reads; use a local path, file://, s3://, gs://, az:// or abfs://"
                        ));
                    }
                }
                p
            }
            Self::Sql(s) => s.problems(at),
        }
    }
}

impl From<Vec<String>> for Source {
    fn from(paths: Vec<String>) -> Self {
        Self::Parquet {
            paths,
            store: StoreOptions::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParquetTable {
    paths: Vec<String>,
    #[serde(flatten)]
    store: StoreOptions,
}

/// Written as it is read: a list of paths, or a table with its `kind` (a SQL URL masked).
impl serde::Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let table = match self {
            Self::Parquet { paths, store } if *store == StoreOptions::default() => {
                return paths.serialize(s);
            }
            Self::Parquet { paths, store } => {
                let mut t = toml::Table::try_from(store).map_err(S::Error::custom)?;
                t.insert("kind".into(), "parquet".into());
                t.insert(
                    "paths".into(),
                    toml::Value::try_from(paths).map_err(S::Error::custom)?,
                );
                t
            }
            Self::Sql(q) => {
                let mut t = toml::Table::try_from(q).map_err(S::Error::custom)?;
                t.insert("kind".into(), q.kind.as_str().into());
                t
            }
        };
        table.serialize(s)
    }
}

/// `source = ["a.parquet", ...]`, or a table whose `kind` says which.
impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Source;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of Parquet paths, or a table with kind = \"parquet\", \"postgres\", \"mysql\" or \"sqlite\"")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Source, A::Error> {
                let paths = Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(paths.into())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Source, A::Error> {
                let mut table: toml::Table =
                    toml::Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let kind = match table.remove("kind") {
                    Some(toml::Value::String(k)) => k,
                    _ => {
                        return Err(de::Error::custom(
                            "source needs kind = \"parquet\", \"postgres\", \"mysql\" or \"sqlite\"",
                        ));
                    }
                };
                let rest = toml::Value::Table(table);
                let sql = |kind: SqlKind| -> Result<Source, A::Error> {
                    let mut s: SqlSource = rest.clone().try_into().map_err(de::Error::custom)?;
                    s.kind = kind;
                    Ok(Source::Sql(s))
                };
                match kind.as_str() {
                    "parquet" => {
                        let t: ParquetTable = rest.clone().try_into().map_err(de::Error::custom)?;
                        Ok(Source::Parquet {
                            paths: t.paths,
                            store: t.store,
                        })
                    }
                    "postgres" => sql(SqlKind::Postgres),
                    "mysql" | "mariadb" => sql(SqlKind::Mysql),
                    "sqlite" => sql(SqlKind::Sqlite),
                    other => Err(de::Error::custom(format!(
                        "source kind `{other}` is not one of parquet, postgres, mysql (MariaDB too), sqlite"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct P {
        source: Source,
    }

    fn parse(t: &str) -> Result<Source, toml::de::Error> {
        toml::from_str::<P>(t).map(|p| p.source)
    }

    #[test]
    fn every_form_reads() {
        assert_eq!(
            parse("source = [\"a.parquet\"]").unwrap().paths(),
            ["a.parquet"]
        );
        let s = parse("[source]\nkind = \"parquet\"\npaths = [\"x/*.parquet\"]").unwrap();
        assert_eq!(s.paths(), ["x/*.parquet"]);
        let Source::Sql(s) =
            parse("[source]\nkind = \"mariadb\"\nurl_env = \"LAKE\"\nquery = \"SELECT 1\"")
                .unwrap()
        else {
            panic!()
        };
        assert_eq!((s.kind, s.statement_timeout_secs), (SqlKind::Mysql, 600));
        assert!(
            parse("[source]\nkind = \"oracle\"\nquery = \"x\"")
                .unwrap_err()
                .to_string()
                .contains("oracle")
        );
        assert!(
            parse("[source]\nkind = \"postgres\"\nurl_env = \"X\"\nquery = \"q\"\nqeury = \"q\"")
                .unwrap_err()
                .to_string()
                .contains("qeury")
        );
    }

    #[test]
    fn a_password_in_the_file_is_refused_and_never_shown() {
        let Source::Sql(s) = parse(
            "[source]\nkind = \"postgres\"\nurl = \"postgres://app:hunter2@db/lake\"\nquery = \"SELECT 1\"",
        )
        .unwrap() else {
            panic!()
        };
        let p = s.problems("pipeline `x`").join("; ");
        assert!(
            p.contains("holds a password") && !p.contains("hunter2"),
            "{p}"
        );
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn credentials_are_never_read_from_the_file_nor_shown() {
        // The key is not a configuration key: a file that names it is refused.
        let named = "[source]\nkind = \"parquet\"\npaths = [\"s3://b/x\"]\ncredentials = \"k\"";
        assert!(parse(named).is_err());
        let o = StoreOptions {
            credentials: Some(StoreCredentials::S3 {
                access_key_id: "AKIAEXAMPLE".into(),
                secret_access_key: "wJalr-very-secret".into(),
            }),
            ..StoreOptions::default()
        };
        let shown = format!("{o:?}");
        assert!(
            shown.contains("AKIAEXAMPLE") && !shown.contains("wJalr"),
            "{shown}"
        );
        let az = StoreCredentials::Azure {
            account: "acct".into(),
            access_key: "azure-key-secret".into(),
        };
        assert!(!format!("{az:?}").contains("azure-key-secret"));
    }
}

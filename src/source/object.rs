//! Parquet on object storage (S3 and S3-compatible stores, Google Cloud Storage, Azure Blob
//! Storage), through `object_store`, the store the Arrow/Parquet ecosystem reads through: a
//! glob is listed with the store's listing, and each file's footer and mapped columns are
//! fetched with ranged requests, never the whole file. Credentials come from the provider's
//! usual chain (environment, profile, instance metadata).

use std::sync::Arc;

use std::ops::Range;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::parquet::{BATCH_ROWS, SourceError, batch_rows, wanted_columns};
use super::{SourceRow, Version};
use crate::config::{Columns, StoreCredentials, StoreOptions};

/// Whether `path` names an object store rather than a local file.
pub fn is_remote(path: &str) -> bool {
    path.split_once("://")
        .is_some_and(|(scheme, _)| scheme != "file")
}

/// One object to read: its store, its path in the store and its URL for messages.
pub struct Object {
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    size: u64,
    pub url: String,
    /// The version listed, which the ledger records with the rows read from it.
    pub version: Version,
}

/// The part of a URL's path before its first glob character, up to the last `/`: what to list.
pub fn split_glob(path: &str) -> (&str, Option<&str>) {
    match path.find(['*', '?', '[']) {
        None => (path, None),
        Some(i) => {
            let prefix = path[..i].rfind('/').map(|j| &path[..j]).unwrap_or("");
            (prefix, Some(path))
        }
    }
}

fn read_err(url: &str, e: impl std::fmt::Display) -> SourceError {
    let text = e.to_string();
    let hint = if text.contains("NoSuchBucket") || text.contains("bucket does not exist") {
        "the bucket does not exist; check the URL"
    } else if text.contains("InvalidAccessKeyId")
        || text.contains("SignatureDoesNotMatch")
        || text.contains("AccessDenied")
        || text.contains("403")
    {
        "access denied; check the store's credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*) and their permissions"
    } else {
        "check the URL, the endpoint and the credentials"
    };
    SourceError::Read {
        file: url.to_string(),
        reason: format!("{hint}: {text}"),
    }
}

/// The store a URL names, built with the options and the provider's credential chain.
fn store_for(url: &url::Url, o: &StoreOptions) -> Result<Arc<dyn ObjectStore>, String> {
    let root = format!("{}://{}", url.scheme(), url.authority());
    let built: Result<Arc<dyn ObjectStore>, object_store::Error> = match url.scheme() {
        "s3" | "s3a" => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_url(&root)
                .with_allow_http(o.allow_http);
            if let Some(e) = &o.endpoint {
                b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
            }
            if let Some(r) = &o.region {
                b = b.with_region(r);
            }
            if let Some(StoreCredentials::S3 {
                access_key_id,
                secret_access_key,
            }) = &o.credentials
            {
                b = b
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key.expose());
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "gs" | "gcs" => object_store::gcp::GoogleCloudStorageBuilder::from_env()
            .with_url(&root)
            .build()
            .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
        "az" | "azure" | "abfs" | "abfss" => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(&root)
                .with_allow_http(o.allow_http);
            if let Some(e) = &o.endpoint {
                b = b.with_endpoint(e.clone());
            }
            if let Some(StoreCredentials::Azure {
                account,
                access_key,
            }) = &o.credentials
            {
                b = b.with_account(account).with_access_key(access_key.expose());
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        other => return Err(format!("`{other}://` is not a store esg-sync reads")),
    };
    built.map_err(|e| e.to_string())
}

/// Lists the objects the remote patterns match, sorted, each once; every pattern that fails or
/// matches nothing is named.
pub async fn expand(patterns: &[String], o: &StoreOptions) -> (Vec<Object>, Vec<SourceError>) {
    let mut out: Vec<Object> = Vec::new();
    let mut errors = Vec::new();
    for p in patterns {
        match expand_one(p, o).await {
            Ok(found) if found.is_empty() => errors.push(SourceError::NoMatch(p.clone())),
            Ok(found) => out.extend(found),
            Err(e) => errors.push(e),
        }
    }
    out.sort_by(|a, b| a.url.cmp(&b.url));
    out.dedup_by(|a, b| a.url == b.url);
    (out, errors)
}

async fn expand_one(pattern: &str, o: &StoreOptions) -> Result<Vec<Object>, SourceError> {
    let url = url::Url::parse(pattern).map_err(|e| SourceError::Pattern {
        pattern: pattern.into(),
        reason: e.to_string(),
    })?;
    let store = store_for(&url, o).map_err(|reason| SourceError::Read {
        file: pattern.into(),
        reason,
    })?;
    let key = url.path().trim_start_matches('/');
    let (prefix, glob) = split_glob(key);
    let root = format!("{}://{}", url.scheme(), url.authority());
    let Some(glob) = glob else {
        let path = StorePath::from(key);
        let meta = store.head(&path).await.map_err(|e| read_err(pattern, e))?;
        return Ok(vec![Object {
            store,
            path,
            size: meta.size,
            url: pattern.to_string(),
            version: Version::of_object(&meta),
        }]);
    };
    let matcher = glob::Pattern::new(glob).map_err(|e| SourceError::Pattern {
        pattern: pattern.into(),
        reason: e.to_string(),
    })?;
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&StorePath::from(prefix)))
        .try_collect()
        .await
        .map_err(|e| read_err(pattern, e))?;
    Ok(listed
        .into_iter()
        .filter(|m| matcher.matches(m.location.as_ref()))
        .map(|m| Object {
            store: store.clone(),
            url: format!("{root}/{}", m.location),
            size: m.size,
            version: Version::of_object(&m),
            path: m.location,
        })
        .collect())
}

/// A Parquet file in an object store, read by ranges: the footer, then the mapped columns'
/// pages.
struct StoreReader {
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    size: u64,
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let m = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(m))
        }
        .boxed()
    }
}

/// Opens one object: its footer read, its mapped columns checked; the stream builder and the
/// columns to project.
async fn open(
    obj: &Object,
    c: &Columns,
) -> Result<(ParquetRecordBatchStreamBuilder<StoreReader>, Vec<String>), SourceError> {
    let reader = StoreReader {
        store: obj.store.clone(),
        path: obj.path.clone(),
        size: obj.size,
    };
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| read_err(&obj.url, e))?;
    let available: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let wanted = wanted_columns(&available, c, &obj.url)?;
    Ok((builder, wanted))
}

/// Reads one object's mapped columns, one record batch at a time, handing each batch's rows
/// to `each`; `each` returns false to stop early. Returns the number of rows read.
pub async fn read_object<F, Fut>(obj: &Object, c: &Columns, mut each: F) -> Result<u64, SourceError>
where
    F: FnMut(Vec<SourceRow>) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let name: Arc<str> = Arc::from(obj.url.as_str());
    let (builder, wanted) = open(obj, c).await?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), wanted.iter().map(String::as_str));
    let mut stream = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| read_err(&obj.url, e))?;
    let mut row_no = 0u64;
    while let Some(batch) = stream.try_next().await.map_err(|e| read_err(&obj.url, e))? {
        if !each(batch_rows(&batch, c, &name, &mut row_no)?).await {
            break;
        }
    }
    Ok(row_no)
}

/// Checks one object without reading its rows: its footer, and its mapped columns.
pub async fn check_object(obj: &Object, c: &Columns) -> Result<(), SourceError> {
    open(obj, c).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_list_from_their_literal_prefix() {
        assert_eq!(
            split_glob("lake/2025/part-1.parquet"),
            ("lake/2025/part-1.parquet", None)
        );
        assert_eq!(
            split_glob("lake/*/part-*.parquet"),
            ("lake", Some("lake/*/part-*.parquet"))
        );
        assert_eq!(split_glob("*.parquet"), ("", Some("*.parquet")));
        assert!(
            is_remote("s3://b/k")
                && is_remote("gs://b/k")
                && !is_remote("file:///x")
                && !is_remote("/x")
        );
    }

    #[test]
    fn each_provider_is_configured_from_its_url() {
        let o = StoreOptions::default();
        for u in ["s3://bucket", "gs://bucket", "az://container"] {
            let url = url::Url::parse(u).unwrap();
            // Built or refused for want of credentials, but never mistaken for another store.
            if let Err(e) = store_for(&url, &o) {
                assert!(!e.contains("is not a store"), "{u}: {e}");
            }
        }
        let e = store_for(&url::Url::parse("ftp://x/y").unwrap(), &o).unwrap_err();
        assert!(e.contains("`ftp://` is not a store"), "{e}");
    }
}

//! One interface over every source kind. [`open`] starts reading in the background (local
//! files on a blocking thread, objects and queries as a task) and hands rows over in chunks of
//! at most `parquet::BATCH_ROWS` through a channel of [`CHANNEL_CHUNKS`] chunks: the reader waits while
//! the consumer is behind, so at most a few chunks of raw input are held at once, whatever the
//! lake's size or number of files.
//!
//! Origins (a file, an object, a query's result) are read one after the other. Each ends with
//! [`Piece::Done`], after which its rows stand, or [`Piece::Failed`], after which the rows it
//! already handed over must be dropped: a file that fails part way gives none of its rows.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::parquet::{self, SourceError};
use super::sql::SqlError;
use super::{SourceRow, Version, object, sql};
use crate::config::{Columns, Source, SqlSource, StoreOptions};

/// Chunks in flight between the reader and the consumer.
pub const CHANNEL_CHUNKS: usize = 4;

/// What a source hands over, in order.
#[derive(Debug)]
pub enum Piece {
    /// Rows of the origin being read (every row names it in `file`).
    Rows(Vec<SourceRow>),
    /// The origin was read to its end: its rows stand, read from this version of it.
    Done(Arc<str>, Version),
    /// The origin failed part way: drop the rows it handed over.
    Failed(Arc<str>, ReadError),
    /// The reader itself stopped (it panicked) before every origin ended: what the source
    /// holds is unknown. Always the last piece.
    Stopped(String),
}

/// Why an origin could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    File(#[from] SourceError),
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("the source's reader stopped before the end: {0}")]
    Stopped(String),
}

/// A source being read. Dropping it stops the reader.
pub struct SourceStream {
    rx: mpsc::Receiver<Piece>,
    task: Option<tokio::task::JoinHandle<()>>,
    sent: Arc<AtomicU64>,
}

/// The reader's end: hands over pieces, counting the rows.
#[derive(Clone)]
struct Out {
    tx: mpsc::Sender<Piece>,
    sent: Arc<AtomicU64>,
}

impl Out {
    /// Hands over rows, waiting while the consumer is behind; false once it has gone.
    async fn rows(&self, rows: Vec<SourceRow>) -> bool {
        self.sent.fetch_add(rows.len() as u64, Ordering::Relaxed);
        self.tx.send(Piece::Rows(rows)).await.is_ok()
    }

    /// The same, from a blocking thread.
    fn blocking_rows(&self, rows: Vec<SourceRow>) -> bool {
        self.sent.fetch_add(rows.len() as u64, Ordering::Relaxed);
        self.tx.blocking_send(Piece::Rows(rows)).is_ok()
    }
}

impl SourceStream {
    /// Rows the reader has handed over so far (read, not necessarily consumed).
    pub fn rows_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The next piece; `None` once every origin has ended.
    pub async fn next(&mut self) -> Option<Piece> {
        if let Some(p) = self.rx.recv().await {
            return Some(p);
        }
        match self.task.take()?.await {
            Err(e) if e.is_panic() => Some(Piece::Stopped(crate::outcome::panic_message(
                e.into_panic(),
            ))),
            _ => None,
        }
    }
}

impl Drop for SourceStream {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Starts reading a pipeline's source. Fails at once when a pattern matches nothing (what the
/// source holds is then unknown); every later failure arrives as a [`Piece::Failed`].
pub async fn open(source: &Source, c: &Columns, pipeline: &str) -> Result<SourceStream, ReadError> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let sent = Arc::new(AtomicU64::new(0));
    let out = Out {
        tx: tx.clone(),
        sent: sent.clone(),
    };
    let task = match source {
        Source::Sql(s) => spawn_query(s, c, pipeline, out, tx),
        Source::Parquet { paths, store } => {
            let (files, objects) = expand(paths, store).await?;
            spawn_files(files, objects, c, out, tx)
        }
    };
    Ok(SourceStream {
        rx,
        task: Some(task),
        sent,
    })
}

/// Reads a SQL source's query as a task.
fn spawn_query(
    s: &SqlSource,
    c: &Columns,
    pipeline: &str,
    out: Out,
    tx: mpsc::Sender<Piece>,
) -> JoinHandle<()> {
    let origin = Arc::<str>::from(s.name(pipeline));
    let version = Version::of_query(&s.query);
    let (s, c, pipeline) = (s.clone(), c.clone(), pipeline.to_string());
    tokio::spawn(async move {
        let send = |rows| {
            let out = out.clone();
            async move { out.rows(rows).await }
        };
        let end = match sql::read(&s, &c, &pipeline, send).await {
            Ok(_) => Piece::Done(origin.clone(), version),
            Err(e) => Piece::Failed(origin.clone(), e.into()),
        };
        let _ = tx.send(end).await;
    })
}

/// The local files and the objects a Parquet source's patterns match; an error when a
/// pattern matches nothing.
async fn expand(
    paths: &[String],
    store: &StoreOptions,
) -> Result<(Vec<PathBuf>, Vec<object::Object>), ReadError> {
    let (remote, local): (Vec<String>, Vec<String>) =
        paths.iter().cloned().partition(|x| object::is_remote(x));
    let local: Vec<String> = local
        .into_iter()
        .map(|x| x.strip_prefix("file://").map(str::to_string).unwrap_or(x))
        .collect();
    let files = if local.is_empty() {
        Vec::new()
    } else {
        parquet::expand(&local)?
    };
    let objects = if remote.is_empty() {
        Vec::new()
    } else {
        let (objects, unmatched) = object::expand(&remote, store).await;
        if let Some(e) = SourceError::all(unmatched) {
            return Err(e.into());
        }
        objects
    };
    Ok((files, objects))
}

/// Reads the local files on a blocking thread, then the objects, one origin after the other.
fn spawn_files(
    files: Vec<PathBuf>,
    objects: Vec<object::Object>,
    c: &Columns,
    out: Out,
    tx: mpsc::Sender<Piece>,
) -> JoinHandle<()> {
    let c = c.clone();
    tokio::spawn(async move {
        let (local_out, local_tx) = (out.clone(), tx.clone());
        let cols = c.clone();
        let read_local = tokio::task::spawn_blocking(move || {
            for f in files {
                let origin: Arc<str> = Arc::from(f.display().to_string());
                let mut send = |rows| local_out.blocking_rows(rows);
                let end = match parquet::read_file(&f, &cols, &mut send)
                    .and_then(|_| file_version(&f, &origin))
                {
                    Ok(version) => Piece::Done(origin, version),
                    Err(e) => Piece::Failed(origin, e.into()),
                };
                if local_tx.blocking_send(end).is_err() {
                    return;
                }
            }
        });
        if let Err(e) = read_local.await {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            return;
        }
        for o in objects {
            let origin: Arc<str> = Arc::from(o.url.as_str());
            let send = |rows| {
                let out = out.clone();
                async move { out.rows(rows).await }
            };
            let end = match object::read_object(&o, &c, send).await {
                Ok(_) => Piece::Done(origin, o.version.clone()),
                Err(e) => Piece::Failed(origin, e.into()),
            };
            if tx.send(end).await.is_err() {
                return;
            }
        }
    })
}

/// A local file's version, read once its rows are: a file whose bytes cannot be read again
/// fails like one that cannot be read at all.
fn file_version(f: &std::path::Path, origin: &str) -> Result<Version, SourceError> {
    Version::of_file(f).map_err(|e| SourceError::Read {
        file: origin.to_string(),
        reason: format!("its bytes could not be read to record which version was read: {e}"),
    })
}

/// Reads a whole source into memory: for tests and tools over small lakes only (a run streams).
/// The rows of every origin read to its end, and why each other one failed.
pub async fn read_all(
    source: &Source,
    c: &Columns,
    pipeline: &str,
) -> Result<(Vec<SourceRow>, Vec<ReadError>), ReadError> {
    let mut stream = open(source, c, pipeline).await?;
    let (mut rows, mut pending, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(piece) = stream.next().await {
        match piece {
            Piece::Rows(r) => pending.extend(r),
            Piece::Done(..) => rows.append(&mut pending),
            Piece::Failed(_, e) => {
                pending.clear();
                errors.push(e);
            }
            Piece::Stopped(why) => return Err(ReadError::Stopped(why)),
        }
    }
    Ok((rows, errors))
}

/// Counts a source's rows without holding them: what the benchmark measures.
pub async fn count(source: &Source, c: &Columns, pipeline: &str) -> Result<u64, ReadError> {
    let mut stream = open(source, c, pipeline).await?;
    let (mut n, mut pending) = (0u64, 0u64);
    while let Some(piece) = stream.next().await {
        match piece {
            Piece::Rows(r) => pending += r.len() as u64,
            Piece::Done(..) => n += std::mem::take(&mut pending),
            Piece::Failed(_, e) => return Err(e),
            Piece::Stopped(why) => return Err(ReadError::Stopped(why)),
        }
    }
    Ok(n)
}

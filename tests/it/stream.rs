//! The one source interface: rows arrive in chunks, the reader stays only a few chunks ahead
//! of its consumer whatever the input's size, and an unreadable file is reported without
//! stopping the others.

use std::path::Path;

use esg_sync::config::{Columns, Source};
use esg_sync::source::parquet::BATCH_ROWS;
use esg_sync::source::stream::{self, CHANNEL_CHUNKS, Piece};

use crate::support::pq::{Col, s, write};

fn columns() -> Columns {
    Columns {
        metric: Some("metric".into()),
        period: Some("period".into()),
        value: "value".into(),
        ..Columns::default()
    }
}

/// A file of `n` rows.
fn lake_file(path: &Path, n: usize) {
    let metric: Vec<String> = (0..n).map(|i| format!("m{}", i % 7)).collect();
    let metric: Vec<&str> = metric.iter().map(String::as_str).collect();
    let period = vec!["2025"; n];
    write(
        path,
        vec![
            ("metric", s(&metric)),
            ("period", s(&period)),
            ("value", Col::F64((0..n).map(|i| Some(i as f64)).collect())),
        ],
    );
}

fn parquet(paths: Vec<String>) -> Source {
    Source::Parquet {
        paths,
        store: Default::default(),
    }
}

#[tokio::test]
async fn the_reader_stays_a_few_chunks_ahead_of_its_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let files = 4;
    let per_file = 60_000;
    for i in 0..files {
        lake_file(&dir.path().join(format!("part-{i}.parquet")), per_file);
    }
    let pattern = dir.path().join("*.parquet").display().to_string();
    let mut st = stream::open(&parquet(vec![pattern]), &columns(), "p")
        .await
        .unwrap();
    let first = st.next().await.expect("a first piece");
    assert!(matches!(first, Piece::Rows(ref r) if !r.is_empty() && r.len() <= BATCH_ROWS));
    // The consumer stalls: the reader fills the channel and waits, far short of the input.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let ahead = st.rows_sent();
    let bound = ((CHANNEL_CHUNKS + 2) * BATCH_ROWS) as u64;
    assert!(
        ahead <= bound,
        "{ahead} rows read ahead of a stalled consumer (bound {bound})"
    );
    assert!(ahead < (files * per_file) as u64);
    // Drained, every row of every file arrives, each file ending once.
    let (mut rows, mut last_row) = match first {
        Piece::Rows(r) => (r.len(), r.last().unwrap().row),
        _ => unreachable!(),
    };
    let mut done = Vec::new();
    while let Some(piece) = st.next().await {
        match piece {
            Piece::Rows(r) => {
                assert!(r.len() <= BATCH_ROWS);
                // Numbered on within each file.
                assert!(
                    r[0].row == 1 || r[0].row == last_row + 1,
                    "{} after {last_row}",
                    r[0].row
                );
                last_row = r.last().unwrap().row;
                rows += r.len();
            }
            Piece::Done(origin, _) => done.push(origin.to_string()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rows, files * per_file);
    assert_eq!(st.rows_sent(), (files * per_file) as u64);
    assert_eq!(done.len(), files);
    assert!(done.iter().all(|d| d.ends_with(".parquet")));
}

/// What a run holds of its raw input does not grow with the number of files: a lake of
/// forty small files is read as far ahead of a stalled consumer as one of four large ones.
#[tokio::test]
async fn how_far_the_reader_runs_ahead_does_not_grow_with_the_number_of_files() {
    let dir = tempfile::tempdir().unwrap();
    let files = 40;
    for i in 0..files {
        lake_file(&dir.path().join(format!("part-{i:02}.parquet")), 3_000);
    }
    let pattern = dir.path().join("*.parquet").display().to_string();
    let mut st = stream::open(&parquet(vec![pattern]), &columns(), "p")
        .await
        .unwrap();
    let first = st.next().await.expect("a first piece");
    assert!(matches!(first, Piece::Rows(_)));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let ahead = st.rows_sent();
    let bound = ((CHANNEL_CHUNKS + 2) * BATCH_ROWS) as u64;
    assert!(
        ahead <= bound,
        "{ahead} rows read ahead over {files} files (bound {bound})"
    );
    assert!(ahead < 40 * 3_000, "{ahead}");
    // Drained, every file's rows arrive, each file ending once.
    let (mut rows, mut done) = (0, 0);
    if let Piece::Rows(r) = first {
        rows += r.len();
    }
    while let Some(piece) = st.next().await {
        match piece {
            Piece::Rows(r) => rows += r.len(),
            Piece::Done(..) => done += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((rows, done), (files * 3_000, files));
}

#[tokio::test]
async fn an_unreadable_file_is_reported_and_the_others_still_read() {
    let dir = tempfile::tempdir().unwrap();
    lake_file(&dir.path().join("a.parquet"), 10);
    std::fs::write(dir.path().join("b.parquet"), b"PAR1 this is not parquet").unwrap();
    lake_file(&dir.path().join("c.parquet"), 5);
    let pattern = dir.path().join("*.parquet").display().to_string();
    let (rows, errors) = stream::read_all(&parquet(vec![pattern.clone()]), &columns(), "p")
        .await
        .unwrap();
    assert_eq!(rows.len(), 15);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("b.parquet"), "{}", errors[0]);
    // Counting stops at the first unreadable file, naming it.
    let e = stream::count(&parquet(vec![pattern]), &columns(), "p")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("b.parquet"), "{e}");
    // A pattern that matches nothing fails at once: what the source holds is unknown.
    let none = dir.path().join("nothing-*.parquet").display().to_string();
    let e = stream::open(&parquet(vec![none]), &columns(), "p")
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("nothing-*.parquet"), "{e}");
}

#[tokio::test]
async fn dropping_the_stream_stops_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    lake_file(&dir.path().join("big.parquet"), 100_000);
    let path = dir.path().join("big.parquet").display().to_string();
    let mut st = stream::open(&parquet(vec![path]), &columns(), "p")
        .await
        .unwrap();
    st.next().await.expect("a first piece");
    let counter = st.rows_sent();
    drop(st);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Nothing to observe but that the process did not hang or panic; the reader's sends fail
    // and it returns.
    assert!(counter <= ((CHANNEL_CHUNKS + 2) * BATCH_ROWS) as u64);
}

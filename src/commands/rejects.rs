//! `esg-sync rejects`: the rows a run rejected, with their reasons (the latest run by
//! default), as CSV or JSON.

use std::io::Write;
use std::process::ExitCode;

use crate::app::App;

/// Prints run `run`'s rejected rows a page at a time, so a run with millions of them is
/// printed in bounded memory.
pub async fn run(app: &App, run: Option<i64>, json: bool) -> anyhow::Result<ExitCode> {
    let store = app.store().await?;
    let run_id = super::pick_run(store, run).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    out.write_all(if json {
        b"["
    } else {
        crate::outcome::REJECTS_CSV_HEADER.as_bytes()
    })?;
    let (mut after, mut first) = (0, true);
    while let Some((page, last)) = store.rejects_page(run_id, after).await? {
        if json {
            for r in &page {
                out.write_all(if first { b"\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut out, r)?;
                first = false;
            }
        } else {
            out.write_all(crate::outcome::rejects_csv_rows(run_id, &page).as_bytes())?;
        }
        after = last;
    }
    out.write_all(if json { b"\n]\n" } else { b"" })?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

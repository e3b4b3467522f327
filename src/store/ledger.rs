//! The value ledger as the store keeps it: entries appended, inside the transaction that
//! confirms a batch, from the changes recorded with the batch before it was sent; read back in
//! order for `esg-sync ledger verify` and by value for `trace`. The table refuses `UPDATE` and
//! `DELETE` (a trigger on both backends); nothing prunes it.

use sqlx::Row;

use super::{Backend, Result, Store, StoreError, now, q};
use crate::ledger::{Change, Confirmation, Content, GENESIS, LastWritten, Stored, Written};

/// The Postgres advisory lock key that serializes appends to the chain ("ledger" in ASCII):
/// two replicas confirming batches at once take turns, so each entry follows the one before.
const LEDGER_LOCK: i64 = 0x6c65_6467_6572;

/// Entries read per query while walking the ledger.
const PAGE: i64 = 5_000;

/// Values looked up per query by [`Store::ledger_last_written`].
const KEYS_PER_LOOKUP: usize = 64;

/// Rows per `INSERT` when appending: SQLite finds each bound parameter by its name, at a cost
/// that grows with the statement's parameters, so statements stay small (160 parameters).
const ROWS_PER_INSERT: usize = 16;

/// The changes a batch or deletion will record once confirmed, as the store keeps them with it.
pub(super) fn changes_text(changes: &[Change]) -> Option<String> {
    // Strings, numbers and maps of strings: they always serialise.
    (!changes.is_empty()).then(|| serde_json::to_string(changes).unwrap_or_default())
}

/// What Workiva confirmed: a batch or a mirror-mode deletion, by its id.
#[derive(Debug, Clone, Copy)]
pub(super) enum Confirmed {
    Batch(i64),
    Deletion(i64),
}

impl Store {
    /// Appends an entry for each change recorded with what Workiva confirmed, confirmed now by
    /// run `run_id`, inside `tx` (the transaction that records the confirmation).
    pub(super) async fn ledger_append(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        what: Confirmed,
        run_id: i64,
    ) -> Result<()> {
        let (table, id, sql) = match what {
            Confirmed::Batch(id) => (
                "batches",
                id,
                "SELECT c.changes, b.operation_url FROM batches b LEFT JOIN batch_changes c ON c.batch_id = b.id WHERE b.id = $1",
            ),
            Confirmed::Deletion(id) => (
                "deletions",
                id,
                "SELECT changes, NULL FROM deletions WHERE id = $1",
            ),
        };
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_one(&mut **tx)
            .await
            .map_err(q("read the changes to record"))?;
        let (Some(text), operation): (Option<String>, Option<String>) = (row.get(0), row.get(1))
        else {
            return Ok(());
        };
        let changes: Vec<Change> =
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                table,
                id,
                column: "changes",
                status: e.to_string(),
            })?;
        let confirmed = Confirmation {
            run_id,
            batch_id: matches!(what, Confirmed::Batch(_)).then_some(id),
            deletion_id: matches!(what, Confirmed::Deletion(_)).then_some(id),
            operation,
            confirmed_at: now(),
        };
        self.ledger_chain(tx, changes, confirmed).await
    }

    /// Appends baselines (`esg-sync ledger baseline`): Workiva's values as listed now, in
    /// one transaction, confirmed by no run (run 0) and no operation.
    pub async fn ledger_baseline(&self, changes: Vec<Change>) -> Result<()> {
        let mut tx = self.write("begin recording a baseline").await?;
        let confirmed = Confirmation {
            run_id: 0,
            batch_id: None,
            deletion_id: None,
            operation: None,
            confirmed_at: now(),
        };
        self.ledger_chain(&mut tx, changes, confirmed).await?;
        tx.commit().await.map_err(q("commit a baseline"))
    }

    /// Appends `changes`, each confirmed as `confirmed` says, after the chain's last entry.
    async fn ledger_chain(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        changes: Vec<Change>,
        confirmed: Confirmation,
    ) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                .bind(LEDGER_LOCK)
                .execute(&mut **tx)
                .await
                .map_err(q("lock the ledger"))?;
        }
        let head = sqlx::query("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await
            .map_err(q("read the ledger's last entry"))?;
        let (mut seq, mut prev): (i64, String) = match head {
            Some(r) => (r.get(0), r.get(1)),
            None => (0, GENESIS.to_string()),
        };
        let mut entries = Vec::with_capacity(changes.len());
        for change in changes {
            seq += 1;
            let content = Content {
                seq,
                change,
                confirmed: confirmed.clone(),
            };
            let e = Stored::chained_after(&prev, content);
            prev.clone_from(&e.hash);
            entries.push(e);
        }
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            insert(tx, entries.by_ref().take(ROWS_PER_INSERT).collect()).await?;
        }
        Ok(())
    }

    /// Every entry in order, `PAGE` at a time, handed to `each`; stops at the first `false`.
    pub async fn ledger_walk(&self, mut each: impl FnMut(Stored) -> bool) -> Result<()> {
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, program_id, metric_id, year, coordinates, action, run_id, content, prev_hash, hash \
                 FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(&self.reads)
            .await
            .map_err(q("read the ledger"))?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = last.get(0);
            for e in super::evidence::stored(&rows) {
                if !each(e) {
                    return Ok(());
                }
            }
        }
    }

    /// What esg-sync last wrote to the values of `metric` (of `program`) at `wanted` (years,
    /// each with the values' coordinates as the ledger keeps them), by their latest entries.
    pub async fn ledger_last_written(
        &self,
        program: &str,
        metric: &str,
        wanted: &std::collections::BTreeMap<i64, Vec<String>>,
    ) -> Result<LastWritten> {
        let mut out = LastWritten::new();
        for (year, coords) in wanted {
            for part in coords.chunks(KEYS_PER_LOOKUP) {
                let marks: Vec<String> = (0..part.len()).map(|i| format!("${}", i + 4)).collect();
                let sql = format!(
                    "SELECT seq, coordinates, content FROM ledger \
                     WHERE program_id = $1 AND metric_id = $2 AND year = $3 AND coordinates IN ({}) ORDER BY seq",
                    marks.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(program)
                    .bind(metric)
                    .bind(*year);
                for c in part {
                    query = query.bind(c.as_str());
                }
                let rows = query
                    .fetch_all(&self.reads)
                    .await
                    .map_err(q("read what the ledger says was written"))?;
                for r in &rows {
                    let (seq, coords, text): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
                    let (period, written) =
                        Written::of_content(&text).map_err(|e| StoreError::Corrupt {
                            table: "ledger",
                            id: seq,
                            column: "content",
                            status: e.to_string(),
                        })?;
                    match written {
                        Some(w) => out.insert((period, coords), w),
                        None => out.remove(&(period, coords)),
                    };
                }
            }
        }
        Ok(out)
    }

    /// The entries a run appended, in order.
    pub async fn ledger_of_run(&self, run_id: i64) -> Result<Vec<Content>> {
        let rows = sqlx::query("SELECT seq, content FROM ledger WHERE run_id = $1 ORDER BY seq")
            .bind(run_id)
            .fetch_all(&self.reads)
            .await
            .map_err(q("read a run's ledger entries"))?;
        contents(&rows)
    }

    /// The entries of one metric's values in one year, in order (`esg-sync trace`).
    pub async fn ledger_of_metric(
        &self,
        program: &str,
        metric: &str,
        year: i64,
    ) -> Result<Vec<Content>> {
        let rows = sqlx::query(
            "SELECT seq, content FROM ledger WHERE program_id = $1 AND metric_id = $2 AND year = $3 ORDER BY seq",
        )
        .bind(program)
        .bind(metric)
        .bind(year)
        .fetch_all(&self.reads)
        .await
        .map_err(q("read a metric's ledger entries"))?;
        contents(&rows)
    }
}

/// Entries' contents from `(seq, content)` rows; one that does not read names itself.
fn contents(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Content>> {
    rows.iter()
        .map(|r| {
            let (seq, text): (i64, String) = (r.get(0), r.get(1));
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                table: "ledger",
                id: seq,
                column: "content",
                status: e.to_string(),
            })
        })
        .collect()
}

/// One multi-row `INSERT` of appended entries, their values moved into the statement.
async fn insert(tx: &mut sqlx::Transaction<'static, sqlx::Any>, rows: Vec<Stored>) -> Result<()> {
    const COLUMNS: usize = 10;
    let mut sql = String::from(
        "INSERT INTO ledger (seq, program_id, metric_id, year, coordinates, action, run_id, content, prev_hash, hash) VALUES ",
    );
    for i in 0..rows.len() {
        let params: Vec<String> = (1..=COLUMNS)
            .map(|k| format!("${}", i * COLUMNS + k))
            .collect();
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&params.join(", "));
        sql.push(')');
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for e in rows {
        query = query
            .bind(e.seq)
            .bind(e.program_id)
            .bind(e.metric_id)
            .bind(e.year)
            .bind(e.coordinates)
            .bind(e.action)
            .bind(e.run_id)
            .bind(e.content)
            .bind(e.prev_hash)
            .bind(e.hash);
    }
    query
        .execute(&mut **tx)
        .await
        .map_err(q("append to the ledger"))?;
    Ok(())
}

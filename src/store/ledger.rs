//! The value ledger as the store keeps it: entries appended, inside the transaction that
//! confirms a batch, from the changes recorded with the batch before it was sent; read back in
//! order for `esg-sync ledger verify` and by value for `trace`. The table refuses `UPDATE` and
//! `DELETE` (a trigger on both backends); nothing prunes it.

use sqlx::Row;

use super::{Backend, Result, Store, StoreError, now, q};
use crate::ledger::{Change, Confirmation, Content, GENESIS, Stored, chained};

/// The Postgres advisory lock key that serializes appends to the chain ("ledger" in ASCII):
/// two replicas confirming batches at once take turns, so each entry follows the one before.
const LEDGER_LOCK: i64 = 0x6c65_6467_6572;

/// Entries read per query while walking the ledger.
const PAGE: i64 = 5_000;

/// Rows per `INSERT` when appending.
const ROWS_PER_INSERT: usize = 200;

/// The changes a batch will record once confirmed, as the store keeps them with it.
pub fn changes_text(changes: &[Change]) -> Option<String> {
    // Strings, numbers and maps of strings: they always serialise.
    (!changes.is_empty()).then(|| serde_json::to_string(changes).unwrap_or_default())
}

impl Store {
    /// Appends an entry for each change recorded with batch `batch_id`, confirmed now by run
    /// `run_id`, inside `tx` (the transaction that marks the batch complete).
    pub(super) async fn ledger_append_batch(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        batch_id: i64,
        run_id: i64,
    ) -> Result<()> {
        let row = sqlx::query("SELECT changes, operation_url FROM batches WHERE id = $1")
            .bind(batch_id)
            .fetch_one(&mut **tx)
            .await
            .map_err(q("read a batch's changes"))?;
        let (Some(text), operation): (Option<String>, Option<String>) = (row.get(0), row.get(1))
        else {
            return Ok(());
        };
        let changes = read_changes("batches", batch_id, &text)?;
        let confirmed = Confirmation {
            run_id,
            batch_id: Some(batch_id),
            deletion_id: None,
            operation,
            confirmed_at: now(),
        };
        self.ledger_append(tx, changes, confirmed).await
    }

    /// Appends an entry for each value deletion `deletion_id` removed, confirmed now by run
    /// `run_id`, inside `tx` (the transaction that records it done).
    pub(super) async fn ledger_append_deletion(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        deletion_id: i64,
        run_id: i64,
    ) -> Result<()> {
        let row = sqlx::query("SELECT changes FROM deletions WHERE id = $1")
            .bind(deletion_id)
            .fetch_one(&mut **tx)
            .await
            .map_err(q("read a deletion's changes"))?;
        let Some(text) = row.get::<Option<String>, _>(0) else {
            return Ok(());
        };
        let changes = read_changes("deletions", deletion_id, &text)?;
        let confirmed = Confirmation {
            run_id,
            batch_id: None,
            deletion_id: Some(deletion_id),
            operation: None,
            confirmed_at: now(),
        };
        self.ledger_append(tx, changes, confirmed).await
    }

    /// Appends `changes`, each confirmed as `confirmed` says, after the chain's last entry.
    async fn ledger_append(
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
        let mut rows = Vec::with_capacity(changes.len());
        for change in changes {
            seq += 1;
            let content = Content {
                seq,
                change,
                confirmed: confirmed.clone(),
            };
            let text = content.canonical();
            let hash = chained(&prev, &text);
            rows.push((
                content,
                text,
                std::mem::replace(&mut prev, hash.clone()),
                hash,
            ));
        }
        for part in rows.chunks(ROWS_PER_INSERT) {
            insert(tx, part).await?;
        }
        Ok(())
    }

    /// Every entry in order, `PAGE` at a time, handed to `each`; stops at the first `false`.
    pub async fn ledger_walk(&self, mut each: impl FnMut(Stored) -> bool) -> Result<()> {
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, program_id, metric_id, year, action, content, prev_hash, hash FROM ledger \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
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
            for r in &rows {
                let e = Stored {
                    seq: r.get(0),
                    program_id: r.get(1),
                    metric_id: r.get(2),
                    year: r.get(3),
                    action: r.get(4),
                    content: r.get(5),
                    prev_hash: r.get(6),
                    hash: r.get(7),
                };
                if !each(e) {
                    return Ok(());
                }
            }
        }
    }

    /// The entries a run appended, in order.
    pub async fn ledger_of_run(&self, run_id: i64) -> Result<Vec<Content>> {
        let rows = sqlx::query("SELECT seq, content FROM ledger WHERE run_id = $1 ORDER BY seq")
            .bind(run_id)
            .fetch_all(&self.reads)
            .await
            .map_err(q("read a run's ledger entries"))?;
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
}

/// The changes kept with row `id` of `table`.
fn read_changes(table: &'static str, id: i64, text: &str) -> Result<Vec<Change>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table,
        id,
        column: "changes",
        status: e.to_string(),
    })
}

/// One multi-row `INSERT` of appended entries.
async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &[(Content, String, String, String)],
) -> Result<()> {
    const COLUMNS: usize = 16;
    let mut sql = String::from(
        "INSERT INTO ledger (seq, pipeline, program_id, metric_id, metric_key, year, period, coordinates, action, \
         run_id, batch_id, deletion_id, confirmed_at, content, prev_hash, hash) VALUES ",
    );
    for i in 0..rows.len() {
        let b = i * COLUMNS;
        let params: Vec<String> = (1..=COLUMNS).map(|k| format!("${}", b + k)).collect();
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&params.join(", "));
        sql.push(')');
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (c, text, prev, hash) in rows {
        let ch = &c.change;
        let coords = serde_json::to_string(&ch.coordinates).unwrap_or_default();
        query = query
            .bind(c.seq)
            .bind(ch.origin.pipeline.clone())
            .bind(ch.program_id.clone())
            .bind(ch.metric_id.clone())
            .bind(ch.metric_key.clone())
            .bind(ch.year)
            .bind(ch.period.clone())
            .bind(coords)
            .bind(ch.action.as_str())
            .bind(c.confirmed.run_id)
            .bind(c.confirmed.batch_id)
            .bind(c.confirmed.deletion_id)
            .bind(c.confirmed.confirmed_at.clone())
            .bind(text.clone())
            .bind(prev.clone())
            .bind(hash.clone());
    }
    query
        .execute(&mut **tx)
        .await
        .map_err(q("append to the ledger"))?;
    Ok(())
}

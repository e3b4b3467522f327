//! Hand edits: the values a run found edited by a person in Workiva since esg-sync last wrote
//! them, recorded before the run sends anything; each marked as first found or as one an
//! earlier run of the pipeline already found (same value, same edit), so its alert goes out
//! once.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Result, Store, q};
use crate::outcome::HandEdit;

/// An edit's identity: the value's key and what the person entered.
fn identity(e: &HandEdit) -> String {
    let mut h = Sha256::new();
    for part in [
        e.metric.as_str(),
        &e.period,
        &e.coordinates,
        e.found_value.as_deref().unwrap_or("\u{0}"),
        e.found_notes.as_deref().unwrap_or("\u{0}"),
    ] {
        h.update(part.as_bytes());
        h.update([0xff]);
    }
    crate::ledger::hex(&h.finalize())
}

impl Store {
    /// Records run `run_id`'s hand edits, setting each one's `first_seen`.
    pub async fn hand_edits_insert(
        &self,
        run_id: i64,
        pipeline: &str,
        edits: &mut [HandEdit],
    ) -> Result<()> {
        if edits.is_empty() {
            return Ok(());
        }
        let mut tx = self.write("begin recording hand edits").await?;
        for e in edits.iter_mut() {
            let edit = identity(e);
            let earlier = sqlx::query(
                "SELECT COUNT(*) FROM hand_edits WHERE pipeline = $1 AND edit = $2 AND run_id < $3",
            )
            .bind(pipeline)
            .bind(edit.clone())
            .bind(run_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(q("look up a hand edit"))?;
            e.first_seen = earlier.get::<i64, _>(0) == 0;
            sqlx::query(
                "INSERT INTO hand_edits (run_id, pipeline, metric, metric_key, period, coordinates, value_id, \
                 written_value, written_notes, found_value, found_notes, lake_value, since_run, kept, edit) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(run_id)
            .bind(pipeline)
            .bind(e.metric.clone())
            .bind(e.metric_key.clone())
            .bind(e.period.clone())
            .bind(e.coordinates.clone())
            .bind(e.value_id.clone())
            .bind(e.written_value.clone())
            .bind(e.written_notes.clone())
            .bind(e.found_value.clone())
            .bind(e.found_notes.clone())
            .bind(e.lake_value.clone())
            .bind(e.since_run)
            .bind(e.kept as i64)
            .bind(edit)
            .execute(&mut *tx)
            .await
            .map_err(q("record a hand edit"))?;
        }
        tx.commit().await.map_err(q("commit hand edits"))?;
        Ok(())
    }

    /// The hand edits run `run_id` found, in order.
    pub async fn hand_edits(&self, run_id: i64) -> Result<Vec<HandEdit>> {
        let rows = sqlx::query(
            "SELECT h.metric, h.metric_key, h.period, h.coordinates, h.value_id, h.written_value, \
             h.written_notes, h.found_value, h.found_notes, h.lake_value, h.since_run, h.kept, \
             (SELECT COUNT(*) FROM hand_edits e WHERE e.pipeline = h.pipeline AND e.edit = h.edit AND e.run_id < h.run_id) AS earlier \
             FROM hand_edits h WHERE h.run_id = $1 ORDER BY h.id",
        )
        .bind(run_id)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list hand edits"))?;
        Ok(rows
            .iter()
            .map(|r| HandEdit {
                metric: r.get("metric"),
                metric_key: r.get("metric_key"),
                period: r.get("period"),
                coordinates: r.get("coordinates"),
                value_id: r.get("value_id"),
                written_value: r.get("written_value"),
                written_notes: r.get("written_notes"),
                found_value: r.get("found_value"),
                found_notes: r.get("found_notes"),
                lake_value: r.get("lake_value"),
                since_run: r.get("since_run"),
                kept: r.get::<i64, _>("kept") != 0,
                first_seen: r.get::<i64, _>("earlier") == 0,
            })
            .collect())
    }
}

//! Decisions: the final reviewer's audit trail, and what makes it act once per round.

use sqlx::Row;

use super::{DecisionAction, DecisionState, Result, Store, now, q};

/// One decision of a reviewer on one round of a task's approval step.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    pub id: i64,
    pub reviewer: String,
    pub program_id: String,
    pub task_id: String,
    pub task_title: String,
    pub step: i64,
    /// The task's modification time when the reviewer saw it: names the round.
    pub seen_modified: String,
    pub action: DecisionAction,
    pub comment: String,
    pub state: DecisionState,
    #[serde(serialize_with = "super::serialize_time")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(serialize_with = "super::serialize_time")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// Records a decision before it is submitted; the existing one when this round already
    /// has one.
    pub async fn decision_record(&self, d: &Decision) -> Result<Decision> {
        if let Some(found) = self
            .decision_of_round(&d.reviewer, &d.task_id, d.step, &d.seen_modified)
            .await?
        {
            return Ok(found);
        }
        let t = now();
        sqlx::query(
            "INSERT INTO decisions (reviewer, program_id, task_id, task_title, step, seen_modified, action, comment, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'recorded', $9, $9)",
        )
        .bind(d.reviewer.clone())
        .bind(d.program_id.clone())
        .bind(d.task_id.clone())
        .bind(d.task_title.clone())
        .bind(d.step)
        .bind(d.seen_modified.clone())
        .bind(d.action.as_str())
        .bind(d.comment.clone())
        .bind(t)
        .execute(&self.pool)
        .await
        .map_err(q("record a decision"))?;
        let row = sqlx::query(
            "SELECT * FROM decisions WHERE reviewer = $1 AND task_id = $2 AND step = $3 AND seen_modified = $4",
        )
        .bind(d.reviewer.clone())
        .bind(d.task_id.clone())
        .bind(d.step)
        .bind(d.seen_modified.clone())
        .fetch_one(&self.pool)
        .await
        .map_err(q("read the decision just recorded"))?;
        Self::decision_from_row(&row)
    }

    pub async fn decision_of_round(
        &self,
        reviewer: &str,
        task_id: &str,
        step: i64,
        seen_modified: &str,
    ) -> Result<Option<Decision>> {
        let row = sqlx::query(
            "SELECT * FROM decisions WHERE reviewer = $1 AND task_id = $2 AND step = $3 AND seen_modified = $4",
        )
        .bind(reviewer)
        .bind(task_id)
        .bind(step)
        .bind(seen_modified)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("read a decision"))?;
        row.as_ref().map(Self::decision_from_row).transpose()
    }

    /// Marks a decision `submitted` or `superseded`.
    pub async fn decision_set_state(&self, id: i64, state: DecisionState) -> Result<()> {
        sqlx::query("UPDATE decisions SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(state.as_str())
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(q("update a decision"))?;
        Ok(())
    }

    /// A reviewer's decisions still `recorded`: submitted or not, nobody knows yet.
    pub async fn decisions_unconfirmed(&self, reviewer: &str) -> Result<Vec<Decision>> {
        let rows = sqlx::query(
            "SELECT * FROM decisions WHERE reviewer = $1 AND state = 'recorded' ORDER BY id",
        )
        .bind(reviewer)
        .fetch_all(&self.pool)
        .await
        .map_err(q("list unconfirmed decisions"))?;
        rows.iter().map(Self::decision_from_row).collect()
    }

    /// The newest decisions, of one reviewer or all.
    pub async fn decisions(&self, reviewer: Option<&str>, limit: i64) -> Result<Vec<Decision>> {
        let rows = sqlx::query(
            "SELECT * FROM decisions WHERE ($1 = '' OR reviewer = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(reviewer.unwrap_or_default())
        .bind(limit)
        .fetch_all(&self.reads)
        .await
        .map_err(q("list decisions"))?;
        rows.iter().map(Self::decision_from_row).collect()
    }

    pub(super) fn decision_from_row(r: &sqlx::any::AnyRow) -> Result<Decision> {
        let id = r.get("id");
        Ok(Decision {
            id,
            reviewer: r.get("reviewer"),
            program_id: r.get("program_id"),
            task_id: r.get("task_id"),
            task_title: r.get("task_title"),
            step: r.get("step"),
            seen_modified: r.get("seen_modified"),
            action: action_of_row(id, r.get("action"))?,
            comment: r.get("comment"),
            state: DecisionState::of_row("decisions", id, "state", r.get("state"))?,
            created_at: super::time_of_row("decisions", id, "created_at", r.get("created_at"))?,
            updated_at: super::time_of_row("decisions", id, "updated_at", r.get("updated_at"))?,
        })
    }
}

/// A stored action, or the error that names the row: an action no version of esg-sync writes
/// is never read as a rejection.
fn action_of_row(id: i64, text: String) -> Result<DecisionAction> {
    DecisionAction::parse(&text).ok_or(super::StoreError::Corrupt {
        table: "decisions",
        id,
        column: "action",
        status: text,
    })
}

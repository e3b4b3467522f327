//! The automated final reviewer (`[[reviewer]]`), the guide's second auto-review use case: it
//! lists the program's tasks awaiting approval, reads each task's linked values, and approves
//! the ones whose values are supported or rejects them naming each failing value
//! (`check.rs`, pure). It acts only on a step that lists its principal, and once per round:
//! each decision is recorded in the state store before it is submitted and confirmed after;
//! a decision left unconfirmed (a crash, a lost answer) is resolved at the next pass by
//! looking at the task: unchanged since, it is submitted then; changed, it went through (or a
//! person acted), and it is not sent again.

pub mod check;

use std::collections::HashMap;

use crate::config::review::ReviewerConfig;
use crate::outcome::DecisionAction;
use crate::store::{Decision, DecisionState, Store, StoreError};
use crate::sync::failpoint;
use crate::sync::period;
use crate::telemetry::{Event as _, ReviewerDecided};
use crate::workiva::models::{DataType, MetricValue, ReportingPeriod, Task, TaskAction};
use crate::workiva::{ListOptions, WorkivaClient, WorkivaError, quote};
use check::{Linked, decide};

/// What a pass did with one task.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub task_id: String,
    pub title: String,
    /// The approval step (from 0).
    pub step: usize,
    /// None when skipped.
    pub action: Option<DecisionAction>,
    pub comment: Option<String>,
    pub problems: Vec<String>,
    pub state: ReviewState,
    /// Why it was skipped or failed.
    pub note: Option<String>,
}

/// What became of a task in a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewState {
    /// The decision was submitted.
    Submitted,
    /// Decided, not submitted (a dry run).
    Planned,
    /// An earlier pass's decision, submitted now.
    Resumed,
    /// The task moved on; the decision is not sent (again).
    Superseded,
    /// Not this reviewer's to decide, already decided, or nothing linked to it.
    Skipped,
    /// The submission failed; the decision stays recorded for the next pass.
    Failed,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Planned => "planned",
            Self::Resumed => "resumed",
            Self::Superseded => "superseded",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ReviewState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ReviewState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewerError {
    #[error("reviewer `{reviewer}`: {source}")]
    Workiva {
        reviewer: String,
        source: WorkivaError,
    },
    #[error("reviewer `{reviewer}`: {source}")]
    Store {
        reviewer: String,
        source: StoreError,
    },
    #[error("reviewer `{0}`: Workiva has no program `{1}`")]
    NoProgram(String, String),
}

/// The step a task awaits: the first whose responses are empty.
fn current_step(t: &Task) -> usize {
    t.approval_steps
        .iter()
        .position(|s| s.responses.is_empty())
        .unwrap_or(t.approval_steps.len().saturating_sub(1))
}

/// Whether `principal` takes part in step `step` of `t`.
fn is_approver(t: &Task, step: usize, principal: &str) -> bool {
    t.approval_steps
        .get(step)
        .is_some_and(|s| s.has_participant(principal))
}

fn modified(t: &Task) -> String {
    t.modified
        .as_ref()
        .and_then(|m| m.date_time.clone())
        .unwrap_or_default()
}

fn action_of(a: DecisionAction) -> TaskAction {
    match a {
        DecisionAction::Approve => TaskAction::Approve,
        DecisionAction::Reject => TaskAction::Reject,
    }
}

/// The program's values, grouped by the task they are linked to, with each value's prior-year
/// value: what the checks read.
struct Values {
    by_task: HashMap<String, Vec<Linked>>,
}

async fn load_values(client: &WorkivaClient, pid: &str) -> Result<Values, WorkivaError> {
    let dims: HashMap<String, String> = client
        .dimensions(pid, &ListOptions::default())
        .await?
        .into_iter()
        .map(|d| (d.id.clone(), d.name.unwrap_or(d.id)))
        .collect();
    let mut by_task: HashMap<String, Vec<Linked>> = HashMap::new();
    for m in client.metrics(pid, &ListOptions::default()).await? {
        let values = client.values(pid, &m.id, &ListOptions::default()).await?;
        let key = |v: &MetricValue, year: u16| {
            let p = v.reporting_period?;
            Some((
                ReportingPeriod { year, ..p },
                v.coordinates.clone().unwrap_or_default(),
            ))
        };
        let prior: HashMap<_, String> = values
            .iter()
            .filter_map(|v| Some((key(v, v.reporting_period?.year)?, v.value.clone()?)))
            .collect();
        for v in values.iter().filter(|v| v.task.is_some()) {
            let Some(p) = v.reporting_period else {
                continue;
            };
            let coordinates = v
                .coordinates
                .iter()
                .flatten()
                .map(|(d, x)| format!("{}={x}", dims.get(d).map_or(d.as_str(), String::as_str)))
                .collect::<Vec<_>>()
                .join("; ");
            let earlier = key(v, p.year.saturating_sub(1)).and_then(|k| prior.get(&k).cloned());
            by_task
                .entry(v.task.clone().unwrap_or_default())
                .or_default()
                .push(Linked {
                    metric: m.name.clone(),
                    period: period::label(&p),
                    coordinates,
                    value: v.value.clone(),
                    notes: v.notes.clone(),
                    attachments: v.supporting_attachments.as_ref().map_or(0, Vec::len),
                    numeric: matches!(
                        m.data_type,
                        DataType::Number | DataType::Currency | DataType::Percent
                    ),
                    prior: earlier,
                });
        }
    }
    Ok(Values { by_task })
}

/// One pass of the reviewer over its program's tasks. `dry_run` (or the reviewer's own
/// `dry_run`): decide and report, submit and record nothing.
pub async fn run_once(
    client: &WorkivaClient,
    store: &Store,
    cfg: &ReviewerConfig,
    dry_run: bool,
) -> Result<Vec<Outcome>, ReviewerError> {
    let dry_run = dry_run || cfg.dry_run;
    let w = |source| ReviewerError::Workiva {
        reviewer: cfg.name.clone(),
        source,
    };
    let s = |source| ReviewerError::Store {
        reviewer: cfg.name.clone(),
        source,
    };
    let mut out = Vec::new();
    if !dry_run {
        // First, what an earlier pass recorded and could not confirm.
        for d in store.decisions_unconfirmed(&cfg.name).await.map_err(s)? {
            out.push(resume(client, store, &d).await.map_err(s)?);
        }
    }
    let program = program_of(client, cfg).await?;
    let filter = format!(
        "location.resource eq {} and status eq {}",
        quote(&program),
        quote("Awaiting Approval")
    );
    let tasks = client
        .tasks(&ListOptions::filter(filter))
        .await
        .map_err(w)?;
    if tasks.is_empty() {
        return Ok(out);
    }
    let values = load_values(client, &program).await.map_err(w)?;
    let pass = Pass {
        client,
        store,
        cfg,
        program: &program,
        values: &values,
        dry_run,
    };
    for t in &tasks {
        out.push(pass.review(t).await.map_err(s)?);
    }
    Ok(out)
}

/// The id of the reviewer's program, found by name or taken as an id.
async fn program_of(client: &WorkivaClient, cfg: &ReviewerConfig) -> Result<String, ReviewerError> {
    let w = |source| ReviewerError::Workiva {
        reviewer: cfg.name.clone(),
        source,
    };
    if let Some(p) = client.find_program(&cfg.program).await.map_err(w)? {
        return Ok(p.id);
    }
    match client.program(&cfg.program).await {
        Ok(p) => Ok(p.id),
        Err(e) if e.status() == Some(404) => Err(ReviewerError::NoProgram(
            cfg.name.clone(),
            cfg.program.clone(),
        )),
        Err(e) => Err(w(e)),
    }
}

/// One pass over the program's tasks awaiting approval.
struct Pass<'a> {
    client: &'a WorkivaClient,
    store: &'a Store,
    cfg: &'a ReviewerConfig,
    program: &'a str,
    values: &'a Values,
    dry_run: bool,
}

impl Pass<'_> {
    /// Decides one task: skipped when the reviewer is not an approver of its step, already
    /// decided this round, or nothing is linked to it; else the decision is recorded, then
    /// submitted (planned only, in a dry run).
    async fn review(&self, t: &Task) -> Result<Outcome, StoreError> {
        let cfg = self.cfg;
        let step = current_step(t);
        let mut o = Outcome {
            task_id: t.id.clone(),
            title: t.title.clone(),
            step,
            action: None,
            comment: None,
            problems: Vec::new(),
            state: ReviewState::Skipped,
            note: None,
        };
        if !is_approver(t, step, &cfg.principal) {
            o.note = Some(format!(
                "`{}` is not an approver of step {}",
                cfg.principal,
                step + 1
            ));
            return Ok(o);
        }
        let seen = modified(t);
        if let Some(d) = self
            .store
            .decision_of_round(&cfg.name, &t.id, step as i64, &seen)
            .await?
        {
            o.note = Some(format!("already decided: {} ({})", d.action, d.state));
            return Ok(o);
        }
        let linked = self.values.by_task.get(&t.id).cloned().unwrap_or_default();
        let Some(verdict) = decide(cfg, &linked) else {
            o.note = Some("no values are linked to it".into());
            return Ok(o);
        };
        o.action = Some(verdict.action);
        o.comment = Some(verdict.comment.clone());
        o.problems = verdict.problems.clone();
        if self.dry_run {
            o.state = ReviewState::Planned;
            return Ok(o);
        }
        let d = self
            .store
            .decision_record(&Decision {
                id: 0,
                reviewer: cfg.name.clone(),
                program_id: self.program.to_string(),
                task_id: t.id.clone(),
                task_title: t.title.clone(),
                step: step as i64,
                seen_modified: seen,
                action: verdict.action,
                comment: verdict.comment.clone(),
                state: DecisionState::Recorded,
                // Set by the store as it records the decision.
                created_at: chrono::DateTime::UNIX_EPOCH,
                updated_at: chrono::DateTime::UNIX_EPOCH,
            })
            .await?;
        failpoint::hit(failpoint::Point::DecisionRecorded);
        (o.state, o.note) = submit(self.client, self.store, &d).await?;
        ReviewerDecided {
            reviewer: &cfg.name,
            action: verdict.action,
        }
        .emit();
        Ok(o)
    }
}

/// Submits a recorded decision and records how it went: `submitted`; `superseded` when the
/// task moved on meanwhile (409); `failed` (left `recorded`, for the next pass) otherwise.
async fn submit(
    client: &WorkivaClient,
    store: &Store,
    d: &Decision,
) -> Result<(ReviewState, Option<String>), StoreError> {
    match client
        .task_action(&d.task_id, action_of(d.action), Some(&d.comment))
        .await
    {
        Ok(_) => {
            store
                .decision_set_state(d.id, DecisionState::Submitted)
                .await?;
            Ok((ReviewState::Submitted, None))
        }
        Err(e) if e.status() == Some(409) => {
            store
                .decision_set_state(d.id, DecisionState::Superseded)
                .await?;
            Ok((ReviewState::Superseded, Some(e.to_string())))
        }
        Err(e) => Ok((ReviewState::Failed, Some(e.to_string()))),
    }
}

/// An earlier pass's unconfirmed decision: submitted now when the task is as it was then,
/// else marked superseded (it went through, or someone acted).
async fn resume(
    client: &WorkivaClient,
    store: &Store,
    d: &Decision,
) -> Result<Outcome, StoreError> {
    let mut o = Outcome {
        task_id: d.task_id.clone(),
        title: d.task_title.clone(),
        step: d.step as usize,
        action: Some(d.action),
        comment: Some(d.comment.clone()),
        problems: Vec::new(),
        state: ReviewState::Superseded,
        note: None,
    };
    let task = match client.task(&d.task_id).await {
        Ok(t) => t,
        Err(e) if e.status() == Some(404) => {
            store
                .decision_set_state(d.id, DecisionState::Superseded)
                .await?;
            o.note = Some("the task is gone".into());
            return Ok(o);
        }
        Err(e) => {
            o.state = ReviewState::Failed;
            o.note = Some(e.to_string());
            return Ok(o);
        }
    };
    let unchanged = modified(&task) == d.seen_modified
        && task.status == "Awaiting Approval"
        && current_step(&task) as i64 == d.step;
    if !unchanged {
        store
            .decision_set_state(d.id, DecisionState::Superseded)
            .await?;
        o.note = Some("the task changed since the decision was recorded: not sent again".into());
        return Ok(o);
    }
    let (state, note) = submit(client, store, d).await?;
    o.state = if state == ReviewState::Submitted {
        ReviewState::Resumed
    } else {
        state
    };
    o.note = note;
    Ok(o)
}

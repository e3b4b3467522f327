//! Tasks and their approval workflow: actions move a task's steps and its values' statuses.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{NewTask, Store, TaskAction, not_found};
use crate::error::{ApiError, ApiResult};
use crate::model::*;

impl Store {
    pub fn task(&self, id: &str) -> ApiResult<&Task> {
        self.tasks
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| not_found("task", id))
    }

    fn set_values_status(&mut self, refs: &[ValueRef], status: Status, link: Option<&str>) {
        for r in refs {
            if let Some(mv) = self.values.get_mut(&r.metric)
                && let Some(&slot) = mv.by_id.get(&r.value)
                && let Some(v) = mv.get_mut(slot)
            {
                v.status = status;
                if let Some(l) = link {
                    v.task = Some(l.to_string());
                }
            }
        }
    }

    /// Creates a task linked to values; the values move to `inProgress` (or `notSent`).
    pub fn create_task(&mut self, t: NewTask) -> ApiResult<&Task> {
        let p = self
            .programs
            .iter()
            .find(|p| p.id == t.program)
            .ok_or_else(|| not_found("program", &t.program.to_string()))?;
        let mut refs = Vec::new();
        for (i, (m, v)) in t.values.iter().enumerate() {
            if p.metric(*m).is_none() {
                return Err(ApiError::invalid(
                    format!("values[{i}].metric"),
                    format!("No metric `{m}` in program `{}`", p.id),
                ));
            }
            let Some(val) = self.metric_values(*m).get_by_id(*v) else {
                return Err(ApiError::invalid(
                    format!("values[{i}]"),
                    format!("No value `{v}` in metric `{m}`"),
                ));
            };
            if let Some(other) = &val.task
                && self.tasks.iter().any(|x| {
                    &x.id == other
                        && !matches!(
                            x.status,
                            TaskStatus::Cancelled | TaskStatus::Completed | TaskStatus::Approved
                        )
                })
            {
                return Err(ApiError::conflict(format!(
                    "Value `{v}` is already linked to open task `{other}`"
                )));
            }
            refs.push(ValueRef {
                program: p.id,
                metric: *m,
                value: *v,
            });
        }
        let seq = self.next_seq();
        let now = Utc::now();
        let id = format!("T{}", Uuid::new_v4().simple());
        let task = Task {
            id: id.clone(),
            seq,
            title: t.title,
            description: t.description,
            status: TaskStatus::Created,
            assignees: t.assignees,
            steps: t.steps,
            current_step: 0,
            due_date: t.due_date,
            resource: t.program.to_string(),
            segment: t
                .segment
                .or_else(|| refs.first().map(|r| r.metric.to_string())),
            created: now,
            modified: now,
            values: refs.clone(),
        };
        let status = if t.sent {
            Status::InProgress
        } else {
            Status::NotSent
        };
        self.set_values_status(&refs, status, Some(&id));
        self.tasks.push(task);
        Ok(self.tasks.last().expect("just pushed"))
    }

    /// Applies a task action, moving the task's and its values' status together.
    pub fn task_action(
        &mut self,
        id: &str,
        action: TaskAction,
        comment: Option<String>,
    ) -> ApiResult<&Task> {
        let idx = self
            .tasks
            .iter()
            .position(|t| t.id == id)
            .ok_or_else(|| not_found("task", id))?;
        let Transition {
            status,
            value_status,
            step,
        } = transition(&self.tasks[idx], action)?;
        let now = Utc::now();
        let task = &mut self.tasks[idx];
        record_response(task, action, comment, now);
        if let Some(s) = step {
            task.current_step = s;
        }
        task.status = status;
        task.modified = now;
        let refs = task.values.clone();
        self.set_values_status(&refs, value_status, None);
        Ok(&self.tasks[idx])
    }
}

/// Where a task action takes the task and its values.
struct Transition {
    status: TaskStatus,
    value_status: Status,
    /// The approval step the task moves to, if it moves.
    step: Option<usize>,
}

/// The workflow: where `action` takes a task in its current status, or the 409 naming the
/// actions allowed now.
fn transition(task: &Task, action: TaskAction) -> ApiResult<Transition> {
    use TaskAction as A;
    use TaskStatus as S;
    let last_step = task.steps.is_empty() || task.current_step + 1 >= task.steps.len();
    let (status, value_status, step) = match (task.status, action) {
        (S::Created | S::Returned, A::Submit) if task.steps.is_empty() => {
            (S::Completed, Status::Complete, None)
        }
        (S::Created | S::Returned, A::Submit) => {
            (S::AwaitingApproval, Status::SentForApproval, Some(0))
        }
        (S::AwaitingApproval, A::Approve | A::Skip) if last_step => {
            (S::Approved, Status::Complete, None)
        }
        (S::AwaitingApproval, A::Approve | A::Skip) => (
            S::AwaitingApproval,
            Status::SentForApproval,
            Some(task.current_step + 1),
        ),
        (S::AwaitingApproval, A::Reject) => (S::Returned, Status::Returned, None),
        (S::Created | S::AwaitingApproval | S::Returned, A::Cancel) => {
            (S::Cancelled, Status::NotStarted, None)
        }
        (S::Returned | S::Approved | S::Completed | S::Cancelled, A::Restart) => {
            (S::Created, Status::InProgress, Some(0))
        }
        (s, a) => return Err(not_allowed(s, a)),
    };
    Ok(Transition {
        status,
        value_status,
        step,
    })
}

/// The 409 for an action that makes no sense in the task's status.
fn not_allowed(s: TaskStatus, a: TaskAction) -> ApiError {
    use TaskStatus as S;
    let allowed: &[&str] = match s {
        S::Created => &["SUBMIT", "CANCEL"],
        S::AwaitingApproval => &["APPROVE", "REJECT", "SKIP", "CANCEL"],
        S::Returned => &["SUBMIT", "CANCEL", "RESTART"],
        S::Approved | S::Completed | S::Cancelled => &["RESTART"],
    };
    ApiError::conflict(format!(
        "{} makes no sense for a task that is `{}`; allowed now: {}",
        TaskAction::NAMES[a as usize],
        s.as_str(),
        allowed.join(", ")
    ))
    .with_target("action")
}

/// An approver's answer goes on the current step; a submission starts a fresh approval round.
fn record_response(
    task: &mut Task,
    action: TaskAction,
    comment: Option<String>,
    now: DateTime<Utc>,
) {
    use TaskAction as A;
    if matches!(action, A::Approve | A::Reject | A::Skip)
        && let Some(st) = task.steps.get_mut(task.current_step)
    {
        st.responses.push(serde_json::json!({
            "created": {"dateTime": ts(now)},
            "action": TaskAction::NAMES[action as usize],
            "comment": comment,
        }));
    }
    if action == A::Submit {
        for st in &mut task.steps {
            st.responses.clear();
        }
    }
}

//! Creating a task from its seed form (the body of `POST /_emulator/tasks` too): its program
//! and values by name, its approval steps as a count or in full.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{SeedError, SeedProblem, SeedTask, SeedTaskValue, coords, find_by_name_or_id, refused};
use crate::model::{ApprovalStep, Coords, Period, Program, ValueKey};
use crate::store::{NewTask, Store};

/// Creates a task from its seed form; returns the task's JSON.
pub fn create_task(store: &mut Store, t: &SeedTask) -> Result<Value, SeedError> {
    let ctx = format!("task `{}`", t.title);
    let pid = program_id(store, &t.program)
        .ok_or_else(|| SeedProblem::NoProgram(t.program.clone()).at(&ctx))?;
    let p = store.programs.iter().find(|p| p.id == pid).expect("found");
    let values = t
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| task_value(store, p, v, &format!("{ctx}, values[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let steps = approval_steps(t.approval_steps.as_ref(), &ctx)?;
    let task = store
        .create_task(NewTask {
            title: t.title.clone(),
            description: t.description.clone(),
            program: pid,
            segment: None,
            values,
            assignees: t.assignees.clone(),
            steps,
            due_date: t.due_date.clone(),
            sent: t.sent,
        })
        .map_err(|e| refused(&ctx, e))?;
    Ok(task.to_json())
}

/// The program named (or with the id) `key`.
fn program_id(store: &Store, key: &str) -> Option<Uuid> {
    find_by_name_or_id(&store.programs, key, |p| p.id, |p| Some(&p.name)).map(|p| p.id)
}

/// The metric and id of a value the task reviews, given by id or by reporting period and
/// coordinates.
fn task_value(
    store: &Store,
    p: &Program,
    v: &SeedTaskValue,
    vctx: &str,
) -> Result<(Uuid, Uuid), SeedError> {
    let m = find_by_name_or_id(&p.metrics, &v.metric, |m| m.id, |m| Some(&m.name))
        .ok_or_else(|| SeedProblem::NoMetric(v.metric.clone()).at(vctx))?;
    let mv = store.metric_values(m.id);
    let id = if let Some(id) = &v.id {
        Uuid::try_parse(id)
            .ok()
            .filter(|u| mv.get_by_id(*u).is_some())
            .ok_or_else(|| SeedProblem::NoValue(id.clone()).at(vctx))?
    } else {
        let key = value_key(p, v, vctx)?;
        let slot = mv
            .slot_of_key(&key)
            .ok_or_else(|| SeedProblem::NoValueAtKey.at(vctx))?;
        mv.get(slot).expect("indexed").id
    };
    Ok((m.id, id))
}

/// The key of a value given by reporting period and coordinates.
fn value_key(p: &Program, v: &SeedTaskValue, vctx: &str) -> Result<ValueKey, SeedError> {
    let rp = v
        .reporting_period
        .as_ref()
        .ok_or_else(|| SeedProblem::NoValueGiven.at(vctx))?;
    let mut c: Coords = Vec::new();
    for (d, dv) in coords(p, &v.coordinates, vctx)? {
        c.push((Uuid::try_parse(&d).expect("dimension ids are uuids"), dv));
    }
    c.sort();
    Ok(ValueKey {
        period: Period {
            year: rp.year,
            start: rp.start,
            end: rp.end,
        },
        coords: c,
    })
}

/// The approval steps: one default step when unset, a number of them, or the steps given.
fn approval_steps(given: Option<&Value>, ctx: &str) -> Result<Vec<ApprovalStep>, SeedError> {
    match given {
        None => Ok(vec![default_step()]),
        Some(Value::Number(n)) => Ok((0..n.as_u64().unwrap_or(1))
            .map(|_| default_step())
            .collect()),
        Some(Value::Array(a)) => Ok(a.iter().map(given_step).collect()),
        Some(other) => Err(SeedProblem::ApprovalSteps(other.clone()).at(ctx)),
    }
}

/// A step as given: its completion mode (default `ONE`), participants and due date.
fn given_step(s: &Value) -> ApprovalStep {
    ApprovalStep {
        completion_mode: s
            .get("completionMode")
            .and_then(Value::as_str)
            .unwrap_or("ONE")
            .to_string(),
        participants: s
            .get("participants")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        due_date: s.get("dueDate").and_then(Value::as_str).map(str::to_string),
        responses: Vec::new(),
    }
}

/// One step with one participant, `approver`.
fn default_step() -> ApprovalStep {
    ApprovalStep {
        completion_mode: "ONE".into(),
        participants: vec![json!({"id": "approver", "type": "USER"})],
        due_date: None,
        responses: Vec::new(),
    }
}

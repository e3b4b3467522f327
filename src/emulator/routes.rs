//! The API's handlers: read the request (a 400 names any malformed field), apply it to the
//! store under its lock, and write the answer. One section per resource, in the order of the
//! guide's summary table.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::filter::{self, FieldVal, Filterable};
use super::gateway::{Base, Caller, FailOperation, Shared, lock};
use super::input::{Obj, opt_enum, parse_json};
use super::model::*;
use super::paging::{Position, parse_query};
use super::patch::{self, PatchOp};
use super::store::{self, NewMetric, PERMISSIONS, Store, TaskAction, limits};
use super::value_input;

type S = State<Arc<Shared>>;
type Q = Query<HashMap<String, String>>;

fn store(sh: &Shared) -> std::sync::MutexGuard<'_, Store> {
    let mut st = lock(&sh.store);
    st.advance(Instant::now());
    st
}

// ---- filter and order fields ----

impl Filterable for &Program {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "name" => FieldVal::Str(Some(&self.name)),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Topic {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "name" => FieldVal::Str(Some(&self.name)),
            "index" => FieldVal::Int(self.index),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Dimension {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "name" => FieldVal::Str(self.name.as_deref()),
            "id" => FieldVal::Id(Some(self.id)),
            "active" => FieldVal::Bool(self.active),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Metric {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "code" => FieldVal::Int(self.code),
            "index" => FieldVal::Int(self.index),
            "dataType" => FieldVal::Str(Some(self.data_type.as_str())),
            "id" => FieldVal::Id(Some(self.id)),
            "topic" => FieldVal::Id(self.topic),
            "name" => FieldVal::Str(Some(&self.name)),
            "description" => FieldVal::Str(self.description.as_deref()),
            "unit" => FieldVal::Str(self.unit.as_deref()),
            "requireNotes" => FieldVal::Bool(self.require_notes),
            "requireSupportingAttachments" => FieldVal::Bool(self.require_supporting_attachments),
            // strCode is "M" + code; compare as text without storing it twice.
            _ => FieldVal::Str(None),
        }
    }
}

/// strCode needs an owned string; metrics are few, so the filter wraps them when asked.
struct MetricView<'a> {
    m: &'a Metric,
    str_code: String,
}
impl Filterable for MetricView<'_> {
    fn field(&self, name: &str) -> FieldVal<'_> {
        if name == "strCode" {
            FieldVal::Str(Some(&self.str_code))
        } else {
            (&self.m).field(name)
        }
    }
}

impl Filterable for &StoredValue {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "id" => FieldVal::Id(Some(self.id)),
            "notes" => FieldVal::Str(self.notes.as_deref()),
            "reportingPeriod.year" => FieldVal::Int(self.key.period.year as i64),
            "reportingPeriod.start" => FieldVal::Int(self.key.period.start as i64),
            "reportingPeriod.end" => FieldVal::Int(self.key.period.end as i64),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Task {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "location.resource" => FieldVal::Str(Some(&self.resource)),
            "status" => FieldVal::Str(Some(self.status.as_str())),
            "title" => FieldVal::Str(Some(&self.title)),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for &Assignment {
    fn field(&self, name: &str) -> FieldVal<'_> {
        match name {
            "permission" => FieldVal::Str(Some(&self.permission)),
            "principal" => FieldVal::Str(Some(&self.principal)),
            _ => FieldVal::Str(None),
        }
    }
}
impl Filterable for (&str, &str) {
    fn field(&self, _: &str) -> FieldVal<'_> {
        FieldVal::Str(None)
    }
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

// ---- programs ----

pub async fn list_programs(
    State(sh): S,
    Extension(base): Extension<Base>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(
        &q,
        "/programs",
        filter::PROGRAM_FIELDS,
        &["name"],
        "programs",
    )?;
    let st = store(&sh);
    Ok(Json(lq.page(
        &base.0,
        st.programs.iter().map(|p| (p.seq, p)),
        |p| p.to_json(),
    )))
}

pub async fn get_program(State(sh): S, Path(pid): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(store(&sh).program(&pid)?.to_json()))
}

pub async fn create_program(
    State(sh): S,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    let name = o.req_str("name", limits::PROGRAM_NAME)?;
    let mut st = store(&sh);
    Ok(created(
        st.create_program(name, Some(&caller.principal))?.to_json(),
    ))
}

fn patch_str(op: &PatchOp, max: usize, nullable: bool) -> ApiResult<Option<String>> {
    match &op.value {
        Value::Null if nullable => Ok(None),
        Value::String(s) if s.chars().count() > max => Err(ApiError::invalid(
            op.path,
            format!(
                "{} is {} characters; at most {max} are allowed",
                op.path,
                s.chars().count()
            ),
        )),
        Value::String(s) if s.trim().is_empty() && !nullable => Err(ApiError::invalid(
            op.path,
            format!("{} must not be empty", op.path),
        )),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ApiError::invalid(
            op.path,
            format!(
                "{} takes a string{}",
                op.path,
                if nullable { " or null" } else { "" }
            ),
        )),
    }
}

fn patch_int(op: &PatchOp, min: i64) -> ApiResult<i64> {
    match op.value.as_i64() {
        Some(i) if i >= min => Ok(i),
        _ => Err(ApiError::invalid(
            op.path,
            format!("{} takes a whole number of at least {min}", op.path),
        )),
    }
}

fn patch_bool(op: &PatchOp) -> ApiResult<bool> {
    op.value
        .as_bool()
        .ok_or_else(|| ApiError::invalid(op.path, format!("{} takes true or false", op.path)))
}

pub async fn patch_program(
    State(sh): S,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let op = patch::parse(&body, patch::PROGRAM_PATHS, "program")?;
    let mut st = store(&sh);
    if op.is_test() {
        let p = st.program(&pid)?;
        patch::run_test(&op, &json!(p.name))?;
        return Ok(Json(p.to_json()));
    }
    let name = patch_str(&op, limits::PROGRAM_NAME, false)?.expect("not nullable");
    Ok(Json(st.rename_program(&pid, &name)?.to_json()))
}

// ---- topics ----

pub async fn list_topics(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(pid): Path<String>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(
        &q,
        &format!("/programs/{pid}/topics"),
        filter::TOPIC_FIELDS,
        &["index", "name"],
        "topics",
    )?;
    let st = store(&sh);
    let p = st.program(&pid)?;
    Ok(Json(lq.page(
        &base.0,
        p.topics.iter().map(|t| (t.seq, t)),
        |t| t.to_json(),
    )))
}

pub async fn get_topic(
    State(sh): S,
    Path((pid, tid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut st = store(&sh);
    let p = st.program_mut(&pid)?;
    Ok(Json(Store::topic_mut(p, &tid)?.to_json()))
}

pub async fn create_topic(
    State(sh): S,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    let name = o.req_str("name", limits::NAME)?;
    let index = o.opt_int("index", 0, i32::MAX as i64)?;
    let parent = o.opt_str("parent", 100)?;
    let mut st = store(&sh);
    Ok(created(
        st.create_topic(&pid, name, index, parent)?.to_json(),
    ))
}

pub async fn patch_topic(
    State(sh): S,
    Path((pid, tid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let op = patch::parse(&body, patch::TOPIC_PATHS, "topic")?;
    let mut st = store(&sh);
    if op.is_test() {
        let p = st.program_mut(&pid)?;
        let t = Store::topic_mut(p, &tid)?;
        let cur = t.to_json();
        patch::run_test(&op, &cur[&op.path[1..]])?;
        return Ok(Json(cur));
    }
    let t = match op.path {
        "/name" => {
            let name = patch_str(&op, limits::NAME, false)?.expect("not nullable");
            let p = st.program_mut(&pid)?;
            let t = Store::topic_mut(p, &tid)?;
            t.name = name;
            t.clone()
        }
        "/index" => {
            let i = patch_int(&op, 0)?;
            let p = st.program_mut(&pid)?;
            let t = Store::topic_mut(p, &tid)?;
            t.index = i;
            t.clone()
        }
        _ => {
            let parent = patch_str(&op, 100, true)?;
            st.set_topic_parent(&pid, &tid, parent.as_deref())?
        }
    };
    Ok(Json(t.to_json()))
}

pub async fn delete_topic(
    State(sh): S,
    Path((pid, tid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    store(&sh).delete_topic(&pid, &tid)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- dimensions ----

fn parse_dim_values(arr: &[Value], target: &str) -> ApiResult<Vec<DimValue>> {
    let mut out = Vec::with_capacity(arr.len());
    for (i, v) in arr.iter().enumerate() {
        let o = Obj::new(v, format!("{target}[{i}]"))?;
        let id = o.req_str("id", limits::DIM_VALUE_ID)?;
        let name = o.opt_str("name", limits::NAME)?.unwrap_or(id);
        let active = o.opt_bool("active")?.unwrap_or(true);
        out.push(DimValue {
            id: id.into(),
            name: name.into(),
            active,
        });
    }
    store::check_dim_values(&out, target)?;
    Ok(out)
}

pub async fn list_dimensions(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(pid): Path<String>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(
        &q,
        &format!("/programs/{pid}/dimensions"),
        filter::DIMENSION_FIELDS,
        &["name"],
        "dimensions",
    )?;
    let st = store(&sh);
    let p = st.program(&pid)?;
    Ok(Json(lq.page(
        &base.0,
        p.dimensions.iter().map(|d| (d.seq, d)),
        |d| d.to_json(false),
    )))
}

pub async fn get_dimension(
    State(sh): S,
    Path((pid, did)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let mut st = store(&sh);
    let p = st.program_mut(&pid)?;
    Ok(Json(Store::dimension_mut(p, &did)?.to_json(true)))
}

pub async fn create_dimension(
    State(sh): S,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    let name = o.opt_str("name", limits::NAME)?.map(str::to_string);
    let active = o.opt_bool("active")?.unwrap_or(true);
    let values = o.opt_array("values", limits::DIM_VALUES)?.ok_or_else(|| {
        ApiError::invalid(
            "values",
            "values is required: a dimension has from 1 to 1500 values",
        )
    })?;
    let values = parse_dim_values(values, "values")?;
    let mut st = store(&sh);
    Ok(created(
        st.create_dimension(&pid, name, active, values)?
            .to_json(true),
    ))
}

pub async fn patch_dimension(
    State(sh): S,
    Path((pid, did)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let op = patch::parse(&body, patch::DIMENSION_PATHS, "dimension")?;
    let mut st = store(&sh);
    if op.is_test() {
        let p = st.program_mut(&pid)?;
        let cur = Store::dimension_mut(p, &did)?.to_json(true);
        patch::run_test(&op, &cur[&op.path[1..]])?;
        return Ok(Json(cur));
    }
    let d = match op.path {
        "/values" => {
            let Value::Array(arr) = &op.value else {
                return Err(ApiError::invalid(
                    "/values",
                    "/values takes the whole list of dimension values",
                ));
            };
            if arr.len() > limits::DIM_VALUES {
                return Err(ApiError::invalid(
                    "/values",
                    format!("A dimension has at most {} values", limits::DIM_VALUES),
                ));
            }
            let vals = parse_dim_values(arr, "/values")?;
            st.replace_dimension_values(&pid, &did, vals)?
        }
        "/active" => {
            let b = patch_bool(&op)?;
            let p = st.program_mut(&pid)?;
            let d = Store::dimension_mut(p, &did)?;
            d.active = b;
            d.clone()
        }
        _ => {
            let n = patch_str(&op, limits::NAME, true)?;
            let p = st.program_mut(&pid)?;
            let d = Store::dimension_mut(p, &did)?;
            d.name = n;
            d.clone()
        }
    };
    Ok(Json(d.to_json(true)))
}

// ---- metrics ----

fn parse_pairs(
    o: &Obj,
    key: &str,
    max: usize,
    req: &[&str],
    opt: &[&str],
) -> ApiResult<Vec<Value>> {
    let Some(arr) = o.opt_array(key, max)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, v) in arr.iter().enumerate() {
        let item = Obj::new(v, format!("{}[{i}]", o.target(key)))?;
        let mut m = serde_json::Map::new();
        for r in req {
            m.insert(r.to_string(), json!(item.req_str(r, limits::NAME)?));
        }
        for r in opt {
            if let Some(s) = item.opt_str(r, limits::NAME)? {
                m.insert(r.to_string(), json!(s));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

pub async fn list_metrics(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(pid): Path<String>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(
        &q,
        &format!("/programs/{pid}/metrics"),
        filter::METRIC_FIELDS,
        &["code", "index", "name"],
        "metrics",
    )?;
    let st = store(&sh);
    let p = st.program(&pid)?;
    let views = p.metrics.iter().map(|m| {
        (
            m.seq,
            MetricView {
                m,
                str_code: m.str_code(),
            },
        )
    });
    Ok(Json(lq.page(&base.0, views, |v| v.m.to_json())))
}

pub async fn get_metric(
    State(sh): S,
    Path((pid, mid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(store(&sh).metric(&pid, &mid)?.to_json()))
}

pub async fn create_metric(
    State(sh): S,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    let dims = o
        .opt_array("allowedDimensions", limits::ALLOWED_DIMENSIONS)?
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, d)| {
                    d.as_str().map(str::to_string).ok_or_else(|| {
                        ApiError::invalid(
                            format!("allowedDimensions[{i}]"),
                            "A dimension id must be a string",
                        )
                    })
                })
                .collect::<ApiResult<Vec<_>>>()
        })
        .transpose()?
        .unwrap_or_default();
    let m = NewMetric {
        name: o.req_str("name", limits::NAME)?.into(),
        data_type: opt_enum(&o, "dataType", &DataType::NAMES)?.and_then(DataType::parse),
        unit: o.opt_str("unit", limits::NAME)?.map(str::to_string),
        description: o
            .opt_str("description", limits::LONG_TEXT)?
            .map(str::to_string),
        topic: o.opt_str("topic", 100)?.map(str::to_string),
        index: o.opt_int("index", 0, i32::MAX as i64)?,
        code: o.opt_int("code", 1, i32::MAX as i64)?,
        allowed_dimensions: dims,
        require_notes: o.opt_bool("requireNotes")?.unwrap_or(false),
        require_supporting_attachments: o
            .opt_bool("requireSupportingAttachments")?
            .unwrap_or(false),
        tags: parse_pairs(&o, "tags", limits::TAGS, &["name", "value"], &[])?,
        framework_references: parse_pairs(
            &o,
            "frameworkReferences",
            limits::FRAMEWORK_REFS,
            &["framework", "referenceName"],
            &["publishedVersion"],
        )?,
    };
    let mut st = store(&sh);
    Ok(created(st.create_metric(&pid, m)?.to_json()))
}

pub async fn patch_metric(
    State(sh): S,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let op = patch::parse(&body, patch::METRIC_PATHS, "metric")?;
    let mut st = store(&sh);
    if op.is_test() {
        let cur = st.metric(&pid, &mid)?.to_json();
        let current = cur.get(&op.path[1..]).cloned().unwrap_or(Value::Null);
        patch::run_test(&op, &current)?;
        return Ok(Json(cur));
    }
    if op.path == "/datatype" {
        let s = op.value.as_str().and_then(DataType::parse).ok_or_else(|| {
            ApiError::invalid(
                "/datatype",
                format!("/datatype takes one of: {}", DataType::NAMES.join(", ")),
            )
        })?;
        return Ok(Json(st.set_metric_datatype(&pid, &mid, s)?.to_json()));
    }
    let topic = if op.path == "/topic" {
        let t = patch_str(&op, 100, true)?;
        Some(Store::check_metric_topic(st.program(&pid)?, t.as_deref())?)
    } else {
        None
    };
    let p = st.program_mut(&pid)?;
    let m = Store::metric_mut(p, &mid)?;
    match op.path {
        "/name" => m.name = patch_str(&op, limits::NAME, false)?.expect("not nullable"),
        "/description" => m.description = patch_str(&op, limits::LONG_TEXT, true)?,
        "/unit" => m.unit = patch_str(&op, limits::NAME, true)?,
        "/index" => m.index = patch_int(&op, 0)?,
        "/requireNotes" => m.require_notes = patch_bool(&op)?,
        "/requireSupportingAttachments" => m.require_supporting_attachments = patch_bool(&op)?,
        _ => m.topic = topic.expect("computed above"),
    }
    Ok(Json(m.to_json()))
}

pub async fn delete_metric(
    State(sh): S,
    Path((pid, mid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    store(&sh).delete_metric(&pid, &mid)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- metric values ----

pub async fn list_values(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path((pid, mid)): Path<(String, String)>,
    Query(q): Q,
) -> ApiResult<Response> {
    let lq = parse_query(
        &q,
        &format!("/programs/{pid}/metrics/{mid}/values"),
        filter::VALUE_FIELDS,
        &[
            "reportingPeriod.year",
            "reportingPeriod.start",
            "reportingPeriod.end",
        ],
        "metric values",
    )?;
    let mut st = store(&sh);
    let (_, metric) = st.metric_ids(&pid, &mid)?;
    let vals = st.metric_values(metric);
    let mut scanned = 0u64;
    let body = if lq.order.is_empty() {
        let from = match lq.start {
            Some(Position::After(s)) => s as usize + 1,
            _ => 0,
        };
        let mut page = Vec::with_capacity(lq.size.min(vals.len()));
        let mut last = None;
        let mut more = false;
        for (slot, v) in vals.slab.iter().enumerate().skip(from) {
            let Some(v) = v else { continue };
            scanned += 1;
            if !lq.matches(&v) {
                continue;
            }
            if page.len() == lq.size {
                more = true;
                break;
            }
            page.push(ValueJson(v));
            last = Some(slot as u64);
        }
        let next = if more {
            last.map(|l| lq.next_link(&base.0, Position::After(l)))
        } else {
            None
        };
        let bytes = serde_json::to_vec(&PageOut {
            data: page,
            next_link: next,
        })
        .expect("a page serialises");
        st.values_scanned += scanned;
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response());
    } else {
        let items = vals
            .slab
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref().map(|v| (i as u64, v)));
        scanned += vals.len() as u64;
        lq.page(&base.0, items, |v| v.to_json())
    };
    st.values_scanned += scanned;
    Ok(Json(body).into_response())
}

/// A list page written straight to JSON.
#[derive(serde::Serialize)]
struct PageOut<T: serde::Serialize> {
    data: Vec<T>,
    #[serde(rename = "@nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
}

pub async fn get_value(
    State(sh): S,
    Path((pid, mid, vid)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(store(&sh).value(&pid, &mid, &vid)?.to_json()))
}

pub async fn create_value(
    State(sh): S,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let item = value_input::parse_new_value(&body)?;
    let mut st = store(&sh);
    Ok(created(st.create_value(&pid, &mid, item)?.to_json()))
}

pub async fn patch_value(
    State(sh): S,
    Path((pid, mid, vid)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let op = patch::parse(&body, patch::VALUE_PATHS, "metric value")?;
    let mut st = store(&sh);
    let (dt, v) = st.value_mut(&pid, &mid, &vid)?;
    if op.is_test() {
        let cur = v.to_json();
        patch::run_test(&op, cur.get(&op.path[1..]).unwrap_or(&Value::Null))?;
        return Ok(Json(cur));
    }
    if op.path == "/notes" {
        v.notes = patch_str(&op, limits::LONG_TEXT, true)?;
    } else {
        let new = match &op.value {
            Value::String(s) if s.chars().count() <= limits::LONG_TEXT => s.clone(),
            _ => {
                return Err(ApiError::invalid(
                    "/value",
                    "/value takes a string of at most 32767 characters",
                ));
            }
        };
        dt.check(&new)
            .map_err(|why| ApiError::invalid("/value", why))?;
        v.value = new;
    }
    Ok(Json(v.to_json()))
}

pub async fn delete_value(
    State(sh): S,
    Path((pid, mid, vid)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    store(&sh).delete_value(&pid, &mid, &vid)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn upsert(
    sh: Arc<Shared>,
    base: &str,
    pid: &str,
    mid: &str,
    body: &[u8],
    planned_failure: bool,
) -> ApiResult<(String, u64)> {
    // Unknown program or metric first (404), then the body's form (400), then the queue (409).
    store(&sh).metric_ids(pid, mid)?;
    let items = value_input::parse_upsertion(body)?;
    let settings = sh.settings();
    let inject = planned_failure || sh.roll(settings.faults.operation_failure);
    let refuse = (
        settings.faults.refuse_values.clone(),
        settings.faults.refuse_values_unnamed,
    );
    let id = {
        let mut st = store(&sh);
        let id = st.submit_upsertion(
            pid,
            mid,
            items,
            &settings.operations,
            inject,
            Instant::now(),
        )?;
        if let Some(op) = st.operations.get_mut(&id) {
            op.refuse = refuse;
        }
        id
    };
    Ok((
        format!("{base}/operations/{id}"),
        settings.operations.retry_after_secs,
    ))
}

fn accepted(location: &str, retry_after: u64, body: Option<Value>) -> Response {
    let mut r = match body {
        Some(b) => (StatusCode::ACCEPTED, Json(b)).into_response(),
        None => StatusCode::ACCEPTED.into_response(),
    };
    let h = r.headers_mut();
    if let Ok(l) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, l);
    }
    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    r
}

pub async fn batch_upsertion(
    State(sh): S,
    Extension(base): Extension<Base>,
    Extension(fail): Extension<FailOperation>,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let (loc, ra) = upsert(sh, &base.0, &pid, &mid, &body, fail.0).await?;
    Ok(accepted(
        &loc,
        ra,
        Some(json!({ "operationLocation": loc })),
    ))
}

/// The deprecated 2022-01-01 path: a 202 with `Location` and `Retry-After` and no body. The
/// gateway adds `Deprecation` and `Sunset` to every answer of this path.
pub async fn legacy_batch_upsertion(
    State(sh): S,
    Extension(base): Extension<Base>,
    Extension(fail): Extension<FailOperation>,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let (loc, ra) = upsert(sh, &base.0, &pid, &mid, &body, fail.0).await?;
    Ok(accepted(&loc, ra, None))
}

pub async fn batch_deletion(
    State(sh): S,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    store(&sh).metric_ids(&pid, &mid)?;
    let items = value_input::parse_deletion(&body)?;
    store(&sh).batch_delete(&pid, &mid, &items)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- operations ----

pub async fn get_operation(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(oid): Path<String>,
) -> ApiResult<Response> {
    let retry = sh.settings().operations.retry_after_secs;
    let st = store(&sh);
    let op = st
        .operations
        .get(&oid)
        .ok_or_else(|| ApiError::not_found(format!("No operation with id `{oid}` exists")))?;
    let mut r = Json(op.to_json(&base.0)).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    Ok(r)
}

pub async fn operation_results(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(oid): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    let retry = sh.settings().operations.retry_after_secs;
    let lq = parse_query(
        &q,
        &format!("/operations/{oid}/metricValuesBatchUpsertionResults"),
        &[],
        &[],
        "operation results",
    )?;
    let st = store(&sh);
    let op = st
        .operations
        .get(&oid)
        .ok_or_else(|| ApiError::not_found(format!("No operation with id `{oid}` exists")))?;
    if op.status != OpStatus::Completed {
        return Err(ApiError::conflict(format!(
            "Operation `{oid}` is {}; results exist only for a completed batch upsertion",
            op.status.as_str()
        )));
    }
    let vals = st.values.get(&op.metric);
    let items = op.results.iter().enumerate().filter_map(|(i, id)| {
        vals.and_then(|mv| mv.get_by_id(*id))
            .map(|v| (i as u64 + 1, v))
    });
    let mut r = Json(lq.page(&base.0, items, |v| v.to_json())).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    Ok(r)
}

// ---- permissions ----

pub async fn list_permission_definitions(
    Extension(base): Extension<Base>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(&q, "/permissions", &[], &[], "permissions")?;
    let items = PERMISSIONS
        .iter()
        .enumerate()
        .map(|(i, (id, name))| (i as u64 + 1, (*id, *name)));
    Ok(Json(lq.page(
        &base.0,
        items,
        |(id, name)| json!({"id": id, "name": name}),
    )))
}

pub async fn get_permission_definition(Path(id): Path<String>) -> ApiResult<Json<Value>> {
    PERMISSIONS
        .iter()
        .find(|(p, _)| *p == id)
        .map(|(p, n)| Json(json!({"id": p, "name": n})))
        .ok_or_else(|| ApiError::not_found(format!("No permission with id `{id}` exists")))
}

pub async fn list_program_permissions(
    State(sh): S,
    Extension(base): Extension<Base>,
    Path(pid): Path<String>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(
        &q,
        &format!("/programs/{pid}/permissions"),
        filter::PERMISSION_FIELDS,
        &[],
        "program permissions",
    )?;
    let st = store(&sh);
    let p = st.program(&pid)?;
    let items = p
        .permissions
        .iter()
        .enumerate()
        .map(|(i, a)| (i as u64 + 1, a));
    Ok(Json(lq.page(&base.0, items, |a| {
        json!({"permission": a.permission, "principal": a.principal, "principalType": a.principal_type, "resource": p.id})
    })))
}

fn parse_assignments(o: &Obj, key: &str) -> ApiResult<Vec<(String, String)>> {
    let Some(arr) = o.opt_array(key, 1000)? else {
        return Ok(Vec::new());
    };
    arr.iter()
        .enumerate()
        .map(|(i, v)| {
            let a = Obj::new(v, format!("{key}[{i}]"))?;
            Ok((
                a.req_str("permission", 100)?.to_string(),
                a.req_str("principal", 200)?.to_string(),
            ))
        })
        .collect()
}

pub async fn modify_program_permissions(
    State(sh): S,
    Extension(caller): Extension<Caller>,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    let assign = parse_assignments(&o, "toAssign")?;
    let revoke = parse_assignments(&o, "toRevoke")?;
    let mut st = store(&sh);
    let p = st.program(&pid)?;
    if !caller.workspace_admin && !st.is_owner(p, &caller.principal) {
        return Err(ApiError::forbidden(
            "You must have owner-level access to a program to modify its permissions",
        ));
    }
    st.modify_permissions(&pid, &assign, &revoke)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- tasks ----

pub async fn list_tasks(
    State(sh): S,
    Extension(base): Extension<Base>,
    Query(q): Q,
) -> ApiResult<Json<Value>> {
    let lq = parse_query(&q, "/tasks", filter::TASK_FIELDS, &["title"], "tasks")?;
    let st = store(&sh);
    Ok(Json(lq.page(
        &base.0,
        st.tasks.iter().map(|t| (t.seq, t)),
        |t| t.to_json(),
    )))
}

pub async fn get_task(State(sh): S, Path(tid): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(store(&sh).task(&tid)?.to_json()))
}

pub async fn task_action(
    State(sh): S,
    Path(tid): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    let action = opt_enum(&o, "action", &TaskAction::NAMES)?
        .and_then(TaskAction::parse)
        .ok_or_else(|| {
            ApiError::invalid(
                "action",
                format!(
                    "action is required: one of {}",
                    TaskAction::NAMES.join(", ")
                ),
            )
        })?;
    let comment = o.opt_str("comment", limits::LONG_TEXT)?.map(str::to_string);
    let mut st = store(&sh);
    Ok(Json(st.task_action(&tid, action, comment)?.to_json()))
}

// ---- fallbacks ----

pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found("The requested resource could not be found")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "This endpoint does not support that method",
    )
}

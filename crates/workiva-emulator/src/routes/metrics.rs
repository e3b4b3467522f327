//! `/programs/{id}/metrics`: list, get, create, patch, delete.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::fields::MetricView;
use super::{Q, S, advanced_store, created, patch_bool, patch_int, patch_str};
use crate::error::{ApiError, ApiResult};
use crate::filter;
use crate::gateway::Base;
use crate::input::{Obj, opt_enum, parse_json};
use crate::model::*;
use crate::paging::parse_query;
use crate::patch;
use crate::store::{NewMetric, Store, limits};

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
        item.no_nulls(req)?;
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
    let st = advanced_store(&sh);
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
    Ok(Json(advanced_store(&sh).metric(&pid, &mid)?.to_json()))
}

pub async fn create_metric(
    State(sh): S,
    Path(pid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let o = Obj::new(&v, "")?;
    // The schema allows none of a metric's fields to be null.
    o.no_nulls(&[
        "name",
        "dataType",
        "unit",
        "description",
        "topic",
        "index",
        "code",
        "allowedDimensions",
        "requireNotes",
        "requireSupportingAttachments",
        "tags",
        "frameworkReferences",
    ])?;
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
    let mut st = advanced_store(&sh);
    Ok(created(st.create_metric(&pid, m)?.to_json()))
}

pub async fn patch_metric(
    State(sh): S,
    Path((pid, mid)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let op = patch::parse(&body, patch::METRIC_PATHS, "metric")?;
    let mut st = advanced_store(&sh);
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
    advanced_store(&sh).delete_metric(&pid, &mid)?;
    Ok(StatusCode::NO_CONTENT)
}

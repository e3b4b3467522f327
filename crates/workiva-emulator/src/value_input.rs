//! Reading metric values from request bodies (batch upsertion, batch deletion, single create).
//!
//! Batches reach 10 MB, so they are deserialised straight into typed structs rather than a
//! `serde_json::Value` tree: far fewer allocations. A type error still names its exact path
//! (`data[3].reportingPeriod.year`) through `serde_path_to_error`; ranges, lengths and counts
//! are then checked on the typed data with the same targets.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};
use super::input::{Obj, char_len, opt_enum};
use super::model::{ClearField, Period, Status, UpsertItem};
use super::store::{DeleteItem, limits};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a reporting period object")]
struct RawPeriod {
    year: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
}

/// A field the schema does not allow to be `null`: absent is fine, `null` is a 400 naming it.
fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(
            "null is not allowed here; leave the field out, or clear it with fieldsToClear",
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a metric value object")]
struct RawItem {
    #[serde(default, deserialize_with = "not_null")]
    id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    reporting_period: Option<RawPeriod>,
    #[serde(default, deserialize_with = "not_null")]
    coordinates: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "not_null")]
    value: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    status: Option<String>,
    /// The one nullable field of a metric value.
    notes: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    task: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    data_source: Option<Value>,
    #[serde(default, deserialize_with = "not_null")]
    fields_to_clear: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object with a `data` array")]
struct RawBatch<T> {
    data: Option<Vec<T>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "a value identifier object")]
struct RawIdentifier {
    #[serde(default, deserialize_with = "not_null")]
    id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    reporting_period: Option<RawPeriod>,
    #[serde(default, deserialize_with = "not_null")]
    coordinates: Option<Map<String, Value>>,
}

/// Deserialises `body` as `T`, turning a failure into a 400 that names the field.
fn typed<'de, T: Deserialize<'de>>(body: &'de [u8], prefix: &str) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "The request body is empty; a JSON body is required",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::bad_request(format!(
                    "The request body is not valid JSON: {inner}"
                )));
            }
            let target = match (prefix.is_empty(), path.as_str()) {
                (_, ".") | (true, "") => "body".to_string(),
                (true, p) => p.to_string(),
                (false, "") => prefix.to_string(),
                (false, p) => format!("{prefix}.{p}"),
            };
            Err(ApiError::invalid(
                target.clone(),
                format!("{target}: {inner}"),
            ))
        }
    }
}

fn len_check(s: &str, max: usize, target: impl Fn() -> String) -> ApiResult<()> {
    let n = char_len(s);
    if n > max {
        let t = target();
        return Err(ApiError::invalid(
            &t,
            format!("{t} is {n} characters; at most {max} are allowed"),
        ));
    }
    Ok(())
}

fn period(raw: Option<RawPeriod>, at: &str) -> ApiResult<Option<Period>> {
    let Some(rp) = raw else { return Ok(None) };
    let field = |name: &str, v: Option<i64>, min: i64, max: i64| -> ApiResult<i64> {
        let t = || format!("{}reportingPeriod.{name}", dot(at));
        match v {
            None => Err(ApiError::invalid(t(), format!("{} is required", t()))),
            Some(v) if (min..=max).contains(&v) => Ok(v),
            Some(v) => Err(ApiError::invalid(
                t(),
                format!("{} is {v}; it must be from {min} to {max}", t()),
            )),
        }
    };
    let year = field("year", rp.year, 1000, 9999)? as u16;
    let start = field("start", rp.start, 1, 12)? as u8;
    let end = field("end", rp.end, 1, 12)? as u8;
    if start > end {
        let t = format!("{}reportingPeriod.end", dot(at));
        return Err(ApiError::invalid(
            &t,
            format!("{t} is {end}, before start {start}; end must be at least start"),
        ));
    }
    Ok(Some(Period { year, start, end }))
}

fn dot(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!("{at}.")
    }
}

fn coords(raw: Option<Map<String, Value>>, at: &str) -> ApiResult<Vec<(String, String)>> {
    let Some(map) = raw else {
        return Ok(Vec::new());
    };
    let t = || format!("{}coordinates", dot(at));
    if map.len() > limits::COORDINATES {
        return Err(ApiError::invalid(
            t(),
            format!(
                "{} has {} pairs; a value has at most {}",
                t(),
                map.len(),
                limits::COORDINATES
            ),
        ));
    }
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in map {
        let kt = || format!("{}.{k}", t());
        let Value::String(s) = v else {
            return Err(ApiError::invalid(
                kt(),
                format!("{} must be a dimension value id (a string)", kt()),
            ));
        };
        if s.trim().is_empty() {
            return Err(ApiError::invalid(
                kt(),
                format!("{} must not be empty", kt()),
            ));
        }
        len_check(&s, limits::DIM_VALUE_ID, kt)?;
        out.push((k, s));
    }
    Ok(out)
}

fn data_source(v: &Value, at: &str) -> ApiResult<Value> {
    let ds = Obj::new(v, format!("{}dataSource", dot(at)))?;
    let ct = opt_enum(
        &ds,
        "connectionType",
        &["spreadsheetCell", "tableCell", "textRegion"],
    )?
    .unwrap_or("spreadsheetCell");
    let kinds: [(&str, &str, &[&str]); 3] = [
        (
            "spreadsheetCell",
            "spreadsheetCellConnection",
            &["spreadsheet", "sheet", "cell"],
        ),
        (
            "tableCell",
            "tableCellConnection",
            &["document", "section", "table", "cell"],
        ),
        (
            "textRegion",
            "textRegionConnection",
            &["document", "section"],
        ),
    ];
    let mut out = Map::new();
    out.insert("connectionType".into(), json!(ct));
    for (name, key, required) in kinds {
        if name != ct {
            if ds.raw(key).is_some() {
                return Err(ApiError::invalid(
                    ds.target(key),
                    format!(
                        "Only one connection type can be given; connectionType is {ct}, so {key} must be absent"
                    ),
                ));
            }
            continue;
        }
        let conn = ds.opt_obj(key)?.ok_or_else(|| {
            ApiError::invalid(
                ds.target(key),
                format!("{} is required when connectionType is {ct}", ds.target(key)),
            )
        })?;
        let mut c = Map::new();
        for r in required {
            c.insert(r.to_string(), json!(conn.req_str(r, 300)?));
        }
        out.insert(key.into(), Value::Object(c));
    }
    Ok(Value::Object(out))
}

fn item(raw: RawItem, at: &str, need_identity: bool) -> ApiResult<UpsertItem> {
    let t = |f: &str| format!("{}{f}", dot(at));
    if let Some(id) = &raw.id {
        len_check(id, 100, || t("id"))?;
    }
    let period = period(raw.reporting_period, at)?;
    if need_identity && raw.id.is_none() && period.is_none() {
        return Err(ApiError::invalid(
            t("reportingPeriod"),
            format!(
                "{at} needs an id, or a reportingPeriod (with coordinates when the metric has dimensions)"
            ),
        ));
    }
    let status = match raw.status {
        None => None,
        Some(s) => Some(Status::parse(&s).ok_or_else(|| {
            ApiError::invalid(
                t("status"),
                format!(
                    "{} is `{s}`; it must be one of: {}",
                    t("status"),
                    Status::NAMES.join(", ")
                ),
            )
        })?),
    };
    let mut fields_to_clear = Vec::new();
    for (i, f) in raw.fields_to_clear.unwrap_or_default().iter().enumerate() {
        let field = ClearField::parse(f).ok_or_else(|| {
            ApiError::invalid(
                t(&format!("fieldsToClear[{i}]")),
                format!(
                    "`{f}` cannot be cleared; fieldsToClear takes: {}",
                    ClearField::NAMES.join(", ")
                ),
            )
        })?;
        fields_to_clear.push(field);
    }
    for (name, v, max) in [
        ("value", &raw.value, limits::LONG_TEXT),
        ("notes", &raw.notes, limits::LONG_TEXT),
        ("task", &raw.task, 200),
    ] {
        if let Some(s) = v {
            len_check(s, max, || t(name))?;
        }
    }
    let data_source = match &raw.data_source {
        None | Some(Value::Null) => None,
        Some(v) => Some(data_source(v, at)?),
    };
    Ok(UpsertItem {
        id: raw.id,
        period,
        coords: coords(raw.coordinates, at)?,
        value: raw.value,
        status,
        notes: raw.notes,
        task: raw.task,
        data_source,
        fields_to_clear,
    })
}

fn batch<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> ApiResult<Vec<T>> {
    // A valid JSON document that is not an object (an array, say) would otherwise be read as
    // a struct in sequence form.
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !object && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        return Err(ApiError::invalid(
            "body",
            "The body must be a JSON object with a `data` array",
        ));
    }
    let raw: RawBatch<T> = typed(body, "")?;
    let data = raw.data.ok_or_else(|| {
        ApiError::invalid("data", format!("The body needs a `data` array of {what}"))
    })?;
    if data.is_empty() {
        return Err(ApiError::invalid(
            "data",
            "`data` is empty; send at least one value",
        ));
    }
    Ok(data)
}

/// The values of a batch upsertion, checked for form.
pub fn parse_upsertion(body: &[u8]) -> ApiResult<Vec<UpsertItem>> {
    batch::<RawItem>(body, "metric values")?
        .into_iter()
        .enumerate()
        .map(|(i, raw)| item(raw, &format!("data[{i}]"), true))
        .collect()
}

/// One value to create (`POST .../values`).
pub fn parse_new_value(body: &[u8]) -> ApiResult<UpsertItem> {
    let raw: RawItem = typed(body, "")?;
    let mut it = item(raw, "", false)?;
    it.id = None;
    if it.period.is_none() {
        return Err(ApiError::invalid(
            "reportingPeriod",
            "reportingPeriod is required to create a value",
        ));
    }
    Ok(it)
}

/// The identifiers of a batch deletion: an id, or a reporting period and coordinates.
pub fn parse_deletion(body: &[u8]) -> ApiResult<Vec<DeleteItem>> {
    batch::<RawIdentifier>(body, "value identifiers")?
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let at = format!("data[{i}]");
            if let Some(id) = &raw.id {
                len_check(id, 100, || format!("{at}.id"))?;
            }
            let period = period(raw.reporting_period, &at)?;
            if raw.id.is_none() && period.is_none() {
                return Err(ApiError::invalid(
                    format!("{at}.reportingPeriod"),
                    format!("{at} needs an id, or a reportingPeriod and its coordinates"),
                ));
            }
            Ok((raw.id, period, coords(raw.coordinates, &at)?))
        })
        .collect()
}

//! Validates emulator responses against Workiva's OpenAPI spec
//! (`../shared/workiva-api/openapi-sustainability-2026-01-01.yaml`, with a copy in
//! `tests/fixtures/` so the tests run from any checkout). Supports what the spec uses of
//! OpenAPI 3.0 schemas: $ref, allOf, nullable, type, enum, properties, required,
//! additionalProperties, items, lengths, ranges, item counts, and the uuid and date-time formats.
use std::sync::OnceLock;

use serde_json::Value;

static SPEC: OnceLock<Value> = OnceLock::new();

fn spec() -> &'static Value {
    SPEC.get_or_init(|| {
        let dir = env!("CARGO_MANIFEST_DIR");
        let text = std::fs::read_to_string(format!(
            "{dir}/tests/fixtures/openapi-sustainability-2026-01-01.yaml"
        ))
        .expect("the spec copy in tests/fixtures is readable");
        serde_yaml::from_str(&text).expect("the spec is valid YAML")
    })
}

fn resolve(v: &Value) -> &Value {
    let mut v = v;
    while let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let mut cur = spec();
        for part in r.trim_start_matches("#/").split('/') {
            cur = &cur[part];
        }
        v = cur;
    }
    v
}

/// Finds the spec's path template for a concrete path; literal segments beat parameters.
pub(crate) fn template(path: &str) -> Option<&'static str> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Option<(&'static str, usize)> = None;
    for key in spec()["paths"].as_object()?.keys() {
        let t: Vec<&str> = key.split('/').collect();
        if t.len() != segs.len() {
            continue;
        }
        let mut literal = 0;
        let ok = t.iter().zip(&segs).all(|(a, b)| {
            if a.starts_with('{') {
                !b.is_empty()
            } else {
                literal += 1;
                a == b
            }
        });
        if ok && best.is_none_or(|(_, l)| literal > l) {
            best = Some((key.as_str(), literal));
        }
    }
    best.map(|(k, _)| k)
}

/// Statuses our decisions add beyond what the spec declares per operation; they carry the
/// ordinary ErrorResponse body.
const EXTRA_ERROR_STATUSES: [u16; 3] = [405, 413, 504];

/// Validates one response. `Ok(false)` when the path is not in the spec (our own endpoints).
pub fn validate(method: &str, path: &str, status: u16, body: &Value) -> Result<bool, String> {
    let Some(tpl) = template(path) else {
        return Ok(false);
    };
    let Some(op) = spec()["paths"][tpl].get(method.to_ascii_lowercase()) else {
        return Err(format!("{method} {tpl} is not an operation of the spec"));
    };
    let responses = &op["responses"];
    let resp = match responses.get(status.to_string()) {
        Some(r) => resolve(r),
        None if EXTRA_ERROR_STATUSES.contains(&status)
            || (tpl == "/oauth2/token" && status == 500) =>
        {
            let mut errs = Vec::new();
            check(
                &spec()["components"]["schemas"]["ErrorResponse"],
                body,
                "$",
                &mut errs,
            );
            return if errs.is_empty() {
                Ok(true)
            } else {
                Err(errs.join("; "))
            };
        }
        None => {
            return Err(format!(
                "{method} {tpl} answered {status}, which the spec does not declare"
            ));
        }
    };
    let Some(schema) = resp
        .get("content")
        .and_then(|c| c.get("application/json"))
        .map(|c| &c["schema"])
    else {
        return Ok(true);
    };
    let mut errs = Vec::new();
    check(schema, body, "$", &mut errs);
    if errs.is_empty() {
        Ok(true)
    } else {
        Err(format!("{method} {tpl} {status}: {}", errs.join("; ")))
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    }
}

fn check(schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let schema = resolve(schema);
    let nullable = schema
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if v.is_null() {
        if nullable || schema.get("type").is_none() && schema.get("allOf").is_none() {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array)
            && all
                .iter()
                .any(|s| resolve(s).get("nullable").and_then(Value::as_bool) == Some(true))
        {
            return;
        }
        errs.push(format!("{at} is null but not nullable"));
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(s, v, at, errs);
        }
    }
    if let Some(t) = schema.get("type").and_then(Value::as_str)
        && !type_ok(t, v)
    {
        errs.push(format!("{at} should be {t}, is {v}"));
        return;
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errs.push(format!("{at} = {v} is not in enum {e:?}"));
    }
    if let Some(s) = v.as_str() {
        let n = s.chars().count() as u64;
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            errs.push(format!("{at} is longer than maxLength"));
        }
        match schema.get("format").and_then(Value::as_str) {
            Some("uuid") if uuid::Uuid::try_parse(s).is_err() => {
                errs.push(format!("{at} = {s} is not a uuid"))
            }
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(s).is_err() => {
                errs.push(format!("{at} = {s} is not a date-time"))
            }
            _ => {}
        }
    }
    if let Some(n) = v.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            errs.push(format!("{at} = {n} is below minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            errs.push(format!("{at} = {n} is above maximum"));
        }
    }
    if let Some(a) = v.as_array() {
        if schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| a.len() as u64 > m)
        {
            errs.push(format!("{at} has more than maxItems"));
        }
        if schema
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| (a.len() as u64) < m)
        {
            errs.push(format!("{at} has fewer than minItems"));
        }
        if let Some(items) = schema.get("items") {
            for (i, x) in a.iter().enumerate() {
                check(items, x, &format!("{at}[{i}]"), errs);
            }
        }
    }
    if let Some(o) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !o.contains_key(r) {
                    errs.push(format!("{at}.{r} is required"));
                }
            }
        }
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => {
                    if resolve(ps).get("writeOnly").and_then(Value::as_bool) == Some(true) {
                        errs.push(format!("{at}.{k} is write-only and must not be returned"));
                    }
                    check(ps, x, &format!("{at}.{k}"), errs);
                }
                None => {
                    if let Some(ap) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                        check(ap, x, &format!("{at}.{k}"), errs);
                    }
                }
            }
        }
    }
}

//! JSON Patch (RFC 6902) as the sustainability endpoints take it: exactly one operation per
//! request, only the paths and ops each resource documents. `test` compares with RFC 6902
//! equality (numbers by value, objects regardless of key order, arrays in order) and changes
//! nothing; a failed `test` is a 409.

use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::input::parse_json;

/// The RFC 6902 operations.
pub const RFC_OPS: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

/// The operations a resource allows on each path.
pub type Allowed = &'static [(&'static str, &'static [&'static str])];

pub const PROGRAM_PATHS: Allowed = &[("/name", &["replace", "test"])];
pub const TOPIC_PATHS: Allowed = &[
    ("/index", &["replace", "test"]),
    ("/name", &["replace", "test"]),
    ("/parent", &["replace", "test"]),
];
pub const DIMENSION_PATHS: Allowed = &[
    ("/active", &["replace", "test"]),
    ("/name", &["replace", "test"]),
    ("/values", &["replace", "test"]),
];
pub const METRIC_PATHS: Allowed = &[
    ("/name", &["replace", "test"]),
    ("/datatype", &["replace"]),
    ("/description", &["replace", "test"]),
    ("/unit", &["replace", "test"]),
    ("/topic", &["replace", "test"]),
    ("/index", &["replace", "test"]),
    ("/requireNotes", &["replace", "test"]),
    ("/requireSupportingAttachments", &["replace", "test"]),
];
pub const VALUE_PATHS: Allowed = &[
    ("/notes", &["replace", "test"]),
    ("/value", &["replace", "test"]),
];

/// The one operation of a patch document.
#[derive(Debug, Clone)]
pub struct PatchOp {
    pub op: &'static str,
    pub path: &'static str,
    pub value: Value,
}

impl PatchOp {
    pub fn is_test(&self) -> bool {
        self.op == "test"
    }
}

/// Parses and checks a patch document against what the resource allows.
pub fn parse(body: &[u8], allowed: Allowed, resource: &str) -> ApiResult<PatchOp> {
    let doc = parse_json(body)?;
    let Value::Array(ops) = doc else {
        return Err(ApiError::invalid(
            "body",
            "A PATCH body is a JSON Patch document: an array holding one operation, such as [{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"New name\"}]",
        ));
    };
    if ops.len() != 1 {
        return Err(ApiError::invalid(
            "body",
            format!(
                "The patch holds {} operations; exactly one operation is allowed per request, so send one PATCH per property",
                ops.len()
            ),
        ));
    }
    let Value::Object(op) = &ops[0] else {
        return Err(ApiError::invalid(
            "[0]",
            "A patch operation must be a JSON object",
        ));
    };
    let op_name = match op.get("op") {
        Some(Value::String(s)) => s.as_str(),
        _ => {
            return Err(ApiError::invalid(
                "[0].op",
                "The patch operation needs an `op` string",
            ));
        }
    };
    let Some(op_static) = RFC_OPS.iter().find(|o| **o == op_name) else {
        return Err(ApiError::invalid(
            "[0].op",
            format!(
                "`{op_name}` is not a JSON Patch operation; RFC 6902 defines add, remove, replace, move, copy and test"
            ),
        ));
    };
    let path = match op.get("path") {
        Some(Value::String(s)) => s.as_str(),
        _ => {
            return Err(ApiError::invalid(
                "[0].path",
                "The patch operation needs a `path` string",
            ));
        }
    };
    let Some((path_static, ops_allowed)) = allowed.iter().find(|(p, _)| *p == path) else {
        let paths: Vec<&str> = allowed.iter().map(|(p, _)| *p).collect();
        return Err(ApiError::invalid(
            "[0].path",
            format!(
                "`{path}` cannot be patched on a {resource}; patchable paths: {}",
                paths.join(", ")
            ),
        ));
    };
    if !ops_allowed.contains(op_static) {
        return Err(ApiError::invalid(
            "[0].op",
            format!(
                "`{op_name}` is not supported on {path} of a {resource}; supported: {}",
                ops_allowed.join(", ")
            ),
        ));
    }
    let Some(value) = op.get("value") else {
        return Err(ApiError::invalid(
            "[0].value",
            format!("`{op_name}` needs a `value`"),
        ));
    };
    // `from` belongs to move and copy only (RFC 6902 4.4, 4.5), and is a string there.
    if let Some(from) = op.get("from") {
        let why = if from.is_string() {
            format!(
                "`from` is only for move and copy; a `{op_name}` operation takes `path` and `value`"
            )
        } else {
            "`from` must be a JSON Pointer string, and only move and copy take it".to_string()
        };
        return Err(ApiError::invalid("[0].from", why));
    }
    Ok(PatchOp {
        op: op_static,
        path: path_static,
        value: value.clone(),
    })
}

/// RFC 6902 section 4.6 equality.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Applies a `test`: Ok when `current` equals the operation's value, a 409 otherwise.
pub fn run_test(op: &PatchOp, current: &Value) -> ApiResult<()> {
    if json_eq(current, &op.value) {
        Ok(())
    } else {
        Err(ApiError::conflict(format!(
            "test failed: {} is {} , not {}; nothing was changed",
            op.path, current, op.value
        ))
        .with_target(op.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_operation_only_and_allowed_paths() {
        let two = br#"[{"op":"replace","path":"/name","value":"a"},{"op":"replace","path":"/name","value":"b"}]"#;
        assert!(
            parse(two, PROGRAM_PATHS, "program")
                .unwrap_err()
                .message
                .contains("exactly one")
        );
        let bad_path = br#"[{"op":"replace","path":"/id","value":"a"}]"#;
        assert!(
            parse(bad_path, PROGRAM_PATHS, "program")
                .unwrap_err()
                .message
                .contains("/id")
        );
        let bad_op = br#"[{"op":"remove","path":"/name"}]"#;
        assert!(
            parse(bad_op, PROGRAM_PATHS, "program")
                .unwrap_err()
                .message
                .contains("remove")
        );
        let not_rfc = br#"[{"op":"merge","path":"/name","value":1}]"#;
        assert!(
            parse(not_rfc, PROGRAM_PATHS, "program")
                .unwrap_err()
                .message
                .contains("RFC 6902")
        );
        let test_datatype = br#"[{"op":"test","path":"/datatype","value":"text"}]"#;
        assert!(parse(test_datatype, METRIC_PATHS, "metric").is_err());
        let ok = br#"[{"op":"replace","path":"/datatype","value":"number"}]"#;
        assert_eq!(parse(ok, METRIC_PATHS, "metric").unwrap().path, "/datatype");
        let obj = br#"{"op":"replace","path":"/name","value":"a"}"#;
        assert!(parse(obj, PROGRAM_PATHS, "program").is_err());
    }

    #[test]
    fn rfc_equality() {
        assert!(json_eq(&json!(1), &json!(1.0)));
        assert!(json_eq(
            &json!({"a":1,"b":[1,2]}),
            &json!({"b":[1,2],"a":1})
        ));
        assert!(!json_eq(&json!([1, 2]), &json!([2, 1])));
        assert!(!json_eq(&json!("1"), &json!(1)));
        assert!(json_eq(&json!(null), &json!(null)));
    }
}

//! JSON Patch (RFC 6902) as the sustainability endpoints take it: exactly one operation per
//! request (a dimension may guard it with a `test` of the same path first, see
//! [`parse_tested`]), only the paths and ops each resource documents. `test` compares with RFC 6902
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

/// One operation of a patch document.
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

/// A patch document that may guard its operation with a `test` of the same path first.
#[derive(Debug, Clone)]
pub struct TestedPatch {
    /// The `test` that must hold before `op` applies.
    pub test: Option<PatchOp>,
    pub op: PatchOp,
}

/// Parses and checks a patch document of exactly one operation against what the resource
/// allows.
pub fn parse(body: &[u8], allowed: Allowed, resource: &str) -> ApiResult<PatchOp> {
    let ops = parse_doc(body)?;
    if ops.len() != 1 {
        return Err(ApiError::invalid(
            "body",
            format!(
                "The patch holds {} operations; exactly one operation is allowed per request, so send one PATCH per property",
                ops.len()
            ),
        ));
    }
    parse_op(&ops[0], 0, allowed, resource)
}

/// As [`parse`], and also takes a `test` followed by one `replace` of the same path: still
/// one property, changed only if the test holds (the caller applies both under one lock).
pub fn parse_tested(body: &[u8], allowed: Allowed, resource: &str) -> ApiResult<TestedPatch> {
    let ops = parse_doc(body)?;
    let parsed = |i: usize| parse_op(&ops[i], i, allowed, resource);
    match ops.len() {
        1 => Ok(TestedPatch {
            test: None,
            op: parsed(0)?,
        }),
        2 => {
            let (first, second) = (parsed(0)?, parsed(1)?);
            if first.is_test() && second.op == "replace" && first.path == second.path {
                return Ok(TestedPatch {
                    test: Some(first),
                    op: second,
                });
            }
            Err(ApiError::invalid(
                "body",
                format!(
                    "A {resource} patch of two operations must be a `test` followed by a `replace` of the same path (one property per request); this one is `{}` {} then `{}` {}",
                    first.op, first.path, second.op, second.path
                ),
            ))
        }
        n => Err(ApiError::invalid(
            "body",
            format!(
                "The patch holds {n} operations; a {resource} takes exactly one operation per request, or a `test` followed by a `replace` of the same path"
            ),
        )),
    }
}

/// The body as a JSON Patch document: an array (its operations not checked yet).
fn parse_doc(body: &[u8]) -> ApiResult<Vec<Value>> {
    match parse_json(body)? {
        Value::Array(ops) => Ok(ops),
        _ => Err(ApiError::invalid(
            "body",
            "A PATCH body is a JSON Patch document: an array holding one operation, such as [{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"New name\"}]",
        )),
    }
}

/// Checks operation `i` of a document against what the resource allows.
fn parse_op(v: &Value, i: usize, allowed: Allowed, resource: &str) -> ApiResult<PatchOp> {
    let Value::Object(op) = v else {
        return Err(ApiError::invalid(
            format!("[{i}]"),
            "A patch operation must be a JSON object",
        ));
    };
    let field = |name: &str| op.get(name).and_then(Value::as_str);
    let Some(op_name) = field("op") else {
        return Err(ApiError::invalid(
            format!("[{i}].op"),
            "The patch operation needs an `op` string",
        ));
    };
    let Some(op_static) = RFC_OPS.iter().find(|o| **o == op_name) else {
        return Err(ApiError::invalid(
            format!("[{i}].op"),
            format!(
                "`{op_name}` is not a JSON Patch operation; RFC 6902 defines add, remove, replace, move, copy and test"
            ),
        ));
    };
    let Some(path) = field("path") else {
        return Err(ApiError::invalid(
            format!("[{i}].path"),
            "The patch operation needs a `path` string",
        ));
    };
    let Some((path_static, ops_allowed)) = allowed.iter().find(|(p, _)| *p == path) else {
        let paths: Vec<&str> = allowed.iter().map(|(p, _)| *p).collect();
        return Err(ApiError::invalid(
            format!("[{i}].path"),
            format!(
                "`{path}` cannot be patched on a {resource}; patchable paths: {}",
                paths.join(", ")
            ),
        ));
    };
    if !ops_allowed.contains(op_static) {
        return Err(ApiError::invalid(
            format!("[{i}].op"),
            format!(
                "`{op_name}` is not supported on {path} of a {resource}; supported: {}",
                ops_allowed.join(", ")
            ),
        ));
    }
    let Some(value) = op.get("value") else {
        return Err(ApiError::invalid(
            format!("[{i}].value"),
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
        return Err(ApiError::invalid(format!("[{i}].from"), why));
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
    use proptest::prelude::*;
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

    const DIM: Allowed = DIMENSION_PATHS;

    fn tested(body: Value) -> ApiResult<TestedPatch> {
        parse_tested(body.to_string().as_bytes(), DIM, "dimension")
    }

    #[test]
    fn a_test_then_a_replace_of_the_same_path_is_one_tested_patch() {
        let doc = json!([{"op":"test","path":"/values","value":[{"id":"A"}]},{"op":"replace","path":"/values","value":[{"id":"A"},{"id":"B"}]}]);
        let p = tested(doc.clone()).unwrap();
        let t = p.test.expect("the test is kept");
        assert_eq!(
            (t.op, t.path, &t.value),
            ("test", "/values", &json!([{"id":"A"}]))
        );
        assert_eq!((p.op.op, p.op.path), ("replace", "/values"));
        assert!(
            parse(doc.to_string().as_bytes(), DIM, "dimension").is_err(),
            "parse keeps exactly one operation"
        );
        let name = json!([{"op":"test","path":"/name","value":null},{"op":"replace","path":"/name","value":"N"}]);
        assert!(tested(name).unwrap().test.is_some(), "any one property");
        for one in ["replace", "test"] {
            let p = tested(json!([{"op": one, "path": "/active", "value": true}])).unwrap();
            assert!(p.test.is_none() && p.op.op == one);
        }
    }

    #[test]
    fn other_shapes_of_two_or_more_operations_are_refused() {
        let op = |op: &str, path: &str| json!({"op": op, "path": path, "value": []});
        for (doc, shown) in [
            (
                json!([op("test", "/values"), op("replace", "/name")]),
                "`test` /values then `replace` /name",
            ),
            (
                json!([op("replace", "/values"), op("replace", "/values")]),
                "`replace` /values then `replace`",
            ),
            (
                json!([op("replace", "/values"), op("test", "/values")]),
                "`replace` /values then `test`",
            ),
            (
                json!([op("test", "/values"), op("test", "/values")]),
                "`test` /values then `test`",
            ),
        ] {
            let e = tested(doc).unwrap_err();
            assert_eq!(e.target.as_deref(), Some("body"));
            assert!(
                e.message
                    .contains("must be a `test` followed by a `replace` of the same path"),
                "{}",
                e.message
            );
            assert!(e.message.contains(shown), "{}", e.message);
        }
        for n in [0, 3, 4] {
            let doc = Value::Array((0..n).map(|_| op("test", "/values")).collect());
            let e = tested(doc).unwrap_err();
            assert!(
                e.message.contains(&format!("holds {n} operations")),
                "{}",
                e.message
            );
            assert!(e.message.contains("exactly one operation"), "{}", e.message);
        }
        let e = tested(json!([op("test", "/values"), op("replace", "/id")])).unwrap_err();
        assert_eq!(
            e.target.as_deref(),
            Some("[1].path"),
            "each operation is checked first"
        );
        let e =
            tested(json!([op("test", "/values"), {"op":"replace","path":"/values"}])).unwrap_err();
        assert_eq!(e.target.as_deref(), Some("[1].value"));
        assert_eq!(
            tested(json!([op("test", "/values"), 7]))
                .unwrap_err()
                .target
                .as_deref(),
            Some("[1]")
        );
    }

    /// Arbitrary JSON, a few levels deep.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            "[ -~]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An operation object: `op`, `path`, `value` and `from` each present or not, mostly
    /// plausible, sometimes anything.
    fn any_op() -> impl Strategy<Value = Value> {
        let name = prop_oneof![
            6 => proptest::sample::select(vec!["test", "replace"]).prop_map(Value::from),
            1 => proptest::sample::select(RFC_OPS.to_vec()).prop_map(Value::from),
            1 => "[a-z]{0,6}".prop_map(Value::from),
            1 => any_json(),
        ];
        let path = prop_oneof![
            6 => proptest::sample::select(vec!["/active", "/name", "/values"]).prop_map(Value::from),
            1 => proptest::sample::select(vec!["/id", "", "/values/0"]).prop_map(Value::from),
            1 => any_json(),
        ];
        let field = |p, s| proptest::option::weighted(p, s);
        (
            field(0.9, name.boxed()),
            field(0.9, path.boxed()),
            field(0.9, any_json().boxed()),
            field(0.05, any_json().boxed()),
        )
            .prop_map(|(op, path, value, from)| {
                let fields = [("op", op), ("path", path), ("value", value), ("from", from)];
                Value::Object(
                    fields
                        .into_iter()
                        .filter_map(|(k, v)| Some((k.to_string(), v?)))
                        .collect(),
                )
            })
    }

    fn any_doc() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => proptest::collection::vec(prop_oneof![4 => any_op(), 1 => any_json()], 0..4).prop_map(Value::Array),
            1 => any_json(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_bytes_never_panic_the_parsers(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&body, DIM, "dimension");
            let _ = parse_tested(&body, DIM, "dimension");
        }

        /// Two well-formed operations are one tested patch exactly when they are a `test`
        /// then a `replace` of the same path, and it carries both values as sent.
        #[test]
        fn two_operations_are_accepted_only_as_test_then_replace_of_one_path(
            ops in proptest::collection::vec(
                (proptest::sample::select(vec!["test", "replace"]),
                 proptest::sample::select(vec!["/active", "/name", "/values"]),
                 any_json()),
                2,
            )
        ) {
            let doc: Vec<Value> = ops.iter().map(|(op, path, value)| json!({"op": op, "path": path, "value": value})).collect();
            let got = tested(Value::Array(doc));
            let ((op0, path0, v0), (op1, path1, v1)) = (&ops[0], &ops[1]);
            let shape = *op0 == "test" && *op1 == "replace" && path0 == path1;
            prop_assert_eq!(got.is_ok(), shape);
            if let Ok(p) = got {
                // As the body carries them: serde_json reads floats back to within an ulp.
                let sent = |v: &Value| serde_json::from_str::<Value>(&v.to_string()).unwrap();
                let t = p.test.expect("a test");
                prop_assert_eq!((t.value, p.op.value), (sent(v0), sent(v1)));
            }
        }

        /// A generated document never panics either parser, and the tested parser accepts
        /// exactly one valid operation, or a valid `test` then a valid `replace` of its path.
        #[test]
        fn a_tested_patch_is_accepted_exactly_in_its_shapes(doc in any_doc()) {
            let body = doc.to_string();
            let one = parse(body.as_bytes(), DIM, "dimension");
            let got = parse_tested(body.as_bytes(), DIM, "dimension");
            let alone = |v: &Value| parse(json!([v]).to_string().as_bytes(), DIM, "dimension").ok();
            let expected = match doc.as_array().map(Vec::as_slice) {
                Some([v]) => alone(v).is_some(),
                Some([a, b]) => match (alone(a), alone(b)) {
                    (Some(t), Some(r)) => t.is_test() && r.op == "replace" && t.path == r.path,
                    _ => false,
                },
                _ => false,
            };
            prop_assert_eq!(got.is_ok(), expected, "{}", body);
            prop_assert_eq!(one.is_ok(), expected && doc.as_array().is_some_and(|a| a.len() == 1), "{}", body);
            if let (Ok(one), Ok(got)) = (one, got) {
                prop_assert!(got.test.is_none());
                prop_assert_eq!((one.op, one.path, one.value), (got.op.op, got.op.path, got.op.value));
            }
        }
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

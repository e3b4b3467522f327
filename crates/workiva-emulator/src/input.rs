//! Reading request bodies field by field, so that every malformed input gets a 400 whose
//! `target` names the exact field (`data[3].reportingPeriod.year`).

use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};

/// Parses a request body as JSON, with a 400 that says where it broke.
pub fn parse_json(body: &[u8]) -> ApiResult<Value> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "The request body is empty; a JSON body is required",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))
}

/// A JSON object being read, with the path that leads to it.
pub struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: String,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Number of characters (Unicode scalar values), which is how Workiva counts lengths.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

impl<'a> Obj<'a> {
    /// Treats `value` as an object, or answers 400 naming `path`.
    pub fn new(value: &'a Value, path: impl Into<String>) -> ApiResult<Self> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            _ => Err(ApiError::invalid(
                if path.is_empty() {
                    "body".to_string()
                } else {
                    path.clone()
                },
                format!(
                    "{} must be a JSON object",
                    if path.is_empty() { "The body" } else { &path }
                ),
            )),
        }
    }

    pub fn target(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw value of a key; JSON `null` counts as absent.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn is_null(&self, key: &str) -> bool {
        matches!(self.map.get(key), Some(Value::Null))
    }

    /// Refuses `null` for fields the schema does not allow to be null: absent is fine.
    pub fn no_nulls(&self, keys: &[&str]) -> ApiResult<()> {
        match keys.iter().find(|k| self.is_null(k)) {
            Some(k) => Err(ApiError::invalid(
                self.target(k),
                format!(
                    "{} cannot be null; leave it out to keep the default",
                    self.target(k)
                ),
            )),
            None => Ok(()),
        }
    }

    /// An optional string of at most `max` characters.
    pub fn opt_str(&self, key: &str, max: usize) -> ApiResult<Option<&'a str>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => {
                let n = char_len(s);
                if n > max {
                    Err(ApiError::invalid(
                        self.target(key),
                        format!(
                            "{} is {n} characters; at most {max} are allowed",
                            self.target(key)
                        ),
                    ))
                } else {
                    Ok(Some(s.as_str()))
                }
            }
            Some(_) => Err(ApiError::invalid(
                self.target(key),
                format!("{} must be a string", self.target(key)),
            )),
        }
    }

    /// A required, non-empty string of at most `max` characters.
    pub fn req_str(&self, key: &str, max: usize) -> ApiResult<&'a str> {
        match self.opt_str(key, max)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(ApiError::invalid(
                self.target(key),
                format!("{} must not be empty", self.target(key)),
            )),
            None => Err(ApiError::invalid(
                self.target(key),
                format!("{} is required", self.target(key)),
            )),
        }
    }

    /// An optional integer within `min..=max`.
    pub fn opt_int(&self, key: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let v = n.as_i64().or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                        .map(|f| f as i64)
                });
                match v {
                    Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
                    Some(v) => Err(ApiError::invalid(
                        self.target(key),
                        format!(
                            "{} is {v}; it must be from {min} to {max}",
                            self.target(key)
                        ),
                    )),
                    None => Err(ApiError::invalid(
                        self.target(key),
                        format!("{} must be a whole number", self.target(key)),
                    )),
                }
            }
            Some(_) => Err(ApiError::invalid(
                self.target(key),
                format!("{} must be a whole number", self.target(key)),
            )),
        }
    }

    pub fn req_int(&self, key: &str, min: i64, max: i64) -> ApiResult<i64> {
        self.opt_int(key, min, max)?.ok_or_else(|| {
            ApiError::invalid(
                self.target(key),
                format!("{} is required", self.target(key)),
            )
        })
    }

    pub fn opt_bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(
                self.target(key),
                format!("{} must be true or false", self.target(key)),
            )),
        }
    }

    /// An optional array of at most `max` items.
    pub fn opt_array(&self, key: &str, max: usize) -> ApiResult<Option<&'a Vec<Value>>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Array(a)) => {
                if a.len() > max {
                    Err(ApiError::invalid(
                        self.target(key),
                        format!(
                            "{} has {} items; at most {max} are allowed",
                            self.target(key),
                            a.len()
                        ),
                    ))
                } else {
                    Ok(Some(a))
                }
            }
            Some(_) => Err(ApiError::invalid(
                self.target(key),
                format!("{} must be an array", self.target(key)),
            )),
        }
    }

    pub fn opt_obj(&self, key: &str) -> ApiResult<Option<Obj<'a>>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => Obj::new(v, self.target(key)).map(Some),
        }
    }
}

/// An optional string that must be one of `allowed`.
pub fn opt_enum<'a>(obj: &Obj<'a>, key: &str, allowed: &[&str]) -> ApiResult<Option<&'a str>> {
    match obj.opt_str(key, 100)? {
        None => Ok(None),
        Some(s) if allowed.contains(&s) => Ok(Some(s)),
        Some(s) => Err(ApiError::invalid(
            obj.target(key),
            format!(
                "{} is `{s}`; it must be one of: {}",
                obj.target(key),
                allowed.join(", ")
            ),
        )),
    }
}

/// Parses a UUID the way the API spells them (hyphenated, any case).
pub fn parse_uuid(s: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::try_parse(s).ok()
}

//! List paging: `$maxpagesize` (1–1000, default 1000), an opaque `$next` cursor that carries
//! the filter, order and position, and an absolute `@nextLink` that is absent on the last page.
//! Without `$orderBy` the order is creation order and the cursor is the last item's sequence
//! number, so a page boundary never shifts when items are added or removed meanwhile.

use std::cmp::Ordering;
use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::filter::{self, Expr, Field, FieldVal, Filterable};

pub const MAX_PAGE: usize = 1000;

/// Where the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    /// After the item with this sequence number (creation order).
    After(u64),
    /// After skipping this many items (explicit `$orderBy`).
    Offset(usize),
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    p: Position,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    f: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    o: Option<String>,
    m: usize,
    /// The resource path the cursor belongs to, so it cannot be replayed elsewhere.
    r: String,
}

/// A parsed list request.
pub struct ListQuery {
    pub filter: Option<Expr>,
    pub order: Vec<(&'static str, bool)>,
    pub size: usize,
    pub start: Option<Position>,
    raw_filter: Option<String>,
    raw_order: Option<String>,
    resource_path: String,
}

/// Reads `$maxpagesize`, `$next`, `$filter` and `$orderBy`. `order_fields` lists what may be
/// sorted on; an empty list means the resource does not support `$orderBy`.
pub fn parse_query(
    q: &HashMap<String, String>,
    resource_path: &str,
    fields: &[Field],
    order_fields: &[&'static str],
    resource: &str,
) -> ApiResult<ListQuery> {
    let mut size = MAX_PAGE;
    let mut raw_filter = q.get("$filter").cloned();
    let mut raw_order = q.get("$orderBy").or_else(|| q.get("$orderby")).cloned();
    let mut start = None;
    if let Some(next) = q.get("$next") {
        let c = URL_SAFE_NO_PAD
            .decode(next.as_bytes())
            .ok()
            .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
            .filter(|c| c.r == resource_path)
            .ok_or_else(|| {
                ApiError::invalid(
                    "$next",
                    "$next is not a cursor this list issued; follow @nextLink exactly as returned",
                )
            })?;
        start = Some(c.p);
        raw_filter = c.f;
        raw_order = c.o;
        size = c.m;
    }
    if let Some(m) = q.get("$maxpagesize") {
        size = match m.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(
                    "$maxpagesize",
                    format!(
                        "$maxpagesize is `{m}`; it must be a whole number from 1 to {MAX_PAGE}"
                    ),
                ));
            }
        };
    }
    let filter = match &raw_filter {
        Some(f) => Some(filter::parse(f, fields, resource)?),
        None => None,
    };
    let order = match &raw_order {
        Some(o) => parse_order(o, order_fields, resource)?,
        None => Vec::new(),
    };
    Ok(ListQuery {
        filter,
        order,
        size,
        start,
        raw_filter,
        raw_order,
        resource_path: resource_path.to_string(),
    })
}

fn parse_order(
    text: &str,
    allowed: &[&'static str],
    resource: &str,
) -> ApiResult<Vec<(&'static str, bool)>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (name, desc) = match words.as_slice() {
            [n] => (*n, false),
            [n, d] if d.eq_ignore_ascii_case("asc") => (*n, false),
            [n, d] if d.eq_ignore_ascii_case("desc") => (*n, true),
            _ => {
                return Err(ApiError::invalid(
                    "$orderBy",
                    format!(
                        "$orderBy part `{}` must be `field`, `field asc` or `field desc`",
                        part.trim()
                    ),
                ));
            }
        };
        let Some(f) = allowed.iter().find(|a| **a == name) else {
            let msg = if allowed.is_empty() {
                format!("$orderBy is not supported for {resource}")
            } else {
                format!(
                    "Ordering by `{name}` is not supported for {resource}; supported: {}",
                    allowed.join(", ")
                )
            };
            return Err(ApiError::invalid("$orderBy", msg).with_details(vec![
                super::error::Detail::new(
                    "InvalidOrder",
                    "$orderBy",
                    format!("Ordering by '{}' is not supported", part.trim()),
                ),
            ]));
        };
        out.push((*f, desc));
    }
    Ok(out)
}

impl ListQuery {
    /// The absolute link to the page that starts at `pos`.
    pub fn next_link(&self, base: &str, pos: Position) -> String {
        let c = Cursor {
            p: pos,
            f: self.raw_filter.clone(),
            o: self.raw_order.clone(),
            m: self.size,
            r: self.resource_path.clone(),
        };
        let token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).expect("cursor serialises"));
        format!("{base}{}?$next={token}", self.resource_path)
    }

    pub fn matches(&self, item: &dyn Filterable) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(item))
    }

    /// One page of a small collection given in creation order with sequence numbers.
    pub fn page<T: Filterable>(
        &self,
        base: &str,
        items: impl Iterator<Item = (u64, T)>,
        render: impl Fn(&T) -> Value,
    ) -> Value {
        let mut kept: Vec<(u64, T)> = items.filter(|(_, t)| self.matches(t)).collect();
        let (page, next) = if self.order.is_empty() {
            let after = match self.start {
                Some(Position::After(s)) => Some(s),
                _ => None,
            };
            let mut it = kept
                .into_iter()
                .filter(|(seq, _)| after.is_none_or(|a| *seq > a))
                .peekable();
            let mut page = Vec::new();
            let mut last = None;
            while page.len() < self.size {
                match it.next() {
                    Some((seq, t)) => {
                        last = Some(seq);
                        page.push(render(&t));
                    }
                    None => break,
                }
            }
            let next = match (it.peek(), last) {
                (Some(_), Some(l)) => Some(Position::After(l)),
                _ => None,
            };
            (page, next)
        } else {
            kept.sort_by(|(sa, a), (sb, b)| self.compare(a, b).then(sa.cmp(sb)));
            let offset = match self.start {
                Some(Position::Offset(o)) => o,
                _ => 0,
            };
            let total = kept.len();
            let page: Vec<Value> = kept
                .iter()
                .skip(offset)
                .take(self.size)
                .map(|(_, t)| render(t))
                .collect();
            let end = offset + page.len();
            (page, (end < total).then_some(Position::Offset(end)))
        };
        self.body(base, page, next)
    }

    /// Orders two items by the `$orderBy` fields.
    pub fn compare(&self, a: &dyn Filterable, b: &dyn Filterable) -> Ordering {
        for (field, desc) in &self.order {
            let o = cmp_vals(a.field(field), b.field(field));
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    /// The list body: `{data, @nextLink?}`.
    pub fn body(&self, base: &str, data: Vec<Value>, next: Option<Position>) -> Value {
        let mut v = json!({ "data": data });
        if let Some(p) = next {
            v["@nextLink"] = Value::String(self.next_link(base, p));
        }
        v
    }
}

fn cmp_vals(a: FieldVal<'_>, b: FieldVal<'_>) -> Ordering {
    match (a, b) {
        (FieldVal::Str(a), FieldVal::Str(b)) => a.cmp(&b),
        (FieldVal::Int(a), FieldVal::Int(b)) => a.cmp(&b),
        (FieldVal::Bool(a), FieldVal::Bool(b)) => a.cmp(&b),
        (FieldVal::Id(a), FieldVal::Id(b)) => a.cmp(&b),
        _ => Ordering::Equal,
    }
}

//! `esg-sync inspect`: lists what a tenant holds (programs, topics, dimensions with their
//! values, metrics, values, tasks, permissions), following every page, so users can find the
//! ids their mappings need.

use serde::Serialize;
use serde_json::{Value, json};

use crate::workiva::{ListOptions, WorkivaClient, quote};

/// What to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Resource {
    Programs,
    Topics,
    Dimensions,
    Metrics,
    Values,
    Tasks,
    Permissions,
}

/// How to print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    #[default]
    Table,
    Json,
}

/// A listing: column names and rows, plus the JSON form.
pub struct Listing {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub json: Value,
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
}

/// A program given by id or by exact name.
pub async fn resolve_program(client: &WorkivaClient, given: &str) -> anyhow::Result<String> {
    if is_uuid(given) {
        return Ok(given.to_string());
    }
    match client.find_program(given).await? {
        Some(p) => Ok(p.id),
        None => anyhow::bail!(
            "no program named `{given}`; run `esg-sync inspect programs` to see the names"
        ),
    }
}

/// A metric given by id or by exact name.
pub async fn resolve_metric(
    client: &WorkivaClient,
    program: &str,
    given: &str,
) -> anyhow::Result<String> {
    if is_uuid(given) {
        return Ok(given.to_string());
    }
    match client.find_metric(program, given).await? {
        Some(m) => Ok(m.id),
        None => anyhow::bail!(
            "no metric named `{given}` in this program; run `esg-sync inspect metrics --program ...` to see the names"
        ),
    }
}

fn need<'a>(v: Option<&'a str>, flag: &str, what: Resource) -> anyhow::Result<&'a str> {
    v.ok_or_else(|| {
        anyhow::anyhow!(
            "`inspect {}` needs {flag}",
            format!("{what:?}").to_lowercase()
        )
    })
}

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// Fetches a listing: every page of the resource, as a table's rows and as JSON.
pub async fn list(
    client: &WorkivaClient,
    what: Resource,
    program: Option<&str>,
    metric: Option<&str>,
    opts: &ListOptions,
) -> anyhow::Result<Listing> {
    let program_id = match program {
        Some(p) => Some(resolve_program(client, p).await?),
        None => None,
    };
    let pid = program_id.as_deref();
    match what {
        Resource::Programs => programs(client, opts).await,
        Resource::Topics => topics(client, need(pid, "--program", what)?).await,
        Resource::Dimensions => dimensions(client, need(pid, "--program", what)?, opts).await,
        Resource::Metrics => metrics(client, need(pid, "--program", what)?, opts).await,
        Resource::Values => {
            let p = need(pid, "--program", what)?;
            values(client, p, need(metric, "--metric", what)?, opts).await
        }
        Resource::Tasks => tasks(client, pid, opts).await,
        Resource::Permissions => permissions(client, pid, opts).await,
    }
}

/// Every program.
async fn programs(client: &WorkivaClient, opts: &ListOptions) -> anyhow::Result<Listing> {
    let items = client.programs(opts).await?;
    Ok(Listing {
        columns: vec!["id", "name"],
        rows: items
            .iter()
            .map(|p| vec![p.id.clone(), p.name.clone()])
            .collect(),
        json: to_json(&items),
    })
}

/// The program's topics.
async fn topics(client: &WorkivaClient, pid: &str) -> anyhow::Result<Listing> {
    let items = client.topics(pid).await?;
    Ok(Listing {
        columns: vec!["id", "name", "index", "parent"],
        rows: items
            .iter()
            .map(|t| {
                vec![
                    t.id.clone(),
                    t.name.clone(),
                    t.index.map(|i| i.to_string()).unwrap_or_default(),
                    opt(&t.parent),
                ]
            })
            .collect(),
        json: to_json(&items),
    })
}

/// The program's dimensions, a row per value.
async fn dimensions(
    client: &WorkivaClient,
    pid: &str,
    opts: &ListOptions,
) -> anyhow::Result<Listing> {
    let mut full = Vec::new();
    for d in client.dimensions(pid, opts).await? {
        // The list carries no values; each dimension is fetched for its value ids.
        full.push(client.dimension(pid, &d.id).await?);
    }
    let mut rows = Vec::new();
    for d in &full {
        for v in d.values.as_deref().unwrap_or_default() {
            rows.push(vec![
                d.id.clone(),
                opt(&d.name),
                d.active.unwrap_or(true).to_string(),
                v.id.clone(),
                opt(&v.name),
                v.is_active().to_string(),
            ]);
        }
    }
    Ok(Listing {
        columns: vec![
            "dimension id",
            "dimension",
            "active",
            "value id",
            "value name",
            "value active",
        ],
        rows,
        json: to_json(&full),
    })
}

/// The program's metrics.
async fn metrics(client: &WorkivaClient, pid: &str, opts: &ListOptions) -> anyhow::Result<Listing> {
    let items = client.metrics(pid, opts).await?;
    Ok(Listing {
        columns: vec![
            "code",
            "id",
            "name",
            "dataType",
            "unit",
            "topic",
            "allowedDimensions",
        ],
        rows: items
            .iter()
            .map(|m| {
                vec![
                    opt(&m.str_code),
                    m.id.clone(),
                    m.name.clone(),
                    m.data_type.as_str().to_string(),
                    opt(&m.unit),
                    opt(&m.topic),
                    m.allowed_dimensions.join(" "),
                ]
            })
            .collect(),
        json: to_json(&items),
    })
}

/// One metric's values.
async fn values(
    client: &WorkivaClient,
    pid: &str,
    metric: &str,
    opts: &ListOptions,
) -> anyhow::Result<Listing> {
    let m = resolve_metric(client, pid, metric).await?;
    let items = client.values(pid, &m, opts).await?;
    Ok(Listing {
        columns: vec!["id", "period", "coordinates", "value", "status", "notes"],
        rows: items
            .iter()
            .map(|v| {
                let period = v
                    .reporting_period
                    .map(|r| format!("{} {:02}-{:02}", r.year, r.start, r.end))
                    .unwrap_or_default();
                let coords = v
                    .coordinates
                    .as_ref()
                    .map(|c| {
                        c.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                vec![
                    opt(&v.id),
                    period,
                    coords,
                    opt(&v.value),
                    v.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
                    opt(&v.notes),
                ]
            })
            .collect(),
        json: to_json(&items),
    })
}

/// Tasks, of the program when one is named.
async fn tasks(
    client: &WorkivaClient,
    pid: Option<&str>,
    opts: &ListOptions,
) -> anyhow::Result<Listing> {
    let mut o = opts.clone();
    if let Some(p) = pid {
        let scope = format!("location.resource eq {}", quote(p));
        o.filter = Some(match &o.filter {
            Some(f) => format!("{scope} and ({f})"),
            None => scope,
        });
    }
    let items = client.tasks(&o).await?;
    Ok(Listing {
        columns: vec!["id", "status", "title", "program", "metric", "dueDate"],
        rows: items
            .iter()
            .map(|t| {
                let loc = t.location.clone().unwrap_or_default();
                vec![t.id.clone(), t.status.clone(), t.title.clone(), opt(&loc.resource), opt(&loc.segment), opt(&t.due_date)]
            })
            .collect(),
        json: json!(items.iter().map(|t| json!({"id": t.id, "status": t.status, "title": t.title, "location": t.location, "dueDate": t.due_date})).collect::<Vec<_>>()),
    })
}

/// The program's permission grants, or every permission.
async fn permissions(
    client: &WorkivaClient,
    pid: Option<&str>,
    opts: &ListOptions,
) -> anyhow::Result<Listing> {
    Ok(match pid {
        Some(p) => {
            let items = client.program_permissions(p, opts).await?;
            let names: std::collections::HashMap<String, String> = client
                .permissions()
                .await?
                .into_iter()
                .map(|d| (d.id, d.name))
                .collect();
            Listing {
            columns: vec!["principal", "type", "permission", "permission id"],
            rows: items
                .iter()
                .map(|a| vec![a.principal.clone(), opt(&a.principal_type), names.get(&a.permission).cloned().unwrap_or_default(), a.permission.clone()])
                .collect(),
            json: json!(items.iter().map(|a| json!({"permission": a.permission, "principal": a.principal, "principalType": a.principal_type})).collect::<Vec<_>>()),
        }
        }
        None => {
            let items = client.permissions().await?;
            Listing {
                columns: vec!["id", "name"],
                rows: items
                    .iter()
                    .map(|p| vec![p.id.clone(), p.name.clone()])
                    .collect(),
                json: json!(
                    items
                        .iter()
                        .map(|p| json!({"id": p.id, "name": p.name}))
                        .collect::<Vec<_>>()
                ),
            }
        }
    })
}

/// Renders a listing as an aligned text table (cells longer than 60 characters are cut).
pub fn render_table(l: &Listing) -> String {
    let cut = |s: &str| {
        let one_line = s.replace(['\n', '\r'], " ");
        if one_line.chars().count() > 60 {
            format!("{}…", one_line.chars().take(59).collect::<String>())
        } else {
            one_line
        }
    };
    let rows: Vec<Vec<String>> = l
        .rows
        .iter()
        .map(|r| r.iter().map(|c| cut(c)).collect())
        .collect();
    let mut widths: Vec<usize> = l.columns.iter().map(|c| c.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(l.columns.iter().map(|c| c.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.push(format!("({} rows)", l.rows.len()));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_and_cuts() {
        let l = Listing {
            columns: vec!["id", "name"],
            rows: vec![
                vec!["1".into(), "short".into()],
                vec!["22".into(), "x".repeat(80)],
            ],
            json: Value::Null,
        };
        let t = render_table(&l);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "id  name");
        assert_eq!(lines[1], "1   short");
        assert!(lines[2].ends_with('…') && lines[2].chars().count() == 4 + 60);
        assert_eq!(lines[3], "(2 rows)");
    }
}

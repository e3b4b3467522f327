//! `esg-sync evidence`: writes an assurance pack for one program and year (of a pipeline, or
//! of a program and every pipeline that writes to it); `esg-sync evidence verify DIR` checks
//! one. Reads Workiva and the state store; writes only the pack.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::app::App;
use crate::cli::EvidenceArgs;
use crate::config::PipelineConfig;
use crate::evidence::tables::{self, MetricInfo};
use crate::evidence::{About, pack, readme, verify};
use crate::ledger::{Content, Stored};
use crate::sync::ids::MetricId;
use crate::sync::program::ProgramMeta;
use crate::sync::{canon, resolve};

/// The program, metrics and pipelines a pack covers.
struct Scope {
    name: String,
    meta: ProgramMeta,
    metrics: Vec<(MetricId, MetricInfo)>,
    pipelines: Vec<PipelineConfig>,
}

/// `evidence --pipeline P | --program X --year Y --out DIR`: exit 0 once the pack is written.
pub async fn run(app: &App, a: &EvidenceArgs) -> anyhow::Result<ExitCode> {
    let (Some(year), Some(out)) = (a.year, a.out.as_deref()) else {
        anyhow::bail!("evidence needs --year and --out (or `esg-sync evidence verify DIR`)");
    };
    let scope = scope(app, a).await?;
    let (client, store) = (app.client().await?, app.store().await?);
    let program = scope.meta.id.clone();
    let entries = entries(store, &scope, year).await?;
    let mut values = Vec::new();
    for (id, info) in &scope.metrics {
        let listed = resolve::current_values(client, &program, id, &BTreeSet::from([year])).await?;
        values.push((info.clone(), listed));
    }
    let names: Vec<String> = scope.pipelines.iter().map(|p| p.name.clone()).collect();
    let y = i64::from(year);
    let (rejects, reviews) = (
        store.rejects_of_year(&names, y).await?,
        store.reviews_of_year(&names, y).await?,
    );
    let decisions = store.decisions_of_program(program.as_str()).await?;
    let dims: HashMap<String, String> = scope
        .meta
        .dimensions
        .values()
        .map(|d| (d.id.as_str().to_string(), d.name.clone()))
        .collect();
    let types: HashMap<String, _> = scope
        .meta
        .metrics
        .iter()
        .map(|(id, m)| (id.as_str().to_string(), m.data_type))
        .collect();
    let same = |metric: &str, x: &str, y: &str| match types.get(metric) {
        Some(dt) => canon::same_value(x, y, *dt),
        None => x == y,
    };
    let listed: usize = values.iter().map(|(_, v)| v.len()).sum();
    let t = vec![
        tables::values(&values, &entries, &dims, &same),
        tables::ledger(&entries),
        tables::rejects(&rejects),
        tables::reviews(&reviews),
        tables::decisions(&decisions),
    ];
    let (files, catalog) = files(app, &scope.pipelines)?;
    let about = About {
        program: scope.name.clone(),
        program_id: program.as_str().to_string(),
        year,
        pipelines: names,
        written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        head: store.ledger_head().await?,
        entries: entries.len(),
        values: listed,
        catalog,
    };
    let written = pack::write(out, &t, &files, &readme(&about))?;
    println!(
        "wrote {} files to {}: {listed} values of {year}, {} ledger entries, {} rejects, {} reviews, {} decisions; check it with `esg-sync evidence verify {}` or `sha256sum -c MANIFEST.sha256`",
        written.len() + 1,
        out.display(),
        entries.len(),
        rejects.len(),
        reviews.len(),
        decisions.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The year's ledger entries of the scope's metrics, each with its content read.
async fn entries(
    store: &crate::store::Store,
    scope: &Scope,
    year: u16,
) -> anyhow::Result<Vec<(Stored, Content)>> {
    let ours: BTreeSet<&str> = scope.metrics.iter().map(|(id, _)| id.as_str()).collect();
    store
        .ledger_of_year(scope.meta.id.as_str(), i64::from(year))
        .await?
        .into_iter()
        .filter(|e| ours.contains(e.metric_id.as_str()))
        .map(|e| {
            let c = serde_json::from_str(&e.content).with_context(|| {
                format!(
                    "ledger entry {} does not read; run `esg-sync ledger verify`",
                    e.seq
                )
            })?;
            Ok((e, c))
        })
        .collect()
}

/// The pipelines' effective configuration as `config.toml` (secrets masked), and the catalog
/// file when the configuration names one.
fn files(
    app: &App,
    pipelines: &[PipelineConfig],
) -> anyhow::Result<(Vec<pack::File>, Option<String>)> {
    let mut files = vec![(
        "config.toml".to_string(),
        config_toml(pipelines)?.into_bytes(),
    )];
    let mut catalog = None;
    if let Some(path) = &app.settings().catalog.file {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: the catalog file", path.display()))?;
        let name = format!(
            "catalog-{}",
            path.file_name()
                .map_or("catalog.toml".into(), |n| n.to_string_lossy().into_owned())
        );
        files.push((name.clone(), bytes));
        catalog = Some(name);
    }
    Ok((files, catalog))
}

/// The pipelines' effective configuration as TOML: defaults filled in, a SQL source's URL
/// with its passwords masked, credentials given in code left out.
pub fn config_toml(pipelines: &[PipelineConfig]) -> anyhow::Result<String> {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        pipeline: &'a [PipelineConfig],
    }
    let text = toml::to_string(&Doc {
        pipeline: pipelines,
    })
    .context("cannot write the pipelines' configuration as TOML")?;
    Ok(format!(
        "# The effective configuration of the pack's pipelines (defaults filled in, secrets masked).\n\n{text}"
    ))
}

/// What `--pipeline` or `--program` names.
async fn scope(app: &App, a: &EvidenceArgs) -> anyhow::Result<Scope> {
    let (client, store) = (app.client().await?, app.store().await?);
    let settings = app.settings();
    match (&a.pipeline, &a.program) {
        (Some(name), None) => {
            let p = super::run::selected(settings, Some(name))?[0];
            let r = resolve::resolve(client, store, p)
                .await
                .with_context(|| format!("pipeline `{name}`"))?;
            let metrics = resolve::pipeline_metrics(&r, p)
                .into_iter()
                .map(|(id, key)| {
                    let name = r
                        .meta
                        .metrics
                        .get(&id)
                        .map_or(String::new(), |m| m.name.clone());
                    (
                        id.clone(),
                        MetricInfo {
                            id: id.as_str().to_string(),
                            name,
                            key: Some(key),
                        },
                    )
                })
                .collect();
            let name = client.program(r.meta.id.as_str()).await?.name;
            Ok(Scope {
                name,
                meta: r.meta,
                metrics,
                pipelines: vec![p.clone()],
            })
        }
        (None, Some(given)) => {
            let id =
                resolve::resolve_program(client, store, given, "evidence", &mut Vec::new()).await?;
            let meta = resolve::load_program(client, &id).await?;
            let name = client.program(id.as_str()).await?.name;
            let mut metrics: Vec<(MetricId, MetricInfo)> = meta
                .metrics
                .iter()
                .map(|(id, m)| {
                    let info = MetricInfo {
                        id: id.as_str().to_string(),
                        name: m.name.clone(),
                        key: None,
                    };
                    (id.clone(), info)
                })
                .collect();
            metrics.sort_by(|x, y| x.1.name.cmp(&y.1.name));
            let pipelines = settings
                .pipelines
                .iter()
                .filter(|p| p.program == *given || p.program == name || p.program == id.as_str())
                .cloned()
                .collect();
            Ok(Scope {
                name,
                meta,
                metrics,
                pipelines,
            })
        }
        _ => anyhow::bail!("evidence needs one of --pipeline or --program"),
    }
}

/// `evidence verify DIR`: exit 0 when the pack holds, 1 naming what does not.
pub fn verify_pack(dir: &Path) -> anyhow::Result<ExitCode> {
    match verify::verify(dir) {
        Ok(v) => {
            println!(
                "the pack holds: {} files match MANIFEST.sha256, {} ledger entries match their hashes and content",
                v.files, v.entries
            );
            if !v.unlisted.is_empty() {
                println!(
                    "not part of the pack (the manifest does not list them): {}",
                    v.unlisted.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}: {e}", dir.display());
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_in_a_pack_masks_a_database_password_and_reads_back() {
        let p: PipelineConfig = toml::from_str(
            r#"
name = "sql"
program = "P"
source = { kind = "postgres", url = "postgres://esg:pack-pw-never-shown@db.internal/lake?password=pack-pw-never-shown", query = "SELECT 1" }
[columns]
fixed_metric = "M"
year = "y"
value = "v"
"#,
        )
        .unwrap();
        let text = config_toml(std::slice::from_ref(&p)).unwrap();
        assert!(!text.contains("pack-pw-never-shown"), "{text}");
        assert!(
            text.contains("db.internal") && text.contains("kind = \"postgres\""),
            "{text}"
        );
        #[derive(serde::Deserialize)]
        struct Doc {
            pipeline: Vec<PipelineConfig>,
        }
        let back: Doc = toml::from_str(&text).unwrap();
        assert_eq!(back.pipeline[0].name, "sql");
        assert_eq!(back.pipeline[0].columns.fixed_metric.as_deref(), Some("M"));
    }
}

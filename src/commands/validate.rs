//! `esg-sync validate`: every problem of the configuration, the credentials, the programs,
//! metrics and dimensions the pipelines name, and their sources; nothing is sent or recorded.

use std::process::ExitCode;

use crate::app::App;
use crate::config::{PipelineConfig, Settings, Source};
use crate::store::Store;
use crate::sync;
use crate::workiva::WorkivaClient;

/// Checks everything and prints every problem, not just the first; exit 1 when there is one.
pub async fn run(app: &App) -> anyhow::Result<ExitCode> {
    let settings = app.settings();
    let mut problems = file_problems(settings);
    let client = match app.client().await {
        Ok(c) => credentials(c, &mut problems).await,
        Err(e) => {
            problems.push(format!("workiva: {e}"));
            None
        }
    };
    let store = match app.store().await {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(format!("store: {e}"));
            None
        }
    };
    for p in &settings.pipelines {
        let mut found = source_problems(p).await?;
        if let (Some(c), Some(s)) = (client, store) {
            found.extend(workiva_problems(c, s, p).await);
        }
        problems.extend(found);
    }
    if problems.is_empty() {
        println!(
            "configuration, credentials, programs, metrics, dimensions and sources are all valid ({} pipelines)",
            settings.pipelines.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("problem: {p}");
    }
    println!("{} problems found", problems.len());
    Ok(ExitCode::from(1))
}

/// The catalog file (its references and Workiva's limits), each alert's signing secret and
/// the endpoints' token (read, never shown).
fn file_problems(settings: &Settings) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(f) = &settings.catalog.file
        && let Err(found) = crate::catalog::load(f)
    {
        problems.extend(found.into_iter().map(|p| format!("catalog: {p}")));
    }
    for a in &settings.alerts {
        if let Err(e) = a.secret() {
            problems.push(format!("alerts: {e}"));
        }
    }
    if let Some(Err(e)) = settings.daemon.auth.as_ref().map(|a| a.token()) {
        problems.push(format!("daemon: {e}"));
    }
    problems
}

/// The client when its credentials work. One problem for credentials that do not, not one
/// per pipeline: the pipelines' Workiva checks are skipped then.
async fn credentials<'a>(
    c: &'a WorkivaClient,
    problems: &mut Vec<String>,
) -> Option<&'a WorkivaClient> {
    let probe = crate::workiva::ListOptions::filter("name eq \"\"");
    match c.programs(&probe).await {
        Ok(_) => Some(c),
        Err(e) => {
            problems.push(format!("workiva credentials: {e}"));
            None
        }
    }
}

/// The pipeline's source: reachable, with the columns its mapping names.
async fn source_problems(p: &PipelineConfig) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    match &p.source {
        Source::Sql(src) => {
            let errors = crate::source::sql::check(src, &p.columns, &p.name).await;
            found.extend(errors.into_iter().map(|e| e.to_string()));
        }
        Source::Parquet { paths, store }
            if paths.iter().any(|x| crate::source::object::is_remote(x)) =>
        {
            let (objects, errors) = crate::source::object::expand(paths, store).await;
            found.extend(errors.into_iter().map(|e| e.to_string()));
            for o in &objects {
                if let Err(e) = crate::source::object::check_object(o, &p.columns).await {
                    found.push(e.to_string());
                }
            }
        }
        Source::Parquet { paths, .. } => match crate::source::parquet::expand(paths) {
            Err(e) => found.push(e.to_string()),
            Ok(files) => {
                for f in files {
                    let cols = p.columns.clone();
                    let checked = tokio::task::spawn_blocking(move || {
                        crate::source::parquet::check_file(&f, &cols)
                    })
                    .await?;
                    if let Err(e) = checked {
                        found.push(e.to_string());
                    }
                }
            }
        },
    }
    Ok(found
        .into_iter()
        .map(|e| format!("pipeline `{}`: {e}", p.name))
        .collect())
}

/// The program, metrics and dimensions the pipeline names, as Workiva has them. What this
/// learns is not cached: `validate` writes nothing.
async fn workiva_problems(c: &WorkivaClient, s: &Store, p: &PipelineConfig) -> Vec<String> {
    let mut learnt = Vec::new();
    let program = match sync::resolve::resolve_program(c, s, &p.program, &p.name, &mut learnt).await
    {
        Ok(program) => program,
        Err(e) => return vec![e.to_string()],
    };
    let meta = match sync::resolve::load_program(c, &program).await {
        Ok(meta) => meta,
        Err(e) => return vec![format!("pipeline `{}`: {e}", p.name)],
    };
    let mut found = Vec::new();
    for target in p.metrics.values().chain(p.columns.fixed_metric.iter()) {
        let known = meta
            .metrics
            .iter()
            .any(|(id, m)| id.as_str() == target || &m.name == target);
        if !known {
            found.push(format!(
                "pipeline `{}`: `{target}` is not a metric of program `{}`",
                p.name, p.program
            ));
        }
    }
    for (column, dim) in &p.columns.dimensions {
        if sync::resolve::resolve_dimension(&meta, dim).is_none() {
            found.push(format!("pipeline `{}`: columns.dimensions.{column} names `{dim}`, which is not a dimension of the program", p.name));
        }
    }
    found
}

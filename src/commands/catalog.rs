//! `esg-sync catalog plan | apply | export`: the program's structure as code.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::App;
use crate::catalog::{self, Action};
use crate::cli::CatalogCommand;
use crate::config::Settings;

/// `catalog plan`, `catalog apply` or `catalog export`.
pub async fn run(app: &App, c: CatalogCommand) -> anyhow::Result<ExitCode> {
    match c {
        CatalogCommand::Plan { catalog, force } => plan_or_apply(app, catalog, force, false).await,
        CatalogCommand::Apply { catalog, force } => plan_or_apply(app, catalog, force, true).await,
        CatalogCommand::Export { program, out } => export(app, &program, out).await,
    }
}

/// The catalog file: `--catalog`, else `[catalog] file`.
fn catalog_path(settings: &Settings, given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    given
        .or_else(|| settings.catalog.file.clone())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no catalog file: give --catalog FILE, or set [catalog] file in the configuration"
            )
        })
}

/// `catalog plan` (`apply = false`) and `catalog apply`.
pub async fn plan_or_apply(
    app: &App,
    file: Option<PathBuf>,
    force: bool,
    apply: bool,
) -> anyhow::Result<ExitCode> {
    let path = catalog_path(app.settings(), file)?;
    let c = catalog::load_or_explain(&path)?;
    let (client, store) = (app.client().await?, app.store().await?);
    let result = if apply {
        catalog::apply_catalog(client, store, &c, force)
            .await
            .map(|(p, done)| (p, Some(done)))
    } else {
        catalog::plan_catalog(client, store, &c, force)
            .await
            .map(|(p, _)| (p, None))
    };
    let (plan, done) = result?;
    print!("{}", plan.table());
    if c.file.prune && !force {
        println!("prune = true: deleting what the catalog does not declare needs --force");
    }
    if let Some(d) = done {
        println!(
            "applied to program {}: {} created, {} updated, {} deleted in {} requests",
            d.program_id, d.created, d.updated, d.deleted, d.requests
        );
    } else if plan.steps.iter().any(|s| s.action != Action::Unchanged) {
        println!("nothing was sent; `esg-sync catalog apply` does it");
    }
    Ok(ExitCode::SUCCESS)
}

/// `catalog export`: an existing program as a catalog file.
pub async fn export(app: &App, program: &str, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let wanted = catalog::CatalogFile {
        program: catalog::file::ProgramDecl {
            name: program.to_string(),
            id: None,
        },
        ..Default::default()
    };
    let cur = catalog::read(app.client().await?, app.store().await?, &wanted).await?;
    let Some(file) = catalog::export::export(&cur) else {
        anyhow::bail!("Workiva has no program named `{program}`");
    };
    let text = catalog::export::to_toml(&file).map_err(|e| anyhow::anyhow!(e))?;
    match out {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

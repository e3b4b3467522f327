//! `esg-sync catalog plan | apply | export`: the program's structure as code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::catalog::{self, Action};
use crate::config::Settings;
use crate::store::Store;
use crate::workiva::WorkivaClient;

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

/// Connects to Workiva (the embedded emulator when configured) and the store.
async fn open(
    config: Option<&Path>,
) -> anyhow::Result<(Settings, WorkivaClient, Store, Option<super::Embedded>)> {
    let mut settings = Settings::load(config)?;
    let embedded = super::embedded_emulator(&mut settings).await?;
    let client = WorkivaClient::new(settings.workiva.clone())?;
    let store = Store::open(&settings.store).await?;
    Ok((settings, client, store, embedded))
}

async fn close(store: Store, embedded: Option<super::Embedded>) -> anyhow::Result<()> {
    store.close().await;
    if let Some(e) = embedded {
        e.save().await?;
    }
    Ok(())
}

/// `catalog plan` (`apply = false`) and `catalog apply`.
pub async fn plan_or_apply(
    config: Option<&Path>,
    file: Option<PathBuf>,
    force: bool,
    apply: bool,
) -> anyhow::Result<ExitCode> {
    let (settings, client, store, embedded) = open(config).await?;
    let path = catalog_path(&settings, file)?;
    let c = catalog::load_or_explain(&path)?;
    let result = if apply {
        catalog::apply_catalog(&client, &store, &c, force)
            .await
            .map(|(p, done)| (p, Some(done)))
    } else {
        catalog::plan_catalog(&client, &store, &c, force)
            .await
            .map(|(p, _)| (p, None))
    };
    close(store, embedded).await?;
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
pub async fn export(
    config: Option<&Path>,
    program: &str,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let (_, client, store, embedded) = open(config).await?;
    let wanted = catalog::CatalogFile {
        program: catalog::file::ProgramDecl {
            name: program.to_string(),
            id: None,
        },
        ..Default::default()
    };
    let cur = catalog::read(&client, &store, &wanted).await;
    close(store, embedded).await?;
    let cur = cur?;
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

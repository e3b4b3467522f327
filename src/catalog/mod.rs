//! Catalog as code: one program's structure (topics, dimensions and their values, metrics)
//! declared in a TOML file and kept in step with Workiva, the guide's steps 1-3. The steps, in
//! the order `catalog apply` runs them: `file` (read and check the file: references, Workiva's
//! limits), `current` (read what Workiva holds), `plan` (pure: what to create, patch field by
//! field, or delete), `apply` (send it, recording ids). `export` writes what Workiva holds as
//! a catalog file. Every step fails with a [`CatalogError`], which keeps Workiva's error and
//! so whether trying again may help.

pub mod apply;
pub mod current;
pub mod error;
pub mod export;
pub mod file;
pub mod plan;

pub use apply::{Applied, apply};
pub use current::{Current, read};
pub use error::{ApplyError, CatalogError, StepFailure};
pub use file::{Catalog, CatalogFile, load};
pub use plan::PlanProblem;
pub use plan::{Action, CatalogPlan, Kind, plan};

use crate::store::Store;
use crate::workiva::WorkivaClient;

/// Reads Workiva and plans the catalog. Deletes only when the file says `prune = true` and
/// `force` is given.
pub async fn plan_catalog(
    client: &WorkivaClient,
    store: &Store,
    c: &Catalog,
    force: bool,
) -> Result<(CatalogPlan, Current), CatalogError> {
    let cur = read(client, store, &c.file).await?;
    let p = plan(&c.file, &cur, c.file.prune && force)?;
    Ok((p, cur))
}

/// Plans and applies the catalog; what was planned and what was done.
pub async fn apply_catalog(
    client: &WorkivaClient,
    store: &Store,
    c: &Catalog,
    force: bool,
) -> Result<(CatalogPlan, Applied), CatalogError> {
    let (p, _) = plan_catalog(client, store, c, force).await?;
    let done = apply(client, store, &c.file, &p).await?;
    Ok((p, done))
}

/// Loads a catalog file, every problem in one error.
pub fn load_or_explain(path: &std::path::Path) -> Result<Catalog, CatalogError> {
    load(path).map_err(|problems| CatalogError::Invalid {
        path: path.to_path_buf(),
        problems,
    })
}

//! Current: what Workiva holds for the catalog's program (its topics, its dimensions with their
//! values, its metrics), and the ids the mapping store recorded under the catalog's keys. Every
//! read of a catalog plan happens here; nothing is written.

use std::collections::HashMap;

use super::error::CatalogError;
use super::file::CatalogFile;
pub use super::plan::Current;
use super::plan::Kind;
use crate::store::{MappingKind, Store};
use crate::workiva::models::Program;
use crate::workiva::{ListOptions, WorkivaClient};

/// The mapping store's kind for a catalog resource.
pub fn mapping_kind(k: Kind) -> MappingKind {
    match k {
        Kind::Program => MappingKind::Program,
        Kind::Topic => MappingKind::CatalogTopic,
        Kind::Dimension => MappingKind::CatalogDimension,
        Kind::Metric => MappingKind::CatalogMetric,
    }
}

/// Reads the program the catalog declares (by pinned id, else by the id recorded under its
/// name, else by name) and everything in it.
pub async fn read(
    client: &WorkivaClient,
    store: &Store,
    f: &CatalogFile,
) -> Result<Current, CatalogError> {
    let program = find_program(client, store, f).await?;
    let Some(program) = program else {
        return Ok(Current::default());
    };
    let pid = program.id.clone();
    let topics = client.topics(&pid).await?;
    let mut dimensions = Vec::new();
    for d in client.dimensions(&pid, &ListOptions::default()).await? {
        dimensions.push(client.dimension(&pid, &d.id).await?);
    }
    let metrics = client.metrics(&pid, &ListOptions::default()).await?;
    let mut recorded = HashMap::new();
    let keys = [
        (
            Kind::Topic,
            f.topics.iter().map(|t| t.key()).collect::<Vec<_>>(),
        ),
        (
            Kind::Dimension,
            f.dimensions.iter().map(|d| d.key()).collect(),
        ),
        (Kind::Metric, f.metrics.iter().map(|m| m.key()).collect()),
    ];
    for (kind, keys) in keys {
        for key in keys {
            if let Some(id) = store.mapping_get(mapping_kind(kind), &pid, key).await? {
                recorded.insert((kind, key.to_string()), id);
            }
        }
    }
    Ok(Current {
        program: Some(program),
        topics,
        dimensions,
        metrics,
        recorded,
    })
}

async fn find_program(
    client: &WorkivaClient,
    store: &Store,
    f: &CatalogFile,
) -> Result<Option<Program>, CatalogError> {
    if let Some(id) = &f.program.id {
        return match client.program(id).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.status() == Some(404) => Err(CatalogError::PinnedProgram(id.clone())),
            Err(e) => Err(e.into()),
        };
    }
    let name = &f.program.name;
    if let Some(id) = store.mapping_get(MappingKind::Program, "", name).await? {
        match client.program(&id).await {
            Ok(p) if &p.name == name => return Ok(Some(p)),
            Ok(_) => {}
            Err(e) if e.status() == Some(404) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(client.find_program(name).await?)
}

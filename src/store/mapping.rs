//! The mapping store: names the lake uses (a program's or a metric's) to the Workiva ids they
//! resolved to, so a run need not look them up again.

use sqlx::Row;

use super::{Result, Store, now, q};

/// What a mapping names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingKind {
    /// A program by name; the scope is empty.
    Program,
    /// A metric by name; the scope is its program's id.
    Metric,
    /// A catalog's topic, dimension or metric by its key; the scope is the program's id.
    CatalogTopic,
    CatalogDimension,
    CatalogMetric,
}

impl MappingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Program => "program",
            Self::Metric => "metric",
            Self::CatalogTopic => "catalog_topic",
            Self::CatalogDimension => "catalog_dimension",
            Self::CatalogMetric => "catalog_metric",
        }
    }
}

impl Store {
    pub async fn mapping_get(
        &self,
        kind: MappingKind,
        scope: &str,
        name: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query(
            "SELECT workiva_id FROM mappings WHERE kind = $1 AND scope = $2 AND name = $3",
        )
        .bind(kind.as_str())
        .bind(scope)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("read a mapping"))?
        .map(|r| r.get::<String, _>(0)))
    }

    pub async fn mapping_put(
        &self,
        kind: MappingKind,
        scope: &str,
        name: &str,
        id: &str,
    ) -> Result<()> {
        let mut tx = self.write("write a mapping").await?;
        sqlx::query(
            "INSERT INTO mappings (kind, scope, name, workiva_id, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, scope, name) DO UPDATE SET workiva_id = excluded.workiva_id, updated_at = excluded.updated_at",
        )
        .bind(kind.as_str())
        .bind(scope)
        .bind(name)
        .bind(id)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(q("write a mapping"))?;
        tx.commit().await.map_err(q("write a mapping"))
    }

    pub async fn mapping_drop(&self, kind: MappingKind, scope: &str, name: &str) -> Result<()> {
        let mut tx = self.write("drop a mapping").await?;
        sqlx::query("DELETE FROM mappings WHERE kind = $1 AND scope = $2 AND name = $3")
            .bind(kind.as_str())
            .bind(scope)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(q("drop a mapping"))?;
        tx.commit().await.map_err(q("drop a mapping"))
    }
}

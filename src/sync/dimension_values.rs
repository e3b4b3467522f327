//! Dimension values: the lake's new values are added to their dimensions before any value
//! that uses them is sent.

use super::error::RunError;
use crate::workiva::WorkivaClient;

/// `create_dimension_values`: adds the plan's new values to their dimensions (one JSON Patch
/// of `/values` each, the dimension's whole list as Workiva holds it now, plus the new ones,
/// active, named by their id), before any value that uses them is sent.
pub async fn add_dimension_values(
    client: &WorkivaClient,
    plan: &super::plan::Plan,
) -> Result<(), RunError> {
    let pid = plan.program_id.as_str();
    for nv in &plan.new_dimension_values {
        let (dim, values) = (&nv.dimension, &nv.values);
        let fail = |error| RunError::DimensionValues {
            dimension: nv.name.clone(),
            values: values
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            error,
        };
        let current = client.dimension(pid, dim.as_str()).await.map_err(fail)?;
        let mut list = current.values.unwrap_or_default();
        let before = list.len();
        for v in values {
            if !list.iter().any(|x| x.id == v.as_str()) {
                list.push(crate::workiva::models::DimensionValue {
                    id: v.to_string(),
                    name: None,
                    active: None,
                });
            }
        }
        if list.len() > before {
            let body = serde_json::to_value(&list).expect("dimension values serialize");
            client
                .patch_dimension(pid, dim.as_str(), "/values", body)
                .await
                .map_err(fail)?;
            tracing::info!(dimension = %current.name.unwrap_or_default(), added = list.len() - before, "Added the lake's new values to a dimension.");
        }
    }
    Ok(())
}

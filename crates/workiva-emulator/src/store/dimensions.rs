//! Dimensions and their values: ids of at most `limits::DIM_VALUE_ID` characters, at most
//! `limits::DIM_VALUES` values.

use std::collections::HashSet;

use uuid::Uuid;

use super::{Store, limits, not_found};
use crate::error::{ApiError, ApiResult};
use crate::input::char_len;
use crate::model::*;

impl Store {
    pub fn create_dimension(
        &mut self,
        program: &str,
        name: Option<String>,
        active: bool,
        values: Vec<DimValue>,
    ) -> ApiResult<Dimension> {
        let seq = self.next_seq();
        let p = self.program_mut(program)?;
        let d = Dimension::new(Uuid::new_v4(), seq, name, active, values);
        p.dimensions.push(d.clone());
        Ok(d)
    }

    pub fn dimension_mut<'a>(p: &'a mut Program, id: &str) -> ApiResult<&'a mut Dimension> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("dimension", id))?;
        p.dimensions
            .iter_mut()
            .find(|d| d.id == uid)
            .ok_or_else(|| not_found("dimension", id))
    }

    /// Replaces a dimension's values. A value id that metric values still use may not be
    /// removed (deactivate it instead), so no stored value points at a missing id.
    pub fn replace_dimension_values(
        &mut self,
        program: &str,
        dimension: &str,
        values: Vec<DimValue>,
    ) -> ApiResult<Dimension> {
        let p = self.program(program)?;
        let dim_id = Uuid::try_parse(dimension)
            .ok()
            .filter(|u| p.dimension(*u).is_some())
            .ok_or_else(|| not_found("dimension", dimension))?;
        let keep: HashSet<&str> = values.iter().map(|v| v.id.as_str()).collect();
        let metrics: Vec<Uuid> = p
            .metrics
            .iter()
            .filter(|m| m.allowed_dimensions.contains(&dim_id))
            .map(|m| m.id)
            .collect();
        for m in metrics {
            if let Some(mv) = self.values.get(&m) {
                for v in mv.slab.iter().flatten() {
                    for (d, dv) in &v.key.coords {
                        if *d == dim_id && !keep.contains(dv.as_str()) {
                            return Err(ApiError::conflict(format!(
                                "Dimension value `{dv}` is used by metric values; deactivate it (\"active\": false) instead of removing it"
                            ))
                            .with_target("/values"));
                        }
                    }
                }
            }
        }
        let p = self.program_mut(program)?;
        let d = Self::dimension_mut(p, dimension)?;
        d.set_values(values);
        Ok(d.clone())
    }
}

/// Checks the form of a dimension's values list.
pub fn check_dim_values(values: &[DimValue], target: &str) -> ApiResult<()> {
    if values.is_empty() || values.len() > limits::DIM_VALUES {
        return Err(ApiError::invalid(
            target,
            format!(
                "A dimension has from 1 to {} values; this one has {}",
                limits::DIM_VALUES,
                values.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    for (i, v) in values.iter().enumerate() {
        if !seen.insert(v.id.as_str()) {
            return Err(ApiError::invalid(
                format!("{target}[{i}].id"),
                format!("Dimension value id `{}` is listed twice", v.id),
            ));
        }
        if char_len(&v.id) > limits::DIM_VALUE_ID {
            return Err(ApiError::invalid(
                format!("{target}[{i}].id"),
                format!(
                    "Dimension value id `{}` is {} characters; Workiva allows {}",
                    v.id,
                    char_len(&v.id),
                    limits::DIM_VALUE_ID
                ),
            ));
        }
    }
    Ok(())
}

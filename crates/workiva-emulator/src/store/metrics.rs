//! Metrics: data types, allowed dimensions, topic, tags; data type changes while values exist
//! are refused.

use uuid::Uuid;

use super::{NewMetric, Store, not_found};
use crate::error::{ApiError, ApiResult};
use crate::model::*;

impl Store {
    pub fn metric_ids(&self, program: &str, metric: &str) -> ApiResult<(Uuid, Uuid)> {
        let p = self.program(program)?;
        let mid = Uuid::try_parse(metric)
            .ok()
            .filter(|u| p.metric(*u).is_some())
            .ok_or_else(|| not_found("metric", metric))?;
        Ok((p.id, mid))
    }

    pub fn metric(&self, program: &str, metric: &str) -> ApiResult<&Metric> {
        let (pid, mid) = self.metric_ids(program, metric)?;
        Ok(self.program_by_id(pid).metric(mid).expect("checked"))
    }

    pub(super) fn program_by_id(&self, id: Uuid) -> &Program {
        self.programs
            .iter()
            .find(|p| p.id == id)
            .expect("program id checked")
    }

    pub fn metric_mut<'a>(p: &'a mut Program, id: &str) -> ApiResult<&'a mut Metric> {
        let uid = Uuid::try_parse(id).map_err(|_| not_found("metric", id))?;
        p.metrics
            .iter_mut()
            .find(|m| m.id == uid)
            .ok_or_else(|| not_found("metric", id))
    }

    pub fn check_metric_topic(p: &Program, topic: Option<&str>) -> ApiResult<Option<Uuid>> {
        match topic {
            None => Ok(None),
            Some(t) => Uuid::try_parse(t)
                .ok()
                .filter(|u| p.topic(*u).is_some())
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "topic",
                        format!("No topic with id `{t}` exists in this program"),
                    )
                }),
        }
    }

    pub fn create_metric(&mut self, program: &str, m: NewMetric) -> ApiResult<Metric> {
        let seq = self.next_seq();
        let p = self.program_mut(program)?;
        let topic = Self::check_metric_topic(p, m.topic.as_deref())?;
        let mut dims = Vec::new();
        for (i, d) in m.allowed_dimensions.iter().enumerate() {
            let target = format!("allowedDimensions[{i}]");
            let dim = Uuid::try_parse(d)
                .ok()
                .and_then(|u| p.dimension(u))
                .ok_or_else(|| {
                    ApiError::invalid(
                        &target,
                        format!("No dimension with id `{d}` exists in this program"),
                    )
                })?;
            if !dim.active {
                return Err(ApiError::invalid(
                    &target,
                    format!(
                        "Dimension `{d}` is inactive; an inactive dimension cannot be used in new metrics"
                    ),
                ));
            }
            if dims.contains(&dim.id) {
                return Err(ApiError::invalid(
                    &target,
                    format!("Dimension `{d}` is listed twice"),
                ));
            }
            dims.push(dim.id);
        }
        let code = match m.code {
            Some(c) => {
                if p.metrics.iter().any(|x| x.code == c) {
                    return Err(ApiError::conflict(format!(
                        "Metric code {c} is already used in this program; codes are unique"
                    ))
                    .with_target("code"));
                }
                c
            }
            None => p.metrics.iter().map(|x| x.code).max().unwrap_or(0) + 1,
        };
        let index = m
            .index
            .unwrap_or_else(|| p.metrics.iter().map(|x| x.index + 1).max().unwrap_or(0));
        let metric = Metric {
            id: Uuid::new_v4(),
            seq,
            name: m.name,
            data_type: m.data_type.unwrap_or(DataType::Text),
            unit: m.unit,
            description: m.description,
            topic,
            index,
            code,
            allowed_dimensions: dims,
            require_notes: m.require_notes,
            require_supporting_attachments: m.require_supporting_attachments,
            tags: m.tags,
            framework_references: m.framework_references,
        };
        let id = metric.id;
        p.metrics.push(metric.clone());
        self.values.insert(id, MetricValues::default());
        Ok(metric)
    }

    /// Changes a metric's data type; refused while stored values would not fit the new type.
    pub fn set_metric_datatype(
        &mut self,
        program: &str,
        metric: &str,
        dt: DataType,
    ) -> ApiResult<Metric> {
        let (_, mid) = self.metric_ids(program, metric)?;
        if let Some(mv) = self.values.get(&mid)
            && let Some(bad) = mv
                .slab
                .iter()
                .flatten()
                .find(|v| dt.check(&v.value).is_err())
        {
            return Err(ApiError::conflict(format!(
                "Value `{}` of this metric is not a valid {}; change or delete such values first",
                bad.value,
                dt.as_str()
            ))
            .with_target("/datatype"));
        }
        let p = self.program_mut(program)?;
        let m = Self::metric_mut(p, metric)?;
        m.data_type = dt;
        Ok(m.clone())
    }

    /// Deletes a metric and all of its values.
    pub fn delete_metric(&mut self, program: &str, metric: &str) -> ApiResult<()> {
        let (_, mid) = self.metric_ids(program, metric)?;
        let p = self.program_mut(program)?;
        p.metrics.retain(|m| m.id != mid);
        self.values.remove(&mid);
        for t in &mut self.tasks {
            t.values.retain(|v| v.metric != mid);
        }
        Ok(())
    }
}

//! Dimension values: the lake's new values are added to their dimensions before any value
//! that uses them is sent.
//!
//! Pipelines that share a dimension may add values to it at the same time. Each addition is
//! one JSON Patch that tests `/values` as read and replaces them: if another writer changed
//! them in between, the test fails (409), nothing changes, and the dimension is read again.

use std::time::Duration;

use super::error::RunError;
use super::plan::{NewValues, Plan};
use crate::workiva::models::DimensionValue;
use crate::workiva::{WorkivaClient, WorkivaError};

/// Attempts per dimension while other writers keep changing its values under us.
const ATTEMPTS: u32 = 5;

/// `create_dimension_values`: adds the plan's new values to their dimensions (per dimension,
/// one JSON Patch of `/values`: a `test` of the whole list as Workiva holds it now, then its
/// `replace` by that list plus the new ones, active, named by their id), before any value that
/// uses them is sent.
pub async fn add_dimension_values(client: &WorkivaClient, plan: &Plan) -> Result<(), RunError> {
    let pid = plan.program_id.as_str();
    for nv in &plan.new_dimension_values {
        add_to_dimension(client, pid, nv)
            .await
            .map_err(|error| RunError::DimensionValues {
                dimension: nv.name.clone(),
                values: nv
                    .values
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                error,
            })?;
    }
    Ok(())
}

/// Adds one dimension's new values: read, then test and replace in one patch; when the test
/// fails because another writer got there first, read again after a short jittered pause, at
/// most [`ATTEMPTS`] times in all.
async fn add_to_dimension(
    client: &WorkivaClient,
    pid: &str,
    nv: &NewValues,
) -> Result<(), WorkivaError> {
    let dim = nv.dimension.as_str();
    let mut attempt = 1;
    loop {
        let current = client.dimension(pid, dim).await?;
        let listed = current.values.unwrap_or_default();
        let list = with_new(&listed, nv);
        let added = list.len() - listed.len();
        if added == 0 {
            return Ok(());
        }
        let (expected, new) = (to_json(&listed), to_json(&list));
        match client
            .patch_dimension_values_tested(pid, dim, expected, new)
            .await
        {
            Ok(_) => {
                tracing::info!(dimension = %current.name.unwrap_or_default(), added, "Added the lake's new values to a dimension.");
                return Ok(());
            }
            Err(e) if is_failed_test(&e) && attempt < ATTEMPTS => {
                tracing::info!(dimension = %nv.name, attempt, "Another writer changed the dimension's values since we read them; reading them again.");
                let pause = 50 * u64::from(attempt) + fastrand::u64(0..100);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The listed values plus those of `nv` they lack (active, named by their id), in order.
fn with_new(listed: &[DimensionValue], nv: &NewValues) -> Vec<DimensionValue> {
    let mut list = listed.to_vec();
    for v in &nv.values {
        if !list.iter().any(|x| x.id == v.as_str()) {
            list.push(DimensionValue {
                id: v.to_string(),
                name: None,
                active: None,
            });
        }
    }
    list
}

fn to_json(values: &[DimensionValue]) -> serde_json::Value {
    serde_json::to_value(values).expect("dimension values serialize")
}

/// Whether Workiva refused the patch because its `test` of `/values` failed (a 409 whose
/// target is `/values` and whose message says so, as the emulator answers), not for another
/// conflict, such as removing a value that metric values use (a 409 on `/values` too).
fn is_failed_test(e: &WorkivaError) -> bool {
    matches!(e.last(), WorkivaError::Api(a)
        if a.status == 409
            && a.code == "409Conflict"
            && a.target.as_deref() == Some("/values")
            && a.message.starts_with("test failed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workiva::ApiFailure;

    fn api(status: u16, target: &str, message: &str) -> WorkivaError {
        WorkivaError::Api(Box::new(ApiFailure {
            status,
            code: format!("{status}Conflict"),
            message: message.into(),
            target: Some(target.into()),
            details: Vec::new(),
            method: "PATCH".into(),
            path: "/programs/{programId}/dimensions/{dimensionId}".into(),
            retry_after: None,
        }))
    }

    #[test]
    fn only_a_failed_test_of_values_is_retried() {
        let failed = "test failed: /values is [] , not [{\"id\":\"A\"}]; nothing was changed";
        assert!(is_failed_test(&api(409, "/values", failed)));
        let retried = WorkivaError::RetriesExhausted {
            attempts: 2,
            server_waits: 0,
            elapsed: Duration::ZERO,
            last: Box::new(api(409, "/values", failed)),
            earlier_may_have_reached: true,
        };
        assert!(is_failed_test(&retried), "the answer to a retried patch");
        let in_use = "Dimension value `A` is used by metric values; deactivate it (\"active\": false) instead of removing it";
        assert!(!is_failed_test(&api(409, "/values", in_use)));
        assert!(!is_failed_test(&api(409, "/name", failed)));
        assert!(!is_failed_test(&api(400, "/values", failed)));
    }

    #[test]
    fn new_values_are_appended_once() {
        let listed = vec![DimensionValue {
            id: "A".into(),
            name: Some("Site A".into()),
            active: Some(true),
        }];
        let nv = NewValues {
            values: ["A", "B", "C"]
                .into_iter()
                .map(super::super::ids::DimensionValueId::new)
                .collect(),
            ..NewValues::default()
        };
        let ids: Vec<_> = with_new(&listed, &nv).into_iter().map(|v| v.id).collect();
        assert_eq!(ids, ["A", "B", "C"]);
    }
}

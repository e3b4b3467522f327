//! A program with tasks awaiting approval, for the automated reviewer.

use reqwest::Method;
use serde_json::json;

use crate::support::admin;
use crate::support::env::SyncEnv;

/// A program whose 2025 values differ in support, and three tasks awaiting approval: `good`
/// (supported, within 10%), `bad` (a value without notes, one beyond 10%) and `other` (its
/// step is someone else's).
pub(crate) async fn setup(e: &SyncEnv) -> (String, String, String) {
    let seed: esg_sync::emulator::Seed = serde_json::from_value(json!({
        "programs": [{
            "name": "Review Program",
            "dimensions": [{"name": "Facility", "values": [{"id": "A"}, {"id": "B"}, {"id": "C"}]}],
            "metrics": [{"name": "Scope 1", "dataType": "number", "allowedDimensions": ["Facility"], "values": [
                {"reportingPeriod": {"year": 2024, "start": 1, "end": 12}, "coordinates": {"Facility": "A"}, "value": "100"},
                {"reportingPeriod": {"year": 2024, "start": 1, "end": 12}, "coordinates": {"Facility": "B"}, "value": "100"},
                {"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {"Facility": "A"}, "value": "105",
                 "notes": "metered", "supportingAttachments": [{"id": "F1", "fileName": "meter.pdf"}]},
                {"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {"Facility": "B"}, "value": "150",
                 "supportingAttachments": [{"id": "F2", "fileName": "invoice.pdf"}]},
                {"reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {"Facility": "C"}, "value": "7",
                 "notes": "estimate", "supportingAttachments": [{"id": "F3"}]}
            ]}]
        }]
    }))
    .unwrap();
    e.env.emu.seed(&seed).unwrap();
    let mut ids = Vec::new();
    for (title, facility, approver) in [
        ("good", "A", "U-bot"),
        ("bad", "B", "U-bot"),
        ("other", "C", "U-someone"),
    ] {
        let (s, t) = admin(&e.env.api, Method::POST, "/_emulator/tasks", Some(json!({
            "title": title, "program": "Review Program",
            "approvalSteps": [{"participants": [{"id": "U-first", "type": "USER"}]},
                              {"participants": [{"id": approver, "type": "USER"}]}],
            "values": [{"metric": "Scope 1", "reportingPeriod": {"year": 2025, "start": 1, "end": 12}, "coordinates": {"Facility": facility}}]
        })))
        .await;
        assert_eq!(s, 201, "{t}");
        let id = t["id"].as_str().unwrap().to_string();
        // Submitted, and approved by the first step's person: the reviewer is the second.
        for action in ["SUBMIT", "APPROVE"] {
            let r = e
                .env
                .api
                .post(
                    &format!("/tasks/{id}/actionSubmission"),
                    json!({"action": action}),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
        ids.push(id);
    }
    (ids[0].clone(), ids[1].clone(), ids[2].clone())
}

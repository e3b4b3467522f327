//! The emulated tenant the scale benchmarks share: one program `Scale` with a `Facility`
//! dimension of `sites` values (`SITE-00000`, ...) and `metrics` number metrics (`Metric 000`,
//! ...), whose operations finish at once, so what is timed is esg-sync's work and the
//! emulator's, never a modelled wait.

use esg_sync::emulator::config::OperationTiming;
use esg_sync::emulator::model::{Period, UpsertItem};
use esg_sync::emulator::{Emulator, EmulatorConfig, Seed, StartOptions};
use serde_json::json;

pub struct Tenant {
    pub emu: Emulator,
    pub program: uuid::Uuid,
    pub facility: uuid::Uuid,
    pub metric_ids: Vec<uuid::Uuid>,
}

/// The `i`-th site's dimension value.
pub fn site(i: usize) -> String {
    format!("SITE-{i:05}")
}

/// Starts the emulator in-process and seeds the program.
pub async fn start(metrics: usize, sites: usize) -> Tenant {
    let mut config = EmulatorConfig::default();
    config.settings.operations = OperationTiming {
        queued_ms: 0,
        base_ms: 0,
        per_value_us: 0,
        retry_after_secs: 0,
    };
    let emu = Emulator::start(config, StartOptions::default())
        .await
        .expect("the emulator starts");
    let sites: Vec<_> = (0..sites).map(|i| json!({ "id": site(i) })).collect();
    let metric_list: Vec<_> = (0..metrics)
        .map(|m| json!({"name": format!("Metric {m:03}"), "dataType": "number", "allowedDimensions": ["Facility"]}))
        .collect();
    let seed: Seed = serde_json::from_value(json!({"programs": [{
        "name": "Scale", "dimensions": [{"name": "Facility", "values": sites}], "metrics": metric_list
    }]}))
    .expect("the seed reads");
    let summary = emu.seed(&seed).expect("the seed loads");
    let program = &summary["programs"][0];
    let id = |v: &serde_json::Value| uuid::Uuid::parse_str(v.as_str().unwrap()).unwrap();
    Tenant {
        program: id(&program["id"]),
        facility: id(&program["dimensions"]["Facility"]),
        metric_ids: (0..metrics)
            .map(|m| id(&program["metrics"][format!("Metric {m:03}")]))
            .collect(),
        emu,
    }
}

impl Tenant {
    /// Loads `years` x `sites` yearly values (years from 2000) into every metric, through the
    /// emulator store's own all-or-nothing upsert path; `value(i)` is each metric's `i`-th.
    pub fn load(&self, years: usize, sites: usize, value: impl Fn(usize) -> String) {
        let facility = self.facility.to_string();
        self.emu.with_store_advanced(|st| {
            for mid in &self.metric_ids {
                let items: Vec<UpsertItem> = (0..years * sites)
                    .map(|i| UpsertItem {
                        id: None,
                        period: Some(Period {
                            year: 2000 + (i / sites) as u16,
                            start: 1,
                            end: 12,
                        }),
                        coords: vec![(facility.clone(), site(i % sites))],
                        value: Some(value(i)),
                        status: None,
                        notes: None,
                        task: None,
                        data_source: None,
                        fields_to_clear: Vec::new(),
                    })
                    .collect();
                st.upsert_all(self.program, *mid, &items, "data")
                    .expect("the values load");
            }
        });
    }
}

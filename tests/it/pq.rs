//! The demo's sample data, written with `support::pq`.

use std::path::Path;

use crate::support::pq::*;

/// Regenerates the demo's sample data: `cargo test --test it -- --ignored make_demo_data`.
#[test]
#[ignore]
fn make_demo_data() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/data");
    std::fs::create_dir_all(&dir).unwrap();
    let sites = ["Ames", "Portland", "Berlin", "Singapore"];
    let mut metric = Vec::new();
    let mut period = Vec::new();
    let mut facility = Vec::new();
    let mut value = Vec::new();
    let mut notes = Vec::new();
    for (mi, (key, base)) in [
        ("scope1_tco2e", 1000.0),
        ("scope2_tco2e", 640.0),
        ("energy_mwh", 5200.0),
        ("water_ml", 81.5),
    ]
    .iter()
    .enumerate()
    {
        for (si, site) in sites.iter().enumerate() {
            for q in 1..=4 {
                metric.push(Some(key.to_string()));
                period.push(Some(format!("2025-Q{q}")));
                facility.push(Some(site.to_string()));
                let v = base * (1.0 + si as f64 * 0.35) * (0.9 + q as f64 * 0.05) + mi as f64;
                value.push(Some((v * 100.0).round() / 100.0));
                notes.push(Some(format!("Data lake extract, {site} {key} 2025-Q{q}")));
            }
        }
    }
    write(
        &dir.join("facility_metrics_2025.parquet"),
        vec![
            ("metric", Col::Str(metric)),
            ("period", Col::Str(period)),
            ("facility", Col::Str(facility)),
            ("value", Col::F64(value)),
            ("notes", Col::Str(notes)),
        ],
    );
    let bus = ["NA", "EU", "APAC"];
    let genders = ["F", "M", "X"];
    let (mut year, mut bu, mut gender, mut headcount) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for y in [2024i64, 2025] {
        for (bi, b) in bus.iter().enumerate() {
            for (gi, g) in genders.iter().enumerate() {
                year.push(Some(y));
                bu.push(Some(b.to_string()));
                gender.push(Some(g.to_string()));
                headcount.push(Some(
                    ((400 + bi * 250) as f64 * [0.47, 0.5, 0.03][gi] + (y - 2024) as f64 * 12.0)
                        .round(),
                ));
            }
        }
    }
    write(
        &dir.join("workforce.parquet"),
        vec![
            ("year", Col::I64(year)),
            ("business_unit", Col::Str(bu)),
            ("gender", Col::Str(gender)),
            ("headcount", Col::F64(headcount)),
        ],
    );
}

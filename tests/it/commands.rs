//! The sync commands through the binary: exit codes, summaries, runs, rejects, plan, validate,
//! and the README's demo command.

use crate::support::env::{sync_env, write_rows};
use crate::support::pipeline::{ConfigToml, PipelineToml};

async fn esg(args: Vec<String>, envs: Vec<(&'static str, String)>) -> (i32, String, String) {
    let r = crate::support::run_esg(args, envs).await;
    (r.code.unwrap_or(-1), r.stdout, r.stderr)
}

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_demo_runs_and_a_second_run_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let envs = || {
        vec![
            (
                "ESG_SYNC__STORE__URL",
                format!("sqlite://{}/demo.db", dir.path().display()),
            ),
            (
                "ESG_SYNC__EMULATOR__STATE_FILE",
                format!("{}/tenant.json", dir.path().display()),
            ),
        ]
    };
    let (code, out, err) = esg(v(&["--run-now", "--config", "config/demo.toml"]), envs()).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("pipeline facility-metrics: succeeded")
            && out.contains("pipeline workforce: succeeded"),
        "{out}"
    );
    assert!(
        out.contains("rows read: 64; batches sent: 4")
            && out.contains("rows read: 18; batches sent: 1"),
        "{out}"
    );
    let (code, out, err) = esg(v(&["run-now", "--config", "config/demo.toml"]), envs()).await;
    assert_eq!(code, 0, "{err}");
    // The emulated tenant kept its ids: the cached program id still holds.
    assert!(!err.contains("is gone from Workiva"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let tenant = dir.path().join("tenant.json");
        let mode = std::fs::metadata(&tenant).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the emulated tenant is private to its user");
    }
    assert!(
        out.contains("batches sent: 0")
            && !out.contains("batches sent: 1")
            && !out.contains("batches sent: 4"),
        "the second run sends nothing: {out}"
    );
    let (code, out, _) = esg(v(&["runs", "--config", "config/demo.toml"]), envs()).await;
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().filter(|l| l.contains("succeeded")).count(),
        4,
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_runs_rejects_plan_and_validate() {
    let e = sync_env().await;
    write_rows(
        &e.file("data.parquet"),
        &[
            ("ghg", "2025-Q1", "A", "", "1", ""),
            ("ghg", "2025-Q2", "A", "", "two", ""),
            ("nope", "2025", "A", "", "1", ""),
        ],
    );
    let cfg = e.file("esg-sync.toml");
    let text = ConfigToml::new(
        &e.env.emu.base_url(),
        &format!("sqlite://{}/cli.db", e.dir.path().display()),
    )
    .workiva("poll_min_ms", "5")
    .pipeline(PipelineToml::new(
        "p",
        "Test Program",
        &e.file("data.parquet"),
    ))
    .toml();
    std::fs::write(&cfg, &text).unwrap();
    let c = cfg.display().to_string();
    let env = || vec![("ESG_SYNC_TEST_SECRET", "demo-secret".to_string())];

    let (code, out, _) = esg(v(&["plan", "--config", &c, "--output", "json"]), env()).await;
    assert_eq!(code, 2, "a plan with rejects is partial");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan[0]["metrics"][0]["creates"], 1);
    assert_eq!(plan[0]["counts"]["rejected"], 2);
    assert!(
        e.workiva(&e.env.ids.num).await.is_empty(),
        "plan writes nothing"
    );

    let (code, out, _) = esg(v(&["run-now", "--config", &c]), env()).await;
    assert_eq!(code, 2, "partial: {out}");
    assert!(
        out.contains("2 rows rejected") && out.contains("esg-sync rejects --run 1"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("(rejected before the diff)") && l.trim_end().ends_with(" 2")),
        "the reject column adds up to the total: {out}"
    );
    let (code, out, _) = esg(v(&["rejects", "--config", &c]), env()).await;
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "run,source_file,source_row,field,reason,metric_key,period,value"
    );
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",2,value,") && l.contains("not a number")),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.contains(",3,metric,")), "{out}");
    let (_, out, _) = esg(
        v(&["rejects", "--config", &c, "--run", "1", "--output", "json"]),
        env(),
    )
    .await;
    let rj: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rj.as_array().unwrap().len(), 2);
    let (code, _, err) = esg(v(&["rejects", "--config", &c, "--run", "42"]), env()).await;
    assert_eq!(code, 1);
    assert!(err.contains("no run 42"), "{err}");
    let (_, out, _) = esg(v(&["runs", "--config", &c, "--output", "json"]), env()).await;
    let runs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(runs[0]["status"], "partial");
    assert_eq!(runs[0]["counts"]["created"], 1);

    // Validate reports every problem, not the first.
    let (code, out, _) = esg(v(&["validate", "--config", &c]), env()).await;
    assert_eq!(code, 0, "{out}");
    let broken = text.replace("ghg = \"Num\"", "ghg = \"Nope\"").replace(
        &e.file("data.parquet").display().to_string(),
        "/no/such/*.parquet",
    );
    std::fs::write(&cfg, broken).unwrap();
    let (code, out, _) = esg(v(&["validate", "--config", &c]), env()).await;
    assert_eq!(code, 1);
    assert!(
        out.contains("matches no file")
            && out.contains("`Nope` is not a metric")
            && out.contains("2 problems found"),
        "{out}"
    );
    // A run that cannot even start fails with 1.
    let (code, out, _) = esg(v(&["run-now", "--config", &c]), env()).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("failed") && out.contains("matches no file"),
        "{out}"
    );
    let (code, _, err) = esg(
        v(&["run-now", "--config", &c, "--pipeline", "other"]),
        env(),
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("no pipeline is named `other`"), "{err}");
}

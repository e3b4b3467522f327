//! `esg-sync evidence`: the pack for one year holds Workiva's values with the ledger entry
//! behind each (or none), the year's entries, rejects and reviews, the configuration, a
//! manifest and a README; `evidence verify` and `sha256sum -c` pass, and fail once one byte of
//! one file changes, or once an entry is altered and the manifest rewritten to match.

use esg_sync::sync::RunOptions;
use sha2::Digest;

use crate::support::env::{SyncEnv, sync_env, write_rows};
use crate::support::pipeline::ConfigToml;
use crate::support::run_esg;

fn secret() -> Vec<(&'static str, String)> {
    vec![("ESG_SYNC_TEST_SECRET", "demo-secret".into())]
}

async fn esg(args: &[&str]) -> crate::support::Ran {
    run_esg(args.iter().map(|s| s.to_string()).collect(), secret()).await
}

/// Two runs of the standard pipeline: 2024 created then one value updated, a bad row
/// rejected; a 2023 value that is not the year's.
async fn history(e: &SyncEnv) {
    let data = e.file("data.parquet");
    write_rows(
        &data,
        &[
            ("ghg", "2024", "A", "", "10", "metered"),
            ("share", "2024", "", "", "45", ""),
            ("ghg", "2023", "A", "", "9", ""),
        ],
    );
    let p = e.pipeline("");
    assert_eq!(e.run(&p, RunOptions::default()).await.counts.created, 3);
    write_rows(
        &data,
        &[
            ("ghg", "2024", "A", "", "11", "metered"),
            ("share", "2024", "", "", "45", ""),
            ("ghg", "2023", "A", "", "9", ""),
            ("ghg", "2024", "A", "", "not a number", ""),
        ],
    );
    let r = e.run(&p, RunOptions::default()).await;
    assert_eq!((r.counts.updated, r.counts.rejected), (1, 1), "{r:?}");
}

fn rows(dir: &std::path::Path, name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    esg_sync::evidence::csv::parse(&text).unwrap()
}

fn col(table: &[Vec<String>], name: &str) -> usize {
    table[0].iter().position(|h| h == name).unwrap()
}

#[tokio::test]
async fn the_pack_holds_the_year_and_verifies_until_a_byte_changes() {
    let e = sync_env().await;
    history(&e).await;
    let cfg = ConfigToml::new(
        &e.env.emu.base_url(),
        &format!("sqlite://{}", e.file("state.db").display()),
    )
    .pipeline(e.standard(&e.file("data.parquet")))
    .write(e.file("evidence.toml"));
    let dir = e.file("pack");
    let (cfg, out) = (cfg.display().to_string(), dir.display().to_string());
    let made = esg(&[
        "evidence",
        "--config",
        &cfg,
        "--pipeline",
        "test",
        "--year",
        "2024",
        "--out",
        &out,
    ])
    .await;
    assert_eq!(made.code, Some(0), "{}\n{}", made.stdout, made.stderr);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "MANIFEST.sha256",
            "README.txt",
            "config.toml",
            "decisions.csv",
            "ledger.csv",
            "ledger.parquet",
            "rejects.csv",
            "reviews.csv",
            "values.csv",
            "values.parquet",
        ]
    );

    // The values of 2024, each with its last entry; the ledger's entries of 2024 only.
    let values = rows(&dir, "values.csv");
    assert_eq!(values.len(), 3, "a header and two values: {values:?}");
    let ghg = values
        .iter()
        .find(|r| r[col(&values, "metric_key")] == "ghg")
        .unwrap();
    assert_eq!(ghg[col(&values, "value")], "11");
    assert_eq!(ghg[col(&values, "written_by_esg_sync")], "yes");
    assert_eq!(ghg[col(&values, "as_written")], "yes");
    assert_eq!(ghg[col(&values, "ledger_action")], "update");
    assert!(ghg[col(&values, "ledger_source")].ends_with("data.parquet"));
    let ledger = rows(&dir, "ledger.csv");
    assert_eq!(
        ledger.len(),
        4,
        "create, create, update of 2024: {ledger:?}"
    );
    assert!(
        ledger[1..]
            .iter()
            .all(|r| r[col(&ledger, "year")] == "2024")
    );
    let version = &ledger[1][col(&ledger, "version")];
    assert!(version.contains("\"sha256\""), "{version}");
    let rejects = rows(&dir, "rejects.csv");
    assert_eq!(
        rejects.len(),
        2,
        "the 2024 row that did not read: {rejects:?}"
    );
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("name = \"test\""), "{config}");
    let readme = std::fs::read_to_string(dir.join("README.txt")).unwrap();
    assert!(readme.contains("sha256sum -c MANIFEST.sha256") && readme.contains("Year: 2024"));
    for name in &names {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert!(
            !bytes.windows(11).any(|w| w == b"demo-secret"),
            "{name} holds the client secret"
        );
    }

    let verify = || {
        run_esg(
            vec!["evidence".into(), "verify".into(), out.clone()],
            secret(),
        )
    };
    let ok = verify().await;
    assert_eq!(ok.code, Some(0), "{}\n{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout.contains("9 files") && ok.stdout.contains("3 ledger entries"),
        "{}",
        ok.stdout
    );
    if let Ok(sum) = std::process::Command::new("sha256sum")
        .args(["-c", "MANIFEST.sha256"])
        .current_dir(&dir)
        .output()
    {
        assert!(
            sum.status.success(),
            "{}",
            String::from_utf8_lossy(&sum.stdout)
        );
    }

    // By program: every metric of it, and the rejects of each pipeline writing to it.
    let by_program = e.file("pack-program").display().to_string();
    let made = esg(&[
        "evidence",
        "--config",
        &cfg,
        "--program",
        "Test Program",
        "--year",
        "2024",
        "--out",
        &by_program,
    ])
    .await;
    assert_eq!(made.code, Some(0), "{}\n{}", made.stdout, made.stderr);
    let program_dir = std::path::Path::new(&by_program);
    assert_eq!(
        rows(program_dir, "values.csv").len(),
        3,
        "the same two values"
    );
    assert_eq!(rows(program_dir, "ledger.csv").len(), 4);
    assert_eq!(
        rows(program_dir, "rejects.csv").len(),
        2,
        "pipeline test writes to it"
    );
    let checked = run_esg(
        vec!["evidence".into(), "verify".into(), by_program.clone()],
        secret(),
    )
    .await;
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);

    // One byte of one file: named.
    let path = dir.join("values.parquet");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let bad = verify().await;
    assert_eq!(bad.code, Some(1), "{}", bad.stdout);
    assert!(
        bad.stderr
            .contains("values.parquet does not match its SHA-256"),
        "{}",
        bad.stderr
    );
    bytes[mid] ^= 1;
    std::fs::write(&path, &bytes).unwrap();

    // An entry's value altered in ledger.csv, the manifest rewritten to match: the chain says.
    let ledger_path = dir.join("ledger.csv");
    let text = std::fs::read_to_string(&ledger_path).unwrap();
    let altered = text.replacen("\"\"value\"\":\"\"11\"\"", "\"\"value\"\":\"\"12\"\"", 1);
    assert_ne!(altered, text);
    std::fs::write(&ledger_path, &altered).unwrap();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.sha256")).unwrap();
    let new_sha = esg_sync::ledger::hex(&sha2::Sha256::digest(altered.as_bytes()));
    let manifest: String = manifest
        .lines()
        .map(|l| {
            if l.ends_with("  ledger.csv") {
                format!("{new_sha}  ledger.csv\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(dir.join("MANIFEST.sha256"), manifest).unwrap();
    let forged = verify().await;
    assert_eq!(forged.code, Some(1), "{}", forged.stdout);
    assert!(
        forged.stderr.contains("was changed after it was written"),
        "{}",
        forged.stderr
    );

    // A pack is never written over other files.
    let again = esg(&[
        "evidence",
        "--config",
        &cfg,
        "--pipeline",
        "test",
        "--year",
        "2024",
        "--out",
        &out,
    ])
    .await;
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);
}

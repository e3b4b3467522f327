//! The sync commands: `run-now` (also `--run-now`), `plan`, `validate`, `runs`, `rejects`;
//! `catalog` in `commands/catalog.rs`.

pub mod alerts;
pub mod catalog;
pub mod review;
pub mod store;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{PipelineConfig, Settings};
use crate::emulator::{Emulator, EmulatorConfig, Seed, StartOptions};
use crate::store::Store;
use crate::sync::{self, Report, RunOptions, Status};
use crate::workiva::WorkivaClient;

/// Exit status of a run: 0 succeeded, 2 partial, 1 failed or interrupted.
pub fn exit_code(reports: &[Report]) -> ExitCode {
    if reports.iter().any(|r| {
        matches!(
            r.status,
            Status::Failed | Status::Interrupted | Status::Busy
        )
    }) {
        ExitCode::from(1)
    } else if reports.iter().any(|r| r.status == Status::Partial) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// An emulator started in process because the config says so, with its tenant loaded from
/// (and saved back to) `state_file`.
pub struct Embedded {
    emu: Emulator,
    state_file: Option<PathBuf>,
}

impl Embedded {
    pub async fn save(self) -> anyhow::Result<()> {
        if let Some(f) = &self.state_file {
            let text = serde_json::to_string_pretty(&self.emu.export())?;
            // Written whole to a private temporary file, then renamed over the old one: a
            // crash never leaves half a tenant, and the file is this user's only (0600).
            let tmp = f.with_extension("json.tmp");
            let _ = std::fs::remove_file(&tmp);
            let saved = crate::outcome::private_file(&tmp)
                .and_then(|()| std::fs::write(&tmp, text))
                .and_then(|()| std::fs::rename(&tmp, f));
            saved.map_err(|e| {
                anyhow::anyhow!("cannot save the emulated tenant to {}: {e}", f.display())
            })?;
        }
        self.emu.shutdown().await;
        Ok(())
    }
}

/// Starts the embedded emulator when `[emulator] embedded = true` and points `[workiva]` at it.
pub async fn embedded_emulator(settings: &mut Settings) -> anyhow::Result<Option<Embedded>> {
    let e = settings.emulator.clone();
    if !e.embedded {
        return Ok(None);
    }
    let seed = match e.state_file.as_deref().filter(|f| f.exists()) {
        Some(f) => Seed::from_file(f)?,
        None => Seed::build(e.demo, e.seed.as_deref())?,
    };
    let emu = Emulator::start(
        EmulatorConfig::default(),
        StartOptions {
            admin: false,
            seed: Some(seed),
            ..StartOptions::default()
        },
    )
    .await?;
    tracing::info!(url = %emu.base_url(), "Started the embedded Workiva emulator.");
    settings.workiva.base_url = Some(emu.base_url());
    settings.workiva.token_url = None;
    if settings.workiva.client_id.is_empty() {
        settings.workiva.client_id = "demo".into();
    }
    if settings.workiva.client_secret.is_none() && settings.workiva.client_secret_file.is_none() {
        settings.workiva.provided_secret = Some(secrecy::SecretString::from("demo-secret"));
    }
    Ok(Some(Embedded {
        emu,
        state_file: e.state_file,
    }))
}

fn selected<'a>(
    settings: &'a Settings,
    name: Option<&str>,
) -> anyhow::Result<Vec<&'a PipelineConfig>> {
    if settings.pipelines.is_empty() {
        anyhow::bail!("the configuration has no [[pipeline]]; see config/example.toml");
    }
    match name {
        None => Ok(settings.pipelines.iter().collect()),
        Some(n) => match settings.pipelines.iter().find(|p| p.name == n) {
            Some(p) => Ok(vec![p]),
            None => anyhow::bail!(
                "no pipeline is named `{n}`; the configuration has: {}",
                settings
                    .pipelines
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

/// Parses `2024..2025` or `2025`.
pub fn parse_years(s: &str) -> anyhow::Result<(u16, u16)> {
    let bad = || anyhow::anyhow!("--years `{s}`: use a year (2025) or a range (2024..2025)");
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (
            a.trim().parse::<u16>().map_err(|_| bad())?,
            b.trim()
                .trim_start_matches('=')
                .parse::<u16>()
                .map_err(|_| bad())?,
        ),
        None => {
            let y = s.trim().parse::<u16>().map_err(|_| bad())?;
            (y, y)
        }
    };
    if a > b || !(1000..=9999).contains(&a) || !(1000..=9999).contains(&b) {
        return Err(bad());
    }
    Ok((a, b))
}

/// `run-now` and `plan`.
pub async fn run(
    config: Option<&Path>,
    pipeline: Option<&str>,
    opts: RunOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(config)?;
    let embedded = embedded_emulator(&mut settings).await?;
    let pipelines: Vec<PipelineConfig> = selected(&settings, pipeline)?
        .into_iter()
        .cloned()
        .collect();
    let client = WorkivaClient::new(settings.workiva.clone())?;
    let store = Store::open(&settings.store).await?;
    // Ctrl-C or SIGTERM: batches in flight finish, nothing new is sent, the run is recorded
    // as interrupted (the next run resumes it); a second signal exits at once.
    let signals = crate::signals::stop_on_signals(
        opts.stop.clone(),
        "Stopping after the batches in flight; send the signal again to exit at once.",
    );
    let mut reports = Vec::new();
    for p in &pipelines {
        if opts.stop.is_cancelled() {
            break;
        }
        let r = sync::run_pipeline(&client, &store, p, &opts).await;
        if !json {
            println!("{}\n", sync::render(&r));
        }
        reports.push(r);
    }
    signals.abort();
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    store.close().await;
    if let Some(e) = embedded {
        e.save().await?;
    }
    if reports.len() < pipelines.len() {
        let left: Vec<&str> = pipelines[reports.len()..]
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        eprintln!("stopped before these pipelines ran: {}", left.join(", "));
        return Ok(ExitCode::from(1));
    }
    Ok(exit_code(&reports))
}

/// `validate`: every problem, not just the first.
pub async fn validate(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            println!("config: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut problems: Vec<String> = Vec::new();
    // The catalog file, its references and Workiva's limits; nothing is sent.
    if let Some(f) = &settings.catalog.file
        && let Err(found) = crate::catalog::load(f)
    {
        problems.extend(found.into_iter().map(|p| format!("catalog: {p}")));
    }
    // Each alert's signing secret, and the endpoints' token, can be read (never shown).
    for a in &settings.alerts {
        if let Err(e) = a.secret() {
            problems.push(format!("alerts: {e}"));
        }
    }
    if let Some(Err(e)) = settings.daemon.auth.as_ref().map(|a| a.token()) {
        problems.push(format!("daemon: {e}"));
    }
    let embedded = embedded_emulator(&mut settings).await?;
    let client = match WorkivaClient::new(settings.workiva.clone()) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(format!("workiva: {e}"));
            None
        }
    };
    let store = match Store::open(&settings.store).await {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(format!("store: {e}"));
            None
        }
    };
    // One problem for credentials that do not work, not one per pipeline: the pipelines'
    // Workiva checks are skipped then.
    let mut client = client;
    if let Some(c) = &client
        && let Err(e) = c
            .programs(&crate::workiva::ListOptions::filter("name eq \"\""))
            .await
    {
        problems.push(format!("workiva credentials: {e}"));
        client = None;
    }
    for p in &settings.pipelines {
        match &p.source {
            crate::config::Source::Sql(src) => {
                for e in crate::source::sql::check(src, &p.columns, &p.name).await {
                    problems.push(format!("pipeline `{}`: {e}", p.name));
                }
            }
            crate::config::Source::Parquet { paths, store }
                if paths.iter().any(|x| crate::source::object::is_remote(x)) =>
            {
                let (objects, errors) = crate::source::object::expand(paths, store).await;
                for e in errors {
                    problems.push(format!("pipeline `{}`: {e}", p.name));
                }
                for o in &objects {
                    if let Err(e) = crate::source::object::check_object(o, &p.columns).await {
                        problems.push(format!("pipeline `{}`: {e}", p.name));
                    }
                }
            }
            crate::config::Source::Parquet { paths, .. } => {
                match crate::source::parquet::expand(paths) {
                    Err(e) => problems.push(format!("pipeline `{}`: {e}", p.name)),
                    Ok(files) => {
                        for f in files {
                            let cols = p.columns.clone();
                            let res = tokio::task::spawn_blocking(move || {
                                crate::source::parquet::check_file(&f, &cols)
                            })
                            .await?;
                            if let Err(e) = res {
                                problems.push(format!("pipeline `{}`: {e}", p.name));
                            }
                        }
                    }
                }
            }
        }
        if let (Some(c), Some(s)) = (&client, &store) {
            // What `validate` learns is not cached: it writes nothing.
            let mut learnt = Vec::new();
            match sync::resolve::resolve_program(c, s, &p.program, &p.name, &mut learnt).await {
                Err(e) => problems.push(e.to_string()),
                Ok(program) => match sync::resolve::load_program(c, &program).await {
                    Err(e) => problems.push(format!("pipeline `{}`: {e}", p.name)),
                    Ok(meta) => {
                        for target in p.metrics.values().chain(p.columns.fixed_metric.iter()) {
                            if !meta
                                .metrics
                                .iter()
                                .any(|(id, m)| id.as_str() == target || &m.name == target)
                            {
                                problems.push(format!(
                                    "pipeline `{}`: `{target}` is not a metric of program `{}`",
                                    p.name, p.program
                                ));
                            }
                        }
                        for (column, dim) in &p.columns.dimensions {
                            if sync::resolve::resolve_dimension(&meta, dim).is_none() {
                                problems.push(format!("pipeline `{}`: columns.dimensions.{column} names `{dim}`, which is not a dimension of the program", p.name));
                            }
                        }
                    }
                },
            }
        }
    }
    if let Some(e) = embedded {
        e.save().await?;
    }
    if problems.is_empty() {
        println!(
            "configuration, credentials, programs, metrics, dimensions and sources are all valid ({} pipelines)",
            settings.pipelines.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            println!("problem: {p}");
        }
        println!("{} problems found", problems.len());
        Ok(ExitCode::from(1))
    }
}

/// `runs`: recent runs with their counts.
pub async fn runs(config: Option<&Path>, limit: i64, json: bool) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let store = Store::open(&settings.store).await?;
    let runs = store.runs(limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else {
        println!(
            "{:>5}  {:<24}  {:<11}  {:<24}  {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>7}",
            "run",
            "pipeline",
            "status",
            "started",
            "read",
            "rejected",
            "unchanged",
            "created",
            "updated",
            "deleted",
            "locked"
        );
        for r in &runs {
            let c = &r.counts;
            println!(
                "{:>5}  {:<24}  {:<11}  {:<24}  {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>7}",
                r.id,
                r.pipeline,
                r.status,
                r.started_at,
                c.read,
                c.rejected,
                c.unchanged,
                c.created,
                c.updated,
                c.deleted,
                c.locked
            );
            if r.auto_completed + r.flagged > 0 {
                println!(
                    "       review: {} auto-completed, {} flagged (esg-sync review report --run {})",
                    r.auto_completed, r.flagged, r.id
                );
            }
            if let Some(m) = &r.message {
                println!("       {m}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `rejects`: a run's rejected rows (the latest run by default).
pub async fn rejects(
    config: Option<&Path>,
    run: Option<i64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let store = Store::open(&settings.store).await?;
    let run_id = pick_run(&store, run).await?;
    // A page at a time, so a run with millions of rejects is printed in bounded memory.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    out.write_all(if json {
        b"["
    } else {
        crate::outcome::REJECTS_CSV_HEADER.as_bytes()
    })?;
    let (mut after, mut first) = (0, true);
    while let Some((page, last)) = store.rejects_page(run_id, after).await? {
        if json {
            for r in &page {
                out.write_all(if first { b"\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut out, r)?;
                first = false;
            }
        } else {
            out.write_all(crate::outcome::rejects_csv_rows(run_id, &page).as_bytes())?;
        }
        after = last;
    }
    out.write_all(if json { b"\n]\n" } else { b"" })?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The run `run` names, checked to exist, or the latest run.
pub(crate) async fn pick_run(store: &Store, run: Option<i64>) -> anyhow::Result<i64> {
    Ok(match run {
        Some(id) => {
            if store.run(id).await?.is_none() {
                anyhow::bail!("no run {id}; `esg-sync runs` lists them");
            }
            id
        }
        None => match store.runs(1).await?.first() {
            Some(r) => r.id,
            None => anyhow::bail!("no run has been recorded yet"),
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn years() {
        assert_eq!(super::parse_years("2024..2025").unwrap(), (2024, 2025));
        assert_eq!(super::parse_years("2024..=2025").unwrap(), (2024, 2025));
        assert_eq!(super::parse_years("2025").unwrap(), (2025, 2025));
        assert!(super::parse_years("2025..2024").is_err());
        assert!(super::parse_years("soon").is_err());
        assert_eq!(crate::outcome::csv_cell("a,b"), "\"a,b\"");
    }
}

//! `esg-sync inspect`: what a Workiva tenant holds, every page followed, to find the ids
//! mappings need.

use std::path::Path;
use std::process::ExitCode;

use crate::app::App;
use crate::cli::InspectArgs;
use crate::config::Settings;
use crate::inspect::{self, Output};

/// The application on the configuration, with `--base-url` and `--client-id` over
/// `[workiva]`.
pub fn app(args: &InspectArgs, config: Option<&Path>) -> anyhow::Result<App> {
    let mut settings = Settings::load(config)?;
    if let Some(u) = &args.base_url {
        settings.workiva.base_url = Some(u.clone());
    }
    if let Some(id) = &args.client_id {
        settings.workiva.client_id = id.clone();
    }
    Ok(App::new(settings))
}

/// Lists the resource and prints it as a table or JSON.
pub async fn run(app: &App, args: InspectArgs) -> anyhow::Result<ExitCode> {
    let opts = crate::workiva::ListOptions {
        filter: args.filter,
        order_by: args.order_by,
    };
    let listing = inspect::list(
        app.client().await?,
        args.what,
        args.program.as_deref(),
        args.metric.as_deref(),
        &opts,
    )
    .await?;
    match args.output {
        Output::Table => println!("{}", inspect::render_table(&listing)),
        Output::Json => println!("{}", serde_json::to_string_pretty(&listing.json)?),
    }
    Ok(ExitCode::SUCCESS)
}

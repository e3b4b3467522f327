//! `esg-sync emulator`: the Workiva API emulator, served until Ctrl-C or SIGTERM; the same
//! server as the `workiva-emulator` binary. `--config` here is the emulator's own file, so
//! no application is built.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::EmulatorArgs;
use crate::emulator::serve::{Serve, serve};

/// Serves until the first signal.
pub async fn run(args: &EmulatorArgs, file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let how = Serve {
        listen: args.listen,
        config: file.map(Path::to_path_buf),
        seed: args.seed.clone(),
        demo: args.demo,
        admin: args.admin,
        admin_token_file: args.admin_token_file.clone(),
        client: args.client_id.clone().zip(args.client_secret.clone()),
        token_ttl: args.token_ttl,
    };
    serve(how, async {
        crate::signals::next().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

//! `esg-sync ledger verify`: walks the value ledger's chain from its first entry and says
//! whether every entry still matches its hash and the one before it.

use std::process::ExitCode;

use crate::app::App;
use crate::cli::LedgerCommand;
use crate::ledger::Chain;

/// `ledger verify`.
pub async fn run(app: &App, c: LedgerCommand) -> anyhow::Result<ExitCode> {
    match c {
        LedgerCommand::Verify => verify(app).await,
    }
}

/// Exit 0 with the count when the chain holds; 1 naming the first entry that does not.
async fn verify(app: &App) -> anyhow::Result<ExitCode> {
    let store = app.store().await?;
    let (mut chain, mut broken) = (Chain::default(), None);
    store
        .ledger_walk(|e| match chain.step(e) {
            Ok(()) => true,
            Err(b) => {
                broken = Some(b);
                false
            }
        })
        .await?;
    match broken {
        None => {
            println!(
                "the ledger holds: {} entries, each chained to the one before",
                chain.checked
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            eprintln!(
                "error: {b}; {} entries before it hold. The state store was changed behind esg-sync's back: restore it from a backup and keep this one for the investigation",
                chain.checked
            );
            Ok(ExitCode::from(1))
        }
    }
}

//! `esg-sync ledger verify`: walks the value ledger's chain from its first entry and says
//! whether every entry still matches its hash and the one before it.

use std::process::ExitCode;

use crate::app::App;
use crate::cli::LedgerCommand;
use crate::ledger::{Broken, GENESIS, Stored};

/// `ledger verify`.
pub async fn run(app: &App, c: LedgerCommand) -> anyhow::Result<ExitCode> {
    match c {
        LedgerCommand::Verify => verify(app).await,
    }
}

/// Exit 0 with the count when the chain holds; 1 naming the first entry that does not.
async fn verify(app: &App) -> anyhow::Result<ExitCode> {
    let store = app.store().await?;
    let mut walk = Walk::default();
    store.ledger_walk(|e| walk.step(e)).await?;
    match walk.broken {
        None => {
            println!(
                "the ledger holds: {} entries, each chained to the one before",
                walk.checked
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            eprintln!(
                "error: {b}; {} entries before it hold. The state store was changed behind esg-sync's back: restore it from a backup and keep this one for the investigation",
                walk.checked
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// The chain walked so far.
struct Walk {
    prev: String,
    last: i64,
    checked: u64,
    broken: Option<Broken>,
}

impl Default for Walk {
    fn default() -> Self {
        Self {
            prev: GENESIS.to_string(),
            last: 0,
            checked: 0,
            broken: None,
        }
    }
}

impl Walk {
    /// Checks one more entry; false once one does not match.
    fn step(&mut self, e: Stored) -> bool {
        match crate::ledger::check(&e, &self.prev, self.last) {
            Ok(()) => {
                self.prev = e.hash;
                self.last = e.seq;
                self.checked += 1;
                true
            }
            Err(b) => {
                self.broken = Some(b);
                false
            }
        }
    }
}

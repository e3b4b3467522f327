//! The value ledger: an append-only, hash-chained record of every value change Workiva
//! confirmed, with what the value was, what it became and the lake row it came from. The
//! entries and their chain are here (pure); the store appends them in the transaction that
//! confirms each batch ([`crate::store`]), and `esg-sync ledger verify` walks the chain.

mod entry;
pub mod history;

pub use entry::*;

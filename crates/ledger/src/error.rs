//! Ledger errors, one line each.

use thiserror::Error;

/// What can go wrong with a ledger. Messages are one line and never hold a key.
#[derive(Debug, Error)]
pub enum LedgerError {
    /// The ledger could not be opened or a statement failed.
    #[error("ledger {location}: {message}")]
    Database {
        /// The ledger, with any password masked.
        location: String,
        /// The driver's message, on one line.
        message: String,
    },
    /// `accounts create` of an id that already has a row.
    #[error("account {0:?} already exists in the ledger")]
    AccountExists(String),
    /// An account id that the ledger has no row for.
    #[error("no account {0:?} in the ledger")]
    UnknownAccount(String),
    /// `accounts revoke` of a revoked account.
    #[error("account {0:?} is already revoked")]
    AlreadyRevoked(String),
    /// An account id that cannot be stored (empty, or with a control character).
    #[error("invalid account id {id:?}: {reason}")]
    InvalidAccount {
        /// The id as given.
        id: String,
        /// Why not.
        reason: &'static str,
    },
    /// The system's random source failed.
    #[error("no randomness for a new API key: {0}")]
    Random(String),
}

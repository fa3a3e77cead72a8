//! The provider's ledger: who was served what, and with which API key.
//!
//! A [`Ledger`] holds two tables:
//! - **accounts**: one row per account id, with the SHA-256 of its API key (never the key
//!   itself), a short public key id, and the times it was created and revoked;
//! - **requests**: one row per completed request: request id, account, time, model, the
//!   watermark key id, token counts, finish reason and the SHA-256 of the answer.
//!
//! It is the `ACCOUNTS` source of attribution ([`Ledger::served_accounts`]) and the
//! authority of the server ([`Ledger::authenticate`], read on every request, so that a
//! revoked key fails at once).
//!
//! One code path (sqlx's `Any` driver, `$n` placeholders that both backends read) serves:
//! - **SQLite**, the embedded default: a file, in WAL mode with `synchronous = FULL`, so a
//!   crashed server loses no row that it committed, and several processes on one machine
//!   can share it;
//! - **PostgreSQL** (`postgres://…`), where replicas on several machines share one ledger.

#![deny(missing_docs)]

mod api_key;
mod error;
mod ledger;

pub use api_key::{ApiKey, KeyId};
pub use error::LedgerError;
pub use ledger::{
    AccountInfo, Authenticated, Backend, Ledger, RequestRow, check_account_id, now_ms,
};

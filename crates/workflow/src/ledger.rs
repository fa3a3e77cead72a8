//! The provider's ledger from synchronous front ends: managing accounts, and reading the
//! served accounts as attribution's `ACCOUNTS`.

use std::io::Read;
use std::path::Path;

use tracemark_ledger::{AccountInfo, ApiKey, Ledger};

use crate::WorkflowError;

/// Runs one ledger operation to completion on a small runtime of its own.
pub fn block_on<T>(work: impl Future<Output = T>) -> Result<T, WorkflowError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| WorkflowError::Invalid(format!("cannot start the ledger's runtime: {e}")))?;
    Ok(runtime.block_on(work))
}

/// Opens `location` (a SQLite file, created if missing, or a `postgres://` URL), runs
/// `work` on it, and closes it.
fn with_ledger<T, F>(location: &str, work: impl FnOnce(Ledger) -> F) -> Result<T, WorkflowError>
where
    F: Future<Output = Result<T, tracemark_ledger::LedgerError>>,
{
    block_on(async {
        let ledger = Ledger::open(location).await?;
        let result = work(ledger.clone()).await;
        ledger.close().await;
        result
    })?
    .map_err(WorkflowError::from)
}

/// Creates `account` in the ledger and returns its API key, which is shown only now.
pub fn create_account(location: &str, account: &str) -> Result<ApiKey, WorkflowError> {
    with_ledger(location, |l| async move { l.create_account(account).await })
}

/// Every account of the ledger, in id order.
pub fn list_accounts(location: &str) -> Result<Vec<AccountInfo>, WorkflowError> {
    with_ledger(location, |l| async move { l.list_accounts().await })
}

/// Revokes `account`'s API key.
pub fn revoke_account(location: &str, account: &str) -> Result<(), WorkflowError> {
    with_ledger(location, |l| async move { l.revoke(account).await })
}

/// Whether `source` names a ledger: a PostgreSQL URL, or an existing SQLite file.
pub fn is_ledger(source: &Path) -> bool {
    let text = source.to_string_lossy();
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        return true;
    }
    let mut magic = [0u8; 16];
    std::fs::File::open(source)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"SQLite format 3\0")
}

/// The served accounts of `source`: the accounts with a request in a ledger (SQLite file or
/// PostgreSQL URL), or the ids of a text file, one per line.
pub fn read_account_source(source: &Path) -> Result<Vec<String>, WorkflowError> {
    if !is_ledger(source) {
        return Ok(tracemark_io::read_accounts(source)?);
    }
    let location = source.to_string_lossy();
    with_ledger(&location, |l| async move { l.served_accounts().await })
}

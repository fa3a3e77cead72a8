//! `tracemark accounts create|list|revoke`: the accounts of a serving ledger.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use tracemark_workflow::ledger::{create_account, list_accounts, revoke_account};

use crate::args::AccountsCommand;
use crate::out::outln;

pub fn run(c: &AccountsCommand) -> Result<ExitCode> {
    match c {
        AccountsCommand::Create { account, ledger } => {
            let key = create_account(ledger, account)?;
            // The key's only appearance: the one line on stdout, for the caller to keep.
            outln!("{}", key.expose())?;
            eprintln!("created account {account:?}; its API key is shown only this once");
        }
        AccountsCommand::List { ledger, json } => {
            let accounts = list_accounts(ledger)?;
            if *json {
                let rows: Vec<_> = accounts
                    .iter()
                    .map(|a| {
                        json!({
                            "account": a.account,
                            "key_id": a.key_id.0,
                            "created_ms": a.created_ms,
                            "revoked_ms": a.revoked_ms,
                        })
                    })
                    .collect();
                outln!("{}", json!({ "accounts": rows }))?;
            } else {
                for a in &accounts {
                    let state = if a.revoked_ms.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    outln!("{}\t{}\t{state}", a.account, a.key_id.0)?;
                }
            }
        }
        AccountsCommand::Revoke {
            account,
            ledger,
            json,
        } => {
            revoke_account(ledger, account)?;
            if *json {
                outln!("{}", json!({ "account": account, "revoked": true }))?;
            } else {
                outln!("revoked {account:?}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

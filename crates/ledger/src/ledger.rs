//! The ledger over sqlx's `Any` driver: one schema and one set of statements for SQLite
//! and PostgreSQL.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};

use crate::LedgerError;
use crate::api_key::{ApiKey, KeyId, key_hash};

/// Which database holds the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (WAL mode).
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// One account, as `accounts list` shows it (no key, only its public id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// The account id.
    pub account: String,
    /// The public id of its API key.
    pub key_id: KeyId,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<i64>,
}

/// The account behind a valid, unrevoked API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The account id.
    pub account: String,
    /// The public id of the key that was presented.
    pub key_id: KeyId,
}

/// One completed request. The answer itself is not stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    /// The response id returned to the client (`chatcmpl-…`), unique.
    pub request_id: String,
    /// The account it was served to (`-` without accounts).
    pub account: String,
    /// When it completed, in milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// The model name served.
    pub model: String,
    /// The watermark key id, or `None` without a watermark.
    pub watermark_key_id: Option<String>,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// `stop` or `length`.
    pub finish_reason: String,
    /// SHA-256 of the answer text, in hex.
    pub answer_sha256: String,
}

/// The schema, one statement each, valid in both SQLite and PostgreSQL.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS accounts (
        account TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        created_ms BIGINT NOT NULL,
        revoked_ms BIGINT
    )",
    "CREATE TABLE IF NOT EXISTS requests (
        request_id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        model TEXT NOT NULL,
        watermark_key_id TEXT,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        finish_reason TEXT NOT NULL,
        answer_sha256 TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS requests_account ON requests (account)",
];

/// A ledger: a pool of connections to one SQLite file or PostgreSQL database.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: AnyPool,
    backend: Backend,
    location: String,
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `location`: a `postgres://` or
    /// `postgresql://` URL, or else the path of a SQLite file.
    pub async fn open(location: &str) -> Result<Self, LedgerError> {
        install_default_drivers();
        let is_postgres =
            location.starts_with("postgres://") || location.starts_with("postgresql://");
        let (url, backend, shown) = if is_postgres {
            (
                location.to_string(),
                Backend::Postgres,
                mask_password(location),
            )
        } else {
            let path =
                std::path::absolute(Path::new(location)).map_err(|e| LedgerError::Database {
                    location: location.to_string(),
                    message: e.to_string(),
                })?;
            (sqlite_url(&path), Backend::Sqlite, location.to_string())
        };
        let fail = |e: sqlx::Error| LedgerError::Database {
            location: shown.clone(),
            message: one_line(&e),
        };
        let mut options = AnyPoolOptions::new().max_connections(8);
        if backend == Backend::Sqlite {
            // Every connection waits for the writer's lock, and commits durably.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await.map_err(fail)?;
        if backend == Backend::Sqlite {
            // WAL is a property of the file: set once, kept by every later connection.
            pool.execute("PRAGMA journal_mode = WAL")
                .await
                .map_err(fail)?;
        }
        for statement in SCHEMA {
            pool.execute(*statement).await.map_err(fail)?;
        }
        Ok(Self {
            pool,
            backend,
            location: shown,
        })
    }

    /// The database behind this ledger.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Creates `account` with a fresh API key, returned once; the ledger keeps its hash.
    pub async fn create_account(&self, account: &str) -> Result<ApiKey, LedgerError> {
        check_account_id(account)?;
        let key = ApiKey::generate()?;
        let inserted = sqlx::query(
            "INSERT INTO accounts (account, key_hash, created_ms) VALUES ($1, $2, $3)
             ON CONFLICT (account) DO NOTHING",
        )
        .bind(account)
        .bind(key_hash(key.expose()))
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        if inserted.rows_affected() == 0 {
            return Err(LedgerError::AccountExists(account.to_string()));
        }
        Ok(key)
    }

    /// Every account, in id order.
    pub async fn list_accounts(&self) -> Result<Vec<AccountInfo>, LedgerError> {
        let rows = sqlx::query(
            "SELECT account, key_hash, created_ms, revoked_ms FROM accounts ORDER BY account",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(AccountInfo {
                    account: row.try_get("account")?,
                    key_id: KeyId::of_hash(&row.try_get::<String, _>("key_hash")?),
                    created_ms: row.try_get("created_ms")?,
                    revoked_ms: row.try_get("revoked_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.fail(e))
    }

    /// Revokes `account`'s key: from the next request on, it is refused.
    pub async fn revoke(&self, account: &str) -> Result<(), LedgerError> {
        let done = sqlx::query(
            "UPDATE accounts SET revoked_ms = $1 WHERE account = $2 AND revoked_ms IS NULL",
        )
        .bind(now_ms())
        .bind(account)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let exists = sqlx::query("SELECT 1 FROM accounts WHERE account = $1")
            .bind(account)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Err(match exists {
            Some(_) => LedgerError::AlreadyRevoked(account.to_string()),
            None => LedgerError::UnknownAccount(account.to_string()),
        })
    }

    /// The account of a presented bearer token, or `None` for an unknown or revoked key.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Authenticated>, LedgerError> {
        let hash = key_hash(token);
        let row =
            sqlx::query("SELECT account FROM accounts WHERE key_hash = $1 AND revoked_ms IS NULL")
                .bind(&hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        row.map(|row| {
            Ok(Authenticated {
                account: row.try_get("account")?,
                key_id: KeyId::of_hash(&hash),
            })
        })
        .transpose()
        .map_err(|e| self.fail(e))
    }

    /// Records one completed request; it is durable when this returns.
    pub async fn record(&self, row: &RequestRow) -> Result<(), LedgerError> {
        sqlx::query(
            "INSERT INTO requests (request_id, account, created_ms, model, watermark_key_id,
                prompt_tokens, completion_tokens, finish_reason, answer_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&row.request_id)
        .bind(&row.account)
        .bind(row.created_ms)
        .bind(&row.model)
        .bind(row.watermark_key_id.as_deref())
        .bind(row.prompt_tokens)
        .bind(row.completion_tokens)
        .bind(&row.finish_reason)
        .bind(&row.answer_sha256)
        .execute(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// The accounts with at least one recorded request, in id order: attribution's
    /// `ACCOUNTS`.
    pub async fn served_accounts(&self) -> Result<Vec<String>, LedgerError> {
        let rows = sqlx::query("SELECT DISTINCT account FROM requests ORDER BY account")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| row.try_get("account"))
            .collect::<Result<_, _>>()
            .map_err(|e| self.fail(e))
    }

    /// Every recorded request, in time order (then request id).
    pub async fn requests(&self) -> Result<Vec<RequestRow>, LedgerError> {
        let rows = sqlx::query(
            "SELECT request_id, account, created_ms, model, watermark_key_id, prompt_tokens,
                completion_tokens, finish_reason, answer_sha256
             FROM requests ORDER BY created_ms, request_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter()
            .map(|row| {
                Ok(RequestRow {
                    request_id: row.try_get("request_id")?,
                    account: row.try_get("account")?,
                    created_ms: row.try_get("created_ms")?,
                    model: row.try_get("model")?,
                    watermark_key_id: row.try_get("watermark_key_id")?,
                    prompt_tokens: row.try_get("prompt_tokens")?,
                    completion_tokens: row.try_get("completion_tokens")?,
                    finish_reason: row.try_get("finish_reason")?,
                    answer_sha256: row.try_get("answer_sha256")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.fail(e))
    }

    /// Closes every connection (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn fail(&self, e: sqlx::Error) -> LedgerError {
        LedgerError::Database {
            location: self.location.clone(),
            message: one_line(&e),
        }
    }
}

/// Checks that `id` can be an account: non-empty, not only spaces, and without control
/// characters, so that it is one line of an account list.
pub fn check_account_id(id: &str) -> Result<(), LedgerError> {
    let reason = if id.trim().is_empty() {
        Some("empty")
    } else if id.chars().any(char::is_control) {
        Some("it holds a control character")
    } else if id.len() > 1024 {
        Some("longer than 1024 bytes")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(LedgerError::InvalidAccount {
            id: id.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Milliseconds since the Unix epoch, as the ledger's times are stored.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The sqlx URL of the SQLite file at `path` (created if missing), percent-encoded.
fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    url
}

/// A PostgreSQL URL with its password replaced by `***`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

/// A driver error on one line.
fn one_line(e: &sqlx::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_paths_encoded() {
        assert_eq!(
            mask_password("postgres://tm:s3cret@localhost:5432/ledger"),
            "postgres://tm:***@localhost:5432/ledger"
        );
        assert_eq!(
            mask_password("postgres://localhost/x"),
            "postgres://localhost/x"
        );
        assert_eq!(
            sqlite_url(Path::new("/tmp/a b?#.db")),
            "sqlite:///tmp/a%20b%3F%23.db?mode=rwc"
        );
    }

    #[test]
    fn account_ids_are_one_line() {
        assert!(check_account_id("user 42 ü").is_ok());
        for bad in ["", "  ", "a\nb", "a\tb"] {
            assert!(check_account_id(bad).is_err(), "{bad:?}");
        }
    }
}

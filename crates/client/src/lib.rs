//! A client for OpenAI-compatible chat-completions APIs: questions a suspect's endpoint with bounded concurrency, retries and a request budget, and writes a resumable corpus that `radioactivity` and `trace` read.
//!
//! [`run_query`] (or [`query`] from async code) asks every prompt `repeats` times and appends
//! one [`QueryRecord`] per answer to a JSONL file, synced as each arrives, so a killed or
//! budget-limited job continues where it stopped when run again.
//!
//! Retry policy: HTTP 408, 429, any 5xx, connection errors and timeouts are retried up to
//! `max_retries` times. The wait before retry *n* is drawn uniformly from
//! [0, min(0.5 s × 2^(n−1), 30 s)] ("full jitter"); when the server sends `Retry-After`
//! (seconds; capped at 5 minutes) the wait is the larger of the two, so the server's wish is
//! always honoured. Other statuses (400, 401, 403, 404…) fail the job at once.
#![deny(missing_docs)]

mod check;
mod error;
mod http;
mod job;
mod record;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use tracemark_io::Prompts;
use zeroize::Zeroizing;

pub use error::ClientError;
pub use http::{BACKOFF_BASE, BACKOFF_CAP, RETRY_AFTER_CAP};
pub use job::query;
pub use record::{QueryRecord, Usage};

/// An API key: zeroed when dropped, and never shown by `Debug`.
#[derive(Clone)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(Zeroizing::new(key.into()))
    }

    /// The key, for the `Authorization` header.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What to ask and how. `Debug` shows the key as `<redacted>`.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// The API's base URL, e.g. `http://127.0.0.1:8080/v1`; requests go to
    /// `{base_url}/chat/completions`. A trailing slash is ignored.
    pub base_url: String,
    /// Sent as `Authorization: Bearer KEY` when given.
    pub api_key: Option<ApiKey>,
    /// The `model` field of requests (`"default"` when `None`).
    pub model: Option<String>,
    /// `max_tokens` of each request.
    pub max_tokens: usize,
    /// `temperature`, omitted when `None`.
    pub temperature: Option<f32>,
    /// `top_p`, omitted when `None`.
    pub top_p: Option<f32>,
    /// Base seed: repeat `r` is sent `seed + r`, so repeats differ but are reproducible.
    /// Omitted when `None`.
    pub seed: Option<u64>,
    /// How many times each prompt is asked (at least 1).
    pub repeats: usize,
    /// Most requests in flight at once (at least 1).
    pub concurrency: usize,
    /// Budget of HTTP attempts, retries included; `None` for no limit.
    pub max_requests: Option<usize>,
    /// Limit on each HTTP attempt, answer included.
    pub timeout: Duration,
    /// Retries of one request after a retryable failure.
    pub max_retries: u32,
    /// Start the output anew instead of resuming it.
    pub force: bool,
}

impl QueryOptions {
    /// Options for `base_url` with the defaults.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ..Self::default()
        }
    }
}

impl Default for QueryOptions {
    /// No key, model `"default"`, 256 tokens, server sampling defaults, 1 repeat,
    /// concurrency 4, no budget, 120 s timeout, 6 retries.
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: None,
            model: None,
            max_tokens: 256,
            temperature: None,
            top_p: None,
            seed: None,
            repeats: 1,
            concurrency: 4,
            max_requests: None,
            timeout: Duration::from_secs(120),
            max_retries: 6,
            force: false,
        }
    }
}

/// A retryable failure and the wait before the next attempt, for progress displays.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryNote {
    /// The prompt index (0-based).
    pub index: usize,
    /// The repeat.
    pub repeat: usize,
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// What went wrong (`429 rate limited`, `no answer within the timeout`…).
    pub reason: String,
    /// The wait before the next attempt.
    pub wait: Duration,
}

/// Progress of a query job. All calls come from the task that drives the job, one at a time.
pub trait QueryProgress: Sync {
    /// The job begins: `total` (prompt, repeat) pairs are to be asked (resumed ones excluded).
    fn start(&self, total: u64) {
        let _ = total;
    }
    /// One answer was written (its `usage` has the token counts).
    fn done(&self, record: &QueryRecord) {
        let _ = record;
    }
    /// An attempt failed and will be retried.
    fn retry(&self, note: &RetryNote) {
        let _ = note;
    }
    /// The job ended, successfully or not.
    fn finish(&self) {}
}

/// No progress display.
impl QueryProgress for () {}

/// What a query job did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QuerySummary {
    /// Answers written by this run.
    pub answered: usize,
    /// (prompt, repeat) pairs already in the output, not asked again.
    pub resumed: usize,
    /// Pairs left without an answer after being tried, because the budget ran out between
    /// their retries (0 unless `budget_exhausted`; a rerun asks them again). Any other
    /// failure ends the job with an error instead.
    pub failed: usize,
    /// Pairs still without an answer; a rerun asks them.
    pub remaining: usize,
    /// HTTP attempts made, retries included.
    pub requests: usize,
    /// Of those, retries.
    pub retries: usize,
    /// The request budget ran out before every pair was answered.
    pub budget_exhausted: bool,
    /// Prompt tokens of this run's answers.
    pub prompt_tokens: u64,
    /// Completion tokens of this run's answers.
    pub completion_tokens: u64,
    /// Wall-clock seconds of the job.
    pub seconds: f64,
}

/// Runs [`query`] on a runtime of its own (2 worker threads). Call [`query`] instead from
/// async code: this refuses to run inside a Tokio runtime.
pub fn run_query(
    opts: &QueryOptions,
    prompts: &Prompts,
    out: &Path,
    progress: &dyn QueryProgress,
) -> Result<QuerySummary, ClientError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(ClientError::Runtime(
            "run_query cannot run inside an async runtime; await `query` instead".into(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ClientError::Runtime(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(query(opts, prompts, out, progress))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let opts = QueryOptions {
            api_key: Some(ApiKey::new("sk-very-secret")),
            ..QueryOptions::new("http://h/v1")
        };
        let shown = format!("{opts:?} {:?}", opts.api_key);
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

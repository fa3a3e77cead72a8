//! The errors of a query job: one line each, never containing the API key.

use std::path::PathBuf;

use tracemark_io::IoError;

/// Why a query job failed. Messages are one line; text that comes from the server is cut to
/// one short line and has the API key masked out.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not an `http(s)://` URL this client can use.
    #[error("invalid base URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An option is out of range.
    #[error("{0}")]
    Options(String),
    /// The output file or the prompts could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The output holds an answer to a different prompt than the prompts file at that index.
    #[error(
        "{}: the record for prompt {index} was asked with a different prompt than the prompts \
         file has there; use --force to start anew, or another --out",
        path.display()
    )]
    PromptMismatch {
        /// The output file.
        path: PathBuf,
        /// The prompt index (0-based).
        index: usize,
    },
    /// The server answered with a status that retrying will not change (400, 401, 403, 404…).
    #[error("the endpoint refused the request: {status} {message}")]
    Refused {
        /// The HTTP status code.
        status: u16,
        /// The server's error message (OpenAI `error.message`), or the status's reason.
        message: String,
    },
    /// A prompt kept failing with retryable errors until the retries ran out.
    #[error("gave up on prompt {index} (repeat {repeat}) after {attempts} attempts: {last}")]
    GaveUp {
        /// The prompt index (0-based).
        index: usize,
        /// The repeat.
        repeat: usize,
        /// HTTP attempts made for it.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// A successful HTTP answer that is not an OpenAI chat completion.
    #[error("the endpoint's answer is not an OpenAI chat completion: {0}")]
    BadResponse(String),
    /// The async runtime could not be started, or a request task failed.
    #[error("{0}")]
    Runtime(String),
}

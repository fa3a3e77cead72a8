//! Arguments of `tracemark serve` and `tracemark query`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("watermark").required(true).args(["key", "no_watermark"])))]
#[command(group(clap::ArgGroup::new("served").args(["model", "student"])))]
pub struct ServeArgs {
    /// The watermark key: a master key (tracemark keygen --accounts) watermarks each answer for its account.
    #[arg(long, value_name = "MASTER")]
    pub key: Option<PathBuf>,
    /// Serve plain answers (a suspect in tests, a baseline).
    #[arg(long)]
    pub no_watermark: bool,
    /// The ledger: API keys (as hashes) and one row per request. A SQLite file (created if missing) or a postgres:// URL. Without it, no API key is asked and only loopback addresses are allowed.
    #[arg(long, value_name = "LEDGER")]
    pub ledger: Option<String>,
    /// A GGUF model [default: SmolLM2-135M-Instruct, fetched on first use].
    #[arg(long, value_name = "M.gguf")]
    pub model: Option<PathBuf>,
    /// Serve a distilled student instead.
    #[arg(long, value_name = "S")]
    pub student: Option<PathBuf>,
    /// With --student: the tokenizer it was distilled with [default: the bundled SmolLM2 tokenizer].
    #[arg(long, value_name = "T", requires = "student")]
    pub tokenizer: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port. The bound address is the first line on stdout.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Requests decoded at once (one sequence slot each, batched together).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub slots: usize,
    /// Requests that may wait for a slot; beyond that new requests get 429.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub queue: usize,
    /// Tokens per sequence (prompt plus answer).
    #[arg(long, value_name = "N", default_value_t = 2048)]
    pub ctx: u32,
    /// CPU threads for llama.cpp [default: all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Seconds in-flight requests may take to finish after SIGTERM.
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub grace_seconds: u64,
    /// Show llama.cpp's own log.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The endpoint's base URL, e.g. http://127.0.0.1:8080/v1 (requests go to BASE/chat/completions).
    #[arg(long, value_name = "URL")]
    pub base_url: String,
    /// The environment variable holding the API key (read from the environment, never written anywhere).
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// The model name to ask for.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// The prompts (JSONL with "prompt", or one per line).
    #[arg(long, value_name = "P.jsonl")]
    pub prompts: PathBuf,
    /// The corpus of answers (JSONL; resumed if it exists).
    #[arg(long, value_name = "ANSWERS.jsonl")]
    pub out: PathBuf,
    /// Times each prompt is asked (repeat r is sent seed S + r).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeats: usize,
    /// Most requests in flight at once.
    #[arg(long, value_name = "C", default_value_t = 4)]
    pub concurrency: usize,
    /// Longest answer, in tokens.
    #[arg(long, value_name = "T", default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature [default: the endpoint's].
    #[arg(long, value_name = "X")]
    pub temperature: Option<f32>,
    /// Nucleus mass [default: the endpoint's].
    #[arg(long, value_name = "P")]
    pub top_p: Option<f32>,
    /// Base seed [default: none sent].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Budget of HTTP requests, retries included; a rerun continues.
    #[arg(long, value_name = "N")]
    pub max_requests: Option<usize>,
    /// Seconds one request may take.
    #[arg(long, value_name = "S", default_value_t = 120)]
    pub timeout_seconds: u64,
    /// Retries of one request on 429, 5xx and timeouts.
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub max_retries: u32,
    /// Start the output anew instead of resuming it.
    #[arg(long)]
    pub force: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

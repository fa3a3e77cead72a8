//! Command-line arguments (clap). Parsing only: validation happens in the libraries.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::args_serving::{QueryArgs, ServeArgs};

/// LLM output watermarking and provenance: keys, embedding, exact detection.
#[derive(Debug, Parser)]
#[command(name = "tracemark", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a secret watermark key (JSON, mode 0600).
    Keygen(KeygenArgs),
    /// Show a key's public id and parameters (never the secret).
    KeyInfo(KeyInfoArgs),
    /// Test text for the watermark of a key: exact p-values per document.
    Detect(DetectArgs),
    /// Answer prompts with a GGUF model (llama.cpp) or a distilled student, watermarked with a key.
    Generate(GenerateArgs),
    /// Distil a student (an n-gram model over the teacher's tokens) from harvested answers.
    Distill(DistillArgs),
    /// The whole story on the default model: watermark, distil students, prove it.
    Demo(DemoArgs),
    /// Test whether a suspect model was trained on text watermarked with a key.
    Radioactivity(RadioactivityArgs),
    /// Which accounts' answers a suspect learned from (a master key's account watermark).
    Trace(TraceArgs),
    /// Fetch or describe models.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Manage the accounts of a serving ledger and their API keys.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Serve a model over the OpenAI chat-completions API, watermarking every answer for its account.
    Serve(ServeArgs),
    /// Question an OpenAI-compatible endpoint (a suspect's API) and write a resumable corpus of its answers.
    Query(QueryArgs),
}

/// `tracemark accounts …`: every subcommand names the ledger.
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create an account and print its new API key, once, as the only line on stdout.
    Create {
        /// The account id (any UTF-8 text without control characters, e.g. an API user id).
        account: String,
        /// The ledger: a SQLite file (created if missing) or a postgres:// URL.
        #[arg(long, value_name = "LEDGER")]
        ledger: String,
    },
    /// List the accounts with their key ids (never the keys) and revocation times.
    List {
        /// The ledger: a SQLite file or a postgres:// URL.
        #[arg(long, value_name = "LEDGER")]
        ledger: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an account's API key: a running server refuses it at once.
    Revoke {
        /// The account id.
        account: String,
        /// The ledger: a SQLite file or a postgres:// URL.
        #[arg(long, value_name = "LEDGER")]
        ledger: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("suspect").required(true).args(["suspect_outputs", "suspect_model"])))]
pub struct RadioactivityArgs {
    /// The watermark key the provider used.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Closed test: the suspect's answers (JSONL with "response" or "text", and "prompt").
    #[arg(long, value_name = "OUT.jsonl")]
    pub suspect_outputs: Option<PathBuf>,
    /// Closed test: the prompts, when the answers do not carry them (matched by "id", else by order).
    #[arg(long, value_name = "P.jsonl", requires = "suspect_outputs")]
    pub prompts: Option<PathBuf>,
    /// Supervised closed test: count only windows that occur in this watermarked corpus.
    #[arg(long, value_name = "WM.jsonl", requires = "suspect_outputs")]
    pub training: Option<PathBuf>,
    /// With --training: keep only the N most frequent training windows.
    #[arg(long, value_name = "N", requires = "training")]
    pub filter_top: Option<usize>,
    /// With --training: match this many preceding tokens against the training corpus
    /// [default: the key's context width h]; longer contexts single out copied text.
    #[arg(long, value_name = "K", requires = "training")]
    pub filter_context: Option<usize>,
    /// Open test (reading mode): the suspect's weights, a GGUF model or a `tracemark distill`
    /// student (must share the watermark's tokenizer).
    #[arg(long, value_name = "SUSPECT", requires = "watermarked")]
    pub suspect_model: Option<PathBuf>,
    /// Open test: watermarked texts to read through the suspect.
    #[arg(long, value_name = "WM.jsonl", requires = "suspect_model")]
    pub watermarked: Option<PathBuf>,
    /// Keep tuples whose window occurs in the prompt (invalid with watermarked prompts: for demonstrations only).
    #[arg(long)]
    pub no_prompt_exclusion: bool,
    /// Number of random keys for the calibration controls.
    #[arg(long, value_name = "M", default_value_t = tracemark_radioactivity::DEFAULT_CONTROLS)]
    pub controls: usize,
    /// Seed of the random control keys.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    pub control_seed: u64,
    /// Significance level of the verdict.
    #[arg(long, default_value_t = tracemark_radioactivity::DEFAULT_ALPHA)]
    pub alpha: f64,
    /// tokenizer.json or GGUF whose tokenizer the watermark used [default: the bundled SmolLM2 tokenizer].
    #[arg(long, value_name = "TOKENIZER")]
    pub tokenizer: Option<PathBuf>,
    /// Write report.html and report.json into this folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Replace the report already in the --report folder.
    #[arg(long, requires = "report")]
    pub force: bool,
    /// Suspect outputs shown with token highlighting in the report.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub samples: usize,
    /// CPU threads for the suspect model.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub threads: usize,
    /// Show llama.cpp's own log.
    #[arg(long)]
    pub verbose: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download the default model (SmolLM2-135M-Instruct) into the cache and verify it.
    Fetch {
        /// Download and verify again even if the cached file looks right.
        #[arg(long)]
        force: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a model's path, architecture, vocabulary size and chat template.
    Info {
        /// A GGUF file [default: the default model].
        #[arg(long, value_name = "FILE.gguf")]
        model: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The key to watermark with (required with a GGUF model, unless --no-watermark).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Generate without a watermark (the baseline for comparisons).
    #[arg(long, conflicts_with = "key")]
    pub no_watermark: bool,
    /// The account the answers are served to (needs a master key): they carry its id.
    #[arg(long, value_name = "ID", requires = "key")]
    pub account: Option<String>,
    /// The user prompt (text).
    #[arg(
        long,
        value_name = "TEXT",
        required_unless_present = "prompts",
        conflicts_with = "prompts"
    )]
    pub prompt: Option<String>,
    /// Batch: a file of prompts (one per line, or JSONL with a "prompt" field).
    #[arg(long, value_name = "FILE", requires = "out")]
    pub prompts: Option<PathBuf>,
    /// The JSONL output, one record per prompt. An existing file of the same run is resumed.
    #[arg(long, value_name = "FILE.jsonl")]
    pub out: Option<PathBuf>,
    /// With --out: replace an existing output instead of resuming it.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// A GGUF model [default: SmolLM2-135M-Instruct, fetched on first use].
    #[arg(long, value_name = "FILE.gguf")]
    pub model: Option<PathBuf>,
    /// Answer with a student written by `tracemark distill` instead of a GGUF model.
    #[arg(long, value_name = "STUDENT", conflicts_with_all = ["model", "system"])]
    pub student: Option<PathBuf>,
    /// With --student: the tokenizer it was distilled with (tokenizer.json or GGUF) [default: the bundled SmolLM2 tokenizer].
    #[arg(long, value_name = "TOKENIZER", requires = "student")]
    pub tokenizer: Option<PathBuf>,
    /// System prompt, replacing the chat template's default.
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Most tokens to generate.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature (0 = greedy).
    #[arg(long, value_name = "T", default_value_t = 0.7)]
    pub temperature: f32,
    /// Keep only the K most likely tokens (0 = off).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub top_k: usize,
    /// Nucleus sampling mass (1 = off).
    #[arg(long, value_name = "P", default_value_t = 0.95)]
    pub top_p: f32,
    /// Seed of the sampler (prompt i of a batch uses SEED + i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// CPU threads for llama.cpp [default: all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print JSON records instead of streaming text.
    #[arg(long)]
    pub json: bool,
    /// Show llama.cpp's own log.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct DistillArgs {
    /// The harvested answers: JSONL with "prompt" and "response" (or "text") per line; `-` reads standard input.
    #[arg(long, value_name = "RESPONSES.jsonl")]
    pub train: String,
    /// Where to write the student.
    #[arg(long, value_name = "STUDENT")]
    pub out: PathBuf,
    /// N-gram order: the student conditions on the last N − 1 tokens.
    #[arg(long, value_name = "N", default_value_t = tracemark_student::StudentConfig::DEFAULT_ORDER)]
    pub order: usize,
    /// tokenizer.json or GGUF of the teacher [default: the bundled SmolLM2 tokenizer].
    #[arg(long, value_name = "TOKENIZER")]
    pub tokenizer: Option<PathBuf>,
    /// Replace an existing student file.
    #[arg(long)]
    pub force: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemeArg {
    /// Kirchenbauer et al.: green-list logit bias.
    Kgw,
    /// Aaronson / Gumbel-max sampling: distortion-free.
    Gumbel,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SeedingArg {
    /// The last h tokens (h = 0: one fixed list, Unigram).
    Lefthash,
    /// The minimum-rank token among the last h: robust to reordering.
    Minhash,
    /// The last h tokens plus the candidate itself.
    Selfhash,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the key file.
    #[arg(long, value_name = "KEY")]
    pub out: PathBuf,
    /// Watermark scheme.
    #[arg(long, value_enum, default_value = "kgw")]
    pub scheme: SchemeArg,
    /// How the context seeds the PRF.
    #[arg(long, value_enum, default_value = "selfhash")]
    pub seeding: SeedingArg,
    /// Context width h: preceding tokens that seed the PRF [default: 3 selfhash, 1 lefthash, 4 minhash].
    #[arg(long, value_name = "H")]
    pub context: Option<usize>,
    /// KGW green fraction γ [default: 0.25].
    #[arg(long, value_name = "G")]
    pub gamma: Option<f64>,
    /// KGW logit bias δ [default: 2.0].
    #[arg(long, value_name = "D")]
    pub delta: Option<f64>,
    /// A provider master key: answers served to an account carry the account (KGW only).
    #[arg(long)]
    pub accounts: bool,
    /// Master key: colours per account digit, a power of two.
    #[arg(long, value_name = "R", default_value_t = tracemark_core::AccountLayer::DEFAULT_COLOURS, requires = "accounts")]
    pub colours: u32,
    /// Master key: digits of an account code, a power of two.
    #[arg(long, value_name = "L", default_value_t = tracemark_core::AccountLayer::DEFAULT_DIGITS, requires = "accounts")]
    pub digits: u32,
    /// Master key: bias δ_a taken off green tokens outside the account's colour [default: δ/2].
    #[arg(long, value_name = "D", requires = "accounts")]
    pub account_delta: Option<f64>,
    /// Replace an existing key file.
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["key", "file"])))]
pub struct KeyInfoArgs {
    /// The key file.
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// The key file, given without --key.
    #[arg(value_name = "KEY", conflicts_with = "key")]
    pub file: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// JSONL if the name ends in .jsonl or the first line is a JSON object, else plain text.
    Auto,
    /// The whole input is one document.
    Text,
    /// One JSON object per line with a "text" or "response" field.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The key file.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// tokenizer.json or GGUF model whose tokenizer generated the text [default: the bundled SmolLM2 tokenizer].
    #[arg(long, value_name = "TOKENIZER")]
    pub tokenizer: Option<PathBuf>,
    /// Input files; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub inputs: Vec<String>,
    /// A file with the prompt: tuples whose context window occurs in it are not scored.
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// Also scan windows for a watermarked passage inside other text (Bonferroni-corrected).
    #[arg(long)]
    pub window: bool,
    /// Smallest window of the scan, in scored tuples.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub min_window: usize,
    /// Colour green and red tokens in the terminal.
    #[arg(long)]
    pub highlight: bool,
    /// Print one JSON object per document (and one for all documents together).
    #[arg(long)]
    pub json: bool,
    /// Count repeated (context, token) tuples every time. Makes the p-value invalid; for paper reproductions only.
    #[arg(long)]
    pub no_dedup: bool,
    /// Significance level of the verdict.
    #[arg(long, value_name = "A", default_value_t = 1e-4)]
    pub alpha: f64,
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// Largest accepted input, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = tracemark_io::DEFAULT_MAX_INPUT_BYTES)]
    pub max_bytes: u64,
}

/// The teacher model and its corpora.
#[derive(Debug, Args)]
pub struct TeacherArgs {
    /// The teacher [default: SmolLM2-135M-Instruct, fetched on first use].
    #[arg(long, value_name = "FILE.gguf")]
    pub model: Option<PathBuf>,
    /// Cache of teacher corpora [default: the tracemark cache directory].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Random keys per test.
    #[arg(long, value_name = "M", default_value_t = tracemark_radioactivity::DEFAULT_CONTROLS)]
    pub controls: usize,
    /// CPU threads for llama.cpp.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Small corpora and thresholds suited to them (about a minute).
    #[arg(long)]
    pub quick: bool,
    /// Seed of the demo key and of all sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Regenerate the teacher's answers instead of using the cache.
    #[arg(long)]
    pub fresh: bool,
    /// Where the students' answers and report.html / report.json go.
    #[arg(long, value_name = "DIR", default_value = "tracemark-demo")]
    pub out: PathBuf,
    #[command(flatten)]
    pub teacher: TeacherArgs,
    /// Watermark context width h (KGW LeftHash, γ = 0.25) [default: 1].
    #[arg(long, value_name = "H")]
    pub context: Option<usize>,
    /// Watermark logit bias δ [default: 3].
    #[arg(long, value_name = "D")]
    pub delta: Option<f64>,
    /// The account story: serve the teacher's answers to N accounts under a master key.
    #[arg(long, value_name = "N", requires = "harvesters")]
    pub accounts: Option<usize>,
    /// With --accounts: how many of them harvest for the student, in falling volumes.
    #[arg(long, value_name = "H", requires = "accounts")]
    pub harvesters: Option<usize>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("suspect").required(true).args(["suspect_outputs", "suspect_model"])))]
pub struct TraceArgs {
    /// The provider's master key (tracemark keygen --accounts).
    #[arg(long, value_name = "MASTER")]
    pub key: PathBuf,
    /// Closed: the suspect's answers, or watermarked text it republished (JSONL with "response" or "text", and "prompt"; or plain text).
    #[arg(long, value_name = "OUT.jsonl")]
    pub suspect_outputs: Option<PathBuf>,
    /// Closed: the prompts, when the answers do not carry them (matched by "id", else by order).
    #[arg(long, value_name = "P.jsonl", requires = "suspect_outputs")]
    pub prompts: Option<PathBuf>,
    /// Open weights: the suspect, a GGUF model or a `tracemark distill` student (must share the watermark's tokenizer), reads each account's served answers.
    #[arg(long, value_name = "SUSPECT", requires = "watermarked")]
    pub suspect_model: Option<PathBuf>,
    /// Open weights: the answers served under the master key (JSONL records with "account", as `generate --account` writes them).
    #[arg(long, value_name = "SERVED.jsonl", requires = "suspect_model")]
    pub watermarked: Option<PathBuf>,
    /// Open weights: served answers read per account (the first ones in the file).
    #[arg(long, value_name = "N", default_value_t = tracemark_workflow::trace_reading::DEFAULT_PER_ACCOUNT, requires = "suspect_model")]
    pub per_account: usize,
    /// Open weights: CPU threads for a GGUF suspect.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub threads: usize,
    /// Open weights: show llama.cpp's own log.
    #[arg(long)]
    pub verbose: bool,
    /// The account ids that were served: a text file, one per line, or a serving ledger (SQLite file or postgres:// URL), whose served accounts are read.
    #[arg(long, value_name = "ACCOUNTS")]
    pub accounts: PathBuf,
    /// Accounts already suspected (one per line, a subset of ACCOUNTS): one set test.
    #[arg(long, value_name = "SET")]
    pub suspected: Option<PathBuf>,
    /// Family-wise level of the attributed list, and level of the radioactivity verdict.
    #[arg(long, default_value_t = tracemark_radioactivity::DEFAULT_ALPHA)]
    pub alpha: f64,
    /// Number of random keys for the radioactivity verdict's controls.
    #[arg(long, value_name = "M", default_value_t = tracemark_radioactivity::DEFAULT_CONTROLS)]
    pub controls: usize,
    /// Seed of the random control keys.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    pub control_seed: u64,
    /// Keep tuples whose window occurs in the prompt (invalid with watermarked prompts: for demonstrations only).
    #[arg(long, requires = "suspect_outputs")]
    pub no_prompt_exclusion: bool,
    /// tokenizer.json or GGUF whose tokenizer the watermark used [default: the bundled SmolLM2 tokenizer].
    #[arg(long, value_name = "TOKENIZER")]
    pub tokenizer: Option<PathBuf>,
    /// Write report.html and report.json (with the attribution section) into this folder.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Replace the report already in the --report folder.
    #[arg(long, requires = "report")]
    pub force: bool,
    /// Accounts listed in the human output (the JSON lists all).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

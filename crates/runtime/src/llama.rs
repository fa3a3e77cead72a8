//! [`LlamaModel`]: a GGUF model run by llama.cpp through `llama-cpp-2`.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Once, OnceLock};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::{LogOptions, send_logs_to_tracing};
use tracemark_gguf::GgufMetadata;

use crate::RuntimeError;
use crate::{BatchedModel, LanguageModel, Logits, ModelError, argmax, check_steps};

/// How to load a model with [`LlamaModel::load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Context window in tokens (prompt plus generation). Default 4096. llama.cpp may
    /// round it up; [`LanguageModel::context_length`] gives the value in force.
    pub n_ctx: u32,
    /// Most tokens evaluated in one llama.cpp batch (also the physical micro-batch).
    /// Longer prompts and [`LanguageModel::score_all`] inputs are split into blocks of
    /// this size. Default 512; capped at `n_ctx`.
    pub n_batch: u32,
    /// Most tokens llama.cpp computes in one physical pass (a batch is split into
    /// micro-batches of this size); capped at `n_batch`.
    ///
    /// Default 32, which makes batched evaluation ([`LanguageModel::score_all`],
    /// [`LanguageModel::start`]) give bit-for-bit the logits of token-by-token
    /// [`LanguageModel::step`]s: from 64 queries per micro-batch llama.cpp's CPU
    /// flash-attention switches to a tiled F32 kernel that rounds differently (logits
    /// then differ by up to about 1, and greedy tokens at near-ties). Measured with the
    /// default model on CPU; other quantisation types or GPUs may differ. 512 evaluates
    /// long prompts about 15% faster but loses that identity.
    pub n_ubatch: u32,
    /// CPU threads for evaluation. Default: the number of available cores.
    pub n_threads: usize,
    /// Let llama.cpp log to stderr. Default false: its logging is silenced.
    ///
    /// Logging is a process-wide llama.cpp setting: once a non-verbose load has silenced
    /// it, it stays silenced for the rest of the process.
    pub verbose: bool,
    /// Layers to offload to the GPU. Default 0, or all layers when built with the `cuda`
    /// feature.
    pub gpu_layers: u32,
    /// Sequences held at once ([`BatchedModel`] slots), each with a KV cache of its own of
    /// `n_ctx` tokens. Default 1.
    pub sequences: u32,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            n_ctx: 4096,
            n_batch: 512,
            n_ubatch: 32,
            n_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            verbose: false,
            gpu_layers: if cfg!(feature = "cuda") { 999 } else { 0 },
            sequences: 1,
        }
    }
}

/// The llama.cpp context borrows the model; `self_cell` keeps both in one value.
type Ctx<'m> = LlamaContext<'m>;

self_cell::self_cell!(
    struct Engine {
        owner: llama_cpp_2::model::LlamaModel,
        #[covariant]
        dependent: Ctx,
    }
);

/// Initialise the llama.cpp backend once per process, silencing its logs first unless
/// `verbose`.
fn backend(verbose: bool) -> Result<&'static LlamaBackend, RuntimeError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    static SILENCE: Once = Once::new();
    if !verbose {
        SILENCE.call_once(|| send_logs_to_tracing(LogOptions::default().with_logs_enabled(false)));
    }
    BACKEND
        .get_or_init(|| LlamaBackend::init().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| RuntimeError::Backend(format!("cannot initialise the backend: {e}")))
}

/// A GGUF model evaluated by llama.cpp, holding [`LoadOptions::sequences`] sequences, each
/// with a KV cache of its own.
///
/// It implements [`LanguageModel`] (on sequence 0) and [`BatchedModel`] (all sequences,
/// stepped in one batch), and also offers llama.cpp's own tokenizer
/// ([`tokenize`](Self::tokenize), [`detokenize`](Self::detokenize)).
pub struct LlamaModel {
    engine: Engine,
    batch: LlamaBatch<'static>,
    path: PathBuf,
    description: String,
    vocab_size: usize,
    n_ctx: usize,
    n_batch: usize,
    eog: Vec<u32>,
    /// Tokens in each sequence's KV cache; `None` before its start or after a failed
    /// evaluation.
    n_past: Vec<Option<usize>>,
}

impl std::fmt::Debug for LlamaModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaModel")
            .field("path", &self.path)
            .field("vocab_size", &self.vocab_size)
            .field("n_ctx", &self.n_ctx)
            .field("n_batch", &self.n_batch)
            .field("n_past", &self.n_past)
            .finish_non_exhaustive()
    }
}

impl LlamaModel {
    /// Load a GGUF model and create its inference context.
    ///
    /// The file is first checked in pure Rust ([`GgufMetadata::read`]: magic, version,
    /// every metadata key), so a file that is not GGUF, or whose header is truncated or
    /// corrupt, gives a one-line [`RuntimeError::Gguf`] without reaching llama.cpp.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Self, RuntimeError> {
        let meta = GgufMetadata::read(path)?;
        let summary = meta.summary();
        let arch = summary.architecture.clone().unwrap_or_default();
        if arch.is_empty() {
            return Err(load_error(path, "metadata has no general.architecture"));
        }
        if opts.n_ctx == 0 || opts.n_batch == 0 || opts.sequences == 0 {
            return Err(RuntimeError::Backend(
                "n_ctx, n_batch and sequences must be at least 1".into(),
            ));
        }
        let backend = backend(opts.verbose)?;
        let mparams = LlamaModelParams::default().with_n_gpu_layers(opts.gpu_layers);
        let model = llama_cpp_2::model::LlamaModel::load_from_file(backend, path, &mparams)
            .map_err(|e| {
                let why = match e {
                    llama_cpp_2::LlamaModelLoadError::NullResult => format!(
                        "corrupt or truncated tensor data, or architecture `{arch}` not \
                         supported by this llama.cpp (load with verbose logging for details)"
                    ),
                    other => other.to_string(),
                };
                load_error(path, &why)
            })?;

        let n_batch = opts.n_batch.min(opts.n_ctx);
        let n_ubatch = opts.n_ubatch.min(n_batch);
        let threads = i32::try_from(opts.n_threads.max(1)).unwrap_or(i32::MAX);
        // Each sequence has a KV stream of its own (not one unified cache), so a sequence's
        // attention never sees the others' cells and its logits do not depend on them.
        let total_ctx = opts.n_ctx.saturating_mul(opts.sequences);
        let cparams = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(total_ctx))
            .with_n_seq_max(opts.sequences)
            .with_kv_unified(false)
            .with_n_batch(n_batch)
            .with_n_ubatch(n_ubatch)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let engine = Engine::try_new(model, |m| m.new_context(backend, cparams)).map_err(|e| {
            RuntimeError::Backend(format!(
                "cannot create a context of {total_ctx} tokens: {e} (try a smaller n_ctx)"
            ))
        })?;

        let model = engine.borrow_owner();
        let vocab = model.vocab();
        let vocab_size = usize::try_from(vocab.n_tokens()).unwrap_or(0);
        if vocab_size == 0 {
            return Err(load_error(path, "the model has an empty vocabulary"));
        }
        let eog = vocab
            .tokens()
            .filter(|&t| vocab.is_eog(t))
            .map(|t| t.0.unsigned_abs())
            .collect();
        let n_ctx = engine.borrow_dependent().n_ctx() as usize / opts.sequences as usize;
        let file_name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let file_size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let name = summary.name.unwrap_or(arch);
        Ok(Self {
            engine,
            batch: LlamaBatch::new(n_batch as usize, 1),
            path: path.to_path_buf(),
            description: format!("{name} ({file_name}, {file_size} bytes; llama.cpp)"),
            vocab_size,
            n_ctx,
            n_batch: n_batch as usize,
            eog,
            n_past: vec![None; opts.sequences as usize],
        })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tokenize `text` with llama.cpp's tokenizer. No BOS is added (see
    /// [`bos_token`](Self::bos_token)). With `parse_special`, special-token text such as
    /// `<|im_start|>` becomes its single id; without it, it is tokenized as plain text.
    pub fn tokenize(&self, text: &str, parse_special: bool) -> Result<Vec<u32>, RuntimeError> {
        if i32::try_from(text.len()).is_err() {
            return Err(RuntimeError::Tokenize(format!(
                "text of {} bytes is over llama.cpp's 2 GiB limit",
                text.len()
            )));
        }
        let vocab = self.engine.borrow_owner().vocab();
        let ids = vocab.tokenize(text.as_bytes(), false, parse_special);
        Ok(ids.into_iter().map(|t| t.0.unsigned_abs()).collect())
    }

    /// Turn ids back into text: each token's bytes (control tokens rendered as their
    /// text, e.g. `<|im_end|>`), concatenated, then decoded as UTF-8 with invalid
    /// sequences replaced by U+FFFD.
    pub fn detokenize(&self, ids: &[u32]) -> Result<String, RuntimeError> {
        let vocab = self.engine.borrow_owner().vocab();
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            vocab.token_to_piece_into(self.token(id)?, &mut bytes, true, None);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The BOS token, if the model's metadata asks for one to be prepended to a prompt.
    pub fn bos_token(&self) -> Option<u32> {
        let vocab = self.engine.borrow_owner().vocab();
        vocab.should_add_bos().then(|| vocab.bos().0.unsigned_abs())
    }

    /// Tokens per llama.cpp batch ([`LoadOptions::n_batch`], capped at the context).
    pub fn n_batch(&self) -> usize {
        self.n_batch
    }

    /// Check a token id and convert it for llama.cpp.
    fn token(&self, id: u32) -> Result<LlamaToken, ModelError> {
        match i32::try_from(id) {
            Ok(t) if (id as usize) < self.vocab_size => Ok(LlamaToken(t)),
            _ => Err(ModelError::TokenOutOfRange {
                token: id,
                vocab_size: self.vocab_size,
            }),
        }
    }

    /// Check a whole sequence before evaluating it from position 0.
    fn check_sequence(&self, tokens: &[u32]) -> Result<(), ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::EmptyInput);
        }
        if tokens.len() > self.n_ctx {
            return Err(ModelError::ContextFull {
                needed: tokens.len(),
                n_ctx: self.n_ctx,
            });
        }
        tokens.iter().try_for_each(|&t| self.token(t).map(drop))
    }

    /// Clear sequence `seq`'s KV cache and evaluate `tokens` from position 0 in blocks of
    /// `n_batch`, with logits at every position (`all`) or only at the last. `row` is
    /// called for every position that has logits, in order.
    fn evaluate(
        &mut self,
        seq: usize,
        tokens: &[u32],
        all: bool,
        mut row: impl FnMut(&[f32]),
    ) -> Result<(), ModelError> {
        self.check_sequence(tokens)?;
        self.n_past[seq] = None;
        let batch = &mut self.batch;
        let n_batch = self.n_batch;
        let seq_id = seq as i32;
        self.engine.with_dependent_mut(|_, ctx| {
            ctx.clear_kv_cache_seq(Some(seq as u32), None, None)
                .map_err(|e| ModelError::Engine(format!("cannot clear sequence {seq}: {e}")))?;
            for (c, chunk) in tokens.chunks(n_batch).enumerate() {
                let base = c * n_batch;
                batch.clear();
                for (j, &t) in chunk.iter().enumerate() {
                    let pos = base + j;
                    let logits = all || pos + 1 == tokens.len();
                    // Ids were checked; positions are below n_ctx, which fits in i32.
                    batch
                        .add(LlamaToken(t as i32), pos as i32, &[seq_id], logits)
                        .map_err(|e| ModelError::Engine(format!("llama.cpp decode failed: {e}")))?;
                }
                ctx.decode(batch)
                    .map_err(|e| ModelError::Engine(format!("llama.cpp decode failed: {e}")))?;
                for j in 0..chunk.len() {
                    if all || base + j + 1 == tokens.len() {
                        row(ctx.get_logits_ith(j as i32));
                    }
                }
            }
            Ok::<(), ModelError>(())
        })?;
        self.n_past[seq] = Some(tokens.len());
        Ok(())
    }

    /// Appends one token to each listed sequence in one llama.cpp batch; the logits of
    /// step `i` are then batch output `i`.
    fn decode_steps(&mut self, steps: &[(usize, u32)]) -> Result<(), ModelError> {
        check_steps(steps, self.n_past.len())?;
        if steps.len() > self.n_batch {
            return Err(ModelError::Engine(format!(
                "{} steps in one batch of at most {}",
                steps.len(),
                self.n_batch
            )));
        }
        for &(seq, token) in steps {
            let n_past = self.n_past[seq].ok_or(ModelError::NotStarted)?;
            self.token(token)?;
            if n_past + 1 > self.n_ctx {
                return Err(ModelError::ContextFull {
                    needed: n_past + 1,
                    n_ctx: self.n_ctx,
                });
            }
        }
        // A sequence whose decode fails has an unknown cache: it must be started again.
        let positions: Vec<usize> = steps
            .iter()
            .map(|&(seq, _)| self.n_past[seq].take().unwrap_or_default())
            .collect();
        let batch = &mut self.batch;
        batch.clear();
        for (&(seq, token), &pos) in steps.iter().zip(&positions) {
            batch
                .add(LlamaToken(token as i32), pos as i32, &[seq as i32], true)
                .map_err(|e| ModelError::Engine(format!("llama.cpp decode failed: {e}")))?;
        }
        self.engine
            .with_dependent_mut(|_, ctx| ctx.decode(batch))
            .map_err(|e| ModelError::Engine(format!("llama.cpp decode failed: {e}")))?;
        for (&(seq, _), &pos) in steps.iter().zip(&positions) {
            self.n_past[seq] = Some(pos + 1);
        }
        Ok(())
    }

    /// Logits of the last evaluated position (the last output of the last batch).
    fn last_logits(&self) -> &[f32] {
        let i = self.batch.n_tokens() - 1;
        let ctx: &LlamaContext<'_> = self.engine.borrow_dependent();
        ctx.get_logits_ith(i)
    }
}

fn load_error(path: &Path, message: &str) -> RuntimeError {
    RuntimeError::Load {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

impl LanguageModel for LlamaModel {
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn start(&mut self, prompt: &[u32]) -> Result<&[f32], ModelError> {
        self.evaluate(0, prompt, false, |_| {})?;
        Ok(self.last_logits())
    }

    fn step(&mut self, token: u32) -> Result<&[f32], ModelError> {
        self.decode_steps(&[(0, token)])?;
        Ok(self.last_logits())
    }

    /// Returns all rows in one flat [`Logits`] buffer (`tokens.len() * vocab_size`
    /// floats: about 192 KiB per token for a 49k vocabulary). Use
    /// [`top1_all`](LanguageModel::top1_all) when only the argmax is needed.
    fn score_all(&mut self, tokens: &[u32]) -> Result<Logits, ModelError> {
        let mut out = Logits::with_capacity(tokens.len(), self.vocab_size);
        self.evaluate(0, tokens, true, |r| out.push_row(r))?;
        Ok(out)
    }

    /// Computed block by block without keeping the rows.
    fn top1_all(&mut self, tokens: &[u32]) -> Result<Vec<u32>, ModelError> {
        let mut out = Vec::with_capacity(tokens.len());
        self.evaluate(0, tokens, true, |r| out.push(argmax(r)))?;
        Ok(out)
    }

    fn eog_tokens(&self) -> &[u32] {
        &self.eog
    }

    fn context_length(&self) -> Option<usize> {
        Some(self.n_ctx)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

impl BatchedModel for LlamaModel {
    fn slots(&self) -> usize {
        self.n_past.len()
    }

    fn start_slot(
        &mut self,
        slot: usize,
        prompt: &[u32],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        check_steps(&[(slot, 0)], self.n_past.len())?;
        self.evaluate(slot, prompt, false, |_| {})?;
        logits.clear();
        logits.extend_from_slice(self.last_logits());
        Ok(())
    }

    fn step_slots(
        &mut self,
        steps: &[(usize, u32)],
        logits: &mut [Vec<f32>],
    ) -> Result<(), ModelError> {
        self.decode_steps(steps)?;
        let ctx: &LlamaContext<'_> = self.engine.borrow_dependent();
        for (i, out) in logits.iter_mut().enumerate().take(steps.len()) {
            out.clear();
            out.extend_from_slice(ctx.get_logits_ith(i as i32));
        }
        Ok(())
    }

    fn release_slot(&mut self, slot: usize) {
        if slot < self.n_past.len() {
            self.n_past[slot] = None;
            self.engine.with_dependent_mut(|_, ctx| {
                // Clearing a whole valid sequence cannot fail.
                let _ = ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn llama_model_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<super::LlamaModel>();
    }
}

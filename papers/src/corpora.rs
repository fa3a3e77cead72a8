//! Model corpora for the detection papers. The default model answers the bundled prompts
//! under each watermark setting (and without one), cached by content. While it generates,
//! each step's unmodified logits give the answer token's negative log-likelihood under the
//! unwatermarked model and the model's top-k tokens at that position (the proposals of the
//! substitution and insertion attacks). These are cached with the answers, so a re-run
//! needs no model; answers cached without them are teacher-forced once.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig};
use tracemark_demo::{PromptSet, demo_key};
use tracemark_embed::{Record, SamplingParams};
use tracemark_workflow::corpus::{CorpusSpec, read_records, teacher_chat};
use tracemark_workflow::{Chat, Progress, WorkflowError, answer_record};

/// Longest answer, in tokens (Kirchenbauer et al. score T = 200).
pub const ANSWER_TOKENS: usize = 200;
/// Proposals kept per position for the attacks.
pub const TOP_K: usize = 10;
/// Prompts answered under each watermark.
pub const WATERMARKED_PROMPTS: usize = 64;
/// Prompts answered without a watermark (the null corpus).
pub const PLAIN_PROMPTS: usize = 200;
/// Seed of every key and all sampling (prompt `i` uses `SEED + i`).
pub const SEED: u64 = 2023;

/// One corpus to generate: a named watermark setting, or none.
#[derive(Debug, Clone)]
pub struct Setting {
    /// Short name used in tables, e.g. `kgw γ=0.25 δ=2 lefthash h=1`.
    pub name: String,
    /// The watermark, or `None` for plain answers.
    pub config: Option<WatermarkConfig>,
}

impl Setting {
    /// A KGW setting.
    pub fn kgw(gamma: f64, delta: f64, kind: SeedingKind, h: usize) -> Self {
        let config = WatermarkConfig {
            scheme: Scheme::Kgw {
                gamma: Gamma::new(gamma).expect("valid γ"),
                delta: Delta::new(delta).expect("valid δ"),
            },
            seeding: Seeding::new(kind, h).expect("valid seeding"),
        };
        Self {
            name: config.describe(),
            config: Some(config),
        }
    }

    /// A Gumbel (Aaronson) setting.
    pub fn gumbel(kind: SeedingKind, h: usize) -> Self {
        let config = WatermarkConfig {
            scheme: Scheme::Gumbel,
            seeding: Seeding::new(kind, h).expect("valid seeding"),
        };
        Self {
            name: config.describe(),
            config: Some(config),
        }
    }

    /// Plain answers.
    pub fn plain() -> Self {
        Self {
            name: "no watermark".into(),
            config: None,
        }
    }

    /// The key of this setting: the demo key of [`SEED`], so it is public.
    pub fn key(&self) -> Option<Key> {
        self.config.map(|c| demo_key(SEED, c))
    }

    fn prompts(&self) -> usize {
        if self.config.is_some() {
            WATERMARKED_PROMPTS
        } else {
            PLAIN_PROMPTS
        }
    }
}

/// One answer with what the unwatermarked model thinks of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Doc {
    /// The prompt.
    pub prompt: String,
    /// The answer's text.
    pub text: String,
    /// The answer's token ids, as generated.
    pub ids: Vec<u32>,
    /// Negative log-likelihood (nats) of each answer token under the unwatermarked model.
    pub nll: Vec<f32>,
    /// The model's top-[`TOP_K`] tokens at each answer position, most likely first.
    pub proposals: Vec<Vec<u32>>,
}

/// The answers of one setting.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The setting.
    pub setting: Setting,
    /// The key, for watermarked corpora.
    pub key: Option<Key>,
    /// Answers in prompt order.
    pub docs: Vec<Doc>,
}

/// Where and how corpora are made.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The model (GGUF).
    pub model: PathBuf,
    /// Cache directory.
    pub cache: PathBuf,
    /// CPU threads for llama.cpp.
    pub threads: usize,
    /// Only make the settings `i` with `i % n == shard` (`Some((shard, n))`), then stop.
    pub shard: Option<(usize, usize)>,
}

/// The corpora of `settings`, in order; `None` when `sources.shard` asked only to make some.
pub fn load(
    sources: &Sources,
    settings: &[Setting],
    progress: &dyn Progress,
) -> Result<Option<Vec<Corpus>>, WorkflowError> {
    let mut generator = Generator::new(&sources.model, &sources.cache, sources.threads)?;
    let mut out = Vec::new();
    for (i, setting) in settings.iter().enumerate() {
        if sources.shard.is_some_and(|(s, n)| i % n != s) {
            continue;
        }
        out.push(generator.corpus(setting, progress)?);
    }
    Ok(sources.shard.is_none().then_some(out))
}

/// Generates (or loads) corpora with the default model.
pub struct Generator {
    chat: Chat,
    model_id: String,
    cache: PathBuf,
}

impl Generator {
    /// Loads the model at `model` with `threads` CPU threads; corpora are cached in `cache`.
    pub fn new(model: &Path, cache: &Path, threads: usize) -> Result<Self, WorkflowError> {
        WorkflowError::create_dir(cache)?;
        let (chat, model_id) = teacher_chat(model, threads)?;
        Ok(Self {
            chat,
            model_id,
            cache: cache.to_path_buf(),
        })
    }

    /// The corpus of `setting`: answers (generated unless cached), then the forced pass
    /// (computed unless cached).
    pub fn corpus(
        &mut self,
        setting: &Setting,
        progress: &dyn Progress,
    ) -> Result<Corpus, WorkflowError> {
        let prompts: Vec<String> = PromptSet::bundled().all()[..setting.prompts()]
            .iter()
            .map(|p| p.prompt.clone())
            .collect();
        let key = setting.key();
        let spec = CorpusSpec {
            key: key.as_ref(),
            prompts: &prompts,
            params: SamplingParams::new(0.7, 0, 0.95, SEED)?,
            max_tokens: ANSWER_TOKENS,
            accounts: None,
        };
        let path = spec.cache_path(&self.cache, &self.model_id);
        let forced_path = path.with_extension("forced.json");
        let cached = read_records(&path, &prompts).ok();
        let (records, forced) = match (cached, read_forced(&forced_path, prompts.len())) {
            (Some(records), Some(forced)) => (records, forced),
            (Some(records), None) => {
                // Answers cached without their forced pass: teacher-force them.
                progress.stage(&format!("teacher forcing: {}", setting.name));
                let forced = self.force(&records, progress)?;
                write_json(&forced_path, &forced)?;
                (records, forced)
            }
            (None, _) => {
                progress.stage(&format!("answers: {}", setting.name));
                let (records, forced) = self.generate(&spec, progress)?;
                tracemark_io::write_jsonl(&path, &records, true)?;
                write_json(&forced_path, &forced)?;
                (records, forced)
            }
        };
        let docs = records
            .into_iter()
            .zip(forced)
            .map(|(r, f)| Doc {
                prompt: r.prompt,
                text: r.response,
                ids: r.token_ids,
                nll: f.nll,
                proposals: f.top,
            })
            .collect();
        Ok(Corpus {
            setting: setting.clone(),
            key,
            docs,
        })
    }

    /// Answers every prompt, recording each answer token's NLL and the top-k under the
    /// unwatermarked model from the step's own logits (before any watermark bias).
    fn generate(
        &mut self,
        spec: &CorpusSpec<'_>,
        progress: &dyn Progress,
    ) -> Result<(Vec<Record>, Vec<Forced>), WorkflowError> {
        progress.start(spec.prompts.len() as u64, "answers");
        let (mut records, mut forced) = (Vec::new(), Vec::new());
        for (index, prompt) in spec.prompts.iter().enumerate() {
            let mut f = Forced::default();
            let mut observe = |raw: &[f32], token: u32| {
                f.nll.push(nll(raw, token));
                f.top.push(top_k(raw, TOP_K));
            };
            records.push(answer_record(
                &mut self.chat,
                spec.key,
                None,
                spec.params,
                index,
                prompt,
                spec.max_tokens,
                Some(&mut observe),
            )?);
            forced.push(f);
            progress.inc(1);
        }
        progress.finish();
        Ok((records, forced))
    }

    fn force(
        &mut self,
        records: &[Record],
        progress: &dyn Progress,
    ) -> Result<Vec<Forced>, WorkflowError> {
        progress.start(records.len() as u64, "teacher forcing");
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            out.push(self.force_one(r)?);
            progress.inc(1);
        }
        progress.finish();
        Ok(out)
    }

    fn force_one(&mut self, r: &Record) -> Result<Forced, WorkflowError> {
        if r.token_ids.is_empty() {
            return Ok(Forced::default());
        }
        let prompt = self.chat.prompt_ids(&r.prompt)?;
        let mut tokens = prompt.clone();
        tokens.extend_from_slice(&r.token_ids);
        let logits = self.chat.model().score_all(&tokens)?;
        let mut forced = Forced::default();
        for (j, &token) in r.token_ids.iter().enumerate() {
            let row = logits.row(prompt.len() + j - 1);
            forced.nll.push(nll(row, token));
            forced.top.push(top_k(row, TOP_K));
        }
        Ok(forced)
    }
}

/// The cached result of teacher forcing one answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Forced {
    nll: Vec<f32>,
    top: Vec<Vec<u32>>,
}

fn write_json(path: &Path, forced: &[Forced]) -> Result<(), WorkflowError> {
    let json = serde_json::to_vec(forced).expect("serializable");
    Ok(tracemark_io::atomic::write_atomic(
        path, &json, false, true,
    )?)
}

fn read_forced(path: &Path, n: usize) -> Option<Vec<Forced>> {
    let bytes = std::fs::read(path).ok()?;
    let forced: Vec<Forced> = serde_json::from_slice(&bytes).ok()?;
    (forced.len() == n).then_some(forced)
}

/// −ln softmax(row)[token], computed stably.
fn nll(row: &[f32], token: u32) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = row.iter().map(|&x| f64::from(x - max).exp()).sum();
    (sum.ln() - f64::from(row[token as usize] - max)) as f32
}

/// The `k` largest entries' indices, largest first (ties to the lower index).
fn top_k(row: &[f32], k: usize) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..row.len() as u32).collect();
    let by = |a: &u32, b: &u32| row[*b as usize].total_cmp(&row[*a as usize]).then(a.cmp(b));
    let k = k.min(idx.len());
    if k < idx.len() {
        idx.select_nth_unstable_by(k, by);
        idx.truncate(k);
    }
    idx.sort_by(by);
    idx.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_logit_then_id() {
        assert_eq!(top_k(&[0.5, 2.0, 2.0, -1.0, 3.0], 3), vec![4, 1, 2]);
    }

    #[test]
    fn nll_of_uniform_row_is_ln_v() {
        let row = [1.0f32; 8];
        assert!((nll(&row, 3) - 8f32.ln()).abs() < 1e-6);
    }
}

//! A frozen copy of the embedding step as it was before the `perf-embed` optimisations
//! (commit 93be8a7): `src/{embedder,kgw,gumbel,sampling,fastmath}.rs`, with only the paths
//! changed. The differential test checks the crate against it token for token, and the bench
//! times both side by side. Do not "fix" or speed up anything here: it is the specification.
#![allow(dead_code, unused_imports, clippy::all)]

mod fastmath;
mod sampling;

use tracemark_core::prf::ln_uniform;
use tracemark_core::{Scheme, TokenScore, Watermark};
use tracemark_embed::{BiasStats, DEFAULT_SELFHASH_CANDIDATES, SamplingParams};

use fastmath::add_where_below;
use sampling::top_k_keys;
pub use sampling::{Sampler, argmax, filtered_distribution};

/// `Embedder::next_token` as it was: KGW bias then sample, Gumbel-max, or plain sampling.
#[derive(Debug, Clone)]
pub struct RefEmbedder {
    watermark: Option<Watermark>,
    sampler: Sampler,
    kgw: KgwBias,
    selfhash_candidates: usize,
}

impl RefEmbedder {
    /// The reference embedder for `watermark` (`None`: unwatermarked sampling).
    pub fn new(watermark: Option<Watermark>, params: SamplingParams) -> Self {
        Self {
            watermark,
            sampler: Sampler::new(params),
            kgw: KgwBias::default(),
            selfhash_candidates: DEFAULT_SELFHASH_CANDIDATES,
        }
    }

    /// Overrides the SelfHash candidate count.
    pub fn with_selfhash_candidates(mut self, k: usize) -> Self {
        self.selfhash_candidates = k;
        self
    }

    /// The next token; see `Embedder::next_token`.
    pub fn next_token(&mut self, context: &[u32], logits: &mut [f32]) -> u32 {
        let Some(wm) = &self.watermark else {
            return self.sampler.sample(logits);
        };
        match wm.config().scheme {
            Scheme::Kgw { .. } => {
                self.kgw
                    .apply(wm, context, logits, self.selfhash_candidates);
                self.sampler.sample(logits)
            }
            Scheme::Gumbel => gumbel_choose(wm, context, logits, &mut self.sampler),
        }
    }
}

/// The KGW logit bias with a reusable scratch buffer, so a decode step does not allocate.
#[derive(Debug, Clone, Default)]
pub struct KgwBias {
    words: Vec<u32>,
    keys: Vec<u64>,
}

impl KgwBias {
    /// An empty bias; buffers grow to the vocabulary size on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds δ to every green logit after `context` (the full token history).
    ///
    /// - Context shorter than h, or a Gumbel key: logits are left unchanged.
    /// - LeftHash / MinHash: one seed per step; the PRF words of all V tokens are filled in
    ///   one sequential pass and every token with word < γ·2³² gets +δ.
    /// - SelfHash: each of the `selfhash_candidates` highest logits (lower id on ties) is
    ///   scored with itself appended to the window and gets +δ if green. If none is green,
    ///   the logits are unchanged; that is normal, not an error.
    pub fn apply(
        &mut self,
        wm: &Watermark,
        context: &[u32],
        logits: &mut [f32],
        selfhash_candidates: usize,
    ) -> BiasStats {
        let Scheme::Kgw { gamma, delta } = wm.config().scheme else {
            return BiasStats::default();
        };
        let Some(window) = wm.window(context) else {
            return BiasStats::default();
        };
        let (threshold, delta) = (gamma.threshold(), delta.get());
        match wm.step_seed(window) {
            Some(seed) => {
                self.words.resize(logits.len(), 0);
                seed.fill(&mut self.words);
                let green = add_where_below(logits, &self.words, threshold, delta);
                BiasStats {
                    considered: logits.len(),
                    green,
                }
            }
            None => {
                let k = selfhash_candidates.min(logits.len());
                if k == 0 {
                    return BiasStats::default();
                }
                if k < logits.len() {
                    top_k_keys(logits, k, &mut self.keys);
                } else {
                    self.keys.clear();
                    self.keys
                        .extend((0..logits.len() as u64).map(|i| !i & 0xFFFF_FFFF));
                }
                // The candidates were fixed from the original logits above, before any bias.
                let mut green = 0;
                for &key in &self.keys {
                    let token = !(key as u32);
                    if wm.score(window, token) == TokenScore::Green(true) {
                        logits[token as usize] += delta;
                        green += 1;
                    }
                }
                BiasStats {
                    considered: k,
                    green,
                }
            }
        }
    }
}

/// A kept set larger than V / `FILL_RATIO` reads all V words in one sequential pass; a smaller
/// one reads each word by random access, which computes a 4-block (64-word) ChaCha20 batch.
/// The pass costs V/64 batches, so random access wins below about V/64 tokens.
const FILL_RATIO: usize = 64;

/// 2⁻³², as f64.
const TWO_POW_NEG_32: f64 = 1.0 / 4_294_967_296.0;

/// Picks the next token after `context` (the full history) by the Gumbel-max rule.
///
/// The logits are filtered with the sampler's temperature, top-k and top-p into kept tokens
/// with renormalised probabilities `p_v` (see [`crate::filtered_distribution`]); the result
/// is the kept token maximising `ln(u_v) / p_v`, ties to the lower id, where `u_v` is the
/// uniform of the PRF word of (window, v), the word detection scores. LeftHash and MinHash
/// share one seed per step; SelfHash derives a seed per kept token, which costs one HMAC
/// per kept token, so it pairs best with a small top-k.
///
/// - Temperature 0: the argmax. There is no randomness to replace, so no watermark.
/// - Context shorter than h: ordinary sampling with the sampler's RNG.
///
/// Meant for Gumbel keys; with a KGW key it still applies the Gumbel rule, which KGW
/// detection does not score. Does not change `logits`.
///
/// # Panics
/// If `logits` is empty or longer than `u32::MAX`.
pub fn gumbel_choose(
    wm: &Watermark,
    context: &[u32],
    logits: &[f32],
    sampler: &mut Sampler,
) -> u32 {
    let params = *sampler.params();
    if params.is_greedy() {
        return argmax(logits);
    }
    let Some(window) = wm.window(context) else {
        return sampler.sample(logits);
    };
    let filter = &mut sampler.filter;
    filter.run(logits, &params);
    let kept = &filter.kept;
    let mut best = Best {
        score: f64::NEG_INFINITY,
        token: u32::MAX,
    };
    match wm.step_seed(window) {
        Some(seed) if kept.len() > logits.len() / FILL_RATIO => {
            let words = &mut filter.words;
            words.resize(logits.len(), 0);
            seed.fill(words);
            for &(token, p) in kept {
                best.offer(words[token as usize], p, token);
            }
        }
        Some(seed) => {
            for &(token, p) in kept {
                best.offer(seed.word(token), p, token);
            }
        }
        None => {
            for &(token, p) in kept {
                best.offer(wm.tuple_seed(window, token).word(token), p, token);
            }
        }
    }
    best.token
}

/// The running argmax of `ln(u) / p`.
struct Best {
    score: f64,
    token: u32,
}

impl Best {
    #[inline]
    fn offer(&mut self, word: u32, p: f64, token: u32) {
        // ln u ≤ u − 1, and u − 1 = −(2³² − w − 0.5)/2³² is exact, so this bound is an upper
        // bound of the score; the gap (relative ≥ 2⁻³⁴) dwarfs rounding. It skips most lns.
        let bound = -(f64::from(u32::MAX - word) + 0.5) * TWO_POW_NEG_32 / p;
        if bound < self.score {
            return;
        }
        let score = ln_uniform(word) / p;
        if score > self.score || (score == self.score && token < self.token) {
            *self = Best { score, token };
        }
    }
}

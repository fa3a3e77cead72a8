//! KGW embedding: add δ to the logits of green tokens before sampling.
//!
//! A token is green exactly when detection would score it green: the bias reads the same PRF
//! words, those of [`Watermark::step_seed`] as [`Seed::fill`] expands it (LeftHash, MinHash;
//! computed in bulk by `keystream`) or of [`Watermark::score`] (SelfHash), and compares them
//! with the same threshold.
//!
//! [`Seed::fill`]: tracemark_core::Seed::fill

use tracemark_core::{Scheme, Seed, TokenScore, Watermark};

use crate::keystream::{bias_and_max, tuple_words};
use crate::topk::top_k_keys;

/// SelfHash candidates checked per step by default: the top 40 logits, as in Kirchenbauer
/// et al.'s Hugging Face implementation.
pub const DEFAULT_SELFHASH_CANDIDATES: usize = 40;

/// What one [`KgwBias::apply`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BiasStats {
    /// Tokens whose colour was looked up: V for LeftHash and MinHash, the candidates for
    /// SelfHash, 0 when nothing was done (context shorter than h, or a Gumbel key).
    pub considered: usize,
    /// Tokens that were green and received +δ.
    pub green: usize,
}

/// The KGW logit bias with a reusable scratch buffer, so a decode step does not allocate.
#[derive(Debug, Clone, Default)]
pub struct KgwBias {
    words: Vec<u32>,
    keys: Vec<u64>,
    pairs: Vec<(Seed, u32)>,
}

impl KgwBias {
    /// An empty bias; buffers grow to the vocabulary size on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds δ to every green logit after `context` (the full token history).
    ///
    /// - Context shorter than h, or a Gumbel key: logits are left unchanged.
    /// - LeftHash / MinHash: one seed per step; the PRF words of all V tokens are expanded
    ///   block by block and every token with word < γ·2³² gets +δ as its block comes out.
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
        self.apply_with_max(wm, context, logits, selfhash_candidates)
            .0
    }

    /// [`KgwBias::apply`], also returning the largest biased logit (NaN ignored) when the
    /// bias visited every logit anyway (LeftHash, MinHash), so sampling can skip that pass.
    pub(crate) fn apply_with_max(
        &mut self,
        wm: &Watermark,
        context: &[u32],
        logits: &mut [f32],
        selfhash_candidates: usize,
    ) -> (BiasStats, Option<f32>) {
        let Scheme::Kgw { gamma, delta } = wm.config().scheme else {
            return (BiasStats::default(), None);
        };
        let Some(window) = wm.window(context) else {
            return (BiasStats::default(), None);
        };
        let (threshold, delta) = (gamma.threshold(), delta.get());
        match wm.step_seed(window) {
            Some(seed) => {
                // The keystream is expanded and compared block by block, fused with the max.
                let (green, top) = bias_and_max(&seed, logits, threshold, delta, &mut self.words);
                let stats = BiasStats {
                    considered: logits.len(),
                    green,
                };
                (stats, Some(top))
            }
            None => {
                let k = selfhash_candidates.min(logits.len());
                if k == 0 {
                    return (BiasStats::default(), None);
                }
                if k < logits.len() {
                    top_k_keys(logits, k, &mut self.keys);
                } else {
                    self.keys.clear();
                    self.keys
                        .extend((0..logits.len() as u64).map(|i| !i & 0xFFFF_FFFF));
                }
                // The candidates were fixed from the original logits above, before any bias.
                // Each has its own seed (one HMAC); their words are computed together.
                self.pairs.clear();
                self.pairs.extend(self.keys.iter().map(|&key| {
                    let token = !(key as u32);
                    (wm.tuple_seed(window, token), token)
                }));
                tuple_words(&self.pairs, &mut self.words);
                let mut green = 0;
                for (&(_, token), &word) in self.pairs.iter().zip(&self.words) {
                    // `Watermark::score` is exactly this verdict on this word.
                    if wm.score_word(word) == TokenScore::Green(true) {
                        logits[token as usize] += delta;
                        green += 1;
                    }
                }
                let stats = BiasStats {
                    considered: k,
                    green,
                };
                (stats, None)
            }
        }
    }
}

/// One-off form of [`KgwBias::apply`]; allocates its scratch buffer on each call.
pub fn apply_kgw_bias(
    wm: &Watermark,
    context: &[u32],
    logits: &mut [f32],
    selfhash_candidates: usize,
) -> BiasStats {
    KgwBias::new().apply(wm, context, logits, selfhash_candidates)
}

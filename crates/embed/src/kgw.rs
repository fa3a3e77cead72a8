//! KGW embedding: add δ to the logits of green tokens before sampling.
//!
//! A token is green exactly when detection would score it green: the bias reads the same PRF
//! words, those of [`Watermark::step_seed`] as [`Seed::fill`] expands it (LeftHash, MinHash;
//! computed in bulk by `keystream`) or of [`Watermark::score`] (SelfHash), and compares them
//! with the same threshold.
//!
//! With a master key and an account, green tokens of the account's colour at their digit get
//! δ and the other green tokens δ − δ_a ([`tracemark_core::AccountLayer`]); red tokens get
//! nothing, as always. Without an account a master key biases like a plain key.
//!
//! [`Seed::fill`]: tracemark_core::Seed::fill

use tracemark_core::{AccountCode, AccountLayer, Scheme, Seed, TokenScore, Watermark};

use crate::keystream::{BlockWords, bias_and_max, tuple_words};
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
    /// Tokens that were green and received a bias (+δ, or +δ − δ_a off an account's colour).
    pub green: usize,
}

/// The KGW logit bias with a reusable scratch buffer, so a decode step does not allocate.
#[derive(Debug, Clone, Default)]
pub struct KgwBias {
    words: Vec<u32>,
    keys: Vec<u64>,
    pairs: Vec<(Seed, u32)>,
    blocks: BlockWords,
}

/// The bias of one green word: δ, or with an account δ − δ_a off the account's colour.
#[inline]
fn green_bias(word: u32, delta: f32, account: Option<(&AccountLayer, &AccountCode)>) -> f32 {
    match account {
        None => delta,
        Some((layer, code)) => {
            let (digit, colour) = layer.slot(word);
            if code.colour(digit) == colour {
                delta
            } else {
                delta - layer.delta().get()
            }
        }
    }
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
        self.apply_with_max(wm, context, logits, selfhash_candidates, None)
            .0
    }

    /// [`KgwBias::apply`] for an answer served to the account with code `account` (from
    /// [`Watermark::account_code`] of a master key). A plain key ignores the account.
    pub fn apply_for_account(
        &mut self,
        wm: &Watermark,
        account: &AccountCode,
        context: &[u32],
        logits: &mut [f32],
        selfhash_candidates: usize,
    ) -> BiasStats {
        self.apply_with_max(wm, context, logits, selfhash_candidates, Some(account))
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
        account: Option<&AccountCode>,
    ) -> (BiasStats, Option<f32>) {
        let Scheme::Kgw { gamma, delta } = wm.config().scheme else {
            return (BiasStats::default(), None);
        };
        let Some(window) = wm.window(context) else {
            return (BiasStats::default(), None);
        };
        let (threshold, delta) = (gamma.threshold(), delta.get());
        let account = wm.accounts().zip(account);
        match wm.step_seed(window) {
            Some(seed) if account.is_some() => {
                // Every word is needed, and each green one is looked up in the code.
                let vocab = logits.len();
                self.blocks.compute(&seed, vocab, 0..vocab as u32);
                let mut green = 0;
                for (token, logit) in logits.iter_mut().enumerate() {
                    let word = self.blocks.word(token as u32);
                    if word < threshold {
                        *logit += green_bias(word, delta, account);
                        green += 1;
                    }
                }
                let stats = BiasStats {
                    considered: vocab,
                    green,
                };
                (stats, None)
            }
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
                        logits[token as usize] += green_bias(word, delta, account);
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

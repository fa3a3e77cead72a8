//! Frozen copy of `src/sampling.rs` as of the reference commit (see `mod.rs`), less
//! `SamplingParams`, which it takes from the crate (its fields through their accessors).
//!
//! Temperature, top-k and nucleus (top-p) filtering, and a seeded categorical sampler.
//!
//! # Orders and ties
//! Top-k ranks tokens by logit, higher first, lower token id on ties; NaN counts as −∞.
//! The nucleus ranks the survivors by probability, higher first, lower token id on ties, and
//! keeps the shortest prefix whose mass reaches `top_p`. Every step is deterministic.
//!
//! # Cost at V = 49,152
//! No step sorts the vocabulary. Top-k keeps a small buffer that is cut back to k with
//! `select_nth_unstable` whenever it fills, and skips 16-logit chunks below the running k-th
//! logit. Top-p computes the softmax with per-block (256-token) maxima and sums, collects the
//! tokens above falling thresholds (1/8, 1/64, … of the top probability) until their mass
//! reaches `top_p`, bins those few by float exponent, and sorts only the bin where the
//! nucleus ends. Without top-k and top-p, sampling walks the block sums.
//!
//! Probabilities below 2⁻¹²⁵ of the largest count as 0 (they are never sampled).

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

use tracemark_embed::SamplingParams;

use super::fastmath::{
    BLOCK, Blocks, collect_band, exp_blocks, exp_scale, max, max_small, prob_key, scaled_exp,
};

/// The highest logit's token, the lowest id on ties; NaN counts as −∞, and if every logit
/// is −∞ or NaN the answer is token 0.
///
/// # Panics
/// If `logits` is empty.
pub fn argmax(logits: &[f32]) -> u32 {
    assert!(!logits.is_empty(), "logits must not be empty");
    let m = max(logits);
    if m == f32::NEG_INFINITY {
        return 0;
    }
    logits
        .iter()
        .position(|&x| x == m)
        .expect("the maximum is present") as u32
}

/// The tokens that survive temperature, top-k and top-p, with their probabilities
/// renormalised over the kept set (they sum to 1 up to rounding; every one is > 0).
///
/// Temperature 0 gives the argmax with probability 1. If every logit is −∞ or NaN the
/// result is token 0 with probability 1; if some logits are +∞, they share the mass equally.
/// The order of the pairs is deterministic but unspecified. Allocates; [`Sampler`] reuses
/// its buffers instead.
///
/// # Panics
/// If `logits` is empty or longer than `u32::MAX`.
pub fn filtered_distribution(logits: &[f32], params: &SamplingParams) -> Vec<(u32, f64)> {
    Filter::default().run(logits, params).to_vec()
}

/// A seeded sampler with reusable buffers, so a decode step does not allocate.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha20Rng,
    pub(crate) filter: Filter,
}

impl Sampler {
    /// A sampler whose RNG is `ChaCha20Rng::seed_from_u64(params.seed())`.
    pub fn new(params: SamplingParams) -> Self {
        Self {
            params,
            rng: ChaCha20Rng::seed_from_u64(params.seed()),
            filter: Filter::default(),
        }
    }

    /// The settings.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Draws the next token from `logits` (length V) after temperature, top-k and top-p.
    /// Greedy settings take the argmax and draw nothing from the RNG; otherwise each call
    /// draws exactly one uniform.
    ///
    /// # Panics
    /// If `logits` is empty or longer than `u32::MAX`.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.params.is_greedy() {
            return argmax(logits);
        }
        let r = self.uniform();
        self.filter.sample(logits, &self.params, r)
    }

    /// A uniform draw in [0, 1) with 53 random bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The token at cumulative mass `r` of `kept`, scanned in order.
fn categorical(kept: &[(u32, f64)], r: f64) -> u32 {
    let mut cum = 0.0;
    for &(token, p) in kept {
        cum += p;
        if r < cum {
            return token;
        }
    }
    kept.last().expect("the kept set is never empty").0 // r within rounding of 1
}

/// Candidate thresholds for the nucleus, relative to the largest probability (which is 1).
const THRESHOLDS: [f32; 6] = [
    1.0 / 8.0,
    1.0 / 64.0,
    1.0 / 512.0,
    1.0 / 4096.0,
    1.0 / 32_768.0,
    1.0 / 262_144.0,
];

/// Bits of a probability's float dropped by the nucleus histogram: 2⁵ bins per octave.
const BIN_SHIFT: u32 = 18;
/// The last bin, where probability 0 falls.
const TOP_BIN: u32 = 1.0f32.to_bits() >> BIN_SHIFT;

/// Reusable buffers of the filtering step.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    probs: Vec<f32>,
    keys: Vec<u64>,
    blocks: Blocks,
    hist: Vec<f64>,
    boundary: Vec<u64>,
    sanitized: Vec<f32>,
    /// The kept pairs of the last [`Filter::run`].
    pub(crate) kept: Vec<(u32, f64)>,
    /// PRF words of a whole vocabulary, for the Gumbel step.
    pub(crate) words: Vec<u32>,
}

impl Filter {
    /// The token at cumulative mass `r ∈ [0, 1)` of the filtered distribution. Without top-k
    /// and top-p it walks the block sums instead of listing all V kept tokens.
    pub(crate) fn sample(&mut self, logits: &[f32], params: &SamplingParams, r: f64) -> u32 {
        check(logits);
        let unfiltered =
            params.top_p() >= 1.0 && (params.top_k() == 0 || params.top_k() >= logits.len());
        let m = max(logits);
        if !unfiltered || !m.is_finite() {
            return categorical(self.run(logits, params), r);
        }
        let scale = exp_scale(1.0 / params.temperature());
        self.probs.resize(logits.len(), 0.0);
        let total = exp_blocks(logits, m, scale, &mut self.probs, &mut self.blocks);
        let target = r * total;
        let last_nonzero = |probs: &[f32]| probs.iter().rposition(|&e| e > 0.0).expect("some mass");
        let mut cum = 0.0;
        for (i, (b, &sum)) in self.probs.chunks(BLOCK).zip(&self.blocks.sum).enumerate() {
            if cum + sum > target {
                for (j, &e) in b.iter().enumerate() {
                    cum += f64::from(e);
                    if cum > target {
                        return (i * BLOCK + j) as u32;
                    }
                }
                // The lane-order block sum passed the target, the sequential one fell short.
                return (i * BLOCK + last_nonzero(b)) as u32;
            }
            cum += sum;
        }
        last_nonzero(&self.probs) as u32 // r · total rounded up to total
    }

    /// The kept (token, probability) pairs; see [`filtered_distribution`].
    pub(crate) fn run(&mut self, logits: &[f32], params: &SamplingParams) -> &[(u32, f64)] {
        check(logits);
        self.kept.clear();
        let m = max(logits);
        if params.is_greedy() || m == f32::NEG_INFINITY {
            self.kept.push((argmax(logits), 1.0));
            return &self.kept;
        }
        if m == f32::INFINITY {
            // The +∞ tokens share the mass: rerun on logits 0 for them and −∞ for the rest.
            let mut sanitized = std::mem::take(&mut self.sanitized);
            sanitized.clear();
            sanitized.extend(
                logits
                    .iter()
                    .map(|&x| if x == m { 0.0 } else { f32::NEG_INFINITY }),
            );
            self.run(&sanitized, params);
            self.sanitized = sanitized;
            return &self.kept;
        }
        let scale = exp_scale(1.0 / params.temperature());
        if params.top_k() > 0 && params.top_k() < logits.len() {
            self.top_k(logits, params.top_k(), scale, params.top_p());
        } else {
            self.full(logits, m, scale, params.top_p());
        }
        // Renormalise over the kept set; kept[i].1 holds the unnormalised weight here.
        let z: f64 = self.kept.iter().map(|&(_, e)| e).sum();
        for (_, p) in &mut self.kept {
            *p /= z;
        }
        &self.kept
    }

    /// Top-k, then top-p over those k.
    fn top_k(&mut self, logits: &[f32], k: usize, scale: f32, top_p: f32) {
        top_k_keys(logits, k, &mut self.keys);
        let m = self
            .keys
            .iter()
            .map(|&key| logits[key_id(key)])
            .fold(f32::NEG_INFINITY, f32::max);
        // Re-key by (probability, id) so ties and order match the full-vocabulary path.
        let mut z = 0.0;
        for key in &mut self.keys {
            let id = key_id(*key);
            let e = scaled_exp(logits[id], m, scale);
            z += f64::from(e);
            *key = prob_key(e, id);
        }
        self.nucleus(f64::from(top_p) * z);
    }

    /// Softmax over the whole vocabulary, then top-p.
    fn full(&mut self, logits: &[f32], m: f32, scale: f32, top_p: f32) {
        self.probs.resize(logits.len(), 0.0);
        let total = exp_blocks(logits, m, scale, &mut self.probs, &mut self.blocks);
        let (probs, block_max) = (&self.probs, &self.blocks.max[..]);
        if top_p >= 1.0 {
            let nonzero = probs.iter().enumerate().filter(|&(_, &e)| e > 0.0);
            return self
                .kept
                .extend(nonzero.map(|(i, &e)| (i as u32, f64::from(e))));
        }
        // Collect the tokens ≥ c for falling thresholds c until their mass reaches the target:
        // the nucleus lies among them. A threshold is skipped without a scan while the blocks
        // holding any token ≥ c cannot reach the target. The last resort: tokens below `floor`
        // carry at most (1 − top_p)/2 of the mass together, so the nucleus ends above them.
        let target = f64::from(top_p) * total;
        let slack = 1.0 - f64::from(top_p);
        let floor = if slack < 1e-4 {
            0.0
        } else {
            (slack * total / (2 * probs.len()) as f64) as f32
        };
        let blocks = self.blocks.max.iter().zip(&self.blocks.sum);
        let bound = |c: f32| -> f64 {
            blocks
                .clone()
                .filter(|&(&top, _)| top >= c)
                .map(|(_, &sum)| sum)
                .sum()
        };
        self.keys.clear();
        let (mut hi, mut mass) = (f32::INFINITY, 0.0);
        for lo in THRESHOLDS.into_iter().filter(|&c| c > floor).chain([floor]) {
            if lo > floor && bound(lo) < target {
                continue;
            }
            let start = self.keys.len();
            collect_band(probs, block_max, lo, hi, &mut self.keys);
            mass += self.keys[start..]
                .iter()
                .map(|&key| f64::from(key_prob(key)))
                .sum::<f64>();
            if mass >= target {
                break;
            }
            hi = lo;
        }
        self.nucleus(target);
    }

    /// Moves into `kept` the shortest prefix of `keys` (in descending key order) whose mass
    /// reaches `target`, or all nonzero keys if rounding leaves the target out of reach.
    fn nucleus(&mut self, target: f64) {
        let mut cum = 0.0;
        let mut boundary = std::mem::take(&mut self.boundary);
        boundary.clear();
        if self.keys.len() <= 256 {
            boundary.append(&mut self.keys);
        } else {
            // Bin by exponent: bins above the boundary bin are wholly in; only it is sorted.
            self.hist.clear();
            self.hist.resize(TOP_BIN as usize + 1, 0.0);
            for &key in &self.keys {
                self.hist[key_bin(key)] += f64::from(key_prob(key));
            }
            let edge = self
                .hist
                .iter()
                .position(|&mass| {
                    cum += mass;
                    cum >= target
                })
                .unwrap_or(TOP_BIN as usize);
            cum = self.hist[..edge].iter().sum();
            for &key in &self.keys {
                let bin = key_bin(key);
                if bin < edge {
                    self.kept
                        .push((key_id(key) as u32, f64::from(key_prob(key))));
                } else if bin == edge {
                    boundary.push(key);
                }
            }
        }
        boundary.sort_unstable_by(|a, b| b.cmp(a));
        for &key in &boundary {
            let e = f64::from(key_prob(key));
            if e == 0.0 {
                break;
            }
            self.kept.push((key_id(key) as u32, e));
            cum += e;
            if cum >= target {
                break;
            }
        }
        self.boundary = boundary;
    }
}

fn check(logits: &[f32]) {
    assert!(!logits.is_empty(), "logits must not be empty");
    assert!(
        u32::try_from(logits.len()).is_ok(),
        "vocabulary larger than u32::MAX"
    );
}

/// A key ordering tokens by logit (higher first after a descending sort), then lower id.
fn logit_key(logit: f32, id: u32) -> u64 {
    let bits = if logit.is_nan() {
        f32::NEG_INFINITY
    } else {
        logit
    }
    .to_bits();
    let ordered = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    };
    (u64::from(ordered) << 32) | u64::from(!id)
}

fn key_id(key: u64) -> usize {
    !(key as u32) as usize
}

fn key_prob(key: u64) -> f32 {
    f32::from_bits((key >> 32) as u32)
}

/// The nucleus histogram bin of a [`prob_key`]: 0 for probability 1, then 2⁵ bins per octave.
fn key_bin(key: u64) -> usize {
    (TOP_BIN - (key >> (32 + BIN_SHIFT)) as u32) as usize
}

/// Leaves the [`logit_key`]s of the `k` highest logits in `buf`, in no particular order.
/// Needs `0 < k < logits.len()`.
pub(crate) fn top_k_keys(logits: &[f32], k: usize, buf: &mut Vec<u64>) {
    debug_assert!(k > 0 && k < logits.len());
    const CHUNK: usize = 16;
    let cap = 4 * k.max(CHUNK);
    buf.clear();
    // Until the first cut every key is admitted: real keys are all > 0.
    let (mut min_key, mut min_logit) = (0u64, f32::NEG_INFINITY);
    for (c, chunk) in logits.chunks(CHUNK).enumerate() {
        if max_small(chunk) < min_logit {
            continue;
        }
        for (j, &logit) in chunk.iter().enumerate() {
            let key = logit_key(logit, (c * CHUNK + j) as u32);
            if key > min_key {
                buf.push(key);
                if buf.len() == cap {
                    cut(buf, k);
                    min_key = buf[k - 1];
                    min_logit = logits[key_id(min_key)];
                }
            }
        }
    }
    if buf.len() > k {
        cut(buf, k);
    }
}

/// Keeps the `k` largest keys, the smallest of them at `buf[k − 1]`.
fn cut(buf: &mut Vec<u64>, k: usize) {
    buf.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
    buf.truncate(k);
}

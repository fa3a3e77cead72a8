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
//! nucleus ends. With AVX-512 the softmax pass itself gathers the tokens ≥ 1/4096 of the top,
//! so the bands above that are cut from the gathered few instead of rescanning the
//! vocabulary. Without top-k and top-p, sampling walks the block sums. When the caller
//! already has the maximum logit (the fused KGW bias), no step recomputes it.
//!
//! Probabilities below 2⁻¹²⁵ of the largest count as 0 (they are never sampled).

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use tracemark_core::Seed;

use crate::EmbedError;
use crate::fastmath::{
    BLOCK, Blocks, Candidates, collect_band, divide_all, exp_blocks, exp_blocks_collecting,
    exp_scale, first_equal, key_id, max, prob_key, scaled_exp,
};
use crate::keystream::BlockWords;
use crate::topk::top_k_keys;

/// Sampling settings: temperature, then top-k, then top-p, then a categorical draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    temperature: f32,
    top_k: usize,
    top_p: f32,
    seed: u64,
}

impl SamplingParams {
    /// Validates the settings.
    ///
    /// - `temperature`: finite and ≥ 0; 0 means greedy (argmax).
    /// - `top_k`: how many highest logits to keep; 0 means off.
    /// - `top_p`: nucleus mass in (0, 1]; 1 means off.
    /// - `seed`: seeds the sampler's ChaCha20 RNG.
    ///
    /// ```
    /// use tracemark_embed::SamplingParams;
    /// assert!(SamplingParams::new(0.7, 0, 0.95, 1).is_ok());
    /// assert!(SamplingParams::new(-1.0, 0, 0.95, 1).is_err());
    /// ```
    pub fn new(temperature: f32, top_k: usize, top_p: f32, seed: u64) -> Result<Self, EmbedError> {
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(EmbedError::InvalidSampling(format!(
                "temperature must be a finite number >= 0 (0 = greedy), got {temperature}"
            )));
        }
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(EmbedError::InvalidSampling(format!(
                "top_p must be in (0, 1] (1 = off), got {top_p}"
            )));
        }
        Ok(Self {
            temperature,
            top_k,
            top_p,
            seed,
        })
    }

    /// Greedy decoding: always the highest logit.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }

    /// The same settings with another RNG seed.
    pub fn with_seed(self, seed: u64) -> Self {
        Self { seed, ..self }
    }

    /// Softmax temperature; 0 is greedy.
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Top-k cut-off; 0 is off.
    pub fn top_k(&self) -> usize {
        self.top_k
    }

    /// Nucleus mass; 1 is off.
    pub fn top_p(&self) -> f32 {
        self.top_p
    }

    /// Seed of the sampler's RNG.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether decoding is argmax: temperature 0, or so small that 1/T overflows.
    pub fn is_greedy(&self) -> bool {
        !(1.0 / self.temperature).is_finite()
    }
}

impl Default for SamplingParams {
    /// Plain sampling from the softmax: temperature 1, no top-k, no top-p, seed 0.
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

/// The highest logit's token, the lowest id on ties; NaN counts as −∞, and if every logit
/// is −∞ or NaN the answer is token 0.
///
/// # Panics
/// If `logits` is empty.
pub fn argmax(logits: &[f32]) -> u32 {
    assert!(!logits.is_empty(), "logits must not be empty");
    argmax_given_max(logits, max(logits))
}

/// [`argmax`] when `m = max(logits)` is known.
fn argmax_given_max(logits: &[f32], m: f32) -> u32 {
    if m == f32::NEG_INFINITY {
        return 0;
    }
    first_equal(logits, m).expect("the maximum is present") as u32
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
    Filter::default().run(logits, params, None).to_vec()
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
            rng: ChaCha20Rng::seed_from_u64(params.seed),
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
        self.sample_given_max(logits, None)
    }

    /// [`Sampler::sample`], given `max(logits)` (NaN ignored) if the caller has it.
    pub(crate) fn sample_given_max(&mut self, logits: &[f32], m: Option<f32>) -> u32 {
        if self.params.is_greedy() {
            check(logits);
            return argmax_given_max(logits, m.unwrap_or_else(|| max(logits)));
        }
        let r = self.uniform();
        self.filter.sample(logits, &self.params, r, m)
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

/// The exp pass gathers the tokens with probability ≥ `GATHER_LO` (a threshold above), unless
/// more than about `GATHER_CAP` qualify; the nucleus bands above it are then cut from those.
const GATHER_LO: f32 = THRESHOLDS[3];
const GATHER_CAP: usize = 4096;

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
    cands: Candidates,
    /// The kept pairs of the last [`Filter::run`] (weights after [`Filter::run_weights`]).
    pub(crate) kept: Vec<(u32, f64)>,
    /// PRF words of the kept tokens, for the Gumbel step.
    pub(crate) words: BlockWords,
    /// SelfHash Gumbel: each kept token's seed, and its word.
    pub(crate) pairs: Vec<(Seed, u32)>,
    pub(crate) tuple_words: Vec<u32>,
}

impl Filter {
    /// The token at cumulative mass `r ∈ [0, 1)` of the filtered distribution. Without top-k
    /// and top-p it walks the block sums instead of listing all V kept tokens.
    pub(crate) fn sample(
        &mut self,
        logits: &[f32],
        params: &SamplingParams,
        r: f64,
        m: Option<f32>,
    ) -> u32 {
        check(logits);
        let unfiltered = params.top_p >= 1.0 && (params.top_k == 0 || params.top_k >= logits.len());
        let m = m.unwrap_or_else(|| max(logits));
        if !unfiltered || !m.is_finite() {
            return categorical(self.run(logits, params, Some(m)), r);
        }
        let scale = exp_scale(1.0 / params.temperature);
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

    /// The kept (token, probability) pairs; see [`filtered_distribution`]. `m` is
    /// `max(logits)` if the caller has it.
    pub(crate) fn run(
        &mut self,
        logits: &[f32],
        params: &SamplingParams,
        m: Option<f32>,
    ) -> &[(u32, f64)] {
        let z = self.run_weights(logits, params, m);
        divide_all(&mut self.kept, z);
        &self.kept
    }

    /// [`Filter::run`] before the renormalisation: leaves the kept tokens with weights `w` in
    /// `kept` and returns `z`; the probabilities are exactly `w / z`. (Where `run` returns
    /// probabilities directly, they are the weights and `z` is 1.)
    pub(crate) fn run_weights(
        &mut self,
        logits: &[f32],
        params: &SamplingParams,
        m: Option<f32>,
    ) -> f64 {
        check(logits);
        self.kept.clear();
        let m = m.unwrap_or_else(|| max(logits));
        if params.is_greedy() || m == f32::NEG_INFINITY {
            self.kept.push((argmax_given_max(logits, m), 1.0));
            return 1.0;
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
            self.run(&sanitized, params, None);
            self.sanitized = sanitized;
            return 1.0;
        }
        let scale = exp_scale(1.0 / params.temperature);
        if params.top_k > 0 && params.top_k < logits.len() {
            self.top_k(logits, params.top_k, scale, params.top_p);
        } else {
            self.full(logits, m, scale, params.top_p);
        }
        // The total weight, in kept order.
        self.kept.iter().map(|&(_, e)| e).sum()
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
        if top_p >= 1.0 {
            // Every token with e > 0 (e ≥ the least subnormal), gathered by the exp pass
            // where it can, else by a scan.
            let (probs, blocks, cands) = (&mut self.probs, &mut self.blocks, &mut self.cands);
            let (tiny, all) = (f32::from_bits(1), logits.len());
            exp_blocks_collecting(logits, m, scale, probs, blocks, tiny, all, cands);
            if cands.complete {
                let kept = cands.pairs().map(|(e, id)| (id, f64::from(e)));
                return self.kept.extend(kept);
            }
            let nonzero = probs.iter().enumerate().filter(|&(_, &e)| e > 0.0);
            return self
                .kept
                .extend(nonzero.map(|(i, &e)| (i as u32, f64::from(e))));
        }
        // The exp pass also gathers the tokens ≥ GATHER_LO, where it can, so the bands
        // above it need no scan of `probs`.
        let total = exp_blocks_collecting(
            logits,
            m,
            scale,
            &mut self.probs,
            &mut self.blocks,
            GATHER_LO,
            GATHER_CAP,
            &mut self.cands,
        );
        let (probs, block_max, cands) = (&self.probs, &self.blocks.max[..], &self.cands);
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
            if cands.complete && lo >= cands.lo {
                // The same keys in the same (token) order as the scan below would give.
                let band = cands.pairs().filter(|&(e, _)| e >= lo && e < hi);
                self.keys
                    .extend(band.map(|(e, id)| prob_key(e, id as usize)));
            } else {
                collect_band(probs, block_max, lo, hi, &mut self.keys);
            }
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

fn key_prob(key: u64) -> f32 {
    f32::from_bits((key >> 32) as u32)
}

/// The nucleus histogram bin of a [`prob_key`]: 0 for probability 1, then 2⁵ bins per octave.
fn key_bin(key: u64) -> usize {
    (TOP_BIN - (key >> (32 + BIN_SHIFT)) as u32) as usize
}

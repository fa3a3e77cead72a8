//! Differential test: `Embedder::next_token` returns exactly the token of the frozen
//! pre-optimisation implementation (`tests/reference/`), and leaves the logits bit for bit as
//! it did, for every scheme, seeding and sampling setting, over thousands of logit vectors:
//! Gaussian at many scales, ties, −∞ and ±∞, NaN, huge magnitudes, one-hot, flat, Zipf-shaped
//! with a heavy tail, and ragged vocabulary sizes.
//!
//! Each embedder pair runs a sequence of steps, so the sampler RNGs must also stay in step;
//! each step also compares `filtered_distribution` (kept tokens, their order and their
//! probabilities, bit for bit) on the logits the sampler saw.

mod common;
#[allow(unsafe_code)] // the frozen reference keeps its AVX2 kernels.
mod reference;

use common::{key, kgw};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use reference::RefEmbedder;
use tracemark_core::{Key, Scheme, SeedingKind, Watermark};
use tracemark_embed::{Embedder, SamplingParams, filtered_distribution};

/// Temperatures × top-k × top-p of the brief: every combination.
const TEMPERATURES: [f32; 3] = [0.0, 0.7, 1.0];
const TOP_KS: [usize; 2] = [0, 40];
const TOP_PS: [f32; 2] = [0.95, 1.0];

/// A seeded source of test logits.
struct Gen(ChaCha20Rng);

impl Gen {
    fn unit(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }

    fn normal(&mut self) -> f64 {
        let (a, b) = (self.unit(), self.unit());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }

    /// One logit vector of length `v` in shape `shape` (0..SHAPES).
    fn logits(&mut self, shape: usize, v: usize) -> Vec<f32> {
        let sd = [0.01, 0.3, 1.0, 3.0, 8.0, 30.0][self.below(6)];
        let mut x: Vec<f32> = (0..v).map(|_| (sd * self.normal()) as f32).collect();
        match shape {
            // Gaussian at a random scale.
            0 => {}
            // Ties: few distinct levels, so many tokens share the top logit and the nucleus
            // boundary falls inside a tie.
            1 => {
                let levels = (1 + self.below(6)) as f32;
                for l in &mut x {
                    *l = (*l * levels / sd as f32).round();
                }
            }
            // −∞ for a random fraction of tokens, sometimes all but one.
            2 => {
                let keep = [0.0, 0.01, 0.5, 0.9][self.below(4)];
                for l in &mut x {
                    if self.unit() >= keep {
                        *l = f32::NEG_INFINITY;
                    }
                }
                let i = self.below(v);
                x[i] = 1.0;
            }
            // Extremes without NaN: huge magnitudes, f32::MAX/MIN, −∞, and sometimes +∞.
            3 => {
                for _ in 0..1 + self.below(20) {
                    let i = self.below(v);
                    x[i] =
                        [f32::MAX, f32::MIN, 1e30, -1e30, f32::NEG_INFINITY, 1e-38][self.below(6)];
                }
                if self.below(4) == 0 {
                    let i = self.below(v);
                    x[i] = f32::INFINITY;
                }
            }
            // Very peaked: one or a few tokens far above the rest.
            4 => {
                for _ in 0..1 + self.below(3) {
                    let i = self.below(v);
                    x[i] = 20.0 + 40.0 * self.unit() as f32;
                }
            }
            // Very flat: all equal, or all equal but tiny noise.
            5 => {
                let c = (self.normal() * 5.0) as f32;
                let noisy = self.below(2) == 0;
                for l in &mut x {
                    *l = if noisy { c + *l * 1e-3 } else { c };
                }
            }
            // Real-shaped: a Zipf-like ranking (logit ∝ −ln rank) over a random permutation,
            // plus noise; sometimes a heavy tail of ten tokens on top.
            6 => {
                let slope = 0.5 + 2.0 * self.unit();
                for (r, l) in x.iter_mut().enumerate() {
                    *l = (-slope * ((r + 1) as f64).ln() + 0.3 * self.normal()) as f32;
                }
                for i in (1..v).rev() {
                    let j = self.below(i + 1);
                    x.swap(i, j);
                }
                if self.below(3) == 0 {
                    for _ in 0..10 {
                        let i = self.below(v);
                        x[i] = 12.0;
                    }
                }
            }
            // NaN sprinkled in (counted as −∞), sometimes nearly everywhere; ±0 at the top.
            _ => {
                for _ in 0..1 + self.below(50) {
                    let i = self.below(v);
                    x[i] = f32::NAN;
                }
                if self.below(3) == 0 {
                    for l in &mut x {
                        if self.unit() < 0.95 {
                            *l = f32::NAN;
                        }
                    }
                }
                let m = x
                    .iter()
                    .copied()
                    .filter(|l| !l.is_nan())
                    .fold(f32::MIN, f32::max);
                for l in &mut x {
                    if *l == m {
                        *l = 0.0;
                    } else if !l.is_nan() {
                        *l -= m.abs() + 1.0;
                    }
                }
                let i = self.below(v);
                x[i] = -0.0;
            }
        }
        x
    }
}

const SHAPES: usize = 8;

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|l| l.to_bits()).collect()
}

fn dist_bits(d: &[(u32, f64)]) -> Vec<(u32, u64)> {
    d.iter().map(|&(t, p)| (t, p.to_bits())).collect()
}

/// Runs `steps` logit vectors through both embedders for every sampling setting and
/// asserts equal tokens and equal logits afterwards. Returns the number of steps compared.
fn compare(
    key: Option<&Key>,
    vocab: &[usize],
    steps: usize,
    seed: u64,
    candidates: usize,
) -> usize {
    let mut gen_ = Gen(ChaCha20Rng::seed_from_u64(seed));
    let mut compared = 0;
    for &t in &TEMPERATURES {
        for &top_k in &TOP_KS {
            for &top_p in &TOP_PS {
                let params = SamplingParams::new(t, top_k, top_p, seed ^ 0xabc).unwrap();
                let mut new = Embedder::new(key, params).with_selfhash_candidates(candidates);
                let mut old = RefEmbedder::new(key.map(Watermark::new), params)
                    .with_selfhash_candidates(candidates);
                let mut context = vec![7u32, 1000, 3];
                for step in 0..steps {
                    let v = vocab[step % vocab.len()];
                    let shape = step % SHAPES;
                    let logits = gen_.logits(shape, v);
                    let (mut a, mut b) = (logits.clone(), logits);
                    let want = old.next_token(&context, &mut a);
                    let got = new.next_token(&context, &mut b);
                    let case = format!("T={t} k={top_k} p={top_p} V={v} shape={shape} step={step}");
                    assert_eq!(got, want, "{case}");
                    assert!(bits(&a) == bits(&b), "logits differ: {case}");
                    // The whole filtered distribution, order and probabilities bit for bit.
                    let (fa, fb) = (
                        reference::filtered_distribution(&a, &params),
                        filtered_distribution(&b, &params),
                    );
                    assert!(
                        dist_bits(&fa) == dist_bits(&fb),
                        "distributions differ: {case}"
                    );
                    // Contexts vary and sometimes repeat, and sometimes are too short.
                    context.push(got % 50_000);
                    if step % 17 == 16 {
                        context.truncate(1);
                    }
                    compared += 1;
                }
            }
        }
    }
    compared
}

const V: usize = 49_152;
/// Ragged sizes: not multiples of 8, 16, 64 or 256, and smaller than one block.
const RAGGED: [usize; 6] = [1, 7, 300, 4097, 5003, 49_999];

#[test]
fn plain_sampling_matches_the_reference() {
    let n = compare(None, &[V], 128, 1, 40) + compare(None, &RAGGED, 64, 2, 40);
    assert_eq!(n, 12 * 192);
}

#[test]
fn kgw_lefthash_matches_the_reference() {
    let mut n = 0;
    for (h, gamma, delta, seed) in [(1, 0.25, 2.0, 3), (2, 0.5, 4.0, 4), (0, 0.1, 1.0, 5)] {
        let k = key(seed as u8, kgw(gamma, delta), SeedingKind::LeftHash, h);
        n += compare(Some(&k), &[V], 64, seed, 40);
        n += compare(Some(&k), &RAGGED, 32, seed + 100, 40);
    }
    assert_eq!(n, 12 * 3 * 96);
}

#[test]
fn kgw_minhash_matches_the_reference() {
    let k = key(6, kgw(0.25, 2.0), SeedingKind::MinHash, 3);
    let n = compare(Some(&k), &[V], 64, 6, 40) + compare(Some(&k), &RAGGED, 32, 106, 40);
    assert_eq!(n, 12 * 96);
}

#[test]
fn kgw_selfhash_matches_the_reference() {
    let mut n = 0;
    for (candidates, seed) in [(40, 7), (1, 8), (0, 9), (300, 10)] {
        let k = key(seed as u8, kgw(0.25, 2.0), SeedingKind::SelfHash, 3);
        n += compare(Some(&k), &[V], 32, seed, candidates);
        n += compare(Some(&k), &RAGGED, 16, seed + 100, candidates);
    }
    assert_eq!(n, 12 * 4 * 48);
}

#[test]
fn gumbel_matches_the_reference() {
    let mut n = 0;
    for (kind, h, seed) in [
        (SeedingKind::LeftHash, 1, 11),
        (SeedingKind::LeftHash, 3, 12),
        (SeedingKind::MinHash, 2, 13),
    ] {
        let k = key(seed as u8, Scheme::Gumbel, kind, h);
        n += compare(Some(&k), &[V], 64, seed, 40);
        n += compare(Some(&k), &RAGGED, 32, seed + 100, 40);
    }
    // SelfHash derives a seed per kept token: small vocabularies keep it quick.
    let k = key(14, Scheme::Gumbel, SeedingKind::SelfHash, 1);
    n += compare(Some(&k), &[300, 4097, 1, 7], 32, 14, 40);
    assert_eq!(n, 12 * (3 * 96 + 32));
}

//! A synthetic next-token model for statistical tests that need many generations fast.
//!
//! The model is Zipf-like per context: the previous token picks a permutation of the
//! vocabulary and an exponent s ∈ [1.3, 2.6], and the token of rank r gets logit −s·ln(r).
//! Over V = 49,152 that gives per-token entropies from about 1 to 4 nats (mean ≈ 2), in the
//! range of an instruction-tuned LLM sampled at temperature 1.

use tracemark_core::Key;
use tracemark_embed::{Embedder, SamplingParams};
use tracemark_model::{LanguageModel, Logits, ModelError};

/// Vocabulary size (SmolLM2's).
pub const V: usize = 49_152;

/// splitmix64: a small deterministic hash for the model's per-context choices.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The per-context permutation: rank(v) = (a·v + b) mod V, with gcd(a, V) = 1 (V = 2¹⁴·3).
fn permutation(previous: u32) -> (u64, u64, f64) {
    let h = mix(u64::from(previous));
    let s = 1.3 + 1.3 * ((h >> 40) as f64 / (1u64 << 24) as f64);
    let mut a = (mix(h) % V as u64) | 1;
    if a.is_multiple_of(3) {
        a += 2;
    }
    (a, mix(h ^ 1) % V as u64, s)
}

/// Logits of the synthetic model after `context`.
pub fn logits(context: &[u32], out: &mut [f32]) {
    let (a, b, s) = permutation(*context.last().unwrap_or(&0));
    for (v, logit) in out.iter_mut().enumerate() {
        let rank = (a * v as u64 + b) % V as u64;
        *logit = (-s * ((rank + 1) as f64).ln()) as f32;
    }
}

/// `len` tokens sampled at temperature 1 after a 4-token random start, watermarked with
/// `key` when given.
pub fn generate(key: Option<&Key>, seed: u64, len: usize) -> Vec<u32> {
    let params = SamplingParams::new(1.0, 0, 1.0, seed).unwrap();
    let mut embedder = Embedder::new(key, params);
    let mut context: Vec<u32> = (0..4).map(|i| (mix(seed ^ i) % V as u64) as u32).collect();
    let mut buf = vec![0f32; V];
    for _ in 0..len {
        logits(&context, &mut buf);
        let next = embedder.next_token(&context, &mut buf);
        context.push(next);
    }
    context.split_off(4)
}

/// The synthetic model behind the [`LanguageModel`] interface, for reading-mode tests. Its
/// top-1 prediction is computed directly (the rank-0 token), without materializing logits.
#[derive(Debug, Default)]
pub struct SyntheticModel {
    row: Vec<f32>,
}

impl SyntheticModel {
    /// The model's most likely token after `previous`.
    pub fn top1(previous: u32) -> u32 {
        let (a, b, _) = permutation(previous);
        // Solve a·v + b ≡ 0 (mod V) for v.
        let inv = mod_inverse(a as i64, V as i64);
        ((V as i64 - b as i64).rem_euclid(V as i64) * inv % V as i64) as u32
    }
}

fn mod_inverse(a: i64, m: i64) -> i64 {
    let (mut t, mut new_t, mut r, mut new_r) = (0i64, 1i64, m, a.rem_euclid(m));
    while new_r != 0 {
        let q = r / new_r;
        (t, new_t) = (new_t, t - q * new_t);
        (r, new_r) = (new_r, r - q * new_r);
    }
    t.rem_euclid(m)
}

impl LanguageModel for SyntheticModel {
    fn vocab_size(&self) -> usize {
        V
    }
    fn start(&mut self, prompt: &[u32]) -> Result<&[f32], ModelError> {
        if prompt.is_empty() {
            return Err(ModelError::EmptyInput);
        }
        self.row.resize(V, 0.0);
        logits(prompt, &mut self.row);
        Ok(&self.row)
    }
    fn step(&mut self, token: u32) -> Result<&[f32], ModelError> {
        self.start(&[token])
    }
    fn score_all(&mut self, tokens: &[u32]) -> Result<Logits, ModelError> {
        let mut out = Logits::with_capacity(tokens.len(), V);
        let mut row = vec![0f32; V];
        for &t in tokens {
            logits(&[t], &mut row);
            out.push_row(&row);
        }
        Ok(out)
    }
    fn top1_all(&mut self, tokens: &[u32]) -> Result<Vec<u32>, ModelError> {
        Ok(tokens.iter().map(|&t| Self::top1(t)).collect())
    }
    fn eog_tokens(&self) -> &[u32] {
        &[]
    }
    fn context_length(&self) -> Option<usize> {
        None
    }
    fn describe(&self) -> String {
        "synthetic Zipf bigram model".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top1_is_the_argmax_of_the_logits() {
        let mut buf = vec![0f32; V];
        for prev in [0u32, 1, 77, 40_000] {
            logits(&[prev], &mut buf);
            assert_eq!(SyntheticModel::top1(prev), tracemark_model::argmax(&buf));
        }
    }
}

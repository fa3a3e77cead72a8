//! Gumbel-max (Aaronson) embedding: the next token is `argmax_v ln(u_v) / p_v`.
//!
//! With `u_v` uniform and independent, `P(argmax = v) = p_v`, so over random keys the output
//! has exactly the model's (filtered) distribution: the scheme is distortion-free. Given the
//! key and context the choice is deterministic, so a context that repeats yields the same
//! token again (the known weakness of the scheme; the sampler RNG plays no part).

use tracemark_core::Watermark;
use tracemark_core::prf::ln_uniform;

use crate::keystream::tuple_words;
use crate::sampling::{Sampler, argmax};

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
    // Weights and their total z; a token's p = weight / z is computed only if it passes the
    // bound in `Best::offer`, which saves a division per kept token.
    let z = filter.run_weights(logits, &params, None);
    let kept = &filter.kept;
    let mut best = Best {
        score: f64::NEG_INFINITY,
        token: u32::MAX,
    };
    match wm.step_seed(window) {
        Some(seed) => {
            // Only the keystream blocks holding kept tokens are computed.
            let words = &mut filter.words;
            words.compute(&seed, logits.len(), kept.iter().map(|&(token, _)| token));
            for &(token, weight) in kept {
                best.offer(words.word(token), weight, z, token);
            }
        }
        None => {
            // A seed (one HMAC) per kept token; their words are computed together.
            let (pairs, words) = (&mut filter.pairs, &mut filter.tuple_words);
            pairs.clear();
            pairs.extend(
                kept.iter()
                    .map(|&(token, _)| (wm.tuple_seed(window, token), token)),
            );
            tuple_words(pairs, words);
            for (&(token, weight), &word) in kept.iter().zip(words.iter()) {
                best.offer(word, weight, z, token);
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
    /// Offers `token` with PRF word `word` and probability `p = weight / z`.
    fn offer(&mut self, word: u32, weight: f64, z: f64, token: u32) {
        // ln u ≤ u − 1, and u − 1 = −(2³² − w − 0.5)/2³² is exact, so (u − 1)/p bounds the
        // score from above, with a relative gap ≥ 2⁻³⁴ that dwarfs rounding: it skips most
        // lns. The test is `(u − 1)·z < score·weight` (both > 0), which saves the division
        // p = weight / z for skipped tokens. It can differ from `(u − 1)/p < score` only where (u − 1)/p is
        // within rounding of the score, i.e. for a token whose own score is below the score by
        // that gap: it could neither win nor tie, so skipping it or not leaves the same winner.
        let below = -(f64::from(u32::MAX - word) + 0.5) * TWO_POW_NEG_32;
        if below * z < self.score * weight {
            return;
        }
        let p = weight / z; // the very division `Filter::run` makes
        let score = ln_uniform(word) / p;
        if score > self.score || (score == self.score && token < self.token) {
            *self = Best { score, token };
        }
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    use super::*;

    /// The winner as the step chose it before: p = weight / z for every token first, then the
    /// bound `(u − 1)/p < score`.
    fn divided_first(kept: &[(u32, f64, u32)], z: f64) -> u32 {
        let mut best = Best {
            score: f64::NEG_INFINITY,
            token: u32::MAX,
        };
        for &(token, weight, word) in kept {
            let p = weight / z;
            let bound = -(f64::from(u32::MAX - word) + 0.5) * TWO_POW_NEG_32 / p;
            if bound < best.score {
                continue;
            }
            let score = ln_uniform(word) / p;
            if score > best.score || (score == best.score && token < best.token) {
                best = Best { score, token };
            }
        }
        best.token
    }

    #[test]
    fn the_division_free_bound_keeps_the_winner() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        for trial in 0..20_000 {
            let n = 1 + (rng.next_u32() % 400) as usize;
            // Few distinct weights and words, words near 0 and near 2³², so near-ties and
            // exact ties in score are common.
            let weights: Vec<f64> = (0..1 + trial % 5)
                .map(|_| f64::from(f32::from_bits(0x3000_0000 + (rng.next_u32() >> 7))))
                .collect();
            let words: Vec<u32> = (0..1 + trial % 7)
                .map(|i| match i % 3 {
                    0 => u32::MAX - (rng.next_u32() % 5),
                    1 => rng.next_u32() % 5,
                    _ => rng.next_u32(),
                })
                .collect();
            let kept: Vec<(u32, f64, u32)> = (0..n as u32)
                .map(|t| {
                    let w = weights[rng.next_u32() as usize % weights.len()];
                    (t * 3, w, words[rng.next_u32() as usize % words.len()])
                })
                .collect();
            let z: f64 = kept.iter().map(|&(_, w, _)| w).sum();
            let mut best = Best {
                score: f64::NEG_INFINITY,
                token: u32::MAX,
            };
            for &(token, weight, word) in &kept {
                best.offer(word, weight, z, token);
            }
            assert_eq!(best.token, divided_first(&kept, z), "trial {trial}");
        }
    }
}

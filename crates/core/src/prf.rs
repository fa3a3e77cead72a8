//! The keyed PRF: HMAC-SHA256 derives a per-context seed, ChaCha20 expands it over the vocabulary.
//!
//! # Byte layout (version 1)
//!
//! For a context the seed is
//!
//! ```text
//! seed = HMAC-SHA256(key = secret (32 bytes), msg)
//! msg  = "tracemark/prf/v1"          16 ASCII bytes, domain separation
//!      || scheme_tag                 u8: 1 = kgw, 2 = gumbel
//!      || seeding_tag                u8: 1 = lefthash, 2 = minhash, 3 = selfhash, 4 = minhash rank stream
//!      || h                          u8: the key's context width
//!      || n                          u8: number of ids that follow
//!      || ids                        n × u32 little-endian
//! ```
//!
//! The seed is a ChaCha20 key (20 rounds, 64-bit block counter starting at 0, 64-bit nonce 0,
//! i.e. the original Bernstein layout; identical to RFC 8439 with an all-zero nonce for the
//! first 2³² blocks). Word `i` of the keystream, read little-endian, is the PRF value of
//! token `i`: block `i / 16`, word `i % 16`. Its uniform value is `u = (w + 0.5) / 2³²`.
//!
//! The ids are, per seeding: LeftHash the last h tokens oldest first; MinHash the single
//! minimum-rank token of the window; SelfHash the last h tokens then the candidate token.
//! The MinHash rank of a token is word `token` of the stream with seeding tag 4 and n = 0.

use hmac::{Hmac, KeyInit, Mac};
use rand_chacha::{ChaCha20Core, ChaCha20Rng};
use rand_core::block::Generator;
use rand_core::{Rng, SeedableRng};
use sha2::Sha256;

use crate::TokenId;

/// Domain-separation prefix of every PRF message.
pub const PRF_DOMAIN: &[u8; 16] = b"tracemark/prf/v1";

/// Seeding tag of the MinHash rank stream.
pub(crate) const RANK_TAG: u8 = 4;

/// 2³², as f64.
const TWO_POW_32: f64 = 4_294_967_296.0;

/// HMAC-SHA256 keyed with the secret. Cloning the keyed state skips re-deriving the pads.
#[derive(Clone)]
pub struct Prf {
    mac: Hmac<Sha256>,
}

impl Prf {
    /// Keys the PRF.
    pub fn new(secret: &[u8; 32]) -> Self {
        Self {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length"),
        }
    }

    /// The seed for one context; see the module docs for the message layout.
    ///
    /// # Panics
    /// If more than 255 ids are given (callers pass at most `MAX_CONTEXT + 1`).
    pub fn seed(&self, scheme_tag: u8, seeding_tag: u8, h: u8, ids: &[TokenId]) -> Seed {
        let n = u8::try_from(ids.len()).expect("context too long");
        let mut msg = [0u8; 16 + 4 + 4 * 256];
        msg[..16].copy_from_slice(PRF_DOMAIN);
        msg[16..20].copy_from_slice(&[scheme_tag, seeding_tag, h, n]);
        for (i, id) in ids.iter().enumerate() {
            msg[20 + 4 * i..24 + 4 * i].copy_from_slice(&id.to_le_bytes());
        }
        let mut mac = self.mac.clone();
        mac.update(&msg[..20 + 4 * ids.len()]);
        Seed(mac.finalize().into_bytes().into())
    }

    /// A labelled sub-key, e.g. the public key fingerprint. Not a PRF seed.
    pub(crate) fn label(&self, label: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(label);
        mac.finalize().into_bytes().into()
    }
}

/// A 32-byte ChaCha20 key for one context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Seed(pub [u8; 32]);

impl Seed {
    /// The PRF word of `token`, by random access: seeks to its block, so the cost does not
    /// depend on the token id (the generator computes one batch of four blocks).
    pub fn word(&self, token: TokenId) -> u32 {
        let mut rng = ChaCha20Rng::from_seed(self.0);
        rng.set_word_pos(u128::from(token));
        rng.next_u32()
    }

    /// The PRF words of tokens `0..out.len()` in one sequential pass.
    pub fn fill(&self, out: &mut [u32]) {
        // The block core writes four keystream blocks (64 words, in order) straight into `out`,
        // the words `ChaCha20Rng::next_u32` would return, without its per-word bookkeeping.
        let mut core = ChaCha20Core::from_seed(self.0);
        let mut chunks = out.chunks_exact_mut(64);
        for chunk in &mut chunks {
            core.generate(chunk.try_into().expect("64 words"));
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mut words = [0u32; 64];
            core.generate(&mut words);
            rest.copy_from_slice(&words[..rest.len()]);
        }
    }
}

/// `u = (w + 0.5) / 2³²`, in (0, 1).
pub fn uniform(word: u32) -> f64 {
    (f64::from(word) + 0.5) / TWO_POW_32
}

/// `ln u`, accurate to a few ulps over the whole range (ln_1p near u = 1).
pub fn ln_uniform(word: u32) -> f64 {
    if word < 1 << 31 {
        (f64::from(word) + 0.5).ln() - 32.0 * std::f64::consts::LN_2
    } else {
        (-(f64::from(u32::MAX - word) + 0.5) / TWO_POW_32).ln_1p()
    }
}

/// The Gumbel score `−ln(1 − u)`, computed from `1 − u = (2³² − w − 0.5) / 2³²` without cancellation.
///
/// Under H0 it is Exp(1) up to the 2⁻³² granularity of `u`.
pub fn gumbel_score(word: u32) -> f64 {
    if word < 1 << 31 {
        -(-uniform(word)).ln_1p()
    } else {
        32.0 * std::f64::consts::LN_2 - (f64::from(u32::MAX - word) + 0.5).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystream_is_standard_chacha20() {
        // Bernstein's ChaCha20 test vector: all-zero key and nonce, first keystream block.
        let expected = "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
                        da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586";
        let seed = Seed([0; 32]);
        let mut words = [0u32; 16];
        seed.fill(&mut words);
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(hex::encode(bytes), expected);
    }

    #[test]
    fn random_access_matches_sequential_fill() {
        let seed = Prf::new(&[7; 32]).seed(1, 1, 1, &[42]);
        let mut words = vec![0u32; 49_152];
        seed.fill(&mut words);
        for token in [0u32, 1, 15, 16, 17, 63, 64, 1000, 49_151] {
            assert_eq!(seed.word(token), words[token as usize], "token {token}");
        }
    }

    #[test]
    fn uniform_transforms_are_exact_at_the_ends() {
        assert!(uniform(0) > 0.0 && uniform(u32::MAX) < 1.0);
        for w in [
            0,
            1,
            1 << 20,
            (1 << 31) - 1,
            1 << 31,
            u32::MAX - 5,
            u32::MAX,
        ] {
            let u = uniform(w);
            assert!(
                (ln_uniform(w) - u.ln()).abs() <= 1e-14 * u.ln().abs().max(1e-9),
                "{w}"
            );
            let s = -(-u).ln_1p();
            assert!((gumbel_score(w) - s).abs() <= 1e-13 * s, "{w}");
        }
        assert!((gumbel_score(u32::MAX) - 33.0 * std::f64::consts::LN_2).abs() < 1e-12);
    }
}

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

use chacha20::ChaCha20LegacyCore;
use chacha20::cipher::{KeyIvInit, StreamCipherCore};
use hmac::{Hmac, KeyInit, Mac};
use rand_chacha::ChaCha20Core;
use rand_core::SeedableRng;
use rand_core::block::Generator;
use sha2::Sha256;
use sha2::block_api::compress256;

use crate::TokenId;

/// Domain-separation prefix of every PRF message.
pub const PRF_DOMAIN: &[u8; 16] = b"tracemark/prf/v1";

/// Seeding tag of the MinHash rank stream.
pub(crate) const RANK_TAG: u8 = 4;

/// 2³², as f64.
const TWO_POW_32: f64 = 4_294_967_296.0;

/// SHA-256 initial state.
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Most ids [`Prf::seed`] hashes on its two-block fast path: 20 + 4n message bytes plus nine
/// bytes of padding fit 128.
const FAST_IDS: usize = (128 - 9 - 20) / 4;

/// HMAC-SHA256 keyed with the secret.
///
/// Seeds take the fast path: the SHA-256 states after the key's inner and outer pad blocks are
/// precomputed, so a seed is one or two inner compressions plus one outer compression of
/// a block padded in place, with no buffering. The `hmac` state serves labels and messages too
/// long for two blocks; tests pin both paths against each other and the Python reference.
#[derive(Clone)]
pub struct Prf {
    mac: Hmac<Sha256>,
    inner: [u32; 8],
    outer: [u32; 8],
}

impl Prf {
    /// Keys the PRF.
    pub fn new(secret: &[u8; 32]) -> Self {
        // HMAC with a key shorter than the block: K is the key zero-padded to 64 bytes.
        let pad_state = |pad: u8| {
            let mut block = [pad; 64];
            for (b, k) in block.iter_mut().zip(secret) {
                *b ^= k;
            }
            let mut state = SHA256_IV;
            compress256(&mut state, &[block]);
            state
        };
        Self {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length"),
            inner: pad_state(0x36),
            outer: pad_state(0x5c),
        }
    }

    /// The seed for one context; see the module docs for the message layout.
    ///
    /// # Panics
    /// If more than 255 ids are given (callers pass at most `MAX_CONTEXT + 1`).
    pub fn seed(&self, scheme_tag: u8, seeding_tag: u8, h: u8, ids: &[TokenId]) -> Seed {
        let n = u8::try_from(ids.len()).expect("context too long");
        if ids.len() > FAST_IDS {
            return self.seed_hmac(scheme_tag, seeding_tag, h, ids);
        }
        // Inner hash: message, 0x80, zeros, and the bit length of ipad block + message.
        let mut blocks = [[0u8; 64]; 2];
        let msg = blocks.as_flattened_mut();
        msg[..16].copy_from_slice(PRF_DOMAIN);
        msg[16..20].copy_from_slice(&[scheme_tag, seeding_tag, h, n]);
        for (chunk, id) in msg[20..].chunks_exact_mut(4).zip(ids) {
            chunk.copy_from_slice(&id.to_le_bytes());
        }
        let len = 20 + 4 * ids.len();
        let used = if len + 9 <= 64 { 64 } else { 128 };
        msg[len] = 0x80;
        msg[used - 8..used].copy_from_slice(&((64 + len as u64) * 8).to_be_bytes());
        let mut inner = self.inner;
        compress256(&mut inner, &blocks[..used / 64]);
        // Outer hash: the 32-byte inner digest, padded to one block.
        let mut block = [0u8; 64];
        write_be(&inner, &mut block[..32]);
        block[32] = 0x80;
        block[56..].copy_from_slice(&((64u64 + 32) * 8).to_be_bytes());
        let mut outer = self.outer;
        compress256(&mut outer, &[block]);
        let mut seed = [0u8; 32];
        write_be(&outer, &mut seed);
        Seed(seed)
    }

    /// The seed through the `hmac` crate, the reference for [`Prf::seed`]'s fast path.
    fn seed_hmac(&self, scheme_tag: u8, seeding_tag: u8, h: u8, ids: &[TokenId]) -> Seed {
        let n = u8::try_from(ids.len()).expect("context too long");
        let mut mac = self.mac.clone();
        mac.update(PRF_DOMAIN);
        mac.update(&[scheme_tag, seeding_tag, h, n]);
        for id in ids {
            mac.update(&id.to_le_bytes());
        }
        Seed(mac.finalize().into_bytes().into())
    }

    /// A labelled sub-key, e.g. the public key fingerprint. Not a PRF seed.
    pub(crate) fn label(&self, label: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(label);
        mac.finalize().into_bytes().into()
    }
}

/// Writes SHA-256 state words as the big-endian digest bytes.
fn write_be(state: &[u32; 8], out: &mut [u8]) {
    for (chunk, w) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
}

/// A 32-byte ChaCha20 key for one context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Seed(pub [u8; 32]);

impl Seed {
    /// The PRF word of `token`, by random access: asks ChaCha20 for just the 64-byte block
    /// that holds it (no buffered batch of four), so the cost does not depend on the token id.
    #[inline]
    pub fn word(&self, token: TokenId) -> u32 {
        self.block(token / 16)[(token % 16) as usize]
    }

    /// Keystream block `index`: the PRF words of tokens `16 · index .. 16 · index + 16`.
    pub fn block(&self, index: u32) -> [u32; 16] {
        let mut core = ChaCha20LegacyCore::new(&self.0.into(), &[0; 8].into());
        core.set_block_pos(u64::from(index));
        let mut bytes = Default::default();
        core.write_keystream_block(&mut bytes);
        std::array::from_fn(|i| {
            u32::from_le_bytes([
                bytes[4 * i],
                bytes[4 * i + 1],
                bytes[4 * i + 2],
                bytes[4 * i + 3],
            ])
        })
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
    fn fast_seed_matches_the_hmac_crate() {
        // Every message length from empty to the fallback and beyond, with arbitrary ids.
        let prf = Prf::new(&[0xa5; 32]);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for n in 0..=255usize {
            let ids: Vec<u32> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    (x >> 32) as u32
                })
                .collect();
            let tags = (n as u8, 2, 3, 7);
            assert_eq!(
                prf.seed(tags.0, tags.1, tags.2, &ids),
                prf.seed_hmac(tags.0, tags.1, tags.2, &ids),
                "n = {n}"
            );
        }
    }

    #[test]
    fn single_block_words_match_the_rand_chacha_stream() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::Rng;
        let prf = Prf::new(&[3; 32]);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..2_000u32 {
            let seed = prf.seed(1, 1, 1, &[i]);
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            // Small, block-edge and full-range token ids.
            let token = match i % 4 {
                0 => (x >> 52) as u32,
                1 => ((x >> 40) as u32 & !15) | 15,
                2 => u32::MAX - (x >> 60) as u32,
                _ => (x >> 32) as u32,
            };
            let mut rng = ChaCha20Rng::from_seed(seed.0);
            rng.set_word_pos(u128::from(token));
            assert_eq!(seed.word(token), rng.next_u32(), "token {token}");
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

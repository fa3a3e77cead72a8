//! PRF words in bulk: ChaCha20 keystream blocks sixteen at a time, one block per SIMD lane.
//!
//! The words are exactly those of [`Seed::fill`] and [`Seed::word`] (word `i` of the keystream
//! under the seed, Bernstein layout, nonce 0): ChaCha20 is integer arithmetic, so any correct
//! implementation gives the same bits, and the tests compare against both for every block
//! position used here.
//!
//! # Why not `Seed::fill`
//! `Seed::fill` (rand_chacha's block core) keeps two blocks in each 256-bit register and is
//! bound by the latency of one round after another: about 85 µs for V = 49,152 on the
//! 2-core AMD EPYC this was tuned on, over a third of a KGW step. RustCrypto's `chacha20`
//! 0.10 measured the same there (its AVX2 backend has the same layout; its AVX-512 backend,
//! 51 µs, needs `--cfg chacha20_avx512` in every build's RUSTFLAGS). With AVX-512 this
//! module keeps sixteen independent blocks in the lanes of sixteen 512-bit registers (the
//! "vertical" layout of OpenSSL's ChaCha20_16x), rotates with `vprold`, and transposes the
//! result to token order in registers: 39 µs, and the KGW bias is applied to the logits as
//! the words come out, with no 196 KB word buffer. The lanes' block counters are
//! arbitrary, so [`BlockWords`] computes just the blocks that a set of tokens falls in, and
//! so can the keys: [`tuple_words`] takes sixteen (seed, token) pairs at once (SelfHash).
//! Without AVX-512 every function falls back to [`Seed::fill`] / [`Seed::word`].

// Off x86-64 only the fallbacks remain, and some helpers go unused.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use tracemark_core::Seed;

#[cfg(target_arch = "x86_64")]
use crate::cpu::avx512 as has_avx512;
use crate::fastmath::{add_where_below, max};

/// Words of one ChaCha20 block: tokens `16b..16b + 16` share block `b`.
const BLOCK_WORDS: usize = 16;
/// Blocks per SIMD batch, and tokens per batch.
const LANES: usize = 16;
const BATCH: usize = LANES * BLOCK_WORDS;

/// The ChaCha20 key words of a seed (little-endian).
fn key_words(seed: &Seed) -> [u32; 8] {
    std::array::from_fn(|i| u32::from_le_bytes(seed.0[4 * i..4 * i + 4].try_into().expect("4")))
}

/// Adds `delta` to every logit whose PRF word under `seed` is below `threshold`, and returns
/// how many it changed and the largest biased logit (NaN ignored, −∞ if there is none).
///
/// The logits change exactly as `fill` + [`add_where_below`] change them (a logit that is
/// not green gets `+ −0.0`, the exact identity); the maximum is [`max`] of the result.
/// `scratch` is only used without AVX-512.
pub(crate) fn bias_and_max(
    seed: &Seed,
    logits: &mut [f32],
    threshold: u32,
    delta: f32,
    scratch: &mut Vec<u32>,
) -> (usize, f32) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports AVX-512F (and VL), checked just above.
        return unsafe { avx512::bias_and_max(&key_words(seed), logits, threshold, delta) };
    }
    scratch.resize(logits.len(), 0);
    seed.fill(scratch);
    let green = add_where_below(logits, scratch, threshold, delta);
    (green, max(logits))
}

/// The PRF words of a set of tokens under one seed, each ChaCha20 block computed once.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockWords {
    /// Whether each block is needed, one bit per block.
    needed: Vec<u64>,
    /// For each needed block, its index into `words`.
    slot: Vec<u32>,
    /// The needed blocks in increasing order.
    blocks: Vec<u32>,
    /// The words of `blocks[i]`, at `words[i]`.
    words: Vec<[u32; BLOCK_WORDS]>,
    /// Without AVX-512: all V words from `Seed::fill`.
    filled: Vec<u32>,
    /// Where [`BlockWords::word`] finds a word.
    layout: Layout,
}

/// Where the words of the last [`BlockWords::compute`] are.
#[derive(Debug, Clone, Copy, Default)]
enum Layout {
    /// `words` holds the needed blocks, `slot` says where.
    #[default]
    Blocks,
    /// `words` holds every block, in order.
    Dense,
    /// `filled` holds every word.
    Filled,
    /// Each word by random access.
    Word(Seed),
}

/// With AVX-512, at least V / `DENSE_RATIO` tokens (most blocks then hold one) compute every
/// block instead of marking the needed ones.
const DENSE_RATIO: usize = 4;

/// Without AVX-512, more than V / `FILL_RATIO` tokens read all V words in one sequential
/// pass; fewer read each word by random access, which computes a 4-block (64-word) batch.
const FILL_RATIO: usize = 64;

impl BlockWords {
    /// Prepares [`BlockWords::word`] for every token of `tokens` (all below `vocab`).
    pub(crate) fn compute(
        &mut self,
        seed: &Seed,
        vocab: usize,
        tokens: impl ExactSizeIterator<Item = u32>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx512() && tokens.len() >= vocab / DENSE_RATIO {
            // Most blocks are needed: compute them all, without the bitmap.
            self.layout = Layout::Dense;
            self.words
                .resize(vocab.div_ceil(BLOCK_WORDS), [0; BLOCK_WORDS]);
            // SAFETY: the CPU supports AVX-512F (and VL), checked just above.
            unsafe { avx512::all_blocks(&key_words(seed), &mut self.words) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if has_avx512() {
            self.layout = Layout::Blocks;
            let nblocks = vocab.div_ceil(BLOCK_WORDS);
            self.needed.clear();
            self.needed.resize(nblocks.div_ceil(64), 0);
            self.slot.resize(nblocks, 0);
            for token in tokens {
                let b = token as usize / BLOCK_WORDS;
                self.needed[b / 64] |= 1 << (b % 64);
            }
            self.blocks.clear();
            for (i, &bits) in self.needed.iter().enumerate() {
                let mut bits = bits;
                while bits != 0 {
                    let b = i * 64 + bits.trailing_zeros() as usize;
                    self.slot[b] = self.blocks.len() as u32;
                    self.blocks.push(b as u32);
                    bits &= bits - 1;
                }
            }
            self.words.resize(self.blocks.len(), [0; BLOCK_WORDS]);
            // SAFETY: the CPU supports AVX-512F (and VL), checked just above.
            unsafe { avx512::blocks(&key_words(seed), &self.blocks, &mut self.words) };
            return;
        }
        if tokens.len() > vocab / FILL_RATIO {
            self.filled.resize(vocab, 0);
            seed.fill(&mut self.filled);
            self.layout = Layout::Filled;
        } else {
            self.layout = Layout::Word(*seed);
        }
    }

    /// The PRF word of `token`, one of the tokens given to the last [`BlockWords::compute`].
    #[inline]
    pub(crate) fn word(&self, token: u32) -> u32 {
        let t = token as usize;
        match &self.layout {
            Layout::Blocks => self.words[self.slot[t / BLOCK_WORDS] as usize][t % BLOCK_WORDS],
            Layout::Dense => self.words[t / BLOCK_WORDS][t % BLOCK_WORDS],
            Layout::Filled => self.filled[t],
            Layout::Word(seed) => seed.word(token),
        }
    }
}

/// Word `token` of the keystream under `seed`, for each `(seed, token)` of `pairs`, into
/// `out`: the words of [`Seed::word`], sixteen blocks at a time where AVX-512 allows.
pub(crate) fn tuple_words(pairs: &[(Seed, u32)], out: &mut Vec<u32>) {
    out.clear();
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        out.resize(pairs.len(), 0);
        // SAFETY: the CPU supports AVX-512F (and VL), checked just above.
        unsafe { avx512::tuple_words(pairs, out) };
        return;
    }
    out.extend(pairs.iter().map(|(seed, token)| seed.word(*token)));
}

/// The AVX-512 builds. Each is `unsafe` to call only because it needs AVX-512F.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use tracemark_core::Seed;

    use super::{BATCH, BLOCK_WORDS, LANES, key_words};

    /// "expand 32-byte k".
    const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

    /// ChaCha20 blocks `counters[l]` (one per lane `l`) under the key whose word `w` is lane
    /// `l` of `key[w]`, nonce 0: word `i` of lane `l`'s block is lane `l` of element `i`.
    /// Counters are below 2³².
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn blocks16(key: [__m512i; 8], counters: __m512i) -> [__m512i; 16] {
        let s = |w: u32| _mm512_set1_epi32(w as i32);
        let zero = _mm512_setzero_si512();
        let init = [
            s(SIGMA[0]),
            s(SIGMA[1]),
            s(SIGMA[2]),
            s(SIGMA[3]),
            key[0],
            key[1],
            key[2],
            key[3],
            key[4],
            key[5],
            key[6],
            key[7],
            counters,
            zero, // counter high word
            zero, // nonce
            zero,
        ];
        let mut x = init;
        macro_rules! quarter {
            ($a:literal, $b:literal, $c:literal, $d:literal) => {
                x[$a] = _mm512_add_epi32(x[$a], x[$b]);
                x[$d] = _mm512_rol_epi32::<16>(_mm512_xor_si512(x[$d], x[$a]));
                x[$c] = _mm512_add_epi32(x[$c], x[$d]);
                x[$b] = _mm512_rol_epi32::<12>(_mm512_xor_si512(x[$b], x[$c]));
                x[$a] = _mm512_add_epi32(x[$a], x[$b]);
                x[$d] = _mm512_rol_epi32::<8>(_mm512_xor_si512(x[$d], x[$a]));
                x[$c] = _mm512_add_epi32(x[$c], x[$d]);
                x[$b] = _mm512_rol_epi32::<7>(_mm512_xor_si512(x[$b], x[$c]));
            };
        }
        for _ in 0..10 {
            quarter!(0, 4, 8, 12);
            quarter!(1, 5, 9, 13);
            quarter!(2, 6, 10, 14);
            quarter!(3, 7, 11, 15);
            quarter!(0, 5, 10, 15);
            quarter!(1, 6, 11, 12);
            quarter!(2, 7, 8, 13);
            quarter!(3, 4, 9, 14);
        }
        for (x, init) in x.iter_mut().zip(init) {
            *x = _mm512_add_epi32(*x, init);
        }
        x
    }

    /// Transposes 16 × 16 words: lane `l` of element `i` goes to lane `i` of element `l`,
    /// turning [`blocks16`]'s output into one block per element, in word order.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn transpose(x: [__m512i; 16]) -> [__m512i; 16] {
        let mut t = [_mm512_setzero_si512(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
        }
        let mut u = [_mm512_setzero_si512(); 16];
        for i in 0..4 {
            u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
            u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
        }
        // 128-bit group g of u[4i + j] now holds words 4i..4i + 4 of block 4g + j.
        let mut v = [_mm512_setzero_si512(); 16];
        for j in 0..4 {
            let a = _mm512_shuffle_i32x4::<0b10_00_10_00>(u[j], u[4 + j]);
            let b = _mm512_shuffle_i32x4::<0b11_01_11_01>(u[j], u[4 + j]);
            let c = _mm512_shuffle_i32x4::<0b10_00_10_00>(u[8 + j], u[12 + j]);
            let d = _mm512_shuffle_i32x4::<0b11_01_11_01>(u[8 + j], u[12 + j]);
            v[j] = _mm512_shuffle_i32x4::<0b10_00_10_00>(a, c);
            v[8 + j] = _mm512_shuffle_i32x4::<0b11_01_11_01>(a, c);
            v[4 + j] = _mm512_shuffle_i32x4::<0b10_00_10_00>(b, d);
            v[12 + j] = _mm512_shuffle_i32x4::<0b11_01_11_01>(b, d);
        }
        v
    }

    /// Blocks `first..first + 16`, transposed: element `l` is block `first + l`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn consecutive(key: &[u32; 8], first: u32) -> [__m512i; 16] {
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let counters = _mm512_add_epi32(_mm512_set1_epi32(first as i32), lanes);
        transpose(blocks16(broadcast(key), counters))
    }

    /// Every lane of word `w` holds `key[w]`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn broadcast(key: &[u32; 8]) -> [__m512i; 8] {
        key.map(|w| _mm512_set1_epi32(w as i32))
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn bias_and_max(
        key: &[u32; 8],
        logits: &mut [f32],
        threshold: u32,
        delta: f32,
    ) -> (usize, f32) {
        assert!(u32::try_from(logits.len()).is_ok());
        let (vthreshold, vdelta) = (_mm512_set1_epi32(threshold as i32), _mm512_set1_ps(delta));
        let neg_zero = _mm512_set1_ps(-0.0);
        let mut top = _mm512_set1_ps(f32::NEG_INFINITY);
        let mut green = 0;
        let mut chunks = logits.chunks_exact_mut(BATCH);
        let mut first = 0u32;
        for chunk in &mut chunks {
            let words = consecutive(key, first);
            for (w, l) in words.iter().zip(chunk.chunks_exact_mut(BLOCK_WORDS)) {
                let below = _mm512_cmplt_epu32_mask(*w, vthreshold);
                // `l + δ` where green, else `l + −0.0`, as `add_where_below` computes it.
                let add = _mm512_mask_blend_ps(below, neg_zero, vdelta);
                let biased = _mm512_add_ps(load(l), add);
                store(l, biased);
                top = _mm512_max_ps(biased, top); // a NaN in `biased` keeps `top`
                green += below.count_ones() as usize;
            }
            first += LANES as u32;
        }
        let rest = chunks.into_remainder();
        let mut top = _mm512_reduce_max_ps(top);
        if !rest.is_empty() {
            let mut words = [0u32; BATCH];
            for (w, out) in consecutive(key, first)
                .iter()
                .zip(words.chunks_exact_mut(BLOCK_WORDS))
            {
                store_words(out, *w);
            }
            // `add_where_below` adds −0.0 to the non-green logits of whole 8-lane chunks.
            let lanes = rest.len() - rest.len() % 8;
            for (i, (l, &w)) in rest.iter_mut().zip(&words).enumerate() {
                if w < threshold {
                    *l += delta;
                    green += 1;
                } else if i < lanes {
                    *l += -0.0;
                }
                if *l > top {
                    top = *l;
                }
            }
        }
        (green, top)
    }

    /// Writes block `b` to `out[b]`, for every `b`.
    #[target_feature(enable = "avx512f")]
    pub(super) fn all_blocks(key: &[u32; 8], out: &mut [[u32; BLOCK_WORDS]]) {
        for (first, o) in (0u32..).step_by(LANES).zip(out.chunks_mut(LANES)) {
            for (w, o) in consecutive(key, first).iter().zip(o) {
                store_words(o, *w);
            }
        }
    }

    /// Writes block `blocks[i]` to `out[i]`.
    #[target_feature(enable = "avx512f")]
    pub(super) fn blocks(key: &[u32; 8], blocks: &[u32], out: &mut [[u32; BLOCK_WORDS]]) {
        assert_eq!(blocks.len(), out.len());
        for (b, o) in blocks.chunks(LANES).zip(out.chunks_mut(LANES)) {
            let mut counters = [0u32; LANES];
            counters[..b.len()].copy_from_slice(b);
            // SAFETY: `counters` holds 16 u32s, and `loadu` has no alignment requirement.
            let counters = unsafe { _mm512_loadu_si512(counters.as_ptr().cast()) };
            let words = transpose(blocks16(broadcast(key), counters));
            for (w, o) in words.iter().zip(o) {
                store_words(o, *w);
            }
        }
    }

    /// `out[i]` = word `t` of the keystream under `s`, where `pairs[i] = (s, t)`, 16 pairs
    /// at a time.
    #[target_feature(enable = "avx512f")]
    pub(super) fn tuple_words(pairs: &[(Seed, u32)], out: &mut [u32]) {
        assert_eq!(pairs.len(), out.len());
        for (p, o) in pairs.chunks(LANES).zip(out.chunks_mut(LANES)) {
            // Word w of every lane's key, and every lane's block.
            let mut lanes = [[0u32; LANES]; 9];
            for (l, (seed, token)) in p.iter().enumerate() {
                for (w, word) in key_words(seed).into_iter().enumerate() {
                    lanes[w][l] = word;
                }
                lanes[8][l] = token / BLOCK_WORDS as u32;
            }
            let v = lanes.map(|words| {
                // SAFETY: `words` holds 16 u32s, and `loadu` has no alignment requirement.
                unsafe { _mm512_loadu_si512(words.as_ptr().cast()) }
            });
            let key = [v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]];
            let mut words = [[0u32; LANES]; BLOCK_WORDS];
            for (w, x) in words.iter_mut().zip(blocks16(key, v[8])) {
                store_words(w, x);
            }
            for (l, (o, (_, token))) in o.iter_mut().zip(p).enumerate() {
                *o = words[*token as usize % BLOCK_WORDS][l];
            }
        }
    }

    #[inline(always)]
    fn load(x: &[f32]) -> __m512 {
        assert_eq!(x.len(), 16);
        // SAFETY: `x` holds 16 f32s, and `loadu` has no alignment requirement.
        unsafe { _mm512_loadu_ps(x.as_ptr()) }
    }

    #[inline(always)]
    fn store(out: &mut [f32], v: __m512) {
        assert_eq!(out.len(), 16);
        // SAFETY: `out` holds 16 f32s, and `storeu` has no alignment requirement.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), v) }
    }

    #[inline(always)]
    fn store_words(out: &mut [u32], v: __m512i) {
        assert_eq!(out.len(), 16);
        // SAFETY: `out` holds 16 u32s, and `storeu` has no alignment requirement.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), v) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(i: u8) -> Seed {
        let mut s = [0u8; 32];
        for (j, b) in s.iter_mut().enumerate() {
            *b = i.wrapping_mul(37).wrapping_add(j as u8 * 11);
        }
        Seed(s)
    }

    #[test]
    fn bias_matches_fill_add_and_max_for_every_length() {
        for (i, n) in [
            1usize, 15, 16, 255, 256, 257, 4096, 4097, 5003, 49_152, 49_999,
        ]
        .into_iter()
        .enumerate()
        {
            let seed = seed(i as u8);
            let mut original: Vec<f32> = (0..n)
                .map(|t| ((t * 7919) % 1001) as f32 * 0.01 - 5.0)
                .collect();
            original[0] = -0.0;
            if n > 3 {
                original[1] = f32::NAN;
                original[2] = f32::NEG_INFINITY;
            }
            let mut words = vec![0u32; n];
            seed.fill(&mut words);
            let mut want = original.clone();
            let want_green = add_where_below(&mut want, &words, 1 << 30, 2.5);
            let mut got = original.clone();
            let (green, top) = bias_and_max(&seed, &mut got, 1 << 30, 2.5, &mut Vec::new());
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "n = {n}");
            assert_eq!(green, want_green, "n = {n}");
            assert_eq!(top, max(&want), "n = {n}");
        }
        let mut all_nan = vec![f32::NAN; 300];
        assert_eq!(
            bias_and_max(&seed(0), &mut all_nan, 0, 1.0, &mut Vec::new()).1,
            f32::NEG_INFINITY
        );
    }

    #[test]
    fn tuple_words_match_random_access() {
        for n in [0usize, 1, 15, 16, 17, 40, 300] {
            let pairs: Vec<(Seed, u32)> = (0..n)
                .map(|i| {
                    (
                        seed(i as u8 ^ 0x5a),
                        (i as u32).wrapping_mul(2_654_435_761) % 49_152,
                    )
                })
                .collect();
            let mut out = vec![7; 3];
            tuple_words(&pairs, &mut out);
            let want: Vec<u32> = pairs.iter().map(|(s, t)| s.word(*t)).collect();
            assert_eq!(out, want, "n = {n}");
        }
    }

    #[test]
    fn block_words_match_random_access() {
        let seed = seed(9);
        let vocab = 49_152;
        let tokens: Vec<u32> = (0..700u32)
            .map(|i| i.wrapping_mul(2_654_435_761) % vocab as u32)
            .collect();
        let mut bw = BlockWords::default();
        for take in [0, 1, 15, 16, 17, 700] {
            bw.compute(&seed, vocab, tokens[..take].iter().copied());
            #[cfg(target_arch = "x86_64")]
            assert!(matches!(bw.layout, Layout::Blocks) || !has_avx512());
            for &t in &tokens[..take] {
                assert_eq!(bw.word(t), seed.word(t), "token {t}");
            }
        }
        // Every block of a small vocabulary, including the ragged last one (dense).
        bw.compute(&seed, 1000, 0..1000);
        #[cfg(target_arch = "x86_64")]
        assert!(matches!(bw.layout, Layout::Dense) || !has_avx512());
        let mut all = vec![0u32; 1000];
        seed.fill(&mut all);
        assert!((0..1000u32).all(|t| bw.word(t) == all[t as usize]));
    }
}

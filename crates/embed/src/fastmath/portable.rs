//! The portable kernels and the types they share: plain Rust that the compiler vectorises,
//! the reference every SIMD build must match bit for bit, and what those builds call for
//! their scalar parts.

/// Lanes of the manual reductions; their structure fixes the summation order.
pub(crate) const LANES: usize = 8;

/// Probabilities are summarised per block of this many tokens (maximum and sum), so passes
/// that look for large probabilities skip whole blocks.
pub(crate) const BLOCK: usize = 256;

/// `2^t` for `t ≤ 0`; NaN, −∞ and anything below −125 give exactly 0.
///
/// `t = n + r` with `n` an integer and `|r| ≤ 1/2`; `2^r` is a degree-6 minimax polynomial
/// (relative error 2·10⁻⁹ before rounding) with constant term exactly 1, so `2^0 = 1`.
#[inline(always)]
pub(crate) fn exp2_nonpositive(t: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer.
    let valid = t >= -125.0;
    let t = if valid { t } else { -125.0 };
    let shifted = t + MAGIC;
    let r = t - (shifted - MAGIC);
    let mut p = 1.534_581_2e-4_f32;
    p = p * r + 1.339_993_1e-3;
    p = p * r + 9.618_489e-3;
    p = p * r + 5.550_328_8e-2;
    p = p * r + 2.402_264_7e-1;
    p = p * r + 6.931_472e-1;
    p = p * r + 1.0;
    // 2ⁿ from the integer in the low mantissa bits of `shifted`.
    let scale = f32::from_bits(((shifted.to_bits() as i32 - 0x4B40_0000 + 127) << 23) as u32);
    if valid { p * scale } else { 0.0 }
}

/// The factor [`scaled_exp`] takes for temperature `1 / inv_t`.
pub(crate) fn exp_scale(inv_t: f32) -> f32 {
    inv_t * std::f32::consts::LOG2_E
}

/// `exp((x − m) / T)` as `2^((x − m) · scale)` with `scale = `[`exp_scale`]`(1/T)`; every
/// softmax in the crate goes through it, so equal inputs give equal probabilities.
#[inline(always)]
pub(crate) fn scaled_exp(x: f32, m: f32, scale: f32) -> f32 {
    exp2_nonpositive((x - m) * scale)
}

/// A key ordering tokens by probability `e ≥ 0` (higher first after a descending sort), then
/// by lower id.
#[inline(always)]
pub(crate) fn prob_key(e: f32, id: usize) -> u64 {
    (u64::from(e.to_bits()) << 32) | u64::from(!(id as u32))
}

/// The token id of a [`prob_key`].
pub(crate) fn key_id(key: u64) -> usize {
    !(key as u32) as usize
}

/// [`max`] without dispatch, for short slices inside a caller's loop.
#[inline(always)]
pub(crate) fn max_small(xs: &[f32]) -> f32 {
    // Written as selects so NaN (a false comparison) is skipped and the loop vectorises.
    let pick = |a: f32, x: f32| if x > a { x } else { a };
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            acc[j] = pick(acc[j], c[j]);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |a, &x| pick(a, x));
    acc.iter().fold(tail, |a, &x| pick(a, x))
}

#[inline(always)]
pub(crate) fn add_where_below_generic(
    logits: &mut [f32],
    words: &[u32],
    threshold: u32,
    delta: f32,
) -> usize {
    let mut count = [0u32; LANES];
    let mut lc = logits.chunks_exact_mut(LANES);
    let mut wc = words.chunks_exact(LANES);
    for (l, w) in (&mut lc).zip(&mut wc) {
        for j in 0..LANES {
            let below = w[j] < threshold;
            // −0.0 is the exact additive identity (x + −0.0 = x, even for x = −0.0); adding it
            // keeps the store unconditional (a masked store is microcoded on some CPUs).
            l[j] += if below { delta } else { -0.0 };
            count[j] += u32::from(below);
        }
    }
    let mut n: usize = count.iter().map(|&c| c as usize).sum();
    for (l, &w) in lc.into_remainder().iter_mut().zip(wc.remainder()) {
        if w < threshold {
            *l += delta;
            n += 1;
        }
    }
    n
}

/// The maximum and the sum of each [`BLOCK`] of a probability vector.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Blocks {
    pub(crate) max: Vec<f32>,
    pub(crate) sum: Vec<f64>,
}

/// The tokens whose probability is at least `lo`, as gathered by
/// [`exp_blocks_collecting`]: probabilities and ids in token order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidates {
    pub(crate) lo: f32,
    /// Buffers of at least `len` entries (more, so a whole vector can always be stored).
    pub(crate) probs: Vec<f32>,
    pub(crate) ids: Vec<u32>,
    pub(crate) len: usize,
    /// Whether `probs` holds every probability ≥ `lo`; false when none were gathered.
    pub(crate) complete: bool,
}

impl Candidates {
    /// The gathered (probability, token) pairs, in token order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (f32, u32)> + '_ {
        let (probs, ids) = (&self.probs[..self.len], &self.ids[..self.len]);
        probs.iter().copied().zip(ids.iter().copied())
    }
}

#[inline(always)]
pub(crate) fn exp_blocks_generic(
    xs: &[f32],
    m: f32,
    scale: f32,
    out: &mut [f32],
    blocks: &mut Blocks,
) {
    for (xb, ob) in xs.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
        exp_map(xb, m, scale, ob);
        let (sum, max) = sum_max_generic(ob);
        blocks.sum.push(sum);
        blocks.max.push(max);
    }
}

/// The exp map alone, so the loop vectoriser takes it.
#[inline(always)]
pub(crate) fn exp_map(xs: &[f32], m: f32, scale: f32, out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(xs) {
        *o = scaled_exp(x, m, scale);
    }
}

/// Widens 8 f32 lane sums to f64 in a fixed order and adds the scalar tail.
#[inline(always)]
pub(crate) fn widen(acc: [f32; LANES], tail: f64) -> f64 {
    tail + acc.iter().map(|&a| f64::from(a)).sum::<f64>()
}

/// Sum and maximum of non-negative values.
#[inline(always)]
pub(crate) fn sum_max_generic(xs: &[f32]) -> (f64, f32) {
    let (mut acc, mut top) = ([0.0f32; LANES], [0.0f32; LANES]);
    let mut chunks = xs.chunks_exact(LANES);
    for x in &mut chunks {
        for j in 0..LANES {
            acc[j] += x[j];
            top[j] = if x[j] > top[j] { x[j] } else { top[j] };
        }
    }
    let rest = chunks.remainder();
    let tail = rest.iter().map(|&x| f64::from(x)).sum();
    let top = top
        .iter()
        .chain(rest)
        .fold(0.0f32, |a, &x| if x > a { x } else { a });
    (widen(acc, tail), top)
}

/// [`first_equal`], testing 64 values at a time with no early exit, so it vectorises.
#[inline(always)]
pub(crate) fn first_equal_generic(xs: &[f32], m: f32) -> Option<usize> {
    const CHUNK: usize = 64;
    for (c, chunk) in xs.chunks(CHUNK).enumerate() {
        if chunk.iter().fold(false, |any, &x| any | (x == m)) {
            return chunk.iter().position(|&x| x == m).map(|j| c * CHUNK + j);
        }
    }
    None
}

#[inline(always)]
pub(crate) fn divide_all_generic(kept: &mut [(u32, f64)], z: f64) {
    let mut chunks = kept.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut p = [0.0f64; 8];
        for (p, &(_, e)) in p.iter_mut().zip(chunk.iter()) {
            *p = e;
        }
        for p in &mut p {
            *p /= z;
        }
        for (p, (_, e)) in p.into_iter().zip(chunk) {
            *e = p;
        }
    }
    for (_, p) in chunks.into_remainder() {
        *p /= z;
    }
}

#[inline(always)]
pub(crate) fn collect_band_generic(
    probs: &[f32],
    block_max: &[f32],
    lo: f32,
    hi: f32,
    out: &mut Vec<u64>,
) {
    for (i, (b, &top)) in probs.chunks(BLOCK).zip(block_max).enumerate() {
        if top >= lo {
            let band = b.iter().enumerate().filter(|&(_, &e)| e >= lo && e < hi);
            out.extend(band.map(|(j, &e)| prob_key(e, i * BLOCK + j)));
        }
    }
}

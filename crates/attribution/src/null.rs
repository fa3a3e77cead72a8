//! The exact null of an account score, conditional on the suspect's colour table.
//!
//! An account whose answers the suspect did not learn from has a code that is uniform and
//! independent of the table: the code is a PRF of the master and the account id, and the
//! table is built from the suspect's tuples alone. That holds even when the suspect trained
//! on *other* accounts' answers (the hard null): their codes push some (digit, colour) cells
//! up, and an innocent code meets those cells only by chance, which the null counts. So
//!
//! ```text
//! S_a = Σ_j counts[j][code_a[j]]  ~  Σ_j counts[j][U_j],  U_j iid uniform on 0..r
//! ```
//!
//! exactly. Its law is computed once per table by dynamic programming over the digits in log
//! space (support width W = Σ_j (max − min of digit j), cost O(L · W · r)); each account is
//! then one table lookup. A set of k accounts sums k independent copies: exact by the same
//! dynamic programming when that is cheap, otherwise a Chernoff bound from the exact moment
//! generating function, which is valid and slightly conservative.

use std::f64::consts::LN_10;

use crate::table::ColourTable;

/// Largest dynamic-programming effort (cell updates) spent on an exact set test.
const EXACT_SET_BUDGET: f64 = 3e8;

/// `ln(e^a + e^b)` without overflow.
#[inline]
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

/// The null law of an account score under one colour table.
#[derive(Debug, Clone)]
pub struct AccountNull {
    /// Per digit: the colour counts minus the digit's minimum.
    offsets: Vec<Vec<u32>>,
    /// Σ_j min_c counts[j][c]: the smallest possible score.
    base: u64,
    /// ln P(S ≥ base + s), for s = 0 ..= W.
    log_tail: Vec<f64>,
    /// E[S].
    mean: f64,
    /// ln r.
    ln_r: f64,
}

impl AccountNull {
    /// The null of `table`'s account scores.
    pub fn new(table: &ColourTable) -> Self {
        let r = table.layer().colours();
        let mut offsets = Vec::new();
        let (mut base, mut mean) = (0u64, 0.0);
        for j in 0..table.layer().digits() {
            let counts = table.digit(j);
            let min = *counts.iter().min().expect("r ≥ 2");
            base += u64::from(min);
            mean += counts.iter().map(|&c| f64::from(c)).sum::<f64>() / f64::from(r);
            if counts.iter().any(|&c| c != min) {
                offsets.push(counts.iter().map(|&c| c - min).collect());
            }
        }
        let ln_r = f64::from(r).ln();
        let log_pmf = convolve(&offsets, 1, ln_r);
        Self {
            log_tail: tails(&log_pmf),
            offsets,
            base,
            mean,
            ln_r,
        }
    }

    /// E[S] under the null.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// log10 P(S ≥ score): the account's p-value.
    pub fn log10_p(&self, score: u64) -> f64 {
        let Some(s) = score.checked_sub(self.base) else {
            return 0.0;
        };
        match self.log_tail.get(s as usize) {
            Some(&lt) => (lt / LN_10).min(0.0),
            None => f64::NEG_INFINITY,
        }
    }

    /// The smallest score whose p-value is at most 10^`log10_level`; `None` if no score is.
    pub fn threshold(&self, log10_level: f64) -> Option<u64> {
        let level = log10_level * LN_10;
        // The tail falls as s grows: the first s at or below the level.
        let s = self.log_tail.partition_point(|&lt| lt > level);
        (s < self.log_tail.len()).then(|| self.base + s as u64)
    }

    /// log10 P(S₁ + … + S_k ≥ total) for k independent null scores: the set test.
    pub fn set_log10_p(&self, k: usize, total: u64) -> f64 {
        if k == 0 {
            return 0.0;
        }
        if k == 1 {
            return self.log10_p(total);
        }
        match total.checked_sub(self.base * k as u64) {
            Some(t) => sum_tail_log10(&self.offsets, k, self.ln_r, t),
            None => 0.0,
        }
    }

    /// log10 P(S_1 + … + S_k ≥ total) where S_i is an independent null score on its own
    /// table (`nulls[i]`): the set test of open-weights attribution, where each account is
    /// read in its own sample. The sum is again a sum of independent uniform digit choices,
    /// over all the tables' digits, so it is exact by the same dynamic programming when that
    /// is cheap, else the Chernoff bound.
    pub fn sum_log10_p(nulls: &[&AccountNull], total: u64) -> f64 {
        let Some(first) = nulls.first() else {
            return 0.0;
        };
        if let [only] = nulls {
            return only.log10_p(total);
        }
        let base: u64 = nulls.iter().map(|n| n.base).sum();
        let offsets: Vec<Vec<u32>> = nulls
            .iter()
            .flat_map(|n| n.offsets.iter().cloned())
            .collect();
        match total.checked_sub(base) {
            Some(t) => sum_tail_log10(&offsets, 1, first.ln_r, t),
            None => 0.0,
        }
    }
}

/// log10 P(X ≥ t) for X the sum of `copies` independent draws of Σ_j offsets[j][U_j]:
/// exact within [`EXACT_SET_BUDGET`], else the Chernoff bound.
fn sum_tail_log10(offsets: &[Vec<u32>], copies: usize, ln_r: f64, t: u64) -> f64 {
    let width: f64 = offsets
        .iter()
        .map(|o| f64::from(*o.iter().max().unwrap()))
        .sum();
    let k = copies as f64;
    let steps = k * offsets.len() as f64;
    let effort = steps * (k * width / 2.0) * offsets.first().map_or(1.0, |o| o.len() as f64);
    if effort <= EXACT_SET_BUDGET {
        let tail = tails(&convolve(offsets, copies, ln_r));
        return match tail.get(t as usize) {
            Some(&lt) => (lt / LN_10).min(0.0),
            None => f64::NEG_INFINITY,
        };
    }
    chernoff_log10(offsets, ln_r, copies, t as f64)
}

/// min over λ ≥ 0 of k ln M(λ) − λ t, in log10, with M the exact MGF of Σ_j offsets[j][U_j].
fn chernoff_log10(offsets: &[Vec<u32>], ln_r: f64, k: usize, t: f64) -> f64 {
    let k = k as f64;
    // ln M and its derivative at λ.
    let moments = |lambda: f64| -> (f64, f64) {
        let (mut ln_m, mut d) = (0.0, 0.0);
        for o in offsets {
            let top = f64::from(*o.iter().max().unwrap());
            let (mut z, mut zx) = (0.0, 0.0);
            for &x in o {
                let w = (lambda * (f64::from(x) - top)).exp();
                z += w;
                zx += w * f64::from(x);
            }
            ln_m += lambda * top + z.ln() - ln_r;
            d += zx / z;
        }
        (ln_m, d)
    };
    let width: f64 = offsets
        .iter()
        .map(|o| f64::from(*o.iter().max().unwrap()))
        .sum();
    if t > k * width {
        return f64::NEG_INFINITY;
    }
    if k * moments(0.0).1 >= t {
        return 0.0;
    }
    // The exponent is convex in λ; find where its slope k·M'/M − t crosses zero.
    let (mut lo, mut hi) = (0.0, 1.0);
    while k * moments(hi).1 < t && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if k * moments(mid).1 < t {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let lambda = hi;
    ((k * moments(lambda).0 - lambda * t) / LN_10).min(0.0)
}

/// The log pmf of the sum of `copies` independent draws of Σ_j offsets[j][U_j].
fn convolve(offsets: &[Vec<u32>], copies: usize, ln_r: f64) -> Vec<f64> {
    let width: usize = offsets
        .iter()
        .map(|o| *o.iter().max().unwrap() as usize)
        .sum::<usize>()
        * copies;
    let mut pmf = vec![f64::NEG_INFINITY; width + 1];
    pmf[0] = 0.0;
    let mut next = pmf.clone();
    let mut len = 1;
    for _ in 0..copies {
        for o in offsets {
            let range = *o.iter().max().unwrap() as usize;
            next[..len + range].fill(f64::NEG_INFINITY);
            for &x in o {
                let x = x as usize;
                for (n, &p) in next[x..x + len].iter_mut().zip(&pmf[..len]) {
                    *n = log_add(*n, p);
                }
            }
            len += range;
            for n in &mut next[..len] {
                *n -= ln_r;
            }
            std::mem::swap(&mut pmf, &mut next);
        }
    }
    pmf.truncate(len);
    pmf
}

/// `tail[s] = ln Σ_{s' ≥ s} e^{log_pmf[s']}`.
fn tails(log_pmf: &[f64]) -> Vec<f64> {
    let mut tail = vec![f64::NEG_INFINITY; log_pmf.len()];
    let mut acc = f64::NEG_INFINITY;
    for (t, &p) in tail.iter_mut().zip(log_pmf).rev() {
        acc = log_add(acc, p);
        *t = acc;
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table with given counts (r = 2), built through the public filing path's layout.
    fn null_of(counts: &[[u32; 2]]) -> AccountNull {
        let offsets: Vec<Vec<u32>> = counts
            .iter()
            .filter(|c| c[0] != c[1])
            .map(|c| {
                let m = c[0].min(c[1]);
                vec![c[0] - m, c[1] - m]
            })
            .collect();
        let base = counts.iter().map(|c| u64::from(c[0].min(c[1]))).sum();
        let mean = counts.iter().map(|c| f64::from(c[0] + c[1]) / 2.0).sum();
        let ln_r = 2f64.ln();
        AccountNull {
            log_tail: tails(&convolve(&offsets, 1, ln_r)),
            offsets,
            base,
            mean,
            ln_r,
        }
    }

    #[test]
    fn the_null_is_the_exact_enumeration() {
        let counts = [[3, 1], [0, 2], [5, 5], [4, 0]];
        let null = null_of(&counts);
        // Enumerate all 16 codes.
        let scores: Vec<u64> = (0..16u32)
            .map(|code| {
                (0..4)
                    .map(|j| u64::from(counts[j][((code >> j) & 1) as usize]))
                    .sum()
            })
            .collect();
        for s in 0..20u64 {
            let exact = scores.iter().filter(|&&x| x >= s).count() as f64 / 16.0;
            let got = 10f64.powf(null.log10_p(s));
            assert!((got - exact).abs() < 1e-12, "s = {s}: {got} vs {exact}");
        }
        // Two copies: enumerate pairs.
        for t in 0..40u64 {
            let exact = scores
                .iter()
                .flat_map(|a| scores.iter().map(move |b| a + b))
                .filter(|&x| x >= t)
                .count() as f64
                / 256.0;
            let got = 10f64.powf(null.set_log10_p(2, t));
            assert!((got - exact).abs() < 1e-12, "t = {t}: {got} vs {exact}");
        }
    }

    #[test]
    fn a_sum_over_different_tables_is_the_exact_enumeration() {
        let (a, b) = ([[3u32, 1], [0, 2], [5, 5]], [[1u32, 4], [2, 0]]);
        let enumerate = |counts: &[[u32; 2]]| -> Vec<u64> {
            (0..1u32 << counts.len())
                .map(|code| {
                    (0..counts.len())
                        .map(|j| u64::from(counts[j][((code >> j) & 1) as usize]))
                        .sum()
                })
                .collect()
        };
        let (sa, sb) = (enumerate(&a), enumerate(&b));
        let (na, nb) = (null_of(&a), null_of(&b));
        for t in 0..20u64 {
            let hits = sa
                .iter()
                .flat_map(|x| sb.iter().map(move |y| x + y))
                .filter(|&s| s >= t)
                .count();
            let exact = hits as f64 / (sa.len() * sb.len()) as f64;
            let got = 10f64.powf(AccountNull::sum_log10_p(&[&na, &nb], t));
            assert!((got - exact).abs() < 1e-12, "t = {t}: {got} vs {exact}");
        }
        assert_eq!(AccountNull::sum_log10_p(&[], 3), 0.0);
    }

    #[test]
    fn far_tails_stay_in_log_space_and_chernoff_bounds_the_exact_tail() {
        // 1,024 digits with counts (0, 1): S ~ Bin(1024, 1/2); P(S = 1024) = 2^-1024.
        let counts = vec![[0u32, 1]; 1024];
        let null = null_of(&counts);
        let want = -1024.0 * 2f64.log10();
        assert!(
            (null.log10_p(1024) - want).abs() < 1e-9,
            "{}",
            null.log10_p(1024)
        );
        assert_eq!(null.log10_p(1025), f64::NEG_INFINITY);
        for (k, t) in [(2usize, 1100u64), (3, 1700), (5, 2800)] {
            let exact = null.set_log10_p(k, t);
            let bound = chernoff_log10(&null.offsets, null.ln_r, k, t as f64);
            assert!(
                bound >= exact - 1e-9 && bound < exact + 3.0,
                "k {k}: {bound} vs {exact}"
            );
        }
        assert_eq!(null.threshold(null.log10_p(700)), Some(700));
    }
}

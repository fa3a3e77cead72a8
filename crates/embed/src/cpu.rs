//! Which SIMD builds the CPU runs: AVX-512 (F and VL), AVX2, or the portable code. The
//! standard library caches the CPUID answer, so a check costs a load and a branch.
//!
//! Every build gives bit-identical results; the unit test below runs whole decode steps at
//! each level a machine has, which tests may lower for their own thread.

#[cfg(target_arch = "x86_64")]
use std::arch::is_x86_feature_detected as has;

/// Whether the AVX2 builds may run.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2() -> bool {
    allowed(Level::Avx2) && has!("avx2")
}

/// Whether the AVX-512 builds may run (they use AVX-512F and AVX-512VL).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512() -> bool {
    allowed(Level::Avx512) && has!("avx512f") && has!("avx512vl")
}

/// SIMD levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(any(not(test), not(target_arch = "x86_64")), allow(dead_code))]
enum Level {
    Portable,
    Avx2,
    Avx512,
}

#[cfg(not(test))]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn allowed(_: Level) -> bool {
    true
}

#[cfg(test)]
thread_local! {
    /// The highest level this test thread may use.
    static CAP: std::cell::Cell<Level> = const { std::cell::Cell::new(Level::Avx512) };
}

#[cfg(test)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn allowed(level: Level) -> bool {
    CAP.with(|cap| level <= cap.get())
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};
    use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig};

    use super::*;
    use crate::{Embedder, SamplingParams, filtered_distribution};

    /// One step: the token, the logits' bits after it, the filtered distribution's bits.
    type Step = (u32, Vec<u32>, Vec<(u32, u64)>);

    /// The steps of one run at `level`.
    fn run(level: Level, key: Option<&Key>, params: SamplingParams) -> Vec<Step> {
        CAP.with(|cap| cap.set(level));
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut embedder = Embedder::new(key, params);
        let mut out = Vec::new();
        for step in 0..24u32 {
            let v = [49_152, 5003, 300, 7][step as usize % 4];
            let sd = [0.05f32, 1.0, 3.0, 20.0][step as usize / 4 % 4];
            let mut logits: Vec<f32> = (0..v)
                .map(|_| ((rng.next_u32() >> 8) as f32 / (1 << 24) as f32 - 0.5) * sd * 6.0)
                .collect();
            if step % 3 == 0 {
                logits[..v / 2].fill(f32::NEG_INFINITY);
            }
            let token = embedder.next_token(&[step, 9, step * 7], &mut logits);
            let dist = filtered_distribution(&logits, &params);
            let bits = logits.iter().map(|l| l.to_bits()).collect();
            out.push((
                token,
                bits,
                dist.iter().map(|&(t, p)| (t, p.to_bits())).collect(),
            ));
        }
        CAP.with(|cap| cap.set(Level::Avx512));
        out
    }

    #[test]
    fn every_simd_level_takes_the_same_steps() {
        let kgw = Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(2.0).unwrap(),
        };
        let key = |scheme, kind, h| {
            let seeding = Seeding::new(kind, h).unwrap();
            Key::from_secret([3; 32], WatermarkConfig { scheme, seeding })
        };
        let keys = [
            None,
            Some(key(kgw, SeedingKind::LeftHash, 1)),
            Some(key(kgw, SeedingKind::SelfHash, 2)),
            Some(key(Scheme::Gumbel, SeedingKind::LeftHash, 1)),
            Some(key(Scheme::Gumbel, SeedingKind::SelfHash, 1)),
        ];
        #[cfg(target_arch = "x86_64")]
        let levels: Vec<Level> = [Level::Portable, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|&l| l != Level::Avx2 || has!("avx2"))
            .filter(|&l| l != Level::Avx512 || (has!("avx512f") && has!("avx512vl")))
            .collect();
        #[cfg(not(target_arch = "x86_64"))]
        let levels = vec![Level::Portable];
        for key in &keys {
            for (t, k, p) in [
                (0.7, 0, 0.95),
                (1.0, 0, 1.0),
                (1.0, 40, 0.95),
                (0.0, 0, 1.0),
            ] {
                let params = SamplingParams::new(t, k, p, 5).unwrap();
                let want = run(levels[0], key.as_ref(), params);
                for &level in &levels[1..] {
                    let got = run(level, key.as_ref(), params);
                    assert!(got == want, "{level:?} differs: {key:?} T={t} k={k} p={p}");
                }
            }
        }
    }
}

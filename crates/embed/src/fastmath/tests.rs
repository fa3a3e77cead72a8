use super::portable::exp2_nonpositive;
use super::*;

#[test]
fn exp_is_accurate_and_zero_outside_its_range() {
    // 2^t itself is good to a few ulp; scaling x by log₂e adds one rounding of t, which is
    // relative error |x|·2⁻²⁴ in the result, the same as rounding (l − m)/T does anyway.
    let mut worst = [0.0f64; 2];
    for i in 0..=1_250_000 {
        let t = -(i as f32) * 1e-4;
        let (want, got) = (f64::from(t).exp2(), f64::from(exp2_nonpositive(t)));
        if want > 1e-37 {
            worst[0] = worst[0].max((got - want).abs() / want);
        }
        let x = t * 0.69;
        let (want, got) = (
            f64::from(x).exp(),
            f64::from(scaled_exp(x, 0.0, exp_scale(1.0))),
        );
        if want > 1e-37 {
            worst[1] = worst[1].max((got - want).abs() / want / (1.0 - f64::from(x)));
        }
    }
    assert!(
        worst[0] < 2.5e-7 && worst[1] < 2.5e-7,
        "relative errors {worst:?}"
    );
    assert_eq!(exp2_nonpositive(0.0), 1.0);
    assert_eq!(exp2_nonpositive(-3.0), 0.125);
    assert_eq!(exp2_nonpositive(f32::NEG_INFINITY), 0.0);
    assert_eq!(exp2_nonpositive(f32::NAN), 0.0);
    assert_eq!(exp2_nonpositive(-126.0), 0.0);
}

#[test]
fn max_skips_nan() {
    assert_eq!(
        max(&[f32::NAN, 1.0, 3.0, f32::NAN, 2.0, 0.0, 0.0, 0.0, 0.0, -1.0]),
        3.0
    );
    assert_eq!(max(&[f32::NAN; 9]), f32::NEG_INFINITY);
    assert_eq!(max(&[]), f32::NEG_INFINITY);
    assert_eq!(max(&[1.0, f32::INFINITY]), f32::INFINITY);
    let mut long = vec![-5.0f32; 5000];
    long[4321] = 7.0;
    long[17] = f32::NAN;
    assert_eq!(max(&long), 7.0);
    assert_eq!(max_small(&long), 7.0);
}

#[test]
fn add_where_below_touches_exactly_the_words_below() {
    let words: Vec<u32> = (0..1003u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    let mut original: Vec<f32> = (0..1003).map(|i| i as f32 * 0.1 - 50.0).collect();
    original[..4].copy_from_slice(&[-0.0, f32::NEG_INFINITY, f32::INFINITY, 0.0]);
    let want: Vec<f32> = original
        .iter()
        .zip(&words)
        .map(|(&l, &w)| if w < 1 << 30 { l + 2.0 } else { l })
        .collect();
    let mut logits = original.clone();
    let n = add_where_below(&mut logits, &words, 1 << 30, 2.0);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&logits), bits(&want), "bit for bit, −0.0 included");
    assert_eq!(n, words.iter().filter(|&&w| w < 1 << 30).count());
    let mut generic = original;
    assert_eq!(
        add_where_below_generic(&mut generic, &words, 1 << 30, 2.0),
        n
    );
    assert_eq!(bits(&generic), bits(&want));
}

#[test]
fn block_kernels_match_a_direct_computation_and_both_builds_agree() {
    // 5003 values: 19 full blocks and a ragged one whose length is not a multiple of 8.
    let xs: Vec<f32> = (0..5003)
        .map(|i| ((i * 7919) % 1000) as f32 * -0.02)
        .collect();
    let scale = exp_scale(1.0 / 1.3);
    let (mut out, mut blocks) = (vec![0.0; xs.len()], Blocks::default());
    let total = exp_blocks(&xs, 0.0, scale, &mut out, &mut blocks);
    let (mut g_out, mut g_blocks) = (vec![0.0; xs.len()], Blocks::default());
    exp_blocks_generic(&xs, 0.0, scale, &mut g_out, &mut g_blocks);
    assert_eq!((&out, &blocks), (&g_out, &g_blocks));
    let block_max = blocks.max;
    for (b, &sum) in out.chunks(BLOCK).zip(&blocks.sum) {
        let direct: f64 = b.iter().map(|&e| f64::from(e)).sum();
        assert!((sum - direct).abs() < 1e-6 * direct);
    }

    let direct: f64 = out.iter().map(|&e| f64::from(e)).sum();
    // f32 lanes within a block: at most 32 additions each.
    assert!((total - direct).abs() < 1e-6 * direct);
    let want_max: Vec<f32> = out
        .chunks(BLOCK)
        .map(|b| b.iter().copied().fold(0.0, f32::max))
        .collect();
    assert_eq!(block_max, want_max);

    let bands = [
        (0.9, f32::INFINITY),
        (0.2, 0.9),
        (0.01, 0.2),
        (0.0, 0.01),
        (1.0, 2.0),
        (0.5, 0.5),
    ];
    for (lo, hi) in bands {
        let (mut keys, mut g_keys) = (Vec::new(), Vec::new());
        collect_band(&out, &block_max, lo, hi, &mut keys);
        collect_band_generic(&out, &block_max, lo, hi, &mut g_keys);
        let inside = |&(_, &e): &(usize, &f32)| e >= lo && e < hi;
        let want: Vec<u64> = out
            .iter()
            .enumerate()
            .filter(inside)
            .map(|(i, &e)| prob_key(e, i))
            .collect();
        assert_eq!(keys, want, "[{lo}, {hi})");
        assert_eq!(g_keys, want, "[{lo}, {hi})");
    }
}

#[test]
fn every_exp_build_agrees_and_the_gather_is_exact() {
    // 49,152 + 200 values: full blocks and a ragged one, probabilities from 1 down to 0.
    let xs: Vec<f32> = (0..49_352)
        .map(|i| ((i * 7919) % 100_003) as f32 * -0.0011)
        .collect();
    let scale = exp_scale(1.0 / 0.7);
    let run = |f: &dyn Fn(&mut Vec<f32>, &mut Blocks)| {
        let (mut out, mut blocks) = (vec![0.0; xs.len()], Blocks::default());
        f(&mut out, &mut blocks);
        (out, blocks)
    };
    let want = run(&|o, b| exp_blocks_generic(&xs, 0.0, scale, o, b));
    assert_eq!(run(&|o, b| _ = exp_blocks(&xs, 0.0, scale, o, b)), want);
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY (each): run only where the CPU has the build's features.
        if has_avx2() {
            let avx2 = run(&|o, b| unsafe { simd::avx2::exp_blocks(&xs, 0.0, scale, o, b) });
            assert_eq!(avx2, want);
        }
        if has_avx512vl() {
            let vl = run(&|o, b| unsafe { simd::avx512::exp_blocks(&xs, 0.0, scale, o, b) });
            assert_eq!(vl, want);
            let w = run(&|o, b| unsafe { wide::exp_blocks(&xs, 0.0, scale, o, b, None) });
            assert_eq!(w, want);
        }
    }
    for (lo, cap) in [
        (1.0 / 4096.0, 4096),
        (0.5, 100_000),
        (1e-30, 60_000),
        (1e-30, 1000),
    ] {
        let mut cands = Candidates::default();
        let (mut out, mut blocks) = (vec![0.0; xs.len()], Blocks::default());
        let total =
            exp_blocks_collecting(&xs, 0.0, scale, &mut out, &mut blocks, lo, cap, &mut cands);
        assert_eq!(total, blocks.sum.iter().sum::<f64>());
        assert_eq!((out, blocks), want);
        let inside: Vec<(f32, u32)> = (want.0.iter().enumerate())
            .filter(|&(_, &e)| e >= lo)
            .map(|(i, &e)| (e, i as u32))
            .collect();
        if cands.complete {
            let gathered: Vec<(f32, u32)> = cands.pairs().collect();
            assert_eq!(gathered, inside, "lo {lo}");
            assert!(inside.len() < cap + 16);
        } else {
            #[cfg(target_arch = "x86_64")]
            assert!(inside.len() > cap || !has_avx512vl());
        }
    }
}

#[test]
fn every_max_build_agrees() {
    for n in [0usize, 1, 15, 16, 63, 64, 65, 1000, 49_152] {
        let mut xs: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1013) as f32 - 700.0).collect();
        for (i, x) in xs.iter_mut().enumerate() {
            if i % 97 == 3 {
                *x = f32::NAN;
            }
        }
        assert_eq!(max(&xs).to_bits(), max_small(&xs).to_bits(), "n = {n}");
        if n > 10 {
            xs[n / 2] = f32::INFINITY;
            assert_eq!(max(&xs), f32::INFINITY);
            xs.iter_mut().for_each(|x| *x = f32::NAN);
            assert_eq!(max(&xs), f32::NEG_INFINITY);
        }
    }
}

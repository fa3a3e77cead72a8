//! Per-decode-step cost at V = 49,152 with Gaussian logits (sd 3), temperature 0.7, top-p 0.95.
//!
//! Each case also runs, right after, through the frozen pre-optimisation step
//! (`tests/reference/`) in the group `next_token_v49152_reference`, so one run measures
//! before and after side by side; so do the `_reference` components.
//!
//! Run: `cargo bench -p tracemark-embed --bench embed -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_embed::{Embedder, KgwBias, Sampler, SamplingParams};

#[path = "../tests/reference/mod.rs"]
#[allow(unsafe_code)] // the frozen reference keeps its AVX2 kernels.
mod reference;

const V: usize = 49_152;

/// Logit vectors ~ N(0, 3²), Box–Muller from a seeded ChaCha20.
fn logit_tables(n: usize) -> Vec<Vec<f32>> {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut unit = move || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (0..n)
        .map(|_| {
            (0..V)
                .map(|_| {
                    let (a, b) = (unit(), unit());
                    (3.0 * (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
                })
                .collect()
        })
        .collect()
}

fn key(scheme: Scheme, kind: SeedingKind, h: usize) -> Key {
    let config = WatermarkConfig {
        scheme,
        seeding: Seeding::new(kind, h).unwrap(),
    };
    Key::from_secret([5; 32], config)
}

fn kgw() -> Scheme {
    Scheme::Kgw {
        gamma: Gamma::new(0.25).unwrap(),
        delta: Delta::new(2.0).unwrap(),
    }
}

fn bench_steps(c: &mut Criterion) {
    let tables = logit_tables(8);
    let params = SamplingParams::new(0.7, 0, 0.95, 1).unwrap();
    let cases: [(&str, Option<Key>); 4] = [
        ("baseline", None),
        (
            "kgw_lefthash_h1",
            Some(key(kgw(), SeedingKind::LeftHash, 1)),
        ),
        (
            "kgw_selfhash_h3_top40",
            Some(key(kgw(), SeedingKind::SelfHash, 3)),
        ),
        (
            "gumbel_lefthash_h1",
            Some(key(Scheme::Gumbel, SeedingKind::LeftHash, 1)),
        ),
    ];
    // Each iteration copies a logit table into the step's buffer (a serving stack copies
    // logits off the device too; `components/copy_logits` times the copy alone) and varies the
    // context, so every step has a fresh seed. Each case runs the crate's step, then the same
    // steps through the frozen reference, back to back, so both see about the same load.
    let mut buf = vec![0.0f32; V];
    for (name, key) in &cases {
        let mut embedder = Embedder::new(key.as_ref(), params);
        let mut reference = reference::RefEmbedder::new(key.as_ref().map(Watermark::new), params);
        let mut run = |group: &str, next: &mut dyn FnMut(&[u32], &mut [f32]) -> u32| {
            let mut group = c.benchmark_group(group);
            let mut step = 0u32;
            group.bench_function(*name, |b| {
                b.iter(|| {
                    step = step.wrapping_add(1);
                    buf.copy_from_slice(&tables[step as usize % tables.len()]);
                    let context = [step, step ^ 7, step.wrapping_mul(3), step];
                    black_box(next(&context, &mut buf))
                })
            });
            group.finish();
        };
        run("next_token_v49152", &mut |ctx, l| {
            embedder.next_token(ctx, l)
        });
        run("next_token_v49152_reference", &mut |ctx, l| {
            reference.next_token(ctx, l)
        });
    }

    // Components, for profiling.
    let mut group = c.benchmark_group("components_v49152");
    group.bench_function("copy_logits", |b| {
        b.iter(|| buf.copy_from_slice(black_box(&tables[3])))
    });
    let mut sampler = Sampler::new(params);
    group.bench_function("sample_t0.7_p0.95", |b| {
        b.iter(|| black_box(sampler.sample(&tables[0])))
    });
    let mut sampler = reference::Sampler::new(params);
    group.bench_function("sample_t0.7_p0.95_reference", |b| {
        b.iter(|| black_box(sampler.sample(&tables[0])))
    });
    // The KGW LeftHash bias alone (keystream expansion, green test, +δ), on a fresh context
    // each time; the copy back of the logits is included.
    let wm = Watermark::new(&key(kgw(), SeedingKind::LeftHash, 1));
    let mut bias = KgwBias::new();
    let mut step = 0u32;
    group.bench_function("kgw_bias_lefthash", |b| {
        b.iter(|| {
            step = step.wrapping_add(1);
            buf.copy_from_slice(&tables[1]);
            black_box(bias.apply(&wm, &[step], &mut buf, 40))
        })
    });
    let mut bias = reference::KgwBias::default();
    group.bench_function("kgw_bias_lefthash_reference", |b| {
        b.iter(|| {
            step = step.wrapping_add(1);
            buf.copy_from_slice(&tables[1]);
            black_box(bias.apply(&wm, &[step], &mut buf, 40))
        })
    });
    let seed = wm.step_seed(&[17]).unwrap();
    let mut words = vec![0u32; V];
    group.bench_function("seed_fill", |b| b.iter(|| seed.fill(black_box(&mut words))));
    group.bench_function("seed_word", |b| {
        b.iter(|| black_box(seed.word(black_box(40_001))))
    });
    group.finish();
}

criterion_group!(benches, bench_steps);
criterion_main!(benches);

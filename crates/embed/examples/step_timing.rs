//! Per-decode-step timing that holds up on a shared machine: for each case it reports the
//! fastest 10-step batch (wall clock, so preemption by other processes is filtered out) and
//! the mean on-CPU time per step (Linux `/proc/thread-self/schedstat`, where available).
//! Same setup as `benches/embed.rs`: V = 49,152, N(0, 3²) logits, T = 0.7, top-p 0.95, and
//! each step includes copying the logits into the step's buffer.
//!
//! Run: `cargo run --release -p tracemark-embed --example step_timing`

use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig};
use tracemark_embed::{Embedder, SamplingParams};

const V: usize = 49_152;

fn cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn time(name: &str, mut step: impl FnMut()) {
    for _ in 0..200 {
        step();
    }
    let (start, cpu_start) = (Instant::now(), cpu_ns());
    let (mut best, mut steps) = (Duration::MAX, 0u32);
    while start.elapsed() < Duration::from_millis(1500) {
        let batch = Instant::now();
        for _ in 0..10 {
            step();
        }
        best = best.min(batch.elapsed() / 10);
        steps += 10;
    }
    let cpu = match (cpu_start, cpu_ns()) {
        (Some(a), Some(b)) => format!("{:.1} µs", (b - a) as f64 / 1e3 / f64::from(steps)),
        _ => "n/a".into(),
    };
    println!("{name:>24}: fastest batch {best:>10.1?}/step, mean CPU {cpu}/step");
}

fn main() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut unit = move || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let tables: Vec<Vec<f32>> = (0..8)
        .map(|_| {
            (0..V)
                .map(|_| {
                    let (a, b) = (unit(), unit());
                    (3.0 * (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
                })
                .collect()
        })
        .collect();
    let params = SamplingParams::new(0.7, 0, 0.95, 1).unwrap();
    let kgw = Scheme::Kgw {
        gamma: Gamma::new(0.25).unwrap(),
        delta: Delta::new(2.0).unwrap(),
    };
    let key = |scheme, kind, h| {
        let config = WatermarkConfig {
            scheme,
            seeding: Seeding::new(kind, h).unwrap(),
        };
        Some(Key::from_secret([5; 32], config))
    };
    let cases = [
        ("baseline", None),
        ("kgw_lefthash_h1", key(kgw, SeedingKind::LeftHash, 1)),
        ("kgw_selfhash_h3_top40", key(kgw, SeedingKind::SelfHash, 3)),
        (
            "gumbel_lefthash_h1",
            key(Scheme::Gumbel, SeedingKind::LeftHash, 1),
        ),
    ];
    let mut buf = vec![0.0f32; V];
    for (name, key) in &cases {
        let mut embedder = Embedder::new(key.as_ref(), params);
        let mut i = 0u32;
        time(name, || {
            i = i.wrapping_add(1);
            buf.copy_from_slice(&tables[i as usize % tables.len()]);
            let context = [i, i ^ 7, i.wrapping_mul(3), i];
            std::hint::black_box(embedder.next_token(&context, &mut buf));
        });
    }
}

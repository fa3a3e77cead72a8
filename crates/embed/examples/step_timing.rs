//! Per-decode-step timing that holds up on a shared machine: for each case it reports the
//! fastest 10-step batch (wall clock, so preemption by other processes is filtered out) and
//! the mean on-CPU time per step (Linux `/proc/thread-self/schedstat`, where available).
//! Same setup as `benches/embed.rs`: V = 49,152, N(0, 3²) logits, T = 0.7, top-p 0.95, and
//! each step includes copying the logits into the step's buffer.
//!
//! Each case runs the crate's step and the frozen pre-optimisation step (`tests/reference/`)
//! in alternating rounds, so both see the same machine load, and checks they pick the same
//! tokens.
//!
//! Run: `cargo run --release -p tracemark-embed --example step_timing`

use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_embed::{Embedder, SamplingParams};

#[path = "../tests/reference/mod.rs"]
#[allow(unsafe_code)] // the frozen reference keeps its AVX2 kernels.
mod reference;

const V: usize = 49_152;

fn cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Fastest 10-step batch and on-CPU nanoseconds per step, accumulated over rounds.
#[derive(Default)]
struct Tally {
    best: Option<Duration>,
    cpu_ns: u64,
    steps: u32,
}

impl Tally {
    /// Runs `step` for about `ms` milliseconds in 10-step batches.
    fn round(&mut self, ms: u64, step: &mut impl FnMut()) {
        let (start, cpu_start) = (Instant::now(), cpu_ns());
        let mut steps = 0;
        while start.elapsed() < Duration::from_millis(ms) {
            let batch = Instant::now();
            for _ in 0..10 {
                step();
            }
            let t = batch.elapsed() / 10;
            self.best = Some(self.best.map_or(t, |b| b.min(t)));
            steps += 10;
        }
        if let (Some(a), Some(b)) = (cpu_start, cpu_ns()) {
            self.cpu_ns += b - a;
        }
        self.steps += steps;
    }

    fn report(&self) -> String {
        let best = self.best.unwrap_or_default();
        let cpu = self.cpu_ns as f64 / 1e3 / f64::from(self.steps.max(1));
        format!(
            "fastest {:>7.1} µs, mean CPU {cpu:>6.1} µs",
            best.as_secs_f64() * 1e6
        )
    }
}

/// Warms both steps up, then alternates 150 ms rounds of each for about 3 s.
fn time(name: &str, mut new: impl FnMut(), mut old: impl FnMut()) {
    for _ in 0..200 {
        new();
        old();
    }
    let (mut a, mut b) = (Tally::default(), Tally::default());
    for _ in 0..10 {
        a.round(150, &mut new);
        b.round(150, &mut old);
    }
    println!("{name:>22}: new {} | reference {}", a.report(), b.report());
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
    println!("per step, one thread; fastest 10-step batch and mean on-CPU time");
    let (mut buf, mut ref_buf) = (vec![0.0f32; V], vec![0.0f32; V]);
    for (name, key) in &cases {
        let mut embedder = Embedder::new(key.as_ref(), params);
        let mut reference = reference::RefEmbedder::new(key.as_ref().map(Watermark::new), params);
        let (mut i, mut j) = (0u32, 0u32);
        let (mut tokens, mut ref_tokens) = (Vec::new(), Vec::new());
        time(
            name,
            || {
                i = i.wrapping_add(1);
                buf.copy_from_slice(&tables[i as usize % tables.len()]);
                let context = [i, i ^ 7, i.wrapping_mul(3), i];
                let token = embedder.next_token(&context, &mut buf);
                if tokens.len() < 1000 {
                    tokens.push(token);
                }
            },
            || {
                j = j.wrapping_add(1);
                ref_buf.copy_from_slice(&tables[j as usize % tables.len()]);
                let context = [j, j ^ 7, j.wrapping_mul(3), j];
                let token = reference.next_token(&context, &mut ref_buf);
                if ref_tokens.len() < 1000 {
                    ref_tokens.push(token);
                }
            },
        );
        assert_eq!(
            tokens, ref_tokens,
            "{name}: the reference picked other tokens"
        );
    }
}

//! Detection throughput from token ids: scored tuples per second on one core, dedup included.
//!
//! `TRACEMARK_BENCH_CLOCK=cpu` times each batch by the thread's CPU time instead of the wall
//! clock, for a machine shared with other jobs (on an idle machine the two agree).

use std::time::Instant;

use criterion::{Bencher, Criterion, Throughput, criterion_group, criterion_main};
use tracemark_core::{Key, Seeding, SeedingKind, Watermark, WatermarkConfig};
use tracemark_detect::{DetectOptions, Detector, Scorer, exact_test};

/// Zipf-like ids from a small LCG: realistic repetition without a tokenizer.
fn token_ids(n: usize) -> Vec<u32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            // Inverse CDF of a continuous Zipf(s = 1.1) over [1, 49152].
            let s = 1.1f64;
            let max = 49_152f64;
            let x = (1.0 - u * (1.0 - max.powf(1.0 - s))).powf(1.0 / (1.0 - s));
            x as u32 - 1
        })
        .collect()
}

/// Runs `f` per iteration, timed by the wall clock or, with `TRACEMARK_BENCH_CLOCK=cpu`, by
/// the thread's CPU time.
fn timed<R>(b: &mut Bencher, mut f: impl FnMut() -> R) {
    let cpu = std::env::var("TRACEMARK_BENCH_CLOCK").is_ok_and(|v| v == "cpu");
    b.iter_custom(|iters| {
        let (wall, thread) = (Instant::now(), cpu_time::ThreadTime::now());
        for _ in 0..iters {
            std::hint::black_box(f());
        }
        if cpu {
            thread.elapsed()
        } else {
            wall.elapsed()
        }
    });
}

fn bench(c: &mut Criterion) {
    let ids = token_ids(200_000);
    let mut group = c.benchmark_group("detect_ids");
    for (kind, h) in [
        (SeedingKind::LeftHash, 1),
        (SeedingKind::LeftHash, 2),
        (SeedingKind::LeftHash, 4),
        (SeedingKind::SelfHash, 3),
        (SeedingKind::MinHash, 4),
    ] {
        let config = WatermarkConfig {
            seeding: Seeding::new(kind, h).unwrap(),
            ..Default::default()
        };
        let wm = Watermark::new(&Key::from_secret([5; 32], config));
        let mut scorer = Scorer::new(&wm, true);
        let scored = scorer.score(&ids, None, None, None).scored;
        let seen = scorer.seen();
        eprintln!(
            "{}_h{h}: dedup set {} bytes for {} unique tuples, {:.1} bytes each",
            kind.name(),
            seen.heap_bytes(),
            seen.len(),
            seen.heap_bytes() as f64 / seen.len() as f64
        );
        group.throughput(Throughput::Elements(scored));
        group.bench_function(format!("{}_h{h}", kind.name()), |b| {
            timed(b, || {
                let tally = Scorer::new(&wm, true).score(&ids, None, None, None);
                exact_test(&config.scheme, &tally)
            })
        });
        if (kind, h) == (SeedingKind::LeftHash, 1) || kind == SeedingKind::SelfHash {
            // The detector over 20 documents: document tallies and the corpus aggregate.
            let mut d = Detector::new(&wm, DetectOptions::default());
            let scored: u64 = ids
                .chunks(10_000)
                .map(|doc| d.detect(doc, None).test.scored)
                .sum();
            group.throughput(Throughput::Elements(scored));
            group.bench_function(format!("detector_{}_h{h}", kind.name()), |b| {
                timed(b, || {
                    let mut d = Detector::new(&wm, DetectOptions::default());
                    for doc in ids.chunks(10_000) {
                        std::hint::black_box(d.detect(doc, None));
                    }
                    d.aggregate().test.p_value
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);

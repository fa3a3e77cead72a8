//! Random-key calibration cost: M = 200 keys on the tuples of 1M suspect tokens, on all
//! cores (rayon), for each seeding. One timed run each (criterion's repeated sampling would
//! take minutes here); run with `cargo bench -p tracemark-radioactivity --bench controls`.

use std::time::Instant;

use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig};
use tracemark_radioactivity::{ControlOptions, TupleSet, run_controls};

/// 1M token ids with a Zipf-like spread over a 49,152-token vocabulary, so that short
/// windows repeat about as often as in real text.
fn tokens(n: usize) -> Vec<u32> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            // Inverse CDF of a Zipf(1) law over ranks 1..V, approximately.
            ((49_152f64.powf(u) - 1.0) as u32).min(49_151)
        })
        .collect()
}

fn main() {
    let ids = tokens(1_000_000);
    let threads = rayon::current_num_threads();
    for (kind, h) in [
        (SeedingKind::LeftHash, 1),
        (SeedingKind::LeftHash, 2),
        (SeedingKind::SelfHash, 3),
        (SeedingKind::MinHash, 4),
    ] {
        let config = WatermarkConfig {
            scheme: Scheme::Kgw {
                gamma: Gamma::new(0.25).unwrap(),
                delta: Delta::new(2.0).unwrap(),
            },
            seeding: Seeding::new(kind, h).unwrap(),
        };
        let key = Key::from_secret([9; 32], config);
        let t = Instant::now();
        let mut tuples = TupleSet::new(h);
        for chunk in ids.chunks(250) {
            tuples.add_answer(chunk, None, None);
        }
        let collect = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let controls = run_controls(
            &key,
            &tuples,
            0.0,
            &ControlOptions { keys: 200, seed: 1 },
            &|| {},
        );
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{}: 1M tokens → {} tuples collected in {collect:.2} s; 200 random keys in {secs:.1} s \
             on {threads} threads ({:.2}M tuples/s per thread); controls KS p = {:.2}",
            config.describe(),
            tuples.len(),
            200.0 * tuples.len() as f64 / secs / threads as f64 / 1e6,
            controls.ks.p_value
        );
    }
}

//! Aggregate decode throughput of [`BatchedModel::step_slots`] at 1, 4 and 16 sequences:
//! the engine-level ceiling under `tracemark serve` (no sampling, no HTTP).
//!
//! ```text
//! cargo run --release -p tracemark-runtime --example batched_decode -- [MODEL.gguf] [THREADS] [STEPS]
//! ```
//! Each sequence starts from its own 32-token prompt; then `STEPS` (default 64) rounds step
//! every sequence once with its greedy token. Reported: tokens/s over all sequences, and
//! milliseconds per round.

use std::time::Instant;

use tracemark_runtime::{BatchedModel, LlamaModel, LoadOptions, argmax};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tracemark_io::default_model_path().expect("the default model"));
    let threads: usize = args.next().map_or(2, |t| t.parse().expect("THREADS"));
    let steps: usize = args.next().map_or(64, |s| s.parse().expect("STEPS"));
    let opts = LoadOptions {
        n_ctx: 1024,
        n_threads: threads,
        sequences: 16,
        ..LoadOptions::default()
    };
    let mut model = LlamaModel::load(&path, &opts).expect("loading the model");
    println!("{}, {threads} threads", path.display());
    println!("sequences  tokens/s  ms/round");
    for n in [1usize, 4, 8, 16] {
        let mut next = Vec::with_capacity(n);
        let mut logits = Vec::new();
        for s in 0..n {
            let prompt: Vec<u32> = (0..32)
                .map(|i| 1000 + (s * 37 + i * 11) as u32 % 20000)
                .collect();
            model.start_slot(s, &prompt, &mut logits).expect("prefill");
            next.push(argmax(&logits));
        }
        let mut bufs = vec![Vec::new(); n];
        let started = Instant::now();
        for _ in 0..steps {
            let batch: Vec<(usize, u32)> = next.iter().copied().enumerate().collect();
            model.step_slots(&batch, &mut bufs).expect("step");
            for (t, row) in next.iter_mut().zip(&bufs) {
                *t = argmax(row);
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{n:>9}  {:>8.1}  {:>8.2}",
            (n * steps) as f64 / secs,
            secs * 1e3 / steps as f64
        );
        for s in 0..n {
            model.release_slot(s);
        }
    }
}

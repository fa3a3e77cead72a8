//! Throughput of `LlamaModel` on CPU: prompt evaluation and decode.
//!
//! ```text
//! cargo run --release -p tracemark-runtime --example bench -- [MODEL.gguf] [THREADS] [RUNS] [UBATCH]
//! ```
//! The model defaults to the default model (fetched if needed); threads default to 2, runs to 5 (the median is reported), and the micro-batch
//! to `LoadOptions::default().n_ubatch`.

use std::path::PathBuf;
use std::time::Instant;

use tracemark_runtime::{LanguageModel, LlamaModel, LoadOptions, RuntimeError, argmax};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Run `f` `runs` times after one warm-up; return the median seconds.
fn time<E: Into<RuntimeError>>(
    runs: usize,
    mut f: impl FnMut() -> Result<(), E>,
) -> Result<f64, RuntimeError> {
    f().map_err(Into::into)?;
    let mut secs = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f().map_err(Into::into)?;
        secs.push(t.elapsed().as_secs_f64());
    }
    Ok(median(secs))
}

fn main() -> Result<(), RuntimeError> {
    let mut args = std::env::args().skip(1);
    let path = match args.next() {
        Some(p) => PathBuf::from(p),
        None => tracemark_io::default_model_path().expect("the default model (fetched if needed)"),
    };
    let threads: usize = args.next().map_or(2, |t| t.parse().expect("THREADS"));
    let runs: usize = args.next().map_or(5, |t| t.parse().expect("RUNS"));
    let n_ubatch: u32 = args.next().map_or(LoadOptions::default().n_ubatch, |t| {
        t.parse().expect("UBATCH")
    });

    let t = Instant::now();
    let opts = LoadOptions {
        n_ctx: 2048,
        n_threads: threads,
        n_ubatch,
        ..LoadOptions::default()
    };
    let mut model = LlamaModel::load(&path, &opts)?;
    println!("model: {}", model.describe());
    println!(
        "load: {:.3} s; threads {threads}, n_ubatch {n_ubatch}; median of {runs} runs",
        t.elapsed().as_secs_f64()
    );

    // A 256-token block of ordinary text.
    let text = std::fs::read_to_string("/usr/share/common-licenses/Apache-2.0")
        .unwrap_or_else(|_| "The quick brown fox jumps over the lazy dog. ".repeat(100));
    let block: Vec<u32> = model
        .tokenize(&text, false)?
        .into_iter()
        .take(256)
        .collect();
    assert_eq!(block.len(), 256, "need 256 tokens of text");

    let s = time(runs, || model.score_all(&block).map(drop))?;
    println!(
        "prefill 256, logits at every position (score_all): {:.3} s = {:.0} tok/s",
        s,
        256.0 / s
    );
    let s = time(runs, || model.top1_all(&block).map(drop))?;
    println!(
        "prefill 256, argmax at every position (top1_all):  {:.3} s = {:.0} tok/s",
        s,
        256.0 / s
    );
    let s = time(runs, || model.start(&block).map(drop))?;
    println!(
        "prefill 256, logits at the end only (start):       {:.3} s = {:.0} tok/s",
        s,
        256.0 / s
    );

    // Decode: 42-token prompt, then 100 single-token steps, copying every logits vector.
    let prompt = model.tokenize(
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
         Face<|im_end|>\n<|im_start|>user\nWrite a short story about a robot who learns to \
         paint.<|im_end|>\n<|im_start|>assistant\n",
        true,
    )?;
    let mut host = vec![0f32; model.vocab_size()];
    let mut generated = Vec::new();
    let (mut prefill, mut decode) = (Vec::new(), Vec::new());
    for run in 0..=runs {
        generated.clear();
        let t = Instant::now();
        host.copy_from_slice(model.start(&prompt)?);
        let p = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for _ in 0..100 {
            let next = argmax(&host);
            generated.push(next);
            host.copy_from_slice(model.step(next)?);
        }
        // Run 0 is a warm-up.
        if run > 0 {
            prefill.push(p);
            decode.push(t.elapsed().as_secs_f64());
        }
    }
    let (p, d) = (median(prefill), median(decode));
    println!(
        "prefill {} tokens (chat prompt, logits at the end): {:.3} s = {:.0} tok/s",
        prompt.len(),
        p,
        prompt.len() as f64 / p
    );
    println!(
        "decode 100 steps, logits copied to host: {:.3} s = {:.1} tok/s",
        d,
        100.0 / d
    );
    println!("sample: {:?}", model.detokenize(&generated[..40])?);
    Ok(())
}

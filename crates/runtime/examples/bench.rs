//! Throughput of `LlamaModel` on CPU: prompt evaluation and decode.
//!
//! ```text
//! cargo run --release -p tracemark-runtime --example bench -- [MODEL.gguf] [THREADS] [RUNS] [UBATCH] [decode]
//! ```
//! The model defaults to the default model (fetched if needed); threads default to 2, runs
//! to 5 (the median is reported), and the micro-batch
//! to `LoadOptions::default().n_ubatch`. The context is `LoadOptions::default().n_ctx`, as
//! in `tracemark generate`. A fifth argument `decode` skips the prefill measurements.
//!
//! "decode tg128" is what `llama-bench -p 0 -n 128` times: 128 single-token evaluations
//! from an empty cache (here `start` with one token, then 127 `step`s, each logits vector
//! copied out). To get llama.cpp's own figure with the same library build, build
//! llama-bench outside the repository from the vendored source with the crate's flags
//! (llama-cpp-sys-2 0.1.161 vendors no `tools/llama-bench/*.cpp`; the files of a
//! llama.cpp checkout of the same API, e.g. from the `llama-cpp-python` 0.3.36 sdist, fit):
//!
//! ```text
//! cmake -S llama.cpp -B /tmp/lbench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGGML_NATIVE=OFF \
//!   -DGGML_OPENMP=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_COMMON=ON \
//!   -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
//!   -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
//!   -DCMAKE_C_FLAGS="-fPIC -m64 -march=x86-64" -DCMAKE_CXX_FLAGS="-fPIC -m64 -march=x86-64"
//! cmake --build /tmp/lbench --target llama-bench -j2
//! /tmp/lbench/bin/llama-bench -m MODEL.gguf -p 0 -n 128 -t 2 -r 5
//! ```
//! (RelWithDebInfo and GGML_NATIVE=OFF, which leaves AVX2/FMA/F16C on and AVX-512 off, are
//! what the crate's release build gets; see the CMakeCache.txt under
//! `target/release/build/llama-cpp-sys-2-*/out/build`.)

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
    let prefill = args.next().is_none_or(|m| m != "decode");

    let t = Instant::now();
    let opts = LoadOptions {
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

    if prefill {
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
    }

    // Decode: 42-token prompt, then 100 single-token steps, copying every logits vector.
    let prompt = model.tokenize(
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
         Face<|im_end|>\n<|im_start|>user\nWrite a short story about a robot who learns to \
         paint.<|im_end|>\n<|im_start|>assistant\n",
        true,
    )?;
    let mut host = vec![0f32; model.vocab_size()];
    let mut generated = Vec::new();
    let (mut prefills, mut decode) = (Vec::new(), Vec::new());
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
            prefills.push(p);
            decode.push(t.elapsed().as_secs_f64());
        }
    }
    let (p, d) = (median(prefills), median(decode));
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

    // llama-bench tg128: 128 single-token evaluations from an empty cache.
    let mut tg = Vec::new();
    for run in 0..=runs {
        let t = Instant::now();
        host.copy_from_slice(model.start(&prompt[..1])?);
        for _ in 1..128 {
            let next = argmax(&host);
            host.copy_from_slice(model.step(next)?);
        }
        if run > 0 {
            tg.push(t.elapsed().as_secs_f64() / 128.0);
        }
    }
    let d = median(tg);
    println!(
        "decode tg128 (as llama-bench -p 0 -n 128): {:.3} ms/token = {:.1} tok/s",
        d * 1e3,
        1.0 / d
    );
    Ok(())
}

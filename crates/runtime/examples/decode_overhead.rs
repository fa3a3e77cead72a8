//! What watermarking costs at decode time: end-to-end tokens/s of [`generate`] on a real
//! model with no watermark, KGW LeftHash h=1, KGW SelfHash h=3 (the default key), Gumbel
//! LeftHash h=2 and Gumbel SelfHash h=3 (`keygen --scheme gumbel`), plus the time spent
//! inside [`Embedder::next_token`] measured separately.
//!
//! ```text
//! cargo run --release -p tracemark-runtime --example decode_overhead -- [MODEL.gguf] [THREADS] [ROUNDS] [TOKENS]
//! ```
//! The model defaults to the default model (fetched if needed); threads default to 2,
//! rounds to 5 and tokens to 128. Sampling is the CLI's default (temperature 0.7, top-p
//! 0.95).
//!
//! Every round runs each configuration once, in an order rotated from round to round, so
//! slow drifts of the machine (other load, frequency) spread over all configurations. Each
//! generation is exactly TOKENS tokens long: end-of-generation tokens are not honoured, so
//! every configuration decodes the same number of steps.
//!
//! Two measurements per configuration and round:
//! - end to end: [`generate`] (chat prompt prefill included), tokens / wall time;
//! - split: the same loop written out with a clock around each [`Embedder::next_token`]
//!   call and each model step, so the embedder's share is measured directly instead of
//!   read off the difference of two noisy end-to-end figures.

use std::path::PathBuf;
use std::time::Instant;

use tracemark_core::{Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig};
use tracemark_embed::{Embedder, SamplingParams, generate};
use tracemark_runtime::{LanguageModel, LlamaModel, LoadOptions, Logits, ModelError, RuntimeError};

/// A model whose generations never end early: no token counts as end-of-generation.
struct NoEog<'a>(&'a mut LlamaModel);

impl LanguageModel for NoEog<'_> {
    fn vocab_size(&self) -> usize {
        self.0.vocab_size()
    }
    fn start(&mut self, prompt: &[u32]) -> Result<&[f32], ModelError> {
        self.0.start(prompt)
    }
    fn step(&mut self, token: u32) -> Result<&[f32], ModelError> {
        self.0.step(token)
    }
    fn score_all(&mut self, tokens: &[u32]) -> Result<Logits, ModelError> {
        self.0.score_all(tokens)
    }
    fn eog_tokens(&self) -> &[u32] {
        &[]
    }
    fn context_length(&self) -> Option<usize> {
        self.0.context_length()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Seconds spent in model steps and in the embedder over one generation of `tokens` tokens
/// after `prompt`, mirroring [`generate`] step for step (prefill excluded).
fn split(
    model: &mut LlamaModel,
    embedder: &mut Embedder,
    prompt: &[u32],
    tokens: usize,
) -> Result<(f64, f64), RuntimeError> {
    let mut context = prompt.to_vec();
    let mut logits = model.start(prompt)?.to_vec();
    let (mut in_model, mut in_embedder) = (0.0, 0.0);
    for i in 0..tokens {
        let t = Instant::now();
        let next = embedder.next_token(&context, &mut logits);
        in_embedder += t.elapsed().as_secs_f64();
        context.push(next);
        if i + 1 < tokens {
            let t = Instant::now();
            logits.copy_from_slice(model.step(next)?);
            in_model += t.elapsed().as_secs_f64();
        }
    }
    Ok((in_model, in_embedder))
}

fn kgw(kind: SeedingKind, h: usize) -> WatermarkConfig {
    WatermarkConfig {
        scheme: Scheme::Kgw {
            gamma: Gamma::new(0.25).expect("valid"),
            delta: Delta::new(2.0).expect("valid"),
        },
        seeding: Seeding::new(kind, h).expect("valid"),
    }
}

fn gumbel(kind: SeedingKind, h: usize) -> WatermarkConfig {
    WatermarkConfig {
        scheme: Scheme::Gumbel,
        seeding: Seeding::new(kind, h).expect("valid"),
    }
}

/// Per configuration: end-to-end tok/s, model seconds per step, embedder seconds per step.
#[derive(Default)]
struct Samples {
    e2e: Vec<f64>,
    model: Vec<f64>,
    embed: Vec<f64>,
}

fn main() -> Result<(), RuntimeError> {
    let mut args = std::env::args().skip(1);
    let path = match args.next() {
        Some(p) => PathBuf::from(p),
        None => tracemark_io::default_model_path().expect("the default model (fetched if needed)"),
    };
    let threads: usize = args.next().map_or(2, |t| t.parse().expect("THREADS"));
    let rounds: usize = args.next().map_or(5, |t| t.parse().expect("ROUNDS"));
    let tokens: usize = args.next().map_or(128, |t| t.parse().expect("TOKENS"));

    let opts = LoadOptions {
        n_ctx: 2048,
        n_threads: threads,
        ..LoadOptions::default()
    };
    let mut model = LlamaModel::load(&path, &opts)?;
    let prompt = model.tokenize(
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
         Face<|im_end|>\n<|im_start|>user\nWrite a long story about a cat who learns to \
         cook.<|im_end|>\n<|im_start|>assistant\n",
        true,
    )?;
    println!("model: {}", model.describe());
    println!(
        "threads {threads}; {rounds} rounds × {tokens} tokens per configuration; \
         prompt {} tokens; temperature 0.7, top-p 0.95",
        prompt.len()
    );

    let configs: Vec<(&str, Option<Key>)> = vec![
        ("no watermark", None),
        ("KGW LeftHash h=1", Some(kgw(SeedingKind::LeftHash, 1))),
        (
            "KGW SelfHash h=3 (default)",
            Some(WatermarkConfig::default()),
        ),
        (
            "Gumbel LeftHash h=2",
            Some(gumbel(SeedingKind::LeftHash, 2)),
        ),
        (
            "Gumbel SelfHash h=3",
            Some(gumbel(SeedingKind::SelfHash, 3)),
        ),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, c))| (name, c.map(|c| Key::from_secret([i as u8 + 7; 32], c))))
    .collect();
    let params = |seed| SamplingParams::new(0.7, 0, 0.95, seed).expect("valid sampling");

    // Warm-up: one short generation per configuration.
    for (_, key) in &configs {
        let mut embedder = Embedder::new(key.as_ref(), params(0));
        generate(&mut NoEog(&mut model), &mut embedder, &prompt, 16, |_| {})?;
    }

    let mut samples: Vec<Samples> = configs.iter().map(|_| Samples::default()).collect();
    for round in 0..rounds {
        for k in 0..configs.len() {
            let c = (k + round) % configs.len();
            let key = configs[c].1.as_ref();
            let seed = round as u64;

            let mut embedder = Embedder::new(key, params(seed));
            let t = Instant::now();
            let g = generate(
                &mut NoEog(&mut model),
                &mut embedder,
                &prompt,
                tokens,
                |_| {},
            )?;
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(g.ids.len(), tokens);
            samples[c].e2e.push(tokens as f64 / secs);

            let mut embedder = Embedder::new(key, params(seed));
            let (m, e) = split(&mut model, &mut embedder, &prompt, tokens)?;
            samples[c].model.push(m / (tokens - 1) as f64);
            samples[c].embed.push(e / tokens as f64);
        }
        eprintln!("round {} of {rounds} done", round + 1);
    }

    // The end-to-end overhead pairs each round's rate with the same round's baseline, which
    // cancels slow drifts of the machine's speed.
    let paired = |s: &Samples| {
        let ratios: Vec<f64> = (samples[0].e2e.iter().zip(&s.e2e))
            .map(|(b, r)| b / r - 1.0)
            .collect();
        median(&ratios)
    };
    let base_embed = median(&samples[0].embed);
    let base_step = median(&samples[0].model) + base_embed;
    println!();
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>10} {:>8} {:>10}",
        "configuration", "tok/s", "e2e ovh", "model µs", "embed µs", "share", "embed ovh"
    );
    for ((name, _), s) in configs.iter().zip(&samples) {
        let (e2e, m, e) = (median(&s.e2e), median(&s.model), median(&s.embed));
        println!(
            "{:<28} {:>9.1} {:>8.2}% {:>9.0} {:>10.1} {:>7.2}% {:>9.2}%",
            name,
            e2e,
            100.0 * paired(s),
            m * 1e6,
            e * 1e6,
            100.0 * e / (m + e),
            100.0 * (e - base_embed) / base_step,
        );
    }
    println!();
    println!("tok/s: median end-to-end rate of generate(), prefill included");
    println!("e2e ovh: extra time per token against no watermark in the same round, median");
    println!("model µs / embed µs: median time per step in model.step (logits copy included)");
    println!("  and in Embedder::next_token (sampling included, so not zero without a key)");
    println!("share: embed / (model + embed)");
    println!("embed ovh: (embed − embed without watermark) / step time without watermark");
    Ok(())
}

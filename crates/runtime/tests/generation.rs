//! Generation, teacher forcing and sequence-state behaviour on the real model.

mod common;

use tracemark_runtime::{LanguageModel, LlamaModel, LoadOptions, ModelError, argmax};

/// Greedy generation of up to `n` tokens (stopping early at an end-of-generation token
/// only when `stop_at_eog`).
fn greedy(model: &mut LlamaModel, prompt: &[u32], n: usize, stop_at_eog: bool) -> Vec<u32> {
    model.ensure_fits(prompt.len(), n).unwrap();
    let mut next = argmax(model.start(prompt).unwrap());
    let mut out = Vec::new();
    while out.len() < n && !(stop_at_eog && model.is_eog(next)) {
        out.push(next);
        if out.len() < n {
            next = argmax(model.step(next).unwrap());
        }
    }
    out
}

#[test]
fn greedy_chat_answer_is_readable_and_knows_paris() {
    let mut model = common::load();
    let prompt_text = common::chatml("What is the capital of France?");
    let prompt = model.tokenize(&prompt_text, true).unwrap();
    let out = greedy(&mut model, &prompt, 40, true);
    let text = model.detokenize(&out).unwrap();
    eprintln!("greedy, {} tokens: {text:?}", out.len());
    assert!(!out.is_empty());
    assert!(!text.contains('\u{fffd}'), "invalid UTF-8 in {text:?}");
    assert!(
        text.chars().all(|c| !c.is_control() || c.is_whitespace()),
        "{text:?}"
    );
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    assert!(
        letters * 10 >= text.chars().count() * 6,
        "not prose: {text:?}"
    );
    assert_eq!(
        greedy(&mut model, &prompt, 40, true),
        out,
        "greedy is deterministic"
    );

    // With this system prompt the first greedy token is a near-tie ("L" 24.74 against
    // "The" 24.65 on the default model), so the free answer may not name Paris; once the
    // answer starts "The capital of France is", the next word must be Paris.
    let forced = format!("{prompt_text}The capital of France is");
    let forced = model.tokenize(&forced, true).unwrap();
    let cont = greedy(&mut model, &forced, 5, true);
    let cont = model.detokenize(&cont).unwrap();
    eprintln!("forced continuation: {cont:?}");
    assert!(cont.trim_start().starts_with("Paris"), "{cont:?}");
    eprintln!("describe: {}", model.describe());
}

/// Greedy 100 tokens token by token, then teacher-force prompt + generation. Returns the
/// number of generated positions where `top1_all` agrees with the greedy token and the
/// largest logit difference between `step` and `score_all` rows.
fn teacher_forcing(model: &mut LlamaModel) -> (usize, f32) {
    let prompt = model
        .tokenize(
            &common::chatml("Write a short story about a robot who learns to paint."),
            true,
        )
        .unwrap();
    let mut next = argmax(model.start(&prompt).unwrap());
    let (mut generated, mut step_rows) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        generated.push(next);
        let logits = model.step(next).unwrap();
        next = argmax(logits);
        step_rows.push(logits.to_vec());
    }
    let mut all = prompt.clone();
    all.extend(&generated);
    let top1 = model.top1_all(&all).unwrap();
    assert_eq!(top1.len(), all.len());
    // Row i predicts token i + 1: rows p-1 .. p+98 predict the generated tokens.
    let p = prompt.len();
    let agree = (0..generated.len())
        .filter(|&k| top1[p - 1 + k] == generated[k])
        .count();

    let scores = model.score_all(&all).unwrap();
    assert_eq!(scores.len(), all.len(), "one row per input token");
    assert_eq!(scores.vocab_size(), model.vocab_size());
    let argmaxes: Vec<u32> = scores.rows().map(argmax).collect();
    assert_eq!(
        argmaxes, top1,
        "score_all and top1_all are the same computation"
    );
    assert!(scores.as_flat().iter().all(|x| x.is_finite()));
    let max_diff = (0..99)
        .flat_map(|k| step_rows[k].iter().zip(scores.row(p + k)))
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!("teacher forcing: {agree}/100 agree, max |step - score_all| = {max_diff}");
    (agree, max_diff)
}

#[test]
fn teacher_forcing_agrees_with_greedy() {
    let path = common::model_path();
    // Micro-batches of 512 use llama.cpp's tiled attention kernel: near-ties may differ.
    let opts = LoadOptions {
        n_ctx: 2048,
        n_ubatch: 512,
        n_threads: 2,
        ..LoadOptions::default()
    };
    let mut model = LlamaModel::load(&path, &opts).unwrap();
    let (agree, _) = teacher_forcing(&mut model);
    assert!(agree >= 95, "only {agree}/100 positions agree");
}

/// With the default micro-batch (32), batched scoring reproduces step-by-step decoding
/// bit for bit (measured on CPU; see `LoadOptions::n_ubatch`).
#[cfg(not(feature = "cuda"))]
#[test]
fn default_options_make_teacher_forcing_exact() {
    let mut model = common::load();
    let (agree, max_diff) = teacher_forcing(&mut model);
    assert_eq!(agree, 100);
    assert_eq!(max_diff, 0.0);

    // After score_all the sequence continues: a step equals a fresh start on the longer
    // sequence.
    let tokens = model
        .tokenize("One two three four five six", false)
        .unwrap();
    model.score_all(&tokens).unwrap();
    let after_step = model.step(tokens[0]).unwrap().to_vec();
    let mut longer = tokens.clone();
    longer.push(tokens[0]);
    assert_eq!(model.start(&longer).unwrap(), after_step.as_slice());
}

/// Exact equality is a CPU property (see `LoadOptions::n_ubatch`).
#[cfg(not(feature = "cuda"))]
#[test]
fn score_all_chunks_longer_than_n_batch() {
    let path = common::model_path();
    // n_batch 16 forces several blocks; the result must match one big block.
    let small = LoadOptions {
        n_ctx: 256,
        n_batch: 16,
        n_threads: 2,
        ..LoadOptions::default()
    };
    let mut chunked = LlamaModel::load(&path, &small).unwrap();
    assert_eq!(chunked.n_batch(), 16);
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(6);
    let tokens = chunked.tokenize(&text, false).unwrap();
    assert!(tokens.len() > 40);
    let a = chunked.score_all(&tokens).unwrap();
    let mut whole = common::load();
    let b = whole.score_all(&tokens).unwrap();
    assert_eq!(a.len(), tokens.len());
    // Both use micro-batches under 64 tokens, so the rows are bit-identical.
    assert!(a == b, "chunked and unchunked scoring differ");
    // start() must chunk too, and give the last score_all row.
    assert_eq!(chunked.start(&tokens).unwrap(), a.row(a.len() - 1));
}

#[test]
fn sequence_errors_are_clear() {
    let path = common::model_path();
    let opts = LoadOptions {
        n_ctx: 256,
        n_threads: 2,
        ..LoadOptions::default()
    };
    let mut model = LlamaModel::load(&path, &opts).unwrap();
    let n_ctx = model.context_length().unwrap();
    assert!(n_ctx >= 256);

    assert!(matches!(model.step(5), Err(ModelError::NotStarted)));
    assert!(matches!(model.start(&[]), Err(ModelError::EmptyInput)));
    let vocab = model.vocab_size() as u32;
    let err = model.start(&[1, vocab]).unwrap_err();
    assert!(matches!(err, ModelError::TokenOutOfRange { .. }), "{err}");
    assert!(model.detokenize(&[vocab + 7]).is_err());

    let err = model.start(&vec![42; n_ctx + 1]).unwrap_err();
    assert!(matches!(err, ModelError::ContextFull { .. }), "{err}");
    let err = model.ensure_fits(n_ctx - 10, 11).unwrap_err().to_string();
    assert!(err.contains("context window"), "{err}");

    // Fill the context exactly, then one more step must fail cleanly.
    model.start(&vec![42; n_ctx - 1]).unwrap();
    model.step(42).unwrap();
    let err = model.step(42).unwrap_err();
    assert!(matches!(err, ModelError::ContextFull { needed, .. } if needed == n_ctx + 1));

    // The model is still usable afterwards.
    let logits = model.start(&[1, 2, 3]).unwrap();
    assert_eq!(logits.len(), model.vocab_size());
    assert_eq!(model.bos_token(), None, "SmolLM2 does not add a BOS token");
}

/// The logits `generate_observed` shows are the model's own, before the watermark: they
/// match teacher forcing of the finished sequence, position by position.
#[test]
fn observed_logits_are_the_unwatermarked_models() {
    use tracemark_core::{Key, WatermarkConfig};
    use tracemark_embed::{Embedder, SamplingParams};
    let mut model = common::load();
    let prompt = model
        .tokenize(&common::chatml("Name three rivers."), true)
        .unwrap();
    let key = Key::from_secret([3; 32], WatermarkConfig::default());
    let mut embedder = Embedder::new(Some(&key), SamplingParams::new(0.7, 0, 0.95, 5).unwrap());
    let mut seen: Vec<(Vec<f32>, u32)> = Vec::new();
    let mut observe = |raw: &[f32], t: u32| seen.push((raw.to_vec(), t));
    let g = tracemark_embed::generate_observed(
        &mut model,
        &mut embedder,
        &prompt,
        16,
        |_| {},
        Some(&mut observe),
    )
    .unwrap();
    assert_eq!(seen.len(), g.ids.len());
    assert!(seen.iter().map(|s| s.1).eq(g.ids.iter().copied()));
    let mut all = prompt.clone();
    all.extend(&g.ids);
    let forced = model.score_all(&all).unwrap();
    for (j, (raw, _)) in seen.iter().enumerate() {
        let row = forced.row(prompt.len() + j - 1);
        let diff = raw
            .iter()
            .zip(row)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-3, "position {j}: logits differ by {diff}");
    }
}

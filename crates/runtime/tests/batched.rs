//! Several sequences in one llama.cpp context: each slot's logits are bit-for-bit those of the
//! same sequence evaluated alone, whichever other slots are stepped with it.

mod common;

use tracemark_runtime::{BatchedModel, LanguageModel, LlamaModel, LoadOptions, argmax};

const STEPS: usize = 24;

fn load(sequences: u32) -> LlamaModel {
    let opts = LoadOptions {
        n_ctx: 1024,
        n_threads: 2,
        sequences,
        ..LoadOptions::default()
    };
    LlamaModel::load(&common::model_path(), &opts).expect("loading the test model")
}

/// Greedy `STEPS` tokens after `prompt`, alone: every step's logits.
fn alone(model: &mut LlamaModel, prompt: &[u32]) -> Vec<Vec<f32>> {
    let mut rows = vec![model.start(prompt).unwrap().to_vec()];
    while rows.len() < STEPS {
        let next = argmax(rows.last().unwrap());
        rows.push(model.step(next).unwrap().to_vec());
    }
    rows
}

#[test]
fn batched_slots_match_sequences_decoded_alone() {
    let questions = [
        "What is the capital of France?",
        "Write a haiku about rain.",
        "Explain photosynthesis in one sentence.",
        "List three prime numbers.",
    ];
    let mut single = load(1);
    let prompts: Vec<Vec<u32>> = questions
        .iter()
        .map(|q| single.tokenize(&common::chatml(q), true).unwrap())
        .collect();
    let expected: Vec<_> = prompts.iter().map(|p| alone(&mut single, p)).collect();

    let mut batched = load(4);
    assert_eq!(batched.slots(), 4);
    assert_eq!(batched.context_length(), Some(1024));
    // Slot s starts at round 3·s, so prompts are evaluated while other slots are mid-answer,
    // and batches hold 1 to 4 sequences.
    let mut rows: Vec<Vec<Vec<f32>>> = vec![Vec::new(); 4];
    let mut round = 0;
    while rows.iter().any(|r| r.len() < STEPS) {
        for (s, prompt) in prompts.iter().enumerate() {
            if round == 3 * s {
                let mut logits = Vec::new();
                batched.start_slot(s, prompt, &mut logits).unwrap();
                rows[s].push(logits);
            }
        }
        let steps: Vec<(usize, u32)> = (0..4)
            .filter(|&s| !rows[s].is_empty() && rows[s].len() < STEPS && round > 3 * s)
            .map(|s| (s, argmax(rows[s].last().unwrap())))
            .collect();
        if !steps.is_empty() {
            let mut out = vec![Vec::new(); steps.len()];
            batched.step_slots(&steps, &mut out).unwrap();
            for (&(s, _), logits) in steps.iter().zip(out) {
                rows[s].push(logits);
            }
        }
        round += 1;
    }
    for s in 0..4 {
        for (i, (got, want)) in rows[s].iter().zip(&expected[s]).enumerate() {
            assert!(
                got == want,
                "slot {s}, step {i}: logits differ from the sequence decoded alone"
            );
        }
    }

    // A released slot starts afresh: the same prompt gives the same first logits.
    batched.release_slot(1);
    let mut again = Vec::new();
    batched.start_slot(1, &prompts[1], &mut again).unwrap();
    assert!(again == expected[1][0]);
    // Stepping a slot twice in one batch, or one out of range, is an error, not a crash.
    let mut out = vec![Vec::new(); 2];
    assert!(batched.step_slots(&[(1, 5), (1, 6)], &mut out).is_err());
    assert!(batched.step_slots(&[(9, 5)], &mut out).is_err());
}

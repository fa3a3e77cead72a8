//! Radioactivity on real data: the default model itself, unwatermarked, is a clean suspect.
//!
//! For each of 20 keys, SmolLM2 writes a watermarked text; the same model, without any
//! watermark, is then asked to repeat that text. Its answers copy watermarked windows from
//! the question, so:
//! - with the prompt-window exclusion the clean suspect is never found radioactive;
//! - without it, it comes out falsely radioactive for most keys.
//!
//! The clean model also reads the watermarked texts (open test, reading mode) and is never
//! found radioactive, although the text it reads carries the watermark.

mod common;

use tracemark_core::{Key, WatermarkConfig};
use tracemark_detect::WindowSet;
use tracemark_embed::{Embedder, SamplingParams};
use tracemark_radioactivity::{
    ControlOptions, Mode, TestSettings, TupleSet, Verdict, investigate, read_with_model,
};

const KEYS: usize = 20;

const TOPICS: [&str; 5] = [
    "the history of the bicycle",
    "how bees make honey",
    "why the sky is blue",
    "a day at a fishing harbour",
    "how to bake bread at home",
];

fn settings(mode: Mode, prompt_exclusion: bool) -> TestSettings {
    TestSettings {
        suspect: "SmolLM2-135M-Instruct (clean)".into(),
        mode,
        supervised: None,
        prompt_exclusion,
        alpha: 1e-3,
        controls: ControlOptions { keys: 100, seed: 0 },
    }
}

#[test]
fn the_clean_default_model_is_not_radioactive_and_prompt_exclusion_matters() {
    let mut chat = common::chat();
    let config = WatermarkConfig::default();
    let h = config.seeding.lookback();
    let params = SamplingParams::new(0.7, 0, 0.95, 0).unwrap();
    let (mut with, mut without, mut reading) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..KEYS {
        let mut secret = [0u8; 32];
        secret[..8].copy_from_slice(&(k as u64 + 1000).to_le_bytes());
        let key = Key::from_secret(secret, config);
        let topic = TOPICS[k % TOPICS.len()];
        let mut marker = Embedder::new(Some(&key), params.with_seed(k as u64));
        let marked = chat
            .answer(
                &mut marker,
                &format!("Write a short paragraph about {topic}."),
                70,
                |_| {},
            )
            .unwrap();
        let question = format!("Repeat the following text exactly:\n\n{}", marked.text);
        let mut clean = Embedder::new(None, params.with_seed(100 + k as u64));
        let answer = chat.answer(&mut clean, &question, 90, |_| {}).unwrap();

        let mut windows = WindowSet::new(h);
        windows.extend_from(&chat.tokenizer().encode_ids(&question).unwrap());
        let (mut on, mut off) = (TupleSet::new(h), TupleSet::new(h));
        on.add_answer(&answer.generation.ids, Some(&windows), None);
        off.add_answer(&answer.generation.ids, None, None);
        let mut read = TupleSet::new(h);
        read_with_model(chat.model(), &marked.generation.ids, &mut read, None).unwrap();

        let run = |tuples: &TupleSet, mode, exclusion| {
            investigate(&key, tuples, &settings(mode, exclusion), &|| {})
        };
        let (a, b, c) = (
            run(&on, Mode::Closed, true),
            run(&off, Mode::Closed, false),
            run(&read, Mode::Open, false),
        );
        eprintln!(
            "key {k:2}: exclusion on log10 p {:6.2} ({} tuples) {}; off {:6.2} ({} tuples) {}; \
             reading {:6.2} ({} tuples) {}",
            a.test.log10_p,
            a.test.scored,
            a.finding.verdict.label(),
            b.test.log10_p,
            b.test.scored,
            b.finding.verdict.label(),
            c.test.log10_p,
            c.test.scored,
            c.finding.verdict.label()
        );
        with.push(a.finding.verdict);
        without.push(b.finding.verdict);
        reading.push(c.finding.verdict);
    }
    let count = |v: &[Verdict]| v.iter().filter(|&&x| x == Verdict::Radioactive).count();
    assert_eq!(
        count(&with),
        0,
        "clean model flagged with prompt exclusion on"
    );
    assert_eq!(count(&reading), 0, "clean model flagged in reading mode");
    let falsely = count(&without);
    eprintln!("without prompt exclusion: {falsely}/{KEYS} falsely radioactive");
    assert!(
        falsely * 2 >= KEYS,
        "expected most keys to be falsely flagged without the exclusion, got {falsely}/{KEYS}"
    );
}

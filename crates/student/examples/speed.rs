//! Training and decoding speed of a Kneser-Ney student on a synthetic corpus with the
//! default model's vocabulary size: `cargo run --release -p tracemark-student --example speed [TOKENS]`.

use std::time::Instant;

use tracemark_student::{KneserNey, LanguageModel, SpecialTokens, StudentConfig, Trainer};

const VOCAB: usize = 49_152;

fn main() {
    let tokens: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // A Markov chain with skewed successors, cut into answers of 50 to 250 tokens.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut corpus = Vec::new();
    let mut prev = 100u64;
    let mut total = 0;
    while total < tokens {
        let len = 50 + (rand() % 200) as usize;
        let seq: Vec<u32> = (0..len)
            .map(|_| {
                let jump = (rand() % 64).min(rand() % 64).min(rand() % 64);
                prev = (prev * 31 + jump * 997 + 7) % (VOCAB as u64 - 16) + 16;
                prev as u32
            })
            .collect();
        total += len + 2;
        corpus.push(seq);
    }
    let specials = SpecialTokens {
        separator: 1,
        end_of_answer: 2,
    };
    let started = Instant::now();
    let mut trainer = Trainer::new(StudentConfig::new(VOCAB, 4, specials).unwrap());
    for seq in &corpus {
        trainer.add_exchange(&seq[..10], &seq[10..]).unwrap();
    }
    let mut student = trainer.finish().unwrap();
    let train = started.elapsed().as_secs_f64();
    println!(
        "train   {} tokens in {train:.2} s ({:.2} M tokens/s); n-grams per order {:?}",
        student.training_tokens(),
        student.training_tokens() as f64 / train / 1e6,
        student.ngram_counts()
    );

    let started = Instant::now();
    let bytes = student.to_bytes();
    let save = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let back = KneserNey::from_bytes(&bytes).unwrap();
    let load = started.elapsed().as_secs_f64();
    println!(
        "file    {} bytes; to_bytes {:.3} s, from_bytes {:.3} s",
        bytes.len(),
        save,
        load
    );
    drop(back);

    let text = &corpus[corpus.len() / 2];
    let steps = 1000;
    let started = Instant::now();
    student.start(&text[..5]).unwrap();
    for i in 0..steps {
        student.step(text[5 + i % (text.len() - 5)]).unwrap();
    }
    let step = started.elapsed().as_secs_f64() / steps as f64;
    println!(
        "step    {:.3} ms per token (full-vocabulary logits)",
        step * 1e3
    );

    let read: Vec<u32> = corpus[10..20].concat();
    let started = Instant::now();
    let top = student.top1_all(&read).unwrap();
    let t1 = started.elapsed().as_secs_f64() / read.len() as f64;
    println!(
        "top1    {:.1} µs per token (top1_all, {} tokens)",
        t1 * 1e6,
        top.len()
    );
    let started = Instant::now();
    let rows = student.score_all(&read[..500]).unwrap();
    let sa = started.elapsed().as_secs_f64() / rows.len() as f64;
    println!("score   {:.3} ms per token (score_all)", sa * 1e3);
    let dense: Vec<u32> = rows.rows().map(tracemark_model::argmax).collect();
    assert_eq!(dense, top[..500], "top1_all disagrees with score_all");
}

//! Closed-model radioactivity from text on one core: suspect answers streamed from JSONL,
//! tokenized, prompt windows excluded, globally deduplicated and scored under the key.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tracemark_core::{Key, Watermark, WatermarkConfig};
use tracemark_io::{Source, TextTokenizer};
use tracemark_radioactivity::collect::{ClosedOptions, collect_answers};
use tracemark_radioactivity::score_tuples;

fn bench(c: &mut Criterion) {
    // About 1 MB of answers: paragraphs of the licenses Debian ships, one JSONL record each,
    // each with the previous paragraph as its prompt.
    let mut paragraphs = Vec::new();
    for name in [
        "GPL-3",
        "Apache-2.0",
        "LGPL-3",
        "MPL-2.0",
        "GFDL-1.3",
        "Artistic",
    ] {
        if let Ok(t) = std::fs::read_to_string(format!("/usr/share/common-licenses/{name}")) {
            paragraphs.extend(t.split("\n\n").map(str::to_string).filter(|p| p.len() > 80));
        }
    }
    let mut jsonl = String::new();
    let mut i = 0;
    while jsonl.len() < 1_000_000 {
        let (prompt, text) = (
            &paragraphs[i % paragraphs.len()],
            &paragraphs[(i + 1) % paragraphs.len()],
        );
        jsonl.push_str(&serde_json::json!({ "prompt": prompt, "response": text }).to_string());
        jsonl.push('\n');
        i += 1;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.jsonl");
    std::fs::write(&path, &jsonl).unwrap();
    let source = Source::File(path);
    let tokenizer = TextTokenizer::default_model().unwrap();
    let key = Key::from_secret([5; 32], WatermarkConfig::default());
    let h = key.config().seeding.lookback();
    let options = ClosedOptions {
        h,
        prompts: None,
        exclude_prompts: true,
        filter: None,
        samples: 0,
    };
    let collected = collect_answers(&tokenizer, &source, &options, &mut |_| {}).unwrap();
    let tokens = collected.tuples.counts().tokens;

    let mut group = c.benchmark_group("radioactivity_closed_text");
    group.throughput(Throughput::Elements(tokens));
    group.bench_function("stream_tokenize_collect", |b| {
        b.iter(|| collect_answers(&tokenizer, &source, &options, &mut |_| {}).unwrap())
    });
    let wm = Watermark::new(&key);
    group.bench_function("stream_tokenize_collect_score", |b| {
        b.iter(|| {
            let c = collect_answers(&tokenizer, &source, &options, &mut |_| {}).unwrap();
            score_tuples(&wm, &c.tuples, 0).test.p_value
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);

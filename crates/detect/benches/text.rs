//! Detection from text, tokenization included: tokens per second on one core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tracemark_core::{Key, Watermark, WatermarkConfig};
use tracemark_detect::{DetectOptions, TextDetector};
use tracemark_io::{Document, TextTokenizer};

fn bench(c: &mut Criterion) {
    // Real prose: the GPL as Debian ships it, repeated to about 1 MB.
    let gpl = std::fs::read_to_string("/usr/share/common-licenses/GPL-3").expect("base-files");
    let text = gpl.repeat(1_000_000 / gpl.len() + 1);
    let tokenizer = TextTokenizer::default_model().unwrap();
    let tokens = tokenizer.encode(&text).unwrap().ids.len() as u64;
    let wm = Watermark::new(&Key::from_secret([5; 32], WatermarkConfig::default()));
    let doc = Document {
        source: "bench".into(),
        line: None,
        id: None,
        text,
        prompt: None,
        account: None,
    };
    let mut group = c.benchmark_group("detect_text");
    group.throughput(Throughput::Elements(tokens));
    assert!(tokenizer.is_fast());
    // The Hugging Face pipeline (the path before the fast one), then the fast path.
    group.bench_function("tokenize_hf", |b| {
        b.iter(|| tokenizer.encode_hf(&doc.text).unwrap())
    });
    group.bench_function("tokenize", |b| {
        b.iter(|| tokenizer.encode(&doc.text).unwrap())
    });
    group.bench_function("tokenize_ids_hf", |b| {
        b.iter(|| tokenizer.encode_ids_hf(&doc.text).unwrap())
    });
    group.bench_function("tokenize_ids", |b| {
        b.iter(|| tokenizer.encode_ids(&doc.text).unwrap())
    });
    // Chunked: 64 KiB chunks cut at safe split points, ids only.
    group.bench_function("tokenize_chunked_ids", |b| {
        b.iter(|| {
            let mut ids = Vec::new();
            for chunk in tokenizer.chunks(doc.text.as_bytes(), 1 << 16) {
                ids.extend(tokenizer.encode_ids(&chunk.unwrap()).unwrap());
            }
            ids
        })
    });
    group.bench_function("tokenize_and_detect", |b| {
        b.iter(|| {
            let mut d = TextDetector::new(&wm, &tokenizer, DetectOptions::default(), None).unwrap();
            d.detect(&doc).unwrap().detection.test.p_value
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

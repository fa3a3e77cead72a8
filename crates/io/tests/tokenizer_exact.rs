//! Differential tests: the fast tokenization path against the Hugging Face pipeline, on
//! every tokenizer configuration the fast path accepts.

mod common;

use common::*;
use tracemark_io::TextTokenizer;

/// Asserts fast ids and spans equal HF's for `text`; returns the token count.
fn check(tok: &TextTokenizer, text: &str) -> usize {
    let hf = tok.encode_hf(text).unwrap();
    let fast = tok.encode(text).unwrap();
    if fast != hf {
        let at = fast
            .ids
            .iter()
            .zip(&fast.spans)
            .zip(hf.ids.iter().zip(&hf.spans))
            .position(|(a, b)| a != b)
            .unwrap_or(fast.ids.len().min(hf.ids.len()));
        let lo = at.saturating_sub(3);
        let (a, b) = (hf.spans[lo].0, hf.spans[(at + 3).min(hf.spans.len() - 1)].1);
        let context = &text[a..b];
        panic!(
            "{}: encode differs at token {at} (text {} bytes) around {context:?}\nfast {:?} {:?}\nhf   {:?} {:?}",
            tok.name(),
            text.len(),
            &fast.ids[lo..(at + 3).min(fast.ids.len())],
            &fast.spans[lo..(at + 3).min(fast.spans.len())],
            &hf.ids[lo..(at + 3).min(hf.ids.len())],
            &hf.spans[lo..(at + 3).min(hf.spans.len())],
        );
    }
    let ids = tok.encode_ids(text).unwrap();
    assert_eq!(
        ids,
        tok.encode_ids_hf(text).unwrap(),
        "{}: {text:?}",
        tok.name()
    );
    assert_eq!(
        ids,
        hf.ids,
        "{}: encode_ids vs encode on {text:?}",
        tok.name()
    );
    hf.ids.len()
}

#[test]
fn fast_path_is_taken_where_expected() {
    for (tok, chunkable) in fast_tokenizers() {
        assert!(tok.is_fast(), "{} should be fast", tok.name());
        assert_eq!(tok.is_chunkable(), chunkable, "{}", tok.name());
    }
    for tok in fallback_tokenizers() {
        assert!(!tok.is_fast(), "{} should fall back", tok.name());
        assert!(!tok.is_chunkable(), "{}", tok.name());
    }
    assert!(trimming_tokenizer().is_fast());
    assert!(!trimming_tokenizer().is_chunkable());
}

#[test]
fn licences_whole_and_in_pieces() {
    let texts = licences();
    assert!(texts.len() >= 2, "GPL-3 and Apache-2.0 from base-files");
    let mut rng = Rng(1);
    for (tok, _) in fast_tokenizers() {
        let (mut cases, mut tokens) = (0, 0);
        for text in &texts {
            tokens += check(&tok, text);
            // Paragraphs, lines and random windows.
            for piece in text.split("\n\n").chain(text.lines()) {
                tokens += check(&tok, piece);
                cases += 1;
            }
            for w in windows(text, &mut rng, 300, 400) {
                tokens += check(&tok, &w);
                cases += 1;
            }
        }
        assert!(
            cases > 3000 && tokens > 100_000,
            "{}: {cases} {tokens}",
            tok.name()
        );
    }
}

#[test]
fn random_unicode() {
    let mut rng = Rng(2);
    for (tok, _) in fast_tokenizers() {
        for _ in 0..3000 {
            check(&tok, &random_text(&mut rng, 40));
        }
        // Longer texts exercise the word cache across many words.
        for _ in 0..100 {
            check(&tok, &random_text(&mut rng, 2000));
        }
    }
}

#[test]
fn edge_cases() {
    let long = |s: &str, n: usize| s.repeat(n);
    let cases = [
        String::new(),
        " ".into(),
        "\n".into(),
        "<|im_start|>".into(),
        "<|im_start|><|im_end|>".into(),
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n".into(),
        long(" ", 100_000) + "a",
        long("\n", 50_000) + &long(" ", 50_000),
        long(" \n", 30_000) + "x",
        long("a", 100_000),
        long("ab1 ", 20_000),
        long("!", 10_000) + "\n\n",
        long("\u{3000}", 5000) + "日本",
        long("👩🏽‍💻", 2000),
        long("9", 10_000),
        // Bytes missing from the vocabulary are dropped and HF's offsets drift.
        "_\u{16}'ve \u{16}\u{16}ab\u{1}\u{2}\u{3}日\u{16}本".into(),
        long("\u{16}a\u{1}", 100),
    ];
    for (tok, _) in fast_tokenizers() {
        for text in &cases {
            check(&tok, text);
        }
    }
}

#[test]
fn fallbacks_and_trimmed_offsets_agree_with_hf() {
    let mut rng = Rng(3);
    let texts: Vec<String> = (0..300).map(|_| random_text(&mut rng, 40)).collect();
    let gpl = &licences()[0];
    for tok in fallback_tokenizers() {
        for t in texts.iter().chain([gpl]) {
            check(&tok, t);
        }
    }
    // Offsets trimmed by the post-processor: `encode` takes HF's spans, ids stay fast.
    let tok = trimming_tokenizer();
    for t in texts.iter().chain([gpl]) {
        check(&tok, t);
    }
}

#[test]
fn concurrent_callers_share_the_caches() {
    let tok = TextTokenizer::default_model().unwrap();
    let gpl = &licences()[0];
    let want = tok.encode_hf(gpl).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..3 {
                    assert_eq!(tok.encode(gpl).unwrap(), want);
                }
            });
        }
    });
}

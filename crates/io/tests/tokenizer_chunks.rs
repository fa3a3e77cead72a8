//! Exact chunking: texts cut at safe split points tokenize exactly like the whole.

mod common;

use std::io::Read;

use common::*;
use tracemark_io::{Encoded, TextTokenizer};

/// Tokens of `parts` tokenized one by one, spans shifted to the concatenated text.
fn concat(tok: &TextTokenizer, parts: &[&str]) -> Encoded {
    let mut out = Encoded::default();
    let mut offset = 0;
    for part in parts {
        let e = tok.encode(part).unwrap();
        out.ids.extend(e.ids);
        out.spans
            .extend(e.spans.iter().map(|&(a, b)| (a + offset, b + offset)));
        offset += part.len();
    }
    out
}

fn chunkable() -> Vec<TextTokenizer> {
    fast_tokenizers()
        .into_iter()
        .filter_map(|(tok, chunkable)| chunkable.then_some(tok))
        .collect()
}

#[test]
fn every_split_point_of_random_texts_is_exact() {
    let mut rng = Rng(10);
    for tok in chunkable() {
        let mut points = 0;
        for _ in 0..400 {
            let text = random_text(&mut rng, 30);
            let whole = tok.encode_hf(&text).unwrap();
            for i in 0..=text.len() {
                if tok.is_split_point(&text, i) {
                    let parts = [&text[..i], &text[i..]];
                    assert_eq!(concat(&tok, &parts), whole, "{}: {parts:?}", tok.name());
                    points += 1;
                }
            }
        }
        assert!(points > 1000, "{}: only {points} split points", tok.name());
    }
}

#[test]
fn licences_cut_at_many_points_match_hf_whole() {
    let mut rng = Rng(11);
    for tok in chunkable() {
        for text in licences() {
            let want = tok.encode_hf(&text).unwrap();
            // Cut repeatedly near random offsets.
            let mut parts = Vec::new();
            let mut from = 0;
            while let Some(i) = tok.split_point(&text[from..], 1 + rng.below(300)) {
                parts.push(&text[from..from + i]);
                from += i;
            }
            parts.push(&text[from..]);
            assert!(
                parts.len() > text.len() / 300,
                "{}: {} parts",
                tok.name(),
                parts.len()
            );
            assert_eq!(concat(&tok, &parts), want, "{}", tok.name());
        }
    }
}

#[test]
fn split_point_prefers_the_last_point_before_near() {
    let tok = TextTokenizer::default_model().unwrap();
    let text = "Hello world, this is\ntext";
    assert_eq!(tok.split_point(text, 8), Some(5));
    assert_eq!(tok.split_point(text, 5), Some(5));
    assert_eq!(tok.split_point(text, 2), Some(5));
    assert_eq!(tok.split_point(text, 100), Some(20));
    assert_eq!(tok.split_point("word", 2), None);
    assert_eq!(tok.split_point("", 0), None);
    // Never inside an added token containing whitespace.
    let spaced = fast_tokenizers()
        .into_iter()
        .find(|(t, _)| t.name() == "spaced-specials")
        .unwrap()
        .0;
    let text = "a<|x y|>b";
    assert!(tok.is_split_point(text, 4));
    assert!(!spaced.is_split_point(text, 4));
    assert_eq!(spaced.split_point(text, 4), None);
}

#[test]
fn unsafe_points_do_change_tokens() {
    // The rules are not needlessly strict: cutting where they forbid breaks some texts.
    let mut rng = Rng(12);
    let texts: Vec<String> = (0..400).map(|_| random_text(&mut rng, 30)).collect();
    for (pre, why) in [
        ("gpt2", "inside a whitespace run"),
        ("llama3", "before a line break after punctuation"),
    ] {
        let tok = gguf_tokenizer(pre);
        let mut broken = 0;
        for text in &texts {
            let whole = tok.encode(text).unwrap();
            let chars: Vec<(usize, char)> = text.char_indices().collect();
            for w in chars.windows(2) {
                let ((_, prev), (i, next)) = (w[0], w[1]);
                let tempting = match pre {
                    "gpt2" => prev.is_whitespace() && next.is_whitespace(),
                    _ => !prev.is_whitespace() && (next == '\n' || next == '\r'),
                };
                if tempting && !tok.is_split_point(text, i) {
                    let parts = [&text[..i], &text[i..]];
                    broken += usize::from(concat(&tok, &parts) != whole);
                }
            }
        }
        assert!(broken > 0, "{pre}: cutting {why} broke no text");
    }
}

#[test]
fn tokenizers_without_known_split_points() {
    let (o200k, _) = fast_tokenizers()
        .into_iter()
        .find(|(t, _)| t.name() == "hf-o200k")
        .unwrap();
    let gpl = &licences()[0];
    for tok in fallback_tokenizers().into_iter().chain([o200k]) {
        assert_eq!(tok.split_point(gpl, 1000), None, "{}", tok.name());
        let chunks: Vec<String> = tok
            .chunks(gpl.as_bytes(), 1000)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            chunks,
            std::slice::from_ref(gpl),
            "{}: one chunk",
            tok.name()
        );
    }
}

/// A reader returning a few bytes at a time, splitting characters across reads.
struct Trickle<'a> {
    data: &'a [u8],
    rng: Rng,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (1 + self.rng.below(13)).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn streamed_chunks_tokenize_like_the_whole() {
    let mut rng = Rng(13);
    let mut text = licences()[1].clone();
    for _ in 0..200 {
        text.push_str(&random_text(&mut rng, 30));
    }
    text.push_str(&licences()[0]);
    for tok in chunkable() {
        let want = tok.encode(&text).unwrap();
        for size in [1, 10, 100, 4096] {
            let reader = Trickle {
                data: text.as_bytes(),
                rng: Rng(size as u64),
            };
            let chunks: Vec<String> = tok.chunks(reader, size).collect::<Result<_, _>>().unwrap();
            assert_eq!(chunks.concat(), text, "{} size {size}", tok.name());
            assert!(chunks.len() > text.len() / (size + 2000), "{}", tok.name());
            let parts: Vec<&str> = chunks.iter().map(String::as_str).collect();
            assert_eq!(concat(&tok, &parts), want, "{} size {size}", tok.name());
        }
    }
}

#[test]
fn chunks_stay_within_the_size_on_prose() {
    let tok = TextTokenizer::default_model().unwrap();
    let gpl = licences()[0].repeat(3);
    let chunks: Vec<String> = tok
        .chunks(gpl.as_bytes(), 1000)
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(chunks.len() >= gpl.len() / 1000);
    assert!(chunks.iter().all(|c| c.len() <= 1000 && !c.is_empty()));
    assert_eq!(chunks.concat(), gpl);
}

#[test]
fn invalid_utf8_is_an_error() {
    let tok = TextTokenizer::default_model().unwrap();
    for bad in [&b"ok then \xff more"[..], b"cut \xe6\x97"] {
        let results: Vec<_> = tok.chunks(bad, 4).collect();
        let err = results.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }
    assert_eq!(tok.chunks(&b""[..], 4).count(), 0);
}

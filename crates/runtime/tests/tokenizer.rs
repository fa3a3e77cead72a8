//! The pure-Rust tokenizer (`tracemark-gguf`) must give exactly llama.cpp's ids.

mod common;

use tracemark_gguf::{GgufMetadata, tokenizer_from_gguf};
use tracemark_runtime::LlamaModel;

const RUST_SAMPLE: &str = r#"use std::collections::HashMap;

/// Counts words, case-insensitively.
pub fn word_counts(text: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Point3 { x: f64, y: f64, z: f64 }

impl std::ops::Add for Point3 {
    type Output = Self;
    fn add(self, o: Self) -> Self { Point3 { x: self.x + o.x, y: self.y + o.y, z: self.z + o.z } }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let v: Vec<u64> = (0..=100).filter(|n| n % 7 == 0).map(|n| n * n).collect();
    println!("{v:?} {:>8.3} {:#x} {:08b}", 3.14159_f64, 255u8, 5u8);
    let s = r"raw\string\n"; let _t = b'\x7f'; let _u = '\u{1F600}';
    if v.len() >= 3 && !v.is_empty() || v[0] != 0 { return Err("bad".into()); }
    Ok(())
}
"#;

const PYTHON_SAMPLE: &str = r#"#!/usr/bin/env python3
"""Tiny statistics helpers."""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Running:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    history: list[float] = field(default_factory=list)

    def push(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)
        self.history.append(x)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else float("nan")


if __name__ == "__main__":
    r = Running()
    for v in [1, 2.5, -3e-4, 1_000_000, 0x1F, 0o17, 0b1011]:
        r.push(float(v))
    print(f"{r.n=} {r.mean:.6f} ± {r.std:.3e}", end="\r\n")
    d = {'a': [1, 2, {'b': None}], "c": (True, False)}
    lambda_ = lambda *a, **kw: (a, kw)  # noqa: E731
"#;

const MULTILINGUAL: &str = "\
Français : L'été dernier, nous sommes allés à la plage ; c'était très agréable, n'est-ce pas ? « Oui ! »
Deutsch: Die Straßenbahn fährt über die Brücke. Größere Häuser kosten mehr – Übermäßig viel!
Español: ¿Dónde está la biblioteca? ¡Qué día tan bonito! El niño comió piña y jalapeños.
Русский: Съешь же ещё этих мягких французских булок, да выпей чаю. Ёжик в тумане.
中文：我们今天去公园散步，天气非常好。人工智能正在改变世界。数字１２３和汉字混排。
日本語：今日はとても良い天気ですね。カタカナとひらがな、そして漢字を混ぜて書きます。ｶﾀｶﾅ半角も。
العربية: مرحبا بالعالم، كيف حالك اليوم؟ أحب القراءة والكتابة باللغة العربية.
हिन्दी: मैं आज बाज़ार जा रहा हूँ। क्या आप मेरे साथ चलेंगे? भारत एक विशाल देश है।
Português: Ação, coração e pão são palavras com til. Ελληνικά: Καλημέρα κόσμε! 한국어: 안녕하세요 세계.
Polski: Zażółć gęślą jaźń. Čeština: Příliš žluťoučký kůň úpěl ďábelské ódy. Türkçe: Şişli'de ığdır.
";

const EMOJI: &str = "\
Emoji: 😀 😂 🥲 🤖 🎨 🖌️ ❤️ ✨ 🚀 🇫🇷 🇯🇵 🏳️‍🌈 🏴‍☠️
ZWJ families: 👨‍👩‍👧‍👦 👩‍❤️‍💋‍👨 👨‍💻 👩🏽‍🔬 🧑🏿‍🚀
Skin tones: 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿 👋🏿 🤝🏽
Keycaps and variation selectors: 1️⃣ #️⃣ ©️ ®️ ™️ ☺︎ ☺️ ‼️
Mixed: I ❤️ Rust🦀 and Python🐍!! (✿◠‿◠) ¯\\_(ツ)_/¯ → ⇒ ∀x∈ℝ: x² ≥ 0 ≠ ∞ … “quotes” ‘single’
";

fn numbers_and_dates() -> String {
    let mut s = String::new();
    for i in 0..120u64 {
        let x = i * 7919 % 100_003;
        s.push_str(&format!(
            "{i}. {x} {:.3} -{x}e-{} 0x{x:X} {}/{}/20{:02} {:02}:{:02}:{:02} +33 6 {:02} {:02} {:02} $1,{x:03}.99 {}%\n",
            x as f64 / 97.0,
            i % 9,
            1 + i % 12,
            1 + i % 28,
            i % 100,
            i % 24,
            i % 60,
            (i * 7) % 60,
            i % 100,
            (i * 3) % 100,
            (i * 11) % 100,
            i % 101,
        ));
    }
    s.push_str("2024-02-29T23:59:59.999Z 1970-01-01 12,345,678.90 1.000.000,50 ½ ¾ ⅞ 10⁻³ 3×10⁸\n");
    s
}

fn whitespace_runs() -> String {
    let mut s = String::new();
    s.push_str("tabs:\t\tone\t two \t\tthree\n\tindented\n\t\t\tdeeper\t\n");
    s.push_str("spaces:  two   three    four     five      six       seven\n");
    s.push_str("        eight leading spaces\n   \n\n\n\nafter blank lines\n");
    s.push_str("CRLF line one\r\nCRLF line two\r\n\r\n\r\nafter CRLF blanks\r\n");
    s.push_str("trailing spaces   \nmixed \t \t mix\n\u{a0}nbsp\u{a0}\u{a0}and\u{2003}em space\n");
    s.push_str(" leading single space\n\n \n  \n\t\n");
    s
}

/// Source files of this crate, with special-token text (`<|...|>`) defused.
fn own_sources() -> String {
    [
        include_str!("../src/llama.rs"),
        include_str!("../../io/src/models.rs"),
        include_str!("../../model/src/lib.rs"),
    ]
    .concat()
    .replace("<|", "< |")
}

fn corpus() -> String {
    let mut c = String::new();
    for name in ["GPL-3", "Apache-2.0"] {
        match std::fs::read_to_string(format!("/usr/share/common-licenses/{name}")) {
            Ok(text) => c.push_str(&text),
            Err(e) => eprintln!("note: /usr/share/common-licenses/{name} unavailable ({e})"),
        }
    }
    c.push_str(RUST_SAMPLE);
    c.push_str(PYTHON_SAMPLE);
    c.push_str(&numbers_and_dates());
    c.push_str(&whitespace_runs());
    c.push_str(MULTILINGUAL);
    c.push_str(EMOJI);
    c.push_str(&own_sources());
    // Guarantee the size even where the license texts are missing.
    while c.len() < 50_000 {
        c.push_str(MULTILINGUAL);
        c.push_str(EMOJI);
        c.push_str(RUST_SAMPLE);
    }
    c
}

/// Panic with the first mismatch, showing the tokens around it.
fn assert_same(what: &str, llama: &LlamaModel, expected: &[u32], got: &[u32]) {
    if expected == got {
        return;
    }
    let i = expected.iter().zip(got).take_while(|(a, b)| a == b).count();
    let lo = i.saturating_sub(5);
    let show = |ids: &[u32]| {
        let hi = (i + 6).min(ids.len());
        let pieces: Vec<String> = ids[lo..hi]
            .iter()
            .map(|&t| format!("{t}:{:?}", llama.detokenize(&[t]).unwrap()))
            .collect();
        pieces.join(" ")
    };
    panic!(
        "{what}: ids differ at index {i} (llama.cpp {} ids, pure Rust {} ids)\n  llama.cpp: {}\n  pure Rust: {}",
        expected.len(),
        got.len(),
        show(expected),
        show(got)
    );
}

#[test]
fn pure_rust_tokenizer_matches_llama_cpp() {
    let path = common::model_path();
    let llama = common::load();
    let meta = GgufMetadata::read(&path).unwrap();
    let tok = tokenizer_from_gguf(&meta).unwrap();
    let encode = |s: &str| tok.encode(s, false).unwrap().get_ids().to_vec();

    let corpus = corpus();
    assert!(
        corpus.len() >= 50_000,
        "corpus is only {} bytes",
        corpus.len()
    );
    assert!(
        !corpus.contains("<|"),
        "corpus must not hold special-token text"
    );

    // Whole corpus. Without special-token text, parse_special does not matter.
    let expected = llama.tokenize(&corpus, false).unwrap();
    assert_eq!(expected, llama.tokenize(&corpus, true).unwrap());
    let got = encode(&corpus);
    assert_same("whole corpus", &llama, &expected, &got);
    eprintln!(
        "corpus: {} bytes, {} tokens, identical",
        corpus.len(),
        got.len()
    );

    // Round trips, in both engines.
    assert_eq!(
        tok.decode(&got, false).unwrap(),
        corpus,
        "pure-Rust decode(encode(s)) != s"
    );
    assert_eq!(
        llama.detokenize(&expected).unwrap(),
        corpus,
        "llama.cpp round trip"
    );

    // Line by line (newlines kept, so CRLF and blank lines are covered).
    let mut lines = 0;
    for (n, line) in corpus.split_inclusive('\n').enumerate() {
        let expected = llama.tokenize(line, false).unwrap();
        let got = encode(line);
        assert_same(&format!("line {} {line:?}", n + 1), &llama, &expected, &got);
        assert_eq!(
            tok.decode(&got, false).unwrap(),
            line,
            "round trip of line {}",
            n + 1
        );
        lines += 1;
    }
    eprintln!("{lines} lines identical");
}

#[test]
fn special_tokens_match_with_parse_special() {
    let path = common::model_path();
    let llama = common::load();
    let meta = GgufMetadata::read(&path).unwrap();
    let tok = tokenizer_from_gguf(&meta).unwrap();

    let prompt = common::chatml("What is the capital of France? Répondez en 1 mot 🇫🇷");
    let expected = llama.tokenize(&prompt, true).unwrap();
    let got = tok
        .encode(prompt.as_str(), false)
        .unwrap()
        .get_ids()
        .to_vec();
    assert_same("ChatML prompt", &llama, &expected, &got);
    assert_eq!(expected[0], 1, "<|im_start|> is one special id");
    // Without parse_special llama.cpp spells the markers out as plain text.
    let plain = llama.tokenize(&prompt, false).unwrap();
    assert!(plain.len() > expected.len() && !plain.contains(&1));
    // Control tokens are rendered as their text.
    assert_eq!(llama.detokenize(&expected).unwrap(), prompt);

    // End-of-generation tokens: the pure-Rust side lists exactly llama.cpp's set, the FIM
    // repository token `<reponame>` (id 4) included.
    use tracemark_runtime::LanguageModel;
    let pure = tracemark_gguf::eog_token_ids(&meta);
    let mut from_llama = llama.eog_tokens().to_vec();
    from_llama.sort_unstable();
    assert_eq!(pure, from_llama, "eog ids: tracemark-gguf vs llama.cpp");
    assert_eq!(pure, vec![0, 2, 4]);
    assert_eq!(llama.vocab_size(), meta.summary().vocab_size);
}

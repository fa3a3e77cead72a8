//! Shared by the tokenizer tests: the tokenizers under test and the texts they are fed.
#![allow(dead_code)]

use tokenizers::{AddedToken, Tokenizer};
use tracemark_gguf::{GgufMetadata, Value, ValueType, tokenizer_from_gguf};
use tracemark_io::TextTokenizer;

const BUNDLED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/smollm2-135m-instruct.tokenizer.json"
);

/// The `tokenizer.ggml.pre` values of every pre-tokenizer kind `tracemark-gguf` supports.
pub const GGUF_PRES: &[&str] = &["smollm", "gpt2", "llama3", "qwen2", "falcon", "default"];

/// HF's Llama 3 `tokenizer.json` split regex.
pub const HF_LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// GPT-4o's (o200k) split regex: fast path, no known split points.
pub const O200K: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Added tokens containing whitespace, to test splitting and cutting around them.
pub const SPACED_SPECIALS: &[&str] = &["<|x y|>", "    ", "\n\n", " <|pad|>"];

fn bundled_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(BUNDLED).unwrap()).unwrap()
}

fn from_json(json: &serde_json::Value, name: &str) -> TextTokenizer {
    let tok = Tokenizer::from_bytes(serde_json::to_vec(json).unwrap()).unwrap();
    TextTokenizer::from_tokenizer(tok, name)
}

/// The bundled tokenizer with another pre-tokenizer and post-processor.
fn bundled_with(pre: serde_json::Value, post: serde_json::Value, name: &str) -> TextTokenizer {
    let mut json = bundled_json();
    json["pre_tokenizer"] = pre;
    json["post_processor"] = post;
    from_json(&json, name)
}

fn split_then_byte_level(regex: &str) -> serde_json::Value {
    serde_json::json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
    ]})
}

/// A GGUF buffer with the bundled vocabulary and merges and the given pre-type, parsed and
/// turned into a tokenizer by `tracemark_gguf::tokenizer_from_gguf`.
pub fn gguf_tokenizer(pre: &str) -> TextTokenizer {
    let json = bundled_json();
    let vocab = json["model"]["vocab"].as_object().unwrap();
    let mut tokens = vec![String::new(); vocab.len()];
    for (t, id) in vocab {
        tokens[id.as_u64().unwrap() as usize] = t.clone();
    }
    let special: Vec<u64> = json["added_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    let types = (0..tokens.len() as u64)
        .map(|i| Value::I32(if special.contains(&i) { 3 } else { 1 }))
        .collect();
    let merges = json["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            Value::String(format!(
                "{} {}",
                m[0].as_str().unwrap(),
                m[1].as_str().unwrap()
            ))
        })
        .collect();
    let strings = |v: Vec<String>| {
        Value::Array(
            ValueType::String,
            v.into_iter().map(Value::String).collect(),
        )
    };
    let kvs = [
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String(pre.into())),
        ("tokenizer.ggml.tokens", strings(tokens)),
        (
            "tokenizer.ggml.token_type",
            Value::Array(ValueType::I32, types),
        ),
        (
            "tokenizer.ggml.merges",
            Value::Array(ValueType::String, merges),
        ),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
    ];
    let meta = GgufMetadata::from_reader(&gguf_bytes(&kvs)[..]).unwrap();
    let tok = tokenizer_from_gguf(&meta).unwrap();
    TextTokenizer::from_tokenizer(tok, &format!("gguf:{pre}"))
}

/// Every tokenizer expected on the fast path, with whether it is expected chunkable.
pub fn fast_tokenizers() -> Vec<(TextTokenizer, bool)> {
    let mut out = vec![(TextTokenizer::default_model().unwrap(), true)];
    out.extend(GGUF_PRES.iter().map(|pre| (gguf_tokenizer(pre), true)));
    let byte_level_post = serde_json::json!(
        {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}
    );
    out.push((
        bundled_with(
            split_then_byte_level(HF_LLAMA3),
            byte_level_post.clone(),
            "hf-llama3",
        ),
        true,
    ));
    out.push((
        bundled_with(split_then_byte_level(O200K), byte_level_post, "hf-o200k"),
        false,
    ));
    let mut runs = bundled_json();
    runs["pre_tokenizer"]["pretokenizers"][0]["individual_digits"] = false.into();
    out.push((from_json(&runs, "digit-runs"), true));
    let mut spaced = TextTokenizer::default_model().unwrap().inner().clone();
    let added: Vec<AddedToken> = SPACED_SPECIALS
        .iter()
        .map(|t| AddedToken::from(*t, true))
        .collect();
    spaced.add_special_tokens(added).unwrap();
    out.push((
        TextTokenizer::from_tokenizer(spaced, "spaced-specials"),
        true,
    ));
    out
}

/// Tokenizers that must fall back to the HF pipeline (or, for ids, may stay fast).
pub fn fallback_tokenizers() -> Vec<TextTokenizer> {
    let mut lower = bundled_json();
    lower["normalizer"] = serde_json::json!({"type": "Lowercase"});
    let mut prefix = bundled_json();
    prefix["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true.into();
    let mut lstrip = bundled_json();
    lstrip["added_tokens"][1]["lstrip"] = true.into();
    vec![
        from_json(&lower, "lowercase"),
        from_json(&prefix, "prefix-space"),
        from_json(&lstrip, "lstrip-special"),
    ]
}

/// The bundled tokenizer with a `ByteLevel` post-processor that trims offsets: fast ids,
/// HF spans.
pub fn trimming_tokenizer() -> TextTokenizer {
    let post = serde_json::json!(
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
    );
    bundled_with(
        bundled_json()["pre_tokenizer"].clone(),
        post,
        "trim-offsets",
    )
}

/// The licence texts Debian ships.
pub fn licences() -> Vec<String> {
    ["GPL-3", "Apache-2.0", "LGPL-2.1", "Artistic", "MPL-2.0"]
        .iter()
        .filter_map(|n| std::fs::read_to_string(format!("/usr/share/common-licenses/{n}")).ok())
        .collect()
}

/// SplitMix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces random texts are made of.
const ATOMS: &[&str] = &[
    // Words of many scripts, with and without a leading space.
    "the",
    " the",
    "The",
    " Hello",
    "world",
    "naïve",
    " café",
    "Straße",
    "ĳssel",
    "ǅemal",
    "λόγος",
    " Ελλάδα",
    "привет",
    " Москва",
    "שָׁלוֹם",
    " مرحبا",
    "नमस्ते",
    " हिन्दी",
    "日本語",
    " 東京",
    "中文字符",
    "한국어",
    " 안녕",
    "ภาษาไทย",
    "ქართული",
    "Հայերեն",
    "ᏣᎳᎩ",
    // Digits: ASCII, Arabic-Indic, Devanagari, fullwidth, superscript, Roman (Nl), fractions.
    "0",
    "7",
    "42",
    "2024",
    " 123456",
    "٣٤٥",
    "०१२",
    "１２３",
    "²³",
    "Ⅻ",
    "½",
    "3.14",
    "1,000",
    "x86_64",
    // Emoji: ZWJ sequences, skin tones, flags, keycaps, variation selectors.
    "👍",
    "👍🏽",
    "👩🏽‍💻",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "🇫🇷",
    "🇯🇵",
    "1️⃣",
    "❤️",
    " 🚀",
    "🤷🏻‍♀️",
    // Combining marks and other oddities.
    "e\u{301}",
    "a\u{308}\u{304}",
    "\u{301}",
    "ﬁ",
    "\u{200b}",
    "\u{200d}",
    "\u{feff}",
    "\u{0}",
    "\u{7f}",
    "\u{10ffff}",
    "\u{e000}",
    "\u{180e}",
    "\u{fffd}",
    "\u{1}",
    "\u{16}",
    "_\u{16}'",
    "\u{1b}[0m",
    // Whitespace: runs, tabs, line breaks of every kind, Unicode spaces.
    " ",
    "  ",
    "   ",
    "        ",
    "\t",
    "\t\t",
    " \t",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "\r\r\n",
    " \n",
    "\n ",
    "  \n  ",
    "\u{a0}",
    "\u{3000}",
    "\u{2028}",
    "\u{2029}",
    "\u{85}",
    "\u{b}",
    "\u{c}",
    "\u{2009}",
    " \u{a0} ",
    // Apostrophes and contractions, both cases and the typographic one.
    "'s",
    "'S",
    "'t",
    "'T",
    "'re",
    "'RE",
    "'ve",
    "'Ve",
    "'m",
    "'M",
    "'ll",
    "'LL",
    "'d",
    "'D",
    "’s",
    "'",
    "''",
    " '",
    "don't",
    "I'M",
    "'ſ",
    "'K",
    // Punctuation and code.
    ".",
    ",",
    "!",
    "?!",
    "...",
    ";",
    ":",
    "-",
    "--",
    "—",
    "(",
    ")",
    "[]",
    "{",
    "}",
    "<",
    ">",
    "\"",
    "«",
    "»",
    "/",
    "\\",
    "#",
    "$",
    "%",
    "&&",
    "||",
    "=>",
    "::",
    "`",
    "~",
    "^",
    "@",
    "_",
    "!\n",
    ".\r\n",
    "?\n\n",
    ")\n",
    " {\n",
    // Special-token texts, whole and broken, next to spaces.
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    " <|im_start|>",
    "<|im_start|> ",
    "<|im_start|>user\n",
    "<|im_",
    "<|",
    "|>",
    "<reponame>",
    "<<|im_end|>>",
    "<|x y|>",
    "<|x",
    " <|pad|>",
    "<|pad|>",
];

/// A random text of up to `max_atoms` atoms.
pub fn random_text(rng: &mut Rng, max_atoms: usize) -> String {
    let n = rng.below(max_atoms + 1);
    let mut s = String::new();
    for _ in 0..n {
        match rng.below(20) {
            // A random code point now and then.
            0 => s.extend(char::from_u32(rng.below(0x3_0000) as u32)),
            1 => s.push(' '),
            _ => s.push_str(rng.pick::<&str>(ATOMS)),
        }
    }
    s
}

/// Random windows of `text`, cut on char boundaries.
pub fn windows(text: &str, rng: &mut Rng, count: usize, max_len: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            let mut a = rng.below(text.len());
            let mut b = (a + 1 + rng.below(max_len)).min(text.len());
            while !text.is_char_boundary(a) {
                a -= 1;
            }
            while !text.is_char_boundary(b) {
                b += 1;
            }
            text[a..b].to_string()
        })
        .collect()
}

/// A GGUF v3 file with these metadata keys and no tensors.
fn gguf_bytes(kvs: &[(&str, Value)]) -> Vec<u8> {
    fn string(buf: &mut Vec<u8>, s: &str) {
        buf.extend((s.len() as u64).to_le_bytes());
        buf.extend(s.as_bytes());
    }
    fn payload(buf: &mut Vec<u8>, v: &Value) {
        match v {
            Value::I32(x) => buf.extend(x.to_le_bytes()),
            Value::U32(x) => buf.extend(x.to_le_bytes()),
            Value::Bool(x) => buf.push(u8::from(*x)),
            Value::String(s) => string(buf, s),
            Value::Array(elem, values) => {
                buf.extend((*elem as u32).to_le_bytes());
                buf.extend((values.len() as u64).to_le_bytes());
                values.iter().for_each(|v| payload(buf, v));
            }
            other => panic!("not needed here: {other:?}"),
        }
    }
    let mut buf = b"GGUF".to_vec();
    buf.extend(3u32.to_le_bytes());
    buf.extend(0u64.to_le_bytes());
    buf.extend((kvs.len() as u64).to_le_bytes());
    for (k, v) in kvs {
        string(&mut buf, k);
        buf.extend((v.value_type() as u32).to_le_bytes());
        payload(&mut buf, v);
    }
    buf
}

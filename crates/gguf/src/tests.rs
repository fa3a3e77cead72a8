//! Unit tests on synthetic GGUF buffers.

use crate::*;

/// Minimal GGUF writer: header plus metadata, no tensor infos.
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn new(version: u32, tensor_count: u64, kv_count: u64) -> Self {
        let mut w = Self {
            buf: b"GGUF".to_vec(),
        };
        w.u32(version);
        w.u64(tensor_count);
        w.u64(kv_count);
        w
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn string(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }
    fn payload(&mut self, v: &Value) {
        match v {
            Value::U8(x) => self.buf.extend(x.to_le_bytes()),
            Value::I8(x) => self.buf.extend(x.to_le_bytes()),
            Value::U16(x) => self.buf.extend(x.to_le_bytes()),
            Value::I16(x) => self.buf.extend(x.to_le_bytes()),
            Value::U32(x) => self.buf.extend(x.to_le_bytes()),
            Value::I32(x) => self.buf.extend(x.to_le_bytes()),
            Value::F32(x) => self.buf.extend(x.to_le_bytes()),
            Value::Bool(x) => self.buf.push(u8::from(*x)),
            Value::String(s) => self.string(s),
            Value::Array(elem, values) => {
                self.u32(*elem as u32);
                self.u64(values.len() as u64);
                for v in values {
                    self.payload(v);
                }
            }
            Value::U64(x) => self.buf.extend(x.to_le_bytes()),
            Value::I64(x) => self.buf.extend(x.to_le_bytes()),
            Value::F64(x) => self.buf.extend(x.to_le_bytes()),
        }
    }
    fn kv(&mut self, key: &str, v: &Value) -> &mut Self {
        self.string(key);
        self.u32(v.value_type() as u32);
        self.payload(v);
        self
    }
}

fn file(version: u32, kvs: &[(&str, Value)]) -> Vec<u8> {
    let mut w = Writer::new(version, 7, kvs.len() as u64);
    for (k, v) in kvs {
        w.kv(k, v);
    }
    w.buf
}

fn parse(bytes: &[u8]) -> Result<GgufMetadata, GgufError> {
    GgufMetadata::from_reader(bytes)
}

fn strings(items: &[&str]) -> Value {
    Value::Array(
        ValueType::String,
        items.iter().map(|s| Value::String((*s).into())).collect(),
    )
}

fn every_type() -> Vec<(&'static str, Value)> {
    vec![
        ("u8", Value::U8(200)),
        ("i8", Value::I8(-100)),
        ("u16", Value::U16(60000)),
        ("i16", Value::I16(-30000)),
        ("u32", Value::U32(4_000_000_000)),
        ("i32", Value::I32(-2_000_000_000)),
        ("f32", Value::F32(1.5)),
        ("bool.t", Value::Bool(true)),
        ("bool.f", Value::Bool(false)),
        ("string", Value::String("héllo 日本".into())),
        ("empty", Value::String(String::new())),
        ("u64", Value::U64(u64::MAX)),
        ("i64", Value::I64(i64::MIN)),
        ("f64", Value::F64(-2.25e300)),
        ("arr.str", strings(&["a", "", "ĠB"])),
        (
            "arr.i32",
            Value::Array(ValueType::I32, vec![Value::I32(-1), Value::I32(3)]),
        ),
        ("arr.empty", Value::Array(ValueType::F64, vec![])),
        (
            "arr.nested",
            Value::Array(
                ValueType::Array,
                vec![
                    Value::Array(ValueType::U8, vec![Value::U8(1), Value::U8(2)]),
                    Value::Array(ValueType::Bool, vec![Value::Bool(true)]),
                ],
            ),
        ),
    ]
}

#[test]
fn round_trip_every_type_v2_and_v3() {
    for version in [2, 3] {
        let kvs = every_type();
        let meta = parse(&file(version, &kvs)).unwrap();
        assert_eq!(meta.version(), version);
        assert_eq!(meta.tensor_count(), 7);
        assert_eq!(meta.len(), kvs.len());
        let keys: Vec<&str> = meta.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, kvs.iter().map(|(k, _)| *k).collect::<Vec<_>>());
        for (k, v) in &kvs {
            assert_eq!(meta.get(k), Some(v), "key {k}");
        }
    }
}

#[test]
fn typed_accessors() {
    let meta = parse(&file(3, &every_type())).unwrap();
    assert_eq!(meta.get_u64("u8"), Some(200));
    assert_eq!(meta.get_u64("u32"), Some(4_000_000_000));
    assert_eq!(meta.get_u64("u64"), Some(u64::MAX));
    assert_eq!(meta.get_u64("i8"), None, "negative is not a u64");
    assert_eq!(meta.get_i64("i16"), Some(-30000));
    assert_eq!(meta.get_i64("u64"), None, "does not fit i64");
    assert_eq!(meta.get_f64("f32"), Some(1.5));
    assert_eq!(meta.get_f64("u16"), Some(60000.0));
    assert_eq!(meta.get_bool("bool.t"), Some(true));
    assert_eq!(meta.get_str("string"), Some("héllo 日本"));
    assert_eq!(meta.get_str("u8"), None);
    assert_eq!(meta.get_str_array("arr.str"), Some(vec!["a", "", "ĠB"]));
    assert_eq!(meta.get_str_array("arr.i32"), None);
    assert_eq!(meta.get_i64_array("arr.i32"), Some(vec![-1, 3]));
    assert_eq!(meta.get_array("arr.empty").map(<[_]>::len), Some(0));
    assert_eq!(meta.get("missing"), None);
}

#[test]
fn summary_reads_well_known_keys() {
    let meta = parse(&file(
        3,
        &[
            ("general.architecture", Value::String("llama".into())),
            ("general.name", Value::String("Tiny".into())),
            ("llama.context_length", Value::U32(8192)),
            ("tokenizer.ggml.model", Value::String("gpt2".into())),
            ("tokenizer.ggml.tokens", strings(&["a", "b", "c"])),
            ("tokenizer.ggml.bos_token_id", Value::U32(1)),
            ("tokenizer.ggml.eos_token_id", Value::I32(2)),
        ],
    ))
    .unwrap();
    let s = meta.summary();
    assert_eq!(s.architecture.as_deref(), Some("llama"));
    assert_eq!(s.name.as_deref(), Some("Tiny"));
    assert_eq!(s.context_length, Some(8192));
    assert_eq!(s.vocab_size, 3);
    assert_eq!((s.bos_token_id, s.eos_token_id), (Some(1), Some(2)));
    assert_eq!(s.tokenizer_pre, None);
    assert_eq!(s.chat_template, None);
}

#[test]
fn bad_magic_and_versions() {
    let mut bytes = file(3, &every_type());
    bytes[0] = b'X';
    let err = parse(&bytes).unwrap_err();
    assert!(matches!(err, GgufError::BadMagic { .. }));
    assert_eq!(err.to_string(), "<reader>: not a GGUF file (bad magic)");

    for version in [1, 4, 3u32.swap_bytes()] {
        let err = parse(&file(version, &[])).unwrap_err();
        assert!(
            matches!(err, GgufError::UnsupportedVersion { version: v, .. } if v == version),
            "{err}"
        );
    }
    let big_endian = parse(&file(3u32.swap_bytes(), &[])).unwrap_err();
    assert!(
        big_endian.to_string().contains("big-endian"),
        "{big_endian}"
    );
}

#[test]
fn every_truncation_errors() {
    let bytes = file(3, &every_type());
    assert!(parse(&bytes).is_ok());
    for len in 0..bytes.len() {
        match parse(&bytes[..len]) {
            Err(GgufError::Truncated { .. }) => {}
            Err(GgufError::BadMagic { .. }) if len < 4 => {}
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let bytes = file(3, &every_type());
    for i in 0..bytes.len() {
        for value in [0x00, 0x7F, 0xFF] {
            let mut corrupt = bytes.clone();
            corrupt[i] = value;
            let _ = parse(&corrupt);
        }
    }
}

#[test]
fn truncation_message_names_key() {
    let bytes = file(3, &[("general.name", Value::String("abcdef".into()))]);
    let err = parse(&bytes[..bytes.len() - 2]).unwrap_err().to_string();
    assert!(
        err.contains("truncated") && err.contains("general.name"),
        "{err}"
    );
}

#[test]
fn absurd_lengths_error_without_allocating() {
    // KV count over the limit.
    let err = parse(&Writer::new(3, 0, MAX_KV_COUNT + 1).buf).unwrap_err();
    assert!(matches!(err, GgufError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("key/value count"), "{err}");

    // Key length over the limit, and u64::MAX.
    for len in [MAX_STRING_LEN + 1, u64::MAX] {
        let mut w = Writer::new(3, 0, 1);
        w.u64(len);
        let err = parse(&w.buf).unwrap_err();
        assert!(matches!(err, GgufError::TooLarge { .. }), "{err}");
    }

    // String value length over the limit.
    let mut w = Writer::new(3, 0, 1);
    w.string("k");
    w.u32(ValueType::String as u32);
    w.u64(u64::MAX);
    assert!(matches!(parse(&w.buf), Err(GgufError::TooLarge { .. })));

    // Array length over the limit.
    let mut w = Writer::new(3, 0, 1);
    w.string("k");
    w.u32(ValueType::Array as u32);
    w.u32(ValueType::U8 as u32);
    w.u64(MAX_ARRAY_LEN + 1);
    assert!(matches!(parse(&w.buf), Err(GgufError::TooLarge { .. })));

    // Lengths under the limits but beyond the data: truncated, not a big allocation.
    let mut w = Writer::new(3, 0, 1);
    w.string("k");
    w.u32(ValueType::Array as u32);
    w.u32(ValueType::U64 as u32);
    w.u64(MAX_ARRAY_LEN);
    assert!(matches!(parse(&w.buf), Err(GgufError::Truncated { .. })));
    let mut w = Writer::new(3, 0, MAX_KV_COUNT);
    w.u64(MAX_STRING_LEN);
    w.buf.extend_from_slice(b"short key");
    let err = parse(&w.buf).unwrap_err();
    assert!(matches!(err, GgufError::Truncated { .. }), "{err}");
}

#[test]
fn invalid_fields() {
    let with_tail = |tail: &[u8]| {
        let mut w = Writer::new(3, 0, 1);
        w.string("key");
        w.buf.extend_from_slice(tail);
        parse(&w.buf).unwrap_err()
    };
    // Unknown value type, unknown array element type, bad bool.
    let err = with_tail(&13u32.to_le_bytes());
    assert!(err.to_string().contains("unknown value type 13"), "{err}");
    let mut tail = 9u32.to_le_bytes().to_vec();
    tail.extend(99u32.to_le_bytes());
    assert!(matches!(with_tail(&tail), GgufError::Invalid { .. }));
    let mut tail = 7u32.to_le_bytes().to_vec();
    tail.push(2);
    assert!(with_tail(&tail).to_string().contains("not 0 or 1"));

    // Invalid UTF-8 in a string value.
    let mut tail = 8u32.to_le_bytes().to_vec();
    tail.extend(2u64.to_le_bytes());
    tail.extend([0xC3, 0x28]);
    assert!(with_tail(&tail).to_string().contains("UTF-8"));

    // Duplicate key.
    let mut w = Writer::new(3, 0, 2);
    w.kv("a", &Value::U8(1)).kv("a", &Value::U8(2));
    assert!(
        parse(&w.buf)
            .unwrap_err()
            .to_string()
            .contains("duplicate key")
    );

    // Arrays nested too deep.
    let mut v = Value::Array(ValueType::U8, vec![]);
    for _ in 0..MAX_ARRAY_DEPTH {
        v = Value::Array(ValueType::Array, vec![v]);
    }
    let err = parse(&file(3, &[("deep", v)])).unwrap_err();
    assert!(err.to_string().contains("nested"), "{err}");
}

#[test]
fn read_names_the_path() {
    let missing = std::path::Path::new("/nonexistent/dir/model.gguf");
    let err = GgufMetadata::read(missing).unwrap_err();
    assert!(matches!(err, GgufError::Io { .. }));
    assert!(
        err.to_string().starts_with("/nonexistent/dir/model.gguf: "),
        "{err}"
    );
}

/// A tiny byte-level BPE vocabulary: bytes "a", "b", "Ġ", "1", "2", merges "a b", "Ġ ab".
fn tiny_tokenizer_file(pre: Option<&str>, model: &str, extra: &[(&str, Value)]) -> Vec<u8> {
    let tokens = [
        "<|endoftext|>",
        "<|im_start|>",
        "a",
        "b",
        "Ġ",
        "1",
        "2",
        "ab",
        "Ġab",
        "<x>",
    ];
    let types = [3, 3, 1, 1, 1, 1, 1, 1, 1, 4];
    let mut kvs = vec![
        ("tokenizer.ggml.model", Value::String(model.into())),
        ("tokenizer.ggml.tokens", strings(&tokens)),
        (
            "tokenizer.ggml.token_type",
            Value::Array(
                ValueType::I32,
                types.iter().map(|&t| Value::I32(t)).collect(),
            ),
        ),
        ("tokenizer.ggml.merges", strings(&["a b", "Ġ ab"])),
        ("tokenizer.ggml.eos_token_id", Value::U32(0)),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
    ];
    if let Some(pre) = pre {
        kvs.push(("tokenizer.ggml.pre", Value::String(pre.into())));
    }
    kvs.extend(extra.iter().cloned());
    file(3, &kvs)
}

fn ids(tok: &tokenizers::Tokenizer, text: &str, special: bool) -> Vec<u32> {
    tok.encode(text, special).unwrap().get_ids().to_vec()
}

#[test]
fn tiny_tokenizer_builds_and_round_trips() {
    let meta = parse(&tiny_tokenizer_file(Some("smollm"), "gpt2", &[])).unwrap();
    let tok = tokenizer_from_gguf(&meta).unwrap();
    assert_eq!(ids(&tok, "ab ab", false), vec![7, 8]);
    assert_eq!(ids(&tok, "<|im_start|>ab<x>", false), vec![1, 7, 9]);
    assert_eq!(ids(&tok, "12", false), vec![5, 6]);
    assert_eq!(tok.decode(&[1, 7, 8], false).unwrap(), "<|im_start|>ab ab");
    assert_eq!(tok.decode(&[1, 7, 9], true).unwrap(), "ab<x>");
    assert_eq!(eog_token_ids(&meta), vec![0]);
}

#[test]
fn eog_ids_follow_llama_cpp() {
    let meta = |tokens: &[&str], extra: &[(&str, Value)]| {
        let mut kvs = vec![("tokenizer.ggml.tokens", strings(tokens))];
        kvs.extend(extra.iter().cloned());
        parse(&file(3, &kvs)).unwrap()
    };
    let tokens = [
        "<s>",
        "<reponame>",
        "<|fim_repo|>",
        "<|end|>",
        "<|return|>",
        "<|call|>",
        "x",
        "</s>",
        "<|file_sep|>",
    ];
    let extra = [
        ("tokenizer.ggml.eos_token_id", Value::U32(7)),
        ("tokenizer.ggml.fim_pad_token_id", Value::U32(6)),
        ("tokenizer.ggml.eot_token_id", Value::U32(99)),
    ];
    // FIM pad by key (6), FIM repo by text (the lowest of 1 and 2), FIM separator by text
    // (8), `</s>` by text and as EOS (7), an out-of-range EOT ignored, and `<|end|>` dropped
    // because `<|return|>` and `<|call|>` end generations.
    assert_eq!(
        eog_token_ids(&meta(&tokens, &extra)),
        vec![1, 4, 5, 6, 7, 8]
    );
    // Without `<|call|>`, `<|end|>` stays.
    let no_call = ["<|end|>", "<|return|>", "x"];
    assert_eq!(eog_token_ids(&meta(&no_call, &[])), vec![0, 1]);
    // With `<|tool_response>`, `</s>` is an ordinary token.
    let gemma = ["</s>", "<|tool_response>", "<eos>"];
    assert_eq!(eog_token_ids(&meta(&gemma, &[])), vec![1, 2]);
    // No vocabulary, no ids.
    assert!(eog_token_ids(&meta(&[], &extra)).is_empty());
}

#[test]
fn add_bos_token_adds_bos_with_special_tokens() {
    let extra = [("tokenizer.ggml.add_bos_token", Value::Bool(true))];
    let meta = parse(&tiny_tokenizer_file(Some("gpt-2"), "gpt2", &extra)).unwrap();
    let tok = tokenizer_from_gguf(&meta).unwrap();
    assert_eq!(ids(&tok, "ab", true), vec![1, 7]);
    assert_eq!(ids(&tok, "ab", false), vec![7]);
}

#[test]
fn every_supported_pre_builds() {
    for pre in [
        "smollm",
        "starcoder",
        "refact",
        "codeshell",
        "gpt-2",
        "gpt2",
        "default",
        "llama-bpe",
        "qwen2",
        "falcon",
    ] {
        let meta = parse(&tiny_tokenizer_file(Some(pre), "gpt2", &[])).unwrap();
        let tok = tokenizer_from_gguf(&meta).unwrap_or_else(|e| panic!("{pre}: {e}"));
        assert_eq!(ids(&tok, "ab ab", false), vec![7, 8], "{pre}");
    }
    // Absent `tokenizer.ggml.pre` is llama.cpp's "default".
    let meta = parse(&tiny_tokenizer_file(None, "gpt2", &[])).unwrap();
    assert!(tokenizer_from_gguf(&meta).is_ok());
}

#[test]
fn unsupported_tokenizers_are_named() {
    let meta = parse(&tiny_tokenizer_file(Some("klingon-bpe"), "gpt2", &[])).unwrap();
    let err = tokenizer_from_gguf(&meta).unwrap_err();
    assert!(matches!(err, GgufError::UnsupportedPreTokenizer { .. }));
    assert!(
        err.to_string().contains("\"klingon-bpe\" is not supported"),
        "{err}"
    );

    let meta = parse(&tiny_tokenizer_file(Some("default"), "llama", &[])).unwrap();
    let err = tokenizer_from_gguf(&meta).unwrap_err().to_string();
    assert!(
        err.contains("\"llama\" (SentencePiece) is not supported yet"),
        "{err}"
    );

    let meta = parse(&file(3, &[])).unwrap();
    let err = tokenizer_from_gguf(&meta).unwrap_err();
    assert!(matches!(err, GgufError::MissingKey { ref key, .. } if key == "tokenizer.ggml.model"));
}

#[test]
fn inconsistent_vocabularies_error() {
    let cases = [
        (strings(&["a z"]), "invalid BPE"),
        (strings(&["ab"]), "no separating space"),
    ];
    for (merges, needle) in cases {
        let bytes = file(
            3,
            &[
                ("tokenizer.ggml.model", Value::String("gpt2".into())),
                ("tokenizer.ggml.tokens", strings(&["a", "b", "ab"])),
                ("tokenizer.ggml.merges", merges),
            ],
        );
        let err = tokenizer_from_gguf(&parse(&bytes).unwrap()).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
    // token_type length must match the tokens.
    let bytes = file(
        3,
        &[
            ("tokenizer.ggml.model", Value::String("gpt2".into())),
            ("tokenizer.ggml.tokens", strings(&["a"])),
            ("tokenizer.ggml.merges", strings(&[])),
            (
                "tokenizer.ggml.token_type",
                Value::Array(ValueType::I32, vec![]),
            ),
        ],
    );
    let err = tokenizer_from_gguf(&parse(&bytes).unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("0 entries but there are 1 tokens"),
        "{err}"
    );
}

#[test]
fn pre_tokenizer_splits_match_llama_cpp_regexes() {
    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};
    let split = |kind: PreTokenizerKind, text: &str| -> Vec<String> {
        let mut pretok = PreTokenizedString::from(text);
        kind.pre_tokenizer()
            .unwrap()
            .pre_tokenize(&mut pretok)
            .unwrap();
        pretok
            .get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(s, _, _)| s.to_owned())
            .collect()
    };
    let text = "Hello, world 12345\t\tok";
    let cases = [
        (
            PreTokenizerKind::DigitsGpt2,
            "Hello , Ġworld Ġ 1 2 3 4 5 ĉ ĉ ok",
        ),
        (PreTokenizerKind::Gpt2, "Hello , Ġworld Ġ12345 ĉ ĉ ok"),
        (PreTokenizerKind::Llama3, "Hello , Ġworld Ġ 123 45 ĉ ĉok"),
        (PreTokenizerKind::Qwen2, "Hello , Ġworld Ġ 1 2 3 4 5 ĉ ĉok"),
        (PreTokenizerKind::Falcon, "Hello , Ġworld Ġ 123 45 ĉ ĉ ok"),
        (PreTokenizerKind::Default, "Hello , Ġworld Ġ 123 45 ĉ ĉ ok"),
    ];
    for (kind, expected) in cases {
        assert_eq!(split(kind, text).join(" "), expected, "{kind:?}");
    }
}

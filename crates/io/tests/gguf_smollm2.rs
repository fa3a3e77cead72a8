//! `tracemark-gguf` against the real SmolLM2-135M-Instruct GGUF, the default model (fetched
//! on first use, as `tracemark demo` fetches it).

use std::sync::OnceLock;

use tokenizers::Tokenizer;
use tracemark_gguf::{GgufMetadata, eog_token_ids, tokenizer_from_gguf};

const TRICKY: &[&str] = &[
    "12345 3.14159",
    "Hello, world! It's 2024; we'll see.",
    "   leading spaces",
    "\ttabs\tand\nnew\nlines\r\n\n\n  end  ",
    "café naïve Ünïcödé",
    "日本語のテキスト",
    "👍🏽🚀 emoji",
    "fn main() { println!(\"hi\"); }",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "",
    " ",
];

struct Model {
    meta: GgufMetadata,
    tokenizer: Tokenizer,
}

/// The model's metadata and tokenizer, loaded once.
fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = tracemark_io::default_model_path().expect("the default model");
        let meta = GgufMetadata::read(&path).expect("read GGUF");
        let tokenizer = tokenizer_from_gguf(&meta).expect("build tokenizer");
        Model { meta, tokenizer }
    })
}

fn ids(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
    tokenizer
        .encode(text, false)
        .expect("encode")
        .get_ids()
        .to_vec()
}

#[test]
fn summary_facts() {
    let m = model();
    let s = m.meta.summary();
    assert_eq!(s.architecture.as_deref(), Some("llama"));
    assert_eq!(s.tokenizer_model.as_deref(), Some("gpt2"));
    assert_eq!(s.tokenizer_pre.as_deref(), Some("smollm"));
    assert_eq!(s.vocab_size, 49_152);
    assert_eq!(s.bos_token_id, Some(1));
    assert_eq!(s.eos_token_id, Some(2));
    assert_eq!(s.add_bos_token, Some(false));
    assert!(s.gguf_version == 2 || s.gguf_version == 3);
    assert!(s.tensor_count > 0);
    assert!(s.context_length.is_some_and(|n| n > 0));
    let template = s.chat_template.expect("chat template");
    assert_eq!(template.chars().count(), 368);
    assert!(template.contains("<|im_start|>"));

    let meta = &m.meta;
    assert_eq!(meta.get_u64("tokenizer.ggml.padding_token_id"), Some(2));
    assert_eq!(meta.get_u64("tokenizer.ggml.unknown_token_id"), Some(0));
    assert_eq!(
        meta.get_str_array("tokenizer.ggml.merges").map(|m| m.len()),
        Some(48_900)
    );
    let types = meta
        .get_i64_array("tokenizer.ggml.token_type")
        .expect("token types");
    assert_eq!(types.len(), 49_152);
    assert_eq!(types.iter().filter(|&&t| t == 3).count(), 17);
}

#[test]
fn special_tokens_are_single_ids() {
    let m = model();
    let t = &m.tokenizer;
    assert_eq!(ids(t, "<|im_start|>"), vec![1]);
    assert_eq!(ids(t, "<|im_end|>"), vec![2]);
    assert_eq!(ids(t, "<|endoftext|>"), vec![0]);
    let chat = ids(t, "<|im_start|>user\nHi<|im_end|>");
    assert_eq!((chat[0], *chat.last().unwrap()), (1, 2));
    // add_bos_token is false: special tokens change nothing.
    let with = t.encode("Hello", true).unwrap().get_ids().to_vec();
    assert_eq!(with, ids(t, "Hello"));
    // `<|endoftext|>`, `<|im_end|>` and the FIM repository token `<reponame>`.
    assert_eq!(eog_token_ids(&m.meta), vec![0, 2, 4]);
}

#[test]
fn digits_are_split_one_per_token() {
    let m = model();
    let t = &m.tokenizer;
    assert_eq!(ids(t, "12345").len(), 5);
    for (text, digits) in [("12345 3.14159", 11), ("year 2024", 4)] {
        let tokens = t.encode(text, false).unwrap();
        let digit_tokens = tokens
            .get_tokens()
            .iter()
            .filter(|tok| tok.chars().any(|c| c.is_ascii_digit()))
            .inspect(|tok| assert_eq!(tok.trim_start_matches('Ġ').len(), 1, "{tok:?}"))
            .count();
        assert_eq!(digit_tokens, digits, "{text}");
    }
}

#[test]
fn known_ids() {
    // Ids of the SmolLM tokenizer (shared by SmolLM2) for a few strings.
    let m = model();
    let t = &m.tokenizer;
    assert_eq!(ids(t, "Hello, we can use"), [19556, 28, 392, 416, 722]);
    assert_eq!(
        ids(t, "Hello world! 123"),
        [19556, 905, 17, 216, 33, 34, 35]
    );
    assert_eq!(ids(t, "  multiple   spaces"), [216, 2701, 256, 5600]);
    assert_eq!(ids(t, "\n"), [198]);
}

#[test]
fn decode_inverts_encode() {
    let m = model();
    let t = &m.tokenizer;
    for text in TRICKY {
        let ids = ids(t, text);
        let back = t.decode(&ids, false).expect("decode");
        assert_eq!(&back, text, "ids {ids:?}");
    }
}

#[test]
fn saved_json_tokenizes_identically() {
    let m = model();
    let path = std::env::temp_dir().join(format!("tracemark-gguf-{}.json", std::process::id()));
    m.tokenizer.save(&path, false).expect("save");
    let reloaded = Tokenizer::from_file(&path).expect("reload");
    std::fs::remove_file(&path).ok();
    for text in TRICKY {
        assert_eq!(ids(&reloaded, text), ids(&m.tokenizer, text), "{text:?}");
    }
}

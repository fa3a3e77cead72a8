//! Broken model files give one-line errors, never a panic or an abort.

mod common;

use std::io::Read;
use std::path::Path;

use tracemark_io::model_info;
use tracemark_runtime::{LlamaModel, LoadOptions, RuntimeError};

fn load_err(path: &Path) -> String {
    let opts = LoadOptions {
        n_threads: 2,
        ..LoadOptions::default()
    };
    let err = LlamaModel::load(path, &opts).expect_err("a broken file must not load");
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "error is not one line: {msg}");
    msg
}

#[test]
fn random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.gguf");
    // Deterministic pseudo-random bytes.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&path, bytes).unwrap();
    let msg = load_err(&path);
    assert!(msg.contains("not a GGUF file"), "{msg}");
    assert!(model_info(&path).is_err());
}

#[test]
fn missing_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let msg = load_err(&dir.path().join("absent.gguf"));
    assert!(msg.contains("absent.gguf"), "{msg}");
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    let msg = load_err(&empty);
    assert!(msg.contains("empty.gguf"), "{msg}");
}

/// A hand-made GGUF v3 header that promises 3 metadata entries but stops after one.
#[test]
fn truncated_synthetic_header() {
    let mut b = Vec::new();
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes()); // tensors
    b.extend_from_slice(&3u64.to_le_bytes()); // metadata entries
    let key = b"general.architecture";
    b.extend_from_slice(&(key.len() as u64).to_le_bytes());
    b.extend_from_slice(key);
    b.extend_from_slice(&8u32.to_le_bytes()); // string
    b.extend_from_slice(&5u64.to_le_bytes());
    b.extend_from_slice(b"llama");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.gguf");
    std::fs::write(&path, &b).unwrap();
    let msg = load_err(&path);
    assert!(msg.contains("truncated"), "{msg}");
}

/// Copies of the real model cut inside the metadata and inside the tensor data.
#[test]
fn truncated_copies_of_the_real_model() {
    let model = common::model_path();
    let dir = tempfile::tempdir().unwrap();
    let full_len = std::fs::metadata(&model).unwrap().len();
    for (name, len) in [
        ("header", 64u64),
        ("metadata", 1_000_000),
        ("tensors", full_len / 2),
        ("last-byte", full_len - 1),
    ] {
        let path = dir.path().join(format!("cut-{name}.gguf"));
        let mut buf = Vec::new();
        std::fs::File::open(&model)
            .unwrap()
            .take(len)
            .read_to_end(&mut buf)
            .unwrap();
        std::fs::write(&path, &buf).unwrap();
        let opts = LoadOptions {
            n_threads: 2,
            ..LoadOptions::default()
        };
        let err = LlamaModel::load(&path, &opts).expect_err(name);
        let msg = err.to_string();
        eprintln!("{name}: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
        if len < 2_000_000 {
            assert!(matches!(err, RuntimeError::Gguf(_)), "{name}: {msg}");
        } else {
            assert!(matches!(err, RuntimeError::Load { .. }), "{name}: {msg}");
        }
    }
}

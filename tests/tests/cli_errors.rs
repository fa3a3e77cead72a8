//! End-to-end tests of bad input: every failure is one `error:` line on stderr, exit code 2,
//! nothing on stdout, and never a panic (see `Output::error`).

use serde_json::Value;
use tracemark_tests::{PARAGRAPH, Sandbox, assert_no_secret};

#[test]
fn missing_and_corrupt_key_files() {
    let sb = Sandbox::new();
    sb.write("p.txt", PARAGRAPH);
    let msg = sb
        .run(&["detect", "--key", "missing.json", "p.txt"])
        .error()
        .to_string();
    assert!(msg.contains("missing.json"), "{msg}");
    sb.run(&["key-info", "missing.json"]).error();

    sb.keygen("k.json", &[]);
    let original = sb.read("k.json");
    let secret = sb.secret("k.json");
    sb.write("truncated.json", &original[..original.len() / 2]);
    let mut altered = sb.key_json("k.json");
    let flipped = format!(
        "{}{}",
        if secret.starts_with('0') { '1' } else { '0' },
        &secret[1..]
    );
    altered["secret"] = Value::String(flipped.clone());
    sb.write(
        "altered.json",
        serde_json::to_string_pretty(&altered).unwrap(),
    );
    sb.write("array.json", "[1, 2, 3]\n");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    sb.write("noise.json", noise);
    for name in ["truncated.json", "altered.json", "array.json", "noise.json"] {
        for out in [
            sb.run(&["detect", "--key", name, "p.txt"]),
            sb.run(&["key-info", name, "--json"]),
        ] {
            let msg = out.error();
            assert!(msg.contains(name), "{name}: {msg}");
            if name == "altered.json" {
                assert!(msg.contains("key_id"), "{msg}");
            }
            assert_no_secret(&secret, &[&out]);
            assert_no_secret(&flipped, &[&out]);
        }
    }
}

#[test]
fn bad_input_files() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let cases: Vec<(&str, Vec<u8>, &[&str], &str)> = vec![
        ("empty.txt", vec![], &[], "empty"),
        ("blank.txt", b" \n\t \r\n  \n".to_vec(), &[], "empty"),
        ("binary.txt", binary, &[], "binary"),
        (
            "latin1.txt",
            b"caf\xe9 au lait, s'il vous pla\xeet".to_vec(),
            &[],
            "UTF-8",
        ),
        (
            "big.txt",
            PARAGRAPH.as_bytes().to_vec(),
            &["--max-bytes", "100"],
            "larger than the limit of 100 bytes",
        ),
        (
            "bad.jsonl",
            b"{\"response\": \"fine\"}\n{\"response\": oops}\n".to_vec(),
            &["--format", "jsonl"],
            ":2: malformed JSON",
        ),
        (
            "bad.txt",
            b"{\"response\": \"fine\"}\n\n{\"response\": \n".to_vec(),
            &["--format", "jsonl"],
            ":3: malformed JSON",
        ),
        (
            "nofield.jsonl",
            b"{\"text\": \"a\"}\n{\"response\": \"b\"}\n{\"prompt\": \"c\"}\n".to_vec(),
            &[],
            ":3: ",
        ),
    ];
    for (name, content, extra, expect) in cases {
        sb.write(name, content);
        let mut args = vec!["detect", "--key", "k.json", name];
        args.extend_from_slice(extra);
        let out = sb.run(&args);
        // A JSONL file is read record by record: the records before the bad line are reported.
        let bad_later = matches!(name, "bad.jsonl" | "bad.txt" | "nofield.jsonl");
        let msg = if bad_later {
            assert!(!out.stdout.contains("pooled"), "no aggregate: {out:#?}");
            out.error_after_results().to_string()
        } else {
            out.error().to_string()
        };
        assert!(
            msg.contains(name) && msg.contains(expect),
            "{name}: expected {expect:?} in {msg:?}"
        );
        if name == "nofield.jsonl" {
            assert!(msg.contains("\"text\" or \"response\""), "{msg}");
        }
    }
    let msg = sb
        .run(&["detect", "--key", "k.json", "nonexistent.txt"])
        .error()
        .to_string();
    assert!(msg.contains("nonexistent.txt"), "{msg}");
    // Empty standard input, with `-` and with no FILE at all.
    for args in [
        &["detect", "--key", "k.json", "-"][..],
        &["detect", "--key", "k.json"],
    ] {
        let msg = sb.run_stdin(args, "").error().to_string();
        assert!(msg.contains("<stdin>") && msg.contains("empty"), "{msg}");
    }
}

#[test]
fn bad_tokenizers() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write("p.txt", PARAGRAPH);
    sb.write("words.txt", "this is a text file, not a tokenizer\n");
    let mut gguf = b"GGUF".to_vec();
    gguf.extend((0..500u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    sb.write("fake.gguf", gguf);
    sb.write("tokenizer.json", "{\"model\": 42}");
    for name in [
        "no-such-tokenizer.json",
        "words.txt",
        "fake.gguf",
        "tokenizer.json",
    ] {
        let msg = sb
            .run(&["detect", "--key", "k.json", "--tokenizer", name, "p.txt"])
            .error()
            .to_string();
        assert!(
            msg.contains("tokenizer") && msg.contains(name),
            "{name}: {msg}"
        );
    }
}

/// `--max-bytes` at `u64::MAX` must not overflow the read limit (a regression test).
#[test]
fn max_bytes_accepts_the_largest_value() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write("p.txt", PARAGRAPH);
    let v = sb
        .run(&[
            "detect",
            "--key",
            "k.json",
            "--json",
            "--max-bytes",
            &u64::MAX.to_string(),
            "p.txt",
        ])
        .verdict()
        .json();
    assert!(v["tokens"].as_u64().unwrap() > 50, "{v}");
}

/// `cannot read`/`cannot write` messages state the OS error at most once (the CLI prints the
/// cause chain, so library errors must not repeat their source) and never name a temporary file.
#[test]
fn io_error_messages_state_the_cause_once() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    let outputs = [
        sb.run(&["detect", "--key", "missing.json", "p.txt"]),
        sb.run(&["detect", "--key", "k.json", "missing.txt"]),
        sb.run(&["keygen", "--out", "no-dir/k.json"]),
    ];
    for out in &outputs {
        let msg = out.error();
        assert!(
            msg.matches("os error").count() <= 1,
            "cause repeated: {msg}"
        );
        assert!(
            msg.contains("missing") || msg.contains("does not exist"),
            "{msg}"
        );
        assert!(
            !msg.contains(".tracemark-tmp-"),
            "temporary file named: {msg}"
        );
    }
}

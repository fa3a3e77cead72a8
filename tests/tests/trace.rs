//! End-to-end: `tracemark generate --account` on the real model serves answers to two
//! accounts, which leak verbatim; `tracemark trace` must rank those two first among 50
//! served accounts, give their set a small p-value, and refuse bad input in one line. Then
//! open weights: a student distilled from alice's answers reads both accounts' served
//! answers (`trace --suspect-model`); alice must be attributed and bob, whose answers to the
//! same prompts it never saw, must not.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use tracemark_core::{AccountLayer, Key, WatermarkConfig};
use tracemark_tests::{Output, Sandbox, assert_no_secret};

const PROMPTS: &str = "Explain how rain forms.\nWhy is the sky blue?\nWhat is a prime number?\n\
    Describe a good breakfast.\nHow do bicycles stay upright?\nWrite a short story about a lighthouse.\n";

/// A master key with a fixed secret, so that the run is reproducible, and the full split
/// δa = δ, so that about 600 tokens per account attribute it.
fn master(sb: &Sandbox) -> &'static str {
    let layer = AccountLayer::new(2, 1024, 2.0).unwrap();
    let key = Key::from_secret([42; 32], WatermarkConfig::default())
        .with_accounts(layer)
        .unwrap();
    sb.write("master.key", key.to_json());
    std::fs::set_permissions(
        sb.path("master.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    "master.key"
}

/// The closed suspect: answers that leaked verbatim.
const LEAKED: &[&str] = &["--suspect-outputs", "leaked.jsonl"];
/// The open suspect: the student distilled from alice's answers reads the leaked answers.
const STUDENT: &[&str] = &[
    "--suspect-model",
    "student.tmst",
    "--watermarked",
    "leaked.jsonl",
];

/// `tracemark trace --key KEY` over the 50 served accounts, with `suspect` and `extra`.
fn trace(sb: &Sandbox, key: &str, suspect: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["trace", "--key", key, "--accounts", "accounts.txt"];
    args.extend_from_slice(suspect);
    args.extend_from_slice(extra);
    sb.run(&args)
}

#[test]
fn leaked_accounts_rank_first_and_bad_input_is_refused() {
    let sb = Sandbox::new();
    let key = master(&sb);
    sb.write("prompts.txt", PROMPTS);
    let gguf = tracemark_tests::test_gguf();
    for account in ["alice", "bob"] {
        let out = format!("served-{account}.jsonl");
        sb.run(&[
            "generate",
            "--key",
            key,
            "--account",
            account,
            "--model",
            &gguf,
            "--prompts",
            "prompts.txt",
            "--out",
            &out,
            "--max-tokens",
            "100",
            "--seed",
            "5",
        ])
        .ok();
    }
    let served = String::from_utf8(sb.read("served-alice.jsonl")).unwrap();
    let first: Value = serde_json::from_str(served.lines().next().unwrap()).unwrap();
    assert_eq!(first["account"], "alice", "{first}");
    let mut leaked = served;
    leaked.push_str(&String::from_utf8(sb.read("served-bob.jsonl")).unwrap());
    sb.write("leaked.jsonl", leaked);
    let mut accounts: Vec<String> = (0..47).map(|i| format!("user-{i}")).collect();
    accounts.extend(["alice", "bob", "carol"].map(String::from));
    sb.write("accounts.txt", accounts.join("\n") + "\n");
    sb.write("set.txt", "alice\nbob\n");

    let run = trace(
        &sb,
        key,
        LEAKED,
        &["--suspected", "set.txt", "--controls", "50", "--json"],
    );
    let v = run.ok().json();
    assert_eq!(v["verdict"], "RADIOACTIVE", "{v}");
    let ranked: Vec<&str> = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(ranked.len(), 50);
    let mut top2 = ranked[..2].to_vec();
    top2.sort_unstable();
    assert_eq!(top2, ["alice", "bob"], "{v}");
    assert_eq!(v["accounts"][0]["rank"], 1);
    assert!(v["accounts"][0]["p_value"].as_f64().unwrap() < 1e-3, "{v}");
    let attributed = v["attributed"].as_array().unwrap();
    assert!(
        attributed.iter().all(|a| a == "alice" || a == "bob"),
        "an innocent account was attributed: {v}"
    );
    assert!(v["set_test"]["p_value"].as_f64().unwrap() < 1e-6, "{v}");
    assert!(v["power"].is_object(), "{v}");

    // The evidence report: the radioactivity test plus the attribution section.
    trace(
        &sb,
        key,
        LEAKED,
        &["--controls", "20", "--report", "evidence"],
    )
    .ok();
    let report: Value = serde_json::from_slice(&sb.read("evidence/report.json")).unwrap();
    let a = &report["attribution"];
    assert_eq!(a["served_accounts"], 50, "{a}");
    assert_eq!(a["phantom_log10_p"].as_array().unwrap().len(), 1000);
    assert_eq!(
        a["ranking"][0]["account"], v["accounts"][0]["account"],
        "{a}"
    );
    let html = String::from_utf8(sb.read("evidence/report.html")).unwrap();
    assert!(html.contains("Which accounts?") && !html.contains("<script"));

    // Open weights: the student trained on alice's answers reads every account's answers.
    sb.run(&[
        "distill",
        "--train",
        "served-alice.jsonl",
        "--out",
        "student.tmst",
    ])
    .ok();
    let run = trace(
        &sb,
        key,
        STUDENT,
        &["--suspected", "set.txt", "--controls", "50", "--json"],
    );
    let o = run.ok().json();
    assert_eq!(o["verdict"], "RADIOACTIVE", "{o}");
    assert_eq!(o["reading"]["accounts_read"], 2, "{o}");
    assert_eq!(o["reading"]["answers_read"], 8, "{o}");
    assert_eq!(o["unread"].as_array().unwrap().len(), 48, "{o}");
    assert_eq!(o["accounts"][0]["account"], "alice", "{o}");
    assert_eq!(o["accounts"][0]["answers_read"], 4, "{o}");
    assert_eq!(o["attributed"], serde_json::json!(["alice"]), "{o}");
    assert!(o["accounts"][1]["p_value"].as_f64().unwrap() > 0.01, "{o}");
    assert!(o["set_test"]["p_value"].as_f64().unwrap() < 1e-3, "{o}");
    trace(
        &sb,
        key,
        STUDENT,
        &["--controls", "20", "--report", "open-evidence"],
    )
    .ok();
    let report: Value = serde_json::from_slice(&sb.read("open-evidence/report.json")).unwrap();
    let a = &report["attribution"];
    assert_eq!(a["served_accounts"], 50, "{a}");
    assert_eq!(a["ranking"][0]["answers_read"], 4, "{a}");
    assert_eq!(a["phantom_log10_p"].as_array().unwrap().len(), 1000);

    // Bad input: one line each, exit status 2, never the secret.
    sb.keygen("plain.key", &[]);
    sb.write("unknown.txt", "mallory\n");
    sb.write("empty.txt", "\n");
    sb.write("dup.txt", "alice\nalice\n");
    sb.write("nothing.jsonl", "{\"response\": \"Hi\"}\n");
    let secret = sb.secret(key);
    let base = [
        "trace",
        "--key",
        key,
        "--suspect-outputs",
        "leaked.jsonl",
        "--controls",
        "5",
    ];
    let cases: [(&[&str], &str); 5] = [
        (
            &["--accounts", "accounts.txt", "--suspected", "unknown.txt"],
            "not in the account list",
        ),
        (&["--accounts", "empty.txt"], "account list is empty"),
        (&["--accounts", "dup.txt"], "more than once"),
        (
            &["--accounts", "accounts.txt", "--key", "plain.key"],
            "master key",
        ),
        (
            &[
                "--accounts",
                "accounts.txt",
                "--suspect-outputs",
                "nothing.jsonl",
            ],
            "no scorable tuples",
        ),
    ];
    let mut outputs = Vec::new();
    for (extra, message) in cases {
        let mut args: Vec<&str> = base.to_vec();
        // A later --key / --suspect-outputs replaces the base one.
        for pair in extra.chunks(2) {
            if let Some(i) = args.iter().position(|a| *a == pair[0]) {
                args[i + 1] = pair[1];
            } else {
                args.extend_from_slice(pair);
            }
        }
        let out = sb.run(&args);
        let err = out.error();
        assert!(err.contains(message), "{args:?}: {err}");
        outputs.push(out);
    }
    let plain = sb.run(&[
        "generate",
        "--key",
        "plain.key",
        "--account",
        "a",
        "--prompt",
        "Hi",
    ]);
    assert!(plain.error().contains("master key"));
    outputs.push(plain);
    let unmarked = trace(
        &sb,
        key,
        &[
            "--suspect-model",
            "student.tmst",
            "--watermarked",
            "nothing.jsonl",
        ],
        &[],
    );
    assert!(
        unmarked.error().contains("no \"account\""),
        "{}",
        unmarked.error()
    );
    outputs.push(unmarked);
    assert_no_secret(&secret, &outputs.iter().collect::<Vec<_>>());
}

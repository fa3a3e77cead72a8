//! End-to-end: `tracemark serve` on the default model.
//!
//! - Answers served concurrently to two accounts are bit-identical to `tracemark generate`
//!   with the same seed and account, whole or streamed; each has its ledger row (account,
//!   token counts, SHA-256 of the answer); a revoked key gets 401 at once; metrics count.
//! - Bad input gets OpenAI-shaped errors with the right status, a client that hangs up
//!   mid-stream frees its slot, a full queue answers 429, and nothing crashes.
//! - SIGTERM lets the request in flight finish, then the server exits 0.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracemark_tests::Sandbox;
use tracemark_tests::server::{Server, chat, chat_and_hang_up, http, ledger_requests};

const FRANCE: &str = "What is the capital of France?";
const RAIN: &str = "Explain how rain forms.";

fn user(text: &str) -> Value {
    json!([{ "role": "user", "content": text }])
}

/// `generate --key master.key --account ACCOUNT --prompt PROMPT --seed SEED`'s answer.
fn generated(sb: &Sandbox, account: &str, prompt: &str, seed: u64, max_tokens: usize) -> String {
    let out = sb.run(&[
        "generate",
        "--key",
        "master.key",
        "--account",
        account,
        "--prompt",
        prompt,
        "--seed",
        &seed.to_string(),
        "--max-tokens",
        &max_tokens.to_string(),
        "--model",
        &tracemark_tests::test_gguf(),
        "--json",
    ]);
    out.ok();
    out.json()["response"].as_str().unwrap().to_string()
}

/// The text of a streamed answer, checking the chunk sequence on the way.
fn streamed_text(events: &[String]) -> (String, Value) {
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let mut text = String::new();
    let mut usage = Value::Null;
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
        assert_eq!(c["id"], chunks[0]["id"]);
        if let Some(piece) = c["choices"][0]["delta"]["content"].as_str() {
            text.push_str(piece);
        }
        if !c["usage"].is_null() {
            usage = c["usage"].clone();
        }
    }
    (text, usage)
}

#[test]
fn served_answers_are_generates_answers_and_the_ledger_records_each() {
    let sb = Sandbox::new();
    sb.keygen("master.key", &["--accounts"]);
    let mut keys = Vec::new();
    for account in ["alice", "bob"] {
        let out = sb.run(&["accounts", "create", account, "--ledger", "ledger.db"]);
        out.ok();
        let key = out.stdout.trim().to_string();
        assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
        assert!(key.starts_with("tmk_") && key.len() > 40, "{key}");
        keys.push(key);
    }
    let gguf = tracemark_tests::test_gguf();
    let server = Server::start(
        &sb.path(""),
        &[
            "--key",
            "master.key",
            "--ledger",
            "ledger.db",
            "--model",
            &gguf,
            "--listen",
            "127.0.0.1:0",
            "--slots",
            "4",
        ],
    );
    let addr = server.addr.clone();

    // Four requests at once: two accounts, two prompts, whole and streamed.
    let cases = [
        (0usize, FRANCE, 11u64, false),
        (1, FRANCE, 11, true),
        (0, RAIN, 12, true),
        (1, RAIN, 13, false),
    ];
    let replies: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(who, prompt, seed, stream)| {
                let key = keys[who].clone();
                let addr = addr.clone();
                s.spawn(move || {
                    let mut body = json!({
                        "model": "anything", "messages": user(prompt), "max_tokens": 40,
                        "seed": seed, "stream": stream,
                    });
                    if stream {
                        body["stream_options"] = json!({ "include_usage": true });
                    }
                    chat(&addr, Some(&key), &body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accounts = ["alice", "bob"];
    let mut texts = Vec::new();
    for (&(who, prompt, seed, stream), reply) in cases.iter().zip(&replies) {
        assert_eq!(reply.status, 200, "{}", reply.body);
        let (text, usage) = if stream {
            assert!(
                reply
                    .header("content-type")
                    .unwrap()
                    .starts_with("text/event-stream")
            );
            streamed_text(&reply.events())
        } else {
            let v = reply.json();
            assert_eq!(v["object"], "chat.completion");
            assert_eq!(v["model"], "SmolLM2-135M-Instruct.Q4_1");
            (
                v["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                v["usage"].clone(),
            )
        };
        assert!(usage["completion_tokens"].as_u64().unwrap() > 0, "{usage}");
        let expected = generated(&sb, accounts[who], prompt, seed, 40);
        assert_eq!(text, expected, "{} {prompt:?} seed {seed}", accounts[who]);
        texts.push((accounts[who], text));
    }
    let rows = ledger_requests(&sb.path("ledger.db").display().to_string());
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (account, text) in &texts {
        let sha = hex_sha256(text);
        let row = rows
            .iter()
            .find(|r| r.answer_sha256 == sha)
            .unwrap_or_else(|| panic!("no ledger row for {account}'s answer"));
        assert_eq!(row.account, *account);
        assert!(row.completion_tokens > 0 && row.prompt_tokens > 0);
        assert!(row.request_id.starts_with("chatcmpl-"));
        assert_eq!(
            row.watermark_key_id.as_deref(),
            Some(sb.key_json("master.key")["key_id"].as_str().unwrap())
        );
    }

    // Models, health and metrics; no key, a wrong key.
    assert_eq!(
        http(&addr, "GET", "/v1/models", Some(&keys[0]), "").json()["data"][0]["id"],
        "SmolLM2-135M-Instruct.Q4_1"
    );
    assert_eq!(
        http(&addr, "GET", "/health", None, "").json()["status"],
        "ok"
    );
    let body = json!({ "messages": user(FRANCE), "max_tokens": 2 });
    let missing = chat(&addr, None, &body);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["error"]["code"], "invalid_api_key");
    assert_eq!(chat(&addr, Some("tmk_wrong"), &body).status, 401);
    let metrics = http(&addr, "GET", "/metrics", None, "").body;
    assert!(
        metrics.contains("tracemark_requests_total{status=\"200\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tracemark_requests_total{status=\"401\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tracemark_time_to_first_token_seconds_count 4"),
        "{metrics}"
    );

    // Revoking bob's key takes effect at once, without a restart.
    assert_eq!(chat(&addr, Some(&keys[1]), &body).status, 200);
    sb.run(&["accounts", "revoke", "bob", "--ledger", "ledger.db"])
        .ok();
    let revoked = chat(&addr, Some(&keys[1]), &body);
    assert_eq!(revoked.status, 401, "{}", revoked.body);
    assert_eq!(chat(&addr, Some(&keys[0]), &body).status, 200);
    let list = sb.run(&["accounts", "list", "--ledger", "ledger.db", "--json"]);
    let list = list.json();
    assert!(list["accounts"][1]["revoked_ms"].is_i64(), "{list}");

    let (code, stderr) = server.stop(false);
    assert_eq!(code, Some(0), "{stderr}");
    // `trace --accounts LEDGER` reads the served accounts from the ledger.
    let leaked: String = cases
        .iter()
        .zip(&texts)
        .map(|(&(_, prompt, _, _), (_, text))| {
            json!({ "prompt": prompt, "response": text }).to_string() + "\n"
        })
        .collect();
    sb.write("leaked.jsonl", leaked);
    let traced = sb.run(&[
        "trace",
        "--key",
        "master.key",
        "--suspect-outputs",
        "leaked.jsonl",
        "--accounts",
        "ledger.db",
        "--json",
    ]);
    traced.ok();
    let mut listed: Vec<String> = traced.json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, ["alice", "bob"]);
    // No secret in anything the server wrote.
    let secret = sb.secret("master.key");
    assert!(!stderr.contains(&secret) && !metrics.contains(&secret));
    for key in &keys {
        assert!(!stderr.contains(key.as_str()));
    }
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn bad_input_gets_openai_errors_and_a_full_queue_gets_429() {
    let sb = Sandbox::new();
    sb.keygen("master.key", &["--accounts"]);
    let gguf = tracemark_tests::test_gguf();

    // Without a ledger only loopback is allowed.
    let refused = sb.run(&[
        "serve",
        "--no-watermark",
        "--listen",
        "0.0.0.0:0",
        "--model",
        &gguf,
    ]);
    assert!(
        refused.error().contains("loopback only"),
        "{}",
        refused.stderr
    );

    let server = Server::start(
        &sb.path(""),
        &[
            "--key",
            "master.key",
            "--model",
            &gguf,
            "--listen",
            "127.0.0.1:0",
            "--slots",
            "1",
            "--queue",
            "1",
            "--ctx",
            "256",
            "--threads",
            "1",
        ],
    );
    let addr = server.addr.clone();
    let long_prompt = "word ".repeat(400);
    let cases: Vec<(String, u16, &str)> = vec![
        ("{".into(), 400, "not valid JSON"),
        (r#"{"messages":[]}"#.into(), 400, "at least one message"),
        (
            r#"{"messages":[{"role":"user","content":"hi"}],"frobnicate":true}"#.into(),
            400,
            "unrecognized request argument supplied: frobnicate",
        ),
        (
            r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":100000000}"#.into(),
            400,
            "max_tokens is 100000000",
        ),
        (
            json!({ "messages": user(&long_prompt) }).to_string(),
            400,
            "this model's context is 256 tokens",
        ),
        (
            r#"{"messages":[{"role":"user","content":"hi"}],"temperature":-1}"#.into(),
            400,
            "temperature",
        ),
    ];
    for (body, status, needle) in &cases {
        let reply = http(&addr, "POST", "/v1/chat/completions", None, body);
        assert_eq!(reply.status, *status, "{body}: {}", reply.body);
        let error = &reply.json()["error"];
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
        assert!(error["type"].is_string() && !message.contains('\n'));
    }
    assert_eq!(http(&addr, "GET", "/v2/nothing", None, "").status, 404);

    // A stop sequence ends the answer just before it (greedy, so the two runs agree).
    let free = json!({ "messages": user(FRANCE), "max_tokens": 30, "temperature": 0 });
    let full = chat(&addr, None, &free).json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let word = full
        .split_whitespace()
        .nth(3)
        .expect("a few words")
        .to_string();
    let mut stopped = free.clone();
    stopped["stop"] = json!([word]);
    let v = chat(&addr, None, &stopped).json();
    assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
    let cut = &full[..full.find(&word).unwrap()];
    assert_eq!(
        v["choices"][0]["message"]["content"], cut,
        "stop {word:?} in {full:?}"
    );

    // A client that hangs up mid-stream: its slot (the only one) is freed for the next.
    let long = json!({ "messages": user(RAIN), "max_tokens": 200, "stream": true, "seed": 1 });
    chat_and_hang_up(&addr, None, &long);
    let next = chat(
        &addr,
        None,
        &json!({ "messages": user(FRANCE), "max_tokens": 5 }),
    );
    assert_eq!(next.status, 200, "{}", next.body);
    let metrics = http(&addr, "GET", "/metrics", None, "").body;
    assert!(metrics.contains("tracemark_cancelled_total 1"), "{metrics}");

    // One slot and a queue of one: of four long requests at once, some get 429 with
    // Retry-After; the others complete.
    let body = json!({ "messages": user(RAIN), "max_tokens": 60 });
    let statuses: Vec<(u16, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let addr = addr.clone();
                let body = body.clone();
                s.spawn(move || {
                    let r = chat(&addr, None, &body);
                    (r.status, r.header("retry-after").map(str::to_string))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let limited: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!limited.is_empty(), "{statuses:?}");
    assert!(
        limited.iter().all(|(_, r)| r.as_deref() == Some("1")),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|(s, _)| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.iter().any(|(s, _)| *s == 200), "{statuses:?}");

    let (code, stderr) = server.stop(false);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let sb = Sandbox::new();
    let gguf = tracemark_tests::test_gguf();
    let server = Server::start(
        &sb.path(""),
        &[
            "--no-watermark",
            "--model",
            &gguf,
            "--listen",
            "127.0.0.1:0",
            "--threads",
            "1",
            "--grace-seconds",
            "600",
        ],
    );
    let addr = server.addr.clone();
    let body = json!({ "messages": user(RAIN), "max_tokens": 60, "temperature": 0 });
    let in_flight = std::thread::spawn(move || chat(&addr, None, &body));
    // Wait until the request is being decoded, then ask the server to stop.
    let addr = server.addr.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !http(&addr, "GET", "/metrics", None, "")
        .body
        .contains("tracemark_active_sequences 1")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, stderr) = server.stop(false);
    let reply = in_flight.join().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let v = reply.json();
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{v}");
    assert!(
        !v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
}

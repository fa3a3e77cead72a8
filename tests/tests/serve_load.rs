//! End-to-end under load and faults: `tracemark query` clients against `tracemark serve` on
//! the default model, with a SQLite ledger.
//!
//! - 16 clients, one account each, send 8 requests each at once: all 128 answers complete,
//!   and the ledger holds exactly those 128, each under its client's account.
//! - kill -9 the server mid-corpus and restart it on the same address: the ledger opens and
//!   holds every answer the client received; the client, retrying, completes the corpus, and
//!   a rerun asks nothing again.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;
use tracemark_tests::Sandbox;
use tracemark_tests::server::{
    Server, create_account, finish_query as finish, ledger_requests, spawn_query,
};

/// `n` prompts, one per line.
fn prompts(n: usize, topic: &str) -> String {
    (0..n)
        .map(|i| format!("Give me one fact about {topic} number {i}.\n"))
        .collect()
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn sixteen_clients_times_eight_requests_are_all_answered_and_recorded_once() {
    let sb = Sandbox::new();
    sb.keygen("master.key", &["--accounts"]);
    let keys: Vec<(String, String)> = (0..16)
        .map(|i| {
            let account = format!("client-{i:02}");
            let key = create_account(&sb, "ledger.db", &account);
            (account, key)
        })
        .collect();
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
            "16",
            "--queue",
            "64",
        ],
    );
    let base = server.base_url();
    let started = Instant::now();
    let clients: Vec<Child> = keys
        .iter()
        .map(|(account, key)| {
            let dir = sb.path(account);
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("p.txt"), prompts(8, account)).unwrap();
            spawn_query(
                &dir,
                Some(key),
                &[
                    "--base-url",
                    &base,
                    "--prompts",
                    "p.txt",
                    "--out",
                    "answers.jsonl",
                    "--concurrency",
                    "1",
                    "--max-tokens",
                    "12",
                    "--seed",
                    "3",
                ],
            )
        })
        .collect();
    let summaries: Vec<Value> = clients.into_iter().map(finish).collect();
    eprintln!(
        "128 requests from 16 clients in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut ids = HashMap::new();
    for ((account, _), summary) in keys.iter().zip(&summaries) {
        assert_eq!(summary["answered"], 8, "{summary}");
        let recs = records(&sb.path(account).join("answers.jsonl"));
        assert_eq!(recs.len(), 8, "{account}");
        let indices: HashSet<u64> = recs.iter().map(|r| r["index"].as_u64().unwrap()).collect();
        assert_eq!(indices.len(), 8, "{account}: a prompt answered twice");
        for r in recs {
            let id = r["request_id"].as_str().unwrap().to_string();
            assert!(
                ids.insert(id, account.clone()).is_none(),
                "a request id twice"
            );
        }
    }
    let (code, stderr) = server.stop(false);
    assert_eq!(code, Some(0), "{stderr}");

    let rows = ledger_requests(&sb.path("ledger.db").display().to_string());
    assert_eq!(rows.len(), 128, "the ledger holds every request, once");
    for row in &rows {
        assert_eq!(ids.get(&row.request_id), Some(&row.account), "{row:?}");
    }
}

#[test]
fn kill_9_mid_corpus_loses_no_recorded_answer_and_the_client_resumes() {
    let sb = Sandbox::new();
    sb.keygen("master.key", &["--accounts"]);
    let key = create_account(&sb, "ledger.db", "harvester");
    sb.write("p.txt", prompts(24, "rivers"));
    let gguf = tracemark_tests::test_gguf();
    let serve_args = |listen: &str| -> Vec<String> {
        [
            "--key",
            "master.key",
            "--ledger",
            "ledger.db",
            "--model",
            &gguf,
            "--listen",
            listen,
            "--slots",
            "4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args: Vec<String> = serve_args("127.0.0.1:0");
    let first = Server::start(
        &sb.path(""),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let addr = first.addr.clone();
    let base = first.base_url();
    let query_args = [
        "--base-url",
        &base,
        "--prompts",
        "p.txt",
        "--out",
        "answers.jsonl",
        "--concurrency",
        "4",
        "--max-tokens",
        "24",
        "--seed",
        "9",
        "--max-retries",
        "12",
    ];
    let client = spawn_query(&sb.path(""), Some(&key), &query_args);

    // Kill the server once a quarter of the corpus has arrived.
    let deadline = Instant::now() + Duration::from_secs(300);
    while records(&sb.path("answers.jsonl")).len() < 6 {
        assert!(Instant::now() < deadline, "no answers arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, _) = first.stop(true);
    assert_eq!(code, None, "killed by SIGKILL");
    let received = records(&sb.path("answers.jsonl"));
    assert!(
        received.len() < 24,
        "the kill came too late to test anything"
    );

    // The ledger opens cleanly and holds every answer the client has.
    let rows = ledger_requests(&sb.path("ledger.db").display().to_string());
    let recorded: HashSet<String> = rows.iter().map(|r| r.request_id.clone()).collect();
    for r in &received {
        assert!(recorded.contains(r["request_id"].as_str().unwrap()), "{r}");
    }

    // Restart on the same address; the client's retries reach the new server.
    let args = serve_args(&addr);
    let second = Server::start(
        &sb.path(""),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let summary = finish(client);
    assert_eq!(
        summary["answered"].as_u64().unwrap() as usize
            + summary["resumed"].as_u64().unwrap() as usize,
        24,
        "{summary}"
    );
    let all = records(&sb.path("answers.jsonl"));
    assert_eq!(all.len(), 24);
    let indices: HashSet<u64> = all.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(indices.len(), 24, "every prompt answered once");

    // A rerun asks nothing again.
    let again = finish(spawn_query(&sb.path(""), Some(&key), &query_args));
    assert_eq!(again["answered"], 0, "{again}");
    assert_eq!(again["resumed"], 24, "{again}");
    let (code, stderr) = second.stop(false);
    assert_eq!(code, Some(0), "{stderr}");
    let rows = ledger_requests(&sb.path("ledger.db").display().to_string());
    let recorded: HashSet<String> = rows.iter().map(|r| r.request_id.clone()).collect();
    for r in &all {
        assert!(recorded.contains(r["request_id"].as_str().unwrap()), "{r}");
    }
    assert!(rows.iter().all(|r| r.account == "harvester"));
}

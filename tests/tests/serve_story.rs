//! The demo's account story over real HTTP, in quick mode: `tracemark serve` serves the
//! teacher to five accounts under a master key; two of them harvest through `tracemark
//! query`, three ask a little; a student is distilled from the harvest and served without a
//! watermark; the investigator questions it with `tracemark query`; `tracemark trace` reads
//! the served accounts from the ledger and must attribute both harvesters and no one else.
//!
//! Also (run by `.ci/run` against a real PostgreSQL, ignored otherwise): two `serve`
//! replicas write to one PostgreSQL ledger, and `trace` reads it.

use std::path::Path;

use serde_json::Value;
use tracemark_tests::Sandbox;
use tracemark_tests::server::{Server, create_account, finish_query, ledger_requests, spawn_query};

/// The demo's bundled prompts, as (split, prompt).
fn bundled(split: &str) -> Vec<String> {
    include_str!("../../crates/demo/assets/prompts.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["split"] == split)
        .map(|v| v["prompt"].as_str().unwrap().to_string())
        .collect()
}

/// `tracemark query` in `dir`, with `key` (if any) in the environment; asserts success.
fn query(dir: &Path, key: Option<&str>, args: &[&str]) -> Value {
    finish_query(spawn_query(dir, key, args))
}

fn create_accounts(sb: &Sandbox, ledger: &str, accounts: &[&str]) -> Vec<String> {
    accounts
        .iter()
        .map(|a| create_account(sb, ledger, a))
        .collect()
}

/// The demo's watermark (KGW γ = 0.25, δ = 3, LeftHash h = 1), all of δ carrying the account,
/// under a fixed secret, so that the run is the same every time (the answers depend only on
/// key, account and seed, whatever the batching).
fn master(sb: &Sandbox) {
    use tracemark_core::{
        AccountLayer, Delta, Gamma, Key, Scheme, Seeding, SeedingKind, WatermarkConfig,
    };
    let config = WatermarkConfig {
        scheme: Scheme::Kgw {
            gamma: Gamma::new(0.25).unwrap(),
            delta: Delta::new(3.0).unwrap(),
        },
        seeding: Seeding::new(SeedingKind::LeftHash, 1).unwrap(),
    };
    let key = Key::from_secret([7; 32], config)
        .with_accounts(AccountLayer::new(2, 1024, 3.0).unwrap())
        .unwrap();
    sb.write("master.key", key.to_json());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        sb.path("master.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

const ACCOUNTS: [&str; 5] = ["harvester-1", "harvester-2", "user-1", "user-2", "user-3"];

#[test]
fn a_student_distilled_over_http_is_traced_to_the_harvesting_accounts() {
    let sb = Sandbox::new();
    master(&sb);
    let keys = create_accounts(&sb, "ledger.db", &ACCOUNTS);
    let gguf = tracemark_tests::test_gguf();
    let teacher = Server::start(
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
    let base = teacher.base_url();

    // The harvesters take 36 training prompts each; the users ask 8 each.
    let train = bundled("train");
    let shares = [(0, 36), (36, 72), (72, 80), (80, 88), (88, 96)];
    std::thread::scope(|s| {
        for ((account, key), (from, to)) in ACCOUNTS.iter().zip(&keys).zip(shares) {
            let dir = sb.path(account);
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("p.txt"), train[from..to].join("\n") + "\n").unwrap();
            let base = base.clone();
            s.spawn(move || {
                query(
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
                        "64",
                        "--seed",
                        "1",
                    ],
                )
            });
        }
    });
    let (code, stderr) = teacher.stop(false);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        ledger_requests(&sb.path("ledger.db").display().to_string()).len(),
        96
    );

    // The distiller pools the harvest and trains a student, served without a watermark.
    let harvest: String = ["harvester-1", "harvester-2"]
        .iter()
        .map(|a| std::fs::read_to_string(sb.path(a).join("answers.jsonl")).unwrap())
        .collect();
    sb.write("harvest.jsonl", harvest);
    sb.run(&[
        "distill",
        "--train",
        "harvest.jsonl",
        "--out",
        "student.tmst",
    ])
    .ok();
    let suspect = Server::start(
        &sb.path(""),
        &[
            "--no-watermark",
            "--student",
            "student.tmst",
            "--listen",
            "127.0.0.1:0",
        ],
    );

    // The investigator questions the suspect's API with held-out prompts, 8 times each.
    sb.write("held-out.txt", bundled("query")[..40].join("\n") + "\n");
    let asked = query(
        &sb.path(""),
        None,
        &[
            "--base-url",
            &suspect.base_url(),
            "--prompts",
            "held-out.txt",
            "--out",
            "suspect.jsonl",
            "--concurrency",
            "4",
            "--max-tokens",
            "64",
            "--seed",
            "7",
            "--repeats",
            "8",
        ],
    );
    assert_eq!(asked["answered"], 320, "{asked}");
    let (code, stderr) = suspect.stop(false);
    assert_eq!(code, Some(0), "{stderr}");

    let traced = sb.run(&[
        "trace",
        "--key",
        "master.key",
        "--suspect-outputs",
        "suspect.jsonl",
        "--accounts",
        "ledger.db",
        "--json",
    ]);
    traced.ok();
    let v = traced.json();
    eprintln!("{}", serde_json::to_string_pretty(&v["accounts"]).unwrap());
    let mut attributed: Vec<&str> = v["attributed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    attributed.sort();
    assert_eq!(attributed, ["harvester-1", "harvester-2"], "{v}");
    assert_eq!(v["accounts"].as_array().unwrap().len(), 5);
}

#[test]
#[ignore = "needs a PostgreSQL server: TRACEMARK_TEST_POSTGRES=postgres://… (.ci/run starts one)"]
fn two_replicas_share_a_postgres_ledger_and_trace_reads_it() {
    let url = std::env::var("TRACEMARK_TEST_POSTGRES")
        .expect("TRACEMARK_TEST_POSTGRES names the test database");
    let sb = Sandbox::new();
    sb.keygen("master.key", &["--accounts"]);
    let tag = format!("{}", std::process::id());
    let accounts: Vec<String> = ["a", "b"]
        .iter()
        .map(|a| format!("replica-{a}-{tag}"))
        .collect();
    let names: Vec<&str> = accounts.iter().map(String::as_str).collect();
    let keys = create_accounts(&sb, &url, &names);
    let gguf = tracemark_tests::test_gguf();
    let start = || {
        Server::start(
            &sb.path(""),
            &[
                "--key",
                "master.key",
                "--ledger",
                &url,
                "--model",
                &gguf,
                "--listen",
                "127.0.0.1:0",
                "--slots",
                "2",
                "--threads",
                "1",
            ],
        )
    };
    let replicas = [start(), start()];
    sb.write(
        "p.txt",
        "Why is the sky blue?\nWhat is a prime number?\nHow do bees make honey?\n",
    );
    // Each account is served by both replicas, as a load balancer would spread it.
    let mut request_ids = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        for (r, replica) in replicas.iter().enumerate() {
            let out = format!("answers-{i}-{r}.jsonl");
            query(
                &sb.path(""),
                Some(key),
                &[
                    "--base-url",
                    &replica.base_url(),
                    "--prompts",
                    "p.txt",
                    "--out",
                    &out,
                    "--max-tokens",
                    "16",
                    "--seed",
                    &r.to_string(),
                ],
            );
            for line in String::from_utf8(sb.read(&out)).unwrap().lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                request_ids.push((
                    v["request_id"].as_str().unwrap().to_string(),
                    accounts[i].clone(),
                ));
            }
        }
    }
    for replica in replicas {
        let (code, stderr) = replica.stop(false);
        assert_eq!(code, Some(0), "{stderr}");
    }
    let rows = ledger_requests(&url);
    for (id, account) in &request_ids {
        let row = rows
            .iter()
            .find(|r| &r.request_id == id)
            .unwrap_or_else(|| panic!("request {id} is not in the shared ledger"));
        assert_eq!(&row.account, account);
    }
    assert_eq!(request_ids.len(), 12);
    // trace reads the shared ledger's served accounts.
    let leaked: String = (0..2)
        .flat_map(|i| (0..2).map(move |r| format!("answers-{i}-{r}.jsonl")))
        .map(|f| String::from_utf8(sb.read(&f)).unwrap())
        .collect();
    sb.write("leaked.jsonl", leaked);
    let traced = sb.run(&[
        "trace",
        "--key",
        "master.key",
        "--suspect-outputs",
        "leaked.jsonl",
        "--accounts",
        &url,
        "--json",
    ]);
    traced.ok();
    let listed: Vec<String> = traced.json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap().to_string())
        .collect();
    for account in &accounts {
        assert!(
            listed.contains(account),
            "{account} not read from the ledger: {listed:?}"
        );
    }
}

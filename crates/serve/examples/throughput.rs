//! Aggregate decode throughput of `tracemark serve` over HTTP, at 1, 4 and 16 concurrent
//! streams, with the watermark on (a master key, one account per stream) and off, and the
//! time to first token at 16 streams.
//!
//! ```text
//! cargo run --release -p tracemark-serve --features llama --example throughput -- [TOKENS] [ROUNDS] [--external URL]
//! ```
//! With `--external http://HOST:PORT/v1` it measures another OpenAI-compatible server (e.g.
//! llama.cpp's `llama-server -np 16`) the same way instead.
//! The default model serves with 16 slots in this process; each stream sends `ROUNDS`
//! (default 2) streamed requests one after another, each for `TOKENS` (default 96) tokens,
//! and the aggregate is all streams' completion tokens over the wall time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracemark_core::{Key, WatermarkConfig};
use tracemark_serve::{ServeConfig, serve_until};
use tracemark_workflow::serving::gguf_served;
use tracemark_workflow::{GgufOptions, Quiet};

const PROMPTS: &[&str] = &[
    "Write a long story about a dragon who learns to bake bread.",
    "Explain in detail how a steam engine works.",
    "Describe a walk through a busy market in the morning.",
    "Write a long letter to a friend about your summer holiday.",
];

/// One streamed request: completion tokens and seconds to the first content chunk.
async fn one(client: &reqwest::Client, base: &str, i: usize, tokens: usize) -> (u64, f64) {
    let started = Instant::now();
    let body = serde_json::json!({
        "messages": [{ "role": "user", "content": PROMPTS[i % PROMPTS.len()] }],
        "max_tokens": tokens, "temperature": 1.0, "seed": i, "user": format!("account-{i}"),
        "stream": true, "stream_options": { "include_usage": true },
    });
    let mut response = client
        .post(format!("{base}/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    let mut first = None;
    let mut text = String::new();
    while let Some(chunk) = response.chunk().await.expect("stream") {
        if first.is_none()
            && chunk.windows(11).any(|w| w == b"\"content\":\"")
            && text.contains("\"role\"")
        {
            first = Some(started.elapsed().as_secs_f64());
        }
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let usage = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["usage"]["completion_tokens"].as_u64())
        .expect("a usage chunk");
    (usage, first.unwrap_or(f64::NAN))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}

/// Runs 1, 4 and 16 concurrent streams against `base` and prints a row for each.
fn bench(runtime: &tokio::runtime::Runtime, base: &str, label: &str, tokens: usize, rounds: usize) {
    // A new connection per request: llama-server closes idle keep-alive connections.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut single = None;
    for streams in [1usize, 4, 16] {
        let started = Instant::now();
        let results: Vec<(u64, f64)> = runtime.block_on(async {
            let tasks: Vec<_> = (0..streams)
                .map(|s| {
                    let client = client.clone();
                    let base = base.to_string();
                    tokio::spawn(async move {
                        let mut out = Vec::new();
                        for r in 0..rounds {
                            out.push(one(&client, &base, s * rounds + r, tokens).await);
                        }
                        out
                    })
                })
                .collect();
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        });
        let secs = started.elapsed().as_secs_f64();
        let total: u64 = results.iter().map(|r| r.0).sum();
        let rate = total as f64 / secs;
        let base_rate = *single.get_or_insert(rate);
        let mut ttft: Vec<f64> = results.iter().map(|r| r.1 * 1e3).collect();
        ttft.sort_by(f64::total_cmp);
        println!(
            "{label:>13}  {streams:>7}  {rate:>8.1}  {:>10.2}x  {:>11.0}  {:>11.0}",
            rate / base_rate,
            percentile(&ttft, 0.5),
            percentile(&ttft, 0.99),
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let external = args
        .iter()
        .position(|a| a == "--external")
        .map(|i| args.get(i + 1).expect("--external URL").clone());
    let mut numbers = args.iter().filter(|a| a.parse::<usize>().is_ok());
    let tokens: usize = numbers.next().map_or(96, |t| t.parse().unwrap());
    let rounds: usize = numbers.next().map_or(2, |r| r.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "tokens per request {tokens}, {rounds} rounds per stream; default model, 16 slots, 2 threads"
    );
    println!("       server  streams  tokens/s  vs 1 stream  TTFT p50 ms  TTFT p99 ms");
    if let Some(url) = external {
        bench(&runtime, &url, "external", tokens, rounds);
        return;
    }
    let config = WatermarkConfig::default();
    let layer = tracemark_core::AccountLayer::new(
        tracemark_core::AccountLayer::DEFAULT_COLOURS,
        tracemark_core::AccountLayer::DEFAULT_DIGITS,
        match config.scheme {
            tracemark_core::Scheme::Kgw { delta, .. } => {
                f64::from(delta.get()) * tracemark_core::AccountLayer::DEFAULT_DELTA_SHARE
            }
            tracemark_core::Scheme::Gumbel => unreachable!("the default scheme is KGW"),
        },
    )
    .expect("an account layer");
    let master = Key::generate(config)
        .expect("a key")
        .with_accounts(layer)
        .expect("a master key");
    for key in [None, Some(master)] {
        let served = gguf_served(None, &GgufOptions::default(), 16, 1024, &Quiet).expect("model");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let label = if key.is_some() {
            "tracemark wm"
        } else {
            "tracemark"
        };
        let config = ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            key,
            ledger: None,
            queue: 256,
            grace: Duration::from_secs(60),
        };
        let server = runtime.spawn(serve_until(
            config,
            served,
            move |a| addr_tx.send(a).unwrap(),
            async move {
                let _ = stop_rx.await;
            },
        ));
        let base = format!("http://{}/v1", addr_rx.recv().unwrap());
        bench(&runtime, &base, label, tokens, rounds);
        let _ = stop_tx.send(());
        runtime.block_on(server).unwrap().unwrap();
    }
}

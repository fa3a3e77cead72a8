//! Query jobs against a mock OpenAI server on loopback.

mod mock;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mock::{Fault, Mock, Script};
use tracemark_client::{
    ApiKey, ClientError, QueryOptions, QueryProgress, QueryRecord, RetryNote, run_query,
};
use tracemark_io::{Prompts, Source};

fn prompts(n: usize, tag: &str) -> Prompts {
    Prompts::from_texts((0..n).map(|i| format!("{tag} prompt number {i}")))
}

fn options(mock: &Mock, concurrency: usize) -> QueryOptions {
    QueryOptions {
        concurrency,
        timeout: Duration::from_secs(10),
        ..QueryOptions::new(format!("{}/", mock.base_url))
    }
}

/// Every line of `path` as a record; a line that does not parse fails the test.
fn records(path: &Path) -> Vec<QueryRecord> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn pairs(records: &[QueryRecord]) -> HashSet<(usize, usize)> {
    records.iter().map(|r| (r.index, r.repeat)).collect()
}

#[derive(Default)]
struct Seen {
    total: AtomicUsize,
    done: AtomicUsize,
    finished: AtomicUsize,
    retries: Mutex<Vec<RetryNote>>,
}

impl QueryProgress for Seen {
    fn start(&self, total: u64) {
        self.total.store(total as usize, Ordering::SeqCst);
    }
    fn done(&self, _: &QueryRecord) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }
    fn retry(&self, note: &RetryNote) {
        self.retries.lock().unwrap().push(note.clone());
    }
    fn finish(&self) {
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_corpus_is_asked_once_per_pair_within_the_concurrency() {
    let mock = Mock::start(Script {
        key: Some("sk-right-key".into()),
        delay: Duration::from_millis(60),
        ..Script::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prompts.jsonl");
    let lines: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"id": "p{i}", "prompt": "question {i} about rivers"}}"#))
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let prompts = Prompts::read(&Source::File(file)).unwrap();
    let out = dir.path().join("corpus.jsonl");
    let opts = QueryOptions {
        api_key: Some(ApiKey::new("sk-right-key")),
        repeats: 2,
        seed: Some(100),
        temperature: Some(0.7),
        max_tokens: 32,
        ..options(&mock, 3)
    };
    let seen = Seen::default();
    let summary = run_query(&opts, &prompts, &out, &seen).unwrap();

    let got = records(&out);
    assert_eq!(got.len(), 20);
    let want: HashSet<_> = (0..10).flat_map(|i| [(i, 0), (i, 1)]).collect();
    assert_eq!(pairs(&got), want, "each (index, repeat) exactly once");
    for r in &got {
        assert_eq!(r.prompt, prompts.texts()[r.index]);
        assert_eq!(r.id.as_deref(), Some(format!("p{}", r.index).as_str()));
        let seed = 100 + r.repeat as u64;
        assert_eq!(
            r.response,
            format!("answer to {} with seed Some({seed})", r.prompt)
        );
        assert_eq!(r.model.as_deref(), Some("mock-model"));
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!((r.created, r.attempts), (Some(1_700_000_000), 1));
        assert!(r.request_id.as_deref().unwrap().starts_with("chatcmpl-"));
        assert_eq!(r.base_url, mock.base_url);
        assert!(r.requested_at.ends_with('Z') && r.requested_at <= r.answered_at);
        assert!(r.latency_ms >= 50, "{}", r.latency_ms);
    }
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("sk-right-key"));

    assert_eq!(
        (summary.answered, summary.resumed, summary.remaining),
        (20, 0, 0)
    );
    assert_eq!(
        (summary.requests, summary.retries, summary.failed),
        (20, 0, 0)
    );
    assert!(!summary.budget_exhausted);
    let prompt_tokens: u64 = got.iter().map(|r| r.usage.prompt_tokens).sum();
    assert_eq!(prompt_tokens, 20 * 4);
    assert_eq!(summary.prompt_tokens, prompt_tokens);
    assert_eq!(summary.completion_tokens, 20 * 7);
    assert_eq!(seen.total.load(Ordering::SeqCst), 20);
    assert_eq!(seen.done.load(Ordering::SeqCst), 20);
    assert_eq!(seen.finished.load(Ordering::SeqCst), 1);

    let max = mock.state.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 3, "{max} requests were in flight at once");
    assert!(max >= 2, "the requests never overlapped ({max})");
    let hits = mock.state.hits.lock().unwrap();
    assert_eq!(hits.len(), 20);
    let body = &hits[0].body;
    assert_eq!(body["model"], "default");
    assert_eq!(body["max_tokens"], 32);
    assert_eq!(body["temperature"], 0.7);
    assert_eq!(body["stream"], false);
    assert!(body.get("top_p").is_none());
}

#[test]
fn rate_limits_server_errors_and_timeouts_are_retried() {
    let p = prompts(5, "retry");
    let t = p.texts();
    let faults = HashMap::from([
        (t[0].clone(), VecDeque::from([Fault::TooMany(1)])),
        (t[1].clone(), VecDeque::from([Fault::ServerError])),
        (
            t[2].clone(),
            VecDeque::from([Fault::Stall(Duration::from_secs(3))]),
        ),
    ]);
    let mock = Mock::start(Script {
        faults,
        delay: Duration::from_millis(5),
        ..Script::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.jsonl");
    let opts = QueryOptions {
        timeout: Duration::from_millis(700),
        ..options(&mock, 5)
    };
    let seen = Seen::default();
    let started = Instant::now();
    let summary = run_query(&opts, &p, &out, &seen).unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));

    let got = records(&out);
    assert_eq!(pairs(&got), (0..5).map(|i| (i, 0)).collect());
    let attempts: HashMap<usize, u32> = got.iter().map(|r| (r.index, r.attempts)).collect();
    assert_eq!(
        attempts,
        HashMap::from([(0, 2), (1, 2), (2, 2), (3, 1), (4, 1)])
    );
    assert_eq!(
        (summary.answered, summary.requests, summary.retries),
        (5, 8, 3)
    );
    for (i, text) in t.iter().enumerate().take(3) {
        assert_eq!(mock.state.hits_for(text), 2, "prompt {i}");
    }

    // The retry after the 429 waited for its Retry-After.
    let hits = mock.state.hits.lock().unwrap();
    let at: Vec<Instant> = hits
        .iter()
        .filter(|h| h.prompt == t[0])
        .map(|h| h.at)
        .collect();
    let gap = at[1] - at[0];
    assert!(gap >= Duration::from_millis(990), "retried after {gap:?}");
    let mut notes = seen.retries.lock().unwrap().clone();
    notes.sort_by_key(|n| n.index);
    assert_eq!(notes.iter().map(|n| n.index).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(
        notes[0].reason.starts_with("429 rate limited"),
        "{}",
        notes[0].reason
    );
    assert!(notes[0].wait >= Duration::from_secs(1));
    assert!(
        notes[1].reason.starts_with("500 overloaded"),
        "{}",
        notes[1].reason
    );
    assert_eq!(notes[2].reason, "no answer within the timeout");
}

#[test]
fn a_wrong_key_fails_at_once_without_showing_it() {
    let mock = Mock::start(Script {
        key: Some("sk-right-key".into()),
        ..Script::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.jsonl");
    let opts = QueryOptions {
        api_key: Some(ApiKey::new("sk-wrong-secret-123")),
        ..options(&mock, 2)
    };
    let started = Instant::now();
    let err = run_query(&opts, &prompts(10, "key"), &out, &()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, ClientError::Refused { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(
        message,
        "the endpoint refused the request: 401 Incorrect API key provided: <api key>"
    );
    assert!(!message.contains("sk-wrong-secret-123") && !message.contains('\n'));
    assert!(!format!("{err:?}").contains("sk-wrong-secret-123"));
    let hits = mock.state.total_hits();
    assert!(
        (1..=2).contains(&hits),
        "{hits} requests: 401 must not be retried"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(records(&out).is_empty());
}

#[test]
fn the_budget_stops_the_job_and_a_rerun_finishes_it() {
    let mock = Mock::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.jsonl");
    let p = prompts(10, "budget");
    let limited = QueryOptions {
        max_requests: Some(5),
        ..options(&mock, 2)
    };
    let first = run_query(&limited, &p, &out, &()).unwrap();
    assert!(first.budget_exhausted);
    assert_eq!((first.answered, first.requests, first.remaining), (5, 5, 5));
    assert_eq!(records(&out).len(), 5);
    assert_eq!(mock.state.total_hits(), 5);

    let seen = Seen::default();
    let second = run_query(&options(&mock, 2), &p, &out, &seen).unwrap();
    assert!(!second.budget_exhausted);
    assert_eq!(
        (second.answered, second.resumed, second.remaining),
        (5, 5, 0)
    );
    assert_eq!(seen.total.load(Ordering::SeqCst), 5);
    let got = records(&out);
    assert_eq!(pairs(&got), (0..10).map(|i| (i, 0)).collect());
    for text in p.texts() {
        assert_eq!(mock.state.hits_for(text), 1, "{text} asked twice");
    }
}

#[test]
fn retries_count_against_the_budget() {
    let p = prompts(3, "costly");
    let faults = HashMap::from([(
        p.texts()[0].clone(),
        VecDeque::from([Fault::ServerError; 3]),
    )]);
    let mock = Mock::start(Script {
        faults,
        ..Script::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.jsonl");
    let opts = QueryOptions {
        max_requests: Some(2),
        ..options(&mock, 1)
    };
    let summary = run_query(&opts, &p, &out, &()).unwrap();
    assert!(summary.budget_exhausted);
    let counts = (
        summary.answered,
        summary.failed,
        summary.requests,
        summary.retries,
    );
    assert_eq!(counts, (0, 1, 2, 1));
    assert_eq!(summary.remaining, 3);
    assert_eq!(mock.state.total_hits(), 2);
    assert!(records(&out).is_empty());
}

#[test]
fn a_cut_last_line_is_dropped_and_asked_again() {
    let mock = Mock::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.jsonl");
    let p = prompts(4, "cut");
    run_query(&options(&mock, 2), &p, &out, &()).unwrap();
    // A job killed while writing its last record.
    let text = std::fs::read_to_string(&out).unwrap();
    let last_start = text.trim_end().rfind('\n').unwrap() + 1;
    let cut_record: QueryRecord = serde_json::from_str(&text[last_start..]).unwrap();
    let cut_at = last_start + (text.len() - last_start) / 2;
    std::fs::write(&out, &text[..cut_at]).unwrap();

    let summary = run_query(&options(&mock, 2), &p, &out, &()).unwrap();
    assert_eq!((summary.answered, summary.resumed), (1, 3));
    let got = records(&out);
    assert_eq!(pairs(&got), (0..4).map(|i| (i, 0)).collect());
    for (i, text) in p.texts().iter().enumerate() {
        let want = if i == cut_record.index { 2 } else { 1 };
        assert_eq!(mock.state.hits_for(text), want, "prompt {i}");
    }
}

#[test]
fn other_prompts_are_refused_unless_forced() {
    let mock = Mock::start(Script::default());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.jsonl");
    run_query(&options(&mock, 2), &prompts(3, "old"), &out, &()).unwrap();
    let before = std::fs::read(&out).unwrap();
    let mut texts = prompts(3, "old").texts().to_vec();
    texts[1] = "a different question".into();
    let changed = Prompts::from_texts(texts);

    let err = run_query(&options(&mock, 2), &changed, &out, &()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, ClientError::PromptMismatch { index: 1, .. }),
        "{err:?}"
    );
    assert!(
        message.contains("--force") && !message.contains('\n'),
        "{message}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(mock.state.total_hits(), 3);

    let forced = QueryOptions {
        force: true,
        ..options(&mock, 2)
    };
    let summary = run_query(&forced, &changed, &out, &()).unwrap();
    assert_eq!((summary.answered, summary.resumed), (3, 0));
    let got = records(&out);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.prompt == changed.texts()[r.index]));
}

#[test]
fn unreachable_hosts_and_foreign_answers_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.jsonl");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let opts = QueryOptions {
        max_retries: 2,
        ..QueryOptions::new(format!("http://127.0.0.1:{port}/v1"))
    };
    let err = run_query(&opts, &prompts(1, "far"), &out, &()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, ClientError::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(message.contains("cannot connect to"), "{message}");

    let mock = Mock::start(Script::default());
    let html = QueryOptions::new(mock.base_url.replace("/v1", "/html"));
    let err = run_query(&html, &prompts(1, "html"), &out, &()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the endpoint's answer is not an OpenAI chat completion: not JSON: \"<html>hello</html>\""
    );
    let bad = QueryOptions::new("localhost:8080/v1");
    let err = run_query(&bad, &prompts(1, "x"), &out, &()).unwrap_err();
    assert!(matches!(err, ClientError::BadUrl { .. }), "{err:?}");
}

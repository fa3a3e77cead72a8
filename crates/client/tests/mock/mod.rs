//! A scriptable mock of an OpenAI chat-completions server on loopback.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// A failure the mock gives once, in place of an answer.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// 429 with `Retry-After: secs`.
    TooMany(u64),
    /// 500.
    ServerError,
    /// Answers only after this long.
    Stall(Duration),
}

/// What the mock does.
#[derive(Debug, Default)]
pub struct Script {
    /// Faults per prompt text, given in turn before it is answered.
    pub faults: HashMap<String, VecDeque<Fault>>,
    /// When set, requests without `Authorization: Bearer KEY` get a 401 that echoes the key
    /// they sent (as some servers do).
    pub key: Option<String>,
    /// How long each answer takes.
    pub delay: Duration,
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub prompt: String,
    pub at: Instant,
    pub body: Value,
}

#[derive(Debug, Default)]
pub struct MockState {
    script: Mutex<Script>,
    in_flight: AtomicUsize,
    /// The most requests ever in flight at once.
    pub max_in_flight: AtomicUsize,
    /// Every request, in arrival order.
    pub hits: Mutex<Vec<Hit>>,
}

impl MockState {
    /// How many requests asked `prompt`.
    pub fn hits_for(&self, prompt: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.prompt == prompt)
            .count()
    }

    /// How many requests arrived.
    pub fn total_hits(&self) -> usize {
        self.hits.lock().unwrap().len()
    }
}

/// Counts a request in flight while it lives (also when the handler is dropped).
struct InFlight<'a>(&'a MockState);

impl<'a> InFlight<'a> {
    fn enter(state: &'a MockState) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running mock server; it stops when dropped.
pub struct Mock {
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    pub state: Arc<MockState>,
    _runtime: tokio::runtime::Runtime,
}

impl Mock {
    pub fn start(script: Script) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(MockState {
            script: Mutex::new(script),
            ..MockState::default()
        });
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(chat))
            .route(
                "/html/chat/completions",
                post(|| async { "<html>hello</html>" }),
            )
            .with_state(state.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            state,
            _runtime: runtime,
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error"}});
    (status, Json(body)).into_response()
}

async fn chat(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let _guard = InFlight::enter(&state);
    let prompt = body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    state.hits.lock().unwrap().push(Hit {
        prompt: prompt.clone(),
        at: Instant::now(),
        body: body.clone(),
    });
    let (key, fault, delay) = {
        let mut script = state.script.lock().unwrap();
        let fault = script.faults.get_mut(&prompt).and_then(VecDeque::pop_front);
        (script.key.clone(), fault, script.delay)
    };
    if let Some(key) = key {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if sent != Some(format!("Bearer {key}").as_str()) {
            let given = sent.unwrap_or("").trim_start_matches("Bearer ");
            return error(
                StatusCode::UNAUTHORIZED,
                &format!("Incorrect API key provided: {given}"),
            );
        }
    }
    match fault {
        Some(Fault::TooMany(secs)) => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "rate limited");
            r.headers_mut().insert(header::RETRY_AFTER, secs.into());
            return r;
        }
        Some(Fault::ServerError) => return error(StatusCode::INTERNAL_SERVER_ERROR, "overloaded"),
        Some(Fault::Stall(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    tokio::time::sleep(delay).await;
    let n = state.total_hits();
    let seed = body["seed"].as_u64();
    let words = prompt.split_whitespace().count() as u64;
    Json(json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": 1_700_000_000u64,
        "model": "mock-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": format!("answer to {prompt} with seed {seed:?}")},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": words, "completion_tokens": 7, "total_tokens": words + 7}
    }))
    .into_response()
}

//! The HTTP front: routes, API-key authentication against the ledger, and the
//! chat-completions handler (whole or streamed as server-sent events).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracemark_core::Key;
use tracemark_embed::{Embedder, SamplingParams, StopReason};
use tracemark_io::TextTokenizer;
use tracemark_ledger::{Ledger, RequestRow};
use tracemark_workflow::PromptFormat;

use crate::api::{self, ChatRequest, DEFAULT_MAX_TOKENS, Head, Usage};
use crate::engine::{EngineHandle, Event, Finished, Job, SubmitError};
use crate::error::ApiError;
use crate::metrics::Metrics;

/// What every handler shares.
pub struct AppState {
    /// Queues jobs for the decode loop.
    pub engine: EngineHandle,
    /// The served model's vocabulary.
    pub tokenizer: TextTokenizer,
    /// How a conversation becomes a prompt.
    pub format: PromptFormat,
    /// Tokens per sequence (prompt plus answer).
    pub n_ctx: usize,
    /// The model id clients see.
    pub model_id: String,
    /// The watermark key, or none.
    pub key: Option<Key>,
    /// The ledger; with it, every request needs an API key.
    pub ledger: Option<Ledger>,
    /// Set once shutdown begins: new requests get 503.
    pub draining: AtomicBool,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    /// Unix seconds at start.
    pub started: u64,
}

type Shared = Arc<AppState>;

/// The router: `/v1/chat/completions`, `/v1/models`, `/health`, `/metrics`.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("no such route; this server answers /v1/chat/completions, /v1/models, /health and /metrics") })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Largest request body accepted.
const MAX_BODY: usize = 8 << 20;

async fn health(State(state): State<Shared>) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "draining" })),
        )
            .into_response()
    } else {
        axum::Json(json!({ "status": "ok", "model": state.model_id })).into_response()
    }
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn models(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(e) = authenticate(&state, &headers).await {
        return e.into_response();
    }
    axum::Json(json!({
        "object": "list",
        "data": [{ "id": state.model_id, "object": "model", "created": state.started, "owned_by": "tracemark" }],
    }))
    .into_response()
}

/// The account behind the request's API key (`None` without a ledger).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(ledger) = &state.ledger else {
        return Ok(None);
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "you didn't provide an API key; send it as Authorization: Bearer KEY",
            )
        })?;
    match ledger.authenticate(token).await {
        Ok(Some(found)) => Ok(Some(found.account)),
        Ok(None) => Err(ApiError::unauthorized("incorrect or revoked API key")),
        Err(e) => Err(ApiError::internal(format!("the ledger failed: {e}"))),
    }
}

async fn chat_completions(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let arrived = Instant::now();
    let response = match handle(&state, &headers, body, arrived).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    state.metrics.answered(response.status().as_u16());
    response
}

/// A request checked and queued: what is left is to wait for its events.
struct Queued {
    head: Head,
    account: Option<String>,
    usage_prompt: usize,
    events: mpsc::UnboundedReceiver<Event>,
    stream: bool,
    include_usage: bool,
}

async fn handle(
    state: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    arrived: Instant,
) -> Result<Response, ApiError> {
    if state.draining.load(Ordering::SeqCst) {
        return Err(ApiError::draining());
    }
    let account = authenticate(state, headers).await?;
    let body =
        body.map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
    let request = ChatRequest::parse(&body)?;
    let queued = enqueue(state, account, request)?;
    if queued.stream {
        Ok(stream(state.clone(), queued, arrived))
    } else {
        whole(state, queued, arrived).await
    }
}

/// Checks the request against the model, builds its embedder and queues it.
fn enqueue(state: &AppState, account: Option<String>, r: ChatRequest) -> Result<Queued, ApiError> {
    // Without a ledger, a master key's account is the request's `user`.
    let account = match (&state.ledger, &state.key) {
        (Some(_), _) => account,
        (None, Some(key)) if key.accounts().is_some() => r.user.clone().filter(|u| !u.is_empty()),
        (None, _) => None,
    };
    let prompt_ids = state
        .format
        .conversation_ids(&state.tokenizer, &r.messages)
        .map_err(|e| ApiError::bad_request(e.to_string()).with_param("messages"))?;
    let n_ctx = state.n_ctx;
    if prompt_ids.len() >= n_ctx {
        return Err(ApiError::bad_request(format!(
            "the prompt is {} tokens; this model's context is {n_ctx} tokens",
            prompt_ids.len()
        ))
        .with_param("messages")
        .with_code("context_length_exceeded"));
    }
    let room = n_ctx - prompt_ids.len();
    let max_tokens = match r.max_tokens {
        Some(m) if m > room => {
            return Err(ApiError::bad_request(format!(
                "max_tokens is {m}, but the prompt's {} tokens leave room for {room} in this model's context of {n_ctx}",
                prompt_ids.len()
            ))
            .with_param("max_tokens")
            .with_code("context_length_exceeded"));
        }
        Some(m) => m,
        None => DEFAULT_MAX_TOKENS.min(room),
    };
    let seed = match r.seed {
        Some(s) => s,
        None => getrandom::u64().map_err(|e| ApiError::internal(format!("no randomness: {e}")))?,
    };
    let params = SamplingParams::new(r.temperature, r.top_k, r.top_p, seed)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut embedder = Embedder::new(state.key.as_ref(), params);
    if let (Some(account), Some(key)) = (&account, &state.key)
        && key.accounts().is_some()
    {
        embedder = embedder
            .with_account(account)
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let usage_prompt = prompt_ids.len();
    state
        .engine
        .submit(Job {
            prompt_ids,
            embedder,
            max_tokens,
            stop: r.stop,
            events: tx,
        })
        .map_err(|e| match e {
            SubmitError::Full => ApiError::queue_full(),
            SubmitError::Stopped => ApiError::draining(),
        })?;
    Ok(Queued {
        head: Head {
            id: new_request_id()?,
            created: api::unix_now(),
            model: state.model_id.clone(),
        },
        account,
        usage_prompt,
        events: rx,
        stream: r.stream,
        include_usage: r.include_usage,
    })
}

fn new_request_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(format!("chatcmpl-{}", hex::encode(bytes)))
}

fn finish_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens => "length",
        StopReason::EndOfGeneration | StopReason::Stopped => "stop",
    }
}

/// Writes the request's ledger row; the answer is delivered only once it is written.
async fn record(state: &AppState, q: &Queued, done: &Finished) -> Result<(), ApiError> {
    state.metrics.prompt_tokens.inc_by(q.usage_prompt as u64);
    state
        .metrics
        .completion_tokens
        .inc_by(done.ids.len() as u64);
    let Some(ledger) = &state.ledger else {
        return Ok(());
    };
    let row = RequestRow {
        request_id: q.head.id.clone(),
        account: q.account.clone().unwrap_or_else(|| "-".into()),
        created_ms: tracemark_ledger::now_ms(),
        model: q.head.model.clone(),
        watermark_key_id: state.key.as_ref().map(|k| k.id().to_string()),
        prompt_tokens: q.usage_prompt as i64,
        completion_tokens: done.ids.len() as i64,
        finish_reason: finish_reason(done.stop).into(),
        answer_sha256: hex::encode(Sha256::digest(done.text.as_bytes())),
    };
    ledger
        .record(&row)
        .await
        .map_err(|e| ApiError::internal(format!("the ledger could not record the request: {e}")))
}

async fn whole(state: &AppState, mut q: Queued, arrived: Instant) -> Result<Response, ApiError> {
    let mut first = true;
    while let Some(event) = q.events.recv().await {
        match event {
            Event::Text(_) => {
                if std::mem::take(&mut first) {
                    state
                        .metrics
                        .first_token
                        .observe(arrived.elapsed().as_secs_f64());
                }
            }
            Event::Failed(message) => return Err(ApiError::internal(message)),
            Event::Done(done) => {
                record(state, &q, &done).await?;
                state
                    .metrics
                    .latency
                    .observe(arrived.elapsed().as_secs_f64());
                let usage = Usage {
                    prompt: q.usage_prompt,
                    completion: done.ids.len(),
                };
                let body = api::completion(&q.head, &done.text, finish_reason(done.stop), usage);
                return Ok(axum::Json(body).into_response());
            }
        }
    }
    Err(ApiError::internal(
        "the engine stopped before the answer was complete",
    ))
}

fn sse(value: &Value) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default().data(value.to_string()))
}

/// Streams the answer as chat-completion chunks. The client leaving drops the stream, then
/// this task's engine receiver, and the engine frees the slot.
fn stream(state: Shared, mut q: Queued, arrived: Instant) -> Response {
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(64);
    tokio::spawn(async move {
        let role = api::chunk(&q.head, json!({ "role": "assistant", "content": "" }), None);
        if tx.send(sse(&role)).await.is_err() {
            return;
        }
        let mut first = true;
        while let Some(event) = q.events.recv().await {
            match event {
                Event::Text(piece) => {
                    if std::mem::take(&mut first) {
                        state
                            .metrics
                            .first_token
                            .observe(arrived.elapsed().as_secs_f64());
                    }
                    let chunk = api::chunk(&q.head, json!({ "content": piece }), None);
                    if tx.send(sse(&chunk)).await.is_err() {
                        return;
                    }
                }
                Event::Failed(message) => {
                    let _ = tx.send(sse(&ApiError::internal(message).body())).await;
                    return;
                }
                Event::Done(done) => {
                    if let Err(e) = record(&state, &q, &done).await {
                        let _ = tx.send(sse(&e.body())).await;
                        return;
                    }
                    state
                        .metrics
                        .latency
                        .observe(arrived.elapsed().as_secs_f64());
                    let last = api::chunk(&q.head, json!({}), Some(finish_reason(done.stop)));
                    let _ = tx.send(sse(&last)).await;
                    if q.include_usage {
                        let usage = Usage {
                            prompt: q.usage_prompt,
                            completion: done.ids.len(),
                        };
                        let _ = tx.send(sse(&api::usage_chunk(&q.head, usage))).await;
                    }
                    let _ = tx.send(Ok(SseEvent::default().data("[DONE]"))).await;
                    return;
                }
            }
        }
    });
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}

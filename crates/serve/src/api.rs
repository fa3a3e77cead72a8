//! The OpenAI chat-completions wire format: the request as official clients send it, checked
//! into a [`ChatRequest`], and the response and stream-chunk objects.

use serde::Deserialize;
use serde_json::{Value, json};
use tracemark_workflow::Message;

use crate::error::ApiError;

/// The request fields this server reads. Any other top-level field is refused (as OpenAI
/// does), so a client never believes a setting took effect when it did not.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "stop",
    "user",
    "stream",
    "stream_options",
    "n",
    "frequency_penalty",
    "presence_penalty",
    "logprobs",
];

/// Sampling defaults, the same as `tracemark generate`'s, so that a request and a
/// `generate` run with the same seed give the same answer.
pub const DEFAULT_TEMPERATURE: f32 = 0.7;
/// Nucleus mass when the request sets none.
pub const DEFAULT_TOP_P: f32 = 0.95;
/// Answer length when the request sets none (capped by the context).
pub const DEFAULT_MAX_TOKENS: usize = 256;

/// A checked chat-completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The conversation, roles `system`, `user`, `assistant`.
    pub messages: Vec<Message>,
    /// The answer's token limit, if the request sets one.
    pub max_tokens: Option<usize>,
    /// Temperature (0 = greedy).
    pub temperature: f32,
    /// Nucleus mass.
    pub top_p: f32,
    /// Top-k (0 = off); an extension that llama.cpp's server also reads.
    pub top_k: usize,
    /// The sampler seed; `None` draws one.
    pub seed: Option<u64>,
    /// Stop sequences (at most 4).
    pub stop: Vec<String>,
    /// The end user, as the client names it.
    pub user: Option<String>,
    /// Stream server-sent events.
    pub stream: bool,
    /// With `stream`: a last chunk with the usage.
    pub include_usage: bool,
}

#[derive(Deserialize)]
struct Wire {
    messages: Option<Vec<WireMessage>>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u64>,
    seed: Option<i64>,
    stop: Option<Stop>,
    user: Option<String>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    n: Option<u64>,
    frequency_penalty: Option<f32>,
    presence_penalty: Option<f32>,
    logprobs: Option<bool>,
}

#[derive(Deserialize)]
struct WireMessage {
    role: String,
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    include_usage: Option<bool>,
}

fn bad(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message).with_param(param)
}

impl ChatRequest {
    /// Parses and checks a request body.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("the request body is not valid JSON ({e})"))
        })?;
        let Some(object) = value.as_object() else {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        };
        if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(bad(
                unknown,
                format!("unrecognized request argument supplied: {unknown}"),
            ));
        }
        let wire: Wire = serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request(format!("invalid request: {e}")))?;
        Self::check(wire)
    }

    fn check(w: Wire) -> Result<Self, ApiError> {
        let messages = w
            .messages
            .ok_or_else(|| bad("messages", "missing required parameter: 'messages'"))?;
        if messages.is_empty() {
            return Err(bad("messages", "'messages' must hold at least one message"));
        }
        let messages = messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| check_message(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        if w.n.is_some_and(|n| n != 1) {
            return Err(bad("n", "only n = 1 is supported"));
        }
        for (name, v) in [
            ("frequency_penalty", w.frequency_penalty),
            ("presence_penalty", w.presence_penalty),
        ] {
            if v.is_some_and(|v| v != 0.0) {
                return Err(bad(name, format!("{name} is not supported (only 0)")));
            }
        }
        if w.logprobs == Some(true) {
            return Err(bad("logprobs", "logprobs are not supported"));
        }
        let max_tokens = w.max_completion_tokens.or(w.max_tokens);
        let param = if w.max_completion_tokens.is_some() {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        if max_tokens == Some(0) {
            return Err(bad(param, format!("{param} must be at least 1")));
        }
        let temperature = w.temperature.unwrap_or(DEFAULT_TEMPERATURE);
        if !(0.0..=2.0).contains(&temperature) {
            return Err(bad("temperature", "temperature must be between 0 and 2"));
        }
        let top_p = w.top_p.unwrap_or(DEFAULT_TOP_P);
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(bad("top_p", "top_p must be in (0, 1]"));
        }
        let stop = match w.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) => v,
        };
        if stop.len() > 4 || stop.iter().any(String::is_empty) {
            return Err(bad("stop", "stop takes up to 4 non-empty sequences"));
        }
        let stream = w.stream.unwrap_or(false);
        if w.stream_options.is_some() && !stream {
            return Err(bad("stream_options", "stream_options needs stream: true"));
        }
        Ok(Self {
            messages,
            max_tokens: max_tokens.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            temperature,
            top_p,
            top_k: w
                .top_k
                .map_or(0, |k| usize::try_from(k).unwrap_or(usize::MAX)),
            // OpenAI's seed is a signed 64-bit integer; its bits are the sampler's seed.
            seed: w.seed.map(|s| s as u64),
            stop,
            user: w.user,
            stream,
            include_usage: w
                .stream_options
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
        })
    }
}

fn check_message(i: usize, m: WireMessage) -> Result<Message, ApiError> {
    let param = format!("messages[{i}]");
    let role = match m.role.as_str() {
        "system" | "developer" => "system",
        "user" => "user",
        "assistant" => "assistant",
        other => {
            return Err(bad(
                &param,
                format!("messages[{i}]: role {other:?} is not supported (system, user, assistant)"),
            ));
        }
    };
    let content = match m.content {
        Some(Content::Text(t)) => t,
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for p in parts {
                match (p.kind.as_str(), p.text) {
                    ("text", Some(t)) => text.push_str(&t),
                    (kind, _) => {
                        return Err(bad(
                            &param,
                            format!(
                                "messages[{i}]: content part {kind:?} is not supported (text only)"
                            ),
                        ));
                    }
                }
            }
            text
        }
        None => return Err(bad(&param, format!("messages[{i}] has no content"))),
    };
    Ok(Message {
        role: role.into(),
        content,
    })
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The token counts of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt: usize,
    /// Tokens of the answer.
    pub completion: usize,
}

impl Usage {
    /// The OpenAI usage object.
    pub fn to_json(self) -> Value {
        json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion,
        })
    }
}

/// Identifies one response and its chunks.
#[derive(Debug, Clone)]
pub struct Head {
    /// `chatcmpl-…`.
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// The served model's id.
    pub model: String,
}

/// A whole (non-streamed) response.
pub fn completion(head: &Head, text: &str, finish_reason: &str, usage: Usage) -> Value {
    json!({
        "id": head.id,
        "object": "chat.completion",
        "created": head.created,
        "model": head.model,
        "system_fingerprint": crate::FINGERPRINT,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": text },
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": usage.to_json(),
    })
}

/// A stream chunk with a `delta` (and a finish reason on the last one).
pub fn chunk(head: &Head, delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": head.id,
        "object": "chat.completion.chunk",
        "created": head.created,
        "model": head.model,
        "system_fingerprint": crate::FINGERPRINT,
        "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason }],
    })
}

/// The stream's usage chunk (`stream_options.include_usage`): no choices.
pub fn usage_chunk(head: &Head, usage: Usage) -> Value {
    json!({
        "id": head.id,
        "object": "chat.completion.chunk",
        "created": head.created,
        "model": head.model,
        "system_fingerprint": crate::FINGERPRINT,
        "choices": [],
        "usage": usage.to_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ChatRequest, ApiError> {
        ChatRequest::parse(body.as_bytes())
    }

    #[test]
    fn official_client_requests_parse() {
        let r = parse(
            r#"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"}]},{"role":"assistant","content":"Hello"},{"role":"user","content":"More"}],"max_completion_tokens":20,"temperature":0,"seed":-1,"stop":"\n\n","user":"u1","stream":true,"stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert_eq!(r.messages.len(), 4);
        assert_eq!(r.messages[1].content, "Hi");
        assert_eq!(r.max_tokens, Some(20));
        assert_eq!(r.seed, Some(u64::MAX));
        assert_eq!(r.stop, vec!["\n\n".to_string()]);
        assert!(r.stream && r.include_usage);
        let d = parse(r#"{"messages":[{"role":"user","content":"Hi"}]}"#).unwrap();
        assert_eq!((d.temperature, d.top_p, d.max_tokens), (0.7, 0.95, None));
    }

    #[test]
    fn bad_requests_are_refused_with_the_parameter_named() {
        for (body, needle) in [
            ("{", "not valid JSON"),
            ("[]", "JSON object"),
            (r#"{"messages":[]}"#, "at least one message"),
            (r#"{"model":"m"}"#, "missing required parameter"),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"foo":1}"#,
                "unrecognized request argument supplied: foo",
            ),
            (
                r#"{"messages":[{"role":"tool","content":"x"}]}"#,
                "role \"tool\"",
            ),
            (r#"{"messages":[{"role":"user"}]}"#, "has no content"),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"n":2}"#,
                "n = 1",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":0}"#,
                "at least 1",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"max_tokens":-5}"#,
                "invalid request",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"temperature":3}"#,
                "between 0 and 2",
            ),
            (
                r#"{"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}"#,
                "needs stream",
            ),
        ] {
            let e = parse(body).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{body}");
            assert!(e.message.contains(needle), "{body}: {}", e.message);
            assert!(!e.message.contains('\n'), "{}", e.message);
        }
    }
}

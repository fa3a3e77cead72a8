//! One HTTP attempt at a chat completion, and how its failures are judged: what is retried,
//! how long to wait, and what the server's error says.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use serde::Deserialize;
use serde_json::Value;

use crate::{ApiKey, ClientError, Usage};

/// First backoff step; each retry doubles it, up to [`BACKOFF_CAP`].
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest backoff step.
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Longest `Retry-After` honoured; a longer one waits this long.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);
/// Server text quoted in errors is cut to this many characters.
const QUOTE_CHARS: usize = 200;

/// The answer of a successful attempt.
#[derive(Debug)]
pub(crate) struct Answer {
    pub content: String,
    pub model: Option<String>,
    pub finish_reason: Option<String>,
    pub created: Option<u64>,
    pub usage: Usage,
    pub request_id: Option<String>,
}

/// What one attempt came to.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The server answered.
    Answer(Answer),
    /// A failure worth retrying (429, 5xx, connection error, timeout), with the server's
    /// `Retry-After` if it sent one.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// A failure that retrying will not change.
    Fatal(ClientError),
}

/// The chat-completions endpoint of one server.
#[derive(Debug)]
pub(crate) struct Endpoint {
    client: reqwest::Client,
    url: String,
    key: Option<ApiKey>,
}

impl Endpoint {
    /// An endpoint at `{base}/chat/completions`; `base` is already checked.
    pub fn new(base: &str, key: Option<ApiKey>, timeout: Duration) -> Result<Self, ClientError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| ClientError::Runtime(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            url: format!("{base}/chat/completions"),
            key,
        })
    }

    /// POSTs `body` once.
    pub async fn attempt(&self, body: &(impl serde::Serialize + Sync)) -> Attempt {
        let mut request = self.client.post(&self.url).json(body);
        if let Some(key) = &self.key {
            request = request.header(AUTHORIZATION, format!("Bearer {}", key.expose()));
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return self.transport(&e),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return self.transport(&e),
        };
        let text = String::from_utf8_lossy(&bytes);
        if status.is_success() {
            return match parse_answer(&text, self.key.as_ref()) {
                Ok(a) => Attempt::Answer(a),
                Err(e) => Attempt::Fatal(e),
            };
        }
        let message = error_message(status, &text, self.key.as_ref());
        if retryable(status) {
            Attempt::Retry {
                reason: format!("{} {message}", status.as_u16()),
                retry_after,
            }
        } else {
            Attempt::Fatal(ClientError::Refused {
                status: status.as_u16(),
                message,
            })
        }
    }

    /// A connection error, timeout or broken answer: always retried.
    fn transport(&self, e: &reqwest::Error) -> Attempt {
        let reason = if e.is_timeout() {
            "no answer within the timeout".to_string()
        } else {
            // The innermost cause is the telling one ("Connection refused (os error 111)").
            let mut cause: &dyn std::error::Error = e;
            while let Some(next) = cause.source() {
                cause = next;
            }
            let what = if e.is_connect() {
                "cannot connect to"
            } else {
                "request to"
            };
            format!("{what} {}: {cause}", self.url)
        };
        Attempt::Retry {
            reason: quote(&reason, self.key.as_ref()),
            retry_after: None,
        }
    }
}

/// 408, 429 and every 5xx are retried; other failures are not.
pub(crate) fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

/// A `Retry-After` in seconds (integer or decimal); HTTP dates are not read.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs).min(RETRY_AFTER_CAP))
}

/// The wait before retry number `retry` (1-based): full jitter over an exponential step
/// (0.5 s × 2^(retry−1), capped at 30 s), but never less than the server's `Retry-After`.
/// `unit` is a uniform draw from [0, 1).
pub(crate) fn backoff(retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let jittered = step.mul_f64(unit.clamp(0.0, 1.0));
    retry_after.map_or(jittered, |r| r.max(jittered))
}

/// A uniform draw from [0, 1) for jitter (0.5 if the OS has no randomness to give).
pub(crate) fn unit_random() -> f64 {
    getrandom::u64().map_or(0.5, |r| (r >> 11) as f64 / (1u64 << 53) as f64)
}

#[derive(Deserialize)]
struct Completion {
    id: Option<String>,
    model: Option<String>,
    created: Option<u64>,
    choices: Option<Vec<Choice>>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<Message>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

/// Reads a 2xx body as a chat completion. An OpenAI error object in it is a refusal.
pub(crate) fn parse_answer(text: &str, key: Option<&ApiKey>) -> Result<Answer, ClientError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|_| ClientError::BadResponse(format!("not JSON: {:?}", quote(text, key))))?;
    if value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(ClientError::Refused {
            status: 200,
            message: error_message(StatusCode::OK, text, key),
        });
    }
    let c: Completion = serde_json::from_value(value)
        .map_err(|e| ClientError::BadResponse(quote(&e.to_string(), key)))?;
    let choice = c
        .choices
        .and_then(|cs| cs.into_iter().next())
        .ok_or_else(|| ClientError::BadResponse("no choices".into()))?;
    let message = choice
        .message
        .ok_or_else(|| ClientError::BadResponse("choices[0] has no message".into()))?;
    let mut usage = c.usage.unwrap_or_default();
    if usage.total_tokens == 0 {
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    }
    Ok(Answer {
        content: message.content.unwrap_or_default(),
        model: c.model,
        finish_reason: choice.finish_reason,
        created: c.created,
        usage,
        request_id: c.id,
    })
}

/// The server's message for a failed request: OpenAI's `error.message` (or a bare `error`,
/// `message` or `detail` string), else the body, else the status's reason.
pub(crate) fn error_message(status: StatusCode, body: &str, key: Option<&ApiKey>) -> String {
    let value: Option<Value> = serde_json::from_str(body).ok();
    let from_json = value.as_ref().and_then(|v| {
        let error = v.get("error");
        error
            .and_then(|e| e.get("message"))
            .or(error)
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"))
            .and_then(Value::as_str)
    });
    let message = match from_json {
        Some(m) => m,
        None if !body.trim().is_empty() => body,
        None => status.canonical_reason().unwrap_or("error"),
    };
    quote(message, key)
}

/// `text` made safe to quote in a one-line error: the API key masked, whitespace runs made
/// single spaces, cut to a short length.
pub(crate) fn quote(text: &str, key: Option<&ApiKey>) -> String {
    let masked = match key {
        Some(k) if !k.expose().is_empty() => text.replace(k.expose(), "<api key>"),
        _ => text.to_string(),
    };
    let one_line = masked.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_jitters_caps_and_honours_retry_after() {
        assert_eq!(
            backoff(1, None, 0.999_999),
            Duration::from_millis(500).mul_f64(0.999_999)
        );
        assert_eq!(backoff(3, None, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(20, None, 1.0), BACKOFF_CAP);
        assert_eq!(backoff(1, None, 0.0), Duration::ZERO);
        let one = Some(Duration::from_secs(1));
        assert_eq!(backoff(1, one, 0.9), Duration::from_secs(1));
        assert_eq!(backoff(8, one, 0.5), Duration::from_secs(15));
        for _ in 0..100 {
            let u = unit_random();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }

    #[test]
    fn retry_after_is_seconds() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 0.25 "),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_retry_after("86400"), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn statuses_are_judged() {
        for s in [429, 408, 500, 502, 503] {
            assert!(retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(!retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn error_messages_are_one_masked_line() {
        let key = ApiKey::new("sk-secret");
        let body = r#"{"error":{"message":"Incorrect API key provided: sk-secret.\nSee docs","type":"invalid_request_error"}}"#;
        let m = error_message(StatusCode::UNAUTHORIZED, body, Some(&key));
        assert_eq!(m, "Incorrect API key provided: <api key>. See docs");
        assert_eq!(error_message(StatusCode::NOT_FOUND, "", None), "Not Found");
        assert_eq!(
            error_message(StatusCode::BAD_REQUEST, r#"{"detail":"bad"}"#, None),
            "bad"
        );
        let long = quote(&"x".repeat(1000), None);
        assert_eq!(long.chars().count(), QUOTE_CHARS + 1);
    }

    #[test]
    fn answers_are_parsed_or_refused_clearly() {
        let ok = r#"{"id":"c1","model":"m","created":7,"choices":[{"message":{"content":"hi"},
            "finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
        let a = parse_answer(ok, None).unwrap();
        assert_eq!(
            (a.content.as_str(), a.created, a.usage.total_tokens),
            ("hi", Some(7), 5)
        );
        let err = |body: &str| parse_answer(body, None).unwrap_err().to_string();
        assert!(err("<html>oops</html>").contains("not JSON: \"<html>oops</html>\""));
        assert!(err(r#"{"choices":[]}"#).ends_with("no choices"));
        assert!(err(r#"{"object":"list"}"#).ends_with("no choices"));
        assert!(err(r#"{"choices":"x"}"#).contains("not an OpenAI chat completion"));
        let refused = err(r#"{"error":{"message":"quota exceeded"}}"#);
        assert_eq!(
            refused,
            "the endpoint refused the request: 200 quota exceeded"
        );
    }
}

//! The corpus record: one answer of the endpoint to one (prompt, repeat).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Token counts the server reported for one answer (zero where it reported none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt, chat template included.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Their sum, as the server reported it.
    #[serde(default)]
    pub total_tokens: u64,
}

/// One line of the output JSONL. The `response`, `prompt` and `id` fields are those the
/// `radioactivity` and `trace` readers take, so the corpus is read as it is. It never holds
/// the API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// The prompt's index in the prompts file (0-based).
    pub index: usize,
    /// Which repeat of the prompt this is (0-based).
    pub repeat: usize,
    /// The prompt's id, where its record has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The prompt, as sent.
    pub prompt: String,
    /// The answer: `choices[0].message.content` (empty if the server sent none).
    pub response: String,
    /// The model the server says answered (`model` of the response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Why generation stopped (`stop`, `length`…), as the server reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// The server's `created` timestamp (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    /// When the answering attempt was sent: RFC 3339, UTC, milliseconds
    /// (`2025-01-02T03:04:05.678Z`).
    pub requested_at: String,
    /// When its answer had arrived, in the same format.
    pub answered_at: String,
    /// Milliseconds from sending the answering attempt to having its whole answer.
    pub latency_ms: u64,
    /// HTTP attempts this answer took (1 without retries).
    pub attempts: u32,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
    /// The response's `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The base URL that was asked (without a trailing slash).
    pub base_url: String,
}

/// `t` as RFC 3339 in UTC with milliseconds, e.g. `2023-11-14T22:13:20.123Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()) as i64;
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = |ms: u64| rfc3339(UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn records_without_optional_fields_skip_them() {
        let r = QueryRecord {
            index: 0,
            repeat: 1,
            id: None,
            prompt: "p".into(),
            response: "r".into(),
            model: None,
            finish_reason: None,
            created: None,
            requested_at: rfc3339(UNIX_EPOCH),
            answered_at: rfc3339(UNIX_EPOCH),
            latency_ms: 3,
            attempts: 1,
            usage: Usage::default(),
            request_id: None,
            base_url: "http://h/v1".into(),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            !json.contains("\"id\"") && !json.contains("\"model\""),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<QueryRecord>(&json).unwrap(), r);
    }
}

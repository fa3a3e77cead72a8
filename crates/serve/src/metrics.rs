//! `/metrics`: requests, tokens, queue depth and latency histograms in Prometheus text
//! format (prometheus-client). No label ever holds an account, a key or a prompt.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by HTTP status.
    pub requests: Family<Vec<(String, String)>, Counter>,
    /// Prompt tokens of completed requests.
    pub prompt_tokens: Counter,
    /// Tokens generated for completed requests.
    pub completion_tokens: Counter,
    /// Requests waiting for a slot.
    pub queue_depth: Gauge,
    /// Sequences being decoded.
    pub active: Gauge,
    /// Requests whose client left before the answer was complete.
    pub cancelled: Counter,
    /// Seconds from arrival to the complete answer.
    pub latency: Histogram,
    /// Seconds from arrival to the first text of the answer.
    pub first_token: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tracemark");
        let requests = Family::<Vec<(String, String)>, Counter>::default();
        let prompt_tokens = Counter::default();
        let completion_tokens = Counter::default();
        let queue_depth = Gauge::default();
        let active = Gauge::default();
        let cancelled = Counter::default();
        let latency = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let first_token = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "requests",
            "Chat-completion requests answered, by HTTP status",
            requests.clone(),
        );
        registry.register(
            "prompt_tokens",
            "Prompt tokens of completed requests",
            prompt_tokens.clone(),
        );
        registry.register(
            "completion_tokens",
            "Tokens generated for completed requests",
            completion_tokens.clone(),
        );
        registry.register(
            "queue_depth",
            "Requests waiting for a sequence slot",
            queue_depth.clone(),
        );
        registry.register(
            "active_sequences",
            "Sequences being decoded",
            active.clone(),
        );
        registry.register(
            "cancelled",
            "Requests whose client left before the answer was complete",
            cancelled.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Seconds from a request's arrival to its complete answer",
            latency.clone(),
        );
        registry.register(
            "time_to_first_token_seconds",
            "Seconds from a request's arrival to the first text of its answer",
            first_token.clone(),
        );
        Self {
            registry,
            requests,
            prompt_tokens,
            completion_tokens,
            queue_depth,
            active,
            cancelled,
            latency,
            first_token,
        }
    }
}

impl Metrics {
    /// Counts one answered request with `status`.
    pub fn answered(&self, status: u16) {
        self.requests
            .get_or_create(&vec![("status".to_string(), status.to_string())])
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

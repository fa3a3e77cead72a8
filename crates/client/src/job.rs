//! The query job: resume, bounded concurrency, the request budget, retries and writing.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracemark_io::{JsonlAppender, Prompts};

use crate::check::{Existing, check_base_url, check_options, resumable};
use crate::http::{Answer, Attempt, Endpoint, backoff, unit_random};
use crate::record::rfc3339;
use crate::{ClientError, QueryOptions, QueryProgress, QueryRecord, QuerySummary, RetryNote};

/// The budget of HTTP attempts.
struct Budget {
    max: Option<usize>,
    used: AtomicUsize,
}

impl Budget {
    /// Takes one attempt from the budget; false when none is left.
    fn take(&self) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| match self.max {
                Some(max) if used >= max => None,
                _ => Some(used + 1),
            })
            .is_ok()
    }

    /// Whether nothing is left.
    fn spent(&self) -> bool {
        self.max
            .is_some_and(|max| self.used.load(Ordering::SeqCst) >= max)
    }
}

/// What the request tasks share.
struct Shared {
    endpoint: Endpoint,
    base_url: String,
    model: String,
    texts: Vec<String>,
    ids: Vec<Option<String>>,
    max_tokens: usize,
    temperature: Option<f32>,
    top_p: Option<f32>,
    seed: Option<u64>,
    max_retries: u32,
    budget: Budget,
}

/// The request body.
#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: [Message<'a>; 1],
    max_tokens: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    stream: bool,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    content: &'a str,
}

impl Shared {
    fn body(&self, index: usize, repeat: usize) -> Body<'_> {
        Body {
            model: &self.model,
            messages: [Message {
                role: "user",
                content: &self.texts[index],
            }],
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            // Repeats differ but are reproducible.
            seed: self.seed.map(|s| s.wrapping_add(repeat as u64)),
            stream: false,
        }
    }

    fn record(&self, index: usize, repeat: usize, a: Answer, sent: SystemTime) -> QueryRecord {
        let answered = SystemTime::now();
        let latency = answered.duration_since(sent).unwrap_or(Duration::ZERO);
        QueryRecord {
            index,
            repeat,
            id: self.ids[index].clone(),
            prompt: self.texts[index].clone(),
            response: a.content,
            model: a.model,
            finish_reason: a.finish_reason,
            created: a.created,
            requested_at: rfc3339(sent),
            answered_at: rfc3339(answered),
            latency_ms: latency.as_millis() as u64,
            attempts: 0,
            usage: a.usage,
            request_id: a.request_id,
            base_url: self.base_url.clone(),
        }
    }
}

/// How one (prompt, repeat) ended.
enum End {
    Answered(QueryRecord),
    /// A failure that ends the job.
    Failed(ClientError),
    /// The budget ran out before a retry.
    Abandoned,
    /// The job was stopped by another pair's failure.
    Stopped,
}

/// Asks one (prompt, repeat), retrying as the policy says; its first attempt is already
/// taken from the budget. Returns the attempts made and how it ended.
async fn ask(
    shared: Arc<Shared>,
    index: usize,
    repeat: usize,
    notes: mpsc::UnboundedSender<RetryNote>,
    mut stop: watch::Receiver<bool>,
) -> (u32, End) {
    let body = shared.body(index, repeat);
    let mut attempts = 1;
    loop {
        let sent = SystemTime::now();
        let (reason, retry_after) = match shared.endpoint.attempt(&body).await {
            Attempt::Answer(a) => {
                let mut record = shared.record(index, repeat, a, sent);
                record.attempts = attempts;
                return (attempts, End::Answered(record));
            }
            Attempt::Fatal(e) => return (attempts, End::Failed(e)),
            Attempt::Retry {
                reason,
                retry_after,
            } => (reason, retry_after),
        };
        if attempts > shared.max_retries {
            let last = reason;
            let e = ClientError::GaveUp {
                index,
                repeat,
                attempts,
                last,
            };
            return (attempts, End::Failed(e));
        }
        if *stop.borrow() {
            return (attempts, End::Stopped);
        }
        if shared.budget.spent() {
            return (attempts, End::Abandoned);
        }
        let wait = backoff(attempts, retry_after, unit_random());
        let note = RetryNote {
            index,
            repeat,
            attempt: attempts,
            reason,
            wait,
        };
        let _ = notes.send(note);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return (attempts, End::Stopped),
        }
        if !shared.budget.take() {
            return (attempts, End::Abandoned);
        }
        attempts += 1;
    }
}

/// Asks every prompt `opts.repeats` times and appends the answers to `out` as they arrive
/// (see the crate docs). Pairs already in `out` are skipped unless `opts.force`. The job
/// ends with an error on the first failure that is not retried or outlives its retries,
/// after writing the answers still in flight; when the budget runs out it ends normally
/// with `budget_exhausted` set.
pub async fn query(
    opts: &QueryOptions,
    prompts: &Prompts,
    out: &Path,
    progress: &dyn QueryProgress,
) -> Result<QuerySummary, ClientError> {
    let started = Instant::now();
    let base_url = check_base_url(&opts.base_url)?;
    check_options(opts)?;
    let endpoint = Endpoint::new(&base_url, opts.api_key.clone(), opts.timeout)?;
    let (mut appender, existing) = if opts.force {
        (JsonlAppender::create(out)?, Vec::new())
    } else {
        JsonlAppender::open::<Existing>(out, "tracemark query record")?
    };
    let done = resumable(&existing, prompts, out)?;
    let total = prompts.len() * opts.repeats;
    let todo: Vec<(usize, usize)> = (0..prompts.len())
        .flat_map(|i| (0..opts.repeats).map(move |r| (i, r)))
        .filter(|pair| !done.contains(pair))
        .collect();
    let mut summary = QuerySummary {
        resumed: total - todo.len(),
        ..QuerySummary::default()
    };
    let shared = Arc::new(Shared {
        endpoint,
        base_url,
        model: opts.model.clone().unwrap_or_else(|| "default".into()),
        texts: prompts.texts().to_vec(),
        ids: (0..prompts.len())
            .map(|i| prompts.id(i).map(String::from))
            .collect(),
        max_tokens: opts.max_tokens,
        temperature: opts.temperature,
        top_p: opts.top_p,
        seed: opts.seed,
        max_retries: opts.max_retries,
        budget: Budget {
            max: opts.max_requests,
            used: AtomicUsize::new(0),
        },
    });
    let (note_tx, mut note_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut error: Option<ClientError> = None;
    let fail = |e: ClientError, error: &mut Option<ClientError>| {
        if error.is_none() {
            *error = Some(e);
            let _ = stop_tx.send(true);
        }
    };
    let mut pending = todo.into_iter();
    let mut set = JoinSet::new();
    progress.start(pending.len() as u64);
    loop {
        // Start pairs while there is room, budget and no failure.
        while error.is_none() && !summary.budget_exhausted && set.len() < opts.concurrency {
            let Some((index, repeat)) = pending.next() else {
                break;
            };
            if !shared.budget.take() {
                summary.budget_exhausted = true;
                break;
            }
            let task = ask(
                shared.clone(),
                index,
                repeat,
                note_tx.clone(),
                stop_rx.clone(),
            );
            set.spawn(task);
        }
        let joined = tokio::select! {
            biased;
            Some(note) = note_rx.recv() => {
                progress.retry(&note);
                continue;
            }
            joined = set.join_next() => joined,
        };
        let Some(joined) = joined else {
            break;
        };
        let (attempts, end) = match joined {
            Ok(outcome) => outcome,
            Err(e) => {
                fail(
                    ClientError::Runtime(format!("a request task failed: {e}")),
                    &mut error,
                );
                continue;
            }
        };
        summary.retries += attempts.saturating_sub(1) as usize;
        match end {
            End::Answered(record) => match appender.append(&record) {
                Ok(()) => {
                    summary.answered += 1;
                    summary.prompt_tokens += record.usage.prompt_tokens;
                    summary.completion_tokens += record.usage.completion_tokens;
                    progress.done(&record);
                }
                Err(e) => fail(e.into(), &mut error),
            },
            End::Failed(e) => fail(e, &mut error),
            End::Abandoned => {
                summary.failed += 1;
                summary.budget_exhausted = true;
            }
            End::Stopped => {}
        }
    }
    progress.finish();
    if let Some(e) = error {
        return Err(e);
    }
    summary.requests = shared.budget.used.load(Ordering::SeqCst);
    summary.remaining = total - summary.resumed - summary.answered;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_attempts() {
        let b = Budget {
            max: Some(2),
            used: AtomicUsize::new(0),
        };
        assert!(b.take() && !b.spent() && b.take() && b.spent() && !b.take());
        let free = Budget {
            max: None,
            used: AtomicUsize::new(0),
        };
        assert!((0..1000).all(|_| free.take()) && !free.spent());
    }

    #[test]
    fn seeds_follow_repeats_and_the_body_is_openai_shaped() {
        let shared = Shared {
            endpoint: Endpoint::new("http://h/v1", None, Duration::from_secs(1)).unwrap(),
            base_url: "http://h/v1".into(),
            model: "default".into(),
            texts: vec!["hello".into()],
            ids: vec![None],
            max_tokens: 16,
            temperature: Some(0.7),
            top_p: None,
            seed: Some(41),
            max_retries: 0,
            budget: Budget {
                max: None,
                used: AtomicUsize::new(0),
            },
        };
        let json = serde_json::to_string(&shared.body(0, 2)).unwrap();
        assert_eq!(
            json,
            r#"{"model":"default","messages":[{"role":"user","content":"hello"}],"max_tokens":16,"temperature":0.7,"seed":43,"stream":false}"#
        );
    }
}

//! The decode loop: one thread owns the model and advances every admitted request's
//! sequence in one [`BatchedModel::step_slots`] call per round, each through its own
//! [`Embedder`] (its key, account and seed) and [`Decoding`], the loop `generate` runs, so an
//! answer is the one `generate` writes alone.
//!
//! Requests wait in a bounded queue; a request whose client has gone (its event receiver
//! dropped) is cancelled at the next round and its slot freed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tracemark_embed::{Decoding, Embedder, Next, StopReason};
use tracemark_io::TextTokenizer;
use tracemark_model::BatchedModel;
use tracemark_workflow::chat::complete_text;

use crate::metrics::Metrics;

/// One request for the engine.
pub struct Job {
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// Chooses (and watermarks) every token.
    pub embedder: Embedder,
    /// The answer's token limit.
    pub max_tokens: usize,
    /// Stop sequences: the answer ends before the first one.
    pub stop: Vec<String>,
    /// Where the answer goes, piece by piece.
    pub events: UnboundedSender<Event>,
}

/// What the engine tells a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// More of the answer's text (never a split character).
    Text(String),
    /// The answer is complete.
    Done(Finished),
    /// The request failed in the model.
    Failed(String),
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The text returned to the client.
    pub text: String,
    /// The answer's token ids.
    pub ids: Vec<u32>,
    /// Why it stopped.
    pub stop: StopReason,
}

/// The handle the HTTP side submits jobs through.
#[derive(Clone)]
pub struct EngineHandle {
    queue: SyncSender<Job>,
    queued: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is full.
    Full,
    /// The engine has stopped.
    Stopped,
}

impl EngineHandle {
    /// Queues `job`, or refuses it at once when the queue is full.
    pub fn submit(&self, job: Job) -> Result<(), SubmitError> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let result = self.queue.try_send(job).map_err(|e| {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            match e {
                TrySendError::Full(_) => SubmitError::Full,
                TrySendError::Disconnected(_) => SubmitError::Stopped,
            }
        });
        self.metrics
            .queue_depth
            .set(self.queued.load(Ordering::SeqCst) as i64);
        result
    }
}

/// Starts the engine thread over `model` with a queue of `queue` waiting jobs. The thread
/// ends when every handle is dropped and the last answer is done.
pub fn start(
    model: Box<dyn BatchedModel>,
    tokenizer: TextTokenizer,
    queue: usize,
    metrics: Arc<Metrics>,
) -> std::io::Result<(EngineHandle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = sync_channel(queue);
    let queued = Arc::new(AtomicUsize::new(0));
    let handle = EngineHandle {
        queue: tx,
        queued: queued.clone(),
        metrics: metrics.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("tracemark-engine".into())
        .spawn(move || {
            Engine {
                slots: (0..model.slots()).map(|_| None).collect(),
                model,
                tokenizer,
                queued,
                metrics,
            }
            .run(&rx)
        })?;
    Ok((handle, thread))
}

/// One request's sequence in a slot.
struct Active {
    job: Job,
    decoding: Decoding,
    logits: Vec<f32>,
    /// The token to evaluate next round.
    pending: Option<u32>,
    /// Bytes of the text already sent.
    shown: usize,
    /// The answer's text ends here (a stop sequence matched).
    cut: Option<usize>,
}

struct Engine {
    model: Box<dyn BatchedModel>,
    tokenizer: TextTokenizer,
    slots: Vec<Option<Active>>,
    queued: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

impl Engine {
    fn run(mut self, rx: &Receiver<Job>) {
        let mut open = true;
        let mut bufs: Vec<Vec<f32>> = Vec::new();
        loop {
            open = open && self.admit(rx);
            let busy = self.slots.iter().flatten().count();
            self.metrics.active.set(busy as i64);
            if busy == 0 {
                if !open {
                    return;
                }
                continue;
            }
            let steps: Vec<(usize, u32)> = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(s, a)| Some((s, a.as_ref()?.pending?)))
                .collect();
            bufs.resize_with(steps.len(), Vec::new);
            if let Err(e) = self.model.step_slots(&steps, &mut bufs[..steps.len()]) {
                for &(s, _) in &steps {
                    self.fail(s, &format!("the model failed: {e}"));
                }
                continue;
            }
            for (&(s, _), logits) in steps.iter().zip(&mut bufs) {
                if let Some(active) = self.slots[s].as_mut() {
                    std::mem::swap(&mut active.logits, logits);
                }
                self.advance(s);
            }
        }
    }

    /// Fills free slots from the queue, waiting for work when idle; false once every
    /// handle is gone.
    fn admit(&mut self, rx: &Receiver<Job>) -> bool {
        // Cancelled requests free their slots first.
        for s in 0..self.slots.len() {
            if self.slots[s]
                .as_ref()
                .is_some_and(|a| a.job.events.is_closed())
            {
                self.metrics.cancelled.inc();
                self.release(s);
            }
        }
        while let Some(s) = self.slots.iter().position(Option::is_none) {
            let idle = self.slots.iter().all(Option::is_none);
            let job = if idle {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => return true,
                    Err(RecvTimeoutError::Disconnected) => return false,
                }
            } else {
                match rx.try_recv() {
                    Ok(job) => job,
                    Err(std::sync::mpsc::TryRecvError::Empty) => return true,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return false,
                }
            };
            let left = self.queued.fetch_sub(1, Ordering::SeqCst) - 1;
            self.metrics.queue_depth.set(left as i64);
            if job.events.is_closed() {
                self.metrics.cancelled.inc();
                continue;
            }
            self.begin(s, job);
        }
        true
    }

    fn begin(&mut self, s: usize, job: Job) {
        let mut logits = Vec::new();
        if let Err(e) = self.model.start_slot(s, &job.prompt_ids, &mut logits) {
            let _ = job
                .events
                .send(Event::Failed(format!("the model failed: {e}")));
            self.model.release_slot(s);
            return;
        }
        self.slots[s] = Some(Active {
            decoding: Decoding::new(&job.prompt_ids, job.max_tokens),
            job,
            logits,
            pending: None,
            shown: 0,
            cut: None,
        });
        self.advance(s);
    }

    /// Chooses slot `s`'s next token from its logits, sends the new text, and finishes it
    /// when it is done.
    fn advance(&mut self, s: usize) {
        let Some(a) = self.slots[s].as_mut() else {
            return;
        };
        let model = &self.model;
        let mut next = a
            .decoding
            .advance(&mut a.job.embedder, &mut a.logits, |t| model.is_eog(t));
        a.pending = None;
        if a.decoding.last_kept().is_some() {
            let text = self.tokenizer.decode(a.decoding.ids());
            if let Some(cut) = find_stop(&text, &a.job.stop, a.shown) {
                a.cut = Some(cut);
                a.decoding.finish(StopReason::Stopped);
                next = Next::Finished(StopReason::Stopped);
            } else {
                // Text that may start a stop sequence waits until it is known not to.
                let end = text.len() - held_back(&text, &a.job.stop);
                if !text[..end].ends_with('\u{FFFD}')
                    && end > a.shown
                    && text.is_char_boundary(a.shown)
                    && text.is_char_boundary(end)
                {
                    let _ = a
                        .job
                        .events
                        .send(Event::Text(text[a.shown..end].to_string()));
                    a.shown = end;
                }
            }
        }
        match next {
            Next::Evaluate(token) => a.pending = Some(token),
            Next::Finished(_) => self.finish(s),
        }
    }

    fn finish(&mut self, s: usize) {
        let Some(a) = self.slots[s].take() else {
            return;
        };
        self.model.release_slot(s);
        let generation = a.decoding.into_generation();
        let text = match a.cut {
            Some(cut) => self.tokenizer.decode(&generation.ids)[..cut].to_string(),
            None => complete_text(&self.tokenizer, &generation.ids),
        };
        if text.len() > a.shown && text.is_char_boundary(a.shown) {
            let _ = a.job.events.send(Event::Text(text[a.shown..].to_string()));
        }
        let _ = a.job.events.send(Event::Done(Finished {
            text,
            ids: generation.ids,
            stop: generation.stop,
        }));
    }

    fn fail(&mut self, s: usize, message: &str) {
        if let Some(a) = self.slots[s].take() {
            let _ = a.job.events.send(Event::Failed(message.to_string()));
        }
        self.model.release_slot(s);
    }

    fn release(&mut self, s: usize) {
        self.slots[s] = None;
        self.model.release_slot(s);
    }
}

/// Where the first stop sequence starts in `text`, searching what may have grown since
/// byte `shown` was sent.
fn find_stop(text: &str, stops: &[String], shown: usize) -> Option<usize> {
    stops
        .iter()
        .filter_map(|stop| {
            let mut from = shown.saturating_sub(stop.len());
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            text[from..].find(stop.as_str()).map(|i| from + i)
        })
        .min()
}

/// Bytes at the end of `text` that could be the start of a stop sequence, and so are not
/// sent yet.
fn held_back(text: &str, stops: &[String]) -> usize {
    stops
        .iter()
        .flat_map(|stop| {
            (1..stop.len())
                .filter(|&n| stop.is_char_boundary(n))
                .map(move |n| &stop[..n])
        })
        .filter(|prefix| text.ends_with(prefix))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_sequences_are_found_and_held_back() {
        let stops = vec!["END".to_string(), "\n\n".to_string()];
        assert_eq!(find_stop("abc EN", &stops, 0), None);
        assert_eq!(held_back("abc EN", &stops), 2);
        assert_eq!(find_stop("abc END x", &stops, 5), Some(4));
        assert_eq!(find_stop("a\n\nb", &stops, 0), Some(1));
        assert_eq!(held_back("abc", &stops), 0);
        assert_eq!(held_back("é", &["éa".to_string()]), 2);
    }
}

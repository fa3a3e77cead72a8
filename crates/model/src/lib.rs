//! The engine-agnostic language-model interface.
//!
//! Everything that reads or runs a model goes through [`LanguageModel`]: generation, the
//! quality guard's teacher forcing, and radioactivity's reading mode. It has no I/O and no
//! engine: `tracemark-runtime` implements it over llama.cpp, and students (small models
//! trained on harvested answers) implement it in pure Rust, so code written against the
//! trait never needs a C++ toolchain. [`BatchedModel`] holds several sequences at once, for
//! a server that decodes concurrent requests together.

#![deny(missing_docs)]

mod batched;
mod error;

pub use batched::{BatchedModel, PerSlot, check_steps};
pub use error::ModelError;

/// A next-token predictor over a fixed vocabulary of token ids.
///
/// A model holds one sequence at a time. [`start`](Self::start) (or
/// [`score_all`](Self::score_all)) replaces it; [`step`](Self::step) appends one token.
/// Logits are raw, unnormalised scores, one per vocabulary entry; callers apply their own
/// bias, softmax and sampling. No BOS token is added: the caller passes exactly the ids to
/// evaluate.
///
/// Implementations: `tracemark_runtime::LlamaModel` (llama.cpp); student models elsewhere
/// in the workspace.
pub trait LanguageModel {
    /// Number of entries in every logits vector.
    fn vocab_size(&self) -> usize;

    /// Start a new sequence: clear all state, evaluate `prompt`, and return the logits
    /// for the token after the last prompt token.
    ///
    /// Errors on an empty prompt, an out-of-vocabulary id, or a prompt longer than
    /// [`context_length`](Self::context_length).
    fn start(&mut self, prompt: &[u32]) -> Result<&[f32], ModelError>;

    /// Append `token` to the current sequence and return the next-token logits.
    fn step(&mut self, token: u32) -> Result<&[f32], ModelError>;

    /// Teacher forcing: the logits at every position of `tokens`, evaluated in as few
    /// batches as the engine allows. Row `i` of the result is the distribution of token
    /// `i + 1` given `tokens[..=i]`, so there are `tokens.len()` rows and the last row
    /// predicts the token after the sequence.
    ///
    /// Like [`start`](Self::start) this replaces the current sequence; afterwards
    /// [`step`](Self::step) continues after the last token of `tokens`.
    fn score_all(&mut self, tokens: &[u32]) -> Result<Logits, ModelError>;

    /// The argmax token of every row of [`score_all`](Self::score_all) (ties go to the
    /// lowest id), without keeping all rows in memory where the engine can avoid it.
    fn top1_all(&mut self, tokens: &[u32]) -> Result<Vec<u32>, ModelError> {
        Ok(self.score_all(tokens)?.rows().map(argmax).collect())
    }

    /// Token ids that end a generation (end-of-text, end-of-turn, ...).
    fn eog_tokens(&self) -> &[u32];

    /// Maximum sequence length (prompt plus generated tokens), if bounded.
    fn context_length(&self) -> Option<usize>;

    /// A one-line identifier of the model, for records and reports.
    fn describe(&self) -> String;

    /// Whether `token` ends a generation.
    fn is_eog(&self, token: u32) -> bool {
        self.eog_tokens().contains(&token)
    }

    /// Check before generating that `prompt_len + max_new_tokens` tokens fit in the
    /// context window, so that a long generation fails at once instead of midway.
    fn ensure_fits(&self, prompt_len: usize, max_new_tokens: usize) -> Result<(), ModelError> {
        let needed = prompt_len.saturating_add(max_new_tokens);
        match self.context_length() {
            Some(n_ctx) if needed > n_ctx => Err(ModelError::ContextFull { needed, n_ctx }),
            _ => Ok(()),
        }
    }
}

/// Logits for a sequence of positions, stored flat in one allocation (row-major,
/// `len() * vocab_size()` floats).
#[derive(Debug, Clone, PartialEq)]
pub struct Logits {
    data: Vec<f32>,
    vocab_size: usize,
}

impl Logits {
    /// Wrap a flat row-major buffer.
    ///
    /// # Panics
    /// If `vocab_size` is zero or does not divide `data.len()`.
    pub fn from_flat(data: Vec<f32>, vocab_size: usize) -> Self {
        assert!(
            vocab_size > 0 && data.len().is_multiple_of(vocab_size),
            "logits buffer of {} floats is not a whole number of rows of {vocab_size}",
            data.len()
        );
        Self { data, vocab_size }
    }

    /// An empty buffer with room for `rows` rows.
    pub fn with_capacity(rows: usize, vocab_size: usize) -> Self {
        Self::from_flat(Vec::with_capacity(rows * vocab_size), vocab_size)
    }

    /// Append one row.
    ///
    /// # Panics
    /// If `row.len() != self.vocab_size()`.
    pub fn push_row(&mut self, row: &[f32]) {
        assert_eq!(
            row.len(),
            self.vocab_size,
            "logits row has the wrong length"
        );
        self.data.extend_from_slice(row);
    }

    /// Number of rows (positions).
    pub fn len(&self) -> usize {
        self.data.len() / self.vocab_size
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Length of every row.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Row `i`: the logits for the token after position `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.vocab_size..(i + 1) * self.vocab_size]
    }

    /// Iterate over the rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> + '_ {
        self.data.chunks_exact(self.vocab_size)
    }

    /// The flat row-major buffer.
    pub fn as_flat(&self) -> &[f32] {
        &self.data
    }

    /// Take the flat row-major buffer.
    pub fn into_flat(self) -> Vec<f32> {
        self.data
    }
}

/// Index of the largest logit; ties go to the lowest index and NaNs are never chosen
/// (an all-NaN or empty slice gives 0).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_val = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_val {
            best = i;
            best_val = v;
        }
    }
    u32::try_from(best).expect("vocabulary larger than u32::MAX")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_ties_and_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NAN, -1.0, f32::NAN]), 1);
        assert_eq!(argmax(&[]), 0);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
    }

    #[test]
    fn logits_rows() {
        let mut l = Logits::with_capacity(2, 3);
        assert!(l.is_empty());
        l.push_row(&[0.0, 1.0, 2.0]);
        l.push_row(&[5.0, 1.0, 2.0]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.row(1), &[5.0, 1.0, 2.0]);
        assert_eq!(l.rows().map(argmax).collect::<Vec<_>>(), vec![2, 0]);
    }

    struct Fixed(Logits);
    impl LanguageModel for Fixed {
        fn vocab_size(&self) -> usize {
            self.0.vocab_size()
        }
        fn start(&mut self, _: &[u32]) -> Result<&[f32], ModelError> {
            Ok(self.0.row(0))
        }
        fn step(&mut self, _: u32) -> Result<&[f32], ModelError> {
            Ok(self.0.row(0))
        }
        fn score_all(&mut self, _: &[u32]) -> Result<Logits, ModelError> {
            Ok(self.0.clone())
        }
        fn eog_tokens(&self) -> &[u32] {
            &[2]
        }
        fn context_length(&self) -> Option<usize> {
            Some(10)
        }
        fn describe(&self) -> String {
            "fixed".into()
        }
    }

    #[test]
    fn provided_methods() {
        let mut m = Fixed(Logits::from_flat(vec![0.0, 1.0, 0.5, 9.0, 1.0, 0.5], 3));
        assert_eq!(m.top1_all(&[0, 1]).unwrap(), vec![1, 0]);
        assert!(m.is_eog(2) && !m.is_eog(1));
        assert!(m.ensure_fits(4, 6).is_ok());
        let err = m.ensure_fits(4, 7).unwrap_err().to_string();
        assert!(
            err.contains("11 tokens") && err.contains("10 tokens"),
            "{err}"
        );
    }
}

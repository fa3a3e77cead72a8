//! Errors of the model interface.

/// What can go wrong evaluating a model. Every message is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// `start` or `score_all` was given no tokens.
    #[error("cannot evaluate an empty token sequence (the prompt must hold at least one token)")]
    EmptyInput,

    /// `step` was called before `start` (or `score_all`).
    #[error("step() called before start(): no sequence to extend")]
    NotStarted,

    /// The sequence would not fit in the context window.
    #[error(
        "sequence of {needed} tokens does not fit the context window of {n_ctx} tokens; \
         shorten the prompt or generation, or load the model with a larger context (n_ctx)"
    )]
    ContextFull {
        /// Tokens the operation needs in the context.
        needed: usize,
        /// Context length of the loaded model.
        n_ctx: usize,
    },

    /// A token id is not in the vocabulary.
    #[error("token id {token} is out of range for a vocabulary of {vocab_size} tokens")]
    TokenOutOfRange {
        /// The offending id.
        token: u32,
        /// Vocabulary size.
        vocab_size: usize,
    },

    /// The engine failed to evaluate a batch.
    #[error("{0}")]
    Engine(String),
}

//! Errors of student training and student files.

/// What can go wrong building, training or decoding a student. Every message is one line;
/// callers at the file boundary prefix the file name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum StudentError {
    /// The n-gram order is outside the supported range.
    #[error("n-gram order {order} is not supported (use {min} to {max})")]
    Order {
        /// The requested order.
        order: usize,
        /// Smallest supported order.
        min: usize,
        /// Largest supported order.
        max: usize,
    },

    /// The vocabulary size is zero or does not fit a `u32` token id.
    #[error("vocabulary size {0} is not supported (use 1 to 4294967295)")]
    VocabSize(usize),

    /// A special token (separator, end of answer) is outside the vocabulary.
    #[error(
        "special token id {token} ({role}) is out of range for a vocabulary of {vocab_size} tokens"
    )]
    SpecialOutOfRange {
        /// Which special token.
        role: &'static str,
        /// The offending id.
        token: u32,
        /// Vocabulary size.
        vocab_size: usize,
    },

    /// A training token is outside the vocabulary.
    #[error("training token id {token} is out of range for a vocabulary of {vocab_size} tokens")]
    TokenOutOfRange {
        /// The offending id.
        token: u32,
        /// Vocabulary size.
        vocab_size: usize,
    },

    /// Training saw no tokens.
    #[error("no training tokens: the corpus holds no text")]
    NoTrainingData,

    /// The corpus is larger than the counts can hold.
    #[error("corpus too large: more than {max} training tokens")]
    TooManyTokens {
        /// The largest supported number of tokens.
        max: u64,
    },

    /// The bytes do not start with the student magic.
    #[error("not a tracemark student file (wrong magic bytes)")]
    NotAStudent,

    /// The file is a student of a format version this build cannot read.
    #[error(
        "student file format version {found} is not supported (this build reads version {supported}); distil the student again"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },

    /// The file is truncated, corrupt or inconsistent.
    #[error("corrupt student file: {0}")]
    Corrupt(String),
}

//! A student's configuration: vocabulary, n-gram order and the special tokens of its
//! chat-like training format, checked once when built.

use crate::StudentError;

/// Smallest supported n-gram order.
pub const MIN_ORDER: usize = 1;
/// Largest supported n-gram order.
pub const MAX_ORDER: usize = 10;

/// The special tokens of the chat-like training format
/// `prompt ++ [separator] ++ answer ++ [end_of_answer]`.
///
/// They are ids of the teacher's vocabulary, so the student's vocabulary is the teacher's;
/// for ChatML tokenizers such as SmolLM2's, `<|im_start|>` (1) and `<|im_end|>` (2). They may
/// be equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpecialTokens {
    /// Ends the prompt; the answer follows.
    pub separator: u32,
    /// Ends the answer: the student's only end-of-generation token.
    pub end_of_answer: u32,
}

/// A validated student configuration: vocabulary size, n-gram order, special tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StudentConfig {
    vocab_size: usize,
    order: usize,
    specials: SpecialTokens,
}

impl StudentConfig {
    /// The default n-gram order.
    pub const DEFAULT_ORDER: usize = 4;

    /// Checks that the order is in [`MIN_ORDER`]..=[`MAX_ORDER`], the
    /// vocabulary is non-empty with `u32` ids, and the special tokens are in it.
    pub fn new(
        vocab_size: usize,
        order: usize,
        specials: SpecialTokens,
    ) -> Result<Self, StudentError> {
        check_config(vocab_size, order, specials)?;
        Ok(Self {
            vocab_size,
            order,
            specials,
        })
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// N-gram order.
    pub fn order(&self) -> usize {
        self.order
    }

    /// Special tokens.
    pub fn specials(&self) -> SpecialTokens {
        self.specials
    }
}

/// Checks what a configuration can get wrong.
pub(crate) fn check_config(
    vocab_size: usize,
    order: usize,
    specials: SpecialTokens,
) -> Result<(), StudentError> {
    if !(MIN_ORDER..=MAX_ORDER).contains(&order) {
        return Err(StudentError::Order {
            order,
            min: MIN_ORDER,
            max: MAX_ORDER,
        });
    }
    if vocab_size == 0 || u32::try_from(vocab_size).is_err() {
        return Err(StudentError::VocabSize(vocab_size));
    }
    for (role, token) in [
        ("separator", specials.separator),
        ("end of answer", specials.end_of_answer),
    ] {
        if token as usize >= vocab_size {
            return Err(StudentError::SpecialOutOfRange {
                role,
                token,
                vocab_size,
            });
        }
    }
    Ok(())
}

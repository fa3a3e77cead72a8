//! Reading mode: teacher-force watermarked text through a suspect model.

use tracemark_core::TokenId;
use tracemark_detect::WindowSet;
use tracemark_model::{LanguageModel, ModelError};

use crate::tuples::{Outcome, TupleSet};

/// Longest block evaluated in one teacher-forced pass (Sander et al. use 256).
pub const READ_BLOCK: usize = 256;

/// The block length of [`read_with_model`] for `model`: [`READ_BLOCK`], or the model's
/// context if shorter.
pub fn read_block(model: &dyn LanguageModel) -> usize {
    model
        .context_length()
        .map_or(READ_BLOCK, |n| n.min(READ_BLOCK))
        .max(1)
}

/// Reads one watermarked text through `model`: the text is cut into blocks of at most
/// [`READ_BLOCK`] tokens (and the model's context), each block is teacher-forced with
/// logits at every position, and the top-1 prediction at each position is added to
/// `tuples` with its window from the text. Each block is its own context, so in-context
/// repeats are checked per block. Returns the outcome and the prediction at every position
/// of `text` (position `i` predicts the token after `text[i]`).
pub fn read_with_model(
    model: &mut dyn LanguageModel,
    text: &[TokenId],
    tuples: &mut TupleSet,
    require: Option<&WindowSet>,
) -> Result<(Vec<Outcome>, Vec<TokenId>), ModelError> {
    let block = read_block(model);
    let mut outcomes = Vec::with_capacity(text.len());
    let mut predictions = Vec::with_capacity(text.len());
    for chunk in text.chunks(block) {
        let predicted = model.top1_all(chunk)?;
        outcomes.extend(tuples.add_reading(chunk, &predicted, require));
        predictions.extend(predicted);
    }
    Ok((outcomes, predictions))
}

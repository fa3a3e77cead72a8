//! [`BatchedModel`]: a model that holds several sequences at once, in numbered slots, and
//! advances all of them in one evaluation; what a server needs to share one model between
//! concurrent requests.

use crate::{LanguageModel, ModelError};

/// Several sequences at once, one per slot (`0..slots()`), advanced together.
///
/// Each slot behaves like a [`LanguageModel`] of its own: [`start_slot`](Self::start_slot)
/// replaces the slot's sequence, [`step_slots`](Self::step_slots) appends one token to each
/// listed slot. An engine that batches (llama.cpp) evaluates every listed slot in one pass;
/// the logits of a slot must not depend on which other slots are evaluated with it, so an
/// answer generated in a slot is the answer [`LanguageModel`] generation gives alone.
///
/// The [`LanguageModel`] supertrait gives the vocabulary, end-of-generation tokens, the
/// context length of one slot and the description.
pub trait BatchedModel: LanguageModel + Send {
    /// Number of slots.
    fn slots(&self) -> usize;

    /// Replaces slot `slot`'s sequence with `prompt` and writes the next-token logits into
    /// `logits` (resized to the vocabulary).
    fn start_slot(
        &mut self,
        slot: usize,
        prompt: &[u32],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError>;

    /// Appends `steps[i].1` to slot `steps[i].0` for every `i`, in one evaluation where the
    /// engine allows, and writes each slot's next-token logits into `logits[i]`. A slot
    /// appears at most once; `logits` has one buffer per step.
    fn step_slots(
        &mut self,
        steps: &[(usize, u32)],
        logits: &mut [Vec<f32>],
    ) -> Result<(), ModelError>;

    /// Frees slot `slot`'s sequence.
    fn release_slot(&mut self, slot: usize);
}

/// Checks a list of steps against `slots` slots: in range, each slot at most once.
pub fn check_steps(steps: &[(usize, u32)], slots: usize) -> Result<(), ModelError> {
    let mut seen = vec![false; slots];
    for &(slot, _) in steps {
        match seen.get_mut(slot) {
            None => return Err(ModelError::Engine(format!("slot {slot} of only {slots}"))),
            Some(true) => return Err(ModelError::Engine(format!("slot {slot} stepped twice"))),
            Some(s) => *s = true,
        }
    }
    Ok(())
}

/// A [`BatchedModel`] made of one [`LanguageModel`] per slot, stepped one after the other:
/// for engines that hold one sequence (students), where a step is cheap.
pub struct PerSlot {
    models: Vec<Box<dyn LanguageModel + Send>>,
}

impl std::fmt::Debug for PerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerSlot")
            .field("slots", &self.models.len())
            .field("model", &self.models[0].describe())
            .finish()
    }
}

impl PerSlot {
    /// One slot per model; the models must be copies of one model.
    ///
    /// # Panics
    /// If `models` is empty.
    pub fn new(models: Vec<Box<dyn LanguageModel + Send>>) -> Self {
        assert!(!models.is_empty(), "PerSlot needs at least one model");
        Self { models }
    }
}

impl LanguageModel for PerSlot {
    fn vocab_size(&self) -> usize {
        self.models[0].vocab_size()
    }
    fn start(&mut self, prompt: &[u32]) -> Result<&[f32], ModelError> {
        self.models[0].start(prompt)
    }
    fn step(&mut self, token: u32) -> Result<&[f32], ModelError> {
        self.models[0].step(token)
    }
    fn score_all(&mut self, tokens: &[u32]) -> Result<crate::Logits, ModelError> {
        self.models[0].score_all(tokens)
    }
    fn eog_tokens(&self) -> &[u32] {
        self.models[0].eog_tokens()
    }
    fn context_length(&self) -> Option<usize> {
        self.models[0].context_length()
    }
    fn describe(&self) -> String {
        self.models[0].describe()
    }
}

impl BatchedModel for PerSlot {
    fn slots(&self) -> usize {
        self.models.len()
    }

    fn start_slot(
        &mut self,
        slot: usize,
        prompt: &[u32],
        logits: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        check_steps(&[(slot, 0)], self.models.len())?;
        let row = self.models[slot].start(prompt)?;
        logits.clear();
        logits.extend_from_slice(row);
        Ok(())
    }

    fn step_slots(
        &mut self,
        steps: &[(usize, u32)],
        logits: &mut [Vec<f32>],
    ) -> Result<(), ModelError> {
        check_steps(steps, self.models.len())?;
        for (&(slot, token), out) in steps.iter().zip(logits) {
            let row = self.models[slot].step(token)?;
            out.clear();
            out.extend_from_slice(row);
        }
        Ok(())
    }

    fn release_slot(&mut self, _slot: usize) {}
}

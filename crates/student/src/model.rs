//! [`KneserNey`]: a student behind the [`LanguageModel`] interface, over its count tables.

use tracemark_model::{LanguageModel, Logits, ModelError};

use crate::config::SpecialTokens;
use crate::tables::{Level, Tables};

/// A student: an interpolated modified Kneser-Ney n-gram model over a teacher's token ids,
/// behind [`LanguageModel`].
///
/// Build one with [`Trainer`](crate::Trainer), or read one with
/// [`from_bytes`](Self::from_bytes). Every token has a finite logit (the natural log of its
/// probability): the lowest level interpolates with the uniform distribution over the
/// vocabulary. The model has no context limit; it looks at the last `order − 1` tokens.
#[derive(Clone)]
pub struct KneserNey {
    pub(crate) tables: Tables,
    history: Vec<u32>,
    started: bool,
    eog: [u32; 1],
    probs: Vec<f64>,
    logits: Vec<f32>,
    candidates: Vec<u32>,
}

impl std::fmt::Debug for KneserNey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KneserNey")
            .field("order", &self.tables.order)
            .field("vocab_size", &self.tables.vocab_size)
            .field("specials", &self.tables.specials)
            .field("training_tokens", &self.tables.training_tokens)
            .field("ngrams", &self.ngram_counts())
            .finish_non_exhaustive()
    }
}

impl KneserNey {
    pub(crate) fn from_tables(tables: Tables) -> Self {
        let v = tables.vocab_size;
        Self {
            eog: [tables.specials.end_of_answer],
            tables,
            history: Vec::new(),
            started: false,
            probs: vec![0.0; v],
            logits: vec![0.0; v],
            candidates: Vec::new(),
        }
    }

    /// The n-gram order N: the model conditions on the last N − 1 tokens.
    pub fn order(&self) -> usize {
        self.tables.order
    }

    /// The separator and end-of-answer tokens of the training format.
    pub fn specials(&self) -> SpecialTokens {
        self.tables.specials
    }

    /// Tokens the model was trained on (special tokens included).
    pub fn training_tokens(&self) -> u64 {
        self.tables.training_tokens
    }

    /// Training sequences (one per answer).
    pub fn sequences(&self) -> u64 {
        self.tables.sequences
    }

    /// Distinct n-grams of each order, unigrams first.
    pub fn ngram_counts(&self) -> Vec<usize> {
        self.tables.levels.iter().map(Level::len).collect()
    }

    /// The discounts `[D1, D2, D3+]` of each order, unigrams first.
    pub fn discounts(&self) -> Vec<[f64; 3]> {
        self.tables.levels.iter().map(|l| l.discounts).collect()
    }

    /// The tokens to start an answer to a prompt with, as in training:
    /// `prompt ++ [separator]`. Generation then runs until the end-of-answer token.
    pub fn chat_prompt(&self, prompt: &[u32]) -> Vec<u32> {
        let mut ids = Vec::with_capacity(prompt.len() + 1);
        ids.extend_from_slice(prompt);
        ids.push(self.tables.specials.separator);
        ids
    }

    /// The probability of every token after `context` (in f64; the logits are their
    /// natural logs). An empty context gives the unigram distribution.
    pub fn probabilities(&self, context: &[u32]) -> Result<Vec<f64>, ModelError> {
        self.check_tokens(context)?;
        let mut probs = vec![0.0; self.tables.vocab_size];
        self.tables
            .fill(&self.tables.plan(self.tail(context)), &mut probs);
        Ok(probs)
    }

    fn check_tokens(&self, tokens: &[u32]) -> Result<(), ModelError> {
        let vocab_size = self.tables.vocab_size;
        match tokens.iter().find(|&&t| t as usize >= vocab_size) {
            Some(&token) => Err(ModelError::TokenOutOfRange { token, vocab_size }),
            None => Ok(()),
        }
    }

    /// The part of a history that the model looks at.
    fn tail<'a>(&self, tokens: &'a [u32]) -> &'a [u32] {
        &tokens[tokens.len().saturating_sub(self.tables.order - 1)..]
    }

    fn set_history(&mut self, tokens: &[u32]) {
        let tail = self.tail(tokens);
        self.history.clear();
        self.history.extend_from_slice(tail);
        self.started = true;
    }

    /// Computes the logits after the current history into `self.logits`.
    fn compute(&mut self) -> &[f32] {
        let plan = self.tables.plan(&self.history);
        self.tables.fill(&plan, &mut self.probs);
        for (l, &p) in self.logits.iter_mut().zip(&self.probs) {
            *l = p.ln() as f32;
        }
        &self.logits
    }
}

impl LanguageModel for KneserNey {
    fn vocab_size(&self) -> usize {
        self.tables.vocab_size
    }

    fn start(&mut self, prompt: &[u32]) -> Result<&[f32], ModelError> {
        if prompt.is_empty() {
            return Err(ModelError::EmptyInput);
        }
        self.check_tokens(prompt)?;
        self.set_history(prompt);
        Ok(self.compute())
    }

    fn step(&mut self, token: u32) -> Result<&[f32], ModelError> {
        if !self.started {
            return Err(ModelError::NotStarted);
        }
        self.check_tokens(&[token])?;
        if self.tables.order > 1 {
            if self.history.len() == self.tables.order - 1 {
                self.history.remove(0);
            }
            self.history.push(token);
        }
        Ok(self.compute())
    }

    fn score_all(&mut self, tokens: &[u32]) -> Result<Logits, ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::EmptyInput);
        }
        self.check_tokens(tokens)?;
        let mut rows = Logits::with_capacity(tokens.len(), self.tables.vocab_size);
        for i in 0..tokens.len() {
            self.set_history(&tokens[..=i]);
            rows.push_row(self.compute());
        }
        Ok(rows)
    }

    fn top1_all(&mut self, tokens: &[u32]) -> Result<Vec<u32>, ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::EmptyInput);
        }
        self.check_tokens(tokens)?;
        let mut top = Vec::with_capacity(tokens.len());
        for i in 0..tokens.len() {
            let plan = self.tables.plan(self.tail(&tokens[..=i]));
            top.push(self.tables.top1(&plan, &mut self.candidates));
        }
        self.set_history(tokens);
        Ok(top)
    }

    fn eog_tokens(&self) -> &[u32] {
        &self.eog
    }

    fn context_length(&self) -> Option<usize> {
        None
    }

    fn describe(&self) -> String {
        format!(
            "kn{} student (n-gram, {} training tokens)",
            self.tables.order,
            group_thousands(self.tables.training_tokens)
        )
    }
}

/// `1234567` → `"1,234,567"`.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(123_456_789), "123,456,789");
    }
}

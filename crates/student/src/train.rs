//! Training: count the n-grams of token sequences and turn them into a [`KneserNey`] model.
//!
//! The trainer keeps the corpus as one flat array of token ids, sequences separated by a
//! sentinel. [`Trainer::finish`] sorts all positions by the N tokens that follow them (never
//! crossing a sentinel), so every n-gram of every order is a run of consecutive positions;
//! one pass over the sorted positions then yields the sorted trie of every order with its raw
//! counts, and the positions of first occurrences give the continuation counts. Memory is
//! about `8 + 4·(N − 1)` bytes per training token while counting.

use std::cmp::Ordering;

use crate::StudentError;
use crate::config::{MAX_ORDER, StudentConfig};
use crate::model::KneserNey;
use crate::tables::{Level, Tables, count_of_counts, estimate_discounts};

/// Separates sequences in the flat corpus; never a token id (ids are below the vocabulary
/// size, which is at most `u32::MAX`).
const SENTINEL: u32 = u32::MAX;

/// Largest corpus (tokens plus one separator per sequence): positions are `u32`.
const MAX_FLAT_LEN: u64 = u32::MAX as u64 - MAX_ORDER as u64 - 1;

/// Collects training sequences, then counts them into a [`KneserNey`] model.
///
/// ```
/// use tracemark_student::{SpecialTokens, StudentConfig, Trainer};
/// use tracemark_model::{LanguageModel, argmax};
///
/// let specials = SpecialTokens { separator: 1, end_of_answer: 2 };
/// let mut trainer = Trainer::new(StudentConfig::new(100, 3, specials)?);
/// for _ in 0..5 {
///     trainer.add_exchange(&[10, 11], &[20, 21, 22])?;
/// }
/// let mut student = trainer.finish()?;
/// let prompt = student.chat_prompt(&[10, 11]);
/// assert_eq!(argmax(student.start(&prompt)?), 20);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Trainer {
    config: StudentConfig,
    /// All sequences, each followed by [`SENTINEL`].
    flat: Vec<u32>,
    tokens: u64,
    sequences: u64,
}

impl Trainer {
    /// An empty trainer.
    pub fn new(config: StudentConfig) -> Self {
        Self {
            config,
            flat: Vec::new(),
            tokens: 0,
            sequences: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StudentConfig {
        &self.config
    }

    /// Tokens added so far.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Sequences added so far.
    pub fn sequences(&self) -> u64 {
        self.sequences
    }

    /// Adds one sequence as it is (empty sequences are ignored). n-grams never cross from
    /// one sequence into the next. On error nothing is added.
    pub fn add_sequence(&mut self, ids: &[u32]) -> Result<(), StudentError> {
        self.add_parts(&[ids])
    }

    /// Adds one exchange in the chat-like format
    /// `prompt ++ [separator] ++ answer ++ [end_of_answer]` (the prompt may be empty), so
    /// the student learns to answer after the separator and to stop. On error nothing is
    /// added.
    pub fn add_exchange(&mut self, prompt: &[u32], answer: &[u32]) -> Result<(), StudentError> {
        let s = self.config.specials();
        self.add_parts(&[prompt, &[s.separator], answer, &[s.end_of_answer]])
    }

    fn add_parts(&mut self, parts: &[&[u32]]) -> Result<(), StudentError> {
        let vocab_size = self.config.vocab_size();
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len == 0 {
            return Ok(());
        }
        if let Some(&token) = parts
            .iter()
            .flat_map(|p| p.iter())
            .find(|&&t| t as usize >= vocab_size)
        {
            return Err(StudentError::TokenOutOfRange { token, vocab_size });
        }
        if (self.flat.len() + len + 1) as u64 > MAX_FLAT_LEN {
            return Err(StudentError::TooManyTokens { max: MAX_FLAT_LEN });
        }
        for part in parts {
            self.flat.extend_from_slice(part);
        }
        self.flat.push(SENTINEL);
        self.tokens += len as u64;
        self.sequences += 1;
        Ok(())
    }

    /// Counts the n-grams and estimates the discounts. Errors if no token was added.
    pub fn finish(self) -> Result<KneserNey, StudentError> {
        if self.tokens == 0 {
            return Err(StudentError::NoTrainingData);
        }
        let (vocab_size, n, specials) = (
            self.config.vocab_size(),
            self.config.order(),
            self.config.specials(),
        );
        let mut flat = self.flat;
        flat.extend(std::iter::repeat_n(SENTINEL, n));
        let flat = flat;

        let mut positions: Vec<u32> = (0..flat.len() as u32)
            .filter(|&p| flat[p as usize] != SENTINEL)
            .collect();
        positions.sort_unstable_by(|&a, &b| compare_windows(&flat, a as usize, b as usize, n));

        // One pass over the sorted positions: a position whose window shares the first
        // `lcp` tokens with the previous window extends the previous nodes of orders
        // 1..=lcp and opens new nodes above.
        let mut tokens: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut counts: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut parent: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut first: Vec<Vec<u32>> = vec![Vec::new(); n];
        // node_at[l][p]: the node of order l + 1 at position p (orders below N only).
        let mut node_at: Vec<Vec<u32>> = vec![vec![0; flat.len()]; n - 1];
        let mut cur = [0u32; MAX_ORDER];
        let (mut prev, mut prev_len) = (0usize, 0usize);
        for &p in &positions {
            let p = p as usize;
            let len = window_len(&flat, p, n);
            let lcp = (0..len.min(prev_len))
                .take_while(|&i| flat[p + i] == flat[prev + i])
                .count();
            for l in 0..len {
                if l < lcp {
                    counts[l][cur[l] as usize] += 1;
                } else {
                    cur[l] = tokens[l].len() as u32;
                    tokens[l].push(flat[p + l]);
                    counts[l].push(1);
                    if l > 0 {
                        parent[l].push(cur[l - 1]);
                        first[l].push(p as u32);
                    }
                }
                if l < n - 1 {
                    node_at[l][p] = cur[l];
                }
            }
            (prev, prev_len) = (p, len);
        }
        drop(positions);

        // Below the highest order, Kneser-Ney counts the distinct tokens seen before an
        // n-gram (the start of a sequence counting as one such token).
        let starts: Vec<usize> = (0..flat.len())
            .filter(|&p| flat[p] != SENTINEL && (p == 0 || flat[p - 1] == SENTINEL))
            .collect();
        for l in 0..n - 1 {
            let mut continuation = vec![0u32; tokens[l].len()];
            for &p in &first[l + 1] {
                continuation[node_at[l][p as usize + 1] as usize] += 1;
            }
            let mut at_start = vec![false; tokens[l].len()];
            for &s in &starts {
                if window_len(&flat, s, n) > l {
                    at_start[node_at[l][s] as usize] = true;
                }
            }
            for ((c, cont), start) in counts[l].iter_mut().zip(continuation).zip(at_start) {
                *c = cont + u32::from(start);
            }
        }
        drop(node_at);

        let mut levels = Vec::with_capacity(n);
        for l in 0..n {
            let child_start = if l + 1 < n {
                let mut cs = vec![0u32; tokens[l].len() + 1];
                for &par in &parent[l + 1] {
                    cs[par as usize + 1] += 1;
                }
                for i in 1..cs.len() {
                    cs[i] += cs[i - 1];
                }
                cs
            } else {
                Vec::new()
            };
            let counts = std::mem::take(&mut counts[l]);
            levels.push(Level {
                tokens: std::mem::take(&mut tokens[l]),
                discounts: estimate_discounts(count_of_counts(&counts)),
                counts,
                child_start,
            });
        }
        let tables = Tables::new(vocab_size, n, specials, self.tokens, self.sequences, levels)?;
        Ok(KneserNey::from_tables(tables))
    }
}

/// Number of tokens in the window of up to `n` tokens at `p`, stopping at a sentinel.
fn window_len(flat: &[u32], p: usize, n: usize) -> usize {
    flat[p..p + n]
        .iter()
        .position(|&t| t == SENTINEL)
        .unwrap_or(n)
}

/// Lexicographic order of the windows at `a` and `b` (the sentinel ends a window).
fn compare_windows(flat: &[u32], a: usize, b: usize, n: usize) -> Ordering {
    for (&x, &y) in flat[a..a + n].iter().zip(&flat[b..b + n]) {
        if x != y {
            return x.cmp(&y);
        }
        if x == SENTINEL {
            break;
        }
    }
    Ordering::Equal
}

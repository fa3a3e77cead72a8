//! The scored tuples of a test, collected once and shared by every key.
//!
//! Which (window, token) tuples count does not depend on the key: prompt-window exclusion,
//! the supervised filter, in-context repeats and the global dedup all look only at token
//! ids. So the tuples are collected once, deduplicated across the whole corpus, and then
//! scored under the true key and under every random key.

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashSet};
use serde::Serialize;
use std::hash::BuildHasher;
use tracemark_core::TokenId;
use tracemark_detect::{SkipReason, WindowSet};

/// Why a position was not scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// One of the first h tokens: no full context window.
    Prefix,
    /// Its window occurs in the answer's prompt.
    PromptWindow,
    /// Open mode: its window already occurred earlier in the text the suspect read.
    RepeatedWindow,
    /// Supervised: its window is not among the training windows kept.
    NotInFilter,
    /// Its (window, token) tuple was already scored.
    Duplicate,
}

impl From<SkipReason> for Skip {
    fn from(r: SkipReason) -> Self {
        match r {
            SkipReason::Prefix => Skip::Prefix,
            SkipReason::Duplicate => Skip::Duplicate,
            SkipReason::PromptWindow => Skip::PromptWindow,
            SkipReason::NotInFilter => Skip::NotInFilter,
        }
    }
}

/// Counts of what happened to every position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TupleCounts {
    /// Documents (answers, or texts read) added.
    pub documents: u64,
    /// Positions seen: answer tokens (closed) or predictions (open).
    pub tokens: u64,
    /// Skipped: no full window (the first h positions of each document).
    pub prefix: u64,
    /// Skipped: the window occurs in the answer's own prompt.
    pub prompt_window: u64,
    /// Skipped (open): the window occurred earlier in the text the suspect read.
    pub repeated_window: u64,
    /// Skipped (supervised): the window is not in the training filter.
    pub not_in_filter: u64,
    /// Skipped: the (window, token) tuple was already collected anywhere in the corpus.
    pub duplicate: u64,
    /// Distinct tuples collected for scoring.
    pub tuples: u64,
    /// Closed test with prompt exclusion: answers whose prompt was not known (no `prompt`
    /// field and none given), so windows copied from their prompt could not be excluded.
    pub without_prompt: u64,
}

/// What happened at one position of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Collected as tuple number `n` of the set.
    Tuple(u32),
    /// Not collected, and why.
    Skipped(Skip),
}

/// Deduplicated (window, token) tuples in corpus order (first occurrence).
#[derive(Clone)]
pub struct TupleSet {
    h: usize,
    /// h + 1 ids per tuple: the window, oldest first, then the token.
    flat: Vec<TokenId>,
    index: HashTable<u32>,
    hasher: FxBuildHasher,
    counts: TupleCounts,
}

impl std::fmt::Debug for TupleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TupleSet")
            .field("h", &self.h)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl TupleSet {
    /// An empty set for context width `h`.
    pub fn new(h: usize) -> Self {
        Self {
            h,
            flat: Vec::new(),
            index: HashTable::new(),
            hasher: FxBuildHasher,
            counts: TupleCounts::default(),
        }
    }

    /// The context width h.
    pub fn context_width(&self) -> usize {
        self.h
    }

    /// Number of distinct tuples.
    pub fn len(&self) -> usize {
        self.flat.len() / (self.h + 1)
    }

    /// Whether no tuple was collected.
    pub fn is_empty(&self) -> bool {
        self.flat.is_empty()
    }

    /// The counts so far.
    pub fn counts(&self) -> &TupleCounts {
        &self.counts
    }

    /// Tuple `i` as (window, token).
    pub fn get(&self, i: usize) -> (&[TokenId], TokenId) {
        let t = &self.flat[i * (self.h + 1)..(i + 1) * (self.h + 1)];
        (&t[..self.h], t[self.h])
    }

    /// All tuples in corpus order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[TokenId], TokenId)> + '_ {
        self.flat
            .chunks_exact(self.h + 1)
            .map(|t| (&t[..t.len() - 1], t[t.len() - 1]))
    }

    /// Closed test: adds a suspect's answer. Positions whose window occurs in `prompt` (the
    /// question that produced the answer) are excluded when it is given; with `require`
    /// (supervised), only windows in it count. Returns one outcome per answer token.
    pub fn add_answer(
        &mut self,
        answer: &[TokenId],
        prompt: Option<&WindowSet>,
        require: Option<&WindowSet>,
    ) -> Vec<Outcome> {
        self.counts.documents += 1;
        let h = self.h;
        (0..answer.len())
            .map(|i| {
                self.counts.tokens += 1;
                if i < h {
                    return self.skip(Skip::Prefix);
                }
                let (window, token) = (&answer[i - h..i], answer[i]);
                if prompt.is_some_and(|p| p.contains_tuple(window, token)) {
                    return self.skip(Skip::PromptWindow);
                }
                if !in_filter(require, answer, i) {
                    return self.skip(Skip::NotInFilter);
                }
                self.collect(window, token)
            })
            .collect()
    }

    /// Counts one closed-test answer whose prompt is unknown (see
    /// [`TupleCounts::without_prompt`]).
    pub fn note_missing_prompt(&mut self) {
        self.counts.without_prompt += 1;
    }

    /// Open test (reading mode): adds one watermarked text and the suspect's top-1
    /// predictions, `predicted[i]` being its prediction for the token after `text[..=i]`.
    ///
    /// Position `t` (1 ≤ t ≤ len) forms the tuple (window `text[t−h..t]`, `predicted[t−1]`).
    /// A window that already occurred earlier in `text` is skipped: the token that followed
    /// it then was chosen with this window's watermark and is in the suspect's context, so
    /// even a clean model could copy it. Returns one outcome per prediction.
    ///
    /// # Panics
    /// If `predicted` and `text` differ in length.
    pub fn add_reading(
        &mut self,
        text: &[TokenId],
        predicted: &[TokenId],
        require: Option<&WindowSet>,
    ) -> Vec<Outcome> {
        assert_eq!(text.len(), predicted.len(), "one prediction per position");
        self.counts.documents += 1;
        let h = self.h;
        let mut earlier: FxHashSet<&[TokenId]> = FxHashSet::default();
        (1..=text.len())
            .map(|t| {
                self.counts.tokens += 1;
                if t < h {
                    return self.skip(Skip::Prefix);
                }
                let window = &text[t - h..t];
                // For h = 0 every window is the same empty one: only the first position is
                // free of in-context watermark evidence.
                if !earlier.insert(window) {
                    return self.skip(Skip::RepeatedWindow);
                }
                if !in_filter(require, text, t) {
                    return self.skip(Skip::NotInFilter);
                }
                self.collect(window, predicted[t - 1])
            })
            .collect()
    }

    fn skip(&mut self, reason: Skip) -> Outcome {
        let c = &mut self.counts;
        match reason {
            Skip::Prefix => c.prefix += 1,
            Skip::PromptWindow => c.prompt_window += 1,
            Skip::RepeatedWindow => c.repeated_window += 1,
            Skip::NotInFilter => c.not_in_filter += 1,
            Skip::Duplicate => c.duplicate += 1,
        }
        Outcome::Skipped(reason)
    }

    fn collect(&mut self, window: &[TokenId], token: TokenId) -> Outcome {
        let width = self.h + 1;
        let hash = self.hasher.hash_one((window, token));
        let flat = &self.flat;
        let same = |&i: &u32| {
            let t = &flat[i as usize * width..(i as usize + 1) * width];
            &t[..width - 1] == window && t[width - 1] == token
        };
        if self.index.find(hash, same).is_some() {
            return self.skip(Skip::Duplicate);
        }
        let n = u32::try_from(self.len()).expect("more than 4 billion distinct tuples");
        self.flat.extend_from_slice(window);
        self.flat.push(token);
        let (flat, hasher) = (&self.flat, &self.hasher);
        self.index.insert_unique(hash, n, |&i| {
            let t = &flat[i as usize * width..(i as usize + 1) * width];
            hasher.hash_one((&t[..width - 1], t[width - 1]))
        });
        self.counts.tuples += 1;
        Outcome::Tuple(n)
    }
}

/// Whether position `i` of `tokens` passes the supervised filter: the `k` tokens before it
/// (k = the filter's context width, which may exceed the watermark's h) form a window of
/// the filter. With k = 0 the token at `i` itself must be in it. No filter passes everything.
fn in_filter(filter: Option<&WindowSet>, tokens: &[TokenId], i: usize) -> bool {
    let Some(f) = filter else { return true };
    let k = f.context_width();
    match k {
        0 => tokens.get(i).is_some_and(|&t| f.contains_tuple(&[], t)),
        _ => i >= k && f.contains_tuple(&tokens[i - k..i], 0),
    }
}

/// Window frequencies of a watermarked training corpus, for the supervised filter.
#[derive(Debug, Clone, Default)]
pub struct WindowCounts {
    h: usize,
    counts: rustc_hash::FxHashMap<Box<[TokenId]>, u64>,
}

impl WindowCounts {
    /// Empty counts for windows of `h` tokens. For the supervised filter this may be longer
    /// than the watermark's context width: a longer shared context singles out text that the
    /// suspect copied from the watermarked corpus.
    pub fn new(h: usize) -> Self {
        Self {
            h,
            counts: Default::default(),
        }
    }

    /// Counts every window of a training text (for h = 0, every token).
    pub fn add(&mut self, text: &[TokenId]) {
        for w in text.windows(self.h.max(1)) {
            *self.counts.entry(w.into()).or_insert(0) += 1;
        }
    }

    /// Number of distinct windows.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The filter: every window, or only the `top` most frequent (ties broken by ids).
    pub fn filter(&self, top: Option<usize>) -> WindowSet {
        let mut ranked: Vec<(&[TokenId], u64)> =
            self.counts.iter().map(|(w, &c)| (&w[..], c)).collect();
        if let Some(n) = top {
            ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            ranked.truncate(n);
        }
        let mut set = WindowSet::new(self.h);
        for (w, _) in ranked {
            set.insert(w);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(out: &[Outcome]) -> Vec<Option<Skip>> {
        out.iter()
            .map(|o| match o {
                Outcome::Skipped(r) => Some(*r),
                Outcome::Tuple(_) => None,
            })
            .collect()
    }

    #[test]
    fn answers_dedup_globally_and_exclude_prompt_windows() {
        let mut set = TupleSet::new(2);
        let mut prompt = WindowSet::new(2);
        prompt.extend_from(&[7, 8, 9]);
        let a = set.add_answer(&[1, 2, 3, 7, 8, 4, 1, 2, 3], Some(&prompt), None);
        use Skip::*;
        assert_eq!(
            reasons(&a),
            [
                Some(Prefix),
                Some(Prefix),
                None,
                None,
                None,
                Some(PromptWindow),
                None,
                None,
                Some(Duplicate)
            ]
        );
        // A second answer repeating a tuple of the first: global dedup.
        let b = set.add_answer(&[2, 3, 7, 5], None, None);
        assert_eq!(
            reasons(&b),
            [Some(Prefix), Some(Prefix), Some(Duplicate), None]
        );
        assert_eq!(set.len(), 6);
        assert_eq!(set.get(0), (&[1, 2][..], 3));
        let c = set.counts();
        assert_eq!(
            (c.documents, c.tokens, c.tuples, c.duplicate),
            (2, 13, 6, 2)
        );
        assert_eq!(
            c.tokens,
            c.prefix
                + c.prompt_window
                + c.repeated_window
                + c.not_in_filter
                + c.duplicate
                + c.tuples
        );
    }

    #[test]
    fn reading_skips_windows_seen_earlier_in_the_same_text() {
        let mut set = TupleSet::new(1);
        // Window [5] occurs at t=1 and again at t=3.
        let out = set.add_reading(&[5, 6, 5, 6], &[9, 9, 9, 9], None);
        assert_eq!(
            reasons(&out),
            [
                None,
                None,
                Some(Skip::RepeatedWindow),
                Some(Skip::RepeatedWindow)
            ]
        );
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [(&[5][..], 9), (&[6][..], 9)]
        );
        // A new text starts a new context, but the global dedup still applies.
        let out = set.add_reading(&[6, 1], &[9, 2], None);
        assert_eq!(reasons(&out), [Some(Skip::Duplicate), None]);
    }

    #[test]
    fn supervised_filter_keeps_the_most_frequent_windows() {
        let mut counts = WindowCounts::new(1);
        counts.add(&[1, 2, 1, 2, 1, 3]);
        assert_eq!(counts.len(), 3);
        let top1 = counts.filter(Some(1));
        assert_eq!(top1.len(), 1);
        let mut set = TupleSet::new(1);
        let out = set.add_answer(&[1, 5, 2, 6], None, Some(&top1));
        assert_eq!(
            reasons(&out),
            [
                Some(Skip::Prefix),
                None,
                Some(Skip::NotInFilter),
                Some(Skip::NotInFilter)
            ]
        );
    }

    #[test]
    fn a_filter_may_match_longer_contexts_than_the_watermark() {
        let mut counts = WindowCounts::new(3);
        counts.add(&[7, 8, 9, 4]);
        let filter = counts.filter(None);
        let mut set = TupleSet::new(1);
        // h = 1, but only positions after the 3-gram (7, 8, 9) pass the filter.
        let out = set.add_answer(&[1, 8, 9, 5, 7, 8, 9, 6], None, Some(&filter));
        use Skip::*;
        assert_eq!(
            reasons(&out),
            [
                Some(Prefix),
                Some(NotInFilter),
                Some(NotInFilter),
                Some(NotInFilter),
                Some(NotInFilter),
                Some(NotInFilter),
                Some(NotInFilter),
                None
            ]
        );
        assert_eq!(set.get(0), (&[9][..], 6));
    }

    #[test]
    fn unigram_reading_scores_one_position_per_text() {
        let mut set = TupleSet::new(0);
        let out = set.add_reading(&[1, 2, 3], &[4, 5, 6], None);
        assert_eq!(
            reasons(&out),
            [None, Some(Skip::RepeatedWindow), Some(Skip::RepeatedWindow)]
        );
    }
}

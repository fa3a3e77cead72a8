//! Scoring token sequences: which (context, token) tuples count, and what each scores.

use rustc_hash::FxHashSet;
use serde::Serialize;
use tracemark_core::{PrfInput, Seed, SeedingKind, TokenId, TokenScore, Watermark};

use crate::dedup::{SeedCache, TupleHashes, tuple_hash};

/// Why a token was not scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// One of the first h tokens: its context is not in the text.
    Prefix,
    /// Its (context, token) tuple was already scored; counting it again would break independence.
    Duplicate,
    /// Its context window occurs in the prompt, so a watermark there may come from the prompt.
    PromptWindow,
    /// Supervised filtering: its context window is not among the allowed windows.
    NotInFilter,
}

/// The outcome for one token of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// Scored, with the scheme's score.
    Scored(#[serde(serialize_with = "ser_score")] TokenScore),
    /// Not scored, and why.
    Skipped(SkipReason),
}

fn ser_score<S: serde::Serializer>(score: &TokenScore, s: S) -> Result<S::Ok, S::Error> {
    match *score {
        TokenScore::Green(g) => s.serialize_bool(g),
        TokenScore::Gumbel(x) => s.serialize_f64(x),
    }
}

/// A set of context windows (h-grams) taken from some text, e.g. a prompt.
///
/// For h = 0 every window is empty, so the set holds single tokens instead: a token is
/// excluded when it occurs in the text.
#[derive(Debug, Clone, Default)]
pub struct WindowSet {
    h: usize,
    windows: FxHashSet<Box<[TokenId]>>,
}

impl WindowSet {
    /// An empty set for context width `h`.
    pub fn new(h: usize) -> Self {
        Self {
            h,
            windows: FxHashSet::default(),
        }
    }

    /// Adds every window of `tokens`.
    pub fn extend_from(&mut self, tokens: &[TokenId]) {
        let n = self.h.max(1);
        for w in tokens.windows(n) {
            self.windows.insert(w.into());
        }
    }

    /// Adds one window (h tokens; for h = 0, one token).
    pub fn insert(&mut self, window: &[TokenId]) {
        self.windows.insert(window.into());
    }

    /// Whether the window before `tokens[i]` (or, for h = 0, the token itself) is in the set.
    fn contains_at(&self, tokens: &[TokenId], i: usize) -> bool {
        let w = if self.h == 0 {
            &tokens[i..=i]
        } else {
            &tokens[i - self.h..i]
        };
        self.windows.contains(w)
    }

    /// Whether the tuple (`window`, `token`) is covered: its window is in the set, or, for
    /// h = 0, its token is.
    pub fn contains_tuple(&self, window: &[TokenId], token: TokenId) -> bool {
        if self.h == 0 {
            self.windows.contains(&[token][..])
        } else {
            self.windows.contains(window)
        }
    }

    /// The context width h.
    pub fn context_width(&self) -> usize {
        self.h
    }

    /// Number of distinct windows.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

/// Counts over scored tuples: the sufficient statistics of both tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Tokens seen.
    pub tokens: u64,
    /// Tuples scored.
    pub scored: u64,
    /// KGW: green tuples among the scored.
    pub green: u64,
    /// Sum of per-tuple scores (green count for KGW, Σ −ln(1−u) for Gumbel).
    pub score_sum: f64,
    /// Tokens skipped as the first h of a sequence.
    pub skipped_prefix: u64,
    /// Tokens skipped as repeated tuples.
    pub skipped_duplicate: u64,
    /// Tokens skipped because their window occurs in the prompt.
    pub skipped_prompt: u64,
    /// Tokens skipped by a supervised window filter.
    pub skipped_filter: u64,
}

impl Tally {
    /// Counts one token's outcome.
    pub fn add(&mut self, status: TokenStatus) {
        self.tokens += 1;
        match status {
            TokenStatus::Scored(s) => {
                self.scored += 1;
                self.score_sum += s.value();
                if s == TokenScore::Green(true) {
                    self.green += 1;
                }
            }
            TokenStatus::Skipped(SkipReason::Prefix) => self.skipped_prefix += 1,
            TokenStatus::Skipped(SkipReason::Duplicate) => self.skipped_duplicate += 1,
            TokenStatus::Skipped(SkipReason::PromptWindow) => self.skipped_prompt += 1,
            TokenStatus::Skipped(SkipReason::NotInFilter) => self.skipped_filter += 1,
        }
    }

    /// Adds another tally's counts.
    pub fn merge(&mut self, other: &Tally) {
        self.tokens += other.tokens;
        self.scored += other.scored;
        self.green += other.green;
        self.score_sum += other.score_sum;
        self.skipped_prefix += other.skipped_prefix;
        self.skipped_duplicate += other.skipped_duplicate;
        self.skipped_prompt += other.skipped_prompt;
        self.skipped_filter += other.skipped_filter;
    }
}

/// Largest MinHash rank table, in tokens (4 MiB); ranks of larger ids are computed directly.
const MAX_RANKS: usize = 1 << 20;

/// Tokens scored per chunk: each stage runs over a chunk before the next starts.
const CHUNK: usize = 64;

/// One chunk's tuples between stages; `tuples` candidates, in token order.
struct Chunk {
    skips: [Option<SkipReason>; CHUNK],
    tuples: usize,
    inputs: [PrfInput; CHUNK],
    hashes: [u64; CHUNK],
    tokens: [TokenId; CHUNK],
    doc_new: [bool; CHUNK],
    corpus_new: [bool; CHUNK],
    seeds: [Seed; CHUNK],
    scores: [TokenScore; CHUNK],
}

impl Default for Chunk {
    fn default() -> Self {
        Self {
            skips: [None; CHUNK],
            tuples: 0,
            inputs: [PrfInput::default(); CHUNK],
            hashes: [0; CHUNK],
            tokens: [0; CHUNK],
            doc_new: [false; CHUNK],
            corpus_new: [false; CHUNK],
            seeds: [Seed([0; 32]); CHUNK],
            scores: [TokenScore::Green(false); CHUNK],
        }
    }
}

/// Scores sequences under one key, remembering scored tuples across calls.
///
/// Dedup is keyed on the PRF input and the token, not on the raw window: under MinHash two
/// different windows can share a seed, and their tuples share a PRF value. Repeats are found
/// before any HMAC is computed. Scored tuples are remembered as 64-bit hashes
/// ([`TupleHashes`]); the module [`crate::dedup`] explains why that keeps the p-value valid.
///
/// Memory is the dedup set plus bounded caches: seeds of recent LeftHash windows and MinHash
/// tokens (at most 1 MiB) and MinHash ranks of token ids below 2²⁰ (at most 4 MiB).
#[derive(Debug)]
pub struct Scorer<'w> {
    watermark: &'w Watermark,
    dedup: bool,
    seen: TupleHashes,
    /// Seeds of window-only inputs (LeftHash, MinHash), which recur with many next tokens.
    seeds: SeedCache,
    /// MinHash ranks of tokens `0..ranks.len()`, grown on demand by sequential fills.
    ranks: Vec<u32>,
}

/// Where one pass also files its tuples for a corpus-wide tally with global dedup.
pub(crate) struct Corpus<'a> {
    /// Tuples already counted in the corpus.
    pub(crate) seen: &'a mut TupleHashes,
    /// This pass's outcomes under corpus dedup.
    pub(crate) tally: Tally,
}

impl<'w> Scorer<'w> {
    /// A scorer with dedup on (`dedup = false` invalidates the p-value on repetitive text).
    pub fn new(watermark: &'w Watermark, dedup: bool) -> Self {
        Self {
            watermark,
            dedup,
            seen: TupleHashes::new(),
            seeds: SeedCache::default(),
            ranks: Vec::new(),
        }
    }

    /// The key in use.
    pub fn watermark(&self) -> &'w Watermark {
        self.watermark
    }

    /// Whether repeated tuples are skipped.
    pub fn dedup(&self) -> bool {
        self.dedup
    }

    /// The scored tuples remembered so far (empty without dedup).
    pub fn seen(&self) -> &TupleHashes {
        &self.seen
    }

    /// Forgets every scored tuple, e.g. between independent documents. Caches are kept.
    pub fn reset(&mut self) {
        self.seen.clear();
    }

    /// Hands over the set of scored tuples, leaving this scorer's empty.
    pub fn take_seen(&mut self) -> TupleHashes {
        std::mem::replace(&mut self.seen, TupleHashes::new())
    }

    /// Scores `tokens`. Tuples whose window is in `exclude` are skipped; if `require` is
    /// given, only tuples whose window is in it are scored. Per-token outcomes go to `out`.
    pub fn score(
        &mut self,
        tokens: &[TokenId],
        exclude: Option<&WindowSet>,
        require: Option<&WindowSet>,
        out: Option<&mut Vec<TokenStatus>>,
    ) -> Tally {
        self.score_pass(Tally::default(), tokens, exclude, require, out, None)
    }

    /// [`Scorer::score`], also tallying every token under the corpus's dedup when `corpus` is
    /// given. The corpus set must hold every tuple this scorer remembers (the document's tuples
    /// go to both), so a tuple new to the corpus is new to the document, and each tuple's PRF
    /// is computed at most once. Outcomes are added to `tally`, so a document fed in pieces
    /// sums its scores in the same order as whole.
    pub(crate) fn score_pass(
        &mut self,
        mut tally: Tally,
        tokens: &[TokenId],
        exclude: Option<&WindowSet>,
        require: Option<&WindowSet>,
        mut out: Option<&mut Vec<TokenStatus>>,
        mut corpus: Option<&mut Corpus<'_>>,
    ) -> Tally {
        let h = self.watermark.lookback();
        let mut chunk = Chunk::default();
        for start in (0..tokens.len()).step_by(CHUNK) {
            let end = (start + CHUNK).min(tokens.len());
            // Which tokens are candidate tuples, with their PRF inputs and dedup hashes.
            chunk.tuples = 0;
            for i in start..end {
                chunk.skips[i - start] = self.skip_reason(tokens, i, h, exclude, require);
                if chunk.skips[i - start].is_none() {
                    let (input, hash) = self.tuple(&tokens[i - h..i], tokens[i]);
                    let k = chunk.tuples;
                    (chunk.inputs[k], chunk.hashes[k], chunk.tokens[k]) = (input, hash, tokens[i]);
                    chunk.tuples += 1;
                }
            }
            let n = chunk.tuples;
            // Dedup, in token order; the table loads overlap instead of queueing.
            if self.dedup {
                self.seen.touch(&chunk.hashes[..n]);
                for k in 0..n {
                    chunk.doc_new[k] = self.seen.insert(chunk.hashes[k]);
                }
                if let Some(c) = corpus.as_deref_mut() {
                    c.seen.touch(&chunk.hashes[..n]);
                    for k in 0..n {
                        chunk.corpus_new[k] = c.seen.insert(chunk.hashes[k]);
                    }
                }
            } else {
                chunk.doc_new[..n].fill(true);
                chunk.corpus_new[..n].fill(true);
            }
            self.score_chunk(&mut chunk);
            // Outcomes in token order, so the tallies sum in the same order as one by one.
            let mut k = 0;
            for skip in &chunk.skips[..end - start] {
                let (status, corpus_status) = match *skip {
                    Some(reason) => {
                        let s = TokenStatus::Skipped(reason);
                        (s, s)
                    }
                    None => {
                        let dup = TokenStatus::Skipped(SkipReason::Duplicate);
                        let s = if chunk.doc_new[k] {
                            TokenStatus::Scored(chunk.scores[k])
                        } else {
                            dup
                        };
                        let c = if chunk.corpus_new[k] { s } else { dup };
                        k += 1;
                        (s, c)
                    }
                };
                tally.add(status);
                if let Some(c) = corpus.as_deref_mut() {
                    c.tally.add(corpus_status);
                }
                if let Some(out) = out.as_deref_mut() {
                    out.push(status);
                }
            }
        }
        tally
    }

    /// Scores the chunk's tuples that are new to the document: seeds first, then words, each
    /// a run of independent computations.
    fn score_chunk(&mut self, chunk: &mut Chunk) {
        let wm = self.watermark;
        let n = chunk.tuples;
        let self_hash = wm.config().seeding.kind == SeedingKind::SelfHash;
        if !self_hash {
            let new = (0..n).filter(|&k| chunk.doc_new[k]);
            self.seeds.touch(new.map(|k| &chunk.inputs[k]));
        }
        for k in 0..n {
            if chunk.doc_new[k] {
                let input = &chunk.inputs[k];
                chunk.seeds[k] = if self_hash {
                    wm.input_seed(input)
                } else {
                    self.seeds.get(input, || wm.input_seed(input))
                };
            }
        }
        for k in 0..n {
            if chunk.doc_new[k] {
                chunk.scores[k] = wm.score_word(chunk.seeds[k].word(chunk.tokens[k]));
            }
        }
    }

    /// Why `tokens[i]` is not scored, before dedup; `None` if it is a candidate tuple.
    fn skip_reason(
        &self,
        tokens: &[TokenId],
        i: usize,
        h: usize,
        exclude: Option<&WindowSet>,
        require: Option<&WindowSet>,
    ) -> Option<SkipReason> {
        if i < h {
            Some(SkipReason::Prefix)
        } else if exclude.is_some_and(|set| set.contains_at(tokens, i)) {
            Some(SkipReason::PromptWindow)
        } else if require.is_some_and(|set| !set.contains_at(tokens, i)) {
            Some(SkipReason::NotInFilter)
        } else {
            None
        }
    }

    /// Scores one (window, token) tuple, with `window` exactly h tokens long; `None` when
    /// dedup is on and the tuple's PRF input and token were already scored.
    pub fn score_tuple(&mut self, window: &[TokenId], token: TokenId) -> Option<TokenScore> {
        let (input, hash) = self.tuple(window, token);
        if self.dedup && !self.seen.insert(hash) {
            return None;
        }
        Some(self.score_input(&input, token))
    }

    /// The tuple's PRF input and its dedup hash ([`tuple_hash`]; 0 without dedup).
    fn tuple(&mut self, window: &[TokenId], token: TokenId) -> (PrfInput, u64) {
        let wm = self.watermark;
        let input = if wm.config().seeding.kind == SeedingKind::MinHash {
            self.grow_ranks(window);
            let ranks = &self.ranks;
            wm.prf_input(window, token, |t| match ranks.get(t as usize) {
                Some(&r) => r,
                None => wm.rank(t),
            })
        } else {
            wm.prf_input(window, token, |t| wm.rank(t))
        };
        let hash = if self.dedup {
            tuple_hash(input.ids(), token)
        } else {
            0
        };
        (input, hash)
    }

    /// The PRF word of one (window, token) tuple, as [`Scorer::score_tuple`] dedups it:
    /// `None` for a repeat. Account attribution reads a green word's digit and colour.
    pub fn word_tuple(&mut self, window: &[TokenId], token: TokenId) -> Option<u32> {
        let (input, hash) = self.tuple(window, token);
        if self.dedup && !self.seen.insert(hash) {
            return None;
        }
        Some(self.word_input(&input, token))
    }

    /// The score of `token` under `input`'s seed, cached unless the input holds the token.
    fn score_input(&mut self, input: &PrfInput, token: TokenId) -> TokenScore {
        let word = self.word_input(input, token);
        self.watermark.score_word(word)
    }

    /// The PRF word of `token` under `input`'s seed.
    fn word_input(&mut self, input: &PrfInput, token: TokenId) -> u32 {
        let wm = self.watermark;
        let seed = if wm.config().seeding.kind == SeedingKind::SelfHash {
            wm.input_seed(input)
        } else {
            self.seeds.get(input, || wm.input_seed(input))
        };
        seed.word(token)
    }

    /// Makes sure every token of `window` below [`MAX_RANKS`] has a cached rank.
    fn grow_ranks(&mut self, window: &[TokenId]) {
        let need = window.iter().map(|&t| t as usize + 1).max().unwrap_or(0);
        if need > self.ranks.len() && self.ranks.len() < MAX_RANKS {
            // Round up so a growing vocabulary costs a few fills, not one per new id.
            let len = need.next_power_of_two().clamp(1 << 12, MAX_RANKS);
            self.ranks.resize(len, 0);
            self.watermark.rank_seed().fill(&mut self.ranks);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_core::{Key, Seeding, SeedingKind, WatermarkConfig};

    fn wm(kind: SeedingKind, h: usize) -> Watermark {
        let config = WatermarkConfig {
            seeding: Seeding::new(kind, h).unwrap(),
            ..WatermarkConfig::default()
        };
        Watermark::new(&Key::from_secret([1; 32], config))
    }

    #[test]
    fn prefix_duplicates_and_prompt_windows_are_skipped() {
        let w = wm(SeedingKind::LeftHash, 2);
        let mut scorer = Scorer::new(&w, true);
        let tokens = [1, 2, 3, 1, 2, 3, 4, 5];
        let mut prompt = WindowSet::new(2);
        prompt.extend_from(&[9, 3, 4]);
        let mut out = Vec::new();
        let t = scorer.score(&tokens, Some(&prompt), None, Some(&mut out));
        use SkipReason::*;
        let skipped: Vec<_> = out
            .iter()
            .map(|s| match s {
                TokenStatus::Skipped(r) => Some(*r),
                TokenStatus::Scored(_) => None,
            })
            .collect();
        // (1,2)->3 repeats at index 5; window (3,4) before 5 is in the prompt.
        assert_eq!(
            skipped,
            [
                Some(Prefix),
                Some(Prefix),
                None,
                None,
                None,
                Some(Duplicate),
                None,
                Some(PromptWindow)
            ]
        );
        assert_eq!(
            (t.tokens, t.scored, t.skipped_duplicate, t.skipped_prompt),
            (8, 4, 1, 1)
        );
        // Global dedup: the same text again scores nothing new.
        let again = scorer.score(&tokens, Some(&prompt), None, None);
        assert_eq!(again.scored, 0);
    }

    #[test]
    fn minhash_dedups_on_the_prf_input_not_the_window() {
        let w = wm(SeedingKind::MinHash, 2);
        let mut scorer = Scorer::new(&w, true);
        // Windows (5,6) and (6,5) reduce to the same minimum token, so `7` after either is one tuple.
        let t = scorer.score(&[5, 6, 7, 6, 5, 7], None, None, None);
        assert_eq!(t.scored, 3);
        assert_eq!(t.skipped_duplicate, 1);
    }

    #[test]
    fn cached_seeds_and_ranks_agree_with_the_watermark() {
        let tokens: Vec<u32> = (0..3000u32)
            .map(|i| i.wrapping_mul(2_654_435_761) % 20_000)
            .collect();
        for (kind, h) in [
            (SeedingKind::LeftHash, 0),
            (SeedingKind::LeftHash, 1),
            (SeedingKind::LeftHash, 3),
            (SeedingKind::MinHash, 3),
            (SeedingKind::SelfHash, 2),
        ] {
            let w = wm(kind, h);
            let mut out = Vec::new();
            Scorer::new(&w, false).score(&tokens, None, None, Some(&mut out));
            for (i, status) in out.iter().enumerate().skip(h) {
                let expected = w.score(&tokens[i - h..i], tokens[i]);
                assert_eq!(
                    *status,
                    TokenStatus::Scored(expected),
                    "{kind:?} h={h} at {i}"
                );
            }
        }
    }

    #[test]
    fn without_dedup_everything_past_the_prefix_counts() {
        let w = wm(SeedingKind::SelfHash, 1);
        let t = Scorer::new(&w, false).score(&[4, 4, 4, 4], None, None, None);
        assert_eq!((t.scored, t.skipped_prefix), (3, 1));
    }
}

//! The colour table: how many of a suspect's distinct green tuples carry each (digit, colour).

use tracemark_core::{AccountLayer, SeedingKind, TokenScore, Watermark};
use tracemark_detect::Scorer;
use tracemark_radioactivity::TupleSet;

use crate::AttributionError;

/// Counts of green tuples per (digit, colour), from one PRF word per distinct tuple.
///
/// The table depends on the master key and the suspect's tuples only, never on an account,
/// which is what makes the per-account null exact ([`crate::AccountNull`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ColourTable {
    layer: AccountLayer,
    /// `counts[digit · r + colour]`.
    counts: Vec<u32>,
    /// Distinct tuples scored.
    scored: u64,
    /// Of them, green.
    green: u64,
}

impl ColourTable {
    /// Scores every tuple of `tuples` under the master key `wm` and files the green ones.
    /// Under MinHash, tuples that share a PRF input are counted once, as the global test does.
    /// An empty set of tuples is an error: the suspect gave nothing to attribute.
    pub fn from_tuples(wm: &Watermark, tuples: &TupleSet) -> Result<Self, AttributionError> {
        let table = Self::tally(wm, tuples)?;
        if table.scored == 0 {
            return Err(AttributionError::NoScorableTuples);
        }
        Ok(table)
    }

    /// [`Self::from_tuples`], where an empty table is a valid answer (one account's reading
    /// in open-weights attribution may give nothing to score; its score is then 0, p = 1).
    pub fn tally(wm: &Watermark, tuples: &TupleSet) -> Result<Self, AttributionError> {
        let layer = *wm.accounts().ok_or(AttributionError::NotAMasterKey)?;
        let mut table = Self::empty(layer);
        let mut scorer = Scorer::new(wm, wm.config().seeding.kind == SeedingKind::MinHash);
        for (window, token) in tuples.iter() {
            if let Some(word) = scorer.word_tuple(window, token) {
                table.add_word(wm, word);
            }
        }
        Ok(table)
    }

    /// An empty table for `layer`.
    pub fn empty(layer: AccountLayer) -> Self {
        Self {
            layer,
            counts: vec![0; (layer.digits() * layer.colours()) as usize],
            scored: 0,
            green: 0,
        }
    }

    /// Files one scored tuple's PRF word.
    #[inline]
    pub fn add_word(&mut self, wm: &Watermark, word: u32) {
        self.scored += 1;
        if wm.score_word(word) == TokenScore::Green(true) {
            self.green += 1;
            let (digit, colour) = self.layer.slot(word);
            self.counts[(digit * self.layer.colours() + colour) as usize] += 1;
        }
    }

    /// The account layer the table was built for.
    pub fn layer(&self) -> &AccountLayer {
        &self.layer
    }

    /// The counts of digit `j`, one per colour.
    #[inline]
    pub fn digit(&self, j: u32) -> &[u32] {
        let r = self.layer.colours() as usize;
        &self.counts[j as usize * r..(j as usize + 1) * r]
    }

    /// Distinct tuples scored.
    pub fn scored(&self) -> u64 {
        self.scored
    }

    /// Distinct green tuples.
    pub fn green(&self) -> u64 {
        self.green
    }

    /// The account score of a code: green tuples that carry the code's colour at their digit.
    pub fn score(&self, code: &tracemark_core::AccountCode) -> u64 {
        (0..self.layer.digits())
            .map(|j| u64::from(self.digit(j)[code.colour(j) as usize]))
            .sum()
    }
}

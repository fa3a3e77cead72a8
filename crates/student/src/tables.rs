//! The interpolated modified Kneser-Ney count tables and the probabilities they define.
//!
//! # Tables
//!
//! Level `l` (0-based) holds the distinct n-grams of order `l + 1` as a sorted trie: node `i`
//! is the n-gram whose last token is `tokens[i]` and whose prefix is its parent node at level
//! `l - 1`. The children of node `i` (its one-token extensions) are the contiguous range
//! `child_start[i]..child_start[i + 1]` of level `l + 1`, sorted by token, so looking up a
//! context of `k` tokens is `k` binary searches.
//!
//! `counts` are raw counts at the highest order and continuation counts below it (the number
//! of distinct tokens seen before the n-gram, plus one if it starts a training sequence), as
//! Kneser-Ney prescribes.
//!
//! # Probabilities
//!
//! With `c(h w)` the count of `w` after context `h`, `c(h)` the sum over `w`, `D(c)` the
//! level's discount for a count (`D1`, `D2`, or `D3+` for 3 and more), and `N_i(h)` the
//! number of tokens seen `i` times after `h` (`N_3` meaning 3 and more):
//!
//! ```text
//! P(w | h)  = max(c(h w) − D(c(h w)), 0) / c(h)  +  γ(h) · P(w | h')
//! γ(h)      = (D1 N_1(h) + D2 N_2(h) + D3+ N_3(h)) / c(h)
//! P(w | ()) = ... + γ(()) / V                      (uniform base: every token is possible)
//! ```
//!
//! where `h'` drops the oldest token of `h`. A context never seen with a successor is
//! skipped (its weight passes whole to the lower order), so unseen contexts back off.

use std::ops::Range;

use crate::StudentError;
use crate::config::{MAX_ORDER, SpecialTokens, check_config};

/// One order's n-grams (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Level {
    /// The last token of each n-gram.
    pub(crate) tokens: Vec<u32>,
    /// Raw counts (highest order) or continuation counts (lower orders); all ≥ 1.
    pub(crate) counts: Vec<u32>,
    /// D1, D2, D3+ of this order.
    pub(crate) discounts: [f64; 3],
    /// Children ranges in the next level (`nodes + 1` offsets); empty at the highest order.
    pub(crate) child_start: Vec<u32>,
}

impl Level {
    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The discount of an n-gram seen `count` times.
    fn discount(&self, count: u32) -> f64 {
        self.discounts[(count.clamp(1, 3) - 1) as usize]
    }

    /// The discounted count `max(c − D(c), 0)` of node `i`.
    fn discounted(&self, i: usize) -> f64 {
        let c = self.counts[i];
        (f64::from(c) - self.discount(c)).max(0.0)
    }

    fn children(&self, i: usize) -> Range<usize> {
        self.child_start[i] as usize..self.child_start[i + 1] as usize
    }
}

/// What the distribution of a context needs from one of its nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ContextStats {
    /// `1 / c(h)`, 0 for a context without successors.
    inv_total: f64,
    /// The back-off weight `γ(h)`.
    gamma: f64,
}

impl ContextStats {
    fn of(children: &Level, range: Range<usize>) -> Self {
        let (mut total, mut n) = (0u64, [0u64; 3]);
        for i in range {
            let c = children.counts[i];
            total += u64::from(c);
            n[(c.clamp(1, 3) - 1) as usize] += 1;
        }
        if total == 0 {
            return Self {
                inv_total: 0.0,
                gamma: 1.0,
            };
        }
        let d = &children.discounts;
        let mass = d[0] * n[0] as f64 + d[1] * n[1] as f64 + d[2] * n[2] as f64;
        Self {
            inv_total: 1.0 / total as f64,
            gamma: mass / total as f64,
        }
    }
}

/// The modified Kneser-Ney discounts `[D1, D2, D3+]` of one order, estimated from its
/// count-of-counts `n = [n1, n2, n3, n4]` (Chen & Goodman 1998):
///
/// ```text
/// Y = n1 / (n1 + 2 n2),   D1 = 1 − 2Y n2/n1,   D2 = 2 − 3Y n3/n2,   D3+ = 3 − 4Y n4/n3
/// ```
///
/// Small corpora lack some count-of-counts. Then the estimate falls back to plain
/// Kneser-Ney's single discount `Y` (clamped to [0.1, 0.9]) when `n1` and `n2` are both
/// nonzero, and to `[0.5, 1.0, 1.5]` otherwise. Every discount is finally clamped to
/// `[0.05, i]`: at least 0.05 so that every context passes some weight to the uniform base
/// (every token keeps a finite logit), at most `i` so that no count turns negative.
pub fn estimate_discounts(n: [u64; 4]) -> [f64; 3] {
    let [n1, n2, n3, n4] = n.map(|x| x as f64);
    let raw = if n.contains(&0) {
        if n1 > 0.0 && n2 > 0.0 {
            let y = (n1 / (n1 + 2.0 * n2)).clamp(0.1, 0.9);
            [y, y, y]
        } else {
            [0.5, 1.0, 1.5]
        }
    } else {
        let y = n1 / (n1 + 2.0 * n2);
        [
            1.0 - 2.0 * y * n2 / n1,
            2.0 - 3.0 * y * n3 / n2,
            3.0 - 4.0 * y * n4 / n3,
        ]
    };
    let mut d = [0.0; 3];
    for (i, (out, r)) in d.iter_mut().zip(raw).enumerate() {
        *out = r.clamp(MIN_DISCOUNT, (i + 1) as f64);
    }
    d
}

/// The smallest discount: keeps every context's back-off weight above zero.
const MIN_DISCOUNT: f64 = 0.05;

/// The count-of-counts `[n1, n2, n3, n4]` of a level.
pub(crate) fn count_of_counts(counts: &[u32]) -> [u64; 4] {
    let mut n = [0u64; 4];
    for &c in counts {
        if (1..=4).contains(&c) {
            n[(c - 1) as usize] += 1;
        }
    }
    n
}

/// One order's contribution to a distribution: the children `range` of the context at
/// `level`, each weighted `scale · discounted / c(h)`.
#[derive(Debug, Clone, Copy, Default)]
struct Term {
    level: usize,
    start: usize,
    end: usize,
    scale: f64,
    inv_total: f64,
}

/// How to evaluate the distribution after one context: the orders whose context was seen,
/// highest first, and the weight left for the uniform base.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    terms: [Term; MAX_ORDER],
    len: usize,
    /// `Π γ / V`: the probability of a token seen in none of the contexts.
    base: f64,
}

impl Plan {
    fn terms(&self) -> &[Term] {
        &self.terms[..self.len]
    }
}

/// The immutable part of a student: its configuration and count tables, plus statistics
/// derived from them when built or loaded.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub(crate) vocab_size: usize,
    pub(crate) order: usize,
    pub(crate) specials: SpecialTokens,
    pub(crate) training_tokens: u64,
    pub(crate) sequences: u64,
    pub(crate) levels: Vec<Level>,
    /// Statistics of the empty context (the unigram level).
    root: ContextStats,
    /// `contexts[l][i]`: statistics of node `i` of level `l` as a context of level `l + 1`.
    contexts: Vec<Vec<ContextStats>>,
    /// Unigram nodes by discounted count, largest first (ties: lowest token first).
    unigram_rank: Vec<u32>,
    /// The lowest token id never seen in training, if any.
    first_unseen: Option<u32>,
}

impl Tables {
    /// Checks the tables' invariants (so that no lookup can panic, whatever the bytes of a
    /// file said) and derives the statistics that queries need.
    pub(crate) fn new(
        vocab_size: usize,
        order: usize,
        specials: SpecialTokens,
        training_tokens: u64,
        sequences: u64,
        levels: Vec<Level>,
    ) -> Result<Self, StudentError> {
        let bad = |m: String| Err(StudentError::Corrupt(m));
        check_config(vocab_size, order, specials)?;
        if levels.len() != order {
            return bad(format!("{} count tables for order {order}", levels.len()));
        }
        for (l, level) in levels.iter().enumerate() {
            let k = l + 1;
            if level.counts.len() != level.tokens.len() {
                return bad(format!(
                    "order {k}: token and count tables differ in length"
                ));
            }
            if let Some(&t) = level.tokens.iter().find(|&&t| t as usize >= vocab_size) {
                return bad(format!(
                    "order {k}: token id {t} is outside the vocabulary of {vocab_size}"
                ));
            }
            if level.counts.contains(&0) {
                return bad(format!("order {k}: zero count"));
            }
            for (i, &d) in level.discounts.iter().enumerate() {
                if !(d.is_finite() && d > 0.0 && d <= (i + 1) as f64) {
                    return bad(format!("order {k}: discount D{} = {d} out of range", i + 1));
                }
            }
            let expect = if k < order { level.len() + 1 } else { 0 };
            if level.child_start.len() != expect {
                return bad(format!("order {k}: wrong number of child offsets"));
            }
        }
        if levels[0].tokens.is_empty() {
            return bad("no unigrams".into());
        }
        if !levels[0].tokens.is_sorted_by(|a, b| a < b) {
            return bad("order 1: tokens not strictly increasing".into());
        }
        for l in 0..order - 1 {
            let (level, next) = (&levels[l], &levels[l + 1]);
            let cs = &level.child_start;
            if cs[0] != 0
                || cs[cs.len() - 1] as usize != next.len()
                || !cs.is_sorted_by(|a, b| a <= b)
            {
                return bad(format!("order {}: child offsets inconsistent", l + 1));
            }
            for i in 0..level.len() {
                if !next.tokens[level.children(i)].is_sorted_by(|a, b| a < b) {
                    return bad(format!(
                        "order {}: successors not strictly increasing",
                        l + 2
                    ));
                }
            }
        }

        let root = ContextStats::of(&levels[0], 0..levels[0].len());
        let contexts = (0..order - 1)
            .map(|l| {
                (0..levels[l].len())
                    .map(|i| ContextStats::of(&levels[l + 1], levels[l].children(i)))
                    .collect()
            })
            .collect();
        let unigrams = &levels[0];
        let mut unigram_rank: Vec<u32> = (0..unigrams.len() as u32).collect();
        unigram_rank.sort_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            unigrams
                .discounted(b)
                .total_cmp(&unigrams.discounted(a))
                .then(unigrams.tokens[a].cmp(&unigrams.tokens[b]))
        });
        // Unigram tokens are strictly increasing, so the first index that differs from its
        // token is the lowest unseen id.
        let first_unseen = match unigrams
            .tokens
            .iter()
            .enumerate()
            .find(|&(i, &t)| t as usize != i)
        {
            Some((i, _)) => Some(i as u32),
            None => (unigrams.len() < vocab_size).then_some(unigrams.len() as u32),
        };
        Ok(Self {
            vocab_size,
            order,
            specials,
            training_tokens,
            sequences,
            levels,
            root,
            contexts,
            unigram_rank,
            first_unseen,
        })
    }

    /// The node of the n-gram `gram` (non-empty) at level `gram.len() - 1`, if seen.
    fn find(&self, gram: &[u32]) -> Option<usize> {
        let mut range = 0..self.levels[0].len();
        for (l, &t) in gram.iter().enumerate() {
            let level = &self.levels[l];
            let i = range.start + level.tokens[range].binary_search(&t).ok()?;
            if l + 1 == gram.len() {
                return Some(i);
            }
            range = level.children(i);
        }
        None
    }

    /// The successors (a range of level `k - 1`) and statistics of the context of order
    /// `k`: the last `k - 1` tokens of `history`. `None` if the context has no successors.
    fn context(&self, k: usize, history: &[u32]) -> Option<(Range<usize>, ContextStats)> {
        if k == 1 {
            return Some((0..self.levels[0].len(), self.root));
        }
        let node = self.find(&history[history.len() - (k - 1)..])?;
        let range = self.levels[k - 2].children(node);
        (!range.is_empty()).then(|| (range, self.contexts[k - 2][node]))
    }

    /// The evaluation plan of the distribution after `history` (non-empty or not: an empty
    /// history gives the unigram distribution).
    pub(crate) fn plan(&self, history: &[u32]) -> Plan {
        let mut plan = Plan {
            terms: [Term::default(); MAX_ORDER],
            len: 0,
            base: 0.0,
        };
        let mut scale = 1.0;
        for k in (1..=self.order.min(history.len() + 1)).rev() {
            if let Some((range, stats)) = self.context(k, history) {
                plan.terms[plan.len] = Term {
                    level: k - 1,
                    start: range.start,
                    end: range.end,
                    scale,
                    inv_total: stats.inv_total,
                };
                plan.len += 1;
                scale *= stats.gamma;
            }
        }
        plan.base = scale / self.vocab_size as f64;
        plan
    }

    /// `term`'s addend for node `i` of its level. Dense and sparse evaluation both use this
    /// one expression, in the same order, so they agree to the last bit.
    #[inline]
    fn addend(&self, term: &Term, i: usize) -> f64 {
        term.scale * (self.levels[term.level].discounted(i) * term.inv_total)
    }

    /// Writes the probabilities of all tokens after the plan's context into `probs`.
    pub(crate) fn fill(&self, plan: &Plan, probs: &mut [f64]) {
        probs.fill(plan.base);
        for term in plan.terms() {
            let level = &self.levels[term.level];
            for i in term.start..term.end {
                probs[level.tokens[i] as usize] += self.addend(term, i);
            }
        }
    }

    /// The probability of `token`, computed exactly as [`fill`](Self::fill) computes it.
    pub(crate) fn probability(&self, plan: &Plan, token: u32) -> f64 {
        let mut p = plan.base;
        for term in plan.terms() {
            let tokens = &self.levels[term.level].tokens[term.start..term.end];
            if let Ok(j) = tokens.binary_search(&token) {
                p += self.addend(term, term.start + j);
            }
        }
        p
    }

    /// The argmax of `logit(fill(plan))` (ties: lowest id) without touching all tokens.
    ///
    /// A token's probability is the base plus its addends. Candidates: every successor of a
    /// context above the unigram level (evaluated exactly); among the remaining seen
    /// tokens, whose probability grows with their unigram discounted count, those at the
    /// head of `unigram_rank` until the logit drops; and the lowest never-seen token, which
    /// has the base probability like every other never-seen token.
    pub(crate) fn top1(&self, plan: &Plan, candidates: &mut Vec<u32>) -> u32 {
        candidates.clear();
        for term in plan.terms().iter().filter(|t| t.level > 0) {
            candidates.extend_from_slice(&self.levels[term.level].tokens[term.start..term.end]);
        }
        candidates.sort_unstable();
        candidates.dedup();
        let logit = |token: u32| self.probability(plan, token).ln() as f32;
        let mut best: Option<(f32, u32)> = None;
        let mut consider = |value: f32, token: u32| {
            if best.is_none_or(|(v, t)| value > v || (value == v && token < t)) {
                best = Some((value, token));
            }
        };
        for &token in candidates.iter() {
            consider(logit(token), token);
        }
        let mut head: Option<f32> = None;
        for &node in &self.unigram_rank {
            let token = self.levels[0].tokens[node as usize];
            if candidates.binary_search(&token).is_ok() {
                continue;
            }
            let value = logit(token);
            match head {
                None => head = Some(value),
                Some(h) if value == h => {}
                Some(_) => break,
            }
            consider(value, token);
        }
        if let Some(token) = self.first_unseen {
            consider(plan.base.ln() as f32, token);
        }
        best.map_or(0, |(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_discounts_from_count_of_counts() {
        // Y = 10 / (10 + 2·5) = 0.5
        // D1 = 1 − 2·0.5·5/10 = 0.5, D2 = 2 − 3·0.5·3/5 = 1.1, D3+ = 3 − 4·0.5·2/3 = 5/3
        let d = estimate_discounts([10, 5, 3, 2]);
        let expect = [0.5, 1.1, 5.0 / 3.0];
        for (a, b) in d.iter().zip(expect) {
            assert!((a - b).abs() < 1e-12, "{d:?}");
        }
        // Missing count-of-counts: plain KN's Y = 1 / (1 + 2·2) = 0.2 for all three.
        assert_eq!(estimate_discounts([1, 2, 0, 0]), [0.2; 3]);
        // No singletons or no doubletons: the fixed fallback.
        assert_eq!(estimate_discounts([0, 4, 1, 1]), [0.5, 1.0, 1.5]);
        assert_eq!(estimate_discounts([3, 0, 0, 0]), [0.5, 1.0, 1.5]);
        // Clamped into [0.05, i]: many doubletons push D1 below zero.
        let d = estimate_discounts([1, 100, 1, 1]);
        assert_eq!(d[0], MIN_DISCOUNT);
        assert!(
            d.iter()
                .enumerate()
                .all(|(i, &x)| x > 0.0 && x <= (i + 1) as f64)
        );
    }
}

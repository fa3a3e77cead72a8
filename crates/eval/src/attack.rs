//! Attacks on a watermarked token sequence, at a given rate.
//!
//! Substitution and insertion use tokens the model finds plausible: at each position the
//! caller supplies the model's top-k next tokens given the original prefix (one teacher
//! forcing pass over the unattacked text), and the attack picks uniformly among them. This
//! is the cheap stand-in for a paraphraser used in the literature's "random edit" attacks,
//! and it is stronger than random vocabulary tokens: a plausible replacement keeps the text
//! fluent, so the attacked text tokenizes much like model text would.

use rand_core::Rng;
use serde::Serialize;

use crate::{below, unit};

/// An edit applied to every token independently with probability `rate`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attack {
    /// Replace the token with another of the model's top-k at that position.
    Substitute {
        /// Probability per token.
        rate: f64,
    },
    /// Drop the token.
    Delete {
        /// Probability per token.
        rate: f64,
    },
    /// Insert one of the model's top-k tokens at that position before the token.
    Insert {
        /// Probability per token.
        rate: f64,
    },
}

/// An attacked sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The new token ids.
    pub ids: Vec<u32>,
    /// Edits actually made (a substitution with no other candidate is not made).
    pub edits: usize,
}

impl Attack {
    /// `substitute`, `delete` or `insert`.
    pub fn name(&self) -> &'static str {
        match self {
            Attack::Substitute { .. } => "substitute",
            Attack::Delete { .. } => "delete",
            Attack::Insert { .. } => "insert",
        }
    }

    /// The per-token probability.
    pub fn rate(&self) -> f64 {
        match *self {
            Attack::Substitute { rate } | Attack::Delete { rate } | Attack::Insert { rate } => rate,
        }
    }

    /// Applies the attack to `ids`. `proposals[i]` holds the model's most likely tokens at
    /// position `i` (it may be shorter than `ids` or empty for attacks that do not use it;
    /// a position without proposals is left alone).
    pub fn apply<P: AsRef<[u32]>>(
        &self,
        ids: &[u32],
        proposals: &[P],
        rng: &mut impl Rng,
    ) -> Edited {
        let rate = self.rate();
        let mut out = Vec::with_capacity(ids.len() + ids.len() / 4);
        let mut edits = 0;
        for (i, &token) in ids.iter().enumerate() {
            let hit = unit(rng) < rate;
            let candidates = proposals.get(i).map_or(&[][..], AsRef::as_ref);
            match self {
                Attack::Substitute { .. } if hit => {
                    let others: Vec<u32> =
                        candidates.iter().copied().filter(|&c| c != token).collect();
                    if others.is_empty() {
                        out.push(token);
                    } else {
                        out.push(others[below(rng, others.len())]);
                        edits += 1;
                    }
                }
                Attack::Delete { .. } if hit => edits += 1,
                Attack::Insert { .. } if hit && !candidates.is_empty() => {
                    out.push(candidates[below(rng, candidates.len())]);
                    out.push(token);
                    edits += 1;
                }
                _ => out.push(token),
            }
        }
        Edited { ids: out, edits }
    }
}

/// Unwatermarked text with a watermarked span pasted into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pasted {
    /// The combined token ids.
    pub ids: Vec<u32>,
    /// Where the span starts in `ids`.
    pub start: usize,
    /// The span's length in tokens.
    pub len: usize,
}

/// Pastes `span` consecutive tokens of `marked` (from a random offset) into `host` at a
/// random position. `None` when `marked` is shorter than `span`.
pub fn copy_paste(marked: &[u32], host: &[u32], span: usize, rng: &mut impl Rng) -> Option<Pasted> {
    if marked.len() < span {
        return None;
    }
    let from = below(rng, marked.len() - span + 1);
    let start = below(rng, host.len() + 1);
    let mut ids = Vec::with_capacity(host.len() + span);
    ids.extend_from_slice(&host[..start]);
    ids.extend_from_slice(&marked[from..from + span]);
    ids.extend_from_slice(&host[start..]);
    Some(Pasted {
        ids,
        start,
        len: span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream;

    fn ids() -> Vec<u32> {
        (0..2000).collect()
    }

    fn proposals() -> Vec<Vec<u32>> {
        (0..2000u32)
            .map(|i| vec![i, 10_000 + i, 20_000 + i])
            .collect()
    }

    #[test]
    fn zero_rate_is_the_identity_and_full_rate_edits_everything() {
        let mut rng = stream(1, "t", 0);
        for attack in [
            Attack::Substitute { rate: 0.0 },
            Attack::Delete { rate: 0.0 },
            Attack::Insert { rate: 0.0 },
        ] {
            let e = attack.apply(&ids(), &proposals(), &mut rng);
            assert_eq!((e.ids, e.edits), (ids(), 0), "{attack:?}");
        }
        let e = Attack::Substitute { rate: 1.0 }.apply(&ids(), &proposals(), &mut rng);
        assert_eq!(e.edits, 2000);
        assert!(
            e.ids
                .iter()
                .zip(ids())
                .all(|(&a, b)| a != b && a % 10_000 == b)
        );
        assert!(
            Attack::Delete { rate: 1.0 }
                .apply(&ids(), &proposals(), &mut rng)
                .ids
                .is_empty()
        );
        assert_eq!(
            Attack::Insert { rate: 1.0 }
                .apply(&ids(), &proposals(), &mut rng)
                .ids
                .len(),
            4000
        );
    }

    #[test]
    fn edits_follow_the_rate() {
        let mut rng = stream(2, "t", 0);
        for attack in [
            Attack::Substitute { rate: 0.3 },
            Attack::Delete { rate: 0.3 },
            Attack::Insert { rate: 0.3 },
        ] {
            let e = attack.apply(&ids(), &proposals(), &mut rng);
            // Binomial(2000, 0.3): sd 20.5, so ±100 is ~5 sd.
            assert!(
                (e.edits as f64 - 600.0).abs() < 100.0,
                "{attack:?}: {}",
                e.edits
            );
        }
        let kept = Attack::Delete { rate: 0.3 }
            .apply(&ids(), &proposals(), &mut rng)
            .ids;
        assert!(kept.windows(2).all(|w| w[0] < w[1]), "deletion keeps order");
    }

    #[test]
    fn substitution_without_alternatives_keeps_the_token() {
        let only_self: Vec<Vec<u32>> = (0..2000u32).map(|i| vec![i]).collect();
        let e = Attack::Substitute { rate: 1.0 }.apply(&ids(), &only_self, &mut stream(3, "t", 0));
        assert_eq!((e.ids, e.edits), (ids(), 0));
    }

    #[test]
    fn copy_paste_embeds_a_contiguous_span() {
        let marked: Vec<u32> = (1000..1100).collect();
        let host: Vec<u32> = (0..50).collect();
        let p = copy_paste(&marked, &host, 30, &mut stream(4, "t", 0)).unwrap();
        assert_eq!(p.ids.len(), 80);
        let span = &p.ids[p.start..p.start + 30];
        assert!(span.windows(2).all(|w| w[1] == w[0] + 1) && span[0] >= 1000);
        let rest: Vec<u32> = p.ids[..p.start]
            .iter()
            .chain(&p.ids[p.start + 30..])
            .copied()
            .collect();
        assert_eq!(rest, host);
        assert!(copy_paste(&marked, &host, 101, &mut stream(4, "t", 0)).is_none());
    }
}

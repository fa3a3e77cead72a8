//! A keyed watermark: seeding turns a context window into a PRF seed, the scheme turns a
//! PRF word into a token score. Embedding and detection both go through this type.

use crate::TokenId;
use crate::account::{AccountCode, AccountLayer};
use crate::key::Key;
use crate::params::{Scheme, SeedingKind, WatermarkConfig};
use crate::prf::{Prf, RANK_TAG, Seed, gumbel_score};

/// What a scheme says about one (context, token) tuple.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenScore {
    /// KGW: whether the token is in its context's green list.
    Green(bool),
    /// Gumbel: `−ln(1 − u)`, Exp(1) under H0.
    Gumbel(f64),
}

impl TokenScore {
    /// The additive score: 1 or 0 for KGW, `−ln(1 − u)` for Gumbel.
    pub fn value(&self) -> f64 {
        match *self {
            TokenScore::Green(g) => f64::from(u8::from(g)),
            TokenScore::Gumbel(s) => s,
        }
    }
}

/// The ids a tuple's seed is computed from: the whole window (LeftHash), its minimum-rank
/// token (MinHash), or the window plus the token (SelfHash). Two tuples share a PRF value
/// exactly when they share this input and token, so detection dedups on the pair without
/// computing any HMAC for repeats. The default is the empty input (LeftHash with h = 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PrfInput {
    ids: [TokenId; crate::MAX_CONTEXT + 1],
    len: u8,
}

impl PrfInput {
    #[inline]
    fn new(parts: &[&[TokenId]]) -> Self {
        let mut ids = [0; crate::MAX_CONTEXT + 1];
        let mut len = 0;
        for part in parts {
            ids[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        Self {
            ids,
            len: len as u8,
        }
    }

    /// The ids, oldest first.
    #[inline]
    pub fn ids(&self) -> &[TokenId] {
        &self.ids[..usize::from(self.len)]
    }
}

/// A key ready for use: the PRF plus the public configuration.
#[derive(Clone)]
pub struct Watermark {
    prf: Prf,
    config: WatermarkConfig,
    accounts: Option<AccountLayer>,
    rank_seed: Seed,
}

impl std::fmt::Debug for Watermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watermark")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Watermark {
    /// Prepares a key for embedding or scoring.
    pub fn new(key: &Key) -> Self {
        let prf = key.prf();
        let config = *key.config();
        let h = config.seeding.lookback() as u8;
        let rank_seed = prf.seed(config.scheme.tag(), RANK_TAG, h, &[]);
        Self {
            prf,
            config,
            accounts: key.accounts().copied(),
            rank_seed,
        }
    }

    /// The account layer of a master key; `None` for a plain key.
    #[inline]
    pub fn accounts(&self) -> Option<&AccountLayer> {
        self.accounts.as_ref()
    }

    /// The code of account `id`; `None` for a plain key.
    pub fn account_code(&self, id: &str) -> Option<AccountCode> {
        self.accounts
            .as_ref()
            .map(|layer| layer.code(&self.prf, id))
    }

    /// The public configuration.
    #[inline]
    pub fn config(&self) -> &WatermarkConfig {
        &self.config
    }

    /// h: the number of preceding tokens a position needs before it can be watermarked or scored.
    #[inline]
    pub fn lookback(&self) -> usize {
        self.config.seeding.lookback()
    }

    /// The last h tokens of `context`, or `None` if it is shorter than h.
    pub fn window<'a>(&self, context: &'a [TokenId]) -> Option<&'a [TokenId]> {
        let h = self.lookback();
        context.len().checked_sub(h).map(|start| &context[start..])
    }

    /// The seed shared by every candidate after `window`; `None` for SelfHash, whose seed
    /// depends on the candidate. `window` must hold exactly h tokens.
    pub fn step_seed(&self, window: &[TokenId]) -> Option<Seed> {
        debug_assert_eq!(window.len(), self.lookback());
        match self.config.seeding.kind {
            SeedingKind::LeftHash => Some(self.seed(window)),
            SeedingKind::MinHash => Some(self.seed(&[self.min_rank_token(window)])),
            SeedingKind::SelfHash => None,
        }
    }

    /// The seed under which `token` following `window` is drawn.
    pub fn tuple_seed(&self, window: &[TokenId], token: TokenId) -> Seed {
        self.input_seed(&self.prf_input(window, token, |t| self.rank(t)))
    }

    /// The PRF input of `token` after `window` (exactly h tokens). `rank` gives a token's
    /// MinHash rank; pass [`Watermark::rank`], or a cached table of it.
    pub fn prf_input(
        &self,
        window: &[TokenId],
        token: TokenId,
        rank: impl Fn(TokenId) -> u32,
    ) -> PrfInput {
        debug_assert_eq!(window.len(), self.lookback());
        match self.config.seeding.kind {
            SeedingKind::LeftHash => PrfInput::new(&[window]),
            SeedingKind::MinHash => {
                let min = window.iter().copied().min_by_key(|&t| (rank(t), t));
                PrfInput::new(&[&[min.expect("minhash windows are non-empty")]])
            }
            SeedingKind::SelfHash => PrfInput::new(&[window, &[token]]),
        }
    }

    /// The seed of a PRF input.
    #[inline]
    pub fn input_seed(&self, input: &PrfInput) -> Seed {
        self.seed(input.ids())
    }

    /// A token's keyed MinHash rank: word `token` of the rank stream.
    pub fn rank(&self, token: TokenId) -> u32 {
        self.rank_seed.word(token)
    }

    /// The rank stream, whose word `t` is [`Watermark::rank`]`(t)`; fill a table from it to
    /// rank many tokens in one pass.
    pub fn rank_seed(&self) -> &Seed {
        &self.rank_seed
    }

    /// The scheme's verdict on a PRF word.
    #[inline]
    pub fn score_word(&self, word: u32) -> TokenScore {
        match self.config.scheme {
            Scheme::Kgw { gamma, .. } => TokenScore::Green(word < gamma.threshold()),
            Scheme::Gumbel => TokenScore::Gumbel(gumbel_score(word)),
        }
    }

    /// Score of `token` following `window`.
    pub fn score(&self, window: &[TokenId], token: TokenId) -> TokenScore {
        self.score_word(self.tuple_seed(window, token).word(token))
    }

    /// MinHash: the window token with the smallest keyed rank (ties broken by token id).
    pub fn min_rank_token(&self, window: &[TokenId]) -> TokenId {
        *window
            .iter()
            .min_by_key(|&&t| (self.rank(t), t))
            .expect("minhash windows are non-empty")
    }

    #[inline]
    fn seed(&self, ids: &[TokenId]) -> Seed {
        let h = self.lookback() as u8;
        self.prf.seed(
            self.config.scheme.tag(),
            self.config.seeding.kind.tag(),
            h,
            ids,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{Delta, Gamma, Seeding};

    fn watermark(kind: SeedingKind, h: usize) -> Watermark {
        let config = WatermarkConfig {
            scheme: Scheme::Kgw {
                gamma: Gamma::new(0.25).unwrap(),
                delta: Delta::new(2.0).unwrap(),
            },
            seeding: Seeding::new(kind, h).unwrap(),
        };
        Watermark::new(&Key::from_secret([9; 32], config))
    }

    #[test]
    fn minhash_ignores_window_order() {
        let w = watermark(SeedingKind::MinHash, 3);
        assert_eq!(w.tuple_seed(&[5, 6, 7], 1), w.tuple_seed(&[7, 5, 6], 1));
    }

    #[test]
    fn lefthash_depends_on_order_and_selfhash_on_the_token() {
        let w = watermark(SeedingKind::LeftHash, 2);
        assert_ne!(w.tuple_seed(&[5, 6], 1), w.tuple_seed(&[6, 5], 1));
        assert_eq!(w.tuple_seed(&[5, 6], 1), w.tuple_seed(&[5, 6], 2));
        let s = watermark(SeedingKind::SelfHash, 2);
        assert_ne!(s.tuple_seed(&[5, 6], 1), s.tuple_seed(&[5, 6], 2));
        assert!(s.step_seed(&[5, 6]).is_none());
    }

    #[test]
    fn green_rate_is_gamma_over_many_tuples() {
        let w = watermark(SeedingKind::LeftHash, 1);
        let n = 40_000u32;
        let green = (0..n)
            .filter(|&t| w.score(&[t], t.wrapping_mul(7919) % 49_152) == TokenScore::Green(true))
            .count();
        let rate = green as f64 / f64::from(n);
        // sd = sqrt(0.25 * 0.75 / 40000) ≈ 0.0022; 5 sd.
        assert!((rate - 0.25).abs() < 0.011, "{rate}");
    }
}

//! The account layer of a master key: every answer carries the account it was served to.
//!
//! # Scheme (account layer v1)
//! The green test is unchanged: a tuple is green when its PRF word `w` is below γ·2³². The
//! low bits of a green word are uniform and carry the account signal, so the layer costs no
//! extra PRF evaluation, in embedding or in attribution:
//!
//! ```text
//! colour c = w & (r − 1)                    r colours   (a power of two, 2 ≤ r ≤ 256)
//! digit  j = (w >> log2 r) & (L − 1)        L digits    (a power of two, 1 ≤ L ≤ 65536)
//! ```
//!
//! Each account `a` has a code of L digits in `0..r`. A green token whose colour is
//! `code_a[j]` gets the full bias δ; the other green tokens get δ − δ_a; red tokens get 0.
//! So the provider-wide green signal stays, and on top of it, at each of the L digits, the
//! answers served to `a` favour one of r colours (the position picks the digit, the digit picks
//! the colour list, as in MPAC, Yoo et al. 2024).
//!
//! # Account codes (derivation v1)
//! ```text
//! seed   = HMAC-SHA256(key = secret, "tracemark/account/v1" || u64 LE byte length || id UTF-8)
//! stream = ChaCha20 keystream under seed (the PRF's layout, `Seed::fill`)
//! code_a[j] = bits j·log2 r .. (j+1)·log2 r of the stream, least significant bit first
//! ```
//! The provider stores no per-account secret: the code follows from the master and the id.
//! Codes of distinct ids are independent and uniform, which is what attribution's null needs.

use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::params::Delta;
use crate::prf::{Prf, Seed};

/// Domain-separation prefix of the account-code derivation.
pub const ACCOUNT_DOMAIN: &[u8; 20] = b"tracemark/account/v1";

/// The public parameters of a master key's account layer: r colours, L digits, bias δ_a.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccountLayer {
    colour_bits: u8,
    digit_bits: u8,
    delta: Delta,
}

impl AccountLayer {
    /// Default number of colours r.
    pub const DEFAULT_COLOURS: u32 = 2;
    /// Default number of digits L.
    pub const DEFAULT_DIGITS: u32 = 1024;
    /// Default δ_a as a share of the key's δ: half the green bias carries the account, which
    /// keeps most of the provider-wide signal (see the README's "Which accounts?").
    pub const DEFAULT_DELTA_SHARE: f64 = 0.5;

    /// Validates the parameters: r and L powers of two (2 ≤ r ≤ 256, 1 ≤ L ≤ 65536) and
    /// δ_a in (0, 100]. The key checks δ_a ≤ δ.
    ///
    /// ```
    /// use tracemark_core::AccountLayer;
    /// let layer = AccountLayer::new(2, 1024, 2.0).unwrap();
    /// assert_eq!((layer.colours(), layer.digits()), (2, 1024));
    /// assert!(AccountLayer::new(3, 1024, 2.0).is_err());
    /// ```
    pub fn new(colours: u32, digits: u32, delta: f64) -> Result<Self, CoreError> {
        if !(colours.is_power_of_two() && (2..=256).contains(&colours)) {
            return Err(CoreError::InvalidParameter(format!(
                "account colours must be a power of two from 2 to 256, got {colours}"
            )));
        }
        if !(digits.is_power_of_two() && digits <= 65_536) {
            return Err(CoreError::InvalidParameter(format!(
                "account digits must be a power of two from 1 to 65536, got {digits}"
            )));
        }
        let delta = Delta::new(delta).map_err(|_| {
            CoreError::InvalidParameter(format!("account delta must be in (0, 100], got {delta}"))
        })?;
        Ok(Self {
            colour_bits: colours.trailing_zeros() as u8,
            digit_bits: digits.trailing_zeros() as u8,
            delta,
        })
    }

    /// r, the number of colours per digit.
    pub fn colours(&self) -> u32 {
        1 << self.colour_bits
    }

    /// L, the number of digits of an account code.
    pub fn digits(&self) -> u32 {
        1 << self.digit_bits
    }

    /// δ_a: how much less a green token of another colour gets than one of the account's.
    pub fn delta(&self) -> Delta {
        self.delta
    }

    /// The (digit, colour) a green PRF word carries.
    #[inline]
    pub fn slot(&self, word: u32) -> (u32, u32) {
        let colour = word & ((1 << self.colour_bits) - 1);
        let digit = (word >> self.colour_bits) & ((1 << self.digit_bits) - 1);
        (digit, colour)
    }

    /// The code of account `id` under the master's PRF.
    pub fn code(&self, prf: &Prf, id: &str) -> AccountCode {
        let mut msg = Vec::with_capacity(ACCOUNT_DOMAIN.len() + 8 + id.len());
        msg.extend_from_slice(ACCOUNT_DOMAIN);
        msg.extend_from_slice(&(id.len() as u64).to_le_bytes());
        msg.extend_from_slice(id.as_bytes());
        let seed = Seed(prf.label(&msg));
        let bits = usize::from(self.colour_bits);
        let digits = self.digits() as usize;
        let mut words = vec![0u32; (digits * bits).div_ceil(32)];
        seed.fill(&mut words);
        let mask = (1u32 << bits) - 1;
        // r ≤ 256 divides 32 bits evenly, so a digit never straddles two words.
        let code = (0..digits)
            .map(|j| {
                let bit = j * bits;
                ((words[bit / 32] >> (bit % 32)) & mask) as u8
            })
            .collect();
        AccountCode(code)
    }
}

/// An account's code: digit `j` is the colour its answers favour at digit `j`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCode(Vec<u8>);

impl AccountCode {
    /// The colour of digit `j`.
    #[inline]
    pub fn colour(&self, digit: u32) -> u32 {
        u32::from(self.0[digit as usize])
    }

    /// All digits, in order.
    pub fn digits(&self) -> &[u8] {
        &self.0
    }
}

/// The key file's `accounts` section.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountSpec {
    colours: u32,
    digits: u32,
    delta: f64,
}

impl From<&AccountLayer> for AccountSpec {
    fn from(layer: &AccountLayer) -> Self {
        Self {
            colours: layer.colours(),
            digits: layer.digits(),
            delta: f64::from(layer.delta.get()),
        }
    }
}

impl AccountSpec {
    pub(crate) fn validate(&self) -> Result<AccountLayer, CoreError> {
        AccountLayer::new(self.colours, self.digits, self.delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_deterministic_distinct_and_balanced() {
        let prf = Prf::new(&[5; 32]);
        let layer = AccountLayer::new(4, 4096, 1.0).unwrap();
        let a = layer.code(&prf, "alice");
        assert_eq!(a, layer.code(&prf, "alice"));
        assert_ne!(a, layer.code(&prf, "alicf"));
        // The length prefix keeps "" and a prefix of the domain apart from longer ids.
        assert_ne!(layer.code(&prf, ""), layer.code(&prf, "\0"));
        let mut counts = [0usize; 4];
        for &d in a.digits() {
            counts[usize::from(d)] += 1;
        }
        // 1024 expected per colour, sd ≈ 28.
        assert!(
            counts.iter().all(|&c| (880..1170).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn slots_read_the_low_bits() {
        let layer = AccountLayer::new(2, 1024, 2.0).unwrap();
        assert_eq!(layer.slot(0b1_0110_0000_0001), (768, 1));
        assert_eq!(layer.slot(u32::MAX), (1023, 1));
        assert_eq!(layer.slot(2), (1, 0));
    }

    #[test]
    fn bad_parameters_are_rejected() {
        for (r, l, d) in [
            (1, 1024, 2.0),
            (3, 1024, 2.0),
            (512, 4, 2.0),
            (2, 1000, 2.0),
            (2, 1 << 17, 2.0),
            (2, 1024, 0.0),
        ] {
            assert!(AccountLayer::new(r, l, d).is_err(), "{r} {l} {d}");
        }
    }
}

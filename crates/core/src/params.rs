//! Public scheme parameters: value types that cannot hold bad values.
//!
//! Each type checks its invariant once, at construction; nothing downstream re-checks.

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// Largest supported context width h. Keeps every PRF message inside one SHA-256 block.
pub const MAX_CONTEXT: usize = 8;

/// The green-list fraction γ ∈ (0, 1).
///
/// A token is green when its 32-bit PRF word `w` satisfies `w < threshold`, with
/// `threshold = round(γ · 2³²)`. The statistics use [`Gamma::effective`] = threshold / 2³²,
/// which is the *exact* probability that a uniform word is green, so the binomial test is
/// exact rather than off by up to 2⁻³³.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gamma {
    nominal: f64,
    threshold: u32,
}

impl Gamma {
    /// The default green fraction, Kirchenbauer et al.'s recommended γ = 0.25.
    pub const DEFAULT: f64 = 0.25;

    /// Validates γ; it must be a finite number strictly between 0 and 1.
    ///
    /// ```
    /// use tracemark_core::Gamma;
    /// assert_eq!(Gamma::new(0.25).unwrap().effective(), 0.25);
    /// assert!(Gamma::new(1.0).is_err());
    /// ```
    pub fn new(gamma: f64) -> Result<Self, CoreError> {
        if !(gamma.is_finite() && gamma > 0.0 && gamma < 1.0) {
            return Err(CoreError::InvalidParameter(format!(
                "gamma must be strictly between 0 and 1, got {gamma}"
            )));
        }
        let scaled = (gamma * 4_294_967_296.0).round();
        if !(1.0..=4_294_967_295.0).contains(&scaled) {
            return Err(CoreError::InvalidParameter(format!(
                "gamma {gamma} is too close to 0 or 1 for a 32-bit threshold"
            )));
        }
        Ok(Self {
            nominal: gamma,
            threshold: scaled as u32,
        })
    }

    /// The value the user asked for.
    pub fn nominal(&self) -> f64 {
        self.nominal
    }

    /// Exact green probability of a uniform 32-bit word: `threshold / 2³²`.
    pub fn effective(&self) -> f64 {
        f64::from(self.threshold) / 4_294_967_296.0
    }

    /// A word below this threshold is green.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }
}

/// The KGW logit bias δ, finite and in (0, 100].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delta(f32);

impl Delta {
    /// The default logit bias, Kirchenbauer et al.'s recommended δ = 2.
    pub const DEFAULT: f64 = 2.0;

    /// Validates δ.
    pub fn new(delta: f64) -> Result<Self, CoreError> {
        if !(delta.is_finite() && delta > 0.0 && delta <= 100.0) {
            return Err(CoreError::InvalidParameter(format!(
                "delta must be in (0, 100], got {delta}"
            )));
        }
        Ok(Self(delta as f32))
    }

    /// The bias added to green logits.
    pub fn get(&self) -> f32 {
        self.0
    }
}

/// The context width h: how many preceding tokens seed the green list (0 ≤ h ≤ [`MAX_CONTEXT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContextWidth(u8);

impl ContextWidth {
    /// Validates h.
    pub fn new(h: usize) -> Result<Self, CoreError> {
        if h > MAX_CONTEXT {
            return Err(CoreError::InvalidParameter(format!(
                "context width must be at most {MAX_CONTEXT}, got {h}"
            )));
        }
        Ok(Self(h as u8))
    }

    /// h as a count of tokens.
    pub fn get(&self) -> usize {
        usize::from(self.0)
    }
}

/// How the context window seeds the PRF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeedingKind {
    /// The last h tokens, in order. h = 0 is Unigram: one fixed list.
    LeftHash,
    /// The one token among the last h with the smallest keyed rank; robust to reordering.
    MinHash,
    /// The last h tokens plus the candidate token itself.
    SelfHash,
}

impl SeedingKind {
    /// Stable name used in key files and output.
    pub fn name(&self) -> &'static str {
        match self {
            SeedingKind::LeftHash => "lefthash",
            SeedingKind::MinHash => "minhash",
            SeedingKind::SelfHash => "selfhash",
        }
    }

    /// The context width h a key gets when none is asked for: 1 for LeftHash, 3 for SelfHash
    /// (a window of four tokens with the candidate, Kirchenbauer et al.'s recommendation), 4
    /// for MinHash.
    pub fn default_context(&self) -> usize {
        match self {
            SeedingKind::LeftHash => 1,
            SeedingKind::SelfHash => 3,
            SeedingKind::MinHash => 4,
        }
    }

    /// Tag byte in the PRF message.
    pub(crate) fn tag(&self) -> u8 {
        match self {
            SeedingKind::LeftHash => 1,
            SeedingKind::MinHash => 2,
            SeedingKind::SelfHash => 3,
        }
    }
}

/// A seeding scheme with its context width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Seeding {
    /// Which tokens of the window enter the PRF.
    pub kind: SeedingKind,
    /// The number of preceding tokens h.
    pub context: ContextWidth,
}

impl Seeding {
    /// A seeding of `kind` over `h` tokens, or over [`SeedingKind::default_context`] tokens.
    pub fn with_default_context(kind: SeedingKind, h: Option<usize>) -> Result<Self, CoreError> {
        Self::new(kind, h.unwrap_or(kind.default_context()))
    }

    /// Builds a seeding; MinHash needs h ≥ 1 (over zero tokens there is no minimum).
    pub fn new(kind: SeedingKind, h: usize) -> Result<Self, CoreError> {
        if kind == SeedingKind::MinHash && h == 0 {
            return Err(CoreError::InvalidParameter(
                "minhash seeding needs a context width of at least 1".into(),
            ));
        }
        Ok(Self {
            kind,
            context: ContextWidth::new(h)?,
        })
    }

    /// h: tokens before a position that the PRF reads; the first h tokens of a text are never scored.
    pub fn lookback(&self) -> usize {
        self.context.get()
    }
}

/// The watermark scheme: how PRF values change sampling and how they are scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scheme {
    /// Kirchenbauer et al.: green when u < γ; +δ on green logits.
    Kgw {
        /// Green fraction.
        gamma: Gamma,
        /// Logit bias.
        delta: Delta,
    },
    /// Aaronson / Gumbel-max: next = argmax u^(1/p); score −ln(1−u). Distortion-free.
    Gumbel,
}

/// Which scheme, without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemeKind {
    /// Kirchenbauer et al.'s green lists.
    Kgw,
    /// Aaronson's Gumbel-max sampling.
    Gumbel,
}

impl Scheme {
    /// A scheme of `kind`; KGW's γ and δ default to [`Gamma::DEFAULT`] and [`Delta::DEFAULT`].
    /// Gumbel has no parameters, so giving γ or δ with it is an error.
    pub fn with_defaults(
        kind: SchemeKind,
        gamma: Option<f64>,
        delta: Option<f64>,
    ) -> Result<Self, CoreError> {
        match kind {
            SchemeKind::Kgw => Ok(Scheme::Kgw {
                gamma: Gamma::new(gamma.unwrap_or(Gamma::DEFAULT))?,
                delta: Delta::new(delta.unwrap_or(Delta::DEFAULT))?,
            }),
            SchemeKind::Gumbel if gamma.is_some() || delta.is_some() => Err(
                CoreError::InvalidParameter("gamma and delta apply to the kgw scheme only".into()),
            ),
            SchemeKind::Gumbel => Ok(Scheme::Gumbel),
        }
    }

    /// Stable name used in key files and output.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Kgw { .. } => "kgw",
            Scheme::Gumbel => "gumbel",
        }
    }

    pub(crate) fn tag(&self) -> u8 {
        match self {
            Scheme::Kgw { .. } => 1,
            Scheme::Gumbel => 2,
        }
    }
}

/// Everything public about a key: scheme plus seeding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WatermarkConfig {
    /// Scheme and its parameters.
    pub scheme: Scheme,
    /// Seeding and context width.
    pub seeding: Seeding,
}

impl WatermarkConfig {
    /// Short human description, e.g. `kgw(γ=0.25, δ=2) selfhash(h=3)`.
    pub fn describe(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Kgw { gamma, delta } => {
                format!("kgw(γ={}, δ={})", gamma.nominal(), delta.get())
            }
            Scheme::Gumbel => "gumbel".to_string(),
        };
        format!(
            "{scheme} {}(h={})",
            self.seeding.kind.name(),
            self.seeding.lookback()
        )
    }
}

impl Default for WatermarkConfig {
    /// γ = 0.25, δ = 2, SelfHash with h = 3 (a window of four tokens with the candidate),
    /// the setting Kirchenbauer et al. recommend for robustness.
    fn default() -> Self {
        Self {
            scheme: Scheme::with_defaults(SchemeKind::Kgw, None, None).expect("valid"),
            seeding: Seeding::with_default_context(SeedingKind::SelfHash, None).expect("valid"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_threshold_is_exact_for_dyadic_values() {
        let g = Gamma::new(0.25).unwrap();
        assert_eq!(g.threshold(), 1 << 30);
        assert_eq!(g.effective(), 0.25);
        let g = Gamma::new(0.1).unwrap();
        assert!((g.effective() - 0.1).abs() < 2f64.powi(-32));
    }

    #[test]
    fn bad_values_are_rejected() {
        for g in [0.0, 1.0, -0.1, f64::NAN, f64::INFINITY, 1e-12] {
            assert!(Gamma::new(g).is_err(), "{g}");
        }
        for d in [0.0, -1.0, f64::NAN, 101.0] {
            assert!(Delta::new(d).is_err(), "{d}");
        }
        assert!(ContextWidth::new(MAX_CONTEXT + 1).is_err());
        assert!(Seeding::new(SeedingKind::MinHash, 0).is_err());
        assert!(Seeding::new(SeedingKind::LeftHash, 0).is_ok());
        assert!(Scheme::with_defaults(SchemeKind::Gumbel, Some(0.5), None).is_err());
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let s = Scheme::with_defaults(SchemeKind::Kgw, None, Some(3.0)).unwrap();
        assert_eq!(s.describe_params(), (0.25, 3.0));
        let seeding = Seeding::with_default_context(SeedingKind::MinHash, None).unwrap();
        assert_eq!(seeding.lookback(), 4);
        assert_eq!(
            WatermarkConfig::default().describe(),
            "kgw(γ=0.25, δ=2) selfhash(h=3)"
        );
    }

    impl Scheme {
        fn describe_params(&self) -> (f64, f32) {
            match *self {
                Scheme::Kgw { gamma, delta } => (gamma.nominal(), delta.get()),
                Scheme::Gumbel => (0.0, 0.0),
            }
        }
    }
}

//! The one entry point a serving stack calls per decode step.

use tracemark_core::{AccountCode, Key, KeyId, Scheme, Watermark, WatermarkConfig};

use crate::EmbedError;
use crate::gumbel::gumbel_choose;
use crate::kgw::{DEFAULT_SELFHASH_CANDIDATES, KgwBias};
use crate::sampling::{Sampler, SamplingParams};

/// Watermarks (or, without a key, just samples) one token per call.
///
/// ```
/// use tracemark_core::{Key, WatermarkConfig};
/// use tracemark_embed::{Embedder, SamplingParams};
///
/// let key = Key::from_secret([1; 32], WatermarkConfig::default());
/// let params = SamplingParams::new(0.7, 0, 0.95, 42).unwrap();
/// let mut embedder = Embedder::new(Some(&key), params);
/// let mut context = vec![10, 11, 12];
/// let mut logits = vec![0.0f32; 100];
/// let token = embedder.next_token(&context, &mut logits);
/// context.push(token);
/// ```
#[derive(Debug, Clone)]
pub struct Embedder {
    watermark: Option<Watermark>,
    key_id: Option<KeyId>,
    account: Option<(String, AccountCode)>,
    sampler: Sampler,
    kgw: KgwBias,
    selfhash_candidates: usize,
}

impl Embedder {
    /// An embedder for `key`; `None` gives the unwatermarked baseline with the same sampler.
    pub fn new(key: Option<&Key>, params: SamplingParams) -> Self {
        Self {
            watermark: key.map(Watermark::new),
            key_id: key.map(|k| k.id().clone()),
            account: None,
            sampler: Sampler::new(params),
            kgw: KgwBias::new(),
            selfhash_candidates: DEFAULT_SELFHASH_CANDIDATES,
        }
    }

    /// Watermarks for account `id`: its answers carry the account's code on top of the
    /// master key's green lists. A serving stack makes one embedder per request, so each
    /// request names its own account.
    ///
    /// Fails without a master key (a plain key, or the unwatermarked baseline).
    pub fn with_account(mut self, id: &str) -> Result<Self, EmbedError> {
        let code = self
            .watermark
            .as_ref()
            .and_then(|wm| wm.account_code(id))
            .ok_or_else(|| {
                EmbedError::NotAMasterKey(
                    "an account needs a master key (tracemark keygen --accounts)".into(),
                )
            })?;
        self.account = Some((id.to_string(), code));
        Ok(self)
    }

    /// The account this embedder watermarks for, if any.
    pub fn account(&self) -> Option<&str> {
        self.account.as_ref().map(|(id, _)| id.as_str())
    }

    /// How many top logits KGW SelfHash checks per step (default
    /// [`DEFAULT_SELFHASH_CANDIDATES`]); 0 biases nothing.
    pub fn with_selfhash_candidates(mut self, k: usize) -> Self {
        self.selfhash_candidates = k;
        self
    }

    /// The next token after `context` (the whole history, prompt plus generated tokens).
    ///
    /// `logits` holds one entry per vocabulary token. KGW adds δ to the green entries in place
    /// and then samples; Gumbel chooses by the Gumbel-max rule and leaves them unchanged;
    /// without a key this is plain sampling. Until the context holds h tokens nothing is
    /// watermarked. The caller appends the returned token to the context.
    ///
    /// # Panics
    /// If `logits` is empty or longer than `u32::MAX`.
    pub fn next_token(&mut self, context: &[u32], logits: &mut [f32]) -> u32 {
        let Some(wm) = &self.watermark else {
            return self.sampler.sample(logits);
        };
        match wm.config().scheme {
            Scheme::Kgw { .. } => {
                let account = self.account.as_ref().map(|(_, code)| code);
                let (_, m) =
                    self.kgw
                        .apply_with_max(wm, context, logits, self.selfhash_candidates, account);
                self.sampler.sample_given_max(logits, m)
            }
            Scheme::Gumbel => gumbel_choose(wm, context, logits, &mut self.sampler),
        }
    }

    /// The key's public fingerprint, for provenance records; `None` for the baseline.
    pub fn key_id(&self) -> Option<&KeyId> {
        self.key_id.as_ref()
    }

    /// The key's public configuration; `None` for the baseline.
    pub fn config(&self) -> Option<&WatermarkConfig> {
        self.watermark.as_ref().map(Watermark::config)
    }

    /// The prepared watermark; `None` for the baseline.
    pub fn watermark(&self) -> Option<&Watermark> {
        self.watermark.as_ref()
    }

    /// The sampling settings.
    pub fn params(&self) -> &SamplingParams {
        self.sampler.params()
    }

    /// SelfHash candidates checked per step.
    pub fn selfhash_candidates(&self) -> usize {
        self.selfhash_candidates
    }
}

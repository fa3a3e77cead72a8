//! API keys: random bearer tokens that the ledger knows only by their SHA-256.

use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::LedgerError;

/// The prefix of every tracemark API key, so that leaked keys are recognisable.
const PREFIX: &str = "tmk_";

/// A new API key, held only until it is printed once. Its `Debug` form is redacted.
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// A fresh key: the prefix and 32 random bytes in hex.
    pub fn generate() -> Result<Self, LedgerError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|e| LedgerError::Random(e.to_string()))?;
        Ok(Self(Zeroizing::new(format!(
            "{PREFIX}{}",
            hex::encode(bytes.as_ref())
        ))))
    }

    /// The key itself, to print once to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// The SHA-256 of a presented bearer token, in hex: what the ledger stores and looks up.
pub(crate) fn key_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The public id of an API key: the first 12 hex digits of its hash. It names a key in
/// listings and request rows without revealing it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(pub String);

impl KeyId {
    /// The id of the key whose hash is `hash`.
    pub(crate) fn of_hash(hash: &str) -> Self {
        Self(hash[..12].to_string())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_prefixed_and_redacted() {
        let a = ApiKey::generate().unwrap();
        let b = ApiKey::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(PREFIX) && a.expose().len() == PREFIX.len() + 64);
        assert!(!format!("{a:?}").contains(&a.expose()[PREFIX.len()..]));
        let hash = key_hash(a.expose());
        assert_eq!(hash.len(), 64);
        assert_eq!(KeyId::of_hash(&hash).0, hash[..12]);
    }
}

//! Watermark keys: 256 secret bits plus public parameters, and their versioned JSON form.
//!
//! The secret never appears in `Debug` output or error messages. Only [`Key::to_json`]
//! writes it, for the key file.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::CoreError;
use crate::account::{AccountLayer, AccountSpec};
use crate::params::{Delta, Gamma, Scheme, Seeding, SeedingKind, WatermarkConfig};
use crate::prf::Prf;

/// Key file format name.
pub const KEY_FORMAT: &str = "tracemark-key";
/// Newest key file format version this build reads and writes. Version 1 is a plain key;
/// version 2 adds the `accounts` section of a master key. Plain keys are still written as
/// version 1, so older builds read them.
pub const KEY_VERSION: u32 = 2;

/// A public fingerprint of a secret: 16 hex digits of HMAC-SHA256(secret, "tracemark/key-id/v1").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    fn derive(prf: &Prf) -> Self {
        Self(hex::encode(&prf.label(b"tracemark/key-id/v1")[..8]))
    }

    /// The fingerprint as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret watermark key with its public configuration.
#[derive(Clone)]
pub struct Key {
    secret: Zeroizing<[u8; 32]>,
    config: WatermarkConfig,
    accounts: Option<AccountLayer>,
    id: KeyId,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("key_id", &self.id)
            .field("config", &self.config)
            .field("accounts", &self.accounts)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Key {
    /// A fresh key with 256 bits from the operating system's RNG.
    pub fn generate(config: WatermarkConfig) -> Result<Self, CoreError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut())
            .map_err(|e| CoreError::Rng(format!("operating system RNG failed: {e}")))?;
        Ok(Self::from_secret(*secret, config))
    }

    /// A key from known secret bytes (tests, calibration with many random keys).
    pub fn from_secret(secret: [u8; 32], config: WatermarkConfig) -> Self {
        let secret = Zeroizing::new(secret);
        let id = KeyId::derive(&Prf::new(&secret));
        Self {
            secret,
            config,
            accounts: None,
            id,
        }
    }

    /// This key as a provider **master key**: the same secret and green lists, plus an account
    /// layer, so answers served to an account carry it (see [`AccountLayer`]).
    ///
    /// Needs a KGW key with δ_a ≤ δ: the account layer is a split of the green bias.
    pub fn with_accounts(mut self, layer: AccountLayer) -> Result<Self, CoreError> {
        let Scheme::Kgw { delta, .. } = self.config.scheme else {
            return Err(CoreError::InvalidParameter(
                "account watermarks need a KGW key; a Gumbel key has no bias to split".into(),
            ));
        };
        if layer.delta().get() > delta.get() {
            return Err(CoreError::InvalidParameter(format!(
                "account delta {} exceeds the key's delta {}",
                layer.delta().get(),
                delta.get()
            )));
        }
        self.accounts = Some(layer);
        Ok(self)
    }

    /// A key derived from public inputs: the secret is SHA-256(`label` ‖ `index` as u64
    /// little-endian).
    ///
    /// Anyone who knows the label and index can rebuild the key, which is what reproducible
    /// experiments need: the demo's key, random-key controls, null runs over many keys. Such
    /// a key proves nothing outside the experiment; never watermark real traffic with one.
    ///
    /// ```
    /// use tracemark_core::{Key, WatermarkConfig};
    /// let a = Key::derive("tracemark/example/v1", 7, WatermarkConfig::default());
    /// let b = Key::derive("tracemark/example/v1", 7, WatermarkConfig::default());
    /// assert_eq!(a.id(), b.id());
    /// assert_ne!(a.id(), Key::derive("tracemark/example/v1", 8, WatermarkConfig::default()).id());
    /// ```
    pub fn derive(label: &str, index: u64, config: WatermarkConfig) -> Self {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(label.as_bytes());
        h.update(index.to_le_bytes());
        Self::from_secret(h.finalize().into(), config)
    }

    /// Random key number `index` of the reproducible stream `seed`: [`Key::derive`] with the
    /// label `tracemark/random-key/v1/{seed}`. Random-key controls and null runs over many
    /// keys draw their keys here, so the same seed gives the same keys everywhere.
    pub fn random(seed: u64, index: u64, config: WatermarkConfig) -> Self {
        Self::derive(&format!("tracemark/random-key/v1/{seed}"), index, config)
    }

    /// The public fingerprint; safe to print.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The public scheme parameters.
    pub fn config(&self) -> &WatermarkConfig {
        &self.config
    }

    /// The account layer of a master key; `None` for a plain key.
    pub fn accounts(&self) -> Option<&AccountLayer> {
        self.accounts.as_ref()
    }

    /// The scheme in words, e.g. `kgw(γ=0.25, δ=2) selfhash(h=3)`, with
    /// `accounts(r=2, L=1024, δa=2)` appended for a master key.
    pub fn describe(&self) -> String {
        match &self.accounts {
            Some(l) => format!(
                "{} accounts(r={}, L={}, δa={})",
                self.config.describe(),
                l.colours(),
                l.digits(),
                l.delta().get()
            ),
            None => self.config.describe(),
        }
    }

    /// The keyed PRF.
    pub fn prf(&self) -> Prf {
        Prf::new(&self.secret)
    }

    /// The key file contents (JSON, includes the secret).
    pub fn to_json(&self) -> String {
        let file = KeyFile {
            format: KEY_FORMAT.into(),
            version: if self.accounts.is_some() { 2 } else { 1 },
            key_id: self.id.clone(),
            scheme: SchemeSpec::from(self.config.scheme),
            seeding: SeedingSpec {
                kind: self.config.seeding.kind,
                context: self.config.seeding.lookback(),
            },
            accounts: self.accounts.as_ref().map(AccountSpec::from),
            secret: Zeroizing::new(hex::encode(self.secret.as_ref())),
        };
        let mut json = serde_json::to_string_pretty(&file).expect("key file serializes");
        json.push('\n');
        json
    }

    /// Parses and validates a key file: format, version, parameters, secret, and that
    /// `key_id` matches the secret (which catches a corrupted secret).
    pub fn from_json(text: &str) -> Result<Self, CoreError> {
        let file: KeyFile = serde_json::from_str(text).map_err(|e| {
            // serde_json messages quote only positions and field names, never values.
            CoreError::KeyFile(format!("not a valid key file: {e}"))
        })?;
        if file.format != KEY_FORMAT {
            return Err(CoreError::KeyFile(format!(
                "format is {:?}, expected {KEY_FORMAT:?}",
                file.format
            )));
        }
        match (file.version, &file.accounts) {
            (1, None) | (2, Some(_)) => {}
            (1, Some(_)) => {
                return Err(CoreError::KeyFile(
                    "a version 1 key file has no accounts section".into(),
                ));
            }
            (2, None) => {
                return Err(CoreError::KeyFile(
                    "a version 2 key file needs its accounts section".into(),
                ));
            }
            (v, _) => {
                return Err(CoreError::KeyFile(format!(
                    "key file version {v} is not supported (this build reads versions 1 to {KEY_VERSION})"
                )));
            }
        }
        let bytes = Zeroizing::new(
            hex::decode(file.secret.as_str())
                .map_err(|_| CoreError::KeyFile("secret is not valid hex".into()))?,
        );
        let secret: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CoreError::KeyFile("secret must be 32 bytes (64 hex digits)".into()))?;
        let config = WatermarkConfig {
            scheme: file.scheme.validate()?,
            seeding: Seeding::new(file.seeding.kind, file.seeding.context)?,
        };
        let mut key = Self::from_secret(secret, config);
        if let Some(spec) = &file.accounts {
            key = key
                .with_accounts(spec.validate()?)
                .map_err(|e| CoreError::KeyFile(e.to_string()))?;
        }
        if key.id != file.key_id {
            return Err(CoreError::KeyFile(
                "key_id does not match the secret: the file is corrupt or was edited".into(),
            ));
        }
        Ok(key)
    }
}

/// On-disk layout of a key file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    version: u32,
    key_id: KeyId,
    scheme: SchemeSpec,
    seeding: SeedingSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accounts: Option<AccountSpec>,
    secret: Zeroizing<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum SchemeSpec {
    Kgw { gamma: f64, delta: f64 },
    Gumbel,
}

impl From<Scheme> for SchemeSpec {
    fn from(scheme: Scheme) -> Self {
        match scheme {
            Scheme::Kgw { gamma, delta } => SchemeSpec::Kgw {
                gamma: gamma.nominal(),
                delta: f64::from(delta.get()),
            },
            Scheme::Gumbel => SchemeSpec::Gumbel,
        }
    }
}

impl SchemeSpec {
    fn validate(&self) -> Result<Scheme, CoreError> {
        Ok(match *self {
            SchemeSpec::Kgw { gamma, delta } => Scheme::Kgw {
                gamma: Gamma::new(gamma)?,
                delta: Delta::new(delta)?,
            },
            SchemeSpec::Gumbel => Scheme::Gumbel,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedingSpec {
    kind: SeedingKind,
    context: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_secret([3; 32], WatermarkConfig::default())
    }

    #[test]
    fn json_round_trips_and_keeps_the_id() {
        let k = key();
        let back = Key::from_json(&k.to_json()).unwrap();
        assert_eq!(back.id(), k.id());
        assert_eq!(back.config(), k.config());
        assert_eq!(k.id().as_str().len(), 16);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let k = key();
        let secret_hex = hex::encode([3u8; 32]);
        assert!(!format!("{k:?}").contains(&secret_hex));
        assert!(k.to_json().contains(&secret_hex));
    }

    #[test]
    fn corrupt_files_are_rejected_without_echoing_the_secret() {
        let json = key().to_json();
        let secret_hex = hex::encode([3u8; 32]);
        let flipped = json.replace(&secret_hex, &hex::encode([4u8; 32]));
        let cases = [
            String::new(),
            "{".to_string(),
            "[1,2]".to_string(),
            json.replace("tracemark-key", "other"),
            json.replace("\"version\": 1", "\"version\": 9"),
            json.replace("0.25", "1.5"),
            json.replace(&secret_hex, "zz"),
            json.replace(&secret_hex, &secret_hex[..62]),
            flipped,
        ];
        for case in cases {
            let err = Key::from_json(&case).unwrap_err().to_string();
            assert!(!err.contains(&secret_hex), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn master_keys_round_trip_as_version_2() {
        let layer = AccountLayer::new(4, 256, 1.5).unwrap();
        let master = key().with_accounts(layer).unwrap();
        let json = master.to_json();
        assert!(
            json.contains("\"version\": 2") && json.contains("\"accounts\""),
            "{json}"
        );
        let back = Key::from_json(&json).unwrap();
        assert_eq!(back.accounts(), Some(&layer));
        assert_eq!(
            back.id(),
            key().id(),
            "the account layer does not change the key id"
        );
        assert!(key().to_json().contains("\"version\": 1"));
        assert!(!key().to_json().contains("accounts"));
        for case in [
            json.replace("\"version\": 2", "\"version\": 1"),
            key().to_json().replace("\"version\": 1", "\"version\": 2"),
            json.replace("\"colours\": 4", "\"colours\": 3"),
            json.replace("\"delta\": 1.5", "\"delta\": 2.5"),
        ] {
            let err = Key::from_json(&case).unwrap_err().to_string();
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn gumbel_keys_cannot_be_masters() {
        let config = WatermarkConfig {
            scheme: Scheme::Gumbel,
            ..WatermarkConfig::default()
        };
        let layer = AccountLayer::new(2, 1024, 1.0).unwrap();
        let err = Key::from_secret([1; 32], config)
            .with_accounts(layer)
            .unwrap_err();
        assert!(err.to_string().contains("KGW"), "{err}");
    }

    #[test]
    fn generated_keys_differ() {
        let a = Key::generate(WatermarkConfig::default()).unwrap();
        let b = Key::generate(WatermarkConfig::default()).unwrap();
        assert_ne!(a.id(), b.id());
    }
}

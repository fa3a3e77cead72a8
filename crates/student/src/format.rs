//! The student file format: versioned, checksummed, little-endian.
//!
//! ```text
//! header   magic "TMSTUDNT" (8 bytes) · format version u32 · payload length u64 ·
//!          SHA-256 of the payload (32 bytes)
//! payload  vocab size u64 · order u32 · separator u32 · end of answer u32 ·
//!          training tokens u64 · sequences u64 ·
//!          per order: n-gram count u64, D1 D2 D3+ as f64 ·
//!          per order: tokens [u32], counts [u32] ·
//!          per order below N: child offsets [u32; n-grams + 1]
//! ```
//!
//! Everything the queries rely on is checked on load ([`Tables::new`]), so a file that
//! passes the checksum but was crafted inconsistent is still an error, never a panic.

use sha2::{Digest, Sha256};

use crate::StudentError;
use crate::config::{MAX_ORDER, SpecialTokens};
use crate::model::KneserNey;
use crate::tables::{Level, Tables};

/// The first bytes of every student file.
pub const MAGIC: &[u8; 8] = b"TMSTUDNT";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const HEADER_LEN: usize = 8 + 4 + 8 + 32;

impl KneserNey {
    /// The model as bytes of the student file format (see [`from_bytes`](Self::from_bytes)).
    pub fn to_bytes(&self) -> Vec<u8> {
        let t = &self.tables;
        let mut p = Vec::new();
        p.extend_from_slice(&(t.vocab_size as u64).to_le_bytes());
        for x in [
            t.order as u32,
            t.specials.separator,
            t.specials.end_of_answer,
        ] {
            p.extend_from_slice(&x.to_le_bytes());
        }
        p.extend_from_slice(&t.training_tokens.to_le_bytes());
        p.extend_from_slice(&t.sequences.to_le_bytes());
        for level in &t.levels {
            p.extend_from_slice(&(level.tokens.len() as u64).to_le_bytes());
            for d in level.discounts {
                p.extend_from_slice(&d.to_le_bytes());
            }
        }
        let mut put = |xs: &[u32]| {
            for x in xs {
                p.extend_from_slice(&x.to_le_bytes());
            }
        };
        for level in &t.levels {
            put(&level.tokens);
            put(&level.counts);
        }
        for level in &t.levels[..t.order - 1] {
            put(&level.child_start);
        }
        let mut out = Vec::with_capacity(HEADER_LEN + p.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(p.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&p));
        out.extend_from_slice(&p);
        out
    }

    /// Reads a model written by [`to_bytes`](Self::to_bytes).
    ///
    /// Errors: [`StudentError::NotAStudent`] for other files,
    /// [`StudentError::UnsupportedVersion`] for another format version, and
    /// [`StudentError::Corrupt`] for truncated, altered or inconsistent data. Whether the
    /// vocabulary matches a tokenizer is for the caller to check.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StudentError> {
        let corrupt = |m: &str| StudentError::Corrupt(m.to_string());
        if bytes.len() < MAGIC.len() {
            return Err(if MAGIC.starts_with(bytes) && !bytes.is_empty() {
                corrupt("truncated header")
            } else {
                StudentError::NotAStudent
            });
        }
        if &bytes[..8] != MAGIC {
            return Err(StudentError::NotAStudent);
        }
        if bytes.len() < HEADER_LEN {
            return Err(corrupt("truncated header"));
        }
        let mut header = Reader::new(&bytes[8..HEADER_LEN]);
        let version = header.u32()?;
        if version != FORMAT_VERSION {
            return Err(StudentError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let payload_len = header.u64()?;
        let checksum = &bytes[20..HEADER_LEN];
        let payload = &bytes[HEADER_LEN..];
        if (payload.len() as u64) < payload_len {
            return Err(corrupt(&format!(
                "truncated ({} of {payload_len} payload bytes)",
                payload.len()
            )));
        }
        if payload.len() as u64 > payload_len {
            return Err(corrupt("unexpected bytes after the payload"));
        }
        if Sha256::digest(payload).as_slice() != checksum {
            return Err(corrupt(
                "checksum mismatch (the file was altered or damaged)",
            ));
        }

        let mut r = Reader::new(payload);
        let vocab_size = usize::try_from(r.u64()?).map_err(|_| corrupt("vocabulary too large"))?;
        let order = r.u32()? as usize;
        if !(1..=MAX_ORDER).contains(&order) {
            return Err(corrupt(&format!("n-gram order {order}")));
        }
        let specials = SpecialTokens {
            separator: r.u32()?,
            end_of_answer: r.u32()?,
        };
        let training_tokens = r.u64()?;
        let sequences = r.u64()?;
        let mut sizes = Vec::with_capacity(order);
        let mut discounts = Vec::with_capacity(order);
        for _ in 0..order {
            sizes.push(r.u64()?);
            discounts.push([r.f64()?, r.f64()?, r.f64()?]);
        }
        let mut levels = Vec::with_capacity(order);
        for (&n, discounts) in sizes.iter().zip(discounts) {
            levels.push(Level {
                tokens: r.u32s(n)?,
                counts: r.u32s(n)?,
                discounts,
                child_start: Vec::new(),
            });
        }
        for (l, &n) in sizes[..order - 1].iter().enumerate() {
            levels[l].child_start = r.u32s(n.saturating_add(1))?;
        }
        if !r.rest().is_empty() {
            return Err(corrupt("unexpected bytes after the tables"));
        }
        let tables = Tables::new(
            vocab_size,
            order,
            specials,
            training_tokens,
            sequences,
            levels,
        )
        .map_err(|e| match e {
            e @ StudentError::Corrupt(_) => e,
            other => StudentError::Corrupt(other.to_string()),
        })?;
        Ok(Self::from_tables(tables))
    }
}

/// Bounds-checked little-endian reads.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StudentError> {
        if self.bytes.len() < n {
            return Err(StudentError::Corrupt("tables end early".into()));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, StudentError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, StudentError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn f64(&mut self) -> Result<f64, StudentError> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// `n` u32 values; the length is checked against the bytes left before allocating.
    fn u32s(&mut self, n: u64) -> Result<Vec<u32>, StudentError> {
        let len = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(4))
            .filter(|&len| len <= self.bytes.len())
            .ok_or_else(|| StudentError::Corrupt("tables end early".into()))?;
        Ok(self
            .take(len)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
}

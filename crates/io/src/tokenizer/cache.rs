//! The word cache of the fast path: tokens of words seen before, keyed by raw word bytes.

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;

/// Words cached before the cache is cleared.
const CAPACITY: usize = 1 << 15;
/// Longest word (bytes) that is cached.
pub(super) const MAX_WORD: usize = 256;

/// One token of a cached word: id and HF's offsets relative to the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Piece {
    pub id: u32,
    pub start: u16,
    pub end: u16,
}

/// The tokens of one word; most words are one token, kept inline.
#[derive(Debug, Clone)]
enum Pieces {
    One(Piece),
    Many(Box<[Piece]>),
}

/// A word of at most 16 bytes as two integers and its length (no byte comparisons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ShortKey(u64, u64, u8);

impl ShortKey {
    /// The key of `w` (1 to 16 bytes); overlapping reads determine `w` given its length.
    fn new(w: &[u8]) -> Self {
        let n = w.len();
        let u64_at = |i: usize| u64::from_le_bytes(w[i..i + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| u32::from_le_bytes(w[i..i + 4].try_into().unwrap_or_default());
        let (lo, hi) = match n {
            8.. => (u64_at(0), u64_at(n - 8)),
            4..8 => (u64::from(u32_at(0)) | (u64::from(u32_at(n - 4)) << 32), 0),
            _ => (
                u64::from(w[0]) | (u64::from(w[n / 2]) << 8) | (u64::from(w[n - 1]) << 16),
                0,
            ),
        };
        Self(lo, hi, n as u8)
    }
}

/// Tokens of words seen before, keyed by the word's bytes; cleared when full.
#[derive(Debug, Default)]
pub(super) struct WordCache {
    short: HashMap<ShortKey, Pieces, FxBuildHasher>,
    long: HashMap<Box<[u8]>, Pieces, FxBuildHasher>,
}

impl WordCache {
    /// The tokens of `word` if cached.
    pub(super) fn get(&self, word: &[u8]) -> Option<&[Piece]> {
        let pieces = match word.len() {
            0 => None,
            1..=16 => self.short.get(&ShortKey::new(word)),
            _ => self.long.get(word),
        }?;
        Some(match pieces {
            Pieces::One(p) => std::slice::from_ref(p),
            Pieces::Many(ps) => ps,
        })
    }

    /// Caches the tokens of `word` (words longer than [`MAX_WORD`] are not cached).
    pub(super) fn insert(&mut self, word: &[u8], pieces: &[Piece]) {
        if word.is_empty() || word.len() > MAX_WORD {
            return;
        }
        if self.short.len() + self.long.len() >= CAPACITY {
            self.short.clear();
            self.long.clear();
        }
        let pieces = match pieces {
            [one] => Pieces::One(*one),
            many => Pieces::Many(many.into()),
        };
        if word.len() <= 16 {
            self.short.insert(ShortKey::new(word), pieces);
        } else {
            self.long.insert(word.into(), pieces);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_tell_words_apart() {
        // Every word over a small alphabet up to 4 bytes, and random words up to 16.
        let alphabet = [0u8, 1, b'a', 0x80, 0xff];
        let mut words: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = words
                .iter()
                .flat_map(|w| alphabet.iter().map(move |&b| [w.as_slice(), &[b]].concat()))
                .collect();
            words.extend(longer);
        }
        let mut x = 1u64;
        for n in 1..=16 {
            for _ in 0..2000 {
                words.push(
                    (0..n)
                        .map(|_| {
                            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                            alphabet[(x >> 61) as usize % alphabet.len()]
                        })
                        .collect(),
                );
            }
        }
        let mut by_key = HashMap::new();
        for w in words.iter().filter(|w| !w.is_empty()) {
            let prev = by_key.insert(ShortKey::new(w), w.clone());
            assert!(
                prev.as_ref().is_none_or(|p| p == w),
                "{prev:?} and {w:?} share a key"
            );
        }
    }

    #[test]
    fn cache_round_trips() {
        let mut c = WordCache::default();
        let p = |id| Piece {
            id,
            start: 0,
            end: 1,
        };
        c.insert(b"hello", &[p(1)]);
        c.insert(b"a much longer word here", &[p(2), p(3)]);
        assert_eq!(c.get(b"hello"), Some(&[p(1)][..]));
        assert_eq!(c.get(b"a much longer word here"), Some(&[p(2), p(3)][..]));
        assert_eq!(c.get(b"hellp"), None);
        assert_eq!(c.get(b""), None);
    }
}

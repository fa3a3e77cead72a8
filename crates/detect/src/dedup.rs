//! Compact dedup of scored tuples and a bounded cache of context seeds.
//!
//! # Why 64-bit tuple hashes keep the p-value valid
//! Dedup remembers a fixed, key-independent 64-bit hash of each scored tuple's
//! (PRF input ids, token) instead of the tuple itself. Two distinct tuples whose hashes
//! collide count as one, so the later one is skipped as a duplicate although its PRF value is
//! independent. Which tuples are skipped then depends only on the token ids (the hash takes no
//! key material), never on any PRF value. Under H0, for a fixed text and a random key, the
//! scored tuples are still a fixed set of distinct tuples with independent PRF values, so the
//! exact tests stay exact; a collision only drops one tuple's worth of evidence.
//!
//! Tuples whose PRF input is at most one id (LeftHash h ≤ 1, MinHash) fit in 64 bits, and
//! their hash is a bijection of (id, token): no collisions at all. Longer inputs go through a
//! multiply-fold hash; for n distinct tuples the chance of any collision is about n²/2⁶⁵
//! (≈ 3 · 10⁻⁶ at n = 10⁷, ≈ 0.03 at n = 10⁹), and the expected number of dropped tuples
//! is the same figure.
//!
//! All tuples of one scorer have PRF inputs of the same length (fixed by the seeding and h),
//! so the hash does not need to separate lengths.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use tracemark_core::{PrfInput, Seed, TokenId};

/// murmur3's 64-bit finalizer: a bijection that spreads every input bit over the output.
fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The high and low halves of the 128-bit product, xored: a fast non-linear compression.
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// A fixed hash of a PRF input's ids (not keyed); the seed cache's slot index.
fn ids_hash(ids: &[TokenId]) -> u64 {
    match *ids {
        [] => 0,
        [id] => fmix64(u64::from(id)),
        _ => {
            let mut h = 0x243f_6a88_85a3_08d3 ^ ids.len() as u64;
            for pair in ids.chunks(2) {
                let lane = u64::from(pair[0]) | u64::from(pair.get(1).copied().unwrap_or(0)) << 32;
                h = fold_mul(h ^ lane, 0x9e37_79b9_7f4a_7c15);
            }
            fmix64(h)
        }
    }
}

/// The fixed, key-independent 64-bit hash of a tuple (PRF input ids, token) that dedup
/// remembers. A bijection when `ids` has at most one element; see the module docs.
pub fn tuple_hash(ids: &[TokenId], token: TokenId) -> u64 {
    match *ids {
        [] => fmix64(u64::from(token)),
        [id] => fmix64(u64::from(id) << 32 | u64::from(token)),
        _ => fmix64(fold_mul(
            ids_hash(ids) ^ u64::from(token),
            0x9fb2_1c65_1e98_df25,
        )),
    }
}

/// Passes a `u64` through unchanged: tuple hashes are already uniformly mixed.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in so the hasher stays total.
        for &b in bytes {
            self.0 = fmix64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

/// The set of scored tuples, as 64-bit [`tuple_hash`]es.
///
/// A hash table of `u64` with one control byte per slot: 9 bytes a slot at a load of ½ to ⅞,
/// i.e. 10.3 to 20.6 bytes per tuple (see [`TupleHashes::heap_bytes`]).
#[derive(Debug, Clone, Default)]
pub struct TupleHashes {
    set: HashSet<u64, BuildHasherDefault<IdentityHasher>>,
}

impl TupleHashes {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tuple hash; `true` if it was not there yet.
    pub fn insert(&mut self, hash: u64) -> bool {
        self.set.insert(hash)
    }

    /// Whether a tuple hash is in the set.
    pub fn contains(&self, hash: u64) -> bool {
        self.set.contains(&hash)
    }

    /// Number of distinct tuple hashes.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Forgets every hash and keeps the allocation.
    pub fn clear(&mut self) {
        self.set.clear();
    }

    /// Heap bytes of the table: 8 bytes of hash plus one control byte per slot, slots being a
    /// power of two above `capacity · 8/7`, plus 16 trailing control bytes (std's hashbrown
    /// layout).
    pub fn heap_bytes(&self) -> usize {
        let cap = self.set.capacity();
        if cap == 0 {
            return 0;
        }
        let slots = if cap < 8 {
            (cap + 1).next_power_of_two()
        } else {
            (cap * 8 / 7).next_power_of_two()
        };
        slots * 9 + 16
    }
}

/// Largest number of cached seeds: 2¹⁴ slots of 76 bytes, 1.2 MiB.
const MAX_SLOTS: usize = 1 << 14;

/// Fewest slots, allocated on first use.
const MIN_SLOTS: usize = 1 << 8;

/// A bounded, direct-mapped cache of context seeds (LeftHash windows, MinHash tokens).
///
/// Each PRF input maps to one slot by a fixed hash of its ids; a miss overwrites the slot.
/// Slots double, starting at 2⁸, while misses outnumber twice the slots, up to 2¹⁴: memory
/// stays bounded however long the input, and a hit compares the whole input, so a cached
/// seed is always the seed of that input.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeedCache {
    slots: Vec<Option<(PrfInput, Seed)>>,
    misses: usize,
}

impl SeedCache {
    /// The seed of `input`, from the cache or from `compute` (then cached).
    pub(crate) fn get(&mut self, input: &PrfInput, compute: impl FnOnce() -> Seed) -> Seed {
        if self.slots.is_empty() {
            self.slots = vec![None; MIN_SLOTS];
        }
        let index = ids_hash(input.ids()) as usize & (self.slots.len() - 1);
        let slot = &mut self.slots[index];
        if let Some((cached, seed)) = slot
            && cached == input
        {
            return *seed;
        }
        let seed = compute();
        *slot = Some((*input, seed));
        self.misses += 1;
        if self.misses > 2 * self.slots.len() && self.slots.len() < MAX_SLOTS {
            self.grow();
        }
        seed
    }

    /// Doubles the slots and re-files the cached seeds.
    fn grow(&mut self) {
        let len = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![None; len]);
        for (input, seed) in old.into_iter().flatten() {
            let i = ids_hash(input.ids()) as usize & (len - 1);
            self.slots[i] = Some((input, seed));
        }
        self.misses = 0;
    }

    /// Current number of slots.
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_inputs_hash_without_collisions() {
        // One input length per set, as in a scorer.
        let (mut one, mut none) = (TupleHashes::new(), TupleHashes::new());
        for id in 0..300u32 {
            for token in 0..300u32 {
                assert!(one.insert(tuple_hash(&[id], token)));
                assert!(none.insert(tuple_hash(&[], id * 300 + token)));
            }
        }
        assert!(!one.insert(tuple_hash(&[7], 9)));
    }

    #[test]
    fn seed_cache_is_bounded_and_exact() {
        use tracemark_core::{Key, Seeding, SeedingKind, WatermarkConfig};
        let config = WatermarkConfig {
            seeding: Seeding::new(SeedingKind::LeftHash, 2).unwrap(),
            ..WatermarkConfig::default()
        };
        let wm = tracemark_core::Watermark::new(&Key::from_secret([4; 32], config));
        let mut cache = SeedCache::default();
        // Many more distinct windows than slots, each looked up twice, some far apart.
        for i in 0..200_000u32 {
            let window = [i % 70_000, i / 3];
            let input = wm.prf_input(&window, 0, |t| t);
            let expected = wm.input_seed(&input);
            assert_eq!(cache.get(&input, || wm.input_seed(&input)), expected);
            assert_eq!(cache.get(&input, || unreachable!("just cached")), expected);
            assert!(cache.slots() <= MAX_SLOTS);
        }
        assert_eq!(cache.slots(), MAX_SLOTS);
    }

    #[test]
    fn long_inputs_hash_apart() {
        // A dense grid of near-identical windows: every tuple keeps its own hash.
        let mut sets = [TupleHashes::new(), TupleHashes::new(), TupleHashes::new()];
        for a in 0..40u32 {
            for b in 0..40u32 {
                for t in 0..40u32 {
                    assert!(sets[0].insert(tuple_hash(&[a, b], t)));
                    assert!(sets[1].insert(tuple_hash(&[a, b, t], t)));
                    assert!(sets[2].insert(tuple_hash(&[1, a, 2, b, 3, t, 4, 5, 6], t)));
                }
            }
        }
        for set in &sets {
            assert_eq!(set.len(), 40 * 40 * 40);
            let per_tuple = set.heap_bytes() as f64 / set.len() as f64;
            assert!((10.0..21.0).contains(&per_tuple), "{per_tuple}");
        }
    }
}

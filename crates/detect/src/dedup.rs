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

use tracemark_core::{MAX_CONTEXT, PrfInput, Seed, TokenId};

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

/// The set of scored tuples, as 64-bit [`tuple_hash`]es.
///
/// An open-addressing table of bare `u64` slots with linear probing (0 marks an empty slot;
/// hash 0 itself is kept in a flag, so the set is exact on hashes). A hash's home slot is its
/// low bits; probes run forward into [`PAD`] spare slots past the last home and never wrap
/// (a hash whose probe would run past them goes to a small side set instead). The table
/// doubles when it is ¾ full, so it is between ⅜ and ¾ full: 8 bytes a slot, 10.7 to 21.3
/// bytes per tuple plus 4 KiB ([`TupleHashes::heap_bytes`]). A lookup touches one slot,
/// usually one cache line.
///
/// Doubling extends the allocation and re-files the hashes in place, so each page of the
/// table is first touched once, not once per doubling.
#[derive(Debug, Clone, Default)]
pub struct TupleHashes {
    /// `homes + PAD` slots, or none before the first insert.
    slots: Vec<u64>,
    /// Number of home slots, a power of two.
    homes: usize,
    /// Non-zero hashes in `slots`.
    len: usize,
    /// Hashes whose probe ran past the last slot: none unless hashes cluster far beyond
    /// chance (e.g. chosen to), so memory stays bounded by the number of hashes.
    spill: HashSet<u64>,
    /// Whether hash 0 is in the set.
    zero: bool,
}

/// Home slots of the first allocation.
const MIN_TABLE: usize = 1 << 10;

/// Slots past the last home that probes may run into. A probe runs past them only after a
/// cluster of 512 filled slots at the end, which at ¾ load happens about once in 10⁸ tables.
const PAD: usize = 512;

/// Where an insert ended.
enum Probe {
    Added,
    Present,
    /// The probe ran past the last slot.
    Full,
}

impl TupleHashes {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tuple hash; `true` if it was not there yet.
    pub fn insert(&mut self, hash: u64) -> bool {
        if hash == 0 {
            return !std::mem::replace(&mut self.zero, true);
        }
        if 4 * (self.len + 1) > 3 * self.homes {
            self.grow();
        }
        match self.place(hash) {
            Probe::Added => {
                self.len += 1;
                true
            }
            Probe::Present => false,
            Probe::Full => self.spill.insert(hash),
        }
    }

    /// Puts a non-zero hash in the first free slot from its home, unless it is there already.
    fn place(&mut self, hash: u64) -> Probe {
        let start = hash as usize & (self.homes - 1);
        for slot in &mut self.slots[start..] {
            match *slot {
                0 => {
                    *slot = hash;
                    return Probe::Added;
                }
                h if h == hash => return Probe::Present,
                _ => {}
            }
        }
        Probe::Full
    }

    /// Whether a tuple hash is in the set.
    pub fn contains(&self, hash: u64) -> bool {
        if hash == 0 {
            return self.zero;
        }
        if self.homes == 0 {
            return false;
        }
        let start = hash as usize & (self.homes - 1);
        for &h in &self.slots[start..] {
            if h == hash {
                return true;
            }
            if h == 0 {
                return false;
            }
        }
        self.spill.contains(&hash)
    }

    /// Loads the home slots of `hashes` without acting on them, so a following run of
    /// inserts finds them in cache: the loads are independent and overlap in flight.
    pub(crate) fn touch(&self, hashes: &[u64]) {
        if self.homes == 0 {
            return;
        }
        let mask = self.homes - 1;
        let sum = hashes
            .iter()
            .fold(0u64, |acc, &h| acc ^ self.slots[h as usize & mask]);
        std::hint::black_box(sum);
    }

    /// Number of distinct tuple hashes.
    pub fn len(&self) -> usize {
        self.len + self.spill.len() + usize::from(self.zero)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every hash. Keeps the allocation for the next use of similar size, but drops
    /// a large table under 1/16 full, so a run of small documents after a large one does not
    /// wipe the large table each time.
    pub fn clear(&mut self) {
        if self.homes > MIN_TABLE && 16 * self.len < self.homes {
            *self = Self::default();
            return;
        }
        self.slots.fill(0);
        self.spill.clear();
        self.len = 0;
        self.zero = false;
    }

    /// Heap bytes of the table: 8 per allocated slot, plus 9 per slot of the side set.
    pub fn heap_bytes(&self) -> usize {
        8 * self.slots.capacity() + 9 * self.spill.capacity()
    }

    /// Doubles the home slots and re-files every hash in place.
    ///
    /// A hash's new home is its old home `a` or `a + m` (m the old home count). Hashes in the
    /// spare slots past `m` are set aside first. Then, for slots `i` from 0 to m, the hash at
    /// `i` is taken out and put back from its new home. Back in the lower half it lands at or
    /// before `i` (slot `i` itself is free, and its home is at most `i` since probes never
    /// wrap), on a path of slots that later steps, which only empty slots after `i`, leave
    /// filled; in the upper half, which holds nothing else yet, no slot is emptied later.
    /// So every hash stays reachable from its home.
    fn grow(&mut self) {
        if self.homes == 0 {
            self.slots = vec![0; MIN_TABLE + PAD];
            self.homes = MIN_TABLE;
            return;
        }
        let m = self.homes;
        let spare: Vec<u64> = self.slots[m..]
            .iter()
            .copied()
            .filter(|&h| h != 0)
            .collect();
        self.slots[m..].fill(0);
        self.slots.reserve_exact(m);
        self.slots.resize(2 * m + PAD, 0);
        self.homes = 2 * m;
        let mut spilled = Vec::new();
        for i in 0..m {
            let hash = std::mem::take(&mut self.slots[i]);
            if hash != 0 && matches!(self.place(hash), Probe::Full) {
                spilled.push(hash);
            }
        }
        // The set-aside hashes, and the side set's, which may fit now.
        let side = std::mem::take(&mut self.spill);
        self.len -= spare.len() + spilled.len();
        for hash in spare.into_iter().chain(spilled).chain(side) {
            match self.place(hash) {
                Probe::Added => self.len += 1,
                Probe::Present => unreachable!("hashes are distinct"),
                Probe::Full => {
                    self.spill.insert(hash);
                }
            }
        }
    }
}

/// Largest number of cached seeds: 2¹⁴ slots of one 64-byte cache line, 1 MiB.
const MAX_SLOTS: usize = 1 << 14;

/// Fewest slots, allocated on first use.
const MIN_SLOTS: usize = 1 << 8;

/// Lookups per hit-rate check.
const WINDOW: u32 = 1 << 12;

/// Lookups that go straight to the PRF after a window with fewer hits than misses.
const BYPASS: u32 = 15 * WINDOW;

/// One cached seed and the ids it belongs to (zero-padded), in one cache line. An all-zero
/// seed marks an empty slot and never hits (a real all-zero seed would just be recomputed).
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Slot {
    ids: [TokenId; MAX_CONTEXT],
    seed: [u8; 32],
}

/// A bounded, direct-mapped cache of context seeds (LeftHash windows, MinHash tokens).
///
/// Each PRF input maps to one slot by a fixed hash of its ids; a miss overwrites the slot.
/// Slots double, starting at 2⁸, whenever misses since the last doubling outnumber the
/// slots, up to 2¹⁴: memory stays bounded however long the input. Only inputs as long as the
/// first one (at most [`MAX_CONTEXT`] ids; one scorer's inputs all have one length) are
/// cached, so a hit, which compares every id, is always the seed of that input.
///
/// A lookup that misses costs more than it saves, so once the cache is fully grown, when a
/// window of 4,096 lookups hits less than half the time (wide LeftHash windows rarely
/// repeat), the next 61,440 seeds are computed without the cache, then a new window
/// measures again.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeedCache {
    slots: Vec<Slot>,
    /// The number of ids of every cached input, fixed by the first one.
    width: usize,
    misses: usize,
    /// Lookups and hits in the current window.
    lookups: u32,
    hits: u32,
    /// Lookups left to pass by.
    bypass: u32,
}

impl SeedCache {
    /// The seed of `input`, from the cache or from `compute` (then cached).
    pub(crate) fn get(&mut self, input: &PrfInput, compute: impl FnOnce() -> Seed) -> Seed {
        if self.bypass > 0 {
            self.bypass -= 1;
            return compute();
        }
        let input_ids = input.ids();
        if self.slots.is_empty() {
            if input_ids.len() > MAX_CONTEXT {
                return compute();
            }
            self.slots = vec![Slot::default(); MIN_SLOTS];
            self.width = input_ids.len();
        }
        if input_ids.len() != self.width {
            return compute();
        }
        let mut ids = [0; MAX_CONTEXT];
        ids[..self.width].copy_from_slice(input_ids);
        let index = ids_hash(input.ids()) as usize & (self.slots.len() - 1);
        let slot = &mut self.slots[index];
        if slot.ids == ids && slot.seed != [0; 32] {
            let seed = Seed(slot.seed);
            self.count(true);
            return seed;
        }
        let seed = compute();
        *slot = Slot { ids, seed: seed.0 };
        self.count(false);
        self.misses += 1;
        if self.misses > self.slots.len() && self.slots.len() < MAX_SLOTS {
            self.grow();
        }
        seed
    }

    /// Loads the slots of `inputs` without acting on them, so the lookups that follow find
    /// them in cache (see [`TupleHashes::touch`]).
    pub(crate) fn touch<'a>(&self, inputs: impl Iterator<Item = &'a PrfInput>) {
        if self.slots.is_empty() || self.bypass > 0 {
            return;
        }
        let mask = self.slots.len() - 1;
        let sum = inputs.fold(0u8, |acc, input| {
            acc ^ self.slots[ids_hash(input.ids()) as usize & mask].seed[0]
        });
        std::hint::black_box(sum);
    }

    /// Doubles the slots and re-files the cached seeds.
    fn grow(&mut self) {
        let len = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); len]);
        for slot in old.into_iter().filter(|s| s.seed != [0; 32]) {
            let i = ids_hash(&slot.ids[..self.width]) as usize & (len - 1);
            self.slots[i] = slot;
        }
        self.misses = 0;
    }

    /// Counts a lookup towards the hit rate once the cache is fully grown, and starts a bypass
    /// after a window with fewer hits than misses.
    fn count(&mut self, hit: bool) {
        if self.slots.len() < MAX_SLOTS {
            return;
        }
        self.lookups += 1;
        self.hits += u32::from(hit);
        if self.lookups == WINDOW {
            if 2 * self.hits < self.lookups {
                self.bypass = BYPASS;
            }
            (self.lookups, self.hits) = (0, 0);
        }
    }

    /// Current number of slots.
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Whether lookups currently pass the cache by.
    #[cfg(test)]
    pub(crate) fn bypassing(&self) -> bool {
        self.bypass > 0
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
        assert!(one.contains(tuple_hash(&[299], 299)) && !one.contains(tuple_hash(&[300], 0)));
        assert_eq!((one.len(), none.len()), (90_000, 90_000));
    }

    #[test]
    fn seed_cache_is_bounded_and_exact() {
        use tracemark_core::{Key, Seeding, SeedingKind, WatermarkConfig};
        let config = WatermarkConfig {
            seeding: Seeding::new(SeedingKind::LeftHash, 2).unwrap(),
            ..WatermarkConfig::default()
        };
        let wm = tracemark_core::Watermark::new(&Key::from_secret([4; 32], config));
        let seed = |window: [u32; 2]| {
            let input = wm.prf_input(&window, 0, |t| t);
            (input, wm.input_seed(&input))
        };
        let mut cache = SeedCache::default();
        // Many more distinct windows than slots, most looked up three times in a row.
        for i in 0..100_000u32 {
            let (input, expected) = seed([i % 70_000, i / 3]);
            for _ in 0..if i % 4 == 0 { 1 } else { 3 } {
                assert_eq!(cache.get(&input, || wm.input_seed(&input)), expected);
            }
            assert!(cache.slots() <= MAX_SLOTS && !cache.bypassing());
        }
        assert_eq!(cache.slots(), MAX_SLOTS);
        // Windows that never repeat: the cache steps aside, and seeds stay exact.
        let mut bypassed = false;
        for i in 0..3 * BYPASS {
            let (input, expected) = seed([i, u32::MAX - i]);
            assert_eq!(cache.get(&input, || wm.input_seed(&input)), expected);
            bypassed |= cache.bypassing();
        }
        assert!(bypassed);
    }

    #[test]
    fn the_table_is_an_exact_set_of_hashes() {
        // Hash 0, clustered hashes that probe past the table's end, and growth.
        let mut set = TupleHashes::new();
        assert!(!set.contains(0) && set.insert(0) && !set.insert(0) && set.contains(0));
        let keys: Vec<u64> = (1..5_000u64)
            .map(|i| i << 40 | 0xffff_fff0 | (i % 3))
            .collect();
        for &k in &keys {
            assert!(set.insert(k) && !set.insert(k));
        }
        assert_eq!(set.len(), keys.len() + 1);
        assert!(keys.iter().all(|&k| set.contains(k)) && !set.contains(7 << 50));
        set.clear();
        assert!(set.is_empty() && !set.contains(0) && !set.contains(keys[9]));
        assert!(set.insert(keys[9]) && set.contains(keys[9]));
        // Against std's set, over many doublings, with hashes that probe into the spare slots.
        let mut ours = TupleHashes::new();
        let mut reference = HashSet::new();
        let mut x = 1u64;
        for i in 0..300_000u64 {
            x = fmix64(x + i);
            let hash = if i % 5 == 0 {
                x | 0xffff_ffff
            } else {
                x % 1_000_000
            };
            assert_eq!(ours.insert(hash), reference.insert(hash), "{i}");
        }
        assert_eq!(ours.len(), reference.len());
        assert!(reference.iter().all(|&h| ours.contains(h)));
        assert!(!ours.contains(fmix64(12_345_678_901)));
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
            assert!((10.6..21.4).contains(&per_tuple), "{per_tuple}");
        }
    }
}

//! The offset map: for each key seen in the dirty section of a log, the offset of its latest
//! record, in a fixed memory budget (Kafka's `SkimpyOffsetMap`).
//!
//! The map never stores keys, only a 128-bit hash of each, so its memory does not depend on
//! key sizes: every entry is one [`SLOT_BYTES`]-byte slot of an open-addressing table
//! (linear probing) allocated once by [`OffsetMap::with_memory`]. When the map is full the
//! cleaner stops reading the dirty section there and cleans up to [`OffsetMap::latest_offset`];
//! the rest waits for the next run.
//!
//! Two keys with the same 128-bit hash are treated as one, so the older record of one of them
//! would be dropped. Like Kafka, which argues the same for its MD5 digests, we accept that: a
//! map of `n` keys has a collision with probability about `n² / 2¹²⁹`, below 10⁻²⁰ for a
//! billion keys.
//!
//! The hash is `std`'s `DefaultHasher` (SipHash-1-3 with fixed keys) run twice, over the key
//! prefixed by 0 and by 1. Its output may change between Rust releases, which is harmless: a
//! map lives in memory for one cleaning run and is never persisted.

use std::hash::{DefaultHasher, Hasher};

/// Bytes of memory one slot of the map takes: a 16-byte key hash and an 8-byte offset.
pub const SLOT_BYTES: usize = 24;

/// Fraction of the slots that may hold entries before the map counts as full; Kafka's
/// `log.cleaner.io.buffer.load.factor`. Linear probing stays short up to about this load.
pub const DEFAULT_LOAD_FACTOR: f64 = 0.9;

/// 128-bit key hash stored in a slot. All zeros marks an empty slot, so a key that hashes
/// to zero is stored as [`ZERO_HASH_STANDIN`] instead.
type KeyHash = [u64; 2];

const EMPTY_HASH: KeyHash = [0, 0];
const ZERO_HASH_STANDIN: KeyHash = [0, 1];

/// One entry of the table: 24 bytes, with no padding (asserted by a test).
#[derive(Clone, Copy, Debug)]
struct Slot {
    hash: KeyHash,
    offset: u64,
}

impl Slot {
    const EMPTY: Slot = Slot {
        hash: EMPTY_HASH,
        offset: 0,
    };
}

/// Where a key's probe sequence ends.
enum Probe {
    /// The key's entry is in this slot.
    Found(usize),
    /// The key is absent; this empty slot is where it would go.
    Vacant(usize),
    /// The key is absent and every slot is taken (only possible with a load factor of 1).
    Exhausted,
}

/// Key → latest offset map in a fixed memory budget, see the [module docs](self).
///
/// Nothing is allocated after [`OffsetMap::with_memory`]; [`OffsetMap::clear`] reuses the
/// table for the next run.
#[derive(Clone, Debug)]
pub struct OffsetMap {
    slots: Vec<Slot>,
    /// Most entries the map accepts: `slots * load_factor`, at least 1.
    capacity: usize,
    entries: usize,
    latest_offset: Option<u64>,
}

impl OffsetMap {
    /// A map using at most `memory_bytes` (`memory_bytes / SLOT_BYTES` slots), holding at most
    /// `slots * load_factor` entries (rounded down, at least 1).
    ///
    /// # Panics
    /// If `memory_bytes` is less than one slot ([`SLOT_BYTES`]), or `load_factor` is not in
    /// `(0, 1]`.
    pub fn with_memory(memory_bytes: usize, load_factor: f64) -> OffsetMap {
        let slot_count = memory_bytes / SLOT_BYTES;
        assert!(
            slot_count >= 1,
            "an offset map needs at least {SLOT_BYTES} bytes (one slot), got {memory_bytes}"
        );
        assert!(
            load_factor > 0.0 && load_factor <= 1.0,
            "offset map load factor must be in (0, 1], got {load_factor}"
        );
        let capacity = ((slot_count as f64 * load_factor) as usize).clamp(1, slot_count);
        OffsetMap {
            slots: vec![Slot::EMPTY; slot_count],
            capacity,
            entries: 0,
            latest_offset: None,
        }
    }

    /// Records `offset` as the latest for `key`; if the key is present, it keeps the larger of
    /// the two offsets.
    ///
    /// Returns `false`, changing nothing, when the map is full ([`OffsetMap::is_full`]) and
    /// `key` is new: the caller then stops filling the map at the previous record.
    pub fn put(&mut self, key: &[u8], offset: u64) -> bool {
        let hash = key_hash(key);
        match self.probe(hash) {
            Probe::Found(index) => {
                let slot = &mut self.slots[index];
                slot.offset = slot.offset.max(offset);
            }
            Probe::Vacant(index) if self.entries < self.capacity => {
                self.slots[index] = Slot { hash, offset };
                self.entries += 1;
            }
            Probe::Vacant(_) | Probe::Exhausted => return false,
        }
        self.latest_offset = Some(self.latest_offset.map_or(offset, |l| l.max(offset)));
        true
    }

    /// The latest offset recorded for `key`, or `None` if it was never put.
    pub fn get(&self, key: &[u8]) -> Option<u64> {
        match self.probe(key_hash(key)) {
            Probe::Found(index) => Some(self.slots[index].offset),
            Probe::Vacant(_) | Probe::Exhausted => None,
        }
    }

    /// Number of keys in the map.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether no key has been put since construction or the last [`OffsetMap::clear`].
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Most keys the map holds: the slot count times the load factor.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the map holds [`OffsetMap::capacity`] keys, so that a new key is refused.
    pub fn is_full(&self) -> bool {
        self.entries >= self.capacity
    }

    /// Empties the map for another run, keeping its memory.
    pub fn clear(&mut self) {
        self.slots.fill(Slot::EMPTY);
        self.entries = 0;
        self.latest_offset = None;
    }

    /// The largest offset put so far, or `None` if the map is empty: the map covers the dirty
    /// section up to and including this offset.
    pub fn latest_offset(&self) -> Option<u64> {
        self.latest_offset
    }

    /// Follows the linear probe sequence of `hash` from its home slot.
    fn probe(&self, hash: KeyHash) -> Probe {
        let slot_count = self.slots.len();
        // Multiply-shift maps the hash onto 0..slot_count without a division.
        let mut index = ((u128::from(hash[0]) * slot_count as u128) >> 64) as usize;
        for _ in 0..slot_count {
            let slot = &self.slots[index];
            if slot.hash == hash {
                return Probe::Found(index);
            }
            if slot.hash == EMPTY_HASH {
                return Probe::Vacant(index);
            }
            index += 1;
            if index == slot_count {
                index = 0;
            }
        }
        Probe::Exhausted
    }
}

/// 128 bits of hash for `key`: two SipHash runs told apart by a one-byte prefix.
fn key_hash(key: &[u8]) -> KeyHash {
    let half = |prefix: u8| {
        let mut hasher = DefaultHasher::new();
        hasher.write_u8(prefix);
        hasher.write(key);
        hasher.finish()
    };
    let hash = [half(0), half(1)];
    if hash == EMPTY_HASH {
        ZERO_HASH_STANDIN
    } else {
        hash
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn slot_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), SLOT_BYTES);
    }

    #[test]
    fn put_then_get() {
        let mut map = OffsetMap::with_memory(100 * SLOT_BYTES, DEFAULT_LOAD_FACTOR);
        assert!(map.is_empty());
        assert_eq!(map.latest_offset(), None);
        assert!(map.put(b"a", 3));
        assert!(map.put(b"b", 7));
        assert!(map.put(b"", 9), "the empty key is a key like any other");
        assert_eq!(map.get(b"a"), Some(3));
        assert_eq!(map.get(b"b"), Some(7));
        assert_eq!(map.get(b""), Some(9));
        assert_eq!(map.get(b"c"), None);
        assert_eq!(map.len(), 3);
        assert!(!map.is_empty());
        assert_eq!(map.latest_offset(), Some(9));
    }

    #[test]
    fn an_existing_key_keeps_the_larger_offset() {
        let mut map = OffsetMap::with_memory(10 * SLOT_BYTES, DEFAULT_LOAD_FACTOR);
        assert!(map.put(b"k", 10));
        assert!(map.put(b"k", 20));
        assert_eq!(map.get(b"k"), Some(20));
        assert!(map.put(b"k", 15), "an older offset is accepted but ignored");
        assert_eq!(map.get(b"k"), Some(20));
        assert_eq!(map.len(), 1);
        assert_eq!(map.latest_offset(), Some(20));
    }

    #[test]
    fn a_full_map_refuses_new_keys_but_updates_present_ones() {
        // 10 slots at 0.5: five entries.
        let mut map = OffsetMap::with_memory(10 * SLOT_BYTES + SLOT_BYTES - 1, 0.5);
        assert_eq!(map.capacity(), 5);
        for i in 0..5_u64 {
            assert!(!map.is_full());
            assert!(map.put(&i.to_be_bytes(), i));
        }
        assert!(map.is_full());
        assert!(!map.put(b"new", 100), "no room for a new key");
        assert_eq!(map.get(b"new"), None);
        assert_eq!(map.len(), 5);
        assert_eq!(
            map.latest_offset(),
            Some(4),
            "a refused put changes nothing"
        );
        assert!(map.put(&2_u64.to_be_bytes(), 50));
        assert_eq!(map.get(&2_u64.to_be_bytes()), Some(50));
        assert_eq!(map.latest_offset(), Some(50));
    }

    #[test]
    fn a_map_with_every_slot_used_still_answers() {
        let mut map = OffsetMap::with_memory(4 * SLOT_BYTES, 1.0);
        assert_eq!(map.capacity(), 4);
        for i in 0..4_u64 {
            assert!(map.put(&i.to_be_bytes(), i));
        }
        assert!(!map.put(b"fifth", 9));
        assert_eq!(map.get(b"fifth"), None, "a probe of a full table ends");
        for i in 0..4_u64 {
            assert_eq!(map.get(&i.to_be_bytes()), Some(i));
        }
    }

    #[test]
    fn clear_empties_the_map_and_keeps_its_size() {
        let mut map = OffsetMap::with_memory(8 * SLOT_BYTES, 0.5);
        for i in 0..4_u64 {
            assert!(map.put(&i.to_be_bytes(), i));
        }
        assert!(map.is_full());
        map.clear();
        assert!(map.is_empty());
        assert!(!map.is_full());
        assert_eq!(map.latest_offset(), None);
        assert_eq!(map.get(&0_u64.to_be_bytes()), None);
        assert_eq!(map.capacity(), 4);
        assert_eq!(map.slots.len(), 8);
        assert!(map.put(b"again", 1));
        assert_eq!(map.get(b"again"), Some(1));
    }

    #[test]
    fn capacity_is_slots_times_load_factor() {
        let map = OffsetMap::with_memory(1 << 20, DEFAULT_LOAD_FACTOR);
        assert_eq!(map.slots.len(), (1 << 20) / 24);
        assert_eq!(map.capacity(), 43_690 * 9 / 10);
        assert_eq!(OffsetMap::with_memory(SLOT_BYTES, 0.9).capacity(), 1);
        assert_eq!(OffsetMap::with_memory(SLOT_BYTES, 1.0).capacity(), 1);
        assert_eq!(
            OffsetMap::with_memory(100 * SLOT_BYTES, 1.0).capacity(),
            100
        );
    }

    #[test]
    #[should_panic(expected = "at least 24 bytes")]
    fn less_than_one_slot_panics() {
        let _ = OffsetMap::with_memory(SLOT_BYTES - 1, DEFAULT_LOAD_FACTOR);
    }

    #[test]
    #[should_panic(expected = "load factor must be in (0, 1]")]
    fn a_load_factor_above_one_panics() {
        let _ = OffsetMap::with_memory(1024, 1.5);
    }

    #[test]
    fn hashes_of_distinct_keys_differ_and_are_never_empty() {
        let keys: Vec<Vec<u8>> = (0..10_000_u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut seen = std::collections::HashSet::new();
        for key in &keys {
            let hash = key_hash(key);
            assert_ne!(hash, EMPTY_HASH);
            assert!(seen.insert(hash), "collision on {key:?}");
        }
        assert_eq!(key_hash(b"x"), key_hash(b"x"), "deterministic in a process");
    }

    proptest! {
        /// Random puts against a `HashMap` model: same answers while there is room, refusals
        /// exactly when the model would need a new entry beyond capacity.
        #[test]
        fn behaves_like_a_bounded_hash_map(
            slot_count in 1_usize..64,
            load_percent in 10_u32..=100,
            ops in proptest::collection::vec((0_u8..80, 0_u64..1000), 0..300),
        ) {
            let load_factor = f64::from(load_percent) / 100.0;
            let mut map = OffsetMap::with_memory(slot_count * SLOT_BYTES, load_factor);
            let mut model: HashMap<u8, u64> = HashMap::new();
            let mut latest = None;
            for (key, offset) in ops {
                let accepted = map.put(&[key], offset);
                let room = model.contains_key(&key) || model.len() < map.capacity();
                prop_assert_eq!(accepted, room);
                if room {
                    let entry = model.entry(key).or_insert(offset);
                    *entry = (*entry).max(offset);
                    latest = Some(latest.map_or(offset, |l: u64| l.max(offset)));
                }
                prop_assert_eq!(map.len(), model.len());
                prop_assert_eq!(map.is_full(), model.len() == map.capacity());
                prop_assert_eq!(map.latest_offset(), latest);
            }
            for key in 0..80_u8 {
                prop_assert_eq!(map.get(&[key]), model.get(&key).copied());
            }
        }
    }
}

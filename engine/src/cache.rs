//! The read cache: recently written and recently read segment bytes, shared by every log of a
//! [`crate::Shared`] under one memory budget.
//!
//! Direct I/O bypasses the page cache, so the engine keeps its own, as Redpanda's batch cache
//! does: a fetch of hot data is a slice of a cached [`Bytes`] (no copy, no syscall). Entries are
//! contiguous byte ranges of one segment file, keyed by their starting position; they may
//! overlap by one page (a chunk ends in a partial page that the next chunk starts with), which
//! is harmless because overlapping bytes are identical below the shorter entry's end. Eviction
//! is CLOCK (second chance): cheap, and scan-resistant enough for consumers that read once.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

type Key = (u64, u64, u64);

struct Entry {
    data: Bytes,
    referenced: bool,
}

struct Inner {
    entries: BTreeMap<Key, Entry>,
    clock: VecDeque<Key>,
    used_bytes: usize,
}

/// A byte-budgeted cache of segment ranges, keyed by (log id, segment id, position); segment ids
/// are unique in the process, never reused.
pub struct ReadCache {
    budget_bytes: usize,
    inner: Mutex<Inner>,
}

/// A cached range: `data` holds the segment's bytes from position `start`.
#[derive(Clone, Debug)]
pub struct CachedRange {
    /// Position in the segment file of `data[0]`.
    pub start: u64,
    /// The bytes.
    pub data: Bytes,
}

impl CachedRange {
    /// Position just past the cached bytes.
    pub fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

impl ReadCache {
    /// An empty cache holding at most `budget_bytes`.
    pub fn new(budget_bytes: usize) -> Self {
        ReadCache {
            budget_bytes,
            inner: Mutex::new(Inner {
                entries: BTreeMap::new(),
                clock: VecDeque::new(),
                used_bytes: 0,
            }),
        }
    }

    /// Bytes currently cached.
    pub fn used_bytes(&self) -> usize {
        self.lock().used_bytes
    }

    /// The cached range of `(log, segment)` that contains `position`, if any.
    pub fn get(&self, log: u64, segment: u64, position: u64) -> Option<CachedRange> {
        let mut inner = self.lock();
        // Entries may overlap by a page, so the range holding `position` is the closest one
        // starting at or before it, or the one before that.
        inner
            .entries
            .range_mut((log, segment, 0)..=(log, segment, position))
            .rev()
            .take(2)
            .find(|(key, entry)| key.2 + entry.data.len() as u64 > position)
            .map(|(key, entry)| {
                entry.referenced = true;
                CachedRange {
                    start: key.2,
                    data: entry.data.clone(),
                }
            })
    }

    /// Caches `data` as the bytes of `(log, segment)` from `start`, evicting old ranges to stay
    /// within the budget. A range larger than the whole budget is not cached.
    pub fn insert(&self, log: u64, segment: u64, start: u64, data: Bytes) {
        if data.is_empty() || data.len() > self.budget_bytes {
            return;
        }
        let mut inner = self.lock();
        let key = (log, segment, start);
        let added = data.len();
        if let Some(old) = inner.entries.insert(
            key,
            Entry {
                data,
                referenced: false,
            },
        ) {
            inner.used_bytes -= old.data.len();
        } else {
            inner.clock.push_back(key);
        }
        inner.used_bytes += added;
        while inner.used_bytes > self.budget_bytes {
            let Some(victim) = inner.clock.pop_front() else {
                break;
            };
            let Some(entry) = inner.entries.get_mut(&victim) else {
                continue;
            };
            if entry.referenced && victim != key {
                entry.referenced = false;
                inner.clock.push_back(victim);
            } else if let Some(entry) = inner.entries.remove(&victim) {
                inner.used_bytes -= entry.data.len();
            }
        }
    }

    /// Drops every cached range of one segment (deleted, truncated or replaced).
    pub fn remove_segment(&self, log: u64, segment: u64) {
        self.remove_range((log, segment, 0), (log, segment, u64::MAX));
    }

    /// Drops every cached range of one log.
    pub fn remove_log(&self, log: u64) {
        self.remove_range((log, 0, 0), (log, u64::MAX, u64::MAX));
    }

    fn remove_range(&self, from: Key, to: Key) {
        let mut inner = self.lock();
        let keys: Vec<Key> = inner.entries.range(from..=to).map(|(k, _)| *k).collect();
        for key in keys {
            if let Some(entry) = inner.entries.remove(&key) {
                inner.used_bytes -= entry.data.len();
            }
        }
        // Stale keys left in the clock are skipped when they come up.
        let Inner { entries, clock, .. } = &mut *inner;
        clock.retain(|k| entries.contains_key(k));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("read cache lock poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, fill: u8) -> Bytes {
        Bytes::from(vec![fill; n])
    }

    #[test]
    fn finds_the_range_containing_a_position() {
        let cache = ReadCache::new(1 << 20);
        cache.insert(1, 0, 0, bytes(4096, 1));
        cache.insert(1, 0, 4096, bytes(100, 2));
        assert_eq!(cache.get(1, 0, 10).unwrap().start, 0);
        assert_eq!(cache.get(1, 0, 4096).unwrap().start, 4096);
        assert_eq!(cache.get(1, 0, 4195).unwrap().start, 4096);
        assert!(
            cache.get(1, 0, 4196).is_none(),
            "past the end of every range"
        );
        assert!(cache.get(2, 0, 10).is_none(), "another log");
        assert!(cache.get(1, 5, 10).is_none(), "another segment");
    }

    #[test]
    fn overlapping_ranges_still_cover_their_positions() {
        let cache = ReadCache::new(1 << 20);
        cache.insert(1, 0, 0, bytes(10_000, 1));
        cache.insert(1, 0, 8192, bytes(10, 2));
        // Position 9000 lies past the short range but inside the long one before it.
        let hit = cache.get(1, 0, 9000).unwrap();
        assert_eq!(hit.start, 0);
        assert!(hit.end() > 9000);
    }

    #[test]
    fn stays_within_budget_and_prefers_referenced_entries() {
        let cache = ReadCache::new(3 * 1000);
        cache.insert(1, 0, 0, bytes(1000, 0));
        cache.insert(1, 0, 1000, bytes(1000, 0));
        cache.insert(1, 0, 2000, bytes(1000, 0));
        assert!(cache.get(1, 0, 0).is_some());
        cache.insert(1, 0, 3000, bytes(1000, 0));
        assert!(cache.used_bytes() <= 3000);
        assert!(
            cache.get(1, 0, 0).is_some(),
            "referenced entry got a second chance"
        );
        assert!(
            cache.get(1, 0, 1000).is_none(),
            "unreferenced oldest entry was evicted"
        );
    }

    #[test]
    fn removing_a_segment_forgets_only_it() {
        let cache = ReadCache::new(1 << 20);
        cache.insert(1, 0, 0, bytes(10, 0));
        cache.insert(1, 100, 0, bytes(10, 0));
        cache.remove_segment(1, 0);
        assert!(cache.get(1, 0, 0).is_none());
        assert!(cache.get(1, 100, 0).is_some());
        assert_eq!(cache.used_bytes(), 10);
    }
}

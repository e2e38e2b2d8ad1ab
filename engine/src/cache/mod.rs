//! The read cache: recently written and recently read segment bytes, shared by every log of a
//! [`crate::Shared`] under one memory budget.
//!
//! Direct I/O bypasses the page cache, so the engine keeps its own, as Redpanda's batch cache
//! does: a fetch of hot data is a slice of a cached [`Bytes`] (no copy, no syscall). Entries are
//! contiguous byte ranges of one segment file, keyed by their starting position; they may
//! overlap by one page (a chunk ends in a partial page that the next chunk starts with), which
//! is harmless because overlapping bytes are identical below the shorter entry's end. Eviction
//! is CLOCK (second chance): cheap, and scan-resistant enough for consumers that read once.
//!
//! Lookups do not serialize readers: they share a read lock, and mark the entry they find
//! referenced through an atomic flag (stored only when it changes, so readers of a hot entry
//! do not write its cache line each time). Inserts, evictions and removals take the lock alone.
//!
//! Two kinds of range are also held to a smaller *window* each, oldest out first:
//!
//! - ranges the write path freezes (recently written data, for tailing and re-reading
//!   consumers), to the *written window*: under a producer every cached chunk is memory
//!   touched for the first time, and filling a cache sized for the machine that way costs the
//!   append path more than the disk does (measured: a 3 GiB cache took a 6 s `none` produce
//!   from 1318-1822 MB/s to 543-736);
//! - ranges read ahead of a sequential consumer (`crate::log::read_ahead`), to the
//!   *read-ahead window*, the whole budget by default (a re-read of a topic the cache holds is
//!   then served from memory, as the page cache would serve it); a smaller window keeps a
//!   catch-up read from pushing out the ranges other readers use. The fresh memory a cold read
//!   fills the cache with is touched ahead by the buffer pool's warmer (`buffer_pool/warm.rs`).
//!
//! Other ranges read from disk (point reads, fetches that are not sequential) may use the
//! whole budget.
//!
//! The budget is charged for the memory an entry keeps alive, not for the bytes it serves: a
//! [`Bytes`] slice of a pooled chunk keeps the whole chunk allocated. A range that fills less
//! than a quarter of its buffer (an idle write chunk, the short end of a segment) is copied out
//! instead, so its buffer goes back to the pool ([`ReadCache::insert_from_buffer`]).

pub mod record_positions;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

type Key = (u64, u64, u64);

/// A range filling less than `1 / COPY_BELOW_FILL` of its pooled buffer is cached as a copy
/// ([`ReadCache::insert_from_buffer`]). A quarter, not a half: the copy is fresh memory touched
/// by the reader's thread, while a new pool buffer was touched ahead by the pool's warmer. A
/// cold point read of a 100 KiB batch (in a 256 KiB buffer) took a p50 of 208-236 us copying
/// and 135-139 us keeping the buffer (`ringbench peers --full --engines naive`, alternating
/// runs; the disk's own 104 KiB random read at queue depth 1: 130 us).
pub const COPY_BELOW_FILL: usize = 4;

/// Memory an entry costs beyond its bytes (its map node, key, clock slot and `Bytes` header),
/// charged so that many tiny entries cannot exceed the budget either.
pub const ENTRY_OVERHEAD_BYTES: usize = 128;

struct Entry {
    data: Bytes,
    /// What this entry is charged: the memory it keeps alive plus [`ENTRY_OVERHEAD_BYTES`].
    charged_bytes: usize,
    /// Set by lookups under the shared lock, cleared by the CLOCK hand under the exclusive one.
    referenced: AtomicBool,
    /// The window it also counts against, if any.
    window: Option<usize>,
}

/// One window: a part of the budget that entries of one [`Origin`] may hold, oldest out first
/// (its budget is [`ReadCache`]'s, fixed at construction).
#[derive(Default)]
struct Window {
    /// Keys of the window's entries in insertion order (stale keys, of entries evicted or
    /// replaced since, are skipped when they come up).
    keys: VecDeque<Key>,
    /// The bytes the window's entries are charged.
    bytes: usize,
}

struct Inner {
    entries: BTreeMap<Key, Entry>,
    clock: VecDeque<Key>,
    used_bytes: usize,
    /// The written window, then the read-ahead window.
    windows: [Window; 2],
}

impl Inner {
    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.used_bytes -= entry.charged_bytes;
        if let Some(window) = entry.window {
            self.windows[window].bytes -= entry.charged_bytes;
        }
        Some(entry)
    }
}

impl Inner {
    /// Stale keys left in the clock and the written queue (of entries removed, evicted or
    /// replaced by reads) are skipped when they come up. Sweeping them out only once they are
    /// half a queue keeps closing many logs linear, not quadratic, in the number of entries,
    /// and each queue at most twice the entries.
    fn sweep_stale_keys(&mut self) {
        let Inner {
            entries,
            clock,
            windows,
            ..
        } = self;
        if clock.len() > 2 * entries.len() {
            clock.retain(|k| entries.contains_key(k));
        }
        for (i, window) in windows.iter_mut().enumerate() {
            if window.keys.len() > 2 * entries.len() {
                window
                    .keys
                    .retain(|k| entries.get(k).is_some_and(|e| e.window == Some(i)));
            }
        }
    }
}

/// Who put a range into the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The write path (a frozen chunk): held to the written window.
    Written,
    /// Read ahead of a sequential consumer: held to the read-ahead window.
    ReadAhead,
    /// Any other read from disk (or a caller of [`ReadCache::insert`]).
    Read,
}

impl Origin {
    /// The window ranges of this origin count against.
    fn window(self) -> Option<usize> {
        match self {
            Origin::Written => Some(0),
            Origin::ReadAhead => Some(1),
            Origin::Read => None,
        }
    }
}

/// A byte-budgeted cache of segment ranges, keyed by (log id, segment id, position); segment ids
/// are unique in the process, never reused.
pub struct ReadCache {
    budget_bytes: usize,
    /// The written window's budget, then the read-ahead window's (at most `budget_bytes`).
    window_budgets: [usize; 2],
    /// Lookups share it (read lock); inserts, evictions and removals take it alone.
    inner: RwLock<Inner>,
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
    /// An empty cache holding at most `budget_bytes`, all of which any range may use.
    pub fn new(budget_bytes: usize) -> Self {
        Self::with_windows(budget_bytes, budget_bytes, budget_bytes)
    }

    /// An empty cache holding at most `budget_bytes`, of which ranges the write path inserted
    /// hold at most `written_budget_bytes`, and ranges read ahead of sequential consumers at
    /// most `read_ahead_budget_bytes` (see the [module docs](self)).
    pub fn with_windows(
        budget_bytes: usize,
        written_budget_bytes: usize,
        read_ahead_budget_bytes: usize,
    ) -> Self {
        ReadCache {
            budget_bytes,
            window_budgets: [
                written_budget_bytes.min(budget_bytes),
                read_ahead_budget_bytes.min(budget_bytes),
            ],
            inner: RwLock::new(Inner {
                entries: BTreeMap::new(),
                clock: VecDeque::new(),
                used_bytes: 0,
                windows: Default::default(),
            }),
        }
    }

    /// The cache's budget in bytes.
    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    /// The written window's budget in bytes.
    pub fn written_budget_bytes(&self) -> usize {
        self.window_budgets[0]
    }

    /// The read-ahead window's budget in bytes.
    pub fn read_ahead_budget_bytes(&self) -> usize {
        self.window_budgets[1]
    }

    /// Bytes of budget in use: what the cached entries keep alive, plus
    /// [`ENTRY_OVERHEAD_BYTES`] each.
    pub fn used_bytes(&self) -> usize {
        self.read().used_bytes
    }

    /// The cached range of `(log, segment)` that contains `position`, if any.
    pub fn get(&self, log: u64, segment: u64, position: u64) -> Option<CachedRange> {
        let inner = self.read();
        // Entries may overlap by a page, so the range holding `position` is the closest one
        // starting at or before it, or the one before that.
        inner
            .entries
            .range((log, segment, 0)..=(log, segment, position))
            .rev()
            .take(2)
            .find(|(key, entry)| key.2 + entry.data.len() as u64 > position)
            .map(|(key, entry)| {
                // A store only when it changes: readers of a hot entry share its cache line.
                if !entry.referenced.load(Ordering::Relaxed) {
                    entry.referenced.store(true, Ordering::Relaxed);
                }
                CachedRange {
                    start: key.2,
                    data: entry.data.clone(),
                }
            })
    }

    /// Caches `data`, which owns exactly its bytes, as the bytes of `(log, segment)` from
    /// `start`; see [`ReadCache::insert_held`].
    pub fn insert(&self, log: u64, segment: u64, start: u64, data: Bytes) {
        let held_bytes = data.len();
        self.insert_held(log, segment, start, data, held_bytes, Origin::Read);
    }

    /// Caches `data`, a slice of a buffer of `buffer_bytes` (a pooled write chunk or read
    /// buffer): the buffer itself when `data` fills at least [`COPY_BELOW_FILL`] of it, charged
    /// in full, and otherwise a copy of `data`, so the buffer can go back to the pool. Returns
    /// the bytes cached (the copy or `data`), which readers should use so as not to hold the
    /// buffer.
    pub(crate) fn insert_from_buffer(
        &self,
        log: u64,
        segment: u64,
        start: u64,
        data: &Bytes,
        buffer_bytes: usize,
        origin: Origin,
    ) -> Bytes {
        if data.len() * COPY_BELOW_FILL < buffer_bytes {
            let copy = Bytes::copy_from_slice(data);
            let held_bytes = copy.len();
            self.insert_held(log, segment, start, copy.clone(), held_bytes, origin);
            copy
        } else {
            let held_bytes = buffer_bytes.max(data.len());
            self.insert_held(log, segment, start, data.clone(), held_bytes, origin);
            data.clone()
        }
    }

    /// Caches `data` as the bytes of `(log, segment)` from `start`, charged `held_bytes` (the
    /// memory it keeps alive) plus [`ENTRY_OVERHEAD_BYTES`], evicting old ranges to stay within
    /// the budget, and for a range of a window ([`Origin`]) the window's oldest ranges to stay
    /// within it. A range that would cost more than its budget is not cached.
    pub(crate) fn insert_held(
        &self,
        log: u64,
        segment: u64,
        start: u64,
        data: Bytes,
        held_bytes: usize,
        origin: Origin,
    ) {
        let charged_bytes = held_bytes + ENTRY_OVERHEAD_BYTES;
        let window = origin.window();
        let budget = window.map_or(self.budget_bytes, |w| self.window_budgets[w]);
        if data.is_empty() || charged_bytes > budget {
            return;
        }
        let mut inner = self.write();
        let key = (log, segment, start);
        let entry = Entry {
            data,
            charged_bytes,
            referenced: AtomicBool::new(false),
            window,
        };
        if inner.remove(&key).is_none() {
            inner.clock.push_back(key);
        }
        inner.entries.insert(key, entry);
        inner.used_bytes += charged_bytes;
        if let Some(w) = window {
            inner.windows[w].bytes += charged_bytes;
            inner.windows[w].keys.push_back(key);
            while inner.windows[w].bytes > self.window_budgets[w] {
                let Some(oldest) = inner.windows[w].keys.pop_front() else {
                    break;
                };
                if oldest != key
                    && inner
                        .entries
                        .get(&oldest)
                        .is_some_and(|e| e.window == window)
                {
                    inner.remove(&oldest);
                }
            }
        }
        while inner.used_bytes > self.budget_bytes {
            let Some(victim) = inner.clock.pop_front() else {
                break;
            };
            let Some(entry) = inner.entries.get_mut(&victim) else {
                continue;
            };
            if *entry.referenced.get_mut() && victim != key {
                *entry.referenced.get_mut() = false;
                inner.clock.push_back(victim);
            } else {
                inner.remove(&victim);
            }
        }
        inner.sweep_stale_keys();
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
        let mut inner = self.write();
        let keys: Vec<Key> = inner.entries.range(from..=to).map(|(k, _)| *k).collect();
        for key in keys {
            inner.remove(&key);
        }
        inner.sweep_stale_keys();
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().expect("read cache lock poisoned")
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().expect("read cache lock poisoned")
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
    fn written_ranges_stay_within_their_window_and_leave_read_ones_alone() {
        let one = 1000 + ENTRY_OVERHEAD_BYTES;
        let cache = ReadCache::with_windows(10 * one, 2 * one, 10 * one);
        let written = |start| {
            let data = bytes(1000, 1);
            cache.insert_from_buffer(1, 0, start, &data, 1000, Origin::Written);
        };
        cache.insert(1, 0, 0, bytes(1000, 0));
        cache.insert(1, 0, 1000, bytes(1000, 0));
        for start in [10_000, 11_000, 12_000, 13_000] {
            written(start);
        }
        assert!(cache.get(1, 0, 10_000).is_none(), "the oldest written went");
        assert!(cache.get(1, 0, 11_000).is_none());
        assert!(cache.get(1, 0, 12_000).is_some());
        assert!(cache.get(1, 0, 13_000).is_some());
        assert!(
            cache.get(1, 0, 0).is_some(),
            "read ranges are not in the window"
        );
        assert!(cache.get(1, 0, 1000).is_some());
        assert_eq!(cache.used_bytes(), 4 * one);
        // A read of a written range's position takes it out of the window.
        cache.insert(1, 0, 12_000, bytes(1000, 2));
        written(14_000);
        written(15_000);
        assert!(cache.get(1, 0, 12_000).is_some(), "now a read range");
        assert!(cache.get(1, 0, 13_000).is_none());
        cache.remove_segment(1, 0);
        assert_eq!(cache.used_bytes(), 0);
        written(16_000);
        assert_eq!(
            cache.used_bytes(),
            one,
            "the window's count followed the removals"
        );
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
        let cache = ReadCache::new(3 * (1000 + ENTRY_OVERHEAD_BYTES));
        cache.insert(1, 0, 0, bytes(1000, 0));
        cache.insert(1, 0, 1000, bytes(1000, 0));
        cache.insert(1, 0, 2000, bytes(1000, 0));
        assert!(cache.get(1, 0, 0).is_some());
        cache.insert(1, 0, 3000, bytes(1000, 0));
        assert!(cache.used_bytes() <= 3 * (1000 + ENTRY_OVERHEAD_BYTES));
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
        assert_eq!(cache.used_bytes(), 10 + ENTRY_OVERHEAD_BYTES);
    }

    #[test]
    fn a_small_slice_of_a_large_buffer_is_copied_and_charged_its_size() {
        let cache = ReadCache::new(1 << 20);
        let buffer = bytes(256 * 1024, 7);
        cache.insert_from_buffer(1, 0, 0, &buffer.slice(..100), buffer.len(), Origin::Read);
        assert_eq!(cache.used_bytes(), 100 + ENTRY_OVERHEAD_BYTES);
        let hit = cache.get(1, 0, 0).unwrap();
        assert_eq!(hit.data.len(), 100);
        assert_ne!(
            hit.data.as_ptr(),
            buffer.as_ptr(),
            "a copy, so the buffer is not kept alive"
        );
    }

    #[test]
    fn a_buffer_filled_a_quarter_or_more_is_shared_and_charged_in_full() {
        let cache = ReadCache::new(1 << 20);
        let buffer = bytes(256 * 1024, 7);
        let data = buffer.slice(..100 * 1024);
        cache.insert_from_buffer(1, 0, 0, &data, buffer.len(), Origin::Read);
        assert_eq!(cache.used_bytes(), buffer.len() + ENTRY_OVERHEAD_BYTES);
        assert_eq!(cache.get(1, 0, 0).unwrap().data.as_ptr(), buffer.as_ptr());
    }
}

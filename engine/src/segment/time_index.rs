//! The time index: `{base_offset:020}.timeindex`, Kafka's sparse map from timestamp to log
//! offset, used to answer "first offset at or after time T" (`ListOffsets` by timestamp and
//! time-based retention).
//!
//! # On-disk format
//!
//! The file is a bare array of fixed-size entries with no header, trailer or checksum. Each
//! entry is 12 bytes, big-endian:
//!
//! | Offset | Size | Field             | Meaning                                              |
//! |-------:|-----:|-------------------|------------------------------------------------------|
//! |      0 |    8 | `timestamp_ms`    | a batch's max timestamp, ms since the epoch (`i64`)  |
//! |      8 |    4 | `relative_offset` | log offset minus the segment's base offset (`u32`)   |
//!
//! Entry `i` starts at byte `12 * i`; the file length is `12 * entry_count`.
//!
//! # Invariants
//!
//! - Timestamps are strictly increasing, and the first is at least 0: like Kafka, an empty
//!   index behaves as if its last timestamp were [`NO_TIMESTAMP`] (-1), so batches without a
//!   timestamp (and negative timestamps) are never indexed.
//! - Relative offsets never decrease, and none is past the segment's last offset.
//! - Every record at or before an entry's offset has a timestamp at or below the entry's
//!   timestamp: an entry holds the largest timestamp seen so far in the segment.
//!
//! # Which offset an entry records
//!
//! Kafka's `LogSegment` records `shallowOffsetOfMaxTimestamp`: the *last offset of the batch*
//! whose max timestamp it is (see Kafka's `LogSegment.recover`, which uses
//! `batch.lastOffset()`), not the offset of the record inside the batch that carries the
//! timestamp. ringlog does the same. Because of that, records at or before an entry's offset
//! may carry the entry's timestamp, which is why [`TimeIndex::lookup`] returns the greatest
//! entry strictly *below* the target.
//!
//! # When entries are offered
//!
//! The log decides when to offer an entry; this type only decides whether to keep it. Kafka
//! offers `(max timestamp so far, its batch's last offset)` each time it adds an offset-index
//! entry, and once more when the segment is rolled or closed; [`TimeIndex::maybe_push`] keeps
//! it only if the timestamp is greater than the last one indexed.

use super::index::IndexError;

/// Size in bytes of one encoded [`TimeEntry`].
pub const TIME_ENTRY_BYTES: usize = 12;

/// Kafka's `RecordBatch.NO_TIMESTAMP`: the timestamp of a batch that has none. An empty time
/// index behaves as if its last timestamp were this value.
pub const NO_TIMESTAMP: i64 = -1;

/// Byte offset of `timestamp_ms` inside an encoded time-index entry.
const TIMESTAMP_AT: usize = 0;
/// Byte offset of `relative_offset` inside an encoded time-index entry.
const RELATIVE_OFFSET_AT: usize = 8;

/// What [`IndexError`] calls the time index in its messages.
const TIME_INDEX_KIND: &str = "time index";

/// One time-index entry: no record at or before `relative_offset` has a timestamp above
/// `timestamp_ms`, and the batch ending at `relative_offset` has max timestamp `timestamp_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    /// A batch's max timestamp, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The last offset of that batch, minus the segment's base offset.
    pub relative_offset: u32,
}

/// The in-memory time index of one segment.
///
/// Timestamps are kept strictly increasing and offsets non-decreasing;
/// [`maybe_push`](Self::maybe_push) enforces it and [`decode`](Self::decode) checks it on
/// bytes read from disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeIndex {
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    /// Creates an empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers an entry; keeps it only if `timestamp_ms` is greater than the last indexed
    /// timestamp ([`NO_TIMESTAMP`] when empty, as in Kafka). Returns whether it was kept.
    ///
    /// # Panics
    ///
    /// If `relative_offset` is below the last entry's offset, whether or not the entry would
    /// be kept: the log only ever offers offsets going forward, so this is a caller bug.
    pub fn maybe_push(&mut self, timestamp_ms: i64, relative_offset: u32) -> bool {
        let last = self.last_or_empty();
        assert!(
            relative_offset >= last.relative_offset,
            "time index offered relative offset {relative_offset} below the last entry's {}",
            last.relative_offset,
        );
        if timestamp_ms <= last.timestamp_ms {
            return false;
        }
        self.entries.push(TimeEntry {
            timestamp_ms,
            relative_offset,
        });
        true
    }

    /// Returns the greatest entry whose timestamp is strictly below `timestamp_ms`, or `None`
    /// if there is none.
    ///
    /// To find the first record with a timestamp at or after `timestamp_ms`, scan forward
    /// from the record after the returned entry's offset (from the segment start on `None`):
    /// every record at or before that offset has a timestamp below the target. Strictly below,
    /// because an entry records its batch's last offset, and earlier records in that batch may
    /// carry the entry's own timestamp.
    pub fn lookup(&self, timestamp_ms: i64) -> Option<TimeEntry> {
        let after = self
            .entries
            .partition_point(|e| e.timestamp_ms < timestamp_ms);
        after.checked_sub(1).map(|i| self.entries[i])
    }

    /// The largest timestamp indexed, which is the last entry's.
    pub fn max_timestamp(&self) -> Option<i64> {
        self.entries.last().map(|e| e.timestamp_ms)
    }

    /// Drops every entry whose `relative_offset` is at or after `relative_offset`.
    pub fn truncate_to_offset(&mut self, relative_offset: u32) {
        let keep = self
            .entries
            .partition_point(|e| e.relative_offset < relative_offset);
        self.entries.truncate(keep);
    }

    /// All entries, in increasing order.
    pub fn entries(&self) -> &[TimeEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last (greatest) entry, if any.
    pub fn last(&self) -> Option<TimeEntry> {
        self.entries.last().copied()
    }

    /// Appends the on-disk encoding of `entries()[from_entry..]` to `out`.
    ///
    /// Writing `from_entry = entries already on disk` gives the bytes to append to the file.
    ///
    /// # Panics
    ///
    /// If `from_entry > len()`.
    pub fn encode_into(&self, from_entry: usize, out: &mut Vec<u8>) {
        assert!(
            from_entry <= self.entries.len(),
            "time index encode from entry {from_entry}, but the index has only {} entries",
            self.entries.len(),
        );
        let tail = &self.entries[from_entry..];
        out.reserve(tail.len() * TIME_ENTRY_BYTES);
        for entry in tail {
            out.extend_from_slice(&entry.timestamp_ms.to_be_bytes());
            out.extend_from_slice(&entry.relative_offset.to_be_bytes());
        }
    }

    /// Decodes a time index file of a segment whose last relative offset is
    /// `max_relative_offset`.
    ///
    /// Accepts exactly what [`maybe_push`](Self::maybe_push) can build. Allocates at most one
    /// entry per 12 input bytes.
    ///
    /// # Errors
    ///
    /// - [`IndexError::BadLength`] if `bytes.len()` is not a multiple of 12.
    /// - [`IndexError::OutOfOrder`] if an entry's timestamp is not greater than the previous
    ///   entry's (than [`NO_TIMESTAMP`] for the first entry), or its offset is below the
    ///   previous entry's.
    /// - [`IndexError::PastEnd`] if an entry's offset is above `max_relative_offset`; `limit`
    ///   is then `max_relative_offset + 1`.
    pub fn decode(bytes: &[u8], max_relative_offset: u32) -> Result<TimeIndex, IndexError> {
        let (chunks, rest) = bytes.as_chunks::<TIME_ENTRY_BYTES>();
        if !rest.is_empty() {
            return Err(IndexError::BadLength {
                kind: TIME_INDEX_KIND,
                bytes: bytes.len(),
                entry_bytes: TIME_ENTRY_BYTES,
            });
        }
        let mut index = TimeIndex {
            entries: Vec::with_capacity(chunks.len()),
        };
        for (number, chunk) in chunks.iter().enumerate() {
            let entry = decode_entry(chunk);
            let last = index.last_or_empty();
            if entry.timestamp_ms <= last.timestamp_ms
                || entry.relative_offset < last.relative_offset
            {
                return Err(IndexError::OutOfOrder {
                    kind: TIME_INDEX_KIND,
                    entry: number,
                });
            }
            if entry.relative_offset > max_relative_offset {
                return Err(IndexError::PastEnd {
                    kind: TIME_INDEX_KIND,
                    entry: number,
                    value: u64::from(entry.relative_offset),
                    limit: u64::from(max_relative_offset) + 1,
                });
            }
            index.entries.push(entry);
        }
        Ok(index)
    }

    /// The last entry, or Kafka's stand-in for an empty index: `(NO_TIMESTAMP, 0)`.
    fn last_or_empty(&self) -> TimeEntry {
        self.last().unwrap_or(TimeEntry {
            timestamp_ms: NO_TIMESTAMP,
            relative_offset: 0,
        })
    }
}

/// Decodes one entry laid out as in the module's byte-offset table.
fn decode_entry(chunk: &[u8; TIME_ENTRY_BYTES]) -> TimeEntry {
    let mut timestamp = [0u8; 8];
    timestamp.copy_from_slice(&chunk[TIMESTAMP_AT..TIMESTAMP_AT + 8]);
    let mut offset = [0u8; 4];
    offset.copy_from_slice(&chunk[RELATIVE_OFFSET_AT..RELATIVE_OFFSET_AT + 4]);
    TimeEntry {
        timestamp_ms: i64::from_be_bytes(timestamp),
        relative_offset: u32::from_be_bytes(offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(timestamp_ms: i64, relative_offset: u32) -> TimeEntry {
        TimeEntry {
            timestamp_ms,
            relative_offset,
        }
    }

    /// Entries (1000, 10), (2000, 20), (3000, 30).
    fn sample() -> TimeIndex {
        let mut index = TimeIndex::new();
        for i in 1..=3 {
            assert!(index.maybe_push(i64::from(i) * 1000, i * 10));
        }
        index
    }

    #[test]
    fn lookup_on_empty_index_finds_nothing() {
        let index = TimeIndex::new();
        assert_eq!(index.lookup(i64::MIN), None);
        assert_eq!(index.lookup(i64::MAX), None);
        assert_eq!(index.max_timestamp(), None);
        assert_eq!(index.last(), None);
        assert!(index.is_empty());
    }

    #[test]
    fn lookup_is_strictly_below_target() {
        let index = sample();
        assert_eq!(index.lookup(0), None);
        // Exact match on the first entry: nothing is strictly below it.
        assert_eq!(index.lookup(1000), None);
        assert_eq!(index.lookup(1001), Some(entry(1000, 10)));
        assert_eq!(index.lookup(2000), Some(entry(1000, 10)));
        assert_eq!(index.lookup(2500), Some(entry(2000, 20)));
        assert_eq!(index.lookup(3000), Some(entry(2000, 20)));
        assert_eq!(index.lookup(i64::MAX), Some(entry(3000, 30)));
        assert_eq!(index.max_timestamp(), Some(3000));
    }

    #[test]
    fn maybe_push_keeps_only_rising_timestamps() {
        let mut index = TimeIndex::new();
        // Like Kafka, an empty index counts as holding NO_TIMESTAMP.
        assert!(!index.maybe_push(NO_TIMESTAMP, 0));
        assert!(!index.maybe_push(-5, 0));
        assert!(index.maybe_push(0, 0));
        assert!(index.maybe_push(100, 4));
        // Equal or lower timestamps are not kept (the roll-time re-offer of the last entry).
        assert!(!index.maybe_push(100, 4));
        assert!(!index.maybe_push(50, 9));
        // A higher timestamp at the same offset is kept.
        assert!(index.maybe_push(200, 9));
        assert!(index.maybe_push(300, 12));
        assert_eq!(
            index.entries(),
            &[entry(0, 0), entry(100, 4), entry(200, 9), entry(300, 12)]
        );
    }

    #[test]
    #[should_panic(expected = "below the last entry's 20")]
    fn maybe_push_rejects_falling_offset_even_when_not_kept() {
        let mut index = TimeIndex::new();
        index.maybe_push(1000, 20);
        index.maybe_push(500, 19);
    }

    #[test]
    fn truncate_to_offset_drops_entries_at_and_after() {
        let mut index = sample();
        index.truncate_to_offset(31);
        assert_eq!(index.len(), 3);
        index.truncate_to_offset(30);
        assert_eq!(index.entries(), &[entry(1000, 10), entry(2000, 20)]);
        index.truncate_to_offset(11);
        assert_eq!(index.entries(), &[entry(1000, 10)]);
        // After truncation, the next push compares against the new last entry.
        assert!(index.maybe_push(1500, 11));
        index.truncate_to_offset(0);
        assert!(index.is_empty());
    }

    #[test]
    fn encode_matches_kafka_bytes() {
        let mut index = TimeIndex::new();
        // 2024-01-01T00:00:00Z = 1_704_067_200_000 ms = 0x0000_018C_C251_F400.
        index.maybe_push(1_704_067_200_000, 3);
        let mut out = Vec::new();
        index.encode_into(0, &mut out);
        assert_eq!(
            out,
            [
                0x00, 0x00, 0x01, 0x8C, 0xC2, 0x51, 0xF4, 0x00, // timestamp_ms
                0x00, 0x00, 0x00, 0x03, // relative_offset
            ]
        );
        assert_eq!(out.len(), TIME_ENTRY_BYTES);
    }

    #[test]
    fn encode_from_entry_appends_only_the_tail() {
        let index = sample();
        let mut out = vec![0xAA];
        index.encode_into(2, &mut out);
        assert_eq!(out, [0xAA, 0, 0, 0, 0, 0, 0, 0x0B, 0xB8, 0, 0, 0, 30]);
        let mut none = Vec::new();
        index.encode_into(3, &mut none);
        assert!(none.is_empty());
    }

    #[test]
    #[should_panic(expected = "has only 3 entries")]
    fn encode_from_past_the_end_panics() {
        sample().encode_into(4, &mut Vec::new());
    }

    #[test]
    fn decode_round_trips() {
        let index = sample();
        let mut bytes = Vec::new();
        index.encode_into(0, &mut bytes);
        assert_eq!(TimeIndex::decode(&bytes, 30), Ok(index));
        assert_eq!(TimeIndex::decode(&[], 0), Ok(TimeIndex::new()));
    }

    #[test]
    fn decode_rejects_partial_entry() {
        let err = TimeIndex::decode(&[0; 25], u32::MAX).unwrap_err();
        assert_eq!(
            err,
            IndexError::BadLength {
                kind: "time index",
                bytes: 25,
                entry_bytes: 12
            }
        );
        assert!(
            err.to_string()
                .starts_with("time index is 25 bytes, not a multiple of the 12-byte entry")
        );
    }

    fn encode_raw(entries: &[(i64, u32)]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (timestamp, offset) in entries {
            bytes.extend_from_slice(&timestamp.to_be_bytes());
            bytes.extend_from_slice(&offset.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn decode_rejects_out_of_order_entries() {
        let out_of_order = |entries: &[(i64, u32)], entry: usize| {
            assert_eq!(
                TimeIndex::decode(&encode_raw(entries), 1000),
                Err(IndexError::OutOfOrder {
                    kind: "time index",
                    entry
                }),
                "{entries:?}"
            );
        };
        out_of_order(&[(100, 1), (100, 2)], 1); // repeated timestamp
        out_of_order(&[(100, 1), (99, 2)], 1); // falling timestamp
        out_of_order(&[(100, 5), (200, 4)], 1); // falling offset
        out_of_order(&[(100, 5), (0, 0)], 1); // untrimmed zero tail
        out_of_order(&[(NO_TIMESTAMP, 0)], 0); // Kafka never indexes NO_TIMESTAMP
        assert!(TimeIndex::decode(&encode_raw(&[(100, 5), (200, 5)]), 5).is_ok());
    }

    #[test]
    fn decode_rejects_offset_past_segment_end() {
        let bytes = encode_raw(&[(100, 1), (200, 8)]);
        assert!(TimeIndex::decode(&bytes, 8).is_ok());
        let err = TimeIndex::decode(&bytes, 7).unwrap_err();
        assert_eq!(
            err,
            IndexError::PastEnd {
                kind: "time index",
                entry: 1,
                value: 8,
                limit: 8
            }
        );
        assert!(err.to_string().contains("time index entry 1 refers to 8"));
    }

    /// Entries as `maybe_push` builds them: distinct rising non-negative timestamps and
    /// non-decreasing offsets.
    fn sorted_entries() -> impl Strategy<Value = Vec<TimeEntry>> {
        (
            prop::collection::btree_set(0..=i64::MAX, 0..64),
            prop::collection::vec(any::<u32>(), 64),
        )
            .prop_map(|(timestamps, mut offsets)| {
                offsets.sort_unstable();
                timestamps
                    .into_iter()
                    .zip(offsets)
                    .map(|(t, o)| entry(t, o))
                    .collect()
            })
    }

    fn build(entries: &[TimeEntry]) -> TimeIndex {
        let mut index = TimeIndex::new();
        for e in entries {
            assert!(index.maybe_push(e.timestamp_ms, e.relative_offset));
        }
        index
    }

    proptest! {
        #[test]
        fn lookup_agrees_with_linear_scan(
            entries in sorted_entries(),
            targets in prop::collection::vec(any::<i64>(), 8),
            cuts in prop::collection::vec(any::<u32>(), 4),
        ) {
            let index = build(&entries);
            let near = entries
                .iter()
                .map(|e| e.timestamp_ms)
                .flat_map(|t| [t.saturating_sub(1), t, t.saturating_add(1)]);
            for target in targets.into_iter().chain(near) {
                let expected = entries.iter().rev().find(|e| e.timestamp_ms < target);
                prop_assert_eq!(index.lookup(target), expected.copied());
            }
            let offsets = entries.iter().map(|e| e.relative_offset);
            for cut in cuts.into_iter().chain(offsets) {
                let mut truncated = index.clone();
                truncated.truncate_to_offset(cut);
                let kept: Vec<_> =
                    entries.iter().copied().filter(|e| e.relative_offset < cut).collect();
                prop_assert_eq!(truncated.entries(), &kept[..]);
            }
        }

        #[test]
        fn decode_inverts_encode(entries in sorted_entries()) {
            let index = build(&entries);
            let mut bytes = Vec::new();
            index.encode_into(0, &mut bytes);
            prop_assert_eq!(bytes.len(), entries.len() * TIME_ENTRY_BYTES);
            let max_offset = index.last().map_or(0, |e| e.relative_offset);
            prop_assert_eq!(TimeIndex::decode(&bytes, max_offset), Ok(index));
        }

        #[test]
        fn decode_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..100),
            max_relative_offset: u32,
        ) {
            if let Ok(index) = TimeIndex::decode(&bytes, max_relative_offset) {
                let mut again = Vec::new();
                index.encode_into(0, &mut again);
                prop_assert_eq!(again, bytes);
            }
        }
    }
}

//! The offset index: `{base_offset:020}.index`, Kafka's sparse map from log offset to byte
//! position in the segment's `.log` file.
//!
//! # On-disk format
//!
//! The file is a bare array of fixed-size entries with no header, trailer or checksum. Each
//! entry is 8 bytes, big-endian:
//!
//! | Offset | Size | Field             | Meaning                                                |
//! |-------:|-----:|-------------------|--------------------------------------------------------|
//! |      0 |    4 | `relative_offset` | log offset minus the segment's base offset (`u32`)     |
//! |      4 |    4 | `position`        | byte position in the `.log` file where a batch begins  |
//!
//! Entry `i` starts at byte `8 * i`; the file length is `8 * entry_count`.
//!
//! # Invariants
//!
//! - Both fields are strictly increasing from one entry to the next.
//! - Every `position` lies inside the `.log` file (`position < log_bytes`).
//! - Scanning the `.log` file forward from an entry's `position` reaches every offset at or
//!   after that entry's offset; this is what makes [`OffsetIndex::lookup`] a safe place to
//!   start a scan.
//!
//! The index is sparse: the log adds an entry each time at least `index_interval_bytes` of log
//! data were written since the previous entry. Which offset and position go into an entry is
//! the log's decision; this type only keeps the entries ordered and answers lookups. (Kafka's
//! `LogSegment` records the *last* offset of a batch with the position where that batch
//! *begins*, so the batch found at `position` contains `relative_offset`.)
//!
//! Kafka preallocates index files and trims them on a clean close. A file left untrimmed by a
//! crash ends in zero entries, which [`OffsetIndex::decode`] reports as
//! [`IndexError::OutOfOrder`]; the fix is to rebuild the index from the log.

/// Size in bytes of one encoded [`OffsetEntry`].
pub const OFFSET_ENTRY_BYTES: usize = 8;

/// Byte offset of `relative_offset` inside an encoded offset-index entry.
const RELATIVE_OFFSET_AT: usize = 0;
/// Byte offset of `position` inside an encoded offset-index entry.
const POSITION_AT: usize = 4;

/// What [`IndexError`] calls the offset index in its messages.
const OFFSET_INDEX_KIND: &str = "offset index";

/// A problem found while decoding an index file read from disk.
///
/// Shared by the offset index and the time index; `kind` names which one (`"offset index"` or
/// `"time index"`). Every variant means the file cannot be trusted, and the remedy is the same:
/// delete the index file and rebuild it from the `.log` file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The file length is not a whole number of entries (a torn or foreign file).
    #[error(
        "{kind} is {bytes} bytes, not a multiple of the {entry_bytes}-byte entry; \
         rebuild the index from the log"
    )]
    BadLength {
        /// Which index: `"offset index"` or `"time index"`.
        kind: &'static str,
        /// Length of the file in bytes.
        bytes: usize,
        /// Size of one entry in bytes.
        entry_bytes: usize,
    },
    /// An entry does not follow on from the entry before it (see each index's ordering rule).
    /// A preallocated file left untrimmed by a crash shows up here, at its first zero entry.
    #[error(
        "{kind} entry {entry} is out of order with the entry before it; the file is corrupt \
         or was not trimmed after a crash; rebuild the index from the log"
    )]
    OutOfOrder {
        /// Which index: `"offset index"` or `"time index"`.
        kind: &'static str,
        /// Zero-based number of the offending entry.
        entry: usize,
    },
    /// An entry points past the end of the segment.
    ///
    /// For the offset index `value` is a byte position and `limit` the `.log` file size; for
    /// the time index `value` is a relative offset and `limit` is one past the segment's last
    /// relative offset. In both, `limit` is exclusive: valid values are below it.
    #[error(
        "{kind} entry {entry} refers to {value}, but the segment ends before {limit}; \
         rebuild the index from the log"
    )]
    PastEnd {
        /// Which index: `"offset index"` or `"time index"`.
        kind: &'static str,
        /// Zero-based number of the offending entry.
        entry: usize,
        /// The out-of-range value held by the entry.
        value: u64,
        /// Exclusive upper bound the value must stay below.
        limit: u64,
    },
}

/// One offset-index entry: a batch in the `.log` file begins at `position`, and scanning from
/// there reaches `relative_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    /// Log offset minus the segment's base offset.
    pub relative_offset: u32,
    /// Byte position in the segment's `.log` file.
    pub position: u32,
}

/// The in-memory offset index of one segment, ordered by both offset and position.
///
/// The entries are kept strictly increasing in both fields; [`push`](Self::push) enforces it
/// and [`decode`](Self::decode) checks it on bytes read from disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetIndex {
    entries: Vec<OffsetEntry>,
}

impl OffsetIndex {
    /// Creates an empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry.
    ///
    /// # Panics
    ///
    /// If the index is not empty and `relative_offset` or `position` is not strictly greater
    /// than the last entry's: the log only ever appends forward, so this is a caller bug.
    pub fn push(&mut self, relative_offset: u32, position: u32) {
        if let Some(last) = self.last() {
            assert!(
                relative_offset > last.relative_offset && position > last.position,
                "offset index entry (relative offset {relative_offset}, position {position}) \
                 does not follow the last entry (relative offset {}, position {})",
                last.relative_offset,
                last.position,
            );
        }
        self.entries.push(OffsetEntry {
            relative_offset,
            position,
        });
    }

    /// Returns the greatest entry whose `relative_offset` is at or before `relative_offset`,
    /// or `None` if there is none (scan from the start of the segment).
    pub fn lookup(&self, relative_offset: u32) -> Option<OffsetEntry> {
        let after = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        self.entry_before(after)
    }

    /// Returns the greatest entry whose `position` is at or before `position`, or `None` if
    /// there is none.
    pub fn lookup_position(&self, position: u32) -> Option<OffsetEntry> {
        let after = self.entries.partition_point(|e| e.position <= position);
        self.entry_before(after)
    }

    /// The smallest entry whose `relative_offset` is at or after `relative_offset` (the batch
    /// there ends at or after it, and when every batch is indexed it holds it), and the
    /// position of the entry after that one, if any: the two bound a point read of it.
    pub fn ceiling(&self, relative_offset: u32) -> Option<(OffsetEntry, Option<u32>)> {
        let at = self
            .entries
            .partition_point(|e| e.relative_offset < relative_offset);
        let entry = *self.entries.get(at)?;
        Some((entry, self.entries.get(at + 1).map(|e| e.position)))
    }

    /// Drops every entry whose `relative_offset` is at or after `relative_offset`.
    pub fn truncate_to_offset(&mut self, relative_offset: u32) {
        let keep = self
            .entries
            .partition_point(|e| e.relative_offset < relative_offset);
        self.entries.truncate(keep);
    }

    /// Drops every entry whose `position` is at or after `position`.
    pub fn truncate_to_position(&mut self, position: u32) {
        let keep = self.entries.partition_point(|e| e.position < position);
        self.entries.truncate(keep);
    }

    /// All entries, in increasing order.
    pub fn entries(&self) -> &[OffsetEntry] {
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
    pub fn last(&self) -> Option<OffsetEntry> {
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
            "offset index encode from entry {from_entry}, but the index has only {} entries",
            self.entries.len(),
        );
        let tail = &self.entries[from_entry..];
        out.reserve(tail.len() * OFFSET_ENTRY_BYTES);
        for entry in tail {
            out.extend_from_slice(&entry.relative_offset.to_be_bytes());
            out.extend_from_slice(&entry.position.to_be_bytes());
        }
    }

    /// Decodes an offset index file, checking it against a `.log` file of `log_bytes` bytes.
    ///
    /// Allocates at most one entry per 8 input bytes.
    ///
    /// # Errors
    ///
    /// - [`IndexError::BadLength`] if `bytes.len()` is not a multiple of 8.
    /// - [`IndexError::OutOfOrder`] if an entry's offset or position is not strictly greater
    ///   than the previous entry's.
    /// - [`IndexError::PastEnd`] if an entry's position is not below `log_bytes`.
    pub fn decode(bytes: &[u8], log_bytes: u64) -> Result<OffsetIndex, IndexError> {
        let (chunks, rest) = bytes.as_chunks::<OFFSET_ENTRY_BYTES>();
        if !rest.is_empty() {
            return Err(IndexError::BadLength {
                kind: OFFSET_INDEX_KIND,
                bytes: bytes.len(),
                entry_bytes: OFFSET_ENTRY_BYTES,
            });
        }
        let mut index = OffsetIndex {
            entries: Vec::with_capacity(chunks.len()),
        };
        for (number, chunk) in chunks.iter().enumerate() {
            let entry = decode_entry(*chunk);
            if let Some(last) = index.last()
                && (entry.relative_offset <= last.relative_offset
                    || entry.position <= last.position)
            {
                return Err(IndexError::OutOfOrder {
                    kind: OFFSET_INDEX_KIND,
                    entry: number,
                });
            }
            if u64::from(entry.position) >= log_bytes {
                return Err(IndexError::PastEnd {
                    kind: OFFSET_INDEX_KIND,
                    entry: number,
                    value: u64::from(entry.position),
                    limit: log_bytes,
                });
            }
            index.entries.push(entry);
        }
        Ok(index)
    }

    /// The entry just before partition point `after`, if there is one.
    fn entry_before(&self, after: usize) -> Option<OffsetEntry> {
        after.checked_sub(1).map(|i| self.entries[i])
    }
}

/// Decodes one entry laid out as in the module's byte-offset table.
fn decode_entry(chunk: [u8; OFFSET_ENTRY_BYTES]) -> OffsetEntry {
    OffsetEntry {
        relative_offset: be_u32(&chunk, RELATIVE_OFFSET_AT),
        position: be_u32(&chunk, POSITION_AT),
    }
}

/// Reads a big-endian `u32` at byte `at` of `bytes`; `at + 4 <= bytes.len()` is the caller's
/// (format table's) invariant.
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(relative_offset: u32, position: u32) -> OffsetEntry {
        OffsetEntry {
            relative_offset,
            position,
        }
    }

    /// Entries (10, 100), (20, 200), (30, 300).
    fn sample() -> OffsetIndex {
        let mut index = OffsetIndex::new();
        for i in 1..=3 {
            index.push(i * 10, i * 100);
        }
        index
    }

    #[test]
    fn lookup_on_empty_index_finds_nothing() {
        let index = OffsetIndex::new();
        assert_eq!(index.lookup(0), None);
        assert_eq!(index.lookup(u32::MAX), None);
        assert_eq!(index.lookup_position(u32::MAX), None);
        assert!(index.is_empty());
        assert_eq!(index.last(), None);
    }

    #[test]
    fn lookup_by_offset_before_exact_between_after() {
        let index = sample();
        assert_eq!(index.lookup(0), None);
        assert_eq!(index.lookup(9), None);
        assert_eq!(index.lookup(10), Some(entry(10, 100)));
        assert_eq!(index.lookup(25), Some(entry(20, 200)));
        assert_eq!(index.lookup(30), Some(entry(30, 300)));
        assert_eq!(index.lookup(u32::MAX), Some(entry(30, 300)));
    }

    #[test]
    fn lookup_by_position_before_exact_between_after() {
        let index = sample();
        assert_eq!(index.lookup_position(99), None);
        assert_eq!(index.lookup_position(100), Some(entry(10, 100)));
        assert_eq!(index.lookup_position(299), Some(entry(20, 200)));
        assert_eq!(index.lookup_position(300), Some(entry(30, 300)));
        assert_eq!(index.lookup_position(u32::MAX), Some(entry(30, 300)));
    }

    #[test]
    fn truncate_to_offset_drops_entries_at_and_after() {
        let mut index = sample();
        index.truncate_to_offset(31);
        assert_eq!(index.len(), 3);
        index.truncate_to_offset(30);
        assert_eq!(index.entries(), &[entry(10, 100), entry(20, 200)]);
        index.truncate_to_offset(11);
        assert_eq!(index.entries(), &[entry(10, 100)]);
        index.truncate_to_offset(0);
        assert!(index.is_empty());
    }

    #[test]
    fn truncate_to_position_drops_entries_at_and_after() {
        let mut index = sample();
        index.truncate_to_position(200);
        assert_eq!(index.entries(), &[entry(10, 100)]);
        index.truncate_to_position(100);
        assert!(index.is_empty());
    }

    #[test]
    fn push_after_truncation_continues_from_new_last() {
        let mut index = sample();
        index.truncate_to_offset(20);
        index.push(15, 150);
        assert_eq!(index.last(), Some(entry(15, 150)));
    }

    #[test]
    #[should_panic(expected = "does not follow the last entry")]
    fn push_rejects_repeated_offset() {
        let mut index = sample();
        index.push(30, 400);
    }

    #[test]
    #[should_panic(expected = "does not follow the last entry")]
    fn push_rejects_repeated_position() {
        let mut index = sample();
        index.push(40, 300);
    }

    #[test]
    fn encode_matches_kafka_bytes() {
        let mut index = OffsetIndex::new();
        index.push(3, 4096);
        let mut out = Vec::new();
        index.encode_into(0, &mut out);
        assert_eq!(out, [0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x10, 0x00]);
        assert_eq!(out.len(), OFFSET_ENTRY_BYTES);
    }

    #[test]
    fn encode_from_entry_appends_only_the_tail() {
        let index = sample();
        let mut out = vec![0xAA];
        index.encode_into(2, &mut out);
        assert_eq!(out, [0xAA, 0, 0, 0, 30, 0, 0, 0x01, 0x2C]);
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
        assert_eq!(OffsetIndex::decode(&bytes, 301), Ok(index));
        assert_eq!(OffsetIndex::decode(&[], 0), Ok(OffsetIndex::new()));
    }

    #[test]
    fn decode_rejects_partial_entry() {
        let err = OffsetIndex::decode(&[0; 13], 1 << 20).unwrap_err();
        assert_eq!(
            err,
            IndexError::BadLength {
                kind: "offset index",
                bytes: 13,
                entry_bytes: 8
            }
        );
        assert!(
            err.to_string()
                .starts_with("offset index is 13 bytes, not a multiple of the 8-byte entry")
        );
    }

    #[test]
    fn decode_rejects_out_of_order_entries() {
        // Offsets fall back.
        let bytes = [0, 0, 0, 5, 0, 0, 0, 10, 0, 0, 0, 4, 0, 0, 0, 20];
        assert_eq!(
            OffsetIndex::decode(&bytes, 1000),
            Err(IndexError::OutOfOrder {
                kind: "offset index",
                entry: 1
            })
        );
        // Positions repeat.
        let bytes = [0, 0, 0, 5, 0, 0, 0, 10, 0, 0, 0, 6, 0, 0, 0, 10];
        assert!(matches!(
            OffsetIndex::decode(&bytes, 1000),
            Err(IndexError::OutOfOrder { entry: 1, .. })
        ));
        // An untrimmed, preallocated tail of zeros.
        let bytes = [0, 0, 0, 5, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            OffsetIndex::decode(&bytes, 1000),
            Err(IndexError::OutOfOrder { entry: 1, .. })
        ));
    }

    #[test]
    fn decode_rejects_position_past_log_end() {
        let bytes = [0, 0, 0, 1, 0, 0, 0x10, 0x00];
        assert!(OffsetIndex::decode(&bytes, 4097).is_ok());
        let err = OffsetIndex::decode(&bytes, 4096).unwrap_err();
        assert_eq!(
            err,
            IndexError::PastEnd {
                kind: "offset index",
                entry: 0,
                value: 4096,
                limit: 4096
            }
        );
        assert!(err.to_string().contains("entry 0 refers to 4096"));
    }

    /// Strictly increasing entries: two sorted sets of distinct values, zipped.
    fn sorted_entries() -> impl Strategy<Value = Vec<OffsetEntry>> {
        (
            prop::collection::btree_set(any::<u32>(), 0..64),
            prop::collection::btree_set(any::<u32>(), 0..64),
        )
            .prop_map(|(offsets, positions)| {
                offsets
                    .into_iter()
                    .zip(positions)
                    .map(|(o, p)| entry(o, p))
                    .collect()
            })
    }

    fn build(entries: &[OffsetEntry]) -> OffsetIndex {
        let mut index = OffsetIndex::new();
        for e in entries {
            index.push(e.relative_offset, e.position);
        }
        index
    }

    proptest! {
        #[test]
        fn lookups_agree_with_linear_scan(
            entries in sorted_entries(),
            targets in prop::collection::vec(any::<u32>(), 8),
        ) {
            let index = build(&entries);
            // Probe the entries themselves and their neighbours as well as random values.
            let near = entries
                .iter()
                .flat_map(|e| [e.relative_offset, e.position])
                .flat_map(|v| [v.saturating_sub(1), v, v.saturating_add(1)]);
            for target in targets.into_iter().chain(near) {
                let by_offset = entries.iter().rev().find(|e| e.relative_offset <= target);
                prop_assert_eq!(index.lookup(target), by_offset.copied());
                let by_position = entries.iter().rev().find(|e| e.position <= target);
                prop_assert_eq!(index.lookup_position(target), by_position.copied());

                let mut truncated = index.clone();
                truncated.truncate_to_offset(target);
                let kept: Vec<_> =
                    entries.iter().copied().filter(|e| e.relative_offset < target).collect();
                prop_assert_eq!(truncated.entries(), &kept[..]);
            }
        }

        #[test]
        fn decode_inverts_encode(entries in sorted_entries()) {
            let index = build(&entries);
            let mut bytes = Vec::new();
            index.encode_into(0, &mut bytes);
            prop_assert_eq!(bytes.len(), entries.len() * OFFSET_ENTRY_BYTES);
            let log_bytes = index.last().map_or(0, |e| u64::from(e.position) + 1);
            prop_assert_eq!(OffsetIndex::decode(&bytes, log_bytes), Ok(index));
        }

        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..100), log_bytes: u64) {
            if let Ok(index) = OffsetIndex::decode(&bytes, log_bytes) {
                let mut again = Vec::new();
                index.encode_into(0, &mut again);
                prop_assert_eq!(again, bytes);
            }
        }
    }
}

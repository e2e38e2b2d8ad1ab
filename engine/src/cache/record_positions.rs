//! Where each record of recently point-read batches starts, so that the next point read of the
//! same batch jumps to its record instead of walking the records before it.
//!
//! Records in a batch are prefixed by their varint length and nothing else locates them: a
//! point read of the 50th record of a cached batch of 1 KiB records skips 49 records, one
//! cache miss each (about 4 us on the machines this engine targets). The first point read of a
//! batch checks it whole (CRC and every record, [`validate_batch`]) and keeps a table of its
//! records' offsets and positions here; later point reads look their record up in the table
//! (one probe where the batch's offsets are contiguous, else a binary search) and parse only
//! their record.
//!
//! A table is keyed by (log id, segment id, batch position) and remembers the batch's base
//! offset, size and CRC field: a table whose batch no longer matches (the segment was truncated
//! and rewritten) is rebuilt, and a point read checks the offset of the record it lands on, so
//! a stale table can never return a wrong record. The tables live under their own budget, a
//! fraction of the read cache's, and the oldest go first.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::record::{BatchError, BatchHeader, BatchLimits, records, validate_batch};

type Key = (u64, u64, u64);

/// A multiply-and-rotate hasher for the tables' keys (three integers the engine assigns, not
/// an attacker's input): SipHash's resistance to flooding buys nothing here and cost about 3%
/// of a warm point read.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // FxHash's step (rustc's hasher): rotate, xor, multiply by a large odd constant.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Memory a table costs beyond its records: map entry, key, queue slot, `Arc` header.
const TABLE_OVERHEAD_BYTES: usize = 128;

/// The records of one checked batch: their offset deltas and positions in the batch.
#[derive(Debug)]
pub struct PositionTable {
    base_offset: i64,
    total_bytes: usize,
    crc: u32,
    /// (offset delta, position in the batch) of each record, in order (offset deltas strictly
    /// increase in a valid batch).
    records: Box<[(u32, u32)]>,
}

impl PositionTable {
    /// Checks `batch` whole (CRC, frame, every record) and lists its records.
    ///
    /// # Errors
    /// The batch's first problem, as [`validate_batch`] finds it.
    pub fn build(batch: &[u8]) -> Result<PositionTable, BatchError> {
        // The format's bounds only: a stored batch may predate today's `max_batch_bytes`.
        let limits = BatchLimits {
            max_batch_bytes: usize::MAX,
            require_contiguous_offsets: false,
        };
        let header = validate_batch(batch, &limits)?;
        let mut iter = records(batch)?;
        let mut table = Vec::with_capacity(iter.size_hint().1.unwrap_or(0));
        while let Some((offset, position)) = iter.skip_record()? {
            // Validated: deltas are at least 0 and fit the batch's 32-bit delta field.
            let delta = u32::try_from(offset - header.base_offset).unwrap_or(u32::MAX);
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            table.push((delta, position));
        }
        Ok(PositionTable {
            base_offset: header.base_offset,
            total_bytes: header.total_bytes(),
            crc: header.crc,
            records: table.into_boxed_slice(),
        })
    }

    /// Whether this table was built from the batch `header` describes.
    pub fn matches(&self, header: &BatchHeader) -> bool {
        self.base_offset == header.base_offset
            && self.total_bytes == header.total_bytes()
            && self.crc == header.crc
    }

    /// The position in the batch and the record number of the record at `offset`, if the
    /// batch holds it.
    pub fn find(&self, offset: i64) -> Option<(usize, usize)> {
        let delta = u32::try_from(offset.checked_sub(self.base_offset)?).ok()?;
        // Offsets of a batch compaction did not thin are contiguous: the record with offset
        // delta `d` is record `d`, one probe instead of a search.
        if let Some(&(found, position)) = self.records.get(delta as usize)
            && found == delta
        {
            return Some((position as usize, delta as usize));
        }
        let index = self
            .records
            .binary_search_by_key(&delta, |&(d, _)| d)
            .ok()?;
        Some((self.records[index].1 as usize, index))
    }

    fn charged_bytes(&self) -> usize {
        self.records.len() * size_of::<(u32, u32)>() + TABLE_OVERHEAD_BYTES
    }
}

struct Inner {
    tables: HashMap<Key, Arc<PositionTable>, BuildHasherDefault<KeyHasher>>,
    /// Insertion order, for eviction (oldest first).
    order: VecDeque<Key>,
    used_bytes: usize,
}

/// Record position tables of recently point-read batches, within a memory budget (see the
/// [module docs](self)).
pub struct RecordPositions {
    budget_bytes: usize,
    /// Lookups share it; inserts take it alone.
    inner: RwLock<Inner>,
}

impl RecordPositions {
    /// No tables yet, at most `budget_bytes` of them.
    pub fn new(budget_bytes: usize) -> Self {
        RecordPositions {
            budget_bytes,
            inner: RwLock::new(Inner {
                tables: HashMap::default(),
                order: VecDeque::new(),
                used_bytes: 0,
            }),
        }
    }

    /// The table of the batch of `(log, segment)` at `position`, if one is kept.
    pub fn get(&self, log: u64, segment: u64, position: u64) -> Option<Arc<PositionTable>> {
        self.read().tables.get(&(log, segment, position)).cloned()
    }

    /// Keeps `table` for the batch of `(log, segment)` at `position` (replacing an older
    /// one), evicting the oldest tables to stay within the budget. A table larger than the
    /// whole budget is not kept.
    pub fn insert(&self, log: u64, segment: u64, position: u64, table: Arc<PositionTable>) {
        let charged = table.charged_bytes();
        if charged > self.budget_bytes {
            return;
        }
        let key = (log, segment, position);
        let mut inner = self.write();
        match inner.tables.insert(key, table) {
            Some(old) => inner.used_bytes -= old.charged_bytes(),
            None => inner.order.push_back(key),
        }
        inner.used_bytes += charged;
        while inner.used_bytes > self.budget_bytes {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(old) = inner.tables.remove(&oldest) {
                inner.used_bytes -= old.charged_bytes();
            }
        }
    }

    /// Bytes of budget in use.
    pub fn used_bytes(&self) -> usize {
        self.read().used_bytes
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().expect("record positions lock poisoned")
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().expect("record positions lock poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BatchOptions, Record, encode_batch};

    fn batch(base_offset: i64, values: &[&[u8]]) -> Vec<u8> {
        let records: Vec<Record<'_>> = values
            .iter()
            .map(|v| Record {
                key: None,
                value: Some(v),
                timestamp_ms: 1,
                headers: &[],
            })
            .collect();
        let mut out = vec![0; crate::record::encoded_batch_bytes(&records).unwrap()];
        encode_batch(&mut out, base_offset, &records, &BatchOptions::default()).unwrap();
        out
    }

    #[test]
    fn a_table_finds_every_record_of_its_batch_and_nothing_else() {
        let bytes = batch(40, &[b"a", b"bb", b"ccc"]);
        let table = PositionTable::build(&bytes).unwrap();
        let header = BatchHeader::parse(&bytes).unwrap();
        assert!(table.matches(&header));
        for (i, offset) in (40..43).enumerate() {
            let (position, index) = table.find(offset).unwrap();
            assert_eq!(index, i);
            let record = crate::record::record_at(&bytes, position, index).unwrap();
            assert_eq!(record.offset, offset);
        }
        assert_eq!(table.find(39), None);
        assert_eq!(table.find(43), None);
    }

    #[test]
    fn a_corrupt_batch_gets_no_table() {
        let mut bytes = batch(0, &[b"a", b"bb"]);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            PositionTable::build(&bytes),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn tables_stay_within_the_budget_oldest_out_first() {
        let bytes = batch(0, &[b"a", b"bb"]);
        let table = Arc::new(PositionTable::build(&bytes).unwrap());
        let one = table.charged_bytes();
        let positions = RecordPositions::new(2 * one);
        for position in 0..3 {
            positions.insert(1, 1, position, Arc::clone(&table));
        }
        assert_eq!(positions.used_bytes(), 2 * one);
        assert!(positions.get(1, 1, 0).is_none(), "the oldest went first");
        assert!(positions.get(1, 1, 1).is_some());
        assert!(positions.get(1, 1, 2).is_some());
    }
}

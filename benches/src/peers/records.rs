//! The records every engine writes and reads back, and how reading them back is checked.
//!
//! Record `id` (its offset) is `RECORD_BYTES` bytes: the id as a big-endian u64, then bytes of
//! a 4 MiB pool of xorshift output starting at `id * POOL_STRIDE` (mod the pool): random, so
//! no engine gains by compressing, and different for every id, so a record read at the wrong
//! offset fails the check. A read is checked by its count and by a checksum, the wrapping sum
//! of every record's CRC-32C ([`Checksum`]); what to expect is computed from the ids alone,
//! outside any timed region.

use bytes::{Bytes, BytesMut};

use crate::fixtures::XorShift;

/// Payload bytes of every record (1 KiB).
pub const RECORD_BYTES: usize = 1024;
/// Records per appended batch.
pub const BATCH_RECORDS: usize = 100;
/// Bytes of random data records are cut from.
const POOL_BYTES: usize = 4 << 20;
/// Distance in the pool between the data of consecutive ids: more than a record, so records
/// of one batch share no bytes (a compressor finds nothing across them either).
const POOL_STRIDE: usize = 1031;
/// Bytes of the id at the start of each record.
const ID_BYTES: usize = 8;
/// Seed of the pool.
const POOL_SEED: u64 = 0x0DDB_A11C_AFE5_EED5;

/// Makes records and their expected checksums.
#[derive(Clone)]
pub struct RecordSource {
    pool: Vec<u8>,
    record_bytes: usize,
}

impl std::fmt::Debug for RecordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSource")
            .field("record_bytes", &self.record_bytes)
            .finish_non_exhaustive()
    }
}

/// A batch of records with consecutive ids, each a slice of one buffer.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Id (offset) of the first record.
    pub first_id: u64,
    /// The payloads, `first_id` first.
    pub records: Vec<Bytes>,
}

impl Batch {
    /// Payload bytes of the batch.
    pub fn payload_bytes(&self) -> u64 {
        self.records.iter().map(|r| r.len() as u64).sum()
    }

    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl RecordSource {
    /// A source of `record_bytes`-byte records (at least the 8 bytes of the id, at most
    /// 64 KiB).
    ///
    /// # Panics
    /// If `record_bytes` is out of that range.
    pub fn new(record_bytes: usize) -> RecordSource {
        assert!(
            (ID_BYTES..=64 * 1024).contains(&record_bytes),
            "record size {record_bytes} out of range"
        );
        let mut rng = XorShift::new(POOL_SEED);
        let mut pool = Vec::with_capacity(POOL_BYTES);
        while pool.len() < POOL_BYTES {
            pool.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        RecordSource { pool, record_bytes }
    }

    /// Payload bytes of every record.
    pub fn record_bytes(&self) -> usize {
        self.record_bytes
    }

    /// Writes record `id` into `dst` (`record_bytes` long).
    fn fill(&self, id: u64, dst: &mut [u8]) {
        let (head, tail) = dst.split_at_mut(ID_BYTES);
        head.copy_from_slice(&id.to_be_bytes());
        let span = self.pool.len() - tail.len();
        let start = (id as usize).wrapping_mul(POOL_STRIDE) % span;
        tail.copy_from_slice(&self.pool[start..start + tail.len()]);
    }

    /// Record `id`, owned.
    pub fn record(&self, id: u64) -> Vec<u8> {
        let mut out = vec![0; self.record_bytes];
        self.fill(id, &mut out);
        out
    }

    /// `count` records from id `first_id` on, in one allocation.
    pub fn batch(&self, first_id: u64, count: usize) -> Batch {
        let mut buf = BytesMut::zeroed(count * self.record_bytes);
        for (i, chunk) in buf.chunks_exact_mut(self.record_bytes).enumerate() {
            self.fill(first_id + i as u64, chunk);
        }
        let buf = buf.freeze();
        let records = (0..count)
            .map(|i| buf.slice(i * self.record_bytes..(i + 1) * self.record_bytes))
            .collect();
        Batch { first_id, records }
    }

    /// The checksum of reading the records `ids`, in any order.
    pub fn expected(&self, ids: impl IntoIterator<Item = u64>) -> Checksum {
        let mut sum = Checksum::default();
        let mut buf = vec![0; self.record_bytes];
        for id in ids {
            self.fill(id, &mut buf);
            sum.add_record(&buf);
        }
        sum
    }
}

/// Count and checksum of records read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    /// Records.
    pub count: u64,
    /// Wrapping sum of their CRC-32C.
    pub sum: u64,
}

impl Checksum {
    fn add_record(&mut self, payload: &[u8]) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(u64::from(crc32c::crc32c(payload)));
    }
}

/// Checks records as an engine returns them: each must start with the offset it was read
/// at; the count and checksum are compared with [`RecordSource::expected`] at the end.
#[derive(Debug, Default)]
pub struct Verifier {
    /// What was read.
    pub read: Checksum,
    /// Records whose id did not match their offset, and the first of them.
    pub misplaced: u64,
    first_misplaced: Option<(u64, Option<u64>)>,
}

impl Verifier {
    /// Visits one record read at `offset`.
    pub fn visit(&mut self, offset: u64, payload: &[u8]) {
        let id = payload
            .get(..ID_BYTES)
            .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")));
        if id != Some(offset) {
            self.misplaced += 1;
            self.first_misplaced.get_or_insert((offset, id));
        }
        self.read.add_record(payload);
    }

    /// Compares what was read with `expected`.
    ///
    /// # Errors
    /// A message saying what differs.
    pub fn check(&self, expected: Checksum) -> Result<(), String> {
        if let Some((offset, id)) = self.first_misplaced {
            return Err(format!(
                "{} records were not the record of their offset; the first, at offset \
                 {offset}, holds id {id:?}",
                self.misplaced
            ));
        }
        if self.read != expected {
            return Err(format!(
                "read {} records with checksum {:#x}, expected {} with {:#x}",
                self.read.count, self.read.sum, expected.count, expected.sum
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_lead_with_their_id_and_differ() {
        let source = RecordSource::new(RECORD_BYTES);
        let batch = source.batch(7, 3);
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.payload_bytes(), 3 * RECORD_BYTES as u64);
        assert_eq!(&batch.records[1][..8], &8u64.to_be_bytes());
        assert_ne!(batch.records[0][8..], batch.records[1][8..]);
        assert_eq!(source.record(8), batch.records[1]);
    }

    #[test]
    fn a_read_in_order_matches_the_expected_checksum() {
        let source = RecordSource::new(64);
        let mut verifier = Verifier::default();
        for id in 0..10 {
            verifier.visit(id, &source.record(id));
        }
        assert_eq!(verifier.check(source.expected(0..10)), Ok(()));
        assert!(verifier.check(source.expected(0..9)).is_err());
    }

    #[test]
    fn a_record_at_the_wrong_offset_is_caught() {
        let source = RecordSource::new(64);
        let mut verifier = Verifier::default();
        verifier.visit(0, &source.record(1));
        let error = verifier.check(source.expected([1])).unwrap_err();
        assert!(error.contains("offset 0"), "{error}");
    }
}

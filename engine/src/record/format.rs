//! Byte layout of a Kafka `RecordBatch` v2 (magic 2), the unit ringlog stores on disk.
//!
//! Header, all integers big-endian, [`BATCH_HEADER_BYTES`] = 61 bytes:
//!
//! | offset | size | field                  | notes                                                |
//! |-------:|-----:|------------------------|------------------------------------------------------|
//! |      0 |    8 | `baseOffset`           | i64, offset of the first record                      |
//! |      8 |    4 | `batchLength`          | i32, bytes after this field (total - 12)             |
//! |     12 |    4 | `partitionLeaderEpoch` | i32, outside the CRC                                 |
//! |     16 |    1 | `magic`                | i8, always [`MAGIC_V2`]                              |
//! |     17 |    4 | `crc`                  | u32, CRC-32C (Castagnoli) over bytes `[21, end)`     |
//! |     21 |    2 | `attributes`           | i16, see the bit table below                         |
//! |     23 |    4 | `lastOffsetDelta`      | i32, offset delta of the last record                 |
//! |     27 |    8 | `baseTimestamp`        | i64, ms, first record's timestamp, or the delete horizon (bit 6) |
//! |     35 |    8 | `maxTimestamp`         | i64, ms, largest record timestamp                    |
//! |     43 |    8 | `producerId`           | i64, -1 when not idempotent                          |
//! |     51 |    2 | `producerEpoch`        | i16, -1 when not idempotent                          |
//! |     53 |    4 | `baseSequence`         | i32, -1 when not idempotent                          |
//! |     57 |    4 | `recordsCount`         | i32                                                  |
//! |     61 |    - | records                | `recordsCount` records, uncompressed here            |
//!
//! Attribute bits: 0-2 compression codec (0 = none), 3 timestamp type (1 = `LogAppendTime`),
//! 4 transactional, 5 control batch, 6 has delete horizon (then `baseTimestamp` holds the
//! horizon that compaction set, and record timestamp deltas stay relative to it); the rest are
//! zero.
//!
//! Each record (varints are zig-zag, see [`super::varint`]):
//!
//! | field                | type                         |
//! |----------------------|------------------------------|
//! | `length`             | varint, bytes after itself   |
//! | `attributes`         | i8, unused, written as 0     |
//! | `timestampDelta`     | varlong, from `baseTimestamp` (may be negative) |
//! | `offsetDelta`        | varint, from `baseOffset`    |
//! | `keyLength`, `key`   | varint (-1 = null), bytes    |
//! | `valueLength`, `value` | varint (-1 = null), bytes  |
//! | `headersCount`       | varint                       |
//! | per header           | `keyLength` varint, key UTF-8, `valueLength` varint (-1 = null), value |
//!
//! `baseOffset` and `partitionLeaderEpoch` lie outside the CRC so that a broker can assign
//! offsets and stamp the epoch without recomputing it.

use super::error::BatchError;

/// The magic byte of `RecordBatch` v2, the only format this codec reads and writes.
pub const MAGIC_V2: i8 = 2;
/// Size of the fixed batch header; the records start here.
pub const BATCH_HEADER_BYTES: usize = 61;
/// Bytes before the part that `batchLength` counts: `baseOffset` and `batchLength` themselves.
pub const LOG_OVERHEAD_BYTES: usize = 12;
/// `batchLength` of a batch whose records region is empty (61 - 12).
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) as i32;

/// Byte offset of `baseOffset`.
pub const BASE_OFFSET_OFFSET: usize = 0;
/// Byte offset of `batchLength`.
pub const BATCH_LENGTH_OFFSET: usize = 8;
/// Byte offset of `partitionLeaderEpoch`.
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
/// Byte offset of `magic`.
pub const MAGIC_OFFSET: usize = 16;
/// Byte offset of `crc`.
pub const CRC_OFFSET: usize = 17;
/// Byte offset of `attributes`, where the bytes covered by the CRC begin.
pub const ATTRIBUTES_OFFSET: usize = 21;
/// Byte offset of `lastOffsetDelta`.
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
/// Byte offset of `baseTimestamp`.
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
/// Byte offset of `maxTimestamp`.
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
/// Byte offset of `producerId`.
pub const PRODUCER_ID_OFFSET: usize = 43;
/// Byte offset of `producerEpoch`.
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
/// Byte offset of `baseSequence`.
pub const BASE_SEQUENCE_OFFSET: usize = 53;
/// Byte offset of `recordsCount`.
pub const RECORDS_COUNT_OFFSET: usize = 57;

/// Attribute bits 0-2: compression codec (0 = none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
pub const COMPRESSION_CODEC_MASK: i16 = 0x07;
/// Attribute bit 3: set when timestamps are `LogAppendTime`.
pub const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
/// Attribute bit 4: the batch belongs to a transaction.
pub const TRANSACTIONAL_BIT: i16 = 1 << 4;
/// Attribute bit 5: the batch holds a control record (commit or abort marker).
pub const CONTROL_BIT: i16 = 1 << 5;
/// Attribute bit 6: `baseTimestamp` holds a delete horizon set by compaction.
pub const DELETE_HORIZON_BIT: i16 = 1 << 6;

/// `producerId` of a producer that is not idempotent.
pub const NO_PRODUCER_ID: i64 = -1;
/// `producerEpoch` of a producer that is not idempotent.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// `baseSequence` of a producer that is not idempotent.
pub const NO_SEQUENCE: i32 = -1;
/// `partitionLeaderEpoch` before a leader has stamped the batch (what producers send).
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;

/// What a batch's record timestamps mean (attribute bit 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's clock when the record was created.
    CreateTime,
    /// The broker's clock when the batch was appended; readers report `maxTimestamp` for
    /// every record of such a batch.
    LogAppendTime,
}

/// The 61-byte header of a `RecordBatch` v2, field by field.
///
/// [`BatchHeader::parse`] checks nothing beyond the length of its input: a parsed header may
/// hold any values, so only trust it after [`super::validate_batch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes of the batch after the `batchLength` field.
    pub batch_length: i32,
    /// Epoch of the leader that appended the batch.
    pub partition_leader_epoch: i32,
    /// Format version; [`MAGIC_V2`] for batches this codec handles.
    pub magic: i8,
    /// CRC-32C over bytes `[21, end)` of the batch.
    pub crc: u32,
    /// Attribute bits, see the module docs.
    pub attributes: i16,
    /// Offset delta of the last record.
    pub last_offset_delta: i32,
    /// Timestamp of the first record, in ms; the delete horizon when attribute bit 6 is set
    /// (see [`BatchHeader::delete_horizon_ms`]). Record timestamp deltas count from it.
    pub base_timestamp: i64,
    /// Largest record timestamp, in ms.
    pub max_timestamp: i64,
    /// Idempotent producer id, or [`NO_PRODUCER_ID`].
    pub producer_id: i64,
    /// Idempotent producer epoch, or [`NO_PRODUCER_EPOCH`].
    pub producer_epoch: i16,
    /// Sequence number of the first record, or [`NO_SEQUENCE`].
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

fn array_at<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(&bytes[at..at + N]);
    array
}

/// Reads the big-endian i64 at `bytes[at..at + 8]`; panics if out of bounds.
pub(super) fn read_i64(bytes: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(array_at(bytes, at))
}

/// Reads the big-endian i32 at `bytes[at..at + 4]`; panics if out of bounds.
pub(super) fn read_i32(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(array_at(bytes, at))
}

impl BatchHeader {
    /// Reads the 61 header bytes at the start of `bytes`, checking nothing but their presence.
    ///
    /// # Errors
    /// [`BatchError::Truncated`] if `bytes` is shorter than [`BATCH_HEADER_BYTES`].
    pub fn parse(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
        if bytes.len() < BATCH_HEADER_BYTES {
            return Err(BatchError::Truncated {
                needed: BATCH_HEADER_BYTES,
                available: bytes.len(),
            });
        }
        Ok(BatchHeader {
            base_offset: read_i64(bytes, BASE_OFFSET_OFFSET),
            batch_length: read_i32(bytes, BATCH_LENGTH_OFFSET),
            partition_leader_epoch: read_i32(bytes, PARTITION_LEADER_EPOCH_OFFSET),
            magic: bytes[MAGIC_OFFSET] as i8,
            crc: u32::from_be_bytes(array_at(bytes, CRC_OFFSET)),
            attributes: i16::from_be_bytes(array_at(bytes, ATTRIBUTES_OFFSET)),
            last_offset_delta: read_i32(bytes, LAST_OFFSET_DELTA_OFFSET),
            base_timestamp: read_i64(bytes, BASE_TIMESTAMP_OFFSET),
            max_timestamp: read_i64(bytes, MAX_TIMESTAMP_OFFSET),
            producer_id: read_i64(bytes, PRODUCER_ID_OFFSET),
            producer_epoch: i16::from_be_bytes(array_at(bytes, PRODUCER_EPOCH_OFFSET)),
            base_sequence: read_i32(bytes, BASE_SEQUENCE_OFFSET),
            records_count: read_i32(bytes, RECORDS_COUNT_OFFSET),
        })
    }

    /// Writes the 61 header bytes, every field as it stands (the CRC is not recomputed), to
    /// the start of `dst`.
    ///
    /// # Panics
    /// If `dst` is shorter than [`BATCH_HEADER_BYTES`].
    pub fn write(&self, dst: &mut [u8]) {
        assert!(
            dst.len() >= BATCH_HEADER_BYTES,
            "batch header needs {BATCH_HEADER_BYTES} bytes, destination has {}",
            dst.len()
        );
        let fields: [(usize, &[u8]); 13] = [
            (BASE_OFFSET_OFFSET, &self.base_offset.to_be_bytes()),
            (BATCH_LENGTH_OFFSET, &self.batch_length.to_be_bytes()),
            (
                PARTITION_LEADER_EPOCH_OFFSET,
                &self.partition_leader_epoch.to_be_bytes(),
            ),
            (MAGIC_OFFSET, &self.magic.to_be_bytes()),
            (CRC_OFFSET, &self.crc.to_be_bytes()),
            (ATTRIBUTES_OFFSET, &self.attributes.to_be_bytes()),
            (
                LAST_OFFSET_DELTA_OFFSET,
                &self.last_offset_delta.to_be_bytes(),
            ),
            (BASE_TIMESTAMP_OFFSET, &self.base_timestamp.to_be_bytes()),
            (MAX_TIMESTAMP_OFFSET, &self.max_timestamp.to_be_bytes()),
            (PRODUCER_ID_OFFSET, &self.producer_id.to_be_bytes()),
            (PRODUCER_EPOCH_OFFSET, &self.producer_epoch.to_be_bytes()),
            (BASE_SEQUENCE_OFFSET, &self.base_sequence.to_be_bytes()),
            (RECORDS_COUNT_OFFSET, &self.records_count.to_be_bytes()),
        ];
        for (at, field) in fields {
            dst[at..at + field.len()].copy_from_slice(field);
        }
    }

    /// Total bytes of the batch on disk: `batch_length` plus [`LOG_OVERHEAD_BYTES`].
    ///
    /// A negative `batch_length` (which [`super::peek_batch_bytes`] rejects) counts as 0, so
    /// this never overflows.
    pub fn total_bytes(&self) -> usize {
        usize::try_from(self.batch_length).unwrap_or(0) + LOG_OVERHEAD_BYTES
    }

    /// Offset of the last record: `base_offset + last_offset_delta` (wrapping, so that
    /// unvalidated values cannot panic).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// Compression codec from attribute bits 0-2 (0 = none).
    pub fn compression_codec(&self) -> u8 {
        (self.attributes & COMPRESSION_CODEC_MASK) as u8
    }

    /// Meaning of the record timestamps, from attribute bit 3.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT == 0 {
            TimestampType::CreateTime
        } else {
            TimestampType::LogAppendTime
        }
    }

    /// Whether the batch belongs to a transaction (attribute bit 4).
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds control records (attribute bit 5).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Whether `base_timestamp` holds a compaction delete horizon (attribute bit 6).
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_BIT != 0
    }

    /// The compaction delete horizon (ms) when attribute bit 6 is set: `base_timestamp` then
    /// holds it instead of the first record's timestamp (Kafka's `deleteHorizonMs()`). Record
    /// timestamp deltas are relative to it all the same, and `max_timestamp` is unaffected.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        self.has_delete_horizon().then_some(self.base_timestamp)
    }
}

/// CRC-32C of a batch as the header's `crc` field should hold it: over bytes `[21, end)`.
///
/// # Panics
/// If `batch` is shorter than [`ATTRIBUTES_OFFSET`].
pub fn batch_crc(batch: &[u8]) -> u32 {
    assert!(
        batch.len() >= ATTRIBUTES_OFFSET,
        "a batch has at least {ATTRIBUTES_OFFSET} bytes before its CRC-covered part, got {}",
        batch.len()
    );
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BatchHeader {
        BatchHeader {
            base_offset: 0x0102_0304_0506_0708,
            batch_length: 0x1112_1314,
            partition_leader_epoch: 0x2122_2324,
            magic: MAGIC_V2,
            crc: 0xdead_beef,
            attributes: 0x0058,
            last_offset_delta: 0x3132_3334,
            base_timestamp: -2,
            max_timestamp: i64::MAX,
            producer_id: -1,
            producer_epoch: 0x4142,
            base_sequence: 0x5152_5354,
            records_count: 0x6162_6364,
        }
    }

    #[test]
    fn header_write_then_parse_round_trips() {
        let mut bytes = [0_u8; BATCH_HEADER_BYTES];
        sample().write(&mut bytes);
        assert_eq!(BatchHeader::parse(&bytes), Ok(sample()));
    }

    #[test]
    fn header_fields_sit_at_documented_offsets() {
        let mut bytes = [0_u8; BATCH_HEADER_BYTES + 3];
        sample().write(&mut bytes);
        assert_eq!(&bytes[0..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[8..12], &[0x11, 0x12, 0x13, 0x14]);
        assert_eq!(&bytes[12..16], &[0x21, 0x22, 0x23, 0x24]);
        assert_eq!(bytes[16], 2);
        assert_eq!(&bytes[17..21], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(&bytes[21..23], &[0x00, 0x58]);
        assert_eq!(&bytes[23..27], &[0x31, 0x32, 0x33, 0x34]);
        assert_eq!(
            &bytes[27..35],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
        );
        assert_eq!(
            &bytes[35..43],
            &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(&bytes[43..51], &[0xff; 8]);
        assert_eq!(&bytes[51..53], &[0x41, 0x42]);
        assert_eq!(&bytes[53..57], &[0x51, 0x52, 0x53, 0x54]);
        assert_eq!(&bytes[57..61], &[0x61, 0x62, 0x63, 0x64]);
        assert_eq!(&bytes[61..], &[0, 0, 0], "nothing written past the header");
    }

    #[test]
    fn parse_of_short_input_is_truncated() {
        let bytes = [0_u8; BATCH_HEADER_BYTES];
        for len in 0..BATCH_HEADER_BYTES {
            assert_eq!(
                BatchHeader::parse(&bytes[..len]),
                Err(BatchError::Truncated {
                    needed: BATCH_HEADER_BYTES,
                    available: len
                })
            );
        }
    }

    #[test]
    #[should_panic(expected = "batch header needs 61 bytes")]
    fn write_to_short_destination_panics() {
        sample().write(&mut [0_u8; 60]);
    }

    #[test]
    fn attribute_accessors() {
        let header = sample(); // 0x58 = bits 3, 4 and 6
        assert_eq!(header.compression_codec(), 0);
        assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
        assert!(header.is_transactional());
        assert!(!header.is_control());
        assert!(header.has_delete_horizon());
        assert_eq!(header.delete_horizon_ms(), Some(-2), "the base timestamp");
        let plain = BatchHeader {
            attributes: 0x0023,
            ..header
        };
        assert_eq!(plain.compression_codec(), 3);
        assert_eq!(plain.timestamp_type(), TimestampType::CreateTime);
        assert!(!plain.is_transactional());
        assert!(plain.is_control());
        assert_eq!(plain.delete_horizon_ms(), None);
    }

    #[test]
    fn sizes_and_offsets() {
        let header = BatchHeader {
            base_offset: 100,
            batch_length: MIN_BATCH_LENGTH,
            last_offset_delta: 4,
            ..sample()
        };
        assert_eq!(header.total_bytes(), BATCH_HEADER_BYTES);
        assert_eq!(header.last_offset(), 104);
        let negative = BatchHeader {
            batch_length: -5,
            ..header
        };
        assert_eq!(negative.total_bytes(), LOG_OVERHEAD_BYTES);
        assert_eq!(MIN_BATCH_LENGTH, 49);
    }
}

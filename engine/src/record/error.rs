//! Errors from encoding, peeking at, validating and iterating record batches.

/// Why a record batch could not be encoded or why its bytes were rejected.
///
/// Positions in [`BatchError::VarintOverflow`] count bytes from the start of the batch (its
/// `baseOffset` field), so an operator can find the bad byte with a hex dump of the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The bytes end before the structure they should hold.
    #[error("truncated: needed {needed} bytes but only {available} are available")]
    Truncated {
        /// Bytes needed to go on.
        needed: usize,
        /// Bytes that were there.
        available: usize,
    },

    /// The `batchLength` field is outside the bounds allowed for a batch.
    #[error("batch length {length} is out of range: it must be between {min} and {max}")]
    LengthOutOfRange {
        /// The `batchLength` read from the header.
        length: i64,
        /// Smallest allowed `batchLength`.
        min: i64,
        /// Largest allowed `batchLength`.
        max: i64,
    },

    /// The magic byte is not 2 (`RecordBatch` v2), so these bytes are not a batch this codec reads.
    #[error("bad magic byte {magic}: only record batch format v2 (magic 2) is supported")]
    BadMagic {
        /// The magic byte read.
        magic: i8,
    },

    /// The CRC-32C stored in the header does not match the bytes it covers.
    #[error("CRC-32C mismatch: header says {stored:#010x}, bytes give {computed:#010x}")]
    CrcMismatch {
        /// The CRC stored in the header.
        stored: u32,
        /// The CRC computed over the batch bytes.
        computed: u32,
    },

    /// The batch is compressed; this codec only handles uncompressed batches.
    #[error(
        "batch uses compression codec {codec}; only uncompressed batches (codec 0) are supported"
    )]
    Compressed {
        /// The codec from bits 0-2 of the attributes.
        codec: u8,
    },

    /// The header's `recordsCount` is negative.
    #[error("record count {count} is negative")]
    NegativeRecordCount {
        /// The `recordsCount` read from the header.
        count: i32,
    },

    /// The header's `recordsCount` differs from the records the batch holds.
    #[error("header declares {declared} records but the batch holds {found}")]
    RecordCountMismatch {
        /// The `recordsCount` read from the header.
        declared: i32,
        /// Records actually found in the records region.
        found: usize,
    },

    /// A record inside the batch does not parse.
    #[error("record {index} of the batch is malformed: {reason}")]
    MalformedRecord {
        /// Position of the record in the batch, from 0.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A varint is longer than its type allows or its value does not fit the type.
    #[error("varint at byte {position} overflows its type")]
    VarintOverflow {
        /// Where the varint starts.
        position: usize,
    },

    /// A record's offset delta breaks the order the header promises.
    #[error("record {index} has offset delta {found}, expected {expected}")]
    OffsetDeltaMismatch {
        /// Position of the record in the batch, from 0 (for a mismatch with the header's
        /// `lastOffsetDelta`, the last record).
        index: usize,
        /// The delta that was expected (for batches that need not be contiguous, the smallest
        /// delta that would have been accepted).
        expected: i64,
        /// The delta found.
        found: i64,
    },

    /// An empty batch's `lastOffsetDelta` is below -1: it would move the log's next offset
    /// backwards. (A batch with records is held to its records' deltas instead.)
    #[error("lastOffsetDelta {last_offset_delta} of an empty batch is below -1")]
    LastOffsetDeltaOutOfRange {
        /// The `lastOffsetDelta` read from the header.
        last_offset_delta: i32,
    },

    /// `baseOffset + lastOffsetDelta` is outside the i64 offset range.
    #[error(
        "baseOffset {base_offset} plus lastOffsetDelta {last_offset_delta} is outside the offset range"
    )]
    LastOffsetOverflow {
        /// The `baseOffset` read from the header.
        base_offset: i64,
        /// The `lastOffsetDelta` read from the header.
        last_offset_delta: i32,
    },

    /// A producer's batch says `LogAppendTime`, a timestamp type only a broker may set.
    #[error(
        "the batch has timestamp type LogAppendTime, which only a broker sets; a producer must send CreateTime"
    )]
    LogAppendTimeFromProducer,

    /// A batch's `maxTimestamp` is below its `baseTimestamp`, the first record's timestamp.
    #[error("maxTimestamp {max_timestamp} is below baseTimestamp {base_timestamp}")]
    MaxTimestampBeforeBase {
        /// The `baseTimestamp` read from the header.
        base_timestamp: i64,
        /// The `maxTimestamp` read from the header.
        max_timestamp: i64,
    },

    /// A record's timestamp delta added to the batch's `baseTimestamp` overflows i64.
    #[error(
        "record {index} has timestamp delta {delta}, which overflows the timestamp range from baseTimestamp {base_timestamp}"
    )]
    TimestampOverflow {
        /// Position of the record in the batch, from 0.
        index: usize,
        /// The `baseTimestamp` read from the header.
        base_timestamp: i64,
        /// The record's timestamp delta.
        delta: i64,
    },

    /// The header's `maxTimestamp` is not the largest record timestamp.
    #[error("maxTimestamp {declared} in the header is not the largest record timestamp, {found}")]
    MaxTimestampMismatch {
        /// The `maxTimestamp` read from the header.
        declared: i64,
        /// The largest timestamp among the records.
        found: i64,
    },

    /// A batch's offsets cannot belong to the segment it was found in: negative, or beyond a
    /// 32-bit relative offset from the segment's base. Recovery keeps no such batch, so one is
    /// only met where a damaged index points.
    #[error(
        "batch offsets {base_offset} to {last_offset} are outside the segment based at offset {segment_base_offset}"
    )]
    OffsetsOutsideSegment {
        /// The batch's `baseOffset`.
        base_offset: i64,
        /// Its last offset, `baseOffset + lastOffsetDelta` (wrapping).
        last_offset: i64,
        /// The base offset of the segment holding it.
        segment_base_offset: u64,
    },

    /// A batch must hold at least one record to be encoded.
    #[error("cannot encode a batch with no records")]
    Empty,

    /// More records than a batch can count (`recordsCount` and offset deltas are i32).
    #[error("too many records for one batch: {count}, the format allows at most {max}")]
    TooManyRecords {
        /// Records passed in.
        count: usize,
        /// Most records a batch can hold.
        max: usize,
    },

    /// A size exceeds what the format (a 32-bit length field) or the caller allows.
    #[error("too large: {bytes} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The size that was asked for.
        bytes: usize,
        /// The limit.
        max: usize,
    },
}

//! Kafka `RecordBatch` v2 (magic 2): the on-disk and on-wire unit of a partition log.
//!
//! ringlog stores batches byte for byte as Kafka does, so Kafka's own tools can read its
//! segment files. This module encodes uncompressed batches ([`encode_batch`]), checks batches
//! read back from disk or received from clients ([`peek_batch_bytes`], [`validate_batch`],
//! [`validate_producer_batch`]), assigns offsets ([`set_base_offset`]) and iterates records
//! without copying ([`records`]).
//!
//! The byte layout is documented in [`format`](mod@format). Nothing in this module allocates, and every
//! length read from bytes is checked against the bytes present before it is used.

pub mod decode;
pub mod encode;
pub mod error;
pub mod format;
mod reader;
pub mod varint;

#[cfg(test)]
mod round_trip_tests;

pub use decode::{
    BatchLimits, DEFAULT_MAX_BATCH_BYTES, HeaderIter, HeaderView, RecordIter, RecordView,
    check_batch_crc, peek_batch_bytes, record_at, records, set_base_offset, validate_batch,
    validate_producer_batch,
};
pub use encode::{BatchEncoder, BatchOptions, Header, Record, encode_batch, encoded_batch_bytes};
pub use error::BatchError;
pub use format::{
    BATCH_HEADER_BYTES, BatchHeader, LOG_OVERHEAD_BYTES, MAGIC_V2, MIN_BATCH_LENGTH, TimestampType,
};

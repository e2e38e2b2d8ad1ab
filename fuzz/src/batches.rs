//! Building batches for seeds, and resealing fuzzed ones so that mutations reach the records
//! instead of stopping at the CRC.

use ringlog::record::format::{
    BATCH_LENGTH_OFFSET, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, RECORDS_COUNT_OFFSET, batch_crc,
};
use ringlog::record::{
    BATCH_HEADER_BYTES, BatchOptions, Header, LOG_OVERHEAD_BYTES, Record, encode_batch,
    encoded_batch_bytes, peek_batch_bytes,
};

/// An uncompressed batch of `records` at `base_offset`, as the engine's encoder writes it.
///
/// # Panics
/// If the records cannot be encoded (a seed bug).
pub fn encode(base_offset: i64, records: &[Record<'_>], options: &BatchOptions) -> Vec<u8> {
    let mut batch = vec![0; encoded_batch_bytes(records).expect("seed records encode")];
    encode_batch(&mut batch, base_offset, records, options).expect("seed records encode");
    batch
}

/// `count` records with keys, values and headers of a few sizes, timestamps from
/// `first_timestamp_ms`.
pub fn sample_batch(base_offset: i64, count: usize, first_timestamp_ms: i64) -> Vec<u8> {
    const HEADERS: [Header<'static>; 2] = [
        Header {
            key: "trace",
            value: Some(b"0af7651916cd43dd"),
        },
        Header {
            key: "none",
            value: None,
        },
    ];
    let values: Vec<Vec<u8>> = (0..count).map(|i| vec![b'v'; i * 7 % 40]).collect();
    let records: Vec<Record<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, value)| Record {
            key: (i % 3 != 1).then_some(&b"key"[..]),
            value: (i % 5 != 4).then_some(value.as_slice()),
            timestamp_ms: first_timestamp_ms + (i as i64 * 37 % 11) - 3,
            headers: &HEADERS[..i % 3],
        })
        .collect();
    encode(base_offset, &records, &BatchOptions::default())
}

/// Recomputes the CRC of the batch at the start of `bytes` if its frame is whole; returns the
/// batch's size, or `None` if no whole batch starts there.
pub fn reseal_one(bytes: &mut [u8]) -> Option<usize> {
    let total = peek_batch_bytes(bytes, usize::MAX).ok()?;
    if total > bytes.len() || total < CRC_OFFSET + 4 {
        return None;
    }
    let crc = batch_crc(&bytes[..total]);
    bytes[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Some(total)
}

/// Reseals every whole batch from the start of a segment's bytes, up to the first that is not.
pub fn reseal_all(bytes: &mut [u8]) {
    let mut pos = 0;
    while pos + LOG_OVERHEAD_BYTES <= bytes.len() {
        match reseal_one(&mut bytes[pos..]) {
            Some(total) => pos += total,
            None => break,
        }
    }
}

/// A batch at `base_offset` of records without key, value or headers at the given offset
/// deltas (each below 64), with `lastOffsetDelta` as given: the shapes compaction leaves (gaps
/// in the offsets, or no records at all).
pub fn bare_batch(base_offset: i64, offset_deltas: &[u8], last_offset_delta: i32) -> Vec<u8> {
    let mut batch = sample_batch(base_offset, 1, 0)[..BATCH_HEADER_BYTES].to_vec();
    for &delta in offset_deltas {
        assert!(delta < 64, "a one-byte zig-zag varint");
        batch.extend_from_slice(&[0x0c, 0x00, 0x00, delta * 2, 0x01, 0x01, 0x00]);
    }
    let length = (batch.len() - LOG_OVERHEAD_BYTES) as i32;
    batch[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4].copy_from_slice(&length.to_be_bytes());
    batch[LAST_OFFSET_DELTA_OFFSET..LAST_OFFSET_DELTA_OFFSET + 4]
        .copy_from_slice(&last_offset_delta.to_be_bytes());
    let count = offset_deltas.len() as i32;
    batch[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4].copy_from_slice(&count.to_be_bytes());
    reseal_one(&mut batch);
    batch
}

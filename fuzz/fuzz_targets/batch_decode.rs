//! Decoding a RecordBatch from arbitrary bytes: `peek_batch_bytes`, `validate_batch`,
//! `validate_producer_batch` and record iteration never panic and agree with each other, and a
//! batch that validates survives a round trip: its records re-encode, the re-encoded batch
//! decodes to the same records, and encoding is then a fixed point (byte for byte).
//!
//! Each input is tried as it is and resealed (its `batchLength` set to the input's length and
//! its CRC recomputed), so that mutations reach the records instead of stopping at the CRC.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ringlog::record::format::{BATCH_LENGTH_OFFSET, MAGIC_OFFSET};
use ringlog::record::{
    BATCH_HEADER_BYTES, BatchHeader, BatchLimits, BatchOptions, Header, LOG_OVERHEAD_BYTES,
    MAGIC_V2, Record, TimestampType, peek_batch_bytes, records, validate_batch,
    validate_producer_batch,
};
use ringlog_fuzz::batches::{encode, reseal_one};

/// A record decoded into owned parts, to compare across a round trip.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Owned {
    offset: i64,
    timestamp_ms: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= BATCH_HEADER_BYTES {
        let mut sealed = data.to_vec();
        let length = i32::try_from(sealed.len() - LOG_OVERHEAD_BYTES).unwrap_or(i32::MAX);
        sealed[BATCH_LENGTH_OFFSET..BATCH_LENGTH_OFFSET + 4].copy_from_slice(&length.to_be_bytes());
        sealed[MAGIC_OFFSET] = MAGIC_V2 as u8;
        reseal_one(&mut sealed);
        check(&sealed);
    }
});

fn check(data: &[u8]) {
    let limits = BatchLimits::default();
    if let Ok(total) = peek_batch_bytes(data, limits.max_batch_bytes) {
        assert!((BATCH_HEADER_BYTES..=limits.max_batch_bytes).contains(&total));
    }
    let validated = validate_batch(data, &limits);
    let contiguous = validate_batch(
        data,
        &BatchLimits {
            require_contiguous_offsets: true,
            ..limits
        },
    );
    let producer = validate_producer_batch(data, limits.max_batch_bytes);
    // Each is stricter than the one before.
    if producer.is_ok() {
        assert_eq!(producer, contiguous);
    }
    if contiguous.is_ok() {
        assert_eq!(contiguous, validated);
    }
    let decoded = decode(data);
    let Ok(header) = validated else { return };
    let decoded = decoded.expect("a valid batch iterates without error");
    check_valid(&header, &decoded);
    if producer.is_ok() {
        check_producer(&header, &decoded);
    }
    if !decoded.is_empty() {
        round_trip(&header, &decoded);
    }
}

/// All records, or the first error.
fn decode(data: &[u8]) -> Result<Vec<Owned>, ringlog::record::BatchError> {
    let mut out = Vec::new();
    for record in records(data)? {
        let record = record?;
        let mut headers = Vec::with_capacity(record.header_count());
        for header in record.headers() {
            let header = header?;
            headers.push((header.key.to_owned(), header.value.map(<[u8]>::to_vec)));
        }
        assert_eq!(headers.len(), record.header_count());
        out.push(Owned {
            offset: record.offset,
            timestamp_ms: record.timestamp_ms,
            key: record.key.map(<[u8]>::to_vec),
            value: record.value.map(<[u8]>::to_vec),
            headers,
        });
    }
    Ok(out)
}

/// What `validate_batch` promises about the records of a batch it accepted.
fn check_valid(header: &BatchHeader, decoded: &[Owned]) {
    assert_eq!(decoded.len(), header.records_count as usize);
    let last_offset = header
        .base_offset
        .checked_add(i64::from(header.last_offset_delta));
    assert!(last_offset.is_some(), "the last offset is an i64");
    let mut previous = None;
    for record in decoded {
        let delta = record.offset.wrapping_sub(header.base_offset);
        assert!(previous.is_none_or(|p| delta > p), "offset deltas increase");
        assert!(delta >= 0 && delta <= i64::from(header.last_offset_delta));
        previous = Some(delta);
        if header.timestamp_type() == TimestampType::LogAppendTime {
            assert_eq!(record.timestamp_ms, header.max_timestamp);
        }
    }
    if decoded.is_empty() {
        assert!(header.last_offset_delta >= -1);
    }
}

/// What `validate_producer_batch` promises on top.
fn check_producer(header: &BatchHeader, decoded: &[Owned]) {
    assert_eq!(header.timestamp_type(), TimestampType::CreateTime);
    for (i, record) in decoded.iter().enumerate() {
        assert_eq!(record.offset, header.base_offset.wrapping_add(i as i64));
    }
    if let Some(max) = decoded.iter().map(|r| r.timestamp_ms).max() {
        assert_eq!(max, header.max_timestamp);
        assert!(header.base_timestamp <= header.max_timestamp);
    }
}

/// Re-encodes the records and decodes them again.
fn round_trip(header: &BatchHeader, decoded: &[Owned]) {
    let options = BatchOptions {
        producer_id: header.producer_id,
        producer_epoch: header.producer_epoch,
        base_sequence: header.base_sequence,
        partition_leader_epoch: header.partition_leader_epoch,
        timestamp_type: header.timestamp_type(),
    };
    let first = encode_owned(header.base_offset, decoded, &options);
    let again = decode(&first).expect("a re-encoded batch decodes");
    assert_eq!(again.len(), decoded.len());
    for (i, (after, before)) in again.iter().zip(decoded).enumerate() {
        // The encoder numbers records contiguously; everything else survives.
        assert_eq!(after.offset, header.base_offset.wrapping_add(i as i64));
        assert_eq!(
            (&after.key, &after.value, &after.headers, after.timestamp_ms),
            (
                &before.key,
                &before.value,
                &before.headers,
                before.timestamp_ms
            )
        );
    }
    // Re-encoded deltas may take more bytes than the original's, so no size limit here.
    let unlimited = BatchLimits {
        max_batch_bytes: usize::MAX,
        require_contiguous_offsets: true,
    };
    let reencoded = validate_batch(&first, &unlimited).expect("a re-encoded batch validates");
    assert_eq!(reencoded.records_count, header.records_count);
    // Encoding is a fixed point from the first re-encoding on.
    assert_eq!(encode_owned(header.base_offset, &again, &options), first);
}

fn encode_owned(base_offset: i64, records: &[Owned], options: &BatchOptions) -> Vec<u8> {
    let headers: Vec<Vec<Header<'_>>> = records
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .map(|(key, value)| Header {
                    key,
                    value: value.as_deref(),
                })
                .collect()
        })
        .collect();
    let records: Vec<Record<'_>> = records
        .iter()
        .zip(&headers)
        .map(|(r, headers)| Record {
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            timestamp_ms: r.timestamp_ms,
            headers,
        })
        .collect();
    encode(base_offset, &records, options)
}

//! Unit tests of batch validation and record iteration on good and deliberately broken bytes.

use super::super::encode::{BatchOptions, Header, Record, encode_batch, encoded_batch_bytes};
use super::super::format::{
    ATTRIBUTES_OFFSET, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, RECORDS_COUNT_OFFSET,
};
use super::*;

const LIMITS: BatchLimits = BatchLimits {
    max_batch_bytes: 1 << 20,
    require_contiguous_offsets: true,
};

const HEADERS: [Header<'static>; 2] = [
    Header {
        key: "trace",
        value: Some(b"abc"),
    },
    Header {
        key: "gone",
        value: None,
    },
];

fn sample_records() -> [Record<'static>; 3] {
    [
        Record {
            key: Some(b"k0"),
            value: Some(b"v0"),
            timestamp_ms: 1_000,
            headers: &HEADERS,
        },
        Record {
            key: None,
            value: Some(b""),
            timestamp_ms: 900,
            headers: &[],
        },
        Record {
            key: Some(b""),
            value: None,
            timestamp_ms: 1_500,
            headers: &HEADERS[1..],
        },
    ]
}

fn encode(base_offset: i64, records: &[Record<'_>], options: &BatchOptions) -> Vec<u8> {
    let mut batch = vec![0; encoded_batch_bytes(records).unwrap()];
    encode_batch(&mut batch, base_offset, records, options).unwrap();
    batch
}

fn sample_batch() -> Vec<u8> {
    encode(100, &sample_records(), &BatchOptions::default())
}

/// Recomputes the CRC after a test has changed covered bytes on purpose.
fn reseal(batch: &mut [u8]) {
    let crc = format::batch_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

fn put_i32(batch: &mut [u8], at: usize, value: i32) {
    batch[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// A sealed batch around a hand-written records region.
fn batch_with_region(region: &[u8], count: i32, last_offset_delta: i32) -> Vec<u8> {
    let mut batch = encode(
        0,
        &[Record {
            key: None,
            value: None,
            timestamp_ms: 0,
            headers: &[],
        }],
        &BatchOptions::default(),
    );
    batch.truncate(BATCH_HEADER_BYTES);
    batch.extend_from_slice(region);
    let length = (batch.len() - LOG_OVERHEAD_BYTES) as i32;
    put_i32(&mut batch, BATCH_LENGTH_OFFSET, length);
    put_i32(&mut batch, RECORDS_COUNT_OFFSET, count);
    put_i32(&mut batch, LAST_OFFSET_DELTA_OFFSET, last_offset_delta);
    reseal(&mut batch);
    batch
}

/// The smallest valid record with the given offset delta: no key, no value, no headers.
fn empty_record(offset_delta: u8) -> [u8; 7] {
    [0x0c, 0x00, 0x00, offset_delta * 2, 0x01, 0x01, 0x00]
}

fn malformed(index: usize, reason: &'static str) -> Result<BatchHeader, BatchError> {
    Err(BatchError::MalformedRecord { index, reason })
}

#[test]
fn valid_batch_passes_and_yields_its_records() {
    let batch = sample_batch();
    let header = validate_batch(&batch, &LIMITS).unwrap();
    assert_eq!(header.total_bytes(), batch.len());
    let views: Vec<_> = records(&batch).unwrap().map(Result::unwrap).collect();
    assert_eq!(views.len(), 3);
    for (i, (view, record)) in views.iter().zip(sample_records()).enumerate() {
        assert_eq!(view.offset, 100 + i as i64);
        assert_eq!(view.timestamp_ms, record.timestamp_ms);
        assert_eq!(view.key, record.key);
        assert_eq!(view.value, record.value);
        assert_eq!(view.header_count(), record.headers.len());
        let headers: Vec<_> = view.headers().map(Result::unwrap).collect();
        let expected: Vec<_> = record
            .headers
            .iter()
            .map(|h| HeaderView {
                key: h.key,
                value: h.value,
            })
            .collect();
        assert_eq!(headers, expected);
    }
}

#[test]
fn bytes_after_the_batch_are_ignored() {
    let mut bytes = sample_batch();
    let len = bytes.len();
    bytes.extend_from_slice(&[0xff; 40]);
    let header = validate_batch(&bytes, &LIMITS).unwrap();
    assert_eq!(header.total_bytes(), len);
    assert_eq!(records(&bytes).unwrap().count(), 3);
}

#[test]
fn truncated_at_every_length() {
    let batch = sample_batch();
    for len in 0..batch.len() {
        let needed = if len < LOG_OVERHEAD_BYTES {
            LOG_OVERHEAD_BYTES
        } else {
            batch.len()
        };
        let expected = Err(BatchError::Truncated {
            needed,
            available: len,
        });
        assert_eq!(
            validate_batch(&batch[..len], &LIMITS),
            expected,
            "len {len}"
        );
        assert_eq!(records(&batch[..len]).map(|_| ()), expected.map(|_| ()));
    }
}

#[test]
fn bad_magic_is_rejected_before_the_crc() {
    let mut batch = sample_batch();
    batch[MAGIC_OFFSET] = 1;
    assert_eq!(
        validate_batch(&batch, &LIMITS),
        Err(BatchError::BadMagic { magic: 1 })
    );
    assert_eq!(
        peek_batch_bytes(&batch[..17], 1 << 20),
        Err(BatchError::BadMagic { magic: 1 })
    );
    assert!(
        peek_batch_bytes(&batch[..16], 1 << 20).is_ok(),
        "magic unseen"
    );
    assert!(matches!(
        records(&batch),
        Err(BatchError::BadMagic { magic: 1 })
    ));
}

#[test]
fn every_bit_flip_in_crc_covered_bytes_is_caught() {
    let batch = sample_batch();
    for at in CRC_OFFSET..batch.len() {
        for bit in 0..8 {
            let mut bad = batch.clone();
            bad[at] ^= 1 << bit;
            assert!(
                matches!(
                    validate_batch(&bad, &LIMITS),
                    Err(BatchError::CrcMismatch { .. })
                ),
                "flip of bit {bit} at byte {at}"
            );
        }
    }
}

#[test]
fn crc_mismatch_reports_both_values() {
    let mut batch = sample_batch();
    let stored = BatchHeader::parse(&batch).unwrap().crc;
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&0x1234_abcd_u32.to_be_bytes());
    let error = validate_batch(&batch, &LIMITS).unwrap_err();
    assert_eq!(
        error,
        BatchError::CrcMismatch {
            stored: 0x1234_abcd,
            computed: stored
        }
    );
    assert_eq!(
        error.to_string(),
        format!("CRC-32C mismatch: header says 0x1234abcd, bytes give {stored:#010x}")
    );
}

#[test]
fn lying_lengths_are_rejected() {
    let batch = sample_batch();
    let max = 1 << 20;
    for length in [
        i32::MIN,
        -1,
        0,
        MIN_BATCH_LENGTH - 1,
        i32::MAX,
        (max - 11) as i32,
    ] {
        let mut bad = batch.clone();
        put_i32(&mut bad, BATCH_LENGTH_OFFSET, length);
        let expected = Err(BatchError::LengthOutOfRange {
            length: i64::from(length),
            min: 49,
            max: (max - 12) as i64,
        });
        assert_eq!(validate_batch(&bad, &LIMITS), expected.clone(), "{length}");
        assert_eq!(peek_batch_bytes(&bad, max), expected.map(|_| 0));
    }
    // Within the limit but beyond the bytes: truncated, whatever the limit.
    let mut long = batch.clone();
    put_i32(&mut long, BATCH_LENGTH_OFFSET, i32::MAX);
    let unlimited = BatchLimits {
        max_batch_bytes: usize::MAX,
        ..LIMITS
    };
    assert_eq!(
        validate_batch(&long, &unlimited),
        Err(BatchError::Truncated {
            needed: i32::MAX as usize + 12,
            available: batch.len()
        })
    );
    assert!(matches!(records(&long), Err(BatchError::Truncated { .. })));
}

#[test]
fn shorter_length_fails_the_crc_and_then_the_records() {
    let batch = sample_batch();
    let mut short = batch.clone();
    put_i32(&mut short, BATCH_LENGTH_OFFSET, (batch.len() - 13) as i32);
    assert!(matches!(
        validate_batch(&short, &LIMITS),
        Err(BatchError::CrcMismatch { .. })
    ));
    short.pop();
    reseal(&mut short);
    assert_eq!(
        validate_batch(&short, &LIMITS),
        malformed(2, "the record runs past the end of the batch")
    );
}

#[test]
fn batch_larger_than_the_limit_is_rejected() {
    let batch = sample_batch();
    let limits = BatchLimits {
        max_batch_bytes: batch.len() - 1,
        ..LIMITS
    };
    assert!(matches!(
        validate_batch(&batch, &limits),
        Err(BatchError::LengthOutOfRange { .. })
    ));
    assert_eq!(peek_batch_bytes(&batch, batch.len()), Ok(batch.len()));
    assert_eq!(
        peek_batch_bytes(&batch[..11], batch.len()),
        Err(BatchError::Truncated {
            needed: 12,
            available: 11
        })
    );
}

#[test]
fn negative_record_count_is_rejected() {
    let mut batch = sample_batch();
    put_i32(&mut batch, RECORDS_COUNT_OFFSET, -3);
    reseal(&mut batch);
    let expected = BatchError::NegativeRecordCount { count: -3 };
    assert_eq!(validate_batch(&batch, &LIMITS), Err(expected.clone()));
    assert_eq!(records(&batch).map(|_| ()), Err(expected));
}

#[test]
fn record_count_must_match_the_records_present() {
    for (declared, found) in [(4, 3), (i32::MAX, 3), (2, 3), (0, 3)] {
        let mut batch = sample_batch();
        put_i32(&mut batch, RECORDS_COUNT_OFFSET, declared);
        reseal(&mut batch);
        assert_eq!(
            validate_batch(&batch, &LIMITS),
            Err(BatchError::RecordCountMismatch { declared, found }),
            "declared {declared}"
        );
    }
    let mut batch = sample_batch();
    put_i32(&mut batch, RECORDS_COUNT_OFFSET, 4);
    let items: Vec<_> = records(&batch).unwrap().collect();
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[3].clone().map(|_| ()),
        Err(BatchError::RecordCountMismatch {
            declared: 4,
            found: 3
        })
    );
}

#[test]
fn empty_batch_is_valid() {
    let batch = batch_with_region(&[], 0, 0);
    assert_eq!(batch.len(), BATCH_HEADER_BYTES);
    assert!(validate_batch(&batch, &LIMITS).is_ok());
    assert_eq!(records(&batch).unwrap().count(), 0);
}

#[test]
fn compressed_batch_is_rejected() {
    for codec in 1..=7_u8 {
        let mut batch = sample_batch();
        batch[ATTRIBUTES_OFFSET + 1] |= codec;
        reseal(&mut batch);
        let expected = BatchError::Compressed { codec };
        assert_eq!(validate_batch(&batch, &LIMITS), Err(expected.clone()));
        assert_eq!(records(&batch).map(|_| ()), Err(expected));
    }
}

#[test]
fn overflowing_varints_are_rejected_with_their_position() {
    // Record length of six bytes.
    let batch = batch_with_region(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 1, 0);
    assert_eq!(
        validate_batch(&batch, &LIMITS),
        Err(BatchError::VarintOverflow { position: 61 })
    );
    // Record length whose fifth byte carries bits beyond 32.
    let batch = batch_with_region(&[0xff, 0xff, 0xff, 0xff, 0x7f], 1, 0);
    assert_eq!(
        validate_batch(&batch, &LIMITS),
        Err(BatchError::VarintOverflow { position: 61 })
    );
    // Timestamp delta of eleven bytes inside a record of 16 bytes.
    let mut region = vec![0x20, 0x00];
    region.extend_from_slice(&[0x80; 10]);
    region.extend_from_slice(&[0x01, 0x00, 0x01, 0x01, 0x00]);
    let batch = batch_with_region(&region, 1, 0);
    assert_eq!(
        validate_batch(&batch, &LIMITS),
        Err(BatchError::VarintOverflow { position: 63 })
    );
    let first = records(&batch).unwrap().next().unwrap();
    assert_eq!(
        first.map(|_| ()),
        Err(BatchError::VarintOverflow { position: 63 })
    );
}

#[test]
fn malformed_records_are_rejected() {
    let cases: [(&[u8], &str); 9] = [
        (&[0x01], "the record length is negative"),
        (&[0x80], "the record length runs past the end of the batch"),
        (
            &[0x10, 0x00, 0x00],
            "the record runs past the end of the batch",
        ),
        (&[0x00], "the record is too short to hold its attributes"),
        (
            &[0x02, 0x00],
            "the timestamp delta runs past the end of the record",
        ),
        // key length 5 with one byte of key left
        (
            &[0x0e, 0x00, 0x00, 0x00, 0x0a, b'k', 0x01, 0x00],
            "the key runs past the end of the record",
        ),
        (
            &[0x0c, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00],
            "the key length is below -1",
        ),
        (
            &[0x0c, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01],
            "the header count is negative",
        ),
        (
            &[0x0e, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00],
            "the record has bytes after its last header",
        ),
    ];
    for (region, reason) in cases {
        let batch = batch_with_region(region, 1, 0);
        assert_eq!(
            validate_batch(&batch, &LIMITS),
            malformed(0, reason),
            "{region:x?}"
        );
    }
}

#[test]
fn malformed_headers_are_rejected() {
    let cases: [(&[u8], &str); 4] = [
        (&[0x01], "a header key length is negative"),
        (&[0x04, b'a'], "a header runs past the end of the record"),
        (&[0x02, 0xff, 0x01], "a header key is not UTF-8"),
        (&[0x02, b'a', 0x05], "a header value length is below -1"),
    ];
    for (header, reason) in cases {
        let mut region = vec![0, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02];
        region.extend_from_slice(header);
        region[0] = ((region.len() - 1) * 2) as u8;
        let batch = batch_with_region(&region, 1, 0);
        assert_eq!(
            validate_batch(&batch, &LIMITS),
            malformed(0, reason),
            "{header:x?}"
        );
    }
}

#[test]
fn offset_deltas_must_increase_and_end_at_last_offset_delta() {
    let region = [empty_record(0), empty_record(2)].concat();
    let batch = batch_with_region(&region, 2, 2);
    let relaxed = BatchLimits {
        require_contiguous_offsets: false,
        ..LIMITS
    };
    assert!(
        validate_batch(&batch, &relaxed).is_ok(),
        "a gap is fine after compaction"
    );
    assert_eq!(
        validate_batch(&batch, &LIMITS),
        Err(BatchError::OffsetDeltaMismatch {
            index: 1,
            expected: 1,
            found: 2
        })
    );
    let offsets: Vec<_> = records(&batch)
        .unwrap()
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(offsets, [0, 2]);

    let repeated = batch_with_region(&[empty_record(1), empty_record(1)].concat(), 2, 1);
    assert_eq!(
        validate_batch(&repeated, &relaxed),
        Err(BatchError::OffsetDeltaMismatch {
            index: 1,
            expected: 2,
            found: 1
        })
    );

    // A compacted batch whose last records were removed keeps its lastOffsetDelta: accepted
    // without contiguous offsets, refused with them.
    let compacted = batch_with_region(&[empty_record(0), empty_record(1)].concat(), 2, 5);
    assert!(validate_batch(&compacted, &relaxed).is_ok());
    let past_last = batch_with_region(&[empty_record(0), empty_record(6)].concat(), 2, 5);
    assert!(matches!(
        validate_batch(&past_last, &relaxed),
        Err(BatchError::OffsetDeltaMismatch { .. })
    ));

    let wrong_last = batch_with_region(&[empty_record(0), empty_record(1)].concat(), 2, 5);
    assert_eq!(
        validate_batch(&wrong_last, &LIMITS),
        Err(BatchError::OffsetDeltaMismatch {
            index: 1,
            expected: 5,
            found: 1
        })
    );
}

#[test]
fn set_base_offset_keeps_the_crc_valid() {
    let mut batch = sample_batch();
    let before = validate_batch(&batch, &LIMITS).unwrap();
    set_base_offset(&mut batch, 7_000_000_000);
    let after = validate_batch(&batch, &LIMITS).unwrap();
    assert_eq!(after.crc, before.crc);
    assert_eq!(after.base_offset, 7_000_000_000);
    assert_eq!(after.last_offset(), 7_000_000_002);
    let offsets: Vec<_> = records(&batch)
        .unwrap()
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(offsets, [7_000_000_000, 7_000_000_001, 7_000_000_002]);
}

#[test]
#[should_panic(expected = "baseOffset needs 8 bytes")]
fn set_base_offset_on_a_short_slice_panics() {
    set_base_offset(&mut [0; 7], 1);
}

#[test]
fn log_append_time_reports_max_timestamp() {
    let options = BatchOptions {
        timestamp_type: TimestampType::LogAppendTime,
        ..BatchOptions::default()
    };
    let batch = encode(0, &sample_records(), &options);
    validate_batch(&batch, &LIMITS).unwrap();
    let timestamps: Vec<_> = records(&batch)
        .unwrap()
        .map(|r| r.unwrap().timestamp_ms)
        .collect();
    assert_eq!(timestamps, [1_500; 3]);
}

#[test]
fn iterating_damaged_bytes_never_panics() {
    let batch = sample_batch();
    for at in BATCH_HEADER_BYTES..batch.len() {
        for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut bad = batch.clone();
            bad[at] = value;
            let _ = validate_batch(&bad, &LIMITS);
            for record in records(&bad).unwrap() {
                let Ok(record) = record else { break };
                for header in record.headers() {
                    let _ = header;
                }
            }
        }
    }
}

#[test]
fn error_messages_read_as_sentences() {
    let cases = [
        (
            BatchError::Truncated {
                needed: 61,
                available: 3,
            },
            "truncated: needed 61 bytes but only 3 are available",
        ),
        (
            BatchError::MalformedRecord {
                index: 4,
                reason: "the key length is below -1",
            },
            "record 4 of the batch is malformed: the key length is below -1",
        ),
        (
            BatchError::RecordCountMismatch {
                declared: 5,
                found: 3,
            },
            "header declares 5 records but the batch holds 3",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}

/// The sample batch with its header's timestamps replaced, resealed.
fn with_timestamps(base_timestamp: i64, max_timestamp: i64) -> Vec<u8> {
    let mut batch = sample_batch();
    batch[27..35].copy_from_slice(&base_timestamp.to_be_bytes());
    batch[35..43].copy_from_slice(&max_timestamp.to_be_bytes());
    reseal(&mut batch);
    batch
}

#[test]
fn producer_batches_from_the_encoder_pass_the_timestamp_rules() {
    let batch = sample_batch();
    let header = validate_producer_batch(&batch, 1 << 20).unwrap();
    assert_eq!(Ok(header), validate_batch(&batch, &LIMITS));
    assert_eq!(
        (header.base_timestamp, header.max_timestamp),
        (1_000, 1_500)
    );
    // Extreme timestamps wrap in the encoder, as in Java; a producer never sends them.
    let extremes = [i64::MIN, i64::MAX].map(|timestamp_ms| Record {
        key: None,
        value: None,
        timestamp_ms,
        headers: &[],
    });
    let wrapped = encode(0, &extremes, &BatchOptions::default());
    assert!(validate_batch(&wrapped, &LIMITS).is_ok());
    assert_eq!(
        validate_producer_batch(&wrapped, 1 << 20),
        Err(BatchError::TimestampOverflow {
            index: 1,
            base_timestamp: i64::MIN,
            delta: -1
        })
    );
}

#[test]
fn producer_batch_max_timestamp_must_be_the_largest_record_timestamp() {
    // The sample's records carry 1000, 900 and 1500 as deltas 0, -100 and 500 from 1000.
    let lying_max = with_timestamps(1_000, 1_400);
    assert!(
        validate_batch(&lying_max, &LIMITS).is_ok(),
        "stored batches are not held to it"
    );
    assert_eq!(
        validate_producer_batch(&lying_max, 1 << 20),
        Err(BatchError::MaxTimestampMismatch {
            declared: 1_400,
            found: 1_500
        })
    );
    assert_eq!(
        validate_producer_batch(&with_timestamps(1_000, 999), 1 << 20),
        Err(BatchError::MaxTimestampBeforeBase {
            base_timestamp: 1_000,
            max_timestamp: 999
        })
    );
    let overflowing = with_timestamps(i64::MAX - 100, i64::MAX);
    assert_eq!(
        validate_producer_batch(&overflowing, 1 << 20),
        Err(BatchError::TimestampOverflow {
            index: 2,
            base_timestamp: i64::MAX - 100,
            delta: 500
        })
    );
}

#[test]
fn producer_batch_must_not_claim_log_append_time() {
    let batch = encode(
        0,
        &sample_records(),
        &BatchOptions {
            timestamp_type: TimestampType::LogAppendTime,
            ..BatchOptions::default()
        },
    );
    assert!(validate_batch(&batch, &LIMITS).is_ok());
    assert_eq!(
        validate_producer_batch(&batch, 1 << 20),
        Err(BatchError::LogAppendTimeFromProducer)
    );
}

#[test]
fn empty_batch_last_offset_delta_is_at_least_minus_one() {
    for delta in [-1, 0, 7] {
        let batch = batch_with_region(&[], 0, delta);
        assert!(validate_batch(&batch, &LIMITS).is_ok(), "{delta}");
        assert!(
            validate_producer_batch(&batch, 1 << 20).is_ok(),
            "empty batches are refused by the log, not the codec"
        );
    }
    for delta in [-2, i32::MIN] {
        let batch = batch_with_region(&[], 0, delta);
        let expected = Err(BatchError::LastOffsetDeltaOutOfRange {
            last_offset_delta: delta,
        });
        assert_eq!(validate_batch(&batch, &LIMITS), expected);
        assert_eq!(validate_producer_batch(&batch, 1 << 20), expected);
    }
}

#[test]
fn last_offset_past_i64_max_is_rejected() {
    let mut batch = sample_batch();
    set_base_offset(&mut batch, i64::MAX - 1);
    assert_eq!(
        validate_batch(&batch, &LIMITS),
        Err(BatchError::LastOffsetOverflow {
            base_offset: i64::MAX - 1,
            last_offset_delta: 2
        })
    );
    set_base_offset(&mut batch, i64::MAX - 2);
    assert!(
        validate_batch(&batch, &LIMITS).is_ok(),
        "the last offset is i64::MAX"
    );
}

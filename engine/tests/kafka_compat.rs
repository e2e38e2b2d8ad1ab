//! Compatibility of ringlog's record-batch codec with an independent implementation of Kafka's
//! `RecordBatch` v2: the `kafka-protocol` crate. Batches go both ways: ringlog's bytes are
//! decoded by `kafka-protocol`, and `kafka-protocol`'s bytes are validated and iterated by
//! ringlog, with every offset, timestamp, key, value and header compared.
//!
//! `kafka-protocol` quirks the tests work around: it starts a new batch whenever
//! `offset - sequence` changes (so its records get `sequence = -1 + offset`), it uses the
//! smallest timestamp as `baseTimestamp` (Kafka uses the first record's; both are valid for
//! readers), it never sets the log-append-time bit itself, and its headers are a map, so
//! duplicate keys would collapse (tests use distinct keys).

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    self as kafka, Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use ringlog::record::{
    BatchLimits, BatchOptions, Header, Record, TimestampType, encode_batch, encoded_batch_bytes,
    peek_batch_bytes, records, set_base_offset, validate_batch,
};

/// A record as both codecs see it, for comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plain {
    offset: i64,
    timestamp_ms: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

const LIMITS: BatchLimits = BatchLimits {
    max_batch_bytes: 8 << 20,
    require_contiguous_offsets: true,
};

/// Records covering the awkward cases: null and empty keys and values, null header values,
/// no headers, and timestamps that go backwards from the first record.
fn awkward_records(first_offset: i64) -> Vec<Plain> {
    let bytes = |b: &[u8]| Some(b.to_vec());
    let header = |key: &str, value: Option<Vec<u8>>| (key.to_owned(), value);
    let row = |key, value, timestamp_ms, headers| Plain {
        offset: 0,
        timestamp_ms,
        key,
        value,
        headers,
    };
    let mut rows = vec![
        row(
            bytes(b"user-1"),
            bytes(b"{\"a\":1}"),
            1_700_000_000_500,
            vec![header("trace", bytes(b"t1"))],
        ),
        row(None, bytes(b"no key"), 1_700_000_000_000, vec![]),
        row(
            bytes(b"tombstone"),
            None,
            1_700_000_001_000,
            vec![header("why", None)],
        ),
        row(
            bytes(b""),
            bytes(b""),
            1_699_999_999_000,
            vec![header("", bytes(b"")), header("z", None)],
        ),
        row(None, None, 1_700_000_000_500, vec![]),
        row(
            bytes(&[0, 255, 7]),
            bytes(&[1; 3000]),
            1_700_000_000_501,
            vec![header("\u{fc}ber", bytes(&[0xff]))],
        ),
    ];
    for (i, row) in rows.iter_mut().enumerate() {
        row.offset = first_offset + i as i64;
    }
    rows
}

/// Encodes `plain` with ringlog; offsets come from the first record's.
fn ringlog_encode(plain: &[Plain], options: &BatchOptions) -> Vec<u8> {
    let headers: Vec<Vec<Header<'_>>> = plain
        .iter()
        .map(|p| {
            p.headers
                .iter()
                .map(|(key, value)| Header {
                    key,
                    value: value.as_deref(),
                })
                .collect()
        })
        .collect();
    let input: Vec<Record<'_>> = plain
        .iter()
        .zip(&headers)
        .map(|(p, headers)| Record {
            key: p.key.as_deref(),
            value: p.value.as_deref(),
            timestamp_ms: p.timestamp_ms,
            headers,
        })
        .collect();
    let mut batch = vec![0; encoded_batch_bytes(&input).expect("records fit a batch")];
    encode_batch(&mut batch, plain[0].offset, &input, options).expect("destination is sized");
    batch
}

/// Reads every record of the batch at the start of `batch` with ringlog.
fn ringlog_read(batch: &[u8]) -> Vec<Plain> {
    records(batch)
        .expect("frame is valid")
        .map(|view| {
            let view = view.expect("record parses");
            Plain {
                offset: view.offset,
                timestamp_ms: view.timestamp_ms,
                key: view.key.map(<[u8]>::to_vec),
                value: view.value.map(<[u8]>::to_vec),
                headers: view
                    .headers()
                    .map(|h| {
                        let h = h.expect("header parses");
                        (h.key.to_owned(), h.value.map(<[u8]>::to_vec))
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Builds `kafka-protocol` records as a non-idempotent producer would send them.
fn kafka_records(plain: &[Plain]) -> Vec<kafka::Record> {
    plain
        .iter()
        .map(|p| kafka::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: kafka::TimestampType::Creation,
            offset: p.offset,
            // Keeps `offset - sequence` constant, so that all records land in one batch.
            sequence: (p.offset - 1) as i32,
            timestamp: p.timestamp_ms,
            key: p.key.clone().map(Bytes::from),
            value: p.value.clone().map(Bytes::from),
            headers: p
                .headers
                .iter()
                .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone().map(Bytes::from)))
                .collect::<IndexMap<_, _>>(),
        })
        .collect()
}

fn kafka_encode(plain: &[Plain]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &kafka_records(plain), &options)
        .expect("kafka-protocol encodes");
    buf.to_vec()
}

fn from_kafka(record: &kafka::Record) -> Plain {
    Plain {
        offset: record.offset,
        timestamp_ms: record.timestamp,
        key: record.key.as_ref().map(|b| b.to_vec()),
        value: record.value.as_ref().map(|b| b.to_vec()),
        headers: record
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_ref().map(|b| b.to_vec())))
            .collect(),
    }
}

/// Decodes all batches in `bytes` with `kafka-protocol`; returns each batch's records.
fn kafka_decode(bytes: &[u8]) -> Vec<Vec<kafka::Record>> {
    let mut buf = Bytes::copy_from_slice(bytes);
    RecordBatchDecoder::decode_all(&mut buf)
        .expect("kafka-protocol decodes")
        .into_iter()
        .map(|set| {
            assert_eq!(set.version, 2);
            assert_eq!(set.compression, Compression::None);
            set.records
        })
        .collect()
}

#[test]
fn ringlog_batch_decodes_in_kafka_protocol() {
    let plain = awkward_records(1_000);
    let batch = ringlog_encode(&plain, &BatchOptions::default());
    let sets = kafka_decode(&batch);
    assert_eq!(sets.len(), 1, "one batch");
    let decoded: Vec<Plain> = sets[0].iter().map(from_kafka).collect();
    assert_eq!(decoded, plain);
    for (i, record) in sets[0].iter().enumerate() {
        assert_eq!(record.timestamp_type, kafka::TimestampType::Creation);
        assert_eq!((record.producer_id, record.producer_epoch), (-1, -1));
        assert_eq!(record.partition_leader_epoch, -1);
        assert!(!record.transactional && !record.control);
        assert_eq!(record.sequence, -1 + i as i32);
    }
}

#[test]
fn kafka_protocol_batch_passes_validation_and_reads_back() {
    let plain = awkward_records(0);
    let batch = kafka_encode(&plain);
    let header = validate_batch(&batch, &LIMITS).expect("kafka-protocol batch is valid");
    assert_eq!(header.total_bytes(), batch.len());
    assert_eq!(
        peek_batch_bytes(&batch, LIMITS.max_batch_bytes),
        Ok(batch.len())
    );
    assert_eq!(header.records_count, plain.len() as i32);
    assert_eq!(header.last_offset(), plain.len() as i64 - 1);
    let timestamps = plain.iter().map(|p| p.timestamp_ms);
    assert_eq!(header.base_timestamp, timestamps.clone().min().unwrap());
    assert_eq!(header.max_timestamp, timestamps.max().unwrap());
    assert_eq!(header.timestamp_type(), TimestampType::CreateTime);
    assert_eq!(ringlog_read(&batch), plain);
}

#[test]
fn consecutive_ringlog_batches_decode_as_a_log() {
    let first = awkward_records(0);
    let second = awkward_records(first.len() as i64);
    let mut log = ringlog_encode(&first, &BatchOptions::default());
    let first_len = log.len();
    log.extend(ringlog_encode(&second, &BatchOptions::default()));
    let sets = kafka_decode(&log);
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[1].iter().map(from_kafka).collect::<Vec<_>>(), second);
    assert_eq!(
        peek_batch_bytes(&log, LIMITS.max_batch_bytes),
        Ok(first_len)
    );
    assert!(validate_batch(&log[first_len..], &LIMITS).is_ok());
}

#[test]
fn reassigned_base_offset_is_seen_by_kafka_protocol() {
    let plain = awkward_records(0);
    let mut batch = ringlog_encode(&plain, &BatchOptions::default());
    set_base_offset(&mut batch, 5_000_000_000);
    let offsets: Vec<i64> = kafka_decode(&batch)[0].iter().map(|r| r.offset).collect();
    let expected: Vec<i64> = (0..plain.len() as i64).map(|i| 5_000_000_000 + i).collect();
    assert_eq!(
        offsets, expected,
        "kafka-protocol checks the CRC, so it still holds"
    );
}

#[test]
fn batch_options_reach_kafka_protocol() {
    let plain = awkward_records(10);
    let options = BatchOptions {
        producer_id: 4_242,
        producer_epoch: 7,
        base_sequence: 100,
        partition_leader_epoch: 3,
        timestamp_type: TimestampType::LogAppendTime,
    };
    let batch = ringlog_encode(&plain, &options);
    let records = &kafka_decode(&batch)[0];
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.timestamp_type, kafka::TimestampType::LogAppend);
        assert_eq!((record.producer_id, record.producer_epoch), (4_242, 7));
        assert_eq!(record.partition_leader_epoch, 3);
        assert_eq!(record.sequence, 100 + i as i32);
    }
}

/// A batch the cleaner stamped with a delete horizon (KIP-534), as Kafka's own reader sees it:
/// attribute bit 6 (`DELETE_HORIZON_FLAG_MASK`, 0x40) set, `baseTimestamp` (which Kafka's
/// `DefaultRecordBatch.deleteHorizonMs()` reads) the horizon, and every record with its
/// original offset and timestamp, since the deltas were rewritten against the new base.
/// `kafka-protocol` checks the CRC and computes each timestamp as base plus delta.
#[test]
fn a_batch_stamped_with_a_delete_horizon_decodes_in_kafka_protocol() {
    use ringlog::compaction::filter::{HorizonStamp, filter_batch};
    use ringlog::record::RecordView;

    let plain = awkward_records(2_000);
    let batch = ringlog_encode(&plain, &BatchOptions::default());
    // Drop one record, keep the tombstone: the batch gets the horizon.
    let dropped = 1;
    let horizon = 1_700_000_000_000 + 86_400_000;
    let stamp = HorizonStamp {
        delete_horizon_ms: horizon,
        max_batch_bytes: LIMITS.max_batch_bytes,
    };
    let mut stamped = Vec::new();
    let mut index = 0;
    let outcome = filter_batch(
        &batch,
        &mut |_: &RecordView<'_>| {
            index += 1;
            index - 1 != dropped
        },
        Some(&stamp),
        &mut stamped,
    )
    .expect("the batch filters");
    assert!(outcome.horizon_stamped && outcome.tombstones_kept > 0);
    assert_eq!(
        stamped[21..23],
        [0x00, 0x40],
        "attributes: only the horizon bit"
    );
    assert_eq!(stamped[27..35], horizon.to_be_bytes(), "baseTimestamp");
    assert_eq!(
        stamped[35..43],
        batch[35..43],
        "maxTimestamp is the producer's, untouched"
    );

    let sets = kafka_decode(&stamped);
    assert_eq!(sets.len(), 1, "one batch");
    let decoded: Vec<Plain> = sets[0].iter().map(from_kafka).collect();
    let mut expected = plain.clone();
    expected.remove(dropped);
    assert_eq!(
        decoded, expected,
        "offsets, timestamps and contents unchanged"
    );
    assert!(sets[0].iter().all(|r| r.delete_horizon));
    assert_eq!(ringlog_read(&stamped), expected);
}

fn arbitrary_plain() -> impl Strategy<Value = Vec<Plain>> {
    let bytes = |max| proptest::option::of(vec(any::<u8>(), 0..=max));
    let record = (
        bytes(2048),
        bytes(2048),
        1_500_000_000_000_i64..1_900_000_000_000,
        btree_map(".{0,10}", bytes(32), 0..4),
    );
    vec(record, 1..10).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (key, value, timestamp_ms, headers))| Plain {
                offset: i as i64,
                timestamp_ms,
                key,
                value,
                headers: headers.into_iter().collect(),
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_records_cross_both_ways(plain in arbitrary_plain()) {
        let ours = ringlog_encode(&plain, &BatchOptions::default());
        let sets = kafka_decode(&ours);
        prop_assert_eq!(sets.len(), 1);
        prop_assert_eq!(sets[0].iter().map(from_kafka).collect::<Vec<_>>(), plain.clone());

        let theirs = kafka_encode(&plain);
        prop_assert!(validate_batch(&theirs, &LIMITS).is_ok());
        prop_assert_eq!(ringlog_read(&theirs), plain);
    }
}

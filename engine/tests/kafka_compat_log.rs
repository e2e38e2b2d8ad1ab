//! A log's segment file is Kafka's: the bytes `Log::append` leaves in the `.log` file decode
//! with the independent `kafka-protocol` crate, and a batch `kafka-protocol` encodes is
//! accepted by `Log::append_batch`, gets the log's offsets, reads back unchanged, and still
//! decodes with `kafka-protocol` from the file (its CRC survives the base-offset rewrite).
//! Runs on every I/O path.
//!
//! `kafka-protocol` quirks (see `kafka_compat.rs`): records need `sequence = offset - 1` to
//! share one batch, and headers are a map, so keys are distinct.

mod common;

use std::fs;

use bytes::{Bytes, BytesMut};
use common::{Expected, append_rows, config, for_each_io_mode, log_file, open_log, read_all};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    self as kafka, Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};
use ringlog::IoMode;
use ringlog::record::{BatchLimits, validate_batch};

/// Records with null and empty keys and values, null header values and timestamps that go
/// backwards, numbered from `first_offset`.
fn awkward_rows(first_offset: u64) -> Vec<Expected> {
    let header = |k: &str, v: Option<&[u8]>| (k.to_owned(), v.map(<[u8]>::to_vec));
    let rows = [
        (
            Some(&b"user-1"[..]),
            Some(&b"{\"a\":1}"[..]),
            1_700_000_000_500,
            vec![header("trace", Some(b"t1")), header("span", None)],
        ),
        (None, Some(&b"no key"[..]), 1_700_000_000_000, vec![]),
        (
            Some(&b"tombstone"[..]),
            None,
            1_700_000_001_000,
            vec![header("why", None)],
        ),
        (
            Some(&b""[..]),
            Some(&b""[..]),
            1_699_999_999_000,
            vec![header("", Some(b""))],
        ),
        (None, None, 1_700_000_000_500, vec![]),
    ];
    rows.into_iter()
        .enumerate()
        .map(|(i, (key, value, timestamp_ms, headers))| Expected {
            offset: first_offset + i as u64,
            timestamp_ms,
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            headers,
        })
        .collect()
}

fn from_kafka(record: &kafka::Record) -> Expected {
    Expected {
        offset: u64::try_from(record.offset).expect("offsets are not negative"),
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

/// Every record of every batch in `bytes`, decoded by `kafka-protocol`.
fn kafka_decode_all(bytes: &[u8]) -> Vec<Expected> {
    let mut buf = Bytes::copy_from_slice(bytes);
    RecordBatchDecoder::decode_all(&mut buf)
        .expect("kafka-protocol decodes the segment file")
        .iter()
        .flat_map(|set| {
            assert_eq!(set.version, 2);
            assert_eq!(set.compression, Compression::None);
            set.records.iter().map(from_kafka)
        })
        .collect()
}

/// One batch of `rows` encoded by `kafka-protocol`, as a non-idempotent producer sends it.
fn kafka_encode(rows: &[Expected]) -> Vec<u8> {
    let records: Vec<kafka::Record> = rows
        .iter()
        .map(|r| kafka::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: kafka::TimestampType::Creation,
            offset: r.offset as i64,
            // Keeps `offset - sequence` constant so that every record lands in one batch.
            sequence: r.offset as i32 - 1,
            timestamp: r.timestamp_ms,
            key: r.key.clone().map(Bytes::from),
            value: r.value.clone().map(Bytes::from),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone().map(Bytes::from)))
                .collect::<IndexMap<_, _>>(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &records, &options).expect("kafka-protocol encodes");
    buf.to_vec()
}

fn renumber(rows: &[Expected], first_offset: u64) -> Vec<Expected> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| Expected {
            offset: first_offset + i as u64,
            ..r.clone()
        })
        .collect()
}

#[test]
fn segment_file_written_by_append_decodes_with_kafka_protocol() {
    for_each_io_mode(appended_segment_decodes);
}

fn appended_segment_decodes(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    {
        let log = open_log(dir.path(), config(io_mode));
        for _ in 0..4 {
            let rows = awkward_rows(log.next_offset());
            append_rows(&log, &rows);
            expected.extend(rows);
        }
        log.close().unwrap();
    }
    let file = fs::read(log_file(dir.path(), 0)).unwrap();
    assert_eq!(kafka_decode_all(&file), expected);
}

#[test]
fn kafka_protocol_batch_appends_with_the_logs_offsets() {
    for_each_io_mode(kafka_batch_gets_the_logs_offsets);
}

fn kafka_batch_gets_the_logs_offsets(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), config(io_mode));
    let mut expected = awkward_rows(0);
    append_rows(&log, &expected);
    let first_kafka_offset = log.next_offset();

    // The producer numbers its batch from 0; the log must rewrite that to its own offsets.
    let produced = awkward_rows(0);
    let wire = kafka_encode(&produced);
    let limits = BatchLimits {
        max_batch_bytes: log.config().max_batch_bytes,
        require_contiguous_offsets: true,
    };
    validate_batch(&wire, &limits).expect("kafka-protocol's batch is valid");
    let info = log.append_batch(&wire).unwrap();
    assert_eq!(info.base_offset, first_kafka_offset);
    assert_eq!(
        info.last_offset,
        first_kafka_offset + produced.len() as u64 - 1
    );
    expected.extend(renumber(&produced, first_kafka_offset));
    let second = kafka_encode(&produced);
    let info = log.append_batch(&second).unwrap();
    expected.extend(renumber(&produced, info.base_offset));

    assert_eq!(read_all(&log), expected, "read before close");
    let fetched = log.fetch(first_kafka_offset, 1 << 20).unwrap();
    assert_eq!(
        fetched.bytes.len(),
        2 * wire.len(),
        "the stored batch is as long as the wire batch"
    );
    assert_eq!(
        &fetched.bytes[8..wire.len()],
        &wire[8..],
        "only the base offset is rewritten"
    );
    log.close().unwrap();
    drop(log);

    let file = fs::read(log_file(dir.path(), 0)).unwrap();
    assert_eq!(
        kafka_decode_all(&file),
        expected,
        "kafka-protocol checks the CRC of each stored batch"
    );
    let log = open_log(dir.path(), config(io_mode));
    assert_eq!(read_all(&log), expected, "read after reopening");
}

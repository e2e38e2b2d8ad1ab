//! Hostile wire batches given to `Log::append_batch`: lengths, counts, varints, record fields
//! and timestamps that lie, up to `i32::MAX`. Each is refused with the `BatchError` (or
//! `AppendError`) naming the field, before anything is written: the log's offset and size do
//! not move, the next valid append gets the next offset, and after a reopen the segment holds
//! only the valid batches. No allocation is sized from a number in the batch: refusing one
//! allocates (almost) nothing, counted per thread by `ringlog_sys::alloc_count`.
//! `engine/tests/bad_input.rs` covers the plainer faults (one bad magic, one flipped CRC bit,
//! a length past the buffer, trailing bytes, a compressed or empty batch); the cases here are
//! the ones it does not. Runs on every I/O path.

mod common;

use common::{Expected, append_rows, batch_spans, for_each_io_mode, log_file, open_log, read_all};
use ringlog::record::format::{
    ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, BatchHeader, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET,
    MAGIC_OFFSET, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
    RECORDS_COUNT_OFFSET, TIMESTAMP_TYPE_BIT, batch_crc,
};
use ringlog::record::varint::{write_varint, write_varlong};
use ringlog::record::{
    BATCH_HEADER_BYTES, BatchError, BatchOptions, LOG_OVERHEAD_BYTES, MAGIC_V2, Record,
    encode_batch, encoded_batch_bytes, records, validate_producer_batch,
};
use ringlog::{AppendError, Config, Durability, IoMode};
use ringlog_sys::alloc_count::{CountingAllocator, thread_allocated_bytes, thread_allocations};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const MAX_BATCH_BYTES: usize = 16 * 1024;
/// Most bytes refusing one hostile batch may allocate: far below any size a lying field names.
const REFUSAL_ALLOCATED_BYTES_MAX: u64 = 64 * 1024;
const BASE_TIMESTAMP_MS: i64 = 1_700_000_000_000;

fn config(io_mode: IoMode) -> Config {
    Config {
        durability: Durability::Write,
        max_batch_bytes: MAX_BATCH_BYTES,
        flush_interval_ms: None,
        ..common::config(io_mode)
    }
}

/// A batch assembled field by field around a records region, with a correct `batchLength`
/// and CRC unless a case breaks them on purpose afterwards.
struct RawBatch {
    header: BatchHeader,
    region: Vec<u8>,
}

impl RawBatch {
    /// A producer's header for `records_count` records with contiguous deltas.
    fn new(records_count: i32, region: Vec<u8>) -> RawBatch {
        RawBatch {
            header: BatchHeader {
                base_offset: 0,
                batch_length: 0,
                partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
                magic: MAGIC_V2,
                crc: 0,
                attributes: 0,
                last_offset_delta: records_count - 1,
                base_timestamp: BASE_TIMESTAMP_MS,
                max_timestamp: BASE_TIMESTAMP_MS,
                producer_id: NO_PRODUCER_ID,
                producer_epoch: NO_PRODUCER_EPOCH,
                base_sequence: NO_SEQUENCE,
                records_count,
            },
            region,
        }
    }

    /// The batch's bytes, `batchLength` and CRC computed.
    fn seal(mut self) -> Vec<u8> {
        let total = BATCH_HEADER_BYTES + self.region.len();
        self.header.batch_length = (total - LOG_OVERHEAD_BYTES) as i32;
        let mut bytes = vec![0; BATCH_HEADER_BYTES];
        self.header.write(&mut bytes);
        bytes.extend_from_slice(&self.region);
        fix_crc(&mut bytes);
        bytes
    }
}

/// One record's bytes, each field written as given, so that any of them can lie.
#[derive(Clone)]
struct RawRecord {
    /// `None`: the true length of what follows.
    length: Option<i32>,
    timestamp_delta: i64,
    offset_delta: i32,
    key: (i32, Vec<u8>),
    value: (i32, Vec<u8>),
    header_count: i32,
    headers: Vec<u8>,
}

impl RawRecord {
    fn plain(offset_delta: i32, timestamp_delta: i64) -> RawRecord {
        RawRecord {
            length: None,
            timestamp_delta,
            offset_delta,
            key: (1, b"k".to_vec()),
            value: (3, b"val".to_vec()),
            header_count: 0,
            headers: Vec::new(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut body = vec![0_u8]; // attributes
        put_varlong(&mut body, self.timestamp_delta);
        put_varint(&mut body, self.offset_delta);
        put_varint(&mut body, self.key.0);
        body.extend_from_slice(&self.key.1);
        put_varint(&mut body, self.value.0);
        body.extend_from_slice(&self.value.1);
        put_varint(&mut body, self.header_count);
        body.extend_from_slice(&self.headers);
        let mut out = Vec::new();
        put_varint(
            &mut out,
            self.length.unwrap_or(i32::try_from(body.len()).unwrap()),
        );
        out.extend_from_slice(&body);
        out
    }
}

fn put_varint(out: &mut Vec<u8>, value: i32) {
    let mut buf = [0; 5];
    let mut pos = 0;
    write_varint(&mut buf, &mut pos, value).unwrap();
    out.extend_from_slice(&buf[..pos]);
}

fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut buf = [0; 10];
    let mut pos = 0;
    write_varlong(&mut buf, &mut pos, value).unwrap();
    out.extend_from_slice(&buf[..pos]);
}

/// A sealed batch of the given records, numbered 0.. as a producer numbers them, with
/// `maxTimestamp` the largest record timestamp.
fn batch_of(records: &[RawRecord]) -> Vec<u8> {
    let mut batch = RawBatch::new(
        records.len() as i32,
        records.iter().flat_map(RawRecord::bytes).collect(),
    );
    batch.header.max_timestamp = records
        .iter()
        .map(|r| BASE_TIMESTAMP_MS.wrapping_add(r.timestamp_delta))
        .max()
        .unwrap();
    batch.seal()
}

/// A sealed one-record batch whose records region is exactly `region`.
fn batch_with_region(region: Vec<u8>) -> Vec<u8> {
    RawBatch::new(1, region).seal()
}

fn set_i32(batch: &mut [u8], at: usize, value: i32) {
    batch[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// Recomputes the CRC after an edit, so that only the intended fault remains.
fn fix_crc(batch: &mut [u8]) {
    let crc = batch_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// A valid batch of `count` records of the shape the log's readers expect back.
fn good_batch(count: usize) -> Vec<u8> {
    let records: Vec<Record<'_>> = (0..count)
        .map(|i| Record {
            key: Some(b"good"),
            value: Some(b"value"),
            timestamp_ms: BASE_TIMESTAMP_MS + i as i64,
            headers: &[],
        })
        .collect();
    let mut batch = vec![0; encoded_batch_bytes(&records).unwrap()];
    encode_batch(&mut batch, 0, &records, &BatchOptions::default()).unwrap();
    batch
}

fn good_rows(first_offset: u64, count: usize) -> Vec<Expected> {
    (0..count)
        .map(|i| Expected {
            offset: first_offset + i as u64,
            timestamp_ms: BASE_TIMESTAMP_MS + i as i64,
            key: Some(b"good".to_vec()),
            value: Some(b"value".to_vec()),
            headers: Vec::new(),
        })
        .collect()
}

/// A hostile batch: its name, its bytes, the error it must get, and a phrase its message must
/// contain (compared in lower case).
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    expected: fn(&AppendError) -> bool,
    phrase: &'static str,
}

fn case(
    name: &'static str,
    bytes: Vec<u8>,
    expected: fn(&AppendError) -> bool,
    phrase: &'static str,
) -> Case {
    Case {
        name,
        bytes,
        expected,
        phrase,
    }
}

fn invalid(error: &AppendError) -> Option<&BatchError> {
    match error {
        AppendError::InvalidBatch(e) => Some(e),
        _ => None,
    }
}

/// Lying `batchLength`.
fn length_cases() -> Vec<Case> {
    let good = good_batch(3);
    let mut cases = Vec::new();

    // i32::MAX bytes announced, 61 + 3 records present: refused on the length alone.
    let mut huge = good.clone();
    set_i32(&mut huge, BATCH_LENGTH_OFFSET, i32::MAX);
    cases.push(case(
        "batchLength i32::MAX with a few hundred bytes present",
        huge,
        |e| {
            matches!(invalid(e), Some(BatchError::LengthOutOfRange { length, max, .. })
                if *length == i64::from(i32::MAX) && *max == (MAX_BATCH_BYTES - 12) as i64)
        },
        "batch length 2147483647 is out of range",
    ));
    let mut header_only = good[..LOG_OVERHEAD_BYTES].to_vec();
    set_i32(&mut header_only, BATCH_LENGTH_OFFSET, i32::MAX);
    cases.push(case(
        "batchLength i32::MAX and nothing but the length field",
        header_only,
        |e| matches!(invalid(e), Some(BatchError::LengthOutOfRange { .. })),
        "out of range",
    ));
    let mut min = good.clone();
    set_i32(&mut min, BATCH_LENGTH_OFFSET, i32::MIN);
    cases.push(case(
        "batchLength i32::MIN",
        min,
        |e| {
            matches!(invalid(e), Some(BatchError::LengthOutOfRange { length, .. })
                if *length == i64::from(i32::MIN))
        },
        "out of range",
    ));
    let mut below = good.clone();
    set_i32(&mut below, BATCH_LENGTH_OFFSET, 48);
    cases.push(case(
        "batchLength one below the smallest batch",
        below,
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::LengthOutOfRange {
                    length: 48,
                    min: 49,
                    ..
                })
            )
        },
        "must be between 49",
    ));

    cases
}

/// Lying `recordsCount` and `lastOffsetDelta`.
fn count_cases() -> Vec<Case> {
    let good = good_batch(3);
    let mut cases = Vec::new();
    for (name, count, phrase) in [
        ("recordsCount -1", -1, "record count -1 is negative"),
        (
            "recordsCount 2^31 (i32::MIN)",
            i32::MIN,
            "record count -2147483648 is negative",
        ),
    ] {
        let mut negative = good.clone();
        set_i32(&mut negative, RECORDS_COUNT_OFFSET, count);
        fix_crc(&mut negative);
        cases.push(case(
            name,
            negative,
            |e| matches!(invalid(e), Some(BatchError::NegativeRecordCount { .. })),
            phrase,
        ));
    }
    let mut max_count = good.clone();
    set_i32(&mut max_count, RECORDS_COUNT_OFFSET, i32::MAX);
    fix_crc(&mut max_count);
    cases.push(case(
        "recordsCount i32::MAX, three records present",
        max_count,
        |e| {
            matches!(invalid(e), Some(BatchError::RecordCountMismatch { declared, found: 3 })
                if *declared == i32::MAX)
        },
        "declares 2147483647 records but the batch holds 3",
    ));
    let mut fewer = good.clone();
    set_i32(&mut fewer, RECORDS_COUNT_OFFSET, 1);
    fix_crc(&mut fewer);
    cases.push(case(
        "recordsCount 1, three records present",
        fewer,
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::RecordCountMismatch {
                    declared: 1,
                    found: 3
                })
            )
        },
        "declares 1 records but the batch holds 3",
    ));

    let mut past_max = good.clone();
    past_max[..8].copy_from_slice(&i64::MAX.to_be_bytes());
    cases.push(case(
        "baseOffset i64::MAX, so the last offset is past it",
        past_max,
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::LastOffsetOverflow {
                    last_offset_delta: 2,
                    ..
                })
            )
        },
        "outside the offset range",
    ));
    let mut last_delta = good.clone();
    set_i32(&mut last_delta, LAST_OFFSET_DELTA_OFFSET, i32::MAX);
    fix_crc(&mut last_delta);
    cases.push(case(
        "lastOffsetDelta i32::MAX for three records",
        last_delta,
        |e| {
            matches!(invalid(e), Some(BatchError::OffsetDeltaMismatch { index: 2, expected, found: 2 })
                if *expected == i64::from(i32::MAX))
        },
        "offset delta 2, expected 2147483647",
    ));

    cases
}

/// Wrong magic, damaged CRC.
fn magic_and_crc_cases() -> Vec<Case> {
    let good = good_batch(3);
    let mut cases = Vec::new();
    for magic in [0_u8, 3, 0xff] {
        let mut wrong = good.clone();
        wrong[MAGIC_OFFSET] = magic;
        fix_crc(&mut wrong);
        cases.push(case(
            "magic other than 2 (0, 3, -1)",
            wrong,
            |e| matches!(invalid(e), Some(BatchError::BadMagic { .. })),
            "only record batch format v2",
        ));
    }

    let mut crc_field = good.clone();
    crc_field[CRC_OFFSET] ^= 0x80;
    cases.push(case(
        "CRC field itself damaged",
        crc_field,
        |e| matches!(invalid(e), Some(BatchError::CrcMismatch { .. })),
        "crc-32c mismatch",
    ));
    let mut header_edit = good;
    header_edit[ATTRIBUTES_OFFSET] ^= 0x40;
    cases.push(case(
        "CRC-covered header field changed without a new CRC",
        header_edit,
        |e| matches!(invalid(e), Some(BatchError::CrcMismatch { .. })),
        "crc-32c mismatch",
    ));
    cases
}

/// Varints too long or out of range.
fn varint_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.push(case(
        "record length varint of 6 bytes",
        batch_with_region(vec![0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::VarintOverflow { position: 61 })
            )
        },
        "varint at byte 61 overflows",
    ));
    cases.push(case(
        "record length varint of 5 bytes beyond 32 bits",
        batch_with_region(vec![0xff, 0xff, 0xff, 0xff, 0x7f]),
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::VarintOverflow { position: 61 })
            )
        },
        "overflows its type",
    ));
    // length 16, attributes, an 11-byte timestamp delta, then filler
    let mut long_delta = vec![0x20, 0x00];
    long_delta.extend_from_slice(&[0x80; 10]);
    long_delta.extend_from_slice(&[0x01, 0x00, 0x01, 0x01, 0x00]);
    cases.push(case(
        "timestamp delta varlong of 11 bytes",
        batch_with_region(long_delta),
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::VarintOverflow { position: 63 })
            )
        },
        "varint at byte 63 overflows",
    ));
    let mut wide_delta = vec![0x1e, 0x00];
    wide_delta.extend_from_slice(&[0xff; 9]);
    wide_delta.extend_from_slice(&[0x02, 0x00, 0x01, 0x01, 0x00]);
    cases.push(case(
        "timestamp delta varlong of 10 bytes beyond 64 bits",
        batch_with_region(wide_delta),
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::VarintOverflow { position: 63 })
            )
        },
        "overflows its type",
    ));

    cases
}

/// A record field edited to lie.
type FieldCase = (&'static str, fn(&mut RawRecord), &'static str);

/// Record lengths, key and value lengths, header counts and header lengths that lie.
fn record_field_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let field = |edit: fn(&mut RawRecord)| {
        let mut record = RawRecord::plain(0, 0);
        edit(&mut record);
        batch_with_region(record.bytes())
    };
    let malformed: [FieldCase; 10] = [
        (
            "record length -1",
            |r| r.length = Some(-1),
            "the record length is negative",
        ),
        (
            "record length i32::MIN",
            |r| r.length = Some(i32::MIN),
            "the record length is negative",
        ),
        (
            "record length i32::MAX",
            |r| r.length = Some(i32::MAX),
            "the record runs past the end of the batch",
        ),
        (
            "key length -2",
            |r| r.key.0 = -2,
            "the key length is below -1",
        ),
        (
            "key length i32::MAX",
            |r| r.key.0 = i32::MAX,
            "the key runs past the end of the record",
        ),
        (
            "value length i32::MIN",
            |r| r.value.0 = i32::MIN,
            "the value length is below -1",
        ),
        (
            "value length i32::MAX",
            |r| r.value.0 = i32::MAX,
            "the value runs past the end of the record",
        ),
        (
            "header count -1",
            |r| r.header_count = -1,
            "the header count is negative",
        ),
        (
            "header count i32::MAX with one header present",
            |r| {
                r.header_count = i32::MAX;
                r.headers = vec![0x02, b'h', 0x01];
            },
            "a header runs past the end of the record",
        ),
        (
            "header value length i32::MAX",
            |r| {
                r.header_count = 1;
                r.headers = vec![0x02, b'h', 0xfe, 0xff, 0xff, 0xff, 0x0f];
            },
            "a header runs past the end of the record",
        ),
    ];
    for (name, edit, reason) in malformed {
        let bytes = field(edit);
        let expected = |e: &AppendError| {
            matches!(
                invalid(e),
                Some(BatchError::MalformedRecord { index: 0, .. })
            )
        };
        cases.push(case(name, bytes, expected, reason));
    }
    cases.push(case(
        "header key length negative",
        field(|r| {
            r.header_count = 1;
            r.headers = vec![0x03, 0x01];
        }),
        |e| matches!(invalid(e), Some(BatchError::MalformedRecord { .. })),
        "a header key length is negative",
    ));
    cases.push(case(
        "offset deltas 0 then 2",
        batch_of(&[RawRecord::plain(0, 0), RawRecord::plain(2, 0)]),
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::OffsetDeltaMismatch {
                    index: 1,
                    expected: 1,
                    found: 2
                })
            )
        },
        "record 1 has offset delta 2, expected 1",
    ));
    cases
}

/// Timestamps that contradict each other or overflow.
fn timestamp_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let two = [RawRecord::plain(0, 0), RawRecord::plain(1, 50)];

    let mut below = RawBatch::new(1, RawRecord::plain(0, -100).bytes());
    below.header.max_timestamp = BASE_TIMESTAMP_MS - 100;
    cases.push(case(
        "maxTimestamp below baseTimestamp",
        below.seal(),
        |e| matches!(invalid(e), Some(BatchError::MaxTimestampBeforeBase { .. })),
        "is below basetimestamp",
    ));

    let mut high = RawBatch::new(2, two.iter().flat_map(RawRecord::bytes).collect());
    high.header.max_timestamp = i64::MAX;
    cases.push(case(
        "maxTimestamp i64::MAX, records up to base + 50",
        high.seal(),
        |e| {
            matches!(invalid(e), Some(BatchError::MaxTimestampMismatch { declared, found })
                if *declared == i64::MAX && *found == BASE_TIMESTAMP_MS + 50)
        },
        "is not the largest record timestamp",
    ));
    let mut low = RawBatch::new(2, two.iter().flat_map(RawRecord::bytes).collect());
    low.header.max_timestamp = BASE_TIMESTAMP_MS + 10;
    cases.push(case(
        "maxTimestamp below the last record's timestamp",
        low.seal(),
        |e| matches!(invalid(e), Some(BatchError::MaxTimestampMismatch { .. })),
        "is not the largest record timestamp",
    ));

    let mut overflow = RawBatch::new(
        2,
        [RawRecord::plain(0, 0), RawRecord::plain(1, i64::MAX)]
            .iter()
            .flat_map(RawRecord::bytes)
            .collect(),
    );
    overflow.header.max_timestamp = BASE_TIMESTAMP_MS.wrapping_add(i64::MAX);
    overflow.header.max_timestamp = overflow.header.max_timestamp.max(BASE_TIMESTAMP_MS);
    cases.push(case(
        "timestamp delta i64::MAX overflows from the base timestamp",
        overflow.seal(),
        |e| {
            matches!(invalid(e), Some(BatchError::TimestampOverflow { index: 1, delta, .. })
                if *delta == i64::MAX)
        },
        "overflows the timestamp range",
    ));
    let mut underflow = RawBatch::new(1, RawRecord::plain(0, i64::MIN).bytes());
    underflow.header.base_timestamp = -1;
    underflow.header.max_timestamp = i64::MAX;
    cases.push(case(
        "timestamp delta i64::MIN below base timestamp -1",
        underflow.seal(),
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::TimestampOverflow { index: 0, .. })
            )
        },
        "overflows the timestamp range",
    ));

    let mut append_time = RawBatch::new(1, RawRecord::plain(0, 0).bytes());
    append_time.header.attributes = TIMESTAMP_TYPE_BIT;
    append_time.header.max_timestamp = i64::MAX;
    cases.push(case(
        "LogAppendTime set by the producer, with maxTimestamp i64::MAX",
        append_time.seal(),
        |e| matches!(invalid(e), Some(BatchError::LogAppendTimeFromProducer)),
        "only a broker sets",
    ));

    let mut empty = RawBatch::new(0, Vec::new());
    empty.header.last_offset_delta = -5;
    cases.push(case(
        "empty batch with lastOffsetDelta -5",
        empty.seal(),
        |e| {
            matches!(
                invalid(e),
                Some(BatchError::LastOffsetDeltaOutOfRange {
                    last_offset_delta: -5
                })
            )
        },
        "lastoffsetdelta -5 of an empty batch is below -1",
    ));
    cases
}

/// Records beyond `max_batch_bytes`.
fn size_cases() -> Vec<Case> {
    let mut big = RawRecord::plain(0, 0);
    big.value = (MAX_BATCH_BYTES as i32, vec![9; MAX_BATCH_BYTES]);
    let whole = batch_with_region(big.bytes());
    let cut = whole[..MAX_BATCH_BYTES].to_vec();
    vec![
        case(
            "one record larger than max_batch_bytes",
            whole,
            |e| {
                matches!(
                    e,
                    AppendError::TooLarge {
                        max: MAX_BATCH_BYTES,
                        ..
                    }
                )
            },
            "exceeds max_batch_bytes",
        ),
        case(
            "record larger than max_batch_bytes, cut off at the limit",
            cut,
            |e| {
                matches!(invalid(e), Some(BatchError::LengthOutOfRange { max, .. })
                    if *max == (MAX_BATCH_BYTES - LOG_OVERHEAD_BYTES) as i64)
            },
            "out of range",
        ),
    ]
}

fn all_cases() -> Vec<Case> {
    let mut cases = length_cases();
    cases.extend(count_cases());
    cases.extend(magic_and_crc_cases());
    cases.extend(varint_cases());
    cases.extend(record_field_cases());
    cases.extend(timestamp_cases());
    cases.extend(size_cases());
    cases
}

#[test]
fn each_hostile_batch_is_refused_by_name_and_the_log_stays_usable() {
    for_each_io_mode(hostile_batches_are_refused);
}

fn hostile_batches_are_refused(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), config(io_mode));
    let mut expected = good_rows(0, 2);
    append_rows(&log, &expected);

    let mut failures = Vec::new();
    for Case {
        name,
        bytes,
        expected: is_expected,
        phrase,
    } in all_cases()
    {
        let (offset_before, size_before) = (log.next_offset(), log.size_bytes());
        let (count_before, bytes_before) = (thread_allocations(), thread_allocated_bytes());
        let result = log.append_batch(&bytes);
        let allocated = thread_allocated_bytes() - bytes_before;
        let allocations = thread_allocations() - count_before;
        match result {
            Ok(info) => failures.push(format!("{name}: accepted at offset {}", info.base_offset)),
            Err(error) => {
                let message = error.to_string();
                if !is_expected(&error) {
                    failures.push(format!("{name}: unexpected error {error:?} ({message})"));
                }
                if !message.to_lowercase().contains(&phrase.to_lowercase()) {
                    failures.push(format!("{name}: message {message:?} lacks {phrase:?}"));
                }
            }
        }
        if allocated >= REFUSAL_ALLOCATED_BYTES_MAX {
            failures.push(format!(
                "{name}: refusing it allocated {allocated} bytes in {allocations} allocations"
            ));
        }
        assert_eq!(log.next_offset(), offset_before, "{name}: the offset moved");
        assert_eq!(log.size_bytes(), size_before, "{name}: bytes were written");

        let info = log
            .append_batch(&good_batch(1))
            .expect("a valid batch after a refused one");
        assert_eq!(info.base_offset, offset_before, "{name}: the next offset");
        expected.extend(good_rows(offset_before, 1));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(read_all(&log), expected);
    log.close().unwrap();
    drop(log);

    // The segment holds exactly the valid batches: the initial one and one per case.
    let file = std::fs::read(log_file(dir.path(), 0)).unwrap();
    assert_eq!(batch_spans(&file).len(), 1 + all_cases().len());
    let log = open_log(dir.path(), config(io_mode));
    assert_eq!(read_all(&log), expected, "after reopening");
}

#[test]
fn decoding_hostile_batches_allocates_nothing_and_iteration_agrees() {
    for Case { name, bytes, .. } in all_cases() {
        let (count_before, bytes_before) = (thread_allocations(), thread_allocated_bytes());
        let verdict = validate_producer_batch(&bytes, MAX_BATCH_BYTES);
        let mut iterated = 0_usize;
        let mut iteration_error = None;
        if let Ok(iter) = records(&bytes) {
            for record in iter {
                match record {
                    Ok(record) => {
                        iterated += 1;
                        for header in record.headers() {
                            header.expect("headers of a parsed record parse");
                        }
                    }
                    Err(e) => iteration_error = Some(e),
                }
            }
        }
        let allocations = thread_allocations() - count_before;
        let allocated = thread_allocated_bytes() - bytes_before;
        assert_eq!(
            (allocations, allocated),
            (0, 0),
            "{name}: decoding allocated {allocated} bytes in {allocations} allocations"
        );
        let error = verdict.expect_err(name);
        // Where the fault is in a record, iterating fails on the same record and reason.
        if let BatchError::MalformedRecord { .. } | BatchError::VarintOverflow { .. } = error {
            assert_eq!(iteration_error, Some(error), "{name}");
            assert_eq!(iterated, 0, "{name}: the faulty record is the first");
        }
    }
}

#[test]
fn a_batch_announcing_i32_max_bytes_is_sized_from_the_limit_not_the_field() {
    // Only the 12-byte log overhead and the magic byte: nothing else to read.
    let mut bytes = vec![0_u8; MAGIC_OFFSET + 1];
    set_i32(&mut bytes, BATCH_LENGTH_OFFSET, i32::MAX);
    bytes[MAGIC_OFFSET] = MAGIC_V2 as u8;
    let before = thread_allocated_bytes();
    let peeked = ringlog::record::peek_batch_bytes(&bytes, MAX_BATCH_BYTES);
    let unlimited = ringlog::record::peek_batch_bytes(&bytes, usize::MAX);
    assert_eq!(thread_allocated_bytes() - before, 0);
    assert!(
        matches!(peeked, Err(BatchError::LengthOutOfRange { .. })),
        "{peeked:?}"
    );
    // Without a limit the size is reported, for a caller to check against its bytes, but it
    // stays within the format's range.
    assert_eq!(unlimited, Ok(i32::MAX as usize + LOG_OVERHEAD_BYTES));
}

//! Malformed input to `append_batch` and `append`: wrong magic, bad CRC, lying lengths,
//! trailing bytes, a batch over `max_batch_bytes` and a batch of zero records each fail with a
//! typed error whose message names the problem, and the log stays usable: the next append gets
//! the next offset and nothing appended before is lost, in memory or on disk. Runs on every
//! I/O path.

mod common;

use common::{Expected, append_rows, for_each_io_mode, open_log, read_all};
use ringlog::record::format::{
    ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAGIC_OFFSET,
    RECORDS_COUNT_OFFSET, batch_crc,
};
use ringlog::record::{
    BATCH_HEADER_BYTES, BatchError, BatchOptions, Record, encode_batch, encoded_batch_bytes,
};
use ringlog::{AppendError, Config, Durability, IoMode};

const MAX_BATCH_BYTES: usize = 8192;

fn config(io_mode: IoMode) -> Config {
    Config {
        durability: Durability::Write,
        max_batch_bytes: MAX_BATCH_BYTES,
        flush_interval_ms: None,
        ..common::config(io_mode)
    }
}

/// A valid wire batch of `count` records with values of `value_bytes` bytes.
fn wire_batch(count: usize, value_bytes: usize) -> Vec<u8> {
    let value = vec![7u8; value_bytes];
    let records: Vec<Record<'_>> = (0..count)
        .map(|i| Record {
            key: Some(b"k"),
            value: Some(&value),
            timestamp_ms: 1_700_000_000_000 + i as i64,
            headers: &[],
        })
        .collect();
    let mut batch = vec![0; encoded_batch_bytes(&records).unwrap()];
    encode_batch(&mut batch, 0, &records, &BatchOptions::default()).unwrap();
    batch
}

fn set_i32(batch: &mut [u8], at: usize, value: i32) {
    batch[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// Recomputes the CRC after a header edit, so that only the intended fault remains.
fn fix_crc(batch: &mut [u8]) {
    let crc = batch_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// The bad inputs: a name, the bytes, what the error must match, and a word its message must
/// contain.
type Case = (
    &'static str,
    Vec<u8>,
    fn(&AppendError) -> bool,
    &'static str,
);

#[expect(
    clippy::too_many_lines,
    reason = "one table of cases reads best in one place"
)]
fn cases() -> Vec<Case> {
    let good = wire_batch(3, 100);
    let len = good.len();
    let mut cases: Vec<Case> = Vec::new();

    let mut magic = good.clone();
    magic[MAGIC_OFFSET] = 1;
    cases.push((
        "wrong magic",
        magic,
        |e| {
            matches!(
                e,
                AppendError::InvalidBatch(BatchError::BadMagic { magic: 1 })
            )
        },
        "magic",
    ));

    let mut crc = good.clone();
    crc[len - 5] ^= 0x01;
    cases.push((
        "bad CRC",
        crc,
        |e| matches!(e, AppendError::InvalidBatch(BatchError::CrcMismatch { .. })),
        "CRC",
    ));

    let mut long = good.clone();
    set_i32(&mut long, BATCH_LENGTH_OFFSET, (len - 12 + 100) as i32);
    cases.push((
        "length past the end of the buffer",
        long,
        |e| matches!(e, AppendError::InvalidBatch(BatchError::Truncated { .. })),
        "truncated",
    ));

    let mut negative = good.clone();
    set_i32(&mut negative, BATCH_LENGTH_OFFSET, -1);
    cases.push((
        "negative length",
        negative,
        |e| {
            matches!(
                e,
                AppendError::InvalidBatch(BatchError::LengthOutOfRange { length: -1, .. })
            )
        },
        "length",
    ));

    let mut huge = good.clone();
    set_i32(&mut huge, BATCH_LENGTH_OFFSET, i32::MAX);
    cases.push((
        "length i32::MAX",
        huge,
        |e| {
            matches!(
                e,
                AppendError::InvalidBatch(BatchError::LengthOutOfRange { .. })
                    | AppendError::TooLarge { .. }
            )
        },
        "",
    ));

    let mut short = good.clone();
    set_i32(&mut short, BATCH_LENGTH_OFFSET, (len - 12 - 10) as i32);
    cases.push((
        "length shorter than the batch",
        short,
        |e| {
            matches!(
                e,
                AppendError::InvalidBatch(_) | AppendError::TrailingBytes { .. }
            )
        },
        "",
    ));

    let mut trailing = good.clone();
    trailing.extend_from_slice(&good);
    cases.push((
        "trailing bytes (two batches)",
        trailing,
        move |e| {
            matches!(e, AppendError::TrailingBytes { batch_bytes, given_bytes }
                if *given_bytes == 2 * *batch_bytes)
        },
        "one batch at a time",
    ));

    let mut compressed = good.clone();
    compressed[ATTRIBUTES_OFFSET + 1] |= 1;
    fix_crc(&mut compressed);
    cases.push((
        "compressed",
        compressed,
        |e| {
            matches!(
                e,
                AppendError::InvalidBatch(BatchError::Compressed { codec: 1 })
            )
        },
        "compress",
    ));

    let mut miscounted = good.clone();
    set_i32(&mut miscounted, RECORDS_COUNT_OFFSET, 5);
    fix_crc(&mut miscounted);
    cases.push((
        "records count says 5, batch holds 3",
        miscounted,
        |e| {
            matches!(
                e,
                AppendError::InvalidBatch(BatchError::RecordCountMismatch { declared: 5, .. })
            )
        },
        "records",
    ));

    let mut zero = good[..BATCH_HEADER_BYTES].to_vec();
    set_i32(
        &mut zero,
        BATCH_LENGTH_OFFSET,
        (BATCH_HEADER_BYTES - 12) as i32,
    );
    set_i32(&mut zero, RECORDS_COUNT_OFFSET, 0);
    set_i32(&mut zero, LAST_OFFSET_DELTA_OFFSET, -1);
    fix_crc(&mut zero);
    cases.push((
        "zero records",
        zero,
        |e| matches!(e, AppendError::Empty),
        "at least one record",
    ));
    cases
}

fn rows(first_offset: u64, count: usize) -> Vec<Expected> {
    (first_offset..first_offset + count as u64)
        .map(|o| Expected::numbered(o, 1_700_000_000_000 + o as i64, 50))
        .collect()
}

#[test]
fn each_malformed_batch_is_refused_with_a_named_error_and_the_log_stays_usable() {
    for_each_io_mode(malformed_batches_are_refused);
}

fn malformed_batches_are_refused(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), config(io_mode));
    let mut expected = rows(0, 2);
    append_rows(&log, &expected);

    let mut failures = Vec::new();
    for (name, bytes, is_expected, word) in cases() {
        let before = log.next_offset();
        match log.append_batch(&bytes) {
            Ok(info) => failures.push(format!("{name}: accepted at offset {}", info.base_offset)),
            Err(error) => {
                let message = error.to_string();
                if !is_expected(&error) {
                    failures.push(format!("{name}: unexpected error {error:?} ({message})"));
                }
                if !message.to_lowercase().contains(&word.to_lowercase()) {
                    failures.push(format!("{name}: message {message:?} lacks {word:?}"));
                }
            }
        }
        assert_eq!(log.next_offset(), before, "{name}: the offset did not move");
        let next = rows(before, 1);
        append_rows(&log, &next);
        expected.extend(next);
    }
    assert_eq!(read_all(&log), expected);
    log.close().unwrap();
    drop(log);
    let log = open_log(dir.path(), config(io_mode));
    assert_eq!(read_all(&log), expected, "after reopening");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn batch_over_max_batch_bytes_is_too_large_whichever_way_it_comes() {
    for_each_io_mode(oversized_batch_is_too_large);
}

fn oversized_batch_is_too_large(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), config(io_mode));
    let mut expected = rows(0, 1);
    append_rows(&log, &expected);

    let value = vec![1u8; MAX_BATCH_BYTES];
    let big = [Record {
        key: None,
        value: Some(&value),
        timestamp_ms: 0,
        headers: &[],
    }];
    let error = log.append(&big).expect_err("append over max_batch_bytes");
    assert!(
        matches!(
            error,
            AppendError::TooLarge {
                max: MAX_BATCH_BYTES,
                ..
            }
        ),
        "append: {error:?}"
    );
    assert!(error.to_string().contains("max_batch_bytes"), "{error}");
    assert!(matches!(log.append(&[]), Err(AppendError::Empty)));

    // The same oversized batch from the wire is valid in every other respect.
    let wire = wire_batch(1, MAX_BATCH_BYTES);
    let total = wire.len();
    let error = log
        .append_batch(&wire)
        .expect_err("append_batch over max_batch_bytes");
    let next = rows(log.next_offset(), 1);
    append_rows(&log, &next);
    expected.extend(next);
    assert_eq!(read_all(&log), expected);
    // `append_batch` documents `AppendError::TooLarge` for this, as `append` gives; the message
    // should state the batch's size and the configured max_batch_bytes.
    assert!(
        matches!(error, AppendError::TooLarge { bytes, max: MAX_BATCH_BYTES } if bytes == total),
        "append_batch of a {total}-byte batch with max_batch_bytes {MAX_BATCH_BYTES}: \
         expected TooLarge {{ bytes: {total}, max: {MAX_BATCH_BYTES} }}, got {error:?} ({error})"
    );
}

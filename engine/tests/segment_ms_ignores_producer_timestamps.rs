//! Rolling by age (`segment_ms`) cannot be driven by producer timestamps: a stream of batches
//! at timestamp 0 (accepted under the default limits) does not roll a segment per batch, before
//! or after a reopen, and batches timestamped in the future (inside the default window) do
//! not keep the segment from rolling once it is older than `segment_ms` by the wall clock.
//! Accepted data stays intact. Runs on every I/O path.

mod common;

use std::time::Duration;

use common::{Expected, for_each_io_mode, now_ms, open_log, read_all, with_records};
use ringlog::record::{BatchOptions, encode_batch, encoded_batch_bytes};
use ringlog::{Config, IoMode, Log};

const BATCH_COUNT: u64 = 200;
/// Long enough that no test run reaches it by the wall clock.
const LONG_SEGMENT_MS: u64 = 10 * 60 * 1000;
/// Short enough to wait for.
const SHORT_SEGMENT_MS: u64 = 200;

fn config(io_mode: IoMode, segment_ms: u64) -> Config {
    Config {
        segment_ms: Some(segment_ms),
        flush_interval_ms: None,
        ..common::config(io_mode)
    }
}

/// Appends one two-record batch at `timestamp_ms` as a producer sends it (odd batches) or
/// through `Log::append` (even ones); returns its rows.
fn append_at(log: &Log, timestamp_ms: i64) -> Vec<Expected> {
    let offset = log.next_offset();
    let rows: Vec<Expected> = (offset..offset + 2)
        .map(|o| Expected::numbered(o, timestamp_ms, 100))
        .collect();
    let info = with_records(&rows, |records| {
        if offset.is_multiple_of(4) {
            log.append(records)
        } else {
            let mut batch = vec![0; encoded_batch_bytes(records).unwrap()];
            encode_batch(&mut batch, 0, records, &BatchOptions::default()).unwrap();
            log.append_batch(&batch)
        }
    })
    .expect("timestamp accepted under the default limits");
    assert_eq!(info.base_offset, offset);
    rows
}

#[test]
fn timestamp_zero_batches_do_not_roll_a_segment_each() {
    for_each_io_mode(timestamp_zero_stream);
}

fn timestamp_zero_stream(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    {
        let log = open_log(dir.path(), config(io_mode, LONG_SEGMENT_MS));
        for _ in 0..BATCH_COUNT {
            expected.extend(append_at(&log, 0));
        }
        assert_eq!(
            log.segment_count(),
            1,
            "a segment's age counts from its first append by the wall clock"
        );
        assert_eq!(read_all(&log), expected);
    }
    // After a reopen the recovered segment's age comes from its first batch's timestamp: one
    // roll, then the new segment's clock is the wall clock again.
    let log = open_log(dir.path(), config(io_mode, LONG_SEGMENT_MS));
    for _ in 0..BATCH_COUNT {
        expected.extend(append_at(&log, 0));
    }
    assert!(
        log.segment_count() <= 2,
        "{} segments after {BATCH_COUNT} batches at timestamp 0 following a reopen",
        log.segment_count()
    );
    assert_eq!(read_all(&log), expected, "accepted data is intact");
}

#[test]
fn future_timestamps_do_not_postpone_rolling_by_age() {
    for_each_io_mode(future_stream);
}

fn future_stream(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), config(io_mode, SHORT_SEGMENT_MS));
    // Half an hour ahead: inside Kafka's default one-hour window.
    let ahead = now_ms() + 30 * 60 * 1000;
    let mut expected = append_at(&log, ahead);
    std::thread::sleep(Duration::from_millis(2 * SHORT_SEGMENT_MS));
    expected.extend(append_at(&log, ahead));
    assert_eq!(
        log.segment_base_offsets(),
        vec![0, 2],
        "the segment is older than segment_ms by the wall clock"
    );
    assert_eq!(read_all(&log), expected);
}

//! Record timestamps outside `timestamp_before_max_ms` / `timestamp_after_max_ms` of the wall
//! clock (Kafka's `message.timestamp.before.max.ms` / `after.max.ms`) are refused with
//! `AppendError::InvalidTimestamp` naming the record, through `Log::append` and
//! `Log::append_batch` alike: a producer at timestamp 0 and one a day in the future, with
//! limits set; a record two hours ahead under the defaults (Kafka's one hour). Nothing of a
//! refused batch is appended, the log stays writable, and timestamp -1 (Kafka's
//! `NO_TIMESTAMP`) and timestamps inside the window are accepted. Runs on every I/O path.

mod common;

use common::{Expected, for_each_io_mode, now_ms, open_log, read_all, with_records};
use ringlog::record::{BatchOptions, encode_batch, encoded_batch_bytes};
use ringlog::{AppendError, Config, IoMode, Log};

const MINUTE_MS: i64 = 60 * 1000;
const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// The window the limited configuration allows on each side of the wall clock.
const LIMIT_MS: u64 = 10 * 60 * 1000;

fn limited(io_mode: IoMode) -> Config {
    Config {
        timestamp_before_max_ms: LIMIT_MS,
        timestamp_after_max_ms: LIMIT_MS,
        flush_interval_ms: None,
        ..common::config(io_mode)
    }
}

/// `rows` encoded as a producer sends them.
fn wire_batch(rows: &[Expected]) -> Vec<u8> {
    with_records(rows, |records| {
        let mut batch = vec![0; encoded_batch_bytes(records).unwrap()];
        encode_batch(&mut batch, 0, records, &BatchOptions::default()).unwrap();
        batch
    })
}

/// Three records at `offset..offset + 3`, the middle one at `odd_ms`, the others now.
fn rows_with(offset: u64, odd_ms: i64) -> Vec<Expected> {
    let now = now_ms();
    vec![
        Expected::numbered(offset, now, 50),
        Expected::numbered(offset + 1, odd_ms, 50),
        Expected::numbered(offset + 2, now, 50),
    ]
}

/// Asserts that appending `rows` both ways is refused as an invalid timestamp of record 1
/// holding `odd_ms`, and that the log did not move.
fn assert_refused(log: &Log, rows: &[Expected], odd_ms: i64) {
    let next = log.next_offset();
    let via_records = with_records(rows, |records| log.append(records));
    let via_batch = log.append_batch(&wire_batch(rows));
    for (how, result) in [("append", via_records), ("append_batch", via_batch)] {
        match result {
            Err(AppendError::InvalidTimestamp {
                index,
                timestamp_ms,
                earliest_ms,
                latest_ms,
                now_ms,
            }) => {
                assert_eq!((index, timestamp_ms), (1, odd_ms), "{how} names the record");
                assert!(earliest_ms <= now_ms && now_ms <= latest_ms, "{how}");
            }
            other => {
                panic!("{how} of a record at {odd_ms} ms: expected InvalidTimestamp, got {other:?}")
            }
        }
        assert_eq!(
            log.next_offset(),
            next,
            "{how}: nothing of the refused batch is appended"
        );
    }
}

#[test]
fn timestamps_outside_the_window_are_refused_with_invalid_timestamp() {
    for_each_io_mode(refuses_outside_window);
}

fn refuses_outside_window(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), limited(io_mode));
    assert_refused(&log, &rows_with(0, 0), 0);
    let future = now_ms() + DAY_MS;
    assert_refused(&log, &rows_with(0, future), future);

    // Inside the window, and Kafka's NO_TIMESTAMP, are accepted; both paths still append.
    let mut expected = rows_with(0, now_ms() - MINUTE_MS);
    with_records(&expected, |records| log.append(records)).expect("inside the window");
    let more = rows_with(3, -1);
    let info = log.append_batch(&wire_batch(&more)).expect("-1 is exempt");
    assert_eq!(info.base_offset, 3);
    expected.extend(more);
    assert_eq!(read_all(&log), expected, "accepted data is intact");
}

#[test]
fn default_limits_refuse_a_record_two_hours_ahead_and_accept_timestamp_zero() {
    for_each_io_mode(default_limits);
}

fn default_limits(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        flush_interval_ms: None,
        ..common::config(io_mode)
    };
    let log = open_log(dir.path(), config);
    let ahead = now_ms() + 2 * 60 * MINUTE_MS;
    assert_refused(&log, &rows_with(0, ahead), ahead);
    // Kafka's default lower limit is Long.MAX_VALUE: old timestamps pass.
    let rows = rows_with(0, 0);
    log.append_batch(&wire_batch(&rows))
        .expect("no lower limit by default");
    assert_eq!(read_all(&log), rows);
}

//! Segment rolling and retention: appends roll into 64 KiB segments with contiguous offsets,
//! fetches cross segment boundaries, segments survive clean and unclean reopening, retention by
//! bytes and by record time deletes the oldest sealed segments (never the active one) and moves
//! the log start offset, and `segment_ms` rolls a recovered segment whose first batch is old.
//! Runs on every I/O path.

mod common;

use std::fs;
use std::path::Path;

use common::{
    Expected, append_rows, for_each_io_mode, log_file, now_ms, numbered_batches, open_log,
    read_all, remove_clean_marker, segment_files,
};
use ringlog::record::{BatchHeader, BatchLimits, validate_batch};
use ringlog::{Config, Durability, IoMode, Log, ReadError};

const SEGMENT_BYTES: u64 = 64 * 1024;
const BATCH_COUNT: usize = 60;
const RECORDS_PER_BATCH: usize = 4;
const VALUE_BYTES: usize = 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn small_segments(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: 16 * 1024,
        durability: Durability::None,
        flush_interval_ms: None,
        ..common::config(io_mode)
    }
}

/// Fills a log in `dir` with [`BATCH_COUNT`] batches timestamped by `timestamp_of(offset)`,
/// closes it and returns the records.
fn fill(io_mode: IoMode, dir: &Path, timestamp_of: impl Fn(u64) -> i64) -> Vec<Expected> {
    let batches = numbered_batches(0, BATCH_COUNT, RECORDS_PER_BATCH, VALUE_BYTES, timestamp_of);
    let log = open_log(dir, small_segments(io_mode));
    for batch in &batches {
        append_rows(&log, batch);
    }
    log.close().unwrap();
    batches.concat()
}

/// Base offsets of the segments and the bytes of each segment's `.log` file.
fn segment_sizes(dir: &Path, log: &Log) -> Vec<(u64, u64)> {
    log.segment_base_offsets()
        .into_iter()
        .map(|base| (base, fs::metadata(log_file(dir, base)).unwrap().len()))
        .collect()
}

/// Fetches from `from` to the log end, checking every batch; returns the batches' headers.
fn fetch_to_end(log: &Log, from: u64) -> Vec<BatchHeader> {
    let limits = BatchLimits {
        max_batch_bytes: log.config().max_batch_bytes,
        require_contiguous_offsets: true,
    };
    let mut headers = Vec::new();
    let mut offset = from;
    while offset < log.next_offset() {
        let fetched = log.fetch(offset, 1 << 20).unwrap();
        assert!(
            !fetched.bytes.is_empty(),
            "fetch at {offset} returned nothing"
        );
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits).expect("fetched batches are valid");
            assert_eq!(header.base_offset as u64, offset, "batches are contiguous");
            offset = header.last_offset() as u64 + 1;
            rest = &rest[header.total_bytes()..];
            headers.push(header);
        }
        assert_eq!(fetched.next_fetch_offset, offset);
    }
    headers
}

fn assert_out_of_range(log: &Log, offset: u64) {
    match log.fetch(offset, 1 << 20) {
        Err(ReadError::OffsetOutOfRange {
            requested,
            start,
            end,
        }) => {
            assert_eq!(
                (requested, start, end),
                (offset, log.start_offset(), log.next_offset())
            );
        }
        other => panic!(
            "fetch at {offset} below the log start: expected OffsetOutOfRange, got {other:?}"
        ),
    }
}

#[test]
fn appends_roll_into_contiguous_segments_that_survive_reopening() {
    for_each_io_mode(segments_roll_and_survive_reopening);
}

fn segments_roll_and_survive_reopening(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let expected = fill(io_mode, dir.path(), |o| 1_700_000_000_000 + o as i64);
    let log = open_log(dir.path(), small_segments(io_mode));
    let bases = log.segment_base_offsets();
    assert!(bases.len() >= 4, "expected at least 4 segments: {bases:?}");
    assert_eq!(bases[0], 0);
    let sizes = segment_sizes(dir.path(), &log);
    for &(base, bytes) in &sizes {
        assert!(bytes <= SEGMENT_BYTES, "segment {base} holds {bytes} bytes");
        assert!(bytes > 0, "segment {base} is empty");
    }
    let headers = fetch_to_end(&log, 0);
    assert_eq!(headers.len(), BATCH_COUNT);
    for base in &bases {
        assert!(
            headers.iter().any(|h| h.base_offset as u64 == *base),
            "segment {base} starts at a batch boundary"
        );
    }
    assert_eq!(read_all(&log), expected);
    let files = segment_files(dir.path());
    drop(log);

    remove_clean_marker(dir.path());
    let log = open_log(dir.path(), small_segments(io_mode));
    assert_eq!(log.segment_base_offsets(), bases, "after an unclean reopen");
    assert_eq!(read_all(&log), expected, "after an unclean reopen");
    assert_eq!(fetch_to_end(&log, 0).len(), BATCH_COUNT);
    assert_eq!(segment_files(dir.path()), files);

    let more = numbered_batches(log.next_offset(), 20, RECORDS_PER_BATCH, VALUE_BYTES, |o| {
        o as i64
    });
    for batch in &more {
        append_rows(&log, batch);
    }
    assert!(log.segment_count() > bases.len(), "appends keep rolling");
    let mut all = expected;
    all.extend(more.concat());
    assert_eq!(read_all(&log), all);
}

#[test]
fn retention_by_bytes_deletes_the_oldest_sealed_segments() {
    for_each_io_mode(retention_by_bytes);
}

fn retention_by_bytes(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let expected = fill(io_mode, dir.path(), |o| 1_700_000_000_000 + o as i64);
    let limit = 100 * 1024;
    let config = Config {
        retention_bytes: Some(limit),
        ..small_segments(io_mode)
    };
    let log = open_log(dir.path(), config);
    let sizes = segment_sizes(dir.path(), &log);
    let mut total: u64 = sizes.iter().map(|s| s.1).sum();
    assert_eq!(log.size_bytes(), total);
    let mut doomed = Vec::new();
    for &(base, bytes) in &sizes[..sizes.len() - 1] {
        if total - bytes < limit {
            break;
        }
        total -= bytes;
        doomed.push(base);
    }
    assert!(!doomed.is_empty(), "the test must delete something");

    let report = log.enforce_retention_at(now_ms()).unwrap();
    assert_eq!(report.deleted_segments, doomed);
    let start = sizes[doomed.len()].0;
    assert_eq!(report.start_offset, start);
    assert_eq!(log.start_offset(), start);
    assert_eq!(log.size_bytes(), total);
    assert!(log.size_bytes() >= limit);
    for base in &doomed {
        assert!(
            !log_file(dir.path(), *base).exists(),
            "segment {base} deleted"
        );
    }
    assert_out_of_range(&log, 0);
    assert_out_of_range(&log, start - 1);
    let kept: Vec<Expected> = expected[start as usize..].to_vec();
    assert_eq!(read_all(&log), kept);
    assert_eq!(
        fetch_to_end(&log, start).len() * RECORDS_PER_BATCH,
        kept.len()
    );
    drop(log);

    // A limit of zero deletes every sealed segment but never the active one.
    let config = Config {
        retention_bytes: Some(0),
        ..small_segments(io_mode)
    };
    let log = open_log(dir.path(), config);
    assert_eq!(
        log.start_offset(),
        start,
        "the start offset survives reopening"
    );
    let active = *sizes.last().map(|(base, _)| base).unwrap();
    let end = log.next_offset();
    log.enforce_retention_at(now_ms()).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![active]);
    assert_eq!(log.start_offset(), active);
    assert_eq!(log.next_offset(), end);
    assert_eq!(read_all(&log), expected[active as usize..].to_vec());
    let next = numbered_batches(end, 1, 1, 10, |o| o as i64);
    append_rows(&log, &next[0]);
}

#[test]
fn retention_by_time_uses_record_timestamps() {
    for_each_io_mode(retention_by_time);
}

fn retention_by_time(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    let old_records = (BATCH_COUNT / 2 * RECORDS_PER_BATCH) as u64;
    let expected = fill(io_mode, dir.path(), |o| {
        if o < old_records {
            now - 10 * DAY_MS + o as i64
        } else {
            now - 1000
        }
    });
    let config = Config {
        retention_ms: Some(DAY_MS as u64),
        ..small_segments(io_mode)
    };
    let log = open_log(dir.path(), config);
    let bases = log.segment_base_offsets();
    // A sealed segment expires when its newest record is older than a day.
    let mut doomed = Vec::new();
    for pair in bases.windows(2) {
        let newest = expected[pair[0] as usize..pair[1] as usize]
            .iter()
            .map(|r| r.timestamp_ms)
            .max()
            .unwrap();
        if now - newest <= DAY_MS {
            break;
        }
        doomed.push(pair[0]);
    }
    assert!(!doomed.is_empty(), "some segments hold only old records");
    assert!(
        doomed.len() + 1 < bases.len(),
        "some sealed segments are recent"
    );

    let report = log.enforce_retention_at(now).unwrap();
    assert_eq!(report.deleted_segments, doomed);
    let start = bases[doomed.len()];
    assert_eq!(log.start_offset(), start);
    assert_out_of_range(&log, start - 1);
    assert_eq!(read_all(&log), expected[start as usize..].to_vec());

    // Far in the future every record is expired, yet the active segment stays.
    let end = log.next_offset();
    log.enforce_retention_at(now + 100 * DAY_MS).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![*bases.last().unwrap()]);
    assert_eq!(log.next_offset(), end);
    let next = numbered_batches(end, 1, 2, 10, |_| now);
    append_rows(&log, &next[0]);
    assert_eq!(read_all(&log).last(), next[0].last());
}

#[test]
fn segment_ms_rolls_when_the_first_batch_is_old() {
    for_each_io_mode(segment_ms_rolls);
}

fn segment_ms_rolls(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    let config = Config {
        segment_ms: Some(60_000),
        ..small_segments(io_mode)
    };
    let batches = numbered_batches(0, 4, 2, 100, |o| if o < 2 { now - DAY_MS } else { now });
    let log = open_log(dir.path(), config.clone());
    append_rows(&log, &batches[0]);
    assert_eq!(log.segment_count(), 1);
    append_rows(&log, &batches[1]);
    append_rows(&log, &batches[2]);
    assert_eq!(
        log.segment_count(),
        1,
        "a segment created in this process ages by the wall clock, whatever its timestamps"
    );
    drop(log);

    // A recovered segment's age comes from its first batch's timestamp (a day old).
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open_log(dir.path(), small_segments(io_mode));
        append_rows(&log, &batches[0]);
    }
    let log = open_log(dir.path(), config);
    append_rows(&log, &batches[1]);
    assert_eq!(log.segment_base_offsets(), vec![0, 2], "after reopening");
    assert_eq!(read_all(&log), batches[..2].concat());
}

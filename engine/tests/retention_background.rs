//! The background flusher enforces retention on its own, and writes `Durability::None` data
//! within the flush interval, without any explicit call. Runs on every I/O path.

mod common;

use std::time::{Duration, Instant};

use common::{for_each_io_mode, open_log};
use ringlog::record::Record;
use ringlog::{Config, Durability, IoMode};

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn retention_runs_in_the_background() {
    for_each_io_mode(background_retention);
}

fn background_retention(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        segment_bytes: 16 * 1024,
        max_batch_bytes: 8 * 1024,
        retention_bytes: Some(40 * 1024),
        retention_check_interval_ms: Some(10),
        ..common::config(io_mode)
    };
    let log = open_log(dir.path(), config);
    let value = vec![7u8; 1000];
    for i in 0..200 {
        log.append(&[Record {
            key: None,
            value: Some(&value),
            timestamp_ms: i,
            headers: &[],
        }])
        .unwrap();
    }
    // Retention runs every 10 ms, possibly already during the appends, so the segment count
    // proves nothing here. The active segment's base offset, which retention never moves,
    // shows the roll: a 16 KiB segment holds about 15 of these records.
    let active_base = *log.segment_base_offsets().last().unwrap();
    assert!(
        active_base >= 5 * 15,
        "small segments rolled (the active segment starts at offset {active_base})"
    );
    // The appends wrote about 200 KiB: under 80 KiB is left only once segments were deleted.
    wait_for("retention", || log.size_bytes() < 80 * 1024);
    let start = log.start_offset();
    assert!(start > 0, "the log start moved past deleted segments");
    let records = log.read_records(start, 1 << 20).unwrap();
    assert_eq!(
        records[0].offset, start,
        "the earliest kept record is readable"
    );
    assert!(
        log.size_bytes() >= 40 * 1024 - 16 * 1024,
        "retention keeps at least its limit minus one segment"
    );
}

#[test]
fn none_durability_reaches_disk_within_the_flush_interval() {
    for_each_io_mode(background_flush);
}

fn background_flush(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        durability: Durability::None,
        flush_interval_ms: Some(20),
        ..common::config(io_mode)
    };
    let log = open_log(dir.path(), config);
    log.append(&[Record {
        key: Some(b"k"),
        value: Some(b"flushed by the background thread"),
        timestamp_ms: 1,
        headers: &[],
    }])
    .unwrap();
    let file = dir.path().join("00000000000000000000.log");
    // The batch is on disk once the file starts with it (the file is preallocated with zeros).
    wait_for("the background flush", || {
        std::fs::read(&file).is_ok_and(|bytes| bytes.len() > 12 && bytes[8..12] != [0, 0, 0, 0])
    });
    let bytes = std::fs::read(&file).unwrap();
    let header = ringlog::record::BatchHeader::parse(&bytes).unwrap();
    assert_eq!(header.base_offset, 0);
    assert_eq!(header.records_count, 1);
    // The idle tail went back to the pool, and the log still reads and appends.
    assert_eq!(
        log.read_records(0, 1024).unwrap()[0].value.as_deref(),
        Some(&b"flushed by the background thread"[..])
    );
    assert_eq!(
        log.append(&[Record {
            key: None,
            value: None,
            timestamp_ms: 2,
            headers: &[]
        }])
        .unwrap()
        .base_offset,
        1
    );
    assert_eq!(log.read_records(1, 1024).unwrap().len(), 1);
}
